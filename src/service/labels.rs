//! Batches of pre-printed barcodes issued to a site (预印条码). Sequence numbers come from a
//! counter row updated in the transaction, so several nodes never issue the same barcode.

use super::registry;
use crate::actor::Actor;
use crate::domain::barcode::{TubeBarcode, SEQ_DIGITS};
use crate::domain::policy::{self, Action, Scope};
use crate::error::Error;
use crate::store::barcode_batch as store;
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::label::IssuedBatch;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// Most barcodes in one batch.
pub const MAX_BATCH: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IssueBatch {
    /// How many barcodes (1–100000).
    pub count: u32,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn issue(tx: &mut Tx, site_code: &str, req: IssueBatch) -> Result<IssuedBatch, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    if req.count == 0 || req.count > MAX_BATCH {
        return Err(Error::invalid(
            "count",
            format!("a batch has 1–{MAX_BATCH} barcodes"),
        ));
    }
    let site = registry::site_rules(tx.conn(), "site", site_code).await?;
    let prefix = site.settings.barcode_prefix.clone();
    let next = store::take_numbers(tx, &prefix, i64::from(req.count)).await?;
    let first_seq = next - i64::from(req.count);
    if next > 10_i64.pow(SEQ_DIGITS as u32) {
        return Err(Error::conflict(
            "barcode.exhausted",
            format!("the {prefix} barcode range is exhausted: set a new prefix"),
        ));
    }
    let now = tx.now();
    let by = tx.actor().username.clone();
    let id = store::insert(
        tx,
        site.id,
        &prefix,
        first_seq,
        i64::from(req.count),
        to_db(now),
        &by,
    )
    .await?;
    let batch = IssuedBatch {
        id,
        site: site.code,
        count: req.count,
        first: TubeBarcode::issued(&prefix, first_seq as u64).to_string(),
        last: TubeBarcode::issued(&prefix, (next - 1) as u64).to_string(),
        issued_at: to_db(now),
        issued_by: by,
    };
    tx.audit(
        "barcode.issue_batch",
        "barcode_batch",
        &id.to_string(),
        None,
        Some(&super::snapshot(&batch.view(tx.zone()))),
    );
    Ok(batch)
}

/// A batch and every barcode in it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: i64,
) -> Result<(IssuedBatch, Vec<TubeBarcode>), Error> {
    let row = store::by_id(conn, id).await?;
    let not_found =
        || Error::not_found("barcode_batch.not_found", format!("no barcode batch {id}"));
    let store::BatchRow {
        site,
        prefix,
        first_seq: first,
        count,
        issued_at: at,
        issued_by: by,
    } = row.ok_or_else(not_found)?;
    // An admin, or a collector of the site the batch was issued to.
    let mine = matches!(&actor.scope, Scope::Site { code, .. } if *code == site);
    if !(policy::allowed(actor.role, Action::ManageRegistry) || mine) {
        return Err(not_found());
    }
    let barcodes: Vec<TubeBarcode> = (first..first + count)
        .map(|s| TubeBarcode::issued(&prefix, s as u64))
        .collect();
    Ok((
        IssuedBatch {
            id,
            site,
            count: count as u32,
            first: barcodes.first().map(|b| b.to_string()).unwrap_or_default(),
            last: barcodes.last().map(|b| b.to_string()).unwrap_or_default(),
            issued_at: at,
            issued_by: by,
        },
        barcodes,
    ))
}
