//! A plate's decisions at once: its clean negatives released, or every tube of a failed run
//! sent back, each as one audited step with every tube checked as it would be alone.

use super::{apply_deferring, earlier_calls, Decide};
use crate::domain::policy::Action;
use crate::domain::review::{Decision, Released};
use crate::error::Error;
use crate::service;
use crate::store::attempt::{self as store, AttemptRow};
use crate::store::Tx;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// What a bulk release did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BulkRelease {
    pub plate: String,
    /// Clean negatives released.
    pub released: usize,
    /// Tubes left for one-by-one review (not clean negatives of a valid run).
    pub left_for_review: Vec<String>,
}

/// Releases every clean negative of a valid run on a plate (the rest stays for one-by-one
/// review).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn release_negatives(tx: &mut Tx, plate: &str) -> Result<BulkRelease, Error> {
    release(tx, plate, None).await
}

/// [`release_negatives`], only if the plate's clean negatives are still the attempts the
/// reviewer was shown (`seen`); otherwise nothing is released (`review.list_changed`), checked
/// inside the transaction that would release them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn release_seen_negatives(
    tx: &mut Tx,
    plate: &str,
    seen: &BTreeSet<i64>,
) -> Result<BulkRelease, Error> {
    release(tx, plate, Some(seen)).await
}

async fn release(
    tx: &mut Tx,
    plate: &str,
    seen: Option<&BTreeSet<i64>>,
) -> Result<BulkRelease, Error> {
    tx.actor().require(Action::Review)?;
    let p = service::plates::lock(tx, plate, Action::ViewReview).await?;
    let rows = awaiting_review(tx, &p).await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.tube_id).collect();
    let earlier = earlier_calls(tx.conn(), &ids).await?;
    let clean: Vec<bool> = rows
        .iter()
        .map(|r| {
            r.suggestion(earlier.get(&r.tube_id).map_or(&[][..], Vec::as_slice))
                .is_clean_negative()
        })
        .collect();
    if let Some(seen) = seen {
        let now: BTreeSet<i64> = rows
            .iter()
            .zip(&clean)
            .filter(|(_, c)| **c)
            .map(|(r, _)| r.attempt_id)
            .collect();
        if now != *seen {
            return Err(Error::conflict(
                "review.list_changed",
                format!(
                    "plate {} has {} clean negatives now, not the {} shown: check the list again",
                    p.run_no,
                    now.len(),
                    seen.len()
                ),
            ));
        }
    }
    tx.begin_bulk(
        "plate.release_negatives",
        "plate",
        &p.run_no,
        Some(&serde_json::json!({ "candidates": rows.len() })),
    )
    .await?;
    let mut released = 0;
    let mut left = vec![];
    let req = Decide {
        decision: Decision::Release,
        value: Some(Released::Negative),
        reason: None,
    };
    // The people's statuses all at once, after every tube's results.
    let mut statuses = vec![];
    for (r, clean) in rows.iter().zip(clean) {
        if clean {
            apply_deferring(tx, r, &req, &mut statuses).await?;
            released += 1;
        } else {
            left.push(r.barcode.clone());
        }
    }
    service::push::people_changed(tx, &statuses).await?;
    tx.end_bulk();
    Ok(BulkRelease {
        plate: p.run_no,
        released,
        left_for_review: left,
    })
}

/// A plate's called attempts awaiting a decision, in the plate's well order (A1, A2 … A12,
/// B1 …), not the text order of well names.
async fn awaiting_review(
    tx: &mut Tx,
    p: &crate::store::plate::PlateRow,
) -> Result<Vec<AttemptRow>, Error> {
    let mut rows = store::awaiting_on_plate(tx.conn(), p.id).await?;
    let size = p.size();
    rows.sort_by_key(|r| {
        instrument_adapters::Well::parse(&r.well, size)
            .map(|w| (w.row, w.col))
            .unwrap_or((u8::MAX, u8::MAX))
    });
    Ok(rows)
}

/// One decision for every tube of a failed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RedoRun {
    /// `rerun` (the suggestion for a failed run), `reextract` or `retest`.
    pub decision: Decision,
    /// Required for anything but the suggestion, as for one tube.
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a bulk decision on a failed run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BulkRedo {
    pub plate: String,
    pub decision: Decision,
    /// The tubes decided, in well order.
    pub decided: Vec<String>,
}

/// Decides every tube of a plate whose run failed its controls at once — run again, extract
/// again, or test again — as one audited step (`plate.redo_invalid_run`, each tube's decision
/// under it). Every tube is checked as it would be alone (two-person review, a reason when
/// departing from the suggestion); one refusal, named by its tube, refuses them all.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn redo_invalid_run(tx: &mut Tx, plate: &str, req: RedoRun) -> Result<BulkRedo, Error> {
    tx.actor().require(Action::Review)?;
    if !matches!(
        req.decision,
        Decision::Rerun | Decision::Reextract | Decision::Retest
    ) {
        return Err(Error::invalid(
            "decision",
            format!(
                "a failed run's tubes are run, extracted or tested again (rerun, reextract, retest), not {}: decide {} one tube at a time",
                req.decision, req.decision
            ),
        ));
    }
    let p = service::plates::lock(tx, plate, Action::ViewReview).await?;
    // (Tubes on a valid run of the plate, if a later round was valid, are left for review.)
    let rows: Vec<AttemptRow> = awaiting_review(tx, &p)
        .await?
        .into_iter()
        .filter(|r| r.run_valid == 0)
        .collect();
    if rows.is_empty() {
        return Err(Error::conflict(
            "plate.run_not_invalid",
            format!(
                "plate {} has no tube awaiting review on a failed run: decide its tubes one by one",
                p.run_no
            ),
        ));
    }
    tx.begin_bulk(
        "plate.redo_invalid_run",
        "plate",
        &p.run_no,
        Some(&serde_json::json!({
            "decision": req.decision, "reason": req.reason, "tubes": rows.len(),
        })),
    )
    .await?;
    let one = Decide {
        decision: req.decision,
        value: None,
        reason: req.reason.clone(),
    };
    let mut statuses = vec![];
    let mut decided = vec![];
    for r in &rows {
        apply_deferring(tx, r, &one, &mut statuses)
            .await
            .map_err(|e| e.context(&format!("tube {} (well {})", r.barcode, r.well)))?;
        // In the tube's own history too, as a decision on it alone is.
        tx.audit(
            "attempt.decide",
            "tube",
            &r.barcode,
            None,
            Some(&serde_json::json!({
                "plate": r.plate_run_no, "well": r.well, "attempt_no": r.attempt_no,
                "decision": req.decision, "reason": req.reason,
            })),
        );
        decided.push(r.barcode.clone());
    }
    service::push::people_changed(tx, &statuses).await?;
    tx.end_bulk();
    Ok(BulkRedo {
        plate: p.run_no,
        decision: req.decision,
        decided,
    })
}
