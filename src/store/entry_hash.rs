//! How an audit entry is hashed when the transaction writes it ([`super::Tx`]); the audit
//! trail's verification ([`crate::audit`]) recomputes the same.

use sha2::{Digest, Sha256};

/// The hash of an entry's content: each field length-prefixed, so that no two entries share
/// one; computed by the writer before the entry has an id (`crate::audit::entry_hash` is the
/// same for a stored entry).
#[allow(clippy::too_many_arguments)]
pub fn content_hash(
    at: i64,
    actor: &str,
    action: &str,
    entity_type: &str,
    entity_id: &str,
    before: Option<&str>,
    after: Option<&str>,
    parent_id: Option<i64>,
) -> String {
    let mut h = Sha256::new();
    let fields: [&str; 8] = [
        &at.to_string(),
        actor,
        action,
        entity_type,
        entity_id,
        before.unwrap_or("\u{0}null"),
        after.unwrap_or("\u{0}null"),
        &parent_id.map(|p| p.to_string()).unwrap_or_default(),
    ];
    for f in fields {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The hash an entry is stored (and sealed) with: under the audit key, `k:` and the key's MAC of
/// the content hash — nobody without the key file can fix the hash of an entry they changed —
/// otherwise the content hash itself.
pub fn stored_hash(key: Option<&crate::audit_key::AuditKey>, content: &str) -> String {
    match key {
        Some(k) => format!("k:{}", k.mac(content.as_bytes())),
        None => content.to_string(),
    }
}
