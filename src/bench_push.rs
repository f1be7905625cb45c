//! `natlis bench push`: person results delivered per second to a local FHIR receiver (batched,
//! signed), and the latency from the status change to the receiver's acknowledgement at an
//! offered rate. The receiver runs in the same process and counts what it gets.

use crate::domain::push::{PersonData, ResultData, StatusMessage};
use crate::store::{Location, SqliteSync, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct PushBenchArgs {
    /// Messages in the backlog phase.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Messages per request.
    #[arg(long, default_value_t = 500)]
    pub batch: u32,
    /// Offered rate (status changes per second) of the latency phase.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// A PostgreSQL server to benchmark too (a fresh database is created in it and dropped).
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
}

/// A receiver that counts the Observations of each bundle (it scans the bytes; parsing is the
/// platform's cost, not natlis's, and would share this machine's two cores).
async fn receiver(count: Arc<AtomicU64>) -> anyhow::Result<String> {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/fhir",
            post(move |body: axum::body::Bytes| {
                let count = count.clone();
                async move {
                    let needle = br#""resourceType":"Observation""#;
                    let n = body.windows(needle.len()).filter(|w| w == needle).count();
                    count.fetch_add(n as u64, Ordering::Relaxed);
                    "{}"
                }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/fhir"))
}

fn message(n: usize) -> String {
    let m = StatusMessage {
        key: format!("bench-{n:09}"),
        version: 1,
        person: PersonData {
            doc_type: "resident_id".into(),
            doc_no: format!("1101051949{:08}", n % 100_000_000),
            name: "压测".into(),
            phone: format!("139{:08}", n % 100_000_000),
            sex: Some("female".into()),
            birth_date: Some("1949-12-31".into()),
        },
        status: "negative".into(),
        valid_until: Some("2026-11-26T00:00:00+00:00".into()),
        result: Some(ResultData {
            tube: format!("ZGC{n:07}"),
            value: "negative".into(),
            source: "pool".into(),
            sample_type: "oropharyngeal".into(),
            sampled_at: "2026-11-24T00:00:00+00:00".into(),
            lab: Some("BENCH-LAB".into()),
            cts: vec![("ORF1ab".into(), None), ("N".into(), None)],
            cdc_status: None,
            amended: false,
        }),
        changed_at: "2026-11-24T02:00:00+00:00".into(),
    };
    serde_json::to_string(&m).expect("a message serialises")
}

/// Enqueues messages `from..to` as changes made now, in one transaction.
async fn enqueue(store: &Store, sink: i64, from: usize, to: usize) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_micros();
    let mut tx = store
        .writer()
        .begin_with(store.backend().begin_write())
        .await?;
    let ids: Vec<usize> = (from..to).collect();
    for chunk in ids.chunks(store.backend().rows_per_insert(3)) {
        let mut sql = String::from(
            "INSERT INTO outbox (sink_id, key, version, payload, status, solo, attempts, next_try_at, created_at) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let b = 2 + i * 3;
            sql.push_str(&format!(
                "($1, ${}, ${}, ${}, 'pending', 0, 0, $2, $2)",
                b + 1,
                b + 2,
                b + 3
            ));
        }
        let mut q = sqlx::query(&sql).bind(sink).bind(now);
        for n in chunk {
            q = q
                .bind(format!("bench-{n:09}"))
                .bind(1_i64)
                .bind(message(*n));
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Waits until `total` messages are marked delivered: first watching the receiver's count
/// (polling the database every few ms would take a core from the worker), then the outbox.
async fn all_delivered(store: &Store, count: &AtomicU64, total: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(600),
            "the outbox did not drain"
        );
        if count.load(Ordering::Relaxed) >= total as u64 {
            let (n,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE status = 'delivered'")
                    .fetch_one(store.reader())
                    .await?;
            if n >= total as i64 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn run_backend(name: &str, location: Location, a: &PushBenchArgs) -> anyhow::Result<()> {
    let store = Store::connect(&location, a.sqlite_sync).await?;
    store.migrate().await?;
    let count = Arc::new(AtomicU64::new(0));
    let url = receiver(count.clone()).await?;
    let (sink,): (i64,) = sqlx::query_as(
        "INSERT INTO push_sink (name, region_prefix, kind, url, token, hmac_key, batch_size, max_attempts, enabled, created_at, created_by) \
         VALUES ('bench', '', 'fhir_http', $1, 'token', 'key', $2, 12, 1, 0, 'bench') RETURNING id",
    )
    .bind(url)
    .bind(i64::from(a.batch))
    .fetch_one(store.writer())
    .await?;

    // Backlog: everything enqueued, then drained.
    enqueue(&store, sink, 0, a.messages).await?;
    let start = Instant::now();
    let worker = crate::push::spawn_worker(store.clone(), crate::push::Config::default());
    all_delivered(&store, &count, a.messages).await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<9} {:<44} {:>9.0} results/s ({} in {secs:.2} s, {} per request, receiver counted {})",
        "backlog drain (FHIR batch, HMAC-signed)",
        a.messages as f64 / secs,
        a.messages,
        a.batch,
        count.load(Ordering::Relaxed)
    );

    // Latency: status changes offered at a fixed rate while the worker runs.
    let base = a.messages;
    let per_tick = (a.rate / 100).max(1) as usize;
    let ticks = a.seconds * 100;
    let phase_start = chrono::Utc::now().timestamp_micros();
    let t0 = Instant::now();
    for k in 0..ticks {
        tokio::time::sleep_until((t0 + Duration::from_millis(10 * k)).into()).await;
        let from = base + k as usize * per_tick;
        enqueue(&store, sink, from, from + per_tick).await?;
    }
    let total = base + ticks as usize * per_tick;
    all_delivered(&store, &count, total).await?;
    worker.abort();
    let mut lat: Vec<i64> = sqlx::query_as::<_, (i64,)>(
        "SELECT delivered_at - created_at FROM outbox WHERE created_at >= $1 AND status = 'delivered'",
    )
    .bind(phase_start)
    .fetch_all(store.reader())
    .await?
    .into_iter()
    .map(|(l,)| l)
    .collect();
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    println!(
        "{name:<9} {:<44} {:>9} offered/s, change → acknowledged p50 {:.0} ms, p99 {:.0} ms ({} messages)",
        "steady rate (worker polls every 200 ms)",
        per_tick * 100,
        q(0.5),
        q(0.99),
        lat.len()
    );
    store.close().await;
    Ok(())
}

pub async fn run(a: PushBenchArgs) -> anyhow::Result<()> {
    crate::metrics::install();
    println!(
        "natlis bench push: {} cores, {} messages, {} per request, SQLite sync={:?}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        a.messages,
        a.batch,
        a.sqlite_sync
    );
    let a = &a;
    crate::bench::on_each_database(a.postgres_url.as_deref(), |name, location| {
        run_backend(name, location, a)
    })
    .await
}
