//! Excel workbooks (.xlsx, and .xls — whatever the file is named: the container is sniffed):
//! the results sheet as tab-separated text, for the same table reader as text exports.

use crate::ImportError;
use calamine::{open_workbook_auto_from_rs, Data, Reader};
use std::io::Cursor;

/// Sheets that hold results, most specific first.
const RESULT_SHEETS: &[&str] = &["Results", "Primary_result", "Result"];

/// The results sheet of a workbook (or its first sheet) as tab-separated text.
pub fn results_text(bytes: &[u8]) -> Result<String, ImportError> {
    if bytes.starts_with(b"PK") {
        crate::bounds::check_workbook(bytes)?;
    }
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| ImportError::UnknownFormat(format!("an unreadable workbook: {e}")))?;
    let names = book.sheet_names();
    let name = RESULT_SHEETS
        .iter()
        .find_map(|want| names.iter().find(|n| n.eq_ignore_ascii_case(want)))
        .or_else(|| names.first())
        .cloned()
        .ok_or_else(|| ImportError::UnknownFormat("a workbook without sheets".into()))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| ImportError::UnknownFormat(format!("sheet {name:?} cannot be read: {e}")))?;
    let mut out = String::new();
    for row in range.rows() {
        let cells: Vec<String> = row.iter().map(cell_text).collect();
        out.push_str(&cells.join("\t"));
        out.push('\n');
    }
    Ok(out)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.replace(['\t', '\n', '\r'], " "),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::Error(e) => format!("#{e:?}"),
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
    }
}
