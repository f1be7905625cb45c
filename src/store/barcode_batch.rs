//! `barcode_batch` and `barcode_counter`: tube barcodes natlis issues (预印条码), a batch at a
//! time, numbered per prefix.

use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// Takes `count` numbers of a prefix's sequence; the number after the last one taken (the
/// first taken is that minus `count`).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn take_numbers(tx: &mut Tx, prefix: &str, count: i64) -> Result<i64, sqlx::Error> {
    sqlx::query("INSERT INTO barcode_counter (prefix, next_seq) VALUES ($1, 1) ON CONFLICT (prefix) DO NOTHING")
        .bind(prefix.to_string())
        .execute(tx.conn())
        .await?;
    let (next,): (i64,) = sqlx::query_as(
        "UPDATE barcode_counter SET next_seq = next_seq + $1 WHERE prefix = $2 RETURNING next_seq",
    )
    .bind(count)
    .bind(prefix.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(next)
}

/// Records a batch issued to a site; its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    tx: &mut Tx,
    site: i64,
    prefix: &str,
    first_seq: i64,
    count: i64,
    at: i64,
    by: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO barcode_batch (site_id, prefix, first_seq, count, issued_at, issued_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(site)
    .bind(prefix.to_string())
    .bind(first_seq)
    .bind(count)
    .bind(at)
    .bind(by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// A batch as stored, with its site's code.
#[derive(Debug, Clone, FromRow)]
pub struct BatchRow {
    pub site: String,
    pub prefix: String,
    pub first_seq: i64,
    pub count: i64,
    pub issued_at: i64,
    pub issued_by: String,
}

/// A batch by id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<BatchRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.code AS site, b.prefix, b.first_seq, b.count, b.issued_at, b.issued_by \
         FROM barcode_batch b JOIN site s ON s.id = b.site_id WHERE b.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The batch that issued a barcode number of a prefix, if any did: (batch, site, end of the
/// batch's numbers, site code). The number is the batch's when it is below the end.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn issuing(
    conn: &mut AnyConnection,
    prefix: &str,
    seq: i64,
) -> Result<Option<(i64, i64, i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.id, b.site_id, b.first_seq + b.count, s.code FROM barcode_batch b \
         JOIN site s ON s.id = b.site_id WHERE b.prefix = $1 AND b.first_seq <= $2 \
         ORDER BY b.first_seq DESC LIMIT 1",
    )
    .bind(prefix.to_string())
    .bind(seq)
    .fetch_optional(conn)
    .await
}
