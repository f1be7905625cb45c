//! A write transaction that knows who is acting. Every state change goes through one and
//! records its audit entries through [`Tx::audit`]; the entries are written in the same
//! transaction, in one statement just before it commits. If they cannot be written, the
//! transaction — and with it the change — fails.

use super::Backend;
use crate::actor::Actor;
use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, Transaction};

/// One audit entry waiting for its transaction to commit.
struct Entry {
    parent: Option<i64>,
    actor: String,
    action: String,
    entity_type: &'static str,
    entity_id: String,
    before: Option<String>,
    after: Option<String>,
}

pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
    actor: Actor,
    now: DateTime<Utc>,
    /// The lab's time zone, for refusals that name a time.
    zone: chrono::FixedOffset,
    audit: Vec<Entry>,
    /// The parent entry of the bulk operation under way, if any.
    bulk: Option<i64>,
    /// Entries' hashes are MACs under this key (see [`crate::audit_key`]).
    audit_key: Option<crate::audit_key::AuditKey>,
}

impl Tx {
    pub(super) fn new(
        inner: Transaction<'static, Any>,
        backend: Backend,
        actor: Actor,
        audit_key: Option<crate::audit_key::AuditKey>,
        zone: chrono::FixedOffset,
    ) -> Self {
        Self {
            inner,
            backend,
            actor,
            // Stored with microsecond precision: keep the same precision in memory.
            now: super::time::from_db(super::time::to_db(Utc::now())),
            audit: Vec::new(),
            bulk: None,
            audit_key,
            zone,
        }
    }

    /// The connection to run statements on.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The audit trail's key, if the store has one.
    pub fn audit_key(&self) -> Option<&crate::audit_key::AuditKey> {
        self.audit_key.as_ref()
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Continues the transaction on behalf of another actor (group commit runs the changes of
    /// several requests in one transaction; each is recorded under its own actor).
    pub(crate) fn act_for(&mut self, actor: Actor) {
        self.actor = actor;
    }

    /// The time of this transaction: every row it writes carries the same instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The lab's time zone: a refusal that describes another object (the tube a barcode is
    /// already bound to) shows its times as the lab reads them.
    pub fn zone(&self) -> chrono::FixedOffset {
        self.zone
    }

    /// Today's date in the lab's time zone.
    pub fn today(&self) -> chrono::NaiveDate {
        self.now.with_timezone(&self.zone).date_naive()
    }

    /// The row-lock clause for this backend (see [`Backend::for_update`]).
    pub fn for_update(&self, alias: &str) -> String {
        self.backend.for_update(alias)
    }

    /// Records a state change in the audit trail of this transaction: who (the actor), when
    /// (the transaction's time), what, and the state before and after.
    pub fn audit(
        &mut self,
        action: &str,
        entity_type: &'static str,
        entity_id: &str,
        before: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) {
        self.audit.push(Entry {
            parent: self.bulk,
            actor: self.actor.username.clone(),
            action: action.to_string(),
            entity_type,
            entity_id: entity_id.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        });
    }

    /// Starts a bulk operation: its one parent entry is written at once (its id is needed);
    /// every entry recorded until [`Tx::end_bulk`] is its child. A 10,000-row import is then one
    /// parent and 10,000 small children written in a few statements.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn begin_bulk(
        &mut self,
        action: &str,
        entity_type: &'static str,
        entity_id: &str,
        after: Option<&serde_json::Value>,
    ) -> Result<(), sqlx::Error> {
        let at = super::time::to_db(self.now);
        let after = after.map(|v| v.to_string());
        let hash = super::entry_hash::stored_hash(
            self.audit_key.as_ref(),
            &super::entry_hash::content_hash(
                at,
                &self.actor.username,
                action,
                entity_type,
                entity_id,
                None,
                after.as_deref(),
                None,
            ),
        );
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after, hash) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7) RETURNING id",
        )
        .bind(at)
        .bind(self.actor.username.clone())
        .bind(action)
        .bind(entity_type)
        .bind(entity_id)
        .bind(after)
        .bind(hash)
        .fetch_one(&mut *self.inner)
        .await?;
        self.bulk = Some(id);
        Ok(())
    }

    pub fn end_bulk(&mut self) {
        self.bulk = None;
    }

    async fn write_audit(&mut self) -> Result<(), sqlx::Error> {
        let entries = std::mem::take(&mut self.audit);
        let at = super::time::to_db(self.now);
        // 8 parameters a row (see Backend::rows_per_insert).
        for chunk in entries.chunks(self.backend.rows_per_insert(8)) {
            let mut sql = String::from(
                "INSERT INTO audit_log (at, actor, action, entity_type, entity_id, before, after, parent_id, hash) VALUES ",
            );
            // $1 is the transaction's time, shared by every row.
            for i in 0..chunk.len() {
                let p = 1 + i * 8;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8
                ));
            }
            let mut q = sqlx::query(&sql).bind(at);
            for e in chunk {
                q = q
                    .bind(e.actor.clone())
                    .bind(e.action.clone())
                    .bind(e.entity_type)
                    .bind(e.entity_id.clone())
                    .bind(e.before.clone())
                    .bind(e.after.clone())
                    .bind(e.parent)
                    .bind(super::entry_hash::stored_hash(
                        self.audit_key.as_ref(),
                        &super::entry_hash::content_hash(
                            at,
                            &e.actor,
                            &e.action,
                            e.entity_type,
                            &e.entity_id,
                            e.before.as_deref(),
                            e.after.as_deref(),
                            e.parent,
                        ),
                    ));
            }
            q.execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// Writes the audit entries, then commits.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.write_audit().await?;
        self.inner.commit().await
    }
}
