//! Plates: create, scan tubes into wells, propose a layout, upload instrument results, read.

use super::{AppState, Change, Reader};
use crate::actor::Actor;
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::imports::{self, Upload};
use crate::service::plates::{self, AssignWell, NewPlate, Placed, PlateFilter};
use crate::view::import::ImportView;
use crate::view::plate::{PlateSummary, PlateView, Proposal};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_plates, create_plate))
        .routes(routes!(get_plate))
        .routes(routes!(assign_well))
        .routes(routes!(unassign_well))
        .routes(routes!(proposal))
        .routes(routes!(fill))
        .routes(routes!(list_imports, upload))
        .routes(routes!(preview))
        .routes(routes!(raw_file))
        .layer(DefaultBodyLimit::max(imports::MAX_FILE_BYTES * 2))
}

/// Creates a plate for a lab with a kit; its negative and positive controls are placed in the
/// last two wells.
#[utoipa::path(post, path = "/plates", tag = "bench", request_body = NewPlate,
    responses((status = 201, body = PlateView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_plate(
    State(s): State<AppState>,
    change: Change,
    Json(req): Json<NewPlate>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::CREATED, move |tx| {
            let req = req.clone();
            Box::pin(async move { Ok(plates::create(tx, req).await?.view(tz)) })
        })
        .await
}

/// Plates, newest first.
#[utoipa::path(get, path = "/plates", tag = "bench", params(super::paging::Paging, PlateFilter),
    responses((status = 200, body = Vec<PlateSummary>)))]
async fn list_plates(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Query(f): Query<PlateFilter>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let rows = plates::list(&mut conn, &actor, &f).await?;
    super::paging::page(
        rows.iter().map(|p| p.summary(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

/// A plate with every used well, its tube and the newest automatic call.
#[utoipa::path(get, path = "/plates/{plate}", tag = "bench",
    params(("plate" = String, Path, description = "id or run number")),
    responses((status = 200, body = PlateView), (status = 404, body = ErrorBody)))]
async fn get_plate(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(plate): Path<String>,
) -> Result<Json<PlateView>, Error> {
    Ok(Json(
        plates::find(&mut conn, &actor, &plate).await?.view(s.tz),
    ))
}

/// Scans a tube into a well (or the next free one). The tube must have been received at the
/// plate's lab and not be waiting on another plate.
#[utoipa::path(post, path = "/plates/{plate}/wells", tag = "bench",
    params(("plate" = String, Path)), request_body = AssignWell,
    responses((status = 200, body = Placed),
              (status = 409, description = "well occupied or a control well, tube on another plate, not received, plate has results", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn assign_well(
    change: Change,
    Path(plate): Path<String>,
    Json(req): Json<AssignWell>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let (plate, req) = (plate.clone(), req.clone());
            Box::pin(async move { plates::assign(tx, &plate, req).await })
        })
        .await
}

/// Takes a tube out of a well (a mis-scan), before results are imported.
#[utoipa::path(delete, path = "/plates/{plate}/wells/{well}", tag = "bench",
    params(("plate" = String, Path), ("well" = String, Path)),
    responses((status = 200, body = PlateView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn unassign_well(
    State(s): State<AppState>,
    change: Change,
    Path((plate, well)): Path<(String, String)>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let (plate, well) = (plate.clone(), well.clone());
            Box::pin(async move { Ok(plates::unassign(tx, &plate, &well).await?.view(tz)) })
        })
        .await
}

/// How the free wells would be filled from the tubes waiting at the lab: re-checks first, then
/// the earliest deadline.
#[utoipa::path(get, path = "/plates/{plate}/proposal", tag = "bench", params(("plate" = String, Path)),
    responses((status = 200, body = Proposal), (status = 404, body = ErrorBody)))]
async fn proposal(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(plate): Path<String>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        plates::propose(&mut conn, &actor, &plate).await?.view(s.tz),
    ))
}

/// Fills the free wells as proposed.
#[utoipa::path(post, path = "/plates/{plate}/fill", tag = "bench", params(("plate" = String, Path)),
    responses((status = 200, body = PlateView), (status = 409, body = ErrorBody)))]
async fn fill(
    State(s): State<AppState>,
    change: Change,
    Path(plate): Path<String>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let plate = plate.clone();
            Box::pin(async move { Ok(plates::fill(tx, &plate).await?.view(tz)) })
        })
        .await
}

/// Every import of a plate, oldest first.
#[utoipa::path(get, path = "/plates/{plate}/imports", tag = "bench", params(super::paging::Paging, ("plate" = String, Path)),
    responses((status = 200, body = Vec<ImportView>), (status = 404, body = ErrorBody)))]
async fn list_imports(
    State(s): State<AppState>,
    actor: Actor,
    mut conn: Reader,
    Path(plate): Path<String>,
    Query(paging): Query<super::paging::Paging>,
) -> Result<Response, Error> {
    let imports = imports::list(&mut conn, &actor, &plate).await?;
    super::paging::page(
        imports.iter().map(|i| i.view(s.tz)).collect::<Vec<_>>(),
        &paging,
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct UploadQuery {
    /// The file's name, for a body that is the file itself.
    file_name: Option<String>,
    /// Import files that look like another run's or a cut one anyway, for this reason
    /// (audited); also accepted as a multipart text field of that name.
    override_reason: Option<String>,
}

/// What an upload carries: the files, and a reason to import doubted ones anyway.
pub(crate) struct Uploaded {
    pub(crate) files: Vec<Upload>,
    pub(crate) override_reason: Option<String>,
}

/// The uploaded files: the body itself (any content type but multipart), or every file part of
/// a multipart/form-data body (a part named `override_reason` without a file name is the
/// reason, not a file).
pub(crate) async fn uploads(req: Request, file_name: Option<String>) -> Result<Uploaded, Error> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|e| Error::malformed(format!("reading the upload: {e}")))?;
        return Ok(Uploaded {
            files: vec![Upload {
                name: file_name.unwrap_or_else(|| "upload".into()),
                bytes: bytes.to_vec(),
            }],
            override_reason: None,
        });
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| Error::malformed(format!("reading the multipart body: {e}")))?;
    let mut out = vec![];
    let mut override_reason = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Error::malformed(format!("reading the multipart body: {e}")))?
    {
        if field.file_name().is_none() && field.name() == Some(imports::OVERRIDE_FIELD) {
            let text = field
                .text()
                .await
                .map_err(|e| Error::malformed(format!("reading override_reason: {e}")))?;
            override_reason = Some(text);
            continue;
        }
        let name = field
            .file_name()
            .map(String::from)
            .or_else(|| field.name().map(String::from))
            .unwrap_or_else(|| format!("part {}", out.len() + 1));
        let bytes = field
            .bytes()
            .await
            .map_err(|e| Error::malformed(format!("reading part {name}: {e}")))?;
        out.push(Upload {
            name,
            bytes: bytes.to_vec(),
        });
    }
    Ok(Uploaded {
        files: out,
        override_reason,
    })
}

/// Uploads an instrument's result file(s) for a plate — the file as the body, or several as
/// multipart (a LightCycler exports one file per channel: upload them together). Everything is
/// checked first; then all wells are written or none. The same files again change nothing
/// (200, `duplicate: true`); other files make a new round of calls (201) and keep the old ones.
#[utoipa::path(post, path = "/plates/{plate}/imports", tag = "bench",
    params(("plate" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "an instrument export, or multipart/form-data with one or more files"),
    responses((status = 201, body = ImportView), (status = 200, description = "already imported", body = ImportView),
              (status = 422, description = "unreadable file (named with line and column), or files that contradict the layout", body = ErrorBody),
              (status = 409, description = "a file of another plate", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn upload(
    State(s): State<AppState>,
    actor: Actor,
    Path(plate): Path<String>,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Result<Response, Error> {
    let (read, reason) =
        read_upload(&s, &actor, &plate, q.file_name, q.override_reason, req).await?;
    let imported = import_read(&s, &actor, &plate, read, reason).await?;
    let status = if imported.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(imported.view(s.tz))).into_response())
}

/// Imports files already read, in one write transaction.
pub(crate) async fn import_read(
    s: &AppState,
    actor: &Actor,
    plate: &str,
    read: imports::ReadFiles,
    reason: Option<String>,
) -> Result<crate::view::import::Imported, Error> {
    let read = std::sync::Arc::new(read);
    let plate = plate.to_string();
    s.store
        .execute(
            actor,
            crate::store::change(move |tx| {
                let (plate, read, reason) = (plate.clone(), read.clone(), reason.clone());
                Box::pin(async move { imports::import(tx, &plate, read, reason).await })
            }),
        )
        .await
}

/// Reads an upload for a plate the actor may run (no database write): the files, and the
/// reason to import doubted ones anyway.
pub(crate) async fn read_upload(
    s: &AppState,
    actor: &Actor,
    plate: &str,
    file_name: Option<String>,
    reason: Option<String>,
    req: Request,
) -> Result<(imports::ReadFiles, Option<String>), Error> {
    let size = {
        let mut conn = s.store.reader().acquire().await?;
        plates::visible_for(
            &mut conn,
            actor,
            plate,
            crate::domain::policy::Action::RunPlates,
        )
        .await?
        .size()
    };
    let Uploaded {
        files,
        override_reason,
    } = uploads(req, file_name).await?;
    let reason = override_reason.or(reason);
    let read = tokio::task::spawn_blocking(move || imports::read_files(files, Some(size), &[]))
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("reading the files: {e}")))??;
    Ok((read, reason))
}

/// What importing these files would do, checked exactly as an import checks them, with nothing
/// written: the format read, the run's validity, each tube's call, missing and unexpected
/// wells, and the doubts an import would need `override_reason` for (`round` is 0). Files
/// imported before answer that import, `duplicate: true`.
#[utoipa::path(post, path = "/plates/{plate}/imports/preview", tag = "bench",
    params(("plate" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "an instrument export, or multipart/form-data with one or more files"),
    responses((status = 200, body = ImportView),
              (status = 422, description = "unreadable file (named with line and column), or files that contradict the layout", body = ErrorBody),
              (status = 409, description = "a file of another plate", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn preview(
    State(s): State<AppState>,
    actor: Actor,
    Path(plate): Path<String>,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Result<Json<ImportView>, Error> {
    let (read, _) = read_upload(&s, &actor, &plate, q.file_name, None, req).await?;
    let mut conn = s.store.reader().acquire().await?;
    let previewed = imports::preview(&mut conn, &actor, &plate, &read).await?;
    Ok(Json(previewed.view(s.tz)))
}

/// A kept result file, byte for byte, as it was imported (`n` counts from 1).
#[utoipa::path(get, path = "/plates/{plate}/imports/{round}/files/{n}", tag = "bench",
    params(("plate" = String, Path), ("round" = u32, Path), ("n" = u32, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = ErrorBody)))]
async fn raw_file(
    actor: Actor,
    mut conn: Reader,
    Path((plate, round, n)): Path<(String, u32, u32)>,
) -> Result<Response, Error> {
    let (name, bytes) = imports::raw_file(&mut conn, &actor, &plate, round, n).await?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
