//! The CDC's queue as clients see it: each positive with its 2-hour report clock.

use crate::store::time::show;
use crate::view::result::{ResultRecord, ResultView};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A positive awaiting (or past) the CDC, as the service answers it (times in µs, UTC).
#[derive(Debug, Clone)]
pub struct CdcPositive {
    pub result: ResultRecord,
    pub region: String,
    pub positive_called_at: Option<i64>,
    pub report_due_at: Option<i64>,
    pub minutes_late: i64,
}

impl CdcPositive {
    pub fn view(&self, tz: FixedOffset) -> CdcItem {
        CdcItem {
            result: self.result.view(tz),
            region: self.region.clone(),
            positive_called_at: self.positive_called_at.map(|c| show(c, tz)),
            report_due_at: self.report_due_at.map(|d| show(d, tz)),
            minutes_late: self.minutes_late,
        }
    }
}

/// A positive awaiting (or past) the CDC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CdcItem {
    #[serde(flatten)]
    pub result: ResultView,
    pub region: String,
    /// The automatic positive call the clock runs from.
    pub positive_called_at: Option<DateTime<FixedOffset>>,
    /// The direct report is due by (2 hours after the positive call).
    pub report_due_at: Option<DateTime<FixedOffset>>,
    /// Minutes past the due time (0: within it). For a ruled result: how late the ruling was.
    pub minutes_late: i64,
}
