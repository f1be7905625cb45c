//! 结果查询与证明核验 the public's pages for their own results and for checking a certificate,
//! no login: the lookup form (document, the phone's last four digits, the personal or booking
//! code), the results through the access it opens, the certificate's PDF, and the verification
//! page a checker pastes a scanned code into.

use super::page::{error_page, render, Chrome, Viewer};
use crate::api::{certificates as api, peer_address};
use crate::error::Error;
use crate::service::certificate::{self, IssueInput, Verification};
use crate::service::lookup::{self, LookupInput, MyResults};
use crate::state::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/results", get(form).post(look_up))
        .route("/results/{access}", get(results))
        .route("/results/{access}/certificates", axum::routing::post(issue))
        .route("/results/{access}/certificates/{id}", get(pdf))
        .route("/verify", get(verify_form).post(verify))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LookupForm {
    #[serde(default)]
    doc_type: String,
    #[serde(default)]
    doc_no: String,
    #[serde(default)]
    phone_last4: String,
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "public_results.html")]
struct ResultsPage {
    chrome: Chrome,
    entered: LookupForm,
    /// What went wrong (the code, the sentence).
    problem: Option<(String, String)>,
    found: Option<MyResults>,
    access: String,
    doc_types: Vec<(String, String)>,
}

fn doc_types(chrome: &Chrome) -> Vec<(String, String)> {
    crate::domain::id_number::DocumentType::ALL
        .iter()
        .map(|t| {
            (
                t.as_str().to_string(),
                chrome.tr.code("doc_type", t.as_str()),
            )
        })
        .collect()
}

/// A lookup's refusal in the reader's language (the service's own sentence where there is no
/// translation).
fn in_words(chrome: &Chrome, e: &Error) -> String {
    let key = format!("lookup_problem.{}", e.code);
    if !super::i18n::has(chrome.tr.lang, &key) {
        return e.message.clone();
    }
    let detail = |k: &str| {
        e.details
            .as_ref()
            .and_then(|d| d.get(k).cloned())
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let until = detail("locked_until");
    let until = until.get(11..16).unwrap_or(&until).to_string();
    chrome.tr.f(
        &key,
        &[
            ("left", &detail("attempts_left")),
            ("until", &until),
            ("hotline", &crate::domain::lookup::HOTLINE),
        ],
    )
}

fn page(
    chrome: Chrome,
    status: StatusCode,
    entered: LookupForm,
    problem: Option<Error>,
) -> Response {
    let problem = problem.map(|e| (e.code.to_string(), in_words(&chrome, &e)));
    render(
        status,
        &ResultsPage {
            doc_types: doc_types(&chrome),
            chrome,
            entered,
            problem,
            found: None,
            access: String::new(),
        },
    )
}

async fn form(Viewer(chrome): Viewer) -> Response {
    page(chrome, StatusCode::OK, LookupForm::default(), None)
}

async fn look_up(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<LookupForm>,
) -> Response {
    let input = LookupInput {
        doc_type: serde_json::from_value(serde_json::Value::String(f.doc_type.clone())).ok(),
        doc_no: f.doc_no.clone(),
        phone_last4: f.phone_last4.clone(),
        code: f.code.clone(),
    };
    match api::open(&s, &peer_address(peer), input).await {
        Ok(r) => {
            let access = r.access.clone().unwrap_or_default();
            Redirect::to(&format!("/results/{access}")).into_response()
        }
        // The form again, as typed but for the code, with what went wrong.
        Err(e) => {
            let status = e.status;
            let kept = LookupForm {
                code: String::new(),
                ..f
            };
            page(chrome, status, kept, Some(e))
        }
    }
}

async fn results(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    Path(access): Path<String>,
) -> Response {
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        lookup::read(&mut conn, &access, s.tz).await
    };
    match loaded.await {
        Ok(found) => render(
            StatusCode::OK,
            &ResultsPage {
                doc_types: doc_types(&chrome),
                chrome,
                entered: LookupForm::default(),
                problem: None,
                found: Some(found),
                access,
            },
        ),
        // Expired or unknown: the form, with the sentence that says why and what to do.
        Err(e) => {
            let status = e.status;
            page(chrome, status, LookupForm::default(), Some(e))
        }
    }
}

#[derive(Debug, Deserialize)]
struct IssueForm {
    result: i64,
}

async fn issue(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(access): Path<String>,
    Form(f): Form<IssueForm>,
) -> Response {
    match api::issue_for(
        &s,
        &peer_address(peer),
        access.clone(),
        IssueInput { result: f.result },
    )
    .await
    {
        Ok(c) => Redirect::to(&format!("/results/{access}/certificates/{}", c.id)).into_response(),
        Err(e) => error_page(chrome, e),
    }
}

async fn pdf(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    Path((access, id)): Path<(String, String)>,
) -> Response {
    match api::pdf_response(&s, &access, &id).await {
        Ok(r) => r,
        Err(e) => error_page(chrome, e),
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    payload: String,
    checked: Option<Verification>,
    sampled: String,
    valid_until: String,
}

#[derive(Debug, Default, Deserialize)]
struct VerifyForm {
    #[serde(default)]
    payload: String,
}

async fn verify_form(Viewer(chrome): Viewer) -> Response {
    render(
        StatusCode::OK,
        &VerifyPage {
            chrome,
            payload: String::new(),
            checked: None,
            sampled: String::new(),
            valid_until: String::new(),
        },
    )
}

async fn verify(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    Form(f): Form<VerifyForm>,
) -> Response {
    let checked = async {
        let mut conn = s.store.reader().acquire().await?;
        certificate::verify(&mut conn, &f.payload, s.tz).await
    };
    match checked.await {
        Ok(v) => {
            let at = |t: Option<chrono::DateTime<chrono::FixedOffset>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default()
            };
            render(
                StatusCode::OK,
                &VerifyPage {
                    sampled: at(v.sampled_at),
                    valid_until: at(v.valid_until),
                    chrome,
                    payload: f.payload.trim().chars().take(4096).collect(),
                    checked: Some(v),
                },
            )
        }
        Err(e) => error_page(chrome, e),
    }
}
