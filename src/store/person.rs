//! `person`: who was tested (受检者), registered once per identity document.

use super::code::in_table;
use crate::domain::id_number::{DocumentType, Sex};
use sqlx::{AnyConnection, FromRow};

/// A person as stored, with their institution's code.
#[derive(Debug, Clone, FromRow)]
pub struct PersonRow {
    pub id: i64,
    pub uid: String,
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub name: String,
    pub phone: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<String>,
    pub personal_code: Option<String>,
    pub institution_code: Option<String>,
}

/// The columns of [`PersonRow`], for queries that join a person in (`p`, with `i` their
/// institution).
pub const COLUMNS: &str = "p.id, p.uid, p.doc_type, p.doc_no, p.name, p.phone, \
     p.sex, p.birth_date, p.personal_code, i.code AS institution_code";

/// A person and their institution.
const FROM: &str = "FROM person p LEFT JOIN institution i ON i.id = p.institution_id";

async fn one(
    conn: &mut AnyConnection,
    filter: &str,
    value: &str,
) -> Result<Option<PersonRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE {filter}"))
        .bind(value.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("person"))
}

/// The person registered under a document.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_document(
    conn: &mut AnyConnection,
    doc_type: DocumentType,
    number: &str,
) -> Result<Option<PersonRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} {FROM} WHERE p.doc_type = $1 AND p.doc_no = $2"
    ))
    .bind(doc_type)
    .bind(number.to_string())
    .fetch_optional(conn)
    .await
    .map_err(in_table("person"))
}

/// The person with a personal code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<PersonRow>, sqlx::Error> {
    one(conn, "p.personal_code = $1", code).await
}

/// The person with a public id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_uid(conn: &mut AnyConnection, uid: &str) -> Result<Option<PersonRow>, sqlx::Error> {
    one(conn, "p.uid = $1", uid).await
}

/// What a new person is registered with.
pub struct NewPerson<'a> {
    pub uid: &'a str,
    pub doc_type: DocumentType,
    pub doc_no: &'a str,
    pub name: &'a str,
    pub phone: &'a str,
    pub sex: Option<Sex>,
    pub birth_date: Option<&'a str>,
    pub institution_id: Option<i64>,
    pub registered_site_id: Option<i64>,
    pub created_at: i64,
}

/// Registers a person; `None` when the document is registered already (perhaps a moment ago,
/// by another request or node).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    conn: &mut AnyConnection,
    p: &NewPerson<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO person (uid, doc_type, doc_no, name, phone, sex, birth_date, institution_id, \
           registered_site_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (doc_type, doc_no) DO NOTHING RETURNING id",
    )
    .bind(p.uid.to_string())
    .bind(p.doc_type)
    .bind(p.doc_no.to_string())
    .bind(p.name.to_string())
    .bind(p.phone.to_string())
    .bind(p.sex)
    .bind(p.birth_date.map(str::to_string))
    .bind(p.institution_id)
    .bind(p.registered_site_id)
    .bind(p.created_at)
    .fetch_optional(conn)
    .await?;
    Ok(inserted.map(|(id,)| id))
}

/// Gives a person without a personal code this one; `false` when they have one already (another
/// node issued it a moment ago). A code taken by someone else is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_personal_code(
    conn: &mut AnyConnection,
    id: i64,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE person SET personal_code = $1 WHERE id = $2 AND personal_code IS NULL")
            .bind(code.to_string())
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// Where a person can be found, for scope checks: tubes they are in (`t`, with `s` its site).
const MEMBER_TUBES: &str = "SELECT 1 FROM tube_member m JOIN tube t ON t.id = m.tube_id \
     JOIN site s ON s.id = t.site_id";

async fn any_row(
    conn: &mut AnyConnection,
    sql: &str,
    person: i64,
    bind: Place<'_>,
) -> Result<bool, sqlx::Error> {
    let q = sqlx::query_as::<_, (i64,)>(sql).bind(person);
    let q = match bind {
        Place::Id(id) => q.bind(id),
        Place::Region(r) => q.bind(format!("{r}%")),
    };
    Ok(q.fetch_optional(conn).await?.is_some())
}

enum Place<'a> {
    Id(i64),
    Region(&'a str),
}

/// Whether the site registered the person or collected one of their tubes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn seen_at_site(
    conn: &mut AnyConnection,
    person: i64,
    site: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "SELECT 1 FROM person WHERE id = $1 AND registered_site_id = $2 \
         UNION ALL {MEMBER_TUBES} WHERE m.person_id = $1 AND t.site_id = $2 LIMIT 1"
    );
    any_row(conn, &sql, person, Place::Id(site)).await
}

/// Whether one of the person's tubes was received by the lab, or is bound for it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn seen_by_lab(
    conn: &mut AnyConnection,
    person: i64,
    lab: i64,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "{MEMBER_TUBES} WHERE m.person_id = $1 \
         AND COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) = $2 LIMIT 1"
    );
    any_row(conn, &sql, person, Place::Id(lab)).await
}

/// Whether one of the person's tubes was collected in the region (`positive`: one whose current
/// result is positive for them — a positive person, or every member of a positive pool).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn seen_in_region(
    conn: &mut AnyConnection,
    person: i64,
    region: &str,
    positive: bool,
) -> Result<bool, sqlx::Error> {
    let sql = if positive {
        format!(
            "{MEMBER_TUBES} \
             JOIN result r ON r.tube_id = t.id AND r.current = 1 AND r.value = 'positive' \
               AND (r.person_id IS NULL OR r.person_id = m.person_id) \
             WHERE m.person_id = $1 AND s.region LIKE $2 LIMIT 1"
        )
    } else {
        format!("{MEMBER_TUBES} WHERE m.person_id = $1 AND s.region LIKE $2 LIMIT 1")
    };
    any_row(conn, &sql, person, Place::Region(region)).await
}

/// The people with these ids (in no particular order).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_ids(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<PersonRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let list = super::id_list(ids);
    sqlx::query_as(&format!("SELECT {COLUMNS} {FROM} WHERE p.id IN ({list})"))
        .fetch_all(conn)
        .await
        .map_err(in_table("person"))
}

/// The region of the site of a person's latest tube.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn latest_region(
    conn: &mut AnyConnection,
    person: i64,
) -> Result<Option<String>, sqlx::Error> {
    let region: Option<(String,)> = sqlx::query_as(
        "SELECT s.region FROM tube_member m JOIN tube t ON t.id = m.tube_id JOIN site s ON s.id = t.site_id \
         WHERE m.person_id = $1 ORDER BY t.collected_at DESC LIMIT 1",
    )
    .bind(person)
    .fetch_optional(conn)
    .await?;
    Ok(region.map(|r| r.0))
}
