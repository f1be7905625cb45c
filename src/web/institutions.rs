//! 单位 the institution administrator's screens — the ledger (台账) with its filters and its
//! workbook, the roster upload (previewed, every row's problem with its line, then applied) —
//! and the regional inspector's compliance view. The rules are the ledger and roster
//! services'; these screens ask them and show the answer.

use super::page::{
    choose_page, error_page, hx_redirect, render, said, Chrome, Message, Signed, Where,
};
use crate::domain::policy::{Action, Scope};
use crate::domain::programme::DutyState;
use crate::domain::roster::RosterMode;
use crate::error::Error;
use crate::service::ledger::{self, LedgerQuery};
use crate::service::roster::{self, RosterFile, RosterOptions, RosterReport};
use crate::state::AppState;
use crate::view::ledger::{Compliance, Ledger};
use askama::Template;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ledger", get(ledger_page))
        .route("/roster", get(roster_page))
        .route("/roster/preview", post(preview))
        .route("/roster/apply", post(apply_roster))
        .route("/compliance", get(compliance_page))
        .route("/sessions", get(sessions_page))
        .route("/sessions/order", post(order_session))
        .route("/sessions/{id}", get(session_page))
        .route("/site-sessions", get(site_sessions_page))
        .route("/environment", get(environment_page))
        .route("/cohorts", get(cohorts_page))
        .route("/cohorts/{code}", get(cohort_page))
        .layer(axum::extract::DefaultBodyLimit::max(
            roster::MAX_FILE_BYTES + (1 << 20),
        ))
}

#[derive(Debug, Default, Deserialize)]
pub struct LedgerParams {
    #[serde(default)]
    institution: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    ended: Option<String>,
}

impl LedgerParams {
    /// The institution asked for, if any.
    pub fn institution(&self) -> Option<&str> {
        self.institution.as_deref()
    }
}

/// The institution a page is about: the user's own, the one asked for, or — for someone who
/// sees several — the page to choose one.
pub(super) async fn institution_or_choice(
    s: &AppState,
    page: &Signed,
    asked: Option<&str>,
) -> Result<String, Response> {
    if let Scope::Institution { code, .. } = &page.actor.scope {
        return Ok(code.clone());
    }
    if let Some(a) = asked.map(str::trim).filter(|a| !a.is_empty()) {
        return Ok(a.to_string());
    }
    let listed = async {
        let mut conn = s.store.reader().acquire().await?;
        let region = match &page.actor.scope {
            Scope::Region(r) => r.clone(),
            _ => String::new(),
        };
        Ok::<_, Error>(crate::store::registry::institutions_in(&mut conn, &region).await?)
    };
    Err(match listed.await {
        Ok(list) => {
            let path = page.chrome.path.clone();
            let items = list
                .into_iter()
                .map(|i| (format!("{path}?institution={}", i.code), i.code, i.name))
                .collect();
            choose_page(page.chrome.clone(), "institution", items)
        }
        Err(e) => error_page(page.chrome.clone(), e),
    })
}

/// A ledger line, in words.
pub struct LineWords {
    name: String,
    doc_no: String,
    class: String,
    programme: String,
    last: String,
    lab: String,
    tube: String,
    until: String,
    state: &'static str,
    state_words: String,
    on_duty: bool,
    note: String,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    l: Ledger,
    code: String,
    lines: Vec<LineWords>,
    states: Vec<(String, String, i64, bool)>,
    classes: Vec<(String, bool)>,
    on: String,
    ended: bool,
    export: String,
    may_upload: bool,
}

async fn ledger_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewLedger) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let state = p
        .state
        .as_deref()
        .filter(|x| !x.is_empty())
        .and_then(DutyState::parse);
    let on =
        p.on.as_deref()
            .filter(|x| !x.is_empty())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let ended = p.ended.as_deref() == Some("1");
    let q = LedgerQuery {
        state,
        class: p.class.clone().filter(|c| !c.is_empty()),
        ended,
        on,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let l = ledger::ledger(&mut conn, &page.actor, &code, &q, s.tz, s.today()).await?;
        let classes = crate::service::programmes::classes(&mut conn, &page.actor, &code).await?;
        Ok::<_, Error>((l, classes))
    };
    let (l, classes) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let tr = &page.chrome.tr;
    let lines = l
        .lines
        .iter()
        .map(|x| LineWords {
            name: x.name.clone(),
            doc_no: x.doc_no.clone(),
            class: x.class.clone(),
            programme: format!("{} v{}", x.programme, x.programme_version),
            last: x
                .last_negative_at
                .map(|t| tr.time(&t))
                .unwrap_or_else(|| "—".into()),
            lab: x.last_lab.clone().unwrap_or_default(),
            tube: x.last_tube.clone().unwrap_or_default(),
            until: x
                .covered_until
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
            state: x.state.as_str(),
            state_words: tr.code("duty", x.state.as_str()),
            on_duty: x.on_duty,
            note: match (x.hold, x.overdue_days, &x.left_on) {
                (_, _, Some(left)) => tr.f("ledger.left_on", &[("on", left)]),
                (Some(h), _, _) => tr.code("hold", h.as_str()),
                (None, Some(d), _) => tr.f("ledger.overdue_days", &[("n", &d)]),
                _ => String::new(),
            },
        })
        .collect();
    let c = &l.counts;
    let states = [
        (DutyState::Covered, c.covered),
        (DutyState::DueSoon, c.due_soon),
        (DutyState::Overdue, c.overdue),
        (DutyState::NeverTested, c.never_tested),
        (DutyState::Excluded, c.excluded),
    ]
    .iter()
    .map(|(st, n)| {
        (
            st.as_str().to_string(),
            tr.code("duty", st.as_str()),
            *n,
            state == Some(*st),
        )
    })
    .collect();
    let classes = classes
        .into_iter()
        .map(|k| {
            let on = p.class.as_deref() == Some(k.name.as_str());
            (k.name, on)
        })
        .collect();
    let export = format!(
        "/api/v1/institutions/{code}/ledger?format=xlsx{}{}",
        on.map(|d| format!("&on={d}")).unwrap_or_default(),
        state.map(|x| format!("&state={x}")).unwrap_or_default()
    );
    let may_upload = page.actor.require(Action::ManageStaff).is_ok();
    render(
        StatusCode::OK,
        &LedgerPage {
            on: on.map(|d| d.to_string()).unwrap_or_default(),
            code: l.institution.clone(),
            l,
            lines,
            states,
            classes,
            ended,
            export,
            may_upload,
            chrome: page.chrome,
        },
    )
}

#[derive(Template)]
#[template(path = "roster.html")]
struct RosterPage {
    chrome: Chrome,
    code: String,
    classes: Vec<(String, String)>,
    today: String,
}

async fn roster_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::service::programmes::classes(&mut conn, &page.actor, &code).await
    };
    let classes = match loaded.await {
        Ok(c) => c.into_iter().map(|k| (k.name, k.programme)).collect(),
        Err(e) => return error_page(page.chrome, e),
    };
    render(
        StatusCode::OK,
        &RosterPage {
            chrome: page.chrome,
            code,
            classes,
            today: s.today().to_string(),
        },
    )
}

/// The roster form: its file and options.
async fn roster_form(req: Request) -> Result<(RosterFile, RosterOptions), Error> {
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| Error::malformed(format!("reading the form: {e}")))?;
    let mut file = None;
    let mut mode = RosterMode::Add;
    let mut effective_on = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Error::malformed(format!("reading the form: {e}")))?
    {
        match (
            field.name().unwrap_or(""),
            field.file_name().map(String::from),
        ) {
            ("file", Some(name)) if !name.is_empty() => {
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| Error::malformed(format!("reading {name}: {e}")))?;
                file = Some(RosterFile {
                    name,
                    bytes: bytes.to_vec(),
                });
            }
            ("mode", _) => {
                let v = field.text().await.unwrap_or_default();
                mode = RosterMode::parse(v.trim()).unwrap_or(RosterMode::Add);
            }
            ("effective_on", _) => {
                let v = field.text().await.unwrap_or_default();
                effective_on = NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok();
            }
            _ => {}
        }
    }
    let file = file.ok_or_else(|| Error::invalid("file", "choose the roster file first"))?;
    Ok((file, RosterOptions { mode, effective_on }))
}

#[derive(Template)]
#[template(path = "roster_report.html")]
struct ReportFragment {
    chrome: Chrome,
    r: Option<RosterReport>,
    message: Option<Message>,
    code: String,
}

fn report_fragment(chrome: Chrome, code: String, r: Result<RosterReport, Error>) -> Response {
    let (r, message) = match r {
        Ok(r) => {
            let m = if r.applied {
                Some(Message::ok(chrome.tr.f(
                    "roster.applied",
                    &[
                        ("joins", &r.joins),
                        ("moves", &r.moves),
                        ("leaves", &r.leaves),
                    ],
                )))
            } else {
                None
            };
            (Some(r), m)
        }
        Err(e) => (
            None,
            Some(Message {
                tone: "refused",
                text: e.message.clone(),
                detail: e.code.to_string(),
            }),
        ),
    };
    render(
        StatusCode::OK,
        &ReportFragment {
            chrome,
            r,
            message,
            code,
        },
    )
}

async fn preview(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
    req: Request,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = async {
        let (file, o) = roster_form(req).await?;
        let mut conn = s.store.reader().acquire().await?;
        roster::preview(&mut conn, &page.actor, &code, &file, o, s.today()).await
    };
    let r = done.await;
    report_fragment(page.chrome, code, r)
}

async fn apply_roster(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
    req: Request,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let done = async {
        let (file, o) = roster_form(req).await?;
        let file = std::sync::Arc::new(file);
        let c = code.clone();
        super::page::apply(&s, &page.actor, move |tx| {
            let (c, file) = (c.clone(), file.clone());
            Box::pin(async move { roster::apply(tx, &c, &file, o, None).await })
        })
        .await
    };
    let r = done.await;
    report_fragment(page.chrome, code, r)
}

#[derive(Debug, Default, Deserialize)]
pub struct RegionParams {
    #[serde(default)]
    region: Option<String>,
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage {
    chrome: Chrome,
    c: Compliance,
    share: String,
    rows: Vec<ComplianceRow>,
}

/// An institution's line of the compliance view: code, name, region, staff, on duty, overdue,
/// never tested, excluded, share off duty.
type ComplianceRow = (String, String, String, i64, i64, i64, i64, i64, String);

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

async fn compliance_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<RegionParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewCompliance) {
        return r;
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        ledger::compliance(&mut conn, &page.actor, p.region.as_deref(), s.today()).await
    };
    let c = match loaded.await {
        Ok(c) => c,
        Err(e) => return error_page(page.chrome, e),
    };
    let rows = c
        .institutions
        .iter()
        .map(|i| {
            (
                i.code.clone(),
                i.name.clone(),
                i.region.clone(),
                i.counts.staff,
                i.on_duty,
                i.counts.overdue,
                i.counts.never_tested,
                i.counts.excluded,
                percent(i.off_duty_share),
            )
        })
        .collect();
    render(
        StatusCode::OK,
        &CompliancePage {
            share: percent(c.off_duty_share),
            c,
            rows,
            chrome: page.chrome,
        },
    )
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    code: String,
    sessions: Vec<crate::view::session::GroupSession>,
    sites: Vec<(String, String)>,
    classes: Vec<String>,
    today: String,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn sessions_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewLedger) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let sessions = crate::service::sessions::list(&mut conn, &page.actor, &code, s.tz).await?;
        let sites = crate::store::registry::sites(&mut conn).await?;
        let classes = crate::service::programmes::classes(&mut conn, &page.actor, &code).await?;
        Ok::<_, Error>((sessions, sites, classes))
    };
    let (sessions, sites, classes) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let idle = page.chrome.t("sessions.idle");
    render(
        StatusCode::OK,
        &SessionsPage {
            code,
            sessions,
            sites: sites.into_iter().map(|r| (r.code, r.name)).collect(),
            classes: classes.into_iter().map(|c| c.name).collect(),
            today: s.today().to_string(),
            message: None,
            idle,
            oob: false,
            chrome: page.chrome,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct OrderForm {
    site: String,
    #[serde(default)]
    on: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    class: String,
}

async fn order_session(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<LedgerParams>,
    Form(f): Form<OrderForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageStaff) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let order = crate::service::sessions::SessionOrder {
        site: f.site,
        on: NaiveDate::parse_from_str(f.on.trim(), "%Y-%m-%d").ok(),
        who: Some(f.who).filter(|w| !w.is_empty()),
        class: Some(f.class).filter(|c| !c.is_empty()),
    };
    let c = code.clone();
    let done = super::page::apply(&s, &page.actor, move |tx| {
        let (c, order) = (c.clone(), order.clone());
        Box::pin(async move { crate::service::sessions::order(tx, &c, order).await })
    })
    .await;
    match done {
        Ok(session) => hx_redirect(&format!("/sessions/{}?institution={code}", session.id)),
        Err(e) => said(page.chrome, Err(e), "/sessions", Where::MessageLine),
    }
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    chrome: Chrome,
    code: String,
    d: crate::view::session::GroupSessionDetail,
    sheet: String,
    may_print: bool,
}

async fn session_page(
    State(s): State<AppState>,
    page: Signed,
    Path(id): Path<i64>,
    Query(p): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewLedger) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, p.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::service::sessions::detail(&mut conn, &page.actor, &code, id, s.tz).await
    };
    match loaded.await {
        Ok(d) => render(
            StatusCode::OK,
            &SessionPage {
                sheet: format!("/api/v1/institutions/{code}/sessions/{id}/sheet.pdf"),
                may_print: page.actor.require(Action::ManageStaff).is_ok(),
                code,
                d,
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Template)]
#[template(path = "site_sessions.html")]
struct SiteSessionsPage {
    chrome: Chrome,
    site: String,
    on: String,
    sessions: Vec<crate::view::session::GroupSessionDetail>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SiteParams {
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    on: Option<String>,
}

async fn site_sessions_page(
    State(s): State<AppState>,
    page: Signed,
    Query(p): Query<SiteParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::Accession) {
        return r;
    }
    let site = match &page.actor.scope {
        Scope::Site { code, .. } => code.clone(),
        _ => match p.site.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
            Some(x) => x.to_string(),
            None => {
                let listed = async {
                    let mut conn = s.store.reader().acquire().await?;
                    Ok::<_, Error>(crate::store::registry::sites(&mut conn).await?)
                };
                return match listed.await {
                    Ok(list) => choose_page(
                        page.chrome.clone(),
                        "site",
                        list.into_iter()
                            .map(|x| (format!("/site-sessions?site={}", x.code), x.code, x.name))
                            .collect(),
                    ),
                    Err(e) => error_page(page.chrome, e),
                };
            }
        },
    };
    let on =
        p.on.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .unwrap_or_else(|| s.today());
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::service::sessions::at_site(&mut conn, &page.actor, &site, on, s.tz).await
    };
    match loaded.await {
        Ok(sessions) => render(
            StatusCode::OK,
            &SiteSessionsPage {
                site,
                on: on.to_string(),
                sessions,
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Template)]
#[template(path = "environment.html")]
struct EnvironmentPage {
    chrome: Chrome,
    p: crate::service::environment::Plan,
    may_order: bool,
}

async fn environment_page(
    State(s): State<AppState>,
    page: Signed,
    Query(q): Query<LedgerParams>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewLedger) {
        return r;
    }
    let code = match institution_or_choice(&s, &page, q.institution.as_deref()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let on =
        q.on.as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::service::environment::plan(&mut conn, &page.actor, &code, on, s.tz, s.today()).await
    };
    match loaded.await {
        Ok(p) => render(
            StatusCode::OK,
            &EnvironmentPage {
                p,
                may_order: page.actor.require(Action::ManageStaff).is_ok(),
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Template)]
#[template(path = "cohorts.html")]
struct CohortsPage {
    chrome: Chrome,
    cohorts: Vec<crate::view::cohort::Cohort>,
}

async fn cohorts_page(State(s): State<AppState>, page: Signed) -> Response {
    if let Some(r) = page.refusal(Action::ViewCohorts) {
        return r;
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::service::cohorts::list(&mut conn, &page.actor, s.tz, s.today()).await
    };
    match loaded.await {
        Ok(cohorts) => render(
            StatusCode::OK,
            &CohortsPage {
                cohorts,
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}

#[derive(Template)]
#[template(path = "cohort.html")]
struct CohortPage {
    chrome: Chrome,
    d: crate::view::cohort::CohortDetail,
}

async fn cohort_page(
    State(s): State<AppState>,
    page: Signed,
    Path(code): Path<String>,
) -> Response {
    if let Some(r) = page.refusal(Action::ViewCohorts) {
        return r;
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        crate::service::cohorts::detail(&mut conn, &page.actor, &code, s.tz, s.today()).await
    };
    match loaded.await {
        Ok(d) => render(
            StatusCode::OK,
            &CohortPage {
                d,
                chrome: page.chrome,
            },
        ),
        Err(e) => error_page(page.chrome, e),
    }
}
