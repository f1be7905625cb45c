//! The one table reader every tabular format goes through, driven by a [`Profile`]: find the
//! header row by content, pick the delimiter, map columns by their synonyms, read rows until
//! the table ends, and turn each into a [`Reading`].

use crate::{Ct, ImportError, PlateSize, Reading, Well};

/// How a format writes its wells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WellStyle {
    /// `A1` or `A01`.
    Position,
    /// A plate index counted from 0.
    Index0,
    /// A plate index counted from 1.
    Index1,
    /// `A1` or a plate index counted from 1 (MA-6000 writes either).
    PositionOrIndex1,
}

/// What distinguishes one tabular export from another.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// Header synonyms, lower-case, most preferred first.
    pub well: Vec<String>,
    pub well_style: WellStyle,
    pub channel: Vec<String>,
    pub target: Vec<String>,
    pub ct: Vec<String>,
    pub sample: Vec<String>,
    pub role: Vec<String>,
    /// The table follows this section line (e.g. `[Results]`).
    pub section: Option<String>,
    /// Rows whose first cell starts with one of these are curve data, not results.
    pub skip_rows: Vec<String>,
    /// Spellings of "no Ct" beyond the usual ones (compared case-insensitively).
    pub no_ct: Vec<String>,
    /// A Ct at or above this is the run's last cycle: no amplification.
    pub last_cycle_means_no_ct: Option<f64>,
    /// The channel, for exports with one table per channel and no channel column.
    pub channel_from_preamble: Option<fn(&str) -> Option<String>>,
    /// Several tables, one per channel/assay, each under a title line that names them
    /// (Rotor-Gene: `Quantitative analysis of Cycling A.Green (28S)` → channel, target).
    pub block_title: Option<BlockTitle>,
    /// The plate the file is for, when the caller knows it: plate indices are then counted on
    /// it (index 13 is B1 on a 96-well plate, A13 on a 384-well plate) instead of the size
    /// being guessed from the highest well.
    pub plate_size: Option<PlateSize>,
}

impl Profile {
    /// A table with a well and a Ct column and nothing else yet; formats add what they have.
    pub fn table(name: &str, well: &[&str], well_style: WellStyle, ct: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            well: names(well),
            well_style,
            channel: vec![],
            target: vec![],
            ct: names(ct),
            sample: vec![],
            role: vec![],
            section: None,
            skip_rows: vec![],
            no_ct: vec![],
            last_cycle_means_no_ct: None,
            channel_from_preamble: None,
            block_title: None,
            plate_size: None,
        }
    }
}

/// Reads (channel, target) from a block's title line.
pub type BlockTitle = fn(&str) -> Option<(String, String)>;

fn norm(cell: &str) -> String {
    cell.trim().trim_matches('"').trim().to_lowercase()
}

/// The column of the first synonym (in the profile's order of preference) the header has;
/// of duplicated headers, the first.
fn find(header: &[String], names: &[String]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| header.iter().position(|h| *h == n.to_lowercase()))
}

/// Lower-case synonyms from a list of literals.
pub fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_lowercase()).collect()
}

/// Reads the results table (or, for multi-block exports, every table) of `text` as `profile`
/// describes it.
pub fn read(text: &str, profile: &Profile) -> Result<Vec<Reading>, ImportError> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Err(ImportError::Empty);
    }
    let (mut rows, mut end) = read_block(&lines, 0, profile)?;
    if profile.block_title.is_some() {
        while end < lines.len() {
            match read_block(&lines, end, profile) {
                Ok((more, next)) => {
                    rows.extend(more);
                    end = next;
                }
                // No further table: the export ends here.
                Err(ImportError::NoHeader { .. }) => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(rows)
}

/// Reads the first table at or after line `from`; returns its rows and the line after it.
fn read_block(
    lines: &[&str],
    from: usize,
    profile: &Profile,
) -> Result<(Vec<Reading>, usize), ImportError> {
    let fmt = profile.name.clone();
    let start = match &profile.section {
        Some(section) => {
            lines
                .iter()
                .position(|l| l.trim() == section.as_str())
                .ok_or_else(|| ImportError::NoHeader {
                    format: fmt.clone(),
                })?
                + 1
        }
        None => from,
    };
    let delimiters = ['\t', ',', ';'];
    let mut header_at = None;
    for (i, line) in lines.iter().enumerate().skip(start) {
        for d in delimiters {
            let cells: Vec<String> = line.split(d).map(norm).collect();
            if cells.len() > 2
                && find(&cells, &profile.ct).is_some()
                && find(&cells, &profile.well).is_some()
            {
                header_at = Some((i, d, cells));
                break;
            }
        }
        if header_at.is_some() {
            break;
        }
    }
    let (h, delimiter, header) = header_at.ok_or_else(|| ImportError::NoHeader {
        format: fmt.clone(),
    })?;
    let col = |names: &[String]| find(&header, names);
    let (well_col, ct_col) = (
        col(&profile.well).expect("found"),
        col(&profile.ct).expect("found"),
    );
    let (channel_col, target_col) = (col(&profile.channel), col(&profile.target));
    let (sample_col, role_col) = (col(&profile.sample), col(&profile.role));
    let preamble_channel = profile
        .channel_from_preamble
        .and_then(|f| lines[..h].iter().find_map(|l| f(l)))
        .unwrap_or_default();
    // The title of this block: the nearest non-empty line above the header.
    let title = profile.block_title.and_then(|f| {
        lines[from..h]
            .iter()
            .rev()
            .find(|l| !l.split([';', ',', '\t']).all(|c| c.trim().is_empty()))
            .and_then(|l| f(l))
    });

    // The table: from the header to the first blank line (or one of empty cells) or the next
    // [Section].
    let end = lines[h + 1..]
        .iter()
        .position(|l| {
            l.chars().all(|c| c == delimiter || c.is_whitespace())
                || l.trim_start().starts_with('[')
        })
        .map_or(lines.len(), |p| h + 1 + p);
    let body = lines[h + 1..end].join("\n");
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .has_headers(false)
        .flexible(true)
        .quoting(delimiter != '\t')
        .from_reader(body.as_bytes());
    let mut raw: Vec<(usize, csv::StringRecord)> = vec![];
    for (i, rec) in rdr.records().enumerate() {
        let line = h + 2 + i;
        let rec = rec.map_err(|e| ImportError::Line {
            format: fmt.clone(),
            line,
            problem: e.to_string(),
        })?;
        let first = rec.iter().find(|c| !c.trim().is_empty()).unwrap_or("");
        let first_lower = first.trim().to_lowercase();
        if profile
            .skip_rows
            .iter()
            .any(|p| first_lower.starts_with(&p.to_lowercase()))
        {
            continue;
        }
        raw.push((line, rec));
    }
    if raw.is_empty() {
        return Err(ImportError::NoRows { format: fmt });
    }
    let size = profile
        .plate_size
        .unwrap_or_else(|| plate_size(&raw, well_col, profile.well_style));
    let cell = |rec: &csv::StringRecord, c: Option<usize>| {
        c.and_then(|c| rec.get(c))
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .trim()
            .to_string()
    };
    let rows = raw
        .iter()
        .map(|(line, rec)| {
            let bad = |problem: String| ImportError::Line {
                format: fmt.clone(),
                line: *line,
                problem,
            };
            let w = cell(rec, Some(well_col));
            let well = match profile.well_style {
                WellStyle::Position => Well::parse(&w, size),
                WellStyle::PositionOrIndex1 if w.parse::<u16>().is_err() => Well::parse(&w, size),
                WellStyle::Index0 | WellStyle::Index1 | WellStyle::PositionOrIndex1 => w
                    .parse::<u16>()
                    .map_err(|_| format!("well {w:?} is not a well number"))
                    .and_then(|i| {
                        Well::from_index(
                            i,
                            u16::from(profile.well_style != WellStyle::Index0),
                            size,
                        )
                    }),
            }
            .map_err(|e| bad(format!("column {:?}: {e}", header[well_col])))?;
            let ct_cell = cell(rec, Some(ct_col));
            let extra_no_ct = profile
                .no_ct
                .iter()
                .any(|t| t.eq_ignore_ascii_case(ct_cell.trim()));
            let parsed = if extra_no_ct {
                Ok(Ct::NoAmplification)
            } else {
                Ct::parse(&ct_cell)
            };
            let mut ct = parsed
                .map_err(|e| bad(format!("well {well}, column {:?}: {e}", header[ct_col])))?;
            if let (Some(last), Some(v)) = (profile.last_cycle_means_no_ct, ct.value()) {
                if v >= last {
                    ct = Ct::NoAmplification;
                }
            }
            Ok(Reading {
                well,
                channel: match (&title, channel_col) {
                    (Some((channel, _)), _) => channel.clone(),
                    (None, Some(_)) => cell(rec, channel_col),
                    (None, None) => preamble_channel.clone(),
                },
                target: match &title {
                    Some((_, target)) if target_col.is_none() => target.clone(),
                    _ => cell(rec, target_col),
                },
                ct,
                sample: cell(rec, sample_col),
                role: cell(rec, role_col),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rows, end))
}

/// 384 when any well lies beyond a 96-well plate.
fn plate_size(rows: &[(usize, csv::StringRecord)], well_col: usize, style: WellStyle) -> PlateSize {
    let beyond_96 = rows.iter().any(|(_, r)| {
        let w = r.get(well_col).unwrap_or("").trim();
        match style {
            WellStyle::Position => {
                let row_letter = w.chars().next().map(|c| c.to_ascii_uppercase());
                let col: u16 = w.get(1..).and_then(|c| c.parse().ok()).unwrap_or(0);
                row_letter.is_some_and(|c| c > 'H') || col > 12
            }
            WellStyle::Index0 => w.parse::<u16>().is_ok_and(|i| i > 95),
            WellStyle::Index1 | WellStyle::PositionOrIndex1 => match w.parse::<u16>() {
                Ok(i) => i > 96,
                Err(_) => {
                    let row_letter = w.chars().next().map(|c| c.to_ascii_uppercase());
                    let col: u16 = w.get(1..).and_then(|c| c.parse().ok()).unwrap_or(0);
                    row_letter.is_some_and(|c| c > 'H') || col > 12
                }
            },
        }
    });
    if beyond_96 {
        PlateSize::P384
    } else {
        PlateSize::P96
    }
}
