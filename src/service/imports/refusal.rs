//! The refusals of an import, each naming what the files hold against what the plate expects.

use crate::domain::run::{self, Doubt, Mismatch, PlateReading};
use crate::error::Error;
use instrument_adapters::Reading;

/// Refuses an import whose files contradict the layout, naming every contradiction.
pub(super) fn check(run_no: &str, reading: &PlateReading) -> Result<(), Error> {
    if reading.consistent() {
        return Ok(());
    }
    let lines: Vec<String> = reading.mismatches.iter().map(Mismatch::to_string).collect();
    Err(Error::unprocessable(
        "import.layout_mismatch",
        format!(
            "the files do not match the layout of plate {run_no}; nothing was imported: {}",
            lines.join("; ")
        ),
    )
    .at("file")
    .with_details(serde_json::json!({ "mismatches": reading.mismatches })))
}

/// The refusal of files that look like another run's (`import.not_this_run`) or a cut one
/// (`import.incomplete`), naming the first wells of each kind and every one in the details.
pub(super) fn doubted(run_no: &str, doubts: &[Doubt]) -> Error {
    let (foreign, missing): (Vec<&Doubt>, Vec<&Doubt>) =
        doubts.iter().partition(|d| d.is_foreign());
    let some = |ds: &[&Doubt]| {
        let mut shown: Vec<String> = ds.iter().take(5).map(|d| d.to_string()).collect();
        if ds.len() > 5 {
            shown.push(format!("… {} more", ds.len() - 5));
        }
        shown.join("; ")
    };
    let (code, what) = if foreign.is_empty() {
        (
            "import.incomplete",
            format!(
                "the files lack readings for {} well(s) of plate {run_no} — a file cut short, or a channel's file not uploaded: {}",
                missing.len(),
                some(&missing)
            ),
        )
    } else {
        let mut what = format!(
            "the files do not look like the run of plate {run_no}: {}",
            some(&foreign)
        );
        if !missing.is_empty() {
            what.push_str(&format!(
                "; and {} well(s) of the plate have no reading",
                missing.len()
            ));
        }
        ("import.not_this_run", what)
    };
    Error::unprocessable(
        code,
        format!(
            "{what}. Nothing was imported. If these files are this plate's run, upload them again with override_reason saying why (recorded in the audit trail)"
        ),
    )
    .at("file")
    .with_details(serde_json::json!({ "doubts": doubts }))
}
/// The error for files none of whose readings belong to a tube on the plate: what the files
/// hold (wells, dyes and targets, sample names) against what the plate and its kit expect.
pub(super) fn no_matching_wells(
    run_no: &str,
    kit: &crate::domain::kit::Kit,
    layout: &crate::domain::plate::Layout,
    readings: &[Reading],
    reading: &run::PlateReading,
) -> Error {
    use std::collections::BTreeSet;
    let first = |items: Vec<String>, n: usize| {
        let more = items.len().saturating_sub(n);
        let mut shown: Vec<String> = items.into_iter().take(n).collect();
        if more > 0 {
            shown.push(format!("… {more} more"));
        }
        shown.join(", ")
    };
    let wells: BTreeSet<_> = readings.iter().map(|r| r.well).collect();
    let samples: BTreeSet<&str> = readings
        .iter()
        .map(|r| r.sample.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let read_as: Vec<String> = readings
        .iter()
        .map(|r| match (r.channel.trim(), r.target.trim()) {
            ("", "") => "(no dye or target)".to_string(),
            (c, "") => c.to_string(),
            ("", t) => format!("target {t}"),
            (c, t) => format!("{c}/{t}"),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let tube_wells: Vec<String> = layout
        .wells
        .iter()
        .filter(|(_, c)| matches!(c, crate::domain::plate::WellContent::Tube(_)))
        .map(|(w, _)| w.to_string())
        .collect();
    let channels: Vec<String> = kit
        .targets
        .iter()
        .map(|t| format!("{} ({})", t.channel, t.target))
        .chain(std::iter::once(format!(
            "{} (internal control)",
            kit.internal_control.channel
        )))
        .collect();
    let shared = wells
        .iter()
        .filter(|w| layout.wells.contains_key(w))
        .count();
    let why = if shared == 0 {
        "none of the files' wells holds a tube of this plate"
    } else if reading.unread.len() == read_as.len() {
        "no dye or target in the files is one the kit reads"
    } else {
        "no reading is on a tube well in a channel the kit reads"
    };
    Error::unprocessable(
        "import.no_matching_wells",
        format!(
            "the files have no reading for any tube on plate {run_no}: {why}. Read: {} rows in {} wells ({}); dyes/targets {}; sample names {}. Expected: tubes in {} wells ({}), read on {} (kit {} v{})",
            readings.len(),
            wells.len(),
            first(wells.iter().map(|w| w.to_string()).collect(), 6),
            first(read_as.clone(), 8),
            if samples.is_empty() { "none".to_string() } else { first(samples.iter().map(|s| s.to_string()).collect(), 6) },
            tube_wells.len(),
            first(tube_wells.clone(), 6),
            channels.join(", "),
            kit.code,
            kit.version,
        ),
    )
    .at("file")
    .with_details(serde_json::json!({
        "read": {
            "rows": readings.len(),
            "wells": wells.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "dyes_or_targets": read_as,
            "samples": samples.iter().take(50).collect::<Vec<_>>(),
        },
        "expected": {
            "tube_wells": tube_wells,
            "channels": channels,
            "kit": kit.code,
        },
    }))
}
