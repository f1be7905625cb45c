//! Kit versions as clients see them.

use crate::domain::kit::Kit;
use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stored kit version with its rules decoded, as the service answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKit {
    pub kit: Kit,
    pub active: bool,
    /// µs, UTC.
    pub created_at: i64,
    pub created_by: String,
}

impl StoredKit {
    pub fn view(&self, tz: FixedOffset) -> KitVersion {
        KitVersion {
            kit: self.kit.clone(),
            active: self.active,
            created_at: show(self.created_at, tz),
            created_by: self.created_by.clone(),
        }
    }
}

/// A stored kit version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KitVersion {
    #[serde(flatten)]
    pub kit: Kit,
    /// Plates may be created with it (the newest version of a code is the default).
    pub active: bool,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
}
