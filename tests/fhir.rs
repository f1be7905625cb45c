//! The FHIR R4 natlis pushes, checked by an independent validator (fhir.resources from PyPI,
//! `scripts/fhir-validator`): every kind of status message, alone and together in one
//! transaction; the validator itself refuses what R4 forbids (so a pass means something); the
//! extension natlis defines is valid; and the form of a bundle is kept in a snapshot.
//! (Every bundle the push and review stories deliver, on both databases, goes through the same
//! validator in their receivers.)

mod common;

use common::fhir::validate;
use common::receiver::platform_read;
use natlis::domain::push::{fhir_bundle, PersonData, ResultData, StatusMessage};

fn message(key: &str, status: &str, source: Option<&str>, passport: bool) -> StatusMessage {
    StatusMessage {
        key: key.into(),
        version: 2,
        person: if passport {
            PersonData {
                doc_type: "passport".into(),
                doc_no: "E12345678".into(),
                name: "John Smith".into(),
                phone: "+447700900123".into(),
                sex: None,
                birth_date: None,
            }
        } else {
            PersonData {
                doc_type: "resident_id".into(),
                doc_no: "11010519491231002X".into(),
                name: "张三".into(),
                phone: "13812345678".into(),
                sex: Some("female".into()),
                birth_date: Some("1949-12-31".into()),
            }
        },
        status: status.into(),
        valid_until: (status == "negative").then(|| "2026-11-26T08:00:00+08:00".into()),
        result: source.map(|source| ResultData {
            tube: "ZGC0000002".into(),
            value: "negative".into(),
            source: source.into(),
            sample_type: "oropharyngeal".into(),
            sampled_at: "2026-11-24T08:00:00.123456+08:00".into(),
            lab: Some("LAB-HD".into()),
            cts: vec![("ORF1ab".into(), Some(24.5)), ("N".into(), None)],
            cdc_status: (status == "positive_confirmed").then(|| "confirmed".into()),
            amended: key.contains("amended"),
        }),
        changed_at: "2026-11-24T10:00:00+08:00".into(),
    }
}

/// One message of every kind natlis emits.
fn every_kind() -> Vec<StatusMessage> {
    vec![
        message(
            "a0000000-0000-4000-8000-000000000001",
            "negative",
            Some("single"),
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000002",
            "negative",
            Some("pool"),
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000003",
            "pending_recheck",
            Some("pool"),
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000004",
            "needs_resampling",
            None,
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000005",
            "positive_preliminary",
            Some("single"),
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000006",
            "positive_confirmed",
            Some("single"),
            false,
        ),
        message(
            "amended-0000-4000-8000-000000000007",
            "negative",
            Some("single"),
            false,
        ),
        // A retraction: the CDC did not confirm the positive; no valid result now.
        message(
            "a0000000-0000-4000-8000-000000000008",
            "no_result",
            Some("single"),
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000009",
            "no_result",
            None,
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000010",
            "negative",
            Some("single"),
            true,
        ),
    ]
}

#[test]
fn every_kind_of_message_is_valid_fhir_r4() {
    let all = every_kind();
    for m in &all {
        let bundle = fhir_bundle("https://hc.example/fhir", std::slice::from_ref(m));
        validate(&bundle).unwrap_or_else(|e| panic!("{} {}: {e}", m.status, m.key));
        // And a platform reads back what natlis meant.
        let read = platform_read(&serde_json::from_slice(&bundle).unwrap());
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].1.status, m.status, "{}", m.key);
        assert_eq!(read[0].1.valid_until, m.valid_until);
    }
    validate(&fhir_bundle("https://hc.example/fhir/", &all)).unwrap();
}

#[test]
fn the_validator_refuses_what_r4_forbids() {
    let bundle = |obs: serde_json::Value| {
        serde_json::to_vec(
            &serde_json::json!({"resourceType": "Bundle", "type": "transaction",
            "entry": [{"fullUrl": "https://hc.example/fhir/Observation/o1", "resource": obs,
                       "request": {"method": "PUT", "url": "Observation/o1"}}]}),
        )
        .unwrap()
    };
    let obs = serde_json::json!({"resourceType": "Observation", "id": "o1", "status": "final",
        "code": {"text": "SARS-CoV-2 RNA"}, "effectiveDateTime": "2026-11-24T08:00:00+08:00"});
    validate(&bundle(obs.clone())).unwrap();
    // natlis's bundles before this check: the sampling time and the validity in two effective[x].
    let mut two = obs.clone();
    two["effectivePeriod"] = serde_json::json!({"end": "2026-11-26T08:00:00+08:00"});
    let e = validate(&bundle(two)).unwrap_err();
    assert!(e.contains("got multiple"), "{e}");
    let mut bad_status = obs.clone();
    bad_status["status"] = "negative".into();
    assert!(validate(&bundle(bad_status)).is_err());
    let mut bad_id = obs;
    bad_id["id"] = "obs_1:2".into();
    assert!(validate(&bundle(bad_id)).is_err());
}

#[test]
fn the_extension_natlis_defines_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/fhir/StructureDefinition-negative-valid-until.json"
    );
    let text = std::fs::read(path).unwrap();
    validate(&text).unwrap();
    let sd: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(sd["url"], natlis::domain::push::VALID_UNTIL_EXTENSION);
}

#[test]
fn a_bundle_as_sent() {
    let m = [
        message(
            "a0000000-0000-4000-8000-000000000002",
            "negative",
            Some("pool"),
            false,
        ),
        message(
            "a0000000-0000-4000-8000-000000000010",
            "positive_preliminary",
            Some("single"),
            true,
        ),
    ];
    let bundle: serde_json::Value =
        serde_json::from_slice(&fhir_bundle("https://hc.example/fhir", &m)).unwrap();
    insta::assert_json_snapshot!(bundle);
}
