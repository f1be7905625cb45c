//! 合规报告 the compliance report of a period — for each day the share of staff who might work,
//! and the person-days off duty — for one institution (its administrator, an inspector of its
//! region) or a region (inspectors). Each day is judged by the ledger's rule from the samples
//! taken up to it (`domain::coverage` says how).

use super::ledger::{self, cycle_of, sample_of};
use crate::actor::Actor;
use crate::domain::coverage::{self, Member};
use crate::domain::policy::Action;
use crate::domain::programme::{Cycle, Sample};
use crate::error::Error;
use crate::store::membership as store;
use crate::store::registry::{self, InstitutionPlace};
use crate::view::coverage::{CoverageReport, InstitutionCoverage};
use crate::view::ledger::StateCounts;
use chrono::{Duration, FixedOffset, NaiveDate};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The longest period a report covers, in days (a quarter).
pub const MAX_DAYS: i64 = 92;

/// The period of a report: days, both ends included.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct PeriodQuery {
    /// The first day (default: 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// The last day (default: today; not after today).
    pub to: Option<NaiveDate>,
}

impl PeriodQuery {
    /// The days asked for, checked: not in the future, in order, at most [`MAX_DAYS`].
    pub fn days(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), Error> {
        let to = self.to.unwrap_or(today);
        if to > today {
            return Err(Error::invalid(
                "to",
                format!("{to} is after today ({today}): a report covers days past; the ledger's `on` looks ahead"),
            ));
        }
        let from = self.from.unwrap_or(to - Duration::days(29));
        if from > to {
            return Err(Error::invalid(
                "from",
                format!("{from} is after the period's last day {to}"),
            ));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(Error::invalid(
                "from",
                format!("{from} – {to} is longer than a report covers ({MAX_DAYS} days)"),
            ));
        }
        Ok((from, to))
    }
}

/// Institutions read together: one statement for their memberships, one for their results.
const BATCH: usize = 50;

/// Each day's counts by state of the staff of each of these institutions (by id).
async fn days_of(
    conn: &mut AnyConnection,
    places: &[&InstitutionPlace],
    from: NaiveDate,
    to: NaiveDate,
    tz: FixedOffset,
) -> Result<HashMap<i64, Vec<StateCounts>>, Error> {
    let n = coverage::length(from, to);
    let mut out: HashMap<i64, Vec<StateCounts>> = places
        .iter()
        .map(|p| (p.id, vec![StateCounts::default(); n]))
        .collect();
    let ids: Vec<i64> = places.iter().map(|p| p.id).collect();
    let (from_s, to_s) = (from.to_string(), to.to_string());
    let rows = store::in_period(conn, &ids, &from_s, &to_s).await?;
    if rows.is_empty() {
        return Ok(out);
    }
    let mut samples: HashMap<i64, Vec<Sample>> = HashMap::new();
    for r in store::results_in_period(conn, &ids, &from_s, &to_s).await? {
        samples
            .entry(r.person_id)
            .or_default()
            .push(sample_of(&r, tz));
    }
    for v in samples.values_mut() {
        v.sort_by_key(|s| s.at);
    }
    let mut cycles: HashMap<&str, Cycle> = HashMap::new();
    let date = |field: &str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|e| {
            Error::internal(anyhow::anyhow!(
                "a membership's {field} {v:?} is not a date: {e}"
            ))
        })
    };
    for r in &rows {
        let cycle = match cycles.get(r.schedule.as_str()) {
            Some(c) => *c,
            None => *cycles
                .entry(r.schedule.as_str())
                .or_insert(cycle_of(&r.schedule)?),
        };
        let member = Member {
            joined: date("joined_on", &r.joined_on)?,
            left: r
                .left_on
                .as_deref()
                .map(|l| date("left_on", l))
                .transpose()?,
            cycle,
            warn_days: u32::try_from(r.warn_days).unwrap_or(0),
            samples: samples.get(&r.person_id).map_or(&[][..], |v| v),
        };
        let Some(days) = out.get_mut(&r.institution_id) else {
            continue;
        };
        coverage::tally(&member, from, to, tz, |offset, state| {
            if let Some(d) = days.get_mut(offset) {
                d.add(state, 1);
            }
        });
    }
    Ok(out)
}

fn sum(days: &[StateCounts]) -> StateCounts {
    let mut total = StateCounts::default();
    for d in days {
        total.merge(d);
    }
    total
}

/// One institution's report.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn institution(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    q: &PeriodQuery,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<CoverageReport, Error> {
    actor.require(Action::ViewLedger)?;
    let place = ledger::institution_for(conn, actor, code).await?;
    let (from, to) = q.days(today)?;
    let days = days_of(conn, &[&place], from, to, tz)
        .await?
        .remove(&place.id)
        .unwrap_or_default();
    let line = InstitutionCoverage::new(
        place.code.clone(),
        place.name.clone(),
        place.region.clone(),
        sum(&days),
    );
    Ok(CoverageReport::new(
        Some((place.code, place.name)),
        place.region,
        from,
        days,
        vec![line],
    ))
}

/// A region's report (a prefix of region codes, as the caller's scope allows): every
/// institution in it, worst first, and the days summed over them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn region(
    conn: &mut AnyConnection,
    actor: &Actor,
    region: Option<&str>,
    q: &PeriodQuery,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<CoverageReport, Error> {
    actor.require(Action::ViewCompliance)?;
    let region = ledger::region_for(actor, region)?;
    let (from, to) = q.days(today)?;
    let mut days = vec![StateCounts::default(); coverage::length(from, to)];
    let mut institutions = vec![];
    let places = registry::institutions_in(conn, &region).await?;
    for batch in places.chunks(BATCH) {
        let refs: Vec<&InstitutionPlace> = batch.iter().collect();
        let mut counted = days_of(conn, &refs, from, to, tz).await?;
        for place in batch {
            let own = counted.remove(&place.id).unwrap_or_default();
            for (all, d) in days.iter_mut().zip(&own) {
                all.merge(d);
            }
            institutions.push(InstitutionCoverage::new(
                place.code.clone(),
                place.name.clone(),
                place.region.clone(),
                sum(&own),
            ));
        }
    }
    Ok(CoverageReport::new(None, region, from, days, institutions))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn a_period_defaults_to_the_last_thirty_days_and_stays_in_the_past() {
        let today = d(12, 5);
        let q = PeriodQuery::default();
        assert_eq!(q.days(today).unwrap(), (d(11, 6), today));
        let ahead = PeriodQuery {
            to: Some(d(12, 6)),
            ..Default::default()
        };
        assert!(ahead
            .days(today)
            .unwrap_err()
            .to_string()
            .contains("after today"));
        let backwards = PeriodQuery {
            from: Some(d(12, 2)),
            to: Some(d(12, 1)),
        };
        assert!(backwards.days(today).is_err());
        let quarter = PeriodQuery {
            from: Some(d(9, 5)),
            to: Some(d(12, 5)),
        };
        assert_eq!(quarter.days(today).unwrap(), (d(9, 5), d(12, 5)), "92 days");
        let longer = PeriodQuery {
            from: Some(d(9, 4)),
            to: Some(d(12, 5)),
        };
        assert!(longer.days(today).is_err(), "93 days");
    }
}
