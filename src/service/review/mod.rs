//! 审核发布 review and release: the lab's queue of called attempts, decisions on them by a
//! reviewer who did not run the plate (clean negatives of a valid run in bulk, everything else
//! one by one), and what a release writes — a result per person, pool re-check orders, the
//! CDC's queue for positives.

mod bulk;

pub use bulk::{
    redo_invalid_run, release_negatives, release_seen_negatives, BulkRedo, BulkRelease, RedoRun,
};

use super::results::{first_results, write_result_only};
use crate::actor::Actor;
use crate::domain::interpretation::Call;
use crate::domain::policy::{Action, Scope};
use crate::domain::review::{
    self, member_result, Ask, Decision, FollowUp, Released, ResultValue, Suggestion,
};
use crate::domain::vocab::TubeKind;
use crate::error::Error;
use crate::store::attempt::{self as store, AttemptRow, HistoryRow};
use crate::store::result::NewResult;
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::review::{Decided, ReviewCase, SuggestionView};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

impl AttemptRow {
    fn kind(&self) -> TubeKind {
        self.kind
    }

    fn call(&self) -> Call {
        Call::from_stored(self.outcome, &self.detail)
    }

    fn technicians(&self) -> Vec<String> {
        let mut v = vec![
            self.plate_created_by.clone(),
            self.loaded_by.clone(),
            self.imported_by.clone(),
        ];
        v.sort();
        v.dedup();
        v
    }

    fn follow_up(&self) -> FollowUp {
        serde_json::from_str::<crate::domain::kit::Kit>(&self.kit_rules)
            .map(|k| k.follow_up)
            .unwrap_or(FollowUp::Retest)
    }

    fn suggestion(&self, earlier: &[Call]) -> Suggestion {
        review::suggest(
            self.kind(),
            &self.call(),
            self.run_valid != 0,
            earlier,
            self.follow_up(),
        )
    }

    fn case(&self, earlier: &[Call], now: i64) -> ReviewCase {
        ReviewCase {
            attempt: self.attempt_id,
            plate: self.plate_run_no.clone(),
            well: self.well.clone(),
            barcode: self.barcode.clone(),
            kind: self.kind(),
            member_count: self.member_count as u32,
            attempt_no: self.attempt_no as u32,
            extraction_no: self.extraction_no as u32,
            call: self.call(),
            cts: serde_json::from_str(&self.cts).unwrap_or_default(),
            run_valid: self.run_valid != 0,
            kit: self.kit_code.clone(),
            kit_version: self.kit_version as u32,
            deadline_at: self.deadline_at,
            overdue: self.deadline_at < now,
            suggestion: self.suggestion(earlier),
            technicians: self.technicians(),
        }
    }
}

/// The calls of a tube's earlier attempts that were decided on a valid run, oldest first.
async fn earlier_calls(
    conn: &mut AnyConnection,
    tube_ids: &[i64],
) -> Result<HashMap<i64, Vec<Call>>, Error> {
    let mut out: HashMap<i64, Vec<Call>> = HashMap::new();
    for (tube, outcome, detail) in store::decided_calls(conn, tube_ids).await? {
        out.entry(tube)
            .or_default()
            .push(Call::from_stored(outcome, &detail));
    }
    Ok(out)
}

/// Filters for the review queue.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct QueueFilter {
    /// Lab code (lab users: their own lab).
    pub lab: Option<String>,
    /// Only this plate (id or run number).
    pub plate: Option<String>,
}

/// Called attempts awaiting review, most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn queue(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &QueueFilter,
) -> Result<Vec<ReviewCase>, Error> {
    actor.require(Action::ViewReview)?;
    let lab = match (actor.lab_id(), &f.lab) {
        (Some(id), _) => Some(id),
        (None, Some(code)) => Some(super::registry::lab_id(&mut *conn, "lab", code).await?.0),
        (None, None) => None,
    };
    let plate = match &f.plate {
        Some(p) => Some(super::plates::visible(&mut *conn, actor, p).await?.id),
        None => None,
    };
    let rows = store::awaiting_review(&mut *conn, lab, plate, super::LIST_CAP + 1).await?;
    let rows = super::within_cap(rows, "attempts await review", "give the lab or the plate")?;
    let ids: Vec<i64> = rows.iter().map(|r| r.tube_id).collect();
    let earlier = earlier_calls(conn, &ids).await?;
    let now = to_db(Utc::now());
    Ok(rows
        .iter()
        .map(|r| r.case(earlier.get(&r.tube_id).map_or(&[][..], Vec::as_slice), now))
        .collect())
}

/// A reviewer's decision on one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Decide {
    pub decision: Decision,
    /// For a release: negative, positive, or (pools) inconclusive.
    #[serde(default)]
    pub value: Option<Released>,
    /// Required when departing from the suggestion.
    #[serde(default)]
    pub reason: Option<String>,
}

async fn lock_attempt(tx: &mut Tx, attempt: i64) -> Result<AttemptRow, Error> {
    let row = store::lock(tx, attempt).await?.ok_or_else(|| {
        Error::not_found("attempt.not_found", format!("no called attempt {attempt}"))
    })?;
    match &tx.actor().scope {
        Scope::Everywhere => {}
        Scope::Lab { id, .. } if *id == row.plate_lab_id => {}
        _ => {
            return Err(Error::not_found(
                "attempt.not_found",
                format!("no called attempt {attempt}"),
            ))
        }
    }
    Ok(row)
}

impl From<review::ReviewRule> for Error {
    fn from(rule: review::ReviewRule) -> Self {
        use review::ReviewRule::*;
        let code = match &rule {
            OwnWork(_) => "review.own_work",
            InvalidRun => "review.invalid_run",
            NotAwaitingReview(_) => "review.not_awaiting",
            InconclusiveSingle => "review.inconclusive_single",
            ValueMissing => "review.value_missing",
            ReasonMissing { .. } => "review.reason_required",
            InvalidAsNegative => "review.invalid_as_negative",
        };
        let status = match &rule {
            OwnWork(_) => axum::http::StatusCode::FORBIDDEN,
            NotAwaitingReview(_) => axum::http::StatusCode::CONFLICT,
            _ => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        };
        Error::new(status, code, rule.to_string())
    }
}

/// Decides on one attempt.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn decide(tx: &mut Tx, attempt: i64, req: Decide) -> Result<Decided, Error> {
    tx.actor().require(Action::Review)?;
    let row = lock_attempt(tx, attempt).await?;
    tx.begin_bulk(
        "attempt.decide",
        "tube",
        &row.barcode,
        Some(&serde_json::json!({
            "plate": row.plate_run_no, "well": row.well, "attempt_no": row.attempt_no,
            "decision": req.decision, "value": req.value, "reason": req.reason,
        })),
    )
    .await?;
    let decided = apply(tx, &row, &req).await?;
    tx.end_bulk();
    Ok(decided)
}

/// Checks and applies a decision on a locked attempt.
async fn apply(tx: &mut Tx, row: &AttemptRow, req: &Decide) -> Result<Decided, Error> {
    let mut statuses = vec![];
    let decided = apply_deferring(tx, row, req, &mut statuses).await?;
    super::push::people_changed(tx, &statuses).await?;
    Ok(decided)
}

/// [`apply`], leaving the statuses of the people whose negatives it released to the caller
/// (`statuses`: person, result), so a bulk release brings them all up to date at once.
async fn apply_deferring(
    tx: &mut Tx,
    row: &AttemptRow,
    req: &Decide,
    statuses: &mut Vec<(i64, Option<i64>)>,
) -> Result<Decided, Error> {
    review::attempt_next(
        review::AttemptState::stored(row.status, row.decision),
        review::AttemptEvent::Decide(req.decision),
    )?;
    let earlier = earlier_calls(tx.conn(), &[row.tube_id]).await?;
    let earlier = earlier.get(&row.tube_id).map_or(&[][..], Vec::as_slice);
    let suggestion = row.suggestion(earlier);
    let reason = super::parse_opt_text("reason", req.reason.as_deref(), 500)?;
    let reviewer = tx.actor().username.clone();
    let technicians = row.technicians();
    let ask = Ask {
        reviewer: &reviewer,
        technicians: &technicians,
        decision: req.decision,
        value: req.value,
        reason: reason.as_deref(),
    };
    review::check(
        row.kind(),
        &row.call(),
        row.run_valid != 0,
        &suggestion,
        &ask,
    )?;
    let now = to_db(tx.now());
    store::decide(
        tx,
        row.attempt_id,
        req.decision,
        req.value,
        reason.as_deref(),
        &reviewer,
        now,
    )
    .await?;
    tx.audit(
        "attempt.decide",
        "attempt",
        &row.attempt_id.to_string(),
        Some(&serde_json::json!({ "status": "called", "call": row.outcome, "suggested": SuggestionView::from(&suggestion) })),
        Some(&serde_json::json!({ "decision": req.decision, "value": req.value, "reason": reason })),
    );
    let mut decided = Decided {
        attempt: row.attempt_id,
        barcode: row.barcode.clone(),
        decision: req.decision,
        value: req.value,
        results: vec![],
        resample_orders: 0,
        retained_tubes_queued: vec![],
    };
    match req.decision {
        Decision::Release => {
            let value = req.value.expect("checked: a release has a value");
            release(tx, row, value, reason.as_deref(), &mut decided, statuses).await?;
        }
        Decision::Resample => {
            let why = match reason.as_deref() {
                Some(r) => format!("resample: {r}"),
                None => "resample: the specimen gave no result".to_string(),
            };
            decided.resample_orders = order_resampling(tx, row.tube_id, row.tube_id, &why).await?;
            super::turnaround::resampled(tx, row.tube_id).await?;
        }
        Decision::Retest | Decision::Reextract | Decision::Rerun => {
            super::turnaround::requeued(tx, row.tube_id).await?;
        }
    }
    Ok(decided)
}

/// Orders a new swab from every person in `tube` (keeping the deadline of `source`); returns
/// how many orders were made.
async fn order_resampling(
    tx: &mut Tx,
    tube_id: i64,
    source: i64,
    reason: &str,
) -> Result<usize, Error> {
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    let people = crate::store::tube::member_ids(tx.conn(), tube_id).await?;
    let due = crate::store::tube::deadline(tx.conn(), source).await?;
    let mut n = 0;
    for (person, uid) in people {
        let made =
            crate::store::sample_order::order_resample(tx, person, source, reason, due, now, &by)
                .await?;
        if made {
            n += 1;
            super::push::person_changed(tx, person, None).await?;
            tx.audit(
                "order.resample",
                "person",
                &uid,
                None,
                Some(&serde_json::json!({ "source_tube": source, "reason": reason })),
            );
        }
    }
    Ok(n)
}

/// Writes what a release tells people: a result per person (an environment sample: one for
/// the tube), the CDC's queue for positives, and for a positive or inconclusive pool a
/// re-check order per member (a retained single tube is queued instead of recalling them).
async fn release(
    tx: &mut Tx,
    row: &AttemptRow,
    value: Released,
    reason: Option<&str>,
    decided: &mut Decided,
    statuses: &mut Vec<(i64, Option<i64>)>,
) -> Result<(), Error> {
    let kind = row.kind();
    let (person_value, recheck) = member_result(kind, value);
    let source = match kind {
        TubeKind::Pool => "pool",
        TubeKind::Single => "single",
        TubeKind::Environment => "environment",
    };
    let positive_called_at = (person_value == ResultValue::Positive).then_some(row.call_at);
    let people = crate::store::tube::member_ids(tx.conn(), row.tube_id).await?;
    // What each person's result says (`person_id` filled in per person).
    let template = NewResult {
        tube_id: row.tube_id,
        person_id: None,
        attempt_id: Some(row.attempt_id),
        value: person_value,
        source: source.into(),
        sampled_at: row.collected_at,
        positive_called_at,
        reason: reason.map(String::from),
    };
    // Every member's result first (a pool's first release in one statement), then their
    // statuses together.
    let bulk = if kind != TubeKind::Environment && people.len() > 1 {
        first_results(tx, &template, &people, &row.barcode).await?
    } else {
        None
    };
    let mut changed = vec![];
    match bulk {
        Some(written) => {
            changed.extend(
                people
                    .iter()
                    .zip(&written)
                    .map(|((person, _), w)| (*person, Some(w.id))),
            );
            decided.results.extend(written);
        }
        None => {
            let targets: Vec<(Option<i64>, Option<String>)> = if kind == TubeKind::Environment {
                vec![(None, None)]
            } else {
                people
                    .iter()
                    .map(|(id, uid)| (Some(*id), Some(uid.clone())))
                    .collect()
            };
            for (person, uid) in targets {
                let r = NewResult {
                    person_id: person,
                    reason: template.reason.clone(),
                    source: template.source.clone(),
                    ..template
                };
                let written = write_result_only(tx, &r, &row.barcode, uid.as_deref()).await?;
                if let Some(person) = person {
                    changed.push((person, Some(written.id)));
                }
                decided.results.push(written);
            }
        }
    }
    if recheck {
        // Statuses first, then the re-check orders and retained tubes, each a change of its
        // own.
        super::push::people_changed(tx, &changed).await?;
        decided.resample_orders = order_resampling(
            tx,
            row.tube_id,
            row.tube_id,
            crate::domain::review::POOL_RECHECK,
        )
        .await?;
        decided.retained_tubes_queued = queue_retained(tx, row.tube_id).await?;
    } else {
        statuses.extend(changed);
    }
    Ok(())
}

/// Retained single tubes of a pool's members: released from hold, marked as re-checks (they go
/// first onto plates) with the pool's deadline, and their members' re-check orders fulfilled.
async fn queue_retained(tx: &mut Tx, pool: i64) -> Result<Vec<String>, Error> {
    let retained = crate::store::tube::held_for(tx.conn(), pool).await?;
    let mut out = vec![];
    for (id, barcode, person) in retained {
        crate::store::tube::release_hold(tx, id, pool).await?;
        crate::store::sample_order::fulfil_from(tx, person, pool, id).await?;
        tx.audit(
            "tube.unhold",
            "tube",
            &barcode,
            Some(&serde_json::json!({ "held": true })),
            Some(&serde_json::json!({ "held": false, "recheck_of_pool": pool })),
        );
        out.push(barcode);
    }
    Ok(out)
}

/// How late a CDC confirmation may be: 2 hours from the positive call (传染病网络直报).
pub fn report_clock() -> Duration {
    Duration::hours(2)
}

/// Every attempt of a tube, oldest first: its run, extraction and re-collection numbers, call
/// and decision.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn attempts(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
) -> Result<Vec<HistoryRow>, Error> {
    let tube = crate::store::tube::load(conn, barcode.trim()).await?;
    tube.visible_to(actor, Action::ViewTube)?;
    Ok(store::history(conn, tube.id).await?)
}
