//! `turnaround_rollup`: the turnaround counts per UTC hour of the clock's start, lab, site,
//! priority and category (时限汇总), kept by the folder; and the tube reads the report adds to
//! it (tubes the rollup has not counted yet, tubes still under way).

use super::timeline::{Coverage, TimelineRow, TIMELINE_COLUMNS, UNRELEASED};
use super::Tx;
use crate::domain::turnaround::{self as rules, Counts, Histogram, Outcome};
use crate::domain::vocab::{Category, Priority};
use sqlx::{AnyConnection, FromRow};
use std::collections::BTreeMap;

/// A rollup row's key: UTC hour of the clock's start, lab, site, priority, category.
pub type Key = (i64, i64, i64, String, String);

/// A tube as the rollup counts it.
#[derive(FromRow)]
pub struct FoldRow {
    pub id: i64,
    /// The contributions already counted (a mask of [`rules::contribution`]).
    pub folded: i64,
    status: String,
    resampled_at: Option<i64>,
    lab_key: i64,
    site_id: i64,
    priority: String,
    category: String,
    #[sqlx(flatten)]
    pub times: TimelineRow,
}

impl FoldRow {
    pub fn outcome(&self) -> Outcome {
        if self.times.released_at.is_some() {
            Outcome::Released
        } else if self.status == "rejected" {
            Outcome::Rejected
        } else if self.resampled_at.is_some() {
            Outcome::Resampled
        } else {
            Outcome::Open
        }
    }

    pub fn key(&self) -> Key {
        (
            rules::hour_of(self.times.clock_start_at),
            self.lab_key,
            self.site_id,
            self.priority.clone(),
            self.category.clone(),
        )
    }
}

const FOLD_SELECT: &str = "SELECT t.id, t.folded, t.status, t.resampled_at, \
    COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id, 0) AS lab_key, t.site_id, t.priority, t.category";

/// Up to `max` tubes whose steps changed since the last turn, locked for this turn (on
/// PostgreSQL with `SKIP LOCKED`, so that nodes fold side by side).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn take_pending(tx: &mut Tx, max: i64) -> Result<Vec<FoldRow>, sqlx::Error> {
    let skip = tx.backend().skip_locked("t");
    sqlx::query_as(&format!(
        "{FOLD_SELECT}, {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE t.fold_pending = 1 ORDER BY t.id LIMIT $1{skip}"
    ))
    .bind(max)
    .fetch_all(tx.conn())
    .await
}

/// The tubes are counted up to `mask`.
#[tracing::instrument(level = "debug", skip_all, fields(tubes = ids.len()))]
pub async fn mark_folded(tx: &mut Tx, mask: i64, ids: &[i64]) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(tx.backend().rows_per_insert(1)) {
        sqlx::query(&format!(
            "UPDATE tube SET fold_pending = 0, folded = $1 WHERE id IN ({})",
            super::id_list(chunk)
        ))
        .bind(mask)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

const SUMS: [&str; 17] = [
    "released",
    "within_deadline",
    "rejected",
    "resampled",
    "s_recollect",
    "s_transport",
    "s_queue",
    "s_run",
    "s_review",
    "pushed",
    "s_push",
    "breach_recollect",
    "breach_transport",
    "breach_queue",
    "breach_run",
    "breach_review",
    "hist",
];

fn sums(c: &Counts) -> [i64; 16] {
    [
        c.released,
        c.within_deadline,
        c.rejected,
        c.resampled,
        c.stage_seconds[0],
        c.stage_seconds[1],
        c.stage_seconds[2],
        c.stage_seconds[3],
        c.stage_seconds[4],
        c.pushed,
        c.push_seconds,
        c.breaches[0],
        c.breaches[1],
        c.breaches[2],
        c.breaches[3],
        c.breaches[4],
    ]
}

/// A stored histogram longer than this is rewritten with each bucket once.
const COMPACT_AT: i64 = 2000;

/// A stored histogram that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("turnaround_rollup.hist: {0}")]
pub struct BadHistogram(pub String);

/// Adds the groups' counts to their rollup rows, many rows per statement: the sums are added
/// in place and the new histogram entries appended (a bucket may then appear more than once,
/// which reading adds up); a histogram grown long is compacted. On PostgreSQL the upsert
/// locks the rows, in key order, until the transaction ends.
#[tracing::instrument(level = "debug", skip_all, fields(groups = groups.len()))]
pub async fn add(tx: &mut Tx, groups: &BTreeMap<Key, Counts>) -> Result<(), sqlx::Error> {
    let rows: Vec<(&Key, &Counts)> = groups.iter().collect();
    let mut long: Vec<Key> = vec![];
    for chunk in rows.chunks(tx.backend().rows_per_insert(3)) {
        let mut values = vec![];
        for (i, ((hour, lab, site, _, _), c)) in chunk.iter().enumerate() {
            let sums: Vec<String> = sums(c).iter().map(|n| n.to_string()).collect();
            values.push(format!(
                "({hour}, {lab}, {site}, ${}, ${}, {}, ${})",
                3 * i + 1,
                3 * i + 2,
                sums.join(", "),
                3 * i + 3
            ));
        }
        let add: Vec<String> = SUMS[..16]
            .iter()
            .map(|col| format!("{col} = turnaround_rollup.{col} + excluded.{col}"))
            .collect();
        let sql = format!(
            "INSERT INTO turnaround_rollup (hour, lab_id, site_id, priority, category, {}) VALUES {} \
             ON CONFLICT (hour, lab_id, site_id, priority, category) DO UPDATE SET {}, \
             hist = CASE WHEN turnaround_rollup.hist = '' THEN excluded.hist \
               WHEN excluded.hist = '' THEN turnaround_rollup.hist \
               ELSE turnaround_rollup.hist || ',' || excluded.hist END \
             RETURNING hour, lab_id, site_id, priority, category, CAST(LENGTH(hist) AS BIGINT)",
            SUMS.join(", "),
            values.join(", "),
            add.join(", ")
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64, String, String, i64)>(&sql);
        for ((_, _, _, priority, category), c) in chunk {
            q = q
                .bind(priority.clone())
                .bind(category.clone())
                .bind(c.hist.encode());
        }
        for (hour, lab, site, priority, category, len) in q.fetch_all(tx.conn()).await? {
            if len > COMPACT_AT {
                long.push((hour, lab, site, priority, category));
            }
        }
    }
    for key in long {
        compact(tx, key).await?;
    }
    Ok(())
}

/// Rewrites one row's histogram with each bucket once.
async fn compact(
    tx: &mut Tx,
    (hour, lab, site, priority, category): Key,
) -> Result<(), sqlx::Error> {
    let key = "hour = $1 AND lab_id = $2 AND site_id = $3 AND priority = $4 AND category = $5";
    let (stored,): (String,) =
        sqlx::query_as(&format!("SELECT hist FROM turnaround_rollup WHERE {key}"))
            .bind(hour)
            .bind(lab)
            .bind(site)
            .bind(priority.clone())
            .bind(category.clone())
            .fetch_one(tx.conn())
            .await?;
    let hist = Histogram::decode(&stored)
        .map_err(|e| sqlx::Error::Decode(Box::new(BadHistogram(e.to_string()))))?;
    sqlx::query(&format!(
        "UPDATE turnaround_rollup SET hist = $6 WHERE {key}"
    ))
    .bind(hour)
    .bind(lab)
    .bind(site)
    .bind(priority)
    .bind(category)
    .bind(hist.encode())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The slice of tubes a report covers: whose (lab or region), and optionally one site,
/// priority and category.
#[derive(Debug, Clone)]
pub struct Slice {
    pub cover: Coverage,
    pub site: Option<i64>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
}

impl Slice {
    /// The conditions on rollup rows `r` and on tubes `t` (site `s`), and the region prefix
    /// both bind as `$3`. Every other condition is a checked value written into the statement
    /// (ids, vocabulary codes).
    fn conditions(&self) -> (String, String, Option<String>) {
        let mut rollup = vec![];
        let mut tube = vec![];
        let mut region = None;
        match &self.cover {
            Coverage::All => {}
            Coverage::Lab(id) => {
                rollup.push(format!("r.lab_id = {id}"));
                tube.push(format!(
                    "COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id, 0) = {id}"
                ));
            }
            Coverage::Region(r) => {
                region = Some(format!("{r}%"));
                rollup.push("r.site_id IN (SELECT id FROM site WHERE region LIKE $3)".into());
                tube.push("s.region LIKE $3".into());
            }
        }
        if let Some(id) = self.site {
            rollup.push(format!("r.site_id = {id}"));
            // `+` keeps the planner on the small partial indexes (tubes to fold, tubes under
            // way) instead of walking every tube of the site.
            tube.push(format!("+t.site_id = {id}"));
        }
        if let Some(p) = self.priority {
            rollup.push(format!("r.priority = '{}'", p.as_str()));
            tube.push(format!("t.priority = '{}'", p.as_str()));
        }
        if let Some(c) = self.category {
            rollup.push(format!("r.category = '{}'", c.as_str()));
            tube.push(format!("t.category = '{}'", c.as_str()));
        }
        let and = |conds: Vec<String>| {
            conds
                .into_iter()
                .map(|c| format!(" AND {c}"))
                .collect::<String>()
        };
        (and(rollup), and(tube), region)
    }
}

/// What the rollup counted in one UTC hour of a slice; the histograms joined as text.
pub struct HourCounts {
    pub hour: i64,
    pub counts: Counts,
    pub hist: String,
}

#[derive(FromRow)]
struct HourRow {
    hour: i64,
    released: i64,
    within_deadline: i64,
    rejected: i64,
    resampled: i64,
    s_recollect: i64,
    s_transport: i64,
    s_queue: i64,
    s_run: i64,
    s_review: i64,
    pushed: i64,
    s_push: i64,
    breach_recollect: i64,
    breach_transport: i64,
    breach_queue: i64,
    breach_run: i64,
    breach_review: i64,
    hist: String,
}

/// The rollup's counts of a slice per UTC hour in [`hour_from`, `hour_to`), summed by the
/// database.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn hours(
    conn: &mut AnyConnection,
    slice: &Slice,
    hour_from: i64,
    hour_to: i64,
) -> Result<Vec<HourCounts>, sqlx::Error> {
    let (rollup, _, region) = slice.conditions();
    let backend = super::Backend::of(conn);
    let sql = format!(
        "SELECT r.hour, CAST(SUM(r.released) AS BIGINT) AS released, CAST(SUM(r.within_deadline) AS BIGINT) AS within_deadline, \
         CAST(SUM(r.rejected) AS BIGINT) AS rejected, CAST(SUM(r.resampled) AS BIGINT) AS resampled, CAST(SUM(r.s_recollect) AS BIGINT) AS s_recollect, \
         CAST(SUM(r.s_transport) AS BIGINT) AS s_transport, CAST(SUM(r.s_queue) AS BIGINT) AS s_queue, CAST(SUM(r.s_run) AS BIGINT) AS s_run, \
         CAST(SUM(r.s_review) AS BIGINT) AS s_review, CAST(SUM(r.pushed) AS BIGINT) AS pushed, CAST(SUM(r.s_push) AS BIGINT) AS s_push, \
         CAST(SUM(r.breach_recollect) AS BIGINT) AS breach_recollect, CAST(SUM(r.breach_transport) AS BIGINT) AS breach_transport, \
         CAST(SUM(r.breach_queue) AS BIGINT) AS breach_queue, CAST(SUM(r.breach_run) AS BIGINT) AS breach_run, \
         CAST(SUM(r.breach_review) AS BIGINT) AS breach_review, {} AS hist \
         FROM turnaround_rollup r WHERE r.hour >= $1 AND r.hour < $2{rollup} GROUP BY r.hour",
        backend.join_text("r.hist"),
    );
    let mut q = sqlx::query_as::<_, HourRow>(&sql)
        .bind(hour_from)
        .bind(hour_to);
    if let Some(r) = region {
        q = q.bind(r);
    }
    let rows = q.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| HourCounts {
            hour: r.hour,
            counts: Counts {
                released: r.released,
                within_deadline: r.within_deadline,
                rejected: r.rejected,
                resampled: r.resampled,
                stage_seconds: [r.s_recollect, r.s_transport, r.s_queue, r.s_run, r.s_review],
                pushed: r.pushed,
                push_seconds: r.s_push,
                breaches: [
                    r.breach_recollect,
                    r.breach_transport,
                    r.breach_queue,
                    r.breach_run,
                    r.breach_review,
                ],
                hist: Histogram::default(),
            },
            hist: r.hist,
        })
        .collect())
}

/// The tubes of a slice whose clock started in [`from`, `to`) and that the rollup has not
/// counted yet (their step changed since its last turn).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn not_folded(
    conn: &mut AnyConnection,
    slice: &Slice,
    from: i64,
    to: i64,
) -> Result<Vec<FoldRow>, sqlx::Error> {
    let (_, tube, region) = slice.conditions();
    let sql = format!(
        "{FOLD_SELECT}, {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE t.fold_pending = 1 AND t.clock_start_at >= $1 AND t.clock_start_at < $2{tube}"
    );
    let mut q = sqlx::query_as::<_, FoldRow>(&sql).bind(from).bind(to);
    if let Some(r) = region {
        q = q.bind(r);
    }
    q.fetch_all(conn).await
}

/// The tubes of a slice whose clock started in [`from`, `to`) and that are still under way.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn under_way(
    conn: &mut AnyConnection,
    slice: &Slice,
    from: i64,
    to: i64,
) -> Result<Vec<TimelineRow>, sqlx::Error> {
    let (_, tube, region) = slice.conditions();
    let sql = format!(
        "SELECT {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE {UNRELEASED} AND t.clock_start_at >= $1 AND t.clock_start_at < $2{tube}"
    );
    let mut q = sqlx::query_as::<_, TimelineRow>(&sql).bind(from).bind(to);
    if let Some(r) = region {
        q = q.bind(r);
    }
    q.fetch_all(conn).await
}
