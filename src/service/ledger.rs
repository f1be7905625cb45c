//! 台账 the ledger: each staff member's standing, brought up to date in the transaction of every
//! result of theirs, read per institution (masked) and per region (counts).
//!
//! A line stores what its person's results leave standing — the last qualifying negative, the
//! last local day it covers by the programme's current version, a hold (positive, pending
//! re-check) — so that reading a day's state is a comparison with today, and a region of a
//! million staff is counted in the database.

use crate::actor::Actor;
use crate::domain::policy::{self, Action};
use crate::domain::programme::{self, Cycle, DutyState, Hold, Outcome, Sample, Schedule};
use crate::domain::review::ResultValue;
use crate::domain::status::Cdc;
use crate::error::Error;
use crate::store::membership::{self as store, LineFilter, Standing, StandingRow, WeighedRow};
use crate::store::registry::{self as registry, InstitutionPlace};
use crate::store::time::from_db;
use crate::store::Tx;
use crate::view::ledger::{Compliance, InstitutionCompliance, Ledger, StateCounts};
use chrono::{FixedOffset, NaiveDate};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The cycle of a programme's schedule: staff classes and environment points follow one.
pub fn cycle_of(schedule: &str) -> Result<Cycle, Error> {
    match serde_json::from_str::<Schedule>(schedule) {
        Ok(Schedule::Cycle { cycle }) => Ok(cycle),
        Ok(_) => Err(Error::internal(anyhow::anyhow!(
            "a ledger line or a sampling point follows a programme without a cycle: {schedule}"
        ))),
        Err(e) => Err(Error::internal(anyhow::anyhow!(
            "a stored schedule does not read ({e}): {schedule}"
        ))),
    }
}

/// What a current result is to a programme: a negative counts only from a lab accredited on
/// the day of sampling; a positive the CDC rejected goes back to the lab (pending re-check).
pub fn sample_of(r: &WeighedRow, tz: FixedOffset) -> Sample {
    let at = from_db(r.sampled_at);
    let day = at.with_timezone(&tz).date_naive();
    let accredited = r
        .accredited_until
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|until| until >= day);
    let outcome = match (r.value, r.cdc_status) {
        (ResultValue::Negative, _) if accredited => Outcome::Negative,
        (ResultValue::Negative, _) => Outcome::Pending,
        (ResultValue::Positive, Some(Cdc::Rejected)) => Outcome::PendingRecheck,
        (ResultValue::Positive, _) => Outcome::Positive,
        (ResultValue::PendingRecheck, _) => Outcome::PendingRecheck,
    };
    Sample { at, outcome }
}

/// The standing a person's current results give a line of a programme version.
fn judge_line(
    line: &StandingRow,
    results: &[&WeighedRow],
    tz: FixedOffset,
) -> Result<Standing, Error> {
    let cycle = cycle_of(&line.schedule)?;
    let samples: Vec<Sample> = results.iter().map(|r| sample_of(r, tz)).collect();
    let s = programme::standing(&samples);
    Ok(Standing {
        judged_by: line.version_id,
        last_negative: s
            .last_negative
            .map(|i| (results[i].id, results[i].sampled_at)),
        covered_through: s
            .last_negative
            .map(|i| programme::day_number(programme::covered_through(cycle, samples[i].at, tz))),
        hold: s
            .hold
            .and_then(|i| Hold::of(samples[i].outcome).map(|h| (h, results[i].sampled_at))),
    })
}

/// Judges these lines again from their people's current results; writes those that changed.
async fn judge(tx: &mut Tx, lines: Vec<StandingRow>) -> Result<usize, Error> {
    if lines.is_empty() {
        return Ok(0);
    }
    let tz = tx.zone();
    let mut people: Vec<i64> = lines.iter().map(|l| l.person_id).collect();
    people.sort_unstable();
    people.dedup();
    let results = store::results_of_people(tx.conn(), &people).await?;
    let mut of: HashMap<i64, Vec<&WeighedRow>> = HashMap::new();
    for r in &results {
        of.entry(r.person_id).or_default().push(r);
    }
    let mut changed = vec![];
    for line in &lines {
        let s = judge_line(line, of.get(&line.person_id).map_or(&[][..], |v| v), tz)?;
        let same = line.judged_by == Some(s.judged_by)
            && line.last_negative_id == s.last_negative.map(|n| n.0)
            && line.covered_through == s.covered_through
            && line.hold == s.hold.map(|h| h.0);
        if !same {
            changed.push((line.id, s));
        }
    }
    store::set_standing(tx, &changed).await?;
    Ok(changed.len())
}

/// Brings the ledger lines of these people up to date after a change of their results in this
/// transaction (a release, an amendment, a CDC ruling). People without a membership cost one
/// indexed read per 500.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn people_changed(tx: &mut Tx, person_ids: &[i64]) -> Result<usize, Error> {
    let lines = store::standing_of_people(tx.conn(), person_ids).await?;
    judge(tx, lines).await
}

/// Judges every active line of a programme by its newest version.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn programme_changed(tx: &mut Tx, programme_id: i64) -> Result<usize, Error> {
    let lines = store::standing_in_programme(tx.conn(), programme_id).await?;
    let mut n = 0;
    for chunk in lines.chunks(2000) {
        n += judge(tx, chunk.to_vec()).await?;
    }
    Ok(n)
}

/// The institution a caller names, if their scope covers it (else: not found, as if absent).
pub async fn institution_for(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
) -> Result<InstitutionPlace, Error> {
    let code = code.trim().to_ascii_uppercase();
    let not_found = || {
        Error::not_found(
            "institution.not_found",
            format!("no institution with code {code}"),
        )
    };
    let place = registry::institution_place(conn, &code)
        .await?
        .ok_or_else(not_found)?;
    if !policy::covers_institution(&actor.scope, place.id, &place.region) {
        return Err(not_found());
    }
    Ok(place)
}

/// Counts by state per institution on `today`, each group judged by the domain's rule.
fn counts_by_institution(
    groups: Vec<store::StandingGroup>,
    today: NaiveDate,
) -> HashMap<i64, StateCounts> {
    let mut out: HashMap<i64, StateCounts> = HashMap::new();
    for g in groups {
        // A held line's outcome does not change its state (excluded either way).
        let duty = programme::judge(
            g.covered_through.map(programme::from_day_number),
            (g.held != 0).then_some(Outcome::PendingRecheck),
            today,
            u32::try_from(g.warn_days).unwrap_or(0),
        );
        out.entry(g.institution_id)
            .or_default()
            .add(duty.state(), g.n);
    }
    out
}

/// Which lines a ledger shows.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    /// Only lines in this state today.
    pub state: Option<DutyState>,
    /// Only this staff class.
    pub class: Option<String>,
    /// The ended memberships (leavers, classes left) instead of the active ones.
    #[serde(default)]
    pub ended: bool,
    /// The day to judge (default today; up to 60 days ahead): who may work on Monday if
    /// nobody is tested before then.
    pub on: Option<NaiveDate>,
}

/// An institution's ledger on `today`, masked.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn ledger(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
    q: &LedgerQuery,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Ledger, Error> {
    actor.require(Action::ViewLedger)?;
    let place = institution_for(conn, actor, institution).await?;
    let today = match q.on {
        None => today,
        Some(on) if on >= today && on <= today + chrono::Duration::days(60) => on,
        Some(on) => {
            return Err(Error::invalid(
                "on",
                format!("{on}: a ledger is judged for today or up to 60 days ahead (the past is in the audit trail)"),
            ))
        }
    };
    let day = programme::day_number(today);
    let rows = store::lines(
        conn,
        place.id,
        day,
        &LineFilter {
            state: q.state,
            class: q.class.as_deref().map(str::trim).filter(|c| !c.is_empty()),
            active: !q.ended,
        },
    )
    .await?;
    let counts = counts_by_institution(
        store::standing_groups(conn, Some(place.id), None).await?,
        today,
    )
    .remove(&place.id)
    .unwrap_or_default();
    Ok(Ledger {
        institution: place.code,
        institution_name: place.name,
        today,
        counts,
        lines: rows.iter().map(|r| r.view(tz, today)).collect(),
    })
}

/// The region a caller asks about (a prefix of region codes), as their scope allows: a regional
/// inspector's own region when none is given, or a part of it; anywhere for those who see
/// everywhere.
pub fn region_for(actor: &Actor, region: Option<&str>) -> Result<String, Error> {
    let asked = region.map(str::trim).filter(|r| !r.is_empty());
    let region = match (&actor.scope, asked) {
        (policy::Scope::Region(own), Some(r)) if r.starts_with(own.as_str()) => r.to_string(),
        (policy::Scope::Region(own), Some(r)) => {
            return Err(actor.out_of_scope(&format!("region {r} (outside {own})")))
        }
        (policy::Scope::Region(own), None) => own.clone(),
        (policy::Scope::Everywhere, r) => r.unwrap_or("").to_string(),
        _ => return Err(actor.out_of_scope("a region's compliance")),
    };
    if !region.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "region",
            "a region code is letters and digits",
        ));
    }
    Ok(region)
}

/// The compliance of the institutions in `region` (a prefix of region codes; a regional
/// inspector's own region when none is given), worst first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn compliance(
    conn: &mut AnyConnection,
    actor: &Actor,
    region: Option<&str>,
    today: NaiveDate,
) -> Result<Compliance, Error> {
    actor.require(Action::ViewCompliance)?;
    let region = region_for(actor, region)?;
    let places = registry::institutions_in(conn, &region).await?;
    let groups = if region.is_empty() {
        store::standing_groups(conn, None, None).await?
    } else {
        store::standing_groups(conn, None, Some(&region)).await?
    };
    let mut counts = counts_by_institution(groups, today);
    let mut totals = StateCounts::default();
    let mut institutions: Vec<InstitutionCompliance> = places
        .into_iter()
        .map(|p| {
            let c = counts.remove(&p.id).unwrap_or_default();
            totals.merge(&c);
            InstitutionCompliance {
                code: p.code,
                name: p.name,
                kind: p.kind,
                region: p.region,
                on_duty: c.on_duty(),
                off_duty_share: c.off_duty_share(),
                counts: c,
            }
        })
        .collect();
    institutions.sort_by(|a, b| {
        b.off_duty_share
            .total_cmp(&a.off_duty_share)
            .then(b.counts.staff.cmp(&a.counts.staff))
            .then(a.code.cmp(&b.code))
    });
    Ok(Compliance {
        region,
        today,
        institutions_count: institutions.len() as i64,
        off_duty_share: totals.off_duty_share(),
        totals,
        institutions,
    })
}
