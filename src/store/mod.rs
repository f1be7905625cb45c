//! Storage on embedded SQLite (default) or PostgreSQL. Every query is written once, in SQL both
//! accept (`$1` placeholders, `RETURNING`, `ON CONFLICT`); the few real differences between the
//! two live in [`dialect`].
//!
//! Rows and queries live here, table by table ([`person`], [`tube`], [`plate`], [`attempt`],
//! [`result`], [`outbox`], …): each row type with its columns and use-case-sized functions that
//! load, lock, insert and update it. Vocabularies are bound and read as their codes
//! ([`code`]); a stored code natlis does not know fails the read, naming table, column and value.

pub mod account;
pub mod accreditation;
pub mod attempt;
pub mod audit_log;
pub mod barcode_batch;
pub mod booking;
pub mod certificate;
pub mod code;
pub mod cohort;
pub mod collection_point;
pub mod delivery;
pub mod dialect;
pub mod enrolment;
pub mod entry_hash;
pub mod environment;
pub mod idempotency;
pub mod kit;
pub mod membership;
pub mod outbox;
pub mod person;
pub mod plate;
pub mod programme;
pub mod registry;
pub mod result;
pub mod result_import;
pub mod rollup;
pub mod sample_order;
pub mod session;
pub mod setting;
pub mod time;
pub mod timeline;
pub mod tube;
pub mod turnaround_marks;
pub mod tx;
pub mod writer;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub use dialect::Backend;
pub use tx::Tx;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Where the data lives.
#[derive(Clone)]
pub enum Location {
    /// A SQLite database file `natlis.db` in this directory.
    SqliteDir(std::path::PathBuf),
    /// A database URL: `postgres://…` or `sqlite://…`.
    Url(String),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SqliteDir(d) => write!(f, "SqliteDir({})", d.display()),
            Self::Url(u) => write!(f, "Url({})", redact(u)),
        }
    }
}

/// `1, 2, 3` for an `IN (…)` of ids (integers, so written into the statement).
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A URL with its password replaced, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Durability of SQLite commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SqliteSync {
    /// WAL + synchronous=NORMAL: a commit survives a killed process (the OS has it); a power
    /// cut may lose the last commits.
    Normal,
    /// WAL + synchronous=FULL: a commit is on disk before it is acknowledged.
    Full,
}

/// The connection pools. On SQLite, writers share one connection (SQLite has one writer at a
/// time; one connection avoids lock contention and busy-waiting) and readers have their own
/// pool; on PostgreSQL both are the same pool.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    write: AnyPool,
    read: AnyPool,
    /// SQLite's group-commit writer task (see [`writer`]); none on PostgreSQL.
    writer: Option<writer::Writer>,
    /// The key of the audit trail (set once, after connecting; shared by every clone, the
    /// writer task's too).
    audit_key: std::sync::Arc<std::sync::OnceLock<crate::audit_key::AuditKey>>,
    /// The lab's time zone, for what a transaction writes in words (set once by the app;
    /// shared by every clone; UTC until then).
    zone: std::sync::Arc<std::sync::OnceLock<chrono::FixedOffset>>,
}

impl Store {
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn connect(location: &Location, sync: SqliteSync) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = match location {
            Location::SqliteDir(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating data directory {}", dir.display()))?;
                sqlite_url(&dir.join("natlis.db"))
            }
            Location::Url(u) => u.clone(),
        };
        let backend = Backend::from_url(&url)?;
        let opts = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("parsing database URL {}", redact(&url)))?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let store = match backend {
            Backend::Sqlite => {
                let pragmas = dialect::sqlite_pragmas(sync);
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(pragmas).await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts.clone())
                    .await
                    .with_context(|| format!("opening {}", redact(&url)))?;
                // WAL is a property of the file: set it once through the writer.
                sqlx::raw_sql("PRAGMA journal_mode = WAL")
                    .execute(&write)
                    .await?;
                let read = AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(move |conn, _| {
                        Box::pin(async move {
                            conn.execute(pragmas).await?;
                            Ok(())
                        })
                    })
                    .connect_with(opts)
                    .await?;
                let mut store = Self {
                    backend,
                    write,
                    read,
                    writer: None,
                    audit_key: Default::default(),
                    zone: Default::default(),
                };
                store.writer = Some(writer::Writer::start(store.clone()));
                store
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .with_context(|| format!("connecting to {}", redact(&url)))?;
                Self {
                    audit_key: Default::default(),
                    zone: Default::default(),
                    backend,
                    write: pool.clone(),
                    read: pool,
                    writer: None,
                }
            }
        };
        Ok(store)
    }

    /// Applies pending migrations. Safe to run from several nodes at once (PostgreSQL takes an
    /// advisory lock; SQLite has one writer).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        // SQLite answers "database is locked" at once, without waiting, when a transaction that
        // read must start writing while another process writes (the migrator reads its table,
        // then writes): a second process starting beside a busy one tries again.
        let mut tries = 0;
        loop {
            match migrator.run(&self.write).await {
                Err(e)
                    if self.backend == Backend::Sqlite
                        && e.to_string().contains("database is locked")
                        && tries < 50 =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                other => return other.context("applying migrations"),
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Keys the audit trail from now on: entries' hashes and seals become MACs under `key`.
    /// Set once; a second key is refused.
    pub fn set_audit_key(&self, key: crate::audit_key::AuditKey) -> anyhow::Result<()> {
        self.audit_key
            .set(key)
            .map_err(|_| anyhow::anyhow!("the audit key is set already"))
    }

    pub fn audit_key(&self) -> Option<&crate::audit_key::AuditKey> {
        self.audit_key.get()
    }

    /// Sets the lab's time zone once; later calls keep the first.
    pub fn set_zone(&self, tz: chrono::FixedOffset) {
        let _ = self.zone.set(tz);
    }

    /// The lab's time zone (UTC until [`Store::set_zone`]).
    pub fn zone(&self) -> chrono::FixedOffset {
        self.zone
            .get()
            .copied()
            .unwrap_or(chrono::FixedOffset::east_opt(0).expect("UTC"))
    }

    /// The pool for reads that need no transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool writes go through (one connection on SQLite).
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE` on SQLite) acting for `actor`.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn begin(&self, actor: &crate::actor::Actor) -> Result<Tx, sqlx::Error> {
        let inner = self.write.begin_with(self.backend.begin_write()).await?;
        Ok(Tx::new(
            inner,
            self.backend,
            actor.clone(),
            self.audit_key().cloned(),
            self.zone(),
        ))
    }

    /// Runs a re-runnable state change in a write transaction and commits it: on SQLite through
    /// the group-commit writer, on PostgreSQL in a transaction of its own.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn execute<T, F>(
        &self,
        actor: &crate::actor::Actor,
        change: F,
    ) -> Result<T, crate::error::Error>
    where
        T: Send + 'static,
        F: for<'t> Fn(&'t mut Tx) -> futures::future::BoxFuture<'t, Result<T, crate::error::Error>>
            + Send
            + Sync
            + 'static,
    {
        match &self.writer {
            Some(w) => {
                let change: writer::Change = std::sync::Arc::new(move |tx| {
                    let fut = change(tx);
                    Box::pin(async move { fut.await.map(|t| Box::new(t) as writer::Output) })
                });
                let out = w.submit(actor, change).await?;
                out.downcast::<T>().map(|b| *b).map_err(|_| {
                    crate::error::Error::internal(anyhow::anyhow!("writer returned another type"))
                })
            }
            None => {
                let mut tx = self.begin(actor).await?;
                let out = change(&mut tx).await?;
                tx.commit().await?;
                Ok(out)
            }
        }
    }

    /// Whether the database answers.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.read).await.is_ok()
    }

    pub fn is_closed(&self) -> bool {
        self.write.is_closed()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Gives a closure the signature of a state change (a higher-ranked one that closure
/// inference cannot find by itself).
pub fn change<T, F>(f: F) -> F
where
    F: for<'t> Fn(&'t mut Tx) -> futures::future::BoxFuture<'t, Result<T, crate::error::Error>>,
{
    f
}

/// Whether an error is a unique-constraint violation (a duplicate the database refused).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact("postgres://natlis:s3cret@db:5432/natlis"),
            "postgres://natlis:***@db:5432/natlis"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }
}
