//! 上样 the bench: the lab's plates, a new plate, and the plate builder — the plate's picture
//! with the next free well marked, a scan box that puts each tube into it, the proposal (re-checks
//! first, then the earliest deadline) accepted in one action, a mis-scan taken out before
//! results — and the import of the instrument's files: read and checked against the layout
//! first (a preview, nothing written), then imported. The rules are the plate and import
//! services'; this screen asks them and shows the answer.

use super::page::{
    apply, beep, error_page, hx_redirect, lab_for, lab_or_choice, render, Chrome, Message, Signed,
    Where,
};
use super::plate_map::{next_well, plate_map, PlateMap};
use crate::domain::policy::Action;
use crate::error::Error;
use crate::service::imports;
use crate::service::plates::{self, AssignWell, NewPlate, PlateFilter};
use crate::state::AppState;
use crate::view::import::ImportView;
use crate::view::plate::{PlateSummary, PlateView};
use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plates", get(list))
        .route("/plates/new", post(create))
        .route("/plates/{plate}", get(page))
        .route("/plates/{plate}/scan", post(scan))
        .route("/plates/{plate}/fill", post(fill))
        .route("/plates/{plate}/remove", post(remove))
        .route("/plates/{plate}/preview", post(preview))
        .route("/plates/{plate}/import", post(import))
        // An instrument's files are larger than a form: as large as the API takes them.
        .layer(axum::extract::DefaultBodyLimit::max(
            imports::MAX_FILE_BYTES * 2,
        ))
}

#[derive(Debug, Default, Deserialize)]
pub struct LabQuery {
    #[serde(default)]
    lab: Option<String>,
}

/// A plate in the list, in words.
pub struct PlateLine {
    run_no: String,
    size: u16,
    kit: String,
    status: &'static str,
    status_words: String,
    created: String,
}

fn plate_line(chrome: &Chrome, p: &PlateSummary) -> PlateLine {
    PlateLine {
        run_no: p.run_no.clone(),
        size: p.size,
        kit: format!("{} v{}", p.kit, p.kit_version),
        status: p.status.as_str(),
        status_words: chrome.tr.code("plate_status", p.status.as_str()),
        created: chrome.tr.time(&p.created_at),
    }
}

#[derive(Template)]
#[template(path = "plates.html")]
struct PlatesPage {
    chrome: Chrome,
    lab: String,
    may_run: bool,
    kits: Vec<(String, String)>,
    plates: Vec<PlateLine>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

/// The lab's plates, newest first, and the form for a new one.
async fn list(State(s): State<AppState>, page: Signed, Query(q): Query<LabQuery>) -> Response {
    if let Some(r) = page.refusal(Action::ViewPlates) {
        return r;
    }
    let lab = match lab_or_choice(&s, &page, q.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(r) => return r,
    };
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let filter = PlateFilter {
            lab: Some(lab.clone()),
            status: None,
        };
        let plates = plates::list(&mut conn, &page.actor, &filter).await?;
        let kits = crate::service::kits::list(&mut conn, &page.actor).await?;
        Ok::<_, Error>((plates, kits))
    };
    let (rows, kits) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let mut kit_choices: Vec<(String, String)> = vec![];
    for k in kits.iter().filter(|k| k.active) {
        if !kit_choices.iter().any(|(c, _)| *c == k.kit.code) {
            kit_choices.push((
                k.kit.code.clone(),
                format!("{} · {}", k.kit.code, k.kit.name),
            ));
        }
    }
    let plates = rows
        .iter()
        .map(|p| plate_line(&page.chrome, &p.summary(s.tz)))
        .collect();
    let idle = page.chrome.t("plates.idle");
    render(
        StatusCode::OK,
        &PlatesPage {
            may_run: page.actor.require(Action::RunPlates).is_ok(),
            chrome: page.chrome,
            lab,
            kits: kit_choices,
            plates,
            message: None,
            idle,
            oob: false,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct NewPlateForm {
    #[serde(default)]
    lab: Option<String>,
    #[serde(default)]
    size: u16,
    #[serde(default)]
    kit: String,
    #[serde(default)]
    instrument: Option<String>,
}

/// A refusal alone: the message swapped in, nothing else touched, and the beep.
fn refusal(chrome: Chrome, e: Error, back: &str) -> Response {
    super::page::said(chrome, Err(e), back, Where::MessageLine)
}

/// Creates a plate and opens it.
async fn create(State(s): State<AppState>, page: Signed, Form(f): Form<NewPlateForm>) -> Response {
    if let Some(r) = page.refusal(Action::RunPlates) {
        return r;
    }
    let lab = match lab_for(&s, &page.actor, f.lab.as_deref()).await {
        Ok(lab) => lab,
        Err(e) => return refusal(page.chrome, e, "/plates"),
    };
    let req = NewPlate {
        lab,
        size: f.size,
        kit: f.kit,
        kit_version: None,
        instrument: f.instrument.filter(|i| !i.trim().is_empty()),
    };
    let tz = s.tz;
    let made = apply(&s, &page.actor, move |tx| {
        let req = req.clone();
        Box::pin(async move { Ok(plates::create(tx, req).await?.view(tz)) })
    })
    .await;
    match made {
        Ok(p) => hx_redirect(&format!("/plates/{}", p.run_no)),
        Err(e) => refusal(page.chrome, e, "/plates"),
    }
}

/// A well in the plate's list, in words.
pub struct WellLine {
    well: String,
    barcode: String,
    what: String,
    deadline: String,
    call: String,
    call_code: String,
    cts: String,
}

/// The plate as the builder shows it.
pub struct Bench {
    run_no: String,
    loading: bool,
    next: Option<String>,
    free: u16,
    map: PlateMap,
    wells: Vec<WellLine>,
}

fn bench(chrome: &Chrome, p: &PlateView) -> Bench {
    let tr = &chrome.tr;
    let wells = p
        .wells
        .iter()
        .filter_map(|w| {
            let t = w.tube.as_ref()?;
            Some(WellLine {
                well: w.well.clone(),
                barcode: t.barcode.clone(),
                what: format!(
                    "{} · {}",
                    tr.code("kind", t.kind.as_str()),
                    tr.f("reception.people", &[("count", &t.member_count)])
                ),
                deadline: tr.time(&t.deadline_at),
                call: w
                    .call
                    .as_ref()
                    .map(|c| tr.code("call", &c.call))
                    .unwrap_or_default(),
                call_code: w.call.as_ref().map(|c| c.call.clone()).unwrap_or_default(),
                cts: w.call.as_ref().map(|c| cts(&c.cts)).unwrap_or_default(),
            })
        })
        .collect();
    Bench {
        run_no: p.run_no.clone(),
        loading: p.status == crate::domain::plate::PlateStatus::Loading,
        next: next_well(p),
        free: p.free_wells,
        map: plate_map(chrome, p),
        wells,
    }
}

/// Ct values by channel as a line (`ORF1ab 22.1 · N 23.4 · IC 28.0`; `—` for none).
pub fn cts(v: &serde_json::Value) -> String {
    let Some(m) = v.as_object() else {
        return String::new();
    };
    m.iter()
        .map(|(k, v)| match v.as_f64() {
            Some(ct) => format!("{k} {ct:.1}"),
            None => format!("{k} —"),
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// An import (or its preview) in words.
pub struct ImportCard {
    title: String,
    preview: bool,
    duplicate: bool,
    files: Vec<String>,
    run_valid: bool,
    run_problems: Vec<String>,
    summary: Vec<(String, String, usize)>,
    /// Every call that is not a negative: (well, barcode, code, words).
    notable: Vec<(String, String, String, String)>,
    missing: String,
    unexpected: String,
    doubts: Vec<String>,
    by: String,
}

fn import_card(chrome: &Chrome, v: &ImportView, preview: bool) -> ImportCard {
    let tr = &chrome.tr;
    ImportCard {
        title: tr.f("import.round_n", &[("n", &v.round)]),
        preview,
        duplicate: v.duplicate,
        files: v
            .files
            .iter()
            .map(|f| format!("{} · {} · {} B", f.name, f.format, tr.num(f.size as i64)))
            .collect(),
        run_valid: v.run.valid,
        run_problems: v
            .run
            .failures
            .iter()
            .chain(v.run.warnings.iter())
            .cloned()
            .collect(),
        summary: v
            .summary
            .iter()
            .map(|(code, n)| (code.clone(), tr.code("call", code), *n))
            .collect(),
        notable: v
            .calls
            .iter()
            .filter(|c| c.call != crate::domain::interpretation::Call::Negative)
            .map(|c| {
                let code = c.call.to_stored().0.as_str().to_string();
                let words = tr.code("call", &code);
                (c.well.clone(), c.barcode.clone(), code, words)
            })
            .collect(),
        missing: v.missing_wells.join(", "),
        unexpected: v.unexpected_wells.join(", "),
        doubts: v.doubts.iter().map(ToString::to_string).collect(),
        by: if preview {
            String::new()
        } else {
            format!("{} · {}", v.imported_by, tr.time(&v.imported_at))
        },
    }
}

#[derive(Template)]
#[template(path = "plate.html")]
struct PlatePage {
    chrome: Chrome,
    plate: PlateView,
    kit: String,
    status_words: String,
    may_run: bool,
    may_review: bool,
    bench: Bench,
    imports: Vec<ImportCard>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

#[derive(Template)]
#[template(path = "plate_bench_fragment.html")]
struct BenchFragment {
    chrome: Chrome,
    may_run: bool,
    bench: Bench,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

#[derive(Template)]
#[template(path = "import_refused.html")]
struct ImportRefused {
    chrome: Chrome,
    message: Message,
}

/// A refused preview or import, shown where the files were given (and the beep).
fn import_refused(chrome: Chrome, e: Error, back: &str) -> Response {
    if e.status == StatusCode::UNAUTHORIZED {
        return super::page::sign_in_first(back, true);
    }
    let message = Message::refused(&chrome, &e);
    beep(render(StatusCode::OK, &ImportRefused { chrome, message }))
}

#[derive(Template)]
#[template(path = "import_card.html")]
struct ImportFragment {
    chrome: Chrome,
    card: ImportCard,
}

async fn load(s: &AppState, page: &Signed, plate: &str) -> Result<PlateView, Error> {
    let mut conn = s.store.reader().acquire().await?;
    Ok(plates::find(&mut conn, &page.actor, plate)
        .await?
        .view(s.tz))
}

/// The plate builder.
async fn page(State(s): State<AppState>, page: Signed, Path(plate): Path<String>) -> Response {
    if let Some(r) = page.refusal(Action::ViewPlates) {
        return r;
    }
    let loaded = async {
        let p = load(&s, &page, &plate).await?;
        let mut conn = s.store.reader().acquire().await?;
        let imports = imports::list(&mut conn, &page.actor, &p.run_no).await?;
        Ok::<_, Error>((p, imports))
    };
    let (p, imports) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let chrome = page.chrome;
    let idle = match next_well(&p) {
        Some(w) => chrome.tr.f("plate.scan_into", &[("well", &w)]),
        None if p.imports > 0 => chrome.t("plate.resulted_idle"),
        None => chrome.t("plate.full_idle"),
    };
    render(
        StatusCode::OK,
        &PlatePage {
            kit: format!("{} v{}", p.kit, p.kit_version),
            status_words: chrome.tr.code("plate_status", p.status.as_str()),
            may_run: page.actor.require(Action::RunPlates).is_ok(),
            may_review: page.actor.require(Action::ViewReview).is_ok(),
            bench: bench(&chrome, &p),
            imports: imports
                .iter()
                .rev()
                .map(|i| import_card(&chrome, &i.view(s.tz), false))
                .collect(),
            plate: p,
            chrome,
            message: None,
            idle,
            oob: false,
        },
    )
}

/// The plate's picture and wells after a change, with what happened.
async fn after_change(s: &AppState, page: Signed, plate: &str, message: Message) -> Response {
    match load(s, &page, plate).await {
        Ok(p) => render(
            StatusCode::OK,
            &BenchFragment {
                may_run: true,
                bench: bench(&page.chrome, &p),
                chrome: page.chrome,
                message: Some(message),
                idle: String::new(),
                oob: true,
            },
        ),
        Err(e) => refusal(page.chrome, e, &format!("/plates/{plate}")),
    }
}

#[derive(Debug, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    code: String,
}

/// A tube scanned into the next free well.
async fn scan(
    State(s): State<AppState>,
    page: Signed,
    Path(plate): Path<String>,
    Form(f): Form<ScanForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::RunPlates) {
        return r;
    }
    let back = format!("/plates/{plate}");
    let code = f.code.trim().to_string();
    if code.is_empty() {
        let e = Error::invalid("barcode", "scan a tube's barcode");
        return refusal(page.chrome, e, &back);
    }
    let req = AssignWell {
        barcode: code,
        well: None,
    };
    let p = plate.clone();
    let placed = apply(&s, &page.actor, move |tx| {
        let (p, req) = (p.clone(), req.clone());
        Box::pin(async move { plates::assign(tx, &p, req).await })
    })
    .await;
    match placed {
        Ok(placed) => {
            let text = page.chrome.tr.f(
                "plate.placed",
                &[("barcode", &placed.barcode), ("well", &placed.well)],
            );
            let message = if placed.warnings.is_empty() {
                Message::ok(text)
            } else {
                Message::warn(text, placed.warnings.join(" "))
            };
            after_change(&s, page, &plate, message).await
        }
        Err(e) => refusal(page.chrome, e, &back),
    }
}

/// The free wells filled as proposed.
async fn fill(State(s): State<AppState>, page: Signed, Path(plate): Path<String>) -> Response {
    if let Some(r) = page.refusal(Action::RunPlates) {
        return r;
    }
    let (p, tz) = (plate.clone(), s.tz);
    let filled = apply(&s, &page.actor, move |tx| {
        let p = p.clone();
        Box::pin(async move { Ok(plates::fill(tx, &p).await?.view(tz)) })
    })
    .await;
    match filled {
        Ok(p) => {
            let tubes = p.wells.iter().filter(|w| w.tube.is_some()).count();
            let text = page.chrome.tr.f(
                "plate.filled",
                &[("count", &tubes), ("free", &p.free_wells)],
            );
            after_change(&s, page, &plate, Message::ok(text)).await
        }
        Err(e) => refusal(page.chrome, e, &format!("/plates/{plate}")),
    }
}

#[derive(Debug, Deserialize)]
pub struct RemoveForm {
    #[serde(default)]
    well: String,
}

/// A mis-scanned tube taken out of its well (before results).
async fn remove(
    State(s): State<AppState>,
    page: Signed,
    Path(plate): Path<String>,
    Form(f): Form<RemoveForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::RunPlates) {
        return r;
    }
    let (p, well, tz) = (plate.clone(), f.well.trim().to_string(), s.tz);
    let w = well.clone();
    let removed = apply(&s, &page.actor, move |tx| {
        let (p, w) = (p.clone(), w.clone());
        Box::pin(async move { Ok(plates::unassign(tx, &p, &w).await?.view(tz)) })
    })
    .await;
    match removed {
        Ok(_) => {
            let text = page.chrome.tr.f("plate.removed", &[("well", &well)]);
            after_change(&s, page, &plate, Message::ok(text)).await
        }
        Err(e) => refusal(page.chrome, e, &format!("/plates/{plate}")),
    }
}

/// The files read and checked against the plate's layout, nothing written: what an import
/// would do.
async fn preview(
    State(s): State<AppState>,
    page: Signed,
    Path(plate): Path<String>,
    req: Request,
) -> Response {
    if let Some(r) = page.refusal(Action::RunPlates) {
        return r;
    }
    let checked = async {
        let (read, _) =
            crate::api::plates::read_upload(&s, &page.actor, &plate, None, None, req).await?;
        let mut conn = s.store.reader().acquire().await?;
        imports::preview(&mut conn, &page.actor, &plate, &read).await
    };
    match checked.await {
        Ok(v) => {
            let card = import_card(&page.chrome, &v.view(s.tz), true);
            render(
                StatusCode::OK,
                &ImportFragment {
                    chrome: page.chrome,
                    card,
                },
            )
        }
        Err(e) => import_refused(page.chrome, e, &format!("/plates/{plate}")),
    }
}

/// The files imported (checked again, all wells or none); the plate page then shows the calls.
async fn import(
    State(s): State<AppState>,
    page: Signed,
    Path(plate): Path<String>,
    req: Request,
) -> Response {
    if let Some(r) = page.refusal(Action::RunPlates) {
        return r;
    }
    let done = async {
        let (read, reason) =
            crate::api::plates::read_upload(&s, &page.actor, &plate, None, None, req).await?;
        let reason = reason.filter(|r| !r.trim().is_empty());
        crate::api::plates::import_read(&s, &page.actor, &plate, read, reason).await
    };
    match done.await {
        Ok(v) => hx_redirect(&format!("/plates/{}", v.plate)),
        Err(e) => import_refused(page.chrome, e, &format!("/plates/{plate}")),
    }
}
