//! Imports as clients see them: the files kept, the run's validity, each tube's call.

use crate::domain::interpretation::{Call, RunValidity};
use crate::domain::run::Doubt;
use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// What an import found and did, as the service answers it (time in µs, UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub plate: String,
    /// 1 for the plate's first import, then 2, 3 … for other files.
    pub round: u32,
    /// These files were imported for this plate before: nothing changed.
    pub duplicate: bool,
    pub files: Vec<FileView>,
    /// The run judged by its controls; if invalid, no call on it can be reported.
    pub run: RunValidity,
    /// How many tubes got each call.
    pub summary: BTreeMap<String, usize>,
    /// Tube wells the files have no reading for: these tubes have no call.
    pub missing_wells: Vec<String>,
    /// Wells with readings that the layout leaves empty: not used.
    pub unexpected_wells: Vec<String>,
    /// Dyes/targets the kit does not read, with their row counts: not used.
    pub unread: BTreeMap<String, usize>,
    pub calls: Vec<WellCallView>,
    /// What made the files look like another run's or a cut one, imported anyway by
    /// `override_reason` (empty for an import that had nothing to doubt).
    pub doubts: Vec<Doubt>,
    pub override_reason: Option<String>,
    pub imported_at: i64,
    pub imported_by: String,
}

impl Imported {
    pub fn view(&self, tz: FixedOffset) -> ImportView {
        ImportView {
            plate: self.plate.clone(),
            round: self.round,
            duplicate: self.duplicate,
            files: self.files.clone(),
            run: self.run.clone(),
            summary: self.summary.clone(),
            missing_wells: self.missing_wells.clone(),
            unexpected_wells: self.unexpected_wells.clone(),
            unread: self.unread.clone(),
            calls: self.calls.clone(),
            doubts: self.doubts.clone(),
            override_reason: self.override_reason.clone(),
            imported_at: show(self.imported_at, tz),
            imported_by: self.imported_by.clone(),
        }
    }
}

/// A file kept with an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileView {
    pub name: String,
    pub sha256: String,
    pub format: String,
    pub size: u64,
}

/// One tube's call, as an import answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WellCallView {
    pub well: String,
    pub barcode: String,
    #[serde(flatten)]
    pub call: Call,
    #[schema(value_type = Object)]
    pub cts: BTreeMap<String, Option<f64>>,
}

/// What an import found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportView {
    pub plate: String,
    /// 1 for the plate's first import, then 2, 3 … for other files.
    pub round: u32,
    /// These files were imported for this plate before: nothing changed.
    pub duplicate: bool,
    pub files: Vec<FileView>,
    /// The run judged by its controls; if invalid, no call on it can be reported.
    pub run: RunValidity,
    /// How many tubes got each call.
    #[schema(value_type = Object)]
    pub summary: BTreeMap<String, usize>,
    /// Tube wells the files have no reading for: these tubes have no call.
    pub missing_wells: Vec<String>,
    /// Wells with readings that the layout leaves empty: not used.
    pub unexpected_wells: Vec<String>,
    /// Dyes/targets the kit does not read, with their row counts: not used.
    #[schema(value_type = Object)]
    pub unread: BTreeMap<String, usize>,
    pub calls: Vec<WellCallView>,
    /// What made the files look like another run's or a cut one, imported anyway by
    /// `override_reason` (empty for an import that had nothing to doubt).
    pub doubts: Vec<Doubt>,
    pub override_reason: Option<String>,
    pub imported_at: DateTime<FixedOffset>,
    pub imported_by: String,
}
