//! `natlis bench turnaround`: the turnaround report over millions of tubes and the at-risk
//! list, on SQLite and PostgreSQL, with the hourly rollup in place; and how fast the rollup's
//! folder counts tubes as they are released.
//!
//! The tubes are written in bulk by one SQL statement from a formula of their number (two
//! weeks of a city-wide round: 100 sites, three categories, one tube in fifty released late),
//! and the rollup is built from the same formula with the same rule the folder uses
//! ([`contribution`]); the report's total is checked against the formula's count. The folder
//! itself is timed on tubes left for it to count.

use natlis::actor::Actor;
use natlis::domain::turnaround::{contribution, hour_of, Counts, Outcome, Timeline};
use natlis::service::turnaround::AtRiskFilter;
use natlis::service::turnaround_report::{self as report, ReportFilter};
use natlis::store::{Location, SqliteSync, Store};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct TurnaroundBenchArgs {
    /// Tubes in the database.
    #[arg(long, default_value_t = 10_000_000)]
    pub tubes: i64,
    /// Days they were collected over.
    #[arg(long, default_value_t = 14)]
    pub days: i64,
    /// Tubes still under way (due over the next 12 hours).
    #[arg(long, default_value_t = 20_000)]
    pub open: i64,
    /// Tubes left for the folder to count, timed.
    #[arg(long, default_value_t = 200_000)]
    pub fold: i64,
    /// Repetitions of each timed query.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
}

const SITES: i64 = 100;
const CATEGORIES: [(&str, &str); 3] = [
    ("mass_screening", "routine"),
    ("outpatient", "standard"),
    ("fever_clinic", "urgent"),
];
const S: i64 = 1_000_000;
/// A microsecond factor in SQL, as a 64-bit integer (PostgreSQL reads a bare 1000000 as a
/// 32-bit one, and hours of them overflow).
const US: &str = "CAST(1000000 AS BIGINT)";

/// Tube `n`'s steps, in seconds after its collection: the formula both the SQL and the rollup
/// use.
fn steps(n: i64) -> [i64; 5] {
    let received = 1800 + (n % 7) * 600;
    let placed = received + 900 + (n % 5) * 600;
    let imported = placed + 7200 + (n % 3) * 1800;
    let late = if n % 50 == 0 { 6 * 3600 } else { 0 };
    let released = imported + 600 + (n % 11) * 300 + late;
    [received, placed, imported, released, released + 30]
}

/// The same formula in SQL, over `n`.
const STEPS_SQL: [&str; 5] = [
    "(1800 + (n % 7) * 600)",
    "(1800 + (n % 7) * 600 + 900 + (n % 5) * 600)",
    "(1800 + (n % 7) * 600 + 900 + (n % 5) * 600 + 7200 + (n % 3) * 1800)",
    "(1800 + (n % 7) * 600 + 900 + (n % 5) * 600 + 7200 + (n % 3) * 1800 + 600 + (n % 11) * 300 + CASE WHEN n % 50 = 0 THEN 21600 ELSE 0 END)",
    "(1800 + (n % 7) * 600 + 900 + (n % 5) * 600 + 7200 + (n % 3) * 1800 + 600 + (n % 11) * 300 + CASE WHEN n % 50 = 0 THEN 21600 ELSE 0 END + 30)",
];

fn deadline_hours(category: usize) -> i64 {
    [24, 12, 6][category]
}

/// Inserts tubes `from..to` (released, or left for the folder when `pending`).
async fn insert_released(
    store: &Store,
    (site0, lab): (i64, i64),
    start: i64,
    step: i64,
    from: i64,
    to: i64,
    pending: bool,
) -> anyhow::Result<()> {
    let series = match store.backend() {
        natlis::store::Backend::Postgres => "SELECT generate_series($1::BIGINT, $2::BIGINT) AS n",
        natlis::store::Backend::Sqlite => {
            "WITH RECURSIVE seq(n) AS (SELECT $1 UNION ALL SELECT n + 1 FROM seq WHERE n < $2) SELECT n FROM seq"
        }
    };
    let clock = format!("({start} + (n - {from}) * {step})");
    let at = |i: usize| format!("({clock} + {} * {US})", STEPS_SQL[i]);
    let (fold_pending, folded) = if pending { (1, 0) } else { (0, 3) };
    let sql = format!(
        "INSERT INTO tube (barcode, kind, status, nominal_size, member_count, short_closed, sample_type, \
         site_id, collector, collected_at, category, priority, deadline_at, payer, opened_by, lab_id, \
         received_at, received_by, transport_minutes, transport_over_limit, created_at, clock_start_at, \
         placed_at, loaded_at, imported_at, called_at, released_at, pushed_at, acked_at, fold_pending, folded) \
         SELECT 'T' || CAST(n AS TEXT), 'pool', 'received', 10, 10, 0, 'oropharyngeal', \
         {site0} + n % {SITES}, 'bench', {clock}, \
         CASE n % 3 WHEN 0 THEN 'mass_screening' WHEN 1 THEN 'outpatient' ELSE 'fever_clinic' END, \
         CASE n % 3 WHEN 0 THEN 'routine' WHEN 1 THEN 'standard' ELSE 'urgent' END, \
         {clock} + CASE n % 3 WHEN 0 THEN 24 WHEN 1 THEN 12 ELSE 6 END * 3600 * {US}, \
         'public', 'bench', {lab}, {r}, 'bench', 0, 0, {clock}, {clock}, {p}, {p}, {i}, {i}, {rel}, {rel}, {ack}, \
         {fold_pending}, {folded} FROM ({series}) g",
        r = at(0),
        p = at(1),
        i = at(2),
        rel = at(3),
        ack = at(4),
    );
    // In slices, so neither database holds one enormous statement.
    let mut n = from;
    while n < to {
        let end = (n + 500_000).min(to);
        sqlx::query(&sql)
            .bind(n)
            .bind(end - 1)
            .execute(store.writer())
            .await?;
        n = end;
    }
    Ok(())
}

async fn run_backend(
    name: &str,
    location: Location,
    a: &TurnaroundBenchArgs,
) -> anyhow::Result<()> {
    let store = Store::connect(&location, a.sqlite_sync).await?;
    store.migrate().await?;
    crate::cli::bench::setup(&store).await?;
    let (site, lab): (i64, i64) =
        sqlx::query_as("SELECT id, lab_id FROM site WHERE code = 'BENCH'")
            .fetch_one(store.reader())
            .await?;
    let now = chrono::Utc::now().timestamp_micros();
    for k in 1..SITES {
        sqlx::query(
            "INSERT INTO site (code, name, address, region, lab_id, pool_sizes, accepts_foreign_barcodes, created_at) \
             VALUES ($1, $2, 'bench', '110108', $3, '[5,10,20]', 1, $4)",
        )
        .bind(format!("BENCH-{k:03}"))
        .bind(format!("采样点 {k}"))
        .bind(lab)
        .bind(now)
        .execute(store.writer())
        .await?;
    }
    let (site0,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM site")
        .fetch_one(store.reader())
        .await?;
    anyhow::ensure!(site0 == site, "the bench sites are numbered from the first");

    // Two weeks up to a day ago, so every tube is released.
    let span = a.days * 24 * 3600 * S;
    let start = now - span - 24 * 3600 * S;
    let step = (span / a.tubes.max(1)).max(1);
    let t = Instant::now();
    insert_released(&store, (site0, lab), start, step, 0, a.tubes, false).await?;
    let insert_s = t.elapsed().as_secs_f64();

    // The rollup of those tubes, by the folder's rule.
    let t = Instant::now();
    let mut groups: BTreeMap<(i64, i64, usize), Counts> = BTreeMap::new();
    for n in 0..a.tubes {
        let clock = start + n * step;
        let s = steps(n);
        let c = (n % 3) as usize;
        let tl = Timeline {
            clock_start: clock,
            collected: clock,
            deadline: clock + deadline_hours(c) * 3600 * S,
            received: Some(clock + s[0] * S),
            placed: Some(clock + s[1] * S),
            loaded: Some(clock + s[1] * S),
            requeued: None,
            imported: Some(clock + s[2] * S),
            released: Some(clock + s[3] * S),
            acked: Some(clock + s[4] * S),
        };
        let (counts, _) = contribution(&tl, Outcome::Released, 0);
        groups
            .entry((hour_of(clock), site0 + n % SITES, c))
            .or_default()
            .add(&counts);
    }
    let rollup_rows = groups.len();
    let mut tx = store.writer().begin().await?;
    for ((hour, site, c), counts) in &groups {
        let (category, priority) = CATEGORIES[*c];
        sqlx::query(
            "INSERT INTO turnaround_rollup (hour, lab_id, site_id, priority, category, released, within_deadline, \
             rejected, resampled, s_recollect, s_transport, s_queue, s_run, s_review, pushed, s_push, \
             breach_recollect, breach_transport, breach_queue, breach_run, breach_review, hist) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(*hour)
        .bind(lab)
        .bind(*site)
        .bind(priority)
        .bind(category)
        .bind(counts.released)
        .bind(counts.within_deadline)
        .bind(counts.stage_seconds[0])
        .bind(counts.stage_seconds[1])
        .bind(counts.stage_seconds[2])
        .bind(counts.stage_seconds[3])
        .bind(counts.stage_seconds[4])
        .bind(counts.pushed)
        .bind(counts.push_seconds)
        .bind(counts.breaches[0])
        .bind(counts.breaches[1])
        .bind(counts.breaches[2])
        .bind(counts.breaches[3])
        .bind(counts.breaches[4])
        .bind(counts.hist.encode())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let rollup_s = t.elapsed().as_secs_f64();

    // Tubes under way: received, due over the next 12 hours.
    let open_start = now - 12 * 3600 * S;
    let open_step = (12 * 3600 * S / a.open.max(1)).max(1);
    sqlx::query(&format!(
        "INSERT INTO tube (barcode, kind, status, nominal_size, member_count, short_closed, sample_type, \
         site_id, collector, collected_at, category, priority, deadline_at, payer, opened_by, lab_id, \
         received_at, received_by, transport_minutes, transport_over_limit, created_at, clock_start_at) \
         SELECT 'O' || CAST(n AS TEXT), 'pool', 'received', 10, 10, 0, 'oropharyngeal', {site0} + n % {SITES}, 'bench', \
         {open_start} + n * {open_step}, 'outpatient', 'standard', {open_start} + n * {open_step} + 12 * 3600 * {US}, \
         'public', 'bench', {lab}, {open_start} + n * {open_step} + 1800 * {US}, 'bench', 30, 0, {now}, {open_start} + n * {open_step} \
         FROM ({}) g",
        match store.backend() {
            natlis::store::Backend::Postgres => "SELECT generate_series(1::BIGINT, $1::BIGINT) AS n".to_string(),
            natlis::store::Backend::Sqlite =>
                "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1) SELECT n FROM seq".to_string(),
        }
    ))
    .bind(a.open)
    .execute(store.writer())
    .await?;

    // The folder, on tubes left for it (collected 40 to 20 hours ago, released since).
    let fold_step = (20 * 3600 * S / a.fold.max(1)).max(1);
    let fold_start = now - 40 * 3600 * S;
    insert_released(
        &store,
        (site0, lab),
        fold_start,
        fold_step,
        a.tubes,
        a.tubes + a.fold,
        true,
    )
    .await?;
    sqlx::query("ANALYZE").execute(store.writer()).await?;
    let t = Instant::now();
    let mut folded = 0;
    loop {
        let n = report::fold(&store, report::FOLD_BATCH)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if n == 0 {
            break;
        }
        folded += n;
    }
    let fold_s = t.elapsed().as_secs_f64();
    println!(
        "{name:<9} setup: {} tubes inserted in {insert_s:.1} s, rollup of {rollup_rows} rows built in {rollup_s:.1} s",
        a.tubes
    );
    println!(
        "{name:<9} {:<46} {:>10.0} tubes/s ({folded} in {fold_s:.2} s)",
        "folder: released tubes counted into the rollup",
        folded as f64 / fold_s
    );

    // The report over everything, and the at-risk list.
    let actor = Actor::new("bench");
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let from = today - chrono::Duration::days(a.days + 3);
    let filter = ReportFilter {
        from: Some(from.to_string()),
        to: Some(today.to_string()),
        ..Default::default()
    };
    let mut times = vec![];
    let mut last = None;
    for _ in 0..a.repeat {
        let mut conn = store.reader().acquire().await?;
        let t = Instant::now();
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let r = report::report(&mut tx, &actor, &filter, tz, today)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tx.commit().await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        last = Some(r);
    }
    let r = last.expect("at least one run");
    anyhow::ensure!(
        r.total.released == a.tubes + a.fold,
        "the report counts {} released tubes, the bench made {}",
        r.total.released,
        a.tubes + a.fold
    );
    times.sort_by(f64::total_cmp);
    println!(
        "{name:<9} {:<46} median {:>7.1} ms, worst {:>7.1} ms ({} tubes: {} released, {} under way; {} hours, p50 {} min, {:.1} % in time)",
        "turnaround report (all tubes, by day and hour)",
        times[times.len() / 2],
        times[times.len() - 1],
        r.total.tubes,
        r.total.released,
        r.total.pending,
        r.by_hour.len(),
        r.total.turnaround_p50_minutes.unwrap_or(0),
        100.0 * r.total.share_within_deadline.unwrap_or(0.0)
    );
    let site_filter = ReportFilter {
        site: Some("BENCH-042".into()),
        category: Some("outpatient".into()),
        ..filter.clone()
    };
    let mut times = vec![];
    for _ in 0..a.repeat {
        let mut conn = store.reader().acquire().await?;
        let t = Instant::now();
        report::report(&mut conn, &actor, &site_filter, tz, today)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{name:<9} {:<46} median {:>7.1} ms",
        "turnaround report (one site, one category)",
        times[times.len() / 2]
    );
    let mut times = vec![];
    let mut n = 0;
    for _ in 0..a.repeat.max(20) {
        let mut conn = store.reader().acquire().await?;
        let t = Instant::now();
        let items =
            natlis::service::turnaround::at_risk(&mut conn, &actor, &AtRiskFilter::default())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        n = items.len();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{name:<9} {:<46} median {:>7.2} ms, worst {:>7.2} ms ({n} tubes due within 2 h, of {} under way)",
        "at-risk list",
        times[times.len() / 2],
        times[times.len() - 1],
        a.open
    );
    store.close().await;
    Ok(())
}

pub async fn run(a: TurnaroundBenchArgs) -> anyhow::Result<()> {
    println!(
        "natlis bench turnaround: {} cores, {} tubes over {} days, {} sites, SQLite sync={:?}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        a.tubes,
        a.days,
        SITES,
        a.sqlite_sync
    );
    let a = &a;
    crate::cli::bench::on_each_database(a.postgres_url.as_deref(), |name, location| {
        run_backend(name, location, a)
    })
    .await
}
