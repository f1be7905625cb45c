//! 一板判读 reading a whole plate: an instrument's rows matched against the plate's layout, the
//! run judged by its controls, and every tube well called by the plate's kit. Pure: the
//! service loads the layout and the kit, and writes what this returns.
//!
//! The layout is the authority on what sits in a well. Nothing is guessed: a well the file has
//! but the layout leaves empty is reported, a tube well the file lacks is reported, and a sample
//! name that names another registered tube is a mismatch that stops the import.

use super::interpretation::{self, Call, ChannelCts, RunValidity};
use super::kit::Kit;
use super::plate::{Layout, WellContent};
use instrument_adapters::{Reading, Well};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The call of one tube well.
#[derive(Debug, Clone, PartialEq)]
pub struct WellCall {
    pub well: Well,
    pub barcode: String,
    pub call: Call,
    /// The Ct read on each kit channel (`None`: no amplification), channel names upper-case.
    pub cts: BTreeMap<String, Option<f64>>,
}

/// Something in the file that contradicts the layout: the import stops.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Mismatch {
    /// The sample name in the file is another registered tube's barcode.
    SampleName {
        well: String,
        /// What the layout has in the well (a barcode or a control).
        expected: String,
        found: String,
    },
    /// Two rows give one well and channel different Ct values.
    ConflictingRows {
        well: String,
        channel: String,
        cts: Vec<Option<f64>>,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SampleName {
                well,
                expected,
                found,
            } => write!(
                f,
                "well {well}: the layout has {expected}, the file names sample {found}"
            ),
            Self::ConflictingRows { well, channel, cts } => write!(
                f,
                "well {well}, channel {channel}: the file gives {} different Ct values ({})",
                cts.len(),
                cts.iter()
                    .map(|c| c.map_or("no Ct".to_string(), |v| v.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Something that makes the files look like another run's, or an incomplete one: the import
/// stops unless the technician overrides it with a reason (audited). A run exported from the
/// wrong plate, another lab's file, or a file cut short would otherwise be called as if it
/// were this plate's run.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Doubt {
    /// A tube well whose sample name in the file is not the tube's barcode (nor empty).
    ForeignSample {
        well: String,
        expected: String,
        found: String,
    },
    /// A well the layout leaves empty where the file has a sample name or an amplification.
    OccupiedEmptyWell { well: String, found: String },
    /// A tube or control well of the layout that the file has no reading for on some of the
    /// kit's channels (all of them, for a well the file lacks).
    MissingReadings {
        well: String,
        expected: String,
        channels: Vec<String>,
    },
}

impl Doubt {
    /// Whether this says the files are another run's (rather than incomplete).
    pub fn is_foreign(&self) -> bool {
        !matches!(self, Self::MissingReadings { .. })
    }
}

impl std::fmt::Display for Doubt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ForeignSample {
                well,
                expected,
                found,
            } => write!(
                f,
                "well {well}: the layout has {expected}, the file names sample {found:?}"
            ),
            Self::OccupiedEmptyWell { well, found } => {
                write!(f, "well {well}: empty in the layout, the file has {found}")
            }
            Self::MissingReadings {
                well,
                expected,
                channels,
            } => write!(
                f,
                "well {well} ({expected}): no reading on {}",
                channels.join(", ")
            ),
        }
    }
}

/// What reading a plate found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlateReading {
    pub run: RunValidity,
    /// One per tube well the file has readings for, in well order.
    pub calls: Vec<WellCall>,
    /// Tube wells the file has no reading for: these tubes get no call.
    pub missing: Vec<Well>,
    /// Wells with readings that the layout leaves empty: not used.
    pub unexpected: Vec<Well>,
    /// Dyes/targets the kit does not read, with how many rows carried them: not used.
    pub unread: BTreeMap<String, usize>,
    /// Contradictions between file and layout: nothing may be written.
    pub mismatches: Vec<Mismatch>,
    /// Signs of another run or of a cut file, in well order: nothing is written unless a
    /// technician overrides them with a reason.
    pub doubts: Vec<Doubt>,
}

impl PlateReading {
    /// Whether the file and the layout agree on every well they share.
    pub fn consistent(&self) -> bool {
        self.mismatches.is_empty()
    }
}

fn describe(content: &WellContent) -> String {
    match content {
        WellContent::Tube(b) => format!("tube {b}"),
        WellContent::NegativeControl => "the negative control".into(),
        WellContent::PositiveControl => "the positive control".into(),
    }
}

/// Reads a plate: `known` holds every registered tube barcode among the file's sample names.
pub fn read_plate(
    kit: &Kit,
    layout: &Layout,
    readings: &[Reading],
    known: &HashSet<String>,
) -> PlateReading {
    let mut out = PlateReading::default();
    // well → channel → the distinct Cts the rows gave it
    let mut by_well: BTreeMap<Well, HashMap<String, Vec<Option<f64>>>> = BTreeMap::new();
    let mut unexpected = HashSet::new();
    let mut named = HashSet::new();
    // well → the first sample name the file gives it (tube wells and wells left empty)
    let mut names: BTreeMap<Well, &str> = BTreeMap::new();
    // wells left empty in the layout where something amplified
    let mut amplified = HashSet::new();
    for r in readings {
        let sample = r.sample.trim();
        if !sample.is_empty() {
            names.entry(r.well).or_insert(sample);
        }
        let Some(content) = layout.wells.get(&r.well) else {
            unexpected.insert(r.well);
            if r.ct.value().is_some() {
                amplified.insert(r.well);
            }
            continue;
        };
        let contradicts = match content {
            WellContent::Tube(b) => sample != b && known.contains(sample),
            _ => known.contains(sample),
        };
        if contradicts && named.insert(r.well) {
            out.mismatches.push(Mismatch::SampleName {
                well: r.well.to_string(),
                expected: describe(content),
                found: sample.to_string(),
            });
        }
        let Some(channel) = kit.channel_of(&r.channel, &r.target) else {
            let label = match (r.channel.trim(), r.target.trim()) {
                ("", "") => "(no dye or target)".to_string(),
                (c, "") => c.to_string(),
                ("", t) => format!("target {t}"),
                (c, t) => format!("{c} (target {t})"),
            };
            *out.unread.entry(label).or_default() += 1;
            continue;
        };
        let cts = by_well
            .entry(r.well)
            .or_default()
            .entry(channel)
            .or_default();
        let ct = r.ct.value();
        if !cts.contains(&ct) {
            cts.push(ct);
        }
    }
    let mut cts_of: BTreeMap<Well, ChannelCts> = BTreeMap::new();
    for (well, channels) in by_well {
        let mut m = ChannelCts::new();
        for (channel, cts) in channels {
            if cts.len() > 1 {
                out.mismatches.push(Mismatch::ConflictingRows {
                    well: well.to_string(),
                    channel: channel.clone(),
                    cts: cts.clone(),
                });
            }
            m.insert(channel, cts[0]);
        }
        cts_of.insert(well, m);
    }
    out.unexpected = {
        let mut v: Vec<Well> = unexpected.into_iter().collect();
        v.sort();
        v
    };
    out.doubts = doubts(kit, layout, &cts_of, &names, &amplified, &named);
    let empty = ChannelCts::new();
    let mut negatives = vec![];
    let mut positives = vec![];
    for (well, content) in &layout.wells {
        let label = well.to_string();
        match content {
            WellContent::NegativeControl => {
                negatives.push((label, cts_of.get(well).unwrap_or(&empty)))
            }
            WellContent::PositiveControl => {
                positives.push((label, cts_of.get(well).unwrap_or(&empty)))
            }
            WellContent::Tube(barcode) => match cts_of.get(well) {
                None => out.missing.push(*well),
                Some(cts) => out.calls.push(WellCall {
                    well: *well,
                    barcode: barcode.clone(),
                    call: interpretation::call_sample(kit, cts),
                    cts: cts.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                }),
            },
        }
    }
    let negatives: Vec<(&str, &ChannelCts)> =
        negatives.iter().map(|(w, c)| (w.as_str(), *c)).collect();
    let positives: Vec<(&str, &ChannelCts)> =
        positives.iter().map(|(w, c)| (w.as_str(), *c)).collect();
    out.run = interpretation::check_run(kit, &negatives, &positives);
    out
}

/// The doubts of a reading, in well order. `cts_of` holds the kit channels read per well,
/// `names` the file's sample name per well, `amplified` the layout's empty wells with a Ct,
/// `contradicted` the wells already stopped by a hard mismatch (not doubted twice).
fn doubts(
    kit: &Kit,
    layout: &Layout,
    cts_of: &BTreeMap<Well, ChannelCts>,
    names: &BTreeMap<Well, &str>,
    amplified: &HashSet<Well>,
    contradicted: &HashSet<Well>,
) -> Vec<Doubt> {
    let channels: Vec<String> = kit
        .targets
        .iter()
        .map(|t| t.channel.to_uppercase())
        .chain(std::iter::once(kit.internal_control.channel.to_uppercase()))
        .collect();
    let mut wells: Vec<(Well, Doubt)> = vec![];
    for (well, content) in &layout.wells {
        let label = well.to_string();
        let read = cts_of.get(well);
        let lacking: Vec<String> = channels
            .iter()
            .filter(|c| read.is_none_or(|cts| !cts.contains_key(c.as_str())))
            .cloned()
            .collect();
        if !lacking.is_empty() {
            wells.push((
                *well,
                Doubt::MissingReadings {
                    well: label.clone(),
                    expected: describe(content),
                    channels: lacking,
                },
            ));
        }
        if let (WellContent::Tube(barcode), Some(found)) = (content, names.get(well)) {
            if !found.eq_ignore_ascii_case(barcode) && !contradicted.contains(well) {
                wells.push((
                    *well,
                    Doubt::ForeignSample {
                        well: label,
                        expected: describe(content),
                        found: found.to_string(),
                    },
                ));
            }
        }
    }
    for (well, name) in names {
        if !layout.wells.contains_key(well) {
            wells.push((
                *well,
                Doubt::OccupiedEmptyWell {
                    well: well.to_string(),
                    found: format!("sample {name:?}"),
                },
            ));
        }
    }
    for well in amplified {
        if !names.contains_key(well) {
            wells.push((
                *well,
                Doubt::OccupiedEmptyWell {
                    well: well.to_string(),
                    found: "an amplification".into(),
                },
            ));
        }
    }
    wells.sort_by_key(|(w, _)| *w);
    wells.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use instrument_adapters::{Ct, PlateSize};

    fn kit() -> Kit {
        Kit::shipped().remove(0)
    }

    fn w(s: &str) -> Well {
        Well::parse(s, PlateSize::P96).unwrap()
    }

    fn row(well: &str, channel: &str, ct: Option<f64>, sample: &str) -> Reading {
        Reading {
            well: w(well),
            channel: channel.into(),
            target: String::new(),
            ct: ct.map_or(Ct::NoAmplification, Ct::Value),
            sample: sample.into(),
            role: String::new(),
        }
    }

    /// FAM, VIC, CY5 rows for a well.
    fn well_rows(well: &str, fam: Option<f64>, vic: Option<f64>, ic: Option<f64>) -> Vec<Reading> {
        vec![
            row(well, "FAM", fam, ""),
            row(well, "VIC", vic, ""),
            row(well, "CY5", ic, ""),
        ]
    }

    fn layout(tubes: &[(&str, &str)]) -> Layout {
        let mut l = Layout::new(PlateSize::P96);
        for (well, barcode) in tubes {
            l.assign(w(well), barcode).unwrap();
        }
        l
    }

    fn controls() -> Vec<Reading> {
        let mut v = well_rows("H11", None, None, None);
        v.extend(well_rows("H12", Some(28.0), Some(27.0), Some(26.0)));
        v
    }

    #[test]
    fn a_clean_plate_calls_every_tube() {
        let l = layout(&[("A1", "T1"), ("A2", "T2"), ("A3", "T3")]);
        let mut rows = controls();
        rows.extend(well_rows("A1", None, None, Some(28.0)));
        rows.extend(well_rows("A2", Some(25.0), Some(26.0), Some(28.0)));
        rows.extend(well_rows("A3", Some(39.5), None, Some(28.0)));
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert!(r.run.valid, "{:?}", r.run);
        assert!(r.consistent() && r.missing.is_empty() && r.unexpected.is_empty());
        let calls: Vec<(String, &Call)> = r
            .calls
            .iter()
            .map(|c| (c.barcode.clone(), &c.call))
            .collect();
        assert_eq!(calls[0], ("T1".into(), &Call::Negative));
        assert_eq!(calls[1], ("T2".into(), &Call::Positive));
        assert!(matches!(calls[2].1, Call::SingleTargetPositive { .. }));
        assert_eq!(r.calls[1].cts["FAM"], Some(25.0));
    }

    #[test]
    fn a_dirty_negative_control_invalidates_the_run_but_tubes_are_still_called() {
        let l = layout(&[("A1", "T1")]);
        let mut rows = well_rows("H11", Some(35.0), None, None);
        rows.extend(well_rows("H12", Some(28.0), Some(27.0), Some(26.0)));
        rows.extend(well_rows("A1", None, None, Some(28.0)));
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert!(!r.run.valid);
        assert!(r.run.failures[0].contains("H11"), "{:?}", r.run);
        assert_eq!(r.calls[0].call, Call::Negative);
    }

    #[test]
    fn missing_and_unexpected_wells_are_reported_not_guessed() {
        let l = layout(&[("A1", "T1"), ("A2", "T2")]);
        let mut rows = controls();
        rows.extend(well_rows("A1", None, None, Some(28.0)));
        rows.extend(well_rows("B7", None, None, Some(28.0)));
        rows.push(row("A1", "ROX", Some(20.0), ""));
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert_eq!(r.missing, vec![w("A2")]);
        assert_eq!(r.unexpected, vec![w("B7")]);
        assert_eq!(r.unread.get("ROX"), Some(&1));
        assert_eq!(r.calls.len(), 1);
        assert!(r.consistent());
    }

    #[test]
    fn a_sample_name_naming_another_tube_stops_the_import() {
        let l = layout(&[("A1", "T1"), ("A2", "T2")]);
        let mut rows = controls();
        let mut a1 = well_rows("A1", None, None, Some(28.0));
        a1.iter_mut().for_each(|r| r.sample = "T2".into());
        let mut a2 = well_rows("A2", None, None, Some(28.0));
        a2.iter_mut().for_each(|r| r.sample = "T1".into());
        rows.extend(a1);
        rows.extend(a2);
        let known: HashSet<String> = ["T1".to_string(), "T2".to_string()].into();
        let r = read_plate(&kit(), &l, &rows, &known);
        assert_eq!(r.mismatches.len(), 2, "{:?}", r.mismatches);
        assert_eq!(
            r.mismatches[0].to_string(),
            "well A1: the layout has tube T1, the file names sample T2"
        );
        // Free-text names ("Sample 1", empty) are no contradiction — but a doubt.
        let mut rows = controls();
        let mut a1 = well_rows("A1", None, None, Some(28.0));
        a1.iter_mut().for_each(|r| r.sample = "Sample 1".into());
        rows.extend(a1);
        let r = read_plate(&kit(), &l, &rows, &known);
        assert!(r.consistent());
        assert!(matches!(&r.doubts[0], Doubt::ForeignSample { found, .. } if found == "Sample 1"));
    }

    #[test]
    fn a_complete_run_of_this_plate_has_no_doubt() {
        let l = layout(&[("A1", "T1"), ("A2", "t2")]);
        let mut rows = controls();
        for (well, name) in [("A1", "T1"), ("A2", "T2")] {
            let mut w = well_rows(well, None, None, Some(28.0));
            // Names in another case are the same barcode; a row without a name says nothing.
            w[0].sample = name.into();
            rows.extend(w);
        }
        // An empty well exported with no sample and no amplification is no sign of anything.
        rows.extend(well_rows("C3", None, None, None));
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert_eq!(r.doubts, vec![]);
        assert_eq!(r.unexpected, vec![w("C3")]);
    }

    #[test]
    fn another_runs_file_and_a_cut_file_are_doubted_well_by_well() {
        let l = layout(&[("A1", "T1"), ("A2", "T2"), ("A3", "T3")]);
        let mut rows = controls();
        let mut a1 = well_rows("A1", None, None, Some(28.0));
        a1.iter_mut().for_each(|r| r.sample = "GAPDH-1".into());
        rows.extend(a1);
        // A2 cut after its FAM row; A3 not in the file at all.
        rows.push(row("A2", "FAM", None, ""));
        // Wells the layout leaves empty: one with a sample name, one that amplified.
        rows.push(row("B1", "FAM", None, "NK4"));
        rows.push(row("B2", "SYBR", Some(22.1), ""));
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert!(r.consistent());
        let shown: Vec<String> = r.doubts.iter().map(Doubt::to_string).collect();
        assert_eq!(
            shown,
            [
                "well A1: the layout has tube T1, the file names sample \"GAPDH-1\"",
                "well A2 (tube T2): no reading on VIC, CY5",
                "well A3 (tube T3): no reading on FAM, VIC, CY5",
                "well B1: empty in the layout, the file has sample \"NK4\"",
                "well B2: empty in the layout, the file has an amplification",
            ]
        );
        let foreign: Vec<bool> = r.doubts.iter().map(Doubt::is_foreign).collect();
        assert_eq!(foreign, [true, false, false, true, true]);
        // A control well the file lacks is doubted too.
        let mut rows = well_rows("H11", None, None, None);
        rows.extend(well_rows("A1", None, None, Some(28.0)));
        let r = read_plate(&kit(), &layout(&[("A1", "T1")]), &rows, &HashSet::new());
        assert_eq!(
            r.doubts.iter().map(Doubt::to_string).collect::<Vec<_>>(),
            ["well H12 (the positive control): no reading on FAM, VIC, CY5"]
        );
    }

    #[test]
    fn conflicting_rows_for_one_well_and_channel_stop_the_import() {
        let l = layout(&[("A1", "T1")]);
        let mut rows = controls();
        rows.extend(well_rows("A1", None, None, Some(28.0)));
        rows.push(row("A1", "FAM", Some(30.0), ""));
        // The same value twice (two files covering one channel) is no conflict.
        rows.push(row("A1", "CY5", Some(28.0), ""));
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert_eq!(r.mismatches.len(), 1);
        assert!(r.mismatches[0].to_string().contains("A1, channel FAM"));
    }

    #[test]
    fn channels_come_from_targets_when_the_file_has_no_dye() {
        let l = layout(&[("A1", "T1")]);
        let mut rows = controls();
        for (target, ct) in [
            ("ORF1ab", Some(30.0)),
            ("N", Some(31.0)),
            ("RNase P", Some(25.0)),
        ] {
            rows.push(Reading {
                target: target.into(),
                ..row("A1", "", ct, "")
            });
        }
        let r = read_plate(&kit(), &l, &rows, &HashSet::new());
        assert_eq!(r.calls[0].call, Call::Positive);
    }

    proptest::proptest! {
        /// Whatever the file holds, every tube well is either called or reported missing, once;
        /// nothing panics; and without registered barcodes among the sample names, only
        /// conflicting rows can stop an import.
        #[test]
        fn every_tube_well_is_called_or_missing(
            tubes in proptest::collection::btree_set(0u16..94, 0..30),
            rows in proptest::collection::vec(
                (0u16..96, 0usize..6, proptest::option::of(0.0f64..45.0), 0usize..4),
                0..200,
            ),
        ) {
            let size = PlateSize::P96;
            let mut l = Layout::new(size);
            for t in &tubes {
                l.assign(Well::from_index(*t, 0, size).unwrap(), &format!("T{t}")).unwrap();
            }
            let dyes = ["FAM", "VIC", "CY5", "ROX", "HEX", ""];
            let samples = ["", "Sample 1", "T3", "NTC"];
            let readings: Vec<Reading> = rows
                .iter()
                .map(|(w, d, ct, s)| Reading {
                    well: Well::from_index(*w, 0, size).unwrap(),
                    channel: dyes[*d].into(),
                    target: String::new(),
                    ct: ct.map_or(Ct::NoAmplification, Ct::Value),
                    sample: samples[*s].into(),
                    role: String::new(),
                })
                .collect();
            for k in Kit::shipped() {
                let r = read_plate(&k, &l, &readings, &HashSet::new());
                proptest::prop_assert_eq!(r.calls.len() + r.missing.len(), tubes.len());
                let mut seen: Vec<Well> = r.calls.iter().map(|c| c.well).chain(r.missing.iter().copied()).collect();
                seen.sort();
                seen.dedup();
                proptest::prop_assert_eq!(seen.len(), tubes.len());
                let only_conflicts = r
                    .mismatches
                    .iter()
                    .all(|m| matches!(m, Mismatch::ConflictingRows { .. }));
                proptest::prop_assert!(only_conflicts, "{:?}", r.mismatches);
                proptest::prop_assert!(r.unexpected.iter().all(|w| !l.wells.contains_key(w)));
            }
        }
    }
}
