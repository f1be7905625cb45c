//! 时效看板 the turnaround board of a lab: the tubes about to miss their 12-hour deadline (or
//! past it) with the stage each is stuck in, refreshing by itself; the queue against what the
//! instruments can still run; and the period's report as charts — volume by hour with the share
//! released in time, turnaround percentiles against the deadline, where the minutes went stage
//! by stage — with the CSV and XLSX downloads. The numbers are the turnaround services'.

use super::page::{error_page, lab_or_choice, render, Chrome, Signed};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::turnaround::{self, AtRiskFilter, CapacityFilter};
use crate::service::turnaround_report::{self, Bucket, Report, ReportFilter};
use crate::state::AppState;
use crate::view::chart;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/turnaround", get(page))
        .route("/turnaround/at-risk", get(at_risk_fragment))
}

#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    #[serde(default)]
    lab: Option<String>,
    /// First day of the report (local, `2026-12-01`); default today.
    #[serde(default)]
    from: Option<String>,
    /// Last day, inclusive; default `from`.
    #[serde(default)]
    to: Option<String>,
}

/// A tube (or a re-sample order) at risk, in words.
pub struct RiskLine {
    barcode: String,
    what: String,
    site: String,
    stage: String,
    since: String,
    left: String,
    class: &'static str,
}

/// The at-risk list, in words.
pub struct Risks {
    lab: String,
    lines: Vec<RiskLine>,
    overdue: usize,
    refreshed: String,
}

async fn risks(s: &AppState, page: &Signed, lab: &str) -> Result<Risks, Error> {
    let mut conn = s.store.reader().acquire().await?;
    let filter = AtRiskFilter {
        lab: Some(lab.to_string()),
        margin_minutes: None,
    };
    let items = turnaround::at_risk(&mut conn, &page.actor, &filter).await?;
    let tr = page.chrome.tr;
    let (tz, today) = (s.tz, s.today());
    let lines: Vec<RiskLine> = items
        .iter()
        .map(|i| {
            let v = i.view(tz, today);
            RiskLine {
                what: if v.kind == "tube" {
                    tr.f("reception.people", &[("count", &v.people)])
                } else {
                    tr.t("board.resample_order")
                },
                barcode: v.barcode,
                site: v.site,
                stage: tr.code("stage", v.stage.as_str()),
                since: v.stage_since.map(|t| tr.time(&t)).unwrap_or_default(),
                left: if v.remaining_minutes < 0 {
                    tr.f("cdc.late", &[("late", &tr.minutes(-v.remaining_minutes))])
                } else {
                    tr.f("cdc.left", &[("left", &tr.minutes(v.remaining_minutes))])
                },
                class: if v.overdue {
                    "late"
                } else if v.remaining_minutes < 60 {
                    "soon"
                } else {
                    "ok"
                },
            }
        })
        .collect();
    Ok(Risks {
        lab: lab.to_string(),
        overdue: lines.iter().filter(|l| l.class == "late").count(),
        lines,
        refreshed: tr.clock(&Utc::now()),
    })
}

/// The capacity view, in words: (label, value) pairs.
fn capacity_lines(
    chrome: &Chrome,
    c: &crate::view::turnaround::CapacityView,
) -> Vec<(String, String)> {
    let tr = &chrome.tr;
    let mut v = vec![
        (tr.t("board.waiting"), tr.num(c.waiting)),
        (tr.t("board.in_transit"), tr.num(c.in_transit)),
        (tr.t("board.running"), tr.num(c.running)),
        (tr.t("board.in_review"), tr.num(c.in_review)),
        (
            tr.t("board.rate"),
            tr.f(
                "board.rate_value",
                &[
                    ("measured", &format!("{:.1}", c.measured_plates_per_hour)),
                    ("capacity", &format!("{:.1}", c.capacity_plates_per_hour)),
                ],
            ),
        ),
        (
            tr.t("board.plates_needed"),
            tr.num(c.at_current_rate.plates_needed),
        ),
        (
            tr.t("board.forecast_breaches"),
            tr.num(c.at_current_rate.forecast_breaches),
        ),
    ];
    if let Some(t) = &c.oldest_deadline_at {
        v.push((tr.t("board.oldest_deadline"), tr.time(t)));
    }
    if let Some(t) = &c.first_breach_at {
        v.push((tr.t("board.first_breach"), tr.time(t)));
    }
    v
}

/// The report's headline numbers and charts.
pub struct ReportView {
    from: String,
    to: String,
    totals: Vec<(String, String)>,
    volume_svg: String,
    turnaround_svg: String,
    stages_svg: String,
    csv: String,
    xlsx: String,
}

fn pct(v: Option<f64>) -> String {
    v.map(|s| format!("{:.1}%", s * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn report_view(chrome: &Chrome, r: &Report, q: &BoardQuery, lab: &str) -> ReportView {
    let tr = &chrome.tr;
    let t = &r.total;
    let minutes = |m: Option<i64>| m.map(|m| tr.minutes(m)).unwrap_or_else(|| "—".into());
    let totals = vec![
        (tr.t("board.tubes"), tr.num(t.tubes)),
        (tr.t("board.released"), tr.num(t.released)),
        (tr.t("board.share_in_time"), pct(t.share_within_deadline)),
        (tr.t("board.pending"), tr.num(t.pending)),
        (tr.t("board.pending_overdue"), tr.num(t.pending_overdue)),
        (tr.t("board.rejected"), tr.num(t.rejected)),
        ("p50".into(), minutes(t.turnaround_p50_minutes)),
        ("p90".into(), minutes(t.turnaround_p90_minutes)),
        ("p99".into(), minutes(t.turnaround_p99_minutes)),
    ];
    // By hour for a day, by day for longer periods.
    let one_day = r.by_day.len() <= 1;
    let buckets: &[Bucket] = if one_day { &r.by_hour } else { &r.by_day };
    let labels: Vec<String> = buckets
        .iter()
        .map(|b| {
            let local = b.start.with_timezone(&tr.tz);
            if one_day {
                local.format("%H").to_string()
            } else {
                local.format("%m-%d").to_string()
            }
        })
        .collect();
    let volume_svg = chart::bars_and_share(
        &tr.t("board.chart_volume"),
        &labels,
        &buckets
            .iter()
            .map(|b| b.summary.tubes as f64)
            .collect::<Vec<_>>(),
        &buckets
            .iter()
            .map(|b| b.summary.share_within_deadline)
            .collect::<Vec<_>>(),
        &tr.t("board.tubes"),
        &tr.t("board.share_in_time"),
    );
    let series = |f: fn(&Bucket) -> Option<i64>| -> Vec<Option<f64>> {
        buckets.iter().map(|b| f(b).map(|m| m as f64)).collect()
    };
    let turnaround_svg = chart::lines_against(
        &tr.t("board.chart_turnaround"),
        &labels,
        &[
            ("p50", "p50", series(|b| b.summary.turnaround_p50_minutes)),
            ("p90", "p90", series(|b| b.summary.turnaround_p90_minutes)),
            ("p99", "p99", series(|b| b.summary.turnaround_p99_minutes)),
        ],
        (&tr.t("board.deadline_line"), 720.0),
    );
    let s = &t.stage_minutes;
    let stage_words = |k: &str| tr.code("stage", k);
    let parts: Vec<(String, f64)> = [
        ("recollect", s.recollect),
        ("transport", s.transport),
        ("queue", s.queue),
        ("run", s.run),
        ("review", s.review),
        ("push", s.push),
    ]
    .iter()
    .map(|(k, v)| (stage_words(k), v.unwrap_or(0.0)))
    .collect();
    let parts_ref: Vec<(&str, f64)> = parts.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let stages_svg = chart::stacked(&tr.t("board.chart_stages"), &parts_ref);
    let period = match (&q.from, &q.to) {
        (Some(f), Some(t)) => format!("&from={f}&to={t}"),
        (Some(f), None) => format!("&from={f}"),
        _ => String::new(),
    };
    ReportView {
        from: r.from.with_timezone(&tr.tz).format("%Y-%m-%d").to_string(),
        to: r
            .to
            .with_timezone(&tr.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        totals,
        volume_svg,
        turnaround_svg,
        stages_svg,
        csv: format!("/api/v1/turnaround/report?format=csv&lab={lab}{period}"),
        xlsx: format!("/api/v1/turnaround/report?format=xlsx&lab={lab}{period}"),
    }
}

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    chrome: Chrome,
    lab: String,
    risks: Risks,
    capacity: Vec<(String, String)>,
    report: ReportView,
    from: String,
    to: String,
}

#[derive(Template)]
#[template(path = "board_risks.html")]
struct RisksFragment {
    chrome: Chrome,
    risks: Risks,
}

async fn page(State(s): State<AppState>, page: Signed, Query(q): Query<BoardQuery>) -> Response {
    if let Some(r) = page.refusal(Action::ViewReview) {
        return r;
    }
    let lab = match lab_or_choice(&s, &page, q.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(r) => return r,
    };
    let loaded = async {
        let risks = risks(&s, &page, &lab).await?;
        let mut conn = s.store.reader().acquire().await?;
        let cap = turnaround::capacity(
            &mut conn,
            &page.actor,
            &CapacityFilter {
                lab: Some(lab.clone()),
            },
        )
        .await?
        .view(s.tz);
        let filter = ReportFilter {
            from: q.from.clone().filter(|f| !f.is_empty()),
            to: q.to.clone().filter(|t| !t.is_empty()),
            lab: Some(lab.clone()),
            ..Default::default()
        };
        let report =
            turnaround_report::report(&mut conn, &page.actor, &filter, s.tz, s.today()).await?;
        Ok::<_, Error>((risks, cap, report))
    };
    let (risks, cap, report) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let chrome = page.chrome;
    render(
        StatusCode::OK,
        &BoardPage {
            capacity: capacity_lines(&chrome, &cap),
            report: report_view(&chrome, &report, &q, &lab),
            from: q.from.clone().unwrap_or_default(),
            to: q.to.clone().unwrap_or_default(),
            chrome,
            lab,
            risks,
        },
    )
}

/// The at-risk list alone (the board refreshes it every minute).
async fn at_risk_fragment(
    State(s): State<AppState>,
    page: Signed,
    Query(q): Query<BoardQuery>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewReview) {
        return r;
    }
    let lab = match super::page::lab_for(&s, &page.actor, q.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(e) => return error_page(page.chrome, e),
    };
    match risks(&s, &page, &lab).await {
        Ok(risks) => render(
            StatusCode::OK,
            &RisksFragment {
                chrome: page.chrome,
                risks,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}
