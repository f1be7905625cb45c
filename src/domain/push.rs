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

// The FHIR R4 resources, as typed structures serialised straight to bytes (a batch of 500
// messages is a megabyte and more of JSON: no intermediate trees).

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

#[derive(Serialize)]
struct Concept<'a> {
    coding: [Coding<'a>; 1],
}

fn concept<'a>(system: &'a str, code: &'a str, display: Option<&'a str>) -> Concept<'a> {
    Concept {
        coding: [Coding {
            system,
            code,
            display,
        }],
    }
}

#[derive(Serialize)]
struct Identifier<'a> {
    system: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct Reference<'a> {
    reference: &'a str,
}

#[derive(Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Telecom<'a> {
    system: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct Patient<'a> {
    id: &'a str,
    identifier: [Identifier<'a>; 1],
    name: [Text<'a>; 1],
    telecom: [Telecom<'a>; 1],
    gender: &'a str,
    #[serde(rename = "birthDate")]
    birth_date: Option<&'a str>,
}

#[derive(Serialize)]
struct Collection<'a> {
    #[serde(rename = "collectedDateTime")]
    collected: &'a str,
}

#[derive(Serialize)]
struct Specimen<'a> {
    id: &'a str,
    identifier: [Identifier<'a>; 1],
    #[serde(rename = "type")]
    kind: Concept<'a>,
    subject: Reference<'a>,
    collection: Collection<'a>,
    note: [Text<'a>; 1],
}

#[derive(Serialize)]
struct Quantity {
    value: f64,
    unit: &'static str,
    system: &'static str,
    code: &'static str,
}

#[derive(Serialize)]
struct Component<'a> {
    code: Concept<'a>,
    #[serde(rename = "valueQuantity", skip_serializing_if = "Option::is_none")]
    value: Option<Quantity>,
    #[serde(rename = "dataAbsentReason", skip_serializing_if = "Option::is_none")]
    absent: Option<Text<'a>>,
}

#[derive(Serialize)]
struct Period<'a> {
    end: &'a str,
}

#[derive(Serialize)]
struct Observation<'a> {
    id: &'a str,
    identifier: [Identifier<'a>; 1],
    status: &'a str,
    code: Concept<'a>,
    subject: Reference<'a>,
    issued: &'a str,
    note: [Text<'a>; 1],
    #[serde(
        rename = "valueCodeableConcept",
        skip_serializing_if = "Option::is_none"
    )]
    value: Option<Concept<'a>>,
    #[serde(rename = "effectivePeriod", skip_serializing_if = "Option::is_none")]
    period: Option<Period<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    specimen: Option<Reference<'a>>,
    #[serde(rename = "effectiveDateTime", skip_serializing_if = "Option::is_none")]
    effective: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    component: Vec<Component<'a>>,
}

#[derive(Serialize)]
struct Performer<'a> {
    display: &'a str,
}

#[derive(Serialize)]
struct DiagnosticReport<'a> {
    id: &'a str,
    identifier: [Identifier<'a>; 1],
    status: &'a str,
    code: Concept<'a>,
    subject: Reference<'a>,
    issued: &'a str,
    performer: Option<[Performer<'a>; 1]>,
    result: [Reference<'a>; 1],
}

#[derive(Serialize)]
#[serde(tag = "resourceType")]
enum Resource<'a> {
    Patient(Patient<'a>),
    Specimen(Specimen<'a>),
    Observation(Box<Observation<'a>>),
    DiagnosticReport(DiagnosticReport<'a>),
}

#[derive(Serialize)]
struct Request<'a> {
    method: &'static str,
    url: &'static str,
    #[serde(rename = "ifNoneExist", skip_serializing_if = "Option::is_none")]
    if_none_exist: Option<&'a str>,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "fullUrl")]
    full_url: String,
    resource: Resource<'a>,
    request: Request<'a>,
}

#[derive(Serialize)]
struct Bundle<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    entry: Vec<Entry<'a>>,
}

/// The ids and references of one message's resources.
struct Ids {
    pat: String,
    spec: String,
    obs: String,
    rep: String,
    pat_ref: String,
    spec_ref: String,
    obs_ref: String,
    status_id: String,
    doc_system: String,
    condition: String,
}

impl Ids {
    fn of(m: &StatusMessage) -> Self {
        let id = |kind: &str| format!("{kind}-{}-{}", m.key, m.version);
        let status_id = format!("{}:{}", m.key, m.version);
        Self {
            pat_ref: format!("Patient/{}", id("pat")),
            spec_ref: format!("Specimen/{}", id("spec")),
            obs_ref: format!("Observation/{}", id("obs")),
            pat: id("pat"),
            spec: id("spec"),
            obs: id("obs"),
            rep: id("rep"),
            condition: format!("identifier={STATUS_SYSTEM}|{status_id}"),
            status_id,
            doc_system: format!("urn:natlis:doc:{}", m.person.doc_type),
        }
    }
}

const STATUS_SYSTEM: &str = "urn:natlis:status";
const TEST_CODE: &str = "94500-6";
const TEST_NAME: &str =
    "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection";

fn entries<'a>(m: &'a StatusMessage, ids: &'a Ids, out: &mut Vec<Entry<'a>>) {
    let post = |url: &'static str, cond: Option<&'a str>| Request {
        method: "POST",
        url,
        if_none_exist: cond,
    };
    let full = |id: &str| format!("urn:natlis:{id}");
    out.push(Entry {
        full_url: full(&ids.pat),
        resource: Resource::Patient(Patient {
            id: &ids.pat,
            identifier: [Identifier {
                system: &ids.doc_system,
                value: &m.person.doc_no,
            }],
            name: [Text {
                text: &m.person.name,
            }],
            telecom: [Telecom {
                system: "phone",
                value: &m.person.phone,
            }],
            gender: match m.person.sex.as_deref() {
                Some("male") => "male",
                Some("female") => "female",
                _ => "unknown",
            },
            birth_date: m.person.birth_date.as_deref(),
        }),
        request: post("Patient", None),
    });
    let source = m.result.as_ref().map(|r| r.source.as_str());
    if let Some(r) = &m.result {
        let (sc, sd) = specimen_code(&r.sample_type);
        out.push(Entry {
            full_url: full(&ids.spec),
            resource: Resource::Specimen(Specimen {
                id: &ids.spec,
                identifier: [Identifier {
                    system: "urn:natlis:tube",
                    value: &r.tube,
                }],
                kind: concept(SNOMED, sc, Some(sd)),
                subject: Reference {
                    reference: &ids.pat_ref,
                },
                collection: Collection {
                    collected: &r.sampled_at,
                },
                note: [Text {
                    text: if r.source == "pool" {
                        "pooled specimen (混采)"
                    } else {
                        "single specimen (单采)"
                    },
                }],
            }),
            request: post("Specimen", None),
        });
    }
    let component = m
        .result
        .iter()
        .flat_map(|r| r.cts.iter())
        .filter_map(|(target, ct)| {
            let (code, display) = ct_loinc(target)?;
            Some(Component {
                code: concept(LOINC, code, Some(display)),
                value: ct.map(|v| Quantity {
                    value: v,
                    unit: "{Ct_value}",
                    system: "http://unitsofmeasure.org",
                    code: "{Ct_value}",
                }),
                absent: ct.is_none().then_some(Text {
                    text: "no amplification",
                }),
            })
        })
        .collect();
    out.push(Entry {
        full_url: full(&ids.obs),
        resource: Resource::Observation(Box::new(Observation {
            id: &ids.obs,
            identifier: [Identifier {
                system: STATUS_SYSTEM,
                value: &ids.status_id,
            }],
            status: match m.status.as_str() {
                "no_result" => "cancelled",
                "positive_preliminary" => "preliminary",
                _ if m.version > 1 => "amended",
                _ => "final",
            },
            code: concept(LOINC, TEST_CODE, Some(TEST_NAME)),
            subject: Reference {
                reference: &ids.pat_ref,
            },
            issued: &m.changed_at,
            note: [Text { text: &m.status }],
            value: snomed(&m.status, source).map(|(c, d)| concept(SNOMED, c, Some(d))),
            period: m.valid_until.as_deref().map(|end| Period { end }),
            specimen: m.result.as_ref().map(|_| Reference {
                reference: &ids.spec_ref,
            }),
            effective: m.result.as_ref().map(|r| r.sampled_at.as_str()),
            component,
        })),
        request: post("Observation", Some(&ids.condition)),
    });
    out.push(Entry {
        full_url: full(&ids.rep),
        resource: Resource::DiagnosticReport(DiagnosticReport {
            id: &ids.rep,
            identifier: [Identifier {
                system: STATUS_SYSTEM,
                value: &ids.status_id,
            }],
            status: if m.status == "positive_preliminary" {
                "preliminary"
            } else if m.version > 1 {
                "amended"
            } else {
                "final"
            },
            code: concept(LOINC, TEST_CODE, None),
            subject: Reference {
                reference: &ids.pat_ref,
            },
            issued: &m.changed_at,
            performer: m
                .result
                .as_ref()
                .and_then(|r| r.lab.as_deref())
                .map(|display| [Performer { display }]),
            result: [Reference {
                reference: &ids.obs_ref,
            }],
        }),
        request: post("DiagnosticReport", Some(&ids.condition)),
    });
}

/// A FHIR R4 batch Bundle of messages, as bytes: each message's Patient, Specimen, Observation
/// (the test, LOINC 94500-6, with its SNOMED CT result and the Ct values as components) and
/// DiagnosticReport as POST entries; the Observation and the report conditional on the
/// message's key and version, so a re-delivery creates nothing new.
pub fn fhir_bundle(messages: &[StatusMessage]) -> Vec<u8> {
    let ids: Vec<Ids> = messages.iter().map(Ids::of).collect();
    let mut entry = Vec::with_capacity(messages.len() * 4);
    for (m, i) in messages.iter().zip(&ids) {
        entries(m, i, &mut entry);
    }
    serde_json::to_vec(&Bundle {
        resource_type: "Bundle",
        kind: "batch",
        entry,
    })
    .expect("a bundle serialises")
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
        let b: serde_json::Value = serde_json::from_slice(&fhir_bundle(&[
            message("negative", "pool", 1),
            message("positive_preliminary", "single", 2),
        ]))
        .unwrap();
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
