//! Review and release, pool re-checks, re-tests and CDC confirmation, end to end on SQLite and
//! on PostgreSQL: ten-person pools with one infected member, single tubes with single-target,
//! grey-zone and invalid results, a failed control on one plate — every person ends in the
//! right status, and every intermediate status is in their history.

mod common;

use common::lab::{self, decide, item};
use common::receiver::{self, Received, Receiver, KEY, TOKEN};
use common::{person, Db, TestApp};
use natlis::domain::plate::{Layout, WellContent};
use natlis::domain::policy::Role;
use natlis::synth::Shape;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

on_both_databases!(
    a_night_of_review_from_pools_to_final_statuses,
    retained_tubes_are_tested_without_recall,
    a_failed_run_is_run_again_in_one_step,
);

struct Lab {
    admin: TestApp,
    tech: TestApp,
    reviewer: TestApp,
    cdc: TestApp,
}

async fn lab(db: Db) -> Lab {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let tech = admin.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = admin.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let cdc = admin.as_new("cdc-bj", Role::CdcReviewer, "1101").await;
    Lab {
        admin,
        tech,
        reviewer,
        cdc,
    }
}

async fn filled_plate(l: &Lab, kit: &str) -> (String, Layout) {
    lab::filled_plate(&l.tech, kit).await
}

async fn import(
    l: &Lab,
    plate: &str,
    kit_code: &str,
    layout: &Layout,
    dirty: Option<f64>,
    shape: impl Fn(&str) -> Shape,
) -> Value {
    lab::import(&l.tech, plate, kit_code, layout, dirty, shape).await
}

async fn queue(l: &Lab, plate: &str) -> Vec<Value> {
    lab::queue(&l.reviewer, plate).await
}

/// A person's status code.
async fn status(app: &TestApp, n: u32) -> String {
    let id = person_id(app, n).await;
    let r = app.get(&format!("/api/v1/persons/{id}/status")).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["status"].as_str().unwrap().to_string()
}

async fn person_id(app: &TestApp, n: u32) -> String {
    let doc = common::id_number(n);
    let (uid,): (String,) = sqlx::query_as("SELECT uid FROM person WHERE doc_no = $1")
        .bind(doc)
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    uid
}

async fn a_night_of_review_from_pools_to_final_statuses(db: Db) {
    let l = lab(db).await;
    let a = &l.admin;
    // The health-code platform: every status on the way goes there, checked as FHIR R4.
    let got = Arc::new(Mutex::new(Received::default()));
    let platform = Receiver::start(0, vec![], got.clone()).await;
    let r = a
        .post(
            "/api/v1/push/sinks",
            json!({"name": "hc", "region_prefix": "11", "kind": "fhir_http", "url": platform.url(),
                   "token": TOKEN, "hmac_key": KEY, "batch_size": 5}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    natlis::worker::push::spawn_worker(a.store.clone(), natlis::worker::push::Config::default());
    // A visitor with a passport, tested singly.
    let r = a
        .post(
            "/api/v1/tubes",
            json!({"barcode": "S-PASS", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "mass_screening", "people": [{"doc_type": "passport", "doc_no": "E12345678",
                   "name": "John Smith", "phone": "+447700900123"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    a.receive_at_lab_a("S-PASS").await;
    // Two ten-person pools (member 4 of P1 is infected), four single tubes.
    a.filled_pool("P1", 10, 1..=10).await;
    a.filled_pool("P2", 10, 11..=20).await;
    a.receive_at_lab_a("P1").await;
    a.receive_at_lab_a("P2").await;
    a.received_single("S-STP", 21, "mass_screening").await;
    a.received_single("S-GREY", 22, "mass_screening").await;
    a.received_single("S-INV", 23, "mass_screening").await;
    a.received_single("S-NEG", 24, "mass_screening").await;
    // Plate A, read with the Kinghawk-type kit (< 38 positive, 38–40 grey).
    let (plate_a, layout) = filled_plate(&l, "KH-ORF1AB-N").await;
    let v = import(&l, &plate_a, "KH-ORF1AB-N", &layout, None, |b| match b {
        "P1" => Shape::Positive(31.5),
        "S-STP" => Shape::SingleTarget(33.0),
        "S-GREY" => Shape::SingleTarget(39.2),
        "S-INV" => Shape::Invalid,
        _ => Shape::Negative(28.0),
    })
    .await;
    assert_eq!(v["run"]["valid"], true, "{v}");
    // A single tube on plate B, whose negative control amplified.
    a.received_single("S-CTRL", 25, "mass_screening").await;
    let (plate_b, layout_b) = filled_plate(&l, "KH-ORF1AB-N").await;
    let v = import(&l, &plate_b, "KH-ORF1AB-N", &layout_b, Some(35.0), |_| {
        Shape::Negative(28.0)
    })
    .await;
    assert_eq!(v["run"]["valid"], false);

    // The queue suggests what the rules say.
    let q = queue(&l, &plate_a).await;
    assert_eq!(q.len(), 7);
    let suggested = |b: &str| {
        let s = &item(&q, b)["suggestion"];
        format!(
            "{} {}",
            s["decision"].as_str().unwrap(),
            s["value"].as_str().unwrap_or("")
        )
    };
    assert_eq!(suggested("P1"), "release positive");
    assert_eq!(suggested("P2"), "release negative");
    assert_eq!(suggested("S-STP"), "retest ");
    assert_eq!(suggested("S-GREY"), "retest ");
    assert_eq!(suggested("S-INV"), "reextract ");
    assert_eq!(item(&q, "S-GREY")["call"], "grey_zone");
    // The technician who ran the plate may not release it.
    let r = l
        .tech
        .post(
            &format!("/api/v1/plates/{plate_a}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    // Clean negatives in bulk.
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/plates/{plate_a}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["released"], 3);
    let mut left: Vec<&str> = r.body["left_for_review"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["P1", "S-GREY", "S-INV", "S-STP"]);
    assert_eq!(status(a, 11).await, "negative");
    assert_eq!(status(a, 24).await, "negative");
    let p11 = a
        .get(&format!(
            "/api/v1/persons/{}/results",
            person_id(a, 11).await
        ))
        .await;
    assert_eq!(p11.body[0]["source"], "pool");
    // The positive pool: every member pending re-check, never positive; a re-sample order each.
    let r = decide(
        &l.reviewer,
        &item(&q, "P1")["attempt"],
        json!({"decision": "release", "value": "positive"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["results"].as_array().unwrap().len(), 10);
    assert!(r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["value"] == "pending_recheck"));
    assert_eq!(r.body["resample_orders"], 10);
    for n in 1..=10 {
        assert_eq!(status(a, n).await, "pending_recheck", "person {n}");
    }
    let r = l.reviewer.get("/api/v1/rechecks").await;
    assert_eq!(r.body.as_array().unwrap().len(), 10, "{r:?}");
    assert!(r
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["state"] == "awaiting_resample"));
    // Departing from a suggestion needs a reason; an invalid run is never released.
    let r = decide(
        &l.reviewer,
        &item(&q, "S-STP")["attempt"],
        json!({"decision": "release", "value": "negative"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "review.reason_required"),
        "{r:?}"
    );
    for (b, d) in [
        ("S-STP", "retest"),
        ("S-GREY", "retest"),
        ("S-INV", "reextract"),
    ] {
        let r = decide(&l.reviewer, &item(&q, b)["attempt"], json!({"decision": d})).await;
        assert_eq!(r.status, 200, "{b}: {r:?}");
    }
    let r = decide(
        &l.reviewer,
        &item(&q, "S-STP")["attempt"],
        json!({"decision": "retest"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (409, "review.not_awaiting"), "{r:?}");
    let qb = queue(&l, &plate_b).await;
    assert_eq!(item(&qb, "S-CTRL")["suggestion"]["decision"], "rerun");
    let r = decide(
        &l.reviewer,
        &item(&qb, "S-CTRL")["attempt"],
        json!({"decision": "release", "value": "negative", "reason": "looks fine"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (422, "review.invalid_run"), "{r:?}");
    let r = decide(
        &l.reviewer,
        &item(&qb, "S-CTRL")["attempt"],
        json!({"decision": "rerun"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(status(a, 21).await, "no_result");

    // The pool's members are re-sampled singly; they may not be pooled again.
    let r = a
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P9", "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "mass_screening", "people": [person(3)]}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "person.resample_single"),
        "{r:?}"
    );
    let pool_deadline = a.get("/api/v1/tubes/P1").await.body["deadline_at"].clone();
    for n in 1..=8 {
        a.received_single(&format!("R{n}"), n, "mass_screening")
            .await;
    }
    // The two-step way the README teaches for pools — an empty single tube, then the person
    // scanned in — answers the order the same way, keeping the pool's deadline.
    for n in 9..=10 {
        let barcode = format!("R{n}");
        let r = a
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                       "category": "mass_screening"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let r = a
            .post(&format!("/api/v1/tubes/{barcode}/members"), person(n))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["deadline_at"], pool_deadline, "{r:?}");
        a.receive_at_lab_a(&barcode).await;
    }
    let r = a.get("/api/v1/tubes/R4").await;
    assert_eq!(
        r.body["deadline_at"], pool_deadline,
        "the re-check keeps the pool's deadline"
    );
    let r = l.reviewer.get("/api/v1/rechecks").await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "resampled"),
        "{r:?}"
    );

    // Plate C (Da An kit, a second kit for the re-tests): re-checks go first.
    let (plate_c, layout_c) = filled_plate(&l, "DAAN-ORF1AB-N").await;
    let order: Vec<&String> = layout_c
        .wells
        .values()
        .filter_map(|c| match c {
            WellContent::Tube(b) => Some(b),
            _ => None,
        })
        .collect();
    assert!(order[..10].iter().all(|b| b.starts_with('R')), "{order:?}");
    assert_eq!(order.len(), 14);
    let r = l.tech.get(&format!("/api/v1/plates/{plate_c}")).await;
    let inv = r.body["wells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["tube"]["barcode"] == "S-INV")
        .unwrap()
        .clone();
    assert_eq!(
        (&inv["tube"]["attempt_no"], &inv["tube"]["extraction_no"]),
        (&json!(2), &json!(2))
    );
    import(
        &l,
        &plate_c,
        "DAAN-ORF1AB-N",
        &layout_c,
        None,
        |b| match b {
            "R4" => Shape::Positive(27.0),
            "S-STP" => Shape::SingleTarget(34.1),
            "S-INV" => Shape::Invalid,
            _ => Shape::Negative(28.0),
        },
    )
    .await;
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/plates/{plate_c}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 11, "{r:?}");
    let q = queue(&l, &plate_c).await;
    assert_eq!(
        item(&q, "S-STP")["suggestion"]["value"],
        "positive",
        "single-target twice: positive"
    );
    assert_eq!(item(&q, "S-INV")["suggestion"]["decision"], "resample");
    for (b, body) in [
        ("R4", json!({"decision": "release", "value": "positive"})),
        ("S-STP", json!({"decision": "release", "value": "positive"})),
        ("S-INV", json!({"decision": "resample"})),
    ] {
        let r = decide(&l.reviewer, &item(&q, b)["attempt"], body).await;
        assert_eq!(r.status, 200, "{b}: {r:?}");
    }
    assert_eq!(status(a, 4).await, "positive_preliminary");
    assert_eq!(status(a, 1).await, "negative");
    assert_eq!(status(a, 21).await, "positive_preliminary");
    assert_eq!(status(a, 22).await, "negative");
    assert_eq!(status(a, 23).await, "needs_resampling");
    assert_eq!(status(a, 25).await, "negative");
    let r = l.reviewer.get("/api/v1/rechecks").await;
    assert_eq!(r.body, json!([]), "every re-check has its result");

    // The CDC: two positives with their 2-hour clock; one confirmed, one rejected.
    let r = l.cdc.get("/api/v1/cdc/queue").await;
    assert_eq!(r.status, 200, "{r:?}");
    let cdc_q = r.body.as_array().unwrap().clone();
    assert_eq!(cdc_q.len(), 2, "{cdc_q:?}");
    let by_tube = |t: &str| cdc_q.iter().find(|i| i["tube"] == t).unwrap().clone();
    let r4 = by_tube("R4");
    let called =
        chrono::DateTime::parse_from_rfc3339(r4["positive_called_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(r4["report_due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - called, chrono::Duration::hours(2));
    assert_eq!(r4["minutes_late"], 0);
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/cdc/results/{}/confirm", r4["id"]),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 403, "a lab reviewer does not confirm: {r:?}");
    let r = l
        .cdc
        .post(
            &format!("/api/v1/cdc/results/{}/confirm", r4["id"]),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(status(a, 4).await, "positive_confirmed");
    let stp = by_tube("S-STP");
    let r = l
        .cdc
        .post(
            &format!("/api/v1/cdc/results/{}/reject", stp["id"]),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.reason"), "{r:?}");
    let r = l
        .cdc
        .post(
            &format!("/api/v1/cdc/results/{}/reject", stp["id"]),
            json!({"reason": "re-test with the CDC's kit was negative"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(status(a, 21).await, "pending_recheck");
    let r = l.reviewer.get("/api/v1/results/returned").await;
    assert_eq!(r.body[0]["tube"], "S-STP");
    assert_eq!(
        r.body[0]["cdc_reason"],
        "re-test with the CDC's kit was negative"
    );
    let r = l
        .cdc
        .post(
            &format!("/api/v1/cdc/results/{}/confirm", r4["id"]),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "cdc.not_pending"), "{r:?}");
    // A breach of the report clock is listed.
    assert_eq!(l.cdc.get("/api/v1/cdc/breaches").await.body, json!([]));
    sqlx::query(
        "UPDATE result SET positive_called_at = positive_called_at - 10800000000 WHERE id = $1",
    )
    .bind(r4["id"].as_i64().unwrap())
    .execute(a.store.writer())
    .await
    .unwrap();
    let r = l.cdc.get("/api/v1/cdc/breaches").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{r:?}");
    assert!(r.body[0]["minutes_late"].as_i64().unwrap() >= 59);

    // A correction is a new version; the old one stays.
    let id12 = person_id(a, 12).await;
    let r = a.get(&format!("/api/v1/persons/{id12}/results")).await;
    let first = r.body[0]["id"].clone();
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/results/{first}/amend"),
            json!({"value": "pending_recheck", "reason": "P2 was mislabelled at the site"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["version"], 2);
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/results/{first}/amend"),
            json!({"value": "negative", "reason": "again"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "result.superseded"), "{r:?}");
    let r = a.get(&format!("/api/v1/persons/{id12}/results")).await;
    let versions: Vec<(i64, bool, &str)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["current"].as_bool().unwrap(),
                v["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [(2, true, "pending_recheck"), (1, false, "negative")]
    );
    // And corrected back (a third version: an amended negative).
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/results/{}/amend", r.body[0]["id"]),
            json!({"value": "negative", "reason": "the label was right after all"}),
        )
        .await;
    assert_eq!((r.status, &r.body["version"]), (200, &json!(3)), "{r:?}");

    // The last swabs: person 23 (invalid twice) and person 21 (returned by the CDC).
    a.received_single("N23", 23, "mass_screening").await;
    a.received_single("N21", 21, "mass_screening").await;
    assert_eq!(status(a, 23).await, "no_result");
    let (plate_d, layout_d) = filled_plate(&l, "DAAN-ORF1AB-N").await;
    import(&l, &plate_d, "DAAN-ORF1AB-N", &layout_d, None, |_| {
        Shape::Negative(27.5)
    })
    .await;
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/plates/{plate_d}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 2, "{r:?}");

    // Every attempt of a tube, with its run, extraction and re-collection numbers.
    let r = a.get("/api/v1/tubes/S-INV/attempts").await;
    let steps: Vec<(i64, i64, &str, &str)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["attempt_no"].as_i64().unwrap(),
                x["extraction_no"].as_i64().unwrap(),
                x["call"].as_str().unwrap(),
                x["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (1, 1, "invalid", "reextract"),
            (2, 2, "invalid", "resample")
        ]
    );
    let r = a.get("/api/v1/tubes/N23/attempts").await;
    assert_eq!(r.body[0]["recollection_no"], 1, "{r:?}");

    // Final statuses.
    let mut finals = vec![];
    for n in 1..=25 {
        finals.push((n, status(a, n).await));
    }
    let expect = |n: u32| match n {
        4 => "positive_confirmed",
        _ => "negative",
    };
    for (n, s) in &finals {
        assert_eq!(s, expect(*n), "person {n}");
    }
    // Every intermediate status is in the history: person 4 was pending re-check from the pool,
    // then positive; person 21's positive was rejected, then a negative.
    let r = a
        .get(&format!(
            "/api/v1/persons/{}/results",
            person_id(a, 4).await
        ))
        .await;
    let steps: Vec<(&str, &str, &str)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["tube"].as_str().unwrap(),
                v["value"].as_str().unwrap(),
                v["cdc_status"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("R4", "positive", "confirmed"),
            ("P1", "pending_recheck", "-")
        ]
    );
    let r = a
        .get(&format!(
            "/api/v1/persons/{}/results",
            person_id(a, 21).await
        ))
        .await;
    let steps: Vec<(&str, &str)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["tube"].as_str().unwrap(), v["value"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [("N21", "negative"), ("S-STP", "positive")]);
    // The platform holds, for every person, the status natlis shows — each version once, in
    // order, every bundle valid FHIR R4 — and every kind of message went there.
    let uids: Vec<(String,)> = sqlx::query_as("SELECT uid FROM person ORDER BY id")
        .fetch_all(a.store.reader())
        .await
        .unwrap();
    for (uid,) in &uids {
        let r = a.get(&format!("/api/v1/persons/{uid}/status")).await;
        let (status, version): (String, i64) = sqlx::query_as(
            "SELECT s.status, s.version FROM person_status s JOIN person p ON p.id = s.person_id WHERE p.uid = $1",
        )
        .bind(uid)
        .fetch_one(a.store.reader())
        .await
        .unwrap();
        assert_eq!(r.body["status"], status.as_str());
        assert!(
            receiver::holds_versions(&got, &[(uid.clone(), version)]).await,
            "{uid}: version {version} ({status}) never reached the platform"
        );
        let (s, accepted) = {
            let g = got.lock().unwrap();
            (g.latest[uid].clone(), g.accepted[uid].clone())
        };
        assert_eq!(
            s.status, status,
            "{uid}: the platform reads what natlis says"
        );
        let instant = |t: Option<&str>| t.map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap());
        assert_eq!(
            instant(s.valid_until.as_deref()),
            instant(r.body["valid_until"].as_str()),
            "{uid}: a negative counts as long on the platform"
        );
        assert_eq!(
            accepted,
            (1..=version).collect::<Vec<_>>(),
            "{uid}: in order, once"
        );
    }
    {
        let g = got.lock().unwrap();
        assert_eq!(
            g.invalid,
            Vec::<String>::new(),
            "every bundle is valid FHIR R4"
        );
        assert_eq!(g.duplicates, 0);
        let kinds: std::collections::BTreeSet<(&str, &str)> = g
            .kinds
            .iter()
            .map(|(s, f, _)| (s.as_str(), f.as_str()))
            .collect();
        for kind in [
            ("negative", "final"),
            ("negative", "amended"),
            ("pending_recheck", "preliminary"),
            ("needs_resampling", "final"),
            ("no_result", "registered"),
            ("positive_preliminary", "preliminary"),
            ("positive_confirmed", "final"),
        ] {
            assert!(kinds.contains(&kind), "{kind:?} never sent: {kinds:?}");
        }
        assert!(
            g.kinds
                .iter()
                .any(|(_, _, doc)| doc == "urn:natlis:doc:passport"),
            "{:?}",
            g.kinds
        );
    }
    // And every step is in the audit trail of the tube.
    let r = a.get("/api/v1/audit?entity=tube:S-INV").await;
    let actions: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for step in [
        "tube.open",
        "tube.receive",
        "attempt.load",
        "attempt.call",
        "attempt.decide",
    ] {
        assert!(actions.contains(&step), "{step} missing from {actions:?}");
    }
}

async fn retained_tubes_are_tested_without_recall(db: Db) {
    let l = lab(db).await;
    let a = &l.admin;
    a.filled_pool("P3", 5, 31..=35).await;
    a.receive_at_lab_a("P3").await;
    for n in 31..=35 {
        let r = a
            .post(
                "/api/v1/tubes",
                json!({"barcode": format!("K{n}"), "kind": "single", "sample_type": "oropharyngeal",
                       "site": "S01", "category": "mass_screening", "people": [person(n)],
                       "retained_for": "P3"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        a.receive_at_lab_a(&format!("K{n}")).await;
    }
    let r = a
        .post(
            "/api/v1/tubes",
            json!({"barcode": "K99", "kind": "single", "sample_type": "oropharyngeal",
                   "site": "S01", "category": "mass_screening", "people": [person(99)],
                   "retained_for": "P3"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "tube.not_in_pool"), "{r:?}");
    // Held: the retained tubes are not proposed for a plate.
    let (plate, layout) = filled_plate(&l, "DAAN-ORF1AB-N").await;
    assert_eq!(
        layout.wells.len(),
        3,
        "only P3 and the controls: {layout:?}"
    );
    let r = l
        .tech
        .post(
            &format!("/api/v1/plates/{plate}/wells"),
            json!({"barcode": "K31"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "tube.held"), "{r:?}");
    import(&l, &plate, "DAAN-ORF1AB-N", &layout, None, |_| {
        Shape::SingleTarget(36.0)
    })
    .await;
    let q = queue(&l, &plate).await;
    assert_eq!(item(&q, "P3")["suggestion"]["value"], "inconclusive");
    let r = decide(
        &l.reviewer,
        &item(&q, "P3")["attempt"],
        json!({"decision": "release", "value": "inconclusive"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body["retained_tubes_queued"],
        json!(["K31", "K32", "K33", "K34", "K35"])
    );
    let r = l.reviewer.get("/api/v1/rechecks").await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "resampled"),
        "nobody is recalled: {r:?}"
    );
    let (plate2, layout2) = filled_plate(&l, "DAAN-ORF1AB-N").await;
    assert_eq!(layout2.wells.len(), 7);
    // This time an administrator imports the file: they may then not release it themselves.
    lab::import(a, &plate2, "DAAN-ORF1AB-N", &layout2, None, |_| {
        Shape::Negative(28.0)
    })
    .await;
    let r = a
        .post(
            &format!("/api/v1/plates/{plate2}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "review.own_work"), "{r:?}");
    let r = l
        .reviewer
        .post(
            &format!("/api/v1/plates/{plate2}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 5);
    for n in 31..=35 {
        assert_eq!(status(a, n).await, "negative");
    }
}

/// A plate whose negative control amplified: every tube on it is sent to be run again by one
/// request, audited as one step with each tube's decision under it; the tubes go back to the
/// queue for the next plate.
async fn a_failed_run_is_run_again_in_one_step(db: Db) {
    let l = lab(db).await;
    for n in 0..12 {
        l.admin
            .received_single(&format!("F{n:02}"), 700 + n, "close_contact")
            .await;
    }
    let (plate, layout) = filled_plate(&l, "KH-ORF1AB-N").await;
    let v = import(&l, &plate, "KH-ORF1AB-N", &layout, Some(35.0), |_| {
        Shape::Negative(28.0)
    })
    .await;
    assert_eq!(v["run"]["valid"], false, "{v}");
    let redo = format!("/api/v1/plates/{plate}/redo-invalid-run");
    // Technicians do not decide; the reviewer may not re-sample a whole run at once, nor depart
    // from the suggestion (run again) without a reason — the refusal names the first tube.
    let r = l.tech.post(&redo, json!({"decision": "rerun"})).await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = l
        .reviewer
        .post(&redo, json!({"decision": "resample"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.decision"), "{r:?}");
    let r = l
        .reviewer
        .post(&redo, json!({"decision": "reextract"}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "review.reason_required"),
        "{r:?}"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("tube F00 (well A1): "),
        "{r:?}"
    );
    assert_eq!(queue(&l, &plate).await.len(), 12, "nothing decided");
    // Another lab's reviewer does not see the plate.
    let r = l.admin.post("/api/v1/labs", common::lab("LAB-B")).await;
    assert_eq!(r.status, 201, "{r:?}");
    let other = l.admin.as_new("rev-b", Role::LabReviewer, "LAB-B").await;
    let r = other.post(&redo, json!({"decision": "rerun"})).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = l.reviewer.post(&redo, json!({"decision": "rerun"})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["decision"], "rerun");
    let decided: Vec<String> = (0..12).map(|n| format!("F{n:02}")).collect();
    assert_eq!(r.body["decided"], json!(decided));
    assert!(queue(&l, &plate).await.is_empty());
    // Again: nothing left to redo.
    let r = l.reviewer.post(&redo, json!({"decision": "rerun"})).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "plate.run_not_invalid"),
        "{r:?}"
    );
    // One parent entry on the plate; each tube's decision under it.
    let audit = l
        .admin
        .get(&format!("/api/v1/audit?entity=plate:{plate}"))
        .await;
    let parent = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "plate.redo_invalid_run")
        .cloned()
        .unwrap_or_else(|| panic!("{audit:?}"));
    assert_eq!(parent["actor"], "rev-a");
    assert_eq!(parent["after"]["tubes"], 12);
    for barcode in ["F00", "F11"] {
        let history = l
            .admin
            .get(&format!("/api/v1/audit?entity=tube:{barcode}"))
            .await;
        let child = history
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "attempt.decide")
            .cloned()
            .unwrap_or_else(|| panic!("{history:?}"));
        assert_eq!(child["parent_id"], parent["id"], "{child}");
    }
    // The tubes wait for the next plate: its proposal takes all twelve.
    let (_, next) = filled_plate(&l, "KH-ORF1AB-N").await;
    let on_next: Vec<&str> = next
        .wells
        .values()
        .filter_map(|c| match c {
            WellContent::Tube(b) => Some(b.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(on_next.len(), 12, "{on_next:?}");
}
