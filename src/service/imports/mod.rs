//! 结果导入 importing an instrument's result files for a plate. The files are read and checked
//! before the transaction; inside it, the layout and kit are loaded, every well is matched and
//! called, and then everything is written at once — raw files with their hashes, every reading,
//! every call — or nothing. The same files twice change nothing and say so; other files for a
//! plate with results make a new round of calls and never touch earlier ones.

mod history;
mod read;
mod refusal;

pub use history::{list, load, raw_file};
pub use read::{read_files, ReadFile, ReadFiles, Upload, MAX_FILE_BYTES};

use super::plates;
use crate::domain::interpretation::CallOutcome;
use crate::domain::policy::Action;
use crate::domain::run::{self, PlateReading};
use crate::error::Error;
use crate::store::result_import as store;
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::import::{FileView, Imported, WellCallView};
use instrument_adapters::Reading;
use refusal::{check, doubted, no_matching_wells};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The multipart field (or query parameter) with the reason to import doubted files anyway.
pub const OVERRIDE_FIELD: &str = "override_reason";
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
    refuse_files_of_another_plate(tx.conn(), &p, &files).await?;
    let (kit, reading) = judge(tx.conn(), &p, &files).await?;
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
        files: file_views(&files),
        summary: summary(reading.calls.iter().map(|c| c.call.to_stored().0.as_str())),
        run: reading.run,
        missing_wells: reading.missing.iter().map(|w| w.to_string()).collect(),
        unexpected_wells: reading.unexpected.iter().map(|w| w.to_string()).collect(),
        unread: reading.unread,
        calls: call_views(reading.calls),
        doubts: reading.doubts,
        override_reason,
        imported_at: now,
        imported_by: tx.actor().username.clone(),
    })
}

/// A result file belongs to one plate: files imported for another are refused, named.
async fn refuse_files_of_another_plate(
    conn: &mut sqlx::AnyConnection,
    p: &crate::store::plate::PlateRow,
    files: &ReadFiles,
) -> Result<(), Error> {
    for f in &files.files {
        if let Some(run) = store::plate_of_file(conn, &f.sha256, p.id).await? {
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
    Ok(())
}

/// The files read against the plate's layout and kit: every well matched and called, the run
/// judged by its controls. Refused (named by well) when the files contradict the layout or
/// match no well; doubts are left for the caller to weigh.
async fn judge(
    conn: &mut sqlx::AnyConnection,
    p: &crate::store::plate::PlateRow,
    files: &ReadFiles,
) -> Result<(crate::domain::kit::Kit, PlateReading), Error> {
    let layout = plates::layout(&mut *conn, p).await?;
    let kit = super::kits::load_by_id(&mut *conn, p.kit_id).await?;
    let readings: Vec<Reading> = files
        .files
        .iter()
        .flat_map(|f| f.readings.iter().cloned())
        .collect();
    let known = known_barcodes(conn, files).await?;
    let reading = run::read_plate(&kit, &layout, &readings, &known);
    check(&p.run_no, &reading)?;
    if reading.calls.is_empty() {
        return Err(no_matching_wells(
            &p.run_no, &kit, &layout, &readings, &reading,
        ));
    }
    Ok((kit, reading))
}

/// What importing the files would do, checked exactly as the import checks them but with
/// nothing written: the format read, the run's validity, each tube's call, the wells missing
/// or unexpected, and the doubts an import would need a reason for. Files imported before
/// answer what that import did, marked a duplicate.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn preview(
    conn: &mut sqlx::AnyConnection,
    actor: &crate::actor::Actor,
    plate: &str,
    files: &ReadFiles,
) -> Result<Imported, Error> {
    let p = plates::visible_for(&mut *conn, actor, plate, Action::RunPlates).await?;
    if let Some(id) = store::by_hash(&mut *conn, p.id, &files.hash).await? {
        let mut v = load(conn, id).await?;
        v.duplicate = true;
        return Ok(v);
    }
    refuse_files_of_another_plate(&mut *conn, &p, files).await?;
    let (_, reading) = judge(conn, &p, files).await?;
    Ok(Imported {
        plate: p.run_no.clone(),
        round: 0,
        duplicate: false,
        files: file_views(files),
        summary: summary(reading.calls.iter().map(|c| c.call.to_stored().0.as_str())),
        run: reading.run,
        missing_wells: reading.missing.iter().map(|w| w.to_string()).collect(),
        unexpected_wells: reading.unexpected.iter().map(|w| w.to_string()).collect(),
        unread: reading.unread,
        calls: call_views(reading.calls),
        doubts: reading.doubts,
        override_reason: None,
        imported_at: 0,
        imported_by: String::new(),
    })
}

fn file_views(files: &ReadFiles) -> Vec<FileView> {
    files
        .files
        .iter()
        .map(|f| FileView {
            name: f.name.clone(),
            sha256: f.sha256.clone(),
            format: f.format.clone(),
            size: f.bytes.len() as u64,
        })
        .collect()
}

fn call_views(calls: Vec<run::WellCall>) -> Vec<WellCallView> {
    calls
        .into_iter()
        .map(|c| WellCallView {
            well: c.well.to_string(),
            barcode: c.barcode,
            call: c.call,
            cts: c.cts,
        })
        .collect()
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(super) fn summary<'a>(codes: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
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
