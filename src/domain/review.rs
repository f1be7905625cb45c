//! 审核 review, as pure rules: what should happen after an automatic call (release, re-test,
//! re-extract, re-run, re-sample), who may decide it, and what a release tells the people in
//! the tube. The reviewer decides; this suggests, and refuses what may not be done.

use super::interpretation::Call;
use super::vocab::{vocabulary, TubeKind};

/// The reason of a pool re-check order (混采阳性 each member is re-tested alone).
pub const POOL_RECHECK: &str = "pool_recheck";

/// The reason of the re-sampling order a CDC rejection makes.
pub const CDC_RETURNED: &str = "cdc_rejected";

vocabulary! {
    /// What a reviewer decides for one attempt (一次检测).
    Decision {
        /// 发布 release a result
        Release = "release",
        /// 复检 test the same extract again (possibly with a second kit)
        Retest = "retest",
        /// 重新提取 extract the specimen again and test it
        Reextract = "reextract",
        /// 重新上机 the run failed its controls: run the tube again
        Rerun = "rerun",
        /// 重新采样 the specimen cannot give a result: take a new swab
        Resample = "resample",
    }
}

vocabulary! {
    /// What a released tube result says.
    Released {
        /// 阴性
        Negative = "negative",
        /// 阳性 (a single tube: preliminary until the CDC confirms it)
        Positive = "positive",
        /// 不确定 a pool with a single-target or grey-zone call: its members are re-checked
        Inconclusive = "inconclusive",
    }
}

vocabulary! {
    /// What a person is told by one result (a version of it).
    ResultValue {
        /// 阴性
        Negative = "negative",
        /// 阳性
        Positive = "positive",
        /// 待复核 a member of a positive or inconclusive pool, awaiting a single-tube re-check
        PendingRecheck = "pending_recheck",
    }
}

vocabulary! {
    /// What a kit's instructions say to do with a single-target or grey-zone tube.
    FollowUp {
        /// test the same specimen again
        Retest = "retest",
        /// take a new swab
        Resample = "resample",
    }
}

/// What the rules suggest for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub decision: Decision,
    /// For a release: what it says.
    pub value: Option<Released>,
    pub why: String,
}

impl Suggestion {
    fn release(value: Released, why: &str) -> Self {
        Self {
            decision: Decision::Release,
            value: Some(value),
            why: why.into(),
        }
    }

    fn then(decision: Decision, why: &str) -> Self {
        Self {
            decision,
            value: None,
            why: why.into(),
        }
    }

    /// A clean negative of a valid run: released in bulk.
    pub fn is_clean_negative(&self) -> bool {
        self.decision == Decision::Release && self.value == Some(Released::Negative)
    }
}

fn is_reactive(c: &Call) -> bool {
    matches!(
        c,
        Call::Positive | Call::SingleTargetPositive { .. } | Call::GreyZone { .. }
    )
}

/// Suggests what to do after an automatic call. `earlier` are the calls of the tube's earlier
/// attempts whose runs were valid, oldest first.
pub fn suggest(
    kind: TubeKind,
    call: &Call,
    run_valid: bool,
    earlier: &[Call],
    follow_up: FollowUp,
) -> Suggestion {
    if !run_valid {
        return Suggestion::then(
            Decision::Rerun,
            "the run's controls failed: every tube on it is run again",
        );
    }
    let pool = kind == TubeKind::Pool;
    match call {
        Call::Negative => Suggestion::release(Released::Negative, "negative, run valid"),
        Call::Positive => Suggestion::release(
            Released::Positive,
            if pool {
                "positive pool: every member is re-checked singly"
            } else {
                "positive: to the CDC for confirmation"
            },
        ),
        Call::SingleTargetPositive { .. } | Call::GreyZone { .. } if pool => Suggestion::release(
            Released::Inconclusive,
            "inconclusive pool: every member is re-checked singly",
        ),
        Call::SingleTargetPositive { .. } | Call::GreyZone { .. } => {
            if earlier.iter().any(is_reactive) {
                Suggestion::release(
                    Released::Positive,
                    "reactive again on re-test: positive, to the CDC for confirmation",
                )
            } else if follow_up == FollowUp::Resample {
                Suggestion::then(
                    Decision::Resample,
                    "single-target or grey zone: the kit says re-sample",
                )
            } else {
                Suggestion::then(
                    Decision::Retest,
                    "single-target or grey zone: test the specimen again",
                )
            }
        }
        Call::Invalid { .. } => {
            if earlier.iter().any(|c| matches!(c, Call::Invalid { .. })) {
                Suggestion::then(Decision::Resample, "invalid twice: take a new swab")
            } else {
                Suggestion::then(
                    Decision::Reextract,
                    "invalid (internal control failed): extract again",
                )
            }
        }
    }
}

/// A decision the rules refuse. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRule {
    #[error("{0} ran this plate: results are released by a different person (two-person review)")]
    OwnWork(String),
    #[error("the run's controls failed: its calls cannot be released, only run again")]
    InvalidRun,
    #[error("this attempt is {0}: only a called attempt awaiting review can be decided")]
    NotAwaitingReview(String),
    #[error("a single tube is released negative or positive; inconclusive is for pools")]
    InconclusiveSingle,
    #[error("a release needs its result (negative, positive or inconclusive)")]
    ValueMissing,
    #[error(
        "the automatic call is {call}; departing from the suggestion ({suggested}) needs a reason"
    )]
    ReasonMissing { call: String, suggested: String },
    #[error("an invalid well cannot be released as negative")]
    InvalidAsNegative,
}

/// What a reviewer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask<'a> {
    pub reviewer: &'a str,
    /// Who created the plate and who imported its results.
    pub technicians: &'a [String],
    pub decision: Decision,
    pub value: Option<Released>,
    pub reason: Option<&'a str>,
}

/// Checks a decision against the rules: two people, a valid run for a release, a result that
/// fits the tube, and a reason whenever the reviewer departs from the suggestion.
pub fn check(
    kind: TubeKind,
    call: &Call,
    run_valid: bool,
    suggestion: &Suggestion,
    ask: &Ask<'_>,
) -> Result<(), ReviewRule> {
    if ask.technicians.iter().any(|t| t == ask.reviewer) {
        return Err(ReviewRule::OwnWork(ask.reviewer.to_string()));
    }
    if ask.decision == Decision::Release {
        if !run_valid {
            return Err(ReviewRule::InvalidRun);
        }
        let value = ask.value.ok_or(ReviewRule::ValueMissing)?;
        if value == Released::Inconclusive && kind != TubeKind::Pool {
            return Err(ReviewRule::InconclusiveSingle);
        }
        if value == Released::Negative && matches!(call, Call::Invalid { .. }) {
            return Err(ReviewRule::InvalidAsNegative);
        }
    }
    let departs = ask.decision != suggestion.decision
        || (ask.decision == Decision::Release && ask.value != suggestion.value);
    if departs && ask.reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(ReviewRule::ReasonMissing {
            call: call_name(call).into(),
            suggested: match suggestion.value {
                Some(v) => format!("release {v}"),
                None => suggestion.decision.to_string(),
            },
        });
    }
    Ok(())
}

pub fn call_name(c: &Call) -> &'static str {
    match c {
        Call::Negative => "negative",
        Call::Positive => "positive",
        Call::SingleTargetPositive { .. } => "single_target_positive",
        Call::GreyZone { .. } => "grey_zone",
        Call::Invalid { .. } => "invalid",
    }
}

/// What a released tube result tells each person in the tube, and whether they must be
/// re-sampled singly.
pub fn member_result(kind: TubeKind, released: Released) -> (ResultValue, bool) {
    match (kind, released) {
        (TubeKind::Pool, Released::Negative) => (ResultValue::Negative, false),
        // A pool's members are never told positive: they are re-checked singly.
        (TubeKind::Pool, _) => (ResultValue::PendingRecheck, true),
        (_, Released::Negative) => (ResultValue::Negative, false),
        (_, _) => (ResultValue::Positive, false),
    }
}

/// The attempt numbers of the next test of a tube: (extraction number) after the latest
/// decision on it.
pub fn next_extraction(latest: Option<(Decision, u32)>) -> u32 {
    match latest {
        None => 1,
        Some((Decision::Reextract, n)) => n + 1,
        Some((_, n)) => n,
    }
}

/// 检测批次状态 where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptState {
    /// On a plate, waiting for results.
    Loaded,
    /// An automatic call was made; awaiting a reviewer.
    Called,
    /// A reviewer decided.
    Decided(Decision),
}

/// What happens to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEvent {
    /// A result file was imported for its plate.
    Imported,
    /// A reviewer decided.
    Decide(Decision),
}

/// The attempt's next state, or why the event does not apply. An import after a decision is
/// recorded as a call but never moves a decided attempt (a reviewed result is never
/// overwritten by a later file).
pub fn attempt_next(state: AttemptState, event: AttemptEvent) -> Result<AttemptState, ReviewRule> {
    match (state, event) {
        (AttemptState::Loaded | AttemptState::Called, AttemptEvent::Imported) => {
            Ok(AttemptState::Called)
        }
        (AttemptState::Decided(d), AttemptEvent::Imported) => Ok(AttemptState::Decided(d)),
        (AttemptState::Called, AttemptEvent::Decide(d)) => Ok(AttemptState::Decided(d)),
        (AttemptState::Loaded, AttemptEvent::Decide(_)) => Err(ReviewRule::NotAwaitingReview(
            "loaded, without results".into(),
        )),
        (AttemptState::Decided(d), AttemptEvent::Decide(_)) => {
            Err(ReviewRule::NotAwaitingReview(format!("decided ({d})")))
        }
    }
}

vocabulary! {
    /// Where an attempt stands as stored (`attempt.status`).
    AttemptStatus {
        /// on a plate, waiting for results
        Loaded = "loaded",
        /// an automatic call was made
        Called = "called",
        /// a reviewer decided
        Decided = "decided",
    }
}

impl AttemptState {
    /// From the stored status and decision.
    pub fn stored(status: AttemptStatus, decision: Option<Decision>) -> Self {
        match (status, decision) {
            (_, Some(d)) => Self::Decided(d),
            (AttemptStatus::Called, None) => Self::Called,
            _ => Self::Loaded,
        }
    }
}

vocabulary! {
    /// Where the CDC stands on a positive (`result.cdc_status`).
    Cdc {
        /// awaiting the CDC's confirmation
        Pending = "pending",
        /// 确诊 confirmed by the CDC
        Confirmed = "confirmed",
        /// returned to the lab: the person is re-checked
        Rejected = "rejected",
    }
}

/// 结果状态 where one version of a result stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultState {
    /// Released; not a positive (nothing for the CDC).
    Released,
    /// A released positive awaiting the CDC.
    CdcPending,
    /// Confirmed by the CDC: final.
    CdcConfirmed,
    /// Rejected by the CDC: back to the lab, the person re-checked.
    CdcRejected,
    /// A later version replaced it.
    Superseded,
}

/// What happens to a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultEvent {
    /// A reviewer amends it (a new version takes its place).
    Amend,
    CdcConfirm,
    CdcReject,
}

/// A result change the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultRule {
    #[error("a later version replaced this result: change the current version")]
    Superseded,
    #[error("a positive the CDC confirmed is final")]
    Confirmed,
    #[error("this result is not awaiting the CDC")]
    NotPendingCdc,
}

/// The result's next state.
pub fn result_next(state: ResultState, event: ResultEvent) -> Result<ResultState, ResultRule> {
    use ResultEvent::*;
    use ResultState::*;
    match (state, event) {
        (Superseded, _) => Err(ResultRule::Superseded),
        (CdcConfirmed, Amend) => Err(ResultRule::Confirmed),
        (Released | CdcPending | CdcRejected, Amend) => Ok(Superseded),
        (CdcPending, CdcConfirm) => Ok(CdcConfirmed),
        (CdcPending, CdcReject) => Ok(CdcRejected),
        (Released | CdcConfirmed | CdcRejected, CdcConfirm | CdcReject) => {
            Err(ResultRule::NotPendingCdc)
        }
    }
}

impl ResultState {
    /// From the stored version: whether it is current and its CDC status.
    pub fn stored(current: bool, cdc: Option<Cdc>) -> Self {
        match (current, cdc) {
            (false, _) => Self::Superseded,
            (true, Some(Cdc::Pending)) => Self::CdcPending,
            (true, Some(Cdc::Confirmed)) => Self::CdcConfirmed,
            (true, Some(Cdc::Rejected)) => Self::CdcRejected,
            (true, None) => Self::Released,
        }
    }
}

/// Whether a decision ends the tube's testing (it is not run again).
pub fn is_final(d: Decision) -> bool {
    matches!(d, Decision::Release | Decision::Resample)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stp() -> Call {
        Call::SingleTargetPositive {
            targets: vec!["ORF1ab".into()],
        }
    }

    fn grey() -> Call {
        Call::GreyZone {
            targets: vec!["N".into()],
        }
    }

    fn invalid() -> Call {
        Call::Invalid {
            reason: "IC".into(),
        }
    }

    const R: FollowUp = FollowUp::Retest;

    #[test]
    fn an_invalid_run_is_run_again_whatever_the_call() {
        for c in [Call::Negative, Call::Positive, stp(), grey(), invalid()] {
            for k in TubeKind::ALL {
                assert_eq!(suggest(*k, &c, false, &[], R).decision, Decision::Rerun);
            }
        }
    }

    #[test]
    fn negatives_and_positives_are_released() {
        let s = suggest(TubeKind::Single, &Call::Negative, true, &[], R);
        assert!(s.is_clean_negative());
        let s = suggest(TubeKind::Pool, &Call::Negative, true, &[], R);
        assert!(s.is_clean_negative());
        let s = suggest(TubeKind::Single, &Call::Positive, true, &[], R);
        assert_eq!(s.value, Some(Released::Positive));
        let s = suggest(TubeKind::Pool, &Call::Positive, true, &[], R);
        assert_eq!(s.value, Some(Released::Positive));
    }

    #[test]
    fn single_target_and_grey_zone() {
        for c in [stp(), grey()] {
            // A pool: inconclusive, members re-checked.
            let s = suggest(TubeKind::Pool, &c, true, &[], R);
            assert_eq!(s.value, Some(Released::Inconclusive));
            // A single tube: re-test first (or re-sample, if the kit says so) …
            assert_eq!(
                suggest(TubeKind::Single, &c, true, &[], R).decision,
                Decision::Retest
            );
            assert_eq!(
                suggest(TubeKind::Single, &c, true, &[], FollowUp::Resample).decision,
                Decision::Resample
            );
            // … and reactive again: positive.
            for before in [stp(), grey(), Call::Positive] {
                let s = suggest(TubeKind::Single, &c, true, &[before], R);
                assert_eq!(s.value, Some(Released::Positive), "{c:?}");
            }
            // A negative before does not count.
            assert_eq!(
                suggest(TubeKind::Single, &c, true, &[Call::Negative], R).decision,
                Decision::Retest
            );
        }
    }

    #[test]
    fn invalid_is_extracted_again_then_resampled() {
        for k in TubeKind::ALL {
            assert_eq!(
                suggest(*k, &invalid(), true, &[], R).decision,
                Decision::Reextract
            );
            assert_eq!(
                suggest(*k, &invalid(), true, &[invalid()], R).decision,
                Decision::Resample
            );
            assert_eq!(
                suggest(*k, &invalid(), true, &[Call::Negative], R).decision,
                Decision::Reextract
            );
        }
    }

    fn ask<'a>(
        decision: Decision,
        value: Option<Released>,
        reason: Option<&'a str>,
        techs: &'a [String],
    ) -> Ask<'a> {
        Ask {
            reviewer: "rev",
            technicians: techs,
            decision,
            value,
            reason,
        }
    }

    #[test]
    fn the_rules_of_a_decision() {
        let techs = vec!["tech".to_string()];
        let neg = suggest(TubeKind::Single, &Call::Negative, true, &[], R);
        let ok = ask(Decision::Release, Some(Released::Negative), None, &techs);
        assert_eq!(
            check(TubeKind::Single, &Call::Negative, true, &neg, &ok),
            Ok(())
        );
        // Two people.
        let own = Ask {
            reviewer: "tech",
            ..ok.clone()
        };
        assert_eq!(
            check(TubeKind::Single, &Call::Negative, true, &neg, &own),
            Err(ReviewRule::OwnWork("tech".into()))
        );
        // No release from an invalid run.
        let rerun = suggest(TubeKind::Single, &Call::Negative, false, &[], R);
        assert_eq!(
            check(TubeKind::Single, &Call::Negative, false, &rerun, &ok),
            Err(ReviewRule::InvalidRun)
        );
        // Departing from the suggestion needs a reason.
        let to_retest = ask(Decision::Retest, None, None, &techs);
        assert!(matches!(
            check(TubeKind::Single, &Call::Negative, true, &neg, &to_retest),
            Err(ReviewRule::ReasonMissing { .. })
        ));
        let to_retest = ask(Decision::Retest, None, Some("curve looks odd"), &techs);
        assert_eq!(
            check(TubeKind::Single, &Call::Negative, true, &neg, &to_retest),
            Ok(())
        );
        let as_positive = ask(
            Decision::Release,
            Some(Released::Positive),
            Some(" "),
            &techs,
        );
        assert!(check(TubeKind::Single, &Call::Negative, true, &neg, &as_positive).is_err());
        // Results that do not fit.
        let inconclusive = ask(
            Decision::Release,
            Some(Released::Inconclusive),
            Some("x"),
            &techs,
        );
        assert_eq!(
            check(TubeKind::Single, &stp(), true, &neg, &inconclusive),
            Err(ReviewRule::InconclusiveSingle)
        );
        let reex = suggest(TubeKind::Single, &invalid(), true, &[], R);
        let neg_release = ask(
            Decision::Release,
            Some(Released::Negative),
            Some("x"),
            &techs,
        );
        assert_eq!(
            check(TubeKind::Single, &invalid(), true, &reex, &neg_release),
            Err(ReviewRule::InvalidAsNegative)
        );
        let no_value = ask(Decision::Release, None, Some("x"), &techs);
        assert_eq!(
            check(TubeKind::Single, &Call::Negative, true, &neg, &no_value),
            Err(ReviewRule::ValueMissing)
        );
    }

    #[test]
    fn what_members_are_told() {
        assert_eq!(
            member_result(TubeKind::Pool, Released::Negative),
            (ResultValue::Negative, false)
        );
        for r in [Released::Positive, Released::Inconclusive] {
            assert_eq!(
                member_result(TubeKind::Pool, r),
                (ResultValue::PendingRecheck, true)
            );
        }
        assert_eq!(
            member_result(TubeKind::Single, Released::Positive),
            (ResultValue::Positive, false)
        );
    }

    #[test]
    fn every_attempt_transition() {
        use AttemptEvent::*;
        use AttemptState::*;
        let states: Vec<AttemptState> = [Loaded, Called]
            .into_iter()
            .chain(Decision::ALL.iter().map(|d| Decided(*d)))
            .collect();
        let events: Vec<AttemptEvent> = std::iter::once(Imported)
            .chain(Decision::ALL.iter().map(|d| Decide(*d)))
            .collect();
        for s in &states {
            for e in &events {
                let next = attempt_next(*s, *e);
                match (s, e) {
                    (Loaded | Called, Imported) => assert_eq!(next, Ok(Called)),
                    (Decided(d), Imported) => assert_eq!(next, Ok(Decided(*d))),
                    (Called, Decide(d)) => assert_eq!(next, Ok(Decided(*d))),
                    (Loaded | Decided(_), Decide(_)) => assert!(
                        matches!(next, Err(ReviewRule::NotAwaitingReview(_))),
                        "{s:?} {e:?}"
                    ),
                }
            }
        }
        assert_eq!(AttemptState::stored(AttemptStatus::Called, None), Called);
        assert_eq!(AttemptState::stored(AttemptStatus::Loaded, None), Loaded);
        assert_eq!(
            AttemptState::stored(AttemptStatus::Decided, Some(Decision::Rerun)),
            Decided(Decision::Rerun)
        );
    }

    #[test]
    fn every_result_transition() {
        use ResultEvent::*;
        use ResultState::*;
        let table = [
            (Released, Amend, Ok(Superseded)),
            (Released, CdcConfirm, Err(ResultRule::NotPendingCdc)),
            (Released, CdcReject, Err(ResultRule::NotPendingCdc)),
            (CdcPending, Amend, Ok(Superseded)),
            (CdcPending, CdcConfirm, Ok(CdcConfirmed)),
            (CdcPending, CdcReject, Ok(CdcRejected)),
            (CdcConfirmed, Amend, Err(ResultRule::Confirmed)),
            (CdcConfirmed, CdcConfirm, Err(ResultRule::NotPendingCdc)),
            (CdcConfirmed, CdcReject, Err(ResultRule::NotPendingCdc)),
            (CdcRejected, Amend, Ok(Superseded)),
            (CdcRejected, CdcConfirm, Err(ResultRule::NotPendingCdc)),
            (CdcRejected, CdcReject, Err(ResultRule::NotPendingCdc)),
            (Superseded, Amend, Err(ResultRule::Superseded)),
            (Superseded, CdcConfirm, Err(ResultRule::Superseded)),
            (Superseded, CdcReject, Err(ResultRule::Superseded)),
        ];
        for (s, e, want) in table {
            assert_eq!(result_next(s, e), want, "{s:?} {e:?}");
        }
        assert_eq!(ResultState::stored(false, Some(Cdc::Pending)), Superseded);
        assert_eq!(ResultState::stored(true, Some(Cdc::Pending)), CdcPending);
        assert_eq!(ResultState::stored(true, None), Released);
    }

    #[test]
    fn extraction_numbers() {
        assert_eq!(next_extraction(None), 1);
        assert_eq!(next_extraction(Some((Decision::Retest, 1))), 1);
        assert_eq!(next_extraction(Some((Decision::Rerun, 2))), 2);
        assert_eq!(next_extraction(Some((Decision::Reextract, 1))), 2);
        assert!(is_final(Decision::Release) && is_final(Decision::Resample));
        assert!(!is_final(Decision::Retest));
    }
}
