//! The lab bench for the stories: plates filled by proposal, synthetic instrument exports of
//! them imported, the review queue, and reviewers' decisions.

use super::{Resp, TestApp};
use instrument_adapters::{PlateSize, Well};
use natlis::domain::kit::Kit;
use natlis::domain::plate::{Layout, WellContent};
use natlis::synth::{plate_export, Shape};
use serde_json::{json, Value};

pub fn kit(code: &str) -> Kit {
    Kit::shipped().into_iter().find(|k| k.code == code).unwrap()
}

/// A new 96-well plate at LAB-A read with `kit`; its run number.
pub async fn new_plate(tech: &TestApp, kit: &str) -> String {
    let r = tech
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": kit}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body["run_no"].as_str().unwrap().to_string()
}

/// The tubes on a plate by well, from a plate as the API shows it.
pub fn layout_of(plate: &Value) -> Layout {
    let mut layout = Layout::new(PlateSize::P96);
    for w in plate["wells"].as_array().unwrap() {
        if let Some(b) = w["tube"]["barcode"].as_str() {
            layout.wells.insert(
                Well::parse(w["well"].as_str().unwrap(), PlateSize::P96).unwrap(),
                WellContent::Tube(b.to_string()),
            );
        }
    }
    layout
}

/// A plate filled by proposal with every tube waiting at LAB-A; its run number and layout.
pub async fn filled_plate(tech: &TestApp, kit: &str) -> (String, Layout) {
    let plate = new_plate(tech, kit).await;
    let r = tech
        .post(&format!("/api/v1/plates/{plate}/fill"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    (plate.clone(), layout_of(&r.body))
}

/// A plate holding these tubes (placed by scan, in order); its run number and layout.
pub async fn plate_of(tech: &TestApp, kit: &str, barcodes: &[String]) -> (String, Layout) {
    let plate = new_plate(tech, kit).await;
    for b in barcodes {
        let r = tech
            .post(
                &format!("/api/v1/plates/{plate}/wells"),
                json!({"barcode": b}),
            )
            .await;
        assert_eq!(r.status, 200, "{b}: {r:?}");
    }
    let r = tech.get(&format!("/api/v1/plates/{plate}")).await;
    (plate, layout_of(&r.body))
}

/// Imports a synthetic CFX export of the plate: `shape` says what each tube shows (by
/// barcode); the negative control is dirty at `dirty`'s Ct if given.
pub async fn import(
    tech: &TestApp,
    plate: &str,
    kit_code: &str,
    layout: &Layout,
    dirty: Option<f64>,
    shape: impl Fn(&str) -> Shape,
) -> Value {
    let barcodes: Vec<String> = layout
        .wells
        .values()
        .filter_map(|c| match c {
            WellContent::Tube(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let bytes = plate_export(&kit(kit_code), layout, dirty, |i| shape(&barcodes[i]));
    let r = tech
        .send(
            tech.client
                .post(tech.url(&format!("/api/v1/plates/{plate}/imports")))
                .body(bytes),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    r.body
}

/// The review queue of a plate.
pub async fn queue(reviewer: &TestApp, plate: &str) -> Vec<Value> {
    let r = reviewer.get(&format!("/api/v1/review?plate={plate}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body.as_array().unwrap().clone()
}

/// A tube's item in a review queue.
pub fn item<'a>(q: &'a [Value], barcode: &str) -> &'a Value {
    q.iter()
        .find(|i| i["barcode"] == barcode)
        .unwrap_or_else(|| panic!("{barcode} not in the queue: {q:?}"))
}

pub async fn decide(reviewer: &TestApp, attempt: &Value, body: Value) -> Resp {
    reviewer
        .post(&format!("/api/v1/attempts/{attempt}/decision"), body)
        .await
}
