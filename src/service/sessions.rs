//! 团检 group testing: an institution orders its due or overdue staff (or a class, or everyone)
//! tested at a collection site on a day — each member given a personal code if they had none,
//! marked for a tube of their own where their programme wants one — prints the sheet of QR
//! codes, and sees who came; the site's collectors see who is expected and who has not come.

use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::domain::programme::{self, DutyState, Pooling};
use crate::error::Error;
use crate::store::membership::{self as members, LineFilter};
use crate::store::session::{self as store, NewSession};
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::session::{GroupSession, GroupSessionDetail};
use chrono::{Duration, FixedOffset, NaiveDate, TimeZone};
use serde::Deserialize;
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Whom a session is for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SessionOrder {
    /// The collection site's code.
    pub site: String,
    /// The day (default: today); up to 60 days ahead.
    pub on: Option<NaiveDate>,
    /// `due` (due soon, overdue, never tested — the default), `overdue` (overdue and never
    /// tested), `all`, or `class` (everyone of `class`).
    pub who: Option<String>,
    pub class: Option<String>,
}

/// Whom `who` picks, by their state on the day.
fn picks(who: &str, state: DutyState) -> bool {
    match who {
        "due" => matches!(
            state,
            DutyState::DueSoon | DutyState::Overdue | DutyState::NeverTested
        ),
        "overdue" => matches!(state, DutyState::Overdue | DutyState::NeverTested),
        // Everyone but those held off duty by a positive or a pending re-check: the lab
        // follows them up; a routine swab is not theirs to take.
        _ => state != DutyState::Excluded,
    }
}

/// The first and last microsecond of a local day.
fn day_span(day: NaiveDate, tz: FixedOffset) -> (i64, i64) {
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map_or(0, |t| t.timestamp_micros())
    };
    (start(day), start(day + Duration::days(1)) - 1)
}

/// Orders a session; refused when nobody is picked.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn order(tx: &mut Tx, institution: &str, o: SessionOrder) -> Result<GroupSession, Error> {
    tx.actor().require(Action::ManageStaff)?;
    let actor = tx.actor().clone();
    let tz = tx.zone();
    let today = tx.today();
    let place = super::ledger::institution_for(tx.conn(), &actor, institution).await?;
    let on = o.on.unwrap_or(today);
    if on < today || on > today + Duration::days(60) {
        return Err(Error::invalid(
            "on",
            format!("{on}: a session is today or within 60 days"),
        ));
    }
    let site = super::parse_code("site", &o.site)?;
    let site_id = crate::store::registry::site_id(tx.conn(), &site)
        .await?
        .ok_or_else(|| {
            Error::unprocessable("site.unknown", format!("no collection site {site}")).at("site")
        })?;
    let who = o.who.as_deref().map(str::trim).unwrap_or("due");
    let class = o.class.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let who_text = match (who, class) {
        ("due" | "overdue" | "all", _) => who.to_string(),
        ("class", Some(c)) => format!("class:{c}"),
        ("class", None) => return Err(Error::invalid("class", "name the class to order")),
        (other, _) => {
            return Err(Error::invalid(
                "who",
                format!("{other:?}: due, overdue, all or class"),
            ))
        }
    };
    let pooling: HashMap<String, Pooling> = crate::store::programme::current(tx.conn())
        .await?
        .into_iter()
        .map(|p| (p.code, p.pooling))
        .collect();
    let lines = members::lines(
        tx.conn(),
        place.id,
        programme::day_number(on),
        &LineFilter {
            state: None,
            class: if who == "class" { class } else { None },
            active: true,
        },
    )
    .await?;
    let mut picked: Vec<(i64, Pooling, DutyState)> = lines
        .iter()
        .filter_map(|l| {
            let state = l.duty(on).state();
            picks(who, state).then(|| {
                let p = pooling
                    .get(&l.programme)
                    .copied()
                    .unwrap_or(Pooling::Single);
                (l.person_id, p, state)
            })
        })
        .collect();
    if picked.is_empty() {
        return Err(Error::unprocessable(
            "session.nobody",
            format!(
                "nobody of {} is {} on {on}: there is no one to order",
                place.code,
                match who {
                    "due" => "due or overdue".to_string(),
                    "overdue" => "overdue".to_string(),
                    _ => format!("to test ({who_text})"),
                }
            ),
        ));
    }
    // Each member needs a personal code to be scanned from the sheet; someone whose swab is to
    // be taken again (a re-sampling order is open) gives it in a tube of their own.
    let ids: Vec<i64> = picked.iter().map(|p| p.0).collect();
    let mut resample = std::collections::HashSet::new();
    for chunk in ids.chunks(500) {
        for (person, _) in crate::store::sample_order::open_of_people(tx.conn(), chunk).await? {
            resample.insert(person);
        }
    }
    for p in &mut picked {
        if resample.contains(&p.0) {
            p.1 = Pooling::Single;
        }
    }
    for p in crate::store::person::by_ids(tx.conn(), &ids).await? {
        if p.personal_code.is_none() {
            super::persons::issue_code(tx, p.id, &p.uid).await?;
        }
    }
    let on_text = on.to_string();
    let id = store::insert(
        tx,
        &NewSession {
            institution_id: place.id,
            site_id,
            on_day: &on_text,
            day: day_span(on, tz),
            who: &who_text,
        },
        &picked,
        to_db(tx.now()),
        &actor.username,
    )
    .await?;
    tx.audit(
        "session.order",
        "institution",
        &place.code,
        None,
        Some(&serde_json::json!({
            "session": id, "site": site, "on": on_text, "who": who_text, "expected": picked.len(),
        })),
    );
    let row = store::by_id(tx.conn(), id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("session {id} vanished")))?;
    Ok(row.view(tz))
}

/// An institution's sessions, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
    tz: FixedOffset,
) -> Result<Vec<GroupSession>, Error> {
    actor.require(Action::ViewLedger)?;
    let place = super::ledger::institution_for(conn, actor, institution).await?;
    Ok(store::of_institution(conn, place.id)
        .await?
        .iter()
        .map(|r| r.view(tz))
        .collect())
}

fn not_found(id: i64) -> Error {
    Error::not_found("session.not_found", format!("no session {id}"))
}

/// One session of an institution with its members.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn detail(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
    id: i64,
    tz: FixedOffset,
) -> Result<GroupSessionDetail, Error> {
    actor.require(Action::ViewLedger)?;
    let place = super::ledger::institution_for(conn, actor, institution).await?;
    match store::place(conn, id).await? {
        Some((inst, ..)) if inst == place.id => {}
        _ => return Err(not_found(id)),
    }
    load(conn, id, tz).await
}

async fn load(
    conn: &mut AnyConnection,
    id: i64,
    tz: FixedOffset,
) -> Result<GroupSessionDetail, Error> {
    let row = store::by_id(conn, id).await?.ok_or_else(|| not_found(id))?;
    let members = store::members(conn, id).await?;
    Ok(GroupSessionDetail {
        session: row.view(tz),
        members: members.iter().map(|m| m.view()).collect(),
    })
}

/// The sessions expected at a site on a day, each with its people and who has come — for the
/// site's collectors.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn at_site(
    conn: &mut AnyConnection,
    actor: &Actor,
    site: &str,
    on: NaiveDate,
    tz: FixedOffset,
) -> Result<Vec<GroupSessionDetail>, Error> {
    actor.require(Action::Accession)?;
    let code = super::parse_code("site", site)?;
    let not_found = || Error::not_found("site.not_found", format!("no site {code}"));
    let id = crate::store::registry::site_id(conn, &code)
        .await?
        .ok_or_else(not_found)?;
    match &actor.scope {
        Scope::Everywhere => {}
        Scope::Site { id: own, .. } if *own == id => {}
        _ => return Err(not_found()),
    }
    let mut out = vec![];
    for s in store::at_site(conn, id, &on.to_string()).await? {
        out.push(load(conn, s.id, tz).await?);
    }
    Ok(out)
}

/// The sheet of personal QR codes of a session, as a PDF.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sheet(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
    id: i64,
    tz: FixedOffset,
) -> Result<(String, Vec<u8>), Error> {
    actor.require(Action::ManageStaff)?;
    let d = detail(conn, actor, institution, id, tz).await?;
    let entries: Vec<crate::view::qr_sheet::SheetEntry> = d
        .members
        .iter()
        .filter_map(|m| {
            m.personal_code
                .as_ref()
                .map(|code| crate::view::qr_sheet::SheetEntry {
                    code: code.clone(),
                    name: m.name.clone(),
                    class: m.class.clone().unwrap_or_default(),
                    single: m.pooling == Pooling::Single,
                })
        })
        .collect();
    let s = &d.session;
    let title = format!(
        "{} · {} · {} {} · {} 人",
        s.institution_name,
        s.on,
        s.site_name,
        s.site,
        entries.len()
    );
    let name = format!("session-{}-{}-{}.pdf", s.institution, s.on, s.id);
    let bytes = tokio::task::spawn_blocking(move || crate::view::qr_sheet::sheet(&title, &entries))
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("drawing the sheet: {e}")))?;
    Ok((name, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_picks_by_the_state_on_the_day() {
        use DutyState::*;
        let all = [Covered, DueSoon, Overdue, NeverTested, Excluded];
        let picked = |who| {
            all.iter()
                .filter(|s| picks(who, **s))
                .copied()
                .collect::<Vec<_>>()
        };
        assert_eq!(picked("due"), [DueSoon, Overdue, NeverTested]);
        assert_eq!(picked("overdue"), [Overdue, NeverTested]);
        assert_eq!(picked("all"), [Covered, DueSoon, Overdue, NeverTested]);
    }

    #[test]
    fn a_day_spans_its_local_midnight_to_midnight() {
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        let (a, b) = day_span(NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(), tz);
        assert_eq!(
            chrono::DateTime::from_timestamp_micros(a)
                .unwrap()
                .to_rfc3339(),
            "2026-12-06T16:00:00+00:00"
        );
        assert_eq!(b - a, 24 * 3600 * 1_000_000 - 1);
    }
}
