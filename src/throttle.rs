//! 限流 the public endpoints' throttle: a token bucket per client address — a sustained rate with
//! a burst — in front of every page and API call that needs no login (`/api/v1/public/…`, the
//! public pages). A flood from one address gets `429` with `Retry-After` and costs the server a
//! hash lookup; everyone else is served from the cache as before (the middleware is in
//! [`crate::app`]). Buckets live in memory, per node (a city's nodes behind one balancer each
//! hold their share); the table is bounded: when a shard is full, the buckets that have refilled
//! are dropped (they carry no debt).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;
/// Addresses remembered per shard before refilled buckets are dropped.
const SHARD_CAPACITY: usize = 16_384;

/// Requests per second per address, sustained, and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for Rate {
    /// 20 a second, 200 at once: a person on a phone, or a site's whole office behind one NAT
    /// refreshing the list, never meets it; a script looping on it does.
    fn default() -> Self {
        Rate {
            per_second: 20.0,
            burst: 200.0,
        }
    }
}

pub struct Throttle {
    rate: Rate,
    shards: Vec<Mutex<HashMap<IpAddr, (f64, Instant)>>>,
}

impl Throttle {
    pub fn new(rate: Rate) -> Throttle {
        Throttle {
            rate,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Takes a token for `ip` at `now`: `Err(seconds)` to wait when there is none.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let shard = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            ip.hash(&mut h);
            h.finish() as usize % SHARDS
        };
        let Rate { per_second, burst } = self.rate;
        let mut map = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SHARD_CAPACITY && !map.contains_key(&ip) {
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_second < burst
            });
            if map.len() >= SHARD_CAPACITY {
                // Every remembered address is in debt: the newcomer waits like them.
                return Err(1);
            }
        }
        let (tokens, at) = map.entry(ip).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(Rate::default())
    }
}

/// Whether a path needs no login and is throttled.
pub fn is_public(path: &str) -> bool {
    path.starts_with("/api/v1/public/")
        || matches!(path, "/labs" | "/sites" | "/book" | "/results" | "/verify")
        || ["/book/", "/booking/", "/results/", "/join/"]
            .iter()
            .any(|p| path.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_sustained_rate_per_address() {
        let t = Throttle::new(Rate {
            per_second: 10.0,
            burst: 5.0,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(t.take(a, t0), Ok(()));
        }
        assert_eq!(t.take(a, t0), Err(1), "the burst is spent");
        assert_eq!(t.take(b, t0), Ok(()), "another address has its own bucket");
        // A tenth of a second later, one more token.
        assert_eq!(t.take(a, t0 + Duration::from_millis(100)), Ok(()));
        assert!(t.take(a, t0 + Duration::from_millis(100)).is_err());
        // Refilled, never above the burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(t.take(a, later), Ok(()));
        }
        assert!(t.take(a, later).is_err());
    }

    #[test]
    fn the_public_paths() {
        for p in [
            "/api/v1/public/labs",
            "/labs",
            "/sites",
            "/book/S01",
            "/booking/B1",
            "/results/x",
            "/verify",
            "/join/t",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/api/v1/labs", "/collect", "/login", "/healthz", "/labsx"] {
            assert!(!is_public(p), "{p}");
        }
    }
}
