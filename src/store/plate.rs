//! `plate`, `plate_well`, `plate_counter` and `attempt`: PCR plates (板), what each well holds,
//! and each tube's attempts (一次检测: a tube on a plate, its call, the reviewer's decision).

use super::code::in_table;
use super::Tx;
use crate::actor::Actor;
use crate::domain::plate::PlateStatus;
use crate::domain::policy::{Action, Scope};
use crate::domain::review::{AttemptStatus, Decision};
use crate::error::Error;
use instrument_adapters::PlateSize;
use sqlx::{AnyConnection, FromRow};

/// A plate as stored, with its lab's and kit's codes.
#[derive(Debug, Clone, FromRow)]
pub struct PlateRow {
    pub id: i64,
    pub run_no: String,
    pub lab_id: i64,
    pub lab_code: String,
    pub size: i64,
    pub kit_id: i64,
    pub kit_code: String,
    pub kit_version: i64,
    pub instrument: Option<String>,
    pub status: PlateStatus,
    pub created_at: i64,
    pub created_by: String,
}

const SELECT: &str = "SELECT p.id, p.run_no, p.lab_id, l.code AS lab_code, p.size, p.kit_id, \
     k.code AS kit_code, k.version AS kit_version, p.instrument, p.status, p.created_at, p.created_by \
     FROM plate p JOIN lab l ON l.id = p.lab_id JOIN kit k ON k.id = p.kit_id";

impl PlateRow {
    pub fn size(&self) -> PlateSize {
        if self.size == 384 {
            PlateSize::P384
        } else {
            PlateSize::P96
        }
    }

    /// 404 unless the actor may see this plate: admins and auditors everywhere, lab users in
    /// their own lab.
    pub fn visible_to(&self, actor: &Actor, action: Action) -> Result<(), Error> {
        actor.require(action)?;
        match &actor.scope {
            Scope::Everywhere => Ok(()),
            Scope::Lab { id, .. } if *id == self.lab_id => Ok(()),
            _ => Err(not_found(&self.run_no)),
        }
    }
}

/// The answer for a plate nobody has (or none the caller may see).
pub fn not_found(plate: &str) -> Error {
    Error::not_found("plate.not_found", format!("no plate {plate}")).at("plate")
}

/// A plate by id (`17`) or run number (`LAB-A-20261124-1`), with `lock` after the `WHERE`.
async fn by_ref(conn: &mut AnyConnection, plate: &str, lock: &str) -> Result<PlateRow, Error> {
    let plate = plate.trim();
    let row: Option<PlateRow> = match plate.parse::<i64>() {
        Ok(id) => {
            sqlx::query_as(&format!("{SELECT} WHERE p.id = $1{lock}"))
                .bind(id)
                .fetch_optional(conn)
                .await
        }
        Err(_) => {
            sqlx::query_as(&format!("{SELECT} WHERE p.run_no = $1{lock}"))
                .bind(plate.to_ascii_uppercase())
                .fetch_optional(conn)
                .await
        }
    }
    .map_err(in_table("plate"))?;
    row.ok_or_else(|| not_found(plate))
}

/// A plate by id or run number (no scope check), or `plate.not_found`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load(conn: &mut AnyConnection, plate: &str) -> Result<PlateRow, Error> {
    by_ref(conn, plate, "").await
}

/// A plate by id or run number, locked for the rest of the transaction (PostgreSQL).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(tx: &mut Tx, plate: &str) -> Result<PlateRow, Error> {
    let clause = tx.for_update("p");
    by_ref(tx.conn(), plate, &clause).await
}

/// The lab of a plate by its run number as written (no case folding).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_of_run(
    conn: &mut AnyConnection,
    run_no: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT lab_id FROM plate WHERE run_no = $1")
        .bind(run_no.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(l,)| l))
}

/// Plates, the newest first, by lab code, status and lab id (each `None`: any), at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    lab_code: Option<String>,
    status: Option<String>,
    lab_id: Option<i64>,
    limit: usize,
) -> Result<Vec<PlateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE ($1 IS NULL OR l.code = $1) AND ($2 IS NULL OR p.status = $2) \
         AND ($3 IS NULL OR p.lab_id = $3) ORDER BY p.id DESC LIMIT {limit}"
    ))
    .bind(lab_code)
    .bind(status)
    .bind(lab_id)
    .fetch_all(conn)
    .await
    .map_err(in_table("plate"))
}

/// The next run number's sequence for a key (lab and day): 1, 2, 3 …
#[tracing::instrument(level = "debug", skip_all)]
pub async fn next_run_seq(tx: &mut Tx, key: &str) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO plate_counter (key, next_seq) VALUES ($1, 1) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key.to_string())
    .execute(tx.conn())
    .await?;
    let (next,): (i64,) = sqlx::query_as(
        "UPDATE plate_counter SET next_seq = next_seq + 1 WHERE key = $1 RETURNING next_seq",
    )
    .bind(key.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(next - 1)
}

/// What a new plate is made with.
pub struct NewPlate<'a> {
    pub run_no: &'a str,
    pub lab_id: i64,
    pub size: PlateSize,
    pub kit_id: i64,
    pub instrument: Option<&'a str>,
    pub created_at: i64,
    pub created_by: &'a str,
}

/// Makes a plate (loading); its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, p: &NewPlate<'_>) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO plate (run_no, lab_id, size, kit_id, instrument, status, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(p.run_no.to_string())
    .bind(p.lab_id)
    .bind(i64::from(p.size.wells()))
    .bind(p.kit_id)
    .bind(p.instrument.map(str::to_string))
    .bind(PlateStatus::Loading)
    .bind(p.created_at)
    .bind(p.created_by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// A well as stored: its name, what it holds (`negative_control`, `positive_control`, `tube`)
/// and the tube's barcode.
pub type WellContentRow = (String, String, Option<String>);

/// What the wells of a plate hold.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn wells(
    conn: &mut AnyConnection,
    plate: i64,
) -> Result<Vec<WellContentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.well, w.content, t.barcode FROM plate_well w LEFT JOIN tube t ON t.id = w.tube_id \
         WHERE w.plate_id = $1",
    )
    .bind(plate)
    .fetch_all(conn)
    .await
}

/// What a well holds: its content, the tube's id and barcode.
pub type Holding = (String, Option<i64>, Option<String>);

/// What one well holds; `None`: the well is empty.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn well(
    conn: &mut AnyConnection,
    plate: i64,
    well: &str,
) -> Result<Option<Holding>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.content, w.tube_id, t.barcode FROM plate_well w LEFT JOIN tube t ON t.id = w.tube_id \
         WHERE w.plate_id = $1 AND w.well = $2",
    )
    .bind(plate)
    .bind(well.to_string())
    .fetch_optional(conn)
    .await
}

/// Puts a control (`negative_control`, `positive_control`) into a well.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_control(
    tx: &mut Tx,
    plate: i64,
    well: &str,
    index: i64,
    content: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plate_well (plate_id, well, well_index, content) VALUES ($1, $2, $3, $4)",
    )
    .bind(plate)
    .bind(well.to_string())
    .bind(index)
    .bind(content.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An earlier attempt of a tube, on any plate.
#[derive(Debug, Clone, FromRow)]
pub struct EarlierAttempt {
    pub attempt_no: i64,
    pub extraction_no: i64,
    pub status: AttemptStatus,
    pub decision: Option<Decision>,
    pub run_no: String,
    pub well: String,
}

/// A tube's attempts, the first first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn attempts_of_tube(
    conn: &mut AnyConnection,
    tube: i64,
) -> Result<Vec<EarlierAttempt>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.attempt_no, a.extraction_no, a.status, a.decision, pl.run_no, a.well \
         FROM attempt a JOIN plate pl ON pl.id = a.plate_id WHERE a.tube_id = $1 ORDER BY a.attempt_no",
    )
    .bind(tube)
    .fetch_all(conn)
    .await
    .map_err(in_table("attempt"))
}

/// A tube put into a well: the well, and the tube's next attempt (loaded).
pub struct Loading<'a> {
    pub plate: i64,
    pub well: &'a str,
    pub index: i64,
    pub tube: i64,
    pub attempt_no: i64,
    pub extraction_no: i64,
    pub at: i64,
    pub by: &'a str,
}

/// Puts a tube into a well and records its attempt.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load_tube(tx: &mut Tx, l: &Loading<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO plate_well (plate_id, well, well_index, content, tube_id) VALUES ($1, $2, $3, 'tube', $4)",
    )
    .bind(l.plate)
    .bind(l.well.to_string())
    .bind(l.index)
    .bind(l.tube)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO attempt (tube_id, plate_id, well, attempt_no, extraction_no, status, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(l.tube)
    .bind(l.plate)
    .bind(l.well.to_string())
    .bind(l.attempt_no)
    .bind(l.extraction_no)
    .bind(AttemptStatus::Loaded)
    .bind(l.at)
    .bind(l.by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Takes a tube out of its well and forgets its attempt there (before any results).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unload_tube(
    tx: &mut Tx,
    plate: i64,
    tube: i64,
    well: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM attempt WHERE plate_id = $1 AND tube_id = $2")
        .bind(plate)
        .bind(tube)
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM plate_well WHERE plate_id = $1 AND well = $2")
        .bind(plate)
        .bind(well.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Tubes received at a lab and waiting for a plate — received, not held, and no attempt still
/// open or decided for good (a re-test, re-extraction or re-run puts a tube back) — re-checks
/// first, then by deadline: (barcode, deadline, re-check of).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn waiting_tubes(
    conn: &mut AnyConnection,
    lab: i64,
) -> Result<Vec<(String, i64, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.barcode, t.deadline_at, t.recheck_of FROM tube t \
         WHERE t.lab_id = $1 AND t.status = 'received' AND t.held = 0 \
         AND NOT EXISTS (SELECT 1 FROM attempt a WHERE a.tube_id = t.id \
           AND (a.decision IS NULL OR a.decision IN ('release', 'resample'))) \
         ORDER BY CASE WHEN t.recheck_of IS NULL THEN 1 ELSE 0 END, t.deadline_at, t.barcode LIMIT 2000",
    )
    .bind(lab)
    .fetch_all(conn)
    .await
}

/// A well with its tube, attempt and newest call, for a plate's view.
#[derive(Debug, Clone, FromRow)]
pub struct WellRow {
    pub well: String,
    pub content: String,
    pub barcode: Option<String>,
    pub kind: Option<crate::domain::vocab::TubeKind>,
    pub member_count: Option<i64>,
    pub deadline_at: Option<i64>,
    pub attempt_no: Option<i64>,
    pub extraction_no: Option<i64>,
    pub outcome: Option<String>,
    pub detail: Option<String>,
    pub cts: Option<String>,
    pub kit_code: Option<String>,
    pub kit_version: Option<i64>,
    pub run_valid: Option<i64>,
    pub round: Option<i64>,
}

/// A plate's wells in well order, with their tubes and newest calls.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn well_rows(conn: &mut AnyConnection, plate: i64) -> Result<Vec<WellRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT w.well, w.content, t.barcode, t.kind, t.member_count, t.deadline_at, \
         a.attempt_no, a.extraction_no, c.outcome, c.detail, c.cts, c.kit_code, c.kit_version, \
         c.run_valid, i.round \
         FROM plate_well w LEFT JOIN tube t ON t.id = w.tube_id \
         LEFT JOIN attempt a ON a.plate_id = w.plate_id AND a.tube_id = w.tube_id \
         LEFT JOIN auto_call c ON c.id = a.call_id LEFT JOIN result_import i ON i.id = c.import_id \
         WHERE w.plate_id = $1 ORDER BY w.well_index",
    )
    .bind(plate)
    .fetch_all(conn)
    .await
    .map_err(in_table("plate_well"))
}

/// How many instrument files were imported for a plate.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn import_count(conn: &mut AnyConnection, plate: i64) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM result_import WHERE plate_id = $1")
        .bind(plate)
        .fetch_one(conn)
        .await?;
    Ok(n)
}
