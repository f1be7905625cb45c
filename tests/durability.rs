//! Nothing acknowledged to a client is lost when the `natlis serve` process is killed
//! (SIGKILL, no shutdown): the real binary, on SQLite and on PostgreSQL.

mod common;

use common::{person, Db};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// SIGKILL: the process gets no chance to flush or shut down.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(args: &[String]) -> Server {
    let port = free_port();
    let logs = common::log_dir();
    std::fs::create_dir_all(&logs).unwrap();
    let log = std::fs::File::create(logs.join(format!("natlis-serve-{port}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_natlis"))
        .arg("serve")
        .arg("--addr")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("NATLIS_ADMIN_PASSWORD", "durable-admin-pw")
        // The first start's credentials file goes with the test, not into the repository.
        .env("NATLIS_FIRST_ADMIN_DIR", &logs)
        .env("NATLIS_LOG", "info,natlis=trace,sqlx=trace")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting natlis serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
            if r.status().is_success() {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("natlis serve did not become ready");
}

async fn survives_kill(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = match db {
        Db::Sqlite => vec!["--data-dir".into(), dir.path().display().to_string()],
        Db::Postgres => vec!["--database-url".into(), common::fresh_pg_database().await],
    };
    let mut server = start(&args).await;
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{}/api/v1/login", server.base))
        .json(&json!({"username": "admin", "password": "durable-admin-pw"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"]
        .as_str()
        .expect("login answers a token")
        .to_string();
    let post = |base: String, path: &'static str, body: serde_json::Value| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    assert_eq!(
        post(server.base.clone(), "/api/v1/labs", common::lab("LAB-A")).await,
        201
    );
    assert_eq!(
        post(
            server.base.clone(),
            "/api/v1/sites",
            json!({"code": "S01", "name": "n", "address": "a", "region": "110108", "lab": "LAB-A"})
        )
        .await,
        201
    );
    // Scans in flight while the process dies: whatever was acknowledged must be there after.
    // The kill comes as soon as the first scan is acknowledged, however slow the machine is,
    // so the rest are still in flight.
    let acked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..300u32)
        .map(|i| {
            let body = json!({"barcode": format!("K{i:05}"), "kind": "single", "sample_type": "oropharyngeal",
                              "site": "S01", "category": "outpatient", "people": [person(i)]});
            let fut = post(server.base.clone(), "/api/v1/tubes", body);
            let acked = acked.clone();
            tokio::spawn(async move {
                let status = fut.await;
                if status == 201 {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                (i, status)
            })
        })
        .collect();
    for _ in 0..12_000 {
        if acked.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let mut acknowledged = vec![];
    for t in tasks {
        let (i, status) = t.await.unwrap();
        if status == 201 {
            acknowledged.push(i);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "no scan was acknowledged before the kill"
    );
    let server = start(&args).await;
    for i in &acknowledged {
        let r = client
            .get(format!("{}/api/v1/tubes/K{i:05}", server.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged tube K{i:05} was lost");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_acknowledged_scans_survive_a_killed_process() {
    survives_kill(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_acknowledged_scans_survive_a_killed_process() {
    survives_kill(Db::Postgres).await;
}
