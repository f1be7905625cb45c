//! The HTTP API: a JSON API under `/api/v1`, its OpenAPI document at `/api/openapi.json`
//! (generated from the handlers), health at `/healthz` and `/readyz`, metrics at `/metrics`.
//! Handlers parse, call one service function, and map its error; nothing else.

pub(crate) mod accounts;
mod accreditation;
mod audit;
mod booking;
pub(crate) mod certificates;
pub(crate) mod change;
pub(crate) mod collection_points;
mod enrolment;
mod error_docs;
mod reader;

pub use crate::state::AppState;
pub(crate) use accounts::{cleared_cookie, peer_address, session_cookie, sign_in, sign_out};
pub(crate) use accreditation::cached_response as cached_public_response;
pub(crate) use booking::public as public_change;
pub(crate) use change::Change;
pub use change::IDEMPOTENCY_HEADER;
pub(crate) use enrolment::submit as enrolment_submit;
pub(crate) use reader::Reader;
mod institutions;
mod kits;
mod labels;
pub(crate) mod ops;
pub mod paging;
mod persons;
pub(crate) mod plates;
mod push;
mod reception;
mod registry;
mod review;
mod settings;
mod tubes;
mod turnaround;

use crate::error::Error;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// Declares the credentials the API takes.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token (natlis user add, POST /users/{u}/tokens) or the token of a login."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::extract::SESSION_COOKIE,
                "The cookie of POST /login; changes also need the X-CSRF-Token header.",
            ))),
        );
        api.security = Some(vec![
            utoipa::openapi::security::SecurityRequirement::new("token", Vec::<String>::new()),
            utoipa::openapi::security::SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&Security),
    info(
        title = "natlis",
        description = "Laboratory information system for SARS-CoV-2 nucleic-acid testing labs. \
            Errors have the body `{\"error\": {\"code\", \"message\", \"field\"?, \"details\"?}}` \
            with a stable machine code. POST requests accept an `Idempotency-Key` header: a \
            request repeated with the same key gets the first answer and changes nothing. \
            Personal data (ID numbers, names, phones) is masked in every response."
    ),
    tags(
        (name = "registry", description = "Labs, collection sites, institutions"),
        (name = "persons", description = "People and their personal codes"),
        (name = "accession", description = "Tubes at the collection site (采样登记)"),
        (name = "reception", description = "Tubes at the lab (实验室接收)"),
        (name = "labels", description = "Barcode labels"),
        (name = "bench", description = "Kits, PCR plates, instrument result imports and automatic calls"),
        (name = "review", description = "Review and release, pool re-checks, results and each person's status"),
        (name = "cdc", description = "CDC confirmation of positives (疾控复核)"),
        (name = "turnaround", description = "Turnaround against the deadline (时限): timelines, at-risk list, capacity, reports"),
        (name = "push", description = "Pushing each person's status to the health-code platform (健康码)"),
        (name = "accounts", description = "Users, tokens, login"),
        (name = "audit", description = "The tamper-evident audit trail"),
        (name = "ops", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// Answers axum's own refusals (a path or query parameter that does not parse, a method the
/// route lacks, …), which are plain text, as every other error is: an `ErrorBody` in JSON.
pub(crate) async fn rejections_as_error_bodies(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let resp = next.run(req).await;
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let status = resp.status();
    if !plain || !status.is_client_error() {
        return resp;
    }
    let text = match axum::body::to_bytes(resp.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request.too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "request.unsupported_media_type",
        StatusCode::METHOD_NOT_ALLOWED => "request.method_not_allowed",
        StatusCode::UNPROCESSABLE_ENTITY => "request.invalid",
        _ => "request.malformed",
    };
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("refused").to_string()
    } else {
        text.trim().to_string()
    };
    Error::new(status, code, message).into_response()
}

/// Refuses a request whose path or query holds a control character (`%00` …) with a 422 that
/// names the parameter, before any handler binds it: PostgreSQL cannot store or compare NUL
/// in text, and SQLite and PostgreSQL must answer the same.
pub(crate) async fn refuse_control_characters(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match control_in_uri(req.uri()) {
        Some((field, c)) => Error::invalid(
            &field,
            format!(
                "{field} contains the control character {}",
                crate::domain::text::describe(c)
            ),
        )
        .into_response(),
        None => next.run(req).await,
    }
}

/// The first path or query parameter (by name) holding a control character.
fn control_in_uri(uri: &axum::http::Uri) -> Option<(String, char)> {
    use crate::domain::text::control_char;
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    if let Some(c) = control_char(&path, false) {
        return Some(("path".into(), c));
    }
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if let Some(c) = control_char(&name, false) {
            return Some(("query".into(), c));
        }
        if let Some(c) = control_char(&value, false) {
            return Some((name.into_owned(), c));
        }
    }
    None
}

/// The API routes with their OpenAPI description.
pub fn openapi_router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(registry::router())
        .merge(persons::router())
        .merge(tubes::router())
        .merge(reception::router())
        .merge(labels::router())
        .merge(settings::router())
        .merge(accounts::router())
        .merge(audit::router())
        .merge(kits::router())
        .merge(plates::router())
        .merge(review::router())
        .merge(push::router())
        .merge(turnaround::router())
        .merge(institutions::router())
        .merge(enrolment::router())
        .merge(accreditation::router())
        .merge(booking::router())
        .merge(certificates::router())
        .merge(collection_points::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1)
}

/// The API's router and its complete document (with every operation's error answers).
pub(crate) fn router_and_document() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut api) = openapi_router().split_for_parts();
    error_docs::add_common_errors(&mut api);
    (router, api)
}

/// The OpenAPI document, for `natlis openapi` and its snapshot test.
pub fn openapi_json() -> String {
    let (_, api) = router_and_document();
    api.to_pretty_json().expect("OpenAPI serialises")
}
