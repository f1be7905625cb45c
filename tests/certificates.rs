//! A person's own results and their certificate, on SQLite and on PostgreSQL: booked, sampled
//! with the booking code, tested and released negative; the person looks the result up with
//! their document, the phone's last four digits and the booking code — a wrong factor is one
//! failure of five, five lock the document for an hour and say whom to call, an access expires
//! and says so; the certificate's PDF is rendered by pdftoppm, its QR code read by zbarimg, and
//! the payload verified by pycose (an independent COSE implementation), which also refuses a
//! tampered copy; the service verifies it valid, still valid after a key rotation, superseded
//! once the result is amended, and revoked when the lab revokes it.

mod common;

use common::lab::{filled_plate, import};
use common::{id_number, Db, TestApp};
use natlis::domain::policy::Role;
use natlis::synth::Shape;
use serde_json::{json, Value};
use std::process::Command;

on_both_databases!(
    a_booked_person_gets_a_certificate_anyone_can_verify,
    lookups_lock_and_expire
);

fn tomorrow() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
        + chrono::Days::new(1)
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(app.store.writer()).await.unwrap();
}

/// Person `n` books tomorrow 09:00 at S01 (phone 138000000nn): the booking code.
async fn book(a: &TestApp, collector: &TestApp, n: u32) -> String {
    let r = collector
        .post(
            "/api/v1/sites/S01/slots",
            json!({"date": tomorrow(), "from": "09:00", "to": "10:00", "minutes": 30, "capacity": 10}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let public = a.with_token("");
    let r = public
        .post(
            "/api/v1/public/bookings",
            json!({"site": "S01", "starts_at": format!("{}T09:00:00+08:00", tomorrow())}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let code = r.body["code"].as_str().unwrap().to_string();
    let r = public
        .post(
            &format!("/api/v1/public/bookings/{code}/confirm"),
            json!({"doc_no": id_number(n), "name": "王小明", "phone": format!("138{:08}", n)}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    code
}

fn lookup(n: u32, four: &str, code: &str) -> Value {
    json!({"doc_no": id_number(n), "phone_last4": four, "code": code})
}

/// The independent verifier (scripts/cose.sh: pycose, base45; pdftoppm, zbarimg).
fn verifier() -> Vec<String> {
    static SET_UP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let cmd = SET_UP.get_or_init(|| {
        std::env::var("NATLIS_COSE_VERIFIER").unwrap_or_else(|_| {
            let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cose.sh"))
                .output()
                .expect("running scripts/cose.sh");
            assert!(
                out.status.success(),
                "scripts/cose.sh could not set up the verifier: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
    });
    cmd.split_whitespace().map(String::from).collect()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn a_booked_person_gets_a_certificate_anyone_can_verify(db: Db) {
    let v = verifier();
    let a = TestApp::start(db).await;
    a.seed().await;
    let collector = a.as_new("col-s01", Role::Collector, "S01").await;
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let reviewer = a.as_new("rev-a", Role::LabReviewer, "LAB-A").await;
    let public = a.with_token("");
    let booking = book(&a, &collector, 7).await;
    exec(
        &a,
        "UPDATE booking_slot SET starts_at = starts_at - 86400000000, ends_at = ends_at - 86400000000",
    )
    .await;
    // Sampled with the booking code, tested, released negative.
    let r = collector
        .post(
            "/api/v1/tubes",
            json!({"barcode": "CERT001", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "mass_screening", "people": [{"code": booking}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    a.receive_at_lab_a("CERT001").await;
    let (plate, layout) = filled_plate(&tech, "KH-ORF1AB-N").await;
    import(&tech, &plate, "KH-ORF1AB-N", &layout, None, |_| {
        Shape::Negative(28.0)
    })
    .await;
    let r = reviewer
        .post(
            &format!("/api/v1/plates/{plate}/release-negatives"),
            json!({}),
        )
        .await;
    assert_eq!(r.body["released"], 1, "{r:?}");

    // The person looks it up: the phone's digits wrong once, then right.
    let r = public
        .post("/api/v1/public/lookup", lookup(7, "0000", &booking))
        .await;
    assert_eq!((r.status, r.code()), (404, "lookup.no_match"), "{r:?}");
    assert_eq!(r.body["error"]["details"]["attempts_left"], 4);
    let r = public
        .post(
            "/api/v1/public/lookup",
            lookup(7, "0007", &booking.to_lowercase()),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let access = r.body["access"].as_str().unwrap().to_string();
    assert_eq!(r.body["status"], "negative");
    assert_eq!(r.body["name"], "王**", "masked: {r:?}");
    assert!(!r.body.to_string().contains(&id_number(7)));
    let result = &r.body["results"][0];
    assert_eq!(result["value"], "negative");
    assert_eq!(result["certifiable"], true);
    assert_eq!(result["certificate"], Value::Null);
    let result_id = result["id"].as_i64().unwrap();

    // The certificate: issued once; asked again, the same.
    let path = format!("/api/v1/public/lookup/{access}/certificates");
    let c = public.post(&path, json!({"result": result_id})).await;
    assert_eq!(c.status, 200, "{c:?}");
    assert_eq!(c.body["state"], "valid");
    let id = c.body["id"].as_str().unwrap().to_string();
    let again = public.post(&path, json!({"result": result_id})).await;
    assert_eq!(again.body["id"], id.as_str());
    let r = public.get(&format!("/api/v1/public/lookup/{access}")).await;
    assert_eq!(r.body["results"][0]["certificate"], id.as_str());

    // Its PDF, rendered and scanned as a phone would, verified by pycose.
    let pdf = a
        .client
        .get(a.url(&format!("{path}/{id}/pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, &bytes).unwrap();
    run(Command::new("pdftoppm")
        .args(["-r", "200", "-png", "-singlefile"])
        .arg(&file)
        .arg(dir.path().join("page")));
    let scanned = run(Command::new("zbarimg")
        .args(["--raw", "-q", "-Sdisable", "-Sqrcode.enable"])
        .arg(dir.path().join("page.png")));
    let payload = scanned.trim().to_string();
    assert!(payload.starts_with("NC1:"), "{payload}");
    let keys = public.get("/api/v1/public/keys").await;
    assert_eq!(keys.status, 200);
    assert_eq!(keys.body["keys"][0]["alg"], "ES256");
    std::fs::write(dir.path().join("payload.txt"), &payload).unwrap();
    std::fs::write(dir.path().join("keys.json"), keys.body.to_string()).unwrap();
    let checked: Value = serde_json::from_str(&run(Command::new(&v[0])
        .args(&v[1..])
        .arg(dir.path().join("payload.txt"))
        .arg(dir.path().join("keys.json"))))
    .unwrap();
    assert_eq!(checked["genuine"], true, "{checked}");
    assert_eq!(checked["tampered_refused"], true, "{checked}");
    assert_eq!(checked["claims"]["r"], "negative");
    assert_eq!(checked["claims"]["n"], "王**");
    assert_eq!(checked["claims"]["iss"], "LAB-A");
    assert_eq!(checked["claims"]["cti"], id.as_str());

    // The service: valid; the tampered copy refused.
    let verify = |text: String| {
        let public = public.clone();
        async move {
            let r = public
                .post("/api/v1/public/verify", json!({"payload": text}))
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            r.body
        }
    };
    let r = verify(payload.clone()).await;
    assert_eq!(r["state"], "valid", "{r}");
    assert_eq!(r["claims"]["name"], "王**");
    let r = verify(checked["tampered"].as_str().unwrap().to_string()).await;
    assert_eq!(r["state"], "invalid", "{r}");
    assert!(r["message"].as_str().unwrap().contains("altered"), "{r}");
    assert_eq!(verify("HC1:NOTOURS".into()).await["state"], "invalid");

    // Key rotation: the old key is retired, still listed, and what it signed still verifies.
    let r = a.post("/api/v1/certificate-keys/rotate", json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["keys"].as_array().unwrap().len(), 2);
    assert!(r.body["keys"][0]["retired_at"].is_string());
    assert_eq!(verify(payload.clone()).await["state"], "valid");
    let r = reviewer
        .post("/api/v1/certificate-keys/rotate", json!({}))
        .await;
    assert_eq!(r.status, 403, "only an administrator rotates: {r:?}");

    // The lab amends the result: the certificate is superseded.
    let r = reviewer
        .post(
            &format!("/api/v1/results/{result_id}/amend"),
            json!({"value": "pending_recheck", "reason": "质控复核：需复检"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = verify(payload.clone()).await;
    assert_eq!(r["state"], "superseded", "{r}");

    // Revoked by the lab that tested it (another lab's reviewer sees no such certificate).
    let r = a.post("/api/v1/labs", common::lab("LAB-B")).await;
    assert_eq!(r.status, 201, "{r:?}");
    let other = a.as_new("rev-b", Role::LabReviewer, "LAB-B").await;
    let r = other
        .post(
            &format!("/api/v1/certificates/{id}/revoke"),
            json!({"reason": "冒用身份"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "certificate.not_found"),
        "{r:?}"
    );
    let r = reviewer
        .post(
            &format!("/api/v1/certificates/{id}/revoke"),
            json!({"reason": "冒用身份"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["state"]),
        (200, &json!("revoked")),
        "{r:?}"
    );
    assert_eq!(verify(payload.clone()).await["state"], "revoked");
    let audited = a
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE entity_type = 'certificate' AND entity_id = '{id}'"
        ))
        .await;
    assert_eq!(audited, 2, "issued and revoked");
    // A key revoked as compromised: nothing it signed proves anything.
    let r = a
        .post(
            "/api/v1/certificate-keys/1/revoke",
            json!({"reason": "key file leaked"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = verify(payload).await;
    assert_eq!(r["state"], "invalid", "{r}");
    assert!(r["message"].as_str().unwrap().contains("revoked"), "{r}");
}

async fn lookups_lock_and_expire(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let collector = a.as_new("col-s01", Role::Collector, "S01").await;
    let public = a.with_token("");
    let booking = book(&a, &collector, 8).await;
    exec(
        &a,
        "UPDATE booking_slot SET starts_at = starts_at - 86400000000, ends_at = ends_at - 86400000000",
    )
    .await;
    let r = collector
        .post(
            "/api/v1/tubes",
            json!({"barcode": "LOOK001", "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                   "category": "mass_screening", "people": [{"code": booking}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");

    // A person whose sample is on its way looks up: no result yet, nothing wrong.
    let r = public
        .post("/api/v1/public/lookup", lookup(8, "0008", &booking))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["results"], json!([]), "{r:?}");
    let access = r.body["access"].as_str().unwrap().to_string();

    // Invalid input is named, and is not a failure.
    let mut bad = lookup(8, "8", &booking);
    let r = public.post("/api/v1/public/lookup", bad.clone()).await;
    assert_eq!((r.status, r.code()), (422, "invalid.phone_last4"), "{r:?}");
    assert_eq!(r.body["error"]["field"], "phone_last4");
    bad["doc_no"] = json!("110105194912310020");
    bad["phone_last4"] = json!("0008");
    let r = public.post("/api/v1/public/lookup", bad).await;
    assert_eq!((r.status, r.code()), (422, "id_number.invalid"), "{r:?}");

    // Five wrong codes lock the document — the right factors then too — and say whom to call;
    // a document nobody has locks the same way (the lockout tells nothing).
    for left in (0..5).rev() {
        let r = public
            .post("/api/v1/public/lookup", lookup(8, "0008", "P000000000X"))
            .await;
        if left > 0 {
            assert_eq!((r.status, r.code()), (404, "lookup.no_match"), "{r:?}");
            assert_eq!(r.body["error"]["details"]["attempts_left"], left);
        } else {
            assert_eq!((r.status, r.code()), (423, "lookup.locked"), "{r:?}");
        }
    }
    let r = public
        .post("/api/v1/public/lookup", lookup(8, "0008", &booking))
        .await;
    assert_eq!((r.status, r.code()), (423, "lookup.locked"), "{r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("12320"));
    assert_eq!(r.body["error"]["details"]["hotline"], "12320");
    for _ in 0..5 {
        public
            .post("/api/v1/public/lookup", lookup(9, "0009", "P000000000X"))
            .await;
    }
    let r = public
        .post("/api/v1/public/lookup", lookup(9, "0009", "P000000000X"))
        .await;
    assert_eq!((r.status, r.code()), (423, "lookup.locked"), "{r:?}");
    // An hour later it opens again (the failures aged, as the clock would).
    exec(&a, "UPDATE lookup_attempt SET at = at - 3700000000").await;
    let r = public
        .post("/api/v1/public/lookup", lookup(8, "0008", &booking))
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // The access of the first lookup expires after 30 minutes and says so.
    let r = public.get(&format!("/api/v1/public/lookup/{access}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    exec(
        &a,
        "UPDATE lookup_access SET created_at = created_at - 1900000000, expires_at = expires_at - 1900000000",
    )
    .await;
    let r = public.get(&format!("/api/v1/public/lookup/{access}")).await;
    assert_eq!((r.status, r.code()), (410, "lookup.expired"), "{r:?}");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("look them up again"));
    let r = public
        .get(&format!("/api/v1/public/lookup/{}", "0".repeat(64)))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (404, "lookup.access_unknown"),
        "{r:?}"
    );
    // Twenty failures from one address, and it waits.
    for n in 0..20 {
        public
            .post(
                "/api/v1/public/lookup",
                lookup(100 + n, "0000", "P000000000X"),
            )
            .await;
    }
    let r = public
        .post("/api/v1/public/lookup", lookup(8, "0008", &booking))
        .await;
    assert_eq!((r.status, r.code()), (429, "lookup.too_many"), "{r:?}");
}
