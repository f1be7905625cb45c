//! 试剂盒 kits as versioned data: an admin adds a kit or a new version of one; versions are
//! never changed afterwards, and every plate and call names the version it used.

use crate::actor::Actor;
use crate::domain::kit::Kit;
use crate::domain::policy::Action;
use crate::error::Error;
use crate::store::kit::{self as store, KitRow};
use crate::store::time::to_db;
use crate::store::{Store, Tx};
use crate::view::kit::StoredKit;
use sqlx::AnyConnection;

impl KitRow {
    /// The kit version with its rules decoded (a stored rule set that does not read is an
    /// error, never a default).
    fn stored(&self) -> Result<StoredKit, Error> {
        Ok(StoredKit {
            kit: self.kit()?,
            active: self.active != 0,
            created_at: self.created_at,
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
pub async fn create(tx: &mut Tx, mut kit: Kit) -> Result<StoredKit, Error> {
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
        .stored()
}

/// Every kit version, by code, newest version first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(conn: &mut AnyConnection, actor: &Actor) -> Result<Vec<StoredKit>, Error> {
    actor.require(Action::ViewKits)?;
    let rows = store::all(conn).await?;
    rows.iter().map(KitRow::stored).collect()
}

/// One kit version (`None`: the newest).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    version: Option<u32>,
) -> Result<StoredKit, Error> {
    actor.require(Action::ViewKits)?;
    load(conn, code, version).await?.stored()
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
