//! The OpenAPI document is generated from the handlers; this snapshot makes every change to the
//! API visible in review. Update it with `INSTA_UPDATE=always cargo test --test openapi` (or
//! `cargo insta review`) after an intended change; CI rejects a stale one.

#[test]
fn openapi_document_is_stable() {
    let doc: serde_json::Value = serde_json::from_str(&natlis::api::openapi_json()).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}
