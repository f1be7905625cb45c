//! The audit trail: the history of an entity, and verification.

use super::AppState;
use super::Reader;
use crate::actor::Actor;
use crate::audit::{self, Entry, Report};
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(verify))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct EntityQuery {
    /// `type:id`, e.g. `tube:P-001`, `person:<id>`, `lab:LAB-A`.
    entity: String,
}

/// The full history of a tube, person or other entity, oldest first (reviewers, auditors).
#[utoipa::path(get, path = "/audit", tag = "audit", params(super::paging::Paging, EntityQuery),
    responses((status = 200, body = Vec<Entry>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn history(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(q): Query<EntityQuery>,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<axum::response::Response, Error> {
    super::paging::page(
        audit::history(&mut conn, &actor, &q.entity, s.tz).await?,
        &paging,
    )
}

/// Recomputes every seal and sealed entry; names the first bad entry (admins, auditors).
#[utoipa::path(get, path = "/audit/verify", tag = "audit",
    responses((status = 200, body = Report), (status = 403, body = ErrorBody)))]
async fn verify(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
) -> Result<Json<Report>, Error> {
    Ok(Json(
        audit::verify_for(&mut conn, &actor, s.store.audit_key()).await?,
    ))
}
