//! A JSON extractor whose rejections are [`Error`]s: a malformed body gets the same error shape
//! as everything else, naming the line, column and field serde stopped at.

use crate::error::Error;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};

pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
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

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
