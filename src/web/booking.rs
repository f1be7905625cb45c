//! 预约 booking pages for the public, no login: the sites that take bookings, a site's slots of a
//! day with their free seats, reserving one (held ten minutes), confirming it with one's
//! document, name and phone, and the booking code to show at the site — with its QR code for
//! the collector to scan — which can be cancelled until the slot starts.

use super::page::{error_page, render, Chrome, Viewer};
use crate::api::peer_address;
use crate::error::Error;
use crate::service::booking::{
    self, BookableSite, Booking, ConfirmInput, Proof, ReserveInput, Slot,
};
use crate::state::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/book", get(sites))
        .route("/book/{site}", get(slots).post(reserve))
        .route("/booking/{code}", get(held))
        .route("/booking/{code}/confirm", post(confirm))
        .route("/booking/{code}/cancel", post(cancel))
}

#[derive(Template)]
#[template(path = "book.html")]
struct BookPage {
    chrome: Chrome,
    sites: Vec<(BookableSite, String)>,
    site: Option<String>,
    site_name: String,
    days: Vec<(String, bool)>,
    slots: Vec<Slot>,
    problem: Option<String>,
}

async fn sites(State(s): State<AppState>, Viewer(chrome): Viewer) -> Response {
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        booking::bookable_sites(&mut conn).await
    };
    match loaded.await {
        Ok(list) => {
            let zh = chrome.tr.lang == super::Lang::Zh;
            render(
                StatusCode::OK,
                &BookPage {
                    sites: list
                        .into_iter()
                        .map(|b| {
                            let d = crate::domain::region::name(&b.district, zh);
                            (b, d)
                        })
                        .collect(),
                    site: None,
                    site_name: String::new(),
                    days: vec![],
                    slots: vec![],
                    problem: None,
                    chrome,
                },
            )
        }
        Err(e) => error_page(chrome, e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct Day {
    #[serde(default)]
    date: String,
}

async fn slots_page(
    s: &AppState,
    chrome: Chrome,
    site: String,
    date: NaiveDate,
    problem: Option<Error>,
) -> Response {
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        booking::slots(&mut conn, &site, date, s.tz).await
    };
    let status = problem.as_ref().map_or(StatusCode::OK, |e| e.status);
    match loaded.await {
        Ok(slots) => {
            let today = s.today();
            render(
                status,
                &BookPage {
                    sites: vec![],
                    site_name: slots
                        .first()
                        .map(|s| s.site_name.clone())
                        .unwrap_or_default(),
                    site: Some(site.to_ascii_uppercase()),
                    days: (0..=crate::domain::booking::AHEAD_DAYS)
                        .map(|n| {
                            let d = today + chrono::Days::new(n as u64);
                            (d.to_string(), d == date)
                        })
                        .collect(),
                    slots,
                    problem: problem.map(|e| e.message),
                    chrome,
                },
            )
        }
        Err(e) => error_page(chrome, e),
    }
}

async fn slots(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    Path(site): Path<String>,
    Query(d): Query<Day>,
) -> Response {
    let date = d.date.parse().unwrap_or_else(|_| s.today());
    slots_page(&s, chrome, site, date, None).await
}

#[derive(Debug, Deserialize)]
struct ReserveForm {
    starts_at: String,
}

async fn reserve(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(site): Path<String>,
    Form(f): Form<ReserveForm>,
) -> Response {
    let Ok(starts_at) = chrono::DateTime::parse_from_rfc3339(&f.starts_at) else {
        return error_page(chrome, Error::invalid("starts_at", "choose a slot"));
    };
    let address = peer_address(peer);
    let input = ReserveInput {
        site: site.clone(),
        starts_at,
    };
    let held = crate::api::public_change(&s, address.clone(), move |tx, _| {
        let (input, address) = (input.clone(), address.clone());
        Box::pin(async move { booking::reserve(tx, &input, &address).await })
    })
    .await;
    match held {
        Ok(b) => Redirect::to(&format!("/booking/{}", b.code)).into_response(),
        // Full, started, too many: the day's slots again with what happened.
        Err(e) => {
            let date = starts_at.with_timezone(&s.tz).date_naive();
            slots_page(&s, chrome, site, date, Some(e)).await
        }
    }
}

#[derive(Template)]
#[template(path = "booking.html")]
struct BookingPage {
    chrome: Chrome,
    booking: Booking,
    entered: ConfirmForm,
    problem: Option<String>,
    qr: String,
    doc_types: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    doc_type: String,
    #[serde(default)]
    doc_no: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

fn booking_page(
    chrome: Chrome,
    status: StatusCode,
    b: Booking,
    entered: ConfirmForm,
    problem: Option<String>,
) -> Response {
    let qr = if b.state == "confirmed" {
        crate::labels::qr_svg(&b.code).unwrap_or_default()
    } else {
        String::new()
    };
    let doc_types = crate::domain::id_number::DocumentType::ALL
        .iter()
        .map(|t| {
            (
                t.as_str().to_string(),
                chrome.tr.code("doc_type", t.as_str()),
            )
        })
        .collect();
    render(
        status,
        &BookingPage {
            chrome,
            booking: b,
            entered,
            problem,
            qr,
            doc_types,
        },
    )
}

/// A held seat: the form to confirm it. (A confirmed booking is shown only to whoever confirms
/// it, or with its document.)
async fn held(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    Path(code): Path<String>,
) -> Response {
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        booking::get(&mut conn, &code, None, s.tz).await
    };
    match loaded.await {
        Ok(b) => booking_page(chrome, StatusCode::OK, b, ConfirmForm::default(), None),
        Err(e) => error_page(chrome, e),
    }
}

async fn confirm(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(code): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Response {
    let input = ConfirmInput {
        doc_type: serde_json::from_value(serde_json::Value::String(f.doc_type.clone())).ok(),
        doc_no: f.doc_no.clone(),
        name: f.name.clone(),
        phone: f.phone.clone(),
    };
    let c = code.clone();
    let done = crate::api::public_change(&s, peer_address(peer), move |tx, _| {
        let (code, input) = (c.clone(), input.clone());
        Box::pin(async move { booking::confirm(tx, &code, &input).await })
    })
    .await;
    match done {
        Ok(b) => booking_page(chrome, StatusCode::OK, b, ConfirmForm::default(), None),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            let loaded = async {
                let mut conn = s.store.reader().acquire().await?;
                booking::get(&mut conn, &code, None, s.tz).await
            };
            match loaded.await {
                Ok(b) => booking_page(chrome, e.status, b, f, Some(e.message)),
                Err(e) => error_page(chrome, e),
            }
        }
        Err(e) => error_page(chrome, e),
    }
}

#[derive(Debug, Deserialize)]
struct CancelForm {
    #[serde(default)]
    doc_no: String,
}

async fn cancel(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(code): Path<String>,
    Form(f): Form<CancelForm>,
) -> Response {
    let proof = Proof {
        doc_no: Some(f.doc_no).filter(|d| !d.trim().is_empty()),
    };
    let done = crate::api::public_change(&s, peer_address(peer), move |tx, _| {
        let (code, proof) = (code.clone(), proof.clone());
        Box::pin(async move { booking::cancel(tx, &code, &proof).await })
    })
    .await;
    match done {
        Ok(b) => booking_page(chrome, StatusCode::OK, b, ConfirmForm::default(), None),
        Err(e) => error_page(chrome, e),
    }
}
