//! Pushing to the health-code platform: sinks, and the outgoing messages with their state.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::push::{self, MessageFilter};
use crate::view::push::{MessagePage, Sink};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sinks, add_sink))
        .routes(routes!(list_messages))
        .routes(routes!(resend))
}

/// The configured sinks (tokens and keys are never shown).
#[utoipa::path(get, path = "/push/sinks", params(super::paging::Paging), tag = "push", responses((status = 200, body = Vec<Sink>)))]
async fn list_sinks(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let sinks = push::sinks(&mut conn, &actor).await?;
    super::paging::page(
        sinks.iter().map(|r| r.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Adds a sink for a region (admins): a FHIR R4 endpoint or a table in the platform's
/// PostgreSQL database.
#[utoipa::path(post, path = "/push/sinks", tag = "push", request_body = Sink,
    responses((status = 201, body = Sink), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_sink(change: Change, Json(req): Json<Sink>) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            Box::pin(push::add_sink(tx, req.clone()))
        })
        .await
}

/// Outgoing messages and their state: pending, waiting (behind an earlier version of the same
/// person), sending, delivered, failed (refused by the receiver, with its answer), dead (given
/// up after the sink's attempts). Newest first, a page at a time (`limit`, then `before` =
/// the page's `next_before`); `person` keeps one person's messages.
#[utoipa::path(get, path = "/push/messages", tag = "push", params(MessageFilter),
    responses((status = 200, body = MessagePage), (status = 422, body = ErrorBody)))]
async fn list_messages(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<MessageFilter>,
) -> Result<Json<MessagePage>, Error> {
    Ok(Json(
        push::messages(&mut conn, &actor, &f).await?.view(s.tz),
    ))
}

/// Sends a failed or dead message again, with the same key and version (admins); earlier
/// failed or dead versions of the same person go again too, first.
#[utoipa::path(post, path = "/push/messages/{id}/resend", tag = "push", params(("id" = i64, Path)),
    responses((status = 200, body = push::Resent), (status = 409, body = ErrorBody)))]
async fn resend(change: Change, Path(id): Path<i64>) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            Box::pin(async move {
                let requeued = push::resend(tx, id).await?;
                Ok(push::Resent {
                    id,
                    status: "pending".into(),
                    requeued,
                })
            })
        })
        .await
}
