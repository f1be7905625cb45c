//! 模拟上机 a practice run: what a PCR instrument (a Bio-Rad CFX) would export for a plate as
//! it is loaded — every tube and control in its well, read with the plate's kit — for training,
//! the demo and the browser story. Nothing is written to the database; the file is imported
//! like any real export, through the page or the API.

use super::db::DbArgs;
use clap::Args;
use natlis::actor::Actor;
use natlis::domain::plate::WellContent;
use natlis::service::{kits, plates};
use natlis::synth::{plate_export, Shape};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PracticeRunArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The plate (run number).
    #[arg(long)]
    pub plate: String,
    /// Where to write the export (CSV).
    #[arg(long)]
    pub out: PathBuf,
    /// Tubes that amplify on every target (may be given several times).
    #[arg(long = "positive")]
    pub positive: Vec<String>,
    /// Tubes that amplify on the first target only.
    #[arg(long = "single-target")]
    pub single_target: Vec<String>,
    /// Tubes whose internal control fails too (an invalid well).
    #[arg(long = "invalid")]
    pub invalid: Vec<String>,
    /// The negative control amplifies at this Ct (the run fails its controls).
    #[arg(long)]
    pub dirty_control: Option<f64>,
}

/// What each tube shows in a practice run.
pub struct Outcomes<'a> {
    pub positive: &'a [String],
    pub single_target: &'a [String],
    pub invalid: &'a [String],
    pub dirty_control: Option<f64>,
}

/// Writes the practice export of a plate; returns the number of tubes in it.
pub async fn write(
    store: &natlis::store::Store,
    plate: &str,
    out: &Path,
    o: &Outcomes<'_>,
) -> anyhow::Result<usize> {
    let system = Actor::system();
    let fail = |e: natlis::error::Error| anyhow::anyhow!("plate {plate}: {e}");
    let mut conn = store.reader().acquire().await?;
    let layout = plates::layout_of(&mut conn, &system, plate)
        .await
        .map_err(fail)?;
    let row = plates::find(&mut conn, &system, plate)
        .await
        .map_err(fail)?
        .row;
    let kit = kits::find(
        &mut conn,
        &system,
        &row.kit_code,
        Some(row.kit_version as u32),
    )
    .await
    .map_err(fail)?
    .kit;
    let tubes: Vec<String> = layout
        .wells
        .values()
        .filter_map(|c| match c {
            WellContent::Tube(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let bytes = plate_export(&kit, &layout, o.dirty_control, |i| {
        let b = &tubes[i];
        if o.positive.contains(b) {
            Shape::Positive(24.5 + (i % 7) as f64 * 0.4)
        } else if o.single_target.contains(b) {
            Shape::SingleTarget(36.2)
        } else if o.invalid.contains(b) {
            Shape::Invalid
        } else {
            Shape::Negative(27.0 + (i % 9) as f64 * 0.3)
        }
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, bytes)?;
    Ok(tubes.len())
}

pub async fn run(a: PracticeRunArgs) -> anyhow::Result<()> {
    let store = a.db.open().await?;
    let n = write(
        &store,
        &a.plate,
        &a.out,
        &Outcomes {
            positive: &a.positive,
            single_target: &a.single_target,
            invalid: &a.invalid,
            dirty_control: a.dirty_control,
        },
    )
    .await?;
    println!(
        "practice run of plate {}: {n} tubes and the controls written to {}",
        a.plate,
        a.out.display()
    );
    Ok(())
}
