//! Institutions and routine testing, end to end on SQLite and on PostgreSQL: a hospital's staff
//! uploaded from a roster with bad rows (refused whole, then fixed), a cold-chain firm on its
//! own 14-day cycle, results flowing into the ledger as the lab releases them — a pooled
//! negative covering to the exact last day, a positive pool's member off duty until their
//! negative re-check, a leaver — a new programme version judging every line again, and a
//! regional inspector's compliance view; every institution sees only its own.

mod common;

use common::lab::{decide, filled_plate, import, item, queue};
use common::{id_number, Db, TestApp};
use natlis::domain::policy::Role;
use natlis::synth::Shape;
use serde_json::{json, Value};

on_both_databases!(
    a_hospital_and_a_cold_chain_firm_through_a_fortnight,
    the_ledger_state_in_sql_is_the_domain_rule,
    a_group_session_for_the_due_with_its_sheet_and_who_came,
    cohorts_of_close_contacts_and_arrivals_with_a_missed_test,
    a_cold_stores_points_overdue_and_positive,
    a_compliance_report_over_the_last_eleven_days,
    staff_register_from_the_poster_and_the_admin_approves,
);

/// A roster CSV: header, then (n, class) rows as `测试{n}` with id_number(n).
fn roster(rows: &[(u32, &str)]) -> String {
    let mut s = String::from("姓名,身份证号,手机号,人员类别\n");
    for (n, class) in rows {
        s.push_str(&format!("测试{n},{},139{:08},{class}\n", id_number(*n), n));
    }
    s
}

async fn upload(app: &TestApp, inst: &str, what: &str, query: &str, body: String) -> common::Resp {
    app.send(
        app.client
            .post(app.url(&format!(
                "/api/v1/institutions/{inst}/{what}?file_name=staff.csv{query}"
            )))
            .body(body),
    )
    .await
}

async fn ledger(app: &TestApp, inst: &str, query: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/institutions/{inst}/ledger{query}"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

fn line(l: &Value, n: u32) -> &Value {
    let name = format!("测{}", "*".repeat(format!("试{n}").chars().count()));
    let doc = id_number(n);
    l["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name.as_str() && x["doc_no"].as_str().unwrap().ends_with(&doc[14..]))
        .unwrap_or_else(|| panic!("person {n} not in the ledger: {l}"))
}

async fn a_hospital_and_a_cold_chain_firm_through_a_fortnight(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let r = a
        .post(
            "/api/v1/institutions",
            json!({"code": "INST-CC", "name": "大兴冷链物流", "kind": "cold_chain", "address": "大兴区",
                   "phone": "010-66666666", "region": "110115"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let hr = a.as_new("hr-1", Role::InstitutionAdmin, "INST-1").await;
    let cc = a.as_new("hr-cc", Role::InstitutionAdmin, "INST-CC").await;
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = a.as_new("rev-a", Role::LabReviewer, "LAB-A").await;

    // The classes a roster may name.
    let r = hr.get("/api/v1/institutions/INST-1/classes").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "医务人员" && c["programme"] == "staff-14d"));

    // A roster with bad rows: every problem named with its line; applying it writes nothing.
    let mut bad = roster(&[(1, "医务人员"), (2, "医务人员")]);
    bad.push_str("测试3,110105194912310021,13900000003,医务人员\n");
    bad.push_str(&format!("测试4,{},13900000004,保安\n", id_number(4)));
    bad.push_str(&format!("测试1,{},13900000001,医务人员\n", id_number(1)));
    let r = upload(&hr, "INST-1", "roster/preview", "", bad.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.body["rows"].as_u64(), r.body["invalid"].as_u64()),
        (Some(5), Some(3)),
        "{r:?}"
    );
    let problems: Vec<(u64, String)> = r.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap(),
                p["problems"][0]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (4, "invalid_document".into()),
            (5, "unknown_class".into()),
            (6, "duplicate".into())
        ]
    );
    assert!(
        !r.body.to_string().contains("110105194912310021"),
        "a preview never echoes an ID number"
    );
    let r = upload(&hr, "INST-1", "roster", "", bad).await;
    assert_eq!((r.status, r.code()), (422, "roster.invalid_rows"), "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 4"),
        "{r:?}"
    );
    assert_eq!(a.count("SELECT COUNT(*) FROM membership").await, 0);

    // Fixed: the hospital's five doctors and nurses join; the cold-chain firm's two workers.
    let good = roster(&[
        (1, "医务人员"),
        (2, "医务人员"),
        (3, "医务人员"),
        (4, "行政后勤"),
        (5, "医务人员"),
    ]);
    let r = upload(&hr, "INST-1", "roster", "", good.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.body["joins"].as_u64(), r.body["applied"].as_bool()),
        (Some(5), Some(true)),
        "{r:?}"
    );
    // The same file again changes nothing.
    let r = upload(&hr, "INST-1", "roster", "", good.clone()).await;
    assert_eq!(
        (r.body["joins"].as_u64(), r.body["unchanged"].as_u64()),
        (Some(0), Some(5)),
        "{r:?}"
    );
    let r = upload(
        &cc,
        "INST-CC",
        "roster",
        "",
        roster(&[(11, "冷链从业人员"), (12, "冷链从业人员")]),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Nobody has a negative yet: nobody may work.
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(l["counts"]["staff"], 5);
    assert_eq!(l["counts"]["never_tested"], 5);
    assert!(l["lines"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["on_duty"] == false));
    assert!(
        line(&l, 1)["doc_no"].as_str().unwrap().contains("****"),
        "masked"
    );

    // Each institution sees only its own; an inspector of another region sees nothing.
    let r = cc.get("/api/v1/institutions/INST-1/ledger").await;
    assert_eq!(
        (r.status, r.code()),
        (404, "institution.not_found"),
        "{r:?}"
    );
    let r = upload(&cc, "INST-1", "roster/preview", "", good.clone()).await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = tech.get("/api/v1/institutions/INST-1/ledger").await;
    assert_eq!(r.status, 403, "{r:?}");

    // The lab tests them: a pool of the hospital's 1–3 and the firm's 11 (negative), a pool of
    // 4, 5 and 12 with one infected member (positive).
    a.filled_pool("HP1", 5, 1..=3).await;
    for n in [11] {
        let r = a.post("/api/v1/tubes/HP1/members", common::person(n)).await;
        assert_eq!(r.status, 200, "{r:?}");
    }
    a.filled_pool("HP2", 5, 4..=5).await;
    let r = a
        .post("/api/v1/tubes/HP2/members", common::person(12))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    for b in ["HP1", "HP2"] {
        let r = a.post(&format!("/api/v1/tubes/{b}/close"), json!({})).await;
        assert!(r.status == 200 || r.status == 409, "{r:?}");
        a.receive_at_lab_a(b).await;
    }
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |b| match b {
        "HP2" => Shape::Positive(30.0),
        _ => Shape::Negative(28.0),
    })
    .await;
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 1, "{r:?}");
    let q = queue(&reviewer, &plate).await;
    let r = decide(
        &reviewer,
        &item(&q, "HP2")["attempt"],
        json!({"decision": "release", "value": "positive"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");

    // The pooled negative counts as each member's: covered through day 14, due soon on days
    // 13–14 (3 days' warning), overdue from day 15.
    let today =
        chrono::NaiveDate::parse_from_str(l["today"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();
    let l = ledger(&hr, "INST-1", "").await;
    let one = line(&l, 1);
    assert_eq!(one["state"], "covered", "{one}");
    assert_eq!(one["covered_until"], day(14), "{one}");
    assert_eq!(one["last_lab"], "LAB-A");
    assert_eq!(
        one["last_tube"], "**1",
        "the tube is masked to its last characters: {one}"
    );
    assert_eq!(one["programme"], "staff-14d");
    // The positive pool's members: off duty, whatever came before.
    for n in [4, 5] {
        let x = line(&l, n);
        assert_eq!(
            (
                x["state"].as_str(),
                x["hold"].as_str(),
                x["on_duty"].as_bool()
            ),
            (Some("excluded"), Some("pending_recheck"), Some(false)),
            "{x}"
        );
    }
    assert_eq!(l["counts"]["covered"], 3);
    assert_eq!(l["counts"]["excluded"], 2);
    let l14 = ledger(&hr, "INST-1", &format!("?on={}", day(14))).await;
    assert_eq!(
        (
            line(&l14, 1)["state"].as_str(),
            line(&l14, 1)["on_duty"].as_bool()
        ),
        (Some("due_soon"), Some(true))
    );
    let l15 = ledger(&hr, "INST-1", &format!("?on={}", day(15))).await;
    assert_eq!(
        (
            line(&l15, 1)["state"].as_str(),
            line(&l15, 1)["on_duty"].as_bool(),
            line(&l15, 1)["overdue_days"].as_i64()
        ),
        (Some("overdue"), Some(false), Some(1))
    );
    let l31 = ledger(&hr, "INST-1", &format!("?on={}", day(31))).await;
    // Person 4 is in the monthly class: their cover would run a month — but they are held.
    assert_eq!(line(&l31, 4)["state"], "excluded");
    let overdue = ledger(&hr, "INST-1", &format!("?on={}&state=overdue", day(15))).await;
    assert_eq!(overdue["lines"].as_array().unwrap().len(), 3, "{overdue}");
    // The cold-chain firm's ledger followed too.
    let c = ledger(&cc, "INST-CC", "").await;
    assert_eq!(line(&c, 11)["state"], "covered");
    assert_eq!(line(&c, 12)["state"], "excluded");

    // Person 5's single re-check is negative: back on duty, covered from the re-check.
    a.received_single("RC5", 5, "mass_screening").await;
    let (plate2, layout2) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate2, "KH-ORF1AB-N", &layout2, None, |_| {
        Shape::Negative(29.0)
    })
    .await;
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate2}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 1, "{r:?}");
    let l = ledger(&hr, "INST-1", "").await;
    let five = line(&l, 5);
    assert_eq!(
        (
            five["state"].as_str(),
            five["on_duty"].as_bool(),
            five["last_tube"].as_str()
        ),
        (Some("covered"), Some(true), Some("**5")),
        "{five}"
    );
    assert_eq!(line(&l, 4)["state"], "excluded");

    // A full roster without person 3: they leave on the effective day; their line is kept.
    let full = roster(&[
        (1, "医务人员"),
        (2, "医务人员"),
        (4, "行政后勤"),
        (5, "医务人员"),
    ]);
    let r = upload(&hr, "INST-1", "roster/preview", "&mode=full", full.clone()).await;
    assert_eq!(
        (r.body["leaves"].as_u64(), r.body["unchanged"].as_u64()),
        (Some(1), Some(4)),
        "{r:?}"
    );
    let r = upload(&hr, "INST-1", "roster", "&mode=full", full).await;
    assert_eq!(r.status, 200, "{r:?}");
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(l["counts"]["staff"], 4);
    let ended = ledger(&hr, "INST-1", "?ended=true").await;
    assert_eq!(line(&ended, 3)["left_on"], today.to_string());
    // A class change is dated too: person 2 moves to the monthly class.
    let moved = roster(&[(2, "行政后勤")]);
    let r = upload(&hr, "INST-1", "roster", "", moved).await;
    assert_eq!(r.body["moves"], 1, "{r:?}");
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(line(&l, 2)["class"], "行政后勤");
    assert_eq!(
        line(&l, 2)["state"],
        "covered",
        "the earlier negative still counts: {l}"
    );
    let ended = ledger(&hr, "INST-1", "?ended=true").await;
    assert_eq!(ended["lines"].as_array().unwrap().len(), 2);

    // A new version of the 14-day programme (7 days) judges every line at once.
    let r = a
        .post(
            "/api/v1/programmes/staff-14d/versions",
            json!({"schedule": {"kind": "cycle", "cycle": {"days": 7}}, "warn_days": 2,
                   "pooling": "pooled", "basis": "本市通知: 每7天一检"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["version"], 2);
    let r = hr.post("/api/v1/programmes/staff-14d/versions", json!({"schedule": {"kind": "cycle", "cycle": {"days": 3}}, "warn_days": 1, "pooling": "pooled", "basis": "x"})).await;
    assert_eq!(r.status, 403, "{r:?}");
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(
        (
            line(&l, 1)["covered_until"].as_str(),
            line(&l, 1)["programme_version"].as_i64()
        ),
        (Some(day(7).as_str()), Some(2))
    );
    let c = ledger(&cc, "INST-CC", "").await;
    assert_eq!(
        line(&c, 11)["covered_until"],
        day(14),
        "cold chain keeps its own programme"
    );

    // The inspector of Daxing sees the firm, not the hospital; an admin sees both.
    let insp = a.as_new("insp-dx", Role::RegionalInspector, "110115").await;
    let r = insp.get("/api/v1/compliance").await;
    assert_eq!(r.status, 200, "{r:?}");
    let codes: Vec<&str> = r.body["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["INST-CC"]);
    assert_eq!(
        (
            r.body["totals"]["staff"].as_i64(),
            r.body["totals"]["excluded"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let r = insp.get("/api/v1/institutions/INST-CC/ledger").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = insp.get("/api/v1/institutions/INST-1/ledger").await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = insp.get("/api/v1/compliance?region=1101").await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = a.get("/api/v1/compliance").await;
    assert_eq!(r.body["totals"]["staff"], 6, "{r:?}");
    assert_eq!(
        r.body["institutions"][0]["code"], "INST-CC",
        "worst first: {r:?}"
    );
    // The ledger as a workbook.
    let r = hr
        .send(
            hr.client
                .get(hr.url("/api/v1/institutions/INST-1/ledger?format=xlsx")),
        )
        .await;
    assert_eq!(r.status, 200);
    // Every join, move and leave is in the audit trail under the institution admin.
    assert!(
        a.count("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.join' AND actor = 'hr-1'")
            .await
            >= 5
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.leave'")
            .await,
        1
    );
}

/// The state the database counts by is the state the domain judges, for every distance of the
/// cover's end from today and every warning length.
async fn the_ledger_state_in_sql_is_the_domain_rule(db: Db) {
    use natlis::domain::programme::{self, Hold};
    let a = TestApp::start(db).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    let t = programme::day_number(today);
    let mut conn = a.store.reader().acquire().await.unwrap();
    for warn in [0i64, 1, 3] {
        for until in [
            None,
            Some(t - 2),
            Some(t - 1),
            Some(t),
            Some(t + 1),
            Some(t + 2),
            Some(t + 3),
            Some(t + 4),
        ] {
            for hold in [None, Some(Hold::PendingRecheck)] {
                let (state,): (String,) = sqlx::query_as(&format!(
                    "SELECT {} FROM (SELECT $2 AS covered_through, $3 AS hold) m, (SELECT $4 AS warn_days) v",
                    natlis::store::membership::STATE
                ))
                .bind(t)
                .bind(until)
                .bind(hold.map(|h| h.as_str()))
                .bind(warn)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
                let judged = programme::judge(
                    until.map(programme::from_day_number),
                    hold.map(Hold::outcome),
                    today,
                    warn as u32,
                );
                assert_eq!(
                    state,
                    judged.code(),
                    "until {until:?} warn {warn} hold {hold:?}"
                );
            }
        }
    }
}

/// The institution orders its due staff tested at a site; the sheet prints their codes; the
/// site sees who is expected and who came; the results turn the ledger green.
async fn a_group_session_for_the_due_with_its_sheet_and_who_came(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let hr = a.as_new("hr-1", Role::InstitutionAdmin, "INST-1").await;
    let collector = a.as_new("col-1", Role::Collector, "S01").await;
    let other_site = a.as_new("col-2", Role::Collector, "S02").await;
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = a.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let r = upload(
        &hr,
        "INST-1",
        "roster",
        "",
        roster(&[(31, "医务人员"), (32, "医务人员"), (33, "冷链从业人员")]),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Person 31 is tested already; 32 and 33 are not: they are the due.
    a.received_single("G31", 31, "mass_screening").await;
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |_| {
        Shape::Negative(28.0)
    })
    .await;
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 1, "{r:?}");

    let r = hr
        .post(
            "/api/v1/institutions/INST-1/sessions",
            json!({"site": "S01", "who": "due"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (r.body["expected"].as_i64(), r.body["came"].as_i64()),
        (Some(2), Some(0)),
        "{r:?}"
    );
    let id = r.body["id"].as_i64().unwrap();
    let d = hr
        .get(&format!("/api/v1/institutions/INST-1/sessions/{id}"))
        .await;
    assert_eq!(d.status, 200, "{d:?}");
    let members = d.body["members"].as_array().unwrap().clone();
    assert!(
        members.iter().all(|m| m["personal_code"]
            .as_str()
            .is_some_and(|c| c.starts_with('P'))),
        "{d:?}"
    );
    let single: Vec<&str> = members
        .iter()
        .filter(|m| m["pooling"] == "single")
        .map(|m| m["class"].as_str().unwrap())
        .collect();
    assert_eq!(
        single,
        ["冷链从业人员"],
        "cold-chain staff are tested singly: {d:?}"
    );
    // The sheet: a PDF with both codes.
    let r = hr
        .send(hr.client.get(hr.url(&format!(
            "/api/v1/institutions/INST-1/sessions/{id}/sheet.pdf"
        ))))
        .await;
    assert_eq!(r.status, 200);
    // Nobody else's sessions, nor another site's.
    let r = a
        .as_new("hr-x", Role::InstitutionAdmin, "INST-1")
        .await
        .get("/api/v1/institutions/INST-1/sessions")
        .await;
    assert_eq!(r.status, 200);
    let r = other_site.get("/api/v1/sites/S01/sessions").await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = hr
        .post(
            "/api/v1/institutions/INST-1/sessions",
            json!({"site": "S01", "who": "overdue", "on": "2020-01-01"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (422, Some("on")),
        "{r:?}"
    );

    // At the site: the collector sees who is expected; person 32 comes and is scanned by code.
    let r = collector.get("/api/v1/sites/S01/sessions").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body[0]["expected"], 2);
    let code32 = members.iter().find(|m| m["class"] == "医务人员").unwrap()["personal_code"]
        .as_str()
        .unwrap()
        .to_string();
    let r = collector
        .post(
            "/api/v1/tubes",
            json!({"barcode": "G32", "kind": "single", "sample_type": "oropharyngeal",
        "site": "S01", "category": "mass_screening", "people": [{"code": code32}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = collector.get("/api/v1/sites/S01/sessions").await;
    assert_eq!(
        (r.body[0]["came"].as_i64(), r.body[0]["missing"].as_i64()),
        (Some(1), Some(1)),
        "{r:?}"
    );
    // Their negative turns their line green.
    a.receive_at_lab_a("G32").await;
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |_| {
        Shape::Negative(28.0)
    })
    .await;
    reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(
        (
            l["counts"]["covered"].as_i64(),
            l["counts"]["never_tested"].as_i64()
        ),
        (Some(2), Some(1)),
        "{l}"
    );
    // Nobody left to order: said so.
    let r = hr
        .post(
            "/api/v1/institutions/INST-1/sessions",
            json!({"site": "S01", "who": "class", "class": "保安"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "session.nobody"), "{r:?}");
}

fn member(n: u32, anchor: chrono::DateTime<chrono::FixedOffset>) -> Value {
    let mut p = common::person(n);
    p["anchor"] = json!(anchor.to_rfc3339());
    p
}

/// A swab of person `n` at S01 taken at `at` (a single tube, not yet received).
async fn swab(a: &TestApp, barcode: &str, n: u32, at: chrono::DateTime<chrono::FixedOffset>) {
    let r = a
        .post(
            "/api/v1/tubes",
            json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "close_contact", "collected_at": at.to_rfc3339(), "people": [common::person(n)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
}

/// The CDC loads close contacts (days 1, 3–5, 13) and arrivals (twice, 24 h apart): one contact
/// tested on day 1 and not on days 3–5 is listed as having missed; one who starts today is due;
/// an arrival's second swab 23 hours after the first does not count, one a day later does.
async fn cohorts_of_close_contacts_and_arrivals_with_a_missed_test(db: Db) {
    use chrono::{Duration, FixedOffset, TimeZone, Utc};
    let a = TestApp::start(db).await;
    a.seed().await;
    let cdc = a.as_new("cdc-bj", Role::CdcReviewer, "1101").await;
    let cdc_sh = a.as_new("cdc-sh", Role::CdcReviewer, "3101").await;
    let hr = a.as_new("hr-1", Role::InstitutionAdmin, "INST-1").await;
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = Utc::now().with_timezone(&tz);
    let evening = |days_ago: i64| {
        let d = (now - Duration::days(days_ago)).date_naive();
        tz.from_local_datetime(&d.and_hms_opt(20, 0, 0).unwrap())
            .unwrap()
    };
    // Person 41 entered quarantine five days ago at 20:00 (today is day 6) and was swabbed that
    // evening; person 42 enters today.
    let r = cdc
        .post(
            "/api/v1/cohorts",
            json!({"code": "CC-1", "name": "密接 海淀 第1批", "programme": "close-contact", "region": "110108",
                   "members": [member(41, evening(5)), member(42, now)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    swab(&a, "CC41", 41, evening(5) + Duration::hours(1)).await;
    let r = cdc.get("/api/v1/cohorts/CC-1").await;
    assert_eq!(r.status, 200, "{r:?}");
    let find = |doc_tail: &str| {
        r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["doc_no"].as_str().unwrap().ends_with(doc_tail))
            .unwrap()
            .clone()
    };
    let p41 = find(&id_number(41)[14..]);
    let states: Vec<&str> = p41["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done", "missed", "upcoming"], "{p41}");
    assert_eq!(
        (p41["missed"].as_u64(), p41["due"].as_bool()),
        (Some(1), Some(false))
    );
    let p42 = find(&id_number(42)[14..]);
    assert_eq!(
        (p42["windows"][0]["state"].as_str(), p42["due"].as_bool()),
        (Some("due"), Some(true)),
        "{p42}"
    );
    assert_eq!(
        (r.body["due_today"].as_u64(), r.body["missed"].as_u64()),
        (Some(1), Some(1))
    );

    // Arrivals: twice, 24 hours apart.
    let r = cdc
        .post(
            "/api/v1/cohorts",
            json!({"code": "AR-1", "name": "外省口岸入境", "programme": "arrivals-twice", "region": "110108",
                   "members": [member(43, evening(3))]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    swab(&a, "AR43A", 43, evening(3) + Duration::hours(1)).await;
    swab(&a, "AR43B", 43, evening(3) + Duration::hours(24)).await;
    let r = cdc.get("/api/v1/cohorts/AR-1").await;
    let m = &r.body["members"][0];
    assert_eq!(
        (
            m["spaced"]["done"].as_u64(),
            m["complete"].as_bool(),
            m["due"].as_bool()
        ),
        (Some(1), Some(false), Some(true)),
        "{m}"
    );
    swab(&a, "AR43C", 43, evening(3) + Duration::hours(26)).await;
    let r = cdc.get("/api/v1/cohorts/AR-1").await;
    assert_eq!(r.body["members"][0]["complete"], true, "{r:?}");

    // The list, and who may see it: not another region's CDC, not an institution.
    let r = cdc.get("/api/v1/cohorts").await;
    assert_eq!(r.body.as_array().unwrap().len(), 2, "{r:?}");
    assert_eq!(
        cdc_sh
            .get("/api/v1/cohorts")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(cdc_sh.get("/api/v1/cohorts/CC-1").await.status, 404);
    assert_eq!(hr.get("/api/v1/cohorts").await.status, 403);
    let r = cdc_sh
        .post(
            "/api/v1/cohorts",
            json!({"code": "CC-2", "name": "x", "programme": "close-contact", "region": "110108"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = cdc
        .post(
            "/api/v1/cohorts",
            json!({"code": "CC-3", "name": "x", "programme": "staff-14d", "region": "110108"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "programme.not_for_cohorts"),
        "{r:?}"
    );
    // More people later; the same person again keeps the first anchor.
    let r = cdc
        .post(
            "/api/v1/cohorts/CC-1/members",
            json!([member(44, now), member(41, now)]),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["members"].as_array().unwrap().len(), 3);
}

/// A cold store's sampling points: one swabbed negative is covered for a week, then overdue;
/// one never swabbed is listed so; a positive swab raises an alert with the point, the lot and
/// the staff to test.
async fn a_cold_stores_points_overdue_and_positive(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let hr = a.as_new("hr-1", Role::InstitutionAdmin, "INST-1").await;
    let other = a.as_new("insp", Role::RegionalInspector, "3101").await;
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = a.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    upload(
        &hr,
        "INST-1",
        "roster",
        "",
        roster(&[(51, "冷链从业人员"), (52, "冷链从业人员")]),
    )
    .await;
    for (code, item) in [
        ("COLD-1", "冷库门把手"),
        ("COLD-2", "冻带鱼外包装"),
        ("COLD-3", "叉车方向盘"),
    ] {
        let r = hr
            .post(
                "/api/v1/institutions/INST-1/environment/points",
                json!({"code": code, "item": item, "location": "3号冷库", "lot": "L20261201", "origin": "厄瓜多尔",
                       "programme": "market-key-env"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let r = hr
        .post(
            "/api/v1/institutions/INST-1/environment/points",
            json!({"code": "COLD-9", "item": "x", "location": "y", "programme": "staff-14d"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "programme.not_for_environment"),
        "{r:?}"
    );
    // Swabs of COLD-1 (negative) and COLD-2 (positive); a tube naming no such point is refused.
    let env = |barcode: &str, point: &str| {
        json!({"barcode": barcode, "kind": "environment", "sample_type": "environment_surface", "site": "S01",
               "category": "other_key", "description": {"item": "swab", "location": "3号冷库", "lot": "L20261201", "point": point}})
    };
    let r = a.post("/api/v1/tubes", env("E1", "COLD-1")).await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = a.post("/api/v1/tubes", env("E2", "COLD-2")).await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = a.post("/api/v1/tubes", env("E3", "NO-SUCH")).await;
    assert_eq!((r.status, r.code()), (422, "env_point.unknown"), "{r:?}");
    for b in ["E1", "E2"] {
        a.receive_at_lab_a(b).await;
    }
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |b| match b {
        "E2" => Shape::Positive(33.0),
        _ => Shape::Negative(28.0),
    })
    .await;
    reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    let q = queue(&reviewer, &plate).await;
    let r = decide(
        &reviewer,
        &item(&q, "E2")["attempt"],
        json!({"decision": "release", "value": "positive"}),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");

    let r = hr.get("/api/v1/institutions/INST-1/environment").await;
    assert_eq!(r.status, 200, "{r:?}");
    let state = |p: &Value, code: &str| {
        p["points"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["code"] == code)
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state(&r.body, "COLD-1"), "covered", "{r:?}");
    assert_eq!(state(&r.body, "COLD-2"), "excluded", "{r:?}");
    assert_eq!(state(&r.body, "COLD-3"), "never_tested", "{r:?}");
    let alert = &r.body["alerts"][0];
    assert_eq!(
        (
            alert["point"].as_str(),
            alert["lot"].as_str(),
            alert["tube"].as_str()
        ),
        (Some("COLD-2"), Some("L20261201"), Some("E2")),
        "{r:?}"
    );
    assert_eq!(
        alert["staff"].as_array().unwrap().len(),
        2,
        "the staff of the store are listed for testing"
    );
    // A week on, the negative point is overdue.
    let on = (chrono::NaiveDate::parse_from_str(r.body["today"].as_str().unwrap(), "%Y-%m-%d")
        .unwrap()
        + chrono::Duration::days(8))
    .to_string();
    let r = hr
        .get(&format!("/api/v1/institutions/INST-1/environment?on={on}"))
        .await;
    assert_eq!(state(&r.body, "COLD-1"), "overdue", "{r:?}");
    // Only the institution's own and those above it.
    assert_eq!(
        other
            .get("/api/v1/institutions/INST-1/environment")
            .await
            .status,
        404
    );
    let r = tech.get("/api/v1/institutions/INST-1/environment").await;
    assert_eq!(r.status, 403, "{r:?}");
}

/// The compliance report of a period: three nurses of a Haidian hospital joined ten days ago; one was swabbed six
/// days ago and covered from that day, one today, one never — each day counted by the ledger's
/// rule, the person-days summed, the same numbers for the hospital's administrator and for the
/// inspector of its region, as JSON, a workbook and a chart; the future is refused.
async fn a_compliance_report_over_the_last_eleven_days(db: Db) {
    use chrono::{Duration, FixedOffset, TimeZone, Utc};
    let a = TestApp::start(db).await;
    a.seed().await;
    let r = a
        .post(
            "/api/v1/institutions",
            json!({"code": "INST-HD", "name": "海淀医院", "kind": "hospital", "address": "海淀区",
                   "phone": "010-62555555", "region": "110108"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let hr = a.as_new("hr-hd", Role::InstitutionAdmin, "INST-HD").await;
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = a.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let tz = FixedOffset::east_opt(8 * 3600).unwrap();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let ago = |n: i64| today - Duration::days(n);
    let r = upload(
        &hr,
        "INST-HD",
        "roster",
        &format!("&effective_on={}", ago(10)),
        roster(&[(61, "医务人员"), (62, "医务人员"), (63, "医务人员")]),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Person 61 swabbed six days ago at 10:00; person 62 today; both negative.
    let six_days_ago = tz
        .from_local_datetime(&ago(6).and_hms_opt(10, 0, 0).unwrap())
        .unwrap();
    swab(&a, "RP61", 61, six_days_ago).await;
    let r = a
        .post(
            "/api/v1/tubes",
            json!({"barcode": "RP62", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "mass_screening", "people": [common::person(62)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    for b in ["RP61", "RP62"] {
        a.receive_at_lab_a(b).await;
    }
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |_| {
        Shape::Negative(29.0)
    })
    .await;
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 2, "{r:?}");

    let period = format!("?from={}&to={}", ago(10), today);
    let r = hr
        .get(&format!("/api/v1/institutions/INST-HD/compliance{period}"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let days = r.body["days"].as_array().unwrap();
    assert_eq!(days.len(), 11);
    // Ten days ago: three on the roster, none covered.
    assert_eq!(
        (
            days[0]["date"].as_str(),
            days[0]["staff"].as_i64(),
            days[0]["never_tested"].as_i64(),
            days[0]["on_duty"].as_i64()
        ),
        (
            Some(ago(10).to_string().as_str()),
            Some(3),
            Some(3),
            Some(0)
        ),
        "{r:?}"
    );
    // From the swab six days ago, one covered; today two of three.
    assert_eq!(days[3]["covered"], 0, "{r:?}");
    assert_eq!(days[4]["covered"], 1, "{r:?}");
    assert_eq!(
        (
            days[10]["on_duty"].as_i64(),
            days[10]["covered_share"].as_f64()
        ),
        (Some(2), Some(2.0 / 3.0)),
        "{r:?}"
    );
    // Person-days: 61 covered 7 of 11, 62 one of 11, 63 none.
    let pd = &r.body["person_days"];
    assert_eq!(
        (
            pd["staff"].as_i64(),
            pd["covered"].as_i64(),
            pd["never_tested"].as_i64(),
            r.body["off_duty_person_days"].as_i64()
        ),
        (Some(33), Some(8), Some(25), Some(25)),
        "{r:?}"
    );
    assert_eq!(r.body["institution"], "INST-HD");

    // The inspector of Beijing sees the same numbers in the region's report; others see nothing.
    let insp = a.as_new("insp-bj", Role::RegionalInspector, "1101").await;
    let region = insp
        .get(&format!("/api/v1/compliance/period{period}"))
        .await;
    assert_eq!(region.status, 200, "{region:?}");
    let inst = region.body["institutions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "INST-HD")
        .unwrap_or_else(|| panic!("{region:?}"));
    assert_eq!(inst["person_days"]["staff"], 33);
    assert_eq!(inst["off_duty_person_days"], 25);
    assert_eq!(region.body["person_days"]["staff"], 33, "{region:?}");
    let r = insp
        .get(&format!("/api/v1/institutions/INST-HD/compliance{period}"))
        .await;
    assert_eq!(r.body["person_days"], pd.clone(), "{r:?}");
    let sh = a.as_new("insp-sh", Role::RegionalInspector, "3101").await;
    let r = sh
        .get(&format!("/api/v1/institutions/INST-HD/compliance{period}"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "institution.not_found"),
        "{r:?}"
    );
    let r = sh.get("/api/v1/compliance/period?region=1101").await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = tech.get("/api/v1/institutions/INST-HD/compliance").await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = hr.get("/api/v1/compliance/period").await;
    assert_eq!(
        r.status, 403,
        "an institution sees its own report, not the region's: {r:?}"
    );

    // The future, a period backwards or longer than a quarter: named.
    let r = hr
        .get(&format!(
            "/api/v1/institutions/INST-HD/compliance?to={}",
            today + Duration::days(1)
        ))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (422, Some("to")),
        "{r:?}"
    );
    let r = hr
        .get(&format!(
            "/api/v1/institutions/INST-HD/compliance?from={}&to={today}",
            ago(92)
        ))
        .await;
    assert_eq!(r.status, 422, "{r:?}");

    // As a workbook and as charts.
    for (q, kind) in [
        ("format=xlsx", "spreadsheetml"),
        ("format=svg", "image/svg+xml"),
        ("format=svg&chart=split", "image/svg+xml"),
    ] {
        let r = hr
            .send(hr.client.get(hr.url(&format!(
                "/api/v1/institutions/INST-HD/compliance{period}&{q}"
            ))))
            .await;
        assert_eq!(r.status, 200, "{q}: {r:?}");
        assert!(
            r.headers["content-type"].to_str().unwrap().contains(kind),
            "{q}: {r:?}"
        );
    }
}

/// A self-registration form for person `n`.
fn applicant(n: u32, class: &str) -> Value {
    json!({"name": format!("测试{n}"), "doc_no": id_number(n), "phone": format!("139{:08}", n), "class": class})
}

/// The hospital prints a poster; three staff register from it (one twice, one with a wrong ID
/// first); the administrator approves one who already has a negative — on duty at once — and
/// one never seen before, and rejects a third; a replaced poster stops working; an address
/// that sends too many is told to wait; another institution sees none of it.
async fn staff_register_from_the_poster_and_the_admin_approves(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let hr = a.as_new("hr-1", Role::InstitutionAdmin, "INST-1").await;
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = a.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let public = a.with_token("");

    let r = hr.get("/api/v1/institutions/INST-1/enrolment-link").await;
    assert_eq!((r.status, r.code()), (404, "enrolment.no_link"), "{r:?}");
    let r = hr
        .post("/api/v1/institutions/INST-1/enrolment-link", json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let token = r.body["token"].as_str().unwrap().to_string();
    assert_eq!(r.body["path"], format!("/join/{token}"));
    let r = hr
        .post("/api/v1/institutions/INST-1/enrolment-link", json!({}))
        .await;
    assert_eq!(
        r.body["token"],
        token.as_str(),
        "the same poster while it lives"
    );
    let join = format!("/api/v1/public/join/{token}");

    // The scanned poster: the hospital and its classes, no login.
    let r = public.get(&join).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["institution_name"], "第一人民医院");
    assert!(r.body["classes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "医务人员"));
    let r = public.get("/api/v1/public/join/no-such-token").await;
    assert_eq!(
        (r.status, r.code()),
        (404, "enrolment.unknown_link"),
        "{r:?}"
    );

    // A wrong check character: named, nothing written.
    let mut wrong = applicant(71, "医务人员");
    wrong["doc_no"] = json!("110105194912310021");
    let r = public.post(&join, wrong).await;
    assert_eq!(
        (r.status, r.code(), r.body["error"]["field"].as_str()),
        (422, "enrolment.invalid", Some("doc_no")),
        "{r:?}"
    );
    assert!(!r.body.to_string().contains("110105194912310021"), "{r:?}");
    let r = public.post(&join, applicant(71, "保安")).await;
    assert_eq!(r.body["error"]["field"], "class", "{r:?}");
    assert_eq!(a.count("SELECT COUNT(*) FROM enrolment_request").await, 0);

    // Three register; 71 twice (the same request).
    for (n, class) in [
        (71, "医务人员"),
        (71, "医务人员"),
        (72, "医务人员"),
        (73, "行政后勤"),
    ] {
        let r = public.post(&join, applicant(n, class)).await;
        assert_eq!(r.status, 202, "{r:?}");
        assert_eq!(r.body["state"], "pending");
        assert_eq!(
            r.body["name"],
            format!("测{}", "*".repeat(format!("试{n}").chars().count()))
        );
    }
    assert_eq!(a.count("SELECT COUNT(*) FROM enrolment_request").await, 3);
    let r = hr.get("/api/v1/institutions/INST-1/enrolments").await;
    assert_eq!(r.status, 200, "{r:?}");
    let pending = r.body.as_array().unwrap().clone();
    assert_eq!(pending.len(), 3, "{r:?}");
    assert!(pending
        .iter()
        .all(|x| x["doc_no"].as_str().unwrap().contains("****")));
    let id_of = |n: u32| {
        pending
            .iter()
            .find(|x| x["doc_no"].as_str().unwrap().ends_with(&id_number(n)[14..]))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };

    // Person 71 was tested this morning (negative) before registering.
    a.received_single("RS71", 71, "mass_screening").await;
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |_| {
        Shape::Negative(29.0)
    })
    .await;
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 1, "{r:?}");
    assert_eq!(ledger(&hr, "INST-1", "").await["counts"]["staff"], 0);

    // Another institution sees none of it.
    let r = a
        .post(
            "/api/v1/institutions",
            json!({"code": "INST-2", "name": "第二医院", "kind": "hospital", "address": "上海市",
                   "phone": "021-55555555", "region": "310104"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let hr2 = a.as_new("hr-2", Role::InstitutionAdmin, "INST-2").await;
    let r = hr2.get("/api/v1/institutions/INST-1/enrolments").await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = hr2
        .post(
            &format!(
                "/api/v1/institutions/INST-1/enrolments/{}/approve",
                id_of(71)
            ),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = hr2
        .post(
            &format!(
                "/api/v1/institutions/INST-2/enrolments/{}/approve",
                id_of(71)
            ),
            json!({}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "enrolment.not_found"), "{r:?}");

    // Approved: on the roster today, covered by this morning's negative at once.
    let approve = |n: u32| {
        format!(
            "/api/v1/institutions/INST-1/enrolments/{}/approve",
            id_of(n)
        )
    };
    let r = hr.post(&approve(71), json!({})).await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (200, Some("approved")),
        "{r:?}"
    );
    assert_eq!(r.body["on_roster"], "医务人员");
    let r = hr.post(&approve(71), json!({})).await;
    assert_eq!(r.status, 200, "approving again answers the same: {r:?}");
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(l["counts"]["staff"], 1, "{l}");
    assert_eq!(
        (
            line(&l, 71)["state"].as_str(),
            line(&l, 71)["on_duty"].as_bool()
        ),
        (Some("covered"), Some(true))
    );
    // Person 73 was never registered: registered now, with a personal code; never tested.
    let r = hr.post(&approve(73), json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let l = ledger(&hr, "INST-1", "").await;
    assert_eq!(line(&l, 73)["state"], "never_tested");
    assert_eq!(line(&l, 73)["class"], "行政后勤");
    // Rejected with a reason; approving it then is a conflict.
    let reject = format!(
        "/api/v1/institutions/INST-1/enrolments/{}/reject",
        id_of(72)
    );
    let r = hr.post(&reject, json!({"reason": ""})).await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = hr.post(&reject, json!({"reason": "非本院员工"})).await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (200, Some("rejected")),
        "{r:?}"
    );
    let r = hr.post(&approve(72), json!({})).await;
    assert_eq!((r.status, r.code()), (409, "enrolment.decided"), "{r:?}");
    let r = hr
        .get("/api/v1/institutions/INST-1/enrolments?state=rejected")
        .await;
    assert_eq!(r.body[0]["reason"], "非本院员工", "{r:?}");
    // One person, two institutions: 71 also works at the second hospital and registers there;
    // both ledgers carry them, each covered by the same negative.
    let r = hr2
        .post("/api/v1/institutions/INST-2/enrolment-link", json!({}))
        .await;
    let other = format!("/api/v1/public/join/{}", r.body["token"].as_str().unwrap());
    let r = public.post(&other, applicant(71, "医务人员")).await;
    assert_eq!(r.status, 202, "{r:?}");
    let r = hr2.get("/api/v1/institutions/INST-2/enrolments").await;
    let id2 = r.body[0]["id"].as_i64().unwrap();
    let r = hr2
        .post(
            &format!("/api/v1/institutions/INST-2/enrolments/{id2}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let l2 = ledger(&hr2, "INST-2", "").await;
    assert_eq!(line(&l2, 71)["state"], "covered", "{l2}");
    assert_eq!(
        line(&ledger(&hr, "INST-1", "").await, 71)["state"],
        "covered"
    );
    // Person 72 may register again (the rejected request is no longer pending).
    let r = public.post(&join, applicant(72, "医务人员")).await;
    assert_eq!(r.status, 202, "{r:?}");

    // Each step is in the audit trail: who sent, who decided, who joined.
    assert_eq!(
        a.count("SELECT COUNT(*) FROM audit_log WHERE action = 'enrolment.submit' AND actor LIKE 'public@%'").await,
        5
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.join' AND actor = 'hr-1'")
            .await,
        2
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM audit_log WHERE action IN ('enrolment.approve', 'enrolment.reject')").await,
        4
    );

    // A new poster: the old QR code says it was replaced, and whom to ask.
    let r = hr
        .post(
            "/api/v1/institutions/INST-1/enrolment-link",
            json!({"renew": true}),
        )
        .await;
    let fresh = r.body["token"].as_str().unwrap().to_string();
    assert_ne!(fresh, token);
    let r = public.post(&join, applicant(74, "医务人员")).await;
    assert_eq!(
        (r.status, r.code()),
        (410, "enrolment.link_replaced"),
        "{r:?}"
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("010-88888888"),
        "{r:?}"
    );
    let join = format!("/api/v1/public/join/{fresh}");
    // Thirty requests from one address within ten minutes (five are recorded already; the
    // repeat of 71 was not a new one); the next waits.
    for n in 0..25 {
        let r = public.post(&join, applicant(200 + n, "医务人员")).await;
        assert_eq!(r.status, 202, "{n}: {r:?}");
    }
    let r = public.post(&join, applicant(300, "医务人员")).await;
    assert_eq!((r.status, r.code()), (429, "enrolment.too_many"), "{r:?}");
}
