//! 资质与公示 a lab's accreditation as clients see it — the record, the qualification computed
//! from it, the listing history — and a lab as the public list shows it.

use crate::domain::accreditation::Qualification;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Credential {
    /// `licence` (执业许可) or `pcr_approval` (PCR实验室备案).
    pub kind: String,
    pub number: String,
    /// Valid through this day.
    pub valid_until: String,
    pub recorded_at: DateTime<FixedOffset>,
    pub recorded_by: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EqaRound {
    pub round: String,
    pub held_on: String,
    pub passed: bool,
    pub organiser: String,
    pub recorded_at: DateTime<FixedOffset>,
    pub recorded_by: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Penalty {
    pub decided_on: String,
    pub authority: String,
    pub summary: String,
    pub recorded_at: DateTime<FixedOffset>,
    pub recorded_by: String,
}

/// A publication on, or withdrawal from, the public list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Listing {
    /// `published` or `withdrawn`.
    pub action: String,
    pub reason: String,
    pub at: DateTime<FixedOffset>,
    pub by: String,
}

/// A lab's accreditation: its record, what the rules make of it today, its listing.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accreditation {
    pub lab: String,
    pub name: String,
    pub region: String,
    pub today: NaiveDate,
    pub qualification: Qualification,
    /// Published by the authority.
    pub published: bool,
    /// Shown on the public list now: published and qualified.
    pub on_public_list: bool,
    pub credentials: Vec<Credential>,
    pub eqa: Vec<EqaRound>,
    pub penalties: Vec<Penalty>,
    /// Newest first.
    pub history: Vec<Listing>,
}

/// How a lab keeps its report-time promise, measured by natlis over the last 7 days.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Measured {
    /// Results released for tubes sampled in the last 7 days.
    pub released: u64,
    /// Of them, released within the promised hours of sampling.
    pub within_promise: u64,
    /// within_promise / released (none when nothing was released).
    pub share: Option<f64>,
}

/// A lab on the public list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicLab {
    pub code: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub opening_hours: String,
    /// Open at the time of the answer (none: the hours do not say).
    pub open_now: Option<bool>,
    /// Price of a single-tube test, in fen (分).
    pub price_single_cents: i64,
    /// Price per person in a pooled tube, in fen.
    pub price_pooled_cents: i64,
    /// Region code (区划) of its district.
    pub district: String,
    /// `individuals`, `groups`.
    pub serves: Vec<String>,
    /// Hours from sampling to the report it promises.
    pub report_hours: i64,
    pub measured: Measured,
    /// May take on large-scale (mass) testing.
    pub large_scale: bool,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// The public list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicList {
    /// When the list was computed (it is cached for a minute).
    pub as_of: DateTime<FixedOffset>,
    pub labs: Vec<PublicLab>,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The list as CSV (UTF-8 with a BOM, so that spreadsheet programs read the Chinese right).
pub fn csv(l: &PublicList) -> String {
    let mut out = String::from("\u{feff}code,name,address,phone,opening_hours,price_single_yuan,price_pooled_yuan,district,serves,report_hours,measured_share_7d,large_scale,latitude,longitude\n");
    for x in &l.labs {
        let cells = [
            x.code.clone(),
            x.name.clone(),
            x.address.clone(),
            x.phone.clone(),
            x.opening_hours.clone(),
            format!("{:.2}", x.price_single_cents as f64 / 100.0),
            format!("{:.2}", x.price_pooled_cents as f64 / 100.0),
            x.district.clone(),
            x.serves.join(" "),
            x.report_hours.to_string(),
            x.measured
                .share
                .map(|s| format!("{s:.3}"))
                .unwrap_or_default(),
            x.large_scale.to_string(),
            x.latitude.map(|v| v.to_string()).unwrap_or_default(),
            x.longitude.map(|v| v.to_string()).unwrap_or_default(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// The list as a GeoJSON FeatureCollection of points (labs without coordinates left out), for
/// others' maps.
pub fn geojson(l: &PublicList) -> serde_json::Value {
    let features: Vec<serde_json::Value> = l
        .labs
        .iter()
        .filter_map(|x| {
            let (lat, lon) = (x.latitude?, x.longitude?);
            let mut props = serde_json::to_value(x).ok()?;
            if let Some(p) = props.as_object_mut() {
                p.remove("latitude");
                p.remove("longitude");
            }
            Some(serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": props,
            }))
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}
