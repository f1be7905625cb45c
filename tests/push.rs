//! Pushing statuses to the health-code platform, against a real local HTTP receiver that
//! misbehaves on purpose (500s, timeouts, dropped connections, down for a while, a refusal)
//! and a real PostgreSQL table: every status arrives exactly once per version by key, and in
//! order. On SQLite and on PostgreSQL.

mod common;

use common::receiver::{Misbehave, Received, Receiver, KEY, TOKEN};
use common::{Db, TestApp};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

on_both_databases!(
    statuses_arrive_once_per_version_in_order_through_outages,
    two_workers_never_send_one_message_twice_and_a_killed_one_is_taken_over,
    a_slow_answer_holds_one_request_not_the_queue,
    after_an_outage_the_queue_drains_with_its_attempts_unspent,
);

async fn messages(app: &TestApp, status: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/push/messages?status={status}"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["messages"].as_array().unwrap().clone()
}

async fn wait_until<F, Fut>(what: &str, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..600 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn statuses_arrive_once_per_version_in_order_through_outages(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let got = Arc::new(Mutex::new(Received::default()));
    use Misbehave::*;
    let receiver = Receiver::start(
        0,
        vec![Error500, Error500, Hang, Drop, Error500, Drop],
        got.clone(),
    )
    .await;
    let r = app
        .post(
            "/api/v1/push/sinks",
            json!({"name": "bj-health-code", "region_prefix": "11", "kind": "fhir_http",
                   "url": format!("http://127.0.0.1:{}/fhir", receiver.port),
                   "token": TOKEN, "hmac_key": KEY, "batch_size": 4, "max_attempts": 50}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert!(
        r.body.get("token").is_none(),
        "secrets are never shown back"
    );
    // The platform's own database, as a second sink.
    let table_db = common::fresh_pg_database().await;
    let r = app
        .post(
            "/api/v1/push/sinks",
            json!({"name": "bj-table", "region_prefix": "1101", "kind": "pg_table", "url": table_db}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // A sink nobody answers: its messages are dead-lettered after 2 attempts.
    let r = app
        .post(
            "/api/v1/push/sinks",
            json!({"name": "nowhere", "region_prefix": "110108", "kind": "fhir_http",
                   "url": "http://127.0.0.1:9/fhir", "max_attempts": 2}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    natlis::worker::push::spawn_worker(
        app.store.clone(),
        natlis::worker::push::Config {
            every: Duration::from_millis(20),
            timeout: Duration::from_millis(300),
            backoff: Duration::from_millis(30),
            lease: Duration::from_secs(2),
            parallel: 2,
            ..Default::default()
        },
    );

    // Ten people in a pool whose tube is rejected: each needs re-sampling (version 1); each is
    // then re-sampled singly (version 2: no result yet).
    app.filled_pool("P1", 10, 1..=10).await;
    app.receive_at_lab_a("P1").await;
    // One person's document the platform refuses, for now.
    let refused = {
        let doc = common::id_number(7);
        let (uid,): (String,) = sqlx::query_as("SELECT uid FROM person WHERE doc_no = $1")
            .bind(doc)
            .fetch_one(app.store.reader())
            .await
            .unwrap();
        uid
    };
    got.lock().unwrap().refuse = Some(refused.clone());
    app.reject_leaking("P1").await;
    // The receiver goes down for a while in the middle.
    wait_until("every misbehaviour happened", || async {
        receiver.script.lock().unwrap().is_empty()
    })
    .await;
    receiver.down();
    app.swabbed_singly(1..=10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Back up on the same port.
    let receiver = Receiver::start(receiver.port, vec![], got.clone()).await;

    // Everything but the refused person arrives; the refused one is kept with the answer.
    wait_until("the refused message fails", || async {
        messages(&app, "failed").await.len() == 2
    })
    .await;
    let failed = messages(&app, "failed").await;
    assert!(
        failed.iter().all(|m| m["key"] == refused.as_str()),
        "{failed:?}"
    );
    assert!(failed[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("HTTP 422"));
    let r = app.get("/api/v1/push/messages?status=lost").await;
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.body["error"]["field"], "status");
    // Version 2 waited behind version 1 until it was settled; both were refused, each alone.
    // The sink nobody answers: after a few failures its breaker opens, and from then on its
    // messages spend no attempts (a probe's is given back): they wait for it, none delivered.
    let nowhere = || async {
        let r = app.get("/api/v1/push/messages?limit=1000").await;
        let ms: Vec<Value> = r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["sink"] == "nowhere")
            .cloned()
            .collect();
        let spent: i64 = ms
            .iter()
            .filter(|m| m["status"] != "sending")
            .map(|m| m["attempts"].as_i64().unwrap())
            .sum();
        (ms, spent)
    };
    wait_until("every version reached the down sink's queue", || async {
        let (ms, _) = nowhere().await;
        ms.len() == 20
            && ms
                .iter()
                .all(|m| m["status"] != "waiting" || m["version"] == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (before, spent) = nowhere().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (after, spent_later) = nowhere().await;
    assert!(
        spent_later <= spent,
        "no attempts spent while it is down: {spent} → {spent_later}"
    );
    for m in before.iter().chain(&after) {
        assert!(m["attempts"].as_i64().unwrap() <= 2, "{m}");
        assert_ne!(m["status"], "delivered", "{m}");
    }
    // The platform accepts the document now: an admin re-sends, same key and versions.
    got.lock().unwrap().refuse = None;
    // Re-sending the newest version takes the earlier one along, first.
    let newest = failed.iter().max_by_key(|m| m["version"].as_i64()).unwrap();
    let resend = format!("/api/v1/push/messages/{}/resend", newest["id"]);
    let r = app.post(&resend, json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["requeued"], 2);
    let r = app.post(&resend, json!({})).await;
    assert_eq!((r.status, r.code()), (409, "push.not_resendable"), "{r:?}");
    wait_until(
        "every message to the receiver and the table is delivered",
        || async { messages(&app, "delivered").await.len() == 40 },
    )
    .await;
    {
        let g = got.lock().unwrap();
        assert_eq!(g.accepted.len(), 10, "{:?}", g.accepted);
        for (key, versions) in &g.accepted {
            assert_eq!(
                versions,
                &vec![1, 2],
                "{key}: exactly once per version, in order"
            );
        }
        assert_eq!(g.bad_signatures, 0);
        assert_eq!(
            g.invalid,
            Vec::<String>::new(),
            "every bundle is valid FHIR R4"
        );
    }
    receiver.down();
    // The table sink holds the newest version of each person.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&table_db).await.unwrap();
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT person_key, version, status FROM natlis_health_code ORDER BY person_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter().all(|(_, v, s)| *v == 2 && s == "no_result"),
        "{rows:?}"
    );
    // The statuses the messages carried.
    let r = app
        .get(&format!("/api/v1/push/messages?person={refused}"))
        .await;
    assert_eq!(r.body["messages"].as_array().unwrap().len(), 6, "{r:?}");
    let states: Vec<(i64, &str, &str)> = r.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_i64().unwrap(),
                m["sink"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        states.contains(&(2, "bj-health-code", "delivered")),
        "{states:?}"
    );
    assert!(
        states
            .iter()
            .all(|(_, sink, status)| *sink != "nowhere" || *status != "delivered"),
        "{states:?}"
    );
    // Every message, a page of 7 at a time: each once, newest first, and the last page says so.
    let mut ids: Vec<i64> = vec![];
    let mut page = "/api/v1/push/messages?limit=7".to_string();
    loop {
        let r = app.get(&page).await;
        assert_eq!(r.status, 200, "{r:?}");
        let got = r.body["messages"].as_array().unwrap();
        assert!(got.len() <= 7);
        ids.extend(got.iter().map(|m| m["id"].as_i64().unwrap()));
        match r.body["next_before"].as_i64() {
            Some(before) => page = format!("/api/v1/push/messages?limit=7&before={before}"),
            None => break,
        }
    }
    let total = app.count("SELECT COUNT(*) FROM outbox").await;
    assert_eq!(ids.len() as i64, total);
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, none twice"
    );
    let r = app.get("/api/v1/push/messages?limit=5&offset=5").await;
    assert_eq!(
        r.body["messages"][0]["id"].as_i64(),
        Some(ids[5]),
        "offset skips"
    );
    let r = app.get("/api/v1/push/messages?limit=0").await;
    assert_eq!((r.status, r.code()), (422, "invalid.limit"), "{r:?}");
    let r = app.get("/api/v1/push/messages?limit=5000").await;
    assert_eq!((r.status, r.code()), (422, "invalid.limit"), "{r:?}");
}

fn fast() -> natlis::worker::push::Config {
    natlis::worker::push::Config {
        every: Duration::from_millis(10),
        timeout: Duration::from_millis(500),
        backoff: Duration::from_millis(20),
        lease: Duration::from_millis(800),
        parallel: 2,
        ..Default::default()
    }
}

async fn two_workers_never_send_one_message_twice_and_a_killed_one_is_taken_over(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let got = Arc::new(Mutex::new(Received::default()));
    // The receiver first takes a request and never answers it (the worker sending it is
    // killed meanwhile); then it answers everything.
    let receiver = Receiver::start(0, vec![Misbehave::Hang], got.clone()).await;
    let r = app
        .post(
            "/api/v1/push/sinks",
            json!({"name": "hc", "region_prefix": "", "kind": "fhir_http",
                   "url": format!("http://127.0.0.1:{}/fhir", receiver.port),
                   "token": TOKEN, "hmac_key": KEY, "batch_size": 7}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // A worker that will be killed mid-batch: its request hangs; its lease runs out.
    let doomed = natlis::worker::push::spawn_worker(
        app.store.clone(),
        natlis::worker::push::Config {
            timeout: Duration::from_secs(60),
            // One request under way: the hung one (a second, answered but not yet settled when
            // the worker is killed, would rightly be sent again).
            parallel: 1,
            ..fast()
        },
    );
    app.rejected_pool("P1", 20, 1..=20).await;
    wait_until("the doomed worker is sending", || async {
        receiver.script.lock().unwrap().is_empty()
    })
    .await;
    doomed.abort();
    assert!(!messages(&app, "sending").await.is_empty());
    // Two workers take over — on PostgreSQL, two nodes on one database.
    let other = app.another_node().await;
    natlis::worker::push::spawn_worker(app.store.clone(), fast());
    natlis::worker::push::spawn_worker(other.store.clone(), fast());
    app.swabbed_singly(1..=20).await;
    wait_until("all 40 delivered", || async {
        messages(&app, "delivered").await.len() == 40
    })
    .await;
    let g = got.lock().unwrap();
    assert_eq!(g.accepted.len(), 20);
    assert!(
        g.accepted.values().all(|v| v == &vec![1, 2]),
        "{:?}",
        g.accepted
    );
    // The hung request was never taken by the receiver; its messages were sent again after the
    // dead worker's lease ran out, and no message went out twice from the two live workers.
    assert_eq!(
        g.invalid,
        Vec::<String>::new(),
        "every bundle is valid FHIR R4"
    );
    assert_eq!(g.duplicates, 0, "{:?}", g.accepted);
}

/// A sink taking one message per request, four at once: the receiver holds one person's
/// requests for two seconds; everyone else's arrive meanwhile.
async fn a_slow_answer_holds_one_request_not_the_queue(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let got = Arc::new(Mutex::new(Received::default()));
    let receiver = Receiver::start(0, vec![], got.clone()).await;
    let r = app
        .post(
            "/api/v1/push/sinks",
            json!({"name": "hc", "region_prefix": "", "kind": "fhir_http", "url": receiver.url(),
                   "token": TOKEN, "hmac_key": KEY, "batch_size": 1, "in_flight": 4}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.body["in_flight"], 4);
    app.filled_pool("P1", 10, 1..=10).await;
    app.receive_at_lab_a("P1").await;
    let (slow,): (String,) = sqlx::query_as("SELECT uid FROM person WHERE doc_no = $1")
        .bind(common::id_number(3))
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    got.lock().unwrap().slow_key = Some((slow.clone(), Duration::from_secs(2)));
    natlis::worker::push::spawn_worker(
        app.store.clone(),
        natlis::worker::push::Config {
            timeout: Duration::from_secs(5),
            ..fast()
        },
    );
    let started = std::time::Instant::now();
    app.reject_leaking("P1").await;
    wait_until("the nine others arrive", || async {
        got.lock().unwrap().accepted.len() >= 9
    })
    .await;
    {
        let g = got.lock().unwrap();
        assert!(
            !g.accepted.contains_key(&slow),
            "the others arrived while the slow one was held ({:?})",
            started.elapsed()
        );
        assert!(g.max_in_flight >= 2, "{}", g.max_in_flight);
        assert!(g.max_in_flight <= 4, "bounded: {}", g.max_in_flight);
    }
    wait_until("the slow one arrives", || async {
        got.lock().unwrap().accepted.contains_key(&slow)
    })
    .await;
    let g = got.lock().unwrap();
    assert_eq!(g.accepted.len(), 10);
    assert_eq!(g.duplicates, 0);
    assert_eq!(g.invalid, Vec::<String>::new());
}

/// The receiver is down for a while as statuses keep coming: the breaker opens after a few
/// failures and then only probes; when the receiver is back every version arrives, once and in
/// order, and the outage spent no message's attempts.
async fn after_an_outage_the_queue_drains_with_its_attempts_unspent(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let got = Arc::new(Mutex::new(Received::default()));
    let receiver = Receiver::start(0, vec![], got.clone()).await;
    let port = receiver.port;
    receiver.down();
    let r = app
        .post(
            "/api/v1/push/sinks",
            json!({"name": "hc", "region_prefix": "", "kind": "fhir_http", "url": format!("http://127.0.0.1:{port}/fhir"),
                   "token": TOKEN, "hmac_key": KEY, "batch_size": 3, "max_attempts": 4}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    natlis::worker::push::spawn_worker(
        app.store.clone(),
        natlis::worker::push::Config {
            breaker: natlis::domain::breaker::Policy {
                failures: 3,
                first_probe: Duration::from_millis(50),
                max_probe: Duration::from_millis(200),
            },
            ..fast()
        },
    );
    // Twenty people: each needs re-sampling (version 1), then is re-sampled (version 2), all
    // while the receiver is down — far more failed tries than max_attempts if each counted.
    app.rejected_pool("P1", 20, 1..=20).await;
    app.swabbed_singly(1..=20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        messages(&app, "dead").await,
        Vec::<Value>::new(),
        "nothing dies of an outage"
    );
    let back = Receiver::start(port, vec![], got.clone()).await;
    wait_until("all 40 delivered", || async {
        messages(&app, "delivered").await.len() == 40
    })
    .await;
    let delivered = messages(&app, "delivered").await;
    assert!(
        delivered
            .iter()
            .all(|m| m["attempts"].as_i64().unwrap() <= 3),
        "{delivered:?}"
    );
    let g = got.lock().unwrap();
    assert_eq!(g.accepted.len(), 20);
    assert!(
        g.accepted.values().all(|v| v == &vec![1, 2]),
        "{:?}",
        g.accepted
    );
    assert_eq!(g.duplicates, 0);
    assert_eq!(g.invalid, Vec::<String>::new());
    back.down();
}
