//! 预约 booking on SQLite and on PostgreSQL: a site's collector opens slots, the public (no
//! login) reserves a seat, confirms it, moves it, cancels it; a held seat that is never
//! confirmed is let go; two app nodes racing for the last seats never overbook a slot; a code
//! without its document reads nothing; the collector scans the booking code into a tube and the
//! person is registered from it, once; another site's collector sees no booking.

mod common;

use common::{id_number, Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::{json, Value};

on_both_databases!(
    the_public_books_and_the_collector_scans_the_code,
    two_nodes_racing_for_the_last_seats_never_overbook,
    holds_expire_and_bookings_move_and_cancel,
);

fn tomorrow() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
        + chrono::Days::new(1)
}

/// Opens tomorrow's slots at S01 from 09:00 to 10:00, 30 minutes each, `capacity` seats.
async fn open_slots(collector: &TestApp, capacity: u32) -> Vec<Value> {
    open_slots_on(collector, tomorrow(), capacity).await
}

async fn open_slots_on(collector: &TestApp, date: chrono::NaiveDate, capacity: u32) -> Vec<Value> {
    let r = collector
        .post(
            "/api/v1/sites/S01/slots",
            json!({"date": date, "from": "09:00", "to": "10:00", "minutes": 30, "capacity": capacity}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body.as_array().unwrap().clone()
}

fn at(hhmm: &str) -> String {
    format!("{}T{hhmm}:00+08:00", tomorrow())
}

async fn reserve(public: &TestApp, hhmm: &str) -> common::Resp {
    public
        .post(
            "/api/v1/public/bookings",
            json!({"site": "S01", "starts_at": at(hhmm)}),
        )
        .await
}

fn someone(n: u32) -> Value {
    json!({"doc_no": id_number(n), "name": format!("预约{n}"), "phone": format!("138{:08}", n)})
}

/// Reserves and confirms a seat for person `n`: the booking code.
async fn booked(public: &TestApp, hhmm: &str, n: u32) -> String {
    let r = reserve(public, hhmm).await;
    assert_eq!(r.status, 201, "{r:?}");
    let code = r.body["code"].as_str().unwrap().to_string();
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{code}/confirm"),
            someone(n),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    code
}

async fn free_seats(public: &TestApp) -> Vec<i64> {
    let r = public
        .get(&format!(
            "/api/v1/public/sites/S01/slots?date={}",
            tomorrow()
        ))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["free"].as_i64().unwrap())
        .collect()
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(app.store.writer()).await.unwrap();
}

async fn the_public_books_and_the_collector_scans_the_code(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let collector = a.as_new("col-s01", Role::Collector, "S01").await;
    let other_site = a.as_new("col-s02", Role::Collector, "S02").await;
    let public = a.with_token("");

    // Not bookable before its collector opens slots.
    let r = public
        .get(&format!(
            "/api/v1/public/sites/S01/slots?date={}",
            tomorrow()
        ))
        .await;
    assert_eq!((r.status, r.code()), (404, "site.not_bookable"), "{r:?}");
    // Another site's collector cannot open S01's slots; the public cannot either.
    let r = other_site
        .post(
            "/api/v1/sites/S01/slots",
            json!({"date": tomorrow(), "from": "09:00", "to": "10:00", "minutes": 30, "capacity": 2}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");
    let r = public
        .post(
            "/api/v1/sites/S01/slots",
            json!({"date": tomorrow(), "from": "09:00", "to": "10:00", "minutes": 30, "capacity": 2}),
        )
        .await;
    assert_eq!(r.status, 401, "{r:?}");
    let slots = open_slots(&collector, 2).await;
    assert_eq!(slots.len(), 2, "09:00 and 09:30");
    assert_eq!(slots[0]["free"], 2);
    // Opening again keeps the slots (and their seats) as they are.
    assert_eq!(open_slots(&collector, 5).await[0]["capacity"], 2);

    // Reserve: held 10 minutes, nothing about anyone yet.
    let r = reserve(&public, "09:00").await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["state"], "reserved");
    assert!(r.body["hold_until"].is_string());
    let code = r.body["code"].as_str().unwrap().to_string();
    assert!(code.starts_with('B') && code.len() == 11, "{code}");
    assert_eq!(free_seats(&public).await, vec![1, 2]);
    // A wrong ID number is named; the seat stays held.
    let mut wrong = someone(1);
    wrong["doc_no"] = json!("110105194912310020");
    let r = public
        .post(&format!("/api/v1/public/bookings/{code}/confirm"), wrong)
        .await;
    assert_eq!((r.status, r.code()), (422, "id_number.invalid"), "{r:?}");
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{code}/confirm"),
            someone(1),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["state"], "confirmed");
    assert_eq!(r.body["hold_until"], Value::Null);
    let masked = r.body["doc_no"].as_str().unwrap();
    assert!(masked.contains('*') && masked != id_number(1), "{masked}");
    // Confirming again is the same answer.
    let again = public
        .post(
            &format!("/api/v1/public/bookings/{code}/confirm"),
            someone(1),
        )
        .await;
    assert_eq!((again.status, &again.body), (200, &r.body));

    // No enumeration: a confirmed booking without its document, a mistyped code and an unknown
    // one get the same answer.
    let no_doc = public.get(&format!("/api/v1/public/bookings/{code}")).await;
    let wrong_doc = public
        .get(&format!(
            "/api/v1/public/bookings/{code}?doc_no={}",
            id_number(2)
        ))
        .await;
    let typo = public.get("/api/v1/public/bookings/B234567892").await;
    for r in [&no_doc, &wrong_doc, &typo] {
        assert_eq!((r.status, r.code()), (404, "booking.not_found"), "{r:?}");
        assert_eq!(r.body["error"]["message"], no_doc.body["error"]["message"]);
    }
    let r = public
        .get(&format!(
            "/api/v1/public/bookings/{code}?doc_no={}",
            id_number(1)
        ))
        .await;
    assert_eq!((r.status, &r.body["state"]), (200, &json!("confirmed")));

    let second = booked(&public, "09:30", 2).await;
    // The day comes (the slots are moved to today, as the clock would).
    exec(
        &a,
        "UPDATE booking_slot SET starts_at = starts_at - 86400000000, ends_at = ends_at - 86400000000",
    )
    .await;
    // Another site's collector: no booking with this code at their site.
    let r = other_site
        .post(&format!("/api/v1/bookings/{code}/check-in"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (404, "booking.not_found"), "{r:?}");
    assert!(!r.body.to_string().contains(&id_number(1)));
    // A lab technician is not a collector.
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let r = tech
        .post(&format!("/api/v1/bookings/{code}/check-in"), json!({}))
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    // The collector scans the booking code into a pool: the person is registered from it.
    let r = collector
        .post(
            "/api/v1/tubes",
            json!({"barcode": "BK00001", "kind": "pool", "pool_size": 5, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "mass_screening"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = collector
        .post(
            "/api/v1/tubes/BK00001/members",
            json!({"code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["member_count"], 1);
    assert_eq!(r.body["added"]["position"], 1);
    // (The number bound, not written into the statement: no full ID number reaches a log.)
    let (persons,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM person WHERE doc_no = $1")
        .bind(id_number(1))
        .fetch_one(a.store.reader())
        .await
        .unwrap();
    assert_eq!(persons, 1, "the person of the booking is registered");
    let linked = a
        .count(&format!(
            "SELECT COUNT(*) FROM booking k JOIN tube t ON t.id = k.tube_id \
             WHERE k.code = '{code}' AND k.state = 'used' AND t.barcode = 'BK00001'"
        ))
        .await;
    assert_eq!(linked, 1, "the booking is used by the tube");
    // Scanned again (another tube): it was used, and says when.
    let r = collector
        .post(
            "/api/v1/tubes",
            json!({"barcode": "BK00002", "kind": "single", "sample_type": "oropharyngeal",
                   "site": "S01", "category": "mass_screening", "people": [{"code": code}]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "booking.used"), "{r:?}");
    assert_eq!(r.body["error"]["field"], "people[0].code", "{r:?}");
    assert_eq!(
        a.count("SELECT COUNT(*) FROM tube WHERE barcode = 'BK00002'")
            .await,
        0
    );

    // A second booking, checked in by hand (the pre-filled person, in full, audited), then
    // opened as a single tube with its code — refused: used.
    let r = collector
        .post(&format!("/api/v1/bookings/{second}/check-in"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["doc_no"], id_number(2));
    assert_eq!(r.body["name"], "预约2");
    let r = collector
        .post(&format!("/api/v1/bookings/{second}/check-in"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "booking.used"), "{r:?}");
    let audited = a
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'booking.check_in' AND entity_id = '{second}' \
             AND actor = 'col-s01'"
        ))
        .await;
    assert_eq!(audited, 1);

    // Every step of the first booking is in the audit trail.
    let steps = a
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE entity_type = 'booking' AND entity_id = '{code}'"
        ))
        .await;
    assert_eq!(steps, 3, "reserve, confirm, check-in");
}

async fn two_nodes_racing_for_the_last_seats_never_overbook(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let collector = a.as_new("col-s01", Role::Collector, "S01").await;
    open_slots(&collector, 5).await;
    let b = a.another_node().await;
    let (pa, pb) = (a.with_token(""), b.with_token(""));
    // Sixteen people at once, eight through each node, for five seats.
    let tries = (0..16).map(|i| {
        let node = if i % 2 == 0 { pa.clone() } else { pb.clone() };
        tokio::spawn(async move { reserve(&node, "09:00").await })
    });
    let mut answers = vec![];
    for t in tries {
        let r = t.await.unwrap();
        answers.push((r.status, r.code().to_string()));
    }
    let taken = answers.iter().filter(|(s, _)| *s == 201).count();
    let full = answers
        .iter()
        .filter(|(s, c)| *s == 409 && c == "booking.full")
        .count();
    assert_eq!((taken, full), (5, 11), "{answers:?}");
    let held = a
        .count("SELECT COUNT(*) FROM booking WHERE state = 'reserved'")
        .await;
    assert_eq!(held, 5);
    assert_eq!(free_seats(&pa).await, vec![0, 5]);
    // The database refuses an overbooking whoever writes it.
    let forced = sqlx::query("UPDATE booking_slot SET booked = capacity + 1")
        .execute(a.store.writer())
        .await;
    assert!(forced.is_err(), "the CHECK holds: {forced:?}");

    // Fifteen more holds from this address (twenty in all), and the next waits: a flood of
    // holds is throttled (refused attempts hold nothing and are not counted).
    let later = tomorrow() + chrono::Days::new(1);
    open_slots_on(&collector, later, 20).await;
    for _ in 0..15 {
        let r = pb
            .post(
                "/api/v1/public/bookings",
                json!({"site": "S01", "starts_at": format!("{later}T09:00:00+08:00")}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let r = reserve(&pa, "09:30").await;
    assert_eq!((r.status, r.code()), (429, "booking.too_many"), "{r:?}");
}

async fn holds_expire_and_bookings_move_and_cancel(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let collector = a.as_new("col-s01", Role::Collector, "S01").await;
    open_slots(&collector, 1).await;
    let public = a.with_token("");

    // A hold never confirmed: let go after its ten minutes, the seat free for the next.
    let r = reserve(&public, "09:00").await;
    assert_eq!(r.status, 201, "{r:?}");
    let lapsed = r.body["code"].as_str().unwrap().to_string();
    let r = reserve(&public, "09:00").await;
    assert_eq!((r.status, r.code()), (409, "booking.full"), "{r:?}");
    exec(
        &a,
        &format!("UPDATE booking SET hold_until = hold_until - 900000000 WHERE code = '{lapsed}'"),
    )
    .await;
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{lapsed}/confirm"),
            someone(1),
        )
        .await;
    assert_eq!((r.status, r.code()), (410, "booking.hold_expired"), "{r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("reserve again"));
    assert_eq!(free_seats(&public).await, vec![1, 1]);

    // Booked at 09:00; moving to 09:30 frees 09:00; moving back to a full slot leaves it.
    let code = booked(&public, "09:00", 1).await;
    let proof = id_number(1);
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{code}/reschedule"),
            json!({"doc_no": proof, "starts_at": at("09:30")}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body["starts_at"].as_str().unwrap().contains("T09:30"));
    assert_eq!(free_seats(&public).await, vec![1, 0]);
    let other = booked(&public, "09:00", 2).await;
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{other}/reschedule"),
            json!({"doc_no": id_number(2), "starts_at": at("09:30")}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "booking.full"), "{r:?}");
    let r = public
        .get(&format!(
            "/api/v1/public/bookings/{other}?doc_no={}",
            id_number(2)
        ))
        .await;
    assert!(
        r.body["starts_at"].as_str().unwrap().contains("T09:00"),
        "{r:?}"
    );
    assert_eq!(free_seats(&public).await, vec![0, 0]);
    // Moving someone else's booking needs their document.
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{other}/reschedule"),
            json!({"doc_no": proof, "starts_at": at("09:30")}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "booking.not_found"), "{r:?}");

    // Cancelled: the seat is free; cancelling again is the same answer.
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{code}/cancel"),
            json!({"doc_no": proof}),
        )
        .await;
    assert_eq!((r.status, &r.body["state"]), (200, &json!("cancelled")));
    let again = public
        .post(
            &format!("/api/v1/public/bookings/{code}/cancel"),
            json!({"doc_no": proof}),
        )
        .await;
    assert_eq!((again.status, &again.body), (200, &r.body));
    assert_eq!(free_seats(&public).await, vec![0, 1]);
    // A slot that has started is not taken any more.
    exec(
        &a,
        "UPDATE booking_slot SET starts_at = starts_at - 2 * 86400000000, ends_at = ends_at - 2 * 86400000000",
    )
    .await;
    let r = public
        .post(
            "/api/v1/public/bookings",
            json!({"site": "S01", "starts_at": format!("{}T09:30:00+08:00", tomorrow() - chrono::Days::new(2))}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "booking.slot_started"), "{r:?}");
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{other}/cancel"),
            json!({"doc_no": id_number(2)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "booking.too_late"), "{r:?}");
}
