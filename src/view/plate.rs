//! Plates as clients see them: the wells with their tubes and newest calls, the list, and a
//! proposed filling.

use crate::domain::plate::PlateStatus;
use crate::store::plate::{PlateRow, WellRow};
use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A plate with its used wells and the number of imports, as the service answers it.
#[derive(Debug, Clone)]
pub struct Plate {
    pub row: PlateRow,
    pub wells: Vec<WellRow>,
    pub imports: i64,
}

impl Plate {
    pub fn view(&self, tz: FixedOffset) -> PlateView {
        let p = &self.row;
        let size = p.size();
        PlateView {
            id: p.id,
            run_no: p.run_no.clone(),
            lab: p.lab_code.clone(),
            size: size.wells(),
            kit: p.kit_code.clone(),
            kit_version: p.kit_version as u32,
            instrument: p.instrument.clone(),
            status: p.status,
            created_at: show(p.created_at, tz),
            created_by: p.created_by.clone(),
            free_wells: size.wells() - self.wells.len() as u16,
            imports: self.imports as u32,
            wells: self.wells.iter().map(|w| w.view(tz)).collect(),
        }
    }
}

impl WellRow {
    pub fn view(&self, tz: FixedOffset) -> WellView {
        let r = self;
        WellView {
            well: r.well.clone(),
            content: r.content.clone(),
            tube: r
                .barcode
                .clone()
                .zip(r.kind)
                .map(|(barcode, kind)| TubeOnPlate {
                    barcode,
                    kind,
                    member_count: r.member_count.unwrap_or(0) as u32,
                    deadline_at: show(r.deadline_at.unwrap_or(0), tz),
                    attempt_no: r.attempt_no.unwrap_or(0) as u32,
                    extraction_no: r.extraction_no.unwrap_or(0) as u32,
                }),
            call: r.outcome.clone().map(|call| CallView {
                call,
                detail: r.detail.clone().filter(|d| !d.is_empty()),
                cts: r
                    .cts
                    .as_deref()
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or(serde_json::Value::Null),
                kit: r.kit_code.clone().unwrap_or_default(),
                kit_version: r.kit_version.unwrap_or(0) as u32,
                run_valid: r.run_valid == Some(1),
                import_round: r.round.unwrap_or(0) as u32,
            }),
        }
    }
}

impl PlateRow {
    /// The plate as a list shows it.
    pub fn summary(&self, tz: FixedOffset) -> PlateSummary {
        PlateSummary {
            size: self.size().wells(),
            id: self.id,
            run_no: self.run_no.clone(),
            lab: self.lab_code.clone(),
            kit: self.kit_code.clone(),
            kit_version: self.kit_version as u32,
            status: self.status,
            created_at: show(self.created_at, tz),
        }
    }
}

/// A proposed filling of a plate's free wells, as the service answers it: (well, tube
/// barcode, the tube's deadline in µs, UTC), most urgent first.
#[derive(Debug, Clone)]
pub struct Proposed {
    pub plate: String,
    pub wells: Vec<(String, String, i64)>,
    pub left_waiting: usize,
}

impl Proposed {
    pub fn view(&self, tz: FixedOffset) -> Proposal {
        Proposal {
            plate: self.plate.clone(),
            wells: self
                .wells
                .iter()
                .map(|(well, barcode, deadline)| ProposedWell {
                    well: well.clone(),
                    barcode: barcode.clone(),
                    deadline_at: show(*deadline, tz),
                })
                .collect(),
            left_waiting: self.left_waiting,
        }
    }
}

/// The automatic call of a well, as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    /// `negative`, `positive`, `single_target_positive`, `grey_zone`, `invalid`.
    pub call: String,
    /// Targets that amplified (single-target, grey zone), or why the well is invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Ct per kit channel; `null`: no amplification.
    #[schema(value_type = Object)]
    pub cts: serde_json::Value,
    /// The kit version that made the call.
    pub kit: String,
    pub kit_version: u32,
    /// Whether the run's controls passed. If not, the call cannot be reported.
    pub run_valid: bool,
    /// Which import of the plate made it (1 = the first file).
    pub import_round: u32,
}

/// One used well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WellView {
    pub well: String,
    /// `tube`, `negative_control` or `positive_control`.
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tube: Option<TubeOnPlate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<CallView>,
}

/// A tube in a well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TubeOnPlate {
    pub barcode: String,
    /// `single`, `pool`, `environment`; a pool's call belongs to the pool, not yet its members.
    pub kind: crate::domain::vocab::TubeKind,
    pub member_count: u32,
    pub deadline_at: DateTime<FixedOffset>,
    /// The tube's attempt number (2 and up: a re-test).
    pub attempt_no: u32,
    pub extraction_no: u32,
}

/// A plate with its wells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlateView {
    pub id: i64,
    /// 运行编号 run number: `{lab}-{yyyymmdd}-{n}`.
    pub run_no: String,
    pub lab: String,
    pub size: u16,
    pub kit: String,
    pub kit_version: u32,
    pub instrument: Option<String>,
    /// `loading` or `resulted`.
    pub status: PlateStatus,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
    /// Wells still free for tubes.
    pub free_wells: u16,
    /// Number of imports; the calls shown come from the newest.
    pub imports: u32,
    pub wells: Vec<WellView>,
}

/// A proposed filling of a plate's free wells.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Proposal {
    pub plate: String,
    /// Well → tube, most urgent first.
    pub wells: Vec<ProposedWell>,
    /// Received tubes that did not fit.
    pub left_waiting: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProposedWell {
    pub well: String,
    pub barcode: String,
    pub deadline_at: DateTime<FixedOffset>,
}

/// A plate in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlateSummary {
    pub id: i64,
    pub run_no: String,
    pub lab: String,
    pub size: u16,
    pub kit: String,
    pub kit_version: u32,
    pub status: PlateStatus,
    pub created_at: DateTime<FixedOffset>,
}
