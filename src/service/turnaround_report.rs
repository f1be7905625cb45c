//! 时限报表 the turnaround report: for any period, lab, site, priority and category, how many
//! tubes were released within their deadline, the median/p90/p99 turnaround, the split into
//! stages, and the breaches with the stage the deadline passed in — in total, by hour and by
//! day in the lab's local time; as JSON, CSV or XLSX.
//!
//! It reads an hourly rollup (kept by [`fold`], a background task) instead of every tube: what
//! the rollup has not counted yet (tubes whose step changed since its last turn) and the tubes
//! still under way are read live, so the report is exact at any moment.

use crate::actor::Actor;
use crate::domain::policy::Action;
use crate::domain::turnaround::{self as rules, Counts, DenseHistogram};
use crate::domain::vocab::{Category, Priority};
use crate::error::Error;
use crate::store::rollup;
use crate::store::time::{show, to_db};
use crate::store::timeline::Coverage;
use crate::store::{Store, Tx};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use std::collections::BTreeMap;
use utoipa::ToSchema;

const HOUR: i64 = 3_600_000_000;

// ---- The rollup ----

/// Counts the tubes whose steps changed since the last turn (at most `max`) into the rollup;
/// returns how many it looked at. On PostgreSQL several nodes fold side by side: each takes
/// its tubes with `SKIP LOCKED` and updates rollup rows in key order.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn fold(store: &Store, max: i64) -> Result<usize, Error> {
    store
        .execute(
            &Actor::system(),
            crate::store::change(move |tx| Box::pin(fold_in(tx, max))),
        )
        .await
}

async fn fold_in(tx: &mut Tx, max: i64) -> Result<usize, Error> {
    let rows = rollup::take_pending(tx, max).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut groups: BTreeMap<rollup::Key, Counts> = BTreeMap::new();
    let mut by_mask: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for r in &rows {
        let (c, mask) = rules::contribution(&r.times.timeline(), r.outcome(), r.folded);
        if !c.is_empty() {
            groups.entry(r.key()).or_default().add(&c);
        }
        by_mask.entry(mask).or_default().push(r.id);
    }
    rollup::add(tx, &groups).await?;
    for (mask, ids) in by_mask {
        rollup::mark_folded(tx, mask, &ids).await?;
    }
    Ok(rows.len())
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
#[tracing::instrument(level = "debug", skip_all)]
pub async fn report(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &ReportFilter,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Report, Error> {
    actor.require(Action::ViewReview)?;
    let (from, to) = period(f, tz, today)?;
    let cover = super::turnaround::coverage(&mut *conn, actor, f.lab.as_deref()).await?;
    let site = match &f.site {
        Some(code) => Some(
            crate::store::registry::site_id(&mut *conn, code)
                .await?
                .ok_or_else(|| {
                    Error::not_found("site.unknown", format!("no site {code}")).at("site")
                })?,
        ),
        None => None,
    };
    let priority = match &f.priority {
        Some(p) => Some(
            Priority::parse(p)
                .ok_or_else(|| Error::invalid("priority", format!("unknown priority {p:?}")))?,
        ),
        None => None,
    };
    let category = match &f.category {
        Some(c) => Some(
            Category::parse(c)
                .ok_or_else(|| Error::invalid("category", format!("unknown category {c:?}")))?,
        ),
        None => None,
    };
    let slice = rollup::Slice {
        cover,
        site,
        priority,
        category,
    };
    let mut totals = Totals::default();
    let (hour_from, hour_to) = (rules::hour_of(from), rules::hour_of(to - 1) + 1);

    // 1. What the rollup has counted, summed per hour by the database (the histograms
    // joined as text, added up here).
    for h in rollup::hours(&mut *conn, &slice, hour_from, hour_to).await? {
        let acc = totals.hour(h.hour);
        acc.hist
            .add_encoded(&h.hist)
            .map_err(|e| Error::internal(anyhow::anyhow!("turnaround rollup: {e}")))?;
        acc.counts.add(&h.counts);
    }

    // 2. What it has not counted yet, as it would count it.
    for r in rollup::not_folded(&mut *conn, &slice, from, to).await? {
        let (c, _) = rules::contribution(&r.times.timeline(), r.outcome(), r.folded);
        let acc = totals.hour(rules::hour_of(r.times.clock_start_at));
        acc.hist.add(&c.hist);
        acc.counts.add(&c);
    }

    // 3. The tubes still under way.
    let now = to_db(Utc::now());
    for r in rollup::under_way(&mut *conn, &slice, from, to).await? {
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
    let lab = match slice.cover {
        Coverage::Lab(id) => Some(crate::store::registry::lab_code(&mut *conn, id).await?),
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
