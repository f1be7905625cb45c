//! `certificate_key`, `certificate`, `lookup_attempt` and `lookup_access`: the published
//! signing keys, the certificates issued, and the public's lookups of their own results.

use super::code::in_table;
use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// A published signing key generation.
#[derive(Debug, Clone, FromRow)]
pub struct KeyRow {
    pub generation: i64,
    pub kid: String,
    pub x: String,
    pub y: String,
    pub created_at: i64,
    pub created_by: String,
    pub retired_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub reason: Option<String>,
}

/// Every key generation, oldest first.
pub async fn keys(conn: &mut AnyConnection) -> Result<Vec<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT generation, kid, x, y, created_at, created_by, retired_at, revoked_at, reason \
         FROM certificate_key ORDER BY generation",
    )
    .fetch_all(conn)
    .await
    .map_err(in_table("certificate_key"))
}

/// Publishes a generation's key (a generation published already stays as it is).
pub async fn publish_key(tx: &mut Tx, k: &KeyRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO certificate_key (generation, kid, x, y, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (generation) DO NOTHING",
    )
    .bind(k.generation)
    .bind(k.kid.clone())
    .bind(k.x.clone())
    .bind(k.y.clone())
    .bind(k.created_at)
    .bind(k.created_by.clone())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Retires every generation below `generation` that is not retired yet.
pub async fn retire_below(tx: &mut Tx, generation: i64, at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE certificate_key SET retired_at = $1 WHERE generation < $2 AND retired_at IS NULL",
    )
    .bind(at)
    .bind(generation)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Revokes a generation (compromised): what it signed verifies no more.
pub async fn revoke_key(
    tx: &mut Tx,
    generation: i64,
    at: i64,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE certificate_key SET revoked_at = $1, reason = $2, retired_at = COALESCE(retired_at, $1) \
         WHERE generation = $3 AND revoked_at IS NULL",
    )
    .bind(at)
    .bind(reason.to_string())
    .bind(generation)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// A certificate with what it states, from its result, person and lab.
#[derive(Debug, Clone, FromRow)]
pub struct CertificateRow {
    pub id: i64,
    pub uid: String,
    pub result_id: i64,
    pub person_id: i64,
    pub generation: i64,
    pub issued_at: i64,
    pub valid_until: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    /// Whether the result is still its tube's current version for the person.
    pub current: i64,
    pub value: String,
    pub sampled_at: i64,
    pub released_at: i64,
    pub name: String,
    pub doc_no: String,
    pub lab_id: i64,
    pub lab_code: String,
    pub lab_name: String,
    pub lab_phone: String,
}

const SELECT: &str = "SELECT c.id, c.uid, c.result_id, c.person_id, c.generation, c.issued_at, \
     c.valid_until, c.revoked_at, c.revoke_reason, r.current, r.value, r.sampled_at, r.released_at, \
     p.name, p.doc_no, l.id AS lab_id, l.code AS lab_code, l.name AS lab_name, l.phone AS lab_phone \
     FROM certificate c JOIN result r ON r.id = c.result_id JOIN person p ON p.id = c.person_id \
     JOIN tube t ON t.id = r.tube_id JOIN lab l ON l.id = t.lab_id";

/// The certificate with this id.
pub async fn by_uid(
    conn: &mut AnyConnection,
    uid: &str,
) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE c.uid = $1"))
        .bind(uid.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("certificate"))
}

/// The certificate of a person's result, if one was issued.
pub async fn of_result(
    conn: &mut AnyConnection,
    result: i64,
    person: i64,
) -> Result<Option<CertificateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE c.result_id = $1 AND c.person_id = $2"
    ))
    .bind(result)
    .bind(person)
    .fetch_optional(conn)
    .await
    .map_err(in_table("certificate"))
}

/// The newest certificate of a person issued after `after` (what superseded an amended one).
pub async fn newer_of_person(
    conn: &mut AnyConnection,
    person: i64,
    after: i64,
) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT c.uid FROM certificate c JOIN result r ON r.id = c.result_id \
         WHERE c.person_id = $1 AND c.id > $2 AND r.current = 1 AND c.revoked_at IS NULL \
         ORDER BY c.id DESC LIMIT 1",
    )
    .bind(person)
    .bind(after)
    .fetch_optional(conn)
    .await
    .map_err(in_table("certificate"))?;
    Ok(row.map(|r| r.0))
}

/// What a new certificate records.
pub struct NewCertificate<'a> {
    pub uid: &'a str,
    pub result_id: i64,
    pub person_id: i64,
    pub generation: i64,
    pub issued_at: i64,
    pub valid_until: i64,
}

/// Records a certificate; false when the result has one already (the caller reads it).
pub async fn insert(tx: &mut Tx, c: &NewCertificate<'_>) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO certificate (uid, result_id, person_id, generation, issued_at, valid_until) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (result_id, person_id) DO NOTHING",
    )
    .bind(c.uid.to_string())
    .bind(c.result_id)
    .bind(c.person_id)
    .bind(c.generation)
    .bind(c.issued_at)
    .bind(c.valid_until)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Revokes a certificate; false when it was revoked already.
pub async fn revoke(
    tx: &mut Tx,
    id: i64,
    at: i64,
    by: &str,
    reason: &str,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE certificate SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
         WHERE id = $4 AND revoked_at IS NULL",
    )
    .bind(at)
    .bind(by.to_string())
    .bind(reason.to_string())
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Records a lookup attempt.
pub async fn record_attempt(
    tx: &mut Tx,
    doc_hash: &str,
    address: &str,
    at: i64,
    ok: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO lookup_attempt (doc_hash, address, at, ok) VALUES ($1, $2, $3, $4)")
        .bind(doc_hash.to_string())
        .bind(address.to_string())
        .bind(at)
        .bind(i64::from(ok))
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Failed attempts on a document since `since`, since its last success; and the time of the
/// first of them (when a lockout began counting).
pub async fn failures_of_document(
    conn: &mut AnyConnection,
    doc_hash: &str,
    since: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT at, ok FROM lookup_attempt WHERE doc_hash = $1 AND at >= $2 ORDER BY at DESC, id DESC",
    )
    .bind(doc_hash.to_string())
    .bind(since)
    .fetch_all(conn)
    .await
    .map_err(in_table("lookup_attempt"))?;
    Ok(rows
        .into_iter()
        .take_while(|(_, ok)| *ok == 0)
        .map(|(at, _)| at)
        .collect())
}

/// Failed attempts from an address since `since`.
pub async fn failures_from_address(
    conn: &mut AnyConnection,
    address: &str,
    since: i64,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM lookup_attempt WHERE address = $1 AND at >= $2 AND ok = 0",
    )
    .bind(address.to_string())
    .bind(since)
    .fetch_one(conn)
    .await
    .map_err(in_table("lookup_attempt"))?;
    Ok(n)
}

/// Records an access token's hash for a person.
pub async fn grant(
    tx: &mut Tx,
    token_hash: &str,
    person: i64,
    at: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO lookup_access (token_hash, person_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash.to_string())
    .bind(person)
    .bind(at)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The person and expiry of an access token (by its hash).
pub async fn access(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<(i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT person_id, created_at, expires_at FROM lookup_access WHERE token_hash = $1",
    )
    .bind(token_hash.to_string())
    .fetch_optional(conn)
    .await
    .map_err(in_table("lookup_access"))
}

/// The name and phone of the lab that tested a tube.
pub async fn lab_of_tube(
    conn: &mut AnyConnection,
    barcode: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT l.name, l.phone FROM tube t JOIN lab l ON l.id = t.lab_id WHERE t.barcode = $1",
    )
    .bind(barcode.to_string())
    .fetch_optional(conn)
    .await
    .map_err(in_table("tube"))
}
