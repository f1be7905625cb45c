//! 检测方案 testing programmes as rules: who is tested when, and what a person's ledger line
//! (台账) says on a given day. A programme's schedule is one of three shapes the plans use —
//! a cycle from the last qualifying negative (staff every 14 days, or monthly), tests on days
//! counted from an anchor (quarantine days 1, 3–5, 13), or N tests spaced by at least H hours
//! (some arrivals: twice, 24 h apart). Plain data and functions, no I/O; days are the lab's
//! local calendar days, and the boundary rules are written down here and tested.
//!
//! The boundary rules:
//! - A cycle counts calendar days: a negative sampled on local day D (at any hour) covers
//!   every day up to and including D + cycle (14 days: sampled 09:00 on 1 December, it covers
//!   until 24:00 on 15 December); the next test is due on D + cycle at the latest, and from
//!   D + cycle + 1 the person may not work. A monthly cycle ends on the same day of the next
//!   month, or on that month's last day (31 January → 28/29 February).
//! - Days from an anchor count the anchor's own day as day 1 (the first day of quarantine is
//!   day 1); a window "days 3–5" is satisfied by a sample on any of those days.
//! - Spaced tests: each test must be sampled at least H hours after the one before.

use chrono::{DateTime, Duration, FixedOffset, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

crate::domain::vocab::vocabulary! {
    /// Whom a programme covers.
    Covers {
        /// 从业人员 an institution's staff, by class
        Staff = "staff",
        /// 隔离/管控人群 a cohort with anchor dates (quarantine, arrival, discharge)
        Cohort = "cohort",
        /// 环境 sampling points of a market or cold store
        Environment = "environment",
    }
}

crate::domain::vocab::vocabulary! {
    /// Whether a programme's people may be pooled.
    Pooling {
        /// 可混采 pooled within the institution
        Pooled = "pooled",
        /// 单采 key populations: one person per tube
        Single = "single",
    }
}

crate::domain::vocab::vocabulary! {
    /// Why a ledger line keeps a person off duty whatever their last negative.
    Hold {
        /// 阳性 a positive, preliminary or confirmed
        Positive = "positive",
        /// 待复核 a member of a positive pool awaiting the single-tube re-check
        PendingRecheck = "pending_recheck",
    }
}

crate::domain::vocab::vocabulary! {
    /// A ledger line's state on a day.
    DutyState {
        /// 在岗 covered by a negative within the cycle
        Covered = "covered",
        /// 即将到期 covered, the next test due within the warning days
        DueSoon = "due_soon",
        /// 已超期 the cover ended: not on duty until tested
        Overdue = "overdue",
        /// 未检测 no qualifying negative at all: not on duty
        NeverTested = "never_tested",
        /// 暂停上岗 positive or pending re-check: never on duty
        Excluded = "excluded",
    }
}

impl Hold {
    pub fn outcome(self) -> Outcome {
        match self {
            Hold::Positive => Outcome::Positive,
            Hold::PendingRecheck => Outcome::PendingRecheck,
        }
    }

    pub fn of(outcome: Outcome) -> Option<Hold> {
        match outcome {
            Outcome::Positive => Some(Hold::Positive),
            Outcome::PendingRecheck => Some(Hold::PendingRecheck),
            _ => None,
        }
    }
}

/// How long one qualifying negative lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Days(u32),
    Months(u32),
}

impl Cycle {
    /// The last day a negative sampled on `day` covers.
    pub fn last_covered_day(self, day: NaiveDate) -> NaiveDate {
        match self {
            Cycle::Days(n) => day + Duration::days(i64::from(n)),
            Cycle::Months(n) => day
                .checked_add_months(Months::new(n))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

/// A window of days counted from an anchor (day 1 = the anchor's day), both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayWindow {
    pub from: u32,
    pub to: u32,
}

impl DayWindow {
    pub fn day(n: u32) -> DayWindow {
        DayWindow { from: n, to: n }
    }

    /// The window's first and last local day, for an anchor.
    pub fn dates(self, anchor: NaiveDate) -> (NaiveDate, NaiveDate) {
        let at = |n: u32| anchor + Duration::days(i64::from(n.max(1)) - 1);
        (at(self.from), at(self.to.max(self.from)))
    }
}

/// What a programme asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// A negative at least every cycle, counted from the last one (staff, cold chain).
    Cycle { cycle: Cycle },
    /// A test in each window of days from an anchor (quarantine, discharge follow-up).
    Days { windows: Vec<DayWindow> },
    /// `tests` tests from the anchor on, each at least `hours` after the one before.
    Spaced { tests: u32, hours: u32 },
}

/// A sample that may count for a schedule: when it was taken, and what it gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// What a sample's result says, as far as a programme cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A released negative from an accredited lab (a pooled negative counts as the member's).
    Negative,
    /// A positive, preliminary or confirmed.
    Positive,
    /// A member of a positive pool awaiting the single-tube re-check.
    PendingRecheck,
    /// Taken, no result yet.
    Pending,
}

/// A staff member's line of the ledger on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Covered by a negative until `until` (its last day).
    Covered { until: NaiveDate },
    /// Covered, but the next test is due within the warning days: by `due`.
    DueSoon { due: NaiveDate },
    /// The last negative's cover ended `days` days ago: not on duty until tested.
    Overdue { since: NaiveDate, days: i64 },
    /// No qualifying negative at all: not on duty until tested.
    NeverTested,
    /// Positive, or pending a pool re-check: never on duty until a negative after it.
    Excluded { outcome: Outcome },
}

impl Duty {
    /// Whether the person may work that day.
    pub fn may_work(self) -> bool {
        matches!(self, Duty::Covered { .. } | Duty::DueSoon { .. })
    }

    pub fn state(self) -> DutyState {
        match self {
            Duty::Covered { .. } => DutyState::Covered,
            Duty::DueSoon { .. } => DutyState::DueSoon,
            Duty::Overdue { .. } => DutyState::Overdue,
            Duty::NeverTested => DutyState::NeverTested,
            Duty::Excluded { .. } => DutyState::Excluded,
        }
    }

    pub fn code(self) -> &'static str {
        self.state().as_str()
    }
}

fn local_day(at: DateTime<Utc>, tz: FixedOffset) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// What a person's samples leave standing for a cycle: the newest negative, and a positive
/// or pending re-check newer than it (which holds the person off duty until a negative after
/// it). Indices into the samples given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub last_negative: Option<usize>,
    pub hold: Option<usize>,
}

pub fn standing(samples: &[Sample]) -> Standing {
    let last_negative = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| s.outcome == Outcome::Negative)
        .max_by_key(|(_, s)| s.at)
        .map(|(i, _)| i);
    let negative_at = last_negative.map(|i| samples[i].at);
    let hold = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.outcome, Outcome::Positive | Outcome::PendingRecheck))
        .filter(|(_, s)| negative_at.is_none_or(|n| s.at > n))
        .max_by_key(|(_, s)| s.at)
        .map(|(i, _)| i);
    Standing {
        last_negative,
        hold,
    }
}

/// The last local day a negative sampled at `at` covers, for a cycle.
pub fn covered_through(cycle: Cycle, at: DateTime<Utc>, tz: FixedOffset) -> NaiveDate {
    cycle.last_covered_day(local_day(at, tz))
}

/// A ledger line on `today` from what stands: the last day covered by the last negative (none:
/// never tested) and a hold. The one rule both [`duty`] and a stored line are judged by.
pub fn judge(
    covered_through: Option<NaiveDate>,
    hold: Option<Outcome>,
    today: NaiveDate,
    warn_days: u32,
) -> Duty {
    if let Some(outcome) = hold {
        return Duty::Excluded { outcome };
    }
    let Some(until) = covered_through else {
        return Duty::NeverTested;
    };
    if today > until {
        return Duty::Overdue {
            since: until + Duration::days(1),
            days: (today - until).num_days(),
        };
    }
    if (until - today).num_days() < i64::from(warn_days) {
        return Duty::DueSoon { due: until };
    }
    Duty::Covered { until }
}

/// A cycle's ledger line on `today`: from the newest result that matters. A positive or a
/// pending re-check newer than the last negative excludes; otherwise the last negative's cover
/// decides (due soon within `warn_days` of its end).
pub fn duty(
    cycle: Cycle,
    samples: &[Sample],
    today: NaiveDate,
    tz: FixedOffset,
    warn_days: u32,
) -> Duty {
    let s = standing(samples);
    judge(
        s.last_negative
            .map(|i| covered_through(cycle, samples[i].at, tz)),
        s.hold.map(|i| samples[i].outcome),
        today,
        warn_days,
    )
}

/// A local day as stored: days since 1970-01-01.
pub fn day_number(day: NaiveDate) -> i64 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)).num_days()
}

/// The local day of a stored day number.
pub fn from_day_number(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(Duration::days(n)))
        .unwrap_or(NaiveDate::MAX)
}

/// Where one window of a day schedule stands on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Not open yet: opens on `from`.
    Upcoming { from: NaiveDate, to: NaiveDate },
    /// Open today, no sample in it yet.
    Due { from: NaiveDate, to: NaiveDate },
    /// A sample was taken in it (whatever it gave).
    Done { at: DateTime<Utc> },
    /// Closed without a sample.
    Missed { from: NaiveDate, to: NaiveDate },
}

/// Each window of a day schedule on `today`, for an anchor day.
pub fn windows(
    windows: &[DayWindow],
    anchor: NaiveDate,
    samples: &[Sample],
    today: NaiveDate,
    tz: FixedOffset,
) -> Vec<WindowState> {
    windows
        .iter()
        .map(|w| {
            let (from, to) = w.dates(anchor);
            let taken = samples
                .iter()
                .map(|s| s.at)
                .filter(|at| (from..=to).contains(&local_day(*at, tz)))
                .min();
            match taken {
                Some(at) => WindowState::Done { at },
                None if today < from => WindowState::Upcoming { from, to },
                None if today <= to => WindowState::Due { from, to },
                None => WindowState::Missed { from, to },
            }
        })
        .collect()
}

/// Where spaced tests stand: how many count (each at least `hours` after the one counted
/// before it, from the anchor on), and when the next may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpacedState {
    pub done: u32,
    pub needed: u32,
    /// The earliest the next test counts; none when all are done.
    pub next_from: Option<DateTime<Utc>>,
}

pub fn spaced(tests: u32, hours: u32, anchor: DateTime<Utc>, samples: &[Sample]) -> SpacedState {
    let mut times: Vec<DateTime<Utc>> = samples
        .iter()
        .map(|s| s.at)
        .filter(|at| *at >= anchor)
        .collect();
    times.sort();
    let gap = Duration::hours(i64::from(hours));
    let mut done = 0;
    let mut next_from = anchor;
    for at in times {
        if done == tests {
            break;
        }
        if at >= next_from {
            done += 1;
            next_from = at + gap;
        }
    }
    SpacedState {
        done,
        needed: tests,
        next_from: (done < tests).then_some(next_from),
    }
}

/// Where a cohort member stands on `today`: their windows (days from the anchor) or spaced
/// tests (from the anchor's instant), and what that asks of the site today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    Windows(Vec<WindowState>),
    Spaced(SpacedState),
    /// A cycle schedule is followed on a ledger, not in a cohort.
    NotACohortSchedule,
}

impl FollowUp {
    /// Windows that closed without a sample.
    pub fn missed(&self) -> usize {
        match self {
            FollowUp::Windows(w) => w
                .iter()
                .filter(|s| matches!(s, WindowState::Missed { .. }))
                .count(),
            _ => 0,
        }
    }

    /// Whether a test is due today: a window open without a sample, or the next spaced test
    /// may be taken (its earliest time is today or past).
    pub fn due(&self, today: NaiveDate, tz: FixedOffset) -> bool {
        match self {
            FollowUp::Windows(w) => w.iter().any(|s| matches!(s, WindowState::Due { .. })),
            FollowUp::Spaced(s) => s.next_from.is_some_and(|t| local_day(t, tz) <= today),
            FollowUp::NotACohortSchedule => false,
        }
    }

    /// Whether every test the schedule asks for is done.
    pub fn complete(&self) -> bool {
        match self {
            FollowUp::Windows(w) => w.iter().all(|s| matches!(s, WindowState::Done { .. })),
            FollowUp::Spaced(s) => s.done >= s.needed,
            FollowUp::NotACohortSchedule => false,
        }
    }
}

/// A cohort member's follow-up: `anchor` is the instant their clock starts (quarantine start,
/// arrival, discharge); its local day is day 1.
pub fn follow_up(
    schedule: &Schedule,
    anchor: DateTime<Utc>,
    samples: &[Sample],
    today: NaiveDate,
    tz: FixedOffset,
) -> FollowUp {
    match schedule {
        Schedule::Days { windows: w } => {
            FollowUp::Windows(windows(w, local_day(anchor, tz), samples, today, tz))
        }
        Schedule::Spaced { tests, hours } => {
            FollowUp::Spaced(spaced(*tests, *hours, anchor, samples))
        }
        Schedule::Cycle { .. } => FollowUp::NotACohortSchedule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn tz() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    /// A local time in the lab's zone, as UTC.
    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        tz().with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn neg(t: DateTime<Utc>) -> Sample {
        Sample {
            at: t,
            outcome: Outcome::Negative,
        }
    }

    const FORTNIGHT: Cycle = Cycle::Days(14);

    #[test]
    fn a_negative_at_nine_on_day_zero_covers_to_the_end_of_day_fourteen() {
        let s = [neg(at(2026, 12, 1, 9))];
        let on = |d| duty(FORTNIGHT, &s, d, tz(), 2);
        assert_eq!(
            on(day(2026, 12, 1)),
            Duty::Covered {
                until: day(2026, 12, 15)
            }
        );
        assert_eq!(
            on(day(2026, 12, 13)),
            Duty::Covered {
                until: day(2026, 12, 15)
            }
        );
        assert_eq!(
            on(day(2026, 12, 14)),
            Duty::DueSoon {
                due: day(2026, 12, 15)
            }
        );
        assert_eq!(
            on(day(2026, 12, 15)),
            Duty::DueSoon {
                due: day(2026, 12, 15)
            }
        );
        assert!(on(day(2026, 12, 15)).may_work());
        assert_eq!(
            on(day(2026, 12, 16)),
            Duty::Overdue {
                since: day(2026, 12, 16),
                days: 1
            }
        );
        assert!(!on(day(2026, 12, 16)).may_work());
    }

    #[test]
    fn the_day_is_the_labs_local_day_not_utc() {
        // 23:30 local on 1 December is 15:30 UTC the same day; 00:30 local on 2 December is
        // 16:30 UTC on 1 December — and counts from 2 December.
        let late = tz()
            .with_ymd_and_hms(2026, 12, 1, 23, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let early = tz()
            .with_ymd_and_hms(2026, 12, 2, 0, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            duty(FORTNIGHT, &[neg(late)], day(2026, 12, 16), tz(), 0),
            Duty::Overdue {
                since: day(2026, 12, 16),
                days: 1
            }
        );
        assert_eq!(
            duty(FORTNIGHT, &[neg(early)], day(2026, 12, 16), tz(), 0),
            Duty::Covered {
                until: day(2026, 12, 16)
            }
        );
    }

    #[test]
    fn a_monthly_cycle_ends_on_the_same_day_or_the_months_last() {
        assert_eq!(
            Cycle::Months(1).last_covered_day(day(2026, 1, 31)),
            day(2026, 2, 28)
        );
        assert_eq!(
            Cycle::Months(1).last_covered_day(day(2028, 1, 31)),
            day(2028, 2, 29)
        );
        assert_eq!(
            Cycle::Months(1).last_covered_day(day(2026, 3, 15)),
            day(2026, 4, 15)
        );
        assert_eq!(
            Cycle::Months(1).last_covered_day(day(2026, 12, 20)),
            day(2027, 1, 20)
        );
    }

    #[test]
    fn a_positive_or_a_pending_recheck_after_the_last_negative_excludes_until_a_negative() {
        let pool_positive = Sample {
            at: at(2026, 12, 3, 10),
            outcome: Outcome::PendingRecheck,
        };
        let s = [neg(at(2026, 12, 1, 9)), pool_positive];
        assert_eq!(
            duty(FORTNIGHT, &s, day(2026, 12, 3), tz(), 2),
            Duty::Excluded {
                outcome: Outcome::PendingRecheck
            }
        );
        // The single-tube re-check is negative: back on duty, covered from it.
        let s = [
            neg(at(2026, 12, 1, 9)),
            pool_positive,
            neg(at(2026, 12, 4, 8)),
        ];
        assert_eq!(
            duty(FORTNIGHT, &s, day(2026, 12, 4), tz(), 2),
            Duty::Covered {
                until: day(2026, 12, 18)
            }
        );
        // A positive before the last negative no longer matters; a pending sample never does.
        let s = [
            Sample {
                at: at(2026, 11, 1, 9),
                outcome: Outcome::Positive,
            },
            neg(at(2026, 12, 1, 9)),
            Sample {
                at: at(2026, 12, 2, 9),
                outcome: Outcome::Pending,
            },
        ];
        assert_eq!(
            duty(FORTNIGHT, &s, day(2026, 12, 2), tz(), 2),
            Duty::Covered {
                until: day(2026, 12, 15)
            }
        );
    }

    #[test]
    fn someone_never_tested_may_not_work() {
        assert_eq!(
            duty(FORTNIGHT, &[], day(2026, 12, 1), tz(), 2),
            Duty::NeverTested
        );
        let pending = [Sample {
            at: at(2026, 12, 1, 9),
            outcome: Outcome::Pending,
        }];
        assert_eq!(
            duty(FORTNIGHT, &pending, day(2026, 12, 1), tz(), 2),
            Duty::NeverTested
        );
        assert!(!Duty::NeverTested.may_work());
        assert!(!Duty::Excluded {
            outcome: Outcome::Positive
        }
        .may_work());
    }

    #[test]
    fn a_close_contacts_days_one_three_to_five_and_thirteen_with_one_missed() {
        // Quarantine starts 1 December: day 1 is 1 December.
        let w = [
            DayWindow::day(1),
            DayWindow { from: 3, to: 5 },
            DayWindow::day(13),
        ];
        let samples = [
            Sample {
                at: at(2026, 12, 1, 15),
                outcome: Outcome::Negative,
            },
            // Nothing on 3–5 December.
            Sample {
                at: at(2026, 12, 13, 9),
                outcome: Outcome::Pending,
            },
        ];
        let got = windows(&w, day(2026, 12, 1), &samples, day(2026, 12, 13), tz());
        assert_eq!(
            got[0],
            WindowState::Done {
                at: at(2026, 12, 1, 15)
            }
        );
        assert_eq!(
            got[1],
            WindowState::Missed {
                from: day(2026, 12, 3),
                to: day(2026, 12, 5)
            }
        );
        assert_eq!(
            got[2],
            WindowState::Done {
                at: at(2026, 12, 13, 9)
            }
        );
        // On 4 December the window is open, the last one still ahead.
        let got = windows(&w, day(2026, 12, 1), &samples[..1], day(2026, 12, 4), tz());
        assert_eq!(
            got[1],
            WindowState::Due {
                from: day(2026, 12, 3),
                to: day(2026, 12, 5)
            }
        );
        assert_eq!(
            got[2],
            WindowState::Upcoming {
                from: day(2026, 12, 13),
                to: day(2026, 12, 13)
            }
        );
        // An ordinary contact: day 3 after exposure on 1 December is 3 December.
        assert_eq!(
            DayWindow::day(3).dates(day(2026, 12, 1)).0,
            day(2026, 12, 3)
        );
    }

    #[test]
    fn two_arrival_tests_count_only_twenty_four_hours_apart() {
        let anchor = at(2026, 12, 1, 8);
        let s = |hs: &[u32]| -> Vec<Sample> {
            hs.iter()
                .map(|h| neg(anchor + Duration::hours(i64::from(*h))))
                .collect()
        };
        assert_eq!(
            spaced(2, 24, anchor, &s(&[1])),
            SpacedState {
                done: 1,
                needed: 2,
                next_from: Some(anchor + Duration::hours(25))
            }
        );
        // A second test 23 h later does not count; the one at 25 h does.
        assert_eq!(spaced(2, 24, anchor, &s(&[1, 24])).done, 1);
        assert_eq!(
            spaced(2, 24, anchor, &s(&[1, 24, 25])),
            SpacedState {
                done: 2,
                needed: 2,
                next_from: None
            }
        );
        // Exactly 24 h counts; a test before the anchor does not.
        assert_eq!(spaced(2, 24, anchor, &s(&[0, 24])).done, 2);
        let before = [neg(anchor - Duration::hours(1))];
        assert_eq!(spaced(2, 24, anchor, &before).done, 0);
    }

    proptest! {
        /// Whatever the hour, a fortnight's cover ends on the 14th local day after sampling,
        /// and the day after it the person may not work.
        #[test]
        fn cover_is_whole_local_days(d in 0i64..3000, h in 0u32..24, m in 0u32..60) {
            let sampled = tz().with_ymd_and_hms(2024, 1, 1, h, m, 0).unwrap() + Duration::days(d);
            let local = sampled.date_naive();
            let s = [neg(sampled.with_timezone(&Utc))];
            let last = local + Duration::days(14);
            prop_assert!(duty(FORTNIGHT, &s, last, tz(), 0).may_work());
            prop_assert!(!duty(FORTNIGHT, &s, last + Duration::days(1), tz(), 0).may_work());
            prop_assert!(duty(FORTNIGHT, &s, local, tz(), 0).may_work());
        }

        /// Spaced tests never count more than asked, and each counted pair is far enough apart.
        #[test]
        fn spaced_tests_are_bounded(hours in proptest::collection::vec(0i64..200, 0..8), n in 1u32..4) {
            let anchor = at(2026, 12, 1, 8);
            let s: Vec<Sample> = hours.iter().map(|h| neg(anchor + Duration::hours(*h))).collect();
            let st = spaced(n, 24, anchor, &s);
            prop_assert!(st.done <= n);
            prop_assert_eq!(st.next_from.is_none(), st.done == n);
        }
    }

    #[test]
    fn a_close_contact_who_missed_days_three_to_five_is_listed_and_due_on_day_thirteen() {
        let schedule = Schedule::Days {
            windows: vec![
                DayWindow::day(1),
                DayWindow { from: 3, to: 5 },
                DayWindow::day(13),
            ],
        };
        let anchor = at(2026, 12, 1, 20);
        let taken = [neg(at(2026, 12, 1, 22))];
        let on = |d| follow_up(&schedule, anchor, &taken, d, tz());
        // Day 4: the second window is open.
        assert!(on(day(2026, 12, 4)).due(day(2026, 12, 4), tz()));
        assert_eq!(on(day(2026, 12, 4)).missed(), 0);
        // Day 6: it closed without a sample.
        assert_eq!(on(day(2026, 12, 6)).missed(), 1);
        assert!(!on(day(2026, 12, 6)).due(day(2026, 12, 6), tz()));
        // Day 13 is due, and the day-1 window stays done.
        let d13 = on(day(2026, 12, 13));
        assert!(d13.due(day(2026, 12, 13), tz()) && !d13.complete());
        assert!(matches!(&d13, FollowUp::Windows(w) if matches!(w[0], WindowState::Done { .. })));
    }

    #[test]
    fn two_arrivals_tests_count_only_a_day_apart() {
        let schedule = Schedule::Spaced {
            tests: 2,
            hours: 24,
        };
        let anchor = at(2026, 12, 1, 8);
        let early = [neg(at(2026, 12, 1, 9)), neg(at(2026, 12, 2, 8))];
        let f = follow_up(&schedule, anchor, &early, day(2026, 12, 2), tz());
        assert!(!f.complete(), "23 hours apart is not 24");
        assert!(
            f.due(day(2026, 12, 2), tz()),
            "the second may be taken from 09:00 on the 2nd"
        );
        let later = [neg(at(2026, 12, 1, 9)), neg(at(2026, 12, 2, 10))];
        assert!(follow_up(&schedule, anchor, &later, day(2026, 12, 2), tz()).complete());
    }
}
