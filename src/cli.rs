//! The command line: `natlis serve | migrate | demo | openapi | bench`.

use crate::api::AppState;
use crate::store::{Location, SqliteSync, Store};
use chrono::FixedOffset;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "natlis",
    version,
    about = "Laboratory information system for SARS-CoV-2 nucleic-acid testing labs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrations run first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Load the demo dataset (labs, sites, a few thousand people, tubes in every state).
    Demo(DemoArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Accession through the real HTTP API: scans/s and latency, next to the raw insert rate.
    Accession(crate::bench::AccessionArgs),
}

/// Where the data lives.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Directory for the embedded SQLite database (used when no database URL is given).
    #[arg(long, default_value = "./natlis-data")]
    pub data_dir: PathBuf,
    /// PostgreSQL (or SQLite) URL: `postgres://user:pass@host/db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// SQLite durability: `normal` survives a killed process, `full` also a power cut.
    #[arg(long, value_enum, default_value = "normal")]
    pub sqlite_sync: SqliteSync,
}

impl DbArgs {
    pub fn location(&self) -> Location {
        match &self.database_url {
            Some(url) => Location::Url(url.clone()),
            None => Location::SqliteDir(self.data_dir.clone()),
        }
    }

    pub async fn open(&self) -> anyhow::Result<Store> {
        let store = Store::connect(&self.location(), self.sqlite_sync).await?;
        store.migrate().await?;
        Ok(store)
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NATLIS_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[command(flatten)]
    db: DbArgs,
    /// The lab's time zone as an offset from UTC.
    #[arg(long, env = "NATLIS_TZ", default_value = "+08:00", value_parser = parse_offset)]
    tz: FixedOffset,
    /// Load the demo dataset first (if the database is empty).
    #[arg(long)]
    demo: bool,
}

#[derive(Args)]
struct DemoArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long, default_value = "+08:00", value_parser = parse_offset)]
    tz: FixedOffset,
}

pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    s.parse::<FixedOffset>()
        .map_err(|e| format!("{s:?} is not a UTC offset like +08:00: {e}"))
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("NATLIS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

pub async fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("natlis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Migrate(db) => {
            let store = db.open().await?;
            println!("migrations applied ({})", store.backend().name());
            Ok(())
        }
        Command::Demo(a) => {
            let store = a.db.open().await?;
            let summary = crate::demo::load(&store, a.tz).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi_json());
            Ok(())
        }
        Command::Bench { which } => match which {
            BenchCommand::Accession(a) => crate::bench::accession(a).await,
        },
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let store = a.db.open().await?;
    tracing::info!(backend = store.backend().name(), location = ?a.db.location(), "database ready");
    if a.demo {
        let summary = crate::demo::load(&store, a.tz).await?;
        tracing::info!("{summary}");
    }
    let listener = tokio::net::TcpListener::bind(a.addr).await?;
    tracing::info!("natlis listening on http://{}", listener.local_addr()?);
    let state = AppState {
        store: store.clone(),
        tz: a.tz,
    };
    crate::launch(state, listener, shutdown_signal()).await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
