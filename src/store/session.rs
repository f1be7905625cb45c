//! `test_session` and `session_member`: group testing an institution orders at a collection
//! site on a day, with the people expected and — read from that site's tubes of that day —
//! whether each came.

use super::code::in_table;
use super::Tx;
use crate::domain::programme::{DutyState, Pooling};
use sqlx::{AnyConnection, FromRow};

/// A session, with its institution and site, and how many are expected and came.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub institution: String,
    pub institution_name: String,
    pub site: String,
    pub site_name: String,
    pub on_day: String,
    pub who: String,
    pub created_at: i64,
    pub created_by: String,
    pub expected: i64,
    pub came: i64,
}

/// Whether a member was scanned into a tube at the session's site on its day.
const CAME: &str = "EXISTS (SELECT 1 FROM tube_member tm JOIN tube t ON t.id = tm.tube_id \
     WHERE tm.person_id = sm.person_id AND t.site_id = s.site_id \
     AND t.collected_at >= s.day_start AND t.collected_at <= s.day_end)";

fn select_sessions(filter: &str) -> String {
    format!(
        "SELECT s.id, i.code AS institution, i.name AS institution_name, st.code AS site, st.name AS site_name, \
         s.on_day, s.who, s.created_at, s.created_by, \
         (SELECT COUNT(*) FROM session_member sm WHERE sm.session_id = s.id) AS expected, \
         (SELECT COUNT(*) FROM session_member sm WHERE sm.session_id = s.id AND {CAME}) AS came \
         FROM test_session s JOIN institution i ON i.id = s.institution_id JOIN site st ON st.id = s.site_id \
         WHERE {filter} ORDER BY s.on_day DESC, s.id DESC"
    )
}

/// The sessions of an institution, newest day first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_institution(
    conn: &mut AnyConnection,
    institution_id: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(&select_sessions("s.institution_id = $1"))
        .bind(institution_id)
        .fetch_all(conn)
        .await
        .map_err(in_table("test_session"))
}

/// The sessions at a site on a day.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn at_site(
    conn: &mut AnyConnection,
    site_id: i64,
    day: &str,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(&select_sessions("s.site_id = $1 AND s.on_day = $2"))
        .bind(site_id)
        .bind(day.to_string())
        .fetch_all(conn)
        .await
        .map_err(in_table("test_session"))
}

/// One session by id, with its institution id and site id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&select_sessions("s.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(in_table("test_session"))
}

/// Where a session is: (institution id, its region, site id, its day).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn place(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(i64, String, i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.institution_id, i.region, s.site_id, s.on_day FROM test_session s \
         JOIN institution i ON i.id = s.institution_id WHERE s.id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A member of a session, with the person (masked by the caller) and their personal code.
#[derive(Debug, Clone, FromRow)]
pub struct MemberRow {
    pub person_id: i64,
    pub uid: String,
    pub name: String,
    pub personal_code: Option<String>,
    pub pooling: Pooling,
    pub reason: DutyState,
    pub class: Option<String>,
    pub came: i64,
}

/// A session's members, by name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn members(
    conn: &mut AnyConnection,
    session_id: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT sm.person_id, p.uid, p.name, p.personal_code, sm.pooling, sm.reason, \
         (SELECT c.name FROM membership m JOIN staff_class c ON c.id = m.staff_class_id \
          WHERE m.person_id = sm.person_id AND m.institution_id = s.institution_id AND m.state = 'active' LIMIT 1) AS class, \
         CASE WHEN {CAME} THEN 1 ELSE 0 END AS came \
         FROM session_member sm JOIN test_session s ON s.id = sm.session_id JOIN person p ON p.id = sm.person_id \
         WHERE sm.session_id = $1 ORDER BY p.name, p.id"
    ))
    .bind(session_id)
    .fetch_all(conn)
    .await
    .map_err(in_table("session_member"))
}

/// A session to write.
pub struct NewSession<'a> {
    pub institution_id: i64,
    pub site_id: i64,
    pub on_day: &'a str,
    /// The day's first and last microsecond in the lab's zone.
    pub day: (i64, i64),
    pub who: &'a str,
}

/// Writes a session and its members (person, pooling, reason); its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    tx: &mut Tx,
    s: &NewSession<'_>,
    members: &[(i64, Pooling, DutyState)],
    at: i64,
    by: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO test_session (institution_id, site_id, on_day, day_start, day_end, who, created_at, created_by) \
         VALUES ($1, $2, $3, $7, $8, $4, $5, $6) RETURNING id",
    )
    .bind(s.institution_id)
    .bind(s.site_id)
    .bind(s.on_day.to_string())
    .bind(s.who.to_string())
    .bind(at)
    .bind(by.to_string())
    .bind(s.day.0)
    .bind(s.day.1)
    .fetch_one(tx.conn())
    .await?;
    for chunk in members.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(person, pooling, reason)| {
                format!(
                    "({id}, {person}, '{}', '{}')",
                    pooling.as_str(),
                    reason.as_str()
                )
            })
            .collect();
        sqlx::query(&format!(
            "INSERT INTO session_member (session_id, person_id, pooling, reason) VALUES {}",
            values.join(", ")
        ))
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}
