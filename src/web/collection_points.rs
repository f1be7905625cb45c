//! 采样点一览 the collection points as a page anyone opens on a phone, no login: each point's
//! hours, who may use it, its live state (open, paused, closed; sampled in the last 15 minutes;
//! the queue and the wait), and a link to book where it takes bookings. The anonymous page is
//! cached with the JSON list (a minute, an ETag).

use super::page::{error_page, Chrome, Viewer};
use super::Lang;
use crate::service::collection_point::{self, CollectionPoint};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/sites", get(list_page))
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    #[serde(default)]
    district: String,
}

struct Card {
    point: CollectionPoint,
    district: String,
    serves: String,
    state: String,
    live: String,
}

#[derive(Template)]
#[template(path = "sites.html")]
struct SitesPage {
    chrome: Chrome,
    cards: Vec<Card>,
    districts: Vec<(String, String, bool)>,
    as_of: String,
}

fn card(p: CollectionPoint, chrome: &Chrome) -> Card {
    let tr = &chrome.tr;
    let zh = tr.lang == Lang::Zh;
    let mut live = tr.f("sites.sampled", &[("n", &p.sampled_last_15_min)]);
    if let Some(w) = p.waiting {
        live.push_str(" · ");
        live.push_str(&tr.f("sites.waiting", &[("n", &w)]));
        if let Some(m) = p.wait_minutes {
            live.push_str(" · ");
            live.push_str(&tr.f("sites.wait", &[("m", &m)]));
        }
    }
    Card {
        district: crate::domain::region::name(&p.district, zh),
        serves: p
            .serves
            .iter()
            .map(|s| tr.code("site_serves", s))
            .collect::<Vec<_>>()
            .join(" · "),
        state: tr.code("site_state", &p.state),
        live,
        point: p,
    }
}

async fn list_page(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    let key = format!("page|sites|{}|{}", chrome.lang(), q.district.trim());
    let shared = chrome.user.is_none();
    if shared {
        if let Some(c) = s.public.get(&key) {
            return crate::api::cached_public_response(&headers, c)
                .unwrap_or_else(axum::response::IntoResponse::into_response);
        }
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let now = chrono::Utc::now();
        let all = collection_point::public_list(&mut conn, "", now, s.tz).await?;
        let list = collection_point::public_list(&mut conn, &q.district, now, s.tz).await?;
        Ok::<_, crate::error::Error>((all, list))
    };
    let (all, list) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(chrome, e),
    };
    let zh = chrome.tr.lang == Lang::Zh;
    let mut districts: Vec<String> = all.points.iter().map(|p| p.district.clone()).collect();
    districts.sort();
    districts.dedup();
    let page = SitesPage {
        districts: districts
            .into_iter()
            .map(|d| {
                let on = d == q.district.trim();
                (crate::domain::region::name(&d, zh), d, on)
            })
            .collect(),
        as_of: list.as_of.format("%H:%M").to_string(),
        cards: list.points.into_iter().map(|p| card(p, &chrome)).collect(),
        chrome,
    };
    let html = match page.render() {
        Ok(h) => h,
        Err(e) => {
            return error_page(
                page.chrome,
                crate::error::Error::internal(anyhow::anyhow!(e)),
            )
        }
    };
    if shared {
        let c = s
            .public
            .put(key, html.into_bytes(), "text/html; charset=utf-8");
        return crate::api::cached_public_response(&headers, c)
            .unwrap_or_else(axum::response::IntoResponse::into_response);
    }
    axum::response::IntoResponse::into_response(axum::response::Html(html))
}
