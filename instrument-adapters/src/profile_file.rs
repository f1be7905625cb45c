//! Formats a lab describes itself, in a small JSON file, and uses without recompiling:
//!
//! ```json
//! { "name": "Gentier 96E (our lab)", "detect": ["Gentier"],
//!   "well": ["孔位", "Well"], "well_style": "position",
//!   "channel": ["通道"], "target": ["靶基因"], "ct": ["Ct值", "Ct"],
//!   "sample": ["样品名称"], "role": ["样品类型"], "no_ct": ["阴性"] }
//! ```
//!
//! `detect` lists text that must all appear near the top of a file (or its results sheet) for
//! the profile to apply; the header row is then found by the `well` and `ct` synonyms.

use crate::table::{self, Profile, WellStyle};
use crate::{decode, workbook, ImportError, PlateSize, Reading};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    detect: Vec<String>,
    well: Vec<String>,
    #[serde(default = "position")]
    well_style: String,
    ct: Vec<String>,
    #[serde(default)]
    channel: Vec<String>,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    sample: Vec<String>,
    #[serde(default)]
    role: Vec<String>,
    #[serde(default)]
    no_ct: Vec<String>,
    #[serde(default)]
    section: Option<String>,
    #[serde(default)]
    skip_rows: Vec<String>,
    #[serde(default)]
    last_cycle_means_no_ct: Option<f64>,
}

fn position() -> String {
    "position".into()
}

/// A lab-described format.
#[derive(Debug, Clone)]
pub struct CustomFormat {
    detect: Vec<String>,
    profile: Profile,
}

impl CustomFormat {
    /// Reads a profile file; `file` names it in errors.
    pub fn load(file: &str, json: &[u8]) -> Result<Self, ImportError> {
        let bad = |problem: String| ImportError::Profile {
            file: file.to_string(),
            problem,
        };
        let p: ProfileFile = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
        if p.detect.is_empty() || p.well.is_empty() || p.ct.is_empty() {
            return Err(bad(
                "detect, well and ct need at least one entry each".into()
            ));
        }
        let well_style = match p.well_style.as_str() {
            "position" => WellStyle::Position,
            "index0" => WellStyle::Index0,
            "index1" => WellStyle::Index1,
            "position_or_index1" => WellStyle::PositionOrIndex1,
            other => {
                return Err(bad(format!(
                "well_style {other:?} is not one of position, index0, index1, position_or_index1"
            )))
            }
        };
        let lower = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_lowercase()).collect();
        Ok(Self {
            detect: p.detect,
            profile: Profile {
                well: lower(p.well),
                channel: lower(p.channel),
                target: lower(p.target),
                ct: lower(p.ct),
                sample: lower(p.sample),
                role: lower(p.role),
                section: p.section,
                skip_rows: p.skip_rows,
                no_ct: p.no_ct,
                last_cycle_means_no_ct: p.last_cycle_means_no_ct,
                ..Profile::table(&p.name, &[], well_style, &[])
            },
        })
    }

    pub fn name(&self) -> &str {
        &self.profile.name
    }

    fn applies_to(&self, head: &str) -> bool {
        self.detect.iter().all(|d| head.contains(d.as_str()))
    }
}

/// Reads an export with the lab's own profiles first, then the built-in formats; returns the
/// name of the format that read it.
pub fn parse_with(
    bytes: &[u8],
    custom: &[CustomFormat],
) -> Result<(String, Vec<Reading>), ImportError> {
    parse_for_plate(bytes, custom, None)
}

/// Like [`parse_with`], for a plate of known size: plate indices are counted on it.
pub fn parse_for_plate(
    bytes: &[u8],
    custom: &[CustomFormat],
    plate: Option<PlateSize>,
) -> Result<(String, Vec<Reading>), ImportError> {
    if !custom.is_empty() && !bytes.iter().all(|b| b.is_ascii_whitespace()) {
        let container = bytes.starts_with(b"PK") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
        let text = if container {
            workbook::results_text(bytes).ok()
        } else {
            Some(decode::text(bytes))
        };
        if let Some(text) = text {
            let head: String = text.lines().take(80).collect::<Vec<_>>().join("\n");
            if let Some(c) = custom.iter().find(|c| c.applies_to(&head)) {
                let profile = Profile {
                    plate_size: plate,
                    ..c.profile.clone()
                };
                return Ok((c.profile.name.clone(), table::read(&text, &profile)?));
            }
        }
    }
    let (format, rows) = crate::formats::parse_sized(bytes, plate)?;
    Ok((format.name(), rows))
}
