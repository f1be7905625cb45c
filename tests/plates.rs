//! Lab stories for the bench: kits, plates, instrument result imports and automatic calls, on
//! SQLite and on PostgreSQL.

mod common;

use common::{person, Db, TestApp};
use instrument_adapters::{PlateSize, Well};
use natlis::domain::policy::Role;
use natlis::synth::{cfx_csv, SynthWell};
use serde_json::{json, Value};

on_both_databases!(
    a_plate_from_scanning_to_calls,
    the_same_file_twice_changes_nothing_and_other_files_are_a_new_round,
    a_failed_control_invalidates_the_run,
    bad_files_and_contradictions_write_nothing,
    scanning_rules_and_mis_scans,
    the_proposal_fills_by_deadline,
    kits_are_versioned_and_edited_by_admins,
    several_files_make_one_import,
    a_real_7500_run_imports_onto_a_plate,
    lab_users_see_their_own_plates_only,
    a_preview_says_what_an_import_would_do_and_writes_nothing,
);

/// A single tube of person `n` (close contact, 12 h), received at LAB-A.
async fn new_plate(app: &TestApp, kit: &str) -> String {
    let r = app
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": kit, "instrument": "CFX96-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["run_no"].as_str().unwrap().to_string()
}

fn well(s: &str) -> Well {
    Well::parse(s, PlateSize::P96).unwrap()
}

/// A Da An kit well: ORF1ab on FAM, N on VIC (written HEX, as CFX names it), IC on Cy5.
fn daan(w: &str, sample: &str, orf: Option<f64>, n: Option<f64>, ic: Option<f64>) -> SynthWell {
    SynthWell {
        well: well(w),
        sample: sample.into(),
        content: "Unkn",
        cts: vec![
            ("FAM".into(), "ORF1ab".into(), orf),
            ("HEX".into(), "N".into(), n),
            ("Cy5".into(), "IC".into(), ic),
        ],
    }
}

fn controls(ntc_fam: Option<f64>) -> Vec<SynthWell> {
    vec![
        SynthWell {
            content: "NTC",
            ..daan("H11", "NTC", ntc_fam, None, None)
        },
        SynthWell {
            content: "Pos Ctrl",
            ..daan("H12", "PC", Some(28.1), Some(27.9), Some(26.0))
        },
    ]
}

async fn upload(app: &TestApp, plate: &str, name: &str, bytes: Vec<u8>) -> common::Resp {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/plates/{plate}/imports?file_name={name}")))
            .header("content-type", "text/csv")
            .body(bytes),
    )
    .await
}

/// Four tubes on a plate: T1 negative, T2 positive, T3 single-target, P1 (a pool) invalid.
async fn loaded_plate(app: &TestApp) -> String {
    app.seed().await;
    app.received_single("T1", 1, "close_contact").await;
    app.received_single("T2", 2, "close_contact").await;
    app.received_single("T3", 3, "close_contact").await;
    app.filled_pool("P1", 10, 10..=19).await;
    app.receive_at_lab_a("P1").await;
    let plate = new_plate(app, "DAAN-ORF1AB-N").await;
    for (barcode, w) in [
        ("T1", Some("A1")),
        ("T2", None),
        ("T3", None),
        ("P1", Some("B1")),
    ] {
        let r = app
            .post(
                &format!("/api/v1/plates/{plate}/wells"),
                json!({"barcode": barcode, "well": w}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    plate
}

fn first_file() -> Vec<u8> {
    let mut wells = vec![
        daan("A1", "T1", None, None, Some(27.3)),
        daan("A2", "T2", Some(24.2), Some(25.0), Some(28.0)),
        daan("A3", "T3", Some(39.4), None, Some(29.0)),
        daan("B1", "P1", None, None, None),
    ];
    wells.extend(controls(None));
    cfx_csv(&wells)
}

async fn a_plate_from_scanning_to_calls(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    let r = app.get(&format!("/api/v1/plates/{plate}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "loading");
    assert_eq!(r.body["kit"], "DAAN-ORF1AB-N");
    assert_eq!(r.body["kit_version"], 1);
    assert_eq!(r.body["free_wells"], 90);
    let wells: Vec<(String, String)> = r.body["wells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["well"].as_str().unwrap().to_string(),
                w["tube"]["barcode"]
                    .as_str()
                    .unwrap_or(w["content"].as_str().unwrap())
                    .to_string(),
            )
        })
        .collect();
    let wells: Vec<(&str, &str)> = wells
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        wells,
        [
            ("A1", "T1"),
            ("A2", "T2"),
            ("A3", "T3"),
            ("B1", "P1"),
            ("H11", "negative_control"),
            ("H12", "positive_control")
        ]
    );

    let r = upload(&app, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 201, "{r:?}");
    let v = &r.body;
    assert_eq!(v["round"], 1);
    assert_eq!(v["duplicate"], false);
    assert_eq!(v["run"]["valid"], true, "{v}");
    assert_eq!(v["files"][0]["name"], "run1.csv");
    assert_eq!(
        v["files"][0]["format"],
        "Bio-Rad CFX Quantification Cq Results"
    );
    assert_eq!(
        v["summary"],
        json!({"invalid": 1, "negative": 1, "positive": 1, "single_target_positive": 1})
    );
    assert_eq!(
        v["calls"][0],
        json!({"well": "A1", "barcode": "T1", "call": "negative", "cts": {"CY5": 27.3, "FAM": null, "VIC": null}})
    );
    assert_eq!(v["calls"][2]["targets"], json!(["ORF1ab"]));
    assert!(v["calls"][3]["reason"]
        .as_str()
        .unwrap()
        .contains("did not amplify"));
    assert_eq!(v["missing_wells"], json!([]));

    let r = app.get(&format!("/api/v1/plates/{plate}")).await;
    assert_eq!(r.body["status"], "resulted");
    assert_eq!(r.body["imports"], 1);
    let a2 = &r.body["wells"][1];
    assert_eq!(a2["call"]["call"], "positive");
    assert_eq!(a2["call"]["kit"], "DAAN-ORF1AB-N");
    assert_eq!(a2["call"]["kit_version"], 1);
    assert_eq!(a2["call"]["run_valid"], true);
    assert_eq!(a2["call"]["cts"]["FAM"], 24.2);
    // The pool's call belongs to the pool: its members are untouched.
    let p1 = &r.body["wells"][3];
    assert_eq!(p1["tube"]["kind"], "pool");
    assert_eq!(p1["tube"]["member_count"], 10);
    // The raw file is kept byte for byte, linked to the calls it produced.
    let (stored,): (Vec<u8>,) = sqlx::query_as("SELECT bytes FROM import_file")
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    assert_eq!(stored, first_file());
    let raw = app
        .client
        .get(app.url(&format!("/api/v1/plates/{plate}/imports/1/files/1")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(
        raw.headers()["content-disposition"],
        "attachment; filename=\"run1.csv\""
    );
    assert_eq!(raw.bytes().await.unwrap().to_vec(), first_file());
    let r = app
        .get(&format!("/api/v1/plates/{plate}/imports/1/files/2"))
        .await;
    assert_eq!((r.status, r.code()), (404, "import.file_not_found"));
    assert_eq!(app.count("SELECT COUNT(*) FROM reading").await, 6);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM auto_call c JOIN result_import i ON i.id = c.import_id")
            .await,
        4
    );
    // Every call is in the audit trail under the tube, inside one import entry.
    let r = app.get("/api/v1/audit?entity=tube:T2").await;
    assert_eq!(r.status, 200, "{r:?}");
    let actions: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"attempt.load") && actions.contains(&"attempt.call"),
        "{actions:?}"
    );
    // The layout is fixed once results are in.
    let r = app
        .post(
            &format!("/api/v1/plates/{plate}/wells"),
            json!({"barcode": "T9"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "plate.has_results"), "{r:?}");
}

async fn the_same_file_twice_changes_nothing_and_other_files_are_a_new_round(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    let r = upload(&app, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 201, "{r:?}");
    let audit_before = app.count("SELECT COUNT(*) FROM audit_log").await;
    let r = upload(&app, &plate, "run1-again.csv", first_file()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["duplicate"], true);
    assert_eq!(r.body["round"], 1);
    assert_eq!(r.body["files"][0]["name"], "run1.csv");
    assert_eq!(app.count("SELECT COUNT(*) FROM result_import").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM reading").await, 6);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log").await,
        audit_before
    );

    // A re-read of the plate (other file): round 2, the first calls stay as they were.
    let mut wells = vec![
        daan("A1", "T1", None, None, Some(27.5)),
        daan("A2", "T2", Some(24.0), Some(25.1), Some(28.2)),
        daan("A3", "T3", Some(35.0), Some(36.0), Some(29.0)),
        daan("B1", "P1", None, None, Some(30.0)),
    ];
    wells.extend(controls(None));
    let r = upload(&app, &plate, "run1-reanalysed.csv", cfx_csv(&wells)).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["round"], 2);
    assert_eq!(
        r.body["summary"],
        json!({"negative": 2, "positive": 2}),
        "{r:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM auto_call").await, 8);
    let r = app.get(&format!("/api/v1/plates/{plate}")).await;
    assert_eq!(r.body["imports"], 2);
    assert_eq!(r.body["wells"][2]["call"]["call"], "positive");
    assert_eq!(r.body["wells"][2]["call"]["import_round"], 2);
    let r = app.get(&format!("/api/v1/plates/{plate}/imports")).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    assert_eq!(
        r.body[0]["calls"][2]["call"], "single_target_positive",
        "round 1 is kept"
    );
    assert_eq!(r.body[1]["calls"][2]["call"], "positive");
}

async fn a_failed_control_invalidates_the_run(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    let mut wells = vec![
        daan("A1", "T1", None, None, Some(27.3)),
        daan("A2", "T2", Some(24.2), Some(25.0), Some(28.0)),
        daan("A3", "T3", None, None, Some(29.0)),
        daan("B1", "P1", None, None, Some(29.0)),
    ];
    wells.extend(controls(Some(36.4)));
    let r = upload(&app, &plate, "dirty-ntc.csv", cfx_csv(&wells)).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["run"]["valid"], false);
    let failure = r.body["run"]["failures"][0].as_str().unwrap();
    assert!(
        failure.contains("H11") && failure.contains("36.4"),
        "{failure}"
    );
    let r = app.get(&format!("/api/v1/plates/{plate}")).await;
    for w in r.body["wells"].as_array().unwrap() {
        if w["content"] == "tube" {
            assert_eq!(w["call"]["run_valid"], false, "{w}");
        }
    }
}

async fn bad_files_and_contradictions_write_nothing(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    let nothing_written = || async {
        for table in ["result_import", "import_file", "reading", "auto_call"] {
            assert_eq!(
                app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
                0,
                "{table}"
            );
        }
    };
    // Garbage, empty, truncated, a Ct that is no number.
    let r = upload(
        &app,
        &plate,
        "notes.txt",
        b"hello, this is not a PCR export\n".to_vec(),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "import.unreadable"), "{r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("notes.txt: "));
    let r = upload(&app, &plate, "empty.csv", vec![]).await;
    assert_eq!((r.status, r.code()), (422, "import.unreadable"), "{r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("empty"));
    let mut bad = String::from_utf8(first_file()).unwrap();
    bad = bad.replacen("24.20", "2x.4", 1);
    let r = upload(&app, &plate, "bad-ct.csv", bad.into_bytes()).await;
    assert_eq!((r.status, r.code()), (422, "import.unreadable"), "{r:?}");
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("bad-ct.csv") && msg.contains("line 3") && msg.contains("well A2"),
        "{msg}"
    );
    // Wells swapped: the file names T2 in A1 and T1 in A2.
    let mut wells = vec![
        daan("A1", "T2", None, None, Some(27.3)),
        daan("A2", "T1", Some(24.2), Some(25.0), Some(28.0)),
    ];
    wells.extend(controls(None));
    let r = upload(&app, &plate, "swapped.csv", cfx_csv(&wells)).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "import.layout_mismatch"),
        "{r:?}"
    );
    assert_eq!(
        r.body["error"]["details"]["mismatches"][0],
        json!({"problem": "sample_name", "well": "A1", "expected": "tube T1", "found": "T2"})
    );
    // A file with no reading for any tube on the plate.
    let r = upload(&app, &plate, "controls-only.csv", cfx_csv(&controls(None))).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "import.no_matching_wells"),
        "{r:?}"
    );
    nothing_written().await;
    // Unknown plate.
    let r = upload(&app, "LAB-A-19990101-1", "x.csv", first_file()).await;
    assert_eq!((r.status, r.code()), (404, "plate.not_found"), "{r:?}");
    // A file already imported for another plate.
    let r = upload(&app, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 201, "{r:?}");
    let other = new_plate(&app, "DAAN-ORF1AB-N").await;
    app.received_single("T4", 4, "close_contact").await;
    let r = app
        .post(
            &format!("/api/v1/plates/{other}/wells"),
            json!({"barcode": "T4"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = upload(&app, &other, "run1.csv", first_file()).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "import.file_of_another_plate"),
        "{r:?}"
    );
}

async fn scanning_rules_and_mis_scans(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    app.received_single("T1", 1, "close_contact").await;
    app.received_single("T2", 2, "close_contact").await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T3", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "close_contact", "people": [person(3)]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let plate = new_plate(&app, "KH-ORF1AB-N").await;
    let scan = |barcode: &str, w: Option<&str>| {
        let (app, plate) = (app.clone(), plate.clone());
        let body = json!({"barcode": barcode, "well": w});
        async move {
            app.post(&format!("/api/v1/plates/{plate}/wells"), body)
                .await
        }
    };
    let r = scan("T1", Some("a01")).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["well"], "A1");
    assert_eq!(r.body["attempt_no"], 1);
    assert_eq!(r.body["free_wells"], 93);
    let r = scan("T2", Some("A1")).await;
    assert_eq!((r.status, r.code()), (409, "well.occupied"), "{r:?}");
    let r = scan("T1", Some("A2")).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "tube.already_on_plate"),
        "{r:?}"
    );
    let r = scan("T2", Some("H12")).await;
    assert_eq!((r.status, r.code()), (409, "well.control"), "{r:?}");
    let r = scan("T2", Some("I1")).await;
    assert_eq!((r.status, r.code()), (422, "invalid.well"), "{r:?}");
    let r = scan("T3", None).await;
    assert_eq!((r.status, r.code()), (409, "tube.not_received"), "{r:?}");
    let r = scan("NOPE", None).await;
    assert_eq!((r.status, r.code()), (404, "tube.not_found"), "{r:?}");
    // A tube waiting on one plate cannot go on another.
    let second = new_plate(&app, "KH-ORF1AB-N").await;
    let r = app
        .post(
            &format!("/api/v1/plates/{second}/wells"),
            json!({"barcode": "T1"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (409, "tube.on_another_plate"),
        "{r:?}"
    );
    assert_eq!(r.body["error"]["details"]["well"], "A1");
    // A mis-scan is taken out again; controls stay.
    let r = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/plates/{plate}/wells/A1"))),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["free_wells"], 94);
    let r = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/plates/{plate}/wells/H11"))),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "well.control"), "{r:?}");
    let r = app
        .post(
            &format!("/api/v1/plates/{second}/wells"),
            json!({"barcode": "T1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Plates: 96 or 384, a known kit, the user's lab.
    let r = app
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 48, "kit": "KH-ORF1AB-N"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.size"), "{r:?}");
    let r = app
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 384, "kit": "NO-SUCH-KIT"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "kit.not_found"), "{r:?}");
    let r = app
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 384, "kit": "MACCURA-ORF1AB-N-E"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["free_wells"], 382);
    assert_eq!(r.body["wells"][0]["well"], "P23");
    assert!(r.body["run_no"].as_str().unwrap().ends_with("-3"));
}

async fn the_proposal_fills_by_deadline(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    // Voluntary tubes are due in 24 h, close contacts in 12 h, fever clinic in 6 h.
    app.received_single("V1", 1, "voluntary").await;
    app.received_single("C1", 2, "close_contact").await;
    app.received_single("F1", 3, "fever_clinic").await;
    let plate = new_plate(&app, "DAAN-ORF1AB-N").await;
    let r = app.get(&format!("/api/v1/plates/{plate}/proposal")).await;
    assert_eq!(r.status, 200, "{r:?}");
    let order: Vec<(&str, &str)> = r.body["wells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["well"].as_str().unwrap(), w["barcode"].as_str().unwrap()))
        .collect();
    assert_eq!(order, [("A1", "F1"), ("A2", "C1"), ("A3", "V1")]);
    let r = app
        .post(&format!("/api/v1/plates/{plate}/fill"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["free_wells"], 91);
    assert_eq!(r.body["wells"][0]["tube"]["barcode"], "F1");
    // Nothing is left waiting now.
    let r = app.get(&format!("/api/v1/plates/{plate}/proposal")).await;
    assert_eq!(r.body["wells"], json!([]));
}

async fn kits_are_versioned_and_edited_by_admins(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app.get("/api/v1/kits").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().unwrap().len(), 3);
    let r = app.get("/api/v1/kits/KH-ORF1AB-N").await;
    assert_eq!(
        r.body["targets"][0]["positive"],
        json!({"ct": 38.0, "inclusive": false})
    );
    assert_eq!(
        r.body["targets"][0]["grey_upper"],
        json!({"ct": 40.0, "inclusive": true})
    );
    let mut v2 = app.get("/api/v1/kits/DAAN-ORF1AB-N").await.body;
    v2["targets"][0]["positive"] = json!({"ct": 38.0, "inclusive": true});
    v2["targets"][1]["positive"] = json!({"ct": 38.0, "inclusive": true});
    let tech = app.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let r = tech.post("/api/v1/kits", v2.clone()).await;
    assert_eq!((r.status, r.code()), (403, "auth.forbidden"), "{r:?}");
    let r = app.post("/api/v1/kits", v2.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["version"], 2);
    let r = app.get("/api/v1/kits/DAAN-ORF1AB-N?version=1").await;
    assert_eq!(r.body["targets"][0]["positive"]["ct"], 40.0);
    // New plates take the newest version unless told otherwise.
    let r = tech
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N"}),
        )
        .await;
    assert_eq!(r.body["kit_version"], 2, "{r:?}");
    let r = tech
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N", "kit_version": 1}),
        )
        .await;
    assert_eq!(r.body["kit_version"], 1, "{r:?}");
    // Definitions are checked.
    let mut bad = v2.clone();
    bad["targets"][0]["grey_upper"] = json!({"ct": 30.0, "inclusive": true});
    let r = app.post("/api/v1/kits", bad).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid.targets[0].grey_upper"),
        "{r:?}"
    );
    let mut bad = v2;
    bad["targets"][1]["channel"] = json!("FAM");
    let r = app.post("/api/v1/kits", bad).await;
    assert_eq!(r.status, 422, "{r:?}");
}

async fn several_files_make_one_import(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    // One file with the targets, another with the internal control (a LightCycler exports
    // one file per channel).
    let all = [
        daan("A1", "T1", None, None, Some(27.3)),
        daan("A2", "T2", Some(24.2), Some(25.0), Some(28.0)),
        daan("A3", "T3", None, None, Some(29.0)),
        daan("B1", "P1", None, None, Some(29.5)),
    ]
    .into_iter()
    .chain(controls(None))
    .collect::<Vec<_>>();
    let part = |keep: &dyn Fn(&str) -> bool| {
        let wells: Vec<SynthWell> = all
            .iter()
            .map(|w| SynthWell {
                cts: w.cts.iter().filter(|c| keep(&c.0)).cloned().collect(),
                ..w.clone()
            })
            .collect();
        cfx_csv(&wells)
    };
    let targets = part(&|d| d != "Cy5");
    let ic = part(&|d| d == "Cy5");
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(targets).file_name("targets.csv"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(ic).file_name("ic.csv"),
        );
    let r = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/plates/{plate}/imports")))
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["files"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["files"][1]["name"], "ic.csv");
    assert_eq!(
        r.body["summary"],
        json!({"negative": 3, "positive": 1}),
        "{r:?}"
    );
}

/// A real 7500 `.eds` analysis_result.txt (an INMEGEN SARS-CoV-2 control run): one viral
/// target per well (ORF1ab, S or N) with RNase P, targets by name only, 0-based wells, 40.0
/// meaning no amplification. An admin describes the ORF1ab assay as a kit; the plate holds
/// tubes in the ORF1ab wells.
async fn a_real_7500_run_imports_onto_a_plate(db: Db) {
    let path = common::shared_file("abi7500-eds-analysis_result/analysis_result_ejemplo.txt");
    let bytes = std::fs::read(path).unwrap();
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/kits",
            json!({"code": "INMEGEN-ORF1AB", "name": "INMEGEN ORF1ab + RNase P, one target per well",
                   "targets": [{"target": "ORF1ab", "channel": "FAM", "positive": {"ct": 38.0, "inclusive": true}, "grey_upper": null}],
                   "internal_control": {"channel": "VIC", "valid": {"ct": 35.0, "inclusive": true}},
                   "positive_control_warn_above": 32.0}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let plate = new_plate(&app, "INMEGEN-ORF1AB").await;
    for (i, w) in ["A1", "B1", "C1", "D1"].iter().enumerate() {
        let barcode = format!("R{i}");
        app.received_single(&barcode, 100 + i as u32, "close_contact")
            .await;
        let r = app
            .post(
                &format!("/api/v1/plates/{plate}/wells"),
                json!({"barcode": barcode, "well": w}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    // Another lab's run (sample names Agua and ControlPos, samples in wells this plate leaves
    // empty, none of its controls): refused, naming each well, and nothing written.
    let r = upload(&app, &plate, "analysis_result.txt", bytes.clone()).await;
    assert_eq!((r.status, r.code()), (422, "import.not_this_run"), "{r:?}");
    let doubts = r.body["error"]["details"]["doubts"].as_array().unwrap();
    assert_eq!(
        doubts[0],
        json!({"problem": "foreign_sample", "well": "A1", "expected": "tube R0", "found": "Agua"})
    );
    assert_eq!(
        doubts[1],
        json!({"problem": "occupied_empty_well", "well": "A2", "found": "sample \"Agua\""})
    );
    assert_eq!(
        doubts.len(),
        14,
        "4 names, 8 empty wells, 2 controls: {doubts:?}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM result_import").await, 0);
    // A technician who knows better imports it anyway, with a reason, audited with the doubts.
    let reason = "training run: the reference lab's file";
    let r = app
        .send(
            app.client
                .post(app.url(&format!(
                    "/api/v1/plates/{plate}/imports?file_name=analysis_result.txt&override_reason={reason}"
                )))
                .body(bytes),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["override_reason"], reason);
    assert_eq!(r.body["doubts"].as_array().unwrap().len(), 14);
    let audit = app
        .get(&format!("/api/v1/audit?entity=plate:{plate}"))
        .await;
    let overrides: Vec<&Value> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "import.override")
        .collect();
    assert_eq!(overrides.len(), 1, "{audit:?}");
    assert_eq!(overrides[0]["after"]["reason"], reason);
    assert_eq!(
        overrides[0]["after"]["doubts"].as_array().unwrap().len(),
        14
    );
    let again = app.get(&format!("/api/v1/plates/{plate}/imports")).await;
    assert_eq!(again.body[0]["override_reason"], reason, "{again:?}");
    assert_eq!(r.body["files"][0]["format"], "7500 analysis_result.txt");
    // Water: no ORF1ab and no RNase P either → invalid; the positive controls → positive.
    assert_eq!(
        r.body["summary"],
        json!({"invalid": 2, "positive": 2}),
        "{r:?}"
    );
    assert_eq!(r.body["calls"][2]["cts"]["FAM"], 27.42105);
    // The S and N wells hold no tube of this plate: reported, not guessed.
    assert_eq!(r.body["unread"], json!({}));
    assert_eq!(
        r.body["unexpected_wells"],
        json!(["A2", "A3", "B2", "B3", "C2", "C3", "D2", "D3"])
    );
    // The plate's own controls (H11, H12) are not in this file: the run cannot be valid.
    assert_eq!(r.body["run"]["valid"], false);
    insta::assert_json_snapshot!("real_7500_calls", r.body["calls"]);
}

async fn lab_users_see_their_own_plates_only(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    let r = app.post("/api/v1/labs", common::lab("LAB-B")).await;
    assert_eq!(r.status, 201);
    let own = app.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let other = app.as_new("tech-b", Role::LabTechnician, "LAB-B").await;
    let reviewer = app.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let collector = app.as_new("col", Role::Collector, "S01").await;
    assert_eq!(
        own.get(&format!("/api/v1/plates/{plate}")).await.status,
        200
    );
    assert_eq!(
        reviewer
            .get(&format!("/api/v1/plates/{plate}"))
            .await
            .status,
        200
    );
    let r = other.get(&format!("/api/v1/plates/{plate}")).await;
    assert_eq!((r.status, r.code()), (404, "plate.not_found"));
    let r = other.get("/api/v1/plates").await;
    assert_eq!(r.body, json!([]));
    assert_eq!(
        own.get("/api/v1/plates")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = upload(&other, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = upload(&reviewer, &plate, "run1.csv", first_file()).await;
    assert_eq!((r.status, r.code()), (403, "auth.forbidden"), "{r:?}");
    let r = collector.get(&format!("/api/v1/plates/{plate}")).await;
    assert_eq!(r.status, 403);
    let r = other
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "auth.out_of_scope"), "{r:?}");
    let r = upload(&own, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 201, "{r:?}");
}

async fn preview(app: &TestApp, plate: &str, name: &str, bytes: Vec<u8>) -> common::Resp {
    app.send(
        app.client
            .post(app.url(&format!(
                "/api/v1/plates/{plate}/imports/preview?file_name={name}"
            )))
            .header("content-type", "text/csv")
            .body(bytes),
    )
    .await
}

async fn a_preview_says_what_an_import_would_do_and_writes_nothing(db: Db) {
    let app = TestApp::start(db).await;
    let plate = loaded_plate(&app).await;
    let audit_before = app.count("SELECT COUNT(*) FROM audit_log").await;
    let nothing_written = || async {
        for table in ["result_import", "import_file", "reading", "auto_call"] {
            assert_eq!(
                app.count(&format!("SELECT COUNT(*) FROM {table}")).await,
                0,
                "{table}"
            );
        }
        assert_eq!(
            app.count("SELECT COUNT(*) FROM audit_log").await,
            audit_before
        );
    };
    let r = preview(&app, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 200, "{r:?}");
    let seen = r.body.clone();
    assert_eq!(seen["round"], 0);
    assert_eq!(seen["duplicate"], false);
    assert_eq!(seen["run"]["valid"], true);
    assert_eq!(
        seen["summary"],
        json!({"invalid": 1, "negative": 1, "positive": 1, "single_target_positive": 1})
    );
    nothing_written().await;
    let r = app.get(&format!("/api/v1/plates/{plate}")).await;
    assert_eq!(r.body["status"], "loading");
    // The same checks as an import: a swapped layout is refused by well, and nothing written.
    let mut wells = vec![
        daan("A1", "T2", None, None, Some(27.3)),
        daan("A2", "T1", Some(24.2), Some(25.0), Some(28.0)),
    ];
    wells.extend(controls(None));
    let r = preview(&app, &plate, "swapped.csv", cfx_csv(&wells)).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "import.layout_mismatch"),
        "{r:?}"
    );
    let r = preview(&app, &plate, "notes.txt", b"not a PCR export".to_vec()).await;
    assert_eq!((r.status, r.code()), (422, "import.unreadable"), "{r:?}");
    nothing_written().await;
    // What the preview said is what the import does.
    let r = upload(&app, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 201, "{r:?}");
    for field in [
        "files",
        "run",
        "summary",
        "calls",
        "missing_wells",
        "unexpected_wells",
        "doubts",
    ] {
        assert_eq!(r.body[field], seen[field], "{field}");
    }
    // Files imported before: the preview answers that import, a duplicate.
    let r = preview(&app, &plate, "run1.csv", first_file()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.body["duplicate"].clone(), r.body["round"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM result_import").await, 1);
}
