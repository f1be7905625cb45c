//! The OpenAPI document is generated from the handlers; this snapshot makes every change to the
//! API visible in review. Update it with `INSTA_UPDATE=always cargo test --test openapi` (or
//! `cargo insta review`) after an intended change; CI rejects a stale one.

#[test]
fn openapi_document_is_stable() {
    let doc: serde_json::Value = serde_json::from_str(&natlis::api::openapi_json()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}

/// The document lists each vocabulary by the codes that go over the wire (`single`, `admin`),
/// never by the Rust variant names (`Single`, `Admin`).
#[test]
fn vocabularies_are_documented_by_their_wire_codes() {
    use natlis::domain::review::{Decision, Released, ResultValue};
    use natlis::domain::vocab::{Category, SampleType, TubeKind};
    let doc: serde_json::Value = serde_json::from_str(&natlis::api::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    let documented = |name: &str| -> Vec<String> {
        schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is documented as an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    fn codes<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
        all.iter().map(|v| v.to_string()).collect()
    }
    assert_eq!(documented("Role"), codes(natlis::domain::policy::Role::ALL));
    assert_eq!(documented("TubeKind"), codes(TubeKind::ALL));
    assert_eq!(documented("SampleType"), codes(SampleType::ALL));
    assert_eq!(documented("Category"), codes(Category::ALL));
    assert_eq!(documented("Decision"), codes(Decision::ALL));
    assert_eq!(documented("Released"), codes(Released::ALL));
    assert_eq!(documented("ResultValue"), codes(ResultValue::ALL));
    // And nowhere a value in PascalCase.
    fn walk(v: &serde_json::Value, bad: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Array(values)) = m.get("enum") {
                    bad.extend(
                        values
                            .iter()
                            .filter_map(|e| e.as_str())
                            .filter(|e| e.starts_with(|c: char| c.is_ascii_uppercase()))
                            .map(String::from),
                    );
                }
                m.values().for_each(|x| walk(x, bad));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, bad)),
            _ => {}
        }
    }
    let mut bad = vec![];
    walk(&doc, &mut bad);
    assert_eq!(bad, Vec::<String>::new());
}
