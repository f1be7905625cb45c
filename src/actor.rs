//! Who is acting. Every handler and every service function knows its actor, and every audit
//! entry names it.
//!
//! Until accounts and roles arrive, the actor is the user name a client states in the
//! `X-Natlis-User` header (a collector's scanner sends its operator), or `anonymous`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

pub const HEADER: &str = "x-natlis-user";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: String,
}

impl Actor {
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
        }
    }

    /// The actor for work natlis does by itself (migrations, demo data, benchmarks).
    pub fn system() -> Self {
        Self::new("system")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = crate::error::Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(HEADER) else {
            return Ok(Self::new("anonymous"));
        };
        let name = value.to_str().unwrap_or("").trim();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if valid {
            Ok(Self::new(name))
        } else {
            Err(crate::error::Error::invalid(
                HEADER,
                "user name must be 1–64 letters, digits, '.', '_', '-' or '@'",
            ))
        }
    }
}
