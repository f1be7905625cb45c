//! Health and metrics.

use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: its database answers.
async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    if s.store.ping().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

/// Prometheus metrics; behind a bearer token when `natlis serve --metrics-token` gives one.
async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(want) = &s.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| <sha2::Sha256 as sha2::Digest>::digest(t.trim().as_bytes()));
        // Digests compared byte by byte to the end, whatever differs first.
        let ok = given.is_some_and(|g| g.iter().zip(want).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0);
        if !ok {
            return crate::error::Error::new(
                StatusCode::UNAUTHORIZED,
                "auth.metrics_token",
                "/metrics needs the metrics bearer token",
            )
            .into_response();
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
        .into_response()
}
