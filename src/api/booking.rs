//! 预约 booking: a site's staff open slots; the public (no login) sees the free seats, reserves
//! one, confirms it, cancels or moves it; the site's collector checks a booking code in.

use super::{peer_address, AppState, Change};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::booking::{
    self, BookedPerson, Booking, ConfirmInput, MoveInput, Proof, ReserveInput, Slot, SlotsInput,
};
use crate::service::enrolment::public_actor;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use std::net::SocketAddr;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(open_slots))
        .routes(routes!(public_slots))
        .routes(routes!(reserve))
        .routes(routes!(get_booking))
        .routes(routes!(confirm))
        .routes(routes!(cancel))
        .routes(routes!(reschedule))
        .routes(routes!(check_in))
}

/// Opens a day's slots at a site (its collectors, an admin): from, to, length, seats each.
/// Slots that exist keep their seats; the site takes bookings from then on.
#[utoipa::path(post, path = "/sites/{code}/slots", tag = "booking",
    params(("code" = String, Path)), request_body = SlotsInput,
    responses((status = 201, body = Vec<Slot>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn open_slots(
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<SlotsInput>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { booking::open_slots(tx, &code, &input).await })
        })
        .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct Day {
    /// The day (default today).
    date: Option<NaiveDate>,
}

/// A bookable site's slots of a day with their free seats (no login).
#[utoipa::path(get, path = "/public/sites/{code}/slots", tag = "public", security(()),
    params(("code" = String, Path), Day),
    responses((status = 200, body = Vec<Slot>), (status = 404, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn public_slots(
    State(s): State<AppState>,
    mut conn: super::Reader,
    Path(code): Path<String>,
    Query(d): Query<Day>,
) -> Result<Json<Vec<Slot>>, Error> {
    let date = d.date.unwrap_or_else(|| s.today());
    Ok(Json(booking::slots(&mut conn, &code, date, s.tz).await?))
}

/// Runs a change of the public (no login) as the address that sent it; the change is given the
/// address (the API's and the booking pages').
pub(crate) async fn public<T, F>(s: &AppState, address: String, f: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: for<'t> Fn(
            &'t mut crate::store::Tx,
            String,
        ) -> futures::future::BoxFuture<'t, Result<T, Error>>
        + Send
        + Sync
        + 'static,
{
    let actor = public_actor(&address);
    s.store
        .execute(
            &actor,
            crate::store::change(move |tx| f(tx, address.clone())),
        )
        .await
}

/// Reserves a seat of a slot (no login): held 10 minutes for its confirmation; a full slot
/// answers 409. Twenty from one address within ten minutes, and the next waits (429).
#[utoipa::path(post, path = "/public/bookings", tag = "public", security(()),
    request_body = ReserveInput,
    responses((status = 201, body = Booking), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn reserve(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Json(input): Json<ReserveInput>,
) -> Result<Response, Error> {
    let b = public(&s, peer_address(peer), move |tx, address| {
        let input = input.clone();
        Box::pin(async move { booking::reserve(tx, &input, &address).await })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(b)).into_response())
}

/// A booking (no login): its code, and for a confirmed one the document it was made with
/// (without it, the same 404 as an unknown code).
#[utoipa::path(get, path = "/public/bookings/{code}", tag = "public", security(()),
    params(("code" = String, Path), Proof),
    responses((status = 200, body = Booking), (status = 404, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn get_booking(
    State(s): State<AppState>,
    mut conn: super::Reader,
    Path(code): Path<String>,
    Query(p): Query<Proof>,
) -> Result<Json<Booking>, Error> {
    Ok(Json(
        booking::get(&mut conn, &code, p.doc_no.as_deref(), s.tz).await?,
    ))
}

/// Confirms a held seat with the person it is for (the ID number checked).
#[utoipa::path(post, path = "/public/bookings/{code}/confirm", tag = "public", security(()),
    params(("code" = String, Path)), request_body = ConfirmInput,
    responses((status = 200, body = Booking), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 410, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn confirm(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(code): Path<String>,
    Json(input): Json<ConfirmInput>,
) -> Result<Json<Booking>, Error> {
    Ok(Json(
        public(&s, peer_address(peer), move |tx, _| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { booking::confirm(tx, &code, &input).await })
        })
        .await?,
    ))
}

/// Cancels a booking until its slot starts (the document it was confirmed with as proof).
#[utoipa::path(post, path = "/public/bookings/{code}/cancel", tag = "public", security(()),
    params(("code" = String, Path)), request_body = Proof,
    responses((status = 200, body = Booking), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn cancel(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(code): Path<String>,
    Json(p): Json<Proof>,
) -> Result<Json<Booking>, Error> {
    Ok(Json(
        public(&s, peer_address(peer), move |tx, _| {
            let (code, p) = (code.clone(), p.clone());
            Box::pin(async move { booking::cancel(tx, &code, &p).await })
        })
        .await?,
    ))
}

/// Moves a booking to another slot until its own starts; a full slot leaves it where it was.
#[utoipa::path(post, path = "/public/bookings/{code}/reschedule", tag = "public", security(()),
    params(("code" = String, Path)), request_body = MoveInput,
    responses((status = 200, body = Booking), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn reschedule(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(code): Path<String>,
    Json(m): Json<MoveInput>,
) -> Result<Json<Booking>, Error> {
    Ok(Json(
        public(&s, peer_address(peer), move |tx, _| {
            let (code, m) = (code.clone(), m.clone());
            Box::pin(async move { booking::reschedule(tx, &code, &m).await })
        })
        .await?,
    ))
}

/// Checks a booking code in at its site (the site's collector): the person to register, in
/// full (audited); the booking is used.
#[utoipa::path(post, path = "/bookings/{code}/check-in", tag = "booking",
    params(("code" = String, Path)),
    responses((status = 200, body = BookedPerson), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn check_in(
    change: Change,
    actor: Actor,
    Path(code): Path<String>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let (code, actor) = (code.clone(), actor.clone());
            Box::pin(async move { booking::check_in(tx, &code, &actor).await })
        })
        .await
}
