//! Imports refuse what is not this plate's run: every real export in `shared/` (other labs'
//! runs) onto a SARS-CoV-2 plate, and a plate's own export cut short at many points, are
//! refused with the wells named, and write nothing; the whole file imports. On SQLite and on
//! PostgreSQL.

mod common;

use common::{Db, TestApp};
use natlis::synth::{plate_export, Shape};
use serde_json::Value;

on_both_databases!(other_labs_runs_and_cut_files_are_refused,);

const KIT: &str = "DAAN-ORF1AB-N";

async fn upload(app: &TestApp, plate: &str, name: &str, bytes: Vec<u8>) -> common::Resp {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/plates/{plate}/imports?file_name={name}")))
            .body(bytes),
    )
    .await
}

fn real_exports() -> Vec<(String, Vec<u8>)> {
    let dir = common::shared_file("");
    let mut out = vec![];
    for format in std::fs::read_dir(&dir).unwrap() {
        let format = format.unwrap().path();
        if !format.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&format).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            out.push((name, std::fs::read(&file).unwrap()));
        }
    }
    out.sort();
    out
}

async fn other_labs_runs_and_cut_files_are_refused(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    for n in 0..24 {
        app.received_single(&format!("W{n:03}"), 300 + n, "close_contact")
            .await;
    }
    let (plate, layout) = common::lab::filled_plate(&app, KIT).await;
    let nothing_written = || async {
        for table in ["result_import", "import_file", "reading", "auto_call"] {
            assert_eq!(
                app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
                0,
                "{table}"
            );
        }
    };
    let exports = real_exports();
    assert!(exports.len() >= 14, "{} exports", exports.len());
    for (name, bytes) in exports {
        let r = upload(&app, &plate, &name, bytes).await;
        assert_eq!(r.status, 422, "{name}: {r:?}");
        let code = r.code();
        assert!(
            [
                "import.not_this_run",
                "import.incomplete",
                "import.no_matching_wells",
                "import.unreadable",
                "import.layout_mismatch",
            ]
            .contains(&code),
            "{name}: {r:?}"
        );
        if code == "import.not_this_run" || code == "import.incomplete" {
            let doubts = r.body["error"]["details"]["doubts"].as_array().unwrap();
            assert!(!doubts.is_empty(), "{name}: {r:?}");
            assert!(
                doubts.iter().all(|d| d["well"].is_string()),
                "{name}: {r:?}"
            );
        }
    }
    nothing_written().await;
    // The plate's own export, cut short anywhere: refused (unreadable, or wells missing).
    let kit = common::lab::kit(KIT);
    let full = plate_export(&kit, &layout, None, |_| Shape::Negative(28.0));
    for tenth in 1..=19 {
        let cut = full.len() * tenth / 20;
        let r = upload(&app, &plate, "cut.csv", full[..cut].to_vec()).await;
        assert_eq!(r.status, 422, "cut at {cut} of {}: {r:?}", full.len());
        assert!(
            [
                "import.incomplete",
                "import.unreadable",
                "import.no_matching_wells"
            ]
            .contains(&r.code()),
            "cut at {cut}: {r:?}"
        );
        if r.code() == "import.incomplete" {
            let doubts = r.body["error"]["details"]["doubts"].as_array().unwrap();
            assert!(
                doubts.iter().any(|d| d["well"] == "H12"),
                "the last well is named: {r:?}"
            );
        }
    }
    nothing_written().await;
    let r = upload(&app, &plate, "run.csv", full).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["doubts"], Value::Array(vec![]));
    assert_eq!(r.body["override_reason"], Value::Null);
    assert_eq!(r.body["calls"].as_array().unwrap().len(), 24);
}
