//! The node's short-lived cache of verified tokens: token checks stay off the database's back,
//! and a revoked token stops working on every node within its lifetime.

use crate::actor::Actor;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified token is trusted without asking the database again.
pub const CACHE_SECONDS: u64 = 5;
const CACHE_MAX: usize = 50_000;

#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Actor, Instant)>>,
}

impl TokenCache {
    pub(super) fn get(&self, secret: &str) -> Option<Actor> {
        let map = self.entries.lock().ok()?;
        map.get(secret)
            .filter(|(_, at)| at.elapsed() < Duration::from_secs(CACHE_SECONDS))
            .map(|(a, _)| a.clone())
    }

    /// Drops a secret just revoked, so it stops working at once on this node.
    pub fn forget(&self, secret: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(secret);
        }
    }

    /// Drops every cached secret that a prefix names (a token revoked by its prefix).
    pub fn forget_prefix(&self, prefix: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.retain(|secret, _| !secret.starts_with(prefix));
        }
    }

    pub(super) fn put(&self, secret: &str, actor: Actor) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= CACHE_MAX {
                map.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(CACHE_SECONDS));
                if map.len() >= CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(secret.to_string(), (actor, Instant::now()));
        }
    }
}
