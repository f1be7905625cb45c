//! The push worker: claims due messages from the outbox (on PostgreSQL with `FOR UPDATE SKIP
//! LOCKED`, so several nodes share the work and never send one message at the same time),
//! delivers them in batches to their sink, and records the outcome — delivered, retried later
//! with backoff and jitter, refused (kept with the receiver's answer), or dead-lettered after
//! the sink's attempts. A claim is a lease: a worker killed mid-batch leaves its messages to be
//! claimed again when the lease runs out, with the same keys and versions.

use crate::domain::push::{self, Delivery, StatusMessage};
use crate::service::push::state;
use crate::store::time::to_db;
use crate::store::{Backend, Store};
use rand::Rng;
use sqlx::FromRow;
use std::collections::HashMap;
use std::time::Duration;

/// How the worker runs.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The wait when nothing is due.
    pub every: Duration,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// The first retry's wait (doubling after each failure, at most 5 min).
    pub backoff: Duration,
    /// How long a claim holds a message before another worker may take it again.
    pub lease: Duration,
    /// Deliveries under way at once (each claims its own batch; a person's versions still go
    /// one after another).
    pub parallel: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            every: Duration::from_millis(200),
            timeout: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            parallel: 4,
        }
    }
}

#[derive(FromRow, Clone)]
struct SinkRow {
    id: i64,
    name: String,
    kind: String,
    url: String,
    token: Option<String>,
    hmac_key: Option<String>,
    batch_size: i64,
    max_attempts: i64,
}

#[derive(FromRow)]
struct Claimed {
    id: i64,
    payload: String,
    attempts: i64,
    created_at: i64,
}

/// Starts the worker: `config.parallel` delivery loops, each delivering until nothing is due,
/// then waiting `config.every`. Returns a handle that stops them all when aborted.
pub fn spawn_worker(store: Store, config: Config) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let loops: Vec<_> = (0..config.parallel.max(1))
            .map(|_| tokio::spawn(delivery_loop(store.clone(), config)))
            .collect();
        // Aborting this task drops the guard, which aborts the loops.
        let _guard = AbortOnDrop(loops);
        std::future::pending::<()>().await;
    })
}

struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

async fn delivery_loop(store: Store, config: Config) {
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .expect("an HTTP client");
    // This loop's connections to table sinks, opened on first use.
    let mut sinks = HashMap::new();
    loop {
        if store.is_closed() {
            return;
        }
        match run_once(&store, &client, &mut sinks, &config).await {
            Ok(0) => tokio::time::sleep(config.every).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "push worker: a round failed; trying again");
                tokio::time::sleep(config.every).await;
            }
        }
    }
}

/// One round over every sink: claims and delivers one batch each; returns how many messages it
/// handled.
pub async fn run_once(
    store: &Store,
    client: &reqwest::Client,
    sinks: &mut HashMap<i64, sqlx::AnyPool>,
    config: &Config,
) -> anyhow::Result<usize> {
    let rows: Vec<SinkRow> = sqlx::query_as(
        "SELECT id, name, kind, url, token, hmac_key, batch_size, max_attempts FROM push_sink WHERE enabled = 1 ORDER BY id",
    )
    .fetch_all(store.reader())
    .await?;
    // Messages whose worker died mid-batch: their lease ran out; they go back to the queue with
    // the same keys and versions.
    // (States are written into the statements that look for them, so the planner sees that a
    // partial index matches.)
    sqlx::query(&format!(
        "UPDATE outbox SET status = '{}' WHERE status = '{}' AND claimed_until < $1",
        state::PENDING,
        state::SENDING
    ))
    .bind(to_db(chrono::Utc::now()))
    .execute(store.writer())
    .await?;
    let mut handled = 0;
    for sink in rows {
        let mut batch = claim(store, &sink, true, config.lease).await?;
        if batch.is_empty() {
            batch = claim(store, &sink, false, config.lease).await?;
        }
        if batch.is_empty() {
            continue;
        }
        handled += batch.len();
        let (outcome, answer) = deliver(&sink, &batch, client, sinks, config.timeout).await;
        settle(store, &sink, &batch, outcome, &answer, config.backoff).await?;
    }
    if handled == 0 {
        // Counted when the queue is idle, not on every busy round (it reads the whole queue).
        let (depth,): (i64,) = sqlx::query_as(&format!(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE status = '{}') \
                 + (SELECT COUNT(*) FROM outbox WHERE status = '{}')",
            state::PENDING,
            state::SENDING
        ))
        .fetch_one(store.reader())
        .await?;
        metrics::gauge!("natlis_push_queue_depth").set(depth as f64);
    }
    Ok(handled)
}

/// Claims due messages of a sink, oldest first (a person's later version is `waiting` until the
/// earlier one is settled, so at most one version of a person is pending), `solo` ones alone (a refused batch is retried message by
/// message to find the one the receiver refuses).
async fn claim(
    store: &Store,
    sink: &SinkRow,
    solo: bool,
    lease: Duration,
) -> anyhow::Result<Vec<Claimed>> {
    let now = to_db(chrono::Utc::now());
    let skip = store.backend().skip_locked("o");
    let limit = if solo { 1 } else { sink.batch_size.max(1) };
    let sql = format!(
        "UPDATE outbox SET status = '{sending}', claimed_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT o.id FROM outbox o WHERE o.sink_id = $2 AND o.solo = $3 \
           AND o.status = '{pending}' AND o.next_try_at <= $4 \
           ORDER BY o.id LIMIT $5{skip}) \
         RETURNING id, payload, attempts, created_at",
        sending = state::SENDING,
        pending = state::PENDING,
    );
    let mut tx = store
        .writer()
        .begin_with(store.backend().begin_write())
        .await?;
    let mut rows: Vec<Claimed> = sqlx::query_as(&sql)
        .bind(now + lease.as_micros() as i64)
        .bind(sink.id)
        .bind(i64::from(solo))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    mark_tubes(&mut tx, store.backend(), &ids, TubeMark::Pushed, now).await?;
    tx.commit().await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Sends a batch; the outcome and what the receiver said.
async fn deliver(
    sink: &SinkRow,
    batch: &[Claimed],
    client: &reqwest::Client,
    pools: &mut HashMap<i64, sqlx::AnyPool>,
    timeout: Duration,
) -> (Delivery, String) {
    let messages: Vec<StatusMessage> = match batch
        .iter()
        .map(|c| serde_json::from_str(&c.payload))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(m) => m,
        Err(e) => return (Delivery::Refused, format!("unreadable payload: {e}")),
    };
    match sink.kind.as_str() {
        "fhir_http" => deliver_http(sink, &messages, client).await,
        "pg_table" => match deliver_table(sink, &messages, pools, timeout).await {
            Ok(()) => (Delivery::Delivered, String::new()),
            Err(e) => (Delivery::Retry, format!("{e:#}")),
        },
        other => (Delivery::Refused, format!("unknown sink kind {other}")),
    }
}

async fn deliver_http(
    sink: &SinkRow,
    messages: &[StatusMessage],
    client: &reqwest::Client,
) -> (Delivery, String) {
    let body = push::fhir_bundle(&sink.url, messages);
    let keys: Vec<String> = messages
        .iter()
        .map(|m| format!("{}:{}", m.key, m.version))
        .collect();
    let mut req = client
        .post(&sink.url)
        .header("content-type", "application/fhir+json")
        .header(
            "idempotency-key",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                keys.join(",").as_bytes(),
            )),
        );
    if let Some(t) = &sink.token {
        req = req.bearer_auth(t);
    }
    if let Some(k) = &sink.hmac_key {
        req = req.header("x-natlis-signature", push::signature(k, &body));
    }
    match req.body(body).send().await {
        Err(e) => (Delivery::Retry, format!("{}: {e}", sink.name)),
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            let answer: String = format!(
                "HTTP {status}: {}",
                text.chars().take(500).collect::<String>()
            );
            (push::classify(status), answer)
        }
    }
}

/// Upserts each message into `natlis_health_code` of the platform's database; a row keeps the
/// highest version it was given, so a re-delivery or a late older version changes nothing.
async fn deliver_table(
    sink: &SinkRow,
    messages: &[StatusMessage],
    pools: &mut HashMap<i64, sqlx::AnyPool>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let pool = match pools.entry(sink.id) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(timeout)
                .connect(&sink.url)
                .await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS natlis_health_code (person_key TEXT PRIMARY KEY, version BIGINT NOT NULL, \
                 status TEXT NOT NULL, doc_type TEXT NOT NULL, doc_no TEXT NOT NULL, name TEXT NOT NULL, \
                 valid_until TEXT, tube TEXT, payload TEXT NOT NULL, changed_at TEXT NOT NULL, received_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .execute(&pool)
            .await?;
            e.insert(pool)
        }
    };
    let mut tx = pool.begin().await?;
    for m in messages {
        sqlx::query(
            "INSERT INTO natlis_health_code (person_key, version, status, doc_type, doc_no, name, valid_until, tube, payload, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (person_key) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status, \
             valid_until = EXCLUDED.valid_until, tube = EXCLUDED.tube, payload = EXCLUDED.payload, \
             changed_at = EXCLUDED.changed_at, received_at = now() \
             WHERE natlis_health_code.version < EXCLUDED.version",
        )
        .bind(m.key.clone())
        .bind(m.version)
        .bind(m.status.clone())
        .bind(m.person.doc_type.clone())
        .bind(m.person.doc_no.clone())
        .bind(m.person.name.clone())
        .bind(m.valid_until.clone())
        .bind(m.result.as_ref().map(|r| r.tube.clone()))
        .bind(serde_json::to_string(m)?)
        .bind(m.changed_at.clone())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What [`mark_tubes`] records.
#[derive(Clone, Copy)]
enum TubeMark {
    Pushed,
    Acked,
}

/// Marks the tubes behind these messages as first sent (`pushed_at`) or first acknowledged
/// (`acked_at`, which the turnaround rollup then counts). Tubes are locked in id order, so
/// deliveries of one pool's members in parallel batches wait for each other, never deadlock.
async fn mark_tubes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    messages: &[i64],
    mark: TubeMark,
    at: i64,
) -> anyhow::Result<()> {
    let (column, fold) = match mark {
        TubeMark::Pushed => ("pushed_at", ""),
        // The turnaround rollup counts the acknowledgement.
        TubeMark::Acked => ("acked_at", ", fold_pending = 1"),
    };
    for chunk in messages.chunks(backend.rows_per_insert(1)) {
        let ids: Vec<String> = chunk.iter().map(|id| id.to_string()).collect();
        sqlx::query(&format!(
            "UPDATE tube SET {column} = $1{fold} WHERE id IN (SELECT t.id FROM tube t \
             WHERE t.{column} IS NULL AND t.id IN (SELECT tube_id FROM outbox WHERE id IN ({ids})) \
             ORDER BY t.id{lock})",
            ids = ids.join(", "),
            lock = backend.for_update("t"),
        ))
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Records the outcome of a delivery for every message of the batch.
async fn settle(
    store: &Store,
    sink: &SinkRow,
    batch: &[Claimed],
    outcome: Delivery,
    answer: &str,
    backoff: Duration,
) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let mut tx = store
        .writer()
        .begin_with(store.backend().begin_write())
        .await?;
    // Messages settled for good here (delivered, refused alone, dead): the next version of
    // their people, if one waits, becomes pending.
    let mut settled: Vec<i64> = vec![];
    if outcome == Delivery::Delivered {
        settled.extend(batch.iter().map(|m| m.id));
        // One statement per chunk of ids (the batch may be large).
        for chunk in batch.chunks(store.backend().rows_per_insert(1)) {
            let ids: Vec<String> = chunk.iter().map(|m| m.id.to_string()).collect();
            sqlx::query(&format!(
                "UPDATE outbox SET status = $1, delivered_at = $2, last_error = NULL \
                 WHERE status = $3 AND id IN ({})",
                ids.join(", ")
            ))
            .bind(state::DELIVERED)
            .bind(to_db(now))
            .bind(state::SENDING)
            .execute(&mut *tx)
            .await?;
        }
        let ids: Vec<i64> = batch.iter().map(|m| m.id).collect();
        mark_tubes(&mut tx, store.backend(), &ids, TubeMark::Acked, to_db(now)).await?;
        for m in batch {
            let latency = (to_db(now) - m.created_at) as f64 / 1e6;
            metrics::histogram!("natlis_push_delivery_seconds").record(latency);
        }
    }
    for m in batch {
        match outcome {
            Delivery::Delivered => {}
            Delivery::Refused if batch.len() > 1 => {
                // Find the message the receiver refuses: each is sent alone next.
                sqlx::query(
                    "UPDATE outbox SET status = $1, solo = 1, attempts = attempts - 1, next_try_at = $2, last_error = $3 WHERE id = $4",
                )
                .bind(state::PENDING)
                .bind(to_db(now))
                .bind(answer.to_string())
                .bind(m.id)
                .execute(&mut *tx)
                .await?;
            }
            Delivery::Refused => {
                settled.push(m.id);
                sqlx::query("UPDATE outbox SET status = $1, last_error = $2 WHERE id = $3")
                    .bind(state::FAILED)
                    .bind(answer.to_string())
                    .bind(m.id)
                    .execute(&mut *tx)
                    .await?;
                metrics::counter!("natlis_push_failures_total", "kind" => "refused").increment(1);
            }
            Delivery::Retry => {
                let dead = m.attempts >= sink.max_attempts;
                if dead {
                    settled.push(m.id);
                }
                let wait = push::backoff(
                    backoff,
                    (m.attempts as u32).saturating_sub(1),
                    rand::thread_rng().gen(),
                );
                sqlx::query(
                    "UPDATE outbox SET status = $1, next_try_at = $2, last_error = $3 WHERE id = $4",
                )
                .bind(if dead { state::DEAD } else { state::PENDING })
                .bind(to_db(now) + wait.as_micros() as i64)
                .bind(answer.to_string())
                .bind(m.id)
                .execute(&mut *tx)
                .await?;
                metrics::counter!("natlis_push_failures_total", "kind" => if dead { "dead" } else { "retry" })
                    .increment(1);
            }
        }
    }
    for chunk in settled.chunks(store.backend().rows_per_insert(1)) {
        let ids: Vec<String> = chunk.iter().map(|id| id.to_string()).collect();
        sqlx::query(&format!(
            "UPDATE outbox SET status = '{pending}' WHERE id IN (SELECT MIN(w.id) FROM outbox w \
             WHERE w.status = '{waiting}' AND w.sink_id = $1 AND w.key IN (SELECT key FROM outbox WHERE id IN ({ids})) \
             GROUP BY w.key)",
            pending = state::PENDING,
            waiting = state::WAITING,
            ids = ids.join(", ")
        ))
        .bind(sink.id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if outcome != Delivery::Delivered {
        tracing::warn!(sink = %sink.name, messages = batch.len(), outcome = ?outcome, "push: not delivered");
    }
    Ok(())
}
