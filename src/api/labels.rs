//! Batches of pre-printed barcodes issued to a site.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::labels::{self, IssueBatch};
use crate::view::label::Batch;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_batch))
        .routes(routes!(get_batch))
        .routes(routes!(batch_zpl))
}

/// Issues a batch of barcodes (with check characters) to a site.
#[utoipa::path(post, path = "/sites/{code}/barcode-batches", tag = "labels", params(("code" = String, Path)),
    request_body = IssueBatch,
    responses((status = 201, body = Batch), (status = 422, body = ErrorBody)))]
async fn issue_batch(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(req): Json<IssueBatch>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::CREATED, move |tx| {
            let (code, req) = (code.clone(), req.clone());
            Box::pin(async move { Ok(labels::issue(tx, &code, req).await?.view(tz)) })
        })
        .await
}

/// A batch and its barcodes.
#[utoipa::path(get, path = "/barcode-batches/{id}", tag = "labels", params(("id" = i64, Path)),
    responses((status = 200, body = BatchWithBarcodes), (status = 404, body = ErrorBody)))]
async fn get_batch(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(id): Path<i64>,
) -> Result<Json<BatchWithBarcodes>, Error> {
    let (batch, barcodes) = labels::find(&mut conn, &actor, id).await?;
    Ok(Json(BatchWithBarcodes {
        batch: batch.view(s.tz),
        barcodes: barcodes.into_iter().map(|b| b.to_string()).collect(),
    }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct BatchWithBarcodes {
    #[serde(flatten)]
    batch: Batch,
    barcodes: Vec<String>,
}

/// The batch's labels in ZPL, one label per barcode, captioned with the site.
#[utoipa::path(get, path = "/barcode-batches/{id}/labels.zpl", tag = "labels", params(("id" = i64, Path)),
    responses((status = 200, content_type = "text/plain", body = String), (status = 404, body = ErrorBody)))]
async fn batch_zpl(actor: Actor, mut conn: Reader, Path(id): Path<i64>) -> Result<Response, Error> {
    let (batch, barcodes) = labels::find(&mut conn, &actor, id).await?;
    let labels: Vec<(String, String)> = barcodes
        .into_iter()
        .map(|b| (b.to_string(), batch.site.clone()))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        crate::labels::zpl(&labels),
    )
        .into_response())
}
