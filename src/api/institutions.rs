//! An institution's routine testing: its staff classes, rosters (preview, apply), the ledger
//! (台账, JSON or XLSX); a region's compliance; the testing programmes.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::cohorts::{self, CohortInput, CohortMemberInput};
use crate::service::coverage::{self, PeriodQuery};
use crate::service::ledger::{self, LedgerQuery};
use crate::service::programmes::{self, ClassInput, Programme, StaffClass, VersionInput};
use crate::service::roster::{self, RosterFile, RosterOptions, RosterReport};
use crate::service::sessions::{self, SessionOrder};
use crate::view::cohort::{Cohort, CohortDetail};
use crate::view::coverage::{self as coverage_view, CoverageReport};
use crate::view::ledger::{Compliance, Ledger};
use crate::view::session::{GroupSession, GroupSessionDetail};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_classes, add_class))
        .routes(routes!(preview_roster))
        .routes(routes!(apply_roster))
        .routes(routes!(get_ledger))
        .routes(routes!(get_compliance))
        .routes(routes!(institution_coverage))
        .routes(routes!(region_coverage))
        .routes(routes!(list_programmes))
        .routes(routes!(list_versions, add_version))
        .routes(routes!(list_sessions, order_session))
        .routes(routes!(get_session))
        .routes(routes!(session_sheet))
        .routes(routes!(site_sessions))
        .routes(routes!(list_cohorts, create_cohort))
        .routes(routes!(get_cohort))
        .routes(routes!(add_cohort_members))
        .routes(routes!(environment_plan))
        .routes(routes!(add_env_point))
        .layer(DefaultBodyLimit::max(roster::MAX_FILE_BYTES + (1 << 20)))
}

/// The staff classes an institution's roster may name, each with the programme it follows.
#[utoipa::path(get, path = "/institutions/{code}/classes", tag = "institutions",
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<StaffClass>), (status = 404, body = ErrorBody)))]
async fn list_classes(
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<Vec<StaffClass>>, Error> {
    Ok(Json(programmes::classes(&mut conn, &actor, &code).await?))
}

/// Adds a staff class of the institution's own, following a staff programme.
#[utoipa::path(post, path = "/institutions/{code}/classes", tag = "institutions",
    params(("code" = String, Path)), request_body = ClassInput,
    responses((status = 201, body = StaffClass), (status = 409, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_class(
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<ClassInput>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { programmes::add_class(tx, &code, input).await })
        })
        .await
}

/// The upload's name when the body is the file itself.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct FileName {
    /// The file's name (for messages), when the body is the file itself.
    file_name: Option<String>,
}

/// The roster in a request: the body itself, or the first file of a multipart form (read as
/// an instrument file upload is).
async fn roster_file(req: Request, file_name: Option<String>) -> Result<RosterFile, Error> {
    super::plates::uploads(req, file_name)
        .await?
        .files
        .into_iter()
        .next()
        .map(|u| RosterFile {
            name: u.name,
            bytes: u.bytes,
        })
        .ok_or_else(|| Error::invalid("file", "the form carries no file"))
}

/// What a roster (CSV in UTF-8 or GBK, or XLSX) would do, nothing written: every row's
/// problems with its line, the joins, class changes, leavers (`mode=full`) and the unchanged.
#[utoipa::path(post, path = "/institutions/{code}/roster/preview", tag = "institutions",
    params(("code" = String, Path), RosterOptions, FileName),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the roster file, or multipart/form-data with it"),
    responses((status = 200, body = RosterReport),
              (status = 422, description = "an unreadable file or missing columns", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn preview_roster(
    State(s): State<AppState>,
    actor: Actor,
    Path(code): Path<String>,
    Query(o): Query<RosterOptions>,
    Query(f): Query<FileName>,
    req: Request,
) -> Result<Json<RosterReport>, Error> {
    actor.require(crate::domain::policy::Action::ManageStaff)?;
    let file = roster_file(req, f.file_name).await?;
    let mut conn = s.store.reader().acquire().await?;
    Ok(Json(
        roster::preview(&mut conn, &actor, &code, &file, o, s.today()).await?,
    ))
}

/// Applies a roster in one transaction: refused whole (422, the first problems named) while
/// any row has a problem. Joins and leaves take effect on `effective_on`; applying the same
/// file again changes nothing (everyone unchanged).
#[utoipa::path(post, path = "/institutions/{code}/roster", tag = "institutions",
    params(("code" = String, Path), RosterOptions, FileName),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the roster file, or multipart/form-data with it"),
    responses((status = 200, body = RosterReport),
              (status = 422, description = "rows with problems, an unreadable file or missing columns", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn apply_roster(
    change: Change,
    Path(code): Path<String>,
    Query(o): Query<RosterOptions>,
    Query(f): Query<FileName>,
    req: Request,
) -> Result<Response, Error> {
    change
        .actor()
        .require(crate::domain::policy::Action::ManageStaff)?;
    let file = std::sync::Arc::new(roster_file(req, f.file_name).await?);
    change
        .run(StatusCode::OK, move |tx| {
            let (code, file) = (code.clone(), file.clone());
            Box::pin(async move { roster::apply(tx, &code, &file, o, None).await })
        })
        .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct Format {
    /// json (default) or xlsx
    format: Option<String>,
}

/// The institution's ledger (台账) today: every staff member (masked) with the last qualifying
/// negative, the day its cover ends, and the state — covered, due soon, overdue, never tested,
/// excluded (positive or pending re-check); counts over all. As JSON or XLSX.
#[utoipa::path(get, path = "/institutions/{code}/ledger", tag = "institutions",
    params(("code" = String, Path), LedgerQuery, Format),
    responses((status = 200, body = Ledger,
        content((Ledger = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_ledger(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
    Query(q): Query<LedgerQuery>,
    Query(f): Query<Format>,
) -> Result<Response, Error> {
    let l = ledger::ledger(&mut conn, &actor, &code, &q, s.tz, s.today()).await?;
    match f.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(l).into_response()),
        "xlsx" => Ok(workbook(
            &format!("ledger-{}-{}.xlsx", l.institution, l.today),
            crate::view::ledger::xlsx(&l),
        )?),
        other => Err(Error::invalid(
            "format",
            format!("unknown format {other:?}: json or xlsx"),
        )),
    }
}

/// A workbook as a download.
fn workbook(
    name: &str,
    built: Result<Vec<u8>, rust_xlsxwriter::XlsxError>,
) -> Result<Response, Error> {
    let bytes = built.map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct ReportFormat {
    /// json (default), xlsx (the days with a chart, and the institutions), or svg (a chart)
    format: Option<String>,
    /// With `format=svg`: `daily` (default: staff off duty per day and the share on duty) or
    /// `split` (the period's person-days by state).
    chart: Option<String>,
}

/// A compliance report in the format asked for.
fn coverage_response(r: CoverageReport, f: &ReportFormat) -> Result<Response, Error> {
    match f.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(r).into_response()),
        "xlsx" => {
            let who = r.institution.clone().unwrap_or_else(|| {
                if r.region.is_empty() {
                    "all".to_string()
                } else {
                    r.region.clone()
                }
            });
            workbook(
                &format!("compliance-{who}-{}-{}.xlsx", r.from, r.to),
                crate::view::coverage::xlsx(&r),
            )
        }
        "svg" => {
            let (daily, split) = coverage_view::charts(&r, &coverage_view::ChartWords::english());
            let svg = match f.chart.as_deref().unwrap_or("daily") {
                "daily" => daily,
                "split" => split,
                other => {
                    return Err(Error::invalid(
                        "chart",
                        format!("unknown chart {other:?}: daily or split"),
                    ))
                }
            };
            Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
        }
        other => Err(Error::invalid(
            "format",
            format!("unknown format {other:?}: json, xlsx or svg"),
        )),
    }
}

/// An institution's compliance report over a period (default the last 30 days, at most 92):
/// for each day the staff on its roster by state and the share who might work; person-days off
/// duty. Each day is judged by the ledger's rule from the samples taken up to it, by the
/// programmes' current versions. As JSON, XLSX (with a chart) or SVG.
#[utoipa::path(get, path = "/institutions/{code}/compliance", tag = "institutions",
    params(("code" = String, Path), PeriodQuery, ReportFormat),
    responses((status = 200, body = CoverageReport,
        content((CoverageReport = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "image/svg+xml"))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn institution_coverage(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
    Query(q): Query<PeriodQuery>,
    Query(f): Query<ReportFormat>,
) -> Result<Response, Error> {
    let r = coverage::institution(&mut conn, &actor, &code, &q, s.tz, s.today()).await?;
    coverage_response(r, &f)
}

/// A region's compliance report over a period: the days summed over its institutions, and
/// each institution's person-days, worst share first. As JSON, XLSX (with a chart) or SVG.
#[utoipa::path(get, path = "/compliance/period", tag = "institutions",
    params(RegionQuery, PeriodQuery, ReportFormat),
    responses((status = 200, body = CoverageReport,
        content((CoverageReport = "application/json"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "image/svg+xml"))),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn region_coverage(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(rq): Query<RegionQuery>,
    Query(q): Query<PeriodQuery>,
    Query(f): Query<ReportFormat>,
) -> Result<Response, Error> {
    let r = coverage::region(&mut conn, &actor, rq.region.as_deref(), &q, s.tz, s.today()).await?;
    coverage_response(r, &f)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct RegionQuery {
    /// A region code prefix (default: the inspector's own region; for admins, everywhere).
    region: Option<String>,
}

/// The routine-testing compliance of a region's institutions today: staff on duty, overdue,
/// never tested, excluded; the share off duty; institutions worst first.
#[utoipa::path(get, path = "/compliance", tag = "institutions", params(RegionQuery),
    responses((status = 200, body = Compliance), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_compliance(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(q): Query<RegionQuery>,
) -> Result<Json<Compliance>, Error> {
    Ok(Json(
        ledger::compliance(&mut conn, &actor, q.region.as_deref(), s.today()).await?,
    ))
}

/// The testing programmes, each as its newest version says it.
#[utoipa::path(get, path = "/programmes", tag = "institutions",
    responses((status = 200, body = Vec<Programme>)))]
async fn list_programmes(
    State(s): State<AppState>,
    _actor: Actor,
    mut conn: Reader,
) -> Result<Json<Vec<Programme>>, Error> {
    Ok(Json(programmes::list(&mut conn, s.tz).await?))
}

/// Every version of a programme, newest first.
#[utoipa::path(get, path = "/programmes/{code}/versions", tag = "institutions",
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<Programme>), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(s): State<AppState>,
    _actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<Vec<Programme>>, Error> {
    Ok(Json(programmes::versions(&mut conn, &code, s.tz).await?))
}

/// Adds the next version of a programme; every ledger line it judges is judged again by it in
/// the same transaction.
#[utoipa::path(post, path = "/programmes/{code}/versions", tag = "institutions",
    params(("code" = String, Path)), request_body = VersionInput,
    responses((status = 201, body = Programme), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_version(
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<VersionInput>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { Ok(programmes::add_version(tx, &code, input).await?.0) })
        })
        .await
}

/// Orders group testing: the institution's due staff (or overdue, a class, everyone) at a
/// collection site on a day. Each gets a personal code if they had none; a key population's
/// member is marked for a tube of their own.
#[utoipa::path(post, path = "/institutions/{code}/sessions", tag = "institutions",
    params(("code" = String, Path)), request_body = SessionOrder,
    responses((status = 201, body = GroupSession), (status = 404, body = ErrorBody),
              (status = 422, description = "nobody to order, an unknown site, a day out of range", body = ErrorBody)))]
async fn order_session(
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<SessionOrder>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { sessions::order(tx, &code, input).await })
        })
        .await
}

/// The institution's sessions, newest day first, each with how many are expected and came.
#[utoipa::path(get, path = "/institutions/{code}/sessions", tag = "institutions",
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<GroupSession>), (status = 404, body = ErrorBody)))]
async fn list_sessions(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<Vec<GroupSession>>, Error> {
    Ok(Json(sessions::list(&mut conn, &actor, &code, s.tz).await?))
}

/// One session: its people (masked, with their personal codes) and whether each came.
#[utoipa::path(get, path = "/institutions/{code}/sessions/{id}", tag = "institutions",
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = GroupSessionDetail), (status = 404, body = ErrorBody)))]
async fn get_session(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path((code, id)): Path<(String, i64)>,
) -> Result<Json<GroupSessionDetail>, Error> {
    Ok(Json(
        sessions::detail(&mut conn, &actor, &code, id, s.tz).await?,
    ))
}

/// The sheet of the session's personal QR codes to print (PDF, A4, twelve a page).
#[utoipa::path(get, path = "/institutions/{code}/sessions/{id}/sheet.pdf", tag = "institutions",
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = ErrorBody)))]
async fn session_sheet(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path((code, id)): Path<(String, i64)>,
) -> Result<Response, Error> {
    let (name, bytes) = sessions::sheet(&mut conn, &actor, &code, id, s.tz).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct OnQuery {
    /// The day (default: today).
    on: Option<chrono::NaiveDate>,
}

/// The group sessions expected at a collection site on a day, with each person (masked, with
/// their personal code and whether they must be tested singly) and who has not come yet.
#[utoipa::path(get, path = "/sites/{code}/sessions", tag = "institutions",
    params(("code" = String, Path), OnQuery),
    responses((status = 200, body = Vec<GroupSessionDetail>), (status = 404, body = ErrorBody)))]
async fn site_sessions(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
    Query(q): Query<OnQuery>,
) -> Result<Json<Vec<GroupSessionDetail>>, Error> {
    let on = q.on.unwrap_or_else(|| s.today());
    Ok(Json(
        sessions::at_site(&mut conn, &actor, &code, on, s.tz).await?,
    ))
}

/// The cohorts of the caller's region (close contacts, arrivals, discharged patients), newest
/// first, with how many are due today and how many missed a test.
#[utoipa::path(get, path = "/cohorts", tag = "institutions",
    responses((status = 200, body = Vec<Cohort>), (status = 403, body = ErrorBody)))]
async fn list_cohorts(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
) -> Result<Json<Vec<Cohort>>, Error> {
    Ok(Json(
        cohorts::list(&mut conn, &actor, s.tz, s.today()).await?,
    ))
}

/// Loads a cohort: its programme (a day schedule from each anchor, or spaced tests) and its
/// people with their anchors; people not yet registered are registered.
#[utoipa::path(post, path = "/cohorts", tag = "institutions", request_body = CohortInput,
    responses((status = 201, body = CohortDetail), (status = 409, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_cohort(change: Change, Json(input): Json<CohortInput>) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            let input = input.clone();
            Box::pin(async move { cohorts::create(tx, input).await })
        })
        .await
}

/// A cohort: each person (masked) with the windows of their schedule — done, due, missed,
/// upcoming — or their spaced tests.
#[utoipa::path(get, path = "/cohorts/{code}", tag = "institutions", params(("code" = String, Path)),
    responses((status = 200, body = CohortDetail), (status = 404, body = ErrorBody)))]
async fn get_cohort(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
) -> Result<Json<CohortDetail>, Error> {
    Ok(Json(
        cohorts::detail(&mut conn, &actor, &code, s.tz, s.today()).await?,
    ))
}

/// Adds people to a cohort (one already in it keeps their first anchor).
#[utoipa::path(post, path = "/cohorts/{code}/members", tag = "institutions", params(("code" = String, Path)),
    request_body = Vec<CohortMemberInput>,
    responses((status = 200, body = CohortDetail), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_cohort_members(
    change: Change,
    Path(code): Path<String>,
    Json(members): Json<Vec<CohortMemberInput>>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let (code, members) = (code.clone(), members.clone());
            Box::pin(async move { cohorts::add_members(tx, &code, members).await })
        })
        .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct PlanQuery {
    /// The day to judge (default today; up to 60 days ahead).
    on: Option<chrono::NaiveDate>,
}

/// The institution's environment plan: each sampling point covered, due soon, overdue or never
/// swabbed by its programme's frequency, and an alert for each positive swab with the point,
/// its lot and the staff to test.
#[utoipa::path(get, path = "/institutions/{code}/environment", tag = "institutions",
    params(("code" = String, Path), PlanQuery),
    responses((status = 200, body = crate::service::environment::Plan), (status = 404, body = ErrorBody)))]
async fn environment_plan(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(code): Path<String>,
    Query(q): Query<PlanQuery>,
) -> Result<Json<crate::service::environment::Plan>, Error> {
    Ok(Json(
        crate::service::environment::plan(&mut conn, &actor, &code, q.on, s.tz, s.today()).await?,
    ))
}

/// Registers a sampling point of the institution (an environment tube names it in
/// `description.point`).
#[utoipa::path(post, path = "/institutions/{code}/environment/points", tag = "institutions",
    params(("code" = String, Path)), request_body = crate::service::environment::PointInput,
    responses((status = 201, body = crate::service::environment::Point), (status = 409, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_env_point(
    change: Change,
    Path(code): Path<String>,
    Json(input): Json<crate::service::environment::PointInput>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::CREATED, move |tx| {
            let (code, input) = (code.clone(), input.clone());
            Box::pin(async move { crate::service::environment::add_point(tx, &code, input).await })
        })
        .await
}
