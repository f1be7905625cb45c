//! `kit`: kits (试剂盒) as versioned data — a version's rules are stored as JSON and never
//! changed afterwards.

use super::Tx;
use crate::domain::kit::Kit;
use crate::error::Error;
use sqlx::{AnyConnection, FromRow};

/// A stored kit version.
#[derive(Debug, Clone, FromRow)]
pub struct KitRow {
    pub id: i64,
    pub rules: String,
    pub active: i64,
    pub created_at: i64,
    pub created_by: String,
}

impl KitRow {
    /// The kit's rules, read back (an unreadable one is an internal error naming the row).
    pub fn kit(&self) -> Result<Kit, Error> {
        serde_json::from_str(&self.rules).map_err(|e| {
            Error::internal(anyhow::anyhow!("kit {} is stored unreadably: {e}", self.id))
        })
    }
}

const SELECT: &str = "SELECT id, rules, active, created_at, created_by FROM kit";

/// Every kit version, by code, the newest version first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn all(conn: &mut AnyConnection) -> Result<Vec<KitRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} ORDER BY code, version DESC"))
        .fetch_all(conn)
        .await
}

/// A kit version (`None`: the newest active version of the code).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_code(
    conn: &mut AnyConnection,
    code: &str,
    version: Option<u32>,
) -> Result<Option<KitRow>, sqlx::Error> {
    match version {
        Some(v) => {
            sqlx::query_as(&format!("{SELECT} WHERE code = $1 AND version = $2"))
                .bind(code.to_string())
                .bind(i64::from(v))
                .fetch_optional(conn)
                .await
        }
        None => {
            sqlx::query_as(&format!(
                "{SELECT} WHERE code = $1 AND active = 1 ORDER BY version DESC LIMIT 1"
            ))
            .bind(code.to_string())
            .fetch_optional(conn)
            .await
        }
    }
}

/// A kit version by its row id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<KitRow, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await
}

/// The newest version of a code (`None`: no kit has it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn newest_version(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let (newest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(version) FROM kit WHERE code = $1")
        .bind(code.to_string())
        .fetch_one(conn)
        .await?;
    Ok(newest)
}

/// Stores a kit version (active); a version taken already is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    tx: &mut Tx,
    kit: &Kit,
    rules: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO kit (code, version, name, rules, active, created_at, created_by) \
         VALUES ($1, $2, $3, $4, 1, $5, $6)",
    )
    .bind(kit.code.clone())
    .bind(i64::from(kit.version))
    .bind(kit.name.clone())
    .bind(rules.to_string())
    .bind(at)
    .bind(by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}
