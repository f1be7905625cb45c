//! natlis — a laboratory information system for SARS-CoV-2 nucleic-acid testing labs.
//!
//! Layers: [`api`] (HTTP) and the CLI call [`service`] functions, one transaction each; services
//! ask [`domain`] (pure rules, no I/O) what happens and write through [`store`] (SQLite or
//! PostgreSQL, each query written once).

pub mod actor;
pub mod api;
pub mod audit;
pub mod audit_key;
pub mod auth;
pub mod bench;
pub mod bench_import;
pub mod bench_push;
pub mod bench_turnaround;
pub mod cli;
pub mod demo;
pub mod domain;
pub mod error;
pub mod import_cli;
pub mod json;
pub mod labels;
pub mod metrics;
pub mod serve;
pub mod service;
pub mod sink_client;
pub mod store;
pub mod synth;
pub mod tls;
pub mod worker;

pub use api::{app, AppState};

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
