//! 采样点 collection points: the public list with each point's live state (no login; cached
//! for a minute with an ETag), and the site staff's word on their point's state and queue.

use super::{AppState, Change};
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::collection_point::{self, CollectionPoint, CollectionPoints, PointInput};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_points))
        .routes(routes!(set_point))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub(crate) struct District {
    /// A region code or its prefix (110108 Haidian; 1101 Beijing); default all.
    #[serde(default)]
    pub district: String,
}

/// The collection points (no login): hours, who may use each, whether it takes bookings, and
/// its live state — open/paused/closed, sampled in the last 15 minutes, the queue its staff
/// counted and the wait it gives. Cached for a minute with an ETag (`If-None-Match` → 304).
#[utoipa::path(get, path = "/public/sites", tag = "public", security(()),
    params(District),
    responses((status = 200, body = CollectionPoints), (status = 304), (status = 422, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn public_points(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(d): Query<District>,
) -> Result<Response, Error> {
    let cached = points_cached(&s, &d.district).await?;
    super::cached_public_response(&headers, cached)
}

/// The public list of points as cached JSON (the API's; the page caches its HTML alike).
pub(crate) async fn points_cached(
    s: &AppState,
    district: &str,
) -> Result<crate::public_cache::Cached, Error> {
    let key = format!("sites|json|{}", district.trim());
    if let Some(c) = s.public.get(&key) {
        return Ok(c);
    }
    let mut conn = s.store.reader().acquire().await?;
    let list = collection_point::public_list(&mut conn, district, chrono::Utc::now(), s.tz).await?;
    let body = serde_json::to_vec(&list).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
    Ok(s.public.put(key, body, "application/json"))
}

/// A site's staff (its collectors, an administrator) say how their point stands: open, paused
/// or closed (for some minutes, or until set again; `auto`: the hours decide), the people
/// waiting, the hours, who may use it. The public list shows it at once.
#[utoipa::path(post, path = "/sites/{code}/point", tag = "booking",
    params(("code" = String, Path)), request_body = PointInput,
    responses((status = 200, body = CollectionPoint), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn set_point(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<PointInput>,
) -> Result<Response, Error> {
    let r = change
        .run(StatusCode::OK, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { collection_point::set(tx, &code, &input).await })
        })
        .await;
    s.public.clear();
    r
}
