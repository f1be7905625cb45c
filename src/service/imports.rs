//! 结果导入 importing an instrument's result files for a plate. The files are read and checked
//! before the transaction; inside it, the layout and kit are loaded, every well is matched and
//! called, and then everything is written at once — raw files with their hashes, every reading,
//! every call — or nothing. The same files twice change nothing and say so; other files for a
//! plate with results make a new round of calls and never touch earlier ones.

use super::plates;
use crate::domain::interpretation::{Call, CallOutcome, RunValidity};
use crate::domain::policy::Action;
use crate::domain::run::{self, Doubt, Mismatch, PlateReading};
use crate::error::Error;
use crate::store::result_import as store;
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::import::{FileView, Imported, WellCallView};
use instrument_adapters::{CustomFormat, PlateSize, Reading};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// A file as uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A file read and hashed, ready to import.
#[derive(Debug, Clone)]
pub struct ReadFile {
    pub name: String,
    pub sha256: String,
    pub format: String,
    pub bytes: Vec<u8>,
    pub readings: Vec<Reading>,
}

/// The files of one import, read.
#[derive(Debug, Clone)]
pub struct ReadFiles {
    pub files: Vec<ReadFile>,
    /// The hash of the set (of the sorted file hashes): the same files import once.
    pub hash: String,
}

/// The multipart field (or query parameter) with the reason to import doubted files anyway.
pub const OVERRIDE_FIELD: &str = "override_reason";

/// Largest file accepted (a 384-well export with curves is a few MB).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads every file (no database): format by content, rows, hash. An unreadable file is named
/// with its problem (line, well, column), and nothing else is looked at.
pub fn read_files(
    uploads: Vec<Upload>,
    size: Option<PlateSize>,
    custom: &[CustomFormat],
) -> Result<ReadFiles, Error> {
    if uploads.is_empty() {
        return Err(Error::invalid("file", "no file was uploaded"));
    }
    let mut files = Vec::with_capacity(uploads.len());
    for u in uploads {
        let name = if u.name.trim().is_empty() {
            "upload".to_string()
        } else {
            u.name.trim().chars().take(200).collect()
        };
        if u.bytes.len() > MAX_FILE_BYTES {
            return Err(Error::unprocessable(
                "import.too_large",
                format!(
                    "{name}: {} bytes is more than the {MAX_FILE_BYTES} accepted",
                    u.bytes.len()
                ),
            )
            .at("file"));
        }
        let (format, readings) = instrument_adapters::parse_for_plate(&u.bytes, custom, size)
            .map_err(|e| {
                Error::unprocessable("import.unreadable", format!("{name}: {e}"))
                    .at("file")
                    .with_details(serde_json::json!({ "file": name, "problem": e.to_string() }))
            })?;
        if files
            .iter()
            .any(|f: &ReadFile| f.sha256 == sha256_hex(&u.bytes))
        {
            return Err(Error::invalid(
                "file",
                format!("{name} is uploaded twice in one import"),
            ));
        }
        files.push(ReadFile {
            sha256: sha256_hex(&u.bytes),
            name,
            format,
            bytes: u.bytes,
            readings,
        });
    }
    let mut hashes: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
    hashes.sort_unstable();
    let hash = sha256_hex(hashes.join("\n").as_bytes());
    Ok(ReadFiles { files, hash })
}

/// Registered tube barcodes among the files' sample names (to catch a swapped layout).
async fn known_barcodes(
    conn: &mut sqlx::AnyConnection,
    files: &ReadFiles,
) -> Result<HashSet<String>, Error> {
    let names: Vec<String> = files
        .files
        .iter()
        .flat_map(|f| f.readings.iter().map(|r| r.sample.trim().to_string()))
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let known: HashSet<String> = crate::store::tube::registered_barcodes(conn, &names)
        .await?
        .into_iter()
        .collect();
    Ok(known)
}

/// Imports the files for a plate, in one transaction. Files that look like another run's or a
/// cut one (sample names that are not the plate's tubes, samples in wells the layout leaves
/// empty, wells or channels missing) are refused unless `override_reason` says why they are
/// this plate's run anyway; the override is audited with what it overrode.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn import(
    tx: &mut Tx,
    plate: &str,
    files: Arc<ReadFiles>,
    override_reason: Option<String>,
) -> Result<Imported, Error> {
    let override_reason = override_reason
        .map(|r| super::parse_text("override_reason", &r, 500))
        .transpose()?
        .filter(|r| !r.is_empty());
    let p = plates::lock(tx, plate, Action::RunPlates).await?;
    if let Some(id) = store::by_hash(tx.conn(), p.id, &files.hash).await? {
        let mut v = load(tx.conn(), id).await?;
        v.duplicate = true;
        return Ok(v);
    }
    for f in &files.files {
        if let Some(run) = store::plate_of_file(tx.conn(), &f.sha256, p.id).await? {
            return Err(Error::conflict(
                "import.file_of_another_plate",
                format!(
                    "{} was imported for plate {run}: a result file belongs to one plate",
                    f.name
                ),
            )
            .at("file")
            .with_details(serde_json::json!({ "file": f.name, "plate": run })));
        }
    }
    let layout = plates::layout(tx.conn(), &p).await?;
    let kit = super::kits::load_by_id(tx.conn(), p.kit_id).await?;
    let readings: Vec<Reading> = files
        .files
        .iter()
        .flat_map(|f| f.readings.iter().cloned())
        .collect();
    let known = known_barcodes(tx.conn(), &files).await?;
    let reading = run::read_plate(&kit, &layout, &readings, &known);
    check(&p.run_no, &reading)?;
    if reading.calls.is_empty() {
        return Err(no_matching_wells(
            &p.run_no, &kit, &layout, &readings, &reading,
        ));
    }
    let override_reason = match (reading.doubts.is_empty(), override_reason) {
        (true, _) => None,
        (false, None) => return Err(doubted(&p.run_no, &reading.doubts)),
        (false, Some(reason)) => Some(reason),
    };
    let round = store::last_round(tx.conn(), p.id).await? + 1;
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    let report = serde_json::json!({
        "missing_wells": reading.missing.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "unexpected_wells": reading.unexpected.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
        "unread": reading.unread,
        "doubts": reading.doubts,
        "override_reason": override_reason,
    });
    let formats: Vec<&str> = files.files.iter().map(|f| f.format.as_str()).collect();
    let format = formats.join(" + ");
    let (failures, warnings) = (json(&reading.run.failures), json(&reading.run.warnings));
    let report = report.to_string();
    let import_id = store::insert(
        tx,
        &store::NewImport {
            plate: p.id,
            round,
            files_hash: &files.hash,
            format: &format,
            kit_id: p.kit_id,
            run_valid: reading.run.valid,
            run_failures: &failures,
            run_warnings: &warnings,
            report: &report,
            at: now,
            by: &by,
        },
    )
    .await?;
    for f in &files.files {
        store::insert_file(tx, import_id, p.id, &f.name, &f.sha256, &f.format, &f.bytes).await?;
    }
    if let Some(reason) = &override_reason {
        tx.audit(
            "import.override",
            "plate",
            &p.run_no,
            None,
            Some(&serde_json::json!({
                "round": round, "reason": reason, "doubts": reading.doubts,
            })),
        );
    }
    write_readings(tx, import_id, &files).await?;
    write_calls(tx, import_id, &p, &kit, &reading, round).await?;
    Ok(Imported {
        plate: p.run_no.clone(),
        round: round as u32,
        duplicate: false,
        files: files
            .files
            .iter()
            .map(|f| FileView {
                name: f.name.clone(),
                sha256: f.sha256.clone(),
                format: f.format.clone(),
                size: f.bytes.len() as u64,
            })
            .collect(),
        summary: summary(reading.calls.iter().map(|c| c.call.to_stored().0.as_str())),
        run: reading.run,
        missing_wells: reading.missing.iter().map(|w| w.to_string()).collect(),
        unexpected_wells: reading.unexpected.iter().map(|w| w.to_string()).collect(),
        unread: reading.unread,
        calls: reading
            .calls
            .into_iter()
            .map(|c| WellCallView {
                well: c.well.to_string(),
                barcode: c.barcode,
                call: c.call,
                cts: c.cts,
            })
            .collect(),
        doubts: reading.doubts,
        override_reason,
        imported_at: now,
        imported_by: tx.actor().username.clone(),
    })
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// Refuses an import whose files contradict the layout, naming every contradiction.
fn check(run_no: &str, reading: &PlateReading) -> Result<(), Error> {
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
fn doubted(run_no: &str, doubts: &[Doubt]) -> Error {
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

fn summary<'a>(codes: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in codes {
        *m.entry(c.to_string()).or_insert(0) += 1;
    }
    m
}

async fn write_readings(tx: &mut Tx, import_id: i64, files: &ReadFiles) -> Result<(), Error> {
    // well → its rows, as [file number, dye, target, Ct, sample, role]
    let mut by_well: BTreeMap<instrument_adapters::Well, Vec<serde_json::Value>> = BTreeMap::new();
    for (i, f) in files.files.iter().enumerate() {
        for r in &f.readings {
            by_well.entry(r.well).or_default().push(serde_json::json!([
                i + 1,
                r.channel,
                r.target,
                r.ct.value(),
                r.sample,
                r.role
            ]));
        }
    }
    let rows: Vec<(String, String)> = by_well
        .into_iter()
        .map(|(w, v)| (w.to_string(), serde_json::Value::Array(v).to_string()))
        .collect();
    let per_statement = tx.backend().rows_per_insert(2);
    store::insert_readings(tx, import_id, &rows, per_statement).await?;
    Ok(())
}

async fn write_calls(
    tx: &mut Tx,
    import_id: i64,
    p: &crate::store::plate::PlateRow,
    kit: &crate::domain::kit::Kit,
    reading: &PlateReading,
    round: i64,
) -> Result<(), Error> {
    let now = to_db(tx.now());
    let attempts = store::attempts_by_well(tx.conn(), p.id).await?;
    let by_well: std::collections::HashMap<&str, (i64, Option<CallOutcome>)> = attempts
        .iter()
        .map(|(id, w, o)| (w.as_str(), (*id, *o)))
        .collect();
    let mut rows = Vec::with_capacity(reading.calls.len());
    for c in &reading.calls {
        let well = c.well.to_string();
        let (attempt_id, before) = *by_well.get(well.as_str()).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "plate {} well {well} holds a tube without an attempt",
                p.run_no
            ))
        })?;
        let (code, detail) = c.call.to_stored();
        let cts = serde_json::to_string(&c.cts).unwrap_or_default();
        rows.push((attempt_id, code, detail, cts, before, c));
    }
    let per_statement = tx.backend().rows_per_insert(4);
    let calls: Vec<(i64, CallOutcome, String, String)> = rows
        .iter()
        .map(|(attempt, code, detail, cts, ..)| (*attempt, *code, detail.clone(), cts.clone()))
        .collect();
    let ctx = store::CallContext {
        import: import_id,
        kit_code: &kit.code,
        kit_version: i64::from(kit.version),
        run_valid: reading.run.valid,
        at: now,
    };
    store::insert_calls(tx, &ctx, &calls, per_statement).await?;
    store::mark_called(tx, import_id, p.id).await?;
    super::turnaround::imported(tx, import_id).await?;
    // One parent entry for the import, one child per tube called.
    tx.begin_bulk(
        "plate.import",
        "plate",
        &p.run_no,
        Some(&serde_json::json!({
            "round": round, "kit": kit.code, "kit_version": kit.version,
            "run_valid": reading.run.valid, "failures": reading.run.failures,
            "calls": reading.calls.len(), "missing_wells": reading.missing.len(),
        })),
    )
    .await?;
    for (_, code, detail, _, before, c) in &rows {
        tx.audit(
            "attempt.call",
            "tube",
            &c.barcode,
            before.map(|b| serde_json::json!({ "call": b })).as_ref(),
            Some(&serde_json::json!({
                "plate": p.run_no, "well": c.well.to_string(), "round": round, "call": code,
                "detail": detail, "run_valid": reading.run.valid,
                "kit": kit.code, "kit_version": kit.version,
            })),
        );
    }
    tx.end_bulk();
    metrics::counter!("natlis_plate_imports_total").increment(1);
    Ok(())
}

/// An import as stored.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load(conn: &mut sqlx::AnyConnection, import_id: i64) -> Result<Imported, Error> {
    let store::ImportRow {
        run_no,
        round,
        run_valid: valid,
        run_failures: failures,
        run_warnings: warnings,
        report,
        imported_at: at,
        imported_by: by,
    } = store::by_id(&mut *conn, import_id).await?;
    let files = store::files(&mut *conn, import_id).await?;
    let calls = store::calls(&mut *conn, import_id).await?;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap_or_default();
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let calls: Vec<WellCallView> = calls
        .into_iter()
        .map(|(well, barcode, outcome, detail, cts)| WellCallView {
            well,
            barcode,
            call: Call::from_stored(outcome, &detail),
            cts: serde_json::from_str(&cts).unwrap_or_default(),
        })
        .collect();
    Ok(Imported {
        plate: run_no,
        round: round as u32,
        duplicate: false,
        files: files
            .into_iter()
            .map(|(name, sha256, format, size)| FileView {
                name,
                sha256,
                format,
                size: size as u64,
            })
            .collect(),
        run: RunValidity {
            valid: valid != 0,
            failures: serde_json::from_str(&failures).unwrap_or_default(),
            warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        },
        summary: summary(calls.iter().map(|c| c.call.to_stored().0.as_str())),
        missing_wells: strings(&report["missing_wells"]),
        unexpected_wells: strings(&report["unexpected_wells"]),
        unread: serde_json::from_value(report["unread"].clone()).unwrap_or_default(),
        calls,
        doubts: serde_json::from_value(report["doubts"].clone()).unwrap_or_default(),
        override_reason: report["override_reason"].as_str().map(String::from),
        imported_at: at,
        imported_by: by,
    })
}

/// Every import of a plate, oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut sqlx::AnyConnection,
    actor: &crate::actor::Actor,
    plate: &str,
) -> Result<Vec<Imported>, Error> {
    let p = plates::visible(conn, actor, plate).await?;
    let ids = store::of_plate(&mut *conn, p.id).await?;
    let mut out = vec![];
    for id in ids {
        out.push(load(conn, id).await?);
    }
    Ok(out)
}

/// A kept file, byte for byte: the `n`th (from 1) file of an import round.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn raw_file(
    conn: &mut sqlx::AnyConnection,
    actor: &crate::actor::Actor,
    plate: &str,
    round: u32,
    n: u32,
) -> Result<(String, Vec<u8>), Error> {
    let p = plates::visible(conn, actor, plate).await?;
    let files = store::raw_files(&mut *conn, p.id, i64::from(round)).await?;
    files
        .into_iter()
        .nth((n as usize).wrapping_sub(1))
        .ok_or_else(|| {
            Error::not_found(
                "import.file_not_found",
                format!("plate {} has no file {n} in import round {round}", p.run_no),
            )
        })
}

/// The error for files none of whose readings belong to a tube on the plate: what the files
/// hold (wells, dyes and targets, sample names) against what the plate and its kit expect.
fn no_matching_wells(
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
