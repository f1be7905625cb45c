//! What an upload may expand to. A result export is a few megabytes at most, but a ZIP (RDML,
//! XLSX) can hold a small file that inflates to gigabytes, and a sheet can claim a million rows
//! by one cell at its far corner. Every container is checked before it is read, and every
//! expansion is read through a cap, so no upload takes more than a few tens of megabytes
//! beyond its own size.

use crate::ImportError;
use std::io::{Cursor, Read};

/// The most all entries of a ZIP may expand to together (declared and actually read).
pub const MAX_EXPANDED_BYTES: u64 = 32 * 1024 * 1024;
/// The most entries a ZIP may hold.
pub const MAX_ENTRIES: usize = 2_000;
/// The most XML nodes (elements, attributes' texts …) an RDML document may have.
pub const MAX_XML_NODES: u32 = 2_000_000;
/// The most cells a worksheet may span (rows × columns of its used area), or hold.
pub const MAX_SHEET_CELLS: u64 = 2_000_000;

fn too_large(problem: impl Into<String>) -> ImportError {
    ImportError::TooLarge(problem.into())
}

/// Checks a ZIP's directory: how many entries, and what they declare to expand to.
pub fn check_zip(bytes: &[u8]) -> Result<(), ImportError> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(()); // not a readable ZIP: the reader says so
    };
    if zip.len() > MAX_ENTRIES {
        return Err(too_large(format!(
            "the archive holds {} entries, at most {MAX_ENTRIES} are read",
            zip.len()
        )));
    }
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let Ok(file) = zip.by_index_raw(i) else {
            continue;
        };
        total = total.saturating_add(file.size());
    }
    if total > MAX_EXPANDED_BYTES {
        return Err(too_large(format!(
            "the archive expands to {} MiB, at most {} MiB are read",
            total / (1024 * 1024),
            MAX_EXPANDED_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}

/// Reads one entry, at most `cap` bytes of it (whatever its header declares).
pub fn read_capped(entry: impl Read, name: &str, cap: u64) -> Result<Vec<u8>, ImportError> {
    let mut out = vec![];
    entry
        .take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| ImportError::UnknownFormat(format!("{name} cannot be read: {e}")))?;
    if out.len() as u64 > cap {
        return Err(too_large(format!(
            "{name} expands to more than {} MiB",
            cap / (1024 * 1024)
        )));
    }
    Ok(out)
}

/// Checks the worksheets of an XLSX: each read through the cap, its cells counted and its used
/// area measured from the cells' references (`r="XFD1048576"`).
pub fn check_workbook(bytes: &[u8]) -> Result<(), ImportError> {
    check_zip(bytes)?;
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let mut budget = MAX_EXPANDED_BYTES;
    for i in 0..zip.len() {
        let Ok(file) = zip.by_index(i) else {
            continue;
        };
        let name = file.name().to_string();
        if !(name.starts_with("xl/worksheets/") && name.ends_with(".xml")) {
            continue;
        }
        let xml = read_capped(file, &name, budget)?;
        budget -= xml.len() as u64;
        let (cells, rows, columns) = sheet_extent(&xml);
        let area = rows.saturating_mul(columns);
        if cells > MAX_SHEET_CELLS || area > MAX_SHEET_CELLS {
            return Err(too_large(format!(
                "{name} spans {rows} rows × {columns} columns ({cells} cells); at most {MAX_SHEET_CELLS} cells are read"
            )));
        }
    }
    Ok(())
}

/// The cells of a worksheet's XML, and the rows and columns its cell references reach.
pub fn sheet_extent(xml: &[u8]) -> (u64, u64, u64) {
    let (mut cells, mut rows, mut columns) = (0u64, 0u64, 0u64);
    for at in memchr::memmem::find_iter(xml, b"<c ") {
        cells += 1;
        // The reference is an attribute of this element, before its end.
        let rest = &xml[at..xml.len().min(at + 256)];
        let end = memchr::memchr(b'>', rest).unwrap_or(rest.len());
        let Some(r) = memchr::memmem::find(&rest[..end], b" r=\"") else {
            continue;
        };
        let reference = &rest[r + 4..end];
        let letters = reference
            .iter()
            .take_while(|b| b.is_ascii_uppercase())
            .fold(0u64, |n, b| n * 26 + u64::from(b - b'A' + 1));
        let digits = reference[reference
            .iter()
            .take_while(|b| b.is_ascii_uppercase())
            .count()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u64, |n, b| {
                n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
            });
        columns = columns.max(letters);
        rows = rows.max(digits);
    }
    (cells, rows.max(cells.min(1)), columns.max(cells.min(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_is_measured_by_its_cells_references() {
        let xml =
            br#"<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1"><v>1</v></c></row>
            <row r="96"><c r="B96"><v>2</v></c></row></sheetData>"#;
        assert_eq!(sheet_extent(xml), (3, 96, 3));
        let corner = br#"<c r="A1"><v>1</v></c><c r="XFD1048576"><v>1</v></c>"#;
        assert_eq!(sheet_extent(corner), (2, 1_048_576, 16_384));
        assert_eq!(sheet_extent(b"<sheetData/>"), (0, 0, 0));
    }
}
