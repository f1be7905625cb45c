//! `natlis bench ledger`: routine testing at a city's scale, on SQLite and PostgreSQL — a
//! roster of 100,000 rows previewed and applied, one institution's ledger of 20,000 staff, the
//! compliance of a region of 1,000,000 staff in 2,000 institutions, and the release of 384-well
//! plates of ten-person pools whose members are institution staff against plates whose
//! members are not (the ledger's share of a release, as a ratio measured in the same run).
//!
//! The roster is a generated CSV read by the same service as an upload; the region's staff
//! are written in bulk by SQL (setup, untimed) with covered days and holds spread by formula.

use super::import::{export, plate, pool_members, tubes, KIT};
use instrument_adapters::PlateSize;
use natlis::actor::Actor;
use natlis::domain::kit::Kit;
use natlis::domain::programme::day_number;
use natlis::domain::roster::RosterMode;
use natlis::service::coverage::{self, PeriodQuery};
use natlis::service::ledger::{self, LedgerQuery};
use natlis::service::roster::{self, RosterFile, RosterOptions};
use natlis::service::{imports, review};
use natlis::store::{Location, SqliteSync, Store};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct LedgerBenchArgs {
    /// Rows of the roster previewed and applied.
    #[arg(long, default_value_t = 100_000)]
    pub roster: usize,
    /// Staff of the institution whose ledger is read.
    #[arg(long, default_value_t = 20_000)]
    pub staff: usize,
    /// Staff of the region whose compliance is counted.
    #[arg(long, default_value_t = 1_000_000)]
    pub region_staff: i64,
    /// Institutions they work in.
    #[arg(long, default_value_t = 2_000)]
    pub institutions: i64,
    /// 384-well plates of pools released of each kind (staff, not staff).
    #[arg(long, default_value_t = 4)]
    pub release_plates: usize,
    /// Repetitions of each timed read.
    #[arg(long, default_value_t = 7)]
    pub repeat: usize,
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
}

fn tz() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("offset")
}

/// A valid resident ID number for `n` (distinct below 10⁷).
fn id_number(n: usize) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).expect("date")
        + chrono::Days::new((n % 15_000) as u64);
    let first17 = format!(
        "1101{:02}{}{:03}",
        n / 15_000 % 100,
        birth.format("%Y%m%d"),
        n % 1000
    );
    let arr: [u8; 17] = first17.as_bytes().try_into().expect("17 digits");
    format!(
        "{first17}{}",
        natlis::domain::id_number::check_character(&arr)
    )
}

fn roster_csv(from: usize, rows: usize) -> Vec<u8> {
    let classes = ["医务人员", "行政后勤", "冷链从业人员", "药店从业人员"];
    let mut s = String::with_capacity(rows * 60);
    s.push_str("姓名,身份证号,手机号,人员类别\n");
    for n in from..from + rows {
        s.push_str(&format!(
            "职工{n},{},139{:08},{}\n",
            id_number(n),
            n % 100_000_000,
            classes[n % classes.len()]
        ));
    }
    s.into_bytes()
}

fn quantile(samples: &[f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * q).round() as usize]
}

async fn institution(store: &Store, code: &str, region: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO institution (code, name, kind, address, phone, region, created_at) VALUES ($1, $1, 'hospital', '-', '-', $2, 0)",
    )
    .bind(code.to_string())
    .bind(region.to_string())
    .execute(store.writer())
    .await?;
    Ok(())
}

async fn apply(
    store: &Store,
    code: &str,
    file: RosterFile,
) -> anyhow::Result<roster::RosterReport> {
    let file = Arc::new(file);
    let code = code.to_string();
    store
        .execute(
            &Actor::new("bench"),
            natlis::store::change(move |tx| {
                let (file, code) = (file.clone(), code.clone());
                let o = RosterOptions {
                    mode: RosterMode::Add,
                    effective_on: None,
                };
                Box::pin(async move { roster::apply(tx, &code, &file, o, None).await })
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn run_backend(name: &str, location: Location, a: &LedgerBenchArgs) -> anyhow::Result<()> {
    let store = Store::connect(&location, a.sqlite_sync).await?;
    store.migrate().await?;
    store.set_zone(tz());
    natlis::service::kits::install_shipped(&store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::cli::bench::setup(&store).await?;
    // The bench lab stays accredited whatever the hour (a negative counts only from one).
    sqlx::query("UPDATE lab SET accredited_until = '2099-12-31'")
        .execute(store.writer())
        .await?;
    let today = chrono::Utc::now().with_timezone(&tz()).date_naive();
    let admin = Actor::new("bench");

    // 1. A roster of `roster` rows: preview, then apply (a fresh institution, everyone new).
    institution(&store, "BENCH-ROSTER", "110101").await?;
    let file = RosterFile {
        name: "roster.csv".into(),
        bytes: roster_csv(0, a.roster),
    };
    let t = Instant::now();
    let preview = {
        let mut conn = store.reader().acquire().await?;
        let o = RosterOptions {
            mode: RosterMode::Add,
            effective_on: None,
        };
        roster::preview(&mut conn, &admin, "BENCH-ROSTER", &file, o, today)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let preview_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(
        preview.joins == a.roster && preview.invalid == 0,
        "preview: {} joins, {} invalid",
        preview.joins,
        preview.invalid
    );
    let t = Instant::now();
    let applied = apply(&store, "BENCH-ROSTER", file).await?;
    let apply_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(applied.joins == a.roster, "applied {} joins", applied.joins);
    println!(
        "{name:<9} roster of {} rows: preview {:.2} s, apply {:.2} s, together {:.2} s ({:.0} rows/s)",
        a.roster,
        preview_s,
        apply_s,
        preview_s + apply_s,
        a.roster as f64 / (preview_s + apply_s)
    );

    // 2. One institution's ledger of `staff` staff, with standings spread over the states.
    institution(&store, "BENCH-HOSP", "110102").await?;
    apply(
        &store,
        "BENCH-HOSP",
        RosterFile {
            name: "hospital.csv".into(),
            bytes: roster_csv(a.roster, a.staff),
        },
    )
    .await?;
    let day = day_number(today);
    sqlx::query(&format!(
        "UPDATE membership SET covered_through = CASE WHEN id % 10 = 0 THEN NULL ELSE {day} - 3 + id % 17 END, \
         hold = CASE WHEN id % 97 = 0 THEN 'pending_recheck' END, \
         last_negative_at = CASE WHEN id % 10 = 0 THEN NULL ELSE {} END",
        chrono::Utc::now().timestamp_micros()
    ))
    .execute(store.writer())
    .await?;
    sqlx::query("ANALYZE").execute(store.writer()).await?;
    let mut times = vec![];
    let mut lines = 0;
    for _ in 0..a.repeat {
        let mut conn = store.reader().acquire().await?;
        let t = Instant::now();
        let l = ledger::ledger(
            &mut conn,
            &admin,
            "BENCH-HOSP",
            &LedgerQuery::default(),
            tz(),
            today,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        lines = l.lines.len();
    }
    let mut overdue_times = vec![];
    for _ in 0..a.repeat {
        let mut conn = store.reader().acquire().await?;
        let q = LedgerQuery {
            state: Some(natlis::domain::programme::DutyState::Overdue),
            ..Default::default()
        };
        let t = Instant::now();
        ledger::ledger(&mut conn, &admin, "BENCH-HOSP", &q, tz(), today)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        overdue_times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "{name:<9} ledger of {lines} staff: p50 {:.1} ms, max {:.1} ms; overdue only: p50 {:.1} ms",
        quantile(&times, 0.5),
        quantile(&times, 1.0),
        quantile(&overdue_times, 0.5)
    );

    // 3. A region of `region_staff` staff in `institutions` institutions (bulk, untimed).
    let t = Instant::now();
    let series = |from: i64, to: i64| {
        match store.backend() {
        natlis::store::Backend::Postgres => format!("SELECT generate_series({from}::BIGINT, {to}::BIGINT) AS n"),
        natlis::store::Backend::Sqlite => format!(
            "WITH RECURSIVE seq(n) AS (SELECT {from} UNION ALL SELECT n + 1 FROM seq WHERE n < {to}) SELECT n FROM seq"
        ),
    }
    };
    sqlx::query(&format!(
        "INSERT INTO institution (code, name, kind, address, phone, region, created_at) \
         SELECT 'R-' || CAST(n AS TEXT), 'R' || CAST(n AS TEXT), 'hospital', '-', '-', \
         '3201' || CAST(10 + n % 12 AS TEXT), 0 FROM ({}) g",
        series(1, a.institutions)
    ))
    .execute(store.writer())
    .await?;
    let (first_inst,): (i64,) =
        sqlx::query_as("SELECT MIN(id) FROM institution WHERE code LIKE 'R-%'")
            .fetch_one(store.reader())
            .await?;
    let (class, version): (i64, i64) = sqlx::query_as(
        "SELECT c.id, v.id FROM staff_class c JOIN programme_version v ON v.programme_id = c.programme_id \
         WHERE c.name = '医务人员' AND c.institution_id IS NULL ORDER BY v.version DESC LIMIT 1",
    )
    .fetch_one(store.reader())
    .await?;
    let mut n = 1;
    while n <= a.region_staff {
        let end = (n + 250_000 - 1).min(a.region_staff);
        sqlx::query(&format!(
            "INSERT INTO person (uid, doc_type, doc_no, name, phone, created_at) \
             SELECT 'rs-' || CAST(n AS TEXT), 'passport', 'RS' || CAST(n AS TEXT), '职工', '13900000000', 0 FROM ({}) g",
            series(n, end)
        ))
        .execute(store.writer())
        .await?;
        n = end + 1;
    }
    let (first_person,): (i64,) = sqlx::query_as("SELECT id FROM person WHERE uid = 'rs-1'")
        .fetch_one(store.reader())
        .await?;
    let mut n = 1;
    while n <= a.region_staff {
        let end = (n + 250_000 - 1).min(a.region_staff);
        sqlx::query(&format!(
            "INSERT INTO membership (institution_id, person_id, staff_class_id, state, joined_on, source, created_at, created_by, \
             judged_by, covered_through, hold) \
             SELECT {first_inst} + n % {inst}, {first_person} + n - 1, {class}, 'active', '2026-01-01', 'bench', 0, 'bench', {version}, \
             CASE WHEN n % 13 = 0 THEN NULL ELSE {day} - 4 + (n * 7 + n / {inst}) % 19 END, \
             CASE WHEN n % 211 = 0 THEN 'positive' END FROM ({}) g",
            series(n, end),
            inst = a.institutions
        ))
        .execute(store.writer())
        .await?;
        n = end + 1;
    }
    sqlx::query("ANALYZE").execute(store.writer()).await?;
    println!(
        "{name:<9} (setup: {} staff in {} institutions written in {:.1} s)",
        a.region_staff,
        a.institutions,
        t.elapsed().as_secs_f64()
    );
    for region in ["3201", "320110"] {
        let mut times = vec![];
        let mut staff = 0;
        let mut count = 0;
        for _ in 0..a.repeat {
            let mut conn = store.reader().acquire().await?;
            let t = Instant::now();
            let c = ledger::compliance(&mut conn, &admin, Some(region), today)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            staff = c.totals.staff;
            count = c.institutions_count;
        }
        println!(
            "{name:<9} compliance of region {region}: {staff} staff in {count} institutions, p50 {:.0} ms, max {:.0} ms",
            quantile(&times, 0.5),
            quantile(&times, 1.0)
        );
    }

    // 4. Releases of 384-well plates of pools of ten: members who are staff, and who are not.
    let kit = Kit::shipped()
        .into_iter()
        .find(|k| k.code == KIT)
        .expect("a shipped kit");
    let per_plate = 382;
    let mut timed: [Vec<f64>; 2] = [vec![], vec![]];
    institution(&store, "BENCH-POOLS", "110103").await?;
    for k in 0..a.release_plates * 2 {
        let staff = k % 2 == 0;
        let group = tubes(&store, &format!("L{k}-"), per_plate).await?;
        pool_members(&store, &group).await?;
        if staff {
            let ids: Vec<String> = group.iter().map(|(id, _)| id.to_string()).collect();
            let (inst,): (i64,) =
                sqlx::query_as("SELECT id FROM institution WHERE code = 'BENCH-POOLS'")
                    .fetch_one(store.reader())
                    .await?;
            sqlx::query(&format!(
                "INSERT INTO membership (institution_id, person_id, staff_class_id, state, joined_on, source, created_at, created_by, judged_by) \
                 SELECT {inst}, person_id, {class}, 'active', '2026-01-01', 'bench', 0, 'bench', {version} \
                 FROM tube_member WHERE tube_id IN ({})",
                ids.join(",")
            ))
            .execute(store.writer())
            .await?;
        }
        let run_no = plate(&store, PlateSize::P384, &group).await?;
        let barcodes: Vec<String> = group.iter().map(|(_, b)| b.clone()).collect();
        let read = Arc::new(
            imports::read_files(
                vec![imports::Upload {
                    name: format!("{run_no}.csv"),
                    bytes: export(&kit, PlateSize::P384, &barcodes, k as u64),
                }],
                Some(PlateSize::P384),
                &[],
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let r = run_no.clone();
        store
            .execute(
                &admin,
                natlis::store::change(move |tx| {
                    let (r, read) = (r.clone(), read.clone());
                    Box::pin(async move { Ok(imports::import(tx, &r, read, None).await?.round) })
                }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        let bulk = store
            .execute(
                &Actor::new("bench-reviewer"),
                natlis::store::change(move |tx| {
                    let run_no = run_no.clone();
                    Box::pin(async move { review::release_negatives(tx, &run_no).await })
                }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        timed[usize::from(!staff)].push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(bulk.released > 300, "released {}", bulk.released);
    }
    if a.release_plates == 0 {
        store.close().await;
        return Ok(());
    }
    let (with, without) = (quantile(&timed[0], 0.5), quantile(&timed[1], 0.5));
    let (covered,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM membership m JOIN institution i ON i.id = m.institution_id \
         WHERE i.code = 'BENCH-POOLS' AND m.covered_through >= {day}"
    ))
    .fetch_one(store.reader())
    .await?;
    println!(
        "{name:<9} release of a 384-well plate of pools (≈3,800 people): members on ledgers p50 {with:.0} ms, not {without:.0} ms — {:.2}× ({covered} ledger lines covered by the releases)",
        with / without
    );

    // 5. Compliance reports of the last 30 days: institutions whose staff have results (the
    // pools' members, one each) or none, a district and the whole region.
    let period = PeriodQuery::default();
    for code in ["BENCH-POOLS", "BENCH-HOSP"] {
        let mut times = vec![];
        let mut person_days = 0;
        for _ in 0..a.repeat {
            let mut conn = store.reader().acquire().await?;
            let t = Instant::now();
            let r = coverage::institution(&mut conn, &admin, code, &period, tz(), today)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            person_days = r.person_days.staff;
        }
        println!(
            "{name:<9} compliance report of {code} over 30 days: {person_days} person-days, p50 {:.0} ms, max {:.0} ms",
            quantile(&times, 0.5),
            quantile(&times, 1.0)
        );
    }
    for (region, runs) in [("320110", a.repeat.min(3)), ("3201", 1)] {
        let mut times = vec![];
        let mut person_days = 0;
        let mut count = 0;
        for _ in 0..runs {
            let mut conn = store.reader().acquire().await?;
            let t = Instant::now();
            let r = coverage::region(&mut conn, &admin, Some(region), &period, tz(), today)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            person_days = r.person_days.staff;
            count = r.institutions.len();
        }
        println!(
            "{name:<9} compliance report of region {region} over 30 days: {count} institutions, {person_days} person-days, p50 {:.0} ms",
            quantile(&times, 0.5)
        );
    }
    store.close().await;
    Ok(())
}

pub async fn run(a: LedgerBenchArgs) -> anyhow::Result<()> {
    println!(
        "natlis bench ledger: {} cores, roster {} rows, ledger {} staff, region {} staff in {} institutions, SQLite sync={:?}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        a.roster,
        a.staff,
        a.region_staff,
        a.institutions,
        a.sqlite_sync
    );
    let a = &a;
    crate::cli::bench::on_each_database(a.postgres_url.as_deref(), |name, location| {
        run_backend(name, location, a)
    })
    .await
}
