//! The one error type of the service and its HTTP form.
//!
//! When to use what:
//! - a client sent something wrong: a 4xx with a stable machine `code` (e.g. `barcode.already_used`)
//!   and a human `message` that names the problem (field, value, the existing binding); nothing
//!   was changed;
//! - an accession rule refused the request: [`AccessionRule`] converts with its own code;
//! - anything else (database down, a bug): `Internal`, logged in full with a reference, shown to
//!   the client only as that reference.

use crate::domain::tube::AccessionRule;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug)]
pub struct Error {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub field: Option<String>,
    pub details: Option<Box<serde_json::Value>>,
    source: Option<anyhow::Error>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `barcode.already_used`.
    pub code: String,
    /// What is wrong, for a person.
    pub message: String,
    /// The request field at fault, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Facts that help, e.g. the existing binding of a barcode already used.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            field: None,
            details: None,
            source: None,
        }
    }

    /// 400: the request could not be read at all.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "request.malformed", message)
    }

    /// 422: a field fails validation; its code is `invalid.<field>` unless given otherwise.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid.{field}"),
            message,
        )
        .at(field)
    }

    /// 422 with a specific code.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        );
        e.source = Some(err.into());
        e
    }

    /// Names the request field at fault.
    pub fn at(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// The same error about a part of a larger request: `what: message` (internal errors keep
    /// their plain message).
    pub fn context(mut self, what: &str) -> Self {
        if self.status != StatusCode::INTERNAL_SERVER_ERROR {
            self.message = format!("{what}: {}", self.message);
        }
        self
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                field: self.field.clone(),
                details: self.details.as_deref().cloned(),
            },
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(src) = &self.source {
            write!(f, ": {src:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(mut self) -> Response {
        if self.status.is_server_error() {
            let reference = uuid::Uuid::new_v4().simple().to_string();
            let error = crate::domain::mask::redact_ids(&self.to_string());
            tracing::error!(reference, error, "request failed");
            self.message = format!("internal error (reference {reference})");
        }
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

impl From<crate::store::idempotency::Error> for Error {
    fn from(e: crate::store::idempotency::Error) -> Self {
        match e {
            crate::store::idempotency::Error::Reused(_) => {
                Self::unprocessable("idempotency.key_reused", e.to_string()).at("Idempotency-Key")
            }
            crate::store::idempotency::Error::InProgress(_) => {
                Self::conflict("idempotency.in_progress", e.to_string())
            }
            crate::store::idempotency::Error::Db(db) => Self::internal(db),
        }
    }
}

impl From<AccessionRule> for Error {
    fn from(rule: AccessionRule) -> Self {
        use AccessionRule::*;
        let (status, code) = match &rule {
            PoolSizeNotAllowed { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "tube.pool_size_not_allowed",
            ),
            PoolSizeMissing { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "tube.pool_size_missing"),
            SingleSamplingRequired(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "tube.single_sampling_required",
            ),
            SampleTypeMismatch { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "tube.sample_type_mismatch",
            ),
            DescriptionMissing => (StatusCode::UNPROCESSABLE_ENTITY, "tube.description_missing"),
            NoPeopleOnEnvironment => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "tube.no_people_on_environment",
            ),
            NotOpen(_) => (StatusCode::CONFLICT, "tube.not_open"),
            Full { .. } => (StatusCode::CONFLICT, "tube.full"),
            AlreadyMember => (StatusCode::CONFLICT, "tube.already_member"),
            Empty => (StatusCode::CONFLICT, "tube.empty"),
            NotClosed(_) => (StatusCode::CONFLICT, "tube.not_closed"),
            CannotReject(_) => (StatusCode::CONFLICT, "tube.cannot_reject"),
        };
        Self::new(status, code, rule.to_string())
    }
}
