//! 资质管理 the health authority's screens: its region's labs with the qualification natlis
//! computes from their records, publication on the public list (with a reason) and
//! withdrawal; a lab's record — licences and approvals, EQA rounds, penalties — with forms to
//! add to it, and its listing history.

use super::page::{error_page, hx_redirect, render, said, Chrome, Message, Signed, Where};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::accreditation::{
    self as acc, CredentialInput, Entry, EqaInput, ListingInput, PenaltyInput,
};
use crate::state::AppState;
use crate::view::accreditation::Accreditation;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accreditation", get(list_page))
        .route("/accreditation/{code}", get(lab_page))
        .route("/accreditation/{code}/publish", post(publish))
        .route("/accreditation/{code}/withdraw", post(withdraw))
        .route("/accreditation/{code}/record", post(record))
}

#[derive(Template)]
#[template(path = "accreditation.html")]
struct ListPage {
    chrome: Chrome,
    labs: Vec<Accreditation>,
    may_manage: bool,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn list_page(State(s): State<AppState>, page: Signed) -> Response {
    if let Some(r) = page.refusal(Action::ViewAccreditation) {
        return r;
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        acc::overview(&mut conn, &page.actor, s.tz, s.today()).await
    };
    match loaded.await {
        Ok(labs) => render(
            StatusCode::OK,
            &ListPage {
                may_manage: page.actor.require(Action::ManageAccreditation).is_ok(),
                idle: page.chrome.t("accreditation.idle"),
                labs,
                message: None,
                oob: false,
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Template)]
#[template(path = "accreditation_lab.html")]
struct LabPage {
    chrome: Chrome,
    a: Accreditation,
    may_manage: bool,
    today: String,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn lab_page(State(s): State<AppState>, page: Signed, Path(code): Path<String>) -> Response {
    if let Some(r) = page.refusal(Action::ViewAccreditation) {
        return r;
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        acc::record(&mut conn, &page.actor, &code, s.tz, s.today()).await
    };
    match loaded.await {
        Ok(a) => render(
            StatusCode::OK,
            &LabPage {
                may_manage: page.actor.require(Action::ManageAccreditation).is_ok(),
                today: s.today().to_string(),
                idle: page.chrome.t("accreditation.idle"),
                a,
                message: None,
                oob: false,
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

async fn listing(
    s: AppState,
    page: Signed,
    code: String,
    publish: bool,
    f: ReasonForm,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageAccreditation) {
        return r;
    }
    let input = ListingInput { reason: f.reason };
    let c = code.clone();
    let done = super::page::apply(&s, &page.actor, move |tx| {
        let (c, input) = (c.clone(), input.clone());
        Box::pin(async move { acc::list(tx, &c, publish, &input).await })
    })
    .await;
    s.public.clear();
    match done {
        Ok(_) if f.back == "lab" => hx_redirect(&format!("/accreditation/{code}")),
        Ok(_) => hx_redirect("/accreditation"),
        Err(e) => said(page.chrome, Err(e), "/accreditation", Where::MessageLine),
    }
}

async fn publish(
    State(s): State<AppState>,
    page: Signed,
    Path(code): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Response {
    listing(s, page, code, true, f).await
}

async fn withdraw(
    State(s): State<AppState>,
    page: Signed,
    Path(code): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Response {
    listing(s, page, code, false, f).await
}

/// One entry of a lab's record, as the page's forms send it (`what` says which).
#[derive(Debug, Default, Deserialize)]
pub struct RecordForm {
    what: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    valid_until: String,
    #[serde(default)]
    round: String,
    #[serde(default)]
    held_on: String,
    #[serde(default)]
    passed: String,
    #[serde(default)]
    organiser: String,
    #[serde(default)]
    decided_on: String,
    #[serde(default)]
    authority: String,
    #[serde(default)]
    summary: String,
}

fn date(field: &str, v: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| Error::invalid(field, format!("{v:?} is not a date (2026-12-05)")))
}

impl RecordForm {
    fn entry(self) -> Result<Entry, Error> {
        Ok(match self.what.as_str() {
            "credential" => Entry::Credential(CredentialInput {
                valid_until: date("valid_until", &self.valid_until)?,
                kind: self.kind,
                number: self.number,
            }),
            "eqa" => Entry::Eqa(EqaInput {
                held_on: date("held_on", &self.held_on)?,
                passed: self.passed == "1",
                round: self.round,
                organiser: self.organiser,
            }),
            "penalty" => Entry::Penalty(PenaltyInput {
                decided_on: date("decided_on", &self.decided_on)?,
                authority: self.authority,
                summary: self.summary,
            }),
            other => {
                return Err(Error::invalid(
                    "what",
                    format!("{other:?}: credential, eqa or penalty"),
                ))
            }
        })
    }
}

async fn record(
    State(s): State<AppState>,
    page: Signed,
    Path(code): Path<String>,
    Form(f): Form<RecordForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageAccreditation) {
        return r;
    }
    let back = format!("/accreditation/{code}");
    let entry = match f.entry() {
        Ok(e) => e,
        Err(e) => return said(page.chrome, Err(e), &back, Where::MessageLine),
    };
    let c = code.clone();
    let done = super::page::apply(&s, &page.actor, move |tx| {
        let (c, entry) = (c.clone(), entry.clone());
        Box::pin(async move { acc::add(tx, &c, entry).await })
    })
    .await;
    s.public.clear();
    match done {
        Ok(_) => hx_redirect(&back),
        Err(e) => said(page.chrome, Err(e), &back, Where::MessageLine),
    }
}
