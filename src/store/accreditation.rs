//! `lab_credential`, `lab_eqa`, `lab_penalty`, `lab_listing`: a lab's qualification record and
//! its publications on the public list; and the published labs as the public list reads them.

use super::code::in_table;
use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// A lab as the accreditation pages name it.
#[derive(Debug, Clone, FromRow)]
pub struct LabPlace {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub region: String,
    pub published: i64,
}

/// The lab with this code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_place(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<LabPlace>, sqlx::Error> {
    sqlx::query_as("SELECT id, code, name, region, published FROM lab WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("lab"))
}

/// Every lab, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lab_places(conn: &mut AnyConnection) -> Result<Vec<LabPlace>, sqlx::Error> {
    sqlx::query_as("SELECT id, code, name, region, published FROM lab ORDER BY code")
        .fetch_all(conn)
        .await
        .map_err(in_table("lab"))
}

#[derive(Debug, Clone, FromRow)]
pub struct CredentialRow {
    pub lab_id: i64,
    pub kind: String,
    pub number: String,
    pub valid_until: String,
    pub recorded_at: i64,
    pub recorded_by: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct EqaRow {
    pub lab_id: i64,
    pub round: String,
    pub held_on: String,
    pub passed: i64,
    pub organiser: String,
    pub recorded_at: i64,
    pub recorded_by: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct PenaltyRow {
    pub lab_id: i64,
    pub decided_on: String,
    pub authority: String,
    pub summary: String,
    pub recorded_at: i64,
    pub recorded_by: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct ListingRow {
    pub action: String,
    pub reason: String,
    pub at: i64,
    pub by_user: String,
}

/// The labs whose records to read: one, or every published one.
#[derive(Debug, Clone, Copy)]
pub enum Labs {
    One(i64),
    Published,
}

impl Labs {
    fn filter(self) -> String {
        match self {
            Labs::One(id) => format!("lab_id = {id}"),
            Labs::Published => "lab_id IN (SELECT id FROM lab WHERE published = 1)".into(),
        }
    }
}

/// A lab's record as stored: credentials, EQA rounds, penalties.
pub type RecordRows = (Vec<CredentialRow>, Vec<EqaRow>, Vec<PenaltyRow>);

/// The credentials, EQA rounds and penalties of some labs.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn records(conn: &mut AnyConnection, labs: Labs) -> Result<RecordRows, sqlx::Error> {
    let f = labs.filter();
    let credentials = sqlx::query_as(&format!(
        "SELECT lab_id, kind, number, valid_until, recorded_at, recorded_by FROM lab_credential \
         WHERE {f} ORDER BY lab_id, recorded_at DESC, id DESC"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(in_table("lab_credential"))?;
    let eqa = sqlx::query_as(&format!(
        "SELECT lab_id, round, held_on, passed, organiser, recorded_at, recorded_by FROM lab_eqa \
         WHERE {f} ORDER BY lab_id, held_on DESC, id DESC"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(in_table("lab_eqa"))?;
    let penalties = sqlx::query_as(&format!(
        "SELECT lab_id, decided_on, authority, summary, recorded_at, recorded_by FROM lab_penalty \
         WHERE {f} ORDER BY lab_id, decided_on DESC, id DESC"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(in_table("lab_penalty"))?;
    Ok((credentials, eqa, penalties))
}

/// A lab's publications and withdrawals, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn listing(
    conn: &mut AnyConnection,
    lab_id: i64,
) -> Result<Vec<ListingRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT action, reason, at, by_user FROM lab_listing WHERE lab_id = $1 ORDER BY at DESC, id DESC",
    )
    .bind(lab_id)
    .fetch_all(conn)
    .await
    .map_err(in_table("lab_listing"))
}

pub async fn insert_credential(
    tx: &mut Tx,
    lab_id: i64,
    kind: &str,
    number: &str,
    valid_until: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO lab_credential (lab_id, kind, number, valid_until, recorded_at, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(lab_id)
    .bind(kind.to_string())
    .bind(number.to_string())
    .bind(valid_until.to_string())
    .bind(at)
    .bind(by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records an EQA round; the same round twice is a unique violation.
#[allow(clippy::too_many_arguments)]
pub async fn insert_eqa(
    tx: &mut Tx,
    lab_id: i64,
    round: &str,
    held_on: &str,
    passed: bool,
    organiser: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO lab_eqa (lab_id, round, held_on, passed, organiser, recorded_at, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(lab_id)
    .bind(round.to_string())
    .bind(held_on.to_string())
    .bind(i64::from(passed))
    .bind(organiser.to_string())
    .bind(at)
    .bind(by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn insert_penalty(
    tx: &mut Tx,
    lab_id: i64,
    decided_on: &str,
    authority: &str,
    summary: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO lab_penalty (lab_id, decided_on, authority, summary, recorded_at, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(lab_id)
    .bind(decided_on.to_string())
    .bind(authority.to_string())
    .bind(summary.to_string())
    .bind(at)
    .bind(by.to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Publishes or withdraws a lab: the flag and a line of history. False when it already was.
pub async fn set_listed(
    tx: &mut Tx,
    lab_id: i64,
    listed: bool,
    reason: &str,
    at: i64,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query("UPDATE lab SET published = $1 WHERE id = $2 AND published <> $1")
        .bind(i64::from(listed))
        .bind(lab_id)
        .execute(tx.conn())
        .await?
        .rows_affected()
        == 1;
    if changed {
        sqlx::query(
            "INSERT INTO lab_listing (lab_id, action, reason, at, by_user) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(lab_id)
        .bind(if listed { "published" } else { "withdrawn" })
        .bind(reason.to_string())
        .bind(at)
        .bind(by.to_string())
        .execute(tx.conn())
        .await?;
    }
    Ok(changed)
}

/// A published lab as the public list shows it.
#[derive(Debug, Clone, FromRow)]
pub struct PublishedRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub opening_hours: String,
    pub price_single_cents: i64,
    pub price_pooled_cents: i64,
    pub region: String,
    pub report_hours: i64,
    pub serves: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// The published labs, by code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn published(conn: &mut AnyConnection) -> Result<Vec<PublishedRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, code, name, address, phone, opening_hours, price_single_cents, price_pooled_cents, \
         region, report_hours, serves, latitude, longitude FROM lab WHERE published = 1 ORDER BY code",
    )
    .fetch_all(conn)
    .await
    .map_err(in_table("lab"))
}

/// The turnaround histograms (released tubes by 5-minute bucket) of the published labs, by
/// the hour their clocks started, from `since_hour` on.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn published_histograms(
    conn: &mut AnyConnection,
    since_hour: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.lab_id, r.hist FROM turnaround_rollup r JOIN lab l ON l.id = r.lab_id \
         WHERE l.published = 1 AND r.hour >= $1 AND r.hist <> ''",
    )
    .bind(since_hour)
    .fetch_all(conn)
    .await
    .map_err(in_table("turnaround_rollup"))
}
