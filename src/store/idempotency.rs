//! Idempotency keys: a request repeated with the same key (by the same actor) gets the answer
//! the first one got and changes nothing. The first request owns the key: it claims it before
//! its change (an answer row still empty), and stores the answer in the transaction that made
//! the change, so a key is either fully used or not at all. A request arriving meanwhile — on
//! PostgreSQL its claim waits for the owner's commit — finds the key taken and replays the
//! owner's answer; if the owner failed, its claim went with it and the next one does the work.

use super::Tx;
use sha2::{Digest, Sha256};

/// An answer given before under this key.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub status: u16,
    /// The JSON body, exactly as it was sent.
    pub body: String,
}

/// The key was used before for a different request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("idempotency key {0:?} was already used for a different request")]
    Reused(String),
    /// Claimed by a request whose transaction has not finished (seen from within the same
    /// group commit).
    #[error("a request with idempotency key {0:?} is still running")]
    InProgress(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A fingerprint of what a request asks for: method, path and query, and body as sent.
pub fn fingerprint(request: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(request.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

/// The stored answer for `key` of `actor`, if any.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lookup(
    conn: &mut sqlx::AnyConnection,
    actor: &str,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Stored>, Error> {
    let row: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT fingerprint, status, body FROM idempotency WHERE actor = $1 AND key = $2",
    )
    .bind(actor)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    match row {
        None => Ok(None),
        Some((fp, _, _)) if fp != fingerprint => Err(Error::Reused(key.to_string())),
        Some((_, 0, _)) => Err(Error::InProgress(key.to_string())),
        Some((_, status, body)) => Ok(Some(Stored {
            status: status as u16,
            body,
        })),
    }
}

/// Claims `key` for this request, before its change, in its transaction (answer still empty).
/// A unique violation: another request owns the key.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn claim(tx: &mut Tx, key: &str, fingerprint: &str) -> Result<(), sqlx::Error> {
    let actor = tx.actor().username.clone();
    let now = super::time::to_db(tx.now());
    sqlx::query(
        "INSERT INTO idempotency (actor, key, fingerprint, status, body, created_at) \
         VALUES ($1, $2, $3, 0, '', $4)",
    )
    .bind(actor)
    .bind(key)
    .bind(fingerprint)
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Stores the answer under the key this request claimed, in the transaction that produced it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn complete(tx: &mut Tx, key: &str, answer: &Stored) -> Result<(), sqlx::Error> {
    let actor = tx.actor().username.clone();
    sqlx::query("UPDATE idempotency SET status = $1, body = $2 WHERE actor = $3 AND key = $4")
        .bind(i64::from(answer.status))
        .bind(answer.body.clone())
        .bind(actor)
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}
