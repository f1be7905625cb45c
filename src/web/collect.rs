//! 采样登记 the collection site's screen: one scan box that is always focused. With no tube
//! open, a scanned code opens a tube (single, or a pool of one of the site's sizes); with one
//! open, each code is a person (personal code, ID card number, or another document chosen
//! beside the box). The tube closes itself when full, or is closed short by hand with its count.
//! Every refusal comes back named, in colour and with a sound, and the box keeps the focus. The
//! rules are the accession service's; this screen only asks it and shows the answer.

use super::page::{error_page, render, Chrome, Message, Signed};
use crate::actor::Actor;
use crate::domain::id_number::DocumentType;
use crate::domain::policy::{Action, Scope};
use crate::domain::scan::{classify, Scanned};
use crate::domain::vocab::{Category, SampleType, TubeKind};
use crate::error::Error;
use crate::service::accession::{self, CloseTube, OpenTube};
use crate::service::persons::PersonScan;
use crate::service::registry::{self, Site};
use crate::state::AppState;
use crate::view::TubeView;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/collect", get(page))
        .route("/collect/scan", post(scan))
        .route("/collect/close", post(close))
}

/// The choices beside the scan box, as the form sends them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Setup {
    /// The site (an administrator chooses; a collector has theirs).
    #[serde(default)]
    site: Option<String>,
    /// `single`, or the pool size (`10`).
    #[serde(default)]
    sampling: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    sample_type: Option<String>,
    /// Empty: automatic (personal code or ID card number by shape).
    #[serde(default)]
    doc_type: Option<String>,
    /// The tube being filled.
    #[serde(default)]
    tube: Option<String>,
}

/// A scan, with the choices.
#[derive(Debug, Clone, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    code: String,
    /// For a person not yet registered.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(flatten)]
    setup: Setup,
}

/// What the choices mean, with the site's own sizes.
struct Choices {
    site: Site,
    /// `None`: single tubes.
    pool_size: Option<u32>,
    category: Category,
    sample_type: SampleType,
    doc_type: Option<DocumentType>,
}

impl Choices {
    fn of(site: Site, setup: &Setup) -> Choices {
        let pool_size = match setup.sampling.as_deref() {
            Some("single") => None,
            Some(n) => n.parse().ok(),
            None => site.pool_sizes.iter().copied().max(),
        };
        Choices {
            pool_size,
            category: setup
                .category
                .as_deref()
                .and_then(Category::parse)
                .unwrap_or(Category::MassScreening),
            sample_type: setup
                .sample_type
                .as_deref()
                .and_then(SampleType::parse)
                .unwrap_or(SampleType::Oropharyngeal),
            doc_type: setup.doc_type.as_deref().and_then(DocumentType::parse),
            site,
        }
    }
}

/// A select's option: (value, words, chosen).
type Opt = (String, String, bool);

/// The page's choices as options.
struct Choosers {
    site: String,
    site_name: String,
    sampling: Vec<Opt>,
    categories: Vec<Opt>,
    sample_types: Vec<Opt>,
    doc_types: Vec<Opt>,
}

fn form_of(chrome: &Chrome, c: &Choices) -> Choosers {
    let tr = &chrome.tr;
    let mut sampling: Vec<Opt> = vec![(
        "single".into(),
        tr.t("collect.single"),
        c.pool_size.is_none(),
    )];
    for n in &c.site.pool_sizes {
        sampling.push((
            n.to_string(),
            tr.f("collect.pool_of", &[("n", n)]),
            c.pool_size == Some(*n),
        ));
    }
    let people_types = SampleType::ALL.iter().filter(|t| !t.is_environmental());
    let mut doc_types: Vec<Opt> = vec![(
        String::new(),
        tr.t("collect.doc_auto"),
        c.doc_type.is_none(),
    )];
    doc_types.extend(DocumentType::ALL.iter().map(|d| {
        (
            d.as_str().to_string(),
            tr.code("doc_type", d.as_str()),
            c.doc_type == Some(*d),
        )
    }));
    Choosers {
        site: c.site.code.clone(),
        site_name: c.site.name.clone(),
        sampling,
        categories: Category::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str().into(),
                    tr.code("category", k.as_str()),
                    *k == c.category,
                )
            })
            .collect(),
        sample_types: people_types
            .map(|k| {
                (
                    k.as_str().into(),
                    tr.code("sample_type", k.as_str()),
                    *k == c.sample_type,
                )
            })
            .collect(),
        doc_types,
    }
}

/// The tube being filled, as the panel shows it.
pub struct Panel {
    /// The tube shown (open, or just closed).
    tube: Option<TubeView>,
    /// The tube the next scan goes into (`None` once the shown tube closed).
    current: Option<String>,
    /// A document scanned for someone not registered: the form asks for name and phone.
    new_person: Option<String>,
}

#[derive(Template)]
#[template(path = "collect.html")]
struct CollectPage {
    chrome: Chrome,
    form: Choosers,
    panel: Panel,
    card: Option<TubeCard>,
    message: Option<Message>,
    oob: bool,
}

#[derive(Template)]
#[template(path = "collect_panel.html")]
struct PanelFragment {
    chrome: Chrome,
    panel: Panel,
    card: Option<TubeCard>,
    message: Option<Message>,
    /// Rendered as an out-of-band swap of `#message`.
    oob: bool,
}

/// The site a user collects at: a collector's own; an administrator's choice.
async fn site_for(s: &AppState, actor: &Actor, asked: Option<&str>) -> Result<Site, Error> {
    let code = match (&actor.scope, asked) {
        (Scope::Site { code, .. }, _) => code.clone(),
        (_, Some(code)) if !code.trim().is_empty() => code.trim().to_string(),
        _ => {
            return Err(Error::invalid(
                "site",
                "choose the collection site: /collect?site=<site code>",
            ))
        }
    };
    let mut conn = s.store.reader().acquire().await?;
    registry::find_site(&mut conn, &code).await
}

async fn tube_view(s: &AppState, actor: &Actor, barcode: &str) -> Result<TubeView, Error> {
    let mut conn = s.store.reader().acquire().await?;
    let tube = accession::find(&mut conn, actor, barcode).await?;
    Ok(tube.view(s.tz, s.today()))
}

/// The screen.
async fn page(State(s): State<AppState>, page: Signed, Query(setup): Query<Setup>) -> Response {
    if let Some(r) = page.refusal(Action::Accession) {
        return r;
    }
    let nothing_asked = setup.site.as_deref().is_none_or(|c| c.trim().is_empty());
    if matches!(page.actor.scope, Scope::Everywhere) && nothing_asked {
        return choose_site(&s, page).await;
    }
    let site = match site_for(&s, &page.actor, setup.site.as_deref()).await {
        Ok(site) => site,
        Err(e) => return error_page(page.chrome, e),
    };
    let choices = Choices::of(site, &setup);
    // A tube still open (the page reloaded mid-tube) carries on.
    let mut panel = Panel {
        tube: None,
        current: None,
        new_person: None,
    };
    if let Some(b) = setup.tube.as_deref().filter(|b| !b.trim().is_empty()) {
        if let Ok(t) = tube_view(&s, &page.actor, b).await {
            if t.status == crate::domain::tube::TubeStatus::Open {
                panel.current = Some(t.barcode.clone());
            }
            panel.tube = Some(t);
        }
    }
    let form = form_of(&page.chrome, &choices);
    let card = panel.tube.as_ref().map(|t| card(&page.chrome, t));
    render(
        StatusCode::OK,
        &CollectPage {
            chrome: page.chrome,
            form,
            panel,
            card,
            message: None,
            oob: false,
        },
    )
}

/// The page to choose a collection site, for someone whose scope is everywhere.
async fn choose_site(s: &AppState, page: Signed) -> Response {
    let sites = async {
        let mut conn = s.store.reader().acquire().await?;
        registry::list_sites(&mut conn).await
    };
    match sites.await {
        Ok(sites) => {
            let items = sites
                .into_iter()
                .map(|site| (format!("/collect?site={}", site.code), site.code, site.name))
                .collect();
            super::page::choose_page(page.chrome, "site", items)
        }
        Err(e) => error_page(page.chrome, e),
    }
}

/// One scan: a tube barcode when no tube is open, else a person.
async fn scan(State(s): State<AppState>, page: Signed, Form(f): Form<ScanForm>) -> Response {
    if let Some(r) = page.refusal(Action::Accession) {
        return r;
    }
    let current = f.setup.tube.clone().filter(|t| !t.trim().is_empty());
    let site = match site_for(&s, &page.actor, f.setup.site.as_deref()).await {
        Ok(site) => site,
        Err(e) => return refused(&s, page, current, None, e).await,
    };
    let choices = Choices::of(site, &f.setup);
    let code = f.code.trim().to_string();
    if code.is_empty() {
        let key = if current.is_some() {
            "collect.scan_people"
        } else {
            "collect.scan_tube_first"
        };
        let text = page.chrome.t(key);
        return answer(
            &s,
            page,
            current,
            None,
            Message {
                tone: "refused",
                text,
                detail: String::new(),
            },
            true,
        )
        .await;
    }
    match current {
        None => match open(&s, &page.actor, &choices, &code).await {
            Ok(tube) => {
                let text = page
                    .chrome
                    .tr
                    .f("collect.opened", &[("barcode", &tube.barcode)]);
                let panel = Panel {
                    current: Some(tube.barcode.clone()),
                    tube: Some(tube),
                    new_person: None,
                };
                fragment(page.chrome, panel, Some(Message::ok(text)))
            }
            Err(e) => refused(&s, page, None, None, e).await,
        },
        Some(barcode) => {
            let who = person_scan(&code, &choices, f.name.as_deref(), f.phone.as_deref());
            match add(&s, &page.actor, &barcode, &who).await {
                Ok((tube, closed_now, position, name)) => {
                    let tr = page.chrome.tr;
                    let (text, current) = if closed_now {
                        (
                            tr.f(
                                "collect.full",
                                &[("barcode", &tube.barcode), ("count", &tube.member_count)],
                            ),
                            None,
                        )
                    } else {
                        (
                            tr.f("collect.added", &[("position", &position), ("name", &name)]),
                            Some(tube.barcode.clone()),
                        )
                    };
                    let panel = Panel {
                        tube: Some(tube),
                        current,
                        new_person: None,
                    };
                    fragment(page.chrome, panel, Some(Message::ok(text)))
                }
                Err(e) if needs_registration(&e, &who) => {
                    let text = page.chrome.t("collect.new_person");
                    let doc = who.doc_no.clone();
                    answer(
                        &s,
                        page,
                        Some(barcode),
                        doc,
                        Message {
                            tone: "ask",
                            text,
                            detail: String::new(),
                        },
                        false,
                    )
                    .await
                }
                Err(e) => refused(&s, page, Some(barcode), None, e).await,
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    tube: String,
}

/// Closes the open tube short of its size, with the count it has.
async fn close(State(s): State<AppState>, page: Signed, Form(f): Form<CloseForm>) -> Response {
    if let Some(r) = page.refusal(Action::Accession) {
        return r;
    }
    let barcode = f.tube.trim().to_string();
    let b = barcode.clone();
    let closed = s
        .store
        .execute(
            &page.actor,
            crate::store::change(move |tx| {
                let b = b.clone();
                Box::pin(async move { accession::close(tx, &b, CloseTube { count: None }).await })
            }),
        )
        .await;
    match closed {
        Ok(t) => {
            let tube = t.view(s.tz, s.today());
            let text = page.chrome.tr.f(
                "collect.closed_short",
                &[
                    ("barcode", &tube.barcode),
                    ("count", &tube.member_count),
                    ("size", &tube.nominal_size),
                ],
            );
            let panel = Panel {
                tube: Some(tube),
                current: None,
                new_person: None,
            };
            fragment(page.chrome, panel, Some(Message::ok(text)))
        }
        Err(e) => refused(&s, page, Some(barcode), None, e).await,
    }
}

/// How a scanned code identifies a person: the document chosen beside the box, else by shape.
fn person_scan(code: &str, c: &Choices, name: Option<&str>, phone: Option<&str>) -> PersonScan {
    let filled = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from);
    let (name, phone) = (filled(name), filled(phone));
    let document = |doc_type: DocumentType, doc_no: String| PersonScan {
        code: None,
        doc_type: Some(doc_type),
        doc_no: Some(doc_no),
        name: name.clone(),
        phone: phone.clone(),
    };
    match (c.doc_type, classify(code)) {
        (Some(doc_type), _) => document(doc_type, code.trim().to_string()),
        (None, Scanned::ResidentId(id)) => document(DocumentType::ResidentId, id),
        (None, Scanned::PersonalCode(code) | Scanned::Other(code)) => PersonScan {
            code: Some(code),
            ..Default::default()
        },
    }
}

/// A document of someone not registered, scanned without a name and phone yet.
fn needs_registration(e: &Error, who: &PersonScan) -> bool {
    who.doc_no.is_some() && matches!(e.code.as_ref(), "invalid.name" | "invalid.phone")
}

async fn open(s: &AppState, actor: &Actor, c: &Choices, barcode: &str) -> Result<TubeView, Error> {
    let (tz, today) = (s.tz, s.today());
    let req = OpenTube {
        barcode: barcode.to_string(),
        kind: if c.pool_size.is_some() {
            TubeKind::Pool
        } else {
            TubeKind::Single
        },
        pool_size: c.pool_size,
        sample_type: c.sample_type,
        site: c.site.code.clone(),
        collector: None,
        collected_at: None,
        category: c.category,
        payer: None,
        payer_institution: None,
        description: None,
        people: vec![],
        retained_for: None,
    };
    let plan = {
        let mut conn = s.store.reader().acquire().await?;
        accession::prepare_open(&mut conn, actor, req, (s.tz, today)).await?
    };
    let tube = s
        .store
        .execute(
            actor,
            crate::store::change(move |tx| {
                let plan = plan.clone();
                Box::pin(async move { accession::open(tx, plan, today).await })
            }),
        )
        .await?;
    Ok(tube.view(tz, today))
}

/// Adds a person; answers the tube as it now stands, whether the scan closed it, and the
/// person's position and (masked) name.
async fn add(
    s: &AppState,
    actor: &Actor,
    barcode: &str,
    who: &PersonScan,
) -> Result<(TubeView, bool, u32, String), Error> {
    let today = s.today();
    let plan = {
        let mut conn = s.store.reader().acquire().await?;
        accession::prepare_scan(&mut conn, actor, barcode, who, (s.tz, today)).await?
    };
    let added = s
        .store
        .execute(
            actor,
            crate::store::change(move |tx| {
                let plan = plan.clone();
                Box::pin(async move { accession::add_member(tx, plan, today).await })
            }),
        )
        .await?
        .view(s.tz, today);
    let tube = tube_view(s, actor, barcode).await?;
    Ok((
        tube,
        added.closed_now,
        added.added.position,
        added.added.person.name,
    ))
}

/// A refusal: the panel as it stands, the refusal named in words (and by the service), and the
/// `refused` event that makes the page beep and flash.
async fn refused(
    s: &AppState,
    page: Signed,
    current: Option<String>,
    new_person: Option<String>,
    e: Error,
) -> Response {
    if e.status == StatusCode::UNAUTHORIZED {
        return super::page::sign_in_first("/collect", true);
    }
    let message = Message::refused(&page.chrome, &e);
    answer(s, page, current, new_person, message, true).await
}

/// The panel with the current tube re-read, and a message.
async fn answer(
    s: &AppState,
    page: Signed,
    current: Option<String>,
    new_person: Option<String>,
    message: Message,
    beep: bool,
) -> Response {
    let tube = match &current {
        Some(b) => tube_view(s, &page.actor, b).await.ok(),
        None => None,
    };
    // A tube that closed meanwhile (another screen, the count reached) is no longer current.
    let current = tube
        .as_ref()
        .filter(|t| t.status == crate::domain::tube::TubeStatus::Open)
        .map(|t| t.barcode.clone());
    let panel = Panel {
        tube,
        current,
        new_person,
    };
    let r = fragment(page.chrome, panel, Some(message));
    if beep {
        return super::page::beep(r);
    }
    r
}

fn fragment(chrome: Chrome, panel: Panel, message: Option<Message>) -> Response {
    let card = panel.tube.as_ref().map(|t| card(&chrome, t));
    render(
        StatusCode::OK,
        &PanelFragment {
            chrome,
            panel,
            card,
            message,
            oob: true,
        },
    )
}

/// One person in the tube's list (masked as the service gives them).
pub struct MemberLine {
    position: u32,
    name: String,
    doc_no: String,
    at: String,
}

/// The tube as the panel shows it, in words.
pub struct TubeCard {
    barcode: String,
    kind: String,
    status: &'static str,
    status_words: String,
    fill: String,
    count: u32,
    size: u32,
    open: bool,
    close_label: String,
    members: Vec<MemberLine>,
}

fn card(chrome: &Chrome, t: &TubeView) -> TubeCard {
    let tr = &chrome.tr;
    let open = t.status == crate::domain::tube::TubeStatus::Open;
    let mut members: Vec<MemberLine> = t
        .members
        .iter()
        .map(|m| MemberLine {
            position: m.position,
            name: m.person.name.clone(),
            doc_no: m.person.doc_no.clone(),
            at: tr.time(&m.added_at),
        })
        .collect();
    // The latest scan on top, where the eye is.
    members.reverse();
    TubeCard {
        barcode: t.barcode.clone(),
        kind: tr.code("kind", t.kind.as_str()),
        status: t.status.as_str(),
        status_words: tr.code("status", t.status.as_str()),
        fill: tr.f(
            "collect.fill",
            &[("count", &t.member_count), ("size", &t.nominal_size)],
        ),
        count: t.member_count,
        size: t.nominal_size,
        open,
        close_label: tr.f(
            "collect.close_short",
            &[("count", &t.member_count), ("size", &t.nominal_size)],
        ),
        members,
    }
}
