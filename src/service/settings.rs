//! Lab-wide settings that the rules read (configurable per region and year): which categories
//! must be single-sampled, the transport limit, the prefix of barcodes natlis issues.

use crate::domain::vocab::Category;
use crate::error::Error;
use crate::store::Tx;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Settings {
    /// Categories that must be single-sampled (default: every key population).
    pub single_only: Vec<Category>,
    /// Longest transport from collection to receipt before a tube is flagged (default 240).
    pub transport_limit_minutes: i64,
    /// Prefix of the barcodes natlis issues (default `NL`).
    pub barcode_prefix: String,
    /// How long a negative is valid, counted from sampling: 24, 48 or 72 hours (default 48).
    #[serde(default = "default_valid_hours")]
    pub negative_valid_hours: i64,
    /// Turnaround deadlines by priority, in hours from collection (default 6 / 12 / 24).
    #[serde(default)]
    pub deadline_hours: crate::domain::turnaround::DeadlineHours,
    /// What the lab can run, for the capacity view.
    #[serde(default)]
    pub capacity: LabCapacity,
}

/// A lab's instruments, for the capacity view and its forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LabCapacity {
    /// PCR instruments running plates at once (default 4).
    pub instruments: i64,
    /// Placement to release of one plate: extraction, PCR, import, review (default 180).
    pub minutes_per_plate: i64,
    /// Tubes per plate, the wells less the controls (default 94).
    pub tubes_per_plate: i64,
}

impl Default for LabCapacity {
    fn default() -> Self {
        Self {
            instruments: 4,
            minutes_per_plate: 180,
            tubes_per_plate: 94,
        }
    }
}

fn default_valid_hours() -> i64 {
    48
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            single_only: crate::domain::tube::PoolPolicy::default().single_only,
            transport_limit_minutes: 240,
            barcode_prefix: "NL".to_string(),
            negative_valid_hours: default_valid_hours(),
            deadline_hours: Default::default(),
            capacity: Default::default(),
        }
    }
}

pub(crate) const KEY: &str = "settings";

/// The settings in force (defaults where none were stored).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load(conn: &mut AnyConnection) -> Result<Settings, Error> {
    let stored = crate::store::setting::get(conn, KEY).await?;
    from_stored(stored.as_deref())
}

/// The settings from their stored form (defaults where none were stored).
pub(crate) fn from_stored(stored: Option<&str>) -> Result<Settings, Error> {
    match stored {
        Some(v) => serde_json::from_str(v)
            .map_err(|e| Error::internal(anyhow::anyhow!("stored settings unreadable: {e}"))),
        None => Ok(Settings::default()),
    }
}

/// Replaces the settings, audited.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn save(tx: &mut Tx, new: Settings) -> Result<Settings, Error> {
    tx.actor()
        .require(crate::domain::policy::Action::ManageRegistry)?;
    if new.transport_limit_minutes <= 0 || new.transport_limit_minutes > 48 * 60 {
        return Err(Error::invalid(
            "transport_limit_minutes",
            "transport limit must be between 1 minute and 48 hours",
        ));
    }
    if ![24, 48, 72].contains(&new.negative_valid_hours) {
        return Err(Error::invalid(
            "negative_valid_hours",
            "a negative is valid for 24, 48 or 72 hours",
        ));
    }
    new.deadline_hours
        .check()
        .map_err(|m| Error::invalid("deadline_hours", m))?;
    let c = new.capacity;
    if !(1..=1000).contains(&c.instruments)
        || !(10..=24 * 60).contains(&c.minutes_per_plate)
        || !(1..=382).contains(&c.tubes_per_plate)
    {
        return Err(Error::invalid(
            "capacity",
            "capacity: 1–1000 instruments, 10–1440 minutes per plate, 1–382 tubes per plate",
        ));
    }
    let prefix = new.barcode_prefix.trim().to_ascii_uppercase();
    if prefix.is_empty() || prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Error::invalid(
            "barcode_prefix",
            "barcode prefix must be 1–8 letters A–Z",
        ));
    }
    let new = Settings {
        barcode_prefix: prefix,
        ..new
    };
    let before = load(tx.conn()).await?;
    let value = serde_json::to_string(&new).expect("settings serialise");
    let now = crate::store::time::to_db(tx.now());
    let by = tx.actor().username.clone();
    crate::store::setting::put(tx, KEY, &value, now, &by).await?;
    tx.audit(
        "settings.update",
        "settings",
        KEY,
        Some(&super::snapshot(&before)),
        Some(&super::snapshot(&new)),
    );
    Ok(new)
}
