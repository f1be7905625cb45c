//! 结果 released results: a person's results with every version, their current status (what the
//! health-code push carries), and amendments — a new version with a reason, by a reviewer.

use super::persons;
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::review::{self, ResultValue};
use crate::error::Error;
use crate::store::person::PersonRow;
use crate::store::result::{self as store, NewResult, ResultRow};
use crate::store::sample_order::OpenOrderRow;
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::result::{ResultRecord, Status};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

impl ResultRow {
    pub fn value(&self) -> ResultValue {
        self.value
    }

    pub fn state(&self) -> review::ResultState {
        review::ResultState::stored(self.current != 0, self.cdc_status)
    }
}

async fn person_row(
    conn: &mut AnyConnection,
    actor: &Actor,
    uid: &str,
) -> Result<PersonRow, Error> {
    actor.require(Action::ViewStatus)?;
    persons::in_scope(conn, actor, uid, persons::Reach::Masked).await
}

/// The status of a person at `now`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn status(conn: &mut AnyConnection, actor: &Actor, uid: &str) -> Result<Status, Error> {
    let person = person_row(conn, actor, uid).await?;
    status_of(conn, person, Utc::now()).await
}

/// The status of a person (no role check: for services that checked already).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn status_of(
    conn: &mut AnyConnection,
    person: PersonRow,
    now: DateTime<Utc>,
) -> Result<Status, Error> {
    let rows = store::current_of_person(&mut *conn, person.id).await?;
    let orders = crate::store::sample_order::open_of_person(&mut *conn, person.id).await?;
    let valid_hours = super::settings::load(&mut *conn)
        .await?
        .negative_valid_hours;
    Ok(status_from(person, rows, orders, valid_hours, now))
}

/// A person's status from their current results (newest first) and open re-sampling orders.
pub(crate) fn status_from(
    person: PersonRow,
    rows: Vec<ResultRow>,
    orders: Vec<OpenOrderRow>,
    valid_hours: i64,
    now: DateTime<Utc>,
) -> Status {
    let status = super::status::derive(&rows, &orders, valid_hours, to_db(now));
    Status {
        person,
        status,
        results: rows.iter().map(ResultRecord::from).collect(),
        orders,
    }
}

/// Every version of every result of a person, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn history(
    conn: &mut AnyConnection,
    actor: &Actor,
    uid: &str,
) -> Result<Vec<ResultRecord>, Error> {
    let person = person_row(conn, actor, uid).await?;
    let rows = store::history_of_person(conn, person.id).await?;
    Ok(rows.iter().map(ResultRecord::from).collect())
}

/// Every version of the results of a tube.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn of_tube(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
) -> Result<Vec<ResultRecord>, Error> {
    let tube = crate::store::tube::load(conn, barcode.trim()).await?;
    tube.visible_to(actor, Action::ViewTube)?;
    let rows = store::of_tube(conn, tube.id).await?;
    Ok(rows.iter().map(ResultRecord::from).collect())
}

/// An amendment of a released result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Amend {
    pub value: ResultValue,
    pub reason: String,
}

/// Amends a released result: a new version with the reason; the old one stays in the history.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn amend(tx: &mut Tx, result: i64, req: Amend) -> Result<ResultRecord, Error> {
    tx.actor().require(Action::Review)?;
    let reason = super::parse_text("reason", &req.reason, 500)?;
    let row = lock(tx, result).await?;
    if let Scope::Lab { id, .. } = &tx.actor().scope {
        if row.lab_id != Some(*id) {
            return Err(not_found(result));
        }
    }
    review::result_next(row.state(), review::ResultEvent::Amend)?;
    if row.value() == req.value {
        return Err(Error::invalid(
            "value",
            format!("the result is {} already", req.value),
        ));
    }
    let r = NewResult {
        tube_id: row.tube_id,
        person_id: row.person_id,
        attempt_id: None,
        value: req.value,
        source: row.source.clone(),
        sampled_at: row.sampled_at,
        positive_called_at: (req.value == ResultValue::Positive).then(|| to_db(tx.now())),
        reason: Some(reason),
    };
    write_result(tx, &r, &row.barcode, row.person_uid.as_deref()).await
}

impl From<review::ResultRule> for Error {
    fn from(rule: review::ResultRule) -> Self {
        let code = match rule {
            review::ResultRule::Superseded => "result.superseded",
            review::ResultRule::Confirmed => "result.confirmed",
            review::ResultRule::NotPendingCdc => "cdc.not_pending",
        };
        Error::conflict(code, rule.to_string())
    }
}

pub(crate) fn not_found(result: i64) -> Error {
    Error::not_found("result.not_found", format!("no result {result}"))
}

/// Loads a result for a change, locking it (PostgreSQL).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn lock(tx: &mut Tx, result: i64) -> Result<ResultRow, Error> {
    store::lock(tx, result)
        .await?
        .ok_or_else(|| not_found(result))
}

/// Writes the next version of the (tube, person) result; earlier versions stop being current;
/// the person's status follows.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn write_result(
    tx: &mut Tx,
    r: &NewResult,
    barcode: &str,
    person_uid: Option<&str>,
) -> Result<ResultRecord, Error> {
    let written = write_result_only(tx, r, barcode, person_uid).await?;
    if let Some(person) = r.person_id {
        super::push::person_changed(tx, person, Some(written.id)).await?;
    }
    Ok(written)
}

/// The first results of a tube's people, written in one statement per chunk (version 1 each),
/// in the order of `people`; `None` if the tube already has current results (then each is
/// written as the next version of its own, by [`write_result_only`]).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn first_results(
    tx: &mut Tx,
    r: &NewResult,
    people: &[(i64, String)],
    barcode: &str,
) -> Result<Option<Vec<ResultRecord>>, Error> {
    if store::current_count(tx.conn(), r.tube_id).await? > 0 {
        return Ok(None);
    }
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    let cdc = r.cdc();
    let ids: Vec<i64> = people.iter().map(|(p, _)| *p).collect();
    let ids: std::collections::HashMap<i64, i64> = store::insert_first(tx, r, &ids, now, &by)
        .await?
        .into_iter()
        .collect();
    super::turnaround::released(tx, r.tube_id).await?;
    let mut out = Vec::with_capacity(people.len());
    for (person, uid) in people {
        let id = *ids.get(person).ok_or_else(|| {
            Error::internal(anyhow::anyhow!("no result written for person {person}"))
        })?;
        tx.audit(
            "result.release",
            "person",
            uid,
            None,
            Some(&serde_json::json!({
                "tube": barcode, "version": 1, "value": r.value, "source": r.source,
                "cdc": cdc, "reason": r.reason,
            })),
        );
        out.push(ResultRecord {
            id,
            tube: barcode.to_string(),
            person: Some(uid.clone()),
            version: 1,
            current: true,
            value: r.value,
            source: r.source.clone(),
            sampled_at: r.sampled_at,
            cdc_status: cdc,
            cdc_reason: None,
            released_by: by.clone(),
            released_at: now,
            reason: r.reason.clone(),
        });
    }
    Ok(Some(out))
}

/// [`write_result`] without the person's status: the caller brings it up to date (for many
/// people at once, [`super::push::people_changed`]).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn write_result_only(
    tx: &mut Tx,
    r: &NewResult,
    barcode: &str,
    person_uid: Option<&str>,
) -> Result<ResultRecord, Error> {
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    let cdc = r.cdc();
    let (version, id, previous) = store::insert_next(tx, r, now, &by).await?;
    super::turnaround::released(tx, r.tube_id).await?;
    tx.audit(
        if version == 1 {
            "result.release"
        } else {
            "result.amend"
        },
        "person",
        person_uid.unwrap_or(barcode),
        previous
            .as_ref()
            .map(|(v, value)| serde_json::json!({ "tube": barcode, "version": v, "value": value }))
            .as_ref(),
        Some(&serde_json::json!({
            "tube": barcode, "version": version, "value": r.value, "source": r.source,
            "cdc": cdc, "reason": r.reason,
        })),
    );
    Ok(ResultRecord {
        id,
        tube: barcode.to_string(),
        person: person_uid.map(String::from),
        version: version as u32,
        current: true,
        value: r.value,
        source: r.source.clone(),
        sampled_at: r.sampled_at,
        cdc_status: cdc,
        cdc_reason: None,
        released_by: by,
        released_at: now,
        reason: r.reason.clone(),
    })
}
