//! The test harness: the real app on a real database, over real HTTP on a random port.
//! Every scenario runs twice — on a fresh SQLite file and on a fresh PostgreSQL database in the
//! cluster `scripts/test.sh` starts (`NATLIS_TEST_PG_URL`).
#![allow(dead_code)]

pub mod browser;
pub mod fhir;
pub mod lab;
pub mod receiver;

use natlis::domain::policy::Role;
use natlis::store::{Location, SqliteSync, Store};
use natlis::AppState;
use serde_json::{json, Value};
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each scenario `async fn name(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::common::Db::Postgres).await })*
        }
    };
}

#[derive(Clone)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub store: Store,
    pub location: Location,
    pub client: reqwest::Client,
    /// The user requests are sent as (an administrator named `tester` unless changed).
    pub user: String,
    pub token: String,
    _dir: Option<std::sync::Arc<tempfile::TempDir>>,
    /// The audit key's folder (the key and this node's anchor).
    _key_dir: std::sync::Arc<tempfile::TempDir>,
}

/// The API document, for checking the suite's answers against it: every answer's status, its
/// content type, and a JSON body against the schema documented for that status.
pub mod openapi {
    use serde_json::Value;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};

    /// Compiled response schemas of one operation, by documented status.
    type Validators = HashMap<String, Arc<jsonschema::Validator>>;

    /// One operation of the document.
    struct Operation {
        method: String,
        /// The path template's segments (`{plate}` matches any segment).
        segments: Vec<String>,
        /// Documented status (or `default`) → its response object.
        responses: serde_json::Map<String, Value>,
        /// The JSON schemas of `responses` compiled so far.
        validators: Mutex<Validators>,
    }

    struct Document {
        operations: Vec<Operation>,
        /// `components`, so that a response schema's `#/components/schemas/…` resolves.
        components: Value,
    }

    fn document() -> &'static Document {
        static DOC: OnceLock<Document> = OnceLock::new();
        DOC.get_or_init(|| {
            let doc: Value = serde_json::from_str(&natlis::api::openapi_json()).unwrap();
            let mut operations = vec![];
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let Some(responses) = op["responses"].as_object() else {
                        continue;
                    };
                    operations.push(Operation {
                        method: method.to_uppercase(),
                        segments: path.split('/').map(String::from).collect(),
                        responses: responses.clone(),
                        validators: Mutex::default(),
                    });
                }
            }
            Document {
                operations,
                components: doc["components"].clone(),
            }
        })
    }

    /// The operation a request reaches, if the document has it (the most literal template
    /// wins: `/plates/{plate}/fill` over `/plates/{plate}/{x}`).
    fn operation(method: &str, path: &str) -> Option<&'static Operation> {
        let segments: Vec<&str> = path.split('/').collect();
        document()
            .operations
            .iter()
            .filter(|op| {
                op.method == method
                    && op.segments.len() == segments.len()
                    && op
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .max_by_key(|op| op.segments.iter().filter(|s| !s.starts_with('{')).count())
    }

    /// The statuses documented for the operation a request reaches, if the document has it.
    pub fn statuses(method: &str, path: &str) -> Option<Vec<String>> {
        operation(method, path).map(|op| op.responses.keys().cloned().collect())
    }

    impl Operation {
        /// The compiled schema of the response documented for `status`, compiled once.
        fn validator(&self, status: &str, schema: &Value) -> Arc<jsonschema::Validator> {
            let mut compiled = self.validators.lock().unwrap();
            compiled
                .entry(status.to_string())
                .or_insert_with(|| {
                    let mut root = schema.clone();
                    if let Some(obj) = root.as_object_mut() {
                        obj.insert("components".into(), document().components.clone());
                    }
                    Arc::new(jsonschema::draft202012::new(&root).unwrap_or_else(|e| {
                        panic!("the API document's schema for {status} does not compile: {e}")
                    }))
                })
                .clone()
        }
    }

    /// Checks one answer against the document: its status is documented for the operation,
    /// its content type is one documented for that status, and a JSON body is valid under the
    /// schema documented for it. `Err` says what differs.
    pub fn check(
        method: &str,
        path: &str,
        status: u16,
        content_type: Option<&str>,
        body: &Value,
    ) -> Result<(), String> {
        let Some(op) = operation(method, path) else {
            return Ok(());
        };
        let code = status.to_string();
        let Some((documented, response)) = op
            .responses
            .get_key_value(&code)
            .or_else(|| op.responses.get_key_value("default"))
        else {
            return Err(format!(
                "{method} {path} answered {status}, which the API document does not list for it ({:?})",
                op.responses.keys().collect::<Vec<_>>()
            ));
        };
        let Some(content_type) = content_type else {
            return Ok(());
        };
        let media = content_type.split(';').next().unwrap_or("").trim();
        let Some(content) = response["content"].as_object() else {
            if status == 204 || media.is_empty() {
                return Ok(());
            }
            return Err(format!(
                "{method} {path} answered {status} with a {media} body; the document promises none"
            ));
        };
        let Some(entry) = content.get(media) else {
            return Err(format!(
                "{method} {path} answered {status} as {media}; the document lists {:?}",
                content.keys().collect::<Vec<_>>()
            ));
        };
        if media != "application/json" {
            return Ok(());
        }
        let Some(schema) = entry.get("schema") else {
            return Ok(());
        };
        let errors: Vec<String> = op
            .validator(documented, schema)
            .iter_errors(body)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{method} {path} answered {status} with a body the API document's schema refuses:\n  {}\nbody: {}",
                errors.join("\n  "),
                clip(body)
            ))
        }
    }

    fn clip(body: &Value) -> String {
        let text = body.to_string();
        match text.char_indices().nth(600) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text,
        }
    }
}

/// Where the tests' logs go; `scripts/test.sh` greps them for full ID numbers afterwards.
pub fn log_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-logs")
}

/// Sends this test binary's logs — everything natlis and sqlx log, down to every statement —
/// to a file of its own in [`log_dir`].
pub fn init_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = log_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_stem().unwrap().to_string_lossy().to_string();
        let file =
            std::fs::File::create(dir.join(format!("{name}-{}.log", std::process::id()))).unwrap();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,natlis=trace,sqlx=trace",
            ))
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .try_init();
    });
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The machine code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

/// A fresh, empty PostgreSQL database in the test cluster.
pub async fn fresh_pg_database() -> String {
    let base = std::env::var("NATLIS_TEST_PG_URL").expect(
        "NATLIS_TEST_PG_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    );
    sqlx::any::install_default_drivers();
    use sqlx::Connection;
    let mut conn = sqlx::AnyConnection::connect(&base)
        .await
        .expect("connecting to the test PostgreSQL");
    let name = format!("natlis_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    let cut = base.rfind('/').expect("URL has a database path");
    format!("{}/{name}", &base[..cut])
}

impl TestApp {
    pub async fn start(db: Db) -> Self {
        init_logs();
        let (location, dir) = match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                (Location::SqliteDir(dir.path().to_path_buf()), Some(dir))
            }
            Db::Postgres => (Location::Url(fresh_pg_database().await), None),
        };
        let key_dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let mut app = Self::serve(location, key_dir).await;
        app._dir = dir.map(std::sync::Arc::new);
        let admin = natlis::auth::NewUser {
            username: "tester".into(),
            role: Role::Admin,
            lab: None,
            site: None,
            institution: None,
            region: None,
            password: None,
        };
        app.token = app.create_user(admin).await;
        app
    }

    /// Creates a user and returns a token for it.
    pub async fn create_user(&self, user: natlis::auth::NewUser) -> String {
        let issued = self
            .store
            .execute(
                &natlis::actor::Actor::system(),
                natlis::store::change(move |tx| {
                    let user = user.clone();
                    Box::pin(async move {
                        let u = natlis::auth::add_user(tx, user).await?;
                        natlis::auth::issue_token(tx, &u.username, "test", None).await
                    })
                }),
            )
            .await
            .unwrap();
        issued.token
    }

    /// The same app with other credentials (empty: none).
    pub fn with_token(&self, token: &str) -> TestApp {
        TestApp {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// The same app, as a new user of `role` bound to `scope` (a lab, site, institution or
    /// region code as the role needs; empty for none).
    pub async fn as_new(&self, username: &str, role: Role, scope: &str) -> TestApp {
        let token = self
            .create_user(new_user(username, role, scope, None))
            .await;
        TestApp {
            user: username.into(),
            token,
            ..self.clone()
        }
    }

    /// Another app node on the same database (PostgreSQL: a second `natlis serve`).
    pub async fn another_node(&self) -> Self {
        // The same key (every node of a database has it), its own anchor file in one folder.
        let mut node = Self::serve(self.location.clone(), self._key_dir.clone()).await;
        node.token = self.token.clone();
        node
    }

    async fn serve(location: Location, key_dir: std::sync::Arc<tempfile::TempDir>) -> Self {
        let store = Store::connect(&location, SqliteSync::Normal).await.unwrap();
        let (key, _) =
            natlis::audit_key::AuditKey::load_or_create(&key_dir.path().join("audit.key")).unwrap();
        store.set_audit_key(key).unwrap();
        store.migrate().await.unwrap();
        natlis::service::kits::install_shipped(&store)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(
            store.clone(),
            chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        );
        tokio::spawn(natlis::launch(state, listener, std::future::pending()));
        Self {
            addr,
            store,
            location,
            client: reqwest::Client::new(),
            user: "tester".into(),
            token: String::new(),
            _dir: None,
            _key_dir: key_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with this app's token, unless the request brings its own credentials.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let mut request = req.build().unwrap();
        if !request.headers().contains_key("authorization") && !self.token.is_empty() {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {}", self.token).parse().unwrap(),
            );
        }
        let (method, path) = (
            request.method().to_string(),
            request.url().path().to_string(),
        );
        let resp = self.client.execute(request).await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        // Every answer of the suite is one the API document promises for the operation: its
        // status, its content type, and its body under the documented schema.
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        if let Err(why) = openapi::check(&method, &path, status, content_type, &body) {
            panic!("{why}");
        }
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    pub async fn post_keyed(&self, path: &str, key: &str, body: Value) -> Resp {
        self.send(
            self.client
                .post(self.url(path))
                .header("idempotency-key", key)
                .json(&body),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }

    /// One lab, two sites (S01: default rules; S02: pools of 10/20 only, issued barcodes only),
    /// one institution.
    pub async fn seed(&self) {
        let r = self.post("/api/v1/labs", lab("LAB-A")).await;
        assert_eq!(r.status, 201, "{r:?}");
        let r = self
            .post(
                "/api/v1/sites",
                json!({"code": "S01", "name": "中关村采样点", "address": "中关村大街1号", "region": "110108", "lab": "LAB-A"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let r = self
            .post(
                "/api/v1/sites",
                json!({"code": "S02", "name": "冷链仓库采样点", "address": "大兴区物流园", "region": "110115",
                       "lab": "LAB-A", "pool_sizes": [10, 20], "accepts_foreign_barcodes": false}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        let r = self
            .post(
                "/api/v1/institutions",
                json!({"code": "INST-1", "name": "第一人民医院", "kind": "hospital", "address": "北京市", "phone": "010-88888888"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
    }

    /// Opens a mass-screening pool of `size` at S01 and scans `people` into it, asserting
    /// every step went through.
    pub async fn filled_pool(
        &self,
        barcode: &str,
        size: u32,
        people: std::ops::RangeInclusive<u32>,
    ) {
        let r = self
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "pool", "pool_size": size, "sample_type": "oropharyngeal",
                       "site": "S01", "category": "mass_screening"}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        for i in people {
            let r = self
                .post(&format!("/api/v1/tubes/{barcode}/members"), person(i))
                .await;
            assert_eq!(r.status, 200, "{r:?}");
        }
    }

    /// Takes a single tube of person `n` at S01 in `category` and scans it in at LAB-A.
    pub async fn received_single(&self, barcode: &str, n: u32, category: &str) {
        let r = self
            .post(
                "/api/v1/tubes",
                json!({"barcode": barcode, "kind": "single", "sample_type": "oropharyngeal", "site": "S01",
                       "category": category, "people": [person(n)]}),
            )
            .await;
        assert_eq!(r.status, 201, "{r:?}");
        self.receive_at_lab_a(barcode).await;
    }

    /// A pool of `people` received at LAB-A and rejected there (leaking): each member's status
    /// becomes `needs_resampling`, one push message each.
    pub async fn rejected_pool(
        &self,
        barcode: &str,
        size: u32,
        people: std::ops::RangeInclusive<u32>,
    ) {
        self.filled_pool(barcode, size, people).await;
        self.receive_at_lab_a(barcode).await;
        self.reject_leaking(barcode).await;
    }

    /// Rejects a received tube at the lab as leaking: its people are to be re-sampled.
    pub async fn reject_leaking(&self, barcode: &str) {
        let r = self
            .post(
                &format!("/api/v1/tubes/{barcode}/reject"),
                json!({"reason": "leaking_or_broken"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    /// Swabs each of these people again, one single tube `S<n>` each at S01 (not yet received).
    pub async fn swabbed_singly(&self, people: std::ops::RangeInclusive<u32>) {
        for n in people {
            let r = self
                .post(
                    "/api/v1/tubes",
                    json!({"barcode": format!("S{n}"), "kind": "single", "sample_type": "oropharyngeal",
                           "site": "S01", "category": "mass_screening", "people": [person(n)]}),
                )
                .await;
            assert_eq!(r.status, 201, "{r:?}");
        }
    }

    /// Scans a tube in at LAB-A.
    pub async fn receive_at_lab_a(&self, barcode: &str) {
        let r = self
            .post(
                "/api/v1/reception",
                json!({"barcode": barcode, "lab": "LAB-A"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
    }

    /// Counts rows of a table (for checking that nothing was written).
    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(self.store.reader())
            .await
            .unwrap();
        n
    }
}

pub fn lab(code: &str) -> Value {
    json!({
        "code": code, "name": "海淀区疾控中心实验室", "licence_no": "PDY-2020-001",
        "accredited_until": "2027-06-30", "address": "北京市海淀区", "phone": "010-12345678",
        "opening_hours": "00:00-24:00", "price_single_cents": 4000, "price_pooled_cents": 1600,
        "daily_capacity": 50000, "region": "110108"
    })
}

/// The `n`th valid resident ID number (distinct for distinct `n` below 200,000).
pub fn id_number(n: u32) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
        + chrono::Days::new(u64::from(n % 20_000));
    let first17 = format!(
        "11010{}{}{:03}",
        n / 20_000 % 10,
        birth.format("%Y%m%d"),
        n % 1000
    );
    let arr: [u8; 17] = first17.as_bytes().try_into().unwrap();
    format!(
        "{first17}{}",
        natlis::domain::id_number::check_character(&arr)
    )
}

/// A new user of `role` bound to `scope` (a lab, site, institution or region code as the
/// role needs; empty for none), with a password or none.
pub fn new_user(
    username: &str,
    role: Role,
    scope: &str,
    password: Option<&str>,
) -> natlis::auth::NewUser {
    let s = |kind: &str| (role.scope_kind() == Some(kind)).then(|| scope.to_string());
    natlis::auth::NewUser {
        username: username.into(),
        role,
        lab: s("lab"),
        site: s("site"),
        institution: s("institution"),
        region: s("region"),
        password: password.map(String::from),
    }
}

/// A person scan by document.
pub fn person(n: u32) -> Value {
    json!({"doc_type": "resident_id", "doc_no": id_number(n), "name": format!("测试{n}"), "phone": format!("139{:08}", n)})
}

/// A real instrument export from `shared/instrument-exports`, beside the repository (or where
/// `NATLIS_SHARED_DIR` says). Panics, naming the path, when it is not there.
pub fn shared_file(path: &str) -> std::path::PathBuf {
    let shared = std::env::var("NATLIS_SHARED_DIR")
        .unwrap_or_else(|_| format!("{}/../shared", env!("CARGO_MANIFEST_DIR")));
    let full = std::path::PathBuf::from(format!("{shared}/instrument-exports/{path}"));
    assert!(
        full.exists(),
        "{} is missing (the repository's shared/ folder must sit beside it, or set NATLIS_SHARED_DIR)",
        full.display()
    );
    full
}
