//! 结果判读 interpretation, as pure functions of a kit and the Ct values read on each channel:
//! the call of each sample well, and the validity of the run from its controls. The automatic
//! call is kept apart from the result a person releases; a pooled tube's call belongs to the
//! pool, not yet to its members.

use super::kit::{Kit, TargetRule};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The Ct read on each channel of one well (channel names upper-case); `None`: no amplification.
pub type ChannelCts = HashMap<String, Option<f64>>;

/// How one target reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetCall {
    Positive,
    GreyZone,
    Negative,
}

/// The automatic call of a sample well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    /// 阴性: no target amplified, internal control valid.
    Negative,
    /// 阳性: every target at or below its cut-off.
    Positive,
    /// 单靶标阳性: some targets positive, not all — re-test / re-sample.
    SingleTargetPositive { targets: Vec<String> },
    /// 灰区: a Ct in the kit's grey zone — repeat.
    GreyZone { targets: Vec<String> },
    /// 无效: the internal control failed with no target amplified, or a channel is missing.
    Invalid { reason: String },
}

crate::domain::vocab::vocabulary! {
    /// What kind of call a stored call is (`auto_call.outcome`); its detail says the rest.
    CallOutcome {
        Negative = "negative",
        Positive = "positive",
        SingleTargetPositive = "single_target_positive",
        GreyZone = "grey_zone",
        Invalid = "invalid",
    }
}

impl Call {
    /// How the call is stored: its outcome, and its detail (the targets, comma-separated, or
    /// why the well is invalid).
    pub fn to_stored(&self) -> (CallOutcome, String) {
        match self {
            Call::Negative => (CallOutcome::Negative, String::new()),
            Call::Positive => (CallOutcome::Positive, String::new()),
            Call::SingleTargetPositive { targets } => {
                (CallOutcome::SingleTargetPositive, targets.join(","))
            }
            Call::GreyZone { targets } => (CallOutcome::GreyZone, targets.join(",")),
            Call::Invalid { reason } => (CallOutcome::Invalid, reason.clone()),
        }
    }

    /// A stored call read back.
    pub fn from_stored(outcome: CallOutcome, detail: &str) -> Call {
        let list = || detail.split(',').map(String::from).collect::<Vec<_>>();
        match outcome {
            CallOutcome::Negative => Call::Negative,
            CallOutcome::Positive => Call::Positive,
            CallOutcome::SingleTargetPositive => Call::SingleTargetPositive { targets: list() },
            CallOutcome::GreyZone => Call::GreyZone { targets: list() },
            CallOutcome::Invalid => Call::Invalid {
                reason: detail.to_string(),
            },
        }
    }
}

fn target_call(rule: &TargetRule, ct: Option<f64>) -> TargetCall {
    match ct {
        None => TargetCall::Negative,
        Some(v) if rule.positive.admits(v) => TargetCall::Positive,
        Some(v) if rule.grey_upper.is_some_and(|g| g.admits(v)) => TargetCall::GreyZone,
        Some(_) => TargetCall::Negative,
    }
}

fn reading<'a>(cts: &'a ChannelCts, channel: &str) -> Option<&'a Option<f64>> {
    cts.get(&channel.to_uppercase())
}

/// Calls one sample well.
pub fn call_sample(kit: &Kit, cts: &ChannelCts) -> Call {
    let mut positive = vec![];
    let mut grey = vec![];
    for rule in &kit.targets {
        let Some(ct) = reading(cts, &rule.channel) else {
            return Call::Invalid {
                reason: format!("no reading on channel {} ({})", rule.channel, rule.target),
            };
        };
        match target_call(rule, *ct) {
            TargetCall::Positive => positive.push(rule.target.clone()),
            TargetCall::GreyZone => grey.push(rule.target.clone()),
            TargetCall::Negative => {}
        }
    }
    if positive.len() == kit.targets.len() {
        return Call::Positive;
    }
    if !positive.is_empty() {
        return Call::SingleTargetPositive { targets: positive };
    }
    if !grey.is_empty() {
        return Call::GreyZone { targets: grey };
    }
    let ic = &kit.internal_control;
    match reading(cts, &ic.channel) {
        None => Call::Invalid {
            reason: format!("no reading on the internal control channel {}", ic.channel),
        },
        Some(None) => Call::Invalid {
            reason: format!("internal control ({}) did not amplify", ic.channel),
        },
        Some(Some(v)) if !ic.valid.admits(*v) => Call::Invalid {
            reason: format!(
                "internal control ({}) Ct {v} is above {}",
                ic.channel, ic.valid.ct
            ),
        },
        Some(Some(_)) => Call::Negative,
    }
}

/// Whether a run may be reported, from its controls.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunValidity {
    pub valid: bool,
    /// Why the run is invalid: every tube on it must be run again.
    pub failures: Vec<String>,
    /// Worth a look, not fatal.
    pub warnings: Vec<String>,
}

/// Judges a run by its negative (no-template, blank) and positive controls.
pub fn check_run(
    kit: &Kit,
    negatives: &[(&str, &ChannelCts)],
    positives: &[(&str, &ChannelCts)],
) -> RunValidity {
    let mut v = RunValidity::default();
    if negatives.is_empty() {
        v.failures.push("the plate has no negative control".into());
    }
    if positives.is_empty() {
        v.failures.push("the plate has no positive control".into());
    }
    for (well, cts) in negatives {
        for rule in &kit.targets {
            match reading(cts, &rule.channel) {
                None => v.failures.push(format!(
                    "negative control {well}: no reading on {}",
                    rule.channel
                )),
                Some(ct) => {
                    if target_call(rule, *ct) != TargetCall::Negative {
                        v.failures.push(format!(
                            "negative control {well} amplified on {} ({}) at Ct {}",
                            rule.channel,
                            rule.target,
                            ct.unwrap_or_default()
                        ));
                    }
                }
            }
        }
    }
    for (well, cts) in positives {
        for rule in &kit.targets {
            let ct = reading(cts, &rule.channel).copied().flatten();
            if target_call(rule, ct) != TargetCall::Positive {
                v.failures.push(match ct {
                    None => format!(
                        "positive control {well} did not amplify on {} ({})",
                        rule.channel, rule.target
                    ),
                    Some(c) => format!(
                        "positive control {well} on {} ({}) is not positive: Ct {c}",
                        rule.channel, rule.target
                    ),
                });
            } else if let (Some(c), Some(warn)) = (ct, kit.positive_control_warn_above) {
                if c > warn {
                    v.warnings.push(format!(
                        "positive control {well} on {} is weak: Ct {c} > {warn}",
                        rule.channel
                    ));
                }
            }
        }
    }
    v.valid = v.failures.is_empty();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kit(code: &str) -> Kit {
        Kit::shipped().into_iter().find(|k| k.code == code).unwrap()
    }

    fn cts(pairs: &[(&str, Option<f64>)]) -> ChannelCts {
        pairs.iter().map(|(c, v)| (c.to_string(), *v)).collect()
    }

    const DAAN: &str = "DAAN-ORF1AB-N";
    const KH: &str = "KH-ORF1AB-N";
    const MACCURA: &str = "MACCURA-ORF1AB-N-E";

    #[test]
    fn da_an_at_and_around_40() {
        let k = kit(DAAN);
        let at = |o, n| call_sample(&k, &cts(&[("FAM", o), ("VIC", n), ("CY5", Some(28.0))]));
        assert_eq!(at(Some(40.0), Some(40.0)), Call::Positive);
        assert_eq!(at(Some(40.01), Some(40.01)), Call::Negative);
        assert_eq!(
            at(Some(39.0), None),
            Call::SingleTargetPositive {
                targets: vec!["ORF1ab".into()]
            }
        );
        assert_eq!(
            at(None, Some(12.0)),
            Call::SingleTargetPositive {
                targets: vec!["N".into()]
            }
        );
        assert_eq!(at(None, None), Call::Negative);
    }

    #[test]
    fn kinghawk_grey_zone_from_38_to_40() {
        let k = kit(KH);
        let at = |o, n| call_sample(&k, &cts(&[("FAM", o), ("HEX", n), ("CY5", Some(30.0))]));
        assert_eq!(at(Some(37.99), Some(37.99)), Call::Positive);
        // Exactly 38 is not below 38: grey zone.
        assert_eq!(
            at(Some(38.0), Some(38.0)),
            Call::GreyZone {
                targets: vec!["ORF1ab".into(), "N".into()]
            }
        );
        assert_eq!(
            at(Some(40.0), None),
            Call::GreyZone {
                targets: vec!["ORF1ab".into()]
            }
        );
        assert_eq!(at(Some(40.01), None), Call::Negative);
        // A positive target wins over a grey one: single-target positive.
        assert_eq!(
            at(Some(30.0), Some(39.0)),
            Call::SingleTargetPositive {
                targets: vec!["ORF1ab".into()]
            }
        );
    }

    #[test]
    fn maccura_three_targets_at_38() {
        let k = kit(MACCURA);
        let at = |o, n, e| {
            call_sample(
                &k,
                &cts(&[("FAM", o), ("VIC", n), ("ROX", e), ("CY5", Some(25.0))]),
            )
        };
        assert_eq!(at(Some(38.0), Some(38.0), Some(38.0)), Call::Positive);
        assert_eq!(
            at(Some(38.0), Some(38.0), Some(38.01)),
            Call::SingleTargetPositive {
                targets: vec!["ORF1ab".into(), "N".into()]
            }
        );
        assert_eq!(at(Some(38.01), Some(38.01), Some(38.01)), Call::Negative);
    }

    #[test]
    fn internal_control_decides_between_negative_and_invalid() {
        let k = kit(DAAN);
        assert_eq!(
            call_sample(&k, &cts(&[("FAM", None), ("VIC", None), ("CY5", None)])),
            Call::Invalid {
                reason: "internal control (CY5) did not amplify".into()
            }
        );
        assert!(matches!(
            call_sample(
                &k,
                &cts(&[("FAM", None), ("VIC", None), ("CY5", Some(40.5))])
            ),
            Call::Invalid { .. }
        ));
        assert_eq!(
            call_sample(
                &k,
                &cts(&[("FAM", None), ("VIC", None), ("CY5", Some(40.0))])
            ),
            Call::Negative
        );
        // A strong positive may suppress the IC: still positive.
        assert_eq!(
            call_sample(
                &k,
                &cts(&[("FAM", Some(15.0)), ("VIC", Some(16.0)), ("CY5", None)])
            ),
            Call::Positive
        );
        // A missing channel is never read as "no amplification".
        assert!(
            matches!(call_sample(&k, &cts(&[("FAM", None), ("CY5", Some(30.0))])), Call::Invalid { reason } if reason.contains("VIC"))
        );
    }

    #[test]
    fn run_controls() {
        let k = kit(DAAN);
        let ntc = cts(&[("FAM", None), ("VIC", None), ("CY5", None)]);
        let pc = cts(&[
            ("FAM", Some(28.0)),
            ("VIC", Some(27.5)),
            ("CY5", Some(26.0)),
        ]);
        assert!(check_run(&k, &[("H11", &ntc)], &[("H12", &pc)]).valid);
        let dirty = cts(&[("FAM", Some(36.2)), ("VIC", None), ("CY5", None)]);
        let v = check_run(&k, &[("H11", &dirty)], &[("H12", &pc)]);
        assert!(!v.valid);
        assert!(
            v.failures[0].contains("H11") && v.failures[0].contains("36.2"),
            "{v:?}"
        );
        let dead = cts(&[("FAM", None), ("VIC", Some(27.0)), ("CY5", Some(26.0))]);
        assert!(!check_run(&k, &[("H11", &ntc)], &[("H12", &dead)]).valid);
        let weak = cts(&[
            ("FAM", Some(33.0)),
            ("VIC", Some(27.0)),
            ("CY5", Some(26.0)),
        ]);
        let v = check_run(&k, &[("H11", &ntc)], &[("H12", &weak)]);
        assert!(v.valid && v.warnings.len() == 1, "{v:?}");
        let v = check_run(&k, &[], &[]);
        assert_eq!(v.failures.len(), 2);
    }

    proptest! {
        /// Every Ct lands in exactly one class for every target of every kit, and the call
        /// never panics.
        #[test]
        fn every_ct_lands_in_one_class(ct in prop::option::of(0.0f64..50.0), ic in prop::option::of(0.0f64..50.0)) {
            for k in Kit::shipped() {
                for rule in &k.targets {
                    let c = target_call(rule, ct);
                    let positive = ct.is_some_and(|v| rule.positive.admits(v));
                    prop_assert_eq!(c == TargetCall::Positive, positive);
                }
                let mut m: ChannelCts = k.targets.iter().map(|t| (t.channel.clone(), ct)).collect();
                m.insert(k.internal_control.channel.clone(), ic);
                let _ = call_sample(&k, &m);
            }
        }
    }

    #[test]
    fn a_call_is_stored_and_read_back_as_it_was() {
        let calls = [
            Call::Negative,
            Call::Positive,
            Call::SingleTargetPositive {
                targets: vec!["ORF1AB".into()],
            },
            Call::GreyZone {
                targets: vec!["N".into(), "ORF1AB".into()],
            },
            Call::Invalid {
                reason: "no reading on VIC".into(),
            },
        ];
        for c in calls {
            let (outcome, detail) = c.to_stored();
            assert_eq!(Call::from_stored(outcome, &detail), c);
        }
    }
}
