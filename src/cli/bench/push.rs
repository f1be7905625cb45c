//! `natlis bench push`: person results delivered per second to a local FHIR receiver (batched,
//! signed), the latency from the status change to the receiver's acknowledgement at an offered
//! rate, and an outage: the receiver down for a while as changes keep coming, then back — how
//! fast the backlog drains, and that nothing is lost or sent twice. The receiver runs in the
//! same process and counts what it gets, by key.

use natlis::domain::push::{PersonData, ResultData, StatusMessage};
use natlis::store::{Location, SqliteSync, Store};
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
    /// Seconds the receiver is down in the outage phase (0: no outage phase).
    #[arg(long, default_value_t = 600)]
    pub outage_secs: u64,
    /// Seconds changes are still offered after the worker has caught up with the backlog.
    #[arg(long, default_value_t = 60)]
    pub after_secs: u64,
    /// A PostgreSQL server to benchmark too (a fresh database is created in it and dropped).
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
    /// Only PostgreSQL (with `--postgres-url`): the SQLite half is skipped.
    #[arg(long, requires = "postgres_url")]
    pub postgres_only: bool,
}

/// What the bench receiver counted: Observations, and each message key once (a second
/// delivery of a key is a duplicate).
#[derive(Default)]
struct Counted {
    observations: AtomicU64,
    duplicates: AtomicU64,
    keys: std::sync::Mutex<std::collections::HashSet<u64>>,
}

/// A receiver on `port` (0: any) that counts the Observations of each bundle and their keys (it
/// scans the bytes; parsing is the platform's cost, not natlis's, and would share this
/// machine's two cores). Returns its port and the task serving it (abort it: the receiver is
/// down, connections refused).
async fn receiver(
    count: Arc<Counted>,
    port: u16,
) -> anyhow::Result<(u16, tokio::task::JoinHandle<()>)> {
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/fhir",
            post(move |body: axum::body::Bytes| {
                let count = count.clone();
                async move {
                    // `"id":"obs-bench-000000042-1"`: the key's number and the version.
                    let needle = br#""resourceType":"Observation","id":"obs-bench-"#;
                    let mut keys = vec![];
                    for p in memchr::memmem::find_iter(&body, needle) {
                        let start = p + needle.len();
                        let digits = |from: usize| {
                            body[from.min(body.len())..]
                                .iter()
                                .take_while(|b| b.is_ascii_digit())
                                .fold((0u64, 0usize), |(v, n), b| {
                                    (v * 10 + u64::from(b - b'0'), n + 1)
                                })
                        };
                        let (n, len) = digits(start);
                        let (version, _) = digits(start + len + 1);
                        keys.push(n << 8 | version);
                    }
                    count
                        .observations
                        .fetch_add(keys.len() as u64, Ordering::Relaxed);
                    let mut seen = count.keys.lock().expect("keys");
                    for k in keys {
                        if !seen.insert(k) {
                            count.duplicates.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    "{}"
                }
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::max(256 * 1024 * 1024));
    // Rebinding the port of a receiver just stopped: retry a moment.
    let mut tries = 0;
    let listener = loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => break l,
            Err(e) if tries < 100 => {
                tries += 1;
                tracing::debug!(error = %e, "bench receiver: port busy");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((port, task))
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
async fn all_delivered(store: &Store, count: &Counted, total: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(1800),
            "the outbox did not drain"
        );
        if count.observations.load(Ordering::Relaxed) >= total as u64 {
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
    let count = Arc::new(Counted::default());
    let (port, mut serving) = receiver(count.clone(), 0).await?;
    let url = format!("http://127.0.0.1:{port}/fhir");
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
    let worker =
        natlis::worker::push::spawn_worker(store.clone(), natlis::worker::push::Config::default());
    all_delivered(&store, &count, a.messages).await?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<9} {:<44} {:>9.0} results/s ({} in {secs:.2} s, {} per request, receiver counted {})",
        "backlog drain (FHIR batch, HMAC-signed)",
        a.messages as f64 / secs,
        a.messages,
        a.batch,
        count.observations.load(Ordering::Relaxed)
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
    let lat = latencies(&store, phase_start, i64::MAX).await?;
    println!(
        "{name:<9} {:<44} {:>9} offered/s, change → acknowledged p50 {:.0} ms, p99 {:.0} ms ({} messages)",
        "steady rate (worker polls every 200 ms)",
        per_tick * 100,
        lat.at(0.5),
        lat.at(0.99),
        lat.len()
    );

    if a.outage_secs > 0 {
        outage(name, &store, sink, &count, port, &mut serving, total, a).await?;
    }
    worker.abort();
    serving.abort();
    store.close().await;
    Ok(())
}

/// Change → acknowledged latencies (ms) of the messages created in `[from, to)`, sorted.
struct Latencies(Vec<f64>);

impl Latencies {
    fn at(&self, p: f64) -> f64 {
        self.0
            .get(((self.0.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

async fn latencies(store: &Store, from: i64, to: i64) -> anyhow::Result<Latencies> {
    let mut lat: Vec<f64> = sqlx::query_as::<_, (i64,)>(
        "SELECT delivered_at - created_at FROM outbox WHERE created_at >= $1 AND created_at < $2 AND status = 'delivered'",
    )
    .bind(from)
    .bind(to)
    .fetch_all(store.reader())
    .await?
    .into_iter()
    .map(|(l,)| l as f64 / 1000.0)
    .collect();
    lat.sort_unstable_by(f64::total_cmp);
    Ok(Latencies(lat))
}

/// The outage phase: the receiver goes down (connections refused) while `rate` changes/s keep
/// coming for `outage_secs`; it comes back on the same port and changes go on for `after_secs`.
/// Prints how long the backlog took to drain after the return, what was lost or sent twice,
/// the attempts the outage spent, and the latency of the changes made after the backlog was gone.
#[allow(clippy::too_many_arguments)]
async fn outage(
    name: &str,
    store: &Store,
    sink: i64,
    count: &Arc<Counted>,
    port: u16,
    serving: &mut tokio::task::JoinHandle<()>,
    already: usize,
    a: &PushBenchArgs,
) -> anyhow::Result<()> {
    let per_tick = (a.rate / 100).max(1) as usize;
    serving.abort();
    let _ = (&mut *serving).await;
    let down_at = chrono::Utc::now().timestamp_micros();
    let t0 = Instant::now();
    // How many messages have been offered so far, for the watcher.
    let offered = Arc::new(std::sync::atomic::AtomicUsize::new(already));
    let offer = |ticks: u64, t0: Instant, from: usize| {
        let offered = offered.clone();
        async move {
            let mut n = from;
            for k in 0..ticks {
                tokio::time::sleep_until((t0 + Duration::from_millis(10 * k)).into()).await;
                enqueue(store, sink, n, n + per_tick).await?;
                n += per_tick;
                offered.store(n, Ordering::Relaxed);
            }
            anyhow::Ok(n)
        }
    };
    let next = offer(a.outage_secs * 100, t0, already).await?;
    let backlog = next - already;
    // Back: everything created until now is the backlog.
    let t_back = Instant::now();
    let back_at = chrono::Utc::now().timestamp_micros();
    *serving = receiver(count.clone(), port).await?.1;
    // Changes keep coming while the backlog drains; the drain is watched alongside: when 99 %
    // and all of the backlog have arrived (the queue goes oldest first), and when the worker
    // has caught up with the new changes too. Changes go on for `after_secs` past that.
    let caught_up_at: Arc<std::sync::Mutex<Option<Instant>>> = Default::default();
    let watch = {
        let (count, offered, caught) = (count.clone(), offered.clone(), caught_up_at.clone());
        tokio::spawn(async move {
            let (mut p99, mut all, mut caught_up) = (None, None, None);
            let at99 = already as u64 + (backlog as u64 * 99) / 100;
            while t_back.elapsed() < Duration::from_secs(1800) {
                let n = count.observations.load(Ordering::Relaxed);
                if p99.is_none() && n >= at99 {
                    p99 = Some(t_back.elapsed());
                }
                if all.is_none() && n >= next as u64 {
                    all = Some(t_back.elapsed());
                }
                if all.is_some() && n >= offered.load(Ordering::Relaxed) as u64 {
                    caught_up = Some((t_back.elapsed(), n));
                    *caught.lock().expect("caught up") = Some(Instant::now());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (p99, all, caught_up)
        })
    };
    let mut after = next;
    let mut k = 0u64;
    loop {
        let done = caught_up_at
            .lock()
            .expect("caught up")
            .is_some_and(|at| at.elapsed() >= Duration::from_secs(a.after_secs));
        if done || t_back.elapsed() > Duration::from_secs(1800) {
            break;
        }
        tokio::time::sleep_until((t_back + Duration::from_millis(10 * k)).into()).await;
        enqueue(store, sink, after, after + per_tick).await?;
        after += per_tick;
        offered.store(after, Ordering::Relaxed);
        k += 1;
    }
    let (p99, drained, caught_up) = watch.await?;
    all_delivered(store, count, after).await?;
    let (max_attempts, dead): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(MAX(attempts), 0), (SELECT COUNT(*) FROM outbox WHERE status = 'dead') FROM outbox WHERE created_at >= $1",
    )
    .bind(down_at)
    .fetch_one(store.reader())
    .await?;
    let delivered_keys = count.keys.lock().expect("keys").len();
    let secs =
        |d: Option<Duration>| d.map_or("—".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
    println!(
        "{name:<9} {:<44} receiver down {} s at {} offered/s: backlog {} messages",
        "outage",
        a.outage_secs,
        per_tick * 100,
        backlog
    );
    println!(
        "{name:<9} {:<44} backlog arrived {} after the return (99 % by {}); caught up with the new changes by {} ({:.0} results/s)",
        "",
        secs(drained),
        secs(p99),
        secs(caught_up.map(|c| c.0)),
        caught_up.map_or(f64::NAN, |(d, n)| (n as usize - already) as f64 / d.as_secs_f64().max(1e-3))
    );
    println!(
        "{name:<9} {:<44} lost {}, duplicates by key {}, dead {}, most attempts of a message {}",
        "",
        after - delivered_keys.min(after),
        count.duplicates.load(Ordering::Relaxed),
        dead,
        max_attempts
    );
    // Latency outside the outage: the changes made once the worker had caught up.
    let settled_at = back_at + caught_up.map_or(0, |c| c.0.as_micros() as i64);
    let lat = latencies(store, settled_at, i64::MAX).await?;
    println!(
        "{name:<9} {:<44} change → acknowledged p50 {:.0} ms, p99 {:.0} ms ({} messages after it caught up)",
        "",
        lat.at(0.5),
        lat.at(0.99),
        lat.len()
    );
    Ok(())
}

pub async fn run(a: PushBenchArgs) -> anyhow::Result<()> {
    natlis::metrics::install();
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
    match (&a.postgres_url, a.postgres_only) {
        (Some(url), true) => {
            crate::cli::bench::with_fresh_pg_database(url, |db_url| {
                run_backend("postgres", Location::Url(db_url), a)
            })
            .await
        }
        _ => {
            crate::cli::bench::on_each_database(a.postgres_url.as_deref(), |name, location| {
                run_backend(name, location, a)
            })
            .await
        }
    }
}
