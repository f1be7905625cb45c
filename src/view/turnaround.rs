//! Turnaround as clients see it: a tube's timeline, the at-risk list, a lab's capacity.

use crate::domain::turnaround::{Forecast, Stage};
use crate::store::person::PersonRow;
use crate::store::time::show;
use crate::view::PersonView;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tube's journey against its deadline, as the service answers it (times in µs, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub barcode: String,
    pub priority: String,
    pub category: String,
    /// When the deadline clock started: the collection, or the pool's for a re-check.
    pub clock_start_at: i64,
    pub deadline_at: i64,
    pub collected_at: i64,
    pub received_at: Option<i64>,
    /// First placed on a plate.
    pub placed_at: Option<i64>,
    /// Latest run imported (before release).
    pub imported_at: Option<i64>,
    pub called_at: Option<i64>,
    pub released_at: Option<i64>,
    /// CDC ruling on a positive.
    pub confirmed_at: Option<i64>,
    /// First status message sent to the health-code platform, and acknowledged.
    pub pushed_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
    pub rejected_at: Option<i64>,
    /// New swabs ordered: this tube gives no result.
    pub resampled_at: Option<i64>,
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

impl Timeline {
    pub fn view(&self, tz: FixedOffset) -> TimelineView {
        TimelineView {
            barcode: self.barcode.clone(),
            priority: self.priority.clone(),
            category: self.category.clone(),
            clock_start_at: show(self.clock_start_at, tz),
            deadline_at: show(self.deadline_at, tz),
            collected_at: show(self.collected_at, tz),
            received_at: self.received_at.map(|t| show(t, tz)),
            placed_at: self.placed_at.map(|t| show(t, tz)),
            imported_at: self.imported_at.map(|t| show(t, tz)),
            called_at: self.called_at.map(|t| show(t, tz)),
            released_at: self.released_at.map(|t| show(t, tz)),
            confirmed_at: self.confirmed_at.map(|t| show(t, tz)),
            pushed_at: self.pushed_at.map(|t| show(t, tz)),
            acknowledged_at: self.acknowledged_at.map(|t| show(t, tz)),
            rejected_at: self.rejected_at.map(|t| show(t, tz)),
            resampled_at: self.resampled_at.map(|t| show(t, tz)),
            stage: self.stage,
            remaining_minutes: self.remaining_minutes,
            within_deadline: self.within_deadline,
            breached_in: self.breached_in,
            stage_minutes: self.stage_minutes.clone(),
        }
    }
}

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

/// A tube or re-sample order at risk, as the service answers it (times in µs, UTC).
#[derive(Debug, Clone)]
pub struct AtRisk {
    /// `tube`, or `resample_order` (a person owes a new swab).
    pub kind: String,
    /// The tube; for an order, the tube whose deadline it keeps.
    pub barcode: String,
    pub person: Option<PersonRow>,
    pub priority: String,
    pub category: String,
    pub site: String,
    /// Pooled tubes: how many people wait on it.
    pub people: i64,
    /// A re-check of a positive pool (it goes first onto plates).
    pub recheck: bool,
    pub deadline_at: i64,
    /// Negative when past.
    pub remaining_minutes: i64,
    pub overdue: bool,
    /// Where it is stuck.
    pub stage: Stage,
    /// Since when it is in that stage.
    pub stage_since: Option<i64>,
}

impl AtRisk {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> AtRiskItem {
        AtRiskItem {
            kind: self.kind.clone(),
            barcode: self.barcode.clone(),
            person: self.person.as_ref().map(|p| p.view(today)),
            priority: self.priority.clone(),
            category: self.category.clone(),
            site: self.site.clone(),
            people: self.people,
            recheck: self.recheck,
            deadline_at: show(self.deadline_at, tz),
            remaining_minutes: self.remaining_minutes,
            overdue: self.overdue,
            stage: self.stage,
            stage_since: self.stage_since.map(|t| show(t, tz)),
        }
    }
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

/// A lab's queue against its capacity, as the service answers it (times in µs, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct LabLoad {
    pub lab: String,
    /// Received, not on a plate (including re-tests sent back).
    pub waiting: i64,
    /// Collected for this lab, not yet received.
    pub in_transit: i64,
    /// On a plate, not yet called.
    pub running: i64,
    /// Called, not yet released.
    pub in_review: i64,
    pub oldest_deadline_at: Option<i64>,
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
    pub first_breach_at: Option<i64>,
}

impl LabLoad {
    pub fn view(&self, tz: FixedOffset) -> CapacityView {
        CapacityView {
            lab: self.lab.clone(),
            waiting: self.waiting,
            in_transit: self.in_transit,
            running: self.running,
            in_review: self.in_review,
            oldest_deadline_at: self.oldest_deadline_at.map(|t| show(t, tz)),
            measured_plates_per_hour: self.measured_plates_per_hour,
            capacity_plates_per_hour: self.capacity_plates_per_hour,
            tubes_per_plate: self.tubes_per_plate,
            minutes_per_plate: self.minutes_per_plate,
            at_current_rate: self.at_current_rate.clone(),
            at_capacity: self.at_capacity.clone(),
            first_breach_at: self.first_breach_at.map(|t| show(t, tz)),
        }
    }
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
