//! Every real export in `shared/instrument-exports/` that this crate reads, with its values
//! checked; and bad input of every kind gives an error that names the problem, never a panic.

use instrument_adapters::{parse, Ct, Format, ImportError, Reading};
use proptest::prelude::*;

/// The real exports live in `shared/instrument-exports`, beside the repository (or where
/// `NATLIS_SHARED_DIR` says).
fn file(path: &str) -> Vec<u8> {
    let shared = std::env::var("NATLIS_SHARED_DIR")
        .unwrap_or_else(|_| format!("{}/../../shared", env!("CARGO_MANIFEST_DIR")));
    let full = format!("{shared}/instrument-exports/{path}");
    std::fs::read(&full).unwrap_or_else(|e| {
        panic!("reading {full}: {e} (the repository's shared/ folder must sit beside it, or set NATLIS_SHARED_DIR)")
    })
}

fn read(path: &str) -> (Format, Vec<Reading>) {
    parse(&file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn row(r: &Reading) -> (String, &str, &str, Option<f64>, &str, &str) {
    (
        r.well.to_string(),
        r.channel.as_str(),
        r.target.as_str(),
        r.ct.value(),
        r.sample.as_str(),
        r.role.as_str(),
    )
}

#[test]
fn bio_rad_cfx_maestro() {
    let (format, rows) = read("biorad-cfx-csv/cfxmaestro_example01.csv");
    assert_eq!(format, Format::BioRadCfxCsv);
    assert_eq!(rows.len(), 48);
    assert_eq!(
        row(&rows[0]),
        (
            "A1".into(),
            "FAM",
            "",
            Some(21.1877528266099),
            "M3905 R Ctx",
            "Unkn"
        )
    );
    assert_eq!(
        row(&rows[47]),
        (
            "D6".into(),
            "VIC",
            "",
            Some(20.9102822371808),
            "M4354 R Ctx",
            "Unkn"
        )
    );
    // Fluor-major: every FAM row comes before the first VIC row.
    let first_vic = rows.iter().position(|r| r.channel == "VIC").unwrap();
    assert!(rows[first_vic..].iter().all(|r| r.channel == "VIC"));
}

#[test]
fn bio_rad_cfx_nan_is_no_amplification() {
    let (_, rows) =
        read("biorad-cfx-csv/sam_2025-06-09_13-59-10_CFX96-GAPDH-Quantification-Cq-Results.csv");
    assert_eq!(rows.len(), 78);
    assert_eq!(rows[0].target, "Cg_GAPDH_205_F-355_R (SR IDs: 1172/3)");
    assert_eq!(rows[0].ct, Ct::Value(26.1496917640201));
    assert!(rows.iter().filter(|r| r.ct == Ct::NoAmplification).count() >= 2);
    let last = rows.last().unwrap();
    assert_eq!(
        (last.well.to_string(), last.role.as_str(), last.ct),
        ("G6".into(), "NTC-01", Ct::Value(39.9148475132055))
    );
}

#[test]
fn quantstudio_text_results_only() {
    let (format, rows) = read("quantstudio-v1-txt/example_quantsudio_results_only.txt");
    assert_eq!(format, Format::QuantStudioText);
    assert_eq!(rows.len(), 24);
    assert_eq!(
        row(&rows[0]),
        (
            "A1".into(),
            "VIC",
            "3'UTR",
            Some(16.484),
            "Standard 1 (1e8)",
            "STANDARD"
        )
    );
    let last = rows.last().unwrap();
    assert_eq!(
        (
            last.well.to_string(),
            last.sample.as_str(),
            last.target.as_str()
        ),
        ("B12".into(), "5000018696676", "3'UTR")
    );
    assert_eq!(last.ct, Ct::Value(26.592));
}

#[test]
fn quantstudio_text_full_experiment() {
    let (_, rows) = read("quantstudio-v1-txt/appbio_quantstudio_example02.txt");
    assert_eq!(rows.len(), 96);
    assert_eq!(
        row(&rows[0]),
        ("A1".into(), "VIC", "IPC", None, "NAC", "BlockedIPC")
    );
    assert_eq!(
        row(&rows[1]),
        ("A1".into(), "FAM", "TGFb", None, "NAC", "NTC")
    );
    assert_eq!(rows[95].well.to_string(), "D12");
    assert_eq!(rows[95].sample, "(+)");
}

#[test]
fn abi_7500_analysis_result_sars_cov_2() {
    let (format, rows) = read("abi7500-eds-analysis_result/analysis_result_ejemplo.txt");
    assert_eq!(format, Format::Abi7500AnalysisResult);
    assert_eq!(rows.len(), 24);
    // Well 0 is A1; 40.0 is the last cycle: no amplification.
    assert_eq!(
        row(&rows[0]),
        ("A1".into(), "", "ORF1ab", None, "Agua", "Target")
    );
    let pos: Vec<_> = rows.iter().filter(|r| r.sample == "ControlPos").collect();
    assert_eq!(pos[0].well.to_string(), "C1");
    assert_eq!(
        (pos[0].target.as_str(), pos[0].ct),
        ("ORF1ab", Ct::Value(27.42105))
    );
}

#[test]
fn lightcycler_480_channel_from_the_filter_line() {
    let (format, rows) =
        read("roche-lc480-txt/Edward_qPCR_TxnInhibitors_HS_2018-06-15_plate1_Cq.txt");
    assert_eq!(format, Format::LightCycler480Text);
    assert_eq!(rows.len(), 384);
    assert_eq!(
        row(&rows[0]),
        (
            "A1".into(),
            "SYBR Green I / HRM Dye",
            "",
            Some(14.98),
            "Sample 1",
            ""
        )
    );
    assert_eq!(rows[383].well.to_string(), "P24");
    let a11 = rows.iter().find(|r| r.well.to_string() == "A11").unwrap();
    assert_eq!(a11.ct, Ct::NoAmplification);
}

#[test]
fn quantstudio_csv_resaved() {
    let (format, rows) = read("quantstudio-csv/2019-04-25_135946-GRIN1.csv");
    assert_eq!(format, Format::QuantStudioCsv);
    assert_eq!(rows.len(), 89);
    assert_eq!(
        row(&rows[0]),
        (
            "A1".into(),
            "FAM",
            "GRIN1",
            Some(32.411),
            "AiW001-2-IPSC",
            "UNKNOWN"
        )
    );
    assert_eq!(
        (rows[88].well.to_string(), rows[88].ct),
        ("H9".into(), Ct::Value(22.421))
    );
}

#[test]
fn rotor_gene_blocks_give_channel_and_assay() {
    let (format, rows) = read("rotor-gene-q/irregular_multi_assay.csv");
    assert_eq!(format, Format::RotorGeneCsv);
    assert_eq!(rows.len(), 72);
    // Rotor position 25 is read as plate index 25 (1-based): C1.
    assert_eq!(
        row(&rows[0]),
        ("C1".into(), "Green", "28S", Some(7.49), "NK1", "Unknown")
    );
    let targets: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(
        targets.iter().filter(|t| **t == "HNRNPL protein").count(),
        24
    );
    assert_eq!(
        row(&rows[71]),
        (
            "D12".into(),
            "Green",
            "HNRNPL NMD",
            Some(22.39),
            "NK12",
            "Unknown"
        )
    );
}

#[test]
fn quantstudio_workbook_relative_threshold() {
    let (format, rows) = read("quantstudio-v1-xlsx/appbio_quantstudio_example08.xlsx");
    assert_eq!(format, Format::QuantStudioWorkbook);
    assert_eq!(rows.len(), 36);
    // Duplex wells: 18S on VIC and the target on FAM; the Ct column is `CRT`.
    assert_eq!(
        row(&rows[0]),
        (
            "A1".into(),
            "VIC",
            "18S",
            Some(11.32002067565918),
            "13May2022-Rh-1",
            "UNKNOWN"
        )
    );
    assert_eq!(
        row(&rows[1]),
        (
            "A1".into(),
            "FAM",
            "TJP-1 Rhesus",
            Some(26.776044845581055),
            "13May2022-Rh-1",
            "UNKNOWN"
        )
    );
    assert_eq!(rows[35].well.to_string(), "C6");
}

#[test]
fn design_and_analysis_workbooks() {
    let (format, rows) = read("quantstudio-design-analysis-xlsx/appbio_quantstudio_designandanalysis_QS7Pro_Primary_Analysis_example18.xlsx");
    assert_eq!(format, Format::DesignAnalysisWorkbook);
    assert_eq!(rows.len(), 96);
    assert_eq!(
        row(&rows[0]),
        ("A1".into(), "FAM", "", Some(17.97), "", "STANDARD")
    );
    assert_eq!(
        (rows[95].well.to_string(), rows[95].ct),
        ("H12".into(), Ct::Value(35.59))
    );
    // Diomni: `Primary_result`-style sheet, zero-padded wells on a 384-well block, UNDETERMINED.
    let (format, rows) = read("quantstudio-design-analysis-xlsx/appbio_quantstudio_designandanalysis_Diomni_v4.3_Presence_Absence.xlsx");
    assert_eq!(format, Format::DesignAnalysisWorkbook);
    assert_eq!(rows.len(), 8);
    assert_eq!(
        row(&rows[0]),
        ("A1".into(), "FAM", "Globin", None, "Sample001", "UNKNOWN")
    );
    assert_eq!(
        row(&rows[1]),
        (
            "A1".into(),
            "ABY",
            "T4",
            Some(39.54),
            "Sample001",
            "UNKNOWN"
        )
    );
    assert_eq!(
        row(&rows[7]),
        (
            "O23".into(),
            "ABY",
            "T4",
            None,
            "Positive Control",
            "POSITIVE_CONTROL"
        )
    );
}

#[test]
fn rotor_gene_workbook() {
    let (format, rows) = read("rotor-gene-q/actin_irregular.xlsx");
    assert_eq!(format, Format::RotorGeneWorkbook);
    assert_eq!(rows.len(), 24);
    assert_eq!(
        row(&rows[0]),
        ("C1".into(), "Green", "ACTB", Some(11.5), "NK1", "Unknown")
    );
    assert_eq!(
        row(&rows[23]),
        (
            "D12".into(),
            "Green",
            "ACTB",
            Some(11.78),
            "NK12",
            "Unknown"
        )
    );
}

#[test]
fn rdml_stepone_free_format_wells() {
    let (format, rows) = read("rdml/stepone_std.rdml");
    assert_eq!(format, Format::Rdml);
    assert_eq!(rows.len(), 24);
    // The NTC's 40.0 is StepOne's last cycle: no amplification. The dye comes from the target.
    assert_eq!(
        row(&rows[0]),
        ("A1".into(), "FAM", "RNase P", None, "NTC_RNase P", "ntc")
    );
    assert_eq!(
        row(&rows[23]),
        (
            "C8".into(),
            "FAM",
            "RNase P",
            Some(31.035166),
            "STD_RNase P_625.0",
            "std"
        )
    );
}

#[test]
fn rdml_bio_rad_runs_per_dye_and_missing_cq() {
    let (_, rows) = read("rdml/BioRad_qPCR_melt.rdml");
    assert_eq!(rows.len(), 60);
    assert_eq!(
        row(&rows[0]),
        (
            "A1".into(),
            "FAM",
            "EvaGreen",
            Some(27.7514537682101),
            "Alm12",
            "pos"
        )
    );
    // React 94 of an 8 × 12 pcrFormat is H10; no <cq> element means no amplification.
    assert_eq!(
        row(&rows[59]),
        ("H10".into(), "Cy5", "Cy5-2_rr", None, "H2O", "ntc")
    );
    assert!(rows.iter().any(|r| r.channel == "FAM") && rows.iter().any(|r| r.channel == "Cy5"));
}

#[test]
fn bad_input_names_the_problem() {
    assert_eq!(parse(b""), Err(ImportError::Empty));
    assert_eq!(parse(b"  \r\n"), Err(ImportError::Empty));
    assert!(matches!(
        parse(b"hello,world\n1,2\n"),
        Err(ImportError::UnknownFormat(_))
    ));
    assert!(
        matches!(parse(b"PK\x03\x04rest"), Err(ImportError::UnknownFormat(m)) if m.contains("workbook"))
    );
    // A truncated CFX file: the header alone.
    let cfx = file("biorad-cfx-csv/cfxmaestro_example01.csv");
    let header_only = &cfx[..cfx.iter().position(|b| *b == b'\n').unwrap() + 1];
    assert!(matches!(
        parse(header_only),
        Err(ImportError::NoRows { .. })
    ));
    // A damaged Ct and a damaged well, each named with its line.
    let text = String::from_utf8(cfx.clone()).unwrap();
    let bad_ct = text.replacen("21.1877528266099", "21.18x", 1);
    match parse(bad_ct.as_bytes()) {
        Err(ImportError::Line { line, problem, .. }) => {
            assert_eq!(line, 2);
            assert!(
                problem.contains("A1") && problem.contains("21.18x"),
                "{problem}"
            );
        }
        other => panic!("{other:?}"),
    }
    let bad_well = text.replacen(",A02,", ",Z99,", 1);
    match parse(bad_well.as_bytes()) {
        Err(ImportError::Line { line, problem, .. }) => {
            assert_eq!(line, 3);
            assert!(problem.contains("Z99"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn encodings_do_not_matter() {
    let text = String::from_utf8(file("biorad-cfx-csv/cfxmaestro_example01.csv")).unwrap();
    let plain = parse(text.as_bytes()).unwrap().1;
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    assert_eq!(parse(&bom).unwrap().1, plain);
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
    assert_eq!(parse(&utf16).unwrap().1, plain);
    let gbk_text = text.replace("M3905 R Ctx", "张三 样本");
    let (gbk, _, _) = encoding_rs::GBK.encode(&gbk_text);
    assert_eq!(parse(&gbk).unwrap().1[0].sample, "张三 样本");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn never_panics_on_mangled_real_files(cut in 0usize..4000, flip in 0usize..4000, byte in any::<u8>()) {
        for path in ["biorad-cfx-csv/cfxmaestro_example01.csv", "quantstudio-v1-txt/example_quantsudio_results_only.txt",
                     "abi7500-eds-analysis_result/analysis_result_ejemplo.txt"] {
            let mut b = file(path);
            let n = b.len();
            b[flip % n] = byte;
            b.truncate(cut % n + 1);
            let _ = parse(&b);
        }
    }

    #[test]
    fn never_panics_on_mangled_workbooks(cut in 0usize..200_000, flip in 0usize..200_000, byte in any::<u8>()) {
        let mut b = file("rotor-gene-q/actin_irregular.xlsx");
        let n = b.len();
        b[flip % n] = byte;
        b.truncate(cut % n + 1);
        let _ = parse(&b);
    }

    #[test]
    fn never_panics_on_mangled_rdml(cut in 0usize..20_000, flip in 0usize..20_000, byte in any::<u8>()) {
        let mut b = file("rdml/stepone_std.rdml");
        let n = b.len();
        b[flip % n] = byte;
        b.truncate(cut % n + 1);
        let _ = parse(&b);
    }
}
