//! 结果推送 what goes to the health-code platform, as pure functions: the status message of a
//! person (one version of their status), its FHIR R4 form, the HMAC signature of a body, how a
//! receiver's answer is read, and the retry schedule.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// One version of a person's status, as enqueued (sink-agnostic; built in the transaction of the
/// change and never changed afterwards).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusMessage {
    /// The person's stable id: the message key.
    pub key: String,
    /// 1, 2, 3 … per person: a receiver keeps the highest.
    pub version: i64,
    pub person: PersonData,
    /// `negative`, `pending_recheck`, `needs_resampling`, `positive_preliminary`,
    /// `positive_confirmed`, `no_result` (a retraction).
    pub status: String,
    /// RFC 3339, for a negative.
    pub valid_until: Option<String>,
    /// The result that brought the change, if one did.
    pub result: Option<ResultData>,
    /// RFC 3339: when the status changed.
    pub changed_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonData {
    pub doc_type: String,
    /// In full: the platform matches the health code by it.
    pub doc_no: String,
    pub name: String,
    pub phone: String,
    pub sex: Option<String>,
    pub birth_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultData {
    /// 试管码 the tube barcode.
    pub tube: String,
    /// `negative`, `positive`, `pending_recheck`.
    pub value: String,
    /// `single`, `pool`, `environment`.
    pub source: String,
    pub sample_type: String,
    /// RFC 3339.
    pub sampled_at: String,
    pub lab: Option<String>,
    /// (target, Ct) of the call behind it; Ct `None`: no amplification.
    pub cts: Vec<(String, Option<f64>)>,
    pub cdc_status: Option<String>,
}

const LOINC: &str = "http://loinc.org";
const SNOMED: &str = "http://snomed.info/sct";

/// The SNOMED CT code and display of a status.
pub fn snomed(status: &str, source: Option<&str>) -> Option<(&'static str, &'static str)> {
    let pooled = source == Some("pool");
    Some(match status {
        "negative" if pooled => ("895231008", "Not detected in pooled specimen"),
        "negative" => ("260415000", "Not detected"),
        "positive_preliminary" | "positive_confirmed" => ("260373001", "Detected"),
        "pending_recheck" if pooled => ("462371000124108", "Detected in pooled specimen"),
        "pending_recheck" => ("419984006", "Inconclusive"),
        "needs_resampling" => ("125154007", "Specimen unsatisfactory"),
        _ => return None,
    })
}

/// The LOINC code of a target's Ct value.
fn ct_loinc(target: &str) -> Option<(&'static str, &'static str)> {
    match target.to_ascii_uppercase().as_str() {
        "ORF1AB" => Some(("94511-3", "SARS-CoV-2 ORF1ab region Ct")),
        "N" => Some(("94510-5", "SARS-CoV-2 N gene Ct")),
        _ => None,
    }
}

fn specimen_code(sample_type: &str) -> (&'static str, &'static str) {
    match sample_type {
        "nasopharyngeal" => ("258500001", "Nasopharyngeal swab"),
        "anterior_nasal" => ("697989009", "Anterior nares swab"),
        _ => ("461911000124106", "Oropharyngeal swab"),
    }
}

/// The FHIR R4 resources of one message: Patient, Specimen, Observation, DiagnosticReport.
pub fn fhir_entries(m: &StatusMessage) -> Vec<serde_json::Value> {
    use serde_json::json;
    let id = |kind: &str| format!("{kind}-{}-{}", m.key, m.version);
    let identifier =
        json!({"system": "urn:natlis:status", "value": format!("{}:{}", m.key, m.version)});
    let patient = json!({
        "resourceType": "Patient",
        "id": id("pat"),
        "identifier": [{"system": format!("urn:natlis:doc:{}", m.person.doc_type), "value": m.person.doc_no}],
        "name": [{"text": m.person.name}],
        "telecom": [{"system": "phone", "value": m.person.phone}],
        "gender": match m.person.sex.as_deref() { Some("male") => "male", Some("female") => "female", _ => "unknown" },
        "birthDate": m.person.birth_date,
    });
    let mut out = vec![patient];
    let source = m.result.as_ref().map(|r| r.source.as_str());
    let code = snomed(&m.status, source);
    let mut observation = json!({
        "resourceType": "Observation",
        "id": id("obs"),
        "identifier": [identifier],
        "status": match m.status.as_str() {
            "no_result" => "cancelled",
            "positive_preliminary" => "preliminary",
            _ if m.version > 1 => "amended",
            _ => "final",
        },
        "code": {"coding": [{"system": LOINC, "code": "94500-6",
            "display": "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection"}]},
        "subject": {"reference": format!("Patient/{}", id("pat"))},
        "issued": m.changed_at,
        "note": [{"text": format!("natlis status {}", m.status)}],
    });
    if let Some((c, d)) = code {
        observation["valueCodeableConcept"] =
            json!({"coding": [{"system": SNOMED, "code": c, "display": d}]});
    }
    if let Some(v) = &m.valid_until {
        observation["effectivePeriod"] = json!({"end": v});
    }
    if let Some(r) = &m.result {
        let (sc, sd) = specimen_code(&r.sample_type);
        out.push(json!({
            "resourceType": "Specimen",
            "id": id("spec"),
            "identifier": [{"system": "urn:natlis:tube", "value": r.tube}],
            "type": {"coding": [{"system": SNOMED, "code": sc, "display": sd}]},
            "subject": {"reference": format!("Patient/{}", id("pat"))},
            "collection": {"collectedDateTime": r.sampled_at},
            "note": [{"text": if r.source == "pool" { "pooled specimen (混采)" } else { "single specimen (单采)" }}],
        }));
        observation["specimen"] = json!({"reference": format!("Specimen/{}", id("spec"))});
        observation["effectiveDateTime"] = json!(r.sampled_at);
        let components: Vec<serde_json::Value> = r
            .cts
            .iter()
            .filter_map(|(target, ct)| {
                let (code, display) = ct_loinc(target)?;
                let mut c = json!({"code": {"coding": [{"system": LOINC, "code": code, "display": display}]}});
                match ct {
                    Some(v) => c["valueQuantity"] = json!({"value": v, "unit": "{Ct_value}",
                        "system": "http://unitsofmeasure.org", "code": "{Ct_value}"}),
                    None => c["dataAbsentReason"] = json!({"text": "no amplification"}),
                }
                Some(c)
            })
            .collect();
        if !components.is_empty() {
            observation["component"] = json!(components);
        }
    }
    out.push(observation);
    out.push(json!({
        "resourceType": "DiagnosticReport",
        "id": id("rep"),
        "identifier": [{"system": "urn:natlis:status", "value": format!("{}:{}", m.key, m.version)}],
        "status": if m.status == "positive_preliminary" { "preliminary" } else if m.version > 1 { "amended" } else { "final" },
        "code": {"coding": [{"system": LOINC, "code": "94500-6"}]},
        "subject": {"reference": format!("Patient/{}", id("pat"))},
        "issued": m.changed_at,
        "performer": m.result.as_ref().and_then(|r| r.lab.as_ref()).map(|l| vec![json!({"display": l})]),
        "result": [{"reference": format!("Observation/{}", id("obs"))}],
    }));
    out
}

/// A FHIR R4 batch Bundle of messages: each message's resources as POST entries, the
/// Observation conditional on its key and version (a re-delivery creates nothing new).
pub fn fhir_bundle(messages: &[StatusMessage]) -> serde_json::Value {
    let mut entries = vec![];
    for m in messages {
        for r in fhir_entries(m) {
            let kind = r["resourceType"].as_str().unwrap_or("").to_string();
            let mut request = serde_json::json!({"method": "POST", "url": kind});
            if kind == "Observation" || kind == "DiagnosticReport" {
                request["ifNoneExist"] = serde_json::json!(format!(
                    "identifier=urn:natlis:status|{}:{}",
                    m.key, m.version
                ));
            }
            entries.push(serde_json::json!({
                "fullUrl": format!("urn:natlis:{}", r["id"].as_str().unwrap_or("")),
                "resource": r,
                "request": request,
            }));
        }
    }
    serde_json::json!({"resourceType": "Bundle", "type": "batch", "entry": entries})
}

/// `sha256=<hex HMAC-SHA256 of the body under the sink's key>`.
pub fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// Try again later (network error, timeout, 5xx, 429).
    Retry,
    /// The receiver refused it (4xx): it will not take it however often it is sent.
    Refused,
}

/// Reads an HTTP status.
pub fn classify(status: u16) -> Delivery {
    match status {
        200..=299 => Delivery::Delivered,
        408 | 429 => Delivery::Retry,
        400..=499 => Delivery::Refused,
        _ => Delivery::Retry,
    }
}

/// The wait before attempt `attempts + 1`: `base` doubling to at most 5 min, times a jitter
/// factor in [0.8, 1.2) (`jitter` in [0, 1)).
pub fn backoff(base: std::time::Duration, attempts: u32, jitter: f64) -> std::time::Duration {
    let ms = (base.as_millis() as u64)
        .saturating_mul(1u64 << attempts.min(20))
        .min(300_000);
    std::time::Duration::from_millis((ms as f64 * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(status: &str, source: &str, version: i64) -> StatusMessage {
        StatusMessage {
            key: "p1".into(),
            version,
            person: PersonData {
                doc_type: "resident_id".into(),
                doc_no: "11010519491231002X".into(),
                name: "张三".into(),
                phone: "13812345678".into(),
                sex: Some("female".into()),
                birth_date: Some("1949-12-31".into()),
            },
            status: status.into(),
            valid_until: None,
            result: Some(ResultData {
                tube: "T1".into(),
                value: "negative".into(),
                source: source.into(),
                sample_type: "oropharyngeal".into(),
                sampled_at: "2026-11-24T08:00:00+08:00".into(),
                lab: Some("LAB-A".into()),
                cts: vec![
                    ("ORF1ab".into(), Some(24.5)),
                    ("N".into(), None),
                    ("E".into(), Some(30.0)),
                ],
                cdc_status: None,
            }),
            changed_at: "2026-11-24T10:00:00+08:00".into(),
        }
    }

    #[test]
    fn result_codes() {
        assert_eq!(snomed("negative", Some("pool")).unwrap().0, "895231008");
        assert_eq!(snomed("negative", Some("single")).unwrap().0, "260415000");
        assert_eq!(
            snomed("pending_recheck", Some("pool")).unwrap().0,
            "462371000124108"
        );
        assert_eq!(snomed("positive_confirmed", None).unwrap().0, "260373001");
        assert_eq!(snomed("needs_resampling", None).unwrap().0, "125154007");
        assert_eq!(snomed("no_result", None), None);
    }

    #[test]
    fn a_bundle_carries_patient_specimen_observation_report() {
        let b = fhir_bundle(&[
            message("negative", "pool", 1),
            message("positive_preliminary", "single", 2),
        ]);
        let entries = b["entry"].as_array().unwrap();
        assert_eq!(entries.len(), 8);
        let kinds: Vec<&str> = entries[..4]
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["Patient", "Specimen", "Observation", "DiagnosticReport"]
        );
        let obs = &entries[2]["resource"];
        assert_eq!(obs["code"]["coding"][0]["code"], "94500-6");
        assert_eq!(
            obs["valueCodeableConcept"]["coding"][0]["code"],
            "895231008"
        );
        assert_eq!(
            obs["component"].as_array().unwrap().len(),
            2,
            "ORF1ab and N only"
        );
        assert_eq!(obs["component"][0]["code"]["coding"][0]["code"], "94511-3");
        assert_eq!(obs["component"][0]["valueQuantity"]["unit"], "{Ct_value}");
        assert_eq!(obs["component"][1]["code"]["coding"][0]["code"], "94510-5");
        assert!(obs["component"][1]["valueQuantity"].is_null());
        assert_eq!(
            entries[2]["request"]["ifNoneExist"],
            "identifier=urn:natlis:status|p1:1"
        );
        assert_eq!(entries[6]["resource"]["status"], "preliminary");
    }

    #[test]
    fn signatures_and_answers() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(classify(200), Delivery::Delivered);
        assert_eq!(classify(204), Delivery::Delivered);
        assert_eq!(classify(400), Delivery::Refused);
        assert_eq!(classify(409), Delivery::Refused);
        assert_eq!(classify(429), Delivery::Retry);
        assert_eq!(classify(503), Delivery::Retry);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let s = std::time::Duration::from_secs(1);
        assert_eq!(backoff(s, 0, 0.5).as_millis(), 1000);
        assert_eq!(backoff(s, 3, 0.5).as_millis(), 8000);
        assert_eq!(backoff(s, 30, 0.5).as_millis(), 300_000);
        assert_eq!(backoff(s, 0, 0.0).as_millis(), 800);
        assert!(backoff(s, 0, 0.999).as_millis() < 1200);
    }
}
