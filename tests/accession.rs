//! Lab stories for accession and reception, on SQLite and on PostgreSQL.

mod common;

use common::{id_number, person, Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::json;

on_both_databases!(
    registry_and_public_lab_list,
    single_tube_with_masked_person,
    pooled_tube_fills_and_closes_itself,
    short_pool_is_flagged_and_count_is_checked,
    invalid_id_number_changes_nothing,
    pooling_rules_are_enforced,
    a_pool_is_never_put_into_a_pool,
    barcode_used_twice_shows_the_existing_binding,
    idempotency_key_replays_the_first_answer,
    tube_lists_page_and_say_how_many,
    every_list_pages_and_says_how_many,
    posts_that_ignored_the_idempotency_key_replay_it,
    personal_code_is_scanned_instead_of_typing,
    same_document_is_the_same_person,
    reception_flags_long_transport_and_refuses_duplicates,
    rejection_lists_people_for_resampling,
    issued_barcodes_are_verified,
    environment_samples_carry_a_description,
    malformed_input_is_named,
    every_change_is_audited,
    concurrent_scans_never_overfill_a_pool,
    changes_committed_together_keep_their_own_actor_and_answer,
    two_nodes_share_one_database,
    ops_endpoints,
    a_corrupt_stored_code_fails_the_read_and_names_it,
);

/// A stored code natlis does not know (written here with SQL, as a bad restore or a hand edit
/// would) makes the read fail with the table, column and value — the tube does not silently
/// become a single tube, nor the person another kind of document.
async fn a_corrupt_stored_code_fails_the_read_and_names_it(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T0001", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "close_contact", "people": [person(1)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let person = r.body["members"][0]["person"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    sqlx::query("UPDATE tube SET kind = 'pooled' WHERE barcode = 'T0001'")
        .execute(app.store.writer())
        .await
        .unwrap();
    let mut conn = app.store.reader().acquire().await.unwrap();
    let e = natlis::store::tube::by_barcode(&mut conn, "T0001")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("tube.kind") && e.contains("\"pooled\" is not a TubeKind code"),
        "{e}"
    );
    // Over the API: an internal error with a reference, nothing made up.
    let r = app.get("/api/v1/tubes/T0001").await;
    assert_eq!(r.status, 500, "{r:?}");
    assert_eq!(r.body["error"]["code"], "internal");

    sqlx::query("UPDATE person SET doc_type = 'id_card' WHERE uid = $1")
        .bind(&person)
        .execute(app.store.writer())
        .await
        .unwrap();
    let e = natlis::store::person::by_uid(&mut conn, &person)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("person.doc_type") && e.contains("\"id_card\" is not a DocumentType code"),
        "{e}"
    );
    let r = app.get(&format!("/api/v1/persons/{person}")).await;
    assert_eq!(r.status, 500, "{r:?}");
}

/// Routes that ran a keyed repeat again (a second sink, 409; a second fill) replay the first
/// answer now. (Login, user and token creation carry secrets and are never stored; an import
/// is idempotent by its files' hashes.)
async fn posts_that_ignored_the_idempotency_key_replay_it(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let sink = json!({"name": "hc-key", "region_prefix": "11", "kind": "fhir_http",
                      "url": "https://hc.example/fhir", "token": "t"});
    let a = app
        .post_keyed("/api/v1/push/sinks", "sink-1", sink.clone())
        .await;
    let b = app
        .post_keyed("/api/v1/push/sinks", "sink-1", sink.clone())
        .await;
    assert_eq!((a.status, b.status), (201, 201), "{b:?}");
    assert_eq!(a.body, b.body);
    assert!(b.headers.get("idempotent-replayed").is_some(), "{b:?}");
    let c = app.post("/api/v1/push/sinks", sink).await;
    assert_eq!(
        c.status, 409,
        "without the key, a second sink of that name: {c:?}"
    );
    app.received_single("T-KEY", 1, "close_contact").await;
    let r = app
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let run = r.body["run_no"].as_str().unwrap().to_string();
    let fill = format!("/api/v1/plates/{run}/fill");
    let a = app.post_keyed(&fill, "fill-1", json!({})).await;
    let b = app.post_keyed(&fill, "fill-1", json!({})).await;
    assert_eq!((a.status, b.status), (200, 200), "{b:?}");
    assert_eq!(a.body, b.body);
    assert!(b.headers.get("idempotent-replayed").is_some(), "{b:?}");
    // A DELETE too: taking the tube out of its well again with the key replays the answer
    // (without it: the well is empty, 404).
    let well = a.body["wells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["tube"]["barcode"] == "T-KEY")
        .expect("the tube is on the plate")["well"]
        .as_str()
        .unwrap()
        .to_string();
    let unassign = |key: Option<&'static str>| {
        let req = app
            .client
            .delete(app.url(&format!("/api/v1/plates/{run}/wells/{well}")));
        app.send(match key {
            Some(k) => req.header("idempotency-key", k),
            None => req,
        })
    };
    let a = unassign(Some("out-1")).await;
    let b = unassign(Some("out-1")).await;
    assert_eq!((a.status, b.status), (200, 200), "{b:?}");
    assert_eq!(a.body, b.body);
    assert!(b.headers.get("idempotent-replayed").is_some(), "{b:?}");
    let c = unassign(None).await;
    assert_eq!(c.status, 404, "without the key, the well is empty: {c:?}");
}

/// Every list endpoint answers a page with how many there are in all and where the next page
/// starts; a bad page is refused, named.
async fn every_list_pages_and_says_how_many(db: Db) {
    // (Every answer in the suite is checked against the API document by TestApp::send; the
    // check finds the operations.)
    let labs = common::openapi::statuses("GET", "/api/v1/labs").unwrap();
    assert!(labs.contains(&"200".to_string()) && !labs.contains(&"401".to_string()));
    let fill = common::openapi::statuses("POST", "/api/v1/plates/P-1/fill").unwrap();
    for s in ["200", "401", "403", "404", "409", "422"] {
        assert!(fill.contains(&s.to_string()), "{s}: {fill:?}");
    }
    assert_eq!(
        common::openapi::statuses("GET", "/api/v1/no-such-thing"),
        None
    );
    // …and their bodies: a lab list of the wrong shape, an error without its code, an
    // undocumented content type are each named.
    let check = |status, ct, body: &serde_json::Value| {
        common::openapi::check("GET", "/api/v1/labs", status, Some(ct), body)
    };
    assert_eq!(check(200, "application/json", &json!([])), Ok(()));
    let wrong = check(200, "application/json", &json!([{"code": 7}])).unwrap_err();
    assert!(
        wrong.contains("schema refuses") && wrong.contains("/0"),
        "{wrong}"
    );
    let wrong = check(404, "application/json", &json!({"error": {}})).unwrap_err();
    assert!(wrong.contains("schema refuses"), "{wrong}");
    let wrong = check(200, "text/html", &json!("<p>")).unwrap_err();
    assert!(wrong.contains("text/html"), "{wrong}");
    let app = TestApp::start(db).await;
    app.seed().await;
    for n in 0..3 {
        let r = app
            .post("/api/v1/labs", common::lab(&format!("LAB-P{n}")))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let all = app.get("/api/v1/labs").await;
    let total = all.body.as_array().unwrap().len();
    assert!(total >= 4, "{all:?}");
    assert_eq!(all.headers["x-total-count"], total.to_string().as_str());
    assert!(all.headers.get("x-next-offset").is_none());
    let mut seen = vec![];
    let mut offset = 0;
    loop {
        let r = app
            .get(&format!("/api/v1/labs?limit=2&offset={offset}"))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.headers["x-total-count"], total.to_string().as_str());
        seen.extend(r.body.as_array().unwrap().iter().cloned());
        match r.headers.get("x-next-offset") {
            Some(next) => offset = next.to_str().unwrap().parse().unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, *all.body.as_array().unwrap());
    for path in [
        "/api/v1/sites",
        "/api/v1/institutions",
        "/api/v1/kits",
        "/api/v1/plates",
        "/api/v1/review",
        "/api/v1/rechecks",
        "/api/v1/resampling",
        "/api/v1/results/returned",
        "/api/v1/cdc/queue",
        "/api/v1/cdc/breaches",
        "/api/v1/push/sinks",
        "/api/v1/turnaround/at-risk",
        "/api/v1/me/sessions",
        "/api/v1/audit?entity=lab:LAB-P1",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert!(r.headers.get("x-total-count").is_some(), "{path}: {r:?}");
        let sep = if path.contains('?') { '&' } else { '?' };
        for bad in ["limit=0", "limit=1001", "offset=-1"] {
            let r = app.get(&format!("{path}{sep}{bad}")).await;
            assert_eq!(r.status, 422, "{path} {bad}: {r:?}");
        }
    }
}

async fn registry_and_public_lab_list(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app.post("/api/v1/labs", common::lab("lab-a")).await;
    assert_eq!((r.status, r.code()), (409, "lab.code_taken"), "{r:?}");
    let r = app.get("/api/v1/labs").await;
    assert_eq!(r.status, 200);
    let labs = r.body.as_array().unwrap();
    assert_eq!(labs.len(), 1);
    assert_eq!(labs[0]["code"], "LAB-A");
    assert_eq!(labs[0]["price_single_cents"], 4000);
    assert_eq!(labs[0]["accreditation_valid"], true);
    let mut expired = common::lab("LAB-A");
    expired["accredited_until"] = json!("2020-01-31");
    let r = app.put("/api/v1/labs/LAB-A", expired).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["accreditation_valid"], false);
    let r = app.get("/api/v1/labs/nope").await;
    assert_eq!((r.status, r.code()), (404, "lab.not_found"));
    let r = app.get("/api/v1/sites/S02").await;
    assert_eq!(r.body["pool_sizes"], json!([10, 20]));
    assert_eq!(r.body["accepts_foreign_barcodes"], false);
    let r = app
        .post(
            "/api/v1/sites",
            json!({"code": "S 9", "name": "x", "address": "y", "region": "110108"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.code"), "{r:?}");
    let r = app
        .post(
            "/api/v1/sites",
            json!({"code": "S09", "name": "x", "address": "y", "region": "110108", "lab": "LAB-X"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "lab.unknown"), "{r:?}");
}

async fn single_tube_with_masked_person(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "  T0001\r\n", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "close_contact",
                   "people": [{"doc_type": "resident_id", "doc_no": "11010519491231002x", "name": "张三", "phone": "13812345678"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let t = &r.body;
    assert_eq!(t["barcode"], "T0001");
    assert_eq!(t["status"], "closed");
    assert_eq!(t["member_count"], 1);
    assert_eq!(t["priority"], "standard");
    assert_eq!(t["payer"], "public");
    let p = &t["members"][0]["person"];
    assert_eq!(p["doc_no"], "110105********002X");
    assert_eq!(p["name"], "张*");
    assert_eq!(p["phone"], "138****5678");
    assert_eq!(p["sex"], "female");
    // Times are shown in the lab's zone; the deadline is 12 h after collection.
    let collected =
        chrono::DateTime::parse_from_rfc3339(t["collected_at"].as_str().unwrap()).unwrap();
    let deadline =
        chrono::DateTime::parse_from_rfc3339(t["deadline_at"].as_str().unwrap()).unwrap();
    assert_eq!(collected.offset().local_minus_utc(), 8 * 3600);
    assert_eq!(deadline - collected, chrono::Duration::hours(12));
    let again = app.get("/api/v1/tubes/T0001").await;
    assert_eq!(again.body, r.body);
    assert!(!again.body.to_string().contains("11010519491231002X"));
    assert!(!again.body.to_string().contains("13812345678"));
    // A fever-clinic tube is due in 6 h.
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T0002", "kind": "single", "sample_type": "nasopharyngeal", "site": "S01",
                   "category": "fever_clinic", "people": [person(2)]}),
        )
        .await;
    assert_eq!(r.body["priority"], "urgent");
}

async fn open_pool(app: &TestApp, barcode: &str, size: u32) -> common::Resp {
    app.post(
        "/api/v1/tubes",
        json!({"barcode": barcode, "kind": "pool", "pool_size": size, "sample_type": "oropharyngeal",
               "site": "S01", "category": "mass_screening"}),
    )
    .await
}

async fn pooled_tube_fills_and_closes_itself(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = open_pool(&app, "P-001", 10).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (r.body["status"].as_str(), r.body["nominal_size"].as_u64()),
        (Some("open"), Some(10))
    );
    assert_eq!(r.body["payer"], "self");
    for i in 1..=10 {
        let r = app.post("/api/v1/tubes/P-001/members", person(i)).await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.body["member_count"], i);
        assert_eq!(r.body["status"], if i == 10 { "closed" } else { "open" });
        assert_eq!(r.body["closed_now"], i == 10);
        assert_eq!(r.body["added"]["position"], i);
        if i == 3 {
            let dup = app.post("/api/v1/tubes/P-001/members", person(2)).await;
            assert_eq!(
                (dup.status, dup.code()),
                (409, "tube.already_member"),
                "{dup:?}"
            );
            assert_eq!(dup.body["error"]["details"]["position"], 2);
        }
    }
    let r = app.post("/api/v1/tubes/P-001/members", person(11)).await;
    assert_eq!((r.status, r.code()), (409, "tube.full"), "{r:?}");
    let r = app.post("/api/v1/tubes/P-001/close", json!({})).await;
    assert_eq!((r.status, r.code()), (409, "tube.not_open"), "{r:?}");
    let t = app.get("/api/v1/tubes/P-001").await;
    let positions: Vec<u64> = t.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>());
    assert_eq!(t.body["short_closed"], false);
}

async fn short_pool_is_flagged_and_count_is_checked(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    open_pool(&app, "P-002", 20).await;
    let r = app.post("/api/v1/tubes/P-002/close", json!({})).await;
    assert_eq!((r.status, r.code()), (409, "tube.empty"), "{r:?}");
    for i in 1..=7 {
        app.post("/api/v1/tubes/P-002/members", person(i)).await;
    }
    let r = app
        .post("/api/v1/tubes/P-002/close", json!({"count": 8}))
        .await;
    assert_eq!((r.status, r.code()), (422, "tube.count_mismatch"), "{r:?}");
    let r = app
        .post("/api/v1/tubes/P-002/close", json!({"count": 7}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "closed");
    assert_eq!(r.body["member_count"], 7);
    assert_eq!(r.body["short_closed"], true);
    let r = app.post("/api/v1/tubes/P-002/members", person(8)).await;
    assert_eq!((r.status, r.code()), (409, "tube.not_open"), "{r:?}");
}

async fn invalid_id_number_changes_nothing(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let mut bad = person(1);
    let good = bad["doc_no"].as_str().unwrap().to_string();
    let last = if good.ends_with('0') { "1" } else { "0" };
    bad["doc_no"] = json!(format!("{}{last}", &good[..17]));
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-BAD", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "inpatient", "people": [bad]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "id_number.invalid"), "{r:?}");
    assert_eq!(r.body["error"]["field"], "people[0].doc_no");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("check character"));
    assert_eq!(app.get("/api/v1/tubes/T-BAD").await.status, 404);
    assert_eq!(app.count("SELECT COUNT(*) FROM person").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE entity_type = 'tube'")
            .await,
        0
    );
    // A passport is taken as typed.
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-PP", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "inbound_traveller",
                   "people": [{"doc_type": "passport", "doc_no": "e12345678", "name": "John Smith", "phone": "+44 7700 900123"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["members"][0]["person"]["doc_no"], "E1*****78");
}

async fn pooling_rules_are_enforced(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P-K", "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "cold_chain_worker"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "tube.single_sampling_required"),
        "{r:?}"
    );
    let r = open_pool(&app, "P-30", 30).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "tube.pool_size_not_allowed"),
        "{r:?}"
    );
    // The single-only list is a setting: a region may allow pooling cold-chain workers.
    let mut s = app.get("/api/v1/settings").await.body;
    s["single_only"] = json!(["close_contact"]);
    let r = app.put("/api/v1/settings", s).await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P-K", "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "cold_chain_worker"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // Too many people given at once for the pool.
    let people: Vec<_> = (1..=6).map(person).collect();
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P-6", "kind": "pool", "pool_size": 5, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "voluntary", "people": people}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "tube.full"), "{r:?}");
}

async fn a_pool_is_never_put_into_a_pool(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    open_pool(&app, "P-A", 10).await;
    open_pool(&app, "P-B", 10).await;
    let r = app
        .post("/api/v1/tubes/P-B/members", json!({"code": "P-A"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "tube.nested_pool"), "{r:?}");
    let r = app
        .post("/api/v1/tubes/P-B/members", json!({"code": "XYZ"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.code"), "{r:?}");
}

async fn barcode_used_twice_shows_the_existing_binding(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    open_pool(&app, "P-DUP", 10).await;
    app.post("/api/v1/tubes/P-DUP/members", person(1)).await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P-DUP", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "outpatient", "people": [person(2)]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "barcode.already_used"), "{r:?}");
    let existing = &r.body["error"]["details"]["tube"];
    assert_eq!(existing["kind"], "pool");
    assert_eq!(existing["member_count"], 1);
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("site S01"));
    // Nothing of the refused request was written: person 2 is unknown.
    assert_eq!(app.count("SELECT COUNT(*) FROM person").await, 1);
}

async fn idempotency_key_replays_the_first_answer(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    open_pool(&app, "P-ID", 10).await;
    let first = app
        .post_keyed("/api/v1/tubes/P-ID/members", "scan-0001", person(1))
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = app
        .post_keyed("/api/v1/tubes/P-ID/members", "scan-0001", person(1))
        .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.get("/api/v1/tubes/P-ID").await.body["member_count"], 1);
    let other = app
        .post_keyed("/api/v1/tubes/P-ID/members", "scan-0001", person(2))
        .await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency.key_reused"),
        "{other:?}"
    );
    // Opening a tube with a key: the retry after a lost answer gets 201 and the same tube.
    let body = json!({"barcode": "T-IDEM", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                      "category": "outpatient", "people": [person(3)]});
    let a = app
        .post_keyed("/api/v1/tubes", "open-1", body.clone())
        .await;
    let b = app.post_keyed("/api/v1/tubes", "open-1", body).await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_eq!(a.body, b.body);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tube WHERE barcode = 'T-IDEM'")
            .await,
        1
    );
    // Four at once with one key, on two nodes: the first owns the key, the others wait for its
    // answer and replay it — none answers 409.
    let other = app.another_node().await;
    for round in 0..3 {
        let key = format!("race-{round}");
        let body = json!({"barcode": format!("T-RACE{round}"), "kind": "single", "sample_type": "oropharyngeal",
                          "site": "S01", "category": "outpatient", "people": [person(40 + round)]});
        let (a, b, c, d) = tokio::join!(
            app.post_keyed("/api/v1/tubes", &key, body.clone()),
            other.post_keyed("/api/v1/tubes", &key, body.clone()),
            app.post_keyed("/api/v1/tubes", &key, body.clone()),
            other.post_keyed("/api/v1/tubes", &key, body.clone()),
        );
        for r in [&a, &b, &c, &d] {
            assert_eq!(r.status, 201, "{r:?}");
            assert_eq!(r.body, a.body);
        }
        let replayed = [&a, &b, &c, &d]
            .iter()
            .filter(|r| r.headers.get("idempotent-replayed").is_some())
            .count();
        assert_eq!(replayed, 3, "one did the work, three replayed it");
    }
}

async fn personal_code_is_scanned_instead_of_typing(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let mut p = person(7);
    p["institution"] = json!("INST-1");
    let r = app.post("/api/v1/persons", p.clone()).await;
    assert_eq!(r.status, 201, "{r:?}");
    let code = r.body["personal_code"].as_str().unwrap().to_string();
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["institution"], "INST-1");
    assert_eq!(code.len(), 11);
    let again = app.post("/api/v1/persons", p).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["personal_code"], code.as_str());
    let qr = app.get(&format!("/api/v1/persons/{id}/code.svg")).await;
    assert_eq!(qr.status, 200);
    assert!(qr.body.as_str().unwrap().contains("<svg"));
    open_pool(&app, "P-QR", 5).await;
    let r = app
        .post(
            "/api/v1/tubes/P-QR/members",
            json!({"code": format!(" {}\n", code.to_lowercase())}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["added"]["person"]["id"], id.as_str());
    assert_eq!(r.body["added"]["position"], 1);
    // A code with a bad check character, and a valid but unknown code.
    let mut typo = code.clone().into_bytes();
    typo[4] = if typo[4] == b'2' { b'3' } else { b'2' };
    let r = app
        .post(
            "/api/v1/tubes/P-QR/members",
            json!({"code": String::from_utf8(typo).unwrap()}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.code"), "{r:?}");
}

async fn same_document_is_the_same_person(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    open_pool(&app, "P-S1", 5).await;
    open_pool(&app, "P-S2", 5).await;
    let a = app.post("/api/v1/tubes/P-S1/members", person(1)).await;
    // Scanned again elsewhere by ID number only (no name): found, not duplicated.
    let b = app
        .post(
            "/api/v1/tubes/P-S2/members",
            json!({"doc_type": "resident_id", "doc_no": id_number(1).to_lowercase()}),
        )
        .await;
    assert_eq!(b.status, 200, "{b:?}");
    assert_eq!(
        a.body["added"]["person"]["id"],
        b.body["added"]["person"]["id"]
    );
    assert!(a.body["added"]["person"]["id"].is_string());
    assert_eq!(app.count("SELECT COUNT(*) FROM person").await, 1);
    // Same document with another name: a mistyped ID or name, refused without showing whose
    // the document is.
    let mut other = person(1);
    other["name"] = json!("李四");
    let r = app.post("/api/v1/tubes/P-S2/members", other).await;
    assert_eq!((r.status, r.code()), (409, "person.name_mismatch"), "{r:?}");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("another name than 李*"), "{message}");
    assert!(!r.body.to_string().contains("测"), "{r:?}");
    // An unknown person without a name cannot be registered.
    let r = app
        .post(
            "/api/v1/tubes/P-S2/members",
            json!({"doc_type": "resident_id", "doc_no": id_number(99)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.name"), "{r:?}");
}

async fn reception_flags_long_transport_and_refuses_duplicates(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let five_hours_ago = (chrono::Utc::now() - chrono::Duration::hours(5)).to_rfc3339();
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-OLD", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "outpatient", "collected_at": five_hours_ago, "people": [person(1)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "T-OLD", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["over_limit"], true);
    assert_eq!(r.body["limit_minutes"], 240);
    assert!((299..=301).contains(&r.body["transport_minutes"].as_i64().unwrap()));
    assert_eq!(r.body["tube"]["status"], "received");
    assert_eq!(r.body["tube"]["receipt"]["transport_over_limit"], true);
    let dup = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "T-OLD", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (409, "tube.already_received"),
        "{dup:?}"
    );
    assert!(dup.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("LAB-A"));
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-NEW", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "outpatient", "people": [person(2)]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "T-NEW", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(r.body["over_limit"], false);
    open_pool(&app, "P-OPEN", 10).await;
    let r = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "P-OPEN", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "tube.not_closed"), "{r:?}");
    let r = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "NOPE-1", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "tube.not_found"), "{r:?}");
    let r = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "T-NEW", "lab": "LAB-Z"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "lab.unknown"), "{r:?}");
}

async fn rejection_lists_people_for_resampling(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    app.filled_pool("P-LEAK", 5, 1..=5).await;
    app.receive_at_lab_a("P-LEAK").await;
    let r = app
        .post("/api/v1/tubes/P-LEAK/reject", json!({"reason": "other"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.note"), "{r:?}");
    let r = app
        .post("/api/v1/tubes/P-LEAK/reject", json!({"reason": "dropped"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "request.invalid_body"), "{r:?}");
    let r = app
        .post(
            "/api/v1/tubes/P-LEAK/reject",
            json!({"reason": "leaking_or_broken", "note": "cap cracked"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["tube"]["status"], "rejected");
    assert_eq!(r.body["tube"]["rejection"]["reason"], "leaking_or_broken");
    assert_eq!(r.body["resample"].as_array().unwrap().len(), 5);
    let deadline = r.body["tube"]["deadline_at"].clone();
    let list = app.get("/api/v1/resampling?lab=LAB-A").await;
    let orders = list.body.as_array().unwrap();
    assert_eq!(orders.len(), 5);
    assert!(orders
        .iter()
        .all(|o| o["tube"] == "P-LEAK" && o["due_at"] == deadline));
    assert_eq!(orders[0]["reason"], "tube_rejected:leaking_or_broken");
    assert!(orders[0]["person"]["doc_no"]
        .as_str()
        .unwrap()
        .contains("********"));
    let r = app
        .post(
            "/api/v1/tubes/P-LEAK/reject",
            json!({"reason": "leaking_or_broken"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "tube.cannot_reject"), "{r:?}");
    // A tube rejected on arrival without being scanned in names its lab.
    open_pool(&app, "P-R2", 5).await;
    app.post("/api/v1/tubes/P-R2/members", person(9)).await;
    app.post("/api/v1/tubes/P-R2/close", json!({})).await;
    let r = app
        .post(
            "/api/v1/tubes/P-R2/reject",
            json!({"reason": "label_unreadable"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.lab"), "{r:?}");
    let r = app
        .post(
            "/api/v1/tubes/P-R2/reject",
            json!({"reason": "label_unreadable", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        app.get("/api/v1/resampling")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

async fn issued_barcodes_are_verified(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post("/api/v1/sites/S02/barcode-batches", json!({"count": 50}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.body["id"].as_i64().unwrap();
    let first = r.body["first"].as_str().unwrap().to_string();
    assert!(first.starts_with("NL0000000001"));
    let batch = app.get(&format!("/api/v1/barcode-batches/{id}")).await;
    let barcodes: Vec<String> = serde_json::from_value(batch.body["barcodes"].clone()).unwrap();
    assert_eq!(barcodes.len(), 50);
    let zpl = app
        .get(&format!("/api/v1/barcode-batches/{id}/labels.zpl"))
        .await;
    assert_eq!(zpl.body.as_str().unwrap().matches("^XA").count(), 50);
    let svg = app.get(&format!("/api/v1/tubes/{first}/label.svg")).await;
    assert!(svg.body.as_str().unwrap().starts_with("<svg"));
    let open = |barcode: String| {
        json!({"barcode": barcode, "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
               "site": "S02", "category": "mass_screening"})
    };
    let r = app.post("/api/v1/tubes", open(barcodes[3].clone())).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["barcode_issued"], true);
    // A misread digit fails the check character.
    let mut misread = barcodes[4].clone().into_bytes();
    misread[10] = if misread[10] == b'9' {
        b'0'
    } else {
        misread[10] + 1
    };
    let r = app
        .post("/api/v1/tubes", open(String::from_utf8(misread).unwrap()))
        .await;
    assert_eq!((r.status, r.code()), (422, "barcode.check_failed"), "{r:?}");
    // Well-formed but never issued.
    let never = natlis::domain::barcode::TubeBarcode::issued("NL", 999_999).to_string();
    let r = app.post("/api/v1/tubes", open(never)).await;
    assert_eq!((r.status, r.code()), (422, "barcode.not_issued"), "{r:?}");
    // S02 takes only natlis barcodes; S01 takes others as opaque strings.
    let r = app.post("/api/v1/tubes", open("FOREIGN-123".into())).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "barcode.foreign_not_allowed"),
        "{r:?}"
    );
    let r = open_pool(&app, &barcodes[5], 10).await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(r.body["warnings"][0]
        .as_str()
        .unwrap()
        .contains("issued to site S02"));
    let r = app.post("/api/v1/tubes", open("BAD BARCODE".into())).await;
    assert_eq!((r.status, r.code()), (422, "barcode.invalid"), "{r:?}");
}

async fn environment_samples_carry_a_description(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "E-001", "kind": "environment", "sample_type": "cold_chain_packaging",
                   "site": "S01", "category": "other_key",
                   "description": {"item": "冻带鱼外包装", "lot": "L20261120", "origin": "厄瓜多尔", "location": "新发地市场 3号冷库"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["status"], "closed");
    assert_eq!(r.body["nominal_size"], 0);
    assert_eq!(r.body["description"]["origin"], "厄瓜多尔");
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "E-002", "kind": "environment", "sample_type": "environment_surface",
                   "site": "S01", "category": "other_key"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "tube.description_missing"),
        "{r:?}"
    );
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "E-003", "kind": "single", "sample_type": "cold_chain_food",
                   "site": "S01", "category": "other_key", "people": [person(1)]}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "tube.sample_type_mismatch"),
        "{r:?}"
    );
    let r = app.post("/api/v1/tubes/E-001/members", person(1)).await;
    assert_eq!(
        (r.status, r.code()),
        (422, "tube.no_people_on_environment"),
        "{r:?}"
    );
    let r = app
        .post(
            "/api/v1/reception",
            json!({"barcode": "E-001", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
}

async fn malformed_input_is_named(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/tubes"))
                .header("content-type", "application/json")
                .body("{\"barcode\": "),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "request.malformed"), "{r:?}");
    let r = app
        .post("/api/v1/tubes", json!({"barcode": "X1", "kind": "pool"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "request.invalid_body"), "{r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sample_type"));
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "X1", "kind": "single", "sample_type": "oropharyngeal", "site": "NOPE",
                   "category": "outpatient"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "site.unknown"), "{r:?}");
    let future = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "X1", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "outpatient", "collected_at": future}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.collected_at"), "{r:?}");
    let r = app.get("/api/v1/nothing-here").await;
    assert_eq!((r.status, r.code()), (404, "route.not_found"));
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/persons"))
                .header("authorization", "Bearer nl_not-a-token")
                .json(&person(1)),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "auth.invalid_token"), "{r:?}");
}

async fn every_change_is_audited(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    app.filled_pool("P-AUD", 5, 1..=5).await;
    app.receive_at_lab_a("P-AUD").await;
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_log WHERE entity_type = 'tube' AND entity_id = 'P-AUD' ORDER BY id",
    )
    .fetch_all(app.store.reader())
    .await
    .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "tube.open",
            "tube.add_member",
            "tube.add_member",
            "tube.add_member",
            "tube.add_member",
            "tube.add_member",
            "tube.close",
            "tube.receive"
        ]
    );
    assert!(rows.iter().all(|r| r.1 == "tester"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'person.register'")
            .await,
        5
    );
    // No full ID number is written into the audit trail either.
    let all: Vec<(Option<String>,)> = sqlx::query_as("SELECT after FROM audit_log")
        .fetch_all(app.store.reader())
        .await
        .unwrap();
    assert!(all
        .iter()
        .all(|(a,)| !a.clone().unwrap_or_default().contains(&id_number(1))));
}

async fn concurrent_scans_never_overfill_a_pool(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    open_pool(&app, "P-RACE", 10).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (1..=25)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.post("/api/v1/tubes/P-RACE/members", person(i)).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => ok += 1,
            409 => assert!(["tube.full", "tube.not_open"].contains(&r.code()), "{r:?}"),
            _ => panic!("unexpected answer {r:?}"),
        }
    }
    assert_eq!(ok, 10);
    let t = app.get("/api/v1/tubes/P-RACE").await;
    assert_eq!(t.body["member_count"], 10);
    assert_eq!(t.body["members"].as_array().unwrap().len(), 10);
    assert_eq!(t.body["status"], "closed");
}

async fn two_nodes_share_one_database(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let b = a.another_node().await;
    let body = |p: u32| {
        json!({"barcode": "T-SHARED", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
               "category": "outpatient", "people": [person(p)]})
    };
    let (ra, rb) = tokio::join!(
        a.post("/api/v1/tubes", body(1)),
        b.post("/api/v1/tubes", body(2))
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{ra:?} {rb:?}");
    // The same person registered on both nodes at once is one person.
    let (pa, pb) = tokio::join!(
        a.post("/api/v1/persons", person(5)),
        b.post("/api/v1/persons", person(5))
    );
    assert!(pa.status < 300 && pb.status < 300, "{pa:?} {pb:?}");
    assert_eq!(pa.body["id"], pb.body["id"]);
    assert_eq!(pa.body["personal_code"], pb.body["personal_code"]);
    // Barcode batches from both nodes never overlap.
    let (ba, bb) = tokio::join!(
        a.post("/api/v1/sites/S01/barcode-batches", json!({"count": 100})),
        b.post("/api/v1/sites/S01/barcode-batches", json!({"count": 100}))
    );
    assert_ne!(ba.body["first"], bb.body["first"], "{ba:?} {bb:?}");
}

async fn ops_endpoints(db: Db) {
    let app = TestApp::start(db).await;
    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
    app.get("/api/v1/labs").await;
    let m = app.get("/metrics").await;
    assert!(
        m.body
            .as_str()
            .unwrap()
            .contains("natlis_http_requests_total"),
        "{m:?}"
    );
    let doc = app.get("/api/openapi.json").await;
    assert_eq!(doc.body["openapi"], "3.1.0");
    for path in [
        "/api/v1/tubes",
        "/api/v1/tubes/{barcode}/members",
        "/api/v1/reception",
        "/api/v1/labs",
    ] {
        assert!(
            doc.body["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

/// Many collectors at once: on SQLite their scans are committed together (group commit). Each
/// change keeps its own actor in the audit trail, and one refused scan does not affect the others.
async fn changes_committed_together_keep_their_own_actor_and_answer(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-GC-DUP", "kind": "single", "sample_type": "oropharyngeal",
                   "site": "S01", "category": "outpatient", "people": [person(999)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let mut collectors = vec![];
    for c in 0..8 {
        collectors.push(
            app.as_new(&format!("collector-{c}"), Role::Collector, "S01")
                .await,
        );
    }
    let tasks: Vec<_> = (0..40u32)
        .map(|i| {
            let app = collectors[i as usize % 8].clone();
            tokio::spawn(async move {
                let collector = app.user.clone();
                // Every fifth request reuses a barcode: refused, while the rest go through.
                let barcode = if i % 5 == 4 {
                    "T-GC-DUP".to_string()
                } else {
                    format!("T-GC-{i}")
                };
                let body = json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal",
                                  "site": "S01", "category": "outpatient", "people": [person(1000 + i)]});
                let r = app.post("/api/v1/tubes", body).await;
                (i, collector, r)
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        let (i, collector, r) = t.await.unwrap();
        if i % 5 == 4 {
            assert_eq!((r.status, r.code()), (409, "barcode.already_used"), "{r:?}");
            continue;
        }
        assert_eq!(r.status, 201, "{r:?}");
        created += 1;
        let actors: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT actor FROM audit_log WHERE entity_type = 'tube' AND entity_id = $1",
        )
        .bind(format!("T-GC-{i}"))
        .fetch_all(app.store.reader())
        .await
        .unwrap();
        assert_eq!(actors, vec![(collector,)], "tube T-GC-{i}");
    }
    assert_eq!(created, 32);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM tube WHERE barcode LIKE 'T-GC-%'")
            .await,
        33
    );
    // The people of refused requests were not registered.
    assert_eq!(app.count("SELECT COUNT(*) FROM person").await, 33);
}

/// `GET /tubes` pages: each page says how many match and where the next starts, so a list is
/// never cut silently.
async fn tube_lists_page_and_say_how_many(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    for n in 1..=5 {
        app.received_single(&format!("T-PAGE{n}"), n, "outpatient")
            .await;
    }
    let mut seen = vec![];
    let mut offset = 0;
    loop {
        let r = app
            .get(&format!(
                "/api/v1/tubes?status=received&limit=2&offset={offset}"
            ))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.headers["x-total-count"], "5");
        seen.extend(
            r.body
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["barcode"].as_str().unwrap().to_string()),
        );
        match r.headers.get("x-next-offset") {
            Some(next) => offset = next.to_str().unwrap().parse().unwrap(),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        (1..=5).map(|n| format!("T-PAGE{n}")).collect::<Vec<_>>()
    );
    for bad in ["limit=0", "limit=1001", "offset=-1"] {
        let r = app.get(&format!("/api/v1/tubes?{bad}")).await;
        assert_eq!(r.status, 422, "{bad}: {r:?}");
    }
}
