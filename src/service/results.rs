//! 结果 released results: a person's results with every version, their current status (what the
//! health-code push carries), and amendments — a new version with a reason, by a reviewer.

use super::persons::{self, PersonView};
use super::review::{write_result, NewResult, ResultView};
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::review::{self, ResultValue};
use crate::domain::status::{self, Cdc, Fact, PersonStatus};
use crate::error::Error;
use crate::store::result::{self as store, ResultRow};
use crate::store::time::{show, to_db};
use crate::store::Tx;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

impl ResultRow {
    pub fn value(&self) -> ResultValue {
        self.value
    }

    pub fn view(&self, tz: FixedOffset) -> ResultView {
        ResultView {
            id: self.id,
            tube: self.barcode.clone(),
            person: self.person_uid.clone(),
            version: self.version as u32,
            current: self.current != 0,
            value: self.value(),
            source: self.source.clone(),
            sampled_at: show(self.sampled_at, tz),
            cdc_status: self.cdc_status.clone(),
            cdc_reason: self.cdc_reason.clone(),
            released_by: self.released_by.clone(),
            released_at: show(self.released_at, tz),
            reason: self.reason.clone(),
        }
    }

    pub fn state(&self) -> review::ResultState {
        review::ResultState::stored(self.current != 0, self.cdc_status.as_deref())
    }

    fn fact(&self) -> Fact {
        Fact {
            sampled_at: self.sampled_at,
            value: self.value(),
            cdc: match self.cdc_status.as_deref() {
                Some("pending") => Some(Cdc::Pending),
                Some("confirmed") => Some(Cdc::Confirmed),
                Some("rejected") => Some(Cdc::Rejected),
                _ => None,
            },
        }
    }
}

/// A person's current status, with the results it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub person: PersonView,
    /// `no_result`, `negative`, `pending_recheck`, `needs_resampling`, `positive_preliminary`,
    /// `positive_confirmed`.
    pub status: String,
    /// For a negative: valid until (sampling time + the configured 24/48/72 h).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<FixedOffset>>,
    /// The current version of each result, newest sample first.
    pub results: Vec<ResultView>,
    /// Open orders to give a new swab.
    pub open_resample_orders: Vec<OpenOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenOrder {
    /// The tube whose result needs the new swab.
    pub tube: String,
    pub reason: String,
    pub due_at: DateTime<FixedOffset>,
}

async fn person_row(
    conn: &mut AnyConnection,
    actor: &Actor,
    uid: &str,
) -> Result<crate::store::person::PersonRow, Error> {
    actor.require(Action::ViewStatus)?;
    persons::in_scope(conn, actor, uid, persons::Reach::Masked).await
}

/// The status of a person at `now`.
pub async fn status(
    conn: &mut AnyConnection,
    actor: &Actor,
    uid: &str,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<StatusView, Error> {
    let person = person_row(conn, actor, uid).await?;
    status_of(conn, &person, Utc::now(), tz, today).await
}

/// The status of a person (no role check: for services that checked already).
pub(crate) async fn status_of(
    conn: &mut AnyConnection,
    person: &crate::store::person::PersonRow,
    now: DateTime<Utc>,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<StatusView, Error> {
    let rows = store::current_of_person(&mut *conn, person.id).await?;
    let orders: Vec<OrderRow> = sqlx::query_as(
        "SELECT t.barcode, o.reason, o.due_at, o.created_at FROM sample_order o JOIN tube t ON t.id = o.source_tube_id \
         WHERE o.person_id = $1 AND o.kind = 'resample' AND o.status = 'open' ORDER BY o.due_at",
    )
    .bind(person.id)
    .fetch_all(&mut *conn)
    .await?;
    let valid_hours = super::settings::load(&mut *conn)
        .await?
        .negative_valid_hours;
    Ok(status_from(
        person,
        rows,
        orders,
        valid_hours,
        now,
        tz,
        today,
    ))
}

/// An open re-sampling order as [`status_from`] reads it: source tube, reason, due, made.
pub(crate) type OrderRow = (String, String, i64, i64);

/// A person's status from their current results (newest first) and open re-sampling orders.
pub(crate) fn status_from(
    person: &crate::store::person::PersonRow,
    rows: Vec<ResultRow>,
    orders: Vec<OrderRow>,
    valid_hours: i64,
    now: DateTime<Utc>,
    tz: FixedOffset,
    today: NaiveDate,
) -> StatusView {
    // Pool re-checks and CDC returns are told as pending re-check by their results; other
    // open orders (a rejected tube, a specimen that failed twice) mean a new swab is needed.
    let resample_at = orders
        .iter()
        .filter(|(_, reason, ..)| reason != super::review::POOL_RECHECK && reason != CDC_RETURNED)
        .map(|o| o.3)
        .min();
    let facts: Vec<Fact> = rows.iter().map(ResultRow::fact).collect();
    let st = status::derive(&facts, resample_at, to_db(now), valid_hours * 3_600_000_000);
    StatusView {
        person: person.view(today),
        status: st.code().to_string(),
        valid_until: match st {
            PersonStatus::Negative { valid_until } => Some(show(valid_until, tz)),
            _ => None,
        },
        results: rows.iter().map(|r| r.view(tz)).collect(),
        open_resample_orders: orders
            .into_iter()
            .map(|(tube, reason, due, _)| OpenOrder {
                tube,
                reason,
                due_at: show(due, tz),
            })
            .collect(),
    }
}

/// The reason of the re-sampling order a CDC rejection makes.
pub const CDC_RETURNED: &str = "cdc_rejected";

/// Every version of every result of a person, newest first.
pub async fn history(
    conn: &mut AnyConnection,
    actor: &Actor,
    uid: &str,
    tz: FixedOffset,
) -> Result<Vec<ResultView>, Error> {
    let person = person_row(conn, actor, uid).await?;
    let rows = store::history_of_person(conn, person.id).await?;
    Ok(rows.iter().map(|r| r.view(tz)).collect())
}

/// Every version of the results of a tube.
pub async fn of_tube(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
    tz: FixedOffset,
) -> Result<Vec<ResultView>, Error> {
    let tube = super::accession::load(conn, barcode.trim()).await?;
    tube.visible_to(actor, Action::ViewTube)?;
    let rows = store::of_tube(conn, tube.id).await?;
    Ok(rows.iter().map(|r| r.view(tz)).collect())
}

/// An amendment of a released result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Amend {
    pub value: ResultValue,
    pub reason: String,
}

/// Amends a released result: a new version with the reason; the old one stays in the history.
pub async fn amend(
    tx: &mut Tx,
    result: i64,
    req: Amend,
    tz: FixedOffset,
) -> Result<ResultView, Error> {
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
    write_result(tx, &r, &row.barcode, row.person_uid.as_deref(), tz).await
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
pub(crate) async fn lock(tx: &mut Tx, result: i64) -> Result<ResultRow, Error> {
    store::lock(tx, result)
        .await?
        .ok_or_else(|| not_found(result))
}
