//! 试剂盒 kits as versioned data: an admin adds a kit or a new version of one; versions are
//! never changed afterwards, and every plate and call names the version it used.

use crate::actor::Actor;
use crate::domain::kit::Kit;
use crate::domain::policy::Action;
use crate::error::Error;
use crate::store::kit::{self as store, KitRow};
use crate::store::time::{show, to_db};
use crate::store::{Store, Tx};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// A stored kit version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KitVersion {
    #[serde(flatten)]
    pub kit: Kit,
    /// Plates may be created with it (the newest version of a code is the default).
    pub active: bool,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
}

impl KitRow {
    fn view(&self, tz: FixedOffset) -> Result<KitVersion, Error> {
        Ok(KitVersion {
            kit: self.kit()?,
            active: self.active != 0,
            created_at: show(self.created_at, tz),
            created_by: self.created_by.clone(),
        })
    }
}

/// Installs version 1 of each shipped kit that is not there yet (at every start; idempotent).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn install_shipped(store: &Store) -> Result<(), Error> {
    store
        .execute(
            &Actor::system(),
            crate::store::change(|tx| {
                Box::pin(async move {
                    for kit in Kit::shipped() {
                        let exists = store::by_code(tx.conn(), &kit.code, Some(1)).await?;
                        if exists.is_none() {
                            insert(tx, &kit, "kit.install").await?;
                        }
                    }
                    Ok(())
                })
            }),
        )
        .await
}

async fn insert(tx: &mut Tx, kit: &Kit, action: &str) -> Result<(), Error> {
    let rules = serde_json::to_string(kit).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
    let by = tx.actor().username.clone();
    let at = to_db(tx.now());
    store::insert(tx, kit, &rules, at, &by).await.map_err(|e| {
        if crate::store::is_unique_violation(&e) {
            Error::conflict(
                "kit.version_taken",
                format!(
                    "kit {} version {} was added at the same time",
                    kit.code, kit.version
                ),
            )
        } else {
            e.into()
        }
    })?;
    tx.audit(
        action,
        "kit",
        &format!("{}@{}", kit.code, kit.version),
        None,
        Some(&super::snapshot(kit)),
    );
    Ok(())
}

/// Adds a kit, or a new version of an existing code (the version is one more than the newest).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(tx: &mut Tx, mut kit: Kit, tz: FixedOffset) -> Result<KitVersion, Error> {
    tx.actor().require(Action::ManageKits)?;
    kit.code = kit.code.trim().to_ascii_uppercase();
    kit.name = kit.name.trim().to_string();
    kit.validate()
        .map_err(|e| Error::invalid(&e.field, e.problem.clone()).at(&e.field))?;
    let newest = store::newest_version(tx.conn(), &kit.code).await?;
    kit.version = newest.unwrap_or(0) as u32 + 1;
    insert(tx, &kit, "kit.create").await?;
    load(tx.conn(), &kit.code, Some(kit.version))
        .await?
        .view(tz)
}

/// Every kit version, by code, newest version first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    tz: FixedOffset,
) -> Result<Vec<KitVersion>, Error> {
    actor.require(Action::ViewKits)?;
    let rows = store::all(conn).await?;
    rows.iter().map(|r| r.view(tz)).collect()
}

/// One kit version (`None`: the newest).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    version: Option<u32>,
    tz: FixedOffset,
) -> Result<KitVersion, Error> {
    actor.require(Action::ViewKits)?;
    load(conn, code, version).await?.view(tz)
}

/// A kit version by code (`None`: the newest active one).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn load(
    conn: &mut AnyConnection,
    code: &str,
    version: Option<u32>,
) -> Result<KitRow, Error> {
    let code = code.trim().to_ascii_uppercase();
    let row = store::by_code(conn, &code, version).await?;
    row.ok_or_else(|| {
        Error::not_found(
            "kit.not_found",
            match version {
                Some(v) => format!("no kit {code} version {v}"),
                None => format!("no kit with code {code}"),
            },
        )
        .at("kit")
    })
}

/// A kit version by its row id.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn load_by_id(conn: &mut AnyConnection, id: i64) -> Result<Kit, Error> {
    store::by_id(conn, id).await?.kit()
}
