//! `natlis import`: instrument result files onto plates from the command line, with a progress
//! bar. Straight into the database (an operator on the lab's server), or through a running
//! natlis over HTTP with a token (an instrument PC): the same checks either way.

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use natlis::actor::Actor;
use natlis::service::imports::{self, Upload};
use natlis::service::plates;
use natlis::view::import::ImportView;
use std::path::PathBuf;

#[derive(Args)]
pub struct ImportArgs {
    /// Files for the plate given with --plate, imported together as one import (a LightCycler's
    /// one-file-per-channel exports belong together).
    pub files: Vec<PathBuf>,
    /// The plate: id or run number.
    #[arg(long)]
    pub plate: Option<String>,
    /// A CSV of `plate,file` lines for a batch of plates (files of one plate go together).
    #[arg(long, conflicts_with_all = ["files", "plate"])]
    pub batch: Option<PathBuf>,
    /// Upload to a running natlis (e.g. http://lab-server:8080) instead of opening its database.
    #[arg(long, env = "NATLIS_SERVER")]
    pub server: Option<String>,
    /// API token for --server.
    #[arg(long, env = "NATLIS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Import files that look like another run's or a cut one anyway, for this reason
    /// (recorded in the audit trail). Without it such files are refused.
    #[arg(long)]
    pub override_reason: Option<String>,
    /// Who is importing, for the audit trail (database mode).
    #[arg(long, env = "USER", default_value = "operator")]
    pub operator: String,
    #[command(flatten)]
    pub db: crate::cli::DbArgs,
    #[arg(long, default_value = "+08:00", value_parser = crate::cli::parse_offset)]
    pub tz: chrono::FixedOffset,
}

/// One import to make: a plate and its files.
struct Job {
    plate: String,
    files: Vec<PathBuf>,
}

fn jobs(a: &ImportArgs) -> anyhow::Result<Vec<Job>> {
    if let Some(batch) = &a.batch {
        let text = std::fs::read_to_string(batch)
            .with_context(|| format!("reading {}", batch.display()))?;
        let base = batch.parent().map(PathBuf::from).unwrap_or_default();
        let mut out: Vec<Job> = vec![];
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || i == 0 && line.starts_with("plate,") {
                continue;
            }
            let Some((plate, file)) = line.split_once(',') else {
                bail!(
                    "{}, line {}: expected `plate,file`, found {line:?}",
                    batch.display(),
                    i + 1
                );
            };
            let file = base.join(file.trim());
            match out.iter_mut().find(|j| j.plate == plate.trim()) {
                Some(j) => j.files.push(file),
                None => out.push(Job {
                    plate: plate.trim().to_string(),
                    files: vec![file],
                }),
            }
        }
        if out.is_empty() {
            bail!("{} lists no files", batch.display());
        }
        return Ok(out);
    }
    let Some(plate) = &a.plate else {
        bail!("name the plate with --plate ID (or give a --batch file)");
    };
    if a.files.is_empty() {
        bail!("no files to import");
    }
    Ok(vec![Job {
        plate: plate.clone(),
        files: a.files.clone(),
    }])
}

fn read_uploads(job: &Job, bar: &ProgressBar) -> anyhow::Result<Vec<Upload>> {
    job.files
        .iter()
        .map(|f| {
            bar.set_message(format!("{} ← {}", job.plate, f.display()));
            let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            bar.inc(1);
            Ok(Upload {
                name: f
                    .file_name()
                    .map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into()),
                bytes,
            })
        })
        .collect()
}

/// Prints a line above the progress bar (and also when there is no terminal to draw it on).
fn say(bar: &ProgressBar, line: String) {
    bar.suspend(|| println!("{line}"));
}

/// Wells named, the first dozen of a long list.
fn wells(list: &[String]) -> String {
    if list.len() <= 12 {
        list.join(" ")
    } else {
        format!("{} … ({} wells)", list[..12].join(" "), list.len())
    }
}

fn line(v: &ImportView) -> String {
    if v.duplicate {
        return format!(
            "plate {}: these files were imported already (round {}); nothing changed",
            v.plate, v.round
        );
    }
    let counts: Vec<String> = v.summary.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut s = format!("plate {} round {}: {}", v.plate, v.round, counts.join(", "));
    if !v.run.valid {
        s.push_str(&format!(" — RUN INVALID: {}", v.run.failures.join("; ")));
    }
    if !v.missing_wells.is_empty() {
        s.push_str(&format!("; no reading for {}", wells(&v.missing_wells)));
    }
    if !v.unexpected_wells.is_empty() {
        s.push_str(&format!(
            "; readings in empty wells {} not used",
            wells(&v.unexpected_wells)
        ));
    }
    if let Some(reason) = &v.override_reason {
        s.push_str(&format!(
            "; IMPORTED OVER {} DOUBT(S) ({reason})",
            v.doubts.len()
        ));
    }
    s
}

pub async fn run(a: ImportArgs) -> anyhow::Result<()> {
    let jobs = jobs(&a)?;
    let total: usize = jobs.iter().map(|j| j.files.len()).sum();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed} {wide_msg}")
            .expect("a valid template"),
    );
    let mut failed = 0;
    match &a.server {
        Some(server) => {
            let token = a
                .token
                .clone()
                .context("--server needs a token (--token or NATLIS_TOKEN)")?;
            let client = reqwest::Client::new();
            for job in &jobs {
                let uploads = read_uploads(job, &bar)?;
                let reason = a.override_reason.clone();
                match upload(&client, server, &token, &job.plate, uploads, reason).await {
                    Ok(v) => say(&bar, line(&v)),
                    Err(e) => {
                        failed += 1;
                        say(&bar, format!("plate {}: NOT IMPORTED: {e:#}", job.plate));
                    }
                }
            }
        }
        None => {
            let store = a.db.open().await?;
            let actor = Actor::new(format!("cli:{}", a.operator));
            for job in &jobs {
                let uploads = read_uploads(job, &bar)?;
                let reason = a.override_reason.clone();
                match local(&store, &actor, &job.plate, uploads, reason, a.tz).await {
                    Ok(v) => say(&bar, line(&v)),
                    Err(e) => {
                        failed += 1;
                        say(&bar, format!("plate {}: NOT IMPORTED: {e}", job.plate));
                    }
                }
            }
            store.close().await;
        }
    }
    bar.finish_and_clear();
    if failed > 0 {
        bail!(
            "{failed} of {} imports failed; nothing of them was written",
            jobs.len()
        );
    }
    Ok(())
}

/// One import straight into the database, through the same service as the API.
pub async fn local(
    store: &natlis::store::Store,
    actor: &Actor,
    plate: &str,
    uploads: Vec<Upload>,
    override_reason: Option<String>,
    tz: chrono::FixedOffset,
) -> Result<ImportView, natlis::error::Error> {
    let size = {
        let mut conn = store.reader().acquire().await?;
        plates::layout_of(&mut conn, actor, plate).await?.size
    };
    let read = tokio::task::spawn_blocking(move || imports::read_files(uploads, Some(size), &[]))
        .await
        .map_err(|e| natlis::error::Error::internal(anyhow::anyhow!(e)))??;
    let read = std::sync::Arc::new(read);
    let plate = plate.to_string();
    store
        .execute(
            actor,
            natlis::store::change(move |tx| {
                let (plate, read, reason) = (plate.clone(), read.clone(), override_reason.clone());
                Box::pin(
                    async move { Ok(imports::import(tx, &plate, read, reason).await?.view(tz)) },
                )
            }),
        )
        .await
}

async fn upload(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    plate: &str,
    uploads: Vec<Upload>,
    override_reason: Option<String>,
) -> anyhow::Result<ImportView> {
    let mut form = reqwest::multipart::Form::new();
    if let Some(reason) = override_reason {
        form = form.text(imports::OVERRIDE_FIELD, reason);
    }
    for u in uploads {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(u.bytes).file_name(u.name),
        );
    }
    let url = format!(
        "{}/api/v1/plates/{plate}/imports",
        server.trim_end_matches('/')
    );
    let resp = client
        .post(&url)
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .with_context(|| format!("sending to {url}"))?;
    let status = resp.status();
    let body = resp.text().await?;
    if !status.is_success() {
        let message = serde_json::from_str::<natlis::error::ErrorBody>(&body)
            .map(|e| format!("{} ({})", e.error.message, e.error.code))
            .unwrap_or(body);
        bail!("{status}: {message}");
    }
    Ok(serde_json::from_str(&body)?)
}
