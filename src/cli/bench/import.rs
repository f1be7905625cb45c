//! `natlis bench import`: reading, interpreting and committing instrument result files, one
//! plate after another as a lab imports them, for 96-well and 384-well four-channel plates
//! (ORF1ab FAM, N VIC, E ROX, internal control CY5), next to the bare `csv`-crate read of the
//! same bytes and the adapter's parse alone.
//!
//! Setup (not timed): a lab, its received tubes, plates with every free well loaded, and one
//! synthetic CFX export per plate whose sample names are the tubes' barcodes.

use hdrhistogram::Histogram;
use instrument_adapters::{PlateSize, Well};
use natlis::actor::Actor;
use natlis::domain::kit::Kit;
use natlis::domain::plate::{Layout, WellContent};
use natlis::service::{imports, plates, review};
use natlis::store::{Location, SqliteSync, Store};
use natlis::synth::{plate_export, Shape};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Debug, Clone)]
pub struct ImportBenchArgs {
    /// 96-well plates to import.
    #[arg(long, default_value_t = 1000)]
    pub plates96: usize,
    /// 384-well plates to import.
    #[arg(long, default_value_t = 200)]
    pub plates384: usize,
    /// Plates of each size whose tubes are then made ten-person pools and their clean
    /// negatives released in bulk, timed.
    #[arg(long, default_value_t = 20)]
    pub release_plates: usize,
    /// A PostgreSQL server to benchmark too (a fresh database is created in it and dropped).
    #[arg(long, env = "NATLIS_BENCH_PG_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
}

pub(crate) const KIT: &str = "MACCURA-ORF1AB-N-E";

/// A plausible plate: mostly negatives, a few positives, an odd single-target and invalid well.
pub(crate) fn export(kit: &Kit, size: PlateSize, barcodes: &[String], seed: u64) -> Vec<u8> {
    let mut layout = Layout::new(size);
    for (i, b) in barcodes.iter().enumerate() {
        let well = Well::from_index(i as u16, 0, size).expect("a well on the plate");
        layout.wells.insert(well, WellContent::Tube(b.clone()));
    }
    plate_export(kit, &layout, None, |i| {
        match (seed.wrapping_mul(31).wrapping_add(i as u64 * 7919)) % 1000 {
            r @ 0..=4 => Shape::Positive(24.0 + r as f64),
            5 => Shape::SingleTarget(37.2),
            6 => Shape::Invalid,
            r => Shape::Negative(26.0 + (r % 40) as f64 / 10.0),
        }
    })
}

/// Received tubes `{prefix}{n}`, n = 1…count, made in one statement; returns their ids.
pub(crate) async fn tubes(
    store: &Store,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<(i64, String)>> {
    let (site, lab): (i64, i64) =
        sqlx::query_as("SELECT id, lab_id FROM site WHERE code = 'BENCH'")
            .fetch_one(store.reader())
            .await?;
    let now = chrono::Utc::now().timestamp_micros();
    sqlx::query(
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $1) \
         INSERT INTO tube (barcode, kind, status, nominal_size, member_count, short_closed, sample_type, \
         site_id, collector, collected_at, category, priority, deadline_at, payer, opened_by, \
         lab_id, received_at, received_by, transport_minutes, transport_over_limit, created_at) \
         SELECT $2 || CAST(n AS TEXT), 'single', 'received', 1, 1, 0, 'oropharyngeal', $3, 'bench', $4, \
         'voluntary', 'standard', $5, 'self', 'bench', $6, $4, 'bench', 0, 0, $4 FROM seq",
    )
    .bind(count as i64)
    .bind(prefix.to_string())
    .bind(site)
    .bind(now)
    .bind(now + 12 * 3_600_000_000)
    .bind(lab)
    .execute(store.writer())
    .await?;
    Ok(
        sqlx::query_as("SELECT id, barcode FROM tube WHERE barcode LIKE $1 ORDER BY id")
            .bind(format!("{prefix}%"))
            .fetch_all(store.reader())
            .await?,
    )
}

/// A plate with every free well loaded with the given tubes (written in bulk: setup, untimed).
pub(crate) async fn plate(
    store: &Store,
    size: PlateSize,
    tubes: &[(i64, String)],
) -> anyhow::Result<String> {
    let admin = Actor::new("bench");
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let req = plates::NewPlate {
        lab: "BENCH-LAB".into(),
        size: size.wells(),
        kit: KIT.into(),
        kit_version: None,
        instrument: Some("bench".into()),
    };
    let view = store
        .execute(
            &admin,
            natlis::store::change(move |tx| {
                let req = req.clone();
                Box::pin(async move { Ok(plates::create(tx, req).await?.view(tz)) })
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = store.begin(&admin).await?;
    let now = chrono::Utc::now().timestamp_micros();
    for chunk in tubes.iter().enumerate().collect::<Vec<_>>().chunks(32) {
        let mut wells = String::from(
            "INSERT INTO plate_well (plate_id, well, well_index, content, tube_id) VALUES ",
        );
        let mut attempts = String::from(
            "INSERT INTO attempt (tube_id, plate_id, well, attempt_no, extraction_no, status, created_at, created_by) VALUES ",
        );
        for (k, (i, (id, _))) in chunk.iter().enumerate() {
            let well = Well::from_index(*i as u16, 0, size).map_err(anyhow::Error::msg)?;
            let sep = if k > 0 { ", " } else { "" };
            wells.push_str(&format!("{sep}({}, '{well}', {i}, 'tube', {id})", view.id));
            attempts.push_str(&format!(
                "{sep}({id}, {}, '{well}', 1, 1, 'loaded', {now}, 'bench')",
                view.id
            ));
        }
        sqlx::query(&wells).execute(tx.conn()).await?;
        sqlx::query(&attempts).execute(tx.conn()).await?;
    }
    tx.commit().await?;
    Ok(view.run_no)
}

struct Timing {
    hist: Histogram<u64>,
    total: f64,
    rows: usize,
}

impl Timing {
    fn new() -> Self {
        Self {
            hist: Histogram::new(3).expect("histogram"),
            total: 0.0,
            rows: 0,
        }
    }

    fn add(&mut self, secs: f64, rows: usize) {
        let _ = self.hist.record((secs * 1e6) as u64);
        self.total += secs;
        self.rows += rows;
    }

    fn print(&self, db: &str, size: &str, phase: &str) {
        let ms = |q: f64| self.hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{db:<9} {size:<6} {phase:<30} {:>7} {:>9.3} {:>9.3} {:>9.3} {:>11.0} {:>8.2}",
            self.hist.len(),
            self.total * 1000.0 / self.hist.len().max(1) as f64,
            ms(0.5),
            ms(0.99),
            self.rows as f64 / self.total.max(1e-9),
            self.total
        );
    }
}

/// Counts the records and cells of a CSV with the bare `csv` crate (the floor for any reader).
fn bare_csv(bytes: &[u8]) -> usize {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let mut rows = 0;
    let mut cells = 0;
    for rec in rdr.records().flatten() {
        rows += 1;
        cells += rec.iter().filter(|c| !c.is_empty()).count();
    }
    std::hint::black_box(cells);
    rows
}

/// Makes each tube a ten-person pool: ten people each, scanned in (setup, untimed).
pub(crate) async fn pool_members(store: &Store, tubes: &[(i64, String)]) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_micros();
    for chunk in tubes.chunks(50) {
        let mut people = vec![];
        for (id, _) in chunk {
            for k in 1..=10 {
                people.push(format!(
                    "('bp-{id}-{k}', 'passport', 'BP{id:08}{k:02}', '压测', '13900000000', {now})"
                ));
            }
        }
        let made: Vec<(i64, String)> = sqlx::query_as(&format!(
            "INSERT INTO person (uid, doc_type, doc_no, name, phone, created_at) VALUES {} RETURNING id, uid",
            people.join(", ")
        ))
        .fetch_all(store.writer())
        .await?;
        let members: Vec<String> = made
            .iter()
            .map(|(person, uid)| {
                let mut parts = uid.split('-').skip(1);
                let tube = parts.next().unwrap_or("0");
                let position = parts.next().unwrap_or("0");
                format!("({tube}, {person}, {position}, {now}, 'bench')")
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO tube_member (tube_id, person_id, position, added_at, added_by) VALUES {}",
            members.join(", ")
        ))
        .execute(store.writer())
        .await?;
        let ids: Vec<String> = chunk.iter().map(|(id, _)| id.to_string()).collect();
        sqlx::query(&format!(
            "UPDATE tube SET kind = 'pool', nominal_size = 10, member_count = 10 WHERE id IN ({})",
            ids.join(", ")
        ))
        .execute(store.writer())
        .await?;
    }
    Ok(())
}

async fn run_size(
    db: &str,
    store: &Store,
    size: PlateSize,
    count: usize,
    release_plates: usize,
) -> anyhow::Result<()> {
    if count == 0 {
        return Ok(());
    }
    let per_plate = usize::from(size.wells()) - 2;
    let label = format!("{}", size.wells());
    let all = tubes(store, &format!("B{}-", size.wells()), per_plate * count).await?;
    let kit = Kit::shipped()
        .into_iter()
        .find(|k| k.code == KIT)
        .expect("a shipped kit");
    let mut jobs = vec![];
    let released: Vec<&[(i64, String)]> = all.chunks(per_plate).take(release_plates).collect();
    for group in &released {
        pool_members(store, group).await?;
    }
    for (k, group) in all.chunks(per_plate).enumerate() {
        let run_no = plate(store, size, group).await?;
        let barcodes: Vec<String> = group.iter().map(|(_, b)| b.clone()).collect();
        jobs.push((run_no, export(&kit, size, &barcodes, k as u64)));
    }
    // As a database in service would have: statistics of the tables just filled.
    sqlx::query("ANALYZE").execute(store.writer()).await?;
    let mut bare = Timing::new();
    let mut parse = Timing::new();
    for (_, bytes) in &jobs {
        let t = Instant::now();
        let rows = bare_csv(bytes);
        bare.add(t.elapsed().as_secs_f64(), rows);
        let t = Instant::now();
        let (_, rows) = instrument_adapters::parse_for_plate(bytes, &[], Some(size))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        parse.add(t.elapsed().as_secs_f64(), rows.len());
    }
    bare.print(db, &label, "bare csv read");
    parse.print(db, &label, "parse (adapter)");
    let admin = Actor::new("bench");
    let tz = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    let mut full = Timing::new();
    let start = Instant::now();
    let run_nos: Vec<String> = jobs.iter().map(|j| j.0.clone()).collect();
    for (run_no, bytes) in jobs {
        let t = Instant::now();
        let upload = imports::Upload {
            name: format!("{run_no}.csv"),
            bytes,
        };
        let read = Arc::new(
            imports::read_files(vec![upload], Some(size), &[])
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let rows: usize = read.files.iter().map(|f| f.readings.len()).sum();
        let view = store
            .execute(
                &admin,
                natlis::store::change(move |tx| {
                    let (run_no, read) = (run_no.clone(), read.clone());
                    Box::pin(
                        async move { Ok(imports::import(tx, &run_no, read, None).await?.view(tz)) },
                    )
                }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            view.calls.len() == per_plate && view.run.valid,
            "plate {}: {} calls, run valid {}",
            view.plate,
            view.calls.len(),
            view.run.valid
        );
        full.add(t.elapsed().as_secs_f64(), rows);
    }
    let wall = start.elapsed().as_secs_f64();
    full.print(db, &label, "parse + interpret + commit");
    println!(
        "{db:<9} {label:<6} {count} plates imported one after another in {wall:.2} s ({:.0} plates/s)",
        count as f64 / wall
    );
    // A reviewer (not the bench user who ran the plates) releases the clean negatives of the
    // pooled plates in bulk: results, statuses and outbox messages for ten people a tube.
    let reviewer = Actor::new("bench-reviewer");
    let mut release = Timing::new();
    for run_no in run_nos.iter().take(released.len()) {
        let t = Instant::now();
        let run_no = run_no.clone();
        let bulk = store
            .execute(
                &reviewer,
                natlis::store::change(move |tx| {
                    let run_no = run_no.clone();
                    Box::pin(async move { review::release_negatives(tx, &run_no).await })
                }),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        release.add(t.elapsed().as_secs_f64(), bulk.released * 10);
    }
    if !released.is_empty() {
        release.print(db, &label, "bulk release, pools of 10 (rows=people)");
    }
    Ok(())
}

async fn run_backend(name: &str, location: Location, a: &ImportBenchArgs) -> anyhow::Result<()> {
    let store = Store::connect(&location, a.sqlite_sync).await?;
    store.migrate().await?;
    natlis::service::kits::install_shipped(&store)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::cli::bench::setup(&store).await?;
    // A health-code sink for every region, so a release writes its outbox messages (nothing
    // delivers them here).
    sqlx::query(
        "INSERT INTO push_sink (name, region_prefix, kind, url, token, hmac_key, batch_size, max_attempts, enabled, created_at, created_by) \
         VALUES ('bench', '', 'fhir_http', 'http://127.0.0.1:9/fhir', NULL, NULL, 500, 12, 1, 0, 'bench')",
    )
    .execute(store.writer())
    .await?;
    run_size(name, &store, PlateSize::P96, a.plates96, a.release_plates).await?;
    run_size(name, &store, PlateSize::P384, a.plates384, a.release_plates).await?;
    store.close().await;
    Ok(())
}

pub async fn run(a: ImportBenchArgs) -> anyhow::Result<()> {
    natlis::metrics::install();
    println!(
        "natlis bench import: {} cores, four channels (FAM, VIC, ROX, CY5), kit {KIT}, SQLite sync={:?}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        a.sqlite_sync
    );
    println!(
        "{:<9} {:<6} {:<30} {:>7} {:>9} {:>9} {:>9} {:>11} {:>8}",
        "database", "wells", "phase", "plates", "ms/plate", "p50 ms", "p99 ms", "rows/s", "total s"
    );
    let a = &a;
    crate::cli::bench::on_each_database(a.postgres_url.as_deref(), |name, location| {
        run_backend(name, location, a)
    })
    .await
}
