//! Collection points on SQLite and on PostgreSQL: the public list shows each site's hours, whom
//! it serves and its live state — the people sampled there in the last 15 minutes, the queue its
//! staff counted and the wait that gives; its staff pause it with a note and open it again; the
//! list answers 304 to a client that has it; another site's collector changes nothing.

mod common;

use common::{Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::{json, Value};

on_both_databases!(
    a_site_shows_its_live_state_and_its_staff_set_it,
    a_flood_from_one_address_is_throttled,
);

fn point<'a>(list: &'a Value, code: &str) -> &'a Value {
    list["points"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == code)
        .unwrap_or_else(|| panic!("{code} not listed: {list}"))
}

async fn a_site_shows_its_live_state_and_its_staff_set_it(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let collector = a.as_new("col-s01", Role::Collector, "S01").await;
    let other = a.as_new("col-s02", Role::Collector, "S02").await;
    let public = a.with_token("");
    // Three people sampled at S01 just now.
    a.filled_pool("LIVE01", 10, 1..=3).await;

    let r = public.get("/api/v1/public/sites").await;
    assert_eq!(r.status, 200, "{r:?}");
    let s01 = point(&r.body, "S01");
    assert_eq!(s01["state"], "open", "open all day by default: {s01}");
    assert_eq!(s01["sampled_last_15_min"], 3);
    assert_eq!(s01["waiting"], Value::Null);
    assert_eq!(s01["serves"], json!(["public"]));
    assert_eq!(point(&r.body, "S02")["sampled_last_15_min"], 0);
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let again = public
        .send(
            public
                .client
                .get(public.url("/api/v1/public/sites"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);
    let r = public.get("/api/v1/public/sites?district=110115").await;
    assert_eq!(r.body["points"].as_array().unwrap().len(), 1, "{r:?}");
    let r = public.get("/api/v1/public/sites?district=x'").await;
    assert_eq!(r.status, 422, "{r:?}");

    // The staff count 6 waiting: at 3 in 15 minutes, a 30-minute wait.
    let r = collector
        .post("/api/v1/sites/S01/point", json!({"queue": 6}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (r.body["waiting"].as_i64(), r.body["wait_minutes"].as_i64()),
        (Some(6), Some(30))
    );
    let r = public.get("/api/v1/public/sites").await;
    assert_eq!(
        point(&r.body, "S01")["wait_minutes"],
        30,
        "the public sees it at once"
    );

    // Paused for disinfection for 20 minutes, with a note; then the hours decide again.
    let r = collector
        .post(
            "/api/v1/sites/S01/point",
            json!({"state": "paused", "minutes": 20, "note": "消杀暂停"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = public.get("/api/v1/public/sites").await;
    let s01 = point(&r.body, "S01");
    assert_eq!(
        (s01["state"].as_str(), s01["note"].as_str()),
        (Some("paused"), Some("消杀暂停"))
    );
    assert_eq!(
        s01["waiting"],
        Value::Null,
        "no queue is told of a paused point"
    );
    let r = collector
        .post("/api/v1/sites/S01/point", json!({"state": "auto"}))
        .await;
    assert_eq!((r.status, &r.body["state"]), (200, &json!("open")), "{r:?}");
    // Hours and whom it serves.
    let r = collector
        .post(
            "/api/v1/sites/S01/point",
            json!({"opening_hours": "08:00-12:00, 14:00-20:00", "serves": ["public", "key"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["serves"], json!(["public", "key"]));
    assert_eq!(r.body["opening_hours"], "08:00-12:00, 14:00-20:00");

    // Refusals: words that do not read, another site's collector, the public.
    let r = collector
        .post("/api/v1/sites/S01/point", json!({"state": "busy"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.state"), "{r:?}");
    let r = collector
        .post("/api/v1/sites/S01/point", json!({"opening_hours": "早上"}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid.opening_hours"),
        "{r:?}"
    );
    let r = collector
        .post("/api/v1/sites/S01/point", json!({"serves": ["everyone"]}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.serves"), "{r:?}");
    let r = other
        .post("/api/v1/sites/S01/point", json!({"state": "closed"}))
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = public
        .post("/api/v1/sites/S01/point", json!({"state": "closed"}))
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let audited = a
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'site.point' AND entity_id = 'S01'")
        .await;
    assert_eq!(audited, 4);
}

/// Two hundred requests at once are a burst; the next ones from the same address wait (429 with
/// Retry-After), while a logged-in caller's API and the health check are untouched.
async fn a_flood_from_one_address_is_throttled(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let public = a.with_token("");
    let mut statuses = vec![];
    for _ in 0..260 {
        let r = public
            .client
            .get(public.url("/api/v1/public/sites"))
            .send()
            .await
            .unwrap();
        let wait = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        statuses.push((r.status().as_u16(), wait));
    }
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    let throttled: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(ok >= 200, "the burst is served: {ok}");
    assert!(!throttled.is_empty(), "the flood meets the throttle");
    assert!(
        throttled.iter().all(|(_, w)| w.is_some()),
        "with Retry-After"
    );
    let r = public.get("/api/v1/public/keys").await;
    assert_eq!((r.status, r.code()), (429, "request.too_many"), "{r:?}");
    let r = a.get("/api/v1/labs").await;
    assert_eq!(
        r.status, 200,
        "a logged-in API call is not a public one: {r:?}"
    );
}
