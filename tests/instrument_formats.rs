//! Instrument layouts through the API, on SQLite and on PostgreSQL: a plate of tubes with the
//! kit's controls in place, its readings written in every layout of FORMATS.md that carries Ct
//! and that natlis can write here — QuantStudio text, CSV and workbook, the 7500's text export
//! and `analysis_result.txt`, SDS, Bio-Rad CFX, Design & Analysis, Rotor-Gene CSV and workbook,
//! LightCycler 480 (one Cp file per filter combination, with each spelling of combined filter
//! names), SLAN-96P (dye names in 目标, GBK), MA-6000 and RDML — each import is a valid run with
//! the right call for every tube. (The 7500's BIFF8 `.xls`, which nothing here can write, is
//! read in the adapters' own tests.) And a file that matches nothing says what it holds against
//! what is expected.

mod common;

use common::{person, Db, TestApp};
use instrument_adapters::{PlateSize, Well};
use natlis::domain::kit::Kit;
use natlis::domain::plate::{Layout, WellContent};
use natlis::synth::{
    abi7500_analysis_result, lc480_txt, ma6000_txt, plate_wells, rotor_gene_csv, sds_text,
    slan_csv, thermo_text, workbook, Shape, SynthWell, ThermoText, Workbook,
};
use serde_json::{json, Value};

on_both_databases!(
    every_layout_imports_into_a_valid_run_with_the_right_calls,
    the_7500_biff8_workbook_imports_with_the_right_calls,
    a_file_that_matches_nothing_says_what_it_holds,
);

const KIT: &str = "DAAN-ORF1AB-N";

/// Four received single tubes `<prefix>-1…4` on a new plate filled by proposal.
async fn plate_of_four(app: &TestApp, prefix: &str, first_person: u32) -> (String, Layout) {
    for i in 0..4 {
        let barcode = format!("{prefix}-{}", i + 1);
        let r = app
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                       "category": "close_contact", "people": [person(first_person + i)]}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        app.receive_at_lab_a(&barcode).await;
    }
    let (plate, layout) = common::lab::filled_plate(app, KIT).await;
    assert_eq!(layout.wells.len(), 6, "four tubes and two controls");
    (plate, layout)
}

/// A layout of an instrument export, as the test writes it.
#[derive(Debug, Clone, Copy)]
enum Export {
    Thermo(ThermoText),
    Sds,
    Abi7500AnalysisResult,
    Cfx,
    Book(Workbook),
    RotorGeneCsv,
    /// The LightCycler 480 with each channel's filter combination spelled by this.
    Lc480(&'static str, fn(&str) -> String),
    Slan,
    Ma6000,
    Rdml,
}

const LAYOUTS: &[Export] = &[
    Export::Thermo(ThermoText::QuantStudio),
    Export::Thermo(ThermoText::Abi7500),
    Export::Thermo(ThermoText::QuantStudioCsv),
    Export::Sds,
    Export::Abi7500AnalysisResult,
    Export::Cfx,
    Export::Book(Workbook::QuantStudio),
    Export::Book(Workbook::DesignAnalysis),
    Export::Book(Workbook::RotorGene),
    Export::RotorGeneCsv,
    // The LightCycler's filter combinations, as three instruments and FORMATS.md spell them.
    Export::Lc480("LC480 II", |dye| match dye {
        "FAM" => "FAM (465-510)".into(),
        "VIC" => "HEX/VIC (533-580)".into(),
        _ => "Cy5 (618-660)".into(),
    }),
    Export::Lc480("LC480 combined names", |dye| match dye {
        "FAM" => "FAM / SYBR Green I".into(),
        "VIC" => "VIC / HEX / Yellow555".into(),
        _ => "Cy5 / Cy5.5".into(),
    }),
    Export::Lc480("cobas z 480", |dye| match dye {
        "FAM" => "465-510".into(),
        "VIC" => "540-580".into(),
        _ => "610-670".into(),
    }),
    Export::Slan,
    Export::Ma6000,
    Export::Rdml,
];

impl Export {
    fn name(self) -> String {
        match self {
            Self::Lc480(name, _) => name.to_string(),
            other => format!("{other:?}"),
        }
    }

    /// The format natlis must recognise.
    fn format(self) -> &'static str {
        match self {
            Self::Thermo(ThermoText::QuantStudio) => "QuantStudio text export",
            Self::Thermo(ThermoText::Abi7500) => "7500 text export",
            Self::Thermo(ThermoText::QuantStudioCsv) => "QuantStudio CSV export",
            Self::Sds => "SDS results table",
            Self::Abi7500AnalysisResult => "7500 analysis_result.txt",
            Self::Cfx => "Bio-Rad CFX",
            Self::Book(Workbook::QuantStudio) => "QuantStudio workbook",
            Self::Book(Workbook::DesignAnalysis) => "Design & Analysis workbook",
            Self::Book(Workbook::RotorGene) => "Rotor-Gene Q workbook",
            Self::RotorGeneCsv => "Rotor-Gene Q analysed data export",
            Self::Lc480(..) => "LightCycler 480 Cp export",
            Self::Slan => "SLAN-96",
            Self::Ma6000 => "MA-6000",
            Self::Rdml => "RDML",
        }
    }

    fn write(self, wells: &[SynthWell]) -> Vec<(String, Vec<u8>)> {
        let one = |name: &str, bytes: Vec<u8>| vec![(name.to_string(), bytes)];
        match self {
            Self::Thermo(t) => one("results.txt", thermo_text(wells, t)),
            Self::Sds => one("sds.txt", sds_text(wells)),
            Self::Abi7500AnalysisResult => {
                one("analysis_result.txt", abi7500_analysis_result(wells))
            }
            Self::Cfx => one("cfx.csv", natlis::synth::cfx_csv(wells)),
            Self::Book(b) => one("results.xlsx", workbook(wells, b)),
            Self::RotorGeneCsv => one("rotor-gene.csv", rotor_gene_csv(wells)),
            Self::Lc480(_, filter) => lc480_txt(wells, filter)
                .into_iter()
                .enumerate()
                .map(|(i, b)| (format!("run_{i}.txt"), b))
                .collect(),
            Self::Slan => one("slan.csv", slan_csv(wells)),
            Self::Ma6000 => one("ma6000.txt", ma6000_txt(wells)),
            Self::Rdml => one("run.rdml", natlis::synth::rdml(wells)),
        }
    }
}

/// Negative, positive, single-target, invalid.
fn shape(i: usize) -> Shape {
    [
        Shape::Negative(28.5),
        Shape::Positive(24.0),
        Shape::SingleTarget(33.0),
        Shape::Invalid,
    ][i]
}

async fn upload(app: &TestApp, plate: &str, files: Vec<(String, Vec<u8>)>) -> common::Resp {
    upload_overriding(app, plate, files, None).await
}

/// An upload with a reason to import doubted files anyway (a multipart text field).
async fn upload_overriding(
    app: &TestApp,
    plate: &str,
    files: Vec<(String, Vec<u8>)>,
    reason: Option<&str>,
) -> common::Resp {
    let mut form = reqwest::multipart::Form::new();
    if let Some(reason) = reason {
        form = form.text("override_reason", reason.to_string());
    }
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/plates/{plate}/imports")))
            .multipart(form),
    )
    .await
}

fn calls(body: &Value) -> Vec<(String, String)> {
    body["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["barcode"].as_str().unwrap().to_string(),
                c["call"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn every_layout_imports_into_a_valid_run_with_the_right_calls(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let kit = Kit::shipped().into_iter().find(|k| k.code == KIT).unwrap();
    for (k, layout) in LAYOUTS.iter().enumerate() {
        let (name, format) = (layout.name(), layout.format());
        let (plate, plate_layout) = plate_of_four(&app, &format!("F{k}"), 10 * k as u32 + 1).await;
        let wells = plate_wells(&kit, &plate_layout, None, shape);
        let r = upload(&app, &plate, layout.write(&wells)).await;
        assert_eq!(r.status, 201, "{name}: {r:?}");
        assert!(
            r.body["files"][0]["format"]
                .as_str()
                .unwrap()
                .starts_with(format),
            "{name}: {}",
            r.body["files"][0]["format"]
        );
        assert_eq!(r.body["run"]["valid"], true, "{name}: {}", r.body["run"]);
        assert_eq!(r.body["unread"], json!({}), "{name}: every reading is read");
        assert_eq!(r.body["missing_wells"], json!([]), "{name}");
        assert_eq!(
            calls(&r.body),
            [
                (format!("F{k}-1"), "negative".to_string()),
                (format!("F{k}-2"), "positive".to_string()),
                (format!("F{k}-3"), "single_target_positive".to_string()),
                (format!("F{k}-4"), "invalid".to_string()),
            ],
            "{name}"
        );
        let positive = &r.body["calls"][1]["cts"];
        assert_eq!(
            (
                positive["FAM"].as_f64(),
                positive["VIC"].as_f64(),
                positive["CY5"].as_f64()
            ),
            (Some(24.0), Some(24.7), Some(29.0)),
            "{name}: every channel read"
        );
    }
}

/// The 7500's BIFF8 `.xls` (nothing here can write one; the adapters' test file): its two
/// tubes get the right calls through the API; its controls carry FAM only, so the run is
/// invalid, and says why.
async fn the_7500_biff8_workbook_imports_with_the_right_calls(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/instrument-adapters/tests/data/7500-v2-results.xls"
    ))
    .unwrap();
    let plate = common::lab::new_plate(&app, KIT).await;
    for (n, (barcode, well)) in [("HD0000001", "A1"), ("HD0000002", "A2")]
        .iter()
        .enumerate()
    {
        app.received_single(barcode, 60 + n as u32, "close_contact")
            .await;
        let r = app
            .post(
                &format!("/api/v1/plates/{plate}/wells"),
                json!({"barcode": barcode, "well": well}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    // Controls read on FAM only: the file is refused as incomplete, naming the wells and
    // channels; imported anyway with a reason, the run is invalid.
    let files = vec![("results.xls".to_string(), bytes)];
    let r = upload(&app, &plate, files.clone()).await;
    assert_eq!((r.status, r.code()), (422, "import.incomplete"), "{r:?}");
    assert_eq!(
        r.body["error"]["details"]["doubts"][0],
        json!({"problem": "missing_readings", "well": "H11", "expected": "the negative control",
               "channels": ["VIC", "CY5"]})
    );
    let reason = "the adapters' test file: controls on FAM only";
    let r = upload_overriding(&app, &plate, files, Some(reason)).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["override_reason"], reason);
    assert_eq!(r.body["doubts"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["files"][0]["format"], "7500 workbook");
    assert_eq!(
        calls(&r.body),
        [
            ("HD0000001".to_string(), "negative".to_string()),
            ("HD0000002".to_string(), "positive".to_string()),
        ]
    );
    assert_eq!(r.body["run"]["valid"], false, "{}", r.body["run"]);
    let failures = r.body["run"]["failures"].to_string();
    assert!(failures.contains("VIC"), "{failures}");
}

async fn a_file_that_matches_nothing_says_what_it_holds(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let kit = Kit::shipped().into_iter().find(|k| k.code == KIT).unwrap();
    let (plate, layout) = plate_of_four(&app, "M", 1).await;
    // Another plate's file: other wells, other samples.
    let mut elsewhere = Layout::new(PlateSize::P96);
    elsewhere.wells.clear();
    for (w, b) in [("C5", "X-1"), ("C6", "X-2")] {
        elsewhere.wells.insert(
            Well::parse(w, PlateSize::P96).unwrap(),
            WellContent::Tube(b.into()),
        );
    }
    let wells = plate_wells(&kit, &elsewhere, None, |_| Shape::Negative(28.0));
    let r = upload(&app, &plate, vec![("other.csv".into(), slan_csv(&wells))]).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "import.no_matching_wells"),
        "{r:?}"
    );
    let message = r.body["error"]["message"].as_str().unwrap();
    for said in [
        "none of the files' wells holds a tube",
        "C5",
        "X-1",
        "FAM",
        "A1",
        "DAAN-ORF1AB-N",
    ] {
        assert!(message.contains(said), "{said:?} not in {message}");
    }
    assert_eq!(
        r.body["error"]["details"]["read"]["wells"],
        json!(["C5", "C6"])
    );
    assert_eq!(
        r.body["error"]["details"]["read"]["samples"],
        json!(["X-1", "X-2"])
    );
    assert_eq!(r.body["error"]["details"]["expected"]["kit"], KIT);
    // The right wells, but dyes the kit does not read.
    let mut wells = plate_wells(&kit, &layout, None, |_| Shape::Negative(28.0));
    for w in &mut wells {
        for c in &mut w.cts {
            c.0 = "ROX".into();
        }
    }
    let r = upload(&app, &plate, vec![("rox.csv".into(), slan_csv(&wells))]).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "import.no_matching_wells"),
        "{r:?}"
    );
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no dye or target in the files is one the kit reads"),
        "{message}"
    );
    assert!(message.contains("target ROX"), "{message}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM result_import").await,
        0,
        "nothing written"
    );
}

/// The real LightCycler 480 export (a SYBR run): its filter line names a combination, read on
/// the FAM channel.
#[test]
fn the_real_lightcycler_file_reads_on_fam() {
    let path = common::shared_file(
        "roche-lc480-txt/Edward_qPCR_TxnInhibitors_HS_2018-06-15_plate1_Cq.txt",
    );
    let (_, rows) = instrument_adapters::parse(&std::fs::read(path).unwrap()).unwrap();
    let kit = Kit::shipped().into_iter().find(|k| k.code == KIT).unwrap();
    assert_eq!(rows.len(), 384);
    assert_eq!(rows[0].channel, "SYBR Green I / HRM Dye");
    assert!(rows
        .iter()
        .all(|r| kit.channel_of(&r.channel, &r.target).as_deref() == Some("FAM")));
}
