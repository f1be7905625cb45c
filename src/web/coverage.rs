//! 合规报告 the compliance report of a period on a page: the share of staff who might work day
//! by day and the person-days off duty, as charts and tables, with the workbook to download —
//! for an institution (its administrator; an inspector choosing one) or a region (inspectors).

use super::page::{error_page, render, Chrome, Signed};
use crate::domain::policy::{Action, Scope};
use crate::domain::programme::DutyState;
use crate::service::coverage::{self, PeriodQuery};
use crate::state::AppState;
use crate::view::coverage::{charts, ChartWords, CoverageReport};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/compliance/report", get(report_page))
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportParams {
    #[serde(default)]
    institution: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// A day of the report in words: date, staff, on duty, overdue, never tested, excluded, share.
type DayRow = (String, i64, i64, i64, i64, i64, String);
/// An institution's line: code, name, region, person-days, off duty, share.
type InstitutionRow = (String, String, String, i64, i64, String);

#[derive(Template)]
#[template(path = "compliance_report.html")]
struct ReportPage {
    chrome: Chrome,
    r: CoverageReport,
    subject: String,
    institution: String,
    region: String,
    share: String,
    daily_svg: String,
    split_svg: String,
    days: Vec<DayRow>,
    institutions: Vec<InstitutionRow>,
    export: String,
    back: String,
}

fn percent(x: Option<f64>) -> String {
    x.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn day(v: Option<&str>) -> Option<NaiveDate> {
    v.filter(|x| !x.is_empty())
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

async fn report_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<ReportParams>,
) -> Response {
    let own = match &page.actor.scope {
        Scope::Institution { code, .. } => Some(code.clone()),
        _ => None,
    };
    let institution = own.or_else(|| {
        p.institution
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
    });
    let wanted = if institution.is_some() {
        Action::ViewLedger
    } else {
        Action::ViewCompliance
    };
    if let Some(r) = page.refusal(wanted) {
        return r;
    }
    let q = PeriodQuery {
        from: day(p.from.as_deref()),
        to: day(p.to.as_deref()),
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        match &institution {
            Some(code) => {
                coverage::institution(&mut conn, &page.actor, code, &q, s.tz, s.today()).await
            }
            None => {
                coverage::region(
                    &mut conn,
                    &page.actor,
                    p.region.as_deref(),
                    &q,
                    s.tz,
                    s.today(),
                )
                .await
            }
        }
    };
    let r = match loaded.await {
        Ok(r) => r,
        Err(e) => return error_page(page.chrome, e),
    };
    let tr = &page.chrome.tr;
    let words = ChartWords {
        daily_title: tr.t("report.chart_daily"),
        off_duty: tr.t("report.off_duty"),
        covered_share: tr.t("report.share"),
        split_title: tr.t("report.chart_split"),
        states: DutyState::ALL
            .iter()
            .map(|s| tr.code("duty", s.as_str()))
            .collect(),
    };
    let (daily_svg, split_svg) = charts(&r, &words);
    let days = r
        .days
        .iter()
        .rev()
        .map(|d| {
            (
                d.date.to_string(),
                d.counts.staff,
                d.on_duty,
                d.counts.overdue,
                d.counts.never_tested,
                d.counts.excluded,
                percent(d.covered_share),
            )
        })
        .collect();
    let institutions = if r.institution.is_some() {
        vec![]
    } else {
        r.institutions
            .iter()
            .map(|i| {
                (
                    i.code.clone(),
                    i.name.clone(),
                    i.region.clone(),
                    i.person_days.staff,
                    i.off_duty_person_days,
                    percent(i.covered_share),
                )
            })
            .collect()
    };
    let period = format!("from={}&to={}", r.from, r.to);
    let (export, back, subject) = match (&r.institution, &r.institution_name) {
        (Some(code), Some(name)) => (
            format!("/api/v1/institutions/{code}/compliance?format=xlsx&{period}"),
            format!("/ledger?institution={code}"),
            format!("{name} ({code})"),
        ),
        _ => (
            format!(
                "/api/v1/compliance/period?format=xlsx&region={}&{period}",
                r.region
            ),
            format!("/compliance?region={}", r.region),
            if r.region.is_empty() {
                tr.t("who.everywhere")
            } else {
                format!("{} {}", tr.t("scope.region"), r.region)
            },
        ),
    };
    render(
        StatusCode::OK,
        &ReportPage {
            share: percent(r.covered_share),
            institution: r.institution.clone().unwrap_or_default(),
            region: r.region.clone(),
            subject,
            r,
            daily_svg,
            split_svg,
            days,
            institutions,
            export,
            back,
            chrome: page.chrome,
        },
    )
}
