//! 审计 the audit trail in the browser: the whole history of one object (a tube, a person, a
//! plate, a lab …) — who did what when, before and after, sealed or not yet — and, for
//! administrators and auditors, the verification of the whole chain. The rules are the audit
//! module's.

use super::page::{error_page, render, Chrome, Signed};
use crate::domain::policy::Action;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/audit", get(page))
        .route("/audit/verify", get(verify))
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    /// `type:id`: `tube:ZGC0000001`, `plate:LAB-HD-20261205-1`, `person:<id>`, `lab:LAB-HD`.
    #[serde(default)]
    entity: Option<String>,
}

/// An entry, in words.
pub struct Line {
    id: i64,
    at: String,
    actor: String,
    action: String,
    before: String,
    after: String,
    sealed: bool,
    child: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entity: String,
    lines: Vec<Line>,
    may_verify: bool,
    error: Option<String>,
}

fn compact(v: &Option<serde_json::Value>) -> String {
    match v {
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > 400 {
                format!("{}…", s.chars().take(400).collect::<String>())
            } else {
                s
            }
        }
        None => String::new(),
    }
}

async fn page(State(s): State<AppState>, page: Signed, Query(q): Query<AuditQuery>) -> Response {
    if let Some(r) = page.refusal(Action::ViewAudit) {
        return r;
    }
    let entity = q.entity.unwrap_or_default().trim().to_string();
    let may_verify = page.actor.role != crate::domain::policy::Role::LabReviewer;
    let mut lines = vec![];
    let mut error = None;
    if !entity.is_empty() {
        let found = async {
            let mut conn = s.store.reader().acquire().await?;
            crate::audit::history(&mut conn, &page.actor, &entity, s.tz).await
        };
        match found.await {
            Ok(entries) => {
                let tr = page.chrome.tr;
                lines = entries
                    .iter()
                    .map(|e| Line {
                        id: e.id,
                        at: tr.time(&e.at),
                        actor: e.actor.clone(),
                        action: e.action.clone(),
                        before: compact(&e.before),
                        after: compact(&e.after),
                        sealed: e.sealed,
                        child: e.parent_id.is_some(),
                    })
                    .collect();
            }
            Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
                error = Some(format!("{}: {}", e.code, e.message));
            }
            Err(e) => return error_page(page.chrome, e),
        }
    }
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: page.chrome,
            entity,
            lines,
            may_verify,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "audit_verify.html")]
struct VerifyFragment {
    chrome: Chrome,
    intact: bool,
    lines: Vec<(String, String)>,
    problem: String,
}

/// The whole chain verified (a fragment for the page's button).
async fn verify(State(s): State<AppState>, page: Signed) -> Response {
    let checked = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::audit::verify_for(&mut conn, &page.actor, s.store.audit_key()).await
    };
    match checked.await {
        Ok(r) => {
            let tr = page.chrome.tr;
            let lines = vec![
                (tr.t("audit.seals"), tr.num(r.seals)),
                (tr.t("audit.sealed_entries"), tr.num(r.sealed_entries)),
                (tr.t("audit.unsealed_entries"), tr.num(r.unsealed_entries)),
                (
                    tr.t("audit.last_seal"),
                    match (r.last_seal, &r.last_hash) {
                        (Some(id), Some(h)) => format!("{id}:{h}"),
                        _ => "—".into(),
                    },
                ),
                (
                    tr.t("audit.key"),
                    r.key_id.clone().unwrap_or_else(|| "—".into()),
                ),
            ];
            render(
                StatusCode::OK,
                &VerifyFragment {
                    intact: r.problem.is_none(),
                    problem: r.problem.unwrap_or_default(),
                    chrome: page.chrome,
                    lines,
                },
            )
        }
        Err(e) => error_page(page.chrome, e),
    }
}
