//! `natlis bench public`: the public face under a city's load, through the real HTTP server on a
//! database loaded with the demo — the list of labs as JSON and as the phone page (served from
//! the minute's cache), a client that already has it (`If-None-Match` → 304), and the list
//! computed afresh each time (no cache) — against `/healthz` (no work at all) in the same run,
//! since these machines are noisy.

use super::{closed_loop, on_each_database, row, Figures};
use natlis::api::AppState;
use natlis::store::{Location, SqliteSync, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct PublicBenchArgs {
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients (keep-alive connections).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
}

async fn gets(
    http: &reqwest::Client,
    clients: usize,
    secs: u64,
    url: String,
    etag: Option<String>,
) -> Figures {
    let http = http.clone();
    closed_loop(clients, secs, move || {
        let (http, url, etag) = (http.clone(), url.clone(), etag.clone());
        async move {
            let s = Instant::now();
            let mut req = http.get(&url);
            if let Some(e) = &etag {
                req = req.header("if-none-match", e);
            }
            let ok = match req.send().await {
                Ok(r) => {
                    let st = r.status();
                    let _ = r.bytes().await;
                    st.is_success() || st == reqwest::StatusCode::NOT_MODIFIED
                }
                Err(_) => false,
            };
            vec![(s.elapsed(), ok)]
        }
    })
    .await
}

async fn run_backend(name: &str, location: Location, a: &PublicBenchArgs) -> anyhow::Result<()> {
    let store = Store::connect(&location, SqliteSync::Normal).await?;
    store.migrate().await?;
    natlis::service::kits::install_shipped(&store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let work = tempfile::tempdir()?;
    crate::cli::demo::load(&store, tz, work.path(), None).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(natlis::launch(
        // One client address makes every request here: the per-address throttle is raised so the
        // bench measures the server (the throttle's own cost is one hash lookup a request).
        AppState::new(store.clone(), tz).with_public_rate(natlis::throttle::Rate {
            per_second: 1e9,
            burst: 1e9,
        }),
        listener,
        async {
            let _ = stop_rx.await;
        },
    ));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients * 2)
        .build()?;
    let base = format!("http://{addr}");
    let list = format!("{base}/api/v1/public/labs");
    let first = http.get(&list).send().await?;
    let etag = first
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let labs = first.bytes().await?.len();
    let page = http
        .get(format!("{base}/labs"))
        .header("accept-language", "zh-CN")
        .send()
        .await?
        .bytes()
        .await?
        .len();
    println!(
        "{name:<9} (the list: {labs} bytes of JSON; the phone page {:.1} KB)",
        page as f64 / 1024.0
    );
    let (c, s) = (a.clients, a.seconds);
    let base_line = gets(&http, c, s, format!("{base}/healthz"), None).await;
    row(name, "GET /healthz (baseline)", &base_line, None);
    let b = Some((base_line.rate(), "healthz"));
    let f = gets(&http, c, s, list.clone(), None).await;
    row(name, "GET /api/v1/public/labs (cached)", &f, b);
    let f = gets(&http, c, s, format!("{base}/labs"), None).await;
    row(name, "GET /labs page (cached)", &f, b);
    let f = gets(&http, c, s, format!("{base}/sites"), None).await;
    row(name, "GET /sites collection points (cached)", &f, b);
    let f = gets(&http, c, s, format!("{base}/api/v1/public/sites"), None).await;
    row(name, "GET /api/v1/public/sites (cached)", &f, b);
    let f = gets(&http, c, s, list.clone(), etag).await;
    row(name, "GET list, If-None-Match → 304", &f, b);
    // The list computed every time: each request another filter, so the cache never answers.
    let http2 = http.clone();
    let next = Arc::new(AtomicU64::new(0));
    let fresh = closed_loop(c, s, move || {
        let (http, list, next) = (http2.clone(), list.clone(), next.clone());
        async move {
            let price = 40.0 + next.fetch_add(1, Ordering::Relaxed) as f64 / 1e4;
            let s = Instant::now();
            let ok = match http.get(format!("{list}?max_price={price}")).send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            vec![(s.elapsed(), ok)]
        }
    })
    .await;
    row(name, "GET list computed (cache missed)", &fresh, b);
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    store.close().await;
    Ok(())
}

pub async fn run(a: PublicBenchArgs) -> anyhow::Result<()> {
    println!(
        "natlis bench public: {} cores, {} s per phase, {} clients; ratios: × the baseline of the same run",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        a.seconds,
        a.clients
    );
    println!(
        "{:<9} {:<38} {:>9} {:>8} {:>8} {:>8}",
        "database", "phase", "ops/s", "p50 ms", "p99 ms", "errors"
    );
    let a = &a;
    on_each_database(a.postgres_url.as_deref(), |name, location| {
        run_backend(name, location, a)
    })
    .await
}
