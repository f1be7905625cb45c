//! 试剂盒 kits as data: targets on their channels with explicit cut-offs (inclusive or
//! exclusive), grey zones, the internal-control rule and the run controls' rules. Every
//! interpretation records the kit code and version it used. Cut-offs are never hard-coded
//! elsewhere: a kit is versioned data an admin edits.

use super::dye;
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
    /// Other names an instrument may give this target (compared case-insensitively).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// The internal control (内标), read in every well.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InternalControl {
    pub channel: String,
    /// The IC is valid when it amplified and this cut-off admits its Ct.
    pub valid: Cutoff,
    /// Names an instrument may give the internal control as a target, beyond the usual ones
    /// (`IC`, `内标`, `RNase P`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A kit version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kit {
    pub code: String,
    /// Set by natlis: 1 for a new code, one more for every edit.
    #[serde(default)]
    pub version: u32,
    pub name: String,
    pub targets: Vec<TargetRule>,
    pub internal_control: InternalControl,
    /// A positive control whose Ct is above this gets a warning (the run stays valid).
    pub positive_control_warn_above: Option<f64>,
    /// What the instructions say to do with a single tube that is single-target positive or in
    /// the grey zone: test the specimen again (default) or take a new swab.
    #[serde(default = "retest")]
    pub follow_up: super::review::FollowUp,
}

fn retest() -> super::review::FollowUp {
    super::review::FollowUp::Retest
}

impl Kit {
    /// Three kits with different rules, as the instructions for use state them (domain §5).
    pub fn shipped() -> Vec<Kit> {
        let ic = |channel: &str, max: f64| InternalControl {
            channel: channel.into(),
            valid: Cutoff::at_most(max),
            aliases: vec![],
        };
        let target = |target: &str, channel: &str, positive: Cutoff, grey_upper: Option<Cutoff>| {
            TargetRule {
                target: target.into(),
                channel: channel.into(),
                positive,
                grey_upper,
                aliases: vec![],
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
                follow_up: retest(),
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
                follow_up: retest(),
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
                follow_up: retest(),
            },
        ]
    }
}

/// Target names instruments give the internal control.
const IC_NAMES: &[&str] = &[
    "IC",
    "INTERNAL CONTROL",
    "内标",
    "内参",
    "RNASE P",
    "RNASEP",
    "RNAS P",
    "RNAsaP",
    "RP",
    "HUMAN RNASE P",
];

/// Upper-cased, with a LightCycler filter's wavelengths (`FAM (465-510)`) and spaces around it
/// removed.
fn norm(name: &str) -> String {
    let s = name.trim();
    let s = s.split_once(" (").map_or(s, |(n, _)| n);
    s.trim().to_uppercase()
}

/// Whether two dye names denote the same optical channel (the first channel `kit` names — a
/// kit names one — among those `reading` may denote).
pub fn same_channel(kit: &str, reading: &str) -> bool {
    match dye::channels(kit).first() {
        Some(k) => dye::channels(reading).contains(k),
        None => false,
    }
}

/// What is wrong with a kit definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct KitError {
    pub field: String,
    pub problem: String,
}

impl Kit {
    /// The kit channel a reading belongs to (upper-case), from its dye, else its target name;
    /// `None` when the kit does not read it (a standard, a reference dye, a stray target).
    pub fn channel_of(&self, channel: &str, target: &str) -> Option<String> {
        let rules = self
            .targets
            .iter()
            .map(|t| &t.channel)
            .chain(std::iter::once(&self.internal_control.channel));
        // The channels the reading's dye or filter combination may denote, most certain first.
        for named in dye::channels(channel) {
            if let Some(c) = rules
                .clone()
                .find(|c| dye::channels(c).first() == Some(&named))
            {
                return Some(c.to_uppercase());
            }
        }
        let t = norm(target);
        if t.is_empty() {
            return None;
        }
        if let Some(rule) = self
            .targets
            .iter()
            .find(|r| norm(&r.target) == t || r.aliases.iter().any(|a| norm(a) == t))
        {
            return Some(rule.channel.to_uppercase());
        }
        let ic = &self.internal_control;
        if IC_NAMES.iter().any(|n| norm(n) == t) || ic.aliases.iter().any(|a| norm(a) == t) {
            return Some(ic.channel.to_uppercase());
        }
        // A dye in the target column (SLAN-96P's 目标 holds FAM / VIC / ROX / CY5).
        if dye::is_dye(target) && !dye::is_dye(channel) {
            return self.channel_of(target, "");
        }
        None
    }

    /// Checks a definition an admin submits: a code, at least one target, one channel per
    /// target, cut-offs within 1–60 cycles and grey zones above their positive cut-off.
    pub fn validate(&self) -> Result<(), KitError> {
        let err = |field: &str, problem: String| {
            Err(KitError {
                field: field.into(),
                problem,
            })
        };
        let code_ok = (2..=40).contains(&self.code.len())
            && self
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !code_ok {
            return err(
                "code",
                format!(
                    "{:?} is not a kit code: 2–40 of A–Z, 0–9, '-', '_'",
                    self.code
                ),
            );
        }
        if self.name.trim().is_empty() {
            return err("name", "a kit needs a name".into());
        }
        if self.targets.is_empty() {
            return err("targets", "a kit needs at least one target".into());
        }
        let cycles = |field: &str, c: Cutoff| {
            if c.ct.is_finite() && (1.0..=60.0).contains(&c.ct) {
                Ok(())
            } else {
                err(field, format!("cut-off {} is outside 1–60 cycles", c.ct))
            }
        };
        let mut channels = vec![self.internal_control.channel.clone()];
        for (i, t) in self.targets.iter().enumerate() {
            let at = |f: &str| format!("targets[{i}].{f}");
            if t.target.trim().is_empty() {
                return err(&at("target"), "a target needs a name".into());
            }
            if t.channel.trim().is_empty() {
                return err(&at("channel"), "a target needs a channel".into());
            }
            if let Some(c) = channels.iter().find(|c| same_channel(c, &t.channel)) {
                return err(
                    &at("channel"),
                    format!(
                        "channel {} is read already (as {c}): one target per channel",
                        t.channel
                    ),
                );
            }
            channels.push(t.channel.clone());
            cycles(&at("positive"), t.positive)?;
            if let Some(g) = t.grey_upper {
                cycles(&at("grey_upper"), g)?;
                if g.ct < t.positive.ct || g.ct == t.positive.ct && !g.inclusive {
                    return err(
                        &at("grey_upper"),
                        format!(
                            "the grey zone must end above the positive cut-off {}",
                            t.positive.ct
                        ),
                    );
                }
            }
        }
        if self.internal_control.channel.trim().is_empty() {
            return err(
                "internal_control.channel",
                "the internal control needs a channel".into(),
            );
        }
        cycles("internal_control.valid", self.internal_control.valid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_find_their_channel_by_dye_or_target() {
        let daan = &Kit::shipped()[0];
        assert_eq!(daan.channel_of("FAM", ""), Some("FAM".into()));
        assert_eq!(daan.channel_of("hex", "N gene"), Some("VIC".into()));
        assert_eq!(daan.channel_of("Green", ""), Some("FAM".into()));
        assert_eq!(daan.channel_of("Cy5 (618-660)", ""), Some("CY5".into()));
        assert_eq!(daan.channel_of("", "orf1ab"), Some("FAM".into()));
        assert_eq!(daan.channel_of("", "N"), Some("VIC".into()));
        assert_eq!(daan.channel_of("", "RNase P"), Some("CY5".into()));
        assert_eq!(daan.channel_of("", "内标"), Some("CY5".into()));
        assert_eq!(daan.channel_of("ROX", ""), None);
        assert_eq!(daan.channel_of("", "S"), None);
        assert_eq!(daan.channel_of("", ""), None);
        // LightCycler filter combinations.
        assert_eq!(daan.channel_of("HEX/VIC (533-580)", ""), Some("VIC".into()));
        assert_eq!(
            daan.channel_of("VIC / HEX / Yellow555", ""),
            Some("VIC".into())
        );
        assert_eq!(daan.channel_of("Cy5 / Cy5.5", ""), Some("CY5".into()));
        assert_eq!(daan.channel_of("465-510", ""), Some("FAM".into()));
        // Dyes in the target column (SLAN-96P).
        assert_eq!(daan.channel_of("", "VIC"), Some("VIC".into()));
        assert_eq!(daan.channel_of("", "CY5"), Some("CY5".into()));
        assert_eq!(
            daan.channel_of("", "ROX"),
            None,
            "a reference dye the kit does not read"
        );
        let mut five = daan.clone();
        five.internal_control.channel = "CY5.5".into();
        assert_eq!(
            five.channel_of("Cy5 / Cy5.5 (660-705)", ""),
            Some("CY5.5".into())
        );
        assert!(same_channel("HEX", "VIC / HEX / Yellow555"));
        assert!(!same_channel("FAM", "Cy5 / Cy5.5"));
    }

    #[test]
    fn kit_definitions_are_checked() {
        for k in Kit::shipped() {
            k.validate().unwrap();
        }
        let base = Kit::shipped()[1].clone();
        let mut k = base.clone();
        k.code = "bad code".into();
        assert_eq!(k.validate().unwrap_err().field, "code");
        let mut k = base.clone();
        k.targets[1].channel = "VIC".into();
        k.targets[0].channel = "HEX".into();
        assert_eq!(k.validate().unwrap_err().field, "targets[1].channel");
        let mut k = base.clone();
        k.targets[0].grey_upper = Some(Cutoff::below(38.0));
        assert_eq!(k.validate().unwrap_err().field, "targets[0].grey_upper");
        let mut k = base.clone();
        k.targets[0].positive = Cutoff::at_most(99.0);
        assert_eq!(k.validate().unwrap_err().field, "targets[0].positive");
        let mut k = base;
        k.targets.clear();
        assert_eq!(k.validate().unwrap_err().field, "targets");
    }

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
