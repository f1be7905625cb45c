//! 公开页缓存 the public answers (the lab list in its formats, pages) kept for a short while
//! on each node, with an ETag: a phone that has the list gets `304 Not Modified`, and a city's
//! worth of visits costs one database read a minute per kind of answer. A change on this node
//! (a lab published, withdrawn, its record changed) empties it; other nodes catch up within
//! [`TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an answer is served from the cache.
pub const TTL: Duration = Duration::from_secs(60);
/// The most answers kept (the filters make many keys; past this, new ones are not kept until
/// old ones expire).
const MAX_ENTRIES: usize = 512;

/// A cached answer: its body, content type and ETag (a hash of the body, the same on every
/// node for the same answer).
#[derive(Debug, Clone)]
pub struct Cached {
    pub body: axum::body::Bytes,
    pub content_type: &'static str,
    pub etag: String,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct PublicCache {
    entries: Mutex<HashMap<String, Cached>>,
}

impl PublicCache {
    /// The answer under `key` if it is fresh.
    pub fn get(&self, key: &str) -> Option<Cached> {
        let map = self.entries.lock().ok()?;
        map.get(key).filter(|c| c.at.elapsed() < TTL).cloned()
    }

    /// Keeps an answer; returns it with its ETag.
    pub fn put(&self, key: String, body: Vec<u8>, content_type: &'static str) -> Cached {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&body);
        let cached = Cached {
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
            body: axum::body::Bytes::from(body),
            content_type,
            at: Instant::now(),
        };
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= MAX_ENTRIES {
                map.retain(|_, c| c.at.elapsed() < TTL);
            }
            // Full of fresh answers (many filters at once): this one is served uncached rather
            // than evicting the answers most asked for.
            if map.len() < MAX_ENTRIES || map.contains_key(&key) {
                map.insert(key, cached.clone());
            }
        }
        cached
    }

    /// Forgets everything (after a change of what the public sees).
    pub fn clear(&self) {
        if let Ok(mut map) = self.entries.lock() {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_with_an_etag_of_its_body_and_forgotten_on_a_change() {
        let c = PublicCache::default();
        assert!(c.get("a").is_none());
        let put = c.put("a".into(), b"[1,2]".to_vec(), "application/json");
        let got = c.get("a").unwrap();
        assert_eq!(got.etag, put.etag);
        assert_eq!(&got.body[..], b"[1,2]");
        let same = PublicCache::default().put("b".into(), b"[1,2]".to_vec(), "application/json");
        assert_eq!(
            same.etag, put.etag,
            "the same body has the same ETag on every node"
        );
        c.clear();
        assert!(c.get("a").is_none());
    }

    #[test]
    fn a_flood_of_filters_does_not_evict_the_answers_already_kept() {
        let c = PublicCache::default();
        c.put("list".into(), b"[]".to_vec(), "application/json");
        for i in 0..MAX_ENTRIES * 2 {
            c.put(format!("filter {i}"), b"[]".to_vec(), "application/json");
        }
        assert!(c.get("list").is_some());
        assert!(c.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
