//! What every handler and page can reach: the store, the lab's time zone, the node's token
//! cache and its limits. Nothing here is state that several nodes would disagree on: all of it
//! lives in the database.

use crate::store::Store;
use chrono::{FixedOffset, NaiveDate, Utc};

/// What every handler can reach. Nothing here is state that several nodes would disagree on:
/// all of it lives in the database.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// The lab's time zone, for showing times (default UTC+8).
    pub tz: FixedOffset,
    /// Recently verified tokens (a few seconds; see [`crate::auth::extract`]).
    pub tokens: std::sync::Arc<crate::auth::token_cache::TokenCache>,
    /// The SHA-256 of the bearer token `/metrics` asks for, if it asks for one.
    pub metrics_token: Option<[u8; 32]>,
    /// Session cookies carry `Secure` (served over HTTPS, by natlis or a proxy in front).
    pub secure_cookies: bool,
    /// How long a client may take to send a request.
    pub limits: crate::serve::Limits,
    /// The public answers, cached for a minute (see [`crate::public_cache`]).
    pub public: std::sync::Arc<crate::public_cache::PublicCache>,
    /// The public endpoints' per-address throttle (see [`crate::throttle`]).
    pub throttle: std::sync::Arc<crate::throttle::Throttle>,
}

impl AppState {
    pub fn new(store: Store, tz: FixedOffset) -> Self {
        store.set_zone(tz);
        Self {
            store,
            tz,
            tokens: Default::default(),
            metrics_token: None,
            secure_cookies: false,
            limits: Default::default(),
            public: Default::default(),
            throttle: Default::default(),
        }
    }

    /// The public endpoints' rate per address (requests a second, and the burst).
    pub fn with_public_rate(mut self, rate: crate::throttle::Rate) -> Self {
        self.throttle = std::sync::Arc::new(crate::throttle::Throttle::new(rate));
        self
    }

    /// How long clients may take to send their requests.
    pub fn with_limits(mut self, limits: crate::serve::Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Session cookies marked `Secure` (HTTPS in front of every browser).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// `/metrics` only for this bearer token (none or blank: for anyone).
    pub fn with_metrics_token(mut self, token: Option<String>) -> Self {
        self.metrics_token = token
            .filter(|t| !t.trim().is_empty())
            .map(|t| <sha2::Sha256 as sha2::Digest>::digest(t.trim().as_bytes()).into());
        self
    }

    /// Today's date in the lab's time zone.
    pub fn today(&self) -> NaiveDate {
        Utc::now().with_timezone(&self.tz).date_naive()
    }
}
