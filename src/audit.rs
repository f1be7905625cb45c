//! The audit trail, tamper-evident. Entries are written in the transaction of the change they
//! record (see [`crate::store::Tx::audit`]). A sealer, run every few seconds on every node and
//! serialised by the database, seals the entries not yet sealed in one batch: the seal records
//! the SHA-256 of every entry it covers and chains to the previous seal. Writers never wait for
//! each other over the chain; `natlis audit verify` recomputes everything and names the first
//! entry that was altered, deleted or slipped into a sealed batch.

use crate::actor::Actor;
use crate::domain::policy::Action;
use crate::error::Error;
use crate::store::time::{show, to_db};
use crate::store::{Store, Tx};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// The hash a chain starts from.
pub const GENESIS: &str = "natlis-audit-genesis";
/// Most entries in one seal: small enough that a seal holds SQLite's writer for a few
/// milliseconds only.
pub const MAX_SEAL: i64 = 2_000;

pub use crate::store::audit_log::EntryRow;
use crate::store::audit_log::{self as log, NewSeal, SealRow};

/// The hash of an entry's content: every field, each length-prefixed so no two entries
/// collide by shifting text from one field to the next. (The id is bound to it by the seal,
/// which lists id and hash together.)
pub fn entry_hash(e: &EntryRow) -> String {
    content_hash(
        e.at,
        &e.actor,
        &e.action,
        &e.entity_type,
        &e.entity_id,
        e.before.as_deref(),
        e.after.as_deref(),
        e.parent_id,
    )
}

pub use crate::store::entry_hash::{content_hash, stored_hash};

/// How a seal is signed: `keyed` for a seal of keyed entry hashes, `legacy` for a seal made
/// before the key existed (signed when the key was created, after the chain was verified).
fn signed_text(mode: &str, seal_hash: &str) -> String {
    format!("natlis-seal|{mode}|{seal_hash}")
}

/// The signature of a seal under the key.
fn sign(key: &crate::audit_key::AuditKey, mode: &str, seal_hash: &str) -> String {
    format!(
        "{mode}:{}",
        key.mac(signed_text(mode, seal_hash).as_bytes())
    )
}

/// The hash of a seal over the previous seal's hash, its time and its entries' hashes.
pub fn seal_hash(prev: &str, sealed_at: i64, hashes: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{prev}|{sealed_at}|{hashes}").as_bytes(),
    ))
}

/// What one sealing did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sealed {
    pub seal: i64,
    pub entries: i64,
    pub hash: String,
}

/// How old an entry must be before the background sealer seals it: transactions still running
/// may hold smaller ids (PostgreSQL hands ids out before commit), and they are short.
pub const SEAL_MARGIN: chrono::Duration = chrono::Duration::seconds(2);

/// Seals the entries not sealed yet that are older than `margin` (up to [`MAX_SEAL`]);
/// `None` when there were none.
pub async fn seal(store: &Store, margin: chrono::Duration) -> Result<Option<Sealed>, Error> {
    let sealed = store
        .execute(
            &Actor::system(),
            crate::store::change(move |tx| Box::pin(seal_in(tx, margin))),
        )
        .await?;
    if let (Some(s), Some(key)) = (&sealed, store.audit_key()) {
        // Outside the database: a later cut of the trail below this seal shows.
        if let Err(e) = key.raise_anchor(s.seal, &s.hash) {
            tracing::warn!(error = %e, "could not write the audit anchor");
        }
    }
    Ok(sealed)
}

async fn seal_in(tx: &mut Tx, margin: chrono::Duration) -> Result<Option<Sealed>, Error> {
    log::lock_for_sealing(tx).await?;
    // The hashes the writers computed; an entry altered before it was sealed no longer matches
    // its hash, and verification says so.
    let unsealed = log::oldest_unsealed(tx, MAX_SEAL).await?;
    // The oldest entries, without a gap: a seal covers a contiguous run of ids.
    let cutoff = to_db(tx.now() - margin);
    let entries: Vec<(i64, Option<String>)> = unsealed
        .into_iter()
        .take_while(|(_, _, at)| *at <= cutoff)
        .map(|(id, hash, _)| (id, hash))
        .collect();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(None);
    };
    let (first_id, last_id) = (first.0, last.0);
    let prev = log::newest_seal_hash(tx)
        .await?
        .unwrap_or_else(|| GENESIS.to_string());
    let hashes: Vec<(i64, String)> = entries
        .iter()
        .map(|(id, hash)| (*id, hash.clone().unwrap_or_default()))
        .collect();
    let hashes = serde_json::to_string(&hashes).expect("hashes serialise");
    let sealed_at = to_db(tx.now());
    let hash = seal_hash(&prev, sealed_at, &hashes);
    let (signature, key_id) = match tx.audit_key() {
        Some(k) => (Some(sign(k, "keyed", &hash)), Some(k.id.clone())),
        None => (None, None),
    };
    let seal_id = log::insert_seal(
        tx,
        NewSeal {
            sealed_at,
            entries: entries.len() as i64,
            first_entry: first_id,
            last_entry: last_id,
            hashes,
            prev_hash: prev,
            hash: hash.clone(),
            signature,
            key_id,
        },
    )
    .await?;
    // Mark what was hashed. An entry that committed meanwhile inside the range (PostgreSQL
    // hands out ids before commit) was not hashed: then the count differs and the whole seal
    // is rolled back, to be made again at the next turn.
    let marked = log::mark_sealed(tx, seal_id, first_id, last_id).await?;
    if marked != entries.len() as u64 {
        return Err(Error::conflict(
            "audit.seal_raced",
            "an entry committed while its neighbours were being sealed; sealing again",
        ));
    }
    Ok(Some(Sealed {
        seal: seal_id,
        entries: entries.len() as i64,
        hash,
    }))
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = AuditReport)]
pub struct Report {
    pub seals: i64,
    pub sealed_entries: i64,
    /// Entries written since the last seal (verified at the next one).
    pub unsealed_entries: i64,
    /// The newest seal's id and hash: note them in a logbook or publish them (and give them
    /// back to `natlis audit verify --expect`): a rewrite or a cut of the trail then shows.
    pub last_seal: Option<i64>,
    pub last_hash: Option<String>,
    /// The audit key the seals were checked against (its id), if natlis has one; without a
    /// key, seals and hashes are plain SHA-256 and someone who can write to the database can
    /// rewrite the trail consistently.
    pub key_id: Option<String>,
    /// Seals made before the key existed, signed when it was created.
    pub legacy_seals: i64,
    /// The newest seal this node recorded outside the database, checked to be still there.
    pub anchor: Option<crate::audit_key::Anchor>,
    /// The first problem found, naming the entry; none when the trail is intact.
    pub problem: Option<String>,
    /// The id of the first bad entry, where one entry is to blame.
    pub first_bad_entry: Option<i64>,
}

/// The mode a seal's signature claims, if the key made it; `None` for a missing or forged one.
fn signed_mode<'a>(key: &crate::audit_key::AuditKey, s: &'a SealRow) -> Option<&'a str> {
    let (mode, mac) = s.signature.as_deref()?.split_once(':')?;
    (matches!(mode, "keyed" | "legacy") && key.verify(signed_text(mode, &s.hash).as_bytes(), mac))
        .then_some(mode)
}

/// Recomputes every seal and every sealed entry — and, with the audit key, every seal's
/// signature and every entry's keyed hash (unsealed ones too); checks that the seal this
/// node's anchor records, and `expect` (a seal and hash noted elsewhere), are still in the
/// chain as they were.
pub async fn verify(
    conn: &mut AnyConnection,
    key: Option<&crate::audit_key::AuditKey>,
    expect: Option<&crate::audit_key::Anchor>,
) -> Result<Report, Error> {
    let anchor = match key.map(|k| k.anchor()).transpose() {
        Ok(a) => a.flatten(),
        Err(e) => return Err(Error::internal(e)),
    };
    let mut report = Report {
        seals: 0,
        sealed_entries: 0,
        unsealed_entries: 0,
        last_seal: None,
        last_hash: None,
        key_id: key.map(|k| k.id.clone()),
        legacy_seals: 0,
        anchor: anchor.clone(),
        problem: None,
        first_bad_entry: None,
    };
    let expected: Vec<&crate::audit_key::Anchor> = anchor.iter().chain(expect).collect();
    let mut seen_expected = vec![false; expected.len()];
    let mut expected_prev = GENESIS.to_string();
    let mut after = 0i64;
    'seals: loop {
        let seals = log::seals_after(&mut *conn, after).await?;
        if seals.is_empty() {
            break;
        }
        for s in seals {
            after = s.id;
            report.seals += 1;
            if s.prev_hash != expected_prev {
                report.problem = Some(format!(
                    "seal {} does not follow the seal before it: a seal was removed or rewritten",
                    s.id
                ));
                break 'seals;
            }
            if seal_hash(&s.prev_hash, s.sealed_at, &s.hashes) != s.hash {
                report.problem = Some(format!("seal {} was altered", s.id));
                break 'seals;
            }
            // With the key: the seal must be signed by it; its entries' hashes keyed unless
            // it is a seal from before the key.
            let legacy = match key {
                None if s.signature.is_some() => {
                    report.problem = Some(format!(
                        "seal {} is signed with an audit key: verify with the key file (--audit-key)",
                        s.id
                    ));
                    break 'seals;
                }
                None => true,
                Some(k) => match signed_mode(k, &s) {
                    Some("legacy") => {
                        report.legacy_seals += 1;
                        true
                    }
                    Some(_) => false,
                    None => {
                        report.problem = Some(format!(
                            "seal {} is not signed by the audit key {}: the chain was rewritten, or sealed by a node with another key",
                            s.id, k.id
                        ));
                        break 'seals;
                    }
                },
            };
            for (i, e) in expected.iter().enumerate() {
                if e.seal == s.id {
                    if e.hash != s.hash {
                        report.problem = Some(format!(
                            "seal {} is not the one recorded outside the database (hash {}): the chain was rewritten",
                            s.id, e.hash
                        ));
                        break 'seals;
                    }
                    seen_expected[i] = true;
                }
            }
            expected_prev = s.hash.clone();
            report.last_seal = Some(s.id);
            report.last_hash = Some(s.hash.clone());
            let listed: Vec<(i64, String)> = serde_json::from_str(&s.hashes).unwrap_or_default();
            if listed.len() as i64 != s.entries {
                report.problem = Some(format!("seal {} was altered", s.id));
                break 'seals;
            }
            let rows = log::entries_of_seal(&mut *conn, &s).await?;
            let mut rows = rows.into_iter().peekable();
            for (id, hash) in &listed {
                // Rows sealed here but not listed come before this listed id.
                if let Some(r) = rows.next_if(|r| r.id < *id) {
                    return Ok(bad(
                        report,
                        r.id,
                        format!("entry {} was slipped into sealed batch {}", r.id, s.id),
                    ));
                }
                match rows.next_if(|r| r.id == *id) {
                    None => {
                        return Ok(bad(
                            report,
                            *id,
                            format!("entry {id} was deleted (it was sealed in seal {})", s.id),
                        ))
                    }
                    Some(r) if sealed_hash(key, legacy, &r) != *hash => {
                        return Ok(bad(
                            report,
                            *id,
                            format!(
                                "entry {id} was altered after it was sealed in seal {}",
                                s.id
                            ),
                        ))
                    }
                    Some(_) => report.sealed_entries += 1,
                }
            }
            if let Some(r) = rows.next() {
                return Ok(bad(
                    report,
                    r.id,
                    format!("entry {} was slipped into sealed batch {}", r.id, s.id),
                ));
            }
        }
    }
    if report.problem.is_some() {
        return Ok(report);
    }
    if let Some(missing) = expected
        .iter()
        .zip(&seen_expected)
        .find_map(|(e, seen)| (!seen).then_some(e))
    {
        report.problem = Some(format!(
            "the trail was cut: seal {} (hash {}), recorded outside the database, is gone; the newest seal is {}",
            missing.seal,
            missing.hash,
            report.last_seal.map_or("none".to_string(), |s| s.to_string()),
        ));
        return Ok(report);
    }
    let outside = log::first_outside_its_seal(&mut *conn).await?;
    if let Some((id, seal)) = outside {
        return Ok(bad(
            report,
            id,
            format!("entry {id} was slipped into sealed batch {seal}"),
        ));
    }
    let orphan = log::first_with_missing_seal(&mut *conn).await?;
    if let (Some((id, seal)), None) = (orphan, &report.problem) {
        return Ok(bad(
            report,
            id,
            format!("entry {id} claims seal {seal}, which does not exist"),
        ));
    }
    let unsealed = log::count_unsealed(&mut *conn).await?;
    report.unsealed_entries = unsealed;
    if let Some(k) = key {
        // Entries not sealed yet: their keyed hashes must still match their content.
        let mut after = 0i64;
        loop {
            let rows = log::unsealed_after(&mut *conn, after).await?;
            let Some(last) = rows.last().map(|(r, _)| r.id) else {
                break;
            };
            for (r, hash) in &rows {
                if hash.as_deref() != Some(stored_hash(Some(k), &entry_hash(r)).as_str()) {
                    return Ok(bad(
                        report,
                        r.id,
                        format!("entry {} (not sealed yet) was altered", r.id),
                    ));
                }
            }
            after = last;
        }
    }
    if let (Some(k), Some(seal), Some(hash)) = (key, report.last_seal, &report.last_hash) {
        // Intact up to here: the anchor rises.
        if let Err(e) = k.raise_anchor(seal, hash) {
            tracing::warn!(error = %e, "could not write the audit anchor");
        }
    }
    Ok(report)
}

/// The hash a seal lists for an entry: keyed, unless the seal is from before the key.
fn sealed_hash(key: Option<&crate::audit_key::AuditKey>, legacy: bool, r: &EntryRow) -> String {
    let content = entry_hash(r);
    if legacy {
        content
    } else {
        stored_hash(key, &content)
    }
}

/// When the audit key is first created for a database that has seals already: seals what is
/// unsealed (without the key), verifies the whole chain, and signs every seal as made before
/// the key. Refused (nothing signed) if the chain is not intact.
pub async fn adopt(unkeyed: &Store, key: &crate::audit_key::AuditKey) -> Result<i64, Error> {
    while seal(unkeyed, chrono::Duration::zero()).await?.is_some() {}
    let mut conn = unkeyed.reader().acquire().await?;
    let report = verify(&mut conn, None, None).await?;
    drop(conn);
    if let Some(problem) = report.problem {
        return Err(Error::conflict(
            "audit.not_intact",
            format!("the audit trail is not intact, so the new key signs none of it: {problem}"),
        ));
    }
    let key = key.clone();
    unkeyed
        .execute(
            &Actor::system(),
            crate::store::change(move |tx| {
                let key = key.clone();
                Box::pin(async move {
                    let seals = log::unsigned_seals(tx).await?;
                    for (id, hash) in &seals {
                        log::sign_seal(tx, *id, &sign(&key, "legacy", hash), &key.id).await?;
                    }
                    Ok(seals.len() as i64)
                })
            }),
        )
        .await
}

fn bad(mut report: Report, entry: i64, problem: String) -> Report {
    report.first_bad_entry = Some(entry);
    report.problem = Some(problem);
    report
}

/// [`verify`] for a user: administrators and auditors check the whole trail (a lab reviewer,
/// who reads the history of their own lab's objects, does not).
pub async fn verify_for(
    conn: &mut AnyConnection,
    actor: &Actor,
    key: Option<&crate::audit_key::AuditKey>,
) -> Result<Report, Error> {
    actor.require(Action::ViewAudit)?;
    if actor.role == crate::domain::policy::Role::LabReviewer {
        return Err(actor.out_of_scope("the whole audit trail"));
    }
    verify(conn, key, None).await
}

/// One entry as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<FixedOffset>,
    pub actor: String,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub parent_id: Option<i64>,
    /// Sealed (and so tamper-evident) already.
    pub sealed: bool,
}

/// The full history of one entity (`tube:BARCODE`, `person:ID`, `lab:CODE` …), oldest first.
pub async fn history(
    conn: &mut AnyConnection,
    actor: &Actor,
    entity: &str,
    tz: FixedOffset,
) -> Result<Vec<Entry>, Error> {
    actor.require(Action::ViewAudit)?;
    let (entity_type, entity_id) = entity.split_once(':').ok_or_else(|| {
        Error::invalid(
            "entity",
            "name the entity as type:id, e.g. tube:P-001 or person:<id>",
        )
    })?;
    entity_in_scope(conn, actor, entity_type, entity_id).await?;
    let rows = log::of_entity(
        &mut *conn,
        entity_type,
        entity_id,
        crate::service::LIST_CAP as i64 + 1,
    )
    .await?;
    let rows =
        crate::service::within_cap(rows, "entries in this history", "ask for a narrower entity")?;
    let json = |s: Option<String>| s.and_then(|v| serde_json::from_str(&v).ok());
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            id: r.id,
            at: show(r.at, tz),
            actor: r.actor,
            action: r.action,
            entity_type: r.entity_type,
            entity_id: r.entity_id,
            before: json(r.before),
            after: json(r.after),
            parent_id: r.parent_id,
            sealed: r.seal_id.is_some(),
        })
        .collect())
}

/// Whether the caller's scope covers an entity whose history they ask for; 404 if not, as for
/// an entity nobody has. A lab's reviewer sees the history of their lab's tubes and plates, of
/// the people of those tubes, and of the registry (labs, sites, institutions, kits) — not of
/// accounts, push messages, sinks, settings or another lab's objects.
async fn entity_in_scope(
    conn: &mut AnyConnection,
    actor: &Actor,
    entity_type: &str,
    entity_id: &str,
) -> Result<(), Error> {
    use crate::domain::policy::Scope;
    let hidden = || {
        Error::not_found(
            "audit.not_found",
            format!("no history of {entity_type}:{entity_id}"),
        )
    };
    match (&actor.scope, entity_type) {
        (_, "tube") => {
            // (Also for admins and auditors: an unknown tube is 404.)
            crate::store::tube::load(&mut *conn, entity_id)
                .await?
                .visible_to(actor, Action::ViewAudit)?;
            Ok(())
        }
        (Scope::Everywhere, _) => Ok(()),
        (_, "person") => crate::service::persons::in_scope(
            conn,
            actor,
            entity_id,
            crate::service::persons::Reach::Masked,
        )
        .await
        .map(|_| ()),
        (Scope::Lab { id, .. }, "plate") => {
            let lab = crate::store::plate::lab_of_run(conn, entity_id).await?;
            match lab {
                Some(lab) if lab == *id => Ok(()),
                _ => Err(hidden()),
            }
        }
        (_, "lab" | "site" | "institution" | "kit") => Ok(()),
        _ => Err(hidden()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> EntryRow {
        EntryRow {
            id: 7,
            at: 1_700_000_000_000_000,
            actor: "collector-li".into(),
            action: "tube.open".into(),
            entity_type: "tube".into(),
            entity_id: "P-1".into(),
            before: None,
            after: Some("{\"kind\":\"pool\"}".into()),
            parent_id: None,
            seal_id: None,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let h = entry_hash(&entry());
        type Change = Box<dyn Fn(&mut EntryRow)>;
        let variants: Vec<Change> = vec![
            Box::new(|e| e.at += 1),
            Box::new(|e| e.actor.push('x')),
            Box::new(|e| e.action = "tube.close".into()),
            Box::new(|e| e.entity_type = "person".into()),
            Box::new(|e| e.entity_id = "P-2".into()),
            Box::new(|e| e.before = Some("{}".into())),
            Box::new(|e| e.after = None),
            Box::new(|e| e.parent_id = Some(1)),
        ];
        for change in variants {
            let mut e = entry();
            change(&mut e);
            assert_ne!(entry_hash(&e), h);
        }
        // The seal binds the id; the seal a row belongs to is not part of its hash.
        let mut e = entry();
        e.seal_id = Some(3);
        e.id = 99;
        assert_eq!(entry_hash(&e), h);
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let mut a = entry();
        a.actor = "ab".into();
        a.action = "c".into();
        let mut b = entry();
        b.actor = "a".into();
        b.action = "bc".into();
        assert_ne!(entry_hash(&a), entry_hash(&b));
    }

    #[test]
    fn seals_chain() {
        let one = seal_hash(GENESIS, 1, "[[1,\"aa\"]]");
        assert_ne!(
            seal_hash(&one, 2, "[[2,\"bb\"]]"),
            seal_hash(GENESIS, 2, "[[2,\"bb\"]]")
        );
    }
}
