//! The bench at LAB-HD: plates read, called and partly reviewed, and one still being loaded.

use chrono::FixedOffset;
use natlis::actor::Actor;
use natlis::store::Store;

/// The bench at LAB-HD: a plate read and called (a positive pool, a single-target tube, an
/// invalid well), a plate whose negative control was contaminated (the run is invalid), and a
/// plate still being loaded.
pub async fn plates(store: &Store, tz: FixedOffset) -> anyhow::Result<String> {
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
        let filled = plates::fill(&mut tx, &plate.run_no)
            .await
            .map_err(fail)?
            .view(tz);
        tx.commit().await?;
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
    let mut tx = store.begin(&tech).await?;
    let loading = plates::create(
        &mut tx,
        plates::NewPlate {
            lab: "LAB-HD".into(),
            size: 384,
            kit: "MACCURA-ORF1AB-N-E".into(),
            kit_version: None,
            instrument: Some("ABI7500-2".into()),
        },
    )
    .await
    .map_err(fail)?
    .row;
    tx.commit().await?;
    Ok(format!(
        "plates {} read and called ({released} tubes released), {} being loaded",
        made.join(" and "),
        loading.run_no
    ))
}
