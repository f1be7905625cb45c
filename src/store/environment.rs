//! `env_point`: an institution's environment sampling points, with the last swab of each and
//! its result, read from the environment tubes that name the point.

use super::code::in_table;
use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// A point with its programme's current schedule and its last swab (tube, when, result).
#[derive(Debug, Clone, FromRow)]
pub struct PointRow {
    pub id: i64,
    pub code: String,
    pub item: String,
    pub location: String,
    pub lot: Option<String>,
    pub origin: Option<String>,
    pub programme: String,
    pub schedule: String,
    pub warn_days: i64,
    pub last_tube: Option<String>,
    pub last_at: Option<i64>,
    pub last_value: Option<String>,
}

/// The points of an institution, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_institution(
    conn: &mut AnyConnection,
    institution_id: i64,
) -> Result<Vec<PointRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT e.id, e.code, e.item, e.location, e.lot, e.origin, p.code AS programme, v.schedule, v.warn_days, \
         t.barcode AS last_tube, t.collected_at AS last_at, \
         (SELECT r.value FROM result r WHERE r.tube_id = t.id AND r.current = 1 ORDER BY r.id DESC LIMIT 1) AS last_value \
         FROM env_point e JOIN programme p ON p.id = e.programme_id \
         JOIN programme_version v ON v.programme_id = p.id \
           AND v.version = (SELECT MAX(w.version) FROM programme_version w WHERE w.programme_id = p.id) \
         LEFT JOIN tube t ON t.id = (SELECT t2.id FROM tube t2 WHERE t2.env_point_id = e.id AND t2.status <> 'rejected' \
                                      ORDER BY t2.collected_at DESC, t2.id DESC LIMIT 1) \
         WHERE e.institution_id = $1 ORDER BY e.code",
    )
    .bind(institution_id)
    .fetch_all(conn)
    .await
    .map_err(in_table("env_point"))
}

/// A point to register.
pub struct NewPoint<'a> {
    pub code: &'a str,
    pub institution_id: i64,
    pub item: &'a str,
    pub location: &'a str,
    pub lot: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub programme_id: i64,
}

/// Registers a point; a code taken is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, p: &NewPoint<'_>, at: i64, by: &str) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO env_point (code, institution_id, item, location, lot, origin, programme_id, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(p.code.to_string())
    .bind(p.institution_id)
    .bind(p.item.to_string())
    .bind(p.location.to_string())
    .bind(p.lot.map(str::to_string))
    .bind(p.origin.map(str::to_string))
    .bind(p.programme_id)
    .bind(at)
    .bind(by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// The id of a point by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn id_of(conn: &mut AnyConnection, code: &str) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM env_point WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Marks an environment tube as the swab of a point.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn link_tube(tx: &mut Tx, tube_id: i64, point_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tube SET env_point_id = $1 WHERE id = $2")
        .bind(point_id)
        .bind(tube_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
