//! 复核 pool re-checks: every member of a positive or inconclusive pool owes a single tube; the
//! list shows where each stands (awaiting a new swab, re-sampled, resulted), the pool's deadline
//! (which the re-check keeps) and who is late. The rules are the re-check service's.

use super::page::{error_page, lab_or_choice, render, Chrome, Signed};
use crate::domain::policy::Action;
use crate::service::rechecks::{self, RecheckFilter};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/rechecks", get(page))
}

#[derive(Debug, Default, Deserialize)]
pub struct RecheckQuery {
    #[serde(default)]
    lab: Option<String>,
    /// Also the re-checks that have a result.
    #[serde(default)]
    all: bool,
}

/// A member's re-check, in words.
pub struct Line {
    pool: String,
    person: String,
    name: String,
    doc_no: String,
    due: String,
    overdue: bool,
    state_code: String,
    state: String,
    tube: String,
    result: String,
}

#[derive(Template)]
#[template(path = "rechecks.html")]
struct RechecksPage {
    chrome: Chrome,
    lab: String,
    all: bool,
    lines: Vec<Line>,
    late: usize,
}

async fn page(State(s): State<AppState>, page: Signed, Query(q): Query<RecheckQuery>) -> Response {
    if let Some(r) = page.refusal(Action::ViewReview) {
        return r;
    }
    let lab = match lab_or_choice(&s, &page, q.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(r) => return r,
    };
    let listed = async {
        let mut conn = s.store.reader().acquire().await?;
        let filter = RecheckFilter {
            lab: Some(lab.clone()),
            exceptions: false,
            all: q.all,
        };
        rechecks::list(&mut conn, &page.actor, &filter).await
    };
    let items = match listed.await {
        Ok(items) => items,
        Err(e) => return error_page(page.chrome, e),
    };
    let (tz, today) = (s.tz, s.today());
    let tr = page.chrome.tr;
    let lines: Vec<Line> = items
        .iter()
        .map(|i| {
            let v = i.view(tz, today);
            Line {
                pool: v.pool,
                person: v.person.id,
                name: v.person.name,
                doc_no: v.person.doc_no,
                due: tr.time(&v.due_at),
                overdue: v.overdue,
                state: tr.code("recheck", &v.state),
                state_code: v.state,
                tube: v.tube.unwrap_or_default(),
                result: v
                    .result
                    .map(|r| tr.code("result_value", r.as_str()))
                    .unwrap_or_default(),
            }
        })
        .collect();
    let late = lines.iter().filter(|l| l.overdue).count();
    render(
        StatusCode::OK,
        &RechecksPage {
            chrome: page.chrome,
            lab,
            all: q.all,
            lines,
            late,
        },
    )
}
