//! Where the data lives: the database arguments every command shares, and opening the store
//! (migrations, the audit key kept outside the database, the shipped kits).

use clap::Args;
use natlis::store::{Location, SqliteSync, Store};
use std::path::PathBuf;

/// Where the data lives.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Directory for the embedded SQLite database (used when no database URL is given).
    #[arg(long, default_value = "./natlis-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL (or SQLite) URL: `postgres://user:pass@host/db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// SQLite durability: `normal` survives a killed process, `full` also a power cut.
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
    /// Where a first start that is not at a terminal leaves the administrator's credentials
    /// (default: the data directory; with a database URL, the working directory).
    #[arg(long, env = "NATLIS_FIRST_ADMIN_DIR")]
    pub first_admin_dir: Option<PathBuf>,
    /// The audit key file (made, owner-only, if missing), kept outside the database; every
    /// node of one database needs the same. Default: beside the data directory
    /// (`natlis-data.audit-key`); with a database URL, `natlis-audit.key` in the
    /// first-admin directory (the working directory unless given).
    #[arg(long, env = "NATLIS_AUDIT_KEY_FILE")]
    pub audit_key: Option<PathBuf>,
}

impl DbArgs {
    /// Where a first start's credentials file goes.
    pub fn credentials_dir(&self) -> &std::path::Path {
        match (&self.first_admin_dir, &self.database_url) {
            (Some(dir), _) => dir,
            (None, None) => &self.data_dir,
            (None, Some(_)) => std::path::Path::new("."),
        }
    }

    /// Where the audit key is kept.
    pub fn audit_key_path(&self) -> PathBuf {
        if let Some(p) = &self.audit_key {
            return p.clone();
        }
        match &self.database_url {
            Some(_) => self.credentials_dir().join("natlis-audit.key"),
            None => {
                let mut p = self.data_dir.clone().into_os_string();
                p.push(".audit-key");
                PathBuf::from(p)
            }
        }
    }

    pub fn location(&self) -> Location {
        match &self.database_url {
            Some(url) => Location::Url(url.clone()),
            None => Location::SqliteDir(self.data_dir.clone()),
        }
    }

    pub async fn open(&self) -> anyhow::Result<Store> {
        let store = Store::connect(&self.location(), self.sqlite_sync).await?;
        store.migrate().await?;
        let path = self.audit_key_path();
        let (key, created) = natlis::audit_key::AuditKey::load_or_create(&path)?;
        if created {
            // A node without the key file of a keyed database must not key on with its own.
            let signed: Option<(Option<String>,)> = sqlx::query_as(
                "SELECT key_id FROM audit_seal WHERE signature IS NOT NULL ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(store.reader())
            .await?;
            if let Some((id,)) = signed {
                let _ = std::fs::remove_file(&path);
                anyhow::bail!(
                    "this database's audit trail is signed with audit key {}, and {} did not exist: copy that key file here from another node (or give it with --audit-key)",
                    id.unwrap_or_default(),
                    path.display()
                );
            }
            // A trail from before the key: sealed and verified, then signed as such.
            match natlis::audit::adopt(&store, &key).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    seals = n,
                    "the new audit key signed the seals made before it"
                ),
                Err(e) => tracing::error!(error = %e, "the new audit key signed nothing"),
            }
            tracing::info!(key = %path.display(), id = %key.id, "audit key created: keep a copy apart from the database's backups");
        }
        store.set_audit_key(key)?;
        natlis::service::kits::install_shipped(&store)
            .await
            .map_err(|e| anyhow::anyhow!("installing the shipped kits: {e}"))?;
        Ok(store)
    }
}
