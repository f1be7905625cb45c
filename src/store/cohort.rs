//! `cohort` and `cohort_member`: the people the CDC follows up on a schedule from their anchor,
//! and the samples that answer it (the times of their tubes).

use super::code::in_table;
use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// A cohort with its programme's current schedule and its member count.
#[derive(Debug, Clone, FromRow)]
pub struct CohortRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub programme: String,
    pub schedule: String,
    pub region: String,
    pub created_at: i64,
    pub created_by: String,
    pub members: i64,
}

const SELECT: &str = "SELECT c.id, c.code, c.name, p.code AS programme, v.schedule, c.region, c.created_at, c.created_by, \
     (SELECT COUNT(*) FROM cohort_member m WHERE m.cohort_id = c.id) AS members \
     FROM cohort c JOIN programme p ON p.id = c.programme_id \
     JOIN programme_version v ON v.programme_id = p.id \
       AND v.version = (SELECT MAX(w.version) FROM programme_version w WHERE w.programme_id = p.id)";

/// The cohorts of regions starting with `region` (empty: all), newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn in_region(
    conn: &mut AnyConnection,
    region: &str,
) -> Result<Vec<CohortRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE c.region LIKE $1 ORDER BY c.created_at DESC, c.id DESC"
    ))
    .bind(format!("{region}%"))
    .fetch_all(conn)
    .await
    .map_err(in_table("cohort"))
}

/// A cohort by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<CohortRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE c.code = $1"))
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("cohort"))
}

/// Writes a cohort; a code taken is a unique violation. Its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    tx: &mut Tx,
    code: &str,
    name: &str,
    programme_id: i64,
    region: &str,
    at: i64,
    by: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO cohort (code, name, programme_id, region, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(code.to_string())
    .bind(name.to_string())
    .bind(programme_id)
    .bind(region.to_string())
    .bind(at)
    .bind(by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}

/// Adds members (person, anchor) to a cohort; one already in it keeps their first anchor.
/// How many were added.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_members(
    tx: &mut Tx,
    cohort_id: i64,
    members: &[(i64, i64)],
    at: i64,
    by: &str,
) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for chunk in members.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|(person, anchor)| format!("({cohort_id}, {person}, {anchor}, {at}, $1)"))
            .collect();
        n += sqlx::query(&format!(
            "INSERT INTO cohort_member (cohort_id, person_id, anchor_at, added_at, added_by) VALUES {} \
             ON CONFLICT (cohort_id, person_id) DO NOTHING",
            values.join(", ")
        ))
        .bind(by.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    Ok(n)
}

/// A cohort member with the person (masked by the caller).
#[derive(Debug, Clone, FromRow)]
pub struct MemberRow {
    pub person_id: i64,
    pub uid: String,
    pub name: String,
    pub doc_no: String,
    pub personal_code: Option<String>,
    pub anchor_at: i64,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn members(
    conn: &mut AnyConnection,
    cohort_id: i64,
) -> Result<Vec<MemberRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT m.person_id, p.uid, p.name, p.doc_no, p.personal_code, m.anchor_at \
         FROM cohort_member m JOIN person p ON p.id = m.person_id WHERE m.cohort_id = $1 ORDER BY m.anchor_at, p.name, p.id",
    )
    .bind(cohort_id)
    .fetch_all(conn)
    .await
    .map_err(in_table("cohort_member"))
}

/// When each of these people gave a swab (tubes not rejected), with the current result of
/// theirs from it if one is released: (person, collected at, value).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn samples_of(
    conn: &mut AnyConnection,
    people: &[i64],
) -> Result<Vec<(i64, i64, Option<String>)>, sqlx::Error> {
    let mut out = vec![];
    for chunk in people.chunks(500) {
        let rows: Vec<(i64, i64, Option<String>)> = sqlx::query_as(&format!(
            "SELECT tm.person_id, t.collected_at, \
             (SELECT r.value FROM result r WHERE r.tube_id = t.id AND r.person_id = tm.person_id AND r.current = 1) \
             FROM tube_member tm JOIN tube t ON t.id = tm.tube_id \
             WHERE tm.person_id IN ({}) AND t.status <> 'rejected'",
            super::id_list(chunk)
        ))
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rows);
    }
    Ok(out)
}
