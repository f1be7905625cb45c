//! 时限报表 the turnaround report: for any period, lab, site, priority and category, how many
//! tubes were released within their deadline, the median/p90/p99 turnaround, the split into
//! stages, and the breaches with the stage the deadline passed in — in total, by hour and by
//! day in the lab's local time; as JSON, CSV or XLSX.
//!
//! It reads an hourly rollup (kept by [`fold`], a background task) instead of every tube: what
//! the rollup has not counted yet (tubes whose step changed since its last turn) and the tubes
//! still under way are read live, so the report is exact at any moment.

use super::turnaround::{Coverage, TimelineRow, TIMELINE_COLUMNS};
use crate::actor::Actor;
use crate::domain::policy::Action;
use crate::domain::turnaround::{self as rules, Counts, DenseHistogram, Histogram, Outcome};
use crate::domain::vocab::{Category, Priority};
use crate::error::Error;
use crate::store::time::{show, to_db};
use crate::store::{Store, Tx};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, FromRow};
use std::collections::BTreeMap;
use utoipa::ToSchema;

const HOUR: i64 = 3_600_000_000;

// ---- The rollup ----

/// A rollup row's key: UTC hour of the clock's start, lab, site, priority, category.
type Key = (i64, i64, i64, String, String);

#[derive(FromRow)]
struct FoldRow {
    id: i64,
    folded: i64,
    status: String,
    resampled_at: Option<i64>,
    lab_key: i64,
    site_id: i64,
    priority: String,
    category: String,
    #[sqlx(flatten)]
    times: TimelineRow,
}

impl FoldRow {
    fn outcome(&self) -> Outcome {
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

    fn key(&self) -> Key {
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

/// Counts the tubes whose steps changed since the last turn (at most `max`) into the rollup;
/// returns how many it looked at. On PostgreSQL several nodes fold side by side: each takes
/// its tubes with `SKIP LOCKED` and updates rollup rows in key order.
pub async fn fold(store: &Store, max: i64) -> Result<usize, Error> {
    store
        .execute(
            &Actor::system(),
            crate::store::change(move |tx| Box::pin(fold_in(tx, max))),
        )
        .await
}

async fn fold_in(tx: &mut Tx, max: i64) -> Result<usize, Error> {
    let skip = tx.backend().skip_locked("t");
    let rows: Vec<FoldRow> = sqlx::query_as(&format!(
        "{FOLD_SELECT}, {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE t.fold_pending = 1 ORDER BY t.id LIMIT $1{skip}"
    ))
    .bind(max)
    .fetch_all(tx.conn())
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut groups: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut by_mask: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        let (c, mask) = rules::contribution(&r.times.timeline(), r.outcome(), r.folded);
        if !c.is_empty() {
            groups.entry(r.key()).or_default().add(&c);
        }
        by_mask.entry(mask).or_default().push(r.id);
    }
    add_to_rollup(tx, &groups).await?;
    for (mask, ids) in by_mask {
        for chunk in ids.chunks(tx.backend().rows_per_insert(1)) {
            let ids: Vec<String> = chunk.iter().map(|id| id.to_string()).collect();
            sqlx::query(&format!(
                "UPDATE tube SET fold_pending = 0, folded = $1 WHERE id IN ({})",
                ids.join(", ")
            ))
            .bind(mask)
            .execute(tx.conn())
            .await?;
        }
    }
    Ok(rows.len())
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

/// Adds the groups' counts to their rollup rows, many rows per statement: the sums are added
/// in place and the new histogram entries appended (a bucket may then appear more than once,
/// which reading adds up); a histogram grown long is compacted. On PostgreSQL the upsert
/// locks the rows, in key order, until the transaction ends.
async fn add_to_rollup(tx: &mut Tx, groups: &BTreeMap<Key, Counts>) -> Result<(), Error> {
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
    for (hour, lab, site, priority, category) in long {
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
            .map_err(|e| Error::internal(anyhow::anyhow!("turnaround rollup: {e}")))?;
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
    }
    Ok(())
}

/// Folds every few seconds until the process ends (in batches while there is a backlog).
pub fn spawn_folder(store: Store, every: std::time::Duration) {
    let pause = std::time::Duration::from_millis(10);
    crate::background::spawn_turns(store, every, pause, |store| async move {
        match fold(&store, FOLD_BATCH).await {
            Ok(n) => n as i64 == FOLD_BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "turnaround rollup: a turn failed; will retry");
                false
            }
        }
    });
}

/// Tubes per turn of the folder.
pub const FOLD_BATCH: i64 = 5000;

// ---- The report ----

/// Filters of the report.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportFilter {
    /// First day (local, `2026-11-24`) or instant (RFC 3339); default today.
    pub from: Option<String>,
    /// Last day, inclusive (local), or instant (exclusive); default `from`'s day.
    pub to: Option<String>,
    /// Lab code (lab users: their own lab).
    pub lab: Option<String>,
    /// Collection site code.
    pub site: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// The report: tubes whose deadline clock started in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub from: DateTime<FixedOffset>,
    pub to: DateTime<FixedOffset>,
    pub lab: Option<String>,
    pub site: Option<String>,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub generated_at: DateTime<FixedOffset>,
    pub total: Summary,
    /// By local day.
    pub by_day: Vec<Bucket>,
    /// By local hour.
    pub by_hour: Vec<Bucket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bucket {
    pub start: DateTime<FixedOffset>,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Every tube counted: released, rejected, re-sampled, still under way.
    pub tubes: i64,
    pub released: i64,
    pub within_deadline: i64,
    /// Released within the deadline, of those released (0–1).
    pub share_within_deadline: Option<f64>,
    /// Still under way, and of those past their deadline.
    pub pending: i64,
    pub pending_overdue: i64,
    pub rejected: i64,
    pub resampled: i64,
    /// Clock start → release, minutes (5-minute resolution: the bucket's upper edge).
    pub turnaround_p50_minutes: Option<i64>,
    pub turnaround_p90_minutes: Option<i64>,
    pub turnaround_p99_minutes: Option<i64>,
    /// Mean minutes per stage of the released tubes (push: of those acknowledged).
    pub stage_minutes: StageMinutes,
    /// Released late or still under way past the deadline, by the stage the deadline passed
    /// in.
    pub breaches: Breaches,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StageMinutes {
    pub recollect: Option<f64>,
    pub transport: Option<f64>,
    pub queue: Option<f64>,
    pub run: Option<f64>,
    pub review: Option<f64>,
    pub push: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Breaches {
    pub total: i64,
    pub recollect: i64,
    pub transport: i64,
    pub queue: i64,
    pub run: i64,
    pub review: i64,
}

/// What is summed for a summary (the turnaround histogram apart, flat).
#[derive(Default, Clone)]
struct Acc {
    counts: Counts,
    hist: DenseHistogram,
    pending: i64,
    overdue: [i64; 5],
    pending_overdue: i64,
}

impl Acc {
    fn summary(&self) -> Summary {
        let c = &self.counts;
        let mean = |sum: i64, n: i64| (n > 0).then(|| (sum as f64 / n as f64 / 6.0).round() / 10.0);
        let b = |i: usize| c.breaches[i] + self.overdue[i];
        Summary {
            tubes: c.released + c.rejected + c.resampled + self.pending,
            released: c.released,
            within_deadline: c.within_deadline,
            share_within_deadline: (c.released > 0)
                .then(|| c.within_deadline as f64 / c.released as f64),
            pending: self.pending,
            pending_overdue: self.pending_overdue,
            rejected: c.rejected,
            resampled: c.resampled,
            turnaround_p50_minutes: self.hist.percentile(0.5),
            turnaround_p90_minutes: self.hist.percentile(0.9),
            turnaround_p99_minutes: self.hist.percentile(0.99),
            stage_minutes: StageMinutes {
                recollect: mean(c.stage_seconds[0], c.released),
                transport: mean(c.stage_seconds[1], c.released),
                queue: mean(c.stage_seconds[2], c.released),
                run: mean(c.stage_seconds[3], c.released),
                review: mean(c.stage_seconds[4], c.released),
                push: mean(c.push_seconds, c.pushed),
            },
            breaches: Breaches {
                total: (0..5).map(b).sum(),
                recollect: b(0),
                transport: b(1),
                queue: b(2),
                run: b(3),
                review: b(4),
            },
        }
    }
}

/// Sums per UTC hour, then per local day and hour.
#[derive(Default)]
struct Totals {
    total: Acc,
    hours: BTreeMap<i64, Acc>,
}

impl Totals {
    fn hour(&mut self, h: i64) -> &mut Acc {
        self.hours.entry(h).or_default()
    }
}

#[derive(FromRow)]
struct RollupRow {
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

/// The period of a report as UTC µs, [from, to).
fn period(f: &ReportFilter, tz: FixedOffset, today: NaiveDate) -> Result<(i64, i64), Error> {
    let parse = |field: &str, v: &str, end: bool| -> Result<i64, Error> {
        // An unencoded `+08:00` in a query string arrives as ` 08:00`.
        if let Ok(t) = DateTime::parse_from_rfc3339(&v.replace(' ', "+")) {
            return Ok(to_db(t.with_timezone(&Utc)));
        }
        let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            Error::invalid(
                field,
                format!("{v:?} is neither a date (2026-11-24) nor an instant (RFC 3339)"),
            )
        })?;
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        let local = tz
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .single()
            .expect("a fixed offset has no gaps");
        Ok(to_db(local.with_timezone(&Utc)))
    };
    let from = match &f.from {
        Some(v) => parse("from", v, false)?,
        None => parse("from", &today.to_string(), false)?,
    };
    let to = match (&f.to, &f.from) {
        (Some(v), _) => parse("to", v, true)?,
        (None, Some(v)) if NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() => {
            parse("to", v, true)?
        }
        (None, Some(_)) => to_db(Utc::now()),
        (None, None) => parse("to", &today.to_string(), true)?,
    };
    if to <= from {
        return Err(Error::invalid("to", "the period ends before it starts"));
    }
    if to - from > 400 * 24 * HOUR {
        return Err(Error::invalid("to", "a report covers at most 400 days"));
    }
    Ok((from, to))
}

/// Builds the report.
pub async fn report(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &ReportFilter,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Report, Error> {
    actor.require(Action::ViewReview)?;
    let (from, to) = period(f, tz, today)?;
    // Every condition is a checked value written into the statement (ids, vocabulary codes)
    // or a bound region prefix.
    let cover = super::turnaround::coverage(&mut *conn, actor, f.lab.as_deref()).await?;
    let mut rollup_cond = vec![];
    let mut tube_cond = vec![];
    let mut region: Option<String> = None;
    match &cover {
        Coverage::All => {}
        Coverage::Lab(id) => {
            rollup_cond.push(format!("r.lab_id = {id}"));
            tube_cond.push(format!(
                "COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id, 0) = {id}"
            ));
        }
        Coverage::Region(r) => {
            region = Some(format!("{r}%"));
            rollup_cond.push("r.site_id IN (SELECT id FROM site WHERE region LIKE $3)".into());
            tube_cond.push("s.region LIKE $3".into());
        }
    }
    if let Some(code) = &f.site {
        let site: Option<(i64,)> = sqlx::query_as("SELECT id FROM site WHERE code = $1")
            .bind(code.clone())
            .fetch_optional(&mut *conn)
            .await?;
        let (id,) = site.ok_or_else(|| {
            Error::not_found("site.unknown", format!("no site {code}")).at("site")
        })?;
        rollup_cond.push(format!("r.site_id = {id}"));
        // `+` keeps the planner on the small partial indexes (tubes to fold, tubes under
        // way) instead of walking every tube of the site.
        tube_cond.push(format!("+t.site_id = {id}"));
    }
    if let Some(p) = &f.priority {
        let p = Priority::parse(p)
            .ok_or_else(|| Error::invalid("priority", format!("unknown priority {p:?}")))?;
        rollup_cond.push(format!("r.priority = '{}'", p.as_str()));
        tube_cond.push(format!("t.priority = '{}'", p.as_str()));
    }
    if let Some(c) = &f.category {
        let c = Category::parse(c)
            .ok_or_else(|| Error::invalid("category", format!("unknown category {c:?}")))?;
        rollup_cond.push(format!("r.category = '{}'", c.as_str()));
        tube_cond.push(format!("t.category = '{}'", c.as_str()));
    }
    let and = |conds: &[String]| {
        conds
            .iter()
            .map(|c| format!(" AND {c}"))
            .collect::<String>()
    };
    let mut totals = Totals::default();
    let (hour_from, hour_to) = (rules::hour_of(from), rules::hour_of(to - 1) + 1);

    // 1. What the rollup has counted, summed per hour by the database (the histograms
    // joined as text, added up here).
    let backend = crate::store::Backend::of(conn);
    let sql = format!(
        "SELECT r.hour, CAST(SUM(r.released) AS BIGINT) AS released, CAST(SUM(r.within_deadline) AS BIGINT) AS within_deadline, \
         CAST(SUM(r.rejected) AS BIGINT) AS rejected, CAST(SUM(r.resampled) AS BIGINT) AS resampled, CAST(SUM(r.s_recollect) AS BIGINT) AS s_recollect, \
         CAST(SUM(r.s_transport) AS BIGINT) AS s_transport, CAST(SUM(r.s_queue) AS BIGINT) AS s_queue, CAST(SUM(r.s_run) AS BIGINT) AS s_run, \
         CAST(SUM(r.s_review) AS BIGINT) AS s_review, CAST(SUM(r.pushed) AS BIGINT) AS pushed, CAST(SUM(r.s_push) AS BIGINT) AS s_push, \
         CAST(SUM(r.breach_recollect) AS BIGINT) AS breach_recollect, CAST(SUM(r.breach_transport) AS BIGINT) AS breach_transport, \
         CAST(SUM(r.breach_queue) AS BIGINT) AS breach_queue, CAST(SUM(r.breach_run) AS BIGINT) AS breach_run, \
         CAST(SUM(r.breach_review) AS BIGINT) AS breach_review, {} AS hist \
         FROM turnaround_rollup r WHERE r.hour >= $1 AND r.hour < $2{} GROUP BY r.hour",
        backend.join_text("r.hist"),
        and(&rollup_cond)
    );
    let mut q = sqlx::query_as::<_, RollupRow>(&sql)
        .bind(hour_from)
        .bind(hour_to);
    if let Some(r) = &region {
        q = q.bind(r.clone());
    }
    let rows: Vec<RollupRow> = q.fetch_all(&mut *conn).await?;
    for r in rows {
        let c = Counts {
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
        };
        let acc = totals.hour(r.hour);
        acc.hist
            .add_encoded(&r.hist)
            .map_err(|e| Error::internal(anyhow::anyhow!("turnaround rollup: {e}")))?;
        acc.counts.add(&c);
    }

    // 2. What it has not counted yet, as it would count it.
    let sql = format!(
        "{FOLD_SELECT}, {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE t.fold_pending = 1 AND t.clock_start_at >= $1 AND t.clock_start_at < $2{}",
        and(&tube_cond)
    );
    let mut q = sqlx::query_as::<_, FoldRow>(&sql).bind(from).bind(to);
    if let Some(r) = &region {
        q = q.bind(r.clone());
    }
    for r in q.fetch_all(&mut *conn).await? {
        let (c, _) = rules::contribution(&r.times.timeline(), r.outcome(), r.folded);
        let acc = totals.hour(rules::hour_of(r.times.clock_start_at));
        acc.hist.add(&c.hist);
        acc.counts.add(&c);
    }

    // 3. The tubes still under way.
    let now = to_db(Utc::now());
    let sql = format!(
        "SELECT {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE t.released_at IS NULL AND t.resampled_at IS NULL AND t.held = 0 AND t.status <> 'rejected' \
         AND t.clock_start_at >= $1 AND t.clock_start_at < $2{}",
        and(&tube_cond)
    );
    let mut q = sqlx::query_as::<_, TimelineRow>(&sql).bind(from).bind(to);
    if let Some(r) = &region {
        q = q.bind(r.clone());
    }
    for r in q.fetch_all(&mut *conn).await? {
        let t = r.timeline();
        let acc = totals.hour(rules::hour_of(t.clock_start));
        acc.pending += 1;
        if let Some(stage) = t.breach(now) {
            acc.pending_overdue += 1;
            acc.overdue[rules::stage_index(stage)] += 1;
        }
    }

    // Hours and days in the lab's local time; the rollup's hours are UTC hours.
    let offset = i64::from(tz.local_minus_utc()) * 1_000_000;
    let mut by_day: BTreeMap<NaiveDate, Acc> = BTreeMap::new();
    let mut by_hour = Vec::with_capacity(totals.hours.len());
    for (hour, acc) in &totals.hours {
        let start = hour * HOUR;
        if start + HOUR <= from || start >= to {
            continue;
        }
        let day = Utc
            .timestamp_micros(start + offset)
            .single()
            .expect("in range")
            .date_naive();
        merge(by_day.entry(day).or_default(), acc);
        merge(&mut totals.total, acc);
        by_hour.push(Bucket {
            start: show(start, tz),
            summary: acc.summary(),
        });
    }
    let by_day = by_day
        .into_iter()
        .map(|(day, acc)| Bucket {
            start: tz
                .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
                .single()
                .expect("a fixed offset has no gaps"),
            summary: acc.summary(),
        })
        .collect();
    let lab = match cover {
        Coverage::Lab(id) => {
            let (code,): (String,) = sqlx::query_as("SELECT code FROM lab WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
            Some(code)
        }
        _ => None,
    };
    Ok(Report {
        from: show(from, tz),
        to: show(to, tz),
        lab,
        site: f.site.clone(),
        priority: f.priority.clone(),
        category: f.category.clone(),
        generated_at: show(now, tz),
        total: totals.total.summary(),
        by_day,
        by_hour,
    })
}

fn merge(into: &mut Acc, from: &Acc) {
    into.counts.add(&from.counts);
    into.hist.merge(&from.hist);
    into.pending += from.pending;
    into.pending_overdue += from.pending_overdue;
    for i in 0..5 {
        into.overdue[i] += from.overdue[i];
    }
}

// ---- CSV and XLSX ----

const COLUMNS: [&str; 25] = [
    "granularity",
    "start",
    "tubes",
    "released",
    "within_deadline",
    "share_within_deadline",
    "pending",
    "pending_overdue",
    "rejected",
    "resampled",
    "p50_minutes",
    "p90_minutes",
    "p99_minutes",
    "recollect_minutes",
    "transport_minutes",
    "queue_minutes",
    "run_minutes",
    "review_minutes",
    "push_minutes",
    "breaches",
    "breaches_recollect",
    "breaches_transport",
    "breaches_queue",
    "breaches_run",
    "breaches_review",
];

/// A cell of a report row.
enum Cell {
    Text(String),
    Int(i64),
    Num(Option<f64>),
}

fn row(granularity: &str, start: String, s: &Summary) -> Vec<Cell> {
    use Cell::*;
    let m = &s.stage_minutes;
    vec![
        Text(granularity.into()),
        Text(start),
        Int(s.tubes),
        Int(s.released),
        Int(s.within_deadline),
        Num(s
            .share_within_deadline
            .map(|v| (v * 10000.0).round() / 10000.0)),
        Int(s.pending),
        Int(s.pending_overdue),
        Int(s.rejected),
        Int(s.resampled),
        Num(s.turnaround_p50_minutes.map(|v| v as f64)),
        Num(s.turnaround_p90_minutes.map(|v| v as f64)),
        Num(s.turnaround_p99_minutes.map(|v| v as f64)),
        Num(m.recollect),
        Num(m.transport),
        Num(m.queue),
        Num(m.run),
        Num(m.review),
        Num(m.push),
        Int(s.breaches.total),
        Int(s.breaches.recollect),
        Int(s.breaches.transport),
        Int(s.breaches.queue),
        Int(s.breaches.run),
        Int(s.breaches.review),
    ]
}

fn rows(r: &Report) -> Vec<Vec<Cell>> {
    let mut out = vec![row(
        "total",
        format!("{} – {}", r.from.to_rfc3339(), r.to.to_rfc3339()),
        &r.total,
    )];
    for b in &r.by_day {
        out.push(row("day", b.start.date_naive().to_string(), &b.summary));
    }
    for b in &r.by_hour {
        out.push(row(
            "hour",
            b.start.format("%Y-%m-%d %H:%M").to_string(),
            &b.summary,
        ));
    }
    out
}

/// The report as CSV: one row for the period, then one per day and one per hour.
pub fn csv(r: &Report) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(vec![]);
    let io = |e: csv::Error| Error::internal(anyhow::anyhow!(e));
    w.write_record(COLUMNS).map_err(io)?;
    for cells in rows(r) {
        w.write_record(cells.iter().map(|c| match c {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(Some(v)) => v.to_string(),
            Cell::Num(None) => String::new(),
        }))
        .map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| Error::internal(anyhow::anyhow!(e.to_string())))
}

/// The report as an XLSX workbook: the same rows as the CSV, one sheet, with the filters above.
pub fn xlsx(r: &Report) -> Result<Vec<u8>, Error> {
    use rust_xlsxwriter::{Format, Workbook};
    let err = |e: rust_xlsxwriter::XlsxError| Error::internal(anyhow::anyhow!(e));
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Turnaround").map_err(err)?;
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let filters = [
        ("from", r.from.to_rfc3339()),
        ("to", r.to.to_rfc3339()),
        ("lab", r.lab.clone().unwrap_or_else(|| "all".into())),
        ("site", r.site.clone().unwrap_or_else(|| "all".into())),
        (
            "priority",
            r.priority.clone().unwrap_or_else(|| "all".into()),
        ),
        (
            "category",
            r.category.clone().unwrap_or_else(|| "all".into()),
        ),
        ("generated", r.generated_at.to_rfc3339()),
    ];
    for (i, (k, v)) in filters.iter().enumerate() {
        ws.write_string_with_format(i as u32, 0, *k, &bold)
            .map_err(err)?;
        ws.write_string(i as u32, 1, v).map_err(err)?;
    }
    let top = filters.len() as u32 + 1;
    for (c, name) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *name, &bold)
            .map_err(err)?;
    }
    for (i, cells) in rows(r).iter().enumerate() {
        let y = top + 1 + i as u32;
        for (c, cell) in cells.iter().enumerate() {
            let x = c as u16;
            match cell {
                Cell::Text(s) => ws.write_string(y, x, s).map(|_| ()),
                Cell::Int(n) => ws.write_number(y, x, *n as f64).map(|_| ()),
                Cell::Num(Some(v)) if COLUMNS[c] == "share_within_deadline" => {
                    ws.write_number_with_format(y, x, *v, &percent).map(|_| ())
                }
                Cell::Num(Some(v)) => ws.write_number(y, x, *v).map(|_| ()),
                Cell::Num(None) => Ok(()),
            }
            .map_err(err)?;
        }
    }
    ws.set_column_width(1, 34).map_err(err)?;
    wb.save_to_buffer().map_err(err)
}
