//! A small testing day end to end, on SQLite and on PostgreSQL: 320 people in 30 ten-person
//! pools and 20 single tubes; one plate whose negative control amplified (an invalid run, every
//! tube run again); one positive pool, its ten members re-sampled singly, one of them positive
//! and confirmed by the CDC. Every status goes to a health-code platform that validates each
//! bundle as FHIR R4 — and at the end it holds, for every person, the status natlis shows,
//! every version once and in order.

mod common;

use common::lab::{self, decide, item};
use common::receiver::{self, Received, Receiver, KEY, TOKEN};
use common::{Db, TestApp};
use natlis::domain::policy::Role;
use natlis::synth::Shape;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_databases!(a_small_day_ends_with_the_platform_holding_every_status);

const KIT: &str = "DAAN-ORF1AB-N";

async fn a_small_day_ends_with_the_platform_holding_every_status(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let tech = admin.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = admin.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let cdc = admin.as_new("cdc-bj", Role::CdcReviewer, "1101").await;
    let got = Arc::new(Mutex::new(Received::default()));
    let platform = Receiver::start(0, vec![], got.clone()).await;
    let r = admin
        .post(
            "/api/v1/push/sinks",
            json!({"name": "bj-health-code", "region_prefix": "11", "kind": "fhir_http", "url": platform.url(),
                   "token": TOKEN, "hmac_key": KEY, "batch_size": 50, "in_flight": 4}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    natlis::worker::push::spawn_worker(
        admin.store.clone(),
        natlis::worker::push::Config {
            every: Duration::from_millis(50),
            ..Default::default()
        },
    );

    // The collection site's morning: 30 pools of ten (people 1–300), 20 single tubes.
    for p in 0..30u32 {
        let barcode = format!("P{:02}", p + 1);
        admin
            .filled_pool(&barcode, 10, p * 10 + 1..=p * 10 + 10)
            .await;
        admin.receive_at_lab_a(&barcode).await;
    }
    for n in 301..=320 {
        admin
            .received_single(&format!("S{n}"), n, "close_contact")
            .await;
    }
    let first: Vec<String> = (1..=30)
        .map(|p| format!("P{p:02}"))
        .chain((301..=310).map(|n| format!("S{n}")))
        .collect();
    let rest: Vec<String> = (311..=320).map(|n| format!("S{n}")).collect();

    // Plate 1: the pools and ten single tubes; P05 (people 41–50) is positive (person 45).
    let (plate1, layout1) = lab::plate_of(&tech, KIT, &first).await;
    let v = lab::import(&tech, &plate1, KIT, &layout1, None, |b| match b {
        "P05" => Shape::Positive(30.5),
        _ => Shape::Negative(28.0),
    })
    .await;
    assert_eq!(v["run"]["valid"], true, "{v}");
    // Plate 2: the other ten single tubes, its negative control amplified — an invalid run.
    let (plate2, layout2) = lab::plate_of(&tech, KIT, &rest).await;
    let v = lab::import(&tech, &plate2, KIT, &layout2, Some(33.0), |_| {
        Shape::Negative(28.0)
    })
    .await;
    assert_eq!(v["run"]["valid"], false, "{v}");

    // Review: plate 1's negatives in bulk, the positive pool to re-check; plate 2 run again.
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate1}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!((r.status, &r.body["released"]), (200, &json!(39)), "{r:?}");
    let q = lab::queue(&reviewer, &plate1).await;
    let r = decide(
        &reviewer,
        &item(&q, "P05")["attempt"],
        json!({"decision": "release", "value": "positive"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["resample_orders"], 10);
    let q = lab::queue(&reviewer, &plate2).await;
    assert_eq!(q.len(), 10);
    for i in &q {
        assert_eq!(i["suggestion"]["decision"], "rerun", "{i}");
        let r = decide(&reviewer, &i["attempt"], json!({"decision": "rerun"})).await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    // The pool's members give single swabs; the re-run tubes wait too. Plate 3: re-checks
    // first, then the re-runs; person 45 is positive.
    for n in 41..=50 {
        admin
            .received_single(&format!("R{n}"), n, "close_contact")
            .await;
    }
    let (plate3, layout3) = lab::filled_plate(&tech, KIT).await;
    assert_eq!(
        layout3.wells.len(),
        22,
        "ten re-checks, ten re-runs, two controls"
    );
    let v = lab::import(&tech, &plate3, KIT, &layout3, None, |b| match b {
        "R45" => Shape::Positive(26.0),
        _ => Shape::Negative(28.0),
    })
    .await;
    assert_eq!(v["run"]["valid"], true, "{v}");
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate3}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!((r.status, &r.body["released"]), (200, &json!(19)), "{r:?}");
    let q = lab::queue(&reviewer, &plate3).await;
    let r = decide(
        &reviewer,
        &item(&q, "R45")["attempt"],
        json!({"decision": "release", "value": "positive"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // The CDC confirms.
    let r = cdc.get("/api/v1/cdc/queue").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{r:?}");
    let r = cdc
        .post(
            &format!("/api/v1/cdc/results/{}/confirm", r.body[0]["id"]),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // natlis's statuses: 319 negative, person 45 confirmed positive.
    let people: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT p.uid, s.status, s.version FROM person p JOIN person_status s ON s.person_id = p.id ORDER BY p.id",
    )
    .fetch_all(admin.store.reader())
    .await
    .unwrap();
    assert_eq!(people.len(), 320);
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for (uid, status, _) in &people {
        let r = admin.get(&format!("/api/v1/persons/{uid}/status")).await;
        assert_eq!(
            r.body["status"],
            status.as_str(),
            "the API shows what is stored"
        );
        *tally.entry(status.as_str()).or_default() += 1;
    }
    assert_eq!(
        tally,
        BTreeMap::from([("negative", 319), ("positive_confirmed", 1)])
    );

    // The platform holds the same, for everyone.
    let versions: Vec<(String, i64)> = people.iter().map(|(u, _, v)| (u.clone(), *v)).collect();
    assert!(
        receiver::holds_versions(&got, &versions).await,
        "the platform never got every person's last version"
    );
    let g = got.lock().unwrap();
    assert_eq!(
        g.invalid,
        Vec::<String>::new(),
        "every bundle is valid FHIR R4"
    );
    assert_eq!(g.duplicates, 0);
    assert_eq!(g.bad_signatures, 0);
    for (uid, status, version) in &people {
        assert_eq!(&g.latest[uid].status, status, "{uid}");
        assert_eq!(
            g.accepted[uid],
            (1..=*version).collect::<Vec<_>>(),
            "{uid}: every version once, in order"
        );
    }
}
