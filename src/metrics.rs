//! Prometheus metrics: one process-wide recorder, a middleware that counts and times every
//! request by route, and the counters the services increment.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Suffix("_seconds".into()),
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // A second install (tests start several apps in one process) keeps the first.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder; call once at start (later calls do nothing).
pub fn install() {
    handle();
}

/// The metrics in Prometheus text format.
pub fn render() -> String {
    handle().render()
}

/// A request slower than this is logged (`NATLIS_SLOW_MS`, default 1000), inside the
/// request's span: with `NATLIS_LOG=info,natlis=debug` and `NATLIS_LOG_SPANS=close` the log
/// names each step it took (the services' use cases and the store's queries are spans) and
/// how long each took.
fn slow_after() -> std::time::Duration {
    static SLOW: OnceLock<std::time::Duration> = OnceLock::new();
    *SLOW.get_or_init(|| {
        let ms = std::env::var("NATLIS_SLOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        std::time::Duration::from_millis(ms)
    })
}

/// Counts and times each request by method, route template and status, in a span of its own;
/// logs it when it was slow.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", method = %method, route = %route);
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16().to_string();
    let took = start.elapsed();
    if took >= slow_after() {
        span.in_scope(|| {
            tracing::warn!(
                status = %status,
                ms = took.as_millis() as u64,
                "slow request"
            )
        });
    }
    let elapsed = took.as_secs_f64();
    metrics::counter!("natlis_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("natlis_http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed);
    resp
}
