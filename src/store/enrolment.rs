//! `enrolment_link` and `enrolment_request`: the self-registration poster of an institution
//! (its live link token) and the requests to join its roster, pending the administrator's
//! approval.

use super::code::in_table;
use super::Tx;
use crate::domain::id_number::DocumentType;
use sqlx::{AnyConnection, FromRow};

/// A poster's link.
#[derive(Debug, Clone, FromRow)]
pub struct LinkRow {
    pub id: i64,
    pub institution_id: i64,
    pub token: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

const LINK: &str =
    "SELECT id, institution_id, token, created_at, created_by, revoked_at FROM enrolment_link";

/// The institution's live link, if it has one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn live_link(
    conn: &mut AnyConnection,
    institution_id: i64,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{LINK} WHERE institution_id = $1 AND revoked_at IS NULL"
    ))
    .bind(institution_id)
    .fetch_optional(conn)
    .await
    .map_err(in_table("enrolment_link"))
}

/// The link a scanned token names, live or revoked.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn link_by_token(
    conn: &mut AnyConnection,
    token: &str,
) -> Result<Option<LinkRow>, sqlx::Error> {
    sqlx::query_as(&format!("{LINK} WHERE token = $1"))
        .bind(token.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("enrolment_link"))
}

/// Revokes the institution's live link (a new poster replaces it).
pub async fn revoke_links(
    tx: &mut Tx,
    institution_id: i64,
    at: i64,
    by: &str,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE enrolment_link SET revoked_at = $1, revoked_by = $2 \
         WHERE institution_id = $3 AND revoked_at IS NULL",
    )
    .bind(at)
    .bind(by.to_string())
    .bind(institution_id)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Starts a live link; a second live link of the institution is a unique violation.
pub async fn insert_link(
    tx: &mut Tx,
    institution_id: i64,
    token: &str,
    at: i64,
    by: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO enrolment_link (institution_id, token, created_at, created_by) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(institution_id)
    .bind(token.to_string())
    .bind(at)
    .bind(by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// A request to join.
pub struct NewRequest<'a> {
    pub institution_id: i64,
    pub link_id: i64,
    pub staff_class_id: i64,
    pub name: &'a str,
    pub doc_type: DocumentType,
    pub doc_no: &'a str,
    pub phone: &'a str,
    pub address: &'a str,
    pub at: i64,
}

/// Records a pending request; `None` when the same document already has one pending here.
pub async fn insert_request(tx: &mut Tx, r: &NewRequest<'_>) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO enrolment_request (institution_id, link_id, staff_class_id, name, doc_type, doc_no, \
         phone, state, address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9) \
         ON CONFLICT (institution_id, doc_type, doc_no) WHERE state = 'pending' DO NOTHING RETURNING id",
    )
    .bind(r.institution_id)
    .bind(r.link_id)
    .bind(r.staff_class_id)
    .bind(r.name.to_string())
    .bind(r.doc_type)
    .bind(r.doc_no.to_string())
    .bind(r.phone.to_string())
    .bind(r.address.to_string())
    .bind(r.at)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(|(id,)| id))
}

/// Requests from an address since `since`, and the institution's pending requests: what the
/// throttle counts.
pub async fn pressure(
    conn: &mut AnyConnection,
    address: &str,
    since: i64,
    institution_id: i64,
) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM enrolment_request WHERE address = $1 AND created_at >= $2), \
                (SELECT COUNT(*) FROM enrolment_request WHERE institution_id = $3 AND state = 'pending')",
    )
    .bind(address.to_string())
    .bind(since)
    .bind(institution_id)
    .fetch_one(conn)
    .await
    .map_err(in_table("enrolment_request"))
}

/// A request, with its class's name.
#[derive(Debug, Clone, FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub institution_id: i64,
    pub staff_class_id: i64,
    pub class: String,
    pub name: String,
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub phone: String,
    pub state: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub membership_id: Option<i64>,
}

const REQUEST: &str = "SELECT r.id, r.institution_id, r.staff_class_id, c.name AS class, r.name, r.doc_type, \
     r.doc_no, r.phone, r.state, r.created_at, r.decided_at, r.decided_by, r.reason, r.membership_id \
     FROM enrolment_request r JOIN staff_class c ON c.id = r.staff_class_id";

/// The institution's requests in a state (pending oldest first; decided newest first), at
/// most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn requests(
    conn: &mut AnyConnection,
    institution_id: i64,
    state: &str,
    limit: i64,
) -> Result<Vec<RequestRow>, sqlx::Error> {
    let order = if state == "pending" {
        "r.created_at, r.id"
    } else {
        "r.decided_at DESC, r.id DESC"
    };
    sqlx::query_as(&format!(
        "{REQUEST} WHERE r.institution_id = $1 AND r.state = $2 ORDER BY {order} LIMIT $3"
    ))
    .bind(institution_id)
    .bind(state.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await
    .map_err(in_table("enrolment_request"))
}

/// One request of the institution.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn request(
    conn: &mut AnyConnection,
    institution_id: i64,
    id: i64,
) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{REQUEST} WHERE r.institution_id = $1 AND r.id = $2"
    ))
    .bind(institution_id)
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(in_table("enrolment_request"))
}

/// A decision on a pending request.
pub struct Decision<'a> {
    pub state: &'a str,
    pub at: i64,
    pub by: &'a str,
    pub reason: Option<&'a str>,
    pub person_id: Option<i64>,
    pub membership_id: Option<i64>,
}

/// Decides a pending request; false when it was no longer pending.
pub async fn decide(tx: &mut Tx, id: i64, d: &Decision<'_>) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE enrolment_request SET state = $1, decided_at = $2, decided_by = $3, reason = $4, \
         person_id = $5, membership_id = $6 WHERE id = $7 AND state = 'pending'",
    )
    .bind(d.state.to_string())
    .bind(d.at)
    .bind(d.by.to_string())
    .bind(d.reason.map(str::to_string))
    .bind(d.person_id)
    .bind(d.membership_id)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}
