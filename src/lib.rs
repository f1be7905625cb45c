//! natlis — a laboratory information system for SARS-CoV-2 nucleic-acid testing labs.
//!
//! Layers: [`web`] (the pages), [`api`] (HTTP JSON) and the `natlis` binary's commands call
//! [`service`] functions, one transaction each; services ask [`domain`] (pure rules, no I/O)
//! what happens and read and write through [`store`] (SQLite or PostgreSQL, each query written
//! once); [`view`] turns what they answer into what a client sees. The background
//! [`worker`]s (push, audit sealer, turnaround rollup) run beside them on every node.

pub mod actor;
pub mod api;
pub mod app;
pub mod audit;
pub mod audit_key;
pub mod auth;
pub mod domain;
pub mod error;
pub mod json;
pub mod labels;
pub mod metrics;
pub mod public_cache;
pub mod serve;
pub mod service;
pub mod sink_client;
pub mod state;
pub mod store;
/// Synthetic instrument exports, for the demo dataset, the benchmarks and the tests.
#[cfg(feature = "tools")]
pub mod synth;
pub mod throttle;
pub mod tls;
pub mod view;
pub mod web;
pub mod worker;

pub use app::app;
pub use state::AppState;

use std::future::Future;

/// Serves the app on `listener` until `shutdown` completes; in-flight requests finish first.
pub async fn launch<L>(
    state: AppState,
    listener: L,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    metrics::install();
    let limits = state.limits;
    serve::serve(listener, app(state), shutdown, limits).await
}
