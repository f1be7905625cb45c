//! Turnaround against the deadline: a tube's timeline, the at-risk list, the capacity view and
//! the report (JSON, CSV, XLSX).

use super::AppState;
use super::Reader;
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::turnaround::{self, AtRiskFilter, CapacityFilter};
use crate::service::turnaround_report::{self as report, Report, ReportFilter};
use crate::view::turnaround::{AtRiskItem, CapacityView, TimelineView};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timeline))
        .routes(routes!(at_risk))
        .routes(routes!(capacity))
        .routes(routes!(get_report))
}

/// A tube's timeline: every step's time, the deadline, the stage it is in, minutes per stage.
#[utoipa::path(get, path = "/tubes/{barcode}/timeline", tag = "turnaround",
    params(("barcode" = String, Path)),
    responses((status = 200, body = TimelineView), (status = 404, body = ErrorBody)))]
async fn timeline(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(barcode): Path<String>,
) -> Result<Json<TimelineView>, Error> {
    let timeline = turnaround::timeline(&mut conn, &actor, &barcode).await?;
    Ok(Json(timeline.view(s.tz)))
}

/// Tubes not yet released and re-sample orders not yet answered that will miss their
/// deadline within the margin (default 2 h) or already have, most urgent first, each with
/// the stage it is stuck in.
#[utoipa::path(get, path = "/turnaround/at-risk", tag = "turnaround", params(super::paging::Paging, AtRiskFilter),
    responses((status = 200, body = Vec<AtRiskItem>), (status = 422, body = ErrorBody)))]
async fn at_risk(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<AtRiskFilter>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let (tz, today) = (s.tz, s.today());
    let items = turnaround::at_risk(&mut conn, &actor, &f).await?;
    super::paging::page(
        items.iter().map(|i| i.view(tz, today)).collect::<Vec<_>>(),
        &paging,
    )
}

/// Tubes waiting against the plates the lab can still run before the oldest deadline, and
/// the breaches forecast at the current rate and at full capacity.
#[utoipa::path(get, path = "/turnaround/capacity", tag = "turnaround", params(CapacityFilter),
    responses((status = 200, body = CapacityView), (status = 422, body = ErrorBody)))]
async fn capacity(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<CapacityFilter>,
) -> Result<Json<CapacityView>, Error> {
    let load = turnaround::capacity(&mut conn, &actor, &f).await?;
    Ok(Json(load.view(s.tz)))
}

/// The turnaround report for a period (tubes whose deadline clock started in it): counts,
/// share released within the deadline, median/p90/p99 turnaround, minutes per stage,
/// breaches by stage — in total, by day and by hour in the lab's local time.
#[utoipa::path(get, path = "/turnaround/report", tag = "turnaround", params(ReportFilter),
    responses((status = 200, description = "the report, as JSON, CSV or XLSX (format or Accept)", content(
            (Report = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 422, body = ErrorBody)))]
async fn get_report(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<ReportFilter>,
) -> Result<Response, Error> {
    // One snapshot for the rollup and the live tubes.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let r = report::report(&mut tx, &actor, &f, s.tz, s.today()).await?;
    tx.commit().await?;
    let name = format!("turnaround-{}", r.from.date_naive());
    Ok(match f.format.as_deref().unwrap_or("json") {
        "json" => Json(r).into_response(),
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.csv\""),
                ),
            ],
            report::csv(&r)?,
        )
            .into_response(),
        "xlsx" => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}.xlsx\""),
                ),
            ],
            report::xlsx(&r)?,
        )
            .into_response(),
        other => {
            return Err(Error::invalid(
                "format",
                format!("unknown format {other:?}: json, csv or xlsx"),
            ))
        }
    })
}
