//! The administrator's, auditor's and push monitor's screens over real HTTP on both databases:
//! users added with their first token shown once and revoked, the settings saved and refused,
//! an object's audit trail and the chain verified, a dead message with the receiver's answer
//! sent again; and the role × scope table of these page routes.

mod common;

use common::browser::{check_page_routes, user_with_password, Browser, Page, Row};
use common::{Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::json;
use std::time::Duration;

on_both_databases!(
    an_administrators_day_through_the_pages,
    every_admin_page_route_checks_role_and_scope,
);

const PASSWORD: &str = "correct horse battery";

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let mut b = Browser::new(app);
    let p = b.log_in(username, PASSWORD, "/").await;
    assert_eq!(p.status, 303, "{username}: {}", p.html);
    b
}

fn refused(p: &Page, words: &str) {
    assert_eq!(p.header("hx-trigger"), "refused", "{}", p.html);
    assert!(p.html.contains(words), "{words} not in {}", p.html);
}

async fn an_administrators_day_through_the_pages(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    user_with_password(&admin, "boss", Role::Admin, "").await;
    user_with_password(&admin, "auditor", Role::Auditor, "").await;
    let boss = signed_in(&admin, "boss").await;
    let p = boss.get("/admin").await;
    assert_eq!(p.status, 200);
    for part in [
        "LAB-A",
        "S01",
        "中关村采样点",
        "DAAN-ORF1AB-N",
        "id=\"save-settings\"",
    ] {
        assert!(p.html.contains(part), "{part}: {}", p.html);
    }

    // A user with a first token shown once; the token works, and once revoked it does not.
    let p = boss
        .hx_post(
            "/admin/users",
            &[
                ("username", "scanner-7"),
                ("role", "collector"),
                ("scope", "S01"),
                ("password", ""),
            ],
        )
        .await;
    assert!(p.html.contains("已添加用户 scanner-7"), "{}", p.html);
    let token = p
        .html
        .split("<small>")
        .nth(1)
        .unwrap()
        .split("</small>")
        .next()
        .unwrap()
        .to_string();
    assert!(token.starts_with("nl_"), "{token}");
    let prefix = p
        .html
        .split("前缀 ")
        .nth(1)
        .unwrap()
        .split('）')
        .next()
        .unwrap()
        .to_string();
    assert!(token.starts_with(&prefix), "{prefix} {token}");
    let scanner = admin.with_token(&token);
    assert_eq!(scanner.get("/api/v1/me").await.body["site"], "S01");
    refused(
        &boss
            .hx_post(
                "/admin/users",
                &[
                    ("username", "scanner-7"),
                    ("role", "collector"),
                    ("scope", "S01"),
                ],
            )
            .await,
        "scanner-7",
    );
    refused(
        &boss
            .hx_post(
                "/admin/users",
                &[
                    ("username", "tech-x"),
                    ("role", "lab_technician"),
                    ("scope", ""),
                ],
            )
            .await,
        "lab",
    );
    let p = boss
        .hx_post("/admin/tokens/revoke", &[("prefix", &prefix)])
        .await;
    assert!(p.html.contains("已吊销"), "{}", p.html);
    assert_eq!(scanner.get("/api/v1/me").await.status, 401);

    // The settings: a change saved, a value out of range refused by name.
    let p = boss
        .hx_post(
            "/admin/settings",
            &[
                ("transport_limit_minutes", "300"),
                ("negative_valid_hours", "72"),
                ("single_only", "close_contact"),
            ],
        )
        .await;
    assert!(p.html.contains("设置已保存"), "{}", p.html);
    let r = admin.get("/api/v1/settings").await;
    assert_eq!(r.body["transport_limit_minutes"], 300);
    assert_eq!(r.body["negative_valid_hours"], 72);
    assert_eq!(r.body["single_only"], json!(["close_contact"]));
    refused(
        &boss
            .hx_post("/admin/settings", &[("negative_valid_hours", "36")])
            .await,
        "24、48 或 72",
    );
    refused(
        &boss
            .hx_post("/admin/settings", &[("transport_limit_minutes", "four")])
            .await,
        "four",
    );

    // The registry: a lab, a site sending to it, a new version of a kit.
    let p = boss
        .hx_post(
            "/admin/labs",
            &[
                ("code", "LAB-CY"),
                ("name", "朝阳检测"),
                ("licence_no", "PDY-1"),
                ("accredited_until", "2030-12-31"),
                ("address", "朝阳路1号"),
                ("phone", "010-1"),
                ("opening_hours", "00:00–24:00"),
                ("price_single", "16"),
                ("price_pooled", "3.5"),
                ("daily_capacity", "30000"),
                ("region", "110105"),
            ],
        )
        .await;
    assert!(p.html.contains("已新增实验室 LAB-CY"), "{}", p.html);
    let r = admin.get("/api/v1/labs/LAB-CY").await;
    assert_eq!(
        (
            r.body["price_pooled_cents"].clone(),
            r.body["accreditation_valid"].clone()
        ),
        (json!(350), json!(true))
    );
    refused(
        &boss.hx_post("/admin/labs", &[("code", "LAB-X")]).await,
        "name",
    );
    let p = boss
        .hx_post(
            "/admin/sites",
            &[
                ("code", "S-CY"),
                ("name", "朝阳公园采样点"),
                ("address", "朝阳公园"),
                ("region", "110105"),
                ("lab", "LAB-CY"),
                ("pool_size", "10"),
                ("pool_size", "20"),
            ],
        )
        .await;
    assert!(p.html.contains("已新增采样点 S-CY"), "{}", p.html);
    let r = admin.get("/api/v1/sites/S-CY").await;
    assert_eq!(r.body["pool_sizes"], json!([10, 20]));
    assert_eq!(r.body["accepts_foreign_barcodes"], false);
    let mut kit = admin.get("/api/v1/kits/DAAN-ORF1AB-N").await.body;
    kit["name"] = json!("达安 新批号");
    let p = boss
        .hx_post("/admin/kits", &[("kit", &kit.to_string())])
        .await;
    assert!(p.html.contains("DAAN-ORF1AB-N 第 2 版"), "{}", p.html);
    refused(
        &boss.hx_post("/admin/kits", &[("kit", "{not json")]).await,
        "JSON",
    );

    // The audit trail of a tube, and the chain verified intact.
    admin.received_single("T1", 1, "close_contact").await;
    let auditor = signed_in(&admin, "auditor").await;
    let p = auditor.get("/audit?entity=tube:T1").await;
    assert!(
        p.html.contains("tube.open") && p.html.contains("tube.receive"),
        "{}",
        p.html
    );
    let p = auditor.get("/audit?entity=nonsense").await;
    assert!(p.html.contains("class=\"refusal\""), "{}", p.html);
    let p = auditor.get("/audit/verify").await;
    assert!(p.html.contains("审计链完整"), "{}", p.html);

    // A sink nobody answers: its message given up, with the answer; sent again by the admin.
    let r = admin
        .post(
            "/api/v1/push/sinks",
            json!({"name": "nowhere", "region_prefix": "11", "kind": "fhir_http",
                   "url": "http://127.0.0.1:9/fhir", "max_attempts": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    admin.rejected_pool("P1", 5, 20..=24).await;
    natlis::worker::push::spawn_worker(
        admin.store.clone(),
        natlis::worker::push::Config {
            every: Duration::from_millis(20),
            timeout: Duration::from_millis(300),
            backoff: Duration::from_millis(10),
            lease: Duration::from_secs(2),
            parallel: 1,
            ..Default::default()
        },
    );
    let mut dead = 0;
    for _ in 0..400 {
        let r = admin.get("/api/v1/push/messages?status=dead").await;
        dead = r.body["messages"].as_array().map_or(0, Vec::len);
        if dead > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(dead > 0, "no message was given up");
    let p = auditor.get("/push").await;
    assert!(
        p.html.contains("nowhere") && p.html.contains("已放弃"),
        "{}",
        p.html
    );
    assert!(
        !p.html.contains("hx-post=\"/push/resend\""),
        "an auditor cannot resend"
    );
    let p = boss.get("/push?status=dead").await;
    assert!(p.html.contains("hx-post=\"/push/resend\""), "{}", p.html);
    let id = p
        .html
        .split("hx-vals='{\"id\": ")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap()
        .to_string();
    let p = boss.hx_post("/push/resend", &[("id", &id)]).await;
    assert!(
        p.html.contains(&format!("消息 {id} 已重新排队")),
        "{}",
        p.html
    );
    let p = boss.hx_post("/push/resend", &[("id", "999999")]).await;
    assert_eq!(p.header("hx-trigger"), "refused", "{}", p.html);
    // Each change under the page's user in the audit trail.
    for (entity, action) in [
        ("user:scanner-7", "user.add"),
        ("user:scanner-7", "token.revoke"),
        ("settings:settings", "settings.update"),
    ] {
        let r = admin.get(&format!("/api/v1/audit?entity={entity}")).await;
        let found = r.body.as_array().is_some_and(|a| {
            a.iter()
                .any(|e| e["action"] == action && e["actor"] == "boss")
        });
        assert!(found, "{entity} {action}: {r:?}");
    }
}

async fn every_admin_page_route_checks_role_and_scope(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let mut users = vec![("admin", admin.clone()), ("nobody", admin.with_token(""))];
    for (name, role, scope) in [
        ("collector-s01", Role::Collector, "S01"),
        ("tech-a", Role::LabTechnician, "LAB-A"),
        ("reviewer-a", Role::LabReviewer, "LAB-A"),
        ("cdc-bj", Role::CdcReviewer, "1101"),
        ("hr-1", Role::InstitutionAdmin, "INST-1"),
        ("auditor", Role::Auditor, ""),
    ] {
        users.push((name, admin.as_new(name, role, scope).await));
    }
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        ("GET", "/admin", &[], "nobody", 303),
        ("GET", "/admin", &[], "admin", 200),
        ("GET", "/admin", &[], "auditor", 403),
        ("GET", "/admin", &[], "tech-a", 403),
        ("POST", "/admin/settings", &[("transport_limit_minutes", "200")], "auditor", 403),
        ("POST", "/admin/settings", &[("transport_limit_minutes", "200")], "reviewer-a", 403),
        ("POST", "/admin/users", &[("username", "x"), ("role", "auditor")], "auditor", 403),
        ("POST", "/admin/users", &[("username", "x"), ("role", "auditor")], "hr-1", 403),
        ("POST", "/admin/tokens/revoke", &[("prefix", "x")], "collector-s01", 403),
        ("POST", "/admin/labs", &[("code", "X")], "auditor", 403),
        ("POST", "/admin/labs", &[("code", "X")], "tech-a", 403),
        ("POST", "/admin/sites", &[("code", "X")], "collector-s01", 403),
        ("POST", "/admin/sites", &[("code", "X")], "hr-1", 403),
        ("POST", "/admin/kits", &[("kit", "{}")], "reviewer-a", 403),
        ("POST", "/admin/kits", &[("kit", "{}")], "auditor", 403),
        ("GET", "/audit", &[], "nobody", 303),
        ("GET", "/audit", &[], "auditor", 200),
        ("GET", "/audit", &[], "reviewer-a", 200),
        ("GET", "/audit", &[], "tech-a", 403),
        ("GET", "/audit", &[], "cdc-bj", 403),
        ("GET", "/audit/verify", &[], "auditor", 200),
        ("GET", "/audit/verify", &[], "reviewer-a", 403),
        ("GET", "/audit/verify", &[], "collector-s01", 403),
        ("GET", "/push", &[], "nobody", 303),
        ("GET", "/push", &[], "auditor", 200),
        ("GET", "/push", &[], "admin", 200),
        ("GET", "/push", &[], "hr-1", 403),
        ("GET", "/push", &[], "tech-a", 403),
        ("GET", "/push?status=nonsense", &[], "admin", 422),
        ("POST", "/push/resend", &[("id", "1")], "auditor", 403),
        ("POST", "/push/resend", &[("id", "1")], "reviewer-a", 403),
    ];
    check_page_routes(&users, table).await;
}
