//! 资质 a testing lab's qualification, computed from its record — never typed in.
//!
//! The rules (`../shared/domain.md` §10): a lab may test when it is registered (its practice
//! licence, 执业许可, valid), has a BSL-2 PCR lab approved (备案, valid) and passed external
//! quality assessment (室间质评, EQA) — its latest round. Large-scale work (大规模检测) needs
//! more: no penalty (行政处罚) within the last 2 years and the latest 2 EQA rounds passed.
//!
//! Edges, written down: a document is valid through its last day; a penalty decided on day P
//! counts while `today < P + 24 months` (23 months ago it bars large-scale work, 25 months ago it
//! no longer does; exactly 24 months ago it no longer does); the "latest" EQA rounds are the
//! most recently held (by date), whatever order they were recorded in.

use chrono::{Months, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// What the rules look at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The practice licence's last valid day (none: no licence recorded).
    pub licence_until: Option<NaiveDate>,
    /// The PCR lab approval's last valid day.
    pub pcr_until: Option<NaiveDate>,
    /// EQA rounds: the day held and whether the lab passed.
    pub eqa: Vec<(NaiveDate, bool)>,
    /// The days penalties were decided.
    pub penalties: Vec<NaiveDate>,
}

crate::domain::vocab::vocabulary! {
    /// Why a lab falls short.
    Shortfall {
        /// 无有效执业许可 no valid practice licence
        NoLicence = "no_licence",
        /// 无有效PCR实验室备案 no valid PCR lab approval
        NoPcrApproval = "no_pcr_approval",
        /// 无室间质评记录 no EQA round recorded
        NoEqa = "no_eqa",
        /// 最近一次室间质评未通过 the latest EQA round was failed
        EqaFailed = "eqa_failed",
        /// 室间质评不足两次 fewer than two EQA rounds (large-scale work)
        FewerThanTwoEqa = "fewer_than_two_eqa",
        /// 最近两次室间质评未全部通过 one of the latest two rounds failed (large-scale work)
        EqaFailedInLastTwo = "eqa_failed_in_last_two",
        /// 两年内受过行政处罚 a penalty within the last two years (large-scale work)
        RecentPenalty = "recent_penalty",
    }
}

/// A lab's qualification on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Qualification {
    /// May test at all.
    pub qualified: bool,
    /// May take on large-scale (mass) testing.
    pub large_scale: bool,
    /// What keeps it from testing (empty when qualified).
    pub shortfalls: Vec<Shortfall>,
    /// What keeps it from large-scale work (besides the above).
    pub large_scale_shortfalls: Vec<Shortfall>,
}

/// How long a penalty bars large-scale work.
pub const PENALTY_MONTHS: u32 = 24;

/// The qualification a record gives on `today`.
pub fn qualify(r: &Record, today: NaiveDate) -> Qualification {
    let mut shortfalls = vec![];
    if r.licence_until.is_none_or(|u| u < today) {
        shortfalls.push(Shortfall::NoLicence);
    }
    if r.pcr_until.is_none_or(|u| u < today) {
        shortfalls.push(Shortfall::NoPcrApproval);
    }
    let mut rounds: Vec<(NaiveDate, bool)> =
        r.eqa.iter().copied().filter(|(d, _)| *d <= today).collect();
    rounds.sort_by_key(|r| std::cmp::Reverse(r.0));
    match rounds.first() {
        None => shortfalls.push(Shortfall::NoEqa),
        Some((_, false)) => shortfalls.push(Shortfall::EqaFailed),
        Some(_) => {}
    }
    let mut large = vec![];
    match rounds.get(..2) {
        None if !rounds.is_empty() => large.push(Shortfall::FewerThanTwoEqa),
        Some(two) if two.iter().any(|(_, passed)| !passed) && rounds[0].1 => {
            large.push(Shortfall::EqaFailedInLastTwo)
        }
        _ => {}
    }
    let recent = r.penalties.iter().any(|p| {
        *p <= today
            && p.checked_add_months(Months::new(PENALTY_MONTHS))
                .is_none_or(|end| today < end)
    });
    if recent {
        large.push(Shortfall::RecentPenalty);
    }
    let qualified = shortfalls.is_empty();
    Qualification {
        qualified,
        large_scale: qualified && large.is_empty(),
        shortfalls,
        large_scale_shortfalls: large,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn today() -> NaiveDate {
        d(2026, 12, 5)
    }

    fn good() -> Record {
        Record {
            licence_until: Some(d(2028, 1, 1)),
            pcr_until: Some(d(2027, 6, 30)),
            eqa: vec![(d(2026, 4, 10), true), (d(2026, 10, 12), true)],
            penalties: vec![],
        }
    }

    #[test]
    fn a_licensed_approved_lab_that_passed_its_last_two_rounds_may_do_large_scale_work() {
        let q = qualify(&good(), today());
        assert!(q.qualified && q.large_scale, "{q:?}");
        assert!(q.shortfalls.is_empty() && q.large_scale_shortfalls.is_empty());
    }

    #[test]
    fn failing_the_latest_round_stops_all_testing_an_older_failure_only_large_scale_work() {
        let mut r = good();
        r.eqa = vec![(d(2026, 4, 10), true), (d(2026, 10, 12), false)];
        let q = qualify(&r, today());
        assert!(!q.qualified && !q.large_scale);
        assert_eq!(q.shortfalls, [Shortfall::EqaFailed]);
        // Failed in April, passed in October: may test, not at large scale.
        r.eqa = vec![(d(2026, 10, 12), true), (d(2026, 4, 10), false)];
        let q = qualify(&r, today());
        assert!(q.qualified && !q.large_scale);
        assert_eq!(q.large_scale_shortfalls, [Shortfall::EqaFailedInLastTwo]);
        // Three rounds: the oldest failure no longer counts.
        r.eqa.push((d(2026, 7, 1), true));
        assert!(qualify(&r, today()).large_scale);
    }

    #[test]
    fn one_round_is_enough_to_test_not_for_large_scale_work() {
        let mut r = good();
        r.eqa = vec![(d(2026, 10, 12), true)];
        let q = qualify(&r, today());
        assert!(q.qualified && !q.large_scale);
        assert_eq!(q.large_scale_shortfalls, [Shortfall::FewerThanTwoEqa]);
        r.eqa.clear();
        assert_eq!(qualify(&r, today()).shortfalls, [Shortfall::NoEqa]);
    }

    #[test]
    fn a_penalty_23_months_ago_bars_large_scale_work_25_months_ago_does_not() {
        let mut r = good();
        r.penalties = vec![d(2025, 1, 5)]; // 23 months before 5 December 2026
        let q = qualify(&r, today());
        assert!(q.qualified && !q.large_scale);
        assert_eq!(q.large_scale_shortfalls, [Shortfall::RecentPenalty]);
        r.penalties = vec![d(2024, 11, 5)]; // 25 months
        assert!(qualify(&r, today()).large_scale);
        // Exactly two years ago: no longer within the last two years.
        r.penalties = vec![d(2024, 12, 5)];
        assert!(qualify(&r, today()).large_scale);
        r.penalties = vec![d(2024, 12, 6)];
        assert!(!qualify(&r, today()).large_scale);
    }

    #[test]
    fn documents_are_valid_through_their_last_day() {
        let mut r = good();
        r.licence_until = Some(today());
        assert!(qualify(&r, today()).qualified);
        r.licence_until = Some(today() - chrono::Duration::days(1));
        assert_eq!(qualify(&r, today()).shortfalls, [Shortfall::NoLicence]);
        r.pcr_until = None;
        assert_eq!(
            qualify(&r, today()).shortfalls,
            [Shortfall::NoLicence, Shortfall::NoPcrApproval]
        );
    }

    #[test]
    fn rounds_and_penalties_in_the_future_do_not_count_yet() {
        let mut r = good();
        r.eqa.push((d(2027, 4, 1), false));
        r.penalties.push(d(2027, 1, 1));
        let q = qualify(&r, today());
        assert!(q.qualified && q.large_scale, "{q:?}");
    }
}
