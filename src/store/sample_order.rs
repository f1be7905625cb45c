//! `sample_order`: orders that a person give a new swab (重采 re-sampling), each from the tube
//! whose result needs it; open until a new tube answers it.

use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// Orders a person re-sampled from a tube, due at `due`; `false` when such an order exists
/// already (from an earlier decision or a retry).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn order_resample(
    tx: &mut Tx,
    person: i64,
    source_tube: i64,
    reason: &str,
    due: i64,
    at: i64,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let made = sqlx::query(
        "INSERT INTO sample_order (kind, person_id, source_tube_id, reason, status, due_at, created_at, created_by) \
         VALUES ('resample', $1, $2, $3, 'open', $4, $5, $6) ON CONFLICT (kind, person_id, source_tube_id) DO NOTHING",
    )
    .bind(person)
    .bind(source_tube)
    .bind(reason.to_string())
    .bind(due)
    .bind(at)
    .bind(by.to_string())
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(made > 0)
}

/// An open order as a person's status reads it: source tube, reason, due, made.
pub type OpenOrderRow = (String, String, i64, i64);

/// A person's open orders, the most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open_of_person(
    conn: &mut AnyConnection,
    person: i64,
) -> Result<Vec<OpenOrderRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.barcode, o.reason, o.due_at, o.created_at FROM sample_order o JOIN tube t ON t.id = o.source_tube_id \
         WHERE o.person_id = $1 AND o.kind = 'resample' AND o.status = 'open' ORDER BY o.due_at",
    )
    .bind(person)
    .fetch_all(conn)
    .await
}

/// The open orders of these people, each person's most urgent first: (person, order).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open_of_people(
    conn: &mut AnyConnection,
    people: &[i64],
) -> Result<Vec<(i64, OpenOrderRow)>, sqlx::Error> {
    if people.is_empty() {
        return Ok(vec![]);
    }
    let ids = super::id_list(people);
    let rows: Vec<(i64, String, String, i64, i64)> = sqlx::query_as(&format!(
        "SELECT o.person_id, t.barcode, o.reason, o.due_at, o.created_at FROM sample_order o \
         JOIN tube t ON t.id = o.source_tube_id \
         WHERE o.person_id IN ({ids}) AND o.kind = 'resample' AND o.status = 'open' ORDER BY o.due_at"
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(p, tube, reason, due, made)| (p, (tube, reason, due, made)))
        .collect())
}

/// An open order as a new tube answers it: the order, its source tube, due, and the source's
/// re-collection number and clock start.
#[derive(Debug, Clone, FromRow)]
pub struct Answerable {
    pub id: i64,
    pub source_tube: i64,
    pub due_at: i64,
    pub recollection_no: i64,
    pub clock_start_at: i64,
}

/// A person's open orders with their source tubes, the most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn answerable(
    conn: &mut AnyConnection,
    person: i64,
) -> Result<Vec<Answerable>, sqlx::Error> {
    sqlx::query_as(
        "SELECT o.id, o.source_tube_id AS source_tube, o.due_at, s.recollection_no, s.clock_start_at \
         FROM sample_order o JOIN tube s ON s.id = o.source_tube_id \
         WHERE o.person_id = $1 AND o.kind = 'resample' AND o.status = 'open' ORDER BY o.due_at",
    )
    .bind(person)
    .fetch_all(conn)
    .await
}

/// Marks an order answered by a tube.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn fulfil(tx: &mut Tx, order: i64, tube: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sample_order SET status = 'fulfilled', fulfilled_tube_id = $1 WHERE id = $2",
    )
    .bind(tube)
    .bind(order)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Marks a person's open order from `source` answered by `tube`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn fulfil_from(
    tx: &mut Tx,
    person: i64,
    source: i64,
    tube: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sample_order SET status = 'fulfilled', fulfilled_tube_id = $1 \
         WHERE kind = 'resample' AND person_id = $2 AND source_tube_id = $3 AND status = 'open'",
    )
    .bind(tube)
    .bind(person)
    .bind(source)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A re-sampling order in a list, with its source tube's site and lab and its person.
#[derive(Debug, Clone, FromRow)]
pub struct ListedOrder {
    pub order_id: i64,
    pub tube_barcode: String,
    pub site_code: String,
    pub lab_code: Option<String>,
    pub reason: String,
    pub order_status: String,
    pub due_at: i64,
    pub order_created_at: i64,
    #[sqlx(flatten)]
    pub person: crate::store::person::PersonRow,
}

/// What a list of orders is narrowed to (each `None`: any).
pub struct OrderFilter {
    pub status: String,
    pub lab_code: Option<String>,
    pub site_code: Option<String>,
    pub barcode: Option<String>,
    /// The caller's scope: a site, a lab (received at, forwarded to or bound for), a region prefix.
    pub site_id: Option<i64>,
    pub lab_id: Option<i64>,
    pub region_like: Option<String>,
}

/// Orders, the most urgent first, at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    f: &OrderFilter,
    limit: usize,
) -> Result<Vec<ListedOrder>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT o.id AS order_id, t.barcode AS tube_barcode, s.code AS site_code, l.code AS lab_code, \
         o.reason, o.status AS order_status, o.due_at, o.created_at AS order_created_at, {} \
         FROM sample_order o JOIN person p ON p.id = o.person_id \
         JOIN tube t ON t.id = o.source_tube_id JOIN site s ON s.id = t.site_id \
         LEFT JOIN lab l ON l.id = t.lab_id LEFT JOIN institution i ON i.id = p.institution_id \
         WHERE o.kind = 'resample' AND o.status = $1 AND ($2 IS NULL OR l.code = $2) \
         AND ($3 IS NULL OR s.code = $3) AND ($4 IS NULL OR t.barcode = $4) \
         AND ($5 IS NULL OR t.site_id = $5) AND ($6 IS NULL OR COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) = $6) \
         AND ($7 IS NULL OR s.region LIKE $7) \
         ORDER BY o.due_at, o.id LIMIT {limit}",
        crate::store::person::COLUMNS
    ))
    .bind(f.status.clone())
    .bind(f.lab_code.clone())
    .bind(f.site_code.clone())
    .bind(f.barcode.clone())
    .bind(f.site_id)
    .bind(f.lab_id)
    .bind(f.region_like.clone())
    .fetch_all(conn)
    .await
    .map_err(super::code::in_table("sample_order"))
}

/// Whether a person has an open re-sampling order.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn has_open(conn: &mut AnyConnection, person: i64) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT o.id FROM sample_order o \
         WHERE o.person_id = $1 AND o.kind = 'resample' AND o.status = 'open' LIMIT 1",
    )
    .bind(person)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}
