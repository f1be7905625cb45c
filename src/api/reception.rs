//! Tubes at the lab: scan in, reject, and the people who must be re-sampled.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::reception::{self, ForwardTube, ReceiveTube, RejectTube, ResampleFilter};
use crate::view::reception::{ReceiptView, RejectionView, ResampleOrder};
use crate::view::TubeView;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive))
        .routes(routes!(reject))
        .routes(routes!(forward))
        .routes(routes!(resampling))
}

/// Scans a tube in at a lab; shows its transport time and flags it over the limit.
#[utoipa::path(post, path = "/reception", tag = "reception", request_body = ReceiveTube,
    responses((status = 200, body = ReceiptView),
              (status = 404, description = "unknown barcode, or a tube bound for another lab", body = ErrorBody),
              (status = 409, description = "already received (details: the receipt), not closed, or bound for another lab (`tube.not_bound_for_lab`)", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn receive(
    State(s): State<AppState>,
    change: Change,
    Json(req): Json<ReceiveTube>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    change
        .run(StatusCode::OK, move |tx| {
            let req = req.clone();
            Box::pin(async move { Ok(reception::receive(tx, req).await?.view(tz, today)) })
        })
        .await
}

/// Rejects a tube with a coded reason; every person in it gets a re-sampling order.
#[utoipa::path(post, path = "/tubes/{barcode}/reject", tag = "reception", params(("barcode" = String, Path)),
    request_body = RejectTube,
    responses((status = 200, body = RejectionView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reject(
    State(s): State<AppState>,
    change: Change,
    Path(barcode): Path<String>,
    Json(req): Json<RejectTube>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    change
        .run(StatusCode::OK, move |tx| {
            let (barcode, req) = (barcode.clone(), req.clone());
            Box::pin(async move { Ok(reception::reject(tx, &barcode, req).await?.view(tz, today)) })
        })
        .await
}

/// 转送 forwards a closed tube, before reception, to another lab, which then receives it
/// (audited as `tube.forward`); only the lab the tube is bound for may forward it.
#[utoipa::path(post, path = "/tubes/{barcode}/forward", tag = "reception", params(("barcode" = String, Path)),
    request_body = ForwardTube,
    responses((status = 200, body = TubeView), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn forward(
    State(s): State<AppState>,
    change: Change,
    Path(barcode): Path<String>,
    Json(req): Json<ForwardTube>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    change
        .run(StatusCode::OK, move |tx| {
            let (barcode, req) = (barcode.clone(), req.clone());
            Box::pin(
                async move { Ok(reception::forward(tx, &barcode, req).await?.view(tz, today)) },
            )
        })
        .await
}

/// People who need a new swab (rejected tubes), most urgent first.
#[utoipa::path(get, path = "/resampling", tag = "reception", params(super::paging::Paging, ResampleFilter),
    responses((status = 200, body = Vec<ResampleOrder>)))]
async fn resampling(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<ResampleFilter>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    let orders = reception::list_resampling(&mut conn, &actor, &f).await?;
    super::paging::page(
        orders.iter().map(|o| o.view(tz, today)).collect::<Vec<_>>(),
        &paging,
    )
}
