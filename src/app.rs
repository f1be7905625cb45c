//! The whole application: the JSON API with its OpenAPI document, the pages, health and
//! metrics, under the layers every request passes (metrics, refusals as error bodies, control
//! characters, the idempotency fingerprint).

use crate::api::{self, change, ops};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;

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
            throttle_public,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(state)
}

/// Public paths take a token of their address's bucket (see [`crate::throttle`]): a flood
/// from one address gets 429 with `Retry-After`.
async fn throttle_public(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if crate::throttle::is_public(req.uri().path()) {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if let Some(ip) = ip {
            if let Err(wait) = s.throttle.take(ip, std::time::Instant::now()) {
                metrics::counter!("natlis_public_throttled_total").increment(1);
                let mut r = crate::error::Error::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "request.too_many",
                    format!("too many requests from your address: try again in {wait} s"),
                )
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return r;
            }
        }
    }
    next.run(req).await
}
