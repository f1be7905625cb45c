//! 时限 turnaround: the timestamps each step leaves on its tube, a tube's timeline, the
//! at-risk list (tubes and re-sample orders about to miss their deadline, with the stage they
//! are stuck in) and the capacity view. The report over periods is in
//! [`super::turnaround_report`].

use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::turnaround::{self as rules, Capacity, Stage};
use crate::error::Error;
use crate::store::time::to_db;
use crate::store::timeline::{self, Coverage};
use crate::store::turnaround_marks as marks;
use crate::store::Tx;
use crate::view::turnaround::{AtRisk, LabLoad, StageMinutes, Timeline};
use chrono::Utc;
use serde::Deserialize;
use sqlx::AnyConnection;

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

/// A tube's timeline (anyone who may see the tube).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn timeline(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
) -> Result<Timeline, Error> {
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
    Ok(Timeline {
        barcode: row.barcode,
        priority: row.priority,
        category: row.category,
        clock_start_at: t.clock_start,
        deadline_at: t.deadline,
        collected_at: t.collected,
        received_at: t.received,
        placed_at: t.placed,
        imported_at: t.imported,
        called_at: row.called_at,
        released_at: t.released,
        confirmed_at: row.confirmed_at,
        pushed_at: row.pushed_at,
        acknowledged_at: t.acked,
        rejected_at: row.rejected_at,
        resampled_at: row.resampled_at,
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

/// Tubes not yet released and re-sample orders not yet answered that are due within the
/// margin (or past due), most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn at_risk(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &AtRiskFilter,
) -> Result<Vec<AtRisk>, Error> {
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
    let mut items: Vec<AtRisk> = tubes
        .into_iter()
        .map(|r| {
            let t = r.times.timeline();
            let stage = t.stage();
            let since = t.since(stage);
            AtRisk {
                kind: "tube".into(),
                barcode: r.barcode,
                person: None,
                priority: r.priority,
                category: r.category,
                site: r.site,
                people: r.member_count,
                recheck: r.recheck_of.is_some(),
                deadline_at: t.deadline,
                remaining_minutes: minutes(t.remaining(now)),
                overdue: t.deadline < now,
                stage,
                stage_since: since,
            }
        })
        .collect();
    items.extend(orders.into_iter().map(|o| AtRisk {
        kind: "resample_order".into(),
        barcode: o.barcode,
        person: Some(o.person),
        priority: o.priority,
        category: o.category,
        site: o.site,
        people: 1,
        recheck: true,
        deadline_at: o.due_at,
        remaining_minutes: minutes(o.due_at - now),
        overdue: o.due_at < now,
        stage: Stage::Recollect,
        stage_since: Some(o.created_at),
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

/// The capacity view of one lab (lab users: their own; others name it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn capacity(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &CapacityFilter,
) -> Result<LabLoad, Error> {
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
    Ok(LabLoad {
        lab: code,
        waiting: waiting.len() as i64,
        in_transit,
        running,
        in_review,
        oldest_deadline_at: waiting.iter().min().copied(),
        measured_plates_per_hour: measured,
        capacity_plates_per_hour: capacity_rate,
        tubes_per_plate: c.tubes_per_plate,
        minutes_per_plate: c.minutes_per_plate,
        first_breach_at: current.first_breach_at,
        at_current_rate: current,
        at_capacity: full,
    })
}
