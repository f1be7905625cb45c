//! From a request's credentials to an [`Actor`]: `Authorization: Bearer <token>` (scripts,
//! scanners, instrument PCs), or the `natlis_session` cookie of a browser login — whose unsafe
//! requests must also carry `X-CSRF-Token`. A short-lived per-node cache keeps token checks
//! off the database's back; a revoked token stops working on every node within its lifetime.

pub use super::token_cache::{TokenCache, CACHE_SECONDS};
use super::{authenticate, csrf_token};
use crate::actor::Actor;
use crate::error::Error;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};

pub const SESSION_COOKIE: &str = "natlis_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

fn unauthorized(code: &'static str, message: &str) -> Error {
    Error::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The secret a request signs in with: its bearer token, else its session cookie.
pub fn request_secret(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|s| s.trim().to_string())
        .or_else(|| cookie_in(headers))
}

/// The session secret in a `Cookie` header, if any.
fn session_cookie(parts: &Parts) -> Option<String> {
    cookie_in(&parts.headers)
}

fn cookie_in(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_string())
        })
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|s| s.trim().to_string());
        let secret = match (bearer, session_cookie(parts)) {
            (Some(b), _) => b,
            (None, Some(cookie)) => {
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                let csrf = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
                if !safe && csrf != Some(csrf_token(&cookie).as_str()) {
                    return Err(Error::new(
                        StatusCode::FORBIDDEN,
                        "auth.csrf",
                        "a change made with a browser session needs the X-CSRF-Token header from the login",
                    ));
                }
                cookie
            }
            (None, None) => {
                return Err(unauthorized(
                    "auth.required",
                    "sign in: send Authorization: Bearer <token>, or log in at POST /api/v1/login",
                ))
            }
        };
        if let Some(actor) = state.tokens.get(&secret) {
            return Ok(actor);
        }
        let mut conn = state.store.reader().acquire().await?;
        let now = crate::store::time::to_db(chrono::Utc::now());
        match authenticate(&mut conn, &secret, now).await? {
            Some(actor) => {
                state.tokens.put(&secret, actor.clone());
                Ok(actor)
            }
            None => Err(unauthorized(
                "auth.invalid_token",
                "the token is unknown, expired or revoked",
            )),
        }
    }
}
