//! Review as clients see it: the queue of called attempts with the rules' suggestion, what a
//! decision did, and a tube's attempts.

use crate::domain::interpretation::Call;
use crate::domain::review::{Decision, Released, Suggestion};
use crate::domain::vocab::TubeKind;
use crate::store::attempt::HistoryRow;
use crate::store::time::show;
use crate::view::result::{ResultRecord, ResultView};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A called attempt awaiting a reviewer, as the service answers it (deadline in µs, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewCase {
    pub attempt: i64,
    pub plate: String,
    pub well: String,
    pub barcode: String,
    pub kind: TubeKind,
    pub member_count: u32,
    pub attempt_no: u32,
    pub extraction_no: u32,
    pub call: Call,
    pub cts: serde_json::Value,
    pub run_valid: bool,
    pub kit: String,
    pub kit_version: u32,
    pub deadline_at: i64,
    pub overdue: bool,
    pub suggestion: Suggestion,
    pub technicians: Vec<String>,
}

impl ReviewCase {
    pub fn view(&self, tz: FixedOffset) -> ReviewItem {
        ReviewItem {
            attempt: self.attempt,
            plate: self.plate.clone(),
            well: self.well.clone(),
            barcode: self.barcode.clone(),
            kind: self.kind,
            member_count: self.member_count,
            attempt_no: self.attempt_no,
            extraction_no: self.extraction_no,
            call: self.call.clone(),
            cts: self.cts.clone(),
            run_valid: self.run_valid,
            kit: self.kit.clone(),
            kit_version: self.kit_version,
            deadline_at: show(self.deadline_at, tz),
            overdue: self.overdue,
            suggestion: (&self.suggestion).into(),
            technicians: self.technicians.clone(),
        }
    }
}

/// What a decision did, as the service answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub attempt: i64,
    pub barcode: String,
    pub decision: Decision,
    pub value: Option<Released>,
    pub results: Vec<ResultRecord>,
    pub resample_orders: usize,
    pub retained_tubes_queued: Vec<String>,
}

impl Decided {
    pub fn view(&self, tz: FixedOffset) -> DecisionView {
        DecisionView {
            attempt: self.attempt,
            barcode: self.barcode.clone(),
            decision: self.decision,
            value: self.value,
            results: self.results.iter().map(|r| r.view(tz)).collect(),
            resample_orders: self.resample_orders,
            retained_tubes_queued: self.retained_tubes_queued.clone(),
        }
    }
}

impl HistoryRow {
    pub fn view(&self, tz: FixedOffset) -> AttemptView {
        AttemptView {
            attempt: self.id,
            plate: self.run_no.clone(),
            well: self.well.clone(),
            attempt_no: self.attempt_no as u32,
            extraction_no: self.extraction_no as u32,
            recollection_no: self.recollection_no as u32,
            kit: self.kit_code.clone(),
            kit_version: self.kit_version as u32,
            status: self.status.clone(),
            call: self.outcome.clone(),
            run_valid: self.run_valid.map(|v| v != 0),
            decision: self.decision.clone(),
            decision_value: self.decision_value.clone(),
            decision_reason: self.decision_reason.clone(),
            decided_by: self.decided_by.clone(),
            decided_at: self.decided_at.map(|t| show(t, tz)),
        }
    }
}

/// What the rules suggest, as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuggestionView {
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Released>,
    pub why: String,
}

impl From<&Suggestion> for SuggestionView {
    fn from(s: &Suggestion) -> Self {
        Self {
            decision: s.decision,
            value: s.value,
            why: s.why.clone(),
        }
    }
}

/// A called attempt awaiting a reviewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReviewItem {
    pub attempt: i64,
    pub plate: String,
    pub well: String,
    pub barcode: String,
    /// `single`, `pool`, `environment`.
    pub kind: TubeKind,
    pub member_count: u32,
    pub attempt_no: u32,
    pub extraction_no: u32,
    /// The automatic call.
    #[serde(flatten)]
    pub call: Call,
    #[schema(value_type = Object)]
    pub cts: serde_json::Value,
    pub run_valid: bool,
    pub kit: String,
    pub kit_version: u32,
    /// The result is due by (collection + deadline; kept across re-tests and re-checks).
    pub deadline_at: DateTime<FixedOffset>,
    pub overdue: bool,
    pub suggestion: SuggestionView,
    /// Who ran it (created the plate, loaded the tube, imported the results): they may not
    /// release it.
    pub technicians: Vec<String>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DecisionView {
    pub attempt: i64,
    pub barcode: String,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Released>,
    /// Results written (one per person; pool re-checks: pending re-check).
    pub results: Vec<ResultView>,
    /// People ordered to give a new swab (pool re-check, or the specimen failed).
    pub resample_orders: usize,
    /// Retained single tubes now queued for testing without recall.
    pub retained_tubes_queued: Vec<String>,
}

/// One test of a tube, as its history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i64,
    /// The plate's run number.
    pub plate: String,
    pub well: String,
    pub attempt_no: u32,
    pub extraction_no: u32,
    /// How many re-collections led to this tube (0: the first swab).
    pub recollection_no: u32,
    pub kit: String,
    pub kit_version: u32,
    /// `loaded`, `called` or `decided`.
    pub status: String,
    /// The newest automatic call, if any.
    pub call: Option<String>,
    pub run_valid: Option<bool>,
    pub decision: Option<String>,
    pub decision_value: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<FixedOffset>>,
}
