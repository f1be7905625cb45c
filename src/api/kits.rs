//! Kits: the versioned rule sets plates are read with.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::domain::kit::Kit;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::kits;
use crate::view::kit::KitVersion;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_kits, create_kit))
        .routes(routes!(get_kit))
}

/// Every kit version, by code, newest version first.
#[utoipa::path(get, path = "/kits", params(super::paging::Paging), tag = "bench", responses((status = 200, body = Vec<KitVersion>)))]
async fn list_kits(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let kits = kits::list(&mut conn, &actor).await?;
    super::paging::page(
        kits.iter().map(|k| k.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Adds a kit, or a new version of an existing code (admins). Old versions stay as they were;
/// plates made with them keep them.
#[utoipa::path(post, path = "/kits", tag = "bench", request_body = Kit,
    responses((status = 201, body = KitVersion), (status = 422, body = ErrorBody)))]
async fn create_kit(
    State(s): State<AppState>,
    change: Change,
    Json(kit): Json<Kit>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::CREATED, move |tx| {
            let kit = kit.clone();
            Box::pin(async move { Ok(kits::create(tx, kit).await?.view(tz)) })
        })
        .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct VersionQuery {
    /// A version; default: the newest active one.
    version: Option<u32>,
}

/// One kit version.
#[utoipa::path(get, path = "/kits/{code}", tag = "bench", params(("code" = String, Path), VersionQuery),
    responses((status = 200, body = KitVersion), (status = 404, body = ErrorBody)))]
async fn get_kit(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Json<KitVersion>, Error> {
    let kit = kits::find(&mut conn, &actor, &code, q.version).await?;
    Ok(Json(kit.view(s.tz)))
}
