//! 推送监控 the push monitor: the health-code sinks (down or up, and why), how many messages of
//! each stand pending, waiting, sending, refused or given up, the messages themselves with the
//! receiver's answer, and — for an administrator — a refused or dead message sent again. The
//! rules are the push service's.

use super::page::{apply, error_page, render, Chrome, Message, Signed, Where};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::push::{self, MessageFilter};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/push", get(page))
        .route("/push/resend", post(resend))
}

#[derive(Debug, Default, Deserialize)]
pub struct PushQuery {
    /// A state: `pending`, `waiting`, `sending`, `delivered`, `failed`, `dead` (default: all).
    #[serde(default)]
    status: Option<String>,
    /// Messages older than this id (the next page).
    #[serde(default)]
    before: Option<i64>,
}

/// A sink, in words.
pub struct SinkLine {
    name: String,
    kind: String,
    region: String,
    url: String,
    down: String,
    counts: Vec<(String, String, i64)>,
}

/// A message, in words.
pub struct MessageLine {
    id: i64,
    sink: String,
    key: String,
    version: i64,
    status: String,
    status_words: String,
    attempts: i64,
    answer: String,
    at: String,
    may_resend: bool,
}

#[derive(Template)]
#[template(path = "push.html")]
struct PushPage {
    chrome: Chrome,
    sinks: Vec<SinkLine>,
    tabs: Vec<(String, String, bool)>,
    messages: Vec<MessageLine>,
    next: Option<String>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn page(State(s): State<AppState>, page: Signed, Query(q): Query<PushQuery>) -> Response {
    if let Some(r) = page.refusal(Action::ViewAudit) {
        return r;
    }
    let status = q.status.clone().filter(|st| !st.is_empty());
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let sinks = push::sinks(&mut conn, &page.actor).await?;
        let counts = push::open_counts(&mut conn, &page.actor).await?;
        let filter = MessageFilter {
            status: status.clone(),
            person: None,
            key: None,
            limit: Some(100),
            before: q.before,
            offset: None,
        };
        let messages = push::messages(&mut conn, &page.actor, &filter).await?;
        Ok::<_, Error>((sinks, counts, messages))
    };
    let (sinks, counts, messages) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let tr = page.chrome.tr;
    let may_resend = page.actor.require(Action::ManageRegistry).is_ok();
    let sinks = sinks
        .iter()
        .map(|r| {
            let v = r.view(s.tz);
            SinkLine {
                counts: counts
                    .iter()
                    .filter(|(sink, ..)| *sink == v.name)
                    .map(|(_, st, n)| (st.clone(), tr.code("outbox", st), *n))
                    .collect(),
                down: match (&v.down_since, &v.down_reason) {
                    (Some(at), reason) => tr.f(
                        "push.down",
                        &[
                            ("at", &tr.time(at)),
                            ("why", &reason.clone().unwrap_or_default()),
                        ],
                    ),
                    _ => String::new(),
                },
                name: v.name,
                kind: v.kind,
                region: if v.region_prefix.is_empty() {
                    tr.t("who.everywhere")
                } else {
                    v.region_prefix
                },
                url: v.url,
            }
        })
        .collect();
    let mut tabs = vec![(String::new(), tr.t("push.all"), status.is_none())];
    tabs.extend(crate::store::outbox::state::ALL.iter().map(|st| {
        (
            st.to_string(),
            tr.code("outbox", st),
            status.as_deref() == Some(*st),
        )
    }));
    let page_view = messages.view(s.tz);
    let lines = page_view
        .messages
        .iter()
        .map(|m| MessageLine {
            id: m.id,
            sink: m.sink.clone(),
            key: m.key.clone(),
            version: m.version,
            status_words: tr.code("outbox", &m.status),
            may_resend: may_resend && (m.status == "failed" || m.status == "dead"),
            status: m.status.clone(),
            attempts: m.attempts,
            answer: m.last_error.clone().unwrap_or_default(),
            at: m
                .delivered_at
                .as_ref()
                .or(m.created_at.as_ref())
                .map(|t| tr.time(t))
                .unwrap_or_default(),
        })
        .collect();
    let next = page_view.next_before.map(|b| {
        format!(
            "/push?status={}&before={b}",
            status.clone().unwrap_or_default()
        )
    });
    let idle = tr.t("push.idle");
    render(
        StatusCode::OK,
        &PushPage {
            chrome: page.chrome,
            sinks,
            tabs,
            messages: lines,
            next,
            message: None,
            idle,
            oob: false,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    id: i64,
}

/// A refused or dead message (and its person's earlier ones) sent again.
async fn resend(State(s): State<AppState>, page: Signed, Form(f): Form<ResendForm>) -> Response {
    if let Some(r) = page.refusal(Action::ManageRegistry) {
        return r;
    }
    let id = f.id;
    let done = apply(&s, &page.actor, move |tx| {
        Box::pin(async move { push::resend(tx, id).await })
    })
    .await;
    let tr = page.chrome.tr;
    let outcome = done.map(|n| Message::ok(tr.f("push.resent", &[("id", &id), ("n", &n)])));
    super::page::said(page.chrome, outcome, "/push", Where::Target)
}
