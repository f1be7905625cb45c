//! Users, tokens and browser login.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::auth::extract::SESSION_COOKIE;
use crate::auth::{self, IssuedToken, NewUser, UserView};
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(my_credentials))
        .routes(routes!(add_user))
        .routes(routes!(issue_token))
        .routes(routes!(revoke_token))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
struct Session {
    #[serde(flatten)]
    token: IssuedToken,
    /// Send as `X-CSRF-Token` with every change made through the session cookie.
    csrf: String,
    expires_in_hours: i64,
}

/// Logs in with a password: opens a 12-hour session, set as an HttpOnly cookie and returned as a
/// token. Five failures for an account from one address within 15 minutes lock that account
/// out from that address (twenty in a day: for the day); a hundred from one address lock it.
#[utoipa::path(post, path = "/login", tag = "accounts", security(()), request_body = Credentials,
    responses((status = 200, body = Session), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Json(c): Json<Credentials>,
) -> Result<Response, Error> {
    let token = sign_in(&s, &peer_address(peer), &c.username, &c.password).await?;
    let cookie = session_cookie(&s, &headers, &token.token);
    let body = Session {
        csrf: auth::csrf_token(&token.token),
        token,
        expires_in_hours: auth::SESSION_HOURS,
    };
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(body)).into_response())
}

/// The peer's address, never a client-supplied header: a forged X-Forwarded-For must not
/// reset the per-address limit.
pub(crate) fn peer_address(peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>) -> String {
    peer.map(|p| p.0 .0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Logs in with a password (the API's `POST /login` and the login page): a failure is recorded
/// against the account and the address, and says nothing more than that it failed.
pub(crate) async fn sign_in(
    s: &AppState,
    address: &str,
    username: &str,
    password: &str,
) -> Result<IssuedToken, Error> {
    let system = Actor::system();
    let (user, pass, addr) = (
        username.to_string(),
        password.to_string(),
        address.to_string(),
    );
    let result = s
        .store
        .execute(
            &system,
            crate::store::change(move |tx| {
                let (user, pass, addr) = (user.clone(), pass.clone(), addr.clone());
                Box::pin(async move { auth::login(tx, &user, &pass, &addr).await })
            }),
        )
        .await;
    match result {
        Ok(t) => Ok(t),
        Err(e) if e.code == "auth.login_failed" => {
            let (user, addr) = (username.to_string(), address.to_string());
            s.store
                .execute(
                    &system,
                    crate::store::change(move |tx| {
                        let (user, addr) = (user.clone(), addr.clone());
                        Box::pin(async move { auth::record_failure(tx, &user, &addr).await })
                    }),
                )
                .await?;
            let mut e = e;
            e.details = None;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(s: &AppState, headers: &HeaderMap, secret: &str) -> String {
    format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        auth::SESSION_HOURS * 3600,
        secure_attribute(s, headers)
    )
}

/// Ends the session (or revokes the token) of a request, on this node at once.
pub(crate) async fn sign_out(
    s: &AppState,
    actor: &Actor,
    headers: &HeaderMap,
) -> Result<(), Error> {
    let secret = crate::auth::extract::request_secret(headers).unwrap_or_default();
    let revoked = secret.clone();
    s.store
        .execute(
            actor,
            crate::store::change(move |tx| {
                let secret = revoked.clone();
                Box::pin(async move { auth::logout(tx, &secret).await })
            }),
        )
        .await?;
    s.tokens.forget(&secret);
    Ok(())
}

/// The `Set-Cookie` value that ends the session cookie.
pub(crate) fn cleared_cookie(s: &AppState, headers: &HeaderMap) -> String {
    format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure_attribute(s, headers)
    )
}

/// `; Secure` when the browser reached natlis over HTTPS: natlis serves TLS itself, is told it
/// runs behind HTTPS (`--secure-cookies`), or a proxy says so (`X-Forwarded-Proto: https`;
/// adding `Secure` can only keep the cookie off plain HTTP, so the header need not be trusted).
fn secure_attribute(s: &AppState, headers: &HeaderMap) -> &'static str {
    let proxied = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    if s.secure_cookies || proxied {
        "; Secure"
    } else {
        ""
    }
}

/// Ends the session (or revokes the token) this request is made with, at once on this node and
/// within seconds on the others; clears the session cookie.
#[utoipa::path(post, path = "/logout", tag = "accounts",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn logout(
    State(s): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
) -> Result<Response, Error> {
    sign_out(&s, &actor, &headers).await?;
    let clear = cleared_cookie(&s, &headers);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// Who the credentials belong to.
#[utoipa::path(get, path = "/me", tag = "accounts", responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(actor: Actor) -> Json<UserView> {
    Json(auth::view(&actor))
}

/// The caller's live sessions and API tokens, newest first, the one of this request marked
/// `current`: a user who sees a session they do not know revokes it with `DELETE
/// /tokens/{prefix}` (or all but this one, one by one).
#[utoipa::path(get, path = "/me/sessions", params(super::paging::Paging), tag = "accounts",
    responses((status = 200, body = Vec<auth::CredentialView>), (status = 401, body = ErrorBody)))]
async fn my_credentials(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    headers: HeaderMap,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let secret = crate::auth::extract::request_secret(&headers);
    super::paging::page(
        auth::own_credentials(
            &mut conn,
            &actor,
            secret.as_deref(),
            chrono::Utc::now(),
            s.tz,
        )
        .await?,
        &paging,
    )
}

/// Creates a user (admin).
#[utoipa::path(post, path = "/users", tag = "accounts", request_body = NewUser,
    responses((status = 201, body = UserView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_user(change: Change, Json(req): Json<NewUser>) -> Result<Response, Error> {
    // The request carries a password: no fingerprint of it is kept.
    change
        .unkeyed()
        .run(StatusCode::CREATED, move |tx| {
            Box::pin(auth::add_user(tx, req.clone()))
        })
        .await
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
struct TokenRequest {
    /// What the token is for, e.g. `scanner-3` or `qpcr-pc-2`.
    name: String,
}

/// Issues an API token for a user (an admin for anyone, a user for themself). Shown once.
#[utoipa::path(post, path = "/users/{username}/tokens", tag = "accounts", params(("username" = String, Path)),
    request_body = TokenRequest,
    responses((status = 201, body = IssuedToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn issue_token(
    change: Change,
    Path(username): Path<String>,
    Json(req): Json<TokenRequest>,
) -> Result<Response, Error> {
    // An auditor reads and changes nothing: no long-lived credential of their own either (they
    // log in for a session that expires).
    if change.actor().role == crate::domain::policy::Role::Auditor {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "auth.forbidden",
            "an auditor does not mint API tokens: log in for a session",
        ));
    }
    // Never replayed from an idempotency record (its key is ignored): that would store the secret.
    change
        .unkeyed()
        .run(StatusCode::CREATED, move |tx| {
            let (username, name) = (username.clone(), req.name.clone());
            Box::pin(async move { auth::issue_token(tx, &username, &name, None).await })
        })
        .await
}

/// Revokes a token or session by its prefix (an admin any, a user their own): at once on this
/// node, within seconds on the others.
#[utoipa::path(delete, path = "/tokens/{prefix}", tag = "accounts", params(("prefix" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_token(
    State(s): State<AppState>,
    actor: Actor,
    Path(prefix): Path<String>,
) -> Result<Response, Error> {
    revoke(&s, &actor, &prefix).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Revokes a token: in the database, and at once in this node's token cache (within seconds
/// on the others).
pub(crate) async fn revoke(s: &AppState, actor: &Actor, prefix: &str) -> Result<(), Error> {
    let revoked = prefix.to_string();
    s.store
        .execute(
            actor,
            crate::store::change(move |tx| {
                let prefix = revoked.clone();
                Box::pin(async move { auth::revoke_token(tx, &prefix).await })
            }),
        )
        .await?;
    s.tokens.forget_prefix(prefix);
    Ok(())
}
