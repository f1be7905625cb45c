//! Review and release, re-checks, results and person status, CDC confirmation.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::cdc::{self, Ruling};
use crate::service::rechecks::{self, RecheckFilter};
use crate::service::results::{self, Amend};
use crate::service::review::{self, BulkRelease, Decide, QueueFilter};
use crate::view::cdc::CdcItem;
use crate::view::recheck::RecheckItem;
use crate::view::result::{ResultView, StatusView};
use crate::view::review::{AttemptView, DecisionView, ReviewItem};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(review_queue))
        .routes(routes!(decide))
        .routes(routes!(release_negatives))
        .routes(routes!(redo_invalid_run))
        .routes(routes!(recheck_list))
        .routes(routes!(returned))
        .routes(routes!(amend))
        .routes(routes!(person_status))
        .routes(routes!(person_results))
        .routes(routes!(tube_results))
        .routes(routes!(tube_attempts))
        .routes(routes!(cdc_queue))
        .routes(routes!(cdc_breaches))
        .routes(routes!(cdc_confirm))
        .routes(routes!(cdc_reject))
}

/// Called attempts awaiting a reviewer, most urgent first, each with the rules' suggestion.
#[utoipa::path(get, path = "/review", tag = "review", params(super::paging::Paging, QueueFilter),
    responses((status = 200, body = Vec<ReviewItem>)))]
async fn review_queue(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<QueueFilter>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let cases = review::queue(&mut conn, &actor, &f).await?;
    super::paging::page(
        cases.iter().map(|c| c.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Decides on one attempt: release (negative, positive, or for a pool inconclusive), re-test,
/// re-extract, re-run or re-sample. A reason is required when departing from the suggestion;
/// the technician who ran the plate may not decide.
#[utoipa::path(post, path = "/attempts/{attempt}/decision", tag = "review",
    params(("attempt" = i64, Path)), request_body = Decide,
    responses((status = 200, body = DecisionView),
              (status = 403, description = "own work (two-person review)", body = ErrorBody),
              (status = 409, description = "not awaiting review", body = ErrorBody),
              (status = 422, description = "reason required, release from an invalid run, …", body = ErrorBody)))]
async fn decide(
    State(s): State<AppState>,
    change: Change,
    Path(attempt): Path<i64>,
    Json(req): Json<Decide>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let req = req.clone();
            Box::pin(async move { Ok(review::decide(tx, attempt, req).await?.view(tz)) })
        })
        .await
}

/// Releases every clean negative of a valid run on a plate; the rest stays for one-by-one
/// review.
#[utoipa::path(post, path = "/plates/{plate}/release-negatives", tag = "review",
    params(("plate" = String, Path)),
    responses((status = 200, body = BulkRelease), (status = 403, body = ErrorBody)))]
async fn release_negatives(change: Change, Path(plate): Path<String>) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let plate = plate.clone();
            Box::pin(async move { review::release_negatives(tx, &plate).await })
        })
        .await
}

/// Decides every tube of a plate whose run failed its controls at once: run again (the
/// suggestion), extract again or test again — one audited step with each tube's decision under
/// it. Each tube is checked as alone; one refusal (named by its tube) refuses them all.
#[utoipa::path(post, path = "/plates/{plate}/redo-invalid-run", tag = "review",
    params(("plate" = String, Path)), request_body = review::RedoRun,
    responses((status = 200, body = review::BulkRedo),
              (status = 403, description = "not a reviewer, or own work", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "no tube awaits review on a failed run", body = ErrorBody),
              (status = 422, description = "not rerun/reextract/retest, or a reason required", body = ErrorBody)))]
async fn redo_invalid_run(
    change: Change,
    Path(plate): Path<String>,
    Json(req): Json<review::RedoRun>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let (plate, req) = (plate.clone(), req.clone());
            Box::pin(async move { review::redo_invalid_run(tx, &plate, req).await })
        })
        .await
}

/// Members of positive and inconclusive pools and their single-tube re-checks.
#[utoipa::path(get, path = "/rechecks", tag = "review", params(super::paging::Paging, RecheckFilter),
    responses((status = 200, body = Vec<RecheckItem>)))]
async fn recheck_list(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<RecheckFilter>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    let items = rechecks::list(&mut conn, &actor, &f).await?;
    super::paging::page(
        items.iter().map(|r| r.view(tz, today)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Positives the CDC rejected, with its reasons (the lab's own).
#[utoipa::path(get, path = "/results/returned", params(super::paging::Paging), tag = "review",
    responses((status = 200, body = Vec<CdcItem>)))]
async fn returned(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let items = cdc::returned(&mut conn, &actor).await?;
    super::paging::page(
        items.iter().map(|c| c.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Amends a released result (reviewers): a new version with the reason; the old stays.
#[utoipa::path(post, path = "/results/{result}/amend", tag = "review",
    params(("result" = i64, Path)), request_body = Amend,
    responses((status = 200, body = ResultView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn amend(
    State(s): State<AppState>,
    change: Change,
    Path(result): Path<i64>,
    Json(req): Json<Amend>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let req = req.clone();
            Box::pin(async move { Ok(results::amend(tx, result, req).await?.view(tz)) })
        })
        .await
}

/// A person's current status (what the health-code push carries), with its results.
#[utoipa::path(get, path = "/persons/{id}/status", tag = "review", params(("id" = String, Path)),
    responses((status = 200, body = StatusView), (status = 404, body = ErrorBody)))]
async fn person_status(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(id): Path<String>,
) -> Result<Json<StatusView>, Error> {
    let status = results::status(&mut conn, &actor, &id).await?;
    Ok(Json(status.view(s.tz, s.today())))
}

/// Every version of every result of a person, newest first.
#[utoipa::path(get, path = "/persons/{id}/results", tag = "review", params(super::paging::Paging, ("id" = String, Path)),
    responses((status = 200, body = Vec<ResultView>), (status = 404, body = ErrorBody)))]
async fn person_results(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(id): Path<String>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let results = results::history(&mut conn, &actor, &id).await?;
    super::paging::page(
        results.iter().map(|r| r.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Every version of the results of a tube.
#[utoipa::path(get, path = "/tubes/{barcode}/results", tag = "review", params(super::paging::Paging, ("barcode" = String, Path)),
    responses((status = 200, body = Vec<ResultView>), (status = 404, body = ErrorBody)))]
async fn tube_results(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(barcode): Path<String>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let results = results::of_tube(&mut conn, &actor, &barcode).await?;
    super::paging::page(
        results.iter().map(|r| r.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Positives awaiting the CDC in the reviewer's region, with the 2-hour report clock.
#[utoipa::path(get, path = "/cdc/queue", params(super::paging::Paging), tag = "cdc", responses((status = 200, body = Vec<CdcItem>)))]
async fn cdc_queue(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let items = cdc::queue(&mut conn, &actor).await?;
    super::paging::page(
        items.iter().map(|c| c.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Positives whose 2-hour report clock ran out before the CDC ruled.
#[utoipa::path(get, path = "/cdc/breaches", params(super::paging::Paging), tag = "cdc", responses((status = 200, body = Vec<CdcItem>)))]
async fn cdc_breaches(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let items = cdc::breaches(&mut conn, &actor).await?;
    super::paging::page(
        items.iter().map(|c| c.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Confirms a positive: final.
#[utoipa::path(post, path = "/cdc/results/{result}/confirm", tag = "cdc",
    params(("result" = i64, Path)), request_body = Ruling,
    responses((status = 200, body = CdcItem), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn cdc_confirm(
    State(s): State<AppState>,
    change: Change,
    Path(result): Path<i64>,
    Json(req): Json<Ruling>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let req = req.clone();
            Box::pin(async move { Ok(cdc::rule(tx, result, true, req).await?.view(tz)) })
        })
        .await
}

/// Rejects a positive with a reason: back to the lab, the person re-checked.
#[utoipa::path(post, path = "/cdc/results/{result}/reject", tag = "cdc",
    params(("result" = i64, Path)), request_body = Ruling,
    responses((status = 200, body = CdcItem), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn cdc_reject(
    State(s): State<AppState>,
    change: Change,
    Path(result): Path<i64>,
    Json(req): Json<Ruling>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let req = req.clone();
            Box::pin(async move { Ok(cdc::rule(tx, result, false, req).await?.view(tz)) })
        })
        .await
}

/// Every attempt of a tube: run, well, attempt, extraction and re-collection numbers, the
/// automatic call and the reviewer's decision.
#[utoipa::path(get, path = "/tubes/{barcode}/attempts", tag = "review", params(super::paging::Paging, ("barcode" = String, Path)),
    responses((status = 200, body = Vec<AttemptView>), (status = 404, body = ErrorBody)))]
async fn tube_attempts(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(barcode): Path<String>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let attempts = review::attempts(&mut conn, &actor, &barcode).await?;
    super::paging::page(
        attempts.iter().map(|a| a.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}
