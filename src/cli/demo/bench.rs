//! The bench at LAB-HD: plates read, called and partly reviewed, a plate whose run waits to be
//! imported (its instrument file written beside the data), one half loaded, and received tubes
//! still waiting for a plate.

use chrono::FixedOffset;
use natlis::actor::Actor;
use natlis::store::Store;
use std::path::Path;

/// Tubes on the read 384-well plate (the rest of the lab's received tubes go on later plates
/// or wait).
const READ_PLATE_TUBES: usize = 120;
/// Tubes on the plate whose run is done but not imported.
const RUN_DONE_TUBES: usize = 40;
/// Tubes on the plate being loaded.
const LOADING_TUBES: usize = 20;

/// Puts the first `n` tubes the proposal names into their proposed wells (the earliest
/// deadlines first, re-checks before everything), as a technician scanning them would.
async fn load_by_proposal(
    store: &Store,
    tech: &Actor,
    plate: &str,
    n: usize,
) -> anyhow::Result<usize> {
    use natlis::service::plates;
    let fail = |e: natlis::error::Error| anyhow::anyhow!("demo plate {plate}: {e}");
    let proposed = {
        let mut conn = store.reader().acquire().await?;
        plates::propose(&mut conn, tech, plate)
            .await
            .map_err(fail)?
    };
    let mut tx = store.begin(tech).await?;
    let mut placed = 0;
    for (well, barcode, _) in proposed.wells.iter().take(n) {
        plates::assign(
            &mut tx,
            plate,
            plates::AssignWell {
                barcode: barcode.clone(),
                well: Some(well.clone()),
            },
        )
        .await
        .map_err(fail)?;
        placed += 1;
    }
    tx.commit().await?;
    Ok(placed)
}

/// A new plate at LAB-HD; its run number.
async fn new_plate(
    store: &Store,
    tech: &Actor,
    size: u16,
    kit: &str,
    instrument: &str,
) -> anyhow::Result<String> {
    use natlis::service::plates;
    let mut tx = store.begin(tech).await?;
    let plate = plates::create(
        &mut tx,
        plates::NewPlate {
            lab: "LAB-HD".into(),
            size,
            kit: kit.into(),
            kit_version: None,
            instrument: Some(instrument.into()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo plate: {e}"))?
    .row
    .run_no;
    tx.commit().await?;
    Ok(plate)
}

/// The bench at LAB-HD: a plate read and called (a positive pool, a single-target tube, an
/// invalid well), a plate whose negative control was contaminated (the run is invalid), a
/// plate whose run is done and waits to be imported (its export written to
/// `out_dir/demo-runs/`), a plate half loaded, and tubes waiting for a plate.
pub async fn plates(store: &Store, tz: FixedOffset, out_dir: &Path) -> anyhow::Result<String> {
    use natlis::domain::kit::Kit;
    use natlis::service::{imports, plates};
    use natlis::synth::{plate_export, Shape};
    let tech = Actor::new("tech-hd");
    let fail = |e: natlis::error::Error| anyhow::anyhow!("demo plates: {e}");
    let mut made = vec![];
    let mut clean = None;
    for (kit_code, size, dirty) in [
        ("KH-ORF1AB-N", 96, Some(35.8)),
        ("DAAN-ORF1AB-N", 384, None),
    ] {
        let mut tx = store.begin(&tech).await?;
        let plate = plates::create(
            &mut tx,
            plates::NewPlate {
                lab: "LAB-HD".into(),
                size,
                kit: kit_code.into(),
                kit_version: None,
                instrument: Some("CFX96-1".into()),
            },
        )
        .await
        .map_err(fail)?
        .view(tz);
        let filled = if size == 96 {
            let filled = plates::fill(&mut tx, &plate.run_no)
                .await
                .map_err(fail)?
                .view(tz);
            tx.commit().await?;
            filled
        } else {
            tx.commit().await?;
            load_by_proposal(store, &tech, &plate.run_no, READ_PLATE_TUBES).await?;
            let mut conn = store.reader().acquire().await?;
            plates::find(&mut conn, &tech, &plate.run_no)
                .await
                .map_err(fail)?
                .view(tz)
        };
        if filled.free_wells == size - 2 {
            break;
        }
        let layout = {
            let mut conn = store.reader().acquire().await?;
            plates::layout_of(&mut conn, &tech, &plate.run_no)
                .await
                .map_err(fail)?
        };
        let kit = Kit::shipped()
            .into_iter()
            .find(|k| k.code == kit_code)
            .expect("a shipped kit");
        // A pooled tube on the plate turns positive too (its members will be re-checked).
        let pool_at = filled
            .wells
            .iter()
            .filter(|w| w.tube.is_some())
            .position(|w| {
                w.tube
                    .as_ref()
                    .is_some_and(|t| t.kind == natlis::domain::vocab::TubeKind::Pool)
            });
        let bytes = plate_export(&kit, &layout, dirty, |i| match i {
            _ if Some(i) == pool_at => Shape::Positive(30.8),
            3 => Shape::Positive(26.3),
            11 => Shape::SingleTarget(36.9),
            17 => Shape::Invalid,
            _ => Shape::Negative(27.0 + (i % 9) as f64 * 0.3),
        });
        let read = imports::read_files(
            vec![imports::Upload {
                name: format!("{}.csv", plate.run_no),
                bytes,
            }],
            Some(layout.size),
            &[],
        )
        .map_err(fail)?;
        let mut tx = store.begin(&tech).await?;
        imports::import(&mut tx, &plate.run_no, std::sync::Arc::new(read), None)
            .await
            .map_err(fail)?;
        tx.commit().await?;
        if dirty.is_none() {
            clean = Some(plate.run_no.clone());
        }
        made.push(plate.run_no);
    }
    // The night's reviewer releases the clean plate's negatives and its positives; the
    // single-target and invalid wells, and the whole contaminated plate, wait in the queue.
    let mut released = 0;
    if let Some(first) = &clean {
        use natlis::domain::review::Decision;
        use natlis::service::review;
        let reviewer = Actor::new("reviewer-hd");
        let mut tx = store.begin(&reviewer).await?;
        released += review::release_negatives(&mut tx, first)
            .await
            .map_err(fail)?
            .released;
        tx.commit().await?;
        let queue = {
            let mut conn = store.reader().acquire().await?;
            review::queue(
                &mut conn,
                &reviewer,
                &review::QueueFilter {
                    lab: None,
                    plate: Some(first.clone()),
                },
            )
            .await
            .map_err(fail)?
        };
        for item in queue {
            if item.suggestion.decision == Decision::Release {
                let mut tx = store.begin(&reviewer).await?;
                review::decide(
                    &mut tx,
                    item.attempt,
                    review::Decide {
                        decision: Decision::Release,
                        value: item.suggestion.value,
                        reason: None,
                    },
                )
                .await
                .map_err(fail)?;
                tx.commit().await?;
                released += 1;
            }
        }
    }
    // A run done on the instrument, its file waiting to be imported.
    let done = new_plate(store, &tech, 96, "DAAN-ORF1AB-N", "CFX96-2").await?;
    let on_done = load_by_proposal(store, &tech, &done, RUN_DONE_TUBES).await?;
    let file = out_dir.join("demo-runs").join(format!("{done}.csv"));
    let second = {
        let mut conn = store.reader().acquire().await?;
        let p = plates::find(&mut conn, &tech, &done).await.map_err(fail)?;
        p.wells
            .iter()
            .filter_map(|w| w.barcode.clone())
            .nth(1)
            .into_iter()
            .collect::<Vec<_>>()
    };
    crate::cli::practice_run::write(
        store,
        &done,
        &file,
        &crate::cli::practice_run::Outcomes {
            positive: &[],
            single_target: &second,
            invalid: &[],
            dirty_control: None,
        },
    )
    .await?;
    // A plate half loaded; the rest of the received tubes wait for it.
    let loading = new_plate(store, &tech, 384, "MACCURA-ORF1AB-N-E", "ABI7500-2").await?;
    let on_loading = load_by_proposal(store, &tech, &loading, LOADING_TUBES).await?;
    Ok(format!(
        "plates {} read and called ({released} tubes released), {done} run with its file \
         waiting to be imported ({on_done} tubes; {}), {loading} being loaded ({on_loading} \
         tubes so far)",
        made.join(" and "),
        file.display()
    ))
}
