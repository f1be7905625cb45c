//! Barcode batches as clients see them.

use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A batch of barcodes issued to a site, as the service answers it (time in µs, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedBatch {
    pub id: i64,
    pub site: String,
    pub count: u32,
    pub first: String,
    pub last: String,
    pub issued_at: i64,
    pub issued_by: String,
}

impl IssuedBatch {
    pub fn view(&self, tz: FixedOffset) -> Batch {
        Batch {
            id: self.id,
            site: self.site.clone(),
            count: self.count,
            first: self.first.clone(),
            last: self.last.clone(),
            issued_at: show(self.issued_at, tz),
            issued_by: self.issued_by.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    pub id: i64,
    pub site: String,
    pub count: u32,
    pub first: String,
    pub last: String,
    pub issued_at: DateTime<FixedOffset>,
    pub issued_by: String,
}
