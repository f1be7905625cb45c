//! Every endpoint checks role and scope: a table of endpoint × user with the answer each must
//! get (401 without credentials, 403 outside the role or scope, 404 where existence itself must
//! not leak), plus sessions, CSRF, login rate limiting and revocation. On both databases.

mod common;

use common::{person, Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::{json, Value};

on_both_databases!(
    endpoint_by_role_table,
    tubes_go_to_their_lab_and_refusals_show_nothing_outside_scope,
    browser_sessions_need_csrf_and_logins_are_rate_limited,
    revoked_tokens_stop_working,
    a_user_sees_and_ends_their_own_sessions,
    no_answer_shows_what_is_outside_the_callers_scope,
);

struct World {
    admin: TestApp,
    anonymous: TestApp,
    users: Vec<(&'static str, TestApp)>,
    staff_id: String,
    outsider_id: String,
}

impl World {
    fn user(&self, name: &str) -> &TestApp {
        match name {
            "admin" => &self.admin,
            "nobody" => &self.anonymous,
            _ => &self.users.iter().find(|(n, _)| *n == name).expect(name).1,
        }
    }
}

async fn world(db: Db) -> World {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    assert_eq!(
        admin
            .post("/api/v1/labs", common::lab("LAB-B"))
            .await
            .status,
        201
    );
    let r = admin
        .post(
            "/api/v1/sites",
            json!({"code": "S03", "name": "远郊采样点", "address": "x", "region": "310104", "lab": "LAB-B"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = admin
        .post(
            "/api/v1/institutions",
            json!({"code": "INST-2", "name": "冷链公司", "kind": "cold_chain", "address": "x", "phone": "010-1", "region": "310104"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    for (barcode, site) in [("T-1", "S01"), ("T-B", "S03")] {
        let r = admin
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": site,
                       "category": "outpatient", "people": [person(if site == "S01" { 1 } else { 2 })]}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    assert_eq!(
        admin
            .post(
                "/api/v1/reception",
                json!({"barcode": "T-B", "lab": "LAB-B"})
            )
            .await
            .status,
        200
    );
    let mut staff = person(3);
    staff["institution"] = json!("INST-1");
    let staff_id = admin.post("/api/v1/persons", staff).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let outsider_id = admin.post("/api/v1/persons", person(4)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut users = vec![];
    for (name, role, scope) in [
        ("collector-s01", Role::Collector, "S01"),
        ("collector-s02", Role::Collector, "S02"),
        ("tech-a", Role::LabTechnician, "LAB-A"),
        ("tech-b", Role::LabTechnician, "LAB-B"),
        ("reviewer-a", Role::LabReviewer, "LAB-A"),
        ("cdc-bj", Role::CdcReviewer, "1101"),
        ("hr-1", Role::InstitutionAdmin, "INST-1"),
        ("auditor", Role::Auditor, ""),
        ("insp-bj", Role::RegionalInspector, "1101"),
        ("auth-bj", Role::HealthAuthority, "1101"),
        ("auth-sh", Role::HealthAuthority, "3101"),
        ("insp-sh", Role::RegionalInspector, "3101"),
    ] {
        users.push((name, admin.as_new(name, role, scope).await));
    }
    let anonymous = admin.with_token("");
    World {
        admin,
        anonymous,
        users,
        staff_id,
        outsider_id,
    }
}

async fn call(app: &TestApp, method: &str, path: &str, body: &Value) -> common::Resp {
    match method {
        "GET" => app.get(path).await,
        "POST" => app.post(path, body.clone()).await,
        "PUT" => app.put(path, body.clone()).await,
        _ => unreachable!("method {method}"),
    }
}

async fn endpoint_by_role_table(db: Db) {
    let w = world(db).await;
    let open = |barcode: &str, site: &str| {
        json!({"barcode": barcode, "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
               "site": site, "category": "mass_screening"})
    };
    let settings = w.admin.get("/api/v1/settings").await.body;
    let staff = format!("/api/v1/persons/{}", w.staff_id);
    let outsider = format!("/api/v1/persons/{}", w.outsider_id);
    let new_lab = common::lab("LAB-Z");
    let none = json!({});
    let tomorrow = (chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
        + chrono::Days::new(1))
    .to_string();
    let slots =
        json!({"date": tomorrow, "from": "09:00", "to": "10:00", "minutes": 30, "capacity": 2});
    let access_path = format!("/api/v1/public/lookup/{}", "0".repeat(64));
    let certificates_path = format!("{access_path}/certificates");
    let pdf_path = format!("{certificates_path}/x/pdf");
    let seat = json!({"site": "S01", "starts_at": format!("{tomorrow}T09:00:00+08:00")});
    let mut kit = w.admin.get("/api/v1/kits/DAAN-ORF1AB-N").await.body;
    kit["code"] = json!("DAAN-LOT-2");
    let plate = json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N"});
    let (staff_status, outsider_status) = (format!("{staff}/status"), format!("{outsider}/status"));
    let staff_results = format!("{staff}/results");
    // In full: only a person the caller's scope covers (LAB-A's tube T-1 holds person 1; the
    // outsider has no tube, and no positive in the CDC's region).
    let t1_person = w.admin.get("/api/v1/tubes/T-1").await.body["members"][0]["person"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t1 = format!("/api/v1/persons/{t1_person}");
    let (t1_status, t1_results, t1_svg) = (
        format!("{t1}/status"),
        format!("{t1}/results"),
        format!("{t1}/code.svg"),
    );
    let outsider_svg = format!("{outsider}/code.svg");
    let (t1_audit, outsider_audit) = (
        format!("/api/v1/audit?entity=person:{t1_person}"),
        format!("/api/v1/audit?entity=person:{}", w.outsider_id),
    );
    let (t1_unmasked, outsider_unmasked) = (
        format!("/api/v1/persons/{t1_person}/unmasked"),
        format!("{outsider}/unmasked"),
    );
    let sink = json!({"name": "hc", "region_prefix": "11", "kind": "fhir_http",
                      "url": "https://hc.example/fhir", "token": "t"});
    #[rustfmt::skip]
    let table: Vec<(&str, &str, Value, &str, u16)> = vec![
        ("GET", "/api/v1/labs", none.clone(), "nobody", 200),
        ("GET", "/api/v1/sites", none.clone(), "nobody", 401),
        ("GET", "/api/v1/sites", none.clone(), "auditor", 200),
        ("GET", "/api/v1/me", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/me/sessions", none.clone(), "nobody", 401),
        ("GET", "/api/v1/me/sessions", none.clone(), "auditor", 200),
        ("POST", "/api/v1/users/auditor/tokens", json!({"name": "mine"}), "auditor", 403),
        ("POST", "/api/v1/users/auditor/tokens", json!({"name": "mine"}), "tech-a", 403),
        ("POST", "/api/v1/users/tech-a/tokens", json!({"name": "mine"}), "tech-a", 201),
        // (Logging out revokes the caller's token: a signed-in user's is in the session test.)
        ("POST", "/api/v1/logout", none.clone(), "nobody", 401),
        ("POST", "/api/v1/labs", new_lab.clone(), "nobody", 401),
        ("POST", "/api/v1/labs", new_lab.clone(), "collector-s01", 403),
        ("POST", "/api/v1/labs", new_lab.clone(), "tech-a", 403),
        ("POST", "/api/v1/labs", new_lab.clone(), "auditor", 403),
        ("POST", "/api/v1/labs", new_lab.clone(), "admin", 201),
        ("PUT", "/api/v1/settings", settings.clone(), "tech-a", 403),
        ("PUT", "/api/v1/settings", settings.clone(), "admin", 200),
        ("POST", "/api/v1/users", json!({"username": "x1", "role": "auditor"}), "auditor", 403),
        ("POST", "/api/v1/users", json!({"username": "x1", "role": "auditor"}), "admin", 201),
        ("POST", "/api/v1/users", json!({"username": "x2", "role": "collector"}), "admin", 422),
        ("POST", "/api/v1/sites/S01/barcode-batches", json!({"count": 5}), "collector-s01", 403),
        // Accession: collectors at their own site only.
        ("POST", "/api/v1/tubes", open("P-1", "S01"), "nobody", 401),
        ("POST", "/api/v1/tubes", open("P-1", "S01"), "tech-a", 403),
        ("POST", "/api/v1/tubes", open("P-1", "S01"), "auditor", 403),
        ("POST", "/api/v1/tubes", open("P-1", "S01"), "collector-s02", 403),
        ("POST", "/api/v1/tubes", open("P-1", "S01"), "collector-s01", 201),
        ("POST", "/api/v1/tubes/P-1/members", person(10), "collector-s02", 404),
        ("POST", "/api/v1/tubes/P-1/members", person(10), "tech-a", 403),
        ("POST", "/api/v1/tubes/P-1/members", person(10), "collector-s01", 200),
        ("POST", "/api/v1/tubes/P-1/close", none.clone(), "collector-s02", 404),
        ("POST", "/api/v1/tubes/P-1/close", none.clone(), "collector-s01", 200),
        // Reading a tube: its site's collectors, its lab, its region's CDC, auditors.
        ("GET", "/api/v1/tubes/T-1", none.clone(), "nobody", 401),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "collector-s01", 200),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "collector-s02", 404),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "tech-a", 200),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "tech-b", 404),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "reviewer-a", 200),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "cdc-bj", 200),
        ("GET", "/api/v1/tubes/T-B", none.clone(), "cdc-bj", 404),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/tubes/T-1", none.clone(), "auditor", 200),
        ("GET", "/api/v1/tubes/T-B", none.clone(), "tech-a", 404),
        ("GET", "/api/v1/tubes/T-B", none.clone(), "tech-b", 200),
        ("GET", &t1_unmasked, none.clone(), "reviewer-a", 200),
        ("GET", &t1_unmasked, none.clone(), "collector-s01", 403),
        ("GET", &t1_unmasked, none.clone(), "cdc-bj", 404),
        ("GET", &outsider_unmasked, none.clone(), "reviewer-a", 404),
        ("GET", &outsider_unmasked, none.clone(), "cdc-bj", 404),
        ("GET", &outsider_unmasked, none.clone(), "admin", 200),
        // Reception: technicians, for their own lab.
        ("POST", "/api/v1/reception", json!({"barcode": "T-1", "lab": "LAB-A"}), "collector-s01", 403),
        ("POST", "/api/v1/reception", json!({"barcode": "T-1", "lab": "LAB-A"}), "reviewer-a", 403),
        ("POST", "/api/v1/reception", json!({"barcode": "T-1", "lab": "LAB-A"}), "tech-b", 403),
        // A tube bound for LAB-A does not exist for LAB-B, even for its own lab's code.
        ("POST", "/api/v1/reception", json!({"barcode": "T-1", "lab": "LAB-B"}), "tech-b", 404),
        ("POST", "/api/v1/reception", json!({"barcode": "T-1", "lab": "LAB-B"}), "admin", 409),
        ("POST", "/api/v1/tubes/T-1/forward", json!({"lab": "LAB-B", "reason": "x"}), "tech-b", 404),
        ("POST", "/api/v1/tubes/T-1/forward", json!({"lab": "LAB-B", "reason": "x"}), "collector-s01", 403),
        ("POST", "/api/v1/tubes/T-1/forward", json!({"lab": "LAB-B", "reason": "x"}), "auditor", 403),
        ("POST", "/api/v1/tubes/T-1/forward", json!({"lab": "LAB-A", "reason": "x"}), "tech-a", 409),
        ("POST", "/api/v1/reception", json!({"barcode": "T-1", "lab": "LAB-A"}), "tech-a", 200),
        ("POST", "/api/v1/tubes/T-B/reject", json!({"reason": "leaking_or_broken"}), "tech-a", 404),
        ("POST", "/api/v1/tubes/T-B/reject", json!({"reason": "leaking_or_broken"}), "tech-b", 200),
        ("GET", "/api/v1/resampling", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/resampling", none.clone(), "tech-a", 200),
        // Kits: lab and CDC staff read them, admins add versions.
        ("GET", "/api/v1/kits", none.clone(), "nobody", 401),
        ("GET", "/api/v1/kits", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/kits", none.clone(), "tech-a", 200),
        ("GET", "/api/v1/kits/DAAN-ORF1AB-N", none.clone(), "cdc-bj", 200),
        ("POST", "/api/v1/kits", kit.clone(), "tech-a", 403),
        ("POST", "/api/v1/kits", kit.clone(), "auditor", 403),
        ("POST", "/api/v1/kits", kit.clone(), "admin", 201),
        // Plates: technicians in their own lab; reviewers and auditors read.
        ("POST", "/api/v1/plates", plate.clone(), "collector-s01", 403),
        ("POST", "/api/v1/plates", plate.clone(), "reviewer-a", 403),
        ("POST", "/api/v1/plates", plate.clone(), "tech-b", 403),
        ("POST", "/api/v1/plates", plate.clone(), "auditor", 403),
        ("POST", "/api/v1/plates", plate.clone(), "tech-a", 201),
        ("GET", "/api/v1/plates/1", none.clone(), "nobody", 401),
        ("GET", "/api/v1/plates/1", none.clone(), "tech-b", 404),
        ("GET", "/api/v1/plates/1", none.clone(), "cdc-bj", 403),
        ("GET", "/api/v1/plates/1", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/plates/1", none.clone(), "reviewer-a", 200),
        ("GET", "/api/v1/plates/1", none.clone(), "auditor", 200),
        ("POST", "/api/v1/plates/1/wells", json!({"barcode": "T-1"}), "tech-b", 404),
        ("POST", "/api/v1/plates/1/wells", json!({"barcode": "T-1"}), "reviewer-a", 403),
        ("POST", "/api/v1/plates/1/wells", json!({"barcode": "T-1"}), "tech-a", 200),
        ("GET", "/api/v1/plates/1/imports", none.clone(), "tech-b", 404),
        ("GET", "/api/v1/plates/1/imports", none.clone(), "reviewer-a", 200),
        // A preview reads the files and writes nothing; only who may import may ask.
        ("POST", "/api/v1/plates/1/imports/preview", none.clone(), "nobody", 401),
        ("POST", "/api/v1/plates/1/imports/preview", none.clone(), "tech-b", 404),
        ("POST", "/api/v1/plates/1/imports/preview", none.clone(), "reviewer-a", 403),
        ("POST", "/api/v1/plates/1/imports/preview", none.clone(), "auditor", 403),
        ("POST", "/api/v1/plates/1/imports/preview", none.clone(), "tech-a", 422),
        ("POST", "/api/v1/plates/1/imports", none.clone(), "reviewer-a", 403),
        // Review: lab reviewers of their lab; the CDC in its region.
        ("GET", "/api/v1/review", none.clone(), "nobody", 401),
        ("GET", "/api/v1/review", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/review", none.clone(), "reviewer-a", 200),
        ("GET", "/api/v1/review", none.clone(), "tech-a", 200),
        ("POST", "/api/v1/plates/1/release-negatives", none.clone(), "tech-a", 403),
        ("POST", "/api/v1/plates/1/release-negatives", none.clone(), "cdc-bj", 403),
        ("POST", "/api/v1/plates/1/release-negatives", none.clone(), "reviewer-a", 200),
        ("POST", "/api/v1/plates/1/redo-invalid-run", json!({"decision": "rerun"}), "tech-a", 403),
        ("POST", "/api/v1/plates/1/redo-invalid-run", json!({"decision": "rerun"}), "cdc-bj", 403),
        ("POST", "/api/v1/plates/1/redo-invalid-run", json!({"decision": "rerun"}), "nobody", 401),
        ("POST", "/api/v1/plates/1/redo-invalid-run", json!({"decision": "rerun"}), "reviewer-a", 409),
        ("POST", "/api/v1/attempts/1/decision", json!({"decision": "retest"}), "tech-a", 403),
        ("POST", "/api/v1/attempts/1/decision", json!({"decision": "retest"}), "reviewer-a", 404),
        ("GET", "/api/v1/rechecks", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/rechecks", none.clone(), "reviewer-a", 200),
        ("GET", "/api/v1/cdc/queue", none.clone(), "reviewer-a", 403),
        ("GET", "/api/v1/cdc/queue", none.clone(), "cdc-bj", 200),
        ("GET", "/api/v1/cdc/breaches", none.clone(), "auditor", 200),
        ("POST", "/api/v1/cdc/results/1/confirm", none.clone(), "reviewer-a", 403),
        ("POST", "/api/v1/cdc/results/1/confirm", none.clone(), "cdc-bj", 404),
        ("POST", "/api/v1/results/1/amend", json!({"value": "negative", "reason": "x"}), "tech-a", 403),
        ("POST", "/api/v1/results/1/amend", json!({"value": "negative", "reason": "x"}), "reviewer-a", 404),
        ("GET", &staff_status, none.clone(), "hr-1", 200),
        ("GET", &outsider_status, none.clone(), "hr-1", 404),
        ("GET", &outsider_status, none.clone(), "collector-s01", 403),
        // A person outside the caller's scope does not exist for them: the CDC sees the people
        // of its region's tubes, a lab the people of its tubes, a site those of its tubes.
        ("GET", &outsider_status, none.clone(), "cdc-bj", 404),
        ("GET", &outsider_status, none.clone(), "reviewer-a", 404),
        ("GET", &outsider_status, none.clone(), "auditor", 200),
        ("GET", &t1_status, none.clone(), "cdc-bj", 200),
        ("GET", &t1_status, none.clone(), "tech-a", 200),
        ("GET", &t1_status, none.clone(), "tech-b", 404),
        ("GET", &t1_results, none.clone(), "reviewer-a", 200),
        ("GET", &t1_results, none.clone(), "tech-b", 404),
        ("GET", &staff_results, none.clone(), "reviewer-a", 404),
        ("GET", &staff_results, none.clone(), "hr-1", 200),
        ("GET", &t1, none.clone(), "collector-s01", 200),
        ("GET", &t1, none.clone(), "collector-s02", 404),
        ("GET", &t1_svg, none.clone(), "collector-s02", 404),
        ("GET", &outsider_svg, none.clone(), "collector-s01", 404),
        ("GET", &outsider, none.clone(), "collector-s01", 404),
        // A person's history: a lab's reviewer, for the people of its tubes; never accounts.
        ("GET", &t1_audit, none.clone(), "reviewer-a", 200),
        ("GET", &outsider_audit, none.clone(), "reviewer-a", 404),
        ("GET", "/api/v1/audit?entity=user:tech-a", none.clone(), "reviewer-a", 404),
        ("GET", "/api/v1/audit?entity=outbox:1", none.clone(), "reviewer-a", 404),
        ("GET", "/api/v1/audit?entity=user:tech-a", none.clone(), "auditor", 200),
        ("GET", "/api/v1/audit?entity=lab:LAB-A", none.clone(), "reviewer-a", 200),
        // People: an institution administrator registers and sees its own staff only.
        ("POST", "/api/v1/persons", json!({"doc_type": "passport", "doc_no": "E1", "name": "A", "phone": "13800000000", "institution": "INST-2"}), "hr-1", 403),
        ("POST", "/api/v1/persons", person(20), "hr-1", 201),
        ("POST", "/api/v1/persons", person(21), "tech-a", 403),
        ("GET", &staff, none.clone(), "hr-1", 200),
        ("GET", &outsider, none.clone(), "hr-1", 404),
        ("GET", &outsider, none.clone(), "tech-a", 403),
        ("GET", &outsider, none.clone(), "auditor", 200),
        // Pushing to the health-code platform: admins configure and re-send; auditors read.
        ("GET", "/api/v1/push/sinks", none.clone(), "nobody", 401),
        ("GET", "/api/v1/push/sinks", none.clone(), "tech-a", 403),
        ("GET", "/api/v1/push/sinks", none.clone(), "cdc-bj", 403),
        ("GET", "/api/v1/push/sinks", none.clone(), "auditor", 200),
        ("POST", "/api/v1/push/sinks", sink.clone(), "auditor", 403),
        ("POST", "/api/v1/push/sinks", sink.clone(), "reviewer-a", 403),
        ("POST", "/api/v1/push/sinks", sink.clone(), "admin", 201),
        ("GET", "/api/v1/push/messages", none.clone(), "nobody", 401),
        ("GET", "/api/v1/push/messages", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/push/messages", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/push/messages", none.clone(), "auditor", 200),
        ("GET", "/api/v1/push/messages?limit=10", none.clone(), "admin", 200),
        ("POST", "/api/v1/push/messages/1/resend", none.clone(), "auditor", 403),
        ("POST", "/api/v1/push/messages/1/resend", none.clone(), "tech-a", 403),
        ("POST", "/api/v1/push/messages/999999/resend", none.clone(), "admin", 409),
        // Institutions: their own staff and ledger; inspectors their region's (INST-2 is in
        // 3101); programmes are read by all, changed by admins.
        ("GET", "/api/v1/institutions/INST-1/classes", none.clone(), "nobody", 401),
        ("GET", "/api/v1/institutions/INST-1/classes", none.clone(), "tech-a", 403),
        ("GET", "/api/v1/institutions/INST-1/classes", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-2/classes", none.clone(), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/classes", json!({"name": "保安", "programme": "staff-monthly"}), "insp-bj", 403),
        ("POST", "/api/v1/institutions/INST-2/classes", json!({"name": "保安", "programme": "staff-monthly"}), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/classes", json!({"name": "保安", "programme": "staff-monthly"}), "hr-1", 201),
        ("POST", "/api/v1/institutions/INST-1/roster/preview", none.clone(), "nobody", 401),
        ("POST", "/api/v1/institutions/INST-1/roster/preview", none.clone(), "auditor", 403),
        ("POST", "/api/v1/institutions/INST-1/roster/preview", none.clone(), "insp-bj", 403),
        ("POST", "/api/v1/institutions/INST-2/roster/preview", none.clone(), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/roster", none.clone(), "tech-a", 403),
        ("POST", "/api/v1/institutions/INST-2/roster", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-1/ledger", none.clone(), "nobody", 401),
        ("GET", "/api/v1/institutions/INST-1/ledger", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/institutions/INST-1/ledger", none.clone(), "reviewer-a", 403),
        ("GET", "/api/v1/institutions/INST-1/ledger", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/ledger", none.clone(), "auditor", 200),
        ("GET", "/api/v1/institutions/INST-2/ledger", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-2/ledger", none.clone(), "insp-bj", 404),
        ("GET", "/api/v1/institutions/INST-2/ledger", none.clone(), "insp-sh", 200),
        ("GET", "/api/v1/compliance", none.clone(), "nobody", 401),
        ("GET", "/api/v1/compliance", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/compliance", none.clone(), "cdc-bj", 403),
        ("GET", "/api/v1/compliance", none.clone(), "insp-sh", 200),
        ("GET", "/api/v1/compliance?region=11", none.clone(), "insp-sh", 403),
        ("GET", "/api/v1/compliance", none.clone(), "auditor", 200),
        ("GET", "/api/v1/institutions/INST-1/compliance", none.clone(), "nobody", 401),
        ("GET", "/api/v1/institutions/INST-1/compliance", none.clone(), "tech-a", 403),
        ("GET", "/api/v1/institutions/INST-1/compliance", none.clone(), "cdc-bj", 403),
        ("GET", "/api/v1/institutions/INST-1/compliance", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/compliance?format=xlsx", none.clone(), "auditor", 200),
        ("GET", "/api/v1/institutions/INST-2/compliance", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-2/compliance", none.clone(), "insp-bj", 404),
        ("GET", "/api/v1/institutions/INST-2/compliance?format=svg", none.clone(), "insp-sh", 200),
        ("GET", "/api/v1/compliance/period", none.clone(), "nobody", 401),
        ("GET", "/api/v1/compliance/period", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/compliance/period", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/compliance/period", none.clone(), "insp-sh", 200),
        ("GET", "/api/v1/compliance/period?region=11", none.clone(), "insp-sh", 403),
        ("GET", "/api/v1/compliance/period?format=xlsx", none.clone(), "admin", 200),
        // Self-registration: the institution's own administrator; the public form needs no login.
        ("POST", "/api/v1/institutions/INST-1/enrolment-link", json!({}), "nobody", 401),
        ("POST", "/api/v1/institutions/INST-1/enrolment-link", json!({}), "auditor", 403),
        ("POST", "/api/v1/institutions/INST-1/enrolment-link", json!({}), "insp-bj", 403),
        ("POST", "/api/v1/institutions/INST-2/enrolment-link", json!({}), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/enrolment-link", json!({}), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/enrolment-link", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/enrolment-link", none.clone(), "tech-a", 403),
        ("GET", "/api/v1/institutions/INST-2/enrolment-link", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-1/enrolments", none.clone(), "nobody", 401),
        ("GET", "/api/v1/institutions/INST-1/enrolments", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/enrolments", none.clone(), "insp-bj", 403),
        ("GET", "/api/v1/institutions/INST-1/enrolments", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/institutions/INST-2/enrolments", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-1/enrolments?state=nonsense", none.clone(), "hr-1", 422),
        ("POST", "/api/v1/institutions/INST-1/enrolments/999999/approve", none.clone(), "tech-a", 403),
        ("POST", "/api/v1/institutions/INST-1/enrolments/999999/approve", none.clone(), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-2/enrolments/999999/approve", none.clone(), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/enrolments/999999/reject", json!({"reason": "x"}), "auditor", 403),
        ("POST", "/api/v1/institutions/INST-1/enrolments/999999/reject", json!({"reason": "x"}), "hr-1", 404),
        ("GET", "/api/v1/public/join/no-such-poster", none.clone(), "nobody", 404),
        // Accreditation: the authority of the lab's region; the lab's own staff read it.
        ("GET", "/api/v1/accreditation", none.clone(), "nobody", 401),
        ("GET", "/api/v1/accreditation", none.clone(), "auth-bj", 200),
        ("GET", "/api/v1/accreditation", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/accreditation", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/labs/LAB-A/accreditation", none.clone(), "auth-bj", 200),
        ("GET", "/api/v1/labs/LAB-A/accreditation", none.clone(), "auth-sh", 404),
        ("GET", "/api/v1/labs/LAB-A/accreditation", none.clone(), "tech-a", 200),
        ("GET", "/api/v1/labs/LAB-A/accreditation", none.clone(), "tech-b", 404),
        ("GET", "/api/v1/labs/LAB-A/accreditation", none.clone(), "insp-bj", 403),
        ("POST", "/api/v1/labs/LAB-A/eqa", json!({"round": "R1", "held_on": "2026-01-05", "passed": true, "organiser": "x"}), "tech-a", 403),
        ("POST", "/api/v1/labs/LAB-A/eqa", json!({"round": "R1", "held_on": "2026-01-05", "passed": true, "organiser": "x"}), "auth-sh", 404),
        ("POST", "/api/v1/labs/LAB-A/eqa", json!({"round": "R1", "held_on": "2026-01-05", "passed": true, "organiser": "x"}), "auth-bj", 201),
        ("POST", "/api/v1/labs/LAB-A/credentials", json!({"kind": "pcr_approval", "number": "x", "valid_until": "2030-01-01"}), "reviewer-a", 403),
        ("POST", "/api/v1/labs/LAB-A/credentials", json!({"kind": "pcr_approval", "number": "x", "valid_until": "2030-01-01"}), "auth-bj", 201),
        ("POST", "/api/v1/labs/LAB-A/penalties", json!({"decided_on": "2026-01-05", "authority": "x", "summary": "y"}), "auditor", 403),
        ("POST", "/api/v1/labs/LAB-A/penalties", json!({"decided_on": "2026-01-05", "authority": "x", "summary": "y"}), "auth-sh", 404),
        ("POST", "/api/v1/labs/LAB-A/publish", json!({"reason": "x"}), "nobody", 401),
        ("POST", "/api/v1/labs/LAB-A/publish", json!({"reason": "x"}), "insp-bj", 403),
        ("POST", "/api/v1/labs/LAB-A/publish", json!({"reason": "x"}), "auth-sh", 404),
        ("POST", "/api/v1/labs/LAB-A/publish", json!({"reason": "x"}), "auth-bj", 200),
        ("POST", "/api/v1/labs/LAB-A/withdraw", json!({"reason": "x"}), "tech-a", 403),
        ("POST", "/api/v1/labs/LAB-A/withdraw", json!({"reason": "x"}), "auth-bj", 200),
        ("GET", "/api/v1/public/labs", none.clone(), "nobody", 200),
        ("GET", "/api/v1/public/labs?format=csv", none.clone(), "nobody", 200),
        ("GET", "/api/v1/public/labs?format=pdf", none.clone(), "nobody", 422),
        // Booking: a site's own collectors open its slots; the public books without logging in;
        // only a site's collectors check a code in (an unknown code: 404, as any other).
        ("POST", "/api/v1/sites/S01/slots", slots.clone(), "nobody", 401),
        ("POST", "/api/v1/sites/S01/slots", slots.clone(), "tech-a", 403),
        ("POST", "/api/v1/sites/S01/slots", slots.clone(), "hr-1", 403),
        ("POST", "/api/v1/sites/S01/slots", slots.clone(), "collector-s02", 403),
        ("POST", "/api/v1/sites/S01/slots", slots.clone(), "collector-s01", 201),
        ("GET", "/api/v1/public/sites/S01/slots", none.clone(), "nobody", 200),
        ("GET", "/api/v1/public/sites/S02/slots", none.clone(), "nobody", 404),
        ("POST", "/api/v1/public/bookings", seat.clone(), "nobody", 201),
        ("GET", "/api/v1/public/bookings/B234567892", none.clone(), "nobody", 404),
        ("POST", "/api/v1/public/bookings/B234567892/confirm", json!({"doc_no": "1", "name": "x", "phone": "1"}), "nobody", 404),
        ("POST", "/api/v1/public/bookings/B234567892/cancel", none.clone(), "nobody", 404),
        ("POST", "/api/v1/public/bookings/B234567892/reschedule", seat.clone(), "nobody", 404),
        ("POST", "/api/v1/bookings/B234567892/check-in", none.clone(), "nobody", 401),
        ("POST", "/api/v1/bookings/B234567892/check-in", none.clone(), "tech-a", 403),
        ("POST", "/api/v1/bookings/B234567892/check-in", none.clone(), "hr-1", 403),
        ("POST", "/api/v1/bookings/B234567892/check-in", none.clone(), "collector-s01", 404),
        // A person's own results and certificates: public, behind their own factors; keys and
        // verification for anyone; staff revoke certificates (their lab's) and rotate keys (admin).
        ("POST", "/api/v1/public/lookup", json!({"doc_no": "11010519491231002X", "phone_last4": "1234", "code": "P000000000X"}), "nobody", 404),
        ("POST", "/api/v1/public/lookup", json!({"doc_no": "1", "phone_last4": "1234", "code": "x"}), "nobody", 422),
        ("GET", &access_path, none.clone(), "nobody", 404),
        ("POST", &certificates_path, json!({"result": 1}), "nobody", 404),
        ("GET", &pdf_path, none.clone(), "nobody", 404),
        ("GET", "/api/v1/public/keys", none.clone(), "nobody", 200),
        ("POST", "/api/v1/public/verify", json!({"payload": "NC1:X"}), "nobody", 200),
        ("POST", "/api/v1/certificate-keys/rotate", none.clone(), "nobody", 401),
        ("POST", "/api/v1/certificate-keys/rotate", none.clone(), "reviewer-a", 403),
        ("POST", "/api/v1/certificate-keys/rotate", none.clone(), "auth-bj", 403),
        ("POST", "/api/v1/certificate-keys/rotate", none.clone(), "admin", 200),
        ("POST", "/api/v1/certificate-keys/1/revoke", json!({"reason": "x"}), "tech-a", 403),
        ("POST", "/api/v1/certificates/abc/revoke", json!({"reason": "x"}), "nobody", 401),
        ("POST", "/api/v1/certificates/abc/revoke", json!({"reason": "x"}), "tech-a", 403),
        ("POST", "/api/v1/certificates/abc/revoke", json!({"reason": "x"}), "collector-s01", 403),
        ("POST", "/api/v1/certificates/abc/revoke", json!({"reason": "x"}), "reviewer-a", 404),
        // Collection points: the public list for anyone; a site's own staff say how it stands.
        ("GET", "/api/v1/public/sites", none.clone(), "nobody", 200),
        ("GET", "/api/v1/public/sites?district=abc", none.clone(), "nobody", 422),
        ("POST", "/api/v1/sites/S01/point", json!({"queue": 3}), "nobody", 401),
        ("POST", "/api/v1/sites/S01/point", json!({"queue": 3}), "tech-a", 403),
        ("POST", "/api/v1/sites/S01/point", json!({"queue": 3}), "hr-1", 403),
        ("POST", "/api/v1/sites/S01/point", json!({"queue": 3}), "collector-s02", 403),
        ("POST", "/api/v1/sites/S01/point", json!({"queue": 3}), "collector-s01", 200),
        ("POST", "/api/v1/public/join/no-such-poster", json!({"name": "x", "doc_no": "1", "phone": "1", "class": "x"}), "nobody", 404),
        ("GET", "/api/v1/programmes", none.clone(), "nobody", 401),
        ("GET", "/api/v1/programmes", none.clone(), "collector-s01", 200),
        ("GET", "/api/v1/programmes/staff-14d/versions", none.clone(), "hr-1", 200),
        ("POST", "/api/v1/programmes/staff-14d/versions", json!({"schedule": {"kind": "cycle", "cycle": {"days": 14}}, "warn_days": 3, "pooling": "pooled", "basis": "x"}), "hr-1", 403),
        ("POST", "/api/v1/programmes/staff-14d/versions", json!({"schedule": {"kind": "days", "windows": [{"from": 1, "to": 1}]}, "warn_days": 3, "pooling": "pooled", "basis": "x"}), "admin", 422),
        ("POST", "/api/v1/programmes/staff-14d/versions", json!({"schedule": {"kind": "cycle", "cycle": {"days": 14}}, "warn_days": 3, "pooling": "pooled", "basis": "x"}), "admin", 201),
        // Group sessions: ordered by the institution (INST-1's staff member 3 is on no roster:
        // nobody to order), read by it and inspectors; a site's collectors see their site's.
        ("POST", "/api/v1/institutions/INST-1/sessions", json!({"site": "S01"}), "nobody", 401),
        ("POST", "/api/v1/institutions/INST-1/sessions", json!({"site": "S01"}), "insp-bj", 403),
        ("POST", "/api/v1/institutions/INST-1/sessions", json!({"site": "S01"}), "collector-s01", 403),
        ("POST", "/api/v1/institutions/INST-2/sessions", json!({"site": "S01"}), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/sessions", json!({"site": "S01"}), "hr-1", 422),
        ("GET", "/api/v1/institutions/INST-1/sessions", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/sessions", none.clone(), "tech-a", 403),
        ("GET", "/api/v1/institutions/INST-2/sessions", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-1/sessions/1", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-1/sessions/1/sheet.pdf", none.clone(), "auditor", 403),
        ("GET", "/api/v1/institutions/INST-1/sessions/1/sheet.pdf", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/sites/S01/sessions", none.clone(), "nobody", 401),
        ("GET", "/api/v1/sites/S01/sessions", none.clone(), "collector-s01", 200),
        ("GET", "/api/v1/sites/S01/sessions", none.clone(), "collector-s02", 404),
        ("GET", "/api/v1/sites/S01/sessions", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/sites/S01/sessions", none.clone(), "tech-a", 403),
        // Cohorts: the CDC of the region loads them; inspectors and auditors read them.
        ("GET", "/api/v1/cohorts", none.clone(), "nobody", 401),
        ("GET", "/api/v1/cohorts", none.clone(), "hr-1", 403),
        ("GET", "/api/v1/cohorts", none.clone(), "tech-a", 403),
        ("GET", "/api/v1/cohorts", none.clone(), "cdc-bj", 200),
        ("GET", "/api/v1/cohorts", none.clone(), "insp-bj", 200),
        ("POST", "/api/v1/cohorts", json!({"code": "CC-9", "name": "x", "programme": "close-contact", "region": "110108"}), "insp-bj", 403),
        ("POST", "/api/v1/cohorts", json!({"code": "CC-9", "name": "x", "programme": "close-contact", "region": "310104"}), "cdc-bj", 403),
        ("POST", "/api/v1/cohorts", json!({"code": "CC-9", "name": "x", "programme": "close-contact", "region": "110108"}), "cdc-bj", 201),
        ("GET", "/api/v1/cohorts/CC-9", none.clone(), "insp-sh", 404),
        ("GET", "/api/v1/cohorts/CC-9", none.clone(), "insp-bj", 200),
        ("POST", "/api/v1/cohorts/CC-9/members", json!([]), "insp-bj", 403),
        ("POST", "/api/v1/cohorts/CC-9/members", json!([]), "cdc-bj", 200),
        // Environment plans: the institution's own, and its region's inspector.
        ("GET", "/api/v1/institutions/INST-1/environment", none.clone(), "nobody", 401),
        ("GET", "/api/v1/institutions/INST-1/environment", none.clone(), "hr-1", 200),
        ("GET", "/api/v1/institutions/INST-1/environment", none.clone(), "collector-s01", 403),
        ("GET", "/api/v1/institutions/INST-2/environment", none.clone(), "hr-1", 404),
        ("GET", "/api/v1/institutions/INST-2/environment", none.clone(), "insp-sh", 200),
        ("POST", "/api/v1/institutions/INST-2/environment/points", json!({"code": "P-1", "item": "x", "location": "y", "programme": "market-env"}), "hr-1", 404),
        ("POST", "/api/v1/institutions/INST-1/environment/points", json!({"code": "P-1", "item": "x", "location": "y", "programme": "market-env"}), "insp-bj", 403),
        ("POST", "/api/v1/institutions/INST-1/environment/points", json!({"code": "P-1", "item": "x", "location": "y", "programme": "market-env"}), "hr-1", 201),
    ];
    for (method, path, body, user, expected) in &table {
        let r = call(w.user(user), method, path, body).await;
        assert_eq!(r.status, *expected, "{method} {path} as {user}: {r:?}");
        if r.status == 401 {
            assert!(r.code().starts_with("auth."), "{r:?}");
        }
    }
    // Listings are confined to the scope: tech-b sees LAB-B's tube only.
    let r = w.user("tech-b").get("/api/v1/tubes").await;
    let barcodes: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["barcode"].as_str().unwrap())
        .collect();
    assert_eq!(barcodes, ["T-B"]);
    let r = w.user("collector-s01").get("/api/v1/tubes").await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["site"] == "S01"),
        "{r:?}"
    );
    // A site's collectors see the people they pre-registered (to print the code) before any
    // tube of theirs holds them; the next site does not.
    let r = w
        .user("collector-s02")
        .post("/api/v1/persons", person(30))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let registered = format!("/api/v1/persons/{}", r.body["id"].as_str().unwrap());
    for (user, expected) in [("collector-s02", 200), ("collector-s01", 404)] {
        for path in [registered.clone(), format!("{registered}/code.svg")] {
            let r = w.user(user).get(&path).await;
            assert_eq!(r.status, expected, "GET {path} as {user}: {r:?}");
        }
    }
    // The institution administrator's new person belongs to the institution.
    let me = w.user("hr-1").get("/api/v1/me").await;
    assert_eq!(me.body["institution"], "INST-1");
}

/// T-F scanned in at a lab, by a user.
async fn receive(user: &TestApp, lab: &str) -> common::Resp {
    user.post("/api/v1/reception", json!({"barcode": "T-F", "lab": lab}))
        .await
}

/// A tube is received only by the lab it is bound for (its site's, or the one it was forwarded
/// to, an audited step); a refusal never describes a tube, or a person, the caller may not read.
async fn tubes_go_to_their_lab_and_refusals_show_nothing_outside_scope(db: Db) {
    let w = world(db).await;
    let (tech_a, tech_b) = (w.user("tech-a"), w.user("tech-b"));
    let r = w
        .admin
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-F", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "outpatient", "people": [person(20)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let leaks = |r: &common::Resp| {
        let text = r.body.to_string();
        text.contains("S01") || text.contains("LAB-A") || text.contains("测试")
    };
    // LAB-B cannot take LAB-A's tube; the answer says nothing of it.
    let r = receive(tech_b, "LAB-B").await;
    assert_eq!((r.status, r.code()), (404, "tube.not_found"), "{r:?}");
    assert!(!leaks(&r), "{r:?}");
    // LAB-A forwards it (an instrument is down); from then on LAB-B receives it, not LAB-A.
    let r = tech_a
        .post(
            "/api/v1/tubes/T-F/forward",
            json!({"lab": "LAB-B", "reason": "PCR instrument down"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["forwarded_to"], "LAB-B");
    assert_eq!(
        w.admin
            .count(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'tube.forward' AND actor = 'tech-a'"
            )
            .await,
        1
    );
    let r = receive(tech_a, "LAB-A").await;
    assert_eq!((r.status, r.code()), (404, "tube.not_found"), "{r:?}");
    let r = receive(&w.admin, "LAB-A").await;
    assert_eq!(
        (r.status, r.code()),
        (409, "tube.not_bound_for_lab"),
        "{r:?}"
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("LAB-B (it was forwarded there)"));
    let r = receive(tech_b, "LAB-B").await;
    assert_eq!(r.status, 200, "{r:?}");
    // Received by LAB-B: to LAB-A it is gone, not "already received by LAB-B, with its people".
    let r = receive(tech_a, "LAB-A").await;
    assert_eq!((r.status, r.code()), (404, "tube.not_found"), "{r:?}");
    // A barcode taken at another lab's site: taken, nothing more.
    let collector_s03 = w
        .admin
        .as_new("collector-s03", Role::Collector, "S03")
        .await;
    let single = |site: &str, n: u32| {
        json!({"barcode": "T-1", "kind": "single", "sample_type": "oropharyngeal", "site": site,
               "category": "outpatient", "people": [person(n)]})
    };
    let r = collector_s03.post("/api/v1/tubes", single("S03", 30)).await;
    assert_eq!((r.status, r.code()), (409, "barcode.already_used"), "{r:?}");
    assert!(r.body["error"].get("details").is_none(), "{r:?}");
    assert!(!leaks(&r), "{r:?}");
    // The tube's own site still hears what the barcode is.
    let r = w
        .user("collector-s01")
        .post("/api/v1/tubes", single("S01", 30))
        .await;
    assert_eq!((r.status, r.code()), (409, "barcode.already_used"), "{r:?}");
    assert_eq!(r.body["error"]["details"]["tube"]["site"], "S01");
    // A document registered to another name: refused without showing whose it is.
    let mut other = person(1);
    other["name"] = json!("李四");
    let r = collector_s03.post("/api/v1/persons", other).await;
    assert_eq!((r.status, r.code()), (409, "person.name_mismatch"), "{r:?}");
    assert!(r.body["error"].get("details").is_none(), "{r:?}");
    assert!(!leaks(&r), "{r:?}");
    // Lists and their counts hold the caller's tubes only: LAB-B has T-B and the forwarded T-F.
    let r = tech_b.get("/api/v1/tubes").await;
    let barcodes: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["barcode"].as_str().unwrap())
        .collect();
    assert_eq!(barcodes.len(), 2, "{barcodes:?}");
    assert!(
        barcodes.contains(&"T-F") && barcodes.contains(&"T-B"),
        "{barcodes:?}"
    );
    assert_eq!(r.headers["x-total-count"], "2");
    let r = tech_a.get("/api/v1/tubes").await;
    assert!(r
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["barcode"] != "T-F" && t["barcode"] != "T-B"));
    let total: usize = r.headers["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(total, r.body.as_array().unwrap().len());
}

async fn browser_sessions_need_csrf_and_logins_are_rate_limited(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post("/api/v1/users", json!({"username": "col", "role": "collector", "site": "S01", "password": "correct horse"}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let anonymous = app.with_token("");
    let r = anonymous
        .post(
            "/api/v1/login",
            json!({"username": "col", "password": "correct horse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let cookie = r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let csrf = r.body["csrf"].as_str().unwrap().to_string();
    let body = json!({"barcode": "P-C", "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
                      "site": "S01", "category": "mass_screening"});
    let get = anonymous
        .send(
            anonymous
                .client
                .get(anonymous.url("/api/v1/me"))
                .header("cookie", &session),
        )
        .await;
    assert_eq!(
        (get.status, get.body["username"].as_str()),
        (200, Some("col")),
        "{get:?}"
    );
    let no_csrf = anonymous
        .send(
            anonymous
                .client
                .post(anonymous.url("/api/v1/tubes"))
                .header("cookie", &session)
                .json(&body),
        )
        .await;
    assert_eq!(
        (no_csrf.status, no_csrf.code()),
        (403, "auth.csrf"),
        "{no_csrf:?}"
    );
    let with_csrf = anonymous
        .send(
            anonymous
                .client
                .post(anonymous.url("/api/v1/tubes"))
                .header("cookie", &session)
                .header("x-csrf-token", &csrf)
                .json(&body),
        )
        .await;
    assert_eq!(with_csrf.status, 201, "{with_csrf:?}");
    assert_eq!(with_csrf.body["collector"], "col");
    // Plain HTTP: no Secure; behind a proxy that says HTTPS: Secure.
    assert!(!cookie.contains("Secure"), "{cookie}");
    let proxied = anonymous
        .send(
            anonymous
                .client
                .post(anonymous.url("/api/v1/login"))
                .header("x-forwarded-proto", "https")
                .json(&json!({"username": "col", "password": "correct horse"})),
        )
        .await;
    assert_eq!(proxied.status, 200, "{proxied:?}");
    assert!(
        proxied.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("; Secure"),
        "{proxied:?}"
    );
    // Logging out ends the session at once (a cookie session's logout needs its CSRF token).
    let logout = |with_csrf: bool| {
        let mut req = anonymous
            .client
            .post(anonymous.url("/api/v1/logout"))
            .header("cookie", &session);
        if with_csrf {
            req = req.header("x-csrf-token", &csrf);
        }
        anonymous.send(req)
    };
    assert_eq!(logout(false).await.status, 403);
    let out = logout(true).await;
    assert_eq!(out.status, 204, "{out:?}");
    assert!(out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = anonymous
        .send(
            anonymous
                .client
                .get(anonymous.url("/api/v1/me"))
                .header("cookie", &session),
        )
        .await;
    assert_eq!(
        (after.status, after.code()),
        (401, "auth.invalid_token"),
        "{after:?}"
    );
    // Five wrong passwords lock the account out, even for the right one.
    for _ in 0..5 {
        let r = anonymous
            .post(
                "/api/v1/login",
                json!({"username": "col", "password": "wrong"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "auth.login_failed"), "{r:?}");
        assert!(
            r.body["error"]["details"].is_null(),
            "no detail leaks: {r:?}"
        );
    }
    let r = anonymous
        .post(
            "/api/v1/login",
            json!({"username": "col", "password": "correct horse"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (429, "auth.too_many_failures"),
        "{r:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'")
            .await,
        5
    );
    // From another address the account is not locked: someone guessing at one place cannot
    // lock the user out everywhere.
    let mut elsewhere = anonymous.clone();
    elsewhere.client = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let r = elsewhere
        .post(
            "/api/v1/login",
            json!({"username": "col", "password": "correct horse"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // An unknown user is told the same as a wrong password.
    let r = elsewhere
        .post(
            "/api/v1/login",
            json!({"username": "nobody-such", "password": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "auth.login_failed"), "{r:?}");
}

async fn revoked_tokens_stop_working(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let r = app
        .post(
            "/api/v1/users",
            json!({"username": "scanner", "role": "collector", "site": "S01"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = app
        .post("/api/v1/users/scanner/tokens", json!({"name": "scanner-3"}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let scanner = app.with_token(r.body["token"].as_str().unwrap());
    let prefix = r.body["prefix"].as_str().unwrap().to_string();
    assert_eq!(scanner.get("/api/v1/me").await.status, 200);
    let r = app
        .send(
            app.client
                .delete(app.url(&format!("/api/v1/tokens/{prefix}"))),
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
    // The node caches a verified token for a few seconds; a fresh node sees the revocation at once.
    let other = scanner.another_node().await;
    let other = other.with_token(&scanner.token);
    let r = other.get("/api/v1/me").await;
    assert_eq!((r.status, r.code()), (401, "auth.invalid_token"), "{r:?}");
    // Tokens are stored hashed: the secret is nowhere in the database.
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM api_token WHERE token_hash = $1 OR prefix = $1")
            .bind(scanner.token.clone())
            .fetch_one(app.store.reader())
            .await
            .unwrap();
    assert_eq!(n, 0);
}

/// DELETE /tokens/{prefix} as `who`.
async fn end(who: &TestApp, prefix: &str) -> common::Resp {
    who.send(
        who.client
            .delete(who.url(&format!("/api/v1/tokens/{prefix}"))),
    )
    .await
}

/// A user lists their live sessions and tokens (the one in use marked) and ends one they do
/// not know, at once on this node; nobody else's can be ended or seen.
async fn a_user_sees_and_ends_their_own_sessions(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    for user in ["col", "col2"] {
        let r = app
            .post("/api/v1/users", json!({"username": user, "role": "collector", "site": "S01", "password": "correct horse"}))
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let login = |user: &'static str| {
        let anonymous = app.with_token("");
        async move {
            let r = anonymous
                .post(
                    "/api/v1/login",
                    json!({"username": user, "password": "correct horse"}),
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            (
                anonymous.with_token(r.body["token"].as_str().unwrap()),
                r.body["prefix"].as_str().unwrap().to_string(),
            )
        }
    };
    let (phone, phone_prefix) = login("col").await;
    let (desk, desk_prefix) = login("col").await;
    let (other, _) = login("col2").await;
    let r = desk.get("/api/v1/me/sessions").await;
    assert_eq!(r.status, 200, "{r:?}");
    let listed: Vec<(&str, &str, bool)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["prefix"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                c["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (desk_prefix.as_str(), "session", true),
            (phone_prefix.as_str(), "session", false)
        ]
    );
    assert!(r.body[0]["expires_at"].is_string(), "{r:?}");
    // Another user can neither see nor end them.
    let r = other.get("/api/v1/me/sessions").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{r:?}");
    let r = end(&other, &phone_prefix).await;
    assert_eq!((r.status, r.code()), (404, "token.not_found"), "{r:?}");
    assert_eq!(phone.get("/api/v1/me").await.status, 200);
    // The desk ends the phone's session: it stops at once, the desk's goes on.
    assert_eq!(end(&desk, &phone_prefix).await.status, 204);
    let r = phone.get("/api/v1/me").await;
    assert_eq!((r.status, r.code()), (401, "auth.invalid_token"), "{r:?}");
    let r = desk.get("/api/v1/me/sessions").await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{r:?}");
    let audit = app.get("/api/v1/audit?entity=user:col").await;
    assert!(
        audit
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "token.revoke" && e["actor"] == "col"),
        "{audit:?}"
    );
}

/// `/metrics` behind a bearer token when one is configured (`natlis serve --metrics-token`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_put_behind_a_token() {
    let app = TestApp::start(Db::Sqlite).await;
    let state = natlis::api::AppState::new(
        app.store.clone(),
        chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
    )
    .with_metrics_token(Some("scrape-me".into()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(natlis::launch(state, listener, std::future::pending()));
    let client = reqwest::Client::new();
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(client.get(&url).send().await.unwrap()), 401);
    assert_eq!(
        status(client.get(&url).bearer_auth("wrong").send().await.unwrap()),
        401
    );
    let ok = client
        .get(&url)
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    // Without a token configured (the test app), anyone may scrape.
    assert_eq!(app.with_token("").get("/metrics").await.status, 200);
}

/// Whether `text` names `id` as a whole (`T-1` in `"T-1"`, not in `INST-1`).
fn names(text: &str, id: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    text.match_indices(id).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + id.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The property over the whole endpoint × role × scope table: for every reading endpoint and
/// every user, no answer — body, list, count or error — names a tube, person or plate outside
/// the user's scope (an identifier the caller sent in the request itself aside).
async fn no_answer_shows_what_is_outside_the_callers_scope(db: Db) {
    let w = world(db).await;
    let member = |barcode: &'static str| {
        let admin = &w.admin;
        async move {
            admin.get(&format!("/api/v1/tubes/{barcode}")).await.body["members"][0]["person"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (p1, p2) = (member("T-1").await, member("T-B").await);
    let (staff, outsider) = (w.staff_id.clone(), w.outsider_id.clone());
    // A plate at LAB-B holding T-B.
    let r = w
        .user("tech-b")
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-B", "size": 96, "kit": "DAAN-ORF1AB-N"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let plate_b = r.body["run_no"].as_str().unwrap().to_string();
    let r = w
        .user("tech-b")
        .post(
            &format!("/api/v1/plates/{plate_b}/wells"),
            json!({"barcode": "T-B"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let lab_b: Vec<String> = vec!["T-B".into(), p2.clone(), plate_b.clone()];
    let everyone_else: Vec<String> = vec![staff.clone(), outsider.clone()];
    let mut hidden: Vec<(&str, Vec<String>)> = vec![];
    for user in ["collector-s01", "tech-a", "reviewer-a", "cdc-bj"] {
        hidden.push((user, [lab_b.clone(), everyone_else.clone()].concat()));
    }
    hidden.push((
        "collector-s02",
        [
            vec!["T-1".to_string(), p1.clone()],
            lab_b.clone(),
            everyone_else.clone(),
        ]
        .concat(),
    ));
    hidden.push((
        "tech-b",
        vec!["T-1".into(), p1.clone(), staff.clone(), outsider.clone()],
    ));
    hidden.push((
        "hr-1",
        [
            vec!["T-1".to_string(), p1.clone(), outsider.clone()],
            lab_b.clone(),
        ]
        .concat(),
    ));
    hidden.push((
        "nobody",
        [
            vec!["T-1".to_string(), p1.clone()],
            lab_b.clone(),
            everyone_else.clone(),
        ]
        .concat(),
    ));
    let mut paths: Vec<String> = [
        "/api/v1/tubes",
        "/api/v1/review",
        "/api/v1/rechecks",
        "/api/v1/resampling",
        "/api/v1/cdc/queue",
        "/api/v1/cdc/breaches",
        "/api/v1/results/returned",
        "/api/v1/plates",
        "/api/v1/turnaround/at-risk",
        "/api/v1/turnaround/capacity",
        "/api/v1/turnaround/report",
        "/api/v1/push/messages",
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/sites",
        "/api/v1/labs",
        "/api/v1/institutions",
        "/api/v1/compliance",
        "/api/v1/compliance/period",
        "/api/v1/institutions/INST-2/enrolments",
        // (INST-1's ledger would match the barcode T-1 by name: its scope is in the table.)
        "/api/v1/institutions/INST-2/ledger",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for b in ["T-1", "T-B"] {
        for tail in ["", "/results", "/attempts", "/timeline", "/label.svg"] {
            paths.push(format!("/api/v1/tubes/{b}{tail}"));
        }
        paths.push(format!("/api/v1/audit?entity=tube:{b}"));
    }
    for uid in [&p1, &p2, &staff, &outsider] {
        for tail in ["", "/status", "/results", "/code.svg", "/unmasked"] {
            paths.push(format!("/api/v1/persons/{uid}{tail}"));
        }
        paths.push(format!("/api/v1/audit?entity=person:{uid}"));
    }
    for tail in ["", "/imports", "/proposal"] {
        paths.push(format!("/api/v1/plates/{plate_b}{tail}"));
    }
    paths.push(format!("/api/v1/audit?entity=plate:{plate_b}"));
    let mut checked = 0;
    for (user, secrets) in &hidden {
        for path in &paths {
            let r = w.user(user).get(path).await;
            assert!(r.status < 500, "GET {path} as {user}: {r:?}");
            let text = match &r.body {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            for secret in secrets {
                if path.contains(secret.as_str()) {
                    // Asked by name: it does not exist for the caller. (A label is drawn from
                    // the barcode given, whether a tube has it or not: it reads nothing.)
                    assert!(
                        [401, 403, 404].contains(&r.status)
                            || (path.ends_with("/label.svg") && r.status == 200),
                        "GET {path} as {user} answers {} for what is outside the scope: {text}",
                        r.status
                    );
                    continue;
                }
                assert!(
                    !names(&text, secret),
                    "GET {path} as {user} ({}) shows {secret}: {text}",
                    r.status
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, hidden.len() * paths.len());
}
