//! 实验室接收 reception: scan tubes in at the lab, flag long transport, reject with a coded
//! reason; the people of a rejected tube are ordered to be re-sampled.

use super::accession::{self, TubeView};
use super::parse_barcode;
use super::persons::PersonView;
use super::{parse_opt_text, registry, settings};
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::reception::{self, RejectionReason};
use crate::domain::tube::{self as rules, TubeStatus};
use crate::error::Error;
use crate::store::time::{show, to_db};
use crate::store::Tx;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, FromRow};
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

pub async fn receive(
    tx: &mut Tx,
    req: ReceiveTube,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<ReceiptView, Error> {
    tx.actor().require(Action::Reception)?;
    let barcode = parse_barcode(&req.barcode)?;
    let (lab_id, lab_code) = registry::lab_id(tx.conn(), "lab", &req.lab).await?;
    check_own_lab(tx.actor(), lab_id, &lab_code)?;
    let row = crate::store::tube::lock_existing(tx, barcode.as_str()).await?;
    // A tube bound for another lab (or received by one) does not exist for this caller.
    row.visible_to(tx.actor(), Action::Reception)?;
    if row.status == TubeStatus::Received {
        let existing = accession::load_view(tx.conn(), barcode.as_str(), tz, today).await?;
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
    sqlx::query(
        "UPDATE tube SET status = $1, lab_id = $2, received_at = $3, received_by = $4, \
         transport_minutes = $5, transport_over_limit = $6 WHERE id = $7",
    )
    .bind(TubeStatus::Received.as_str())
    .bind(lab_id)
    .bind(to_db(received))
    .bind(receiver.clone())
    .bind(transport.minutes)
    .bind(i64::from(transport.over_limit))
    .bind(row.id)
    .execute(tx.conn())
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
    let tube = accession::load_view(tx.conn(), barcode.as_str(), tz, today).await?;
    Ok(ReceiptView {
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
pub async fn forward(
    tx: &mut Tx,
    barcode: &str,
    req: ForwardTube,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<TubeView, Error> {
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
    sqlx::query("UPDATE tube SET forwarded_lab_id = $1 WHERE id = $2")
        .bind(to)
        .bind(row.id)
        .execute(tx.conn())
        .await?;
    tx.audit(
        "tube.forward",
        "tube",
        barcode.as_str(),
        Some(&serde_json::json!({ "bound_for": from })),
        Some(&serde_json::json!({ "bound_for": to_code, "reason": reason })),
    );
    accession::load_view(tx.conn(), barcode.as_str(), tz, today).await
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

pub async fn reject(
    tx: &mut Tx,
    barcode: &str,
    req: RejectTube,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<RejectionView, Error> {
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
    sqlx::query(
        "UPDATE tube SET status = $1, rejected_at = $2, rejected_by = $3, rejection_reason = $4, \
         rejection_note = $5, lab_id = COALESCE($6, lab_id), fold_pending = 1 WHERE id = $7",
    )
    .bind(TubeStatus::Rejected.as_str())
    .bind(now)
    .bind(by.clone())
    .bind(req.reason.as_str())
    .bind(note.clone())
    .bind(lab_id)
    .bind(row.id)
    .execute(tx.conn())
    .await?;
    // One parent entry for the rejection, one child per re-sampling order.
    tx.begin_bulk(
        "tube.reject",
        "tube",
        barcode.as_str(),
        Some(&serde_json::json!({ "status": "rejected", "before": row.status, "reason": req.reason, "note": note })),
    )
    .await?;
    let people: Vec<(i64, String)> = sqlx::query_as(
        "SELECT p.id, p.uid FROM tube_member m JOIN person p ON p.id = m.person_id WHERE m.tube_id = $1 ORDER BY m.position",
    )
    .bind(row.id)
    .fetch_all(tx.conn())
    .await?;
    let reason = format!("tube_rejected:{}", req.reason);
    for (person_id, uid) in people {
        sqlx::query(
            "INSERT INTO sample_order (kind, person_id, source_tube_id, reason, status, due_at, created_at, created_by) \
             VALUES ('resample', $1, $2, $3, 'open', $4, $5, $6) ON CONFLICT (kind, person_id, source_tube_id) DO NOTHING",
        )
        .bind(person_id)
        .bind(row.id)
        .bind(reason.clone())
        .bind(row.deadline_at)
        .bind(now)
        .bind(by.clone())
        .execute(tx.conn())
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
    let tube = accession::load_view(tx.conn(), barcode.as_str(), tz, today).await?;
    let resample = list_resampling(
        tx.conn(),
        &Actor::system(),
        &ResampleFilter {
            tube: Some(barcode.to_string()),
            ..Default::default()
        },
        tz,
        today,
    )
    .await?;
    Ok(RejectionView { tube, resample })
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

#[derive(FromRow)]
struct OrderRow {
    order_id: i64,
    tube_barcode: String,
    site_code: String,
    lab_code: Option<String>,
    reason: String,
    order_status: String,
    due_at: i64,
    order_created_at: i64,
    #[sqlx(flatten)]
    person: crate::store::person::PersonRow,
}

/// People who need a new swab, most urgent first.
pub async fn list_resampling(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &ResampleFilter,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Vec<ResampleOrder>, Error> {
    actor.require(Action::ViewResampling)?;
    let scope = accession::scope_filter(&actor.scope);
    let rows: Vec<OrderRow> = sqlx::query_as(
        "SELECT o.id AS order_id, t.barcode AS tube_barcode, s.code AS site_code, l.code AS lab_code, \
         o.reason, o.status AS order_status, o.due_at, o.created_at AS order_created_at, \
         p.id, p.uid, p.doc_type, p.doc_no, p.name, p.phone, p.sex, p.birth_date, p.personal_code, \
         i.code AS institution_code \
         FROM sample_order o JOIN person p ON p.id = o.person_id \
         JOIN tube t ON t.id = o.source_tube_id JOIN site s ON s.id = t.site_id \
         LEFT JOIN lab l ON l.id = t.lab_id LEFT JOIN institution i ON i.id = p.institution_id \
         WHERE o.kind = 'resample' AND o.status = $1 AND ($2 IS NULL OR l.code = $2) \
         AND ($3 IS NULL OR s.code = $3) AND ($4 IS NULL OR t.barcode = $4) \
         AND ($5 IS NULL OR t.site_id = $5) AND ($6 IS NULL OR COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) = $6) \
         AND ($7 IS NULL OR s.region LIKE $7) \
         ORDER BY o.due_at, o.id LIMIT 20001",
    )
    .bind(f.status.clone().unwrap_or_else(|| "open".into()))
    .bind(f.lab.as_ref().map(|s| s.trim().to_ascii_uppercase()))
    .bind(f.site.as_ref().map(|s| s.trim().to_ascii_uppercase()))
    .bind(f.tube.as_ref().map(|s| s.trim().to_string()))
    .bind(scope.0)
    .bind(scope.1)
    .bind(scope.2)
    .fetch_all(conn)
    .await?;
    let rows = super::within_cap(
        rows,
        "re-sample orders are open",
        "give the site or the lab",
    )?;
    Ok(rows
        .into_iter()
        .map(|r| ResampleOrder {
            id: r.order_id,
            person: r.person.view(today),
            tube: r.tube_barcode,
            site: r.site_code,
            lab: r.lab_code,
            reason: r.reason,
            status: r.order_status,
            due_at: show(r.due_at, tz),
            created_at: show(r.order_created_at, tz),
        })
        .collect())
}

/// A lab user acts for their own lab only.
fn check_own_lab(actor: &Actor, lab_id: i64, code: &str) -> Result<(), Error> {
    match &actor.scope {
        Scope::Lab { id, .. } if *id != lab_id => Err(actor.out_of_scope(&format!("lab {code}"))),
        _ => Ok(()),
    }
}
