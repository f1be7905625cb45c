//! `lab`, `site` and `institution`: the registry — testing labs (检测机构) with what the public
//! list shows, collection sites (采样点), and institutions (单位) whose staff are tested.

use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// A lab as stored.
#[derive(Debug, Clone, FromRow)]
pub struct LabRow {
    pub code: String,
    pub name: String,
    pub licence_no: String,
    /// `YYYY-MM-DD`
    pub accredited_until: String,
    pub address: String,
    pub phone: String,
    pub opening_hours: String,
    pub price_single_cents: i64,
    pub price_pooled_cents: i64,
    pub daily_capacity: i64,
    pub region: String,
}

const LAB_COLUMNS: &str =
    "code, name, licence_no, accredited_until, address, phone, opening_hours, \
     price_single_cents, price_pooled_cents, daily_capacity, region";

/// `sql` with a lab's columns bound as `$1`–`$11`, in the order of [`LAB_COLUMNS`].
fn with_lab<'q>(
    sql: &'q str,
    l: &LabRow,
) -> sqlx::query::Query<'q, sqlx::Any, <sqlx::Any as sqlx::Database>::Arguments<'q>> {
    sqlx::query(sql)
        .bind(l.code.clone())
        .bind(l.name.clone())
        .bind(l.licence_no.clone())
        .bind(l.accredited_until.clone())
        .bind(l.address.clone())
        .bind(l.phone.clone())
        .bind(l.opening_hours.clone())
        .bind(l.price_single_cents)
        .bind(l.price_pooled_cents)
        .bind(l.daily_capacity)
        .bind(l.region.clone())
}

/// Registers a lab; a code taken already is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_lab(tx: &mut Tx, l: &LabRow, at: i64) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO lab ({LAB_COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    with_lab(&sql, l).bind(at).execute(tx.conn()).await?;
    Ok(())
}

/// Changes what is registered of a lab (its code stays).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn update_lab(tx: &mut Tx, l: &LabRow) -> Result<(), sqlx::Error> {
    with_lab(
        "UPDATE lab SET name = $2, licence_no = $3, accredited_until = $4, address = $5, phone = $6, \
         opening_hours = $7, price_single_cents = $8, price_pooled_cents = $9, daily_capacity = $10, \
         region = $11 WHERE code = $1",
        l,
    )
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A lab by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab(conn: &mut AnyConnection, code: &str) -> Result<Option<LabRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {LAB_COLUMNS} FROM lab WHERE code = $1"))
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
}

/// Every lab, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn labs(conn: &mut AnyConnection) -> Result<Vec<LabRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {LAB_COLUMNS} FROM lab ORDER BY code"))
        .fetch_all(conn)
        .await
}

/// The id of a lab with this code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_id(conn: &mut AnyConnection, code: &str) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM lab WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// The code of a lab by its id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_code(conn: &mut AnyConnection, id: i64) -> Result<String, sqlx::Error> {
    let (code,): (String,) = sqlx::query_as("SELECT code FROM lab WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(code)
}

/// A site as stored, with its lab's code; pool sizes comma-separated.
#[derive(Debug, Clone, FromRow)]
pub struct SiteRow {
    pub code: String,
    pub name: String,
    pub address: String,
    pub region: String,
    pub lab_code: Option<String>,
    pub pool_sizes: String,
    pub accepts_foreign_barcodes: i64,
}

const SITE_SELECT: &str = "SELECT s.code, s.name, s.address, s.region, l.code AS lab_code, \
     s.pool_sizes, s.accepts_foreign_barcodes FROM site s LEFT JOIN lab l ON l.id = s.lab_id";

/// What a new site is registered with.
pub struct NewSite<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub region: &'a str,
    pub lab_id: Option<i64>,
    pub pool_sizes: &'a str,
    pub accepts_foreign_barcodes: bool,
    pub created_at: i64,
}

/// Registers a site; a code taken already is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_site(tx: &mut Tx, s: &NewSite<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO site (code, name, address, region, lab_id, pool_sizes, accepts_foreign_barcodes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(s.code.to_string())
    .bind(s.name.to_string())
    .bind(s.address.to_string())
    .bind(s.region.to_string())
    .bind(s.lab_id)
    .bind(s.pool_sizes.to_string())
    .bind(i64::from(s.accepts_foreign_barcodes))
    .bind(s.created_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A site by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn site(conn: &mut AnyConnection, code: &str) -> Result<Option<SiteRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SITE_SELECT} WHERE s.code = $1"))
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
}

/// The id of a site with this code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn site_id(conn: &mut AnyConnection, code: &str) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM site WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// Every site, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sites(conn: &mut AnyConnection) -> Result<Vec<SiteRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SITE_SELECT} ORDER BY s.code"))
        .fetch_all(conn)
        .await
}

/// What accession reads of a site, with the stored lab-wide settings of `settings_key` (one
/// statement: accession needs both).
#[derive(Debug, Clone, FromRow)]
pub struct SiteRulesRow {
    pub id: i64,
    pub pool_sizes: String,
    pub accepts_foreign_barcodes: i64,
    pub settings: Option<String>,
    pub lab_id: Option<i64>,
    pub region: String,
}

/// A site's rules by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn site_rules(
    conn: &mut AnyConnection,
    code: &str,
    settings_key: &str,
) -> Result<Option<SiteRulesRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.pool_sizes, s.accepts_foreign_barcodes, g.value AS settings, s.lab_id, s.region \
         FROM site s LEFT JOIN setting g ON g.key = $2 WHERE s.code = $1",
    )
    .bind(code.to_string())
    .bind(settings_key.to_string())
    .fetch_optional(conn)
    .await
}

/// An institution as stored.
#[derive(Debug, Clone, FromRow)]
pub struct InstitutionRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub address: String,
    pub phone: String,
    pub region: String,
}

/// Registers an institution; a code taken already is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_institution(
    tx: &mut Tx,
    i: &InstitutionRow,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO institution (code, name, kind, address, phone, region, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(i.code.clone())
    .bind(i.name.clone())
    .bind(i.kind.clone())
    .bind(i.address.clone())
    .bind(i.phone.clone())
    .bind(i.region.clone())
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every institution, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institutions(conn: &mut AnyConnection) -> Result<Vec<InstitutionRow>, sqlx::Error> {
    sqlx::query_as("SELECT code, name, kind, address, phone, region FROM institution ORDER BY code")
        .fetch_all(conn)
        .await
}

/// The id of an institution with this code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institution_id(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM institution WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// An institution with its id and region, for scope checks and the compliance view.
#[derive(Debug, Clone, FromRow)]
pub struct InstitutionPlace {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub region: String,
}

/// The institution with this code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institution_place(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<InstitutionPlace>, sqlx::Error> {
    sqlx::query_as("SELECT id, code, name, kind, region FROM institution WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
}

/// An institution as a public page names it: code, name, the phone to call.
#[derive(Debug, Clone, FromRow)]
pub struct InstitutionContact {
    pub code: String,
    pub name: String,
    pub phone: String,
}

/// The institution with this id, as a public page names it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institution_by_id(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<InstitutionContact>, sqlx::Error> {
    sqlx::query_as("SELECT code, name, phone FROM institution WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The institutions whose region starts with `region` (empty: all), by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institutions_in(
    conn: &mut AnyConnection,
    region: &str,
) -> Result<Vec<InstitutionPlace>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, code, name, kind, region FROM institution WHERE region LIKE $1 ORDER BY code",
    )
    .bind(format!("{region}%"))
    .fetch_all(conn)
    .await
}
