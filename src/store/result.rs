//! `result`: what a person (or an environment sample) is told by a tube, one row per version
//! (结果版本); the current version has `current = 1`.

use super::code::in_table;
use super::Tx;
use crate::domain::review::ResultValue;
use crate::domain::status::Cdc;
use sqlx::{AnyConnection, FromRow};

/// A result version, with its tube's barcode, lab and region and its person's public id.
#[derive(Debug, Clone, FromRow)]
pub struct ResultRow {
    pub id: i64,
    pub tube_id: i64,
    pub barcode: String,
    pub person_id: Option<i64>,
    pub person_uid: Option<String>,
    pub version: i64,
    pub current: i64,
    pub value: ResultValue,
    pub source: String,
    pub sampled_at: i64,
    pub positive_called_at: Option<i64>,
    pub cdc_status: Option<Cdc>,
    pub cdc_reason: Option<String>,
    pub released_by: String,
    pub released_at: i64,
    pub reason: Option<String>,
    pub lab_id: Option<i64>,
    pub region: String,
}

const SELECT: &str = "SELECT r.id, r.tube_id, t.barcode, r.person_id, \
     p.uid AS person_uid, r.version, r.current, r.value, r.source, r.sampled_at, \
     r.positive_called_at, r.cdc_status, r.cdc_reason, r.released_by, r.released_at, r.reason, \
     t.lab_id, s.region \
     FROM result r JOIN tube t ON t.id = r.tube_id JOIN site s ON s.id = t.site_id \
     LEFT JOIN person p ON p.id = r.person_id";

/// Rows of `SELECT … WHERE {rest}` with one bound value.
async fn rows<V>(
    conn: &mut AnyConnection,
    rest: &str,
    value: V,
) -> Result<Vec<ResultRow>, sqlx::Error>
where
    V: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
{
    sqlx::query_as(&format!("{SELECT} WHERE {rest}"))
        .bind(value)
        .fetch_all(conn)
        .await
        .map_err(in_table("result"))
}

/// A result version by id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<ResultRow>, sqlx::Error> {
    Ok(rows(conn, "r.id = $1", id).await?.pop())
}

/// A result version by id, locked for the rest of the transaction (PostgreSQL).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(tx: &mut Tx, id: i64) -> Result<Option<ResultRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE r.id = $1{}", tx.for_update("r"));
    sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(tx.conn())
        .await
        .map_err(in_table("result"))
}

/// A person's current results, the latest sampling first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn current_of_person(
    conn: &mut AnyConnection,
    person: i64,
) -> Result<Vec<ResultRow>, sqlx::Error> {
    rows(
        conn,
        "r.person_id = $1 AND r.current = 1 ORDER BY r.sampled_at DESC, r.id DESC",
        person,
    )
    .await
}

/// The current results of these people, each person's latest sampling first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn current_of_people(
    conn: &mut AnyConnection,
    people: &[i64],
) -> Result<Vec<ResultRow>, sqlx::Error> {
    if people.is_empty() {
        return Ok(vec![]);
    }
    let ids = super::id_list(people);
    sqlx::query_as(&format!(
        "{SELECT} WHERE r.person_id IN ({ids}) AND r.current = 1 ORDER BY r.sampled_at DESC, r.id DESC"
    ))
    .fetch_all(conn)
    .await
    .map_err(in_table("result"))
}

/// Every version of every result of a person, the latest sampling first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn history_of_person(
    conn: &mut AnyConnection,
    person: i64,
) -> Result<Vec<ResultRow>, sqlx::Error> {
    rows(
        conn,
        "r.person_id = $1 ORDER BY r.sampled_at DESC, r.tube_id, r.version DESC",
        person,
    )
    .await
}

/// Every version of the results of a tube.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_tube(conn: &mut AnyConnection, tube: i64) -> Result<Vec<ResultRow>, sqlx::Error> {
    rows(
        conn,
        "r.tube_id = $1 ORDER BY r.person_id, r.version DESC",
        tube,
    )
    .await
}

/// Current results in a CDC state (`pending`: awaiting the CDC, oldest call first; `rejected`:
/// returned to the lab, latest first), within a region prefix or a lab, at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn in_cdc_state(
    conn: &mut AnyConnection,
    state: CdcQueue,
    limit: usize,
) -> Result<Vec<ResultRow>, sqlx::Error> {
    let (filter, order, bind) = match &state {
        CdcQueue::Pending { region } => (
            "r.cdc_status = 'pending' AND ($1 IS NULL OR s.region LIKE $1)",
            "r.positive_called_at, r.id",
            region.as_ref().map(|r| format!("{r}%")),
        ),
        CdcQueue::Rejected { .. } => (
            "r.cdc_status = 'rejected' AND ($1 IS NULL OR t.lab_id = $1)",
            "r.cdc_at DESC",
            None,
        ),
    };
    let q = format!("{SELECT} WHERE r.current = 1 AND {filter} ORDER BY {order} LIMIT {limit}");
    let q = sqlx::query_as(&q);
    let q = match state {
        CdcQueue::Pending { .. } => q.bind(bind),
        CdcQueue::Rejected { lab } => q.bind(lab),
    };
    q.fetch_all(conn).await.map_err(in_table("result"))
}

/// Which CDC list [`in_cdc_state`] reads.
pub enum CdcQueue {
    Pending { region: Option<String> },
    Rejected { lab: Option<i64> },
}

/// A member of a positive or inconclusive pool awaiting their re-check: the pool, its deadline,
/// the member's re-sampling order (its status), the tube of the re-check and its current
/// result.
#[derive(Debug, Clone, FromRow)]
pub struct RecheckRow {
    pub pool: String,
    pub due_at: i64,
    pub order_status: Option<String>,
    pub tube: Option<String>,
    pub result: Option<ResultValue>,
    #[sqlx(flatten)]
    pub person: crate::store::person::PersonRow,
}

/// The members of pools told "pending re-check" (at one lab, or all), the most urgent first,
/// at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn awaiting_recheck(
    conn: &mut AnyConnection,
    lab: Option<i64>,
    limit: usize,
) -> Result<Vec<RecheckRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT pool.barcode AS pool, pool.deadline_at AS due_at, o.status AS order_status, \
         f.barcode AS tube, fr.value AS result, {} \
         FROM result r JOIN tube pool ON pool.id = r.tube_id JOIN person p ON p.id = r.person_id \
         LEFT JOIN institution i ON i.id = p.institution_id \
         LEFT JOIN sample_order o ON o.kind = 'resample' AND o.person_id = r.person_id AND o.source_tube_id = r.tube_id \
         LEFT JOIN tube f ON f.id = o.fulfilled_tube_id \
         LEFT JOIN result fr ON fr.tube_id = f.id AND fr.person_id = r.person_id AND fr.current = 1 \
         WHERE r.current = 1 AND r.value = 'pending_recheck' AND r.source = 'pool' \
         AND ($1 IS NULL OR pool.lab_id = $1) \
         ORDER BY pool.deadline_at, pool.barcode, p.id LIMIT {limit}",
        crate::store::person::COLUMNS
    ))
    .bind(lab)
    .fetch_all(conn)
    .await
    .map_err(in_table("result"))
}

/// Positives whose report clock (`clock` µs from the positive call) ran out before the CDC
/// ruled, or is running out still at `now`, within a region prefix: (result, ruled at).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn past_report_clock(
    conn: &mut AnyConnection,
    now: i64,
    clock: i64,
    region: Option<String>,
    limit: usize,
) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT r.id, r.cdc_at FROM result r JOIN tube t ON t.id = r.tube_id JOIN site s ON s.id = t.site_id \
         WHERE r.positive_called_at IS NOT NULL AND r.cdc_status IS NOT NULL \
         AND COALESCE(r.cdc_at, $1) > r.positive_called_at + $2 AND ($3 IS NULL OR s.region LIKE $3) \
         ORDER BY r.positive_called_at LIMIT {limit}"
    ))
    .bind(now)
    .bind(clock)
    .bind(region.map(|r| format!("{r}%")))
    .fetch_all(conn)
    .await
}

/// The CDC's ruling on a positive, and the tube's first confirmation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn rule_cdc(
    tx: &mut Tx,
    result: i64,
    tube: i64,
    status: Cdc,
    at: i64,
    by: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE result SET cdc_status = $1, cdc_by = $2, cdc_at = $3, cdc_reason = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(by.to_string())
    .bind(at)
    .bind(reason.map(str::to_string))
    .bind(result)
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE tube SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL")
        .bind(at)
        .bind(tube)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A result version to write.
#[derive(Debug, Clone)]
pub struct NewResult {
    pub tube_id: i64,
    pub person_id: Option<i64>,
    pub attempt_id: Option<i64>,
    pub value: ResultValue,
    pub source: String,
    pub sampled_at: i64,
    pub positive_called_at: Option<i64>,
    pub reason: Option<String>,
}

impl NewResult {
    /// A positive awaits the CDC.
    pub fn cdc(&self) -> Option<Cdc> {
        (self.value == ResultValue::Positive).then_some(Cdc::Pending)
    }
}

/// How many current results a tube has.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn current_count(conn: &mut AnyConnection, tube: i64) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM result WHERE tube_id = $1 AND current = 1")
            .bind(tube)
            .fetch_one(conn)
            .await?;
    Ok(n)
}

/// Writes version 1 of the result for each of these people (one statement per 500), released
/// at `at` by `by`: (person, result id).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_first(
    tx: &mut Tx,
    r: &NewResult,
    people: &[i64],
    at: i64,
    by: &str,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let mut out = Vec::with_capacity(people.len());
    for chunk in people.chunks(500) {
        // Integers written in; the texts bound once for the chunk.
        let values: Vec<String> = chunk
            .iter()
            .map(|person| {
                format!(
                    "({}, {person}, {}, 1, 1, $1, $2, {}, {}, $3, $4, {at}, $5)",
                    r.tube_id,
                    r.attempt_id.map_or("NULL".into(), |a| a.to_string()),
                    r.sampled_at,
                    r.positive_called_at
                        .map_or("NULL".into(), |t| t.to_string()),
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO result (tube_id, person_id, attempt_id, version, current, value, source, sampled_at, \
             positive_called_at, cdc_status, released_by, released_at, reason) VALUES {} RETURNING id, person_id",
            values.join(", ")
        );
        let rows: Vec<(i64, i64)> = sqlx::query_as(&sql)
            .bind(r.value)
            .bind(r.source.clone())
            .bind(r.cdc())
            .bind(by.to_string())
            .bind(r.reason.clone())
            .fetch_all(tx.conn())
            .await?;
        out.extend(rows.into_iter().map(|(id, person)| (person, id)));
    }
    Ok(out)
}

/// A written version: its number and id, and the version it replaces with its value.
pub type Written = (i64, i64, Option<(i64, ResultValue)>);

/// Writes the next version of the (tube, person) result; the one before stops being current.
/// The new version's number and id, and the version it replaces with its value.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_next(
    tx: &mut Tx,
    r: &NewResult,
    at: i64,
    by: &str,
) -> Result<Written, sqlx::Error> {
    const SAME: &str =
        "tube_id = $1 AND ((person_id IS NULL AND $2 IS NULL) OR person_id = $2) AND current = 1";
    let previous: Option<(i64, ResultValue)> =
        sqlx::query_as(&format!("SELECT version, value FROM result WHERE {SAME}"))
            .bind(r.tube_id)
            .bind(r.person_id)
            .fetch_optional(tx.conn())
            .await
            .map_err(in_table("result"))?;
    let version = previous.as_ref().map_or(1, |(v, _)| v + 1);
    sqlx::query(&format!("UPDATE result SET current = 0 WHERE {SAME}"))
        .bind(r.tube_id)
        .bind(r.person_id)
        .execute(tx.conn())
        .await?;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO result (tube_id, person_id, attempt_id, version, current, value, source, sampled_at, \
         positive_called_at, cdc_status, released_by, released_at, reason) \
         VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(r.tube_id)
    .bind(r.person_id)
    .bind(r.attempt_id)
    .bind(version)
    .bind(r.value)
    .bind(r.source.clone())
    .bind(r.sampled_at)
    .bind(r.positive_called_at)
    .bind(r.cdc())
    .bind(by.to_string())
    .bind(at)
    .bind(r.reason.clone())
    .fetch_one(tx.conn())
    .await?;
    Ok((version, id, previous))
}

/// What a status message says of a result, read together: its tube, attempt, value, source,
/// sampling time and CDC state (results equal in these say the same), and the tube's region.
#[derive(Debug, Clone, FromRow)]
pub struct MessageFacts {
    pub id: i64,
    pub tube_id: i64,
    pub attempt_id: Option<i64>,
    pub value: ResultValue,
    pub source: String,
    pub sampled_at: i64,
    pub cdc_status: Option<Cdc>,
    pub region: String,
}

/// The message facts of these results.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn message_facts(
    conn: &mut AnyConnection,
    results: &[i64],
) -> Result<Vec<MessageFacts>, sqlx::Error> {
    if results.is_empty() {
        return Ok(vec![]);
    }
    let ids = super::id_list(results);
    sqlx::query_as(&format!(
        "SELECT r.id, r.tube_id, r.attempt_id, r.value, r.source, r.sampled_at, r.cdc_status, s.region \
         FROM result r JOIN tube t ON t.id = r.tube_id JOIN site s ON s.id = t.site_id \
         WHERE r.id IN ({ids})"
    ))
    .fetch_all(conn)
    .await
    .map_err(in_table("result"))
}

/// What a message tells of one result: the tube, value, source, sample type, sampling time,
/// lab, CDC state, the call's Ct per channel, the kit's rules, the version.
#[derive(Debug, Clone, FromRow)]
pub struct MessageDetail {
    pub barcode: String,
    pub value: ResultValue,
    pub source: String,
    pub sample_type: crate::domain::vocab::SampleType,
    pub sampled_at: i64,
    pub lab_code: Option<String>,
    pub cdc_status: Option<Cdc>,
    pub cts: Option<String>,
    pub kit_rules: Option<String>,
    pub version: i64,
}

/// The message detail of a result.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn message_detail(
    conn: &mut AnyConnection,
    result: i64,
) -> Result<MessageDetail, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.barcode, r.value, r.source, t.sample_type, r.sampled_at, l.code AS lab_code, r.cdc_status, \
         c.cts, k.rules AS kit_rules, r.version \
         FROM result r JOIN tube t ON t.id = r.tube_id LEFT JOIN lab l ON l.id = t.lab_id \
         LEFT JOIN attempt a ON a.id = r.attempt_id LEFT JOIN auto_call c ON c.id = a.call_id \
         LEFT JOIN plate p ON p.id = a.plate_id LEFT JOIN kit k ON k.id = p.kit_id WHERE r.id = $1",
    )
    .bind(result)
    .fetch_one(conn)
    .await
    .map_err(in_table("result"))
}
