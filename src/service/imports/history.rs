//! Imports as stored: a plate's rounds and their kept files.

use super::summary;
use crate::domain::interpretation::{Call, RunValidity};
use crate::error::Error;
use crate::service::plates;
use crate::store::result_import as store;
use crate::view::import::{FileView, Imported, WellCallView};

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
