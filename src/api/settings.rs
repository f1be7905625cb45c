//! Lab-wide settings.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::settings::{self, Settings};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, put_settings))
}

/// The settings in force.
#[utoipa::path(get, path = "/settings", tag = "registry", responses((status = 200, body = Settings)))]
async fn get_settings(_actor: Actor, mut conn: Reader) -> Result<Json<Settings>, Error> {
    Ok(Json(settings::load(&mut conn).await?))
}

/// Replaces the settings (single-sampled categories, transport limit, barcode prefix).
#[utoipa::path(put, path = "/settings", tag = "registry", request_body = Settings,
    responses((status = 200, body = Settings), (status = 422, body = ErrorBody)))]
async fn put_settings(change: Change, Json(new): Json<Settings>) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            Box::pin(settings::save(tx, new.clone()))
        })
        .await
}
