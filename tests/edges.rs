//! Input at the edges: control characters (NUL above all, which PostgreSQL cannot store) in
//! bodies, paths, queries and logins get a 422 naming the field — the same answer on SQLite and
//! PostgreSQL, and nothing written; barcodes take a defined character set; a body that is too
//! large is 413, one that is not JSON 415.

mod common;

use common::{person, Db, TestApp};
use serde_json::json;

on_both_databases!(control_characters_are_refused_alike_and_nothing_is_written);

async fn control_characters_are_refused_alike_and_nothing_is_written(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    let people_before = app.count("SELECT COUNT(*) FROM person").await;
    // A name with NUL inside a list of people.
    let mut bad = person(2);
    bad["name"] = json!("测试\u{0}二");
    let r = app
        .post(
            "/api/v1/tubes",
            json!({"barcode": "T-NUL", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "outpatient", "people": [bad]}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (422, "invalid.people[0].name"),
        "{r:?}"
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("U+0000"));
    assert_eq!(app.count("SELECT COUNT(*) FROM tube").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM person").await,
        people_before
    );
    // Other controls in a person's name, an escape in a site's address.
    let mut esc = person(3);
    esc["name"] = json!("测试\u{1b}[31m");
    let r = app.post("/api/v1/persons", esc).await;
    assert_eq!((r.status, r.code()), (422, "invalid.name"), "{r:?}");
    let r = app
        .post(
            "/api/v1/sites",
            json!({"code": "S09", "name": "x", "address": "a\u{7f}", "region": "110108", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.address"), "{r:?}");
    // A note may have lines.
    let r = app
        .post(
            "/api/v1/sites",
            json!({"code": "S09", "name": "两行\n地址", "address": "第一行\n第二行", "region": "110108", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    // In a path and in a query.
    let r = app.get("/api/v1/tubes/T%00X").await;
    assert_eq!((r.status, r.code()), (422, "invalid.path"), "{r:?}");
    let r = app.get("/api/v1/tubes?status=received%00").await;
    assert_eq!((r.status, r.code()), (422, "invalid.status"), "{r:?}");
    let r = app.get("/api/v1/push/messages?person=a%00b").await;
    assert_eq!((r.status, r.code()), (422, "invalid.person"), "{r:?}");
    // A login name.
    let r = app
        .with_token("")
        .post(
            "/api/v1/login",
            json!({"username": "admin\u{0}", "password": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid.username"), "{r:?}");
    // Barcodes: letters, digits, '-' and '_', starting with a letter or digit.
    for barcode in ["../../x", "a/b", "x.y", "-lead", "T 1"] {
        let r = app
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                       "category": "outpatient", "people": [person(4)]}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (422, "barcode.invalid"),
            "{barcode}: {r:?}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM tube").await, 0);
    // Not JSON: 415.
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/persons"))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!((r.status, r.code()), (415, "request.content_type"), "{r:?}");
    // Too large (the JSON limit is 2 MB): 413, not 400.
    let mut huge = person(5);
    huge["name"] = json!("x".repeat(3 * 1024 * 1024));
    let r = app.post("/api/v1/persons", huge).await;
    assert_eq!((r.status, r.code()), (413, "request.too_large"), "{r:?}");
}
