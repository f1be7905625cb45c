//! 个人 a person's page: found by what a person at a desk has in hand (personal code, ID card
//! number, another document) — posted, never in an address, so no ID number reaches a log —
//! and shown masked: the current status and its validity, every result, open orders to give a
//! new swab. Roles that may see a person in full unmask them with a button, and each unmasking
//! is in the audit trail. The rules are the person and result services'.

use super::page::{apply, error_page, hx_redirect, render, Chrome, Message, Signed, Where};
use crate::domain::id_number::DocumentType;
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::{persons, results};
use crate::state::AppState;
use crate::view::result::StatusView;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/persons", get(search))
        .route("/persons/lookup", post(lookup))
        .route("/persons/{id}", get(page))
        .route("/persons/{id}/unmask", post(unmask))
        .route("/persons/{id}/amend", post(amend))
}

#[derive(Template)]
#[template(path = "person_search.html")]
struct SearchPage {
    chrome: Chrome,
    doc_types: Vec<(String, String)>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

fn doc_types(chrome: &Chrome) -> Vec<(String, String)> {
    DocumentType::ALL
        .iter()
        .map(|d| {
            (
                d.as_str().to_string(),
                chrome.tr.code("doc_type", d.as_str()),
            )
        })
        .collect()
}

/// The search box.
async fn search(page: Signed) -> Response {
    if let Some(r) = page.refusal(Action::ViewStatus) {
        return r;
    }
    let idle = page.chrome.t("person.search_idle");
    render(
        StatusCode::OK,
        &SearchPage {
            doc_types: doc_types(&page.chrome),
            chrome: page.chrome,
            message: None,
            idle,
            oob: false,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LookupForm {
    #[serde(default)]
    q: String,
    /// Empty: a personal code or an ID card number, by shape.
    #[serde(default)]
    doc_type: String,
}

/// Finds the person and opens their page; or says why not (nobody outside the scope exists).
async fn lookup(State(s): State<AppState>, page: Signed, Form(f): Form<LookupForm>) -> Response {
    if let Some(r) = page.refusal(Action::ViewStatus) {
        return r;
    }
    let doc_type = DocumentType::parse(f.doc_type.trim());
    let found = async {
        let mut conn = s.store.reader().acquire().await?;
        persons::lookup(&mut conn, &page.actor, doc_type, &f.q, s.today()).await
    };
    match found.await {
        Ok(p) => hx_redirect(&format!("/persons/{}", p.uid)),
        Err(e) => refused_here(page.chrome, e),
    }
}

/// A result in words.
pub struct ResultLine {
    id: i64,
    current: bool,
    reason: String,
    sampled: String,
    tube: String,
    value_code: String,
    value: String,
    source: String,
    cdc: String,
    released: String,
    version: String,
}

/// The person's page, in words.
pub struct PersonCard {
    id: String,
    name: String,
    doc: String,
    phone: String,
    about: String,
    status_code: String,
    status: String,
    valid_until: String,
    results: Vec<ResultLine>,
    orders: Vec<(String, String, String)>,
}

fn result_line(chrome: &Chrome, r: &crate::view::result::ResultView) -> ResultLine {
    let tr = &chrome.tr;
    ResultLine {
        id: r.id,
        current: r.current,
        reason: r.reason.clone().unwrap_or_default(),
        sampled: tr.time(&r.sampled_at),
        tube: r.tube.clone(),
        value_code: r.value.as_str().to_string(),
        value: tr.code("result_value", r.value.as_str()),
        source: tr.code("kind", &r.source),
        cdc: r
            .cdc_status
            .map(|c| tr.code("cdc", c.as_str()))
            .unwrap_or_default(),
        released: format!("{} · {}", r.released_by, tr.time(&r.released_at)),
        version: if r.version > 1 {
            tr.f("person.version", &[("n", &r.version)])
        } else {
            String::new()
        },
    }
}

fn card(chrome: &Chrome, v: &StatusView) -> PersonCard {
    let tr = &chrome.tr;
    let p = &v.person;
    let mut about = vec![];
    if let Some(sex) = p.sex {
        about.push(tr.code("sex", sex.as_str()));
    }
    if let Some(age) = p.age {
        about.push(tr.f("person.age", &[("n", &age)]));
    }
    if let Some(i) = &p.institution {
        about.push(format!("{} {i}", tr.t("scope.institution")));
    }
    if let Some(c) = &p.personal_code {
        about.push(format!("{} {c}", tr.t("person.code")));
    }
    PersonCard {
        id: p.id.clone(),
        name: p.name.clone(),
        doc: format!("{} {}", tr.code("doc_type", p.doc_type.as_str()), p.doc_no),
        phone: p.phone.clone(),
        about: about.join(" · "),
        status_code: v.status.clone(),
        status: tr.code("person_status", &v.status),
        valid_until: v
            .valid_until
            .as_ref()
            .map(|t| tr.f("person.valid_until", &[("at", &tr.time(t))]))
            .unwrap_or_default(),
        results: v.results.iter().map(|r| result_line(chrome, r)).collect(),
        orders: v
            .open_resample_orders
            .iter()
            .map(|o| {
                (
                    o.tube.clone(),
                    super::reception::order_reason(chrome, &o.reason),
                    tr.time(&o.due_at),
                )
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    chrome: Chrome,
    person: PersonCard,
    may_unmask: bool,
    may_amend: bool,
    /// Every version of every result, newest first (shown when any was amended).
    history: Vec<ResultLine>,
    values: Vec<(String, String)>,
}

/// A person's page (masked).
async fn page(State(s): State<AppState>, page: Signed, Path(id): Path<String>) -> Response {
    if let Some(r) = page.refusal(Action::ViewStatus) {
        return r;
    }
    let status = async {
        let mut conn = s.store.reader().acquire().await?;
        let status = results::status(&mut conn, &page.actor, &id).await?;
        let history = results::history(&mut conn, &page.actor, &id).await?;
        Ok::<_, Error>((status, history))
    };
    match status.await {
        Ok((st, history)) => {
            let v = st.view(s.tz, s.today());
            let amended = history.iter().any(|r| r.version > 1);
            let all = history
                .iter()
                .map(|r| result_line(&page.chrome, &r.view(s.tz)))
                .collect();
            let tr = page.chrome.tr;
            render(
                StatusCode::OK,
                &PersonPage {
                    person: card(&page.chrome, &v),
                    may_unmask: page.actor.require(Action::ViewUnmasked).is_ok(),
                    may_amend: page.actor.require(Action::Review).is_ok(),
                    history: if amended { all } else { vec![] },
                    values: crate::domain::review::ResultValue::ALL
                        .iter()
                        .map(|v| (v.as_str().to_string(), tr.code("result_value", v.as_str())))
                        .collect(),
                    chrome: page.chrome,
                },
            )
        }
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Template)]
#[template(path = "person_full.html")]
struct FullFragment {
    chrome: Chrome,
    name: String,
    doc: String,
    phone: String,
}

/// The person in full, for a role that may see it (audited; outside the scope, no such person).
async fn unmask(State(s): State<AppState>, page: Signed, Path(id): Path<String>) -> Response {
    if let Some(r) = page.refusal(Action::ViewUnmasked) {
        return r;
    }
    let full = apply(&s, &page.actor, move |tx| {
        let id = id.clone();
        Box::pin(async move { persons::unmasked(tx, &id).await })
    })
    .await
    .and_then(|p| {
        p.map(|p| p.full())
            .ok_or_else(|| Error::not_found("person.not_found", "no such person"))
    });
    match full {
        Ok(p) => {
            let tr = &page.chrome.tr;
            render(
                StatusCode::OK,
                &FullFragment {
                    doc: format!("{} {}", tr.code("doc_type", p.doc_type.as_str()), p.doc_no),
                    name: p.name,
                    phone: p.phone,
                    chrome: page.chrome,
                },
            )
        }
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Debug, Deserialize)]
pub struct AmendForm {
    #[serde(default)]
    result: i64,
    #[serde(default)]
    value: String,
    #[serde(default)]
    reason: String,
}

/// 更正 amends a released result: a new version with its reason, the old one kept in the
/// history; the page is shown again with it.
async fn amend(
    State(s): State<AppState>,
    page: Signed,
    Path(id): Path<String>,
    Form(f): Form<AmendForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::Review) {
        return r;
    }
    let Some(value) = crate::domain::review::ResultValue::parse(f.value.trim()) else {
        let e = Error::invalid("value", "choose the amended result");
        return refused_here(page.chrome, e);
    };
    let req = results::Amend {
        value,
        reason: f.reason,
    };
    let result = f.result;
    let amended = apply(&s, &page.actor, move |tx| {
        let req = req.clone();
        Box::pin(async move { results::amend(tx, result, req).await })
    })
    .await;
    match amended {
        Ok(_) => hx_redirect(&format!("/persons/{}", id.trim())),
        Err(e) => refused_here(page.chrome, e),
    }
}

/// A refusal shown where the form is, with the beep.
fn refused_here(chrome: Chrome, e: Error) -> Response {
    super::page::said(chrome, Err(e), "/persons", Where::Target)
}
