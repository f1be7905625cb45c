//! The institution administrator's and the regional inspector's screens over real HTTP on
//! both databases: a roster with bad rows previewed (every problem with its line, Apply
//! disabled), fixed and applied, the ledger and its filters, the workbook, the inspector's
//! compliance; and the role × scope table of these page routes.

mod common;

use common::browser::{check_page_routes, user_with_password, Browser, Row};
use common::{id_number, Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::json;

on_both_databases!(
    an_institution_admin_uploads_a_roster_and_reads_the_ledger,
    every_institution_page_route_checks_role_and_scope,
);

const PASSWORD: &str = "correct horse battery";

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    let mut b = Browser::new(app);
    let p = b.log_in(username, PASSWORD, "/").await;
    assert_eq!(p.status, 303, "{username}: {}", p.html);
    b
}

fn form(csv: String) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("员工名单.csv"),
        )
        .text("mode", "add")
        .text("effective_on", "")
}

async fn an_institution_admin_uploads_a_roster_and_reads_the_ledger(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let r = admin
        .post(
            "/api/v1/institutions",
            json!({"code": "INST-9", "name": "海淀医院", "kind": "hospital", "address": "海淀",
                   "phone": "010-1", "region": "110108"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    user_with_password(&admin, "hr-9", Role::InstitutionAdmin, "INST-9").await;
    user_with_password(&admin, "insp-hd", Role::RegionalInspector, "110108").await;
    let hr = signed_in(&admin, "hr-9").await;
    let home = hr.get("/").await;
    assert!(home.html.contains("href=\"/ledger\"") && home.html.contains("href=\"/roster\""));
    let p = hr.get("/roster").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("冷链从业人员") && p.html.contains("id=\"roster-apply\" disabled"));

    // Bad rows: each named with its line; Apply stays disabled.
    let bad = format!(
        "姓名,身份证号,手机号,人员类别\n王一,{},13900000001,医务人员\n王二,110105194912310021,13900000002,医务人员\n",
        id_number(1)
    );
    let p = hr.hx_multipart("/roster/preview", form(bad.clone())).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("id=\"roster-problems\"") && p.html.contains("<td>3</td>"),
        "{}",
        p.html
    );
    assert!(p.html.contains("证件号码错误"), "{}", p.html);
    assert!(
        !p.html.contains("110105194912310021"),
        "no ID number is echoed"
    );
    assert!(
        p.html
            .contains("hx-swap-oob=\"true\" hx-post=\"/roster/apply?institution=INST-9\" disabled"),
        "{}",
        p.html
    );
    let p = hr.hx_multipart("/roster/apply", form(bad)).await;
    assert!(p.html.contains("roster.invalid_rows"), "{}", p.html);
    assert_eq!(admin.count("SELECT COUNT(*) FROM membership").await, 0);

    // Fixed: previewed, applied, and the ledger lists both, not on duty until tested.
    let good = format!(
        "姓名,身份证号,手机号,人员类别\n王一,{},13900000001,医务人员\n王二,{},13900000002,冷链从业人员\n",
        id_number(1),
        id_number(2)
    );
    let p = hr.hx_multipart("/roster/preview", form(good.clone())).await;
    assert!(
        p.html.contains("新增 2") && !p.html.contains("roster-problems"),
        "{}",
        p.html
    );
    let p = hr.hx_multipart("/roster/apply", form(good)).await;
    assert!(p.html.contains("名单已导入：新增 2 人"), "{}", p.html);
    let p = hr.get("/ledger").await;
    assert_eq!(p.status, 200);
    assert!(
        p.html.contains("王*")
            && p.html.contains("未检测")
            && p.html.contains("staff-14d v1")
            && p.html.contains("cold-chain-14d v1"),
        "{}",
        p.html
    );
    assert!(!p.html.contains(&id_number(1)), "masked");
    let p = hr.get("/ledger?state=covered").await;
    assert!(p.html.contains("id=\"ledger-empty\""), "{}", p.html);
    let p = hr.get("/ledger?class=冷链从业人员").await;
    assert_eq!(p.html.matches("<tr class=\"duty-").count(), 1, "{}", p.html);
    // Another institution's ledger is not there for this admin.
    let p = hr.get("/ledger?institution=INST-1").await;
    assert_eq!(p.status, 200, "their own scope decides, not the query");
    assert!(p.html.contains("海淀医院"));

    // Group testing for the two never tested, at S01 today; the sheet to print; the site sees them.
    let p = hr.get("/sessions").await;
    assert_eq!(p.status, 200);
    assert!(
        p.html.contains("id=\"session-form\"") && p.html.contains("中关村采样点"),
        "{}",
        p.html
    );
    let p = hr
        .hx_post(
            "/sessions/order",
            &[
                ("site", "S01"),
                ("on", ""),
                ("who", "overdue"),
                ("class", ""),
            ],
        )
        .await;
    let to = p.header("hx-redirect").to_string();
    assert!(to.starts_with("/sessions/"), "{}: {}", p.status, p.html);
    let p = hr.get(&to).await;
    assert_eq!(p.status, 200);
    assert!(
        p.html.contains("id=\"session-sheet\"")
            && p.html.contains("单采")
            && p.html.matches("<tr class=\"duty-overdue\">").count() == 2,
        "{}",
        p.html
    );
    let sheet = p
        .html
        .split("id=\"session-sheet\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let pdf = hr.get(&sheet).await;
    assert_eq!(
        (pdf.status, pdf.header("content-type")),
        (200, "application/pdf"),
        "the sheet opens with the page's session"
    );
    user_with_password(&admin, "col-1", Role::Collector, "S01").await;
    let col = signed_in(&admin, "col-1").await;
    let p = col.get("/site-sessions").await;
    assert_eq!(p.status, 200);
    assert!(
        p.html
            .contains("海淀医院 <small class=\"muted\">0 / 2</small>"),
        "{}",
        p.html
    );
    let p = hr
        .hx_post(
            "/sessions/order",
            &[("site", "S01"), ("on", ""), ("who", "class"), ("class", "")],
        )
        .await;
    assert!(p.html.contains("class"), "{}", p.html);

    // The inspector of Haidian: the region's institutions, worst first, each a link to its ledger.
    let insp = signed_in(&admin, "insp-hd").await;
    let p = insp.get("/compliance").await;
    assert_eq!(p.status, 200);
    assert!(
        p.html.contains("href=\"/ledger?institution=INST-9\"") && p.html.contains("100.0%"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("INST-1"), "{}", p.html);
    // The period's report: the region's days and institutions, with the charts and a workbook.
    let p = insp.get("/compliance/report").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("id=\"chart-daily\"")
            && p.html.contains("<svg")
            && p.html.contains("/compliance/report?institution=INST-9")
            && p.html.contains("/api/v1/compliance/period?format=xlsx"),
        "{}",
        p.html
    );
    assert!(!p.html.contains("INST-1"), "{}", p.html);
    let p = hr.get("/compliance/report").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html
            .contains("/api/v1/institutions/INST-9/compliance?format=xlsx"),
        "{}",
        p.html
    );
    let p = insp.get("/ledger?institution=INST-9").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        !p.html.contains("href=\"/roster"),
        "an inspector reads, uploads nothing"
    );
    let p = insp.get("/ledger?institution=INST-1").await;
    assert_eq!(p.status, 404, "{}", p.html);
    // The hospital's environment plan and the region's cohorts render (empty as they are).
    let p = hr.get("/environment").await;
    assert_eq!(p.status, 200, "{}", p.html);
    let p = insp.get("/cohorts").await;
    assert!(p.html.contains("id=\"cohorts-none\""), "{}", p.html);
}

async fn every_institution_page_route_checks_role_and_scope(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let mut users = vec![("admin", admin.clone()), ("nobody", admin.with_token(""))];
    for (name, role, scope) in [
        ("collector-s01", Role::Collector, "S01"),
        ("tech-a", Role::LabTechnician, "LAB-A"),
        ("hr-1", Role::InstitutionAdmin, "INST-1"),
        ("insp-bj", Role::RegionalInspector, "1101"),
        ("auth-bj", Role::HealthAuthority, "1101"),
        ("auditor", Role::Auditor, ""),
    ] {
        users.push((name, admin.as_new(name, role, scope).await));
    }
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        ("GET", "/ledger", &[], "nobody", 303),
        ("GET", "/ledger", &[], "hr-1", 200),
        ("GET", "/ledger", &[], "admin", 200),
        ("GET", "/ledger", &[], "tech-a", 403),
        ("GET", "/ledger", &[], "collector-s01", 403),
        ("GET", "/ledger?institution=INST-1", &[], "auditor", 200),
        ("GET", "/roster", &[], "hr-1", 200),
        ("GET", "/roster", &[], "insp-bj", 403),
        ("GET", "/roster", &[], "auditor", 403),
        ("POST", "/roster/preview", &[], "insp-bj", 403),
        ("POST", "/roster/apply", &[], "tech-a", 403),
        ("POST", "/roster/apply", &[], "auditor", 403),
        ("GET", "/compliance", &[], "nobody", 303),
        ("GET", "/compliance", &[], "insp-bj", 200),
        ("GET", "/compliance", &[], "admin", 200),
        ("GET", "/compliance", &[], "hr-1", 403),
        ("GET", "/compliance", &[], "tech-a", 403),
        ("GET", "/compliance/report", &[], "nobody", 303),
        ("GET", "/compliance/report", &[], "insp-bj", 200),
        ("GET", "/compliance/report", &[], "hr-1", 200),
        ("GET", "/compliance/report", &[], "tech-a", 403),
        ("GET", "/compliance/report?institution=INST-1", &[], "insp-bj", 404),
        ("GET", "/compliance/report?institution=INST-1", &[], "auditor", 200),
        ("GET", "/compliance/report?region=31", &[], "insp-bj", 403),
        ("GET", "/enrolments", &[], "nobody", 303),
        ("GET", "/enrolments", &[], "hr-1", 200),
        ("GET", "/enrolments", &[], "insp-bj", 403),
        ("GET", "/enrolments", &[], "auditor", 403),
        ("GET", "/enrolments?institution=INST-1", &[], "admin", 200),
        ("POST", "/enrolments/link", &[], "tech-a", 403),
        ("POST", "/enrolments/link", &[], "insp-bj", 403),
        ("GET", "/enrolments/poster", &[], "hr-1", 404),
        ("GET", "/enrolments/poster", &[], "collector-s01", 403),
        ("POST", "/enrolments/1/approve", &[], "insp-bj", 403),
        ("POST", "/enrolments/1/reject", &[("reason", "x")], "auditor", 403),
        ("GET", "/join/no-such-poster", &[], "nobody", 404),
        ("GET", "/labs", &[], "nobody", 200),
        ("GET", "/labs?district=1101&open_now=1", &[], "hr-1", 200),
        ("GET", "/accreditation", &[], "nobody", 303),
        ("GET", "/accreditation", &[], "auth-bj", 200),
        ("GET", "/accreditation", &[], "hr-1", 403),
        ("GET", "/accreditation", &[], "auditor", 200),
        ("GET", "/accreditation/LAB-A", &[], "auth-bj", 200),
        ("GET", "/accreditation/LAB-A", &[], "insp-bj", 403),
        ("POST", "/accreditation/LAB-A/publish", &[("reason", "x")], "auditor", 403),
        ("POST", "/accreditation/LAB-A/withdraw", &[("reason", "x")], "tech-a", 403),
        ("POST", "/accreditation/LAB-A/record", &[("what", "eqa")], "collector-s01", 403),
        ("POST", "/join/no-such-poster", &[("name", "x")], "nobody", 404),
        // The public's own pages: booking, results, verification — no login, nothing of anyone
        // without their factors.
        ("GET", "/sites", &[], "nobody", 200),
        ("GET", "/sites?district=110108", &[], "hr-1", 200),
        ("GET", "/book", &[], "nobody", 200),
        ("GET", "/book/S01", &[], "nobody", 404),
        ("GET", "/booking/B234567892", &[], "nobody", 404),
        ("POST", "/booking/B234567892/confirm", &[("doc_no", "x")], "nobody", 404),
        ("POST", "/booking/B234567892/cancel", &[("doc_no", "x")], "nobody", 404),
        ("GET", "/results", &[], "nobody", 200),
        ("POST", "/results", &[("doc_no", "11010519491231002X"), ("phone_last4", "1234"), ("code", "P000000000X")], "nobody", 404),
        ("GET", "/results/0000000000000000000000000000000000000000000000000000000000000000", &[], "nobody", 404),
        ("GET", "/verify", &[], "nobody", 200),
        ("POST", "/verify", &[("payload", "NC1:X")], "nobody", 200),
        ("GET", "/sessions", &[], "hr-1", 200),
        ("GET", "/sessions", &[], "collector-s01", 403),
        ("POST", "/sessions/order", &[("site", "S01")], "insp-bj", 403),
        ("POST", "/sessions/order", &[("site", "S01")], "auditor", 403),
        ("GET", "/sessions/1", &[], "hr-1", 404),
        ("GET", "/sessions/1", &[], "tech-a", 403),
        ("GET", "/site-sessions", &[], "collector-s01", 200),
        ("GET", "/site-sessions", &[], "hr-1", 403),
        ("GET", "/site-sessions", &[], "tech-a", 403),
        ("GET", "/environment", &[], "hr-1", 200),
        ("GET", "/environment", &[], "tech-a", 403),
        ("GET", "/environment?institution=INST-1", &[], "insp-bj", 404),
        ("GET", "/environment?institution=INST-1", &[], "admin", 200),
        ("GET", "/cohorts", &[], "insp-bj", 200),
        ("GET", "/cohorts", &[], "hr-1", 403),
        ("GET", "/cohorts", &[], "nobody", 303),
        ("GET", "/cohorts/NO-SUCH", &[], "insp-bj", 404),
    ];
    check_page_routes(&users, table).await;
}
