//! The audit trail: each change's history, sealed in hash-chained batches; altering, deleting or
//! forging an entry is detected and the first bad entry named — through the library, the API
//! and `natlis audit verify`. On both databases.

mod common;

use common::{person, Db, TestApp};
use natlis::auth::policy::Role;
use serde_json::json;

on_both_databases!(
    history_of_a_tube_names_who_did_what,
    an_altered_entry_is_named,
    a_deleted_entry_is_named,
    a_forged_entry_is_named,
    a_removed_seal_breaks_the_chain,
    unmasked_views_are_audited_and_bulk_changes_have_a_parent,
);

/// A seeded app with a pool of five people received at its lab, its audit trail sealed.
async fn sealed_app(db: Db) -> TestApp {
    let app = TestApp::start(db).await;
    app.seed().await;
    let collector = app.as_new("collector-1", Role::Collector, "S01").await;
    let r = collector
        .post(
            "/api/v1/tubes",
            json!({"barcode": "P-1", "kind": "pool", "pool_size": 5, "sample_type": "oropharyngeal",
                   "site": "S01", "category": "mass_screening"}),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    for i in 1..=5 {
        assert_eq!(
            collector
                .post("/api/v1/tubes/P-1/members", person(i))
                .await
                .status,
            200
        );
    }
    let tech = app.as_new("tech-1", Role::LabTechnician, "LAB-A").await;
    let r = tech
        .post(
            "/api/v1/reception",
            json!({"barcode": "P-1", "lab": "LAB-A"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let sealed = natlis::audit::seal(&app.store, chrono::Duration::zero())
        .await
        .unwrap()
        .expect("entries to seal");
    assert!(sealed.entries > 10, "{sealed:?}");
    assert!(natlis::audit::seal(&app.store, chrono::Duration::zero())
        .await
        .unwrap()
        .is_none());
    app
}

async fn verify(app: &TestApp) -> natlis::audit::Report {
    let mut conn = app.store.reader().acquire().await.unwrap();
    natlis::audit::verify(&mut conn).await.unwrap()
}

async fn entry_id(app: &TestApp, action: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    id
}

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sql).execute(app.store.writer()).await.unwrap();
}

async fn history_of_a_tube_names_who_did_what(db: Db) {
    let app = sealed_app(db).await;
    let r = app.get("/api/v1/audit?entity=tube:P-1").await;
    assert_eq!(r.status, 200, "{r:?}");
    let entries = r.body.as_array().unwrap();
    let steps: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(steps[0], ("tube.open", "collector-1"));
    assert_eq!(steps[5], ("tube.add_member", "collector-1"));
    assert_eq!(steps[6], ("tube.close", "collector-1"));
    assert_eq!(steps[7], ("tube.receive", "tech-1"));
    assert_eq!(entries[7]["after"]["lab"], "LAB-A");
    assert!(entries.iter().all(|e| e["sealed"] == true));
    let auditor = app.as_new("auditor-1", Role::Auditor, "").await;
    assert_eq!(
        auditor.get("/api/v1/audit?entity=tube:P-1").await.status,
        200
    );
    let collector = app.as_new("collector-2", Role::Collector, "S01").await;
    assert_eq!(
        collector.get("/api/v1/audit?entity=tube:P-1").await.status,
        403
    );
    let r = auditor.get("/api/v1/audit/verify").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body["problem"].is_null(), "{r:?}");
    assert!(r.body["last_hash"].is_string());
    // New work is unsealed until the next seal.
    app.post("/api/v1/persons", person(99)).await;
    let report = verify(&app).await;
    assert_eq!(report.problem, None);
    assert!(report.unsealed_entries >= 2, "{report:?}");
}

async fn an_altered_entry_is_named(db: Db) {
    let app = sealed_app(db).await;
    let id = entry_id(&app, "tube.receive").await;
    exec(
        &app,
        &format!("UPDATE audit_log SET actor = 'mallory' WHERE id = {id}"),
    )
    .await;
    let report = verify(&app).await;
    assert_eq!(report.first_bad_entry, Some(id), "{report:?}");
    assert!(report.problem.unwrap().contains("altered"));
}

async fn a_deleted_entry_is_named(db: Db) {
    let app = sealed_app(db).await;
    let id = entry_id(&app, "tube.add_member").await;
    exec(&app, &format!("DELETE FROM audit_log WHERE id = {id}")).await;
    let report = verify(&app).await;
    assert_eq!(report.first_bad_entry, Some(id), "{report:?}");
    assert!(report.problem.unwrap().contains("deleted"));
}

async fn a_forged_entry_is_named(db: Db) {
    let app = sealed_app(db).await;
    let (seal,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM audit_seal")
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    exec(
        &app,
        &format!(
            "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, seal_id) \
             VALUES (0, 'mallory', 'tube.receive', 'tube', 'P-1', {seal})"
        ),
    )
    .await;
    let (forged,): (i64,) = sqlx::query_as("SELECT MAX(id) FROM audit_log")
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    let report = verify(&app).await;
    assert_eq!(report.first_bad_entry, Some(forged), "{report:?}");
    assert!(report.problem.unwrap().contains("slipped"));
}

async fn a_removed_seal_breaks_the_chain(db: Db) {
    let app = sealed_app(db).await;
    app.post("/api/v1/persons", person(77)).await;
    natlis::audit::seal(&app.store, chrono::Duration::zero())
        .await
        .unwrap()
        .expect("a second seal");
    exec(
        &app,
        "DELETE FROM audit_seal WHERE id = (SELECT MIN(id) FROM audit_seal)",
    )
    .await;
    let report = verify(&app).await;
    assert!(
        report
            .problem
            .as_deref()
            .unwrap_or("")
            .contains("does not follow"),
        "{report:?}"
    );
}

/// `natlis audit verify` on a tampered SQLite database exits 1 and names the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_names_the_first_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    let location = natlis::store::Location::SqliteDir(dir.path().to_path_buf());
    let store = natlis::store::Store::connect(&location, natlis::store::SqliteSync::Normal)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    natlis::auth::bootstrap_admin(&store, Some("a-long-password"))
        .await
        .unwrap();
    natlis::audit::seal(&store, chrono::Duration::zero())
        .await
        .unwrap()
        .expect("bootstrap entries");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_natlis"))
            .args(["audit", "verify", "--data-dir"])
            .arg(dir.path())
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let ok = run();
    assert!(ok.status.success(), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("audit trail intact"));
    let (id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM audit_log")
        .fetch_one(store.reader())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET after = '{}' WHERE id = $1")
        .bind(id)
        .execute(store.writer())
        .await
        .unwrap();
    store.close().await;
    let bad = run();
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let out = String::from_utf8_lossy(&bad.stdout);
    assert!(out.contains(&format!("entry {id} was altered")), "{out}");
}

async fn unmasked_views_are_audited_and_bulk_changes_have_a_parent(db: Db) {
    let app = sealed_app(db).await;
    let tube = app.get("/api/v1/tubes/P-1").await;
    let id = tube.body["members"][0]["person"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tube.body["members"][0]["person"]["doc_no"]
        .as_str()
        .unwrap()
        .contains("********"));
    let reviewer = app.as_new("reviewer-1", Role::LabReviewer, "LAB-A").await;
    let r = reviewer
        .get(&format!("/api/v1/persons/{id}/unmasked"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["doc_no"], common::id_number(1));
    let collector = app.as_new("collector-3", Role::Collector, "S01").await;
    assert_eq!(
        collector
            .get(&format!("/api/v1/persons/{id}/unmasked"))
            .await
            .status,
        403
    );
    // The person's audit entries of one action.
    let entries = |action: &'static str| {
        let (app, id) = (app.clone(), id.clone());
        async move {
            let history = app.get(&format!("/api/v1/audit?entity=person:{id}")).await;
            let found: Vec<serde_json::Value> = history
                .body
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["action"] == action)
                .cloned()
                .collect();
            (found, history)
        }
    };
    let (views, history) = entries("person.view_unmasked").await;
    assert_eq!(views.len(), 1, "{history:?}");
    assert_eq!(views[0]["actor"], "reviewer-1");
    // Another lab's reviewer: no such person — and the attempt is on record.
    assert_eq!(
        app.post("/api/v1/labs", common::lab("LAB-B")).await.status,
        201
    );
    let outsider = app.as_new("reviewer-b", Role::LabReviewer, "LAB-B").await;
    let r = outsider
        .get(&format!("/api/v1/persons/{id}/unmasked"))
        .await;
    assert_eq!((r.status, r.code()), (404, "person.not_found"), "{r:?}");
    assert!(!r.body.to_string().contains(&common::id_number(1)), "{r:?}");
    let (refused, history) = entries("person.view_unmasked_refused").await;
    assert_eq!(refused.len(), 1, "{history:?}");
    assert_eq!(refused[0]["actor"], "reviewer-b");
    // Rejecting the pool: one parent entry, one child per re-sampling order.
    let tech = app.as_new("tech-2", Role::LabTechnician, "LAB-A").await;
    let r = tech
        .post(
            "/api/v1/tubes/P-1/reject",
            json!({"reason": "leaking_or_broken"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let parent = entry_id(&app, "tube.reject").await;
    let (children,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE parent_id = $1 AND action = 'order.resample'",
    )
    .bind(parent)
    .fetch_one(app.store.reader())
    .await
    .unwrap();
    assert_eq!(children, 5);
    natlis::audit::seal(&app.store, chrono::Duration::zero())
        .await
        .unwrap();
    assert_eq!(verify(&app).await.problem, None);
}

/// `natlis user add` creates a user bound to its scope and prints a token that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_adds_users_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let natlis = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_natlis"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("DATABASE_URL")
            .env_remove("NATLIS_USER_PASSWORD")
            .output()
            .unwrap()
    };
    // A collector needs a site: refused, and it says why.
    let out = natlis(&["user", "add", "--username", "li", "--role", "collector"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bound to exactly one site"),
        "{out:?}"
    );
    let out = natlis(&["user", "add", "--username", "audit-1", "--role", "auditor"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once): "))
        .expect("a token line")
        .to_string();
    let location = natlis::store::Location::SqliteDir(dir.path().to_path_buf());
    let store = natlis::store::Store::connect(&location, natlis::store::SqliteSync::Normal)
        .await
        .unwrap();
    let mut conn = store.reader().acquire().await.unwrap();
    let actor =
        natlis::auth::authenticate(&mut conn, &token, chrono::Utc::now().timestamp_micros())
            .await
            .unwrap()
            .expect("the printed token authenticates");
    assert_eq!(
        (actor.username.as_str(), actor.role),
        ("audit-1", Role::Auditor)
    );
}

/// The first start of a service (output not a terminal) never prints the administrator's
/// password and token: they go to a file only its owner can read, and only its path is shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_hands_over_the_admin_credentials_in_an_owner_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natlis"))
        .args(["demo", "--data-dir"])
        .arg(dir.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("natlis-first-admin-")
        })
        .expect("a credentials file in the data directory");
    let text = std::fs::read_to_string(&file).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token:"))
        .expect("a token line")
        .trim()
        .to_string();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !printed.contains(&token),
        "the token was printed: {printed}"
    );
    assert!(printed.contains("natlis-first-admin-"), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let location = natlis::store::Location::SqliteDir(dir.path().to_path_buf());
    let store = natlis::store::Store::connect(&location, natlis::store::SqliteSync::Normal)
        .await
        .unwrap();
    let mut conn = store.reader().acquire().await.unwrap();
    let actor =
        natlis::auth::authenticate(&mut conn, &token, chrono::Utc::now().timestamp_micros())
            .await
            .unwrap();
    assert_eq!(actor.map(|a| a.username), Some("admin".to_string()));
}
