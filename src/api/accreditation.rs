//! 资质与公示 labs' accreditation records (the regional health authority's), publication on the
//! public list, and the public list itself — JSON, CSV or GeoJSON, cached with an ETag, no login.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::accreditation::{
    self, CredentialInput, Entry, EqaInput, ListingInput, PenaltyInput, PublicQuery,
};
use crate::view::accreditation::{Accreditation, PublicList};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accreditation))
        .routes(routes!(get_accreditation))
        .routes(routes!(add_credential))
        .routes(routes!(add_eqa))
        .routes(routes!(add_penalty))
        .routes(routes!(publish))
        .routes(routes!(withdraw))
        .routes(routes!(public_labs))
}

/// The accreditation of every lab in the caller's scope (the authority: its region's).
#[utoipa::path(get, path = "/accreditation", tag = "accreditation",
    responses((status = 200, body = Vec<Accreditation>), (status = 403, body = ErrorBody)))]
async fn list_accreditation(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
) -> Result<Json<Vec<Accreditation>>, Error> {
    Ok(Json(
        accreditation::overview(&mut conn, &actor, s.tz, s.today()).await?,
    ))
}

/// A lab's accreditation: licences and PCR approvals, EQA rounds, penalties, the qualification
/// computed from them today (testing; large-scale work), and its listing history.
#[utoipa::path(get, path = "/labs/{code}/accreditation", tag = "accreditation",
    params(("code" = String, Path)),
    responses((status = 200, body = Accreditation), (status = 404, body = ErrorBody)))]
async fn get_accreditation(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<Accreditation>, Error> {
    Ok(Json(
        accreditation::record(&mut conn, &actor, &code, s.tz, s.today()).await?,
    ))
}

/// Runs a change of a lab's record and forgets the cached public answers.
async fn changed(
    s: AppState,
    change: Change,
    code: String,
    entry: Entry,
) -> Result<Response, Error> {
    let r = change
        .run(StatusCode::CREATED, move |tx| {
            let (code, entry) = (code.clone(), entry.clone());
            Box::pin(async move { accreditation::add(tx, &code, entry).await })
        })
        .await;
    s.public.clear();
    r
}

/// Records a practice licence (执业许可) or PCR lab approval (PCR实验室备案).
#[utoipa::path(post, path = "/labs/{code}/credentials", tag = "accreditation",
    params(("code" = String, Path)), request_body = CredentialInput,
    responses((status = 201, body = Accreditation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_credential(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<CredentialInput>,
) -> Result<Response, Error> {
    changed(s, change, code, Entry::Credential(input)).await
}

/// Records the lab's result of an external quality assessment round (室间质评).
#[utoipa::path(post, path = "/labs/{code}/eqa", tag = "accreditation",
    params(("code" = String, Path)), request_body = EqaInput,
    responses((status = 201, body = Accreditation), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_eqa(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<EqaInput>,
) -> Result<Response, Error> {
    changed(s, change, code, Entry::Eqa(input)).await
}

/// Records a penalty (行政处罚): it bars large-scale work for 24 months.
#[utoipa::path(post, path = "/labs/{code}/penalties", tag = "accreditation",
    params(("code" = String, Path)), request_body = PenaltyInput,
    responses((status = 201, body = Accreditation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_penalty(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<PenaltyInput>,
) -> Result<Response, Error> {
    changed(s, change, code, Entry::Penalty(input)).await
}

async fn listed(
    s: AppState,
    change: Change,
    code: String,
    publish: bool,
    input: ListingInput,
) -> Result<Response, Error> {
    let r = change
        .run(StatusCode::OK, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { accreditation::list(tx, &code, publish, &input).await })
        })
        .await;
    s.public.clear();
    r
}

/// Publishes a qualified lab on the public list (an unqualified one is refused with what it
/// lacks). Publishing again changes nothing.
#[utoipa::path(post, path = "/labs/{code}/publish", tag = "accreditation",
    params(("code" = String, Path)), request_body = ListingInput,
    responses((status = 200, body = Accreditation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn publish(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<ListingInput>,
) -> Result<Response, Error> {
    listed(s, change, code, true, input).await
}

/// Withdraws a lab from the public list, with the reason.
#[utoipa::path(post, path = "/labs/{code}/withdraw", tag = "accreditation",
    params(("code" = String, Path)), request_body = ListingInput,
    responses((status = 200, body = Accreditation), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn withdraw(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<ListingInput>,
) -> Result<Response, Error> {
    listed(s, change, code, false, input).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ListFormat {
    /// json (default), csv or geojson
    format: Option<String>,
}

/// The public list of testing labs (no login): those the authority published that are
/// qualified today — name, address, phone, hours (open now?), prices, district, whom they
/// serve, the report time they promise and the share of results released within it over the
/// last 7 days (measured by natlis), large-scale qualification, coordinates. JSON, CSV or
/// GeoJSON; cached for a minute with an ETag (`If-None-Match` → 304).
#[utoipa::path(get, path = "/public/labs", tag = "public", security(()),
    params(PublicQuery, ListFormat),
    responses((status = 200, body = PublicList,
        content((PublicList = "application/json"), (String = "text/csv"), (Object = "application/geo+json"))),
        (status = 304), (status = 422, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn public_labs(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PublicQuery>,
    Query(f): Query<ListFormat>,
) -> Result<Response, Error> {
    let format = f.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "geojson") {
        return Err(Error::invalid(
            "format",
            format!("unknown format {format:?}: json, csv or geojson"),
        ));
    }
    let key = format!("labs|{format}|{}", q.key()?);
    let cached = match s.public.get(&key) {
        Some(c) => c,
        None => {
            let mut conn = s.store.reader().acquire().await?;
            let list = accreditation::public_list(&mut conn, &q, chrono::Utc::now(), s.tz).await?;
            let (body, kind) = match format {
                "csv" => (
                    crate::view::accreditation::csv(&list).into_bytes(),
                    "text/csv; charset=utf-8",
                ),
                "geojson" => (
                    serde_json::to_vec(&crate::view::accreditation::geojson(&list))
                        .map_err(|e| Error::internal(anyhow::anyhow!(e)))?,
                    "application/geo+json",
                ),
                _ => (
                    serde_json::to_vec(&list).map_err(|e| Error::internal(anyhow::anyhow!(e)))?,
                    "application/json",
                ),
            };
            s.public.put(key, body, kind)
        }
    };
    cached_response(&headers, cached)
}

/// A cached public answer: 304 when the client has it, else the body with its ETag.
pub(crate) fn cached_response(
    headers: &HeaderMap,
    c: crate::public_cache::Cached,
) -> Result<Response, Error> {
    let etag = HeaderValue::from_str(&c.etag).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
    let cache = HeaderValue::from_static("public, max-age=60");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == c.etag || t.trim() == "*"));
    if matches {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(c.content_type),
            ),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        c.body,
    )
        .into_response())
}
