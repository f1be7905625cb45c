//! `attempt` as review reads and decides it (一次检测: a tube on a plate, its automatic call,
//! the reviewer's decision).

use super::code::in_table;
use super::Tx;
use crate::domain::interpretation::CallOutcome;
use crate::domain::review::{AttemptStatus, Decision, Released};
use crate::domain::vocab::TubeKind;
use sqlx::{AnyConnection, FromRow};

/// A called attempt as review reads it: its plate, tube, call, import and kit.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub attempt_id: i64,
    pub tube_id: i64,
    pub plate_run_no: String,
    pub plate_lab_id: i64,
    pub plate_created_by: String,
    pub well: String,
    pub attempt_no: i64,
    pub extraction_no: i64,
    pub loaded_by: String,
    pub status: AttemptStatus,
    pub decision: Option<Decision>,
    pub barcode: String,
    pub kind: TubeKind,
    pub member_count: i64,
    pub deadline_at: i64,
    pub collected_at: i64,
    pub outcome: CallOutcome,
    pub detail: String,
    pub cts: String,
    pub run_valid: i64,
    pub kit_code: String,
    pub kit_version: i64,
    pub call_at: i64,
    pub imported_by: String,
    pub kit_rules: String,
}

const SELECT: &str = "SELECT a.id AS attempt_id, a.tube_id, p.run_no AS plate_run_no, \
     p.lab_id AS plate_lab_id, p.created_by AS plate_created_by, a.well, a.attempt_no, \
     a.extraction_no, a.created_by AS loaded_by, a.status, a.decision, t.barcode, t.kind, \
     t.member_count, t.deadline_at, t.collected_at, c.outcome, c.detail, c.cts, c.run_valid, \
     c.kit_code, c.kit_version, c.created_at AS call_at, i.imported_by, k.rules AS kit_rules \
     FROM attempt a JOIN plate p ON p.id = a.plate_id JOIN tube t ON t.id = a.tube_id \
     JOIN auto_call c ON c.id = a.call_id JOIN result_import i ON i.id = c.import_id \
     JOIN kit k ON k.id = p.kit_id";

/// Called attempts awaiting review (at a lab, on a plate; `None`: any), the most urgent first,
/// at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn awaiting_review(
    conn: &mut AnyConnection,
    lab: Option<i64>,
    plate: Option<i64>,
    limit: usize,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE a.status = $1 AND a.decision IS NULL \
         AND ($2 IS NULL OR p.lab_id = $2) AND ($3 IS NULL OR p.id = $3) \
         ORDER BY t.deadline_at, p.id, a.well LIMIT {limit}"
    ))
    .bind(AttemptStatus::Called)
    .bind(lab)
    .bind(plate)
    .fetch_all(conn)
    .await
    .map_err(in_table("attempt"))
}

/// A plate's called attempts awaiting review (in no particular order).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn awaiting_on_plate(
    conn: &mut AnyConnection,
    plate: i64,
) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE a.status = $1 AND a.decision IS NULL AND p.id = $2"
    ))
    .bind(AttemptStatus::Called)
    .bind(plate)
    .fetch_all(conn)
    .await
    .map_err(in_table("attempt"))
}

/// A called attempt by id, locked for the rest of the transaction (PostgreSQL).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(tx: &mut Tx, attempt: i64) -> Result<Option<AttemptRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE a.id = $1{}", tx.for_update("a"));
    sqlx::query_as(&sql)
        .bind(attempt)
        .fetch_optional(tx.conn())
        .await
        .map_err(in_table("attempt"))
}

/// Records a reviewer's decision on an attempt.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn decide(
    tx: &mut Tx,
    attempt: i64,
    decision: Decision,
    value: Option<Released>,
    reason: Option<&str>,
    by: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE attempt SET status = $1, decision = $2, decision_value = $3, \
         decision_reason = $4, decided_by = $5, decided_at = $6 WHERE id = $7",
    )
    .bind(AttemptStatus::Decided)
    .bind(decision)
    .bind(value)
    .bind(reason.map(str::to_string))
    .bind(by.to_string())
    .bind(at)
    .bind(attempt)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The calls of these tubes' decided attempts on valid runs, by tube, oldest first:
/// (tube, outcome, detail).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn decided_calls(
    conn: &mut AnyConnection,
    tubes: &[i64],
) -> Result<Vec<(i64, CallOutcome, String)>, sqlx::Error> {
    let mut out = vec![];
    for chunk in tubes.chunks(100) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT a.tube_id, c.outcome, c.detail FROM attempt a JOIN auto_call c ON c.id = a.call_id \
             WHERE a.decision IS NOT NULL AND c.run_valid = 1 AND a.tube_id IN ({}) \
             ORDER BY a.tube_id, a.attempt_no",
            marks.join(", ")
        );
        let mut q = sqlx::query_as::<_, (i64, CallOutcome, String)>(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        out.extend(
            q.fetch_all(&mut *conn)
                .await
                .map_err(in_table("auto_call"))?,
        );
    }
    Ok(out)
}

/// An attempt of a tube as its history shows it.
#[derive(Debug, Clone, FromRow)]
pub struct HistoryRow {
    pub id: i64,
    pub run_no: String,
    pub well: String,
    pub attempt_no: i64,
    pub extraction_no: i64,
    pub recollection_no: i64,
    pub kit_code: String,
    pub kit_version: i64,
    pub status: String,
    pub outcome: Option<String>,
    pub run_valid: Option<i64>,
    pub decision: Option<String>,
    pub decision_value: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// Every attempt of a tube, the first first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn history(conn: &mut AnyConnection, tube: i64) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, p.run_no, a.well, a.attempt_no, a.extraction_no, t.recollection_no, \
         k.code AS kit_code, k.version AS kit_version, a.status, c.outcome, c.run_valid, a.decision, \
         a.decision_value, a.decision_reason, a.decided_by, a.decided_at \
         FROM attempt a JOIN plate p ON p.id = a.plate_id JOIN kit k ON k.id = p.kit_id \
         JOIN tube t ON t.id = a.tube_id LEFT JOIN auto_call c ON c.id = a.call_id \
         WHERE a.tube_id = $1 ORDER BY a.attempt_no",
    )
    .bind(tube)
    .fetch_all(conn)
    .await
}
