//! 疾控复核 the CDC's queue: each positive a lab released, with the 2-hour clock of its direct
//! report counting down (the list refreshes itself), the breaches past it, and the ruling —
//! confirm, or return to the lab with a reason. The rules are the CDC service's.

use super::page::{apply, beep, error_page, render, Chrome, Message, Signed};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::cdc::{self, Ruling};
use crate::state::AppState;
use crate::view::cdc::CdcItem;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cdc", get(page))
        .route("/cdc/queue", get(queue_fragment))
        .route("/cdc/rule", post(rule))
}

/// A positive in the queue, in words, with its clock.
pub struct Case {
    result: i64,
    tube: String,
    person: String,
    sampled: String,
    released: String,
    called: String,
    due: String,
    /// `ok`, `soon` (under 30 minutes) or `late`: the colour.
    clock_class: &'static str,
    clock: String,
    region: String,
    cdc: String,
}

fn case(chrome: &Chrome, i: &CdcItem) -> Case {
    let tr = &chrome.tr;
    let now = Utc::now();
    let (clock_class, clock) = match &i.report_due_at {
        Some(due) => {
            let left = (due.with_timezone(&Utc) - now).num_minutes();
            if i.result.cdc_status != Some(crate::domain::status::Cdc::Pending) {
                (
                    "ok",
                    tr.f("cdc.ruled_late", &[("late", &tr.minutes(i.minutes_late))]),
                )
            } else if left < 0 {
                ("late", tr.f("cdc.late", &[("late", &tr.minutes(-left))]))
            } else if left < 30 {
                ("soon", tr.f("cdc.left", &[("left", &tr.minutes(left))]))
            } else {
                ("ok", tr.f("cdc.left", &[("left", &tr.minutes(left))]))
            }
        }
        None => ("ok", String::new()),
    };
    Case {
        result: i.result.id,
        tube: i.result.tube.clone(),
        person: i.result.person.clone().unwrap_or_default(),
        sampled: tr.time(&i.result.sampled_at),
        released: format!(
            "{} · {}",
            i.result.released_by,
            tr.time(&i.result.released_at)
        ),
        called: i
            .positive_called_at
            .as_ref()
            .map(|t| tr.time(t))
            .unwrap_or_default(),
        due: i
            .report_due_at
            .as_ref()
            .map(|t| tr.time(t))
            .unwrap_or_default(),
        clock_class,
        clock,
        region: i.region.clone(),
        cdc: i
            .result
            .cdc_status
            .map(|c| tr.code("cdc", c.as_str()))
            .unwrap_or_default(),
    }
}

/// The queue and the breaches, in words.
pub struct Queue {
    pending: Vec<Case>,
    breaches: Vec<Case>,
    refreshed: String,
}

async fn load(s: &AppState, page: &Signed) -> Result<Queue, Error> {
    let mut conn = s.store.reader().acquire().await?;
    let pending = cdc::queue(&mut conn, &page.actor).await?;
    let breaches = cdc::breaches(&mut conn, &page.actor).await?;
    let c = &page.chrome;
    Ok(Queue {
        pending: pending.iter().map(|p| case(c, &p.view(s.tz))).collect(),
        breaches: breaches.iter().map(|p| case(c, &p.view(s.tz))).collect(),
        refreshed: c.tr.clock(&Utc::now()),
    })
}

#[derive(Template)]
#[template(path = "cdc.html")]
struct CdcPage {
    chrome: Chrome,
    may_rule: bool,
    queue: Queue,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

#[derive(Template)]
#[template(path = "cdc_queue_fragment.html")]
struct QueueFragment {
    chrome: Chrome,
    may_rule: bool,
    queue: Queue,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn page(State(s): State<AppState>, page: Signed) -> Response {
    if let Some(r) = page.refusal(Action::ViewCdc) {
        return r;
    }
    match load(&s, &page).await {
        Ok(queue) => {
            let idle = page.chrome.t("cdc.idle");
            render(
                StatusCode::OK,
                &CdcPage {
                    may_rule: page.actor.require(Action::CdcReview).is_ok(),
                    chrome: page.chrome,
                    queue,
                    message: None,
                    idle,
                    oob: false,
                },
            )
        }
        Err(e) => error_page(page.chrome, e),
    }
}

/// The queue alone (the page refreshes it every 30 seconds).
async fn queue_fragment(State(s): State<AppState>, page: Signed) -> Response {
    if let Some(r) = page.refusal(Action::ViewCdc) {
        return r;
    }
    answer(&s, page, None).await
}

async fn answer(s: &AppState, page: Signed, outcome: Option<Result<Message, Error>>) -> Response {
    let refused = matches!(outcome, Some(Err(_)));
    let message = outcome.map(|o| match o {
        Ok(m) => m,
        Err(e) => Message::refused(&page.chrome, &e),
    });
    match load(s, &page).await {
        Ok(queue) => {
            let oob = message.is_some();
            let r = render(
                StatusCode::OK,
                &QueueFragment {
                    may_rule: page.actor.require(Action::CdcReview).is_ok(),
                    chrome: page.chrome,
                    queue,
                    message,
                    idle: String::new(),
                    oob,
                },
            );
            if refused {
                beep(r)
            } else {
                r
            }
        }
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    #[serde(default)]
    result: i64,
    /// `confirm` or `reject`.
    #[serde(default)]
    ruling: String,
    #[serde(default)]
    reason: String,
}

/// Confirms a positive, or returns it to the lab with a reason.
async fn rule(State(s): State<AppState>, page: Signed, Form(f): Form<RuleForm>) -> Response {
    if let Some(r) = page.refusal(Action::CdcReview) {
        return r;
    }
    let confirm = f.ruling == "confirm";
    let req = Ruling {
        reason: Some(f.reason.trim().to_string()).filter(|r| !r.is_empty()),
    };
    let (result, tz) = (f.result, s.tz);
    let ruled = apply(&s, &page.actor, move |tx| {
        let req = req.clone();
        Box::pin(async move { Ok(cdc::rule(tx, result, confirm, req).await?.view(tz)) })
    })
    .await;
    let outcome = ruled.map(|i| {
        let key = if confirm {
            "cdc.confirmed_msg"
        } else {
            "cdc.rejected_msg"
        };
        Message::ok(page.chrome.tr.f(key, &[("tube", &i.result.tube)]))
    });
    if let Err(e) = &outcome {
        if e.status == StatusCode::UNAUTHORIZED {
            return super::page::sign_in_first("/cdc", true);
        }
    }
    answer(&s, page, Some(outcome)).await
}
