//! The audit trail: each change's history, sealed in hash-chained batches; altering, deleting or
//! forging an entry is detected and the first bad entry named — through the library, the API
//! and `natlis audit verify`. On both databases.

mod common;

use common::{person, Db, TestApp};
use natlis::domain::policy::Role;
use serde_json::json;

on_both_databases!(
    history_of_a_tube_names_who_did_what,
    an_altered_entry_is_named,
    a_deleted_entry_is_named,
    a_forged_entry_is_named,
    a_removed_seal_breaks_the_chain,
    a_chain_rewritten_without_the_key_is_found,
    an_unsealed_entry_changed_with_its_hash_is_named,
    cutting_the_tail_off_is_found,
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
    natlis::audit::verify(&mut conn, app.store.audit_key(), None)
        .await
        .unwrap()
}

async fn entry_id(app: &TestApp, action: &str) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.store.reader())
        .await
        .unwrap();
    id
}

/// An entry as stored.
async fn entry_row(app: &TestApp, id: i64) -> natlis::audit::EntryRow {
    sqlx::query_as(
        "SELECT id, at, actor, action, entity_type, entity_id, before, after, parent_id, seal_id \
         FROM audit_log WHERE id = $1",
    )
    .bind(id)
    .fetch_one(app.store.reader())
    .await
    .unwrap()
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

/// Someone who can write to the database but has not the key file changes an entry, hashes it
/// as natlis would without a key, and rewrites the seal over it consistently: the seal is not
/// signed by the key, and verify says so (before signing, this passed).
async fn a_chain_rewritten_without_the_key_is_found(db: Db) {
    let app = sealed_app(db).await;
    assert!(verify(&app).await.problem.is_none());
    let id = entry_id(&app, "tube.receive").await;
    exec(
        &app,
        &format!("UPDATE audit_log SET after = '{{\"status\":\"rejected\"}}' WHERE id = {id}"),
    )
    .await;
    let row = entry_row(&app, id).await;
    let (seal, sealed_at, hashes, prev): (i64, i64, String, String) =
        sqlx::query_as("SELECT id, sealed_at, hashes, prev_hash FROM audit_seal WHERE id = $1")
            .bind(row.seal_id.unwrap())
            .fetch_one(app.store.reader())
            .await
            .unwrap();
    let mut listed: Vec<(i64, String)> = serde_json::from_str(&hashes).unwrap();
    for (e, h) in &mut listed {
        if *e == id {
            *h = natlis::audit::entry_hash(&row);
        }
    }
    let hashes = serde_json::to_string(&listed).unwrap();
    let hash = natlis::audit::seal_hash(&prev, sealed_at, &hashes);
    sqlx::query("UPDATE audit_seal SET hashes = $1, hash = $2 WHERE id = $3")
        .bind(hashes)
        .bind(hash)
        .bind(seal)
        .execute(app.store.writer())
        .await
        .unwrap();
    let report = verify(&app).await;
    assert!(
        report
            .problem
            .as_deref()
            .unwrap_or("")
            .contains(&format!("seal {seal} is not signed by the audit key")),
        "{report:?}"
    );
    // Signed, but over the old hash: the same.
    exec(&app, "UPDATE audit_seal SET signature = NULL").await;
    assert!(verify(&app).await.problem.is_some());
}

/// An entry not sealed yet, changed together with its hash (as natlis would hash it without
/// a key): its keyed hash no longer matches, and verify names it.
async fn an_unsealed_entry_changed_with_its_hash_is_named(db: Db) {
    let app = sealed_app(db).await;
    assert_eq!(app.post("/api/v1/persons", person(78)).await.status, 201);
    let id = entry_id(&app, "person.issue_code").await;
    let report = verify(&app).await;
    assert!(
        report.problem.is_none() && report.unsealed_entries > 0,
        "{report:?}"
    );
    exec(
        &app,
        &format!("UPDATE audit_log SET actor = 'nobody' WHERE id = {id}"),
    )
    .await;
    let row = entry_row(&app, id).await;
    sqlx::query("UPDATE audit_log SET hash = $1 WHERE id = $2")
        .bind(natlis::audit::entry_hash(&row))
        .bind(id)
        .execute(app.store.writer())
        .await
        .unwrap();
    let report = verify(&app).await;
    assert_eq!(report.first_bad_entry, Some(id), "{report:?}");
    assert!(report.problem.unwrap().contains("not sealed yet"));
}

/// The newest seals deleted with their entries leave a chain that is consistent in itself:
/// the anchor outside the database (and a seal noted in a logbook) show the cut.
async fn cutting_the_tail_off_is_found(db: Db) {
    let app = sealed_app(db).await;
    assert_eq!(app.post("/api/v1/persons", person(79)).await.status, 201);
    let second = natlis::audit::seal(&app.store, chrono::Duration::zero())
        .await
        .unwrap()
        .expect("a second seal");
    let report = verify(&app).await;
    assert_eq!(report.problem, None, "{report:?}");
    assert_eq!(
        (report.last_seal, report.anchor.as_ref().map(|a| a.seal)),
        (Some(second.seal), Some(second.seal))
    );
    exec(
        &app,
        &format!("DELETE FROM audit_log WHERE seal_id = {}", second.seal),
    )
    .await;
    exec(
        &app,
        &format!("DELETE FROM audit_seal WHERE id = {}", second.seal),
    )
    .await;
    let report = verify(&app).await;
    assert!(
        report
            .problem
            .as_deref()
            .unwrap_or("")
            .contains(&format!("the trail was cut: seal {}", second.seal)),
        "{report:?}"
    );
    // The same from a seal noted in a logbook (`verify --expect`).
    let mut conn = app.store.reader().acquire().await.unwrap();
    let noted = natlis::audit_key::Anchor {
        seal: second.seal,
        hash: second.hash.clone(),
    };
    let report = natlis::audit::verify(&mut conn, app.store.audit_key(), Some(&noted))
        .await
        .unwrap();
    assert!(
        report.problem.as_deref().unwrap_or("").contains("cut"),
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
