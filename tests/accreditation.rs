//! Labs' accreditation as data and the public list, on SQLite and on PostgreSQL: the health
//! authority records a lab's PCR approval and EQA rounds, publishes it (an unqualified one is
//! refused with what it lacks), the public sees it without logging in — JSON, CSV, GeoJSON,
//! an ETag that answers 304 — a failed EQA round drops it off the list at once, a penalty 23
//! months ago bars large-scale work and 25 months ago does not; another region's authority sees
//! nothing; the lab's own staff read their record and change nothing.

mod common;

use common::{lab, Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::{json, Value};

on_both_databases!(
    the_authority_publishes_a_qualified_lab_and_the_public_sees_it,
    qualification_at_its_edges_through_the_api,
);

fn ago_months(n: u32) -> String {
    let today = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    today
        .checked_sub_months(chrono::Months::new(n))
        .unwrap()
        .to_string()
}

async fn qualify(auth: &TestApp, code: &str) {
    let r = auth
        .post(
            &format!("/api/v1/labs/{code}/credentials"),
            json!({"kind": "pcr_approval", "number": "京卫PCR备-2020-017", "valid_until": "2030-12-31"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    for (round, months) in [("R1", 8), ("R2", 2)] {
        let r = auth
            .post(
                &format!("/api/v1/labs/{code}/eqa"),
                json!({"round": round, "held_on": ago_months(months), "passed": true, "organiser": "国家卫生健康委临床检验中心"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
}

fn codes(list: &Value) -> Vec<String> {
    list["labs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["code"].as_str().unwrap().to_string())
        .collect()
}

async fn the_authority_publishes_a_qualified_lab_and_the_public_sees_it(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let auth = a.as_new("auth-bj", Role::HealthAuthority, "1101").await;
    let public = a.with_token("");

    // Registered only: a licence, nothing else — not qualified, and publishing says why.
    let r = auth.get("/api/v1/labs/LAB-A/accreditation").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["qualification"]["qualified"], false);
    assert_eq!(
        r.body["qualification"]["shortfalls"],
        json!(["no_pcr_approval", "no_eqa"])
    );
    assert_eq!(
        r.body["credentials"][0]["kind"], "licence",
        "the registered licence is on the record"
    );
    let r = auth
        .post("/api/v1/labs/LAB-A/publish", json!({"reason": "审核通过"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "lab.not_qualified"), "{r:?}");
    assert_eq!(
        r.body["error"]["details"]["shortfalls"],
        json!(["no_pcr_approval", "no_eqa"])
    );

    qualify(&auth, "LAB-A").await;
    let r = auth.get("/api/v1/labs/LAB-A/accreditation").await;
    assert_eq!(
        (
            r.body["qualification"]["qualified"].as_bool(),
            r.body["qualification"]["large_scale"].as_bool()
        ),
        (Some(true), Some(true)),
        "{r:?}"
    );
    // Not published yet: the public list is empty.
    let r = public.get("/api/v1/public/labs").await;
    assert_eq!((r.status, codes(&r.body).len()), (200, 0), "{r:?}");
    let r = auth
        .post(
            "/api/v1/labs/LAB-A/publish",
            json!({"reason": "资质审核通过，予以公示"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["on_public_list"].as_bool()),
        (200, Some(true)),
        "{r:?}"
    );
    let r = auth
        .post("/api/v1/labs/LAB-A/publish", json!({"reason": "again"}))
        .await;
    assert_eq!(
        r.body["history"].as_array().unwrap().len(),
        1,
        "publishing again changes nothing: {r:?}"
    );

    // The public: no login, the lab with its promise; filters; CSV and GeoJSON; 304 by ETag.
    let r = public.get("/api/v1/public/labs").await;
    assert_eq!(codes(&r.body), ["LAB-A"], "{r:?}");
    let l = &r.body["labs"][0];
    assert_eq!(
        (
            l["report_hours"].as_i64(),
            l["large_scale"].as_bool(),
            l["open_now"].as_bool()
        ),
        (Some(12), Some(true), Some(true))
    );
    assert_eq!(l["measured"]["released"], 0);
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    let r = public
        .send(
            public
                .client
                .get(public.url("/api/v1/public/labs"))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(r.status, 304, "{r:?}");
    for (q, n) in [
        ("district=110108", 1),
        ("district=3101", 0),
        ("service=groups", 1),
        ("max_price=30", 0),
        ("max_price=40", 1),
        ("open_now=true", 1),
    ] {
        let r = public.get(&format!("/api/v1/public/labs?{q}")).await;
        assert_eq!((r.status, codes(&r.body).len()), (200, n), "{q}: {r:?}");
    }
    let r = public.get("/api/v1/public/labs?district=11%2708").await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = public
        .send(
            public
                .client
                .get(public.url("/api/v1/public/labs?format=csv")),
        )
        .await;
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{r:?}"
    );
    let r = public.get("/api/v1/public/labs?format=geojson").await;
    assert_eq!(r.body["type"], "FeatureCollection", "{r:?}");

    // Another region's authority sees nothing of the lab; the lab's own staff read, change nothing.
    let sh = a.as_new("auth-sh", Role::HealthAuthority, "3101").await;
    let r = sh.get("/api/v1/labs/LAB-A/accreditation").await;
    assert_eq!((r.status, r.code()), (404, "lab.not_found"), "{r:?}");
    let r = sh
        .post("/api/v1/labs/LAB-A/withdraw", json!({"reason": "x"}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    let r = sh.get("/api/v1/accreditation").await;
    assert_eq!(r.body.as_array().unwrap().len(), 0, "{r:?}");
    let tech = a.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    let r = tech.get("/api/v1/labs/LAB-A/accreditation").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = tech
        .post(
            "/api/v1/labs/LAB-A/eqa",
            json!({"round": "R9", "held_on": ago_months(1), "passed": true, "organiser": "x"}),
        )
        .await;
    assert_eq!(r.status, 403, "{r:?}");

    // The same round twice is named; a failed round drops the lab off the list at once.
    let r = auth
        .post(
            "/api/v1/labs/LAB-A/eqa",
            json!({"round": "R2", "held_on": ago_months(2), "passed": false, "organiser": "x"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "lab.eqa_recorded"), "{r:?}");
    let r = auth
        .post("/api/v1/labs/LAB-A/eqa", json!({"round": "R3", "held_on": ago_months(0), "passed": false, "organiser": "国家卫生健康委临床检验中心"}))
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(
        (
            r.body["published"].as_bool(),
            r.body["on_public_list"].as_bool(),
            r.body["qualification"]["shortfalls"].clone()
        ),
        (Some(true), Some(false), json!(["eqa_failed"])),
        "{r:?}"
    );
    let r = public.get("/api/v1/public/labs").await;
    assert_eq!(
        codes(&r.body).len(),
        0,
        "a lab that failed its latest round is off the list: {r:?}"
    );
    // Withdrawn with a reason: the history says who, when, why.
    let r = auth
        .post("/api/v1/labs/LAB-A/withdraw", json!({"reason": ""}))
        .await;
    assert_eq!(r.status, 422, "{r:?}");
    let r = auth
        .post(
            "/api/v1/labs/LAB-A/withdraw",
            json!({"reason": "室间质评未通过，撤销公示"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let h = r.body["history"].as_array().unwrap();
    assert_eq!(
        (
            h[0]["action"].as_str(),
            h[0]["by"].as_str(),
            h[1]["action"].as_str()
        ),
        (Some("withdrawn"), Some("auth-bj"), Some("published"))
    );
    for action in ["lab.eqa", "lab.publish", "lab.withdraw"] {
        assert!(
            a.count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND actor = 'auth-bj'"
            ))
            .await
                >= 1,
            "{action} audited"
        );
    }
}

async fn qualification_at_its_edges_through_the_api(db: Db) {
    let a = TestApp::start(db).await;
    a.seed().await;
    let auth = a.as_new("auth-bj", Role::HealthAuthority, "1101").await;
    let public = a.with_token("");
    for code in ["LAB-P23", "LAB-P25"] {
        let mut l = lab(code);
        l["name"] = json!(format!("{code} 实验室"));
        let r = a.post("/api/v1/labs", l).await;
        assert_eq!(r.status, 201, "{r:?}");
        qualify(&auth, code).await;
    }
    // A penalty 23 months ago bars large-scale work; 25 months ago it no longer does.
    for (code, months) in [("LAB-P23", 23), ("LAB-P25", 25)] {
        let r = auth
            .post(
                &format!("/api/v1/labs/{code}/penalties"),
                json!({"decided_on": ago_months(months), "authority": "北京市卫生健康委员会", "summary": "未按规定报告"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let r = auth
            .post(
                &format!("/api/v1/labs/{code}/publish"),
                json!({"reason": "审核通过"}),
            )
            .await;
        assert_eq!(r.status, 200, "{code}: {r:?}");
    }
    let r = public.get("/api/v1/public/labs").await;
    let large: Vec<(String, bool)> = r.body["labs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["code"].as_str().unwrap().to_string(),
                l["large_scale"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        large,
        [
            ("LAB-P23".to_string(), false),
            ("LAB-P25".to_string(), true)
        ],
        "{r:?}"
    );
    let r = auth.get("/api/v1/labs/LAB-P23/accreditation").await;
    assert_eq!(
        r.body["qualification"]["large_scale_shortfalls"],
        json!(["recent_penalty"])
    );
    // A licence past its last day: not qualified any more.
    let r = a.get("/api/v1/labs/LAB-P25").await;
    let mut l = r.body.clone();
    l["accredited_until"] = json!(ago_months(1));
    if let Some(o) = l.as_object_mut() {
        o.remove("accreditation_valid");
    }
    let r = a
        .send(a.client.put(a.url("/api/v1/labs/LAB-P25")).json(&l))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = auth.get("/api/v1/labs/LAB-P25/accreditation").await;
    assert_eq!(
        r.body["qualification"]["shortfalls"],
        json!(["no_licence"]),
        "the newest licence record decides: {r:?}"
    );
    let r = public.get("/api/v1/public/labs").await;
    assert_eq!(codes(&r.body), ["LAB-P23"], "{r:?}");
    let r = auth.get("/api/v1/accreditation").await;
    assert!(r.body.as_array().unwrap().len() >= 3, "{r:?}");
    // Bad input is named, nothing written.
    let r = auth
        .post(
            "/api/v1/labs/LAB-P23/credentials",
            json!({"kind": "diploma", "number": "1", "valid_until": "2030-01-01"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (422, Some("kind")),
        "{r:?}"
    );
    let r = auth
        .post(
            "/api/v1/labs/LAB-P23/eqa",
            json!({"round": "R9", "held_on": "2099-01-01", "passed": true, "organiser": "x"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (422, Some("held_on")),
        "{r:?}"
    );
}
