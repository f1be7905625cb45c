//! 自助登记 staff self-registration: the administrator's poster link and the requests to
//! approve or reject; the public form a scanned poster opens (no login, throttled per address).

use super::{peer_address, AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::enrolment::{self, EnrolmentInput, RequestQuery};
use crate::view::enrolment::{EnrolmentForm, EnrolmentLink, EnrolmentReceipt, EnrolmentRequest};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::net::SocketAddr;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_link, issue_link))
        .routes(routes!(list_requests))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(join_form, join))
}

/// The institution's live self-registration link (the poster's QR code), if it has one.
#[utoipa::path(get, path = "/institutions/{code}/enrolment-link", tag = "institutions",
    params(("code" = String, Path)),
    responses((status = 200, body = EnrolmentLink), (status = 404, body = ErrorBody)))]
async fn get_link(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<EnrolmentLink>, Error> {
    enrolment::link(&mut conn, &actor, &code, s.tz)
        .await?
        .map(Json)
        .ok_or_else(|| {
            Error::not_found(
                "enrolment.no_link",
                "no registration poster yet: POST to this path makes one",
            )
        })
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
struct LinkInput {
    /// Replace the live link: the old poster's QR code stops working.
    #[serde(default)]
    renew: bool,
}

/// Makes the institution's self-registration link (the same one again while it lives), or with
/// `renew` replaces it.
#[utoipa::path(post, path = "/institutions/{code}/enrolment-link", tag = "institutions",
    params(("code" = String, Path)), request_body = LinkInput,
    responses((status = 200, body = EnrolmentLink), (status = 404, body = ErrorBody)))]
async fn issue_link(
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<LinkInput>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let code = code.clone();
            Box::pin(async move { enrolment::issue_link(tx, &code, input.renew).await })
        })
        .await
}

/// The institution's self-registration requests (masked): pending oldest first, or the decided.
#[utoipa::path(get, path = "/institutions/{code}/enrolments", tag = "institutions",
    params(("code" = String, Path), RequestQuery),
    responses((status = 200, body = Vec<EnrolmentRequest>), (status = 404, body = ErrorBody)))]
async fn list_requests(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
    Query(q): Query<RequestQuery>,
) -> Result<Json<Vec<EnrolmentRequest>>, Error> {
    Ok(Json(
        enrolment::requests(&mut conn, &actor, &code, &q, s.tz).await?,
    ))
}

/// Approves a request: the person joins the roster today in the class they chose (registered
/// if new; their document's registered name must match). Approving again answers the same.
#[utoipa::path(post, path = "/institutions/{code}/enrolments/{id}/approve", tag = "institutions",
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = EnrolmentRequest), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn approve(change: Change, Path((code, id)): Path<(String, i64)>) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let code = code.clone();
            Box::pin(async move { enrolment::approve(tx, &code, id).await })
        })
        .await
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
struct Reason {
    /// Why (the administrator tells the person).
    reason: String,
}

/// Rejects a request with a reason.
#[utoipa::path(post, path = "/institutions/{code}/enrolments/{id}/reject", tag = "institutions",
    params(("code" = String, Path), ("id" = i64, Path)), request_body = Reason,
    responses((status = 200, body = EnrolmentRequest), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reject(
    change: Change,
    Path((code, id)): Path<(String, i64)>,
    Json(r): Json<Reason>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let (code, reason) = (code.clone(), r.reason.clone());
            Box::pin(async move { enrolment::reject(tx, &code, id, &reason).await })
        })
        .await
}

/// What a scanned poster opens (no login): the institution and its staff classes. A replaced
/// poster answers 410 with whom to ask.
#[utoipa::path(get, path = "/public/join/{token}", tag = "public", security(()),
    params(("token" = String, Path)),
    responses((status = 200, body = EnrolmentForm), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn join_form(
    mut conn: Reader,
    Path(token): Path<String>,
) -> Result<Json<EnrolmentForm>, Error> {
    Ok(Json(enrolment::form(&mut conn, &token).await?))
}

/// A staff member's request to join (no login): checked as a roster row is, then waiting for
/// the administrator. Everyone well-formed gets the same answer; the same document again is the
/// same request; thirty from one address within ten minutes, and the next waits (429).
#[utoipa::path(post, path = "/public/join/{token}", tag = "public", security(()),
    params(("token" = String, Path)), request_body = EnrolmentInput,
    responses((status = 202, body = EnrolmentReceipt), (status = 404, body = ErrorBody),
              (status = 410, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn join(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(token): Path<String>,
    Json(input): Json<EnrolmentInput>,
) -> Result<Response, Error> {
    let receipt = submit(&s, &peer_address(peer), token, input).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)).into_response())
}

/// Submits a request from a public form (the API's and the page's).
pub(crate) async fn submit(
    s: &AppState,
    address: &str,
    token: String,
    input: EnrolmentInput,
) -> Result<EnrolmentReceipt, Error> {
    let actor = enrolment::public_actor(address);
    let address = address.to_string();
    s.store
        .execute(
            &actor,
            crate::store::change(move |tx| {
                let (token, input, address) = (token.clone(), input.clone(), address.clone());
                Box::pin(async move { enrolment::submit(tx, &token, &input, &address).await })
            }),
        )
        .await
}
