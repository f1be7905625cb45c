//! A lab describes a format natlis has no adapter for, in a profile file, and reads it.

use instrument_adapters::{parse_with, Ct, CustomFormat, ImportError};

const GENTIER: &str = r#"{
  "name": "Gentier 96E (our lab)",
  "detect": ["Gentier 96E"],
  "well": ["孔位"], "well_style": "position",
  "channel": ["通道"], "target": ["靶基因"], "ct": ["Ct值"],
  "sample": ["样品名称"], "role": ["样品类型"], "no_ct": ["阴性", "NoCt"]
}"#;

#[test]
fn a_described_format_is_read_without_recompiling() {
    let profile = CustomFormat::load("gentier.json", GENTIER.as_bytes()).unwrap();
    let text = "仪器: Gentier 96E\n\n孔位\t样品名称\t样品类型\t通道\t靶基因\tCt值\nA1\t阴性对照\tNTC\tFAM\tORF1ab\t阴性\nA1\t阴性对照\tNTC\tVIC\tN\tNoCt\nB2\tS-7\t样本\tFAM\tORF1ab\t33.5\n";
    let gbk = encoding_rs::GB18030.encode(text).0.into_owned();
    let (name, rows) = parse_with(&gbk, &[profile.clone()]).unwrap();
    assert_eq!(name, "Gentier 96E (our lab)");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[0].ct, rows[1].ct),
        (Ct::NoAmplification, Ct::NoAmplification)
    );
    assert_eq!(
        (
            rows[2].well.to_string(),
            rows[2].target.as_str(),
            rows[2].ct
        ),
        ("B2".into(), "ORF1ab", Ct::Value(33.5))
    );
    assert_eq!(rows[2].role, "样本");
    // Files it does not describe still go to the built-in adapters.
    let cfx = ",Well,Fluor,Target,Content,Sample,Cq\n,A01,FAM,N,Unkn,S1,30.1\n";
    let (name, rows) = parse_with(cfx.as_bytes(), &[profile]).unwrap();
    assert_eq!(
        (name.as_str(), rows.len()),
        ("Bio-Rad CFX Quantification Cq Results", 1)
    );
}

#[test]
fn a_bad_profile_file_says_what_is_wrong() {
    let e = CustomFormat::load(
        "p.json",
        br#"{"name": "x", "detect": ["x"], "well": ["w"], "ct": ["ct"], "well_style": "letters"}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&e, ImportError::Profile { file, problem } if file == "p.json" && problem.contains("letters")),
        "{e}"
    );
    let e = CustomFormat::load(
        "p.json",
        br#"{"name": "x", "detect": [], "well": ["w"], "ct": ["ct"]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("at least one"), "{e}");
    let e = CustomFormat::load("p.json", br#"{"name": "x", "detct": ["x"]}"#).unwrap_err();
    assert!(e.to_string().contains("p.json"), "{e}");
}
