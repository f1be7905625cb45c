//! 实验室接收 reception: scan tubes in at the lab, flag long transport, reject with a coded
//! reason; the people of a rejected tube are ordered to be re-sampled.

use super::accession;
use super::parse_barcode;
use super::{parse_opt_text, registry, settings};
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::reception::{self, RejectionReason};
use crate::domain::tube::{self as rules, TubeStatus};
use crate::error::Error;
use crate::store::sample_order::ListedOrder;
use crate::store::time::to_db;
use crate::store::tube as store;
use crate::store::Tx;
use crate::view::reception::{Received, Rejected};
use crate::view::Tube;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// A tube scanned in at a lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReceiveTube {
    pub barcode: String,
    /// Code of the receiving lab.
    pub lab: String,
    /// When it arrived (default: now).
    #[serde(default)]
    pub received_at: Option<DateTime<FixedOffset>>,
    /// Who signed for it (default: the acting user).
    #[serde(default)]
    pub receiver: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn receive(tx: &mut Tx, req: ReceiveTube) -> Result<Received, Error> {
    tx.actor().require(Action::Reception)?;
    let barcode = parse_barcode(&req.barcode)?;
    let (lab_id, lab_code) = registry::lab_id(tx.conn(), "lab", &req.lab).await?;
    check_own_lab(tx.actor(), lab_id, &lab_code)?;
    let row = crate::store::tube::lock_existing(tx, barcode.as_str()).await?;
    // A tube bound for another lab (or received by one) does not exist for this caller.
    row.visible_to(tx.actor(), Action::Reception)?;
    if row.status == TubeStatus::Received {
        let existing = accession::load_with_members(tx.conn(), barcode.as_str()).await?;
        let existing = existing.view(tx.zone(), tx.today());
        let r = existing.receipt.clone();
        return Err(Error::conflict(
            "tube.already_received",
            match &r {
                Some(r) => format!(
                    "tube {barcode} was already received by lab {} at {} ({})",
                    r.lab, r.received_at, r.received_by
                ),
                None => format!("tube {barcode} was already received"),
            },
        )
        .at("barcode")
        .with_details(serde_json::json!({ "tube": existing })));
    }
    rules::receive(row.status)?;
    if let Some(bound) = row.bound_for().filter(|b| *b != lab_id) {
        let bound = registry::lab_code(tx.conn(), bound).await?;
        let why = if row.forwarded_lab_id.is_some() {
            "it was forwarded there"
        } else {
            "its site sends to it"
        };
        return Err(Error::conflict(
            "tube.not_bound_for_lab",
            format!(
                "tube {barcode} is bound for lab {bound} ({why}), not {lab_code}: \
                 it is received there, or forwarded from there to {lab_code} first"
            ),
        )
        .at("lab"));
    }
    let limit = settings::load(tx.conn()).await?.transport_limit_minutes;
    let received = req
        .received_at
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| tx.now());
    if received > tx.now() + Duration::minutes(reception::CLOCK_SKEW_MINUTES) {
        return Err(Error::invalid(
            "received_at",
            "reception time is in the future",
        ));
    }
    let transport = reception::transport(
        crate::store::time::from_db(row.collected_at),
        received,
        Duration::minutes(limit),
    )
    .map_err(|e| {
        Error::unprocessable("reception.before_collection", e.to_string()).at("received_at")
    })?;
    let receiver = match req.receiver.as_deref() {
        Some(r) => super::parse_text("receiver", r, 64)?,
        None => tx.actor().username.clone(),
    };
    store::receive(
        tx,
        row.id,
        &store::Receipt {
            lab: lab_id,
            at: to_db(received),
            by: &receiver,
            transport_minutes: transport.minutes,
            over_limit: transport.over_limit,
        },
    )
    .await?;
    tx.audit(
        "tube.receive",
        "tube",
        barcode.as_str(),
        Some(&serde_json::json!({ "status": row.status })),
        Some(&serde_json::json!({
            "status": "received", "lab": lab_code, "received_at": received, "receiver": receiver,
            "transport_minutes": transport.minutes, "over_limit": transport.over_limit,
        })),
    );
    metrics::counter!("natlis_tubes_received_total").increment(1);
    let tube = accession::load_with_members(tx.conn(), barcode.as_str()).await?;
    Ok(Received {
        tube,
        transport_minutes: transport.minutes,
        limit_minutes: limit,
        over_limit: transport.over_limit,
    })
}

/// 转送 a closed tube handed on, before reception, to another lab (capacity, an instrument
/// down): from then on that lab, not the site's, receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForwardTube {
    /// Code of the lab that will receive it.
    pub lab: String,
    /// Why (kept in the audit trail).
    pub reason: String,
}

/// Forwards a closed tube to another lab; only the lab it is bound for may do so.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn forward(tx: &mut Tx, barcode: &str, req: ForwardTube) -> Result<Tube, Error> {
    let barcode = parse_barcode(barcode)?;
    let row = crate::store::tube::lock_existing(tx, barcode.as_str()).await?;
    row.visible_to(tx.actor(), Action::Reception)?;
    if row.status != TubeStatus::Closed {
        return Err(Error::conflict(
            "tube.not_forwardable",
            format!(
                "tube {barcode} is {}: only a closed tube not yet received can be forwarded",
                row.status.as_str()
            ),
        ));
    }
    let reason = super::parse_text("reason", &req.reason, 500)?;
    let (to, to_code) = registry::lab_id(tx.conn(), "lab", &req.lab).await?;
    if row.bound_for() == Some(to) {
        return Err(Error::conflict(
            "tube.already_bound",
            format!("tube {barcode} is already bound for lab {to_code}"),
        )
        .at("lab"));
    }
    let from = match row.bound_for() {
        Some(id) => Some(registry::lab_code(tx.conn(), id).await?),
        None => None,
    };
    store::forward(tx, row.id, to).await?;
    tx.audit(
        "tube.forward",
        "tube",
        barcode.as_str(),
        Some(&serde_json::json!({ "bound_for": from })),
        Some(&serde_json::json!({ "bound_for": to_code, "reason": reason })),
    );
    accession::load_with_members(tx.conn(), barcode.as_str()).await
}

/// A tube rejected at reception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RejectTube {
    pub reason: RejectionReason,
    /// Required when the reason is `other`.
    #[serde(default)]
    pub note: Option<String>,
    /// The rejecting lab, when the tube was not scanned in first.
    #[serde(default)]
    pub lab: Option<String>,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn reject(tx: &mut Tx, barcode: &str, req: RejectTube) -> Result<Rejected, Error> {
    let barcode = parse_barcode(barcode)?;
    let row = crate::store::tube::lock_existing(tx, barcode.as_str()).await?;
    row.visible_to(tx.actor(), Action::Reception)?;
    rules::reject(row.status)?;
    let note = parse_opt_text("note", req.note.as_deref(), 500)?;
    if req.reason == RejectionReason::Other && note.is_none() {
        return Err(Error::invalid(
            "note",
            "a rejection for reason 'other' needs a note",
        ));
    }
    let lab_id = match (&req.lab, &row.lab_code) {
        (Some(code), _) => {
            let (id, code) = registry::lab_id(tx.conn(), "lab", code).await?;
            check_own_lab(tx.actor(), id, &code)?;
            Some(id)
        }
        (None, Some(_)) => None,
        (None, None) => {
            return Err(Error::invalid(
                "lab",
                "the tube was not scanned in at a lab: name the rejecting lab",
            ))
        }
    };
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    store::reject(
        tx,
        row.id,
        &store::Refusal {
            at: now,
            by: &by,
            reason: req.reason,
            note: note.as_deref(),
            lab: lab_id,
        },
    )
    .await?;
    // One parent entry for the rejection, one child per re-sampling order.
    tx.begin_bulk(
        "tube.reject",
        "tube",
        barcode.as_str(),
        Some(&serde_json::json!({ "status": "rejected", "before": row.status, "reason": req.reason, "note": note })),
    )
    .await?;
    let people = store::member_ids(tx.conn(), row.id).await?;
    let reason = format!("tube_rejected:{}", req.reason);
    for (person_id, uid) in people {
        crate::store::sample_order::order_resample(
            tx,
            person_id,
            row.id,
            &reason,
            row.deadline_at,
            now,
            &by,
        )
        .await?;
        super::push::person_changed(tx, person_id, None).await?;
        tx.audit(
            "order.resample",
            "person",
            &uid,
            None,
            Some(&serde_json::json!({ "tube": barcode.as_str(), "reason": reason })),
        );
    }
    tx.end_bulk();
    metrics::counter!("natlis_tubes_rejected_total", "reason" => req.reason.as_str()).increment(1);
    let tube = accession::load_with_members(tx.conn(), barcode.as_str()).await?;
    let resample = list_resampling(
        tx.conn(),
        &Actor::system(),
        &ResampleFilter {
            tube: Some(barcode.to_string()),
            ..Default::default()
        },
    )
    .await?;
    Ok(Rejected { tube, resample })
}

/// Filters for the re-sampling list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ResampleFilter {
    pub lab: Option<String>,
    pub site: Option<String>,
    pub tube: Option<String>,
    /// `open` (default) or `fulfilled`.
    pub status: Option<String>,
}

/// People who need a new swab, most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_resampling(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &ResampleFilter,
) -> Result<Vec<ListedOrder>, Error> {
    actor.require(Action::ViewResampling)?;
    let scope = accession::scope_filter(&actor.scope);
    let filter = crate::store::sample_order::OrderFilter {
        status: f.status.clone().unwrap_or_else(|| "open".into()),
        lab_code: f.lab.as_ref().map(|s| s.trim().to_ascii_uppercase()),
        site_code: f.site.as_ref().map(|s| s.trim().to_ascii_uppercase()),
        barcode: f.tube.as_ref().map(|s| s.trim().to_string()),
        site_id: scope.0,
        lab_id: scope.1,
        region_like: scope.2,
    };
    let rows = crate::store::sample_order::list(conn, &filter, super::LIST_CAP + 1).await?;
    let rows = super::within_cap(
        rows,
        "re-sample orders are open",
        "give the site or the lab",
    )?;
    Ok(rows)
}

/// A lab user acts for their own lab only.
fn check_own_lab(actor: &Actor, lab_id: i64, code: &str) -> Result<(), Error> {
    match &actor.scope {
        Scope::Lab { id, .. } if *id != lab_id => Err(actor.out_of_scope(&format!("lab {code}"))),
        _ => Ok(()),
    }
}
