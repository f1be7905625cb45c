//! Reception's answers as clients see them: the tube received, the tube rejected with the
//! people to re-sample.

use crate::store::sample_order::ListedOrder;
use crate::store::time::show;
use crate::view::{PersonView, Tube, TubeView};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tube scanned in at a lab: the tube, and how its transport went.
#[derive(Debug, Clone)]
pub struct Received {
    pub tube: Tube,
    pub transport_minutes: i64,
    pub limit_minutes: i64,
    pub over_limit: bool,
}

impl Received {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> ReceiptView {
        ReceiptView {
            tube: self.tube.view(tz, today),
            transport_minutes: self.transport_minutes,
            limit_minutes: self.limit_minutes,
            over_limit: self.over_limit,
        }
    }
}

/// A tube rejected at reception, and the orders to re-sample its people.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub tube: Tube,
    pub resample: Vec<ListedOrder>,
}

impl Rejected {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> RejectionView {
        RejectionView {
            tube: self.tube.view(tz, today),
            resample: self.resample.iter().map(|o| o.view(tz, today)).collect(),
        }
    }
}

impl ListedOrder {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> ResampleOrder {
        ResampleOrder {
            id: self.order_id,
            person: self.person.view(today),
            tube: self.tube_barcode.clone(),
            site: self.site_code.clone(),
            lab: self.lab_code.clone(),
            reason: self.reason.clone(),
            status: self.order_status.clone(),
            due_at: show(self.due_at, tz),
            created_at: show(self.order_created_at, tz),
        }
    }
}

/// The answer to a reception scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptView {
    pub tube: TubeView,
    /// Minutes from collection to receipt.
    pub transport_minutes: i64,
    /// The transport limit in force.
    pub limit_minutes: i64,
    /// Transport took longer than the limit: check the tube, consider rejecting it.
    pub over_limit: bool,
}

/// An order to take a new swab from a person (重新采样).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ResampleOrder {
    pub id: i64,
    pub person: PersonView,
    /// The tube whose swab could not be tested.
    pub tube: String,
    pub site: String,
    pub lab: Option<String>,
    pub reason: String,
    pub status: String,
    /// The original deadline, which the re-sample keeps.
    pub due_at: DateTime<FixedOffset>,
    pub created_at: DateTime<FixedOffset>,
}

/// The answer to a rejection: the tube, and who must be re-sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectionView {
    pub tube: TubeView,
    pub resample: Vec<ResampleOrder>,
}
