//! 检测机构公示 the public list of testing labs as a page anyone can open on a phone, no login:
//! filters by district, service, price and open now; each lab with its hours, prices, the report
//! time it promises and how well it kept it over the last 7 days. Rendered pages are cached
//! with the JSON list (a minute, an ETag) — a city's visits cost a read a minute.

use super::page::{error_page, Chrome, Viewer};
use super::Lang;
use crate::service::accreditation::{self, PublicQuery};
use crate::state::AppState;
use crate::view::accreditation::PublicLab;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/labs", get(list_page))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    #[serde(default)]
    district: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    max_price: String,
    #[serde(default)]
    open_now: String,
}

/// A lab in words.
pub struct LabCard {
    code: String,
    name: String,
    address: String,
    phone: String,
    hours: String,
    open_now: Option<bool>,
    single: String,
    pooled: String,
    district: String,
    serves: String,
    promise: String,
    measured: String,
    /// `good` (≥ 95 %), `fair`, `poor` (< 80 %), `none`.
    measured_tone: &'static str,
    large_scale: bool,
    map: Option<String>,
}

#[derive(Template)]
#[template(path = "public_labs.html")]
struct ListPage {
    chrome: Chrome,
    labs: Vec<LabCard>,
    districts: Vec<(String, String, bool)>,
    service: String,
    max_price: String,
    open_now: bool,
    as_of: String,
}

fn yuan(cents: i64) -> String {
    if cents % 100 == 0 {
        format!("¥{}", cents / 100)
    } else {
        format!("¥{:.2}", cents as f64 / 100.0)
    }
}

fn card(l: &PublicLab, chrome: &Chrome) -> LabCard {
    let tr = &chrome.tr;
    let zh = tr.lang == Lang::Zh;
    let (measured, tone) = match l.measured.share {
        Some(s) => (
            tr.f(
                "labs.measured",
                &[
                    ("share", &format!("{:.0}%", s * 100.0)),
                    ("n", &l.measured.released),
                ],
            ),
            if s >= 0.95 {
                "good"
            } else if s >= 0.8 {
                "fair"
            } else {
                "poor"
            },
        ),
        None => (tr.t("labs.measured_none"), "none"),
    };
    LabCard {
        code: l.code.clone(),
        name: l.name.clone(),
        address: l.address.clone(),
        phone: l.phone.clone(),
        hours: l.opening_hours.clone(),
        open_now: l.open_now,
        single: yuan(l.price_single_cents),
        pooled: yuan(l.price_pooled_cents),
        district: crate::domain::region::name(&l.district, zh),
        serves: l
            .serves
            .iter()
            .map(|s| tr.code("serves", s))
            .collect::<Vec<_>>()
            .join(" · "),
        promise: tr.f("labs.promise", &[("h", &l.report_hours)]),
        measured,
        measured_tone: tone,
        large_scale: l.large_scale,
        map: match (l.latitude, l.longitude) {
            (Some(lat), Some(lon)) => Some(format!("geo:{lat},{lon}")),
            _ => None,
        },
    }
}

fn cached(headers: &HeaderMap, c: crate::public_cache::Cached) -> Response {
    crate::api::cached_public_response(headers, c)
        .unwrap_or_else(axum::response::IntoResponse::into_response)
}

async fn list_page(
    State(s): State<AppState>,
    Viewer(chrome): Viewer,
    headers: HeaderMap,
    Query(p): Query<ListParams>,
) -> Response {
    let q = PublicQuery {
        district: Some(p.district.clone()).filter(|d| !d.trim().is_empty()),
        service: Some(p.service.clone()).filter(|d| !d.trim().is_empty()),
        max_price: p.max_price.trim().parse().ok(),
        open_now: p.open_now == "1",
    };
    let key = match q.key() {
        Ok(k) => format!("page|{}|{k}", chrome.lang()),
        Err(e) => return error_page(chrome, e),
    };
    // Signed-in users see their name in the header: only the anonymous page is shared.
    let shared = chrome.user.is_none();
    if shared {
        if let Some(c) = s.public.get(&key) {
            return cached(&headers, c);
        }
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let all = accreditation::public_list(
            &mut conn,
            &PublicQuery::default(),
            chrono::Utc::now(),
            s.tz,
        )
        .await?;
        let list = accreditation::public_list(&mut conn, &q, chrono::Utc::now(), s.tz).await?;
        Ok::<_, crate::error::Error>((all, list))
    };
    let (all, list) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(chrome, e),
    };
    let zh = chrome.tr.lang == Lang::Zh;
    let mut districts: Vec<String> = all.labs.iter().map(|l| l.district.clone()).collect();
    districts.sort();
    districts.dedup();
    let page = ListPage {
        labs: list.labs.iter().map(|l| card(l, &chrome)).collect(),
        districts: districts
            .into_iter()
            .map(|d| {
                let on = d == p.district.trim();
                (crate::domain::region::name(&d, zh), d, on)
            })
            .collect(),
        service: p.service.trim().to_string(),
        max_price: p.max_price.trim().to_string(),
        open_now: q.open_now,
        as_of: list.as_of.format("%Y-%m-%d %H:%M").to_string(),
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
        return cached(&headers, c);
    }
    axum::response::IntoResponse::into_response(axum::response::Html(html))
}
