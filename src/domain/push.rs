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
    /// The result behind it is a reviewer's amendment (a version after the first).
    #[serde(default)]
    pub amended: bool,
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
// messages is a megabyte and more of JSON: no intermediate trees). Every kind of message is
// checked by an independent R4 validator in the tests (scripts/fhir-validator).

/// The extension on a negative's Observation that says until when it counts. R4 has one
/// `effective[x]`, the time the swab was taken (`effectiveDateTime`); how long a negative counts
/// is natlis's rule, so it travels in this extension (`valueDateTime`), defined in
/// `samples/fhir/StructureDefinition-negative-valid-until.json`.
pub const VALID_UNTIL_EXTENSION: &str = "urn:natlis:fhir:StructureDefinition:negative-valid-until";

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
    #[serde(skip_serializing_if = "Option::is_none")]
    telecom: Option<[Telecom<'a>; 1]>,
    gender: &'a str,
    #[serde(rename = "birthDate", skip_serializing_if = "Option::is_none")]
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
struct Extension<'a> {
    url: &'static str,
    #[serde(rename = "valueDateTime")]
    value: &'a str,
}

#[derive(Serialize)]
struct Observation<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    extension: Option<[Extension<'a>; 1]>,
    identifier: [Identifier<'a>; 1],
    status: &'static str,
    category: [Concept<'a>; 1],
    code: Concept<'a>,
    subject: Reference<'a>,
    /// When the swab was taken.
    #[serde(rename = "effectiveDateTime", skip_serializing_if = "Option::is_none")]
    effective: Option<&'a str>,
    issued: &'a str,
    #[serde(
        rename = "valueCodeableConcept",
        skip_serializing_if = "Option::is_none"
    )]
    value: Option<Concept<'a>>,
    note: [Text<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    specimen: Option<Reference<'a>>,
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
    status: &'static str,
    category: [Concept<'a>; 1],
    code: Concept<'a>,
    subject: Reference<'a>,
    #[serde(rename = "effectiveDateTime", skip_serializing_if = "Option::is_none")]
    effective: Option<&'a str>,
    issued: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    performer: Option<[Performer<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    specimen: Option<[Reference<'a>; 1]>,
    result: [Reference<'a>; 1],
    conclusion: &'a str,
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
    url: &'a str,
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

/// The ids, references and texts of one message's resources. Ids are assigned by natlis (a
/// `PUT` creates or replaces the resource under its id, so a re-delivery changes nothing): the
/// Patient is one per person, the rest one per status version.
struct Ids {
    pat: String,
    spec: String,
    obs: String,
    rep: String,
    pat_ref: String,
    spec_ref: String,
    obs_ref: String,
    rep_ref: String,
    status_id: String,
    doc_system: String,
    note: String,
}

impl Ids {
    fn of(m: &StatusMessage) -> Self {
        let id = |kind: &str| format!("{kind}-{}-{}", m.key, m.version);
        let pat = format!("pat-{}", m.key);
        Self {
            pat_ref: format!("Patient/{pat}"),
            spec_ref: format!("Specimen/{}", id("spec")),
            obs_ref: format!("Observation/{}", id("obs")),
            rep_ref: format!("DiagnosticReport/{}", id("rep")),
            pat,
            spec: id("spec"),
            obs: id("obs"),
            rep: id("rep"),
            status_id: format!("{}:{}", m.key, m.version),
            doc_system: format!("urn:natlis:doc:{}", m.person.doc_type),
            note: status_note(m),
        }
    }
}

const STATUS_SYSTEM: &str = "urn:natlis:status";
const TEST_CODE: &str = "94500-6";
const TEST_NAME: &str =
    "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const REPORT_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";

/// The FHIR status of a message's Observation and DiagnosticReport: `registered` when the person
/// has no valid result (waiting for a new swab or its result, or a result withdrawn), `preliminary`
/// while it may still change (a positive before the CDC rules, a pool awaiting its re-check),
/// `amended` when a reviewer corrected the result behind it, else `final`.
pub fn fhir_status(m: &StatusMessage) -> &'static str {
    match m.status.as_str() {
        "no_result" => "registered",
        "positive_preliminary" | "pending_recheck" => "preliminary",
        _ if m.result.as_ref().is_some_and(|r| r.amended) => "amended",
        _ => "final",
    }
}

/// What the status says, for a person reading the record.
fn status_note(m: &StatusMessage) -> String {
    let mut note = match m.status.as_str() {
        "negative" => "negative (阴性)".to_string(),
        "pending_recheck" => "pending single-tube re-check (待复核)".to_string(),
        "needs_resampling" => "a new swab is needed (需重新采样)".to_string(),
        "positive_preliminary" => "positive, awaiting CDC confirmation (阳性，待确认)".to_string(),
        "positive_confirmed" => "positive, confirmed by the CDC (阳性，已确认)".to_string(),
        "no_result" => "no valid result (无有效结果)".to_string(),
        other => other.to_string(),
    };
    if let Some(until) = &m.valid_until {
        note.push_str(&format!("; counts until {until}"));
    }
    if m.status == "no_result"
        && m.result
            .as_ref()
            .is_some_and(|r| r.cdc_status.as_deref() == Some("rejected"))
    {
        note.push_str("; the earlier positive was not confirmed by the CDC");
    }
    note
}

fn entries<'a>(base: &str, m: &'a StatusMessage, ids: &'a Ids, out: &mut Vec<Entry<'a>>) {
    let put = |url: &'a str| Request { method: "PUT", url };
    let full = |reference: &str| format!("{base}/{reference}");
    let status = fhir_status(m);
    let pat_ref = Reference {
        reference: &ids.pat_ref,
    };
    out.push(Entry {
        full_url: full(&ids.pat_ref),
        resource: Resource::Patient(Patient {
            id: &ids.pat,
            identifier: [Identifier {
                system: &ids.doc_system,
                value: &m.person.doc_no,
            }],
            name: [Text {
                text: &m.person.name,
            }],
            telecom: (!m.person.phone.is_empty()).then_some([Telecom {
                system: "phone",
                value: &m.person.phone,
            }]),
            gender: match m.person.sex.as_deref() {
                Some("male") => "male",
                Some("female") => "female",
                _ => "unknown",
            },
            birth_date: m.person.birth_date.as_deref(),
        }),
        request: put(&ids.pat_ref),
    });
    let source = m.result.as_ref().map(|r| r.source.as_str());
    if let Some(r) = &m.result {
        let (sc, sd) = specimen_code(&r.sample_type);
        out.push(Entry {
            full_url: full(&ids.spec_ref),
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
            request: put(&ids.spec_ref),
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
    let sampled = m.result.as_ref().map(|r| r.sampled_at.as_str());
    out.push(Entry {
        full_url: full(&ids.obs_ref),
        resource: Resource::Observation(Box::new(Observation {
            id: &ids.obs,
            extension: m.valid_until.as_deref().map(|value| {
                [Extension {
                    url: VALID_UNTIL_EXTENSION,
                    value,
                }]
            }),
            identifier: [Identifier {
                system: STATUS_SYSTEM,
                value: &ids.status_id,
            }],
            status,
            category: [concept(
                OBSERVATION_CATEGORY,
                "laboratory",
                Some("Laboratory"),
            )],
            code: concept(LOINC, TEST_CODE, Some(TEST_NAME)),
            subject: Reference {
                reference: &ids.pat_ref,
            },
            effective: sampled,
            issued: &m.changed_at,
            value: snomed(&m.status, source).map(|(c, d)| concept(SNOMED, c, Some(d))),
            note: [Text { text: &ids.note }],
            specimen: m.result.as_ref().map(|_| Reference {
                reference: &ids.spec_ref,
            }),
            component,
        })),
        request: put(&ids.obs_ref),
    });
    out.push(Entry {
        full_url: full(&ids.rep_ref),
        resource: Resource::DiagnosticReport(DiagnosticReport {
            id: &ids.rep,
            identifier: [Identifier {
                system: STATUS_SYSTEM,
                value: &ids.status_id,
            }],
            status,
            category: [concept(REPORT_CATEGORY, "LAB", Some("Laboratory"))],
            code: concept(LOINC, TEST_CODE, None),
            subject: pat_ref,
            effective: sampled,
            issued: &m.changed_at,
            performer: m
                .result
                .as_ref()
                .and_then(|r| r.lab.as_deref())
                .map(|display| [Performer { display }]),
            specimen: m.result.as_ref().map(|_| {
                [Reference {
                    reference: &ids.spec_ref,
                }]
            }),
            result: [Reference {
                reference: &ids.obs_ref,
            }],
            conclusion: &ids.note,
        }),
        request: put(&ids.rep_ref),
    });
}

/// A FHIR R4 transaction Bundle of messages, as bytes, for the FHIR server at `base` (the
/// sink's URL): each message's Patient, Specimen, Observation (the test, LOINC 94500-6, with its
/// SNOMED CT result, the sampling time as `effectiveDateTime`, a negative's validity in
/// [`VALID_UNTIL_EXTENSION`], the Ct values as components) and DiagnosticReport, each `PUT`
/// under the id natlis gives it, so a re-delivery changes nothing. A transaction is applied
/// whole or not at all: a 2xx means every message arrived, a refusal that none did.
pub fn fhir_bundle(base: &str, messages: &[StatusMessage]) -> Vec<u8> {
    let base = base.trim_end_matches('/');
    let ids: Vec<Ids> = messages.iter().map(Ids::of).collect();
    let mut entry = Vec::with_capacity(messages.len() * 4);
    for (m, i) in messages.iter().zip(&ids) {
        entries(base, m, i, &mut entry);
    }
    serde_json::to_vec(&Bundle {
        resource_type: "Bundle",
        kind: "transaction",
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
                amended: false,
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
        let b: serde_json::Value = serde_json::from_slice(&fhir_bundle(
            "https://hc.example/fhir/",
            &[
                message("negative", "pool", 1),
                message("positive_preliminary", "single", 2),
            ],
        ))
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
        assert_eq!(b["type"], "transaction");
        assert_eq!(entries[0]["request"]["method"], "PUT");
        assert_eq!(entries[0]["request"]["url"], "Patient/pat-p1");
        assert_eq!(
            entries[0]["fullUrl"],
            "https://hc.example/fhir/Patient/pat-p1"
        );
        assert_eq!(entries[2]["request"]["url"], "Observation/obs-p1-1");
        assert_eq!(obs["identifier"][0]["value"], "p1:1");
        assert_eq!(obs["effectiveDateTime"], "2026-11-24T08:00:00+08:00");
        assert!(obs.get("effectivePeriod").is_none(), "one effective[x]");
        assert_eq!(entries[6]["resource"]["status"], "preliminary");
    }

    #[test]
    fn a_negative_says_when_it_was_sampled_and_until_when_it_counts() {
        let mut m = message("negative", "pool", 1);
        m.valid_until = Some("2026-11-26T08:00:00+08:00".into());
        let b: serde_json::Value =
            serde_json::from_slice(&fhir_bundle("http://hc/fhir", &[m])).unwrap();
        let obs = &b["entry"][2]["resource"];
        assert_eq!(obs["effectiveDateTime"], "2026-11-24T08:00:00+08:00");
        assert!(obs.get("effectivePeriod").is_none());
        assert_eq!(obs["extension"][0]["url"], VALID_UNTIL_EXTENSION);
        assert_eq!(
            obs["extension"][0]["valueDateTime"],
            "2026-11-26T08:00:00+08:00"
        );
        assert_eq!(obs["status"], "final");
        let without = message("positive_preliminary", "single", 2);
        let b: serde_json::Value =
            serde_json::from_slice(&fhir_bundle("http://hc/fhir", &[without])).unwrap();
        assert!(b["entry"][2]["resource"].get("extension").is_none());
    }

    #[test]
    fn fhir_statuses() {
        let status = |s: &str, amended: bool| {
            let mut m = message(s, "single", 3);
            m.result.as_mut().unwrap().amended = amended;
            fhir_status(&m)
        };
        assert_eq!(status("negative", false), "final");
        assert_eq!(status("negative", true), "amended");
        assert_eq!(status("positive_confirmed", false), "final");
        assert_eq!(status("positive_preliminary", true), "preliminary");
        assert_eq!(status("pending_recheck", false), "preliminary");
        assert_eq!(status("needs_resampling", false), "final");
        assert_eq!(status("no_result", true), "registered");
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
