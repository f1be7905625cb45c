//! 自助登记 self-registration in the browser: the administrator's screen (the poster's link,
//! the requests to approve or reject), the poster to print, and the public form a scanned QR
//! code opens on a phone (no login, no script needed).

use super::institutions::{institution_or_choice, LedgerParams};
use super::page::{error_page, hx_redirect, render, said, Chrome, Message, Signed, Viewer, Where};
use crate::api::peer_address;
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::enrolment::{self, EnrolmentInput, RequestQuery};
use crate::state::AppState;
use crate::view::enrolment::{EnrolmentForm, EnrolmentLink, EnrolmentReceipt, EnrolmentRequest};
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/enrolments", get(admin_page))
        .route("/enrolments/link", post(issue_link))
        .route("/enrolments/poster", get(poster_page))
        .route("/enrolments/{id}/approve", post(approve))
        .route("/enrolments/{id}/reject", post(reject))
        .route("/join/{token}", get(join_page).post(join))
}

#[derive(Template)]
#[template(path = "enrolments.html")]
struct AdminPage {
    chrome: Chrome,
    code: String,
    link: Option<EnrolmentLink>,
    pending: Vec<EnrolmentRequest>,
    decided: Vec<EnrolmentRequest>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn admin_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let link = enrolment::link(&mut conn, &page.actor, &code, s.tz).await?;
        let q = |state: &str| RequestQuery {
            state: Some(state.into()),
        };
        let pending =
            enrolment::requests(&mut conn, &page.actor, &code, &q("pending"), s.tz).await?;
        let mut decided =
            enrolment::requests(&mut conn, &page.actor, &code, &q("approved"), s.tz).await?;
        decided.extend(
            enrolment::requests(&mut conn, &page.actor, &code, &q("rejected"), s.tz).await?,
        );
        decided.sort_by_key(|r| std::cmp::Reverse(r.decided_at));
        decided.truncate(50);
        Ok::<_, Error>((link, pending, decided))
    };
    let (link, pending, decided) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    render(
        StatusCode::OK,
        &AdminPage {
            idle: page.chrome.t("enrolment.idle"),
            code,
            link,
            pending,
            decided,
            message: None,
            oob: false,
            chrome: page.chrome,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    renew: String,
}

async fn issue_link(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
    Form(f): Form<LinkForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let renew = f.renew == "1";
    let c = code.clone();
    let done = super::page::apply(&s, &page.actor, move |tx| {
        let c = c.clone();
        Box::pin(async move { enrolment::issue_link(tx, &c, renew).await })
    })
    .await;
    match done {
        Ok(_) => hx_redirect(&format!("/enrolments?institution={code}")),
        Err(e) => said(page.chrome, Err(e), "/enrolments", Where::MessageLine),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    reason: String,
}

async fn decide(
    s: AppState,
    page: Signed,
    p: LedgerParams,
    id: i64,
    reason: Option<String>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let c = code.clone();
    let done = super::page::apply(&s, &page.actor, move |tx| {
        let (c, reason) = (c.clone(), reason.clone());
        Box::pin(async move {
            match reason {
                None => enrolment::approve(tx, &c, id).await,
                Some(r) => enrolment::reject(tx, &c, id, &r).await,
            }
        })
    })
    .await;
    match done {
        Ok(_) => hx_redirect(&format!("/enrolments?institution={code}")),
        Err(e) => said(page.chrome, Err(e), "/enrolments", Where::MessageLine),
    }
}

async fn approve(
    State(s): State<AppState>,
    page: Signed,
    Path(id): Path<i64>,
    Query(p): Query<LedgerParams>,
) -> Response {
    decide(s, page, p, id, None).await
}

async fn reject(
    State(s): State<AppState>,
    page: Signed,
    Path(id): Path<i64>,
    Query(p): Query<LedgerParams>,
    Form(f): Form<RejectForm>,
) -> Response {
    decide(s, page, p, id, Some(f.reason)).await
}

#[derive(Template)]
#[template(path = "enrolment_poster.html")]
struct PosterPage {
    chrome: Chrome,
    name: String,
    url: String,
    qr: String,
}

/// The address this server is reached at, as the browser asking used it.
fn origin(s: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
        })
        .unwrap_or("localhost");
    let forwarded_https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        == Some("https");
    let scheme = if s.secure_cookies || forwarded_https {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

async fn poster_page(
    State(s): State<AppState>,
    page: Signed,
    headers: HeaderMap,
    Query(p): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let link = enrolment::link(&mut conn, &page.actor, &code, s.tz)
            .await?
            .ok_or_else(|| {
                Error::not_found(
                    "enrolment.no_link",
                    "no registration poster yet: make one on the self-registration page",
                )
            })?;
        let form = enrolment::form(&mut conn, &link.token).await?;
        Ok::<_, Error>((link, form))
    };
    let (link, form) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let url = format!("{}{}", origin(&s, &headers), link.path);
    let qr = match crate::labels::qr_svg(&url) {
        Ok(q) => q,
        Err(e) => return error_page(page.chrome, Error::internal(e)),
    };
    render(
        StatusCode::OK,
        &PosterPage {
            name: form.institution_name,
            url,
            qr,
            chrome: page.chrome,
        },
    )
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    chrome: Chrome,
    token: String,
    form: Option<EnrolmentForm>,
    receipt: Option<EnrolmentReceipt>,
    entered: JoinForm,
    problem: Option<(String, String)>,
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

/// The public form as sent (kept to show again with the problem).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    doc_type: String,
    #[serde(default)]
    doc_no: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    class: String,
}

async fn join_page(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    Path(token): Path<String>,
) -> Response {
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        enrolment::form(&mut conn, &token).await
    };
    match loaded.await {
        Ok(form) => render(
            StatusCode::OK,
            &JoinPage {
                token,
                form: Some(form),
                receipt: None,
                entered: JoinForm::default(),
                problem: None,
                doc_types: doc_types(&chrome),
                chrome,
            },
        ),
        Err(e) => error_page(chrome, e),
    }
}

async fn join(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(token): Path<String>,
    Form(f): Form<JoinForm>,
) -> Response {
    let input = EnrolmentInput {
        name: f.name.clone(),
        doc_type: Some(f.doc_type.clone()).filter(|t| !t.is_empty()),
        doc_no: f.doc_no.clone(),
        phone: f.phone.clone(),
        class: f.class.clone(),
    };
    let sent = crate::api::enrolment_submit(&s, &peer_address(peer), token.clone(), input).await;
    match sent {
        Ok(receipt) => render(
            StatusCode::ACCEPTED,
            &JoinPage {
                token,
                form: None,
                receipt: Some(receipt),
                entered: JoinForm::default(),
                problem: None,
                doc_types: doc_types(&chrome),
                chrome,
            },
        ),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let form = async {
                let mut conn = s.store.reader().acquire().await?;
                enrolment::form(&mut conn, &token).await
            };
            match form.await {
                Ok(form) => {
                    // Each problem in the reader's words; the checker's own sentence beside.
                    let words: Vec<String> = e
                        .details
                        .as_ref()
                        .and_then(|d| d["problems"].as_array().cloned())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|p| {
                            p["code"]
                                .as_str()
                                .map(|c| chrome.tr.code("roster_problem", c))
                        })
                        .collect();
                    let problem = Some((words.join("；"), e.message.clone()));
                    render(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &JoinPage {
                            token,
                            form: Some(form),
                            receipt: None,
                            entered: f,
                            problem,
                            doc_types: doc_types(&chrome),
                            chrome,
                        },
                    )
                }
                Err(e) => error_page(chrome, e),
            }
        }
        Err(e) => error_page(chrome, e),
    }
}
