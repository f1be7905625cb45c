//! Labs, collection sites and institutions.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::registry::{self, Institution, Lab, LabInput, Site, SiteInput};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_labs, create_lab))
        .routes(routes!(get_lab, update_lab))
        .routes(routes!(list_sites, create_site))
        .routes(routes!(get_site))
        .routes(routes!(list_institutions, create_institution))
}

/// The testing labs: the public list (name, address, price, contact, opening hours, accreditation).
#[utoipa::path(get, path = "/labs", params(super::paging::Paging), tag = "registry", security(()), responses((status = 200, body = Vec<Lab>)))]
async fn list_labs(
    State(s): State<AppState>,
    mut conn: Reader,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<Response, Error> {
    super::paging::page(registry::list_labs(&mut conn, s.today()).await?, &paging)
}

/// Registers a lab.
#[utoipa::path(post, path = "/labs", tag = "registry", request_body = LabInput,
    responses((status = 201, body = Lab), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_lab(
    State(s): State<AppState>,
    change: Change,
    Json(input): Json<LabInput>,
) -> Result<Response, Error> {
    let today = s.today();
    let r = change
        .run(StatusCode::CREATED, move |tx| {
            Box::pin(registry::create_lab(tx, input.clone(), today))
        })
        .await;
    s.public.clear();
    r
}

/// One lab.
#[utoipa::path(get, path = "/labs/{code}", tag = "registry", security(()), params(("code" = String, Path)),
    responses((status = 200, body = Lab), (status = 404, body = ErrorBody)))]
async fn get_lab(
    State(s): State<AppState>,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<Lab>, Error> {
    Ok(Json(registry::find_lab(&mut conn, &code, s.today()).await?))
}

/// Updates a lab's registration (prices, hours, accreditation…); the code stays.
#[utoipa::path(put, path = "/labs/{code}", tag = "registry", params(("code" = String, Path)), request_body = LabInput,
    responses((status = 200, body = Lab), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_lab(
    State(s): State<AppState>,
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<LabInput>,
) -> Result<Response, Error> {
    let today = s.today();
    let r = change
        .run(StatusCode::OK, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { registry::update_lab(tx, &code, input, today).await })
        })
        .await;
    // What the public list shows of the lab may have changed.
    s.public.clear();
    r
}

/// Collection sites.
#[utoipa::path(get, path = "/sites", params(super::paging::Paging), tag = "registry", responses((status = 200, body = Vec<Site>)))]
async fn list_sites(
    mut conn: Reader,
    _actor: Actor,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<Response, Error> {
    super::paging::page(registry::list_sites(&mut conn).await?, &paging)
}

/// Registers a collection site with its pool sizes and barcode policy.
#[utoipa::path(post, path = "/sites", tag = "registry", request_body = SiteInput,
    responses((status = 201, body = Site), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_site(change: Change, Json(input): Json<SiteInput>) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            Box::pin(registry::create_site(tx, input.clone()))
        })
        .await
}

/// One collection site.
#[utoipa::path(get, path = "/sites/{code}", tag = "registry", params(("code" = String, Path)),
    responses((status = 200, body = Site), (status = 404, body = ErrorBody)))]
async fn get_site(
    mut conn: Reader,
    _actor: Actor,
    Path(code): Path<String>,
) -> Result<Json<Site>, Error> {
    Ok(Json(registry::find_site(&mut conn, &code).await?))
}

/// Institutions whose staff are tested routinely.
#[utoipa::path(get, path = "/institutions", params(super::paging::Paging), tag = "registry", responses((status = 200, body = Vec<Institution>)))]
async fn list_institutions(
    mut conn: Reader,
    _actor: Actor,
    axum::extract::Query(paging): axum::extract::Query<super::paging::Paging>,
) -> Result<Response, Error> {
    super::paging::page(registry::list_institutions(&mut conn).await?, &paging)
}

/// Registers an institution.
#[utoipa::path(post, path = "/institutions", tag = "registry", request_body = Institution,
    responses((status = 201, body = Institution), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_institution(
    change: Change,
    Json(input): Json<Institution>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            Box::pin(registry::create_institution(tx, input.clone()))
        })
        .await
}
