//! `audit_log` and `audit_seal`: the audit trail's entries (written by [`super::Tx::audit`])
//! and the seals that chain them (审计封存). The rules — what a seal hashes, what verifying
//! checks — are in [`crate::audit`].

use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// An entry as stored.
#[derive(Debug, Clone, FromRow)]
pub struct EntryRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub parent_id: Option<i64>,
    pub seal_id: Option<i64>,
}

const ENTRY_COLUMNS: &str =
    "id, at, actor, action, entity_type, entity_id, before, after, parent_id, seal_id";

/// A seal as stored.
#[derive(Debug, Clone, FromRow)]
pub struct SealRow {
    pub id: i64,
    pub first_entry: i64,
    pub last_entry: i64,
    pub sealed_at: i64,
    pub entries: i64,
    pub hashes: String,
    pub prev_hash: String,
    pub hash: String,
    pub signature: Option<String>,
}

/// A seal to be stored.
pub struct NewSeal {
    pub sealed_at: i64,
    pub entries: i64,
    pub first_entry: i64,
    pub last_entry: i64,
    pub hashes: String,
    pub prev_hash: String,
    pub hash: String,
    pub signature: Option<String>,
    pub key_id: Option<String>,
}

/// Makes this transaction the only sealer until it ends (PostgreSQL; SQLite has one writer).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_for_sealing(tx: &mut Tx) -> Result<(), sqlx::Error> {
    if let Some(lock) = tx.backend().serialize_sealers() {
        sqlx::query(lock).execute(tx.conn()).await?;
    }
    Ok(())
}

/// The oldest unsealed entries (id, stored hash, time), at most `max`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn oldest_unsealed(
    tx: &mut Tx,
    max: i64,
) -> Result<Vec<(i64, Option<String>, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, hash, at FROM audit_log WHERE seal_id IS NULL ORDER BY id LIMIT $1")
        .bind(max)
        .fetch_all(tx.conn())
        .await
}

/// The newest seal's hash, if there is a seal.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn newest_seal_hash(tx: &mut Tx) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT hash FROM audit_seal ORDER BY id DESC LIMIT 1")
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map(|(h,)| h))
}

/// Stores a seal; its id.
#[tracing::instrument(level = "debug", skip_all, fields(entries = s.entries))]
pub async fn insert_seal(tx: &mut Tx, s: NewSeal) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO audit_seal (sealed_at, entries, first_entry, last_entry, hashes, prev_hash, hash, \
           signature, key_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(s.sealed_at)
    .bind(s.entries)
    .bind(s.first_entry)
    .bind(s.last_entry)
    .bind(s.hashes)
    .bind(s.prev_hash)
    .bind(s.hash)
    .bind(s.signature)
    .bind(s.key_id)
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// Marks the unsealed entries with ids in [`first`, `last`] as sealed by `seal`; how many.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn mark_sealed(
    tx: &mut Tx,
    seal: i64,
    first: i64,
    last: i64,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE audit_log SET seal_id = $1 WHERE seal_id IS NULL AND id >= $2 AND id <= $3",
    )
    .bind(seal)
    .bind(first)
    .bind(last)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Up to 100 seals after seal `after`, oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn seals_after(
    conn: &mut AnyConnection,
    after: i64,
) -> Result<Vec<SealRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, first_entry, last_entry, sealed_at, entries, hashes, prev_hash, hash, signature \
         FROM audit_seal WHERE id > $1 ORDER BY id LIMIT 100",
    )
    .bind(after)
    .fetch_all(conn)
    .await
}

/// The entries a seal claims, within its range, oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn entries_of_seal(
    conn: &mut AnyConnection,
    s: &SealRow,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE id >= $2 AND id <= $3 AND seal_id = $1 ORDER BY id"
    ))
    .bind(s.id)
    .bind(s.first_entry)
    .bind(s.last_entry)
    .fetch_all(conn)
    .await
}

/// The first entry (id, seal) that claims a seal whose range does not hold it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn first_outside_its_seal(
    conn: &mut AnyConnection,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.seal_id FROM audit_log a JOIN audit_seal s ON s.id = a.seal_id \
         WHERE a.id < s.first_entry OR a.id > s.last_entry ORDER BY a.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await
}

/// The first entry (id, seal) that claims a seal that does not exist.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn first_with_missing_seal(
    conn: &mut AnyConnection,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT a.id, a.seal_id FROM audit_log a WHERE a.seal_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.id = a.seal_id) ORDER BY a.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await
}

/// How many entries are not sealed yet.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn count_unsealed(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE seal_id IS NULL")
        .fetch_one(conn)
        .await?;
    Ok(n)
}

/// Up to 500 unsealed entries after entry `after`, oldest first, each with its stored hash.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unsealed_after(
    conn: &mut AnyConnection,
    after: i64,
) -> Result<Vec<(EntryRow, Option<String>)>, sqlx::Error> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        entry: EntryRow,
        hash: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS}, hash FROM audit_log WHERE seal_id IS NULL AND id > $1 ORDER BY id LIMIT 500"
    ))
    .bind(after)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.entry, r.hash)).collect())
}

/// The seals not signed yet (id, hash), oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unsigned_seals(tx: &mut Tx) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, hash FROM audit_seal WHERE signature IS NULL ORDER BY id")
        .fetch_all(tx.conn())
        .await
}

/// Signs a seal.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sign_seal(
    tx: &mut Tx,
    seal: i64,
    signature: &str,
    key_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE audit_seal SET signature = $1, key_id = $2 WHERE id = $3")
        .bind(signature.to_string())
        .bind(key_id.to_string())
        .bind(seal)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The entries about one entity, oldest first, at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_entity(
    conn: &mut AnyConnection,
    entity_type: &str,
    entity_id: &str,
    limit: i64,
) -> Result<Vec<EntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE entity_type = $1 AND entity_id = $2 ORDER BY id LIMIT $3"
    ))
    .bind(entity_type.to_string())
    .bind(entity_id.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await
}
