//! `natlis import` from the command line, straight into a lab's SQLite database.

mod common;

use common::{person, Db, TestApp};
use natlis::store::Location;
use natlis::synth::{plate_export, Shape};
use serde_json::json;

fn natlis(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natlis"))
        .args(args)
        .env("NATLIS_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_files_onto_a_plate_from_the_command_line() {
    let app = TestApp::start(Db::Sqlite).await;
    let Location::SqliteDir(dir) = app.location.clone() else {
        unreachable!("a SQLite test app")
    };
    app.seed().await;
    for (i, barcode) in ["C1", "C2", "C3"].iter().enumerate() {
        let r = app
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                       "category": "close_contact", "people": [person(i as u32 + 1)]}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        app.receive_at_lab_a(barcode).await;
    }
    let r = app
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N"}),
        )
        .await;
    let plate = r.body["run_no"].as_str().unwrap().to_string();
    let r = app
        .post(&format!("/api/v1/plates/{plate}/fill"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let kit = natlis::domain::kit::Kit::shipped().remove(0);
    let mut layout = natlis::domain::plate::Layout::new(instrument_adapters::PlateSize::P96);
    for (i, b) in ["C1", "C2", "C3"].iter().enumerate() {
        layout
            .assign(
                instrument_adapters::Well::from_index(i as u16, 0, layout.size).unwrap(),
                b,
            )
            .unwrap();
    }
    let file = dir.join("run.csv");
    std::fs::write(
        &file,
        plate_export(&kit, &layout, None, |i| match i {
            1 => Shape::Positive(25.0),
            _ => Shape::Negative(27.0),
        }),
    )
    .unwrap();
    let data_dir = dir.display().to_string();
    let file = file.display().to_string();
    let args = [
        "import",
        "--data-dir",
        &data_dir,
        "--plate",
        &plate,
        "--operator",
        "night-shift",
        &file,
    ];
    let (ok, out, err) = natlis(&args);
    assert!(ok, "{out}{err}");
    assert_eq!(
        out.trim(),
        format!("plate {plate} round 1: 2 negative, 1 positive")
    );
    let (ok, out, _) = natlis(&args);
    assert!(ok);
    assert!(
        out.contains("imported already (round 1); nothing changed"),
        "{out}"
    );
    // The import is in the audit trail under the operator's name.
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE actor = 'cli:night-shift' AND action = 'plate.import'",
    )
    .fetch_one(app.store.reader())
    .await
    .unwrap();
    assert_eq!(n, 1);
    // A bad file is named with its line, and the command fails.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        ",Well,Fluor,Target,Content,Sample,Cq\n,A01,FAM,ORF1ab,Unkn,C1,twelve\n",
    )
    .unwrap();
    let (ok, out, err) = natlis(&[
        "import",
        "--data-dir",
        &data_dir,
        "--plate",
        &plate,
        &bad.display().to_string(),
    ]);
    assert!(!ok);
    assert!(
        out.contains("NOT IMPORTED") && out.contains("bad.csv") && out.contains("line 2"),
        "{out}"
    );
    assert!(err.contains("1 of 1 imports failed"), "{err}");
}
