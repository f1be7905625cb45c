//! 疾控复核 CDC confirmation: released positives go to the CDC reviewers of their region, who
//! confirm them (final) or reject them with a reason (the person is re-checked; the lab sees
//! why). The infectious-disease report is due 2 hours after the positive call.

use super::results;
use super::LIST_CAP;
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::review::CDC_RETURNED;
use crate::domain::status::Cdc;
use crate::error::Error;
use crate::store::result::{self as store, CdcQueue, ResultRow};
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::cdc::CdcPositive;
use crate::view::result::ResultRecord;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

fn item(r: &ResultRow, now: i64, ruled_at: Option<i64>) -> CdcPositive {
    let due = r.positive_called_at.map(|c| {
        c + super::review::report_clock()
            .num_microseconds()
            .unwrap_or(0)
    });
    let late = due.map_or(0, |d| ((ruled_at.unwrap_or(now) - d) / 60_000_000).max(0));
    CdcPositive {
        result: ResultRecord::from(r),
        region: r.region.clone(),
        positive_called_at: r.positive_called_at,
        report_due_at: due,
        minutes_late: late,
    }
}

/// The region prefix a CDC reviewer is bound to.
/// The region a CDC reviewer is bound to (none: everywhere).
fn region(actor: &Actor) -> Option<String> {
    match &actor.scope {
        Scope::Region(r) => Some(r.clone()),
        _ => None,
    }
}

/// Positives awaiting the CDC in the reviewer's region, the oldest call first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn queue(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<CdcPositive>, Error> {
    actor.require(Action::ViewCdc)?;
    let pending = CdcQueue::Pending {
        region: region(actor),
    };
    let rows = store::in_cdc_state(conn, pending, LIST_CAP + 1).await?;
    let rows = super::within_cap(rows, "positives await the CDC", "give the region")?;
    let now = to_db(Utc::now());
    Ok(rows.iter().map(|r| item(r, now, None)).collect())
}

/// Positives whose 2-hour report clock ran out before the CDC ruled (or still running late).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn breaches(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<CdcPositive>, Error> {
    actor.require(Action::ViewCdc)?;
    let now = to_db(Utc::now());
    let clock = super::review::report_clock()
        .num_microseconds()
        .unwrap_or(0);
    let rows =
        store::past_report_clock(&mut *conn, now, clock, region(actor), LIST_CAP + 1).await?;
    let rows = super::within_cap(
        rows,
        "positives are past the report clock",
        "give the region",
    )?;
    let mut out = vec![];
    for (id, ruled) in rows {
        let r = store::by_id(&mut *conn, id)
            .await?
            .ok_or_else(|| results::not_found(id))?;
        out.push(item(&r, now, ruled));
    }
    Ok(out)
}

/// A CDC reviewer's ruling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ruling {
    /// Required to reject; optional to confirm.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Confirms (`true`) or rejects a positive.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn rule(
    tx: &mut Tx,
    result: i64,
    confirm: bool,
    req: Ruling,
) -> Result<CdcPositive, Error> {
    tx.actor().require(Action::CdcReview)?;
    let reason = super::parse_opt_text("reason", req.reason.as_deref(), 500)?;
    if !confirm && reason.is_none() {
        return Err(Error::invalid(
            "reason",
            "a rejection goes back to the lab with its reason",
        ));
    }
    let row = results::lock(tx, result).await?;
    if let Some(prefix) = region(tx.actor()) {
        if !row.region.starts_with(&prefix) {
            return Err(results::not_found(result));
        }
    }
    crate::domain::review::result_next(
        row.state(),
        if confirm {
            crate::domain::review::ResultEvent::CdcConfirm
        } else {
            crate::domain::review::ResultEvent::CdcReject
        },
    )?;
    let status = if confirm {
        Cdc::Confirmed
    } else {
        Cdc::Rejected
    };
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    store::rule_cdc(tx, result, row.tube_id, status, now, &by, reason.as_deref()).await?;
    tx.audit(
        if confirm {
            "result.cdc_confirm"
        } else {
            "result.cdc_reject"
        },
        "person",
        row.person_uid.as_deref().unwrap_or(&row.barcode),
        Some(&serde_json::json!({ "tube": row.barcode, "version": row.version, "cdc": "pending" })),
        Some(&serde_json::json!({ "tube": row.barcode, "version": row.version, "cdc": status, "reason": reason })),
    );
    if !confirm {
        // Back to the lab: the person is re-checked in a single tube, keeping the deadline.
        if let Some(person) = row.person_id {
            let due = crate::store::tube::deadline(tx.conn(), row.tube_id).await?;
            let by = tx.actor().username.clone();
            crate::store::sample_order::order_resample(
                tx,
                person,
                row.tube_id,
                CDC_RETURNED,
                due,
                now,
                &by,
            )
            .await?;
        }
    }
    if let Some(person) = row.person_id {
        super::push::person_changed(tx, person, Some(result)).await?;
    }
    let row = store::by_id(tx.conn(), result)
        .await?
        .ok_or_else(|| results::not_found(result))?;
    Ok(item(&row, now, Some(now)))
}

/// Positives the CDC rejected, for the lab that released them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn returned(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<CdcPositive>, Error> {
    actor.require(Action::ViewReview)?;
    let lab = actor.lab_id();
    let rows = store::in_cdc_state(conn, CdcQueue::Rejected { lab }, LIST_CAP + 1).await?;
    let rows = super::within_cap(rows, "results were returned by the CDC", "give the lab")?;
    let now = to_db(Utc::now());
    Ok(rows.iter().map(|r| item(r, now, None)).collect())
}
