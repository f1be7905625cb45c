//! `programme`, `programme_version`, `staff_class`: testing programmes as versioned data, and
//! the staff classes a roster names, each following a programme.

use super::code::in_table;
use super::Tx;
use crate::domain::programme::{Covers, Pooling};
use sqlx::{AnyConnection, FromRow};

/// A programme with one of its versions.
#[derive(Debug, Clone, FromRow)]
pub struct ProgrammeRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub covers: Covers,
    pub version_id: i64,
    pub version: i64,
    pub schedule: String,
    pub warn_days: i64,
    pub pooling: Pooling,
    pub basis: String,
    pub created_at: i64,
    pub created_by: String,
}

const COLUMNS: &str = "p.id, p.code, p.name, p.covers, v.id AS version_id, v.version, v.schedule, \
     v.warn_days, v.pooling, v.basis, v.created_at, v.created_by";

/// The newest version of each programme, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn current(conn: &mut AnyConnection) -> Result<Vec<ProgrammeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programme p JOIN programme_version v ON v.programme_id = p.id \
         WHERE v.version = (SELECT MAX(w.version) FROM programme_version w WHERE w.programme_id = p.id) \
         ORDER BY p.code"
    ))
    .fetch_all(conn)
    .await
    .map_err(in_table("programme_version"))
}

/// Every version of one programme, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn versions(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Vec<ProgrammeRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programme p JOIN programme_version v ON v.programme_id = p.id \
         WHERE p.code = $1 ORDER BY v.version DESC"
    ))
    .bind(code.to_string())
    .fetch_all(conn)
    .await
    .map_err(in_table("programme_version"))
}

/// What a new version says.
pub struct NewVersion<'a> {
    pub schedule: &'a str,
    pub warn_days: i64,
    pub pooling: Pooling,
    pub basis: &'a str,
}

/// Writes the next version of a programme (locked: two admins adding at once get 1 and 2).
/// Its id and number.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_version(
    tx: &mut Tx,
    programme_id: i64,
    v: &NewVersion<'_>,
    at: i64,
    by: &str,
) -> Result<(i64, i64), sqlx::Error> {
    let lock = tx.for_update("programme");
    sqlx::query(&format!("SELECT id FROM programme WHERE id = $1 {lock}"))
        .bind(programme_id)
        .fetch_one(tx.conn())
        .await?;
    sqlx::query_as(
        "INSERT INTO programme_version (programme_id, version, schedule, warn_days, pooling, basis, created_at, created_by) \
         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7 FROM programme_version WHERE programme_id = $1 \
         RETURNING id, version",
    )
    .bind(programme_id)
    .bind(v.schedule.to_string())
    .bind(v.warn_days)
    .bind(v.pooling)
    .bind(v.basis.to_string())
    .bind(at)
    .bind(by.to_string())
    .fetch_one(tx.conn())
    .await
}

/// A staff class an institution's roster may name, and the programme its people follow.
#[derive(Debug, Clone, FromRow)]
pub struct ClassRow {
    pub id: i64,
    pub name: String,
    /// None: offered to every institution.
    pub institution_id: Option<i64>,
    pub programme_id: i64,
    pub programme_code: String,
}

/// The classes an institution may use: its own and those offered to all, by name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn classes(
    conn: &mut AnyConnection,
    institution_id: i64,
) -> Result<Vec<ClassRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.id, c.name, c.institution_id, c.programme_id, p.code AS programme_code \
         FROM staff_class c JOIN programme p ON p.id = c.programme_id \
         WHERE c.institution_id IS NULL OR c.institution_id = $1 ORDER BY c.name",
    )
    .bind(institution_id)
    .fetch_all(conn)
    .await
}

/// The current version of the programme a staff class follows.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn current_version_of_class(
    conn: &mut AnyConnection,
    class_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT v.id FROM staff_class c JOIN programme_version v ON v.programme_id = c.programme_id \
         WHERE c.id = $1 ORDER BY v.version DESC LIMIT 1",
    )
    .bind(class_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Adds a class (for one institution, or all); a name taken is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_class(
    tx: &mut Tx,
    institution_id: Option<i64>,
    name: &str,
    programme_id: i64,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO staff_class (institution_id, name, programme_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(institution_id)
    .bind(name.to_string())
    .bind(programme_id)
    .bind(at)
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}
