//! The pages over real HTTP on both databases: logging in with the form, the session cookie and
//! CSRF, the pages for 401/403/404, the language switch, the role × scope table of every page
//! route, and the collection screen's scan story (open a pool, people by ID card and personal
//! code, a new person's name and phone, every refusal, full and short tubes).

mod common;

use common::browser::{check_page_routes, user_with_password, Browser, Page, Row};
use common::{id_number, Db, TestApp};
use natlis::domain::policy::Role;
use reqwest::redirect::Policy;
use serde_json::json;

on_both_databases!(
    login_logout_and_the_pages_for_refusals,
    every_page_route_checks_role_and_scope,
    a_collector_fills_a_pool_by_scanning,
);

async fn login_logout_and_the_pages_for_refusals(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    user_with_password(&app, "li", Role::Collector, "S01").await;
    user_with_password(&app, "tech", Role::LabTechnician, "LAB-A").await;
    let mut b = Browser::new(&app);

    // Nobody signed in: the home page and a screen send to the login page, coming back after.
    let p = b.get("/").await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    let p = b.get("/collect").await;
    assert_eq!((p.status, p.location()), (303, "/login?next=%2Fcollect"));
    // An htmx request is told where the whole window goes.
    let p = b.hx_post("/collect/scan", &[("code", "X")]).await;
    assert_eq!(p.status, 401);
    assert_eq!(p.header("hx-redirect"), "/login?next=%2Fcollect%2Fscan");

    // The login page, in Chinese first, English when asked.
    let p = b.get("/login?next=/collect").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("<html lang=\"zh-CN\">"), "{}", p.html);
    assert!(p.html.contains("用户名") && p.html.contains("value=\"/collect\""));
    assert_eq!(p.header("cache-control"), "no-store");
    b.lang = "en-GB,en;q=0.9";
    let p = b.get("/login").await;
    assert!(p.html.contains("Username") && p.html.contains("<html lang=\"en\">"));
    // The language switch sets a cookie and goes back, never to another site.
    let p = b.get("/lang/zh-CN?back=/login").await;
    assert_eq!((p.status, p.location()), (303, "/login"));
    assert!(p.header("set-cookie").starts_with("natlis_lang=zh-CN;"));
    let p = b.get("/lang/en?back=//evil.example/").await;
    assert_eq!(p.location(), "/");

    // A wrong password: the form again, saying so, with nothing about the account.
    let p = b.log_in("li", "wrong", "/collect").await;
    assert_eq!(p.status, 401);
    assert!(p.html.contains("Wrong username or password"), "{}", p.html);
    assert!(b.cookie.is_none());
    let p = b.log_in("nobody-at-all", "wrong", "/collect").await;
    assert_eq!(p.status, 401);
    assert!(p.html.contains("Wrong username or password"));
    // Right: the session cookie, and on to the page asked for (never off-site).
    let p = b
        .log_in("li", "correct horse battery", "//evil.example")
        .await;
    assert_eq!((p.status, p.location()), (303, "/"));
    let cookie = p.header("set-cookie").to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // The header says who and where; the home page lists the collector's screen only.
    let p = b.get("/").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("id=\"who\">li<") && p.html.contains("Collector"));
    assert!(p.html.contains("site S01") && p.html.contains("href=\"/collect\""));
    // The login page for someone signed in goes straight on.
    let p = b.get("/login?next=/collect").await;
    assert_eq!((p.status, p.location()), (303, "/collect"));

    // A change without the CSRF token is refused with a page that says so.
    let csrf = b.csrf.take();
    let p = b.hx_post("/collect/scan", &[("code", "ZGC1")]).await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert!(p.html.contains("auth.csrf"));
    b.csrf = csrf;

    // An unknown page: 404 as a page for a browser, as JSON for the API's clients.
    let p = b.get("/no/such/page").await;
    assert_eq!(p.status, 404);
    assert!(p.html.contains("No such page") && p.html.contains("href=\"/\""));
    let r = app.get("/no/such/page").await;
    assert_eq!((r.status, r.code()), (404, "route.not_found"));

    // Logging out ends the session: the same cookie is signed in no more.
    let p = b.hx_post("/logout", &[]).await;
    assert_eq!(p.status, 204);
    assert_eq!(p.header("hx-redirect"), "/login");
    assert!(p.header("set-cookie").contains("Max-Age=0"));
    let p = b.get("/collect").await;
    assert_eq!(p.status, 303);

    // A technician opening the collection screen: a 403 page saying what to do.
    let mut t = Browser::new(&app);
    t.lang = "en";
    t.log_in("tech", "correct horse battery", "/").await;
    let p = t.get("/collect").await;
    assert_eq!(p.status, 403);
    assert!(p.html.contains("Not allowed") && p.html.contains("Ask an administrator"));
    // …and the home page has no collection tile for them.
    let p = t.get("/").await;
    assert!(!p.html.contains("href=\"/collect\""));
}

/// Every page route × user: the status each must get, by bearer token as well as by session.
async fn every_page_route_checks_role_and_scope(db: Db) {
    let admin = TestApp::start(db).await;
    admin.seed().await;
    let r = admin
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P-S01", "kind": "pool", "pool_size": 10, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "mass_screening"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let mut users = vec![("admin", admin.clone()), ("nobody", admin.with_token(""))];
    for (name, role, scope) in [
        ("collector-s01", Role::Collector, "S01"),
        ("collector-s02", Role::Collector, "S02"),
        ("tech-a", Role::LabTechnician, "LAB-A"),
        ("reviewer-a", Role::LabReviewer, "LAB-A"),
        ("cdc-bj", Role::CdcReviewer, "1101"),
        ("hr-1", Role::InstitutionAdmin, "INST-1"),
        ("auditor", Role::Auditor, ""),
    ] {
        users.push((name, admin.as_new(name, role, scope).await));
    }
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        ("GET", "/", &[], "nobody", 303),
        ("GET", "/", &[], "auditor", 200),
        ("GET", "/login", &[], "nobody", 200),
        ("GET", "/static/htmx.min.js", &[], "nobody", 200),
        ("GET", "/static/natlis.css", &[], "nobody", 200),
        ("GET", "/static/nothing.js", &[], "nobody", 404),
        ("GET", "/collect", &[], "nobody", 303),
        ("GET", "/collect", &[], "collector-s01", 200),
        ("GET", "/collect", &[], "collector-s02", 200),
        ("GET", "/collect", &[], "tech-a", 403),
        ("GET", "/collect", &[], "reviewer-a", 403),
        ("GET", "/collect", &[], "cdc-bj", 403),
        ("GET", "/collect", &[], "hr-1", 403),
        ("GET", "/collect", &[], "auditor", 403),
        // An administrator names the site; without one, the page to choose it.
        ("GET", "/collect", &[], "admin", 200),
        ("GET", "/collect?site=S02", &[], "admin", 200),
        ("GET", "/collect?site=NOPE", &[], "admin", 404),
        ("POST", "/collect/scan", &[("code", "P-2")], "nobody", 303),
        ("POST", "/collect/scan", &[("code", "P-2")], "tech-a", 403),
        ("POST", "/collect/scan", &[("code", "P-2")], "auditor", 403),
        ("POST", "/collect/close", &[("tube", "P-S01")], "nobody", 303),
        ("POST", "/collect/close", &[("tube", "P-S01")], "hr-1", 403),
        ("POST", "/logout", &[], "nobody", 303),
    ];
    check_page_routes(&users, table).await;

    let r = client
        .get(admin.url("/collect"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("/collect?site=S01") && html.contains("/collect?site=S02"),
        "{html}"
    );
    // A tube of another site does not exist for a collector: scanning into it, or closing it,
    // is refused without a word about it (no site, no count, no people).
    let s02 = &users.iter().find(|(n, _)| *n == "collector-s02").unwrap().1;
    let id = id_number(7);
    for (path, form) in [
        (
            "/collect/scan",
            vec![("code", id.as_str()), ("tube", "P-S01")],
        ),
        ("/collect/close", vec![("tube", "P-S01")]),
    ] {
        let r = client
            .post(s02.url(path))
            .bearer_auth(&s02.token)
            .header("hx-request", "true")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["hx-trigger"], "refused");
        let html = r.text().await.unwrap();
        assert!(html.contains("class=\"message refused\""), "{html}");
        assert!(
            html.contains("tube.not_found") || html.contains("P-S01"),
            "{html}"
        );
        // (The barcode itself is what the collector typed.)
        let rest = html.replace("P-S01", "");
        for leak in ["S01", "中关村", "0/10", "id=\"tube\""] {
            assert!(!rest.contains(leak), "{path}: {leak} leaked: {html}");
        }
    }
    // A collector's form naming another site still collects at their own.
    let s01 = &users.iter().find(|(n, _)| *n == "collector-s01").unwrap().1;
    let r = client
        .post(s01.url("/collect/scan"))
        .bearer_auth(&s01.token)
        .form(&[("code", "S01-T1"), ("site", "S02"), ("sampling", "10")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        admin.get("/api/v1/tubes/S01-T1").await.body["site"],
        json!("S01")
    );
}

async fn a_collector_fills_a_pool_by_scanning(db: Db) {
    let app = TestApp::start(db).await;
    app.seed().await;
    user_with_password(&app, "li", Role::Collector, "S01").await;
    let mut b = Browser::new(&app);
    b.lang = "en";
    b.log_in("li", "correct horse battery", "/collect").await;
    let p = b.get("/collect").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("id=\"scan-code\"") && p.html.contains("autofocus"));
    assert!(
        p.html.contains("Scan a new tube&#39;s barcode first")
            || p.html.contains("Scan a new tube")
    );
    // The site's pool sizes are the choices (S01: the defaults), with single.
    assert!(p.html.contains("value=\"single\"") && p.html.contains("Pool of 10"));

    let setup: Vec<(&str, &str)> = vec![
        ("sampling", "10"),
        ("category", "mass_screening"),
        ("sample_type", "oropharyngeal"),
        ("doc_type", ""),
    ];
    let scan = |code: &str, tube: &str| {
        let mut f: Vec<(String, String)> = setup
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        f.push(("code".into(), code.into()));
        f.push(("tube".into(), tube.into()));
        f
    };
    async fn post(b: &Browser, path: &str, f: Vec<(String, String)>) -> Page {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.hx_post(path, &pairs).await
    }

    // An empty Enter asks for a tube; a tube barcode opens a pool of 10.
    let p = post(&b, "/collect/scan", scan("  ", "")).await;
    assert_eq!(p.header("hx-trigger"), "refused");
    assert!(p.html.contains("Scan a new tube"));
    let p = post(&b, "/collect/scan", scan("ZGC0000001", "")).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("Tube ZGC0000001 opened"), "{}", p.html);
    assert!(p
        .html
        .contains("id=\"current\" name=\"tube\" value=\"ZGC0000001\""));
    assert!(p.html.contains("0/10 people"));
    assert!(p.html.contains("hx-swap-oob=\"true\""));
    // The same barcode again (a second tube with a used label): refused, named.
    let p = post(&b, "/collect/scan", scan("ZGC0000001", "")).await;
    assert_eq!(p.header("hx-trigger"), "refused");
    assert!(p.html.contains("already used"), "{}", p.html);

    // Someone not registered, by ID card: asked for name and phone, then added.
    let first = id_number(101);
    let p = post(&b, "/collect/scan", scan(&first, "ZGC0000001")).await;
    assert!(p.html.contains("id=\"new-person-form\""), "{}", p.html);
    assert!(p.html.contains(&format!("value=\"{first}\"")));
    let mut f = scan(&first, "ZGC0000001");
    f.push(("name".into(), "张三丰".into()));
    f.push(("phone".into(), "13900000101".into()));
    let p = post(&b, "/collect/scan", f).await;
    assert!(p.html.contains("Person 1 added"), "{}", p.html);
    assert!(p.html.contains("1/10 people"));
    // Masked as the API masks: never the whole name or number on the screen.
    assert!(!p.html.contains("张三丰") && !p.html.contains(&first));
    // The same person again; an ID number with a wrong check character; a tube as a person.
    let p = post(&b, "/collect/scan", scan(&first, "ZGC0000001")).await;
    assert_eq!(p.header("hx-trigger"), "refused");
    assert!(p.html.contains("already in this tube"), "{}", p.html);
    let mut wrong = id_number(102);
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(17.., last);
    let p = post(&b, "/collect/scan", scan(&wrong, "ZGC0000001")).await;
    assert!(p.html.contains("Not a valid ID card number"), "{}", p.html);
    let p = post(&b, "/collect/scan", scan("ZGC0000001", "ZGC0000001")).await;
    assert!(
        p.html.contains("a tube never goes into another tube"),
        "{}",
        p.html
    );
    assert!(
        p.html.contains("1/10 people"),
        "the panel stays: {}",
        p.html
    );

    // A registered person by personal code.
    let reg = app
        .post(
            "/api/v1/persons",
            json!({"doc_type": "resident_id", "doc_no": id_number(103), "name": "李四", "phone": "13900000103"}),
        )
        .await;
    let code = reg.body["personal_code"].as_str().unwrap().to_string();
    let p = post(
        &b,
        "/collect/scan",
        scan(&code.to_lowercase(), "ZGC0000001"),
    )
    .await;
    assert!(p.html.contains("Person 2 added"), "{}", p.html);

    // Eight more fill it: it closes itself and the next scan opens a new tube.
    for n in 104..112 {
        let mut f = scan(&id_number(n), "ZGC0000001");
        f.push(("name".into(), format!("测试{n}")));
        f.push(("phone".into(), format!("139{n:08}")));
        let p = post(&b, "/collect/scan", f).await;
        assert_eq!(p.header("hx-trigger"), "", "{}", p.html);
    }
    let tube = app.get("/api/v1/tubes/ZGC0000001").await.body;
    assert_eq!(
        (tube["status"].as_str(), tube["member_count"].as_u64()),
        (Some("closed"), Some(10))
    );
    let p = b.get("/collect?tube=ZGC0000001").await;
    assert!(
        p.html.contains("10/10 people")
            && p.html.contains("id=\"current\" name=\"tube\" value=\"\"")
    );

    // A must-be-single category in a pool is refused at opening.
    let mut f = scan("ZGC0000002", "");
    f[1].1 = "close_contact".into();
    let p = post(&b, "/collect/scan", f).await;
    assert!(p.html.contains("sampled and tested singly"), "{}", p.html);

    // A short pool closed by hand with its count, flagged.
    let p = post(&b, "/collect/scan", scan("ZGC0000003", "")).await;
    assert!(p.html.contains("opened"));
    let mut f = scan(&id_number(120), "ZGC0000003");
    f.push(("name".into(), "王五".into()));
    f.push(("phone".into(), "13900000120".into()));
    post(&b, "/collect/scan", f).await;
    let p = post(&b, "/collect/scan", scan(&id_number(120), "ZGC0000003")).await;
    assert!(p.html.contains("already in this tube"));
    assert!(p.html.contains("id=\"close-short\""));
    let p = b.hx_post("/collect/close", &[("tube", "ZGC0000003")]).await;
    assert!(
        p.html
            .contains("closed with 1 people (short of 10, flagged)"),
        "{}",
        p.html
    );
    let tube = app.get("/api/v1/tubes/ZGC0000003").await.body;
    assert_eq!(tube["short_closed"], json!(true));

    // Every change is in the audit trail under the collector's name.
    let n = app
        .count("SELECT COUNT(*) FROM audit_log WHERE actor = 'li' AND entity_id = 'ZGC0000001'")
        .await;
    assert!(n >= 11, "{n} audit rows");
    // The Chinese screen says the same things in Chinese.
    b.lang = "zh-CN";
    let p = post(&b, "/collect/scan", scan("ZGC0000001", "")).await;
    assert!(p.html.contains("此条码已被使用"), "{}", p.html);
}
