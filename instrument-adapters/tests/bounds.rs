//! Uploads that expand: a small RDML inflating past the cap, a workbook whose sheet claims the
//! far corner of Excel's grid, an archive of too many entries — each refused with a clear
//! error, before anything is inflated into memory.

use instrument_adapters::bounds::{self, MAX_EXPANDED_BYTES};
use instrument_adapters::ImportError;
use std::io::Write;

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, body) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(body).unwrap();
        }
        zip.finish().unwrap();
    }
    out.into_inner()
}

fn too_large(
    r: Result<
        (
            instrument_adapters::Format,
            Vec<instrument_adapters::Reading>,
        ),
        ImportError,
    >,
) -> String {
    match r {
        Err(ImportError::TooLarge(problem)) => problem,
        other => panic!(
            "expected TooLarge, got {:?}",
            other.map(|(f, r)| (f, r.len()))
        ),
    }
}

#[test]
fn an_rdml_bomb_is_refused_before_it_is_inflated() {
    let mut xml = b"<?xml version=\"1.0\"?><rdml version=\"1.1\">".to_vec();
    xml.resize(xml.len() + MAX_EXPANDED_BYTES as usize + 1024, b' ');
    xml.extend_from_slice(b"</rdml>");
    let file = zip_of(&[("run.xml", &xml)]);
    assert!(file.len() < 200 * 1024, "{} bytes", file.len());
    let problem = too_large(instrument_adapters::parse(&file));
    assert!(
        problem.contains("expands to 32 MiB") || problem.contains("more than 32 MiB"),
        "{problem}"
    );
}

#[test]
fn an_rdml_of_too_many_nodes_is_refused() {
    let mut xml = b"<rdml version=\"1.1\">".to_vec();
    for _ in 0..(bounds::MAX_XML_NODES / 2 + 10) {
        xml.extend_from_slice(b"<a/><b/>");
    }
    xml.extend_from_slice(b"</rdml>");
    let file = zip_of(&[("run.xml", &xml)]);
    let problem = too_large(instrument_adapters::parse(&file));
    assert!(problem.contains("XML nodes"), "{problem}");
}

#[test]
fn a_sheet_claiming_the_far_corner_is_refused() {
    let sheet = br#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>Well</t></is></c></row>
<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#;
    let file = zip_of(&[
        ("[Content_Types].xml", br#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#),
        ("xl/worksheets/sheet1.xml", sheet),
    ]);
    let problem = too_large(instrument_adapters::parse(&file));
    assert!(
        problem.contains("1048576 rows × 16384 columns"),
        "{problem}"
    );
}

#[test]
fn an_archive_of_too_many_entries_is_refused() {
    let names: Vec<String> = (0..bounds::MAX_ENTRIES + 1)
        .map(|i| format!("f{i}.txt"))
        .collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let problem = too_large(instrument_adapters::parse(&zip_of(&entries)));
    assert!(problem.contains("entries"), "{problem}");
}

#[test]
fn an_entry_is_read_no_further_than_the_cap_whatever_it_declares() {
    let endless = std::io::repeat(b'x');
    match bounds::read_capped(endless, "sheet.xml", 1024) {
        Err(ImportError::TooLarge(p)) => assert!(p.contains("sheet.xml"), "{p}"),
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    assert_eq!(bounds::read_capped(&b"abc"[..], "x", 3).unwrap(), b"abc");
}
