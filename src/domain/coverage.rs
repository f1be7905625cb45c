//! 合规统计 a period's coverage: for each day of a period, the state each member of an
//! institution was in — covered, due soon, overdue, never tested, excluded — judged by the same
//! rule as the ledger ([`programme::duty`]) from the samples taken up to that day.
//!
//! The rules, written down:
//! - A membership counts on the days `joined ≤ day < left` (a roster applied on day E ends the
//!   old membership and starts the new one on E, so a class change is one person on each day).
//! - A sample counts from its local sampling day on, with the result it has now: a negative
//!   released on the next morning covers its sampling day in the report (the report says how
//!   well staff were covered, not what the ledger showed at each hour); a positive excludes from
//!   its sampling day until a negative sampled after it.
//! - The member's programme is judged by its current version (the report is a reading of today's
//!   rules over past days; a version's change re-judges the past too).

use super::programme::{self, Cycle, DutyState, Outcome, Sample};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

/// One membership over a period.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    pub joined: NaiveDate,
    /// The first day no longer a member (none: still one).
    pub left: Option<NaiveDate>,
    pub cycle: Cycle,
    pub warn_days: u32,
    /// The person's samples, oldest first.
    pub samples: &'a [Sample],
}

/// Calls `each(offset, state)` for every day of `from..=to` the member belonged (`offset` is
/// days after `from`): the state the ledger's rule gives on that day from the samples taken up
/// to it. What stands (last negative, hold) is worked out again only on a day a sample was
/// taken; the other days are a comparison — a region's million staff over a month stay cheap.
pub fn tally(
    m: &Member<'_>,
    from: NaiveDate,
    to: NaiveDate,
    tz: FixedOffset,
    mut each: impl FnMut(usize, DutyState),
) {
    let first = from.max(m.joined);
    let last = match m.left {
        Some(left) => to.min(left - Duration::days(1)),
        None => to,
    };
    if first > last {
        return;
    }
    let local = |at: DateTime<Utc>| at.with_timezone(&tz).date_naive();
    let mut known = 0;
    let mut cover: Option<NaiveDate> = None;
    let mut hold: Option<Outcome> = None;
    let mut day = first;
    let mut offset = usize::try_from((first - from).num_days()).unwrap_or(0);
    while day <= last {
        let before = known;
        while known < m.samples.len() && local(m.samples[known].at) <= day {
            known += 1;
        }
        if known != before {
            let seen = &m.samples[..known];
            let s = programme::standing(seen);
            cover = s
                .last_negative
                .map(|i| programme::covered_through(m.cycle, seen[i].at, tz));
            hold = s.hold.map(|i| seen[i].outcome);
        }
        each(
            offset,
            programme::judge(cover, hold, day, m.warn_days).state(),
        );
        day += Duration::days(1);
        offset += 1;
    }
}

/// The days of `from..=to` the member belonged, each with its state.
pub fn days(
    m: &Member<'_>,
    from: NaiveDate,
    to: NaiveDate,
    tz: FixedOffset,
) -> Vec<(NaiveDate, DutyState)> {
    let mut out = vec![];
    tally(m, from, to, tz, |offset, state| {
        out.push((from + Duration::days(offset as i64), state));
    });
    out
}

/// The number of days of a period, both ends included (0 when it ends before it starts).
pub fn length(from: NaiveDate, to: NaiveDate) -> usize {
    usize::try_from((to - from).num_days() + 1).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tz() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn at(m: u32, day: u32, h: u32, outcome: Outcome) -> Sample {
        Sample {
            at: tz()
                .with_ymd_and_hms(2026, m, day, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc),
            outcome,
        }
    }

    fn staff(samples: &[Sample]) -> Member<'_> {
        Member {
            joined: d(1, 1),
            left: None,
            cycle: Cycle::Days(14),
            warn_days: 3,
            samples,
        }
    }

    fn states(v: &[(NaiveDate, DutyState)]) -> Vec<DutyState> {
        v.iter().map(|(_, s)| *s).collect()
    }

    #[test]
    fn a_negative_covers_from_its_sampling_day_through_fourteen_more() {
        use DutyState::*;
        let s = [at(3, 2, 9, Outcome::Negative)];
        let v = days(&staff(&s), d(3, 1), d(3, 18), tz());
        assert_eq!(v.len(), 18);
        assert_eq!(v[0], (d(3, 1), NeverTested));
        assert_eq!(v[1], (d(3, 2), Covered));
        // Covered through 16 March; due soon on its last three days.
        assert_eq!(v[12], (d(3, 13), Covered));
        assert_eq!(v[13], (d(3, 14), DueSoon));
        assert_eq!(v[15], (d(3, 16), DueSoon));
        assert_eq!(v[16], (d(3, 17), Overdue));
        assert_eq!(
            states(&v).iter().filter(|s| **s == Overdue).count(),
            2,
            "17 and 18 March"
        );
    }

    #[test]
    fn a_sample_at_local_midnight_counts_on_its_local_day() {
        // 00:00 on 5 March in Beijing is 16:00 on 4 March in UTC.
        let s = [at(3, 5, 0, Outcome::Negative)];
        let v = days(&staff(&s), d(3, 4), d(3, 5), tz());
        assert_eq!(states(&v), vec![DutyState::NeverTested, DutyState::Covered]);
    }

    #[test]
    fn a_positive_excludes_until_a_negative_sampled_after_it() {
        use DutyState::*;
        let s = [
            at(3, 1, 9, Outcome::Negative),
            at(3, 5, 9, Outcome::PendingRecheck),
            at(3, 7, 9, Outcome::Negative),
        ];
        let v = days(&staff(&s), d(3, 4), d(3, 8), tz());
        assert_eq!(
            states(&v),
            vec![Covered, Excluded, Excluded, Covered, Covered]
        );
    }

    #[test]
    fn only_the_days_of_membership_count() {
        let s = [at(2, 20, 9, Outcome::Negative)];
        let m = Member {
            joined: d(3, 3),
            left: Some(d(3, 6)),
            ..staff(&s)
        };
        let v = days(&m, d(3, 1), d(3, 31), tz());
        assert_eq!(
            v.iter().map(|(day, _)| *day).collect::<Vec<_>>(),
            vec![d(3, 3), d(3, 4), d(3, 5)],
            "joined on the 3rd, left on the 6th"
        );
        // Joined after the period, or left before it: no days.
        let later = Member {
            joined: d(4, 1),
            left: None,
            ..staff(&s)
        };
        assert!(days(&later, d(3, 1), d(3, 31), tz()).is_empty());
        let gone = Member {
            joined: d(1, 1),
            left: Some(d(3, 1)),
            ..staff(&s)
        };
        assert!(days(&gone, d(3, 1), d(3, 31), tz()).is_empty());
    }

    #[test]
    fn a_pending_result_neither_covers_nor_excludes() {
        let s = [at(3, 2, 9, Outcome::Pending)];
        let v = days(&staff(&s), d(3, 2), d(3, 3), tz());
        assert_eq!(
            states(&v),
            vec![DutyState::NeverTested, DutyState::NeverTested]
        );
    }

    #[test]
    fn each_day_agrees_with_the_ledgers_rule_on_that_day() {
        let s = [
            at(1, 10, 8, Outcome::Negative),
            at(2, 1, 22, Outcome::Negative),
            at(2, 20, 10, Outcome::Positive),
            at(2, 22, 10, Outcome::Negative),
        ];
        let m = Member {
            cycle: Cycle::Months(1),
            ..staff(&s)
        };
        for (day, state) in days(&m, d(1, 1), d(3, 31), tz()) {
            let known: Vec<Sample> = s
                .iter()
                .copied()
                .filter(|x| x.at.with_timezone(&tz()).date_naive() <= day)
                .collect();
            assert_eq!(
                programme::duty(m.cycle, &known, day, tz(), 3).state(),
                state,
                "{day}"
            );
        }
    }

    #[test]
    fn a_period_counts_both_ends() {
        assert_eq!(length(d(3, 1), d(3, 31)), 31);
        assert_eq!(length(d(3, 1), d(3, 1)), 1);
        assert_eq!(length(d(3, 2), d(3, 1)), 0);
    }

    proptest::proptest! {
        /// Whatever the samples, their hours and outcomes, the membership's dates and the
        /// cycle, each day's state is the ledger's rule on that day over the samples taken up
        /// to it.
        #[test]
        fn every_day_is_the_ledgers_rule_over_what_was_sampled_by_then(
            raw in proptest::collection::vec((0i64..80, 0u32..24, 0u8..4), 0..8),
            joined in 0i64..40,
            stay in proptest::option::of(0i64..60),
            months in proptest::bool::ANY,
            warn in 0u32..5,
        ) {
            let start = d(1, 1);
            let mut samples: Vec<Sample> = raw
                .iter()
                .map(|(day, h, o)| Sample {
                    at: tz()
                        .from_local_datetime(&(start + Duration::days(*day)).and_hms_opt(*h, 0, 0).unwrap())
                        .unwrap()
                        .with_timezone(&Utc),
                    outcome: [Outcome::Negative, Outcome::Positive, Outcome::PendingRecheck, Outcome::Pending][*o as usize],
                })
                .collect();
            samples.sort_by_key(|s| s.at);
            let m = Member {
                joined: start + Duration::days(joined),
                left: stay.map(|n| start + Duration::days(joined + n)),
                cycle: if months { Cycle::Months(1) } else { Cycle::Days(14) },
                warn_days: warn,
                samples: &samples,
            };
            let (from, to) = (start + Duration::days(10), start + Duration::days(70));
            let got = days(&m, from, to, tz());
            for (day, state) in &got {
                let known: Vec<Sample> = samples
                    .iter()
                    .copied()
                    .filter(|x| x.at.with_timezone(&tz()).date_naive() <= *day)
                    .collect();
                proptest::prop_assert_eq!(programme::duty(m.cycle, &known, *day, tz(), warn).state(), *state);
                proptest::prop_assert!(*day >= m.joined && m.left.is_none_or(|l| *day < l));
            }
            let expected = length(from.max(m.joined), to.min(m.left.map_or(to, |l| l - Duration::days(1))));
            proptest::prop_assert_eq!(got.len(), expected);
        }
    }
}
