//! What every page has: who is looking (or nobody), in which language, the CSRF token their
//! htmx requests send, and how a page or an error becomes an HTML answer.

use super::i18n::{Lang, Tr};
use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::error::Error;
use crate::state::AppState;
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The page's frame: the header's "who am I / my scope", the language switch, the CSRF token.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub tr: Tr,
    /// The signed-in user, if any.
    pub user: Option<Actor>,
    /// `X-CSRF-Token` for this session (sent by htmx with every change).
    pub csrf: String,
    /// The path of this page (where the language switch comes back to).
    pub path: String,
}

impl Chrome {
    pub fn t(&self, key: &str) -> String {
        self.tr.t(key)
    }

    pub fn lang(&self) -> &'static str {
        self.tr.lang.tag()
    }

    /// The other language's tag, for the switch.
    pub fn other_lang(&self) -> &'static str {
        self.tr.lang.other().tag()
    }

    /// The signed-in user's name.
    pub fn username(&self) -> String {
        self.user
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default()
    }

    /// The signed-in user's role in words.
    pub fn role(&self) -> String {
        self.user
            .as_ref()
            .map(|u| self.tr.code("role", u.role.as_str()))
            .unwrap_or_default()
    }

    /// The signed-in user's scope in words (采样点 S-ZGC).
    pub fn scope(&self) -> String {
        match self.user.as_ref().map(|u| &u.scope) {
            None => String::new(),
            Some(Scope::Everywhere) => self.t("who.everywhere"),
            Some(Scope::Lab { code, .. }) => format!("{} {code}", self.t("scope.lab")),
            Some(Scope::Site { code, .. }) => format!("{} {code}", self.t("scope.site")),
            Some(Scope::Institution { code, .. }) => {
                format!("{} {code}", self.t("scope.institution"))
            }
            Some(Scope::Region(code)) => format!("{} {code}", self.t("scope.region")),
        }
    }

    /// `{"X-CSRF-Token": "…"}` for the body's `hx-headers`.
    pub fn hx_headers(&self) -> String {
        serde_json::json!({ "X-CSRF-Token": self.csrf }).to_string()
    }

    /// The screens of the header's menu this user may open: (path, catalogue key).
    pub fn screens(&self) -> Vec<(&'static str, &'static str)> {
        let Some(user) = &self.user else {
            return vec![];
        };
        super::SCREENS
            .iter()
            .filter(|s| crate::domain::policy::allowed(user.role, s.action))
            .map(|s| (s.path, s.title))
            .collect()
    }

    /// Whether a menu entry is this page.
    pub fn is_current(&self, path: &str) -> bool {
        self.path == path
    }

    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }
}

/// The CSRF token of the request's session (empty without one).
fn csrf_of(headers: &HeaderMap) -> String {
    crate::auth::extract::request_secret(headers)
        .map(|s| crate::auth::csrf_token(&s))
        .unwrap_or_default()
}

/// A request's page context; `actor` is `None` for nobody signed in (or an expired session).
pub struct Viewer(pub Chrome);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let lang = Lang::of_request(&parts.headers);
        let user = Actor::from_request_parts(parts, state).await.ok();
        let csrf = csrf_of(&parts.headers);
        Ok(Viewer(Chrome {
            tr: Tr { lang, tz: state.tz },
            user,
            csrf,
            path: parts.uri.path().to_string(),
        }))
    }
}

/// A signed-in user's page context; nobody signed in is sent to the login page.
pub struct Signed {
    pub chrome: Chrome,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let htmx = parts.headers.contains_key("hx-request");
        let lang = Lang::of_request(&parts.headers);
        let tr = Tr { lang, tz: state.tz };
        let path = parts.uri.path().to_string();
        match Actor::from_request_parts(parts, state).await {
            Ok(actor) => {
                let csrf = csrf_of(&parts.headers);
                Ok(Signed {
                    chrome: Chrome {
                        tr,
                        user: Some(actor.clone()),
                        csrf,
                        path,
                    },
                    actor,
                })
            }
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(sign_in_first(&path, htmx)),
            Err(e) => Err(error_page(
                Chrome {
                    tr,
                    user: None,
                    csrf: String::new(),
                    path,
                },
                e,
            )),
        }
    }
}

impl Signed {
    /// The refusal page for a user whose role may not do `action` (the scope is checked by
    /// the service); `None` when the role may.
    pub fn refusal(&self, action: Action) -> Option<Response> {
        self.actor
            .require(action)
            .err()
            .map(|e| error_page(self.chrome.clone(), e))
    }
}

/// To the login page, coming back here afterwards (htmx: the whole window goes).
pub fn sign_in_first(path: &str, htmx: bool) -> Response {
    let to = format!(
        "/login?next={}",
        percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC)
    );
    if htmx {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(&to).into_response()
}

/// A rendered template as an HTML answer (never cached: pages hold personal data).
pub fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    title: String,
    todo: String,
    /// What the service said (code and message), for the user and for support.
    code: String,
    message: String,
}

/// The page for a refusal: what happened and what to do, by status (401, 403, 404, other).
pub fn error_page(chrome: Chrome, e: Error) -> Response {
    let family = match e.status.as_u16() {
        401 => "401",
        403 => "403",
        404 => "404",
        _ => "other",
    };
    let page = ErrorPage {
        status: e.status.as_u16(),
        title: chrome.t(&format!("error.{family}.title")),
        todo: chrome.t(&format!("error.{family}.todo")),
        code: e.code.to_string(),
        message: e.message.clone(),
        chrome,
    };
    render(e.status, &page)
}

/// Whether a request wants a page rather than JSON (a browser's navigation).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// A line under a scan box: what just happened.
pub struct Message {
    /// `ok`, `ask` (something more is needed), `warn` (done, but look) or `refused`: the colour.
    pub tone: &'static str,
    pub text: String,
    pub detail: String,
}

impl Message {
    pub fn ok(text: String) -> Message {
        Message {
            tone: "ok",
            text,
            detail: String::new(),
        }
    }

    pub fn warn(text: String, detail: String) -> Message {
        Message {
            tone: "warn",
            text,
            detail,
        }
    }

    /// A refusal in words: the catalogue's wording of the error's code (or a generic line),
    /// with the service's own message under it.
    pub fn refused(chrome: &Chrome, e: &Error) -> Message {
        let key = format!("refusal.{}", e.code);
        let text = if super::i18n::has(chrome.tr.lang, &key) {
            chrome.t(&key)
        } else {
            chrome.t("refusal.generic")
        };
        Message {
            tone: "refused",
            text,
            detail: e.message.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessageLine {
    chrome: Chrome,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

/// Where a message-line answer goes: into the element the request targets, or swapped out of
/// band into `#message` with the target left as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    Target,
    MessageLine,
}

/// An htmx answer that is the message line alone: what happened, or the refusal in words (with
/// the beep); a lapsed session sends the window to the login page, back to `back` after.
pub fn said(chrome: Chrome, outcome: Result<Message, Error>, back: &str, into: Where) -> Response {
    let refused = match &outcome {
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return sign_in_first(back, true),
        Err(_) => true,
        Ok(_) => false,
    };
    let message = Some(match outcome {
        Ok(m) => m,
        Err(e) => Message::refused(&chrome, &e),
    });
    let oob = into == Where::MessageLine;
    let mut r = render(
        StatusCode::OK,
        &MessageLine {
            chrome,
            message,
            idle: String::new(),
            oob,
        },
    );
    if oob {
        r.headers_mut()
            .insert("hx-reswap", HeaderValue::from_static("none"));
    }
    if refused {
        beep(r)
    } else {
        r
    }
}

/// Marks an htmx answer as a refusal: the page beeps and flashes.
pub fn beep(mut r: Response) -> Response {
    r.headers_mut()
        .insert("hx-trigger", HeaderValue::from_static("refused"));
    r
}

/// Sends the whole window to `to` (an htmx answer).
pub fn hx_redirect(to: &str) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert("hx-redirect", v);
    }
    r
}

/// Runs one state change of the page's user in a write transaction.
pub async fn apply<T, F>(s: &AppState, actor: &Actor, change: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: for<'t> Fn(&'t mut crate::store::Tx) -> futures::future::BoxFuture<'t, Result<T, Error>>
        + Send
        + Sync
        + 'static,
{
    s.store.execute(actor, change).await
}

#[derive(Template)]
#[template(path = "choose.html")]
struct ChoosePage {
    chrome: Chrome,
    title: String,
    hint: String,
    /// (address, code, name)
    items: Vec<(String, String, String)>,
}

/// A page to choose where to work (a lab, a site) for someone whose scope is everywhere.
pub fn choose_page(chrome: Chrome, what: &str, items: Vec<(String, String, String)>) -> Response {
    let page = ChoosePage {
        title: chrome.t(&format!("choose.{what}")),
        hint: chrome.t("choose.hint"),
        items,
        chrome,
    };
    render(StatusCode::OK, &page)
}

/// For a page of one lab's work: the lab, or — for someone who works everywhere and named
/// none — the page to choose one (each lab a link back here with `?lab=`).
pub async fn lab_or_choice(
    s: &AppState,
    page: &Signed,
    asked: Option<&str>,
) -> Result<String, Response> {
    let nothing_asked = asked.is_none_or(|a| a.trim().is_empty());
    if matches!(page.actor.scope, Scope::Everywhere) && nothing_asked {
        let labs = async {
            let mut conn = s.store.reader().acquire().await?;
            crate::service::registry::list_labs(&mut conn, s.today()).await
        };
        return Err(match labs.await {
            Ok(labs) => {
                let path = page.chrome.path.clone();
                let items = labs
                    .into_iter()
                    .map(|l| {
                        (
                            format!("{path}?lab={}", l.info.code),
                            l.info.code,
                            l.info.name,
                        )
                    })
                    .collect();
                choose_page(page.chrome.clone(), "lab", items)
            }
            Err(e) => error_page(page.chrome.clone(), e),
        });
    }
    lab_for(s, &page.actor, asked)
        .await
        .map_err(|e| error_page(page.chrome.clone(), e))
}

/// The lab a lab user works in: their own; an administrator's or auditor's choice (`?lab=`).
pub async fn lab_for(s: &AppState, actor: &Actor, asked: Option<&str>) -> Result<String, Error> {
    match (&actor.scope, asked) {
        (Scope::Lab { code, .. }, _) => Ok(code.clone()),
        (Scope::Everywhere, Some(code)) if !code.trim().is_empty() => {
            let mut conn = s.store.reader().acquire().await?;
            let lab = crate::service::registry::find_lab(&mut conn, code, s.today()).await?;
            Ok(lab.info.code)
        }
        (Scope::Everywhere, _) => Err(Error::invalid(
            "lab",
            "choose the lab: add ?lab=<lab code> to the address",
        )),
        _ => Err(actor.out_of_scope("this lab's work")),
    }
}
