//! A person's own results and certificates (no login): the lookup with its second factor and
//! lockout, the access that expires, certificates of negatives as PDF, the published keys, and
//! verification of a scanned certificate; for staff, revoking a certificate and rotating or
//! revoking the signing key.

use super::{peer_address, AppState, Change, Reader};
use crate::error::{Error, ErrorBody};
use crate::json::Json;
use crate::service::certificate::{
    self, CertificateInfo, IssueInput, KeyList, Reason, Verification, VerifyInput,
};
use crate::service::enrolment::public_actor;
use crate::service::lookup::{self, LookupInput, MyResults};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(look_up))
        .routes(routes!(read))
        .routes(routes!(issue))
        .routes(routes!(pdf))
        .routes(routes!(keys))
        .routes(routes!(verify))
        .routes(routes!(rotate))
        .routes(routes!(revoke_key))
        .routes(routes!(revoke))
}

/// Looks up one's own results (no login): document number, the phone's last four digits, and
/// one's personal code or booking code. Five failures on a document within an hour lock it for
/// an hour (423, with whom to call); twenty failures from an address, and it waits (429). A
/// match opens an access for 30 minutes.
#[utoipa::path(post, path = "/public/lookup", tag = "public", security(()),
    request_body = LookupInput,
    responses((status = 200, body = MyResults), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 423, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn look_up(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Json(input): Json<LookupInput>,
) -> Result<Json<MyResults>, Error> {
    Ok(Json(open(&s, &peer_address(peer), input).await?))
}

/// Runs a lookup (the API's and the page's): failures are committed as attempts, then answered.
pub(crate) async fn open(
    s: &AppState,
    address: &str,
    input: LookupInput,
) -> Result<MyResults, Error> {
    let actor = public_actor(address);
    let address = address.to_string();
    let outcome = s
        .store
        .execute(
            &actor,
            crate::store::change(move |tx| {
                let (input, address) = (input.clone(), address.clone());
                Box::pin(async move { lookup::look_up(tx, &input, &address).await })
            }),
        )
        .await?;
    outcome.answer(s.tz)
}

/// One's results again through an open access (no login); 410 once it has expired.
#[utoipa::path(get, path = "/public/lookup/{access}", tag = "public", security(()),
    params(("access" = String, Path)),
    responses((status = 200, body = MyResults), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn read(
    State(s): State<AppState>,
    mut conn: Reader,
    Path(access): Path<String>,
) -> Result<Json<MyResults>, Error> {
    Ok(Json(lookup::read(&mut conn, &access, s.tz).await?))
}

/// The certificate of one of one's current negatives (issued once; asked again, the same).
#[utoipa::path(post, path = "/public/lookup/{access}/certificates", tag = "public", security(()),
    params(("access" = String, Path)), request_body = IssueInput,
    responses((status = 200, body = CertificateInfo), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn issue(
    State(s): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path(access): Path<String>,
    Json(input): Json<IssueInput>,
) -> Result<Json<CertificateInfo>, Error> {
    Ok(Json(
        issue_for(&s, &peer_address(peer), access, input).await?,
    ))
}

/// Issues a certificate through an access (the API's and the page's).
pub(crate) async fn issue_for(
    s: &AppState,
    address: &str,
    access: String,
    input: IssueInput,
) -> Result<CertificateInfo, Error> {
    s.store
        .execute(
            &public_actor(address),
            crate::store::change(move |tx| {
                let (access, input) = (access.clone(), input.clone());
                Box::pin(async move { certificate::issue(tx, &access, &input).await })
            }),
        )
        .await
}

/// The certificate as a PDF (A5, its QR code the signed payload).
#[utoipa::path(get, path = "/public/lookup/{access}/certificates/{id}/pdf", tag = "public", security(()),
    params(("access" = String, Path), ("id" = String, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 410, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn pdf(
    State(s): State<AppState>,
    Path((access, id)): Path<(String, String)>,
) -> Result<Response, Error> {
    pdf_response(&s, &access, &id).await
}

/// The certificate's PDF as a download (the API's and the page's).
pub(crate) async fn pdf_response(s: &AppState, access: &str, id: &str) -> Result<Response, Error> {
    let mut conn = s.store.reader().acquire().await?;
    let bytes = certificate::pdf(
        &mut conn,
        s.store.audit_key(),
        access,
        id,
        (s.tz, "/verify"),
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"certificate-{id}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The keys certificates are signed with, as JWK (no login): verify a certificate offline
/// against them. Retired keys stay listed (what they signed still holds); revoked ones are
/// marked.
#[utoipa::path(get, path = "/public/keys", tag = "public", security(()),
    responses((status = 200, body = KeyList),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn keys(State(s): State<AppState>, mut conn: Reader) -> Result<Json<KeyList>, Error> {
    Ok(Json(certificate::keys(&mut conn, s.tz).await?))
}

/// Verifies a scanned certificate (no login): its signature, then whether it still stands
/// (valid, expired, superseded by an amendment, revoked).
#[utoipa::path(post, path = "/public/verify", tag = "public", security(()),
    request_body = VerifyInput,
    responses((status = 200, body = Verification), (status = 422, body = ErrorBody),
              (status = 429, description = "too many requests from this address", body = ErrorBody)))]
async fn verify(
    State(s): State<AppState>,
    mut conn: Reader,
    Json(input): Json<VerifyInput>,
) -> Result<Json<Verification>, Error> {
    Ok(Json(
        certificate::verify(&mut conn, &input.payload, s.tz).await?,
    ))
}

/// Rotates the certificate signing key (an administrator): the next generation signs from now
/// on; earlier ones are retired and still verify.
#[utoipa::path(post, path = "/certificate-keys/rotate", tag = "certificates",
    responses((status = 200, body = KeyList), (status = 403, body = ErrorBody)))]
async fn rotate(State(s): State<AppState>, change: Change) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            Box::pin(async move { certificate::rotate(tx, tz).await })
        })
        .await
}

/// Revokes a key generation as compromised (an administrator): nothing it signed verifies.
#[utoipa::path(post, path = "/certificate-keys/{generation}/revoke", tag = "certificates",
    params(("generation" = i64, Path)), request_body = Reason,
    responses((status = 200, body = KeyList), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn revoke_key(
    State(s): State<AppState>,
    change: Change,
    Path(generation): Path<i64>,
    Json(r): Json<Reason>,
) -> Result<Response, Error> {
    let tz = s.tz;
    change
        .run(StatusCode::OK, move |tx| {
            let r = r.clone();
            Box::pin(async move { certificate::revoke_key(tx, generation, &r, tz).await })
        })
        .await
}

/// Revokes a certificate (a reviewer of the lab that tested it): verification says so.
#[utoipa::path(post, path = "/certificates/{id}/revoke", tag = "certificates",
    params(("id" = String, Path)), request_body = Reason,
    responses((status = 200, body = CertificateInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke(
    change: Change,
    Path(id): Path<String>,
    Json(r): Json<Reason>,
) -> Result<Response, Error> {
    change
        .run(StatusCode::OK, move |tx| {
            let (id, r) = (id.clone(), r.clone());
            Box::pin(async move { certificate::revoke(tx, &id, &r).await })
        })
        .await
}
