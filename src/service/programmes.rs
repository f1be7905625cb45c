//! 检测方案 testing programmes as data: the versions an admin adds (each judging the ledger from
//! then on, every line re-judged in the same transaction), and the staff classes that follow
//! them.

use crate::actor::Actor;
use crate::domain::policy::Action;
use crate::domain::programme::{Covers, Pooling, Schedule};
use crate::error::Error;
use crate::store::programme::{self as store, NewVersion, ProgrammeRow};
use crate::store::time::show;
use crate::store::{is_unique_violation, Tx};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// A programme as one of its versions says it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Programme {
    pub code: String,
    pub name: String,
    pub covers: Covers,
    pub version: i64,
    /// `{"kind":"cycle","cycle":{"days":14}}`, `{"kind":"days","windows":[{"from":1,"to":1},…]}`
    /// (day 1 = the anchor's day) or `{"kind":"spaced","tests":2,"hours":24}`.
    #[schema(value_type = Object)]
    pub schedule: Schedule,
    /// Days before the end of a cover that a line shows as due soon.
    pub warn_days: i64,
    pub pooling: Pooling,
    /// The line of the plan it follows.
    pub basis: String,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
}

fn view(r: ProgrammeRow, tz: FixedOffset) -> Result<Programme, Error> {
    let schedule = serde_json::from_str(&r.schedule).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "programme {} v{}: stored schedule does not read: {e}",
            r.code,
            r.version
        ))
    })?;
    Ok(Programme {
        code: r.code,
        name: r.name,
        covers: r.covers,
        version: r.version,
        schedule,
        warn_days: r.warn_days,
        pooling: r.pooling,
        basis: r.basis,
        created_at: show(r.created_at, tz),
        created_by: r.created_by,
    })
}

/// The newest version of every programme.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(conn: &mut AnyConnection, tz: FixedOffset) -> Result<Vec<Programme>, Error> {
    store::current(conn)
        .await?
        .into_iter()
        .map(|r| view(r, tz))
        .collect()
}

/// Every version of one programme, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn versions(
    conn: &mut AnyConnection,
    code: &str,
    tz: FixedOffset,
) -> Result<Vec<Programme>, Error> {
    let rows = store::versions(conn, code.trim()).await?;
    if rows.is_empty() {
        return Err(Error::not_found(
            "programme.not_found",
            format!("no programme {:?}", code.trim()),
        ));
    }
    rows.into_iter().map(|r| view(r, tz)).collect()
}

/// A new version of a programme.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VersionInput {
    #[schema(value_type = Object)]
    pub schedule: Schedule,
    pub warn_days: i64,
    pub pooling: Pooling,
    pub basis: String,
}

fn check_schedule(covers: Covers, s: &Schedule) -> Result<(), Error> {
    let bad = |m: String| Err(Error::invalid("schedule", m));
    match s {
        Schedule::Cycle { cycle } => {
            let n = match cycle {
                crate::domain::programme::Cycle::Days(n) => (*n, 366),
                crate::domain::programme::Cycle::Months(n) => (*n, 12),
            };
            if n.0 == 0 || n.0 > n.1 {
                return bad(format!("a cycle is 1–{} long", n.1));
            }
        }
        Schedule::Days { windows } => {
            if covers == Covers::Staff {
                return bad("staff are tested on a cycle, not on days from an anchor".into());
            }
            if windows.is_empty() || windows.len() > 20 {
                return bad("a day schedule has 1–20 windows".into());
            }
            for w in windows {
                if w.from == 0 || w.to < w.from || w.to > 400 {
                    return bad(format!(
                        "window {}–{}: days count from 1 (the anchor's day), to ≥ from, up to 400",
                        w.from, w.to
                    ));
                }
            }
        }
        Schedule::Spaced { tests, hours } => {
            if covers == Covers::Staff {
                return bad("staff are tested on a cycle, not by spaced tests".into());
            }
            if *tests == 0 || *tests > 10 || *hours == 0 || *hours > 24 * 30 {
                return bad("spaced tests: 1–10 tests, 1–720 hours apart".into());
            }
        }
    }
    if covers == Covers::Staff && !matches!(s, Schedule::Cycle { .. }) {
        return bad("staff are tested on a cycle".into());
    }
    Ok(())
}

/// Adds the next version of a programme; every active ledger line of its classes is judged by
/// it at once, in the same transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_version(
    tx: &mut Tx,
    code: &str,
    input: VersionInput,
) -> Result<(Programme, usize), Error> {
    tx.actor().require(Action::ManageProgrammes)?;
    let tz = tx.zone();
    let current = store::versions(tx.conn(), code.trim())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::not_found(
                "programme.not_found",
                format!("no programme {:?}", code.trim()),
            )
        })?;
    check_schedule(current.covers, &input.schedule)?;
    if !(0..=60).contains(&input.warn_days) {
        return Err(Error::invalid("warn_days", "warn_days is 0–60"));
    }
    let basis = super::parse_text("basis", &input.basis, 500)?;
    let schedule = serde_json::to_string(&input.schedule)
        .map_err(|e| Error::internal(anyhow::anyhow!("schedule: {e}")))?;
    let now = crate::store::time::to_db(tx.now());
    let by = tx.actor().username.clone();
    let (_, version) = store::insert_version(
        tx,
        current.id,
        &NewVersion {
            schedule: &schedule,
            warn_days: input.warn_days,
            pooling: input.pooling,
            basis: &basis,
        },
        now,
        &by,
    )
    .await?;
    tx.audit(
        "programme.add_version",
        "programme",
        &current.code,
        Some(&serde_json::json!({ "version": current.version, "schedule": current.schedule })),
        Some(&serde_json::json!({
            "version": version, "schedule": input.schedule, "warn_days": input.warn_days,
            "pooling": input.pooling, "basis": basis,
        })),
    );
    let rejudged = if current.covers == Covers::Staff {
        super::ledger::programme_changed(tx, current.id).await?
    } else {
        0
    };
    let row = store::versions(tx.conn(), &current.code)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the version just written vanished")))?;
    Ok((view(row, tz)?, rejudged))
}

/// A staff class as an institution sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffClass {
    pub name: String,
    pub programme: String,
    /// Offered to every institution (else the institution's own).
    pub shared: bool,
}

/// The classes an institution's roster may name.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn classes(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
) -> Result<Vec<StaffClass>, Error> {
    actor.require(Action::ViewLedger)?;
    let place = super::ledger::institution_for(conn, actor, institution).await?;
    Ok(store::classes(conn, place.id)
        .await?
        .into_iter()
        .map(|c| StaffClass {
            name: c.name,
            programme: c.programme_code,
            shared: c.institution_id.is_none(),
        })
        .collect())
}

/// A class an institution adds for itself.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ClassInput {
    pub name: String,
    /// The code of a staff programme (e.g. `staff-14d`, `cold-chain-14d`, `staff-monthly`).
    pub programme: String,
}

/// Adds a staff class to an institution.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_class(
    tx: &mut Tx,
    institution: &str,
    input: ClassInput,
) -> Result<StaffClass, Error> {
    tx.actor().require(Action::ManageStaff)?;
    let actor = tx.actor().clone();
    let place = super::ledger::institution_for(tx.conn(), &actor, institution).await?;
    let name = super::parse_text("name", &input.name, 40)?;
    let code = input.programme.trim().to_string();
    let programme = store::current(tx.conn())
        .await?
        .into_iter()
        .find(|p| p.code == code)
        .ok_or_else(|| {
            Error::unprocessable("programme.unknown", format!("no programme {code:?}"))
                .at("programme")
        })?;
    if programme.covers != Covers::Staff {
        return Err(Error::unprocessable(
            "programme.not_for_staff",
            format!("programme {code} covers {}, not staff", programme.covers),
        )
        .at("programme"));
    }
    if store::classes(tx.conn(), place.id)
        .await?
        .iter()
        .any(|c| c.name == name)
    {
        return Err(Error::conflict(
            "staff_class.taken",
            format!("{} has a class {name:?} already", place.code),
        )
        .at("name"));
    }
    let now = crate::store::time::to_db(tx.now());
    match store::insert_class(tx, Some(place.id), &name, programme.id, now).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::conflict(
                "staff_class.taken",
                format!("{} has a class {name:?} already", place.code),
            )
            .at("name"))
        }
        r => r?,
    };
    tx.audit(
        "staff_class.add",
        "institution",
        &place.code,
        None,
        Some(&serde_json::json!({ "class": name, "programme": code })),
    );
    Ok(StaffClass {
        name,
        programme: code,
        shared: false,
    })
}
