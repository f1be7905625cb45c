//! Turnaround against the deadline, on SQLite and on PostgreSQL: a pool's night from
//! collection to release and its member's re-check, as the timeline, the at-risk list, the
//! capacity view and the report see it; then synthetic timelines at the edges — exactly 12 h,
//! the UTC+8 day boundary, a re-test across midnight, a re-check re-sampled hours later.

mod common;

use common::lab;
use common::{person, Db, TestApp};
use natlis::domain::policy::Role;
use natlis::service::turnaround_report::fold;
use natlis::synth::Shape;
use serde_json::{json, Value};

on_both_databases!(
    a_pool_and_its_recheck_against_the_deadline,
    synthetic_timelines_at_the_edges,
    two_nodes_fold_without_counting_twice,
);

const HOUR: i64 = 3_600_000_000;

async fn single(app: &TestApp, barcode: &str, n: u32, category: &str, hours_ago: i64) {
    let collected = chrono::Utc::now() - chrono::Duration::hours(hours_ago);
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": category, "collected_at": collected.to_rfc3339(), "people": [person(n)]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
}

/// Fills a 96-well plate by proposal and imports a synthetic export; returns the plate.
async fn run_plate(tech: &TestApp, shape: impl Fn(&str) -> Shape) -> String {
    let (plate, layout) = lab::filled_plate(tech, "KH-ORF1AB-N").await;
    lab::import(tech, &plate, "KH-ORF1AB-N", &layout, None, shape).await;
    plate
}

async fn at_risk(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/turnaround/at-risk{query}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body.as_array().unwrap().clone()
}

fn find<'a>(items: &'a [Value], barcode: &str, kind: &str) -> Option<&'a Value> {
    items
        .iter()
        .find(|i| i["barcode"] == barcode && i["kind"] == kind)
}

async fn report(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/turnaround/report{query}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    let mut v = r.body;
    v.as_object_mut().unwrap().remove("generated_at");
    v
}

/// A file the API answers with (CSV, XLSX), as bytes.
async fn download(app: &TestApp, path: &str) -> Vec<u8> {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    r.bytes().await.unwrap().to_vec()
}

async fn a_pool_and_its_recheck_against_the_deadline(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let tech = admin.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = admin.as_new("rev-a", Role::LabReviewer, "LAB-A").await;

    // Deadlines are settings: fever clinics get 4 h here.
    let mut settings = admin.get("/api/v1/settings").await.body;
    assert_eq!(settings["deadline_hours"]["urgent"], 6);
    settings["deadline_hours"]["urgent"] = json!(4);
    let r = admin.put("/api/v1/settings", settings.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    settings["deadline_hours"]["urgent"] = json!(0);
    let r = admin.put("/api/v1/settings", settings).await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.body["error"]["field"], "deadline_hours");

    // A pool collected 11 h ago (due in 1 h), a fever-clinic tube now (due in 4 h), a
    // voluntary tube (due in 24 h), and a tube still on its way.
    admin.filled_pool("P1", 10, 1..=10).await;
    let eleven = chrono::Utc::now().timestamp_micros() - 11 * HOUR;
    sqlx::query("UPDATE tube SET collected_at = $1, clock_start_at = $1, deadline_at = $2 WHERE barcode = 'P1'")
        .bind(eleven)
        .bind(eleven + 12 * HOUR)
        .execute(admin.store.writer())
        .await
        .unwrap();
    single(&admin, "FEVER", 21, "fever_clinic", 0).await;
    single(&admin, "VOL", 22, "voluntary", 0).await;
    single(&admin, "TRANSIT", 23, "outpatient", 11).await;
    for b in ["P1", "FEVER", "VOL"] {
        admin.receive_at_lab_a(b).await;
    }
    let t = admin.get("/api/v1/tubes/FEVER/timeline").await;
    assert_eq!(t.status, 200, "{t:?}");
    let started =
        chrono::DateTime::parse_from_rfc3339(t.body["clock_start_at"].as_str().unwrap()).unwrap();
    let due =
        chrono::DateTime::parse_from_rfc3339(t.body["deadline_at"].as_str().unwrap()).unwrap();
    assert_eq!(due - started, chrono::Duration::hours(4));
    assert_eq!(t.body["stage"], "queue");

    // At risk within 2 h: the pool (waiting for a plate) and the tube on its way; not the
    // others.
    let risk = at_risk(&tech, "").await;
    let pool = find(&risk, "P1", "tube").expect("the pool is at risk");
    assert_eq!(pool["stage"], "queue");
    assert_eq!(pool["people"], 10);
    assert!(pool["remaining_minutes"].as_i64().unwrap() <= 60);
    assert_eq!(
        find(&risk, "TRANSIT", "tube").unwrap()["stage"],
        "transport"
    );
    assert!(find(&risk, "FEVER", "tube").is_none());
    assert!(find(&risk, "VOL", "tube").is_none());
    assert_eq!(risk[0]["barcode"], "P1", "most urgent first: {risk:?}");
    // A wider margin takes the fever-clinic tube in too; a bad margin is refused.
    assert!(find(
        &at_risk(&tech, "?margin_minutes=240").await,
        "FEVER",
        "tube"
    )
    .is_some());
    let r = tech
        .get("/api/v1/turnaround/at-risk?margin_minutes=-5")
        .await;
    assert_eq!(r.status, 422, "{r:?}");

    // Capacity: three tubes waiting for a plate, one in transit; at 4 instruments and 3 h a
    // plate, the pool misses its deadline, the fever-clinic tube makes it.
    let c = tech.get("/api/v1/turnaround/capacity").await;
    assert_eq!(c.status, 200, "{c:?}");
    assert_eq!(c.body["waiting"], 3);
    assert_eq!(c.body["in_transit"], 1);
    assert_eq!(c.body["at_capacity"]["plates_needed"], 1);
    assert_eq!(
        c.body["at_capacity"]["forecast_breaches"], 1,
        "the pool is due in 1 h, a plate takes 3 h: {c:?}"
    );

    // On a plate, imported: P1 positive, the rest negative.
    let plate = run_plate(&tech, |b| match b {
        "P1" => Shape::Positive(30.0),
        _ => Shape::Negative(28.0),
    })
    .await;
    let t = admin.get("/api/v1/tubes/P1/timeline").await.body;
    assert_eq!(t["stage"], "review");
    assert!(
        t["placed_at"].is_string() && t["imported_at"].is_string(),
        "{t}"
    );
    assert_eq!(
        find(&at_risk(&tech, "").await, "P1", "tube").unwrap()["stage"],
        "review"
    );

    // Released: negatives in bulk, the pool positive → its members owe a new swab by the
    // pool's deadline, and they are on the at-risk list in the re-collection stage.
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let q = reviewer
        .get(&format!("/api/v1/review?plate={plate}"))
        .await
        .body;
    let p1 = q
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["barcode"] == "P1")
        .unwrap();
    let r = reviewer
        .post(
            &format!("/api/v1/attempts/{}/decision", p1["attempt"]),
            json!({"decision": "release", "value": "positive"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let risk = at_risk(&tech, "").await;
    assert!(find(&risk, "P1", "tube").is_none(), "released: {risk:?}");
    let orders: Vec<&Value> = risk
        .iter()
        .filter(|i| i["kind"] == "resample_order")
        .collect();
    assert_eq!(orders.len(), 10, "{risk:?}");
    assert!(orders
        .iter()
        .all(|o| o["barcode"] == "P1" && o["stage"] == "recollect"));
    assert!(orders[0]["person"]["doc_no"]
        .as_str()
        .unwrap()
        .contains("****"));
    let t = admin.get("/api/v1/tubes/P1/timeline").await.body;
    assert_eq!(t["within_deadline"], true);
    assert!(t["released_at"].is_string());

    // Member 4 is swabbed again: the new tube keeps the pool's clock and deadline.
    single(&admin, "RE-4", 4, "mass_screening", 0).await;
    let re = admin.get("/api/v1/tubes/RE-4/timeline").await.body;
    let pool = admin.get("/api/v1/tubes/P1/timeline").await.body;
    assert_eq!(re["clock_start_at"], pool["clock_start_at"]);
    assert_eq!(re["deadline_at"], pool["deadline_at"]);
    assert_eq!(re["stage"], "transport");
    assert!(
        re["stage_minutes"][0]["minutes"].as_f64().unwrap() >= 659.0,
        "{re}"
    );

    // The report counts what happened, the same before and after the rollup has counted it.
    // (Yesterday to tomorrow in the lab's UTC+8: the pool's collection may be yesterday.)
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let period = format!(
        "?from={}&to={}",
        today.pred_opt().unwrap(),
        today.succ_opt().unwrap()
    );
    let before = report(&tech, &period).await;
    let total = &before["total"];
    assert_eq!(total["released"], 3, "{before}");
    assert_eq!(total["within_deadline"], 3);
    assert_eq!(total["share_within_deadline"], 1.0);
    // TRANSIT and RE-4 are under way; TRANSIT was collected 11 h ago and is not yet due.
    assert_eq!(total["pending"], 2);
    assert!(total["turnaround_p99_minutes"].as_i64().unwrap() >= 11 * 60);
    assert!(total["stage_minutes"]["run"].is_number());
    let looked = fold(&admin.store, 5000).await.unwrap();
    assert!(looked >= 3, "{looked}");
    assert_eq!(
        fold(&admin.store, 5000).await.unwrap(),
        0,
        "nothing left to count"
    );
    assert_eq!(report(&tech, &period).await, before);
    assert!(admin.count("SELECT COUNT(*) FROM turnaround_rollup").await >= 2);
    // Filters: by category, priority, site; unknown values are refused by name.
    let fever = report(&tech, &format!("{period}&category=fever_clinic")).await;
    assert_eq!(fever["total"]["released"], 1);
    // Routine: the mass-screening pool and the voluntary tube.
    let routine = report(&tech, &format!("{period}&priority=routine")).await;
    assert_eq!(routine["total"]["released"], 2);
    assert_eq!(
        report(&tech, &format!("{period}&site=S02")).await["total"]["tubes"],
        0
    );
    for (q, field) in [
        ("?category=cats", "category"),
        ("?priority=soon", "priority"),
        ("?from=yesterday", "from"),
        ("?format=pdf", "format"),
    ] {
        let r = tech.get(&format!("/api/v1/turnaround/report{q}")).await;
        assert_eq!(r.status, 422, "{q}: {r:?}");
        assert_eq!(r.body["error"]["field"], field);
    }
    // CSV and XLSX carry the same rows.
    let text = String::from_utf8(
        download(
            &tech,
            &format!("/api/v1/turnaround/report{period}&format=csv"),
        )
        .await,
    )
    .unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("granularity,start,tubes,released,within_deadline"));
    assert!(lines.next().unwrap().starts_with("total,"));
    assert!(text.lines().any(|l| l.starts_with("day,")));
    let bytes = download(
        &tech,
        &format!("/api/v1/turnaround/report{period}&format=xlsx"),
    )
    .await;
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("Turnaround").unwrap();
    let rows: Vec<_> = sheet.rows().collect();
    let header = rows.iter().position(|r| r[0] == "granularity").unwrap();
    assert_eq!(rows[header + 1][0].to_string(), "total");
    assert_eq!(rows[header + 1][3].to_string(), "3", "released");

    // Every mark was made in the step's transaction: the audit trail has the steps.
    assert!(
        admin
            .count("SELECT COUNT(*) FROM audit_log WHERE action = 'result.release'")
            .await
            >= 3
    );
}

/// Rewrites a tube's timeline (µs since the epoch; None leaves a step out).
#[allow(clippy::too_many_arguments)]
async fn set_timeline(
    app: &TestApp,
    barcode: &str,
    clock_start: i64,
    collected: i64,
    deadline_hours: i64,
    received: Option<i64>,
    placed: Option<i64>,
    imported: Option<i64>,
    released: Option<i64>,
) {
    sqlx::query(
        "UPDATE tube SET clock_start_at = $1, collected_at = $2, deadline_at = $3, received_at = $4, \
         placed_at = $5, loaded_at = $5, imported_at = $6, released_at = $7, \
         status = CASE WHEN $4 IS NULL THEN status ELSE 'received' END, lab_id = 1, \
         fold_pending = 1, folded = 0 WHERE barcode = $8",
    )
    .bind(clock_start)
    .bind(collected)
    .bind(clock_start + deadline_hours * HOUR)
    .bind(received)
    .bind(placed)
    .bind(imported)
    .bind(released)
    .bind(barcode)
    .execute(app.store.writer())
    .await
    .unwrap();
}

async fn synthetic_timelines_at_the_edges(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let reviewer = admin.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    for (i, b) in ["EXACT", "LATE", "MIDNIGHT", "RECHECK", "OPEN"]
        .iter()
        .enumerate()
    {
        single(&admin, b, 30 + i as u32, "outpatient", 0).await;
    }
    // 2025-11-23 16:00 UTC is midnight of 2025-11-24 in UTC+8.
    let midnight = chrono::DateTime::parse_from_rfc3339("2025-11-24T00:00:00+08:00")
        .unwrap()
        .timestamp_micros();
    let m = 60_000_000;
    // Collected at local midnight, released exactly 12 h later: in time, on the 24th.
    set_timeline(
        &admin,
        "EXACT",
        midnight,
        midnight,
        12,
        Some(midnight + HOUR),
        Some(midnight + 2 * HOUR),
        Some(midnight + 4 * HOUR),
        Some(midnight + 12 * HOUR),
    )
    .await;
    // Collected a second before local midnight, released 12 h + 1 µs later: late, in review,
    // counted on the 23rd.
    let c = midnight - 1_000_000;
    set_timeline(
        &admin,
        "LATE",
        c,
        c,
        12,
        Some(c + HOUR),
        Some(c + 2 * HOUR),
        Some(c + 4 * HOUR),
        Some(c + 12 * HOUR + 1),
    )
    .await;
    // Collected 20:00 local on the 24th, first placed 22:00, re-tested, last import 02:00 and
    // released 03:00 on the 25th: 7 h, in time, with 4 h in the run stage.
    let c = midnight + 20 * HOUR;
    set_timeline(
        &admin,
        "MIDNIGHT",
        c,
        c,
        12,
        Some(c + HOUR),
        Some(c + 2 * HOUR),
        Some(c + 6 * HOUR),
        Some(c + 7 * HOUR),
    )
    .await;
    // A pool collected 01:00 on the 24th; its member re-swabbed 8 h later, received at
    // 10:00, placed 11:00, imported 13:15, released 13:30: 12.5 h from the pool's collection,
    // late — the deadline passed during the run.
    let pool = midnight + HOUR;
    set_timeline(
        &admin,
        "RECHECK",
        pool,
        pool + 8 * HOUR,
        12,
        Some(pool + 9 * HOUR),
        Some(pool + 10 * HOUR),
        Some(pool + 12 * HOUR + 15 * m),
        Some(pool + 12 * HOUR + 30 * m),
    )
    .await;
    // Collected 03:00 on the 24th and never received: under way past its deadline, stuck in
    // transport.
    let c = midnight + 3 * HOUR;
    set_timeline(&admin, "OPEN", c, c, 12, None, None, None, None).await;

    let r = report(&reviewer, "?from=2025-11-23&to=2025-11-25").await;
    let total = &r["total"];
    assert_eq!(total["tubes"], 5, "{r}");
    assert_eq!(total["released"], 4);
    assert_eq!(total["within_deadline"], 2);
    assert_eq!(total["share_within_deadline"], 0.5);
    assert_eq!(total["pending"], 1);
    assert_eq!(total["pending_overdue"], 1);
    assert_eq!(total["breaches"]["total"], 3);
    assert_eq!(total["breaches"]["review"], 1, "LATE");
    assert_eq!(total["breaches"]["run"], 1, "RECHECK");
    assert_eq!(total["breaches"]["transport"], 1, "OPEN");
    // Days in local time: LATE on the 23rd, the rest on the 24th.
    let days: Vec<(String, i64)> = r["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["start"].as_str().unwrap()[..10].to_string(),
                d["tubes"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(days, [("2025-11-23".into(), 1), ("2025-11-24".into(), 4)]);
    // Hours in local time too.
    let hours: Vec<String> = r["by_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["start"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hours[0], "2025-11-23T23:00:00+08:00");
    assert_eq!(hours[1], "2025-11-24T00:00:00+08:00");
    assert!(hours.contains(&"2025-11-24T20:00:00+08:00".to_string()));
    // Stage means over the four released tubes: the re-check waited 8 h for its swab.
    let s = &total["stage_minutes"];
    assert_eq!(s["recollect"], 120.0, "480 min / 4: {s}");
    // One day only, by local date: the 23rd holds LATE alone.
    let d23 = report(&reviewer, "?from=2025-11-23").await;
    assert_eq!(d23["total"]["tubes"], 1);
    assert_eq!(d23["total"]["breaches"]["review"], 1);

    // The rollup gives the same report.
    fold(&admin.store, 2).await.unwrap();
    assert_eq!(
        report(&reviewer, "?from=2025-11-23&to=2025-11-25").await["total"],
        r["total"],
        "half folded"
    );
    while fold(&admin.store, 2).await.unwrap() > 0 {}
    let after = report(&reviewer, "?from=2025-11-23&to=2025-11-25").await;
    assert_eq!(after, r);
    // Percentiles: 7 h, 12 h, 12 h 0.000001, 12.5 h → p50 is the 12 h bucket's upper edge.
    assert_eq!(after["total"]["turnaround_p50_minutes"], 12 * 60 + 5);
    assert_eq!(after["total"]["turnaround_p99_minutes"], 12 * 60 + 35);

    // The CSV of these timelines, the same on both databases.
    let csv = String::from_utf8(
        download(
            &reviewer,
            "/api/v1/turnaround/report?from=2025-11-23&to=2025-11-25&format=csv",
        )
        .await,
    )
    .unwrap();
    insta::assert_snapshot!("turnaround_edges_csv", csv);

    // Histograms grow by appending; a long one is compacted when its row is next touched.
    let padding = ",144:0".repeat(400);
    sqlx::query(&format!(
        "UPDATE turnaround_rollup SET hist = hist || '{padding}'"
    ))
    .execute(admin.store.writer())
    .await
    .unwrap();
    assert_eq!(
        report(&reviewer, "?from=2025-11-23&to=2025-11-25").await,
        after
    );

    // The push stage: an acknowledgement later is counted once, by the rollup too.
    sqlx::query("UPDATE tube SET acked_at = released_at + 90000000, fold_pending = 1 WHERE barcode = 'EXACT'")
        .execute(admin.store.writer())
        .await
        .unwrap();
    let live = report(&reviewer, "?from=2025-11-23&to=2025-11-25").await;
    assert_eq!(live["total"]["stage_minutes"]["push"], 1.5);
    while fold(&admin.store, 100).await.unwrap() > 0 {}
    let folded = report(&reviewer, "?from=2025-11-23&to=2025-11-25").await;
    assert_eq!(folded, live);
    assert_eq!(folded["total"]["released"], 4, "released once");
    let shortest = admin
        .count("SELECT MIN(LENGTH(hist)) FROM turnaround_rollup")
        .await;
    assert!(shortest < 100, "the touched row was compacted: {shortest}");
}

/// Two app nodes fold side by side (on PostgreSQL each takes its tubes with SKIP LOCKED); every
/// tube is counted once.
async fn two_nodes_fold_without_counting_twice(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let reviewer = admin.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    for i in 0..60 {
        single(&admin, &format!("N{i:02}"), 100 + i, "outpatient", 0).await;
    }
    // Released 1 to 13 hours after collection (deadline 12 h): some late, in review.
    sqlx::query(
        "UPDATE tube SET clock_start_at = collected_at, received_at = collected_at + 3600000000, \
         placed_at = collected_at + 7200000000, loaded_at = collected_at + 7200000000, \
         imported_at = collected_at + 9000000000, \
         released_at = collected_at + 9000000000 + (id % 13) * 1800000000, \
         status = 'received', lab_id = 1, fold_pending = 1",
    )
    .execute(admin.store.writer())
    .await
    .unwrap();
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let period = format!(
        "?from={}&to={}",
        today.pred_opt().unwrap(),
        today.succ_opt().unwrap()
    );
    let live = report(&reviewer, &period).await;
    assert_eq!(live["total"]["released"], 60, "{live}");
    let other = admin.another_node().await;
    let drain = |store: natlis::store::Store| async move {
        let mut n = 0;
        loop {
            match fold(&store, 7).await.unwrap() {
                0 => return n,
                k => n += k,
            }
        }
    };
    let (a, b) = tokio::join!(drain(admin.store.clone()), drain(other.store.clone()));
    assert!(a + b >= 60, "{a} + {b}");
    assert_eq!(
        admin
            .count("SELECT CAST(SUM(released) AS BIGINT) FROM turnaround_rollup")
            .await,
        60
    );
    assert_eq!(report(&reviewer, &period).await, live);
}
