//! 试剂盒 kits as data: targets on their channels with explicit cut-offs (inclusive or
//! exclusive), grey zones, the internal-control rule and the run controls' rules. Every
//! interpretation records the kit code and version it used. Cut-offs are never hard-coded
//! elsewhere: a kit is versioned data an admin edits.

use serde::{Deserialize, Serialize};

/// An upper cut-off: a Ct at or below (`inclusive`) or strictly below it passes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cutoff {
    pub ct: f64,
    pub inclusive: bool,
}

impl Cutoff {
    pub const fn at_most(ct: f64) -> Self {
        Self {
            ct,
            inclusive: true,
        }
    }

    pub const fn below(ct: f64) -> Self {
        Self {
            ct,
            inclusive: false,
        }
    }

    /// Whether a Ct passes this cut-off. A Ct exactly on the cut-off lands on one side only.
    pub fn admits(self, ct: f64) -> bool {
        if self.inclusive {
            ct <= self.ct
        } else {
            ct < self.ct
        }
    }
}

/// One target of a kit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TargetRule {
    /// `ORF1ab`, `N`, `E` …
    pub target: String,
    /// The channel it is read on (`FAM`, `VIC`, `HEX`, `ROX`, `CY5`).
    pub channel: String,
    /// A Ct this cut-off admits is positive for the target.
    pub positive: Cutoff,
    /// Above the positive cut-off and admitted by this one: grey zone (re-test).
    pub grey_upper: Option<Cutoff>,
}

/// The internal control (内标), read in every well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InternalControl {
    pub channel: String,
    /// The IC is valid when it amplified and this cut-off admits its Ct.
    pub valid: Cutoff,
}

/// A kit version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kit {
    pub code: String,
    pub version: u32,
    pub name: String,
    pub targets: Vec<TargetRule>,
    pub internal_control: InternalControl,
    /// A positive control whose Ct is above this gets a warning (the run stays valid).
    pub positive_control_warn_above: Option<f64>,
}

impl Kit {
    /// Three kits with different rules, as the instructions for use state them (domain §5).
    pub fn shipped() -> Vec<Kit> {
        let ic = |channel: &str, max: f64| InternalControl {
            channel: channel.into(),
            valid: Cutoff::at_most(max),
        };
        let target = |target: &str, channel: &str, positive: Cutoff, grey_upper: Option<Cutoff>| {
            TargetRule {
                target: target.into(),
                channel: channel.into(),
                positive,
                grey_upper,
            }
        };
        vec![
            // 达安 Da An: Ct ≤ 40 positive on both targets.
            Kit {
                code: "DAAN-ORF1AB-N".into(),
                version: 1,
                name: "达安 新型冠状病毒2019-nCoV核酸检测试剂盒（荧光PCR法）".into(),
                targets: vec![
                    target("ORF1ab", "FAM", Cutoff::at_most(40.0), None),
                    target("N", "VIC", Cutoff::at_most(40.0), None),
                ],
                internal_control: ic("CY5", 40.0),
                positive_control_warn_above: Some(32.0),
            },
            // 硕世/金鹰 type: Ct < 38 positive, 38–40 grey zone.
            Kit {
                code: "KH-ORF1AB-N".into(),
                version: 1,
                name: "Kinghawk-type kit: < 38 positive, 38–40 grey zone".into(),
                targets: vec![
                    target(
                        "ORF1ab",
                        "FAM",
                        Cutoff::below(38.0),
                        Some(Cutoff::at_most(40.0)),
                    ),
                    target("N", "HEX", Cutoff::below(38.0), Some(Cutoff::at_most(40.0))),
                ],
                internal_control: ic("CY5", 38.0),
                positive_control_warn_above: Some(32.0),
            },
            // 迈克 Maccura: Ct ≤ 38 positive.
            Kit {
                code: "MACCURA-ORF1AB-N-E".into(),
                version: 1,
                name: "迈克 Maccura: ≤ 38 positive on ORF1ab, N and E".into(),
                targets: vec![
                    target("ORF1ab", "FAM", Cutoff::at_most(38.0), None),
                    target("N", "VIC", Cutoff::at_most(38.0), None),
                    target("E", "ROX", Cutoff::at_most(38.0), None),
                ],
                internal_control: ic("CY5", 38.0),
                positive_control_warn_above: Some(32.0),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ct_on_the_cut_off_lands_on_one_side_only() {
        assert!(Cutoff::at_most(40.0).admits(40.0));
        assert!(!Cutoff::at_most(40.0).admits(40.000001));
        assert!(!Cutoff::below(38.0).admits(38.0));
        assert!(Cutoff::below(38.0).admits(37.999999));
    }

    #[test]
    fn shipped_kits_have_different_rules() {
        let kits = Kit::shipped();
        assert_eq!(kits.len(), 3);
        let codes: Vec<&str> = kits.iter().map(|k| k.code.as_str()).collect();
        assert_eq!(
            codes,
            ["DAAN-ORF1AB-N", "KH-ORF1AB-N", "MACCURA-ORF1AB-N-E"]
        );
        assert_eq!(kits[0].targets[0].positive, Cutoff::at_most(40.0));
        assert_eq!(kits[1].targets[0].positive, Cutoff::below(38.0));
        assert_eq!(kits[2].targets.len(), 3);
    }
}
