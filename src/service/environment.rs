//! 环境监测 an institution's environment plan: sampling points (item, lot, origin, location) on
//! a programme's frequency — weekly for key markets, every 14 days for others — each due,
//! overdue or covered by its last swab; a positive swab raises an alert listing the point, the
//! lot and the institution's staff, to be tested.

use crate::actor::Actor;
use crate::domain::mask;
use crate::domain::policy::Action;
use crate::domain::programme::{self, Covers, DutyState};
use crate::error::Error;
use crate::store::environment::{self as store, NewPoint, PointRow};
use crate::store::membership::{self as members, LineFilter};
use crate::store::time::{from_db, show, to_db};
use crate::store::{is_unique_violation, Tx};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// Links a new environment tube to the point it names (422 when there is no such point).
pub(crate) async fn link_tube(tx: &mut Tx, tube_id: i64, point: &str) -> Result<(), Error> {
    let id = store::id_of(tx.conn(), point).await?.ok_or_else(|| {
        Error::unprocessable("env_point.unknown", format!("no sampling point {point}"))
            .at("description.point")
    })?;
    store::link_tube(tx, tube_id, id).await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PointInput {
    /// A code of its own (unique), e.g. `XDF-COLD-01`.
    pub code: String,
    /// What is swabbed, e.g. `冻带鱼外包装`, `冷库门把手`.
    pub item: String,
    /// Where.
    pub location: String,
    pub lot: Option<String>,
    pub origin: Option<String>,
    /// An environment programme: `market-key-env` (weekly) or `market-env` (every 14 days).
    pub programme: String,
}

/// A point as the plan shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Point {
    pub code: String,
    pub item: String,
    pub location: String,
    pub lot: Option<String>,
    pub origin: Option<String>,
    pub programme: String,
    /// `covered`, `due_soon`, `overdue`, `never_tested` (never swabbed) or `excluded` (its last
    /// swab is positive: an alert).
    pub state: DutyState,
    pub last_tube: Option<String>,
    pub last_at: Option<DateTime<FixedOffset>>,
    pub last_result: Option<String>,
    /// The day the next swab is due by.
    pub due_by: Option<NaiveDate>,
}

/// A staff member to test after a positive environment swab (masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffToTest {
    pub person: String,
    pub name: String,
    pub class: String,
    pub state: DutyState,
}

/// A positive environment swab: the point, its lot, and the institution's staff to test.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alert {
    pub point: String,
    pub item: String,
    pub location: String,
    pub lot: Option<String>,
    pub origin: Option<String>,
    pub tube: String,
    pub at: DateTime<FixedOffset>,
    pub staff: Vec<StaffToTest>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub institution: String,
    pub today: NaiveDate,
    pub points: Vec<Point>,
    pub alerts: Vec<Alert>,
}

/// A point's state on `today` from its last swab: a positive alerts; otherwise the swab's day
/// starts the programme's cycle, judged by the ledger's rule.
fn point(r: &PointRow, tz: FixedOffset, today: NaiveDate) -> Result<Point, Error> {
    let cycle = super::ledger::cycle_of(&r.schedule)?;
    let through = r
        .last_at
        .map(|at| programme::covered_through(cycle, from_db(at), tz));
    let positive = r.last_value.as_deref() == Some("positive");
    let duty = programme::judge(
        through,
        positive.then_some(programme::Outcome::Positive),
        today,
        u32::try_from(r.warn_days).unwrap_or(0),
    );
    Ok(Point {
        code: r.code.clone(),
        item: r.item.clone(),
        location: r.location.clone(),
        lot: r.lot.clone(),
        origin: r.origin.clone(),
        programme: r.programme.clone(),
        state: duty.state(),
        last_tube: r.last_tube.clone(),
        last_at: r.last_at.map(|t| show(t, tz)),
        last_result: r.last_value.clone(),
        due_by: through,
    })
}

/// An institution's environment plan today, with its alerts.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn plan(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
    on: Option<NaiveDate>,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Plan, Error> {
    actor.require(Action::ViewLedger)?;
    let place = super::ledger::institution_for(conn, actor, institution).await?;
    let today = match on {
        None => today,
        Some(d) if d >= today && d <= today + chrono::Duration::days(60) => d,
        Some(d) => {
            return Err(Error::invalid(
                "on",
                format!("{d}: a plan is judged for today or up to 60 days ahead"),
            ))
        }
    };
    let rows = store::of_institution(conn, place.id).await?;
    let points = rows
        .iter()
        .map(|r| point(r, tz, today))
        .collect::<Result<Vec<_>, _>>()?;
    let mut alerts = vec![];
    if rows
        .iter()
        .any(|r| r.last_value.as_deref() == Some("positive"))
    {
        let staff: Vec<StaffToTest> = members::lines(
            conn,
            place.id,
            programme::day_number(today),
            &LineFilter {
                state: None,
                class: None,
                active: true,
            },
        )
        .await?
        .iter()
        .map(|l| StaffToTest {
            person: l.uid.clone(),
            name: mask::name(&l.name),
            class: l.class.clone(),
            state: l.duty(today).state(),
        })
        .collect();
        for r in rows
            .iter()
            .filter(|r| r.last_value.as_deref() == Some("positive"))
        {
            alerts.push(Alert {
                point: r.code.clone(),
                item: r.item.clone(),
                location: r.location.clone(),
                lot: r.lot.clone(),
                origin: r.origin.clone(),
                tube: r.last_tube.clone().unwrap_or_default(),
                at: show(r.last_at.unwrap_or_default(), tz),
                staff: staff.clone(),
            });
        }
    }
    Ok(Plan {
        institution: place.code,
        today,
        points,
        alerts,
    })
}

/// Registers a sampling point of an institution.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_point(tx: &mut Tx, institution: &str, input: PointInput) -> Result<Point, Error> {
    tx.actor().require(Action::ManageStaff)?;
    let actor = tx.actor().clone();
    let place = super::ledger::institution_for(tx.conn(), &actor, institution).await?;
    let code = super::parse_code("code", &input.code)?;
    let item = super::parse_text("item", &input.item, 200)?;
    let location = super::parse_text("location", &input.location, 200)?;
    let lot = super::parse_opt_text("lot", input.lot.as_deref(), 100)?;
    let origin = super::parse_opt_text("origin", input.origin.as_deref(), 200)?;
    let programme = crate::store::programme::current(tx.conn())
        .await?
        .into_iter()
        .find(|p| p.code == input.programme.trim())
        .filter(|p| p.covers == Covers::Environment)
        .ok_or_else(|| {
            Error::unprocessable(
                "programme.not_for_environment",
                format!(
                    "{:?} is not an environment programme",
                    input.programme.trim()
                ),
            )
            .at("programme")
        })?;
    let now = to_db(tx.now());
    let new = NewPoint {
        code: &code,
        institution_id: place.id,
        item: &item,
        location: &location,
        lot: lot.as_deref(),
        origin: origin.as_deref(),
        programme_id: programme.id,
    };
    match store::insert(tx, &new, now, &actor.username).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "env_point.code_taken",
                format!("a sampling point {code} exists"),
            )
            .at("code"))
        }
        r => r?,
    };
    tx.audit(
        "env_point.add",
        "institution",
        &place.code,
        None,
        Some(&serde_json::json!({
            "point": code, "item": item, "location": location, "lot": lot, "origin": origin,
            "programme": programme.code,
        })),
    );
    let today = tx.today();
    let tz = tx.zone();
    let row = store::of_institution(tx.conn(), place.id)
        .await?
        .into_iter()
        .find(|r| r.code == code)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("point {code} vanished")))?;
    point(&row, tz, today)
}
