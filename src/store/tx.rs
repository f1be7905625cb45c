//! A write transaction that knows who is acting. Every state change goes through one, and
//! writes its audit entry through [`Tx::audit`] before the transaction commits: if the entry
//! cannot be written, the change fails with it.

use super::Backend;
use crate::actor::Actor;
use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, Transaction};

pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    actor: Actor,
    now: DateTime<Utc>,
}

impl Tx {
    pub(super) fn new(inner: Transaction<'static, Any>, backend: Backend, actor: Actor) -> Self {
        Self {
            inner,
            backend,
            actor,
            now: Utc::now(),
        }
    }

    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The time of this transaction: every row it writes carries the same instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The row-lock clause for this backend (see [`Backend::for_update`]).
    pub fn for_update(&self, alias: &str) -> String {
        self.backend.for_update(alias)
    }

    /// Records a state change in the audit trail, in this transaction.
    pub async fn audit(
        &mut self,
        action: &str,
        entity_type: &str,
        entity_id: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(super::time::to_db(self.now))
        .bind(self.actor.username.clone())
        .bind(action)
        .bind(entity_type)
        .bind(entity_id)
        .bind(before.map(|v| v.to_string()))
        .bind(after.map(|v| v.to_string()))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await
    }
}
