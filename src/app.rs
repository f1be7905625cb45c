//! The whole application: the JSON API with its OpenAPI document, the pages, health and
//! metrics, under the layers every request passes (metrics, refusals as error bodies, control
//! characters, the idempotency fingerprint).

use crate::api::{self, change, ops};
use crate::state::AppState;
use axum::Router;

/// The whole application: API, OpenAPI document, pages, health and metrics.
pub fn app(state: AppState) -> Router {
    let (router, document) = api::router_and_document();
    let document = std::sync::Arc::new(document);
    router
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .merge(ops::router())
        .merge(crate::web::router())
        .fallback(crate::web::fallback)
        .layer(axum::middleware::from_fn(change::fingerprint))
        .layer(axum::middleware::from_fn(api::refuse_control_characters))
        .layer(axum::middleware::from_fn(api::rejections_as_error_bodies))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::throttle::public_only,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(state)
}
