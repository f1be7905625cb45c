//! The lab's screens over real HTTP on both databases, as a technician and a reviewer use them:
//! reception (scan in, a duplicate and an unknown barcode refused, a rejection and the people to
//! re-sample), the bench (a new plate, scans into the next free well, a mis-scan taken out, a
//! rejected tube refused), the import (a preview that writes nothing, then the import), and
//! review (a stale list refused, the clean negatives released, a positive decided), with the
//! role × scope table of every new page route.

mod common;

use common::browser::{check_page_routes, user_with_password, Browser, Page, Row};
use common::lab::{kit, layout_of};
use common::{Db, TestApp};
use natlis::domain::plate::WellContent;
use natlis::domain::policy::Role;
use natlis::synth::{plate_export, Shape};
use serde_json::json;

on_both_databases!(
    a_night_at_the_bench_through_the_pages,
    every_lab_page_route_checks_role_and_scope,
    a_positive_pool_and_a_positive_person_through_the_pages,
);

const PASSWORD: &str = "correct horse battery";

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let mut b = Browser::new(app);
    let p = b.log_in(username, PASSWORD, "/").await;
    assert_eq!(p.status, 303, "{username}: {}", p.html);
    b
}

/// A refusal as a scan screen shows it: 200, the beep, the message in red.
fn refused(p: &Page, words: &str) {
    assert_eq!(p.status, 200, "{}", p.html);
    assert_eq!(p.header("hx-trigger"), "refused", "{}", p.html);
    assert!(p.html.contains("message refused"), "{}", p.html);
    assert!(p.html.contains(words), "{words} not in {}", p.html);
}

/// The value of the hidden input `name` in a page.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn a_night_at_the_bench_through_the_pages(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    user_with_password(&admin, "tech-a", Role::LabTechnician, "LAB-A").await;
    user_with_password(&admin, "reviewer-a", Role::LabReviewer, "LAB-A").await;
    admin.filled_pool("P1", 10, 10..=19).await;
    for (barcode, n) in [("T1", 1), ("T2", 2)] {
        let r = admin
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                       "category": "close_contact", "people": [common::person(n)]}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }
    let tech = signed_in(&admin, "tech-a").await;

    // Reception: the technician's own lab, a scan box, nobody to re-sample yet.
    let p = tech.get("/reception").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("id=\"scan-code\"") && p.html.contains("LAB-A"));
    assert!(p.html.contains("没有待重新采样的人员"), "{}", p.html);
    for code in ["P1", "T1", "T2"] {
        let p = tech.hx_post("/reception/scan", &[("code", code)]).await;
        assert_eq!(p.status, 200, "{}", p.html);
        assert_eq!(p.header("hx-trigger"), "");
        assert!(p.html.contains(&format!("id=\"row-{code}\"")), "{}", p.html);
        assert!(
            p.html.contains("message ok") && p.html.contains("转运"),
            "{}",
            p.html
        );
    }
    refused(
        &tech.hx_post("/reception/scan", &[("code", "P1")]).await,
        "这支样本管已经接收过",
    );
    refused(
        &tech.hx_post("/reception/scan", &[("code", "NOPE-1")]).await,
        "NOPE-1",
    );
    let p = tech
        .hx_post("/reception/reject", &[("barcode", "T2"), ("reason", "")])
        .await;
    refused(&p, "请给出原因");
    assert_eq!(p.header("hx-reswap"), "", "the row is answered, not kept");
    let p = tech
        .hx_post(
            "/reception/reject",
            &[("barcode", "T2"), ("reason", "leaking_or_broken")],
        )
        .await;
    assert!(
        p.html.contains("row rejected") && p.html.contains("漏液或破损"),
        "{}",
        p.html
    );
    // The person of the rejected tube is listed to be re-sampled, masked.
    let p = tech.get("/reception").await;
    let id2 = common::id_number(2);
    assert!(p.html.contains("样本管被拒收: 漏液或破损"), "{}", p.html);
    assert!(p
        .html
        .contains(&format!("{}********{}", &id2[..6], &id2[14..])));
    assert!(!p.html.contains(&id2), "a full ID number on the page");

    // The bench: a new plate opens on its page.
    let p = tech.get("/plates").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("DAAN-ORF1AB-N"), "{}", p.html);
    let p = tech
        .hx_post("/plates/new", &[("size", "96"), ("kit", "DAAN-ORF1AB-N")])
        .await;
    let to = p.header("hx-redirect").to_string();
    assert!(to.starts_with("/plates/LAB-A-"), "{} {}", p.status, p.html);
    let plate = to.trim_start_matches("/plates/").to_string();
    refused(
        &tech
            .hx_post("/plates/new", &[("size", "95"), ("kit", "DAAN-ORF1AB-N")])
            .await,
        "95",
    );
    let p = tech.get(&to).await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("id=\"next-well\">A1<"), "{}", p.html);
    assert!(p.html.contains("class=\"free next\" data-well=\"A1\""));
    assert!(p.html.contains("class=\"control neg\" data-well=\"H11\""));
    // Scans go into the next free well; a mis-scan comes out; a rejected tube is refused.
    let p = tech.hx_post(&format!("{to}/scan"), &[("code", "T1")]).await;
    assert!(p.html.contains("T1 放入 A1"), "{}", p.html);
    assert!(p.html.contains("id=\"next-well\">A2<"), "{}", p.html);
    let p = tech.hx_post(&format!("{to}/scan"), &[("code", "P1")]).await;
    assert!(p.html.contains("P1 放入 A2"), "{}", p.html);
    refused(
        &tech.hx_post(&format!("{to}/scan"), &[("code", "T2")]).await,
        "T2",
    );
    refused(
        &tech.hx_post(&format!("{to}/scan"), &[("code", "P1")]).await,
        "P1",
    );
    let p = tech
        .hx_post(&format!("{to}/remove"), &[("well", "A1")])
        .await;
    assert!(p.html.contains("id=\"next-well\">A1<"), "{}", p.html);
    let p = tech.hx_post(&format!("{to}/scan"), &[("code", "T1")]).await;
    assert!(p.html.contains("T1 放入 A1"), "{}", p.html);

    // The import: the instrument's file previewed (nothing written), then imported.
    let view = admin.get(&format!("/api/v1/plates/{plate}")).await.body;
    let layout = layout_of(&view);
    let tubes: Vec<String> = layout
        .wells
        .values()
        .filter_map(|c| match c {
            WellContent::Tube(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    let file = plate_export(&kit("DAAN-ORF1AB-N"), &layout, None, |i| {
        if tubes[i] == "T1" {
            Shape::Positive(24.0)
        } else {
            Shape::Negative(28.0)
        }
    });
    let form = || {
        reqwest::multipart::Form::new().part(
            "files",
            reqwest::multipart::Part::bytes(file.clone()).file_name("run.csv"),
        )
    };
    let p = tech.hx_multipart(&format!("{to}/preview"), form()).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("预览（尚未导入）") && p.html.contains("运行有效"),
        "{}",
        p.html
    );
    assert!(
        p.html.contains("阳性 1") && p.html.contains("阴性 1"),
        "{}",
        p.html
    );
    assert!(p.html.contains("id=\"import-commit\" hx-swap-oob=\"true\""));
    assert_eq!(admin.count("SELECT COUNT(*) FROM result_import").await, 0);
    let garbage = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(b"not an export".to_vec()).file_name("notes.txt"),
    );
    let p = tech.hx_multipart(&format!("{to}/preview"), garbage).await;
    assert_eq!(p.header("hx-trigger"), "refused");
    assert!(
        p.html.contains("无法读取文件") && p.html.contains("notes.txt"),
        "{}",
        p.html
    );
    // A file larger than a form (a 384-well export with its curves) is read, not cut off.
    let big = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(vec![b'x'; 3 * 1024 * 1024]).file_name("big.txt"),
    );
    let p = tech.hx_multipart(&format!("{to}/preview"), big).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("无法读取文件") && p.html.contains("big.txt"),
        "{}",
        p.html
    );
    let p = tech.hx_multipart(&format!("{to}/import"), form()).await;
    assert_eq!(p.header("hx-redirect"), to, "{}", p.html);
    let p = tech.get(&to).await;
    assert!(p.html.contains("call-positive") && p.html.contains("call-negative"));
    assert!(p.html.contains("id=\"to-review\"") || !p.html.contains("id=\"scan-code\""));

    // Review: a technician may look but not release; the reviewer releases what they saw.
    let p = tech
        .hx_post("/review/release", &[("plate", &plate), ("list", "x")])
        .await;
    assert_eq!(p.status, 403);
    let reviewer = signed_in(&admin, "reviewer-a").await;
    let p = reviewer.get("/review").await;
    assert!(p.html.contains(&format!("?plate={plate}")), "{}", p.html);
    let p = reviewer.get(&format!("/review?plate={plate}")).await;
    assert!(p.html.contains("干净阴性 (1)"), "{}", p.html);
    assert!(p.html.contains("需要决定 (1)"), "{}", p.html);
    let list = hidden(&p.html, "list");
    let attempt = hidden(&p.html, "attempt");
    let p = reviewer
        .hx_post("/review/release", &[("plate", &plate), ("list", "stale")])
        .await;
    assert!(p.html.contains("清单已变化"), "{}", p.html);
    assert_eq!(p.header("hx-trigger"), "refused");
    assert_eq!(admin.count("SELECT COUNT(*) FROM result").await, 0);
    let p = reviewer
        .hx_post("/review/release", &[("plate", &plate), ("list", &list)])
        .await;
    assert!(p.html.contains("已发布 1 支干净阴性"), "{}", p.html);
    assert!(p.html.contains("干净阴性 (0)"), "{}", p.html);
    assert_eq!(admin.count("SELECT COUNT(*) FROM result").await, 10);
    // The positive single tube: departing from the suggestion needs a reason.
    let p = reviewer
        .hx_post(
            "/review/decide",
            &[
                ("plate", &plate),
                ("attempt", &attempt),
                ("decision", "release"),
                ("value", "negative"),
            ],
        )
        .await;
    assert_eq!(p.header("hx-trigger"), "refused", "{}", p.html);
    let p = reviewer
        .hx_post(
            "/review/decide",
            &[
                ("plate", &plate),
                ("attempt", &attempt),
                ("decision", "release"),
                ("value", "positive"),
            ],
        )
        .await;
    assert!(p.html.contains("T1：发布 · 阳性"), "{}", p.html);
    assert!(p.html.contains("需要决定 (0)"), "{}", p.html);
    let r = admin.get("/api/v1/tubes/T1/results").await;
    assert_eq!(r.body[0]["value"], "positive", "{r:?}");
    // The person's page: found by ID card number (posted, never in the address), masked,
    // positive awaiting the CDC; unmasked by the reviewer, and that view audited.
    let id1 = common::id_number(1);
    let p = reviewer
        .hx_post("/persons/lookup", &[("q", &id1), ("doc_type", "")])
        .await;
    let person = p.header("hx-redirect").to_string();
    assert!(person.starts_with("/persons/"), "{}", p.html);
    assert!(!person.contains(&id1));
    let p = reviewer.get(&person).await;
    assert!(p.html.contains("阳性（初筛，待疾控复核）"), "{}", p.html);
    assert!(
        p.html.contains("T1") && !p.html.contains(&id1),
        "{}",
        p.html
    );
    assert!(p.html.contains("id=\"unmask\""));
    let p = reviewer.hx_post(&format!("{person}/unmask"), &[]).await;
    assert!(p.html.contains(&id1), "{}", p.html);
    let uid = person.trim_start_matches("/persons/");
    let r = admin
        .get(&format!("/api/v1/audit?entity=person:{uid}"))
        .await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "person.view_unmasked" && e["actor"] == "reviewer-a"),
        "{r:?}"
    );
    // A technician sees the page masked, with no button to unmask.
    let p = tech.get(&person).await;
    assert!(p.status == 200 && !p.html.contains("id=\"unmask\"") && !p.html.contains(&id1));
    assert_eq!(
        tech.hx_post(&format!("{person}/unmask"), &[]).await.status,
        403
    );
    // 更正: a pool member's released negative amended, with its reason; both versions shown.
    let p = reviewer
        .hx_post("/persons/lookup", &[("q", &common::id_number(10))])
        .await;
    let member = p.header("hx-redirect").to_string();
    let p = reviewer.get(&member).await;
    assert!(
        p.html.contains("person-status status-negative"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("id=\"history\""));
    let result = hidden(&p.html, "result");
    let p = reviewer
        .hx_post(
            &format!("{member}/amend"),
            &[("result", &result), ("value", "negative"), ("reason", "x")],
        )
        .await;
    refused(&p, "negative");
    let p = reviewer
        .hx_post(
            &format!("{member}/amend"),
            &[
                ("result", &result),
                ("value", "pending_recheck"),
                ("reason", "pool tube swapped at the bench"),
            ],
        )
        .await;
    assert_eq!(p.header("hx-redirect"), member, "{}", p.html);
    let p = reviewer.get(&member).await;
    assert!(
        p.html.contains("id=\"history\"") && p.html.contains("pool tube swapped at the bench"),
        "{}",
        p.html
    );
    assert!(
        p.html.contains("已被更正") && p.html.contains("第 2 版"),
        "{}",
        p.html
    );
    assert!(p.html.contains("status-pending_recheck"), "{}", p.html);
    let p = reviewer
        .hx_post(
            &format!("{member}/amend"),
            &[
                ("result", &result),
                ("value", "negative"),
                ("reason", "again"),
            ],
        )
        .await;
    refused(&p, "已被更正过");
    assert_eq!(
        tech.hx_post(&format!("{member}/amend"), &[("result", &result)])
            .await
            .status,
        403
    );

    // A wrong check character is named; nobody by that number is nobody.
    let mut wrong = id1.clone();
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(17.., last);
    let p = reviewer.hx_post("/persons/lookup", &[("q", &wrong)]).await;
    refused(&p, "身份证号无效");
    let p = reviewer
        .hx_post("/persons/lookup", &[("q", &common::id_number(77))])
        .await;
    refused(&p, "没有这个人");

    // Every change is in the audit trail under the page's user.
    for (entity, action, user) in [
        ("tube:P1", "tube.receive", "tech-a"),
        ("tube:T2", "tube.reject", "tech-a"),
        ("tube:T1", "attempt.decide", "reviewer-a"),
    ] {
        let r = admin.get(&format!("/api/v1/audit?entity={entity}")).await;
        assert!(
            r.body
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == action && e["actor"] == user),
            "{entity} {action} {user}: {r:?}"
        );
    }
}

async fn a_positive_pool_and_a_positive_person_through_the_pages(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    user_with_password(&admin, "reviewer-a", Role::LabReviewer, "LAB-A").await;
    user_with_password(&admin, "cdc-bj", Role::CdcReviewer, "1101").await;
    let tech = admin.as_new("tech-a", Role::LabTechnician, "LAB-A").await;
    admin.filled_pool("P1", 10, 10..=19).await;
    admin.receive_at_lab_a("P1").await;
    admin.received_single("T1", 1, "close_contact").await;
    let (plate, layout) =
        common::lab::plate_of(&tech, "DAAN-ORF1AB-N", &["P1".into(), "T1".into()]).await;
    common::lab::import(&tech, &plate, "DAAN-ORF1AB-N", &layout, None, |_| {
        Shape::Positive(25.0)
    })
    .await;
    let reviewer = signed_in(&admin, "reviewer-a").await;
    let p = reviewer.get(&format!("/review?plate={plate}")).await;
    assert!(p.html.contains("需要决定 (2)"), "{}", p.html);
    // Each as suggested (release positive), from the pre-filled form.
    for _ in 0..2 {
        let p = reviewer.get(&format!("/review?plate={plate}")).await;
        let attempt = hidden(&p.html, "attempt");
        let p = reviewer
            .hx_post(
                "/review/decide",
                &[
                    ("plate", &plate),
                    ("attempt", &attempt),
                    ("decision", "release"),
                    ("value", "positive"),
                ],
            )
            .await;
        assert!(p.html.contains("发布 · 阳性"), "{}", p.html);
    }
    // The pool's ten members now owe a single tube each.
    let p = reviewer.get("/rechecks").await;
    assert_eq!(p.status, 200);
    assert_eq!(p.html.matches("待重新采样").count(), 10, "{}", p.html);
    assert!(p.html.contains("P1") && !p.html.contains(&common::id_number(10)));
    // The CDC: the positive single tube with its clock; a return needs a reason; confirmed.
    let cdc = signed_in(&admin, "cdc-bj").await;
    let p = cdc.get("/cdc").await;
    assert!(
        p.html.contains("id=\"cdc-T1\"") && p.html.contains("剩余 1 小时"),
        "{}",
        p.html
    );
    let result = hidden(&p.html, "result");
    let p = cdc
        .hx_post(
            "/cdc/rule",
            &[("result", &result), ("ruling", "reject"), ("reason", "")],
        )
        .await;
    assert_eq!(p.header("hx-trigger"), "refused", "{}", p.html);
    assert!(p.html.contains("请给出原因"), "{}", p.html);
    let p = cdc
        .hx_post("/cdc/rule", &[("result", &result), ("ruling", "confirm")])
        .await;
    assert!(p.html.contains("T1：已确认阳性"), "{}", p.html);
    assert!(p.html.contains("待复核的阳性 (0)"), "{}", p.html);
    let r = admin.get("/api/v1/tubes/T1/results").await;
    assert_eq!(r.body[0]["cdc_status"], "confirmed", "{r:?}");
    // The turnaround board: the report's charts, the downloads, the at-risk list by itself.
    let p = reviewer.get("/turnaround").await;
    assert_eq!(p.status, 200, "{}", p.html);
    for part in [
        "id=\"chart-volume\"><svg",
        "id=\"chart-turnaround\"><svg",
        "id=\"chart-stages\"><svg",
        "format=csv&#38;lab=LAB-A",
        "format=xlsx&#38;lab=LAB-A",
        "id=\"at-risk\"",
    ] {
        assert!(p.html.contains(part), "{part}: {}", p.html);
    }
    let p = reviewer.get("/turnaround/at-risk").await;
    assert!(
        p.status == 200 && p.html.contains("hx-trigger=\"every 60s\""),
        "{}",
        p.html
    );
    let csv = reviewer
        .get("/api/v1/turnaround/report?format=csv&lab=LAB-A")
        .await;
    assert_eq!(csv.status, 200);
    // The queue alone, as the page's timer asks for it.
    assert_eq!(cdc.get("/cdc/queue").await.status, 200);
    // A reviewer of the lab is not the CDC.
    assert_eq!(
        reviewer
            .hx_post("/cdc/rule", &[("result", &result), ("ruling", "confirm")])
            .await
            .status,
        403
    );
}

async fn every_lab_page_route_checks_role_and_scope(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    assert_eq!(
        admin
            .post("/api/v1/labs", common::lab("LAB-B"))
            .await
            .status,
        201
    );
    let r = admin
        .post(
            "/api/v1/plates",
            json!({"lab": "LAB-A", "size": 96, "kit": "DAAN-ORF1AB-N"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let plate = format!("/plates/{}", r.body["run_no"].as_str().unwrap());
    // A person whose tube LAB-A received.
    admin.received_single("T1", 1, "close_contact").await;
    let r = admin.get("/api/v1/tubes/T1").await;
    let person = format!(
        "/persons/{}",
        r.body["members"][0]["person"]["id"].as_str().unwrap()
    );
    let unmask = format!("{person}/unmask");
    let mut users = vec![("admin", admin.clone()), ("nobody", admin.with_token(""))];
    for (name, role, scope) in [
        ("collector-s01", Role::Collector, "S01"),
        ("tech-a", Role::LabTechnician, "LAB-A"),
        ("tech-b", Role::LabTechnician, "LAB-B"),
        ("reviewer-a", Role::LabReviewer, "LAB-A"),
        ("reviewer-b", Role::LabReviewer, "LAB-B"),
        ("cdc-bj", Role::CdcReviewer, "1101"),
        ("hr-1", Role::InstitutionAdmin, "INST-1"),
        ("auditor", Role::Auditor, ""),
    ] {
        users.push((name, admin.as_new(name, role, scope).await));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let scan = format!("{plate}/scan");
    let fill = format!("{plate}/fill");
    let remove = format!("{plate}/remove");
    let run_no = plate.trim_start_matches("/plates/").to_string();
    let review_plate = format!("/review?plate={run_no}");
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        ("GET", "/reception", &[], "nobody", 303),
        ("GET", "/reception", &[], "tech-a", 200),
        ("GET", "/reception", &[], "collector-s01", 403),
        ("GET", "/reception", &[], "reviewer-a", 403),
        ("GET", "/reception", &[], "auditor", 403),
        // Someone who works everywhere chooses the lab first.
        ("GET", "/reception", &[], "admin", 200),
        ("GET", "/reception?lab=LAB-B", &[], "admin", 200),
        ("GET", "/reception?lab=NOPE", &[], "admin", 404),
        ("POST", "/reception/scan", &[("code", "X")], "nobody", 303),
        ("POST", "/reception/scan", &[("code", "X")], "cdc-bj", 403),
        ("POST", "/reception/reject", &[("barcode", "X")], "hr-1", 403),
        ("GET", "/plates", &[], "nobody", 303),
        ("GET", "/plates", &[], "tech-a", 200),
        ("GET", "/plates", &[], "reviewer-a", 200),
        ("GET", "/plates", &[], "collector-s01", 403),
        ("GET", "/plates", &[], "cdc-bj", 403),
        ("GET", "/plates", &[], "admin", 200),
        ("GET", "/plates?lab=LAB-A", &[], "auditor", 200),
        ("POST", "/plates/new", &[("size", "96"), ("kit", "DAAN-ORF1AB-N")], "reviewer-a", 403),
        ("POST", "/plates/new", &[("size", "96"), ("kit", "DAAN-ORF1AB-N")], "auditor", 403),
        ("GET", &plate, &[], "tech-a", 200),
        ("GET", &plate, &[], "reviewer-a", 200),
        // Another lab's plate does not exist for them.
        ("GET", &plate, &[], "tech-b", 404),
        ("GET", &plate, &[], "reviewer-b", 404),
        ("GET", &plate, &[], "hr-1", 403),
        ("POST", &scan, &[("code", "X")], "reviewer-a", 403),
        ("POST", &fill, &[], "auditor", 403),
        ("POST", &remove, &[("well", "A1")], "collector-s01", 403),
        ("GET", "/review", &[], "nobody", 303),
        ("GET", "/review", &[], "reviewer-a", 200),
        ("GET", "/review", &[], "tech-a", 200),
        ("GET", "/review", &[], "cdc-bj", 403),
        ("GET", "/review", &[], "hr-1", 403),
        ("GET", &review_plate, &[], "reviewer-a", 200),
        ("GET", &review_plate, &[], "reviewer-b", 404),
        ("POST", "/review/release", &[("plate", "x")], "tech-a", 403),
        ("POST", "/review/decide", &[("attempt", "1")], "auditor", 403),
        ("POST", "/review/redo", &[("plate", "x")], "cdc-bj", 403),
        ("GET", "/rechecks", &[], "nobody", 303),
        ("GET", "/rechecks", &[], "reviewer-a", 200),
        ("GET", "/rechecks", &[], "tech-b", 200),
        ("GET", "/rechecks", &[], "cdc-bj", 403),
        ("GET", "/rechecks", &[], "collector-s01", 403),
        ("GET", "/rechecks?lab=LAB-A", &[], "auditor", 200),
        ("GET", "/cdc", &[], "nobody", 303),
        ("GET", "/cdc", &[], "cdc-bj", 200),
        ("GET", "/cdc", &[], "auditor", 200),
        ("GET", "/cdc", &[], "reviewer-a", 403),
        ("GET", "/cdc", &[], "tech-a", 403),
        ("GET", "/cdc/queue", &[], "hr-1", 403),
        ("POST", "/cdc/rule", &[("result", "1"), ("ruling", "confirm")], "auditor", 403),
        ("POST", "/cdc/rule", &[("result", "1"), ("ruling", "confirm")], "reviewer-a", 403),
        ("GET", "/turnaround", &[], "nobody", 303),
        ("GET", "/turnaround", &[], "tech-a", 200),
        ("GET", "/turnaround", &[], "reviewer-b", 200),
        ("GET", "/turnaround", &[], "cdc-bj", 403),
        ("GET", "/turnaround", &[], "collector-s01", 403),
        ("GET", "/turnaround", &[], "admin", 200),
        ("GET", "/turnaround?lab=LAB-B", &[], "auditor", 200),
        ("GET", "/turnaround?from=yesterday", &[], "tech-a", 422),
        ("GET", "/turnaround/at-risk", &[], "hr-1", 403),
        ("GET", "/turnaround/at-risk?lab=LAB-A", &[], "tech-a", 200),
        ("GET", "/persons", &[], "nobody", 303),
        ("GET", "/persons", &[], "collector-s01", 403),
        ("GET", "/persons", &[], "hr-1", 200),
        ("GET", "/persons", &[], "cdc-bj", 200),
        ("POST", "/persons/lookup", &[("q", "x")], "collector-s01", 403),
        ("GET", &person, &[], "tech-a", 200),
        ("GET", &person, &[], "reviewer-a", 200),
        ("GET", &person, &[], "admin", 200),
        // A person outside the caller's scope does not exist for them.
        ("GET", &person, &[], "tech-b", 404),
        ("GET", &person, &[], "reviewer-b", 404),
        ("GET", &person, &[], "hr-1", 404),
        ("GET", &person, &[], "collector-s01", 403),
        ("POST", &unmask, &[], "tech-a", 403),
        ("POST", &unmask, &[], "auditor", 403),
        ("POST", &unmask, &[], "reviewer-b", 404),
        ("POST", &unmask, &[], "reviewer-a", 200),
    ];
    check_page_routes(&users, table).await;
    // The choice offered to someone who works everywhere: every lab, a link back here.
    let r = client
        .get(admin.url("/reception"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    for lab in ["/reception?lab=LAB-A", "/reception?lab=LAB-B"] {
        assert!(html.contains(lab), "{lab}: {html}");
    }
    // Another lab's plate, acted on through a page, is refused without a word of it.
    let b = &users.iter().find(|(n, _)| *n == "tech-b").unwrap().1;
    let r = client
        .post(b.url(&scan))
        .bearer_auth(&b.token)
        .header("hx-request", "true")
        .form(&[("code", "T9")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["hx-trigger"], "refused");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("plate.not_found") || html.contains(&run_no),
        "{html}"
    );
    // (The run number is the address the user typed.)
    let rest = html.replace(&run_no, "");
    for leak in ["LAB-A", "DAAN", "id=\"bench\""] {
        assert!(!rest.contains(leak), "{leak} leaked: {html}");
    }
}
