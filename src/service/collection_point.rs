//! 采样点 collection points for the public: each site's hours, who may use it, whether it takes
//! bookings, and its live state — open or closed by its hours unless its staff set it, how many
//! were sampled in the last 15 minutes, and the wait their last queue count gives. Its staff
//! (the site's collectors, an administrator) set the state, the queue, the hours and who it
//! serves.

use crate::domain::collection_point::{self as rules, SetState};
use crate::domain::policy::{Action, Scope};
use crate::error::Error;
use crate::store::collection_point::{self as store, PointRow, SetPoint};
use crate::store::time::{from_db, to_db};
use crate::store::Tx;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// Who may use a site: `public`, `staff` (institutions' routine testing), `key` (key
/// populations, e.g. cold-chain workers).
pub const SERVES: &[&str] = &["public", "staff", "key"];

/// A collection point as the public sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectionPoint {
    pub code: String,
    pub name: String,
    pub address: String,
    pub district: String,
    pub opening_hours: String,
    /// Who may use it (`public`, `staff`, `key`).
    pub serves: Vec<String>,
    /// It takes bookings (`/book/{code}`).
    pub bookable: bool,
    /// `open`, `paused`, `closed` or `unknown`.
    pub state: String,
    /// What the staff said with the state.
    pub note: Option<String>,
    /// Sampled in the last 15 minutes.
    pub sampled_last_15_min: i64,
    /// People waiting, as the staff counted within the last 30 minutes.
    pub waiting: Option<i64>,
    /// The estimated wait in minutes (the queue at the last 15 minutes' rate).
    pub wait_minutes: Option<i64>,
}

/// The collection points, as of a time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectionPoints {
    pub as_of: DateTime<FixedOffset>,
    pub points: Vec<CollectionPoint>,
}

fn point(r: PointRow, now: DateTime<Utc>, tz: FixedOffset) -> CollectionPoint {
    let local = now.with_timezone(&tz).time();
    let set = r
        .state_set
        .as_deref()
        .and_then(SetState::parse)
        .map(|s| (s, r.state_until.map(from_db)));
    let queue = r.queue.zip(r.queue_at.map(from_db));
    let live = rules::live(
        crate::domain::opening_hours::open_at(&r.opening_hours, local),
        set,
        r.sampled,
        queue,
        now,
    );
    let note = r
        .state_note
        .filter(|_| set.is_some_and(|(_, until)| until.is_none_or(|u| u > now)));
    CollectionPoint {
        code: r.code,
        name: r.name,
        address: r.address,
        district: r.region,
        opening_hours: r.opening_hours,
        serves: r
            .serves
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        bookable: r.bookable != 0,
        state: live.state.into(),
        note,
        sampled_last_15_min: live.sampled,
        waiting: live.waiting,
        wait_minutes: live.wait_minutes,
    }
}

/// The collection points of a district (a region code prefix; empty: all), no login.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn public_list(
    conn: &mut AnyConnection,
    district: &str,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> Result<CollectionPoints, Error> {
    let district = district.trim();
    if !district.bytes().all(|b| b.is_ascii_digit()) || district.len() > 6 {
        return Err(Error::invalid(
            "district",
            "a region code (digits), e.g. 110108",
        ));
    }
    let since = to_db(now - Duration::minutes(rules::WINDOW_MINUTES));
    let rows = store::points(conn, district, since).await?;
    Ok(CollectionPoints {
        as_of: now.with_timezone(&tz),
        points: rows.into_iter().map(|r| point(r, now, tz)).collect(),
    })
}

/// What a site's staff say of it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PointInput {
    /// `open`, `paused`, `closed`, or `auto` (the hours decide again).
    #[serde(default)]
    pub state: Option<String>,
    /// For how many minutes the state holds (default: until set again).
    #[serde(default)]
    pub minutes: Option<u32>,
    /// Shown with the state, e.g. "消杀暂停".
    #[serde(default)]
    pub note: Option<String>,
    /// People waiting now, as counted.
    #[serde(default)]
    pub queue: Option<u32>,
    #[serde(default)]
    pub opening_hours: Option<String>,
    /// Who may use it: some of `public`, `staff`, `key`.
    #[serde(default)]
    pub serves: Option<Vec<String>>,
}

/// A site's staff set its state, queue, hours or who it serves; the public list shows it at its
/// next refresh.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set(tx: &mut Tx, code: &str, input: &PointInput) -> Result<CollectionPoint, Error> {
    let actor = tx.actor().clone();
    actor.require(Action::Accession)?;
    let code = code.trim().to_ascii_uppercase();
    let not_found = || Error::not_found("site.not_found", format!("no site {code}"));
    let (site_id, _) = crate::store::booking::site(tx.conn(), &code)
        .await?
        .ok_or_else(not_found)?;
    match &actor.scope {
        Scope::Everywhere => {}
        Scope::Site { id, .. } if *id == site_id => {}
        _ => return Err(actor.out_of_scope(&format!("site {code}"))),
    }
    if let Some(s) = input.state.as_deref() {
        if s != "auto" && SetState::parse(s).is_none() {
            return Err(Error::invalid("state", "open, paused, closed or auto"));
        }
    }
    if let Some(h) = input.opening_hours.as_deref() {
        if crate::domain::opening_hours::open_at(h, chrono::NaiveTime::MIN).is_none() {
            return Err(Error::invalid(
                "opening_hours",
                format!("{h:?} does not read as hours, e.g. 08:00-12:00, 14:00-20:00"),
            ));
        }
    }
    let serves = match &input.serves {
        Some(list) => {
            if list.is_empty() || list.iter().any(|s| !SERVES.contains(&s.as_str())) {
                return Err(Error::invalid("serves", "some of public, staff, key"));
            }
            Some(list.join(","))
        }
        None => None,
    };
    let note = input
        .note
        .as_deref()
        .map(|n| super::parse_text("note", n, 200))
        .transpose()?;
    if input.queue.is_some_and(|q| q > 100_000) {
        return Err(Error::invalid("queue", "people waiting, 0 to 100,000"));
    }
    let now = tx.now();
    store::set(
        tx,
        site_id,
        &SetPoint {
            state: input.state.as_deref(),
            note: note.as_deref(),
            until: input
                .minutes
                .map(|m| to_db(now + Duration::minutes(i64::from(m)))),
            queue: input.queue.map(i64::from),
            at: to_db(now),
            opening_hours: input.opening_hours.as_deref().map(str::trim),
            serves: serves.as_deref(),
        },
    )
    .await?;
    tx.audit(
        "site.point",
        "site",
        &code,
        None,
        Some(
            &serde_json::json!({"state": input.state, "minutes": input.minutes, "note": note,
            "queue": input.queue, "opening_hours": input.opening_hours, "serves": serves}),
        ),
    );
    let tz = tx.zone();
    let since = to_db(now - Duration::minutes(rules::WINDOW_MINUTES));
    store::points(tx.conn(), "", since)
        .await?
        .into_iter()
        .find(|r| r.id == site_id)
        .map(|r| point(r, now, tz))
        .ok_or_else(not_found)
}
