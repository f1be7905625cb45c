//! `natlis bench pages`: the lab floor's pages under load, against the API doing the same work
//! in the same run. On a database loaded with the demo: a scan through the collection page (one
//! request, one partial answer) next to the same scan through the API; the review page of a
//! 120-tube plate and the turnaround board, alone and while collectors scan through the API;
//! and what a page weighs (its HTML, and the script and style it loads once, then cached).

use super::{closed_loop, on_each_database, person, row, Figures};
use natlis::actor::Actor;
use natlis::api::AppState;
use natlis::store::{Location, SqliteSync, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct PagesArgs {
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients of a phase.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// A PostgreSQL server to benchmark too (a fresh database is created in it and dropped).
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
}

/// A user's bearer token (pages take it as the API does).
async fn token_of(store: &Store, username: &str) -> anyhow::Result<String> {
    let mut tx = store.begin(&Actor::new("bench")).await?;
    let t = natlis::auth::issue_token(&mut tx, username, "bench", None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    Ok(t.token)
}

struct Client {
    base: String,
    http: reqwest::Client,
    collector: String,
    reviewer: String,
    next: AtomicU64,
    run: String,
}

impl Client {
    async fn send(&self, req: reqwest::RequestBuilder) -> (bool, usize) {
        match req.send().await {
            Ok(r) => {
                let ok = r.status().is_success();
                let n = r.bytes().await.map(|b| b.len()).unwrap_or(0);
                (ok, n)
            }
            Err(_) => (false, 0),
        }
    }

    /// Opens a 10-person pool at S-ZGC through the API.
    async fn open_pool(&self) -> Option<String> {
        let barcode = format!("{}P{}", self.run, self.next.fetch_add(1, Ordering::Relaxed));
        let body = format!(
            r#"{{"barcode":"{barcode}","kind":"pool","pool_size":10,"sample_type":"oropharyngeal","site":"S-ZGC","category":"mass_screening"}}"#
        );
        let req = self
            .http
            .post(format!("{}/api/v1/tubes", self.base))
            .header("authorization", &self.collector)
            .header("content-type", "application/json")
            .body(body);
        self.send(req).await.0.then_some(barcode)
    }

    /// One person scanned into a pool through the API.
    async fn api_scan(&self, pool: &str) -> bool {
        let n = 5_000_000 + self.next.fetch_add(1, Ordering::Relaxed);
        let req = self
            .http
            .post(format!("{}/api/v1/tubes/{pool}/members", self.base))
            .header("authorization", &self.collector)
            .header("content-type", "application/json")
            .body(person(n));
        self.send(req).await.0
    }

    /// One person scanned into a pool through the collection page, as htmx sends it.
    async fn page_scan(&self, pool: &str) -> bool {
        let n = 5_000_000 + self.next.fetch_add(1, Ordering::Relaxed);
        let id = super::id_number(n);
        let phone = format!("139{:08}", n % 100_000_000);
        let req = self
            .http
            .post(format!("{}/collect/scan", self.base))
            .header("authorization", &self.collector)
            .header("hx-request", "true")
            .form(&[
                ("code", id.as_str()),
                ("tube", pool),
                ("sampling", "10"),
                ("name", "压测"),
                ("phone", phone.as_str()),
            ]);
        let (ok, _) = self.send(req).await;
        ok
    }

    async fn get(&self, path: &str, who: &str) -> (bool, usize) {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", who)
            .header("accept", "text/html");
        self.send(req).await
    }
}

/// Pools of ten filled by `scan`, `clients` at once: each worker opens a pool and fills it.
async fn pooled(c: &Arc<Client>, clients: usize, secs: u64, page: bool) -> Figures {
    let c = c.clone();
    closed_loop(clients, secs, move || {
        let c = c.clone();
        async move {
            let Some(pool) = c.open_pool().await else {
                return vec![(Duration::ZERO, false)];
            };
            let mut out = Vec::with_capacity(10);
            for _ in 0..10 {
                let s = Instant::now();
                let ok = if page {
                    c.page_scan(&pool).await
                } else {
                    c.api_scan(&pool).await
                };
                out.push((s.elapsed(), ok));
            }
            out
        }
    })
    .await
}

async fn reads(c: &Arc<Client>, clients: usize, secs: u64, path: String) -> Figures {
    let c = c.clone();
    closed_loop(clients, secs, move || {
        let (c, path) = (c.clone(), path.clone());
        async move {
            let s = Instant::now();
            let (ok, _) = c.get(&path, &c.reviewer).await;
            vec![(s.elapsed(), ok)]
        }
    })
    .await
}

async fn run_backend(name: &str, location: Location, a: &PagesArgs) -> anyhow::Result<()> {
    let store = Store::connect(&location, SqliteSync::Normal).await?;
    store.migrate().await?;
    natlis::service::kits::install_shipped(&store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let work = tempfile::tempdir()?;
    crate::cli::demo::load(&store, tz, work.path(), None).await?;
    let collector = format!("Bearer {}", token_of(&store, "collector-zgc").await?);
    let reviewer = format!("Bearer {}", token_of(&store, "reviewer-hd").await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(natlis::launch(
        AppState::new(store.clone(), tz),
        listener,
        async {
            let _ = stop_rx.await;
        },
    ));
    let c = Arc::new(Client {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        collector,
        reviewer,
        next: AtomicU64::new(1),
        run: format!("PG{}", std::process::id()),
    });
    let today = chrono::Utc::now().with_timezone(&tz).format("%Y%m%d");
    let review = format!("/review?plate=LAB-HD-{today}-2");
    let board = "/turnaround".to_string();

    // Page weight: the HTML of each screen, and what a first visit loads besides.
    let mut statics = 0;
    for f in ["htmx.min.js", "natlis.js", "natlis.css"] {
        statics += c.get(&format!("/static/{f}"), &c.reviewer).await.1;
    }
    let (_, collect_html) = c.get("/collect", &c.collector).await;
    let (_, review_html) = c.get(&review, &c.reviewer).await;
    let (_, board_html) = c.get(&board, &c.reviewer).await;
    println!(
        "{name:<9} page weight: collection {:.1} KB, review (120-tube plate) {:.1} KB, turnaround board {:.1} KB; script and style {:.1} KB once, then cached (1 h)",
        collect_html as f64 / 1024.0,
        review_html as f64 / 1024.0,
        board_html as f64 / 1024.0,
        statics as f64 / 1024.0
    );

    let api = pooled(&c, a.clients, a.seconds, false).await;
    row(name, "scan through the API (baseline)", &api, None);
    let page = pooled(&c, a.clients, a.seconds, true).await;
    row(
        name,
        "scan through the collection page",
        &page,
        Some((api.rate(), "API scan")),
    );
    let alone = reads(&c, a.clients, a.seconds, review.clone()).await;
    row(name, "review page, 120-tube plate", &alone, None);
    // The review page while half the clients scan through the API.
    let scanners = {
        let c = c.clone();
        let (n, secs) = (a.clients / 2, a.seconds);
        tokio::spawn(async move { pooled(&c, n.max(1), secs, false).await })
    };
    let loaded = reads(&c, a.clients / 2 + 1, a.seconds, review.clone()).await;
    let load = scanners.await?;
    row(
        name,
        "review page during accession load",
        &loaded,
        Some((alone.rate(), "alone")),
    );
    row(
        name,
        "  (the accession load beside it)",
        &load,
        Some((api.rate(), "API scan alone")),
    );
    let boards = reads(&c, a.clients, a.seconds, board).await;
    row(name, "turnaround board", &boards, None);

    let _ = stop_tx.send(());
    let _ = server.await;
    store.close().await;
    Ok(())
}

pub async fn run(a: PagesArgs) -> anyhow::Result<()> {
    natlis::metrics::install();
    println!(
        "natlis bench pages: {} cores, {} s per phase, {} clients; ratios: × the baseline of the same run",
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
