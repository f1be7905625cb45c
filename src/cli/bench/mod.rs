//! `natlis bench accession`: accession through the real HTTP API with concurrent clients, on
//! SQLite (a fresh file) and, given a server URL, on PostgreSQL (a fresh database in it), next
//! to the raw single-row insert rate of the same database measured in the same run.
//!
//! Phases per database: raw inserts; single-tube accession (one request opens a single tube
//! and binds its person); pooled accession (open a 10-person pool, scan its 10 people); then
//! both again at a fixed offered rate (open loop, latency counted from the scheduled send time,
//! so queueing is not hidden).

pub mod certificate;
pub mod import;
pub mod ledger;
pub mod pages;
pub mod public;
pub mod push;
pub mod turnaround;

use hdrhistogram::Histogram;
use natlis::api::AppState;
use natlis::domain::id_number::check_character;
use natlis::store::{Location, SqliteSync, Store};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct AccessionArgs {
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Concurrent clients in the throughput phases (collectors scanning at once).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Offered rate (scans per second) of the latency phases.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// A PostgreSQL server to benchmark too (a fresh database is created in it and dropped).
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// Seconds between audit seals while the bench runs, as in `natlis serve` (0: no sealing).
    #[arg(long, default_value_t = 5)]
    pub seal_every: u64,
    /// SQLite durability for the run.
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
}

/// The `n`th valid resident ID number; distinct for every `n` below 300 million.
fn id_number(n: u64) -> String {
    let birth =
        chrono::NaiveDate::from_ymd_opt(1940, 1, 1).expect("date") + chrono::Days::new(n % 30_000);
    let first17 = format!(
        "11{:04}{}{:03}",
        n / 30_000 % 10_000,
        birth.format("%Y%m%d"),
        (n / 300_000_000) % 1000
    );
    let arr: [u8; 17] = first17.as_bytes().try_into().expect("17 digits");
    format!("{first17}{}", check_character(&arr))
}

/// A person scan as a client sends it (the load generator builds its JSON by hand, so that its
/// own CPU use stays small next to the server's on a shared machine).
fn person(n: u64) -> String {
    format!(
        r#"{{"doc_type":"resident_id","doc_no":"{}","name":"压测","phone":"139{:08}"}}"#,
        id_number(n),
        n % 100_000_000
    )
}

struct Target {
    base: String,
    client: reqwest::Client,
    next: AtomicU64,
    run: String,
    authorization: String,
}

impl Target {
    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    async fn post(&self, path: &str, body: String) -> bool {
        match self
            .client
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => {
                let ok = r.status().is_success();
                let _ = r.bytes().await;
                ok
            }
            Err(_) => false,
        }
    }

    async fn single(&self) -> bool {
        let n = self.next();
        let body = format!(
            r#"{{"barcode":"{}S{n}","kind":"single","sample_type":"oropharyngeal","site":"BENCH","category":"outpatient","people":[{}]}}"#,
            self.run,
            person(n)
        );
        self.post("/api/v1/tubes", body).await
    }

    async fn open_pool(&self) -> Option<String> {
        let barcode = format!("{}P{}", self.run, self.next());
        let body = format!(
            r#"{{"barcode":"{barcode}","kind":"pool","pool_size":10,"sample_type":"oropharyngeal","site":"BENCH","category":"mass_screening"}}"#
        );
        self.post("/api/v1/tubes", body).await.then_some(barcode)
    }

    async fn scan(&self, pool: &str) -> bool {
        let n = self.next();
        self.post(&format!("/api/v1/tubes/{pool}/members"), person(n))
            .await
    }
}

struct Figures {
    ops: u64,
    errors: u64,
    secs: f64,
    hist: Histogram<u64>,
}

impl Figures {
    fn new() -> Self {
        Self {
            ops: 0,
            errors: 0,
            secs: 0.0,
            hist: new_hist(),
        }
    }

    fn record(&mut self, latency: Duration, ok: bool) {
        self.ops += 1;
        if !ok {
            self.errors += 1;
        }
        let _ = self.hist.record(latency.as_micros().max(1) as u64);
    }

    fn rate(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// Runs `clients` closed-loop workers for `secs`; each call of `work` does some operations
/// and returns (operations, errors).
async fn closed_loop<F, Fut>(clients: usize, secs: u64, work: F) -> Figures
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<(Duration, bool)>> + Send,
{
    let work = Arc::new(work);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let work = work.clone();
            tokio::spawn(async move {
                let mut mine = Figures::new();
                while Instant::now() < deadline {
                    for (lat, ok) in work().await {
                        mine.record(lat, ok);
                    }
                }
                mine
            })
        })
        .collect();
    let mut f = Figures::new();
    for t in tasks {
        let mine = t.await.expect("bench worker");
        f.hist.add(mine.hist).expect("histograms compatible");
        f.ops += mine.ops;
        f.errors += mine.errors;
    }
    f.secs = start.elapsed().as_secs_f64();
    f
}

/// Offers `rate` operations per second for `secs` (open loop); latency counts from the
/// scheduled time of each operation.
async fn open_loop<F, Fut>(rate: u64, secs: u64, op: F) -> Figures
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for k in 0..total {
        let scheduled = start + interval.mul_f64(k as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let fut = op(k);
        tasks.push(tokio::spawn(async move {
            let ok = fut.await;
            (scheduled.elapsed(), ok)
        }));
    }
    let mut f = Figures::new();
    for t in tasks {
        let (lat, ok) = t.await.expect("bench op");
        f.record(lat, ok);
    }
    f.secs = start.elapsed().as_secs_f64();
    f
}

/// Single-row inserts, each its own transaction, through the writer pool.
async fn raw_inserts(store: &Store, clients: usize, secs: u64) -> Figures {
    let store = store.clone();
    closed_loop(clients, secs, move || {
        let store = store.clone();
        async move {
            let t = Instant::now();
            let ok = sqlx::query(
                "INSERT INTO audit_log (at, actor, action, entity_type, entity_id) VALUES ($1, 'bench', 'bench.raw', 'bench', 'raw')",
            )
            .bind(chrono::Utc::now().timestamp_micros())
            .execute(store.writer())
            .await
            .is_ok();
            vec![(t.elapsed(), ok)]
        }
    })
    .await
}

/// The bench's lab and site, and a collector of that site; returns the collector's token.
pub(crate) async fn setup(store: &Store) -> anyhow::Result<String> {
    let admin = natlis::actor::Actor::new("bench");
    let mut tx = store.begin(&admin).await?;
    let today = chrono::Utc::now().date_naive();
    natlis::service::registry::create_lab(
        &mut tx,
        natlis::service::registry::LabInput {
            code: "BENCH-LAB".into(),
            name: "bench".into(),
            licence_no: "X".into(),
            accredited_until: today,
            address: "-".into(),
            phone: "-".into(),
            opening_hours: "-".into(),
            price_single_cents: 0,
            price_pooled_cents: 0,
            daily_capacity: 0,
            region: "110000".into(),
        },
        today,
    )
    .await?;
    natlis::service::registry::create_site(
        &mut tx,
        natlis::service::registry::SiteInput {
            code: "BENCH".into(),
            name: "bench".into(),
            address: "-".into(),
            region: "110000".into(),
            lab: Some("BENCH-LAB".into()),
            pool_sizes: None,
            accepts_foreign_barcodes: Some(true),
        },
    )
    .await?;
    natlis::auth::add_user(
        &mut tx,
        natlis::auth::NewUser {
            username: "bench-collector".into(),
            role: natlis::domain::policy::Role::Collector,
            lab: None,
            site: Some("BENCH".into()),
            institution: None,
            region: None,
            password: None,
        },
    )
    .await?;
    let token = natlis::auth::issue_token(&mut tx, "bench-collector", "bench", None).await?;
    tx.commit().await?;
    Ok(token.token)
}

async fn run_backend(name: &str, location: Location, a: &AccessionArgs) -> anyhow::Result<()> {
    let store = Store::connect(&location, a.sqlite_sync).await?;
    store.migrate().await?;
    let token = setup(&store).await?;
    // As in `natlis serve`: the audit trail is sealed while the bench runs.
    if a.seal_every > 0 {
        natlis::worker::sealer::spawn(store.clone(), Duration::from_secs(a.seal_every));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = AppState::new(
        store.clone(),
        chrono::FixedOffset::east_opt(8 * 3600).expect("offset"),
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(natlis::launch(state, listener, async {
        let _ = stop_rx.await;
    }));
    let target = Arc::new(Target {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        next: AtomicU64::new(1),
        authorization: format!("Bearer {token}"),
        run: format!("B{}", std::process::id()),
    });

    let raw = raw_inserts(&store, a.clients, a.seconds).await;
    row(name, "raw single-row insert (autocommit)", &raw, None);

    let t = target.clone();
    let single = closed_loop(a.clients, a.seconds, move || {
        let t = t.clone();
        async move {
            let s = Instant::now();
            let ok = t.single().await;
            vec![(s.elapsed(), ok)]
        }
    })
    .await;
    row(
        name,
        "single accession (tube + person)",
        &single,
        Some((raw.rate(), "raw")),
    );

    let t = target.clone();
    let pooled = closed_loop(a.clients, a.seconds, move || {
        let t = t.clone();
        async move {
            let mut out = Vec::with_capacity(11);
            let s = Instant::now();
            let Some(pool) = t.open_pool().await else {
                return vec![(s.elapsed(), false)];
            };
            out.push((s.elapsed(), true));
            for _ in 0..10 {
                let s = Instant::now();
                let ok = t.scan(&pool).await;
                out.push((s.elapsed(), ok));
            }
            out
        }
    })
    .await;
    row(
        name,
        "pooled accession (open + 10 scans)",
        &pooled,
        Some((raw.rate(), "raw")),
    );

    // The saturation phases leave a backlog of unsealed audit entries far beyond what a steady
    // 1,000 scans/s produces: let the sealer catch up before measuring steady-state latency.
    if a.seal_every > 0 {
        while natlis::audit::seal(&store, chrono::Duration::zero())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_some()
        {}
    }
    let t = target.clone();
    let fixed_single = open_loop(a.rate, a.seconds, move |_| {
        let t = t.clone();
        async move { t.single().await }
    })
    .await;
    row(
        name,
        &format!("single accession @ {}/s offered", a.rate),
        &fixed_single,
        None,
    );

    // Pools opened beforehand; scan k goes to pool k/10.
    let mut pools = Vec::new();
    for _ in 0..(a.rate * a.seconds).div_ceil(10) {
        pools.push(target.open_pool().await.unwrap_or_default());
    }
    let pools = Arc::new(pools);
    let t = target.clone();
    let fixed_pooled = open_loop(a.rate, a.seconds, move |k| {
        let (t, pools) = (t.clone(), pools.clone());
        async move { t.scan(&pools[(k / 10) as usize]).await }
    })
    .await;
    row(
        name,
        &format!("pooled scan @ {}/s offered", a.rate),
        &fixed_pooled,
        None,
    );

    let _ = stop_tx.send(());
    let _ = server.await;
    store.close().await;
    Ok(())
}

/// A phase's figures, with its rate as a ratio to `base` (a rate, and what it is) of the same run.
fn row(backend: &str, phase: &str, f: &Figures, base: Option<(f64, &str)>) {
    let ratio = base
        .map(|(r, what)| format!("{:.2} × {what}", f.rate() / r))
        .unwrap_or_default();
    println!(
        "{backend:<9} {phase:<38} {:>9.0} {:>8.2} {:>8.2} {:>8} {ratio}",
        f.rate(),
        f.ms(0.5),
        f.ms(0.99),
        f.errors
    );
}

pub async fn accession(a: AccessionArgs) -> anyhow::Result<()> {
    natlis::metrics::install();
    println!(
        "natlis bench accession: {} cores, {} s per phase, {} clients, SQLite sync={:?}, audit sealed every {} s",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        a.seconds,
        a.clients,
        a.sqlite_sync,
        a.seal_every
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

/// Runs `run` on a fresh SQLite database in a temporary directory, then, given a server, on a
/// fresh PostgreSQL database (created and dropped again); `run` gets the backend's name.
pub(crate) async fn on_each_database<F, Fut>(
    postgres_url: Option<&str>,
    run: F,
) -> anyhow::Result<()>
where
    F: Fn(&'static str, Location) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    run("sqlite", Location::SqliteDir(dir.path().to_path_buf())).await?;
    if let Some(url) = postgres_url {
        with_fresh_pg_database(url, |db_url| run("postgres", Location::Url(db_url))).await?;
    }
    Ok(())
}

/// Runs `f` on a fresh database created in the PostgreSQL server at `url`, dropped afterwards.
pub(crate) async fn with_fresh_pg_database<F, Fut>(url: &str, f: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    sqlx::any::install_default_drivers();
    use sqlx::Connection;
    let mut admin = sqlx::AnyConnection::connect(url).await?;
    let name = format!("natlis_bench_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let cut = url.rfind('/').unwrap_or(url.len());
    let result = f(format!("{}/{name}", &url[..cut])).await;
    let _ = sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await;
    result
}
