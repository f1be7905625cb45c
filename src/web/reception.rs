//! 实验室接收 reception at the lab's door: one always-focused scan box signs each tube in and
//! shows how long its transport took (over the limit in colour); a tube can be rejected with a
//! coded reason, and the people of rejected tubes are listed for re-sampling. The rules are the
//! reception service's; this screen asks it and shows the answer.

use super::page::{
    apply, beep, error_page, lab_for, lab_or_choice, render, Chrome, Message, Signed,
};
use crate::domain::policy::Action;
use crate::domain::reception::RejectionReason;
use crate::error::Error;
use crate::service::reception::{self, ReceiveTube, RejectTube, ResampleFilter};
use crate::state::AppState;
use crate::view::reception::{ReceiptView, ResampleOrder};
use crate::view::TubeView;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reception", get(page))
        .route("/reception/scan", post(scan))
        .route("/reception/reject", post(reject))
}

#[derive(Debug, Default, Deserialize)]
pub struct LabQuery {
    #[serde(default)]
    lab: Option<String>,
}

/// A tube in the list of this session's receipts, in words.
pub struct Row {
    barcode: String,
    /// `received` or `rejected`: the row's colour.
    status: &'static str,
    what: String,
    site: String,
    collected: String,
    transport: String,
    over_limit: bool,
    /// What a rejection did (reason, people to re-sample).
    rejection: Option<String>,
}

/// A re-sampling order, in words.
pub struct ResampleLine {
    name: String,
    doc_no: String,
    phone: String,
    tube: String,
    site: String,
    reason: String,
    due: String,
}

#[derive(Template)]
#[template(path = "reception.html")]
struct ReceptionPage {
    chrome: Chrome,
    lab: String,
    reasons: Vec<(String, String)>,
    resample: Vec<ResampleLine>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

#[derive(Template)]
#[template(path = "reception_row.html")]
struct RowFragment {
    chrome: Chrome,
    lab: String,
    reasons: Vec<(String, String)>,
    row: Option<Row>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

/// The coded reasons in words, for the reject forms.
fn reasons(chrome: &Chrome) -> Vec<(String, String)> {
    RejectionReason::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), chrome.tr.code("reject", r.as_str())))
        .collect()
}

fn resample_line(chrome: &Chrome, o: &ResampleOrder) -> ResampleLine {
    ResampleLine {
        name: o.person.name.clone(),
        doc_no: o.person.doc_no.clone(),
        phone: o.person.phone.clone(),
        tube: o.tube.clone(),
        site: o.site.clone(),
        reason: order_reason(chrome, &o.reason),
        due: chrome.tr.time(&o.due_at),
    }
}

/// Why a person is to be re-sampled, in words: a rejected tube's coded reason, a positive
/// pool's re-check, the CDC's return, or the reviewer's own words.
pub fn order_reason(chrome: &Chrome, reason: &str) -> String {
    let tr = &chrome.tr;
    if let Some(code) = reason.strip_prefix("tube_rejected:") {
        return format!(
            "{}: {}",
            tr.t("order.tube_rejected"),
            tr.code("reject", code)
        );
    }
    if let Some(words) = reason.strip_prefix("resample:") {
        return format!("{}: {}", tr.t("order.resample"), words.trim());
    }
    tr.code("order", reason)
}

fn row(chrome: &Chrome, t: &TubeView) -> Row {
    let tr = &chrome.tr;
    let receipt = t.receipt.as_ref();
    let rejection = t.rejection.as_ref().map(|r| {
        tr.f(
            "reception.rejected_line",
            &[
                ("reason", &tr.code("reject", r.reason.as_str())),
                ("count", &t.member_count),
            ],
        )
    });
    Row {
        barcode: t.barcode.clone(),
        status: if t.rejection.is_some() {
            "rejected"
        } else {
            "received"
        },
        what: format!(
            "{} · {}",
            tr.code("kind", t.kind.as_str()),
            tr.f("reception.people", &[("count", &t.member_count)])
        ),
        site: t.site.clone(),
        collected: tr.time(&t.collected_at),
        transport: receipt
            .map(|r| tr.minutes(r.transport_minutes))
            .unwrap_or_default(),
        over_limit: receipt.is_some_and(|r| r.transport_over_limit),
        rejection,
    }
}

/// The screen: the scan box, and the people waiting to be re-sampled.
async fn page(State(s): State<AppState>, page: Signed, Query(q): Query<LabQuery>) -> Response {
    if let Some(r) = page.refusal(Action::Reception) {
        return r;
    }
    let lab = match lab_or_choice(&s, &page, q.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(r) => return r,
    };
    let orders = {
        let filter = ResampleFilter {
            lab: Some(lab.clone()),
            ..Default::default()
        };
        let listed = async {
            let mut conn = s.store.reader().acquire().await?;
            reception::list_resampling(&mut conn, &page.actor, &filter).await
        };
        match listed.await {
            Ok(o) => o,
            Err(e) => return error_page(page.chrome, e),
        }
    };
    let (tz, today) = (s.tz, s.today());
    let resample = orders
        .iter()
        .map(|o| resample_line(&page.chrome, &o.view(tz, today)))
        .collect();
    let idle = page.chrome.t("reception.idle");
    render(
        StatusCode::OK,
        &ReceptionPage {
            reasons: reasons(&page.chrome),
            chrome: page.chrome,
            lab,
            resample,
            message: None,
            idle,
            oob: false,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    lab: Option<String>,
}

/// One scan: the tube signed in at the lab (a new row on top), or the refusal.
async fn scan(State(s): State<AppState>, page: Signed, Form(f): Form<ScanForm>) -> Response {
    if let Some(r) = page.refusal(Action::Reception) {
        return r;
    }
    let lab = match lab_for(&s, &page.actor, f.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(e) => return answer(page, String::new(), None, Err(e)),
    };
    let code = f.code.trim().to_string();
    if code.is_empty() {
        let e = Error::invalid("barcode", "scan a tube's barcode");
        return answer(page, lab, None, Err(e));
    }
    let req = ReceiveTube {
        barcode: code,
        lab: lab.clone(),
        received_at: None,
        receiver: None,
    };
    let (tz, today) = (s.tz, s.today());
    let received = apply(&s, &page.actor, move |tx| {
        let req = req.clone();
        Box::pin(async move { Ok(reception::receive(tx, req).await?.view(tz, today)) })
    })
    .await;
    match received {
        Ok(r) => {
            let message = receipt_message(&page.chrome, &r);
            answer(page, lab, Some(r.tube), Ok(message))
        }
        Err(e) => answer(page, lab, None, Err(e)),
    }
}

/// What a receipt says: the transport time, and a warning over the limit.
fn receipt_message(chrome: &Chrome, r: &ReceiptView) -> Message {
    let tr = &chrome.tr;
    let text = tr.f(
        "reception.received",
        &[
            ("barcode", &r.tube.barcode),
            ("transport", &tr.minutes(r.transport_minutes)),
        ],
    );
    if r.over_limit {
        Message::warn(
            text,
            tr.f(
                "reception.over_limit",
                &[("limit", &tr.minutes(r.limit_minutes))],
            ),
        )
    } else {
        Message::ok(text)
    }
}

#[derive(Debug, Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    barcode: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    lab: Option<String>,
}

/// Rejects a tube with a coded reason: its row shows the rejection and how many people are to
/// be re-sampled.
async fn reject(State(s): State<AppState>, page: Signed, Form(f): Form<RejectForm>) -> Response {
    if let Some(r) = page.refusal(Action::Reception) {
        return r;
    }
    let lab = match lab_for(&s, &page.actor, f.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(e) => return answer(page, String::new(), None, Err(e)),
    };
    let Some(reason) = RejectionReason::parse(f.reason.trim()) else {
        let e = Error::invalid("reason", "choose the reason for rejecting the tube");
        return answer(page, lab, None, Err(e));
    };
    let req = RejectTube {
        reason,
        note: f.note.filter(|n| !n.trim().is_empty()),
        lab: Some(lab.clone()),
    };
    let barcode = f.barcode.trim().to_string();
    let (tz, today) = (s.tz, s.today());
    let rejected = apply(&s, &page.actor, move |tx| {
        let (barcode, req) = (barcode.clone(), req.clone());
        Box::pin(async move { Ok(reception::reject(tx, &barcode, req).await?.view(tz, today)) })
    })
    .await;
    match rejected {
        Ok(r) => {
            let text = page.chrome.tr.f(
                "reception.rejected",
                &[("barcode", &r.tube.barcode), ("count", &r.resample.len())],
            );
            answer(page, lab, Some(r.tube), Ok(Message::ok(text)))
        }
        Err(e) => answer(page, lab, None, Err(e)),
    }
}

/// A row (when a tube was received or rejected) and the message, swapped out of band; a
/// refusal beeps.
fn answer(
    page: Signed,
    lab: String,
    tube: Option<TubeView>,
    outcome: Result<Message, Error>,
) -> Response {
    if let Err(e) = &outcome {
        if e.status == StatusCode::UNAUTHORIZED {
            return super::page::sign_in_first("/reception", true);
        }
    }
    let refused = outcome.is_err();
    let message = match outcome {
        Ok(m) => m,
        Err(e) => Message::refused(&page.chrome, &e),
    };
    let r = render(
        StatusCode::OK,
        &RowFragment {
            reasons: reasons(&page.chrome),
            row: tube.as_ref().map(|t| row(&page.chrome, t)),
            idle: String::new(),
            chrome: page.chrome,
            lab,
            message: Some(message),
            oob: true,
        },
    );
    if refused {
        beep(r)
    } else {
        r
    }
}
