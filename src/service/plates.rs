//! 板 PCR plates: created for a lab with a kit version, controls placed in fixed wells, tubes
//! scanned into wells (or placed by a proposal: re-checks first, then the earliest deadline).
//! Each tube on a plate is an attempt (检测批次) with its number among the tube's attempts.

use super::kits;
use super::parse_barcode;
use crate::actor::Actor;
use crate::domain::plate::{
    self as layout_rules, Layout, LayoutError, PlateStatus, Waiting, WellContent,
};
use crate::domain::policy::{Action, Scope};
use crate::domain::review::{self, AttemptStatus, Decision};
use crate::error::Error;
use crate::store::plate::{self as store, PlateRow};
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::plate::{Plate, Proposed};
use instrument_adapters::{PlateSize, Well};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// A new plate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewPlate {
    /// Code of the lab running it.
    pub lab: String,
    /// 96 or 384 wells.
    pub size: u16,
    /// Kit code; its newest active version is used unless `kit_version` names one.
    pub kit: String,
    #[serde(default)]
    pub kit_version: Option<u32>,
    /// The instrument, as the lab names it (`ABI7500-2`, `SLAN-96P #3`).
    #[serde(default)]
    pub instrument: Option<String>,
}

/// A tube scanned into a well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssignWell {
    pub barcode: String,
    /// `A1`…`H12` or `A1`…`P24`; default: the next free well, row by row.
    #[serde(default)]
    pub well: Option<String>,
}

/// A tube placed in a well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Placed {
    pub plate: String,
    pub well: String,
    pub barcode: String,
    pub attempt_no: u32,
    pub free_wells: u16,
    /// Worth a look (e.g. the tube was tested before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A plate the actor may see.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn visible(
    conn: &mut AnyConnection,
    actor: &Actor,
    plate: &str,
) -> Result<PlateRow, Error> {
    visible_for(conn, actor, plate, Action::ViewPlates).await
}

/// A plate the actor may see and act on with `action` (read without a lock).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn visible_for(
    conn: &mut AnyConnection,
    actor: &Actor,
    plate: &str,
    action: Action,
) -> Result<PlateRow, Error> {
    let p = store::load(conn, plate).await?;
    p.visible_to(actor, action)?;
    Ok(p)
}

/// The layout of a plate the actor may see (what each well holds).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn layout_of(
    conn: &mut AnyConnection,
    actor: &Actor,
    plate: &str,
) -> Result<Layout, Error> {
    let row = visible(&mut *conn, actor, plate).await?;
    layout(conn, &row).await
}

/// Loads a plate for a change, locking its row (PostgreSQL) for the rest of the transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn lock(tx: &mut Tx, plate: &str, action: Action) -> Result<PlateRow, Error> {
    let row = store::lock(tx, plate).await?;
    row.visible_to(tx.actor(), action)?;
    Ok(row)
}

/// The layout of a plate as stored.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn layout(conn: &mut AnyConnection, plate: &PlateRow) -> Result<Layout, Error> {
    let size = plate.size();
    let rows = store::wells(conn, plate.id).await?;
    let mut layout = Layout {
        size,
        wells: Default::default(),
    };
    for (well, content, barcode) in rows {
        let well = Well::parse(&well, size)
            .map_err(|e| Error::internal(anyhow::anyhow!("plate {}: {e}", plate.run_no)))?;
        let content = match (content.as_str(), barcode) {
            ("negative_control", _) => WellContent::NegativeControl,
            ("positive_control", _) => WellContent::PositiveControl,
            (_, Some(b)) => WellContent::Tube(b),
            (c, None) => {
                return Err(Error::internal(anyhow::anyhow!(
                    "plate {} well {well}: content {c} without a tube",
                    plate.run_no
                )))
            }
        };
        layout.wells.insert(well, content);
    }
    Ok(layout)
}

fn index(well: Well, size: PlateSize) -> i64 {
    i64::from(well.row) * i64::from(size.cols()) + i64::from(well.col)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(tx: &mut Tx, req: NewPlate) -> Result<Plate, Error> {
    tx.actor().require(Action::RunPlates)?;
    let size = match req.size {
        96 => PlateSize::P96,
        384 => PlateSize::P384,
        other => {
            return Err(Error::invalid(
                "size",
                format!("a plate has 96 or 384 wells, not {other}"),
            ))
        }
    };
    let (lab_id, lab_code) = super::registry::lab_id(tx.conn(), "lab", &req.lab).await?;
    if let Scope::Lab { id, .. } = &tx.actor().scope {
        if *id != lab_id {
            return Err(tx.actor().out_of_scope(&format!("lab {lab_code}")));
        }
    }
    let kit = kits::load(tx.conn(), &req.kit, req.kit_version).await?;
    let instrument = super::parse_opt_text("instrument", req.instrument.as_deref(), 64)?;
    let day = tx
        .now()
        .with_timezone(&tx.zone())
        .format("%Y%m%d")
        .to_string();
    let key = format!("{lab_code}-{day}");
    let run_no = format!("{key}-{}", store::next_run_seq(tx, &key).await?);
    let by = tx.actor().username.clone();
    let created_at = to_db(tx.now());
    let id = store::insert(
        tx,
        &store::NewPlate {
            run_no: &run_no,
            lab_id,
            size,
            kit_id: kit.id,
            instrument: instrument.as_deref(),
            created_at,
            created_by: &by,
        },
    )
    .await?;
    let (neg, pos) = layout_rules::control_wells(size);
    for (well, content) in [(neg, "negative_control"), (pos, "positive_control")] {
        store::insert_control(tx, id, &well.to_string(), index(well, size), content).await?;
    }
    let k = kit.kit()?;
    tx.audit(
        "plate.create",
        "plate",
        &run_no,
        None,
        Some(&serde_json::json!({
            "lab": lab_code, "size": size.wells(), "kit": k.code, "kit_version": k.version,
            "instrument": instrument, "negative_control": neg.to_string(), "positive_control": pos.to_string(),
        })),
    );
    find_row(tx.conn(), &id.to_string()).await
}

/// Scans a tube into a well (or the next free one).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn assign(tx: &mut Tx, plate: &str, req: AssignWell) -> Result<Placed, Error> {
    let p = lock(tx, plate, Action::RunPlates).await?;
    let mut layout = layout(tx.conn(), &p).await?;
    place(tx, &p, &mut layout, &req).await
}

async fn place(
    tx: &mut Tx,
    p: &PlateRow,
    layout: &mut Layout,
    req: &AssignWell,
) -> Result<Placed, Error> {
    if p.status != PlateStatus::Loading {
        return Err(Error::conflict(
            "plate.has_results",
            format!(
                "plate {} has results imported: its layout can no longer change",
                p.run_no
            ),
        ));
    }
    let size = p.size();
    let barcode = parse_barcode(&req.barcode)?;
    let well = match req.well.as_deref().map(str::trim) {
        Some(w) if !w.is_empty() => Well::parse(w, size).map_err(|e| Error::invalid("well", e))?,
        _ => layout.next_free().ok_or_else(|| {
            Error::conflict("plate.full", format!("plate {} has no free well", p.run_no))
        })?,
    };
    let tube = crate::store::tube::lock_existing(tx, barcode.as_str()).await?;
    tube.visible_to(tx.actor(), Action::RunPlates)?;
    if tube.lab_id != Some(p.lab_id) || tube.received_at.is_none() {
        return Err(Error::conflict(
            "tube.not_received",
            format!(
                "tube {barcode} has not been received at lab {} (it is {}): scan it in at reception first",
                p.lab_code, tube.status
            ),
        )
        .at("barcode"));
    }
    if tube.status == crate::domain::tube::TubeStatus::Rejected {
        return Err(Error::conflict(
            "tube.rejected",
            format!("tube {barcode} was rejected at reception and cannot be tested"),
        )
        .at("barcode"));
    }
    layout.assign(well, barcode.as_str()).map_err(|e| {
        let code = match e {
            LayoutError::Occupied(..) => "well.occupied",
            LayoutError::TubeTwice(..) => "tube.already_on_plate",
            LayoutError::ControlWell(..) => "well.control",
        };
        Error::conflict(code, e.to_string()).at("well")
    })?;
    if tube.held != 0 {
        return Err(Error::conflict(
            "tube.held",
            format!("tube {barcode} is a retained tube, held until its pool needs a re-check"),
        )
        .at("barcode"));
    }
    let earlier = store::attempts_of_tube(tx.conn(), tube.id).await?;
    for e in &earlier {
        let at =
            serde_json::json!({ "plate": e.run_no, "well": e.well, "attempt_no": e.attempt_no });
        let (code, why) = match (e.status, e.decision) {
            (AttemptStatus::Loaded, _) => ("tube.on_another_plate", "waiting for its results"),
            (AttemptStatus::Called, None) => ("tube.awaiting_review", "called and awaiting review"),
            (_, Some(d)) if review::is_final(d) => (
                "tube.done",
                "decided for good (released, or its people ordered re-sampled): amend the result instead",
            ),
            _ => continue,
        };
        return Err(Error::conflict(
            code,
            format!(
                "tube {barcode} is on plate {} (well {}), {why}",
                e.run_no, e.well
            ),
        )
        .at("barcode")
        .with_details(at));
    }
    let attempt_no = earlier.last().map_or(1, |e| e.attempt_no + 1);
    let extraction_no = review::next_extraction(
        earlier
            .last()
            .and_then(|e| e.decision.map(|d| (d, e.extraction_no as u32))),
    );
    let mut warnings = vec![];
    if let Some(e) = earlier.last() {
        warnings.push(format!(
            "tube {barcode} was tested before (attempt {} on plate {}, well {}, {}): this is attempt {attempt_no}, extraction {extraction_no}",
            e.attempt_no,
            e.run_no,
            e.well,
            e.decision.map_or("undecided", Decision::as_str)
        ));
    }
    let by = tx.actor().username.clone();
    let at = to_db(tx.now());
    store::load_tube(
        tx,
        &store::Loading {
            plate: p.id,
            well: &well.to_string(),
            index: index(well, size),
            tube: tube.id,
            attempt_no,
            extraction_no: i64::from(extraction_no),
            at,
            by: &by,
        },
    )
    .await?;
    super::turnaround::placed(tx, tube.id).await?;
    tx.audit(
        "attempt.load",
        "tube",
        barcode.as_str(),
        None,
        Some(&serde_json::json!({
            "plate": p.run_no, "well": well.to_string(), "attempt_no": attempt_no,
            "extraction_no": extraction_no,
        })),
    );
    Ok(Placed {
        plate: p.run_no.clone(),
        well: well.to_string(),
        barcode: barcode.to_string(),
        attempt_no: attempt_no as u32,
        free_wells: layout.free() as u16,
        warnings,
    })
}

/// Takes a tube out of a well (a mis-scan), before any results are imported.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unassign(tx: &mut Tx, plate: &str, well: &str) -> Result<Plate, Error> {
    let p = lock(tx, plate, Action::RunPlates).await?;
    if p.status != PlateStatus::Loading {
        return Err(Error::conflict(
            "plate.has_results",
            format!(
                "plate {} has results imported: its layout can no longer change",
                p.run_no
            ),
        ));
    }
    let w = Well::parse(well, p.size()).map_err(|e| Error::invalid("well", e))?;
    let row = store::well(tx.conn(), p.id, &w.to_string()).await?;
    let (tube_id, barcode) = match row {
        None => {
            return Err(Error::not_found(
                "well.empty",
                format!("well {w} of plate {} is empty", p.run_no),
            )
            .at("well"))
        }
        Some((_, Some(id), Some(b))) => (id, b),
        Some((c, ..)) => {
            return Err(Error::conflict(
                "well.control",
                format!("well {w} holds the {}: controls stay", c.replace('_', " ")),
            )
            .at("well"))
        }
    };
    store::unload_tube(tx, p.id, tube_id, &w.to_string()).await?;
    super::turnaround::unplaced(tx, tube_id).await?;
    tx.audit(
        "attempt.unload",
        "tube",
        &barcode,
        Some(&serde_json::json!({ "plate": p.run_no, "well": w.to_string() })),
        None,
    );
    find_row(tx.conn(), &p.id.to_string()).await
}

/// Tubes received at the lab and not yet on any plate, for a proposal.
async fn waiting(conn: &mut AnyConnection, lab_id: i64) -> Result<Vec<Waiting>, Error> {
    let rows = store::waiting_tubes(conn, lab_id).await?;
    Ok(rows
        .into_iter()
        .map(|(barcode, deadline, recheck_of)| Waiting {
            barcode,
            deadline,
            recheck: recheck_of.is_some(),
        })
        .collect())
}

fn proposal_for(existing: &Layout, queue: Vec<Waiting>) -> (Vec<(Well, Waiting)>, usize) {
    // The domain proposes for an empty plate; fill only the wells still free here.
    let (fresh, left) = layout_rules::propose(existing.size, queue.clone());
    let mut free: Vec<Well> = (0..existing.size.wells())
        .filter_map(|i| Well::from_index(i, 0, existing.size).ok())
        .filter(|w| !existing.wells.contains_key(w))
        .collect();
    free.reverse();
    let mut out = vec![];
    let mut left = left.len();
    for (_, content) in fresh.wells {
        if let WellContent::Tube(b) = content {
            match free.pop() {
                Some(w) => {
                    let item = queue
                        .iter()
                        .find(|q| q.barcode == b)
                        .cloned()
                        .expect("proposed from the queue");
                    out.push((w, item));
                }
                None => left += 1,
            }
        }
    }
    (out, left)
}

/// Proposes how to fill the plate's free wells from the tubes waiting at its lab.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn propose(
    conn: &mut AnyConnection,
    actor: &Actor,
    plate: &str,
) -> Result<Proposed, Error> {
    let p = visible(conn, actor, plate).await?;
    let existing = layout(conn, &p).await?;
    let queue = waiting(conn, p.lab_id).await?;
    let (wells, left_waiting) = proposal_for(&existing, queue);
    Ok(Proposed {
        plate: p.run_no,
        wells: wells
            .into_iter()
            .map(|(w, q)| (w.to_string(), q.barcode, q.deadline))
            .collect(),
        left_waiting,
    })
}

/// Fills the plate's free wells as proposed (computed again inside the transaction).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn fill(tx: &mut Tx, plate: &str) -> Result<Plate, Error> {
    let p = lock(tx, plate, Action::RunPlates).await?;
    let mut layout = layout(tx.conn(), &p).await?;
    let queue = waiting(tx.conn(), p.lab_id).await?;
    let (wells, _) = proposal_for(&layout, queue);
    tx.begin_bulk(
        "plate.fill",
        "plate",
        &p.run_no,
        Some(&serde_json::json!({ "tubes": wells.len() })),
    )
    .await?;
    for (w, q) in wells {
        let req = AssignWell {
            barcode: q.barcode,
            well: Some(w.to_string()),
        };
        place(tx, &p, &mut layout, &req).await?;
    }
    tx.end_bulk();
    find_row(tx.conn(), &p.id.to_string()).await
}

/// A plate with its wells and their newest calls.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(conn: &mut AnyConnection, actor: &Actor, plate: &str) -> Result<Plate, Error> {
    let p = visible(conn, actor, plate).await?;
    with_wells(conn, p).await
}

/// A plate for a service that checked the actor already.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn find_row(conn: &mut AnyConnection, plate: &str) -> Result<Plate, Error> {
    let p = store::load(conn, plate).await?;
    with_wells(conn, p).await
}

async fn with_wells(conn: &mut AnyConnection, row: PlateRow) -> Result<Plate, Error> {
    let wells = store::well_rows(&mut *conn, row.id).await?;
    let imports = store::import_count(conn, row.id).await?;
    Ok(Plate {
        row,
        wells,
        imports,
    })
}

/// Filters for the list of plates.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PlateFilter {
    pub lab: Option<String>,
    /// `loading` or `resulted`.
    pub status: Option<String>,
}

/// Plates, newest first (lab users: their own lab's).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &PlateFilter,
) -> Result<Vec<PlateRow>, Error> {
    actor.require(Action::ViewPlates)?;
    let own = actor.lab_id();
    let rows = store::list(
        conn,
        f.lab.as_ref().map(|s| s.trim().to_ascii_uppercase()),
        f.status.clone(),
        own,
        super::LIST_CAP + 1,
    )
    .await?;
    super::within_cap(rows, "plates match", "give the lab or a status")
}
