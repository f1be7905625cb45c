//! A JSON extractor whose rejections are [`Error`]s: a malformed body gets the same error shape
//! as everything else, naming the line, column and field serde stopped at.

use crate::error::Error;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};

pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_body = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json_body {
            return Err(Error::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.content_type",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => Error::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "request.too_large",
                    e.body_text(),
                ),
                _ => Error::malformed(e.body_text()),
            })?;
        refuse_control_characters(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    Error::unprocessable("request.invalid_body", e.body_text())
                }
                JsonRejection::JsonSyntaxError(e) => Error::malformed(e.body_text()),
                JsonRejection::MissingJsonContentType(e) => Error::new(
                    axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "request.content_type",
                    e.body_text(),
                ),
                other => Error::malformed(other.body_text()),
            }),
        }
    }
}

/// A control character escaped into a JSON string (`\u0000` …; raw ones are not JSON) is
/// refused with the field it is in, before any value reaches the database: PostgreSQL cannot
/// store NUL in text, and the same input must get the same answer on SQLite.
fn refuse_control_characters(body: &[u8]) -> Result<(), Error> {
    // The scan is cheap; the walk runs only when an escape that may be a control is there.
    let raw_c1 = memchr::memchr_iter(0xC2, body)
        .any(|i| body.get(i + 1).is_some_and(|b| (0x80..=0x9F).contains(b)));
    let suspicious = memchr::memmem::find(body, b"\\u00").is_some()
        || memchr::memmem::find(body, b"\\b").is_some()
        || memchr::memmem::find(body, b"\\f").is_some()
        || memchr::memchr(0x7F, body).is_some()
        || raw_c1;
    if !suspicious {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        // Not JSON: the typed parse says where.
        return Ok(());
    };
    match crate::domain::text::control_in_json(&value) {
        None => Ok(()),
        Some((field, c)) => Err(Error::invalid(
            &field,
            format!(
                "{field} contains the control character {}",
                crate::domain::text::describe(c)
            ),
        )),
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
