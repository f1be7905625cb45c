//! `natlis roster`: an institution's staff roster from the command line — previewed (every
//! row's problem with its line) or applied in one transaction, with a progress bar. Straight
//! into the database, through the same roster service as the API and the pages.

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use natlis::actor::Actor;
use natlis::domain::roster::RosterMode;
use natlis::service::roster::{self, RosterFile, RosterOptions, RosterReport};
use std::path::PathBuf;

#[derive(Args)]
pub struct RosterArgs {
    /// The roster: CSV (UTF-8 or GBK) or an Excel workbook (first sheet).
    pub file: PathBuf,
    /// The institution's code.
    #[arg(long)]
    pub institution: String,
    /// `add` (joins and class changes) or `full` (whoever is missing leaves).
    #[arg(long, default_value = "add", value_parser = parse_mode)]
    pub mode: RosterMode,
    /// The day joins and leaves take effect (default: today).
    #[arg(long)]
    pub effective_on: Option<chrono::NaiveDate>,
    /// Only say what it would do; write nothing.
    #[arg(long)]
    pub preview: bool,
    /// Who is applying it, for the audit trail.
    #[arg(long, env = "USER", default_value = "operator")]
    pub operator: String,
    #[command(flatten)]
    pub db: crate::cli::DbArgs,
    #[arg(long, default_value = "+08:00", value_parser = crate::cli::parse_offset)]
    pub tz: chrono::FixedOffset,
}

fn parse_mode(s: &str) -> Result<RosterMode, String> {
    RosterMode::parse(s).ok_or_else(|| format!("{s:?}: add or full"))
}

/// The report in lines: counts, then each row's problems.
pub fn describe(r: &RosterReport) -> Vec<String> {
    let mut out = vec![format!(
        "{} {} ({}, {}): {} rows — {} join ({} registered already), {} change class, {} leave, {} unchanged, {} with problems",
        if r.applied { "applied" } else { "preview of" },
        r.file,
        r.institution,
        r.mode,
        r.rows,
        r.joins,
        r.joins_registered,
        r.moves,
        r.leaves,
        r.unchanged,
        r.invalid
    )];
    for p in &r.problems {
        let what: Vec<String> = p.problems.iter().map(|x| x.message.clone()).collect();
        out.push(format!("  line {}: {}", p.line, what.join("; ")));
    }
    if r.invalid > r.problems.len() {
        out.push(format!(
            "  … and {} more rows",
            r.invalid - r.problems.len()
        ));
    }
    out
}

pub async fn run(a: RosterArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let file = RosterFile {
        name: a.file.file_name().map_or_else(
            || a.file.display().to_string(),
            |n| n.to_string_lossy().into(),
        ),
        bytes,
    };
    let store = a.db.open().await?;
    store.set_zone(a.tz);
    let actor = Actor::new(format!("cli:{}", a.operator));
    let o = RosterOptions {
        mode: a.mode,
        effective_on: a.effective_on,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} {wide_msg}").expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let today = chrono::Utc::now().with_timezone(&a.tz).date_naive();
    let result = if a.preview {
        bar.set_message(format!("checking {}", file.name));
        let mut conn = store.reader().acquire().await?;
        roster::preview(&mut conn, &actor, &a.institution, &file, o, today).await
    } else {
        bar.set_message(format!("checking {}", file.name));
        let file = std::sync::Arc::new(file);
        let institution = a.institution.clone();
        let shown = bar.clone();
        let progress = std::sync::Arc::new(move |stage: &str, done: usize, of: usize| {
            shown.set_message(match stage {
                "people" => format!("registering people {done}/{of}"),
                "memberships" => format!("writing memberships {done}/{of}"),
                "done" => "committing".to_string(),
                _ => "checking every row".to_string(),
            });
        });
        store
            .execute(
                &actor,
                natlis::store::change(move |tx| {
                    let (file, institution, progress) =
                        (file.clone(), institution.clone(), progress.clone());
                    Box::pin(async move {
                        roster::apply(tx, &institution, &file, o, Some(&*progress)).await
                    })
                }),
            )
            .await
    };
    bar.finish_and_clear();
    store.close().await;
    match result {
        Ok(r) => {
            for line in describe(&r) {
                println!("{line}");
            }
            if !r.can_apply && !a.preview {
                bail!("nothing was written");
            }
            Ok(())
        }
        Err(e) => bail!("{}: {}", e.code, e.message),
    }
}
