//! The command line: `natlis serve | migrate | demo | openapi | inspect | import | audit | user |
//! practice-run | bench`.

#[cfg(feature = "tools")]
mod bench;
mod db;
#[cfg(feature = "tools")]
mod demo;
mod import;
#[cfg(feature = "tools")]
mod practice_run;
mod roster;

pub use db::DbArgs;

use anyhow::Context;
use chrono::FixedOffset;
use clap::{Args, Parser, Subcommand};
use natlis::api::AppState;
use natlis::store::Store;
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
    #[cfg(feature = "tools")]
    Demo(DemoArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Read an instrument export without touching a database: print its detected format and
    /// its rows as CSV (well, channel, target, Ct, sample, role).
    Inspect {
        /// The export file.
        file: PathBuf,
        /// A lab's own format description (JSON; see instrument-adapters/src/profile_file.rs),
        /// tried before the built-in formats. May be given several times.
        #[arg(long = "profile")]
        profiles: Vec<PathBuf>,
    },
    /// Import instrument result files onto a plate (or a batch of plates), with a progress bar.
    Import(import::ImportArgs),
    /// Preview or apply an institution's staff roster (CSV or XLSX), with a progress bar.
    Roster(roster::RosterArgs),
    /// The audit trail: seal it now, or verify it.
    Audit {
        #[command(subcommand)]
        which: AuditCommand,
    },
    /// Users and their tokens.
    User {
        #[command(subcommand)]
        which: UserCommand,
    },
    /// A practice run: write what a PCR instrument would export for a plate as loaded
    /// (CFX format; chosen tubes positive, single-target or invalid), to import like a real run.
    #[cfg(feature = "tools")]
    PracticeRun(practice_run::PracticeRunArgs),
    /// Benchmarks that print figures.
    #[cfg(feature = "tools")]
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every seal and entry, check the seals' signatures under the audit key and
    /// that the trail was not cut; exits 1 and names the first problem if it was tampered with.
    Verify(VerifyArgs),
    /// Seal the entries written since the last seal.
    Seal(DbArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// A seal noted elsewhere (a logbook, the platform) as `SEAL:HASH`, as an earlier verify
    /// printed it: verify fails if that seal is gone or differs.
    #[arg(long)]
    expect: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print a new API token for it (shown once).
    Add(UserAddArgs),
}

#[derive(Args)]
struct UserAddArgs {
    #[arg(long)]
    username: String,
    /// admin, lab_technician, lab_reviewer, cdc_reviewer, collector, institution_admin, auditor
    #[arg(long)]
    role: String,
    /// Lab code (lab technicians and reviewers).
    #[arg(long)]
    lab: Option<String>,
    /// Site code (collectors).
    #[arg(long)]
    site: Option<String>,
    /// Institution code (institution administrators).
    #[arg(long)]
    institution: Option<String>,
    /// Region code prefix (CDC reviewers).
    #[arg(long)]
    region: Option<String>,
    /// Password for browser login (else read from NATLIS_USER_PASSWORD; none: token only).
    #[arg(long, env = "NATLIS_USER_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

#[cfg(feature = "tools")]
#[derive(Subcommand)]
enum BenchCommand {
    /// Accession through the real HTTP API: scans/s and latency, next to the raw insert rate.
    Accession(bench::AccessionArgs),
    /// The pages under load: a scan through the collection page next to the API's, the review
    /// page and the board alone and during accession, and what a page weighs.
    Pages(bench::pages::PagesArgs),
    /// Instrument result imports: ms per plate and rows/s for 96- and 384-well plates, next to
    /// the bare csv read of the same bytes.
    Import(bench::import::ImportBenchArgs),
    /// Pushing to the health-code platform: results delivered per second to a local FHIR
    /// receiver, and change → acknowledged latency at an offered rate.
    Push(bench::push::PushBenchArgs),
    /// Turnaround: the report over millions of tubes, the at-risk list, the rollup's folder.
    Turnaround(bench::turnaround::TurnaroundBenchArgs),
    /// Routine testing: a 100,000-row roster, a 20,000-staff ledger, a region of a million
    /// staff, and the ledger's share of a 384-well release.
    Ledger(bench::ledger::LedgerBenchArgs),
    /// The public list of labs from its cache, its page, 304s and the list computed, against
    /// /healthz in the same run.
    Public(bench::public::PublicBenchArgs),
    /// Certificates: the payload signed, the PDF rendered, a payload verified, against a blank
    /// page in the same run.
    Certificate(bench::certificate::CertificateBenchArgs),
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
    /// Seconds between seals of the audit trail.
    #[arg(long, env = "NATLIS_SEAL_EVERY", default_value_t = 5)]
    seal_every: u64,
    /// Milliseconds the push worker waits when nothing is due.
    #[arg(long, env = "NATLIS_PUSH_EVERY_MS", default_value_t = 200)]
    push_every_ms: u64,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Without it,
    /// plain HTTP (behind a reverse proxy that terminates TLS, or on loopback).
    #[arg(long, env = "NATLIS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "NATLIS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Mark session cookies `Secure`: browsers reach natlis over HTTPS through a proxy (with
    /// --tls-cert they always are; a proxy may also say so with `X-Forwarded-Proto: https`).
    #[arg(long, env = "NATLIS_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Requests a second each client address may make to the public pages and
    /// `/api/v1/public/…` (no login), sustained; it may burst to ten times that.
    #[arg(long, env = "NATLIS_PUBLIC_RATE", default_value_t = 20.0)]
    public_rate: f64,
    /// Serve `/metrics` only to `Authorization: Bearer <this>` (without it, to anyone who can
    /// reach the port).
    #[arg(long, env = "NATLIS_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Seconds a client has to send a request head (from connecting, or from the previous
    /// answer on a kept-alive connection); a slower one is disconnected.
    #[arg(long, env = "NATLIS_HEAD_TIMEOUT", default_value_t = 10)]
    head_timeout: u64,
    /// Seconds a request body may pause; and the most it may take in all (--body-total).
    #[arg(long, env = "NATLIS_BODY_IDLE_TIMEOUT", default_value_t = 15)]
    body_idle_timeout: u64,
    #[arg(long, env = "NATLIS_BODY_TOTAL_TIMEOUT", default_value_t = 300)]
    body_total_timeout: u64,
}

#[cfg(feature = "tools")]
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
    // `NATLIS_LOG_SPANS=close`: each span (a request, a use case, a store query) logged when
    // it ends, with the time it took.
    let spans = match std::env::var("NATLIS_LOG_SPANS").as_deref() {
        Ok("close") => tracing_subscriber::fmt::format::FmtSpan::CLOSE,
        _ => tracing_subscriber::fmt::format::FmtSpan::NONE,
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr)
        .try_init();
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
        #[cfg(feature = "tools")]
        Command::Demo(a) => {
            let store = a.db.open().await?;
            bootstrap(&store, true, a.db.credentials_dir()).await?;
            let summary = demo::load(&store, a.tz, a.db.credentials_dir(), None).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Inspect { file, profiles } => inspect(&file, &profiles),
        Command::Import(a) => import::run(a).await,
        Command::Roster(a) => roster::run(a).await,
        Command::Openapi => {
            println!("{}", natlis::api::openapi_json());
            Ok(())
        }
        Command::User {
            which: UserCommand::Add(a),
        } => user_add(a).await,
        Command::Audit { which } => match which {
            AuditCommand::Seal(db) => {
                let store = db.open().await?;
                let mut total = 0;
                while let Some(s) = natlis::audit::seal(&store, chrono::Duration::zero())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                {
                    total += s.entries;
                    println!(
                        "sealed {} entries in seal {} ({})",
                        s.entries, s.seal, s.hash
                    );
                }
                if total == 0 {
                    println!("nothing to seal");
                }
                Ok(())
            }
            AuditCommand::Verify(a) => {
                let expect = a
                    .expect
                    .as_deref()
                    .map(|e| {
                        let (seal, hash) = e
                            .split_once(':')
                            .context("--expect takes SEAL:HASH, e.g. 42:9f86d0…")?;
                        Ok::<_, anyhow::Error>(natlis::audit_key::Anchor {
                            seal: seal
                                .trim()
                                .parse()
                                .context("--expect: the seal is a number")?,
                            hash: hash.trim().to_string(),
                        })
                    })
                    .transpose()?;
                let store = a.db.open().await?;
                let mut conn = store.reader().acquire().await?;
                let r = natlis::audit::verify(&mut conn, store.audit_key(), expect.as_ref())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                match &r.problem {
                    None => {
                        println!(
                            "audit trail intact: {} entries in {} seals verified ({} from before the key); {} entries not sealed yet",
                            r.sealed_entries, r.seals, r.legacy_seals, r.unsealed_entries
                        );
                        if let Some(k) = &r.key_id {
                            println!("signed with audit key {k}");
                        }
                        if let (Some(seal), Some(h)) = (r.last_seal, &r.last_hash) {
                            println!(
                                "newest seal (note it; verify --expect {seal}:{h}): {seal}:{h}"
                            );
                        }
                        Ok(())
                    }
                    Some(p) => {
                        println!("AUDIT TRAIL TAMPERED: {p}");
                        std::process::exit(1);
                    }
                }
            }
        },
        #[cfg(feature = "tools")]
        Command::PracticeRun(a) => practice_run::run(a).await,
        #[cfg(feature = "tools")]
        Command::Bench { which } => match which {
            BenchCommand::Accession(a) => bench::accession(a).await,
            BenchCommand::Pages(a) => bench::pages::run(a).await,
            BenchCommand::Import(a) => bench::import::run(a).await,
            BenchCommand::Push(a) => bench::push::run(a).await,
            BenchCommand::Turnaround(a) => bench::turnaround::run(a).await,
            BenchCommand::Ledger(a) => bench::ledger::run(a).await,
            BenchCommand::Public(a) => bench::public::run(a).await,
            BenchCommand::Certificate(a) => bench::certificate::run(a),
        },
    }
}

fn inspect(file: &std::path::Path, profiles: &[PathBuf]) -> anyhow::Result<()> {
    let custom = profiles
        .iter()
        .map(|p| {
            let json = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Ok(instrument_adapters::CustomFormat::load(
                &p.display().to_string(),
                &json,
            )?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let (format, rows) = instrument_adapters::parse_with(&bytes, &custom)
        .with_context(|| file.display().to_string())?;
    eprintln!("{}: {format} ({} rows)", file.display(), rows.len());
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    out.write_record(["well", "channel", "target", "ct", "sample", "role"])?;
    for r in rows {
        let ct =
            r.ct.value()
                .map(|v| v.to_string())
                .unwrap_or_else(|| "no Ct".into());
        out.write_record([
            r.well.to_string(),
            r.channel,
            r.target,
            ct,
            r.sample,
            r.role,
        ])?;
    }
    out.flush()?;
    Ok(())
}

async fn user_add(a: UserAddArgs) -> anyhow::Result<()> {
    use natlis::auth::{self, NewUser};
    use natlis::domain::policy::Role;
    let role = Role::parse(a.role.trim()).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown role {:?}: one of {}",
            a.role,
            Role::ALL
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let store = a.db.open().await?;
    let req = NewUser {
        username: a.username.clone(),
        role,
        lab: a.lab,
        site: a.site,
        institution: a.institution,
        region: a.region,
        password: a.password,
    };
    let token = store
        .execute(
            &natlis::actor::Actor::system(),
            natlis::store::change(move |tx| {
                let req = req.clone();
                Box::pin(async move {
                    let user = auth::add_user(tx, req).await?;
                    auth::issue_token(tx, &user.username, "cli", None).await
                })
            }),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
    println!("created user {} ({})", token.username, token.role);
    println!("token (shown once): {}", token.token);
    Ok(())
}

/// Hands over the credentials of the administrator created at first start: printed once when
/// a person is at the terminal; otherwise (a service whose output goes to a journal or a log
/// file) written to `natlis-first-admin-<time>-<pid>.txt`, readable by the owner only, in `dir`,
/// and only that file's path is printed.
async fn bootstrap(store: &Store, demo: bool, dir: &std::path::Path) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let default = if demo { Some(demo_password()?) } else { None };
    let Some((password, token)) = natlis::auth::bootstrap_admin(store, default)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first administrator: {}", e.message))?
    else {
        return Ok(());
    };
    let text = format!(
        "user:     admin\npassword: {password}\ntoken:    {}\n",
        token.token
    );
    if std::io::stdout().is_terminal() {
        println!("natlis: first start — created user admin (shown once, keep them safe)");
        print!("{text}");
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!(
        "natlis-first-admin-{}-{}.txt",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        std::process::id()
    ));
    write_owner_only(&path, &text).with_context(|| {
        format!(
            "writing the first administrator's credentials to {}",
            path.display()
        )
    })?;
    println!(
        "natlis: first start — created user admin; its password and token are in {} (owner only; delete it once read)",
        path.display()
    );
    Ok(())
}

/// Writes a file only its owner can read (mode 0600 on Unix), never over an existing one.
fn write_owner_only(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// The demo users' password (built with the `tools` feature only).
fn demo_password() -> anyhow::Result<&'static str> {
    #[cfg(feature = "tools")]
    return Ok(demo::PASSWORD);
    #[cfg(not(feature = "tools"))]
    anyhow::bail!("this natlis was built without the demo dataset (cargo feature `tools`)")
}

/// Loads the demo dataset (built with the `tools` feature only).
/// Loads the demo dataset (built with the `tools` feature only), with the demo's health-code
/// platform listening on the port after the service's, which the demo pushes to.
async fn load_demo(
    store: &Store,
    tz: FixedOffset,
    out_dir: &std::path::Path,
    addr: SocketAddr,
) -> anyhow::Result<String> {
    #[cfg(feature = "tools")]
    {
        let platform = SocketAddr::new(addr.ip(), addr.port().wrapping_add(1).max(1));
        let url = demo::platform::start(platform).await;
        return demo::load(store, tz, out_dir, url.as_deref()).await;
    }
    #[cfg(not(feature = "tools"))]
    {
        let _ = (store, tz, out_dir, addr);
        anyhow::bail!("this natlis was built without the demo dataset (cargo feature `tools`)")
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let store = a.db.open().await?;
    tracing::info!(backend = store.backend().name(), location = ?a.db.location(), "database ready");
    bootstrap(&store, a.demo, a.db.credentials_dir()).await?;
    if a.demo {
        let summary = load_demo(&store, a.tz, a.db.credentials_dir(), a.addr).await?;
        tracing::info!("{summary}");
    }
    natlis::worker::sealer::spawn(
        store.clone(),
        std::time::Duration::from_secs(a.seal_every.max(1)),
    );
    natlis::worker::rollup::spawn(store.clone(), std::time::Duration::from_secs(2));
    natlis::worker::push::spawn_worker(
        store.clone(),
        natlis::worker::push::Config {
            every: std::time::Duration::from_millis(a.push_every_ms.max(10)),
            ..Default::default()
        },
    );
    // Read the TLS files before anything listens: a wrong file stops the start, named.
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(natlis::tls::server_config_from_files(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(a.addr).await?;
    let state = AppState::new(store.clone(), a.tz)
        .with_metrics_token(a.metrics_token.clone())
        .with_secure_cookies(a.secure_cookies || a.tls_cert.is_some())
        .with_public_rate(natlis::throttle::Rate {
            per_second: a.public_rate.max(0.1),
            burst: (a.public_rate * 10.0).max(1.0),
        })
        .with_limits(natlis::serve::Limits {
            head: std::time::Duration::from_secs(a.head_timeout.max(1)),
            body_idle: std::time::Duration::from_secs(a.body_idle_timeout.max(1)),
            body_total: std::time::Duration::from_secs(a.body_total_timeout.max(1)),
        });
    match tls {
        Some(config) => {
            tracing::info!("natlis listening on https://{}", listener.local_addr()?);
            let listener = natlis::tls::TlsListener::new(listener, config)?;
            natlis::launch(state, listener, shutdown_signal()).await?;
        }
        None => {
            tracing::info!("natlis listening on http://{}", listener.local_addr()?);
            natlis::launch(state, listener, shutdown_signal()).await?;
        }
    }
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
