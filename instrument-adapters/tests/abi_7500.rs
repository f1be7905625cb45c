//! The 7500 / 7500 Fast exports with no public sample of results: the v2.x text export, the
//! v2.x workbook (true BIFF8 `.xls`) and the SDS v1.4 / SDS 2.x tables — built from the layouts
//! FORMATS.md §3.1 gives (header rows, `Well` = A1 or a 1-based number, `Cт`, `Detector`).

use instrument_adapters::{parse, parse_sized, Ct, Format, PlateSize};

fn cells(rows: &[instrument_adapters::Reading]) -> Vec<(String, &str, &str, Option<f64>, &str)> {
    rows.iter()
        .map(|r| {
            (
                r.well.to_string(),
                r.channel.as_str(),
                r.target.as_str(),
                r.ct.value(),
                r.sample.as_str(),
            )
        })
        .collect()
}

#[test]
fn the_7500_v2_text_export() {
    let text = "* Block Type = 96fast\r\n* Chemistry = TAQMAN\r\n\
        * Experiment File Name = D:\\runs\\night.eds\r\n* Instrument Type = sds7500fast\r\n\
        * Passive Reference = ROX\r\n\r\n[Results]\r\n\
        Well\tSample Name\tTarget Name\tTask\tReporter\tQuencher\tC\u{442}\tC\u{442} Mean\tC\u{442} SD\tQuantity\r\n\
        A1\tHD0000001\tORF1ab\tUNKNOWN\tFAM\tNFQ-MGB\tUndetermined\t\t\t\r\n\
        A1\tHD0000001\tIC\tUNKNOWN\tCY5\tNFQ-MGB\t27.815\t27.815\t\t\r\n\
        H12\tPC\tORF1ab\tSTANDARD\tFAM\tNFQ-MGB\t28,9\t\t\t\r\n";
    let (format, rows) = parse(text.as_bytes()).unwrap();
    assert_eq!(format, Format::Abi7500Text);
    assert_eq!(
        cells(&rows),
        [
            ("A1".into(), "FAM", "ORF1ab", None, "HD0000001"),
            ("A1".into(), "CY5", "IC", Some(27.815), "HD0000001"),
            ("H12".into(), "FAM", "ORF1ab", Some(28.9), "PC"),
        ]
    );
}

#[test]
fn the_7500_v2_workbook_in_biff8() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/7500-v2-results.xls"
    ))
    .unwrap();
    assert_eq!(&bytes[..4], &[0xD0, 0xCF, 0x11, 0xE0], "an OLE2 container");
    let (format, rows) = parse(&bytes).unwrap();
    assert_eq!(format, Format::Abi7500Workbook);
    assert_eq!(rows.len(), 8);
    assert_eq!(
        cells(&rows)[..4],
        [
            ("A1".into(), "FAM", "ORF1ab", None, "HD0000001"),
            ("A1".into(), "VIC", "N", None, "HD0000001"),
            ("A1".into(), "CY5", "IC", Some(27.815), "HD0000001"),
            ("A2".into(), "FAM", "ORF1ab", Some(24.113), "HD0000002"),
        ]
    );
    assert_eq!(rows[6].ct, Ct::NoAmplification);
    assert_eq!(rows[6].role, "NTC");
}

#[test]
fn sds_tables_number_their_wells_from_one() {
    let v14 = "Well,Sample Name,Detector,Task,Ct,StdDev Ct,Qty,Mean Qty,StdDev Qty,Filtered,Tm\r\n\
        1,T1,ORF1ab,Unknown,Undetermined,,,,,False,\r\n\
        13,T2,ORF1ab,Unknown,31.42,,,,,False,\r\n\
        96,PC,ORF1ab,Standard,28.1,,,,,False,\r\n";
    let (format, rows) = parse(v14.as_bytes()).unwrap();
    assert_eq!(format, Format::SdsText);
    assert_eq!(
        cells(&rows),
        [
            ("A1".into(), "", "ORF1ab", None, "T1"),
            ("B1".into(), "", "ORF1ab", Some(31.42), "T2"),
            ("H12".into(), "", "ORF1ab", Some(28.1), "PC"),
        ]
    );
    // On a 384-well plate, well 13 is A13: the caller who knows the plate says so.
    let (_, rows) = parse_sized(v14.as_bytes(), Some(PlateSize::P384)).unwrap();
    assert_eq!(rows[1].well.to_string(), "A13");
    let sds2 = "SDS 2.2.2\tAQ Results\t1.0\r\n\r\n\
        Well\tSample Name\tDetector Name\tTask\tCt\tQuantity\r\n\
        1\tNTC\tN\tNTC\tUndetermined\t\r\n\
        2\tS1\tN\tUnknown\t33.007\t\r\n";
    let (format, rows) = parse(sds2.as_bytes()).unwrap();
    assert_eq!(format, Format::SdsText);
    assert_eq!(cells(&rows)[1], ("A2".into(), "", "N", Some(33.007), "S1"));
}
