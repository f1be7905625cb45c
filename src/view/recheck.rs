//! Pool re-checks as clients see them.

use crate::domain::review::ResultValue;
use crate::store::person::PersonRow;
use crate::store::time::show;
use crate::view::PersonView;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a pool member's re-check stands, as the service answers it.
#[derive(Debug, Clone)]
pub struct Recheck {
    pub pool: String,
    pub person: PersonRow,
    /// The pool's deadline (µs, UTC).
    pub due_at: i64,
    pub overdue: bool,
    pub state: String,
    pub tube: Option<String>,
    pub result: Option<ResultValue>,
}

impl Recheck {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> RecheckItem {
        RecheckItem {
            pool: self.pool.clone(),
            person: self.person.view(today),
            due_at: show(self.due_at, tz),
            overdue: self.overdue,
            state: self.state.clone(),
            tube: self.tube.clone(),
            result: self.result,
        }
    }
}

/// Where a member's re-check stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecheckItem {
    pub pool: String,
    pub person: PersonView,
    /// The pool's deadline, which the re-check keeps.
    pub due_at: DateTime<FixedOffset>,
    pub overdue: bool,
    /// `no_order` (an exception), `awaiting_resample`, `resampled` (the single tube is on its
    /// way or in the lab), `resulted`.
    pub state: String,
    /// The single (or retained) tube of the re-check.
    pub tube: Option<String>,
    pub result: Option<ResultValue>,
}
