//! 网页 the lab floor in a browser: pages rendered by the server from templates compiled into
//! the binary (askama, `templates/`), htmx and the pages' own CSS and script served from the
//! binary (`static/`), words from the catalogues (`locales/`). Pages call the same services as
//! the API and render the same views; they hold no rule of their own. Every page checks the
//! user's role (the services check the scope); changes go through htmx, which sends the
//! session's CSRF token.

mod accreditation;
mod admin;
mod audit;
mod bench;
mod board;
mod booking;
mod cdc;
mod collect;
mod collection_points;
mod coverage;
mod enrolment;
mod i18n;
mod institutions;
mod page;
mod person;
mod plate_map;
mod public_labs;
mod public_results;
mod push;
mod reception;
mod rechecks;
mod review;
mod session;

pub use i18n::{Lang, Tr, LANG_COOKIE};

use crate::domain::policy::Action;
use crate::error::Error;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use page::{error_page, render, Chrome, Viewer};

/// A screen of the header's menu, shown to roles that may do its action.
pub struct Screen {
    pub path: &'static str,
    /// The catalogue key of its title.
    pub title: &'static str,
    /// The catalogue key of its one-line description on the home page.
    pub blurb: &'static str,
    pub action: Action,
}

/// The screens, in the order of the lab's work.
pub const SCREENS: &[Screen] = &[
    Screen {
        path: "/collect",
        title: "nav.collect",
        blurb: "home.collect",
        action: Action::Accession,
    },
    Screen {
        path: "/reception",
        title: "nav.reception",
        blurb: "home.reception",
        action: Action::Reception,
    },
    Screen {
        path: "/plates",
        title: "nav.plates",
        blurb: "home.plates",
        action: Action::ViewPlates,
    },
    Screen {
        path: "/review",
        title: "nav.review",
        blurb: "home.review",
        action: Action::ViewReview,
    },
    Screen {
        path: "/rechecks",
        title: "nav.rechecks",
        blurb: "home.rechecks",
        action: Action::ViewReview,
    },
    Screen {
        path: "/turnaround",
        title: "nav.board",
        blurb: "home.board",
        action: Action::ViewReview,
    },
    Screen {
        path: "/cdc",
        title: "nav.cdc",
        blurb: "home.cdc",
        action: Action::ViewCdc,
    },
    Screen {
        path: "/persons",
        title: "nav.persons",
        blurb: "home.persons",
        action: Action::ViewStatus,
    },
    Screen {
        path: "/ledger",
        title: "nav.ledger",
        blurb: "home.ledger",
        action: Action::ViewLedger,
    },
    Screen {
        path: "/roster",
        title: "nav.roster",
        blurb: "home.roster",
        action: Action::ManageStaff,
    },
    Screen {
        path: "/enrolments",
        title: "nav.enrolments",
        blurb: "home.enrolments",
        action: Action::ManageStaff,
    },
    Screen {
        path: "/sessions",
        title: "nav.sessions",
        blurb: "home.sessions",
        action: Action::ManageStaff,
    },
    Screen {
        path: "/site-sessions",
        title: "nav.site_sessions",
        blurb: "home.site_sessions",
        action: Action::Accession,
    },
    Screen {
        path: "/environment",
        title: "nav.environment",
        blurb: "home.environment",
        action: Action::ViewLedger,
    },
    Screen {
        path: "/cohorts",
        title: "nav.cohorts",
        blurb: "home.cohorts",
        action: Action::ViewCohorts,
    },
    Screen {
        path: "/compliance",
        title: "nav.compliance",
        blurb: "home.compliance",
        action: Action::ViewCompliance,
    },
    Screen {
        path: "/accreditation",
        title: "nav.accreditation",
        blurb: "home.accreditation",
        action: Action::ManageAccreditation,
    },
    Screen {
        path: "/audit",
        title: "nav.audit",
        blurb: "home.audit",
        action: Action::ViewAudit,
    },
    Screen {
        path: "/push",
        title: "nav.push",
        blurb: "home.push",
        action: Action::ViewAudit,
    },
    Screen {
        path: "/admin",
        title: "nav.admin",
        blurb: "home.admin",
        action: Action::ManageRegistry,
    },
];

/// The pages' routes (beside the API's).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(session::form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/lang/{tag}", get(switch_language))
        .route("/static/{file}", get(static_file))
        .merge(collect::router())
        .merge(reception::router())
        .merge(bench::router())
        .merge(review::router())
        .merge(person::router())
        .merge(rechecks::router())
        .merge(cdc::router())
        .merge(board::router())
        .merge(push::router())
        .merge(institutions::router())
        .merge(coverage::router())
        .merge(enrolment::router())
        .merge(public_labs::router())
        .merge(public_results::router())
        .merge(booking::router())
        .merge(collection_points::router())
        .merge(accreditation::router())
        .merge(audit::router())
        .merge(admin::router())
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    chrome: Chrome,
    screens: Vec<(&'static str, String, String)>,
}

/// The home page: the screens this user's role has.
async fn home(Viewer(chrome): Viewer) -> Response {
    let Some(user) = &chrome.user else {
        return Redirect::to("/login").into_response();
    };
    let screens = SCREENS
        .iter()
        .filter(|s| crate::domain::policy::allowed(user.role, s.action))
        .map(|s| (s.path, chrome.t(s.title), chrome.t(s.blurb)))
        .collect();
    render(StatusCode::OK, &Home { chrome, screens })
}

#[derive(serde::Deserialize)]
struct Back {
    #[serde(default)]
    back: Option<String>,
}

/// Sets the language cookie and goes back to the page it came from.
async fn switch_language(Path(tag): Path<String>, Query(b): Query<Back>) -> Response {
    let lang = Lang::parse(&tag).unwrap_or_default();
    let back = session::local_path(b.back.as_deref());
    let mut r = Redirect::to(&back).into_response();
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.tag()
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The files the pages load, compiled into the binary.
async fn static_file(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "htmx.min.js" => (
            include_bytes!("../../static/htmx.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "natlis.js" => (
            include_bytes!("../../static/natlis.js"),
            "text/javascript; charset=utf-8",
        ),
        "natlis.css" => (
            include_bytes!("../../static/natlis.css"),
            "text/css; charset=utf-8",
        ),
        _ => {
            return Error::not_found("static.not_found", format!("no static file {file}"))
                .into_response()
        }
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// An unknown address: a page for a browser, the JSON error for everyone else.
pub async fn fallback(Viewer(chrome): Viewer, headers: HeaderMap) -> Response {
    let e = Error::not_found("route.not_found", "no such endpoint; see /api/openapi.json");
    if page::wants_html(&headers) {
        return error_page(chrome, e);
    }
    e.into_response()
}
