//! `result_import`, `import_file`, `reading` and `auto_call`: instrument result files imported
//! for a plate (each round kept byte for byte), the readings per well, and the automatic call
//! of each attempt.

use super::code::in_table;
use super::Tx;
use crate::domain::interpretation::CallOutcome;
use sqlx::{AnyConnection, FromRow};

/// The import of a plate with this hash of its files, if there is one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_hash(
    conn: &mut AnyConnection,
    plate: i64,
    hash: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM result_import WHERE plate_id = $1 AND files_hash = $2")
            .bind(plate)
            .bind(hash.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(id,)| id))
}

/// The run number of another plate a file (by its SHA-256) was imported for.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn plate_of_file(
    conn: &mut AnyConnection,
    sha256: &str,
    not_plate: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT pl.run_no FROM import_file f JOIN plate pl ON pl.id = f.plate_id \
         WHERE f.sha256 = $1 AND f.plate_id <> $2",
    )
    .bind(sha256.to_string())
    .bind(not_plate)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(r,)| r))
}

/// The last import round of a plate (0: none yet).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn last_round(conn: &mut AnyConnection, plate: i64) -> Result<i64, sqlx::Error> {
    let (round,): (Option<i64>,) =
        sqlx::query_as("SELECT MAX(round) FROM result_import WHERE plate_id = $1")
            .bind(plate)
            .fetch_one(conn)
            .await?;
    Ok(round.unwrap_or(0))
}

/// What an import round is recorded with (failures, warnings and report as JSON).
pub struct NewImport<'a> {
    pub plate: i64,
    pub round: i64,
    pub files_hash: &'a str,
    pub format: &'a str,
    pub kit_id: i64,
    pub run_valid: bool,
    pub run_failures: &'a str,
    pub run_warnings: &'a str,
    pub report: &'a str,
    pub at: i64,
    pub by: &'a str,
}

/// Records an import round; its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, i: &NewImport<'_>) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO result_import (plate_id, round, files_hash, format, kit_id, run_valid, \
         run_failures, run_warnings, report, imported_at, imported_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(i.plate)
    .bind(i.round)
    .bind(i.files_hash.to_string())
    .bind(i.format.to_string())
    .bind(i.kit_id)
    .bind(i64::from(i.run_valid))
    .bind(i.run_failures.to_string())
    .bind(i.run_warnings.to_string())
    .bind(i.report.to_string())
    .bind(i.at)
    .bind(i.by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// Keeps a file of an import, byte for byte.
#[tracing::instrument(level = "debug", skip_all)]
#[allow(clippy::too_many_arguments)]
pub async fn insert_file(
    tx: &mut Tx,
    import: i64,
    plate: i64,
    name: &str,
    sha256: &str,
    format: &str,
    bytes: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO import_file (import_id, plate_id, name, sha256, format, size, bytes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(import)
    .bind(plate)
    .bind(name.to_string())
    .bind(sha256.to_string())
    .bind(format.to_string())
    .bind(bytes.len() as i64)
    .bind(bytes.to_vec())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Keeps the readings of an import, one row per well (its readings as JSON), `rows` wells a
/// statement.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_readings(
    tx: &mut Tx,
    import: i64,
    wells: &[(String, String)],
    rows: usize,
) -> Result<(), sqlx::Error> {
    for chunk in wells.chunks(rows) {
        let mut sql = String::from("INSERT INTO reading (import_id, well, rows) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("($1, ${}, ${})", 2 + i * 2, 3 + i * 2));
        }
        let mut q = sqlx::query(&sql).bind(import);
        for (well, json) in chunk {
            q = q.bind(well.clone()).bind(json.clone());
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// A plate's attempts by well, with their current call's outcome: (attempt, well, outcome).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn attempts_by_well(
    conn: &mut AnyConnection,
    plate: i64,
) -> Result<Vec<(i64, String, Option<CallOutcome>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.well, c.outcome FROM attempt a LEFT JOIN auto_call c ON c.id = a.call_id \
         WHERE a.plate_id = $1",
    )
    .bind(plate)
    .fetch_all(conn)
    .await
    .map_err(in_table("auto_call"))
}

/// The kit and run a round's calls were made with.
pub struct CallContext<'a> {
    pub import: i64,
    pub kit_code: &'a str,
    pub kit_version: i64,
    pub run_valid: bool,
    pub at: i64,
}

/// Records calls (attempt, outcome, detail, Ct per channel as JSON), `rows` a statement.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_calls(
    tx: &mut Tx,
    ctx: &CallContext<'_>,
    calls: &[(i64, CallOutcome, String, String)],
    rows: usize,
) -> Result<(), sqlx::Error> {
    for chunk in calls.chunks(rows) {
        let mut sql = String::from(
            "INSERT INTO auto_call (import_id, kit_code, kit_version, run_valid, created_at, \
             attempt_id, outcome, detail, cts) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = 5 + i * 4;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "($1, $2, $3, $4, $5, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4
            ));
        }
        let mut q = sqlx::query(&sql)
            .bind(ctx.import)
            .bind(ctx.kit_code.to_string())
            .bind(ctx.kit_version)
            .bind(i64::from(ctx.run_valid))
            .bind(ctx.at);
        for (attempt, outcome, detail, cts) in chunk {
            q = q
                .bind(*attempt)
                .bind(*outcome)
                .bind(detail.clone())
                .bind(cts.clone());
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// Points the plate's undecided attempts called in this import at their new call (called), and
/// marks the plate resulted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn mark_called(tx: &mut Tx, import: i64, plate: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE attempt SET status = $1, call_id = (SELECT c.id FROM auto_call c \
         WHERE c.attempt_id = attempt.id AND c.import_id = $2) \
         WHERE plate_id = $3 AND decision IS NULL \
         AND id IN (SELECT attempt_id FROM auto_call WHERE import_id = $2)",
    )
    .bind(crate::domain::review::AttemptStatus::Called)
    .bind(import)
    .bind(plate)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE plate SET status = $1 WHERE id = $2")
        .bind(crate::domain::plate::PlateStatus::Resulted)
        .bind(plate)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// An import round as stored, with its plate's run number.
#[derive(Debug, Clone, FromRow)]
pub struct ImportRow {
    pub run_no: String,
    pub round: i64,
    pub run_valid: i64,
    pub run_failures: String,
    pub run_warnings: String,
    pub report: String,
    pub imported_at: i64,
    pub imported_by: String,
}

/// An import round by id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_id(conn: &mut AnyConnection, import: i64) -> Result<ImportRow, sqlx::Error> {
    sqlx::query_as(
        "SELECT pl.run_no, i.round, i.run_valid, i.run_failures, i.run_warnings, i.report, \
         i.imported_at, i.imported_by FROM result_import i JOIN plate pl ON pl.id = i.plate_id \
         WHERE i.id = $1",
    )
    .bind(import)
    .fetch_one(conn)
    .await
}

/// The files of an import round: (name, SHA-256, format, size).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn files(
    conn: &mut AnyConnection,
    import: i64,
) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, sha256, format, size FROM import_file WHERE import_id = $1 ORDER BY id",
    )
    .bind(import)
    .fetch_all(conn)
    .await
}

/// A call as stored: (well, barcode, outcome, detail, Ct JSON).
pub type StoredCall = (String, String, CallOutcome, String, String);

/// The calls of an import round in well order.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn calls(conn: &mut AnyConnection, import: i64) -> Result<Vec<StoredCall>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.well, t.barcode, c.outcome, c.detail, c.cts FROM auto_call c \
         JOIN attempt a ON a.id = c.attempt_id JOIN tube t ON t.id = a.tube_id \
         JOIN plate_well w ON w.plate_id = a.plate_id AND w.well = a.well \
         WHERE c.import_id = $1 ORDER BY w.well_index",
    )
    .bind(import)
    .fetch_all(conn)
    .await
    .map_err(in_table("auto_call"))
}

/// A plate's import rounds, the first first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_plate(conn: &mut AnyConnection, plate: i64) -> Result<Vec<i64>, sqlx::Error> {
    let ids: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM result_import WHERE plate_id = $1 ORDER BY round")
            .bind(plate)
            .fetch_all(conn)
            .await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// The files of a plate's import round, byte for byte, in the order they were given.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn raw_files(
    conn: &mut AnyConnection,
    plate: i64,
    round: i64,
) -> Result<Vec<(String, Vec<u8>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT f.name, f.bytes FROM import_file f JOIN result_import i ON i.id = f.import_id \
         WHERE i.plate_id = $1 AND i.round = $2 ORDER BY f.id",
    )
    .bind(plate)
    .bind(round)
    .fetch_all(conn)
    .await
}
