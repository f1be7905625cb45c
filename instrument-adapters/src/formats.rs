//! The formats natlis reads, how each is recognised by content, and its table profile.

use crate::table::{self, names, Profile, WellStyle};
use crate::{decode, ImportError, PlateSize, Reading};

/// A result export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Thermo/ABI QuantStudio v1.x family text export (`* key = value` block, `[Results]`).
    QuantStudioText,
    /// Thermo/ABI 7500 `.eds` internal `analysis_result.txt`.
    Abi7500AnalysisResult,
    /// 7500 / 7500 Fast Software v2.x text export: the QuantStudio layout (`* key = value`,
    /// `[Results]`) with `Instrument Type = sds7500…`, wells `A1` in a `Well` column and the Ct
    /// column titled `Cт` (Cyrillic т).
    Abi7500Text,
    /// 7500 Software v2.x workbook (`.xls`, BIFF8): sheet `Results`, key-value rows, the table
    /// from row 8.
    Abi7500Workbook,
    /// SDS v1.4 (7500) and SDS 2.x (7900HT) result tables: `Well` a 1-based number, `Detector`
    /// for the target, `Undetermined` for no Ct.
    SdsText,
    /// Bio-Rad CFX `Quantification Cq Results` CSV (fluor-major).
    BioRadCfxCsv,
    /// Roche LightCycler 480 Cp text export (one file per channel).
    LightCycler480Text,
    /// QuantStudio results re-saved as CSV (`Block Type,…` key-value rows, then the table).
    QuantStudioCsv,
    /// Qiagen Rotor-Gene Q "Excel Analysed Data Export" as CSV: one block per channel and assay;
    /// `No.` is the rotor position, read as a 1-based plate index.
    RotorGeneCsv,
    /// QuantStudio v1.x workbook (sheet `Results`: key-value block, then the table).
    QuantStudioWorkbook,
    /// Thermo Design & Analysis workbook (QuantStudio Pro, Diomni): `Results`/`Primary_result`.
    DesignAnalysisWorkbook,
    /// Rotor-Gene Q analysed data export as a workbook.
    RotorGeneWorkbook,
    /// Hongshi SLAN-96P/96S (宏石): Chinese headers `反应孔, 样本名称, 目标, Ct, 属性`. Built from a
    /// Chinese lab's parser code; no public sample file exists (FORMATS.md §9).
    Slan96,
    /// RDML: a ZIP holding the RDML XML (StepOne, Bio-Rad CFX, LightCycler 96, …).
    Rdml,
    /// Molarray MA-6000 (雅睿, sold by Sansure): `Well, Item, Reporter, Ct`; wells `A1` or 1–96.
    /// Built from a Chinese lab's parser code; no public sample file exists (FORMATS.md §9).
    Ma6000,
}

const CT: &[&str] = &["ct", "cт", "crt", "cq", "cp"];

impl Format {
    pub fn name(self) -> String {
        self.profile().name
    }

    pub fn profile(self) -> Profile {
        let table = Profile::table;
        match self {
            Self::QuantStudioText => Profile {
                channel: names(&["reporter"]),
                target: names(&["target name"]),
                sample: names(&["sample name"]),
                role: names(&["task"]),
                section: Some("[Results]".into()),
                // QuantStudio has `Well` (a number) and `Well Position` (A1): the position wins;
                // the 7500 has only `Well`, holding A1.
                ..table(
                    "QuantStudio text export",
                    &["well position", "well"],
                    WellStyle::PositionOrIndex1,
                    CT,
                )
            },
            Self::Abi7500Text => Profile {
                name: "7500 text export".into(),
                ..Self::QuantStudioText.profile()
            },
            Self::Abi7500Workbook => Profile {
                name: "7500 workbook".into(),
                section: None,
                ..Self::QuantStudioText.profile()
            },
            Self::SdsText => Profile {
                target: names(&["detector", "detector name"]),
                sample: names(&["sample name"]),
                role: names(&["task"]),
                ..table("SDS results table", &["well"], WellStyle::Index1, &["ct"])
            },
            Self::QuantStudioCsv => Profile {
                name: "QuantStudio CSV export".into(),
                section: None,
                ..Self::QuantStudioText.profile()
            },
            Self::QuantStudioWorkbook => Profile {
                name: "QuantStudio workbook".into(),
                section: None,
                ..Self::QuantStudioText.profile()
            },
            Self::DesignAnalysisWorkbook => Profile {
                channel: names(&["reporter"]),
                target: names(&["target"]),
                sample: names(&["sample"]),
                role: names(&["task"]),
                ..table(
                    "Design & Analysis workbook",
                    &["well position", "well"],
                    WellStyle::Position,
                    &["cq", "ct"],
                )
            },
            Self::Abi7500AnalysisResult => Profile {
                target: names(&["detector"]),
                sample: names(&["sample name"]),
                role: names(&["task"]),
                skip_rows: names(&[
                    "Rn values",
                    "Delta Rn values",
                    "DDCT Values",
                    "Rn",
                    "Delta Rn",
                ]),
                last_cycle_means_no_ct: Some(40.0),
                ..table(
                    "7500 analysis_result.txt",
                    &["well"],
                    WellStyle::Index0,
                    &["ct"],
                )
            },
            Self::BioRadCfxCsv => Profile {
                channel: names(&["fluor"]),
                target: names(&["target"]),
                sample: names(&["sample"]),
                role: names(&["content"]),
                ..table(
                    "Bio-Rad CFX Quantification Cq Results",
                    &["well"],
                    WellStyle::Position,
                    &["cq"],
                )
            },
            Self::LightCycler480Text => Profile {
                sample: names(&["name"]),
                channel_from_preamble: Some(lc480_filter),
                ..table(
                    "LightCycler 480 Cp export",
                    &["pos"],
                    WellStyle::Position,
                    &["cp"],
                )
            },
            Self::RotorGeneCsv => Profile {
                sample: names(&["name"]),
                role: names(&["type"]),
                block_title: Some(rotor_gene_block),
                ..table(
                    "Rotor-Gene Q analysed data export",
                    &["no."],
                    WellStyle::Index1,
                    &["ct"],
                )
            },
            Self::RotorGeneWorkbook => Profile {
                name: "Rotor-Gene Q workbook".into(),
                ..Self::RotorGeneCsv.profile()
            },
            Self::Slan96 => Profile {
                channel: names(&["通道", "荧光通道", "染料", "channel", "dye"]),
                target: names(&["目标", "项目", "靶基因"]),
                sample: names(&["样本名称", "样品名称", "样本"]),
                role: names(&["属性"]),
                ..table(
                    "SLAN-96 export",
                    &["反应孔", "孔位", "孔号"],
                    WellStyle::Position,
                    &["ct", "cq", "ct值"],
                )
            },
            Self::Ma6000 => Profile {
                channel: names(&["reporter"]),
                sample: names(&["item"]),
                ..table(
                    "MA-6000 export",
                    &["well"],
                    WellStyle::PositionOrIndex1,
                    &["ct"],
                )
            },
            // RDML is XML, not a table: only its name is used.
            Self::Rdml => table("RDML", &["well"], WellStyle::Position, &["cq"]),
        }
    }
}

/// `Quantitative analysis of Cycling A.Green (28S)` → (`Green`, `28S`).
fn rotor_gene_block(line: &str) -> Option<(String, String)> {
    let title = line.split([';', ',', '\t']).next()?.trim();
    let rest = title.strip_prefix("Quantitative analysis of ")?;
    let (cycling, assay) = match rest.split_once(" (") {
        Some((c, a)) => (c, a.trim_end_matches(')')),
        None => (rest, ""),
    };
    let channel = cycling.rsplit('.').next().unwrap_or(cycling);
    Some((channel.trim().to_string(), assay.trim().to_string()))
}

/// `Experiment: …  Selected Filter: SYBR Green I / HRM Dye (483-533)` → `SYBR Green I / HRM Dye`.
fn lc480_filter(line: &str) -> Option<String> {
    let rest = line.split("Selected Filter:").nth(1)?.trim();
    let name = rest.rsplit_once(" (").map_or(rest, |(n, _)| n);
    Some(name.trim().to_string())
}

fn is_container(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(b"PK\x07\x08")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Recognises the format by content (magic bytes, then the first lines), never by file name.
pub fn detect(bytes: &[u8]) -> Result<Format, ImportError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ImportError::Empty);
    }
    if is_container(bytes) {
        if bytes.starts_with(b"PK") && crate::rdml::document(bytes)?.is_some() {
            return Ok(Format::Rdml);
        }
        return detect_workbook(&crate::workbook::results_text(bytes)?);
    }
    detect_text(&decode::text(&bytes[..bytes.len().min(16 * 1024)]))
}

/// A workbook's format, from its results sheet.
fn detect_workbook(sheet: &str) -> Result<Format, ImportError> {
    let first = sheet.lines().next().unwrap_or("");
    if first.starts_with("File Name\t")
        || sheet
            .lines()
            .take(40)
            .any(|l| l.starts_with("Software Name and Version"))
    {
        return Ok(Format::DesignAnalysisWorkbook);
    }
    let is_7500 = sheet
        .lines()
        .take(20)
        .any(|l| l.starts_with("Instrument Type\tsds7500"));
    match detect_text(sheet)? {
        Format::RotorGeneCsv => Ok(Format::RotorGeneWorkbook),
        Format::QuantStudioText | Format::QuantStudioCsv if is_7500 => Ok(Format::Abi7500Workbook),
        Format::QuantStudioText | Format::QuantStudioCsv => Ok(Format::QuantStudioWorkbook),
        other => Ok(other),
    }
}

fn detect_text(head: &str) -> Result<Format, ImportError> {
    if head.trim().is_empty() {
        return Err(ImportError::Empty);
    }
    let lines: Vec<&str> = head.lines().take(80).collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    if lines.first().is_some_and(|l| {
        l.trim_start_matches('\u{feff}')
            .starts_with("Excel Analysed Data Export")
    }) && has("Quantitative analysis of")
    {
        return Ok(Format::RotorGeneCsv);
    }
    if lines.first().is_some_and(|l| l.starts_with("Block Type,")) {
        return Ok(Format::QuantStudioCsv);
    }
    if lines.first().is_some_and(|l| l.starts_with("Block Type\t")) && !has("[Results]") {
        return Ok(Format::QuantStudioCsv);
    }
    if lines.first().is_some_and(|l| l.starts_with("Session Name")) && has("Detector") {
        return Ok(Format::Abi7500AnalysisResult);
    }
    if has("* Instrument Type = sds7500") {
        return Ok(Format::Abi7500Text);
    }
    if has("* Block Type") || has("* Instrument Type") || has("[Results]") && has("Well Position") {
        return Ok(Format::QuantStudioText);
    }
    if lines.first().is_some_and(|l| l.starts_with("Experiment:"))
        && has("Selected Filter:")
        && has("\tCp")
    {
        return Ok(Format::LightCycler480Text);
    }
    let header_has = |names: &[&str]| {
        lines.iter().any(|l| {
            let cells: Vec<&str> = l
                .split([',', ';', '\t'])
                .map(|c| c.trim().trim_matches('"'))
                .collect();
            names.iter().all(|n| cells.contains(n))
        })
    };
    if lines.first().is_some_and(|l| l.starts_with("SDS "))
        || header_has(&["Well", "Sample Name", "Detector", "Task", "Ct"])
    {
        return Ok(Format::SdsText);
    }
    if header_has(&["Well", "Fluor", "Cq"]) {
        return Ok(Format::BioRadCfxCsv);
    }
    if header_has(&["反应孔", "Ct"]) || has("SLAN-96") && header_has(&["Ct"]) {
        return Ok(Format::Slan96);
    }
    if header_has(&["Well", "Item", "Reporter", "Ct"]) {
        return Ok(Format::Ma6000);
    }
    Err(ImportError::UnknownFormat(
        "no known header (QuantStudio [Results], 7500 Session Name, CFX Well/Fluor/Cq, LightCycler Selected Filter)".into(),
    ))
}

/// Detects the format and reads every row.
pub fn parse(bytes: &[u8]) -> Result<(Format, Vec<Reading>), ImportError> {
    parse_sized(bytes, None)
}

/// Like [`parse`], for a plate of known size (plate indices are counted on it).
pub fn parse_sized(
    bytes: &[u8],
    plate: Option<PlateSize>,
) -> Result<(Format, Vec<Reading>), ImportError> {
    let format = detect(bytes)?;
    if format == Format::Rdml {
        let xml = crate::rdml::document(bytes)?.ok_or(ImportError::Empty)?;
        return Ok((format, crate::rdml::read(&xml)?));
    }
    let text = if is_container(bytes) {
        crate::workbook::results_text(bytes)?
    } else {
        decode::text(bytes)
    };
    let profile = Profile {
        plate_size: plate,
        ..format.profile()
    };
    let rows = table::read(&text, &profile)?;
    Ok((format, rows))
}
