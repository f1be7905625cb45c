//! 时限 turnaround: the timestamps each step leaves on its tube, a tube's timeline, the
//! at-risk list (tubes and re-sample orders about to miss their deadline, with the stage they
//! are stuck in) and the capacity view. The report over periods is in
//! [`super::turnaround_report`].

use super::persons::PersonView;
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::turnaround::{self as rules, Capacity, Forecast, Stage};
use crate::error::Error;
use crate::store::time::{show, to_db};
use crate::store::timeline::{self, Coverage};
use crate::store::turnaround_marks as marks;
use crate::store::Tx;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

// ---- The marks each step leaves (in the step's transaction) ----

/// Placed on a plate: the first placement stays, the latest is now, a re-test is on its way.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn placed(tx: &mut Tx, tube: i64) -> Result<(), Error> {
    let at = to_db(tx.now());
    Ok(marks::placed(tx, tube, at).await?)
}

/// Taken out of a well again (a mis-scan): the marks follow the attempts that remain.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn unplaced(tx: &mut Tx, tube: i64) -> Result<(), Error> {
    Ok(marks::unplaced(tx, tube).await?)
}

/// A run was imported and its tubes called (those not yet released).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn imported(tx: &mut Tx, import_id: i64) -> Result<(), Error> {
    let at = to_db(tx.now());
    Ok(marks::imported(tx, import_id, at).await?)
}

/// A reviewer sent the tube back to the queue (re-test, re-extraction, re-run).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn requeued(tx: &mut Tx, tube: i64) -> Result<(), Error> {
    let at = to_db(tx.now());
    Ok(marks::requeued(tx, tube, at).await?)
}

/// A reviewer ordered new swabs: this tube gives no result.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn resampled(tx: &mut Tx, tube: i64) -> Result<(), Error> {
    let at = to_db(tx.now());
    Ok(marks::resampled(tx, tube, at).await?)
}

/// A result of the tube was released (the first release counts).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn released(tx: &mut Tx, tube: i64) -> Result<(), Error> {
    let at = to_db(tx.now());
    Ok(marks::released(tx, tube, at).await?)
}

// ---- A tube's timeline ----

/// A tube's journey against its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineView {
    pub barcode: String,
    pub priority: String,
    pub category: String,
    /// When the deadline clock started: the collection, or the pool's for a re-check.
    pub clock_start_at: DateTime<FixedOffset>,
    pub deadline_at: DateTime<FixedOffset>,
    pub collected_at: DateTime<FixedOffset>,
    pub received_at: Option<DateTime<FixedOffset>>,
    /// First placed on a plate.
    pub placed_at: Option<DateTime<FixedOffset>>,
    /// Latest run imported (before release).
    pub imported_at: Option<DateTime<FixedOffset>>,
    pub called_at: Option<DateTime<FixedOffset>>,
    pub released_at: Option<DateTime<FixedOffset>>,
    /// CDC ruling on a positive.
    pub confirmed_at: Option<DateTime<FixedOffset>>,
    /// First status message sent to the health-code platform, and acknowledged.
    pub pushed_at: Option<DateTime<FixedOffset>>,
    pub acknowledged_at: Option<DateTime<FixedOffset>>,
    pub rejected_at: Option<DateTime<FixedOffset>>,
    /// New swabs ordered: this tube gives no result.
    pub resampled_at: Option<DateTime<FixedOffset>>,
    /// Where it is now (`done` once acknowledged).
    pub stage: Stage,
    /// Minutes left until the deadline (negative: past it), while not released.
    pub remaining_minutes: Option<i64>,
    pub within_deadline: Option<bool>,
    /// The stage the deadline passed in, if it did.
    pub breached_in: Option<Stage>,
    /// Minutes per stage up to now: recollect, transport, queue, run, review, push.
    pub stage_minutes: Vec<StageMinutes>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StageMinutes {
    pub stage: Stage,
    pub minutes: f64,
}

/// A tube's timeline (anyone who may see the tube).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn timeline(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
    tz: FixedOffset,
) -> Result<TimelineView, Error> {
    actor.require(Action::ViewTube)?;
    let row = timeline::tube_times(&mut *conn, barcode).await?;
    let not_found = || Error::not_found("tube.unknown", format!("no tube {barcode}")).at("barcode");
    let row = row.ok_or_else(not_found)?;
    let place = crate::domain::policy::TubePlace {
        site_id: row.site_id,
        lab_id: row.lab_id,
        region: &row.region,
    };
    if !crate::domain::policy::covers_tube(&actor.scope, place) {
        return Err(not_found());
    }
    let t = row.times.timeline();
    let now = to_db(Utc::now());
    let opt = |v: Option<i64>| v.map(|v| show(v, tz));
    let mut durations = t.durations();
    // Up to now for the stage it is in.
    let stage = if row.rejected_at.is_some() || row.resampled_at.is_some() {
        Stage::Done
    } else {
        t.stage()
    };
    let since = t.since(stage);
    if let (Some(since), true) = (since, t.released.is_none() || stage == Stage::Push) {
        let i = Stage::STEPS
            .iter()
            .position(|s| *s == stage)
            .expect("a step");
        durations[i] = Some((now - since).max(0) / 1_000_000);
    }
    Ok(TimelineView {
        barcode: row.barcode,
        priority: row.priority,
        category: row.category,
        clock_start_at: show(t.clock_start, tz),
        deadline_at: show(t.deadline, tz),
        collected_at: show(t.collected, tz),
        received_at: opt(t.received),
        placed_at: opt(t.placed),
        imported_at: opt(t.imported),
        called_at: opt(row.called_at),
        released_at: opt(t.released),
        confirmed_at: opt(row.confirmed_at),
        pushed_at: opt(row.pushed_at),
        acknowledged_at: opt(t.acked),
        rejected_at: opt(row.rejected_at),
        resampled_at: opt(row.resampled_at),
        stage,
        remaining_minutes: (t.released.is_none() && stage != Stage::Done)
            .then(|| t.remaining(now).div_euclid(60_000_000)),
        within_deadline: t.within_deadline(),
        breached_in: if stage == Stage::Done && t.released.is_none() {
            None
        } else {
            t.breach(now)
        },
        stage_minutes: Stage::STEPS
            .iter()
            .zip(durations)
            .filter_map(|(s, d)| {
                d.map(|d| StageMinutes {
                    stage: *s,
                    minutes: (d as f64 / 6.0).round() / 10.0,
                })
            })
            .collect(),
    })
}

// ---- Who sees what ----

/// The tubes a list covers for `actor`: lab users their own lab's, CDC its region's, others
/// the lab they name or everywhere.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn coverage(
    conn: &mut AnyConnection,
    actor: &Actor,
    lab: Option<&str>,
) -> Result<Coverage, Error> {
    Ok(match (&actor.scope, lab) {
        (Scope::Lab { id, .. }, _) => Coverage::Lab(*id),
        (Scope::Region(r), _) => Coverage::Region(r.clone()),
        (_, Some(code)) => Coverage::Lab(super::registry::lab_id(conn, "lab", code).await?.0),
        _ => Coverage::All,
    })
}

// ---- The at-risk list ----

/// Filters for the at-risk list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct AtRiskFilter {
    /// Lab code (lab users: their own lab).
    pub lab: Option<String>,
    /// Minutes ahead: tubes due within this margin, and those already past (default 120).
    pub margin_minutes: Option<i64>,
}

/// A tube or a re-sample order about to miss (or past) its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AtRiskItem {
    /// `tube`, or `resample_order` (a person owes a new swab).
    pub kind: String,
    /// The tube; for an order, the tube whose deadline it keeps.
    pub barcode: String,
    pub person: Option<PersonView>,
    pub priority: String,
    pub category: String,
    pub site: String,
    /// Pooled tubes: how many people wait on it.
    pub people: i64,
    /// A re-check of a positive pool (it goes first onto plates).
    pub recheck: bool,
    pub deadline_at: DateTime<FixedOffset>,
    /// Negative when past.
    pub remaining_minutes: i64,
    pub overdue: bool,
    /// Where it is stuck.
    pub stage: Stage,
    /// Since when it is in that stage.
    pub stage_since: Option<DateTime<FixedOffset>>,
}

/// Tubes not yet released and re-sample orders not yet answered that are due within the
/// margin (or past due), most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn at_risk(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &AtRiskFilter,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Vec<AtRiskItem>, Error> {
    actor.require(Action::ViewReview)?;
    let margin = f.margin_minutes.unwrap_or(120);
    if !(0..=7 * 24 * 60).contains(&margin) {
        return Err(Error::invalid(
            "margin_minutes",
            "the margin must be 0 to 10080 minutes",
        ));
    }
    // The most urgent first; the API pages them (`limit`, `offset`); more than the cap is
    // refused, not cut.
    let limit = super::LIST_CAP as i64 + 1;
    let cover = coverage(&mut *conn, actor, f.lab.as_deref()).await?;
    let now = to_db(Utc::now());
    let horizon = now + margin * 60_000_000;
    let tubes = timeline::tubes_due(&mut *conn, &cover, horizon, limit).await?;
    let orders = timeline::orders_due(&mut *conn, &cover, horizon, limit).await?;
    let minutes = |us: i64| us.div_euclid(60_000_000);
    let mut items: Vec<AtRiskItem> = tubes
        .into_iter()
        .map(|r| {
            let t = r.times.timeline();
            let stage = t.stage();
            let since = t.since(stage);
            AtRiskItem {
                kind: "tube".into(),
                barcode: r.barcode,
                person: None,
                priority: r.priority,
                category: r.category,
                site: r.site,
                people: r.member_count,
                recheck: r.recheck_of.is_some(),
                deadline_at: show(t.deadline, tz),
                remaining_minutes: minutes(t.remaining(now)),
                overdue: t.deadline < now,
                stage,
                stage_since: since.map(|s| show(s, tz)),
            }
        })
        .collect();
    items.extend(orders.into_iter().map(|o| AtRiskItem {
        kind: "resample_order".into(),
        barcode: o.barcode,
        person: Some(o.person.view(today)),
        priority: o.priority,
        category: o.category,
        site: o.site,
        people: 1,
        recheck: true,
        deadline_at: show(o.due_at, tz),
        remaining_minutes: minutes(o.due_at - now),
        overdue: o.due_at < now,
        stage: Stage::Recollect,
        stage_since: Some(show(o.created_at, tz)),
    }));
    items.sort_by_key(|i| i.deadline_at);
    super::within_cap(
        items,
        "tubes and orders are at risk",
        "give the lab or a smaller margin_minutes",
    )
}

// ---- Capacity ----

/// Filters for the capacity view.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct CapacityFilter {
    /// Lab code (lab users: their own lab).
    pub lab: Option<String>,
}

/// Tubes waiting against the plates the lab can still run, and what the queue will do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CapacityView {
    pub lab: String,
    /// Received, not on a plate (including re-tests sent back).
    pub waiting: i64,
    /// Collected for this lab, not yet received.
    pub in_transit: i64,
    /// On a plate, not yet called.
    pub running: i64,
    /// Called, not yet released.
    pub in_review: i64,
    pub oldest_deadline_at: Option<DateTime<FixedOffset>>,
    /// Plates imported per hour over the last two hours.
    pub measured_plates_per_hour: f64,
    /// What the lab's instruments allow (settings: instruments ÷ minutes per plate).
    pub capacity_plates_per_hour: f64,
    pub tubes_per_plate: i64,
    pub minutes_per_plate: i64,
    /// At the measured rate (the capacity when nothing ran in the last two hours).
    pub at_current_rate: Forecast,
    /// At full capacity.
    pub at_capacity: Forecast,
    /// When the first forecast breach falls due, at the current rate.
    pub first_breach_at: Option<DateTime<FixedOffset>>,
}

/// The capacity view of one lab (lab users: their own; others name it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn capacity(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &CapacityFilter,
    tz: FixedOffset,
) -> Result<CapacityView, Error> {
    actor.require(Action::ViewReview)?;
    let lab = match coverage(&mut *conn, actor, f.lab.as_deref()).await? {
        Coverage::Lab(id) => id,
        _ => return Err(Error::invalid("lab", "name the lab whose capacity to show")),
    };
    let code = crate::store::registry::lab_code(&mut *conn, lab).await?;
    let settings = super::settings::load(&mut *conn).await?;
    let now = to_db(Utc::now());
    let rows = timeline::unreleased_of_lab(&mut *conn, lab).await?;
    let (mut waiting, mut in_transit, mut running, mut in_review) = (vec![], 0, 0, 0);
    for r in &rows {
        let t = r.timeline();
        match t.stage() {
            Stage::Queue => waiting.push(t.deadline),
            Stage::Transport => in_transit += 1,
            Stage::Run => running += 1,
            _ => in_review += 1,
        }
    }
    let plates = timeline::plates_imported_since(&mut *conn, lab, now - 2 * 3_600_000_000).await?;
    let c = &settings.capacity;
    let capacity_rate = c.instruments as f64 * 60.0 / c.minutes_per_plate.max(1) as f64;
    let measured = plates as f64 / 2.0;
    let cap = |rate: f64| Capacity {
        tubes_per_plate: c.tubes_per_plate,
        plates_per_hour: rate,
        minutes_per_plate: c.minutes_per_plate,
    };
    let current = rules::forecast(
        &waiting,
        now,
        &cap(if measured > 0.0 {
            measured
        } else {
            capacity_rate
        }),
    );
    let full = rules::forecast(&waiting, now, &cap(capacity_rate));
    Ok(CapacityView {
        lab: code,
        waiting: waiting.len() as i64,
        in_transit,
        running,
        in_review,
        oldest_deadline_at: waiting.iter().min().map(|d| show(*d, tz)),
        measured_plates_per_hour: measured,
        capacity_plates_per_hour: capacity_rate,
        tubes_per_plate: c.tubes_per_plate,
        minutes_per_plate: c.minutes_per_plate,
        first_breach_at: current.first_breach_at.map(|d| show(d, tz)),
        at_current_rate: current,
        at_capacity: full,
    })
}
