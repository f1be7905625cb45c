//! Tubes at the collection site: open, scan people in, close; read; labels.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::accession::{self, CloseTube, OpenTube, TubeFilter};
use crate::service::persons::PersonScan;
use crate::view::{MemberAdded, TubeView};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tubes, open_tube))
        .routes(routes!(get_tube))
        .routes(routes!(add_member))
        .routes(routes!(close_tube))
        .routes(routes!(label_svg))
        .routes(routes!(label_zpl))
}

/// Opens a tube: a single tube (单采) for one person, a pooled tube (混采) of 5/10/20, or an
/// environment / cold-chain sample with its description. People may be scanned in at once.
#[utoipa::path(post, path = "/tubes", tag = "accession", request_body = OpenTube,
    params(("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key")),
    responses((status = 201, body = TubeView),
              (status = 409, description = "barcode already used (details: the existing tube)", body = ErrorBody),
              (status = 422, description = "invalid barcode, ID number, pool size, category…", body = ErrorBody)))]
async fn open_tube(
    State(s): State<AppState>,
    change: Change,
    Json(req): Json<OpenTube>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    let w = change;
    if let Some(replayed) = w.replay().await? {
        return Ok(replayed);
    }
    let plan = {
        let mut conn = s.store.reader().acquire().await?;
        accession::prepare_open(&mut conn, w.actor(), req, (s.tz, today)).await?
    };
    w.run(StatusCode::CREATED, move |tx| {
        let plan = plan.clone();
        Box::pin(async move { Ok(accession::open(tx, plan, today).await?.view(tz, today)) })
    })
    .await
}

/// Tubes in the caller's scope, newest first (members not included), a page at a time: the
/// headers say how many match (`X-Total-Count`) and where the next page starts
/// (`X-Next-Offset`, absent on the last page).
#[utoipa::path(get, path = "/tubes", tag = "accession", params(TubeFilter),
    responses((status = 200, body = Vec<TubeView>, headers(
        ("x-total-count" = i64, description = "tubes matching, in all pages"),
        ("x-next-offset" = i64, description = "the `offset` of the next page; absent on the last"))),
        (status = 422, body = ErrorBody)))]
async fn list_tubes(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<TubeFilter>,
) -> Result<Response, Error> {
    let page = accession::list(&mut conn, &actor, &f).await?;
    let (tz, today) = (s.tz, s.today());
    let tubes: Vec<TubeView> = page.tubes.iter().map(|t| t.view(&[], tz, today)).collect();
    let mut resp = Json(tubes).into_response();
    let headers = resp.headers_mut();
    headers.insert("x-total-count", page.total.into());
    if let Some(next) = page.next_offset {
        headers.insert("x-next-offset", next.into());
    }
    Ok(resp)
}

/// One tube with its people (masked), receipt and rejection.
#[utoipa::path(get, path = "/tubes/{barcode}", tag = "accession", params(("barcode" = String, Path)),
    responses((status = 200, body = TubeView), (status = 404, body = ErrorBody)))]
async fn get_tube(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(barcode): Path<String>,
) -> Result<Json<TubeView>, Error> {
    let tube = accession::find(&mut conn, &actor, &barcode).await?;
    Ok(Json(tube.view(s.tz, s.today())))
}

/// Scans one person into an open tube (by personal code, or by document). A pooled tube closes
/// itself when full.
#[utoipa::path(post, path = "/tubes/{barcode}/members", tag = "accession", params(("barcode" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "repeat-safe key")),
    request_body = PersonScan,
    responses((status = 200, body = MemberAdded),
              (status = 409, description = "tube closed or full, person already in it, name mismatch", body = ErrorBody),
              (status = 422, description = "invalid ID number, unknown code, a tube scanned as a person", body = ErrorBody)))]
async fn add_member(
    State(s): State<AppState>,
    change: Change,
    Path(barcode): Path<String>,
    Json(scan): Json<PersonScan>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    let w = change;
    if let Some(replayed) = w.replay().await? {
        return Ok(replayed);
    }
    let plan = {
        let mut conn = s.store.reader().acquire().await?;
        accession::prepare_scan(&mut conn, w.actor(), &barcode, &scan, (tz, today)).await?
    };
    w.run(StatusCode::OK, move |tx| {
        let plan = plan.clone();
        Box::pin(async move {
            Ok(accession::add_member(tx, plan, today)
                .await?
                .view(tz, today))
        })
    })
    .await
}

/// Closes an open tube by hand with its actual count (flagged when below nominal).
#[utoipa::path(post, path = "/tubes/{barcode}/close", tag = "accession", params(("barcode" = String, Path)),
    request_body = CloseTube,
    responses((status = 200, body = TubeView), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn close_tube(
    State(s): State<AppState>,
    change: Change,
    Path(barcode): Path<String>,
    Json(req): Json<CloseTube>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    change
        .run(StatusCode::OK, move |tx| {
            let (barcode, req) = (barcode.clone(), req.clone());
            Box::pin(async move { Ok(accession::close(tx, &barcode, req).await?.view(tz, today)) })
        })
        .await
}

/// The tube's label as a Code 128 SVG (works for any barcode, issued or not).
#[utoipa::path(get, path = "/tubes/{barcode}/label.svg", tag = "labels", params(("barcode" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 422, body = ErrorBody)))]
async fn label_svg(_actor: Actor, Path(barcode): Path<String>) -> Result<Response, Error> {
    let b = crate::service::parse_barcode(&barcode)?;
    let svg = crate::labels::code128_svg(b.as_str(), None)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The tube's label in ZPL for a thermal printer.
#[utoipa::path(get, path = "/tubes/{barcode}/label.zpl", tag = "labels", params(("barcode" = String, Path)),
    responses((status = 200, content_type = "text/plain", body = String), (status = 422, body = ErrorBody)))]
async fn label_zpl(_actor: Actor, Path(barcode): Path<String>) -> Result<Response, Error> {
    let b = crate::service::parse_barcode(&barcode)?;
    let zpl = crate::labels::zpl(&[(b.to_string(), String::new())]);
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], zpl).into_response())
}
