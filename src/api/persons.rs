//! People and personal codes.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::persons::{self, PersonInput};
use crate::view::{PersonFull, PersonView};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(get_person))
        .routes(routes!(personal_code_svg))
        .routes(routes!(unmasked))
}

/// Pre-registers a person and issues a personal code (个人码). The same document registered
/// again is the same person: the answer is that person, with status 200 instead of 201.
#[utoipa::path(post, path = "/persons", tag = "persons", request_body = PersonInput,
    responses((status = 201, body = PersonView), (status = 200, body = PersonView),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn register(
    State(s): State<AppState>,
    change: Change,
    Json(input): Json<PersonInput>,
) -> Result<Response, Error> {
    let today = s.today();
    if change.is_keyed() {
        // A keyed repeat answers 200 with the same person.
        return change
            .run(StatusCode::OK, move |tx| {
                let input = input.clone();
                Box::pin(
                    async move { Ok(persons::register(tx, input, today).await?.0.view(today)) },
                )
            })
            .await;
    }
    let (person, created) = s
        .store
        .execute(
            change.actor(),
            crate::store::change(move |tx| {
                let input = input.clone();
                Box::pin(async move { persons::register(tx, input, today).await })
            }),
        )
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(person.view(today))).into_response())
}

/// One person (masked).
#[utoipa::path(get, path = "/persons/{id}", tag = "persons", params(("id" = String, Path)),
    responses((status = 200, body = PersonView), (status = 404, body = ErrorBody)))]
async fn get_person(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(id): Path<String>,
) -> Result<Json<PersonView>, Error> {
    Ok(Json(
        persons::find(&mut conn, &actor, &id).await?.view(s.today()),
    ))
}

/// The person's personal code as a QR code (SVG), for printing or showing on a phone.
#[utoipa::path(get, path = "/persons/{id}/code.svg", tag = "persons", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = ErrorBody)))]
async fn personal_code_svg(
    actor: Actor,
    mut conn: Reader,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let person = persons::find(&mut conn, &actor, &id).await?;
    let code = person.personal_code.ok_or_else(|| {
        Error::not_found(
            "person.no_code",
            "this person has no personal code; pre-register them to issue one",
        )
    })?;
    let svg = crate::labels::qr_svg(&code)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// A person in full — ID number, name, phone — for reviewers and CDC reviewers; every such view
/// is recorded in the audit trail.
#[utoipa::path(get, path = "/persons/{id}/unmasked", tag = "persons", params(("id" = String, Path)),
    responses((status = 200, body = PersonFull), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unmasked(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Json<PersonFull>, Error> {
    let full = s
        .store
        .execute(
            &actor,
            crate::store::change(move |tx| {
                let id = id.clone();
                Box::pin(async move { persons::unmasked(tx, &id).await })
            }),
        )
        .await?;
    // Outside the caller's scope (the refusal is audited): no such person.
    full.map(|p| Json(p.full()))
        .ok_or_else(|| Error::not_found("person.not_found", "no such person"))
}
