//! Logging in and out in a browser: the login page posts a form; a session is the API's own
//! (the same cookie, the same failure limits, the same audit), and logout ends it.

use super::page::{render, Chrome, Signed, Viewer};
use crate::state::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    username: String,
    /// Why the last attempt failed, in words.
    failure: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

/// A path on this site to go to after logging in; anything else (another host, `//evil`,
/// a scheme) becomes the home page.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The login page (a signed-in user goes straight on).
pub async fn form(Viewer(chrome): Viewer, Query(q): Query<Next>) -> Response {
    let next = local_path(q.next.as_deref());
    if chrome.signed_in() {
        return Redirect::to(&next).into_response();
    }
    render(
        StatusCode::OK,
        &LoginPage {
            chrome,
            next,
            username: String::new(),
            failure: None,
        },
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// The login form's post: a session cookie and on to the page asked for; or the form again
/// with what went wrong.
pub async fn login(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = local_path(f.next.as_deref());
    let address = crate::api::peer_address(peer);
    match crate::api::sign_in(&s, &address, &f.username, &f.password).await {
        Ok(token) => {
            let mut r = Redirect::to(&next).into_response();
            let cookie = crate::api::session_cookie(&s, &headers, &token.token);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let failure = if e.status == StatusCode::TOO_MANY_REQUESTS {
                chrome.t("login.locked")
            } else {
                chrome.t("login.failed")
            };
            render(
                e.status,
                &LoginPage {
                    chrome,
                    next,
                    username: f.username.chars().take(64).collect(),
                    failure: Some(failure),
                },
            )
        }
    }
}

/// Ends the session and goes to the login page (sent by htmx, with the CSRF token).
pub async fn logout(State(s): State<AppState>, page: Signed, headers: HeaderMap) -> Response {
    if let Err(e) = crate::api::sign_out(&s, &page.actor, &headers).await {
        return super::page::error_page(page.chrome, e);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&crate::api::cleared_cookie(&s, &headers)) {
        h.insert(header::SET_COOKIE, v);
    }
    h.insert("hx-redirect", HeaderValue::from_static("/login"));
    r
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_a_path_on_this_site_is_followed_after_login() {
        assert_eq!(local_path(Some("/collect")), "/collect");
        assert_eq!(local_path(Some("/collect?tube=X")), "/collect?tube=X");
        for bad in [
            "//evil.example/x",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
