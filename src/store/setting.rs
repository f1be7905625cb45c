//! `setting`: the lab's settings, one JSON value per key.

use super::Tx;
use sqlx::AnyConnection;

/// The stored value of a setting.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(conn: &mut AnyConnection, key: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as("SELECT value FROM setting WHERE key = $1")
        .bind(key.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(v,)| v))
}

/// Stores a setting's value, by whom and when.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn put(
    tx: &mut Tx,
    key: &str,
    value: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO setting (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
         updated_by = excluded.updated_by",
    )
    .bind(key.to_string())
    .bind(value.to_string())
    .bind(at)
    .bind(by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}
