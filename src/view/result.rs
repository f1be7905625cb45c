//! Results and a person's status as clients see them.

use crate::domain::review::ResultValue;
use crate::domain::status::{Cdc, PersonStatus};
use crate::store::person::PersonRow;
use crate::store::result::ResultRow;
use crate::store::sample_order::OpenOrderRow;
use crate::store::time::show;
use crate::view::PersonView;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A result as released or amended, as a service answers it (times in µs, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRecord {
    pub id: i64,
    pub tube: String,
    pub person: Option<String>,
    pub version: u32,
    pub current: bool,
    pub value: ResultValue,
    pub source: String,
    pub sampled_at: i64,
    pub cdc_status: Option<Cdc>,
    pub cdc_reason: Option<String>,
    pub released_by: String,
    pub released_at: i64,
    pub reason: Option<String>,
}

impl From<&ResultRow> for ResultRecord {
    fn from(r: &ResultRow) -> Self {
        Self {
            id: r.id,
            tube: r.barcode.clone(),
            person: r.person_uid.clone(),
            version: r.version as u32,
            current: r.current != 0,
            value: r.value,
            source: r.source.clone(),
            sampled_at: r.sampled_at,
            cdc_status: r.cdc_status,
            cdc_reason: r.cdc_reason.clone(),
            released_by: r.released_by.clone(),
            released_at: r.released_at,
            reason: r.reason.clone(),
        }
    }
}

impl ResultRecord {
    pub fn view(&self, tz: FixedOffset) -> ResultView {
        ResultView {
            id: self.id,
            tube: self.tube.clone(),
            person: self.person.clone(),
            version: self.version,
            current: self.current,
            value: self.value,
            source: self.source.clone(),
            sampled_at: show(self.sampled_at, tz),
            cdc_status: self.cdc_status,
            cdc_reason: self.cdc_reason.clone(),
            released_by: self.released_by.clone(),
            released_at: show(self.released_at, tz),
            reason: self.reason.clone(),
        }
    }
}

/// A person's status with what it comes from, as a service answers it.
#[derive(Debug, Clone)]
pub struct Status {
    pub person: PersonRow,
    pub status: PersonStatus,
    /// The current version of each result, newest sample first.
    pub results: Vec<ResultRecord>,
    /// Open orders to give a new swab.
    pub orders: Vec<OpenOrderRow>,
}

impl Status {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> StatusView {
        StatusView {
            person: self.person.view(today),
            status: self.status.code().to_string(),
            valid_until: match self.status {
                PersonStatus::Negative { valid_until } => Some(show(valid_until, tz)),
                _ => None,
            },
            results: self.results.iter().map(|r| r.view(tz)).collect(),
            open_resample_orders: self
                .orders
                .iter()
                .map(|(tube, reason, due, _)| OpenOrder {
                    tube: tube.clone(),
                    reason: reason.clone(),
                    due_at: show(*due, tz),
                })
                .collect(),
        }
    }
}

/// A person's current status, with the results it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub person: PersonView,
    /// `no_result`, `negative`, `pending_recheck`, `needs_resampling`, `positive_preliminary`,
    /// `positive_confirmed`.
    pub status: String,
    /// For a negative: valid until (sampling time + the configured 24/48/72 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<FixedOffset>>,
    /// The current version of each result, newest sample first.
    pub results: Vec<ResultView>,
    /// Open orders to give a new swab.
    pub open_resample_orders: Vec<OpenOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenOrder {
    /// The tube whose result needs the new swab.
    pub tube: String,
    pub reason: String,
    pub due_at: DateTime<FixedOffset>,
}

/// A result as released or amended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResultView {
    pub id: i64,
    pub tube: String,
    /// The person's public id (none for an environment sample).
    pub person: Option<String>,
    pub version: u32,
    pub current: bool,
    pub value: ResultValue,
    /// `single`, `pool` (an individual result from a pooled tube) or `environment`.
    pub source: String,
    pub sampled_at: DateTime<FixedOffset>,
    /// `pending`, `confirmed` or `rejected` for positives.
    pub cdc_status: Option<Cdc>,
    pub cdc_reason: Option<String>,
    pub released_by: String,
    pub released_at: DateTime<FixedOffset>,
    pub reason: Option<String>,
}
