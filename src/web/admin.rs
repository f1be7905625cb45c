//! 管理 the administrator's screen: the labs (with accreditation), collection sites and kits
//! in force; the lab-wide settings, edited; users added (the token shown once) and tokens
//! revoked. Registry changes beyond these go through the API. The rules are the registry,
//! settings and account services'.

use super::page::{apply, error_page, render, Chrome, Message, Signed, Where};
use crate::domain::policy::{Action, Role};
use crate::domain::vocab::Category;
use crate::error::Error;
use crate::service::settings::{self, Settings};
use crate::service::{kits, registry};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/settings", post(save_settings))
        .route("/admin/users", post(add_user))
        .route("/admin/tokens/revoke", post(revoke_token))
        .route("/admin/labs", post(add_lab))
        .route("/admin/sites", post(add_site))
        .route("/admin/kits", post(add_kit))
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    /// (code, name) of every lab, for the site form.
    lab_choices: Vec<(String, String)>,
    labs: Vec<Vec<String>>,
    sites: Vec<Vec<String>>,
    kits: Vec<Vec<String>>,
    settings: Settings,
    single_only: Vec<(String, String, bool)>,
    roles: Vec<(String, String)>,
    message: Option<Message>,
    idle: String,
    oob: bool,
}

async fn page(State(s): State<AppState>, page: Signed) -> Response {
    if let Some(r) = page.refusal(Action::ManageRegistry) {
        return r;
    }
    let loaded = async {
        let mut conn = s.store.reader().acquire().await?;
        let labs = registry::list_labs(&mut conn, s.today()).await?;
        let sites = registry::list_sites(&mut conn).await?;
        let kits = kits::list(&mut conn, &page.actor).await?;
        let settings = settings::load(&mut conn).await?;
        Ok::<_, Error>((labs, sites, kits, settings))
    };
    let (labs, sites, kits, settings) = match loaded.await {
        Ok(x) => x,
        Err(e) => return error_page(page.chrome, e),
    };
    let tr = page.chrome.tr;
    let lab_choices = labs
        .iter()
        .map(|l| (l.info.code.clone(), l.info.name.clone()))
        .collect();
    let yes_no = |b: bool| tr.t(if b { "admin.yes" } else { "admin.no" });
    let labs = labs
        .iter()
        .map(|l| {
            vec![
                l.info.code.clone(),
                l.info.name.clone(),
                l.info.accredited_until.to_string(),
                yes_no(l.accreditation_valid),
                tr.num(l.info.daily_capacity),
                l.info.region.clone(),
            ]
        })
        .collect();
    let sites = sites
        .iter()
        .map(|x| {
            vec![
                x.code.clone(),
                x.name.clone(),
                x.lab.clone().unwrap_or_default(),
                x.region.clone(),
                x.pool_sizes
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" / "),
                yes_no(x.accepts_foreign_barcodes),
            ]
        })
        .collect();
    let kits = kits
        .iter()
        .map(|k| {
            vec![
                k.kit.code.clone(),
                format!("v{}", k.kit.version),
                k.kit.name.clone(),
                k.kit
                    .targets
                    .iter()
                    .map(|t| t.target.clone())
                    .collect::<Vec<_>>()
                    .join(" · "),
                yes_no(k.active),
                k.created_by.clone(),
            ]
        })
        .collect();
    let single_only = Category::ALL
        .iter()
        .map(|c| {
            (
                c.as_str().to_string(),
                tr.code("category", c.as_str()),
                settings.single_only.contains(c),
            )
        })
        .collect();
    let roles = Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), tr.code("role", r.as_str())))
        .collect();
    let idle = tr.t("admin.idle");
    render(
        StatusCode::OK,
        &AdminPage {
            chrome: page.chrome,
            lab_choices,
            labs,
            sites,
            kits,
            settings,
            single_only,
            roles,
            message: None,
            idle,
            oob: false,
        },
    )
}

/// What happened, in the message line (a refusal beeps).
fn said(chrome: Chrome, outcome: Result<Message, Error>) -> Response {
    super::page::said(chrome, outcome, "/admin", Where::Target)
}

/// The settings form as posted: numbers as typed, and every category ticked single-only.
fn settings_from_form(pairs: &[(String, String)], mut s: Settings) -> Result<Settings, Error> {
    let number = |name: &str| -> Result<Option<i64>, Error> {
        match pairs.iter().find(|(k, _)| k == name) {
            Some((_, v)) if !v.trim().is_empty() => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| Error::invalid(name, format!("{v:?} is not a whole number"))),
            _ => Ok(None),
        }
    };
    if let Some(v) = number("transport_limit_minutes")? {
        s.transport_limit_minutes = v;
    }
    if let Some(v) = number("negative_valid_hours")? {
        s.negative_valid_hours = v;
    }
    if let Some(v) = number("urgent")? {
        s.deadline_hours.urgent = v;
    }
    if let Some(v) = number("standard")? {
        s.deadline_hours.standard = v;
    }
    if let Some(v) = number("routine")? {
        s.deadline_hours.routine = v;
    }
    if let Some(v) = number("instruments")? {
        s.capacity.instruments = v;
    }
    if let Some(v) = number("minutes_per_plate")? {
        s.capacity.minutes_per_plate = v;
    }
    if let Some(v) = number("tubes_per_plate")? {
        s.capacity.tubes_per_plate = v;
    }
    s.single_only = pairs
        .iter()
        .filter(|(k, _)| k == "single_only")
        .filter_map(|(_, v)| Category::parse(v))
        .collect();
    Ok(s)
}

/// Saves the lab-wide settings (the service checks each value).
async fn save_settings(
    State(s): State<AppState>,
    page: Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageRegistry) {
        return r;
    }
    let current = async {
        let mut conn = s.store.reader().acquire().await?;
        settings::load(&mut conn).await
    };
    let new = match current.await.and_then(|c| settings_from_form(&pairs, c)) {
        Ok(n) => n,
        Err(e) => return said(page.chrome, Err(e)),
    };
    let saved = apply(&s, &page.actor, move |tx| {
        let new = new.clone();
        Box::pin(async move { settings::save(tx, new).await })
    })
    .await;
    let text = page.chrome.t("admin.settings_saved");
    said(page.chrome, saved.map(|_| Message::ok(text)))
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
    /// The lab, site, institution or region the role is bound to.
    #[serde(default)]
    scope: String,
    #[serde(default)]
    password: String,
}

/// Adds a user (bound to the scope their role needs) and shows their first token, once.
async fn add_user(State(s): State<AppState>, page: Signed, Form(f): Form<UserForm>) -> Response {
    if let Some(r) = page.refusal(Action::ManageUsers) {
        return r;
    }
    let Some(role) = Role::parse(f.role.trim()) else {
        return said(page.chrome, Err(Error::invalid("role", "choose a role")));
    };
    let scope = Some(f.scope.trim().to_string()).filter(|c| !c.is_empty());
    let mut user = crate::auth::NewUser {
        username: f.username.trim().to_string(),
        role,
        lab: None,
        site: None,
        institution: None,
        region: None,
        password: Some(f.password).filter(|p| !p.is_empty()),
    };
    match role.scope_kind() {
        Some("lab") => user.lab = scope,
        Some("site") => user.site = scope,
        Some("institution") => user.institution = scope,
        Some(_) => user.region = scope,
        None => {}
    }
    let made = apply(&s, &page.actor, move |tx| {
        let user = user.clone();
        Box::pin(async move {
            let v = crate::auth::add_user(tx, user).await?;
            crate::auth::issue_token(tx, &v.username, "first token", None).await
        })
    })
    .await;
    let tr = page.chrome.tr;
    said(
        page.chrome,
        made.map(|t| {
            Message::warn(
                tr.f(
                    "admin.user_added",
                    &[("user", &t.username), ("prefix", &t.prefix)],
                ),
                t.token,
            )
        }),
    )
}

#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    prefix: String,
}

/// Revokes a token by its prefix.
async fn revoke_token(
    State(s): State<AppState>,
    page: Signed,
    Form(f): Form<RevokeForm>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageUsers) {
        return r;
    }
    let prefix = f.prefix.trim().to_string();
    let done = crate::api::accounts::revoke(&s, &page.actor, &prefix).await;
    let text = page.chrome.tr.f("admin.revoked", &[("prefix", &prefix)]);
    said(page.chrome, done.map(|_| Message::ok(text)))
}

/// A value of a posted form, trimmed (empty: absent).
fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn text(pairs: &[(String, String)], name: &str) -> Result<String, Error> {
    field(pairs, name)
        .map(String::from)
        .ok_or_else(|| Error::invalid(name, format!("{name} is required")))
}

fn number(pairs: &[(String, String)], name: &str) -> Result<i64, Error> {
    let v = text(pairs, name)?;
    v.parse()
        .map_err(|_| Error::invalid(name, format!("{v:?} is not a whole number")))
}

/// Yuan as typed (`12.5`) in fen.
fn fen(pairs: &[(String, String)], name: &str) -> Result<i64, Error> {
    let v = text(pairs, name)?;
    let yuan: f64 = v
        .parse()
        .map_err(|_| Error::invalid(name, format!("{v:?} is not an amount in yuan")))?;
    if !(0.0..=100_000.0).contains(&yuan) {
        return Err(Error::invalid(name, format!("{v} yuan is out of range")));
    }
    Ok((yuan * 100.0).round() as i64)
}

/// A lab from the form.
fn lab_from_form(pairs: &[(String, String)]) -> Result<registry::LabInput, Error> {
    // The fields in the form's order: the first one wrong is named.
    let (code, name, licence_no) = (
        text(pairs, "code")?,
        text(pairs, "name")?,
        text(pairs, "licence_no")?,
    );
    let until = text(pairs, "accredited_until")?;
    Ok(registry::LabInput {
        code,
        name,
        licence_no,
        accredited_until: chrono::NaiveDate::parse_from_str(&until, "%Y-%m-%d")
            .map_err(|_| Error::invalid("accredited_until", format!("{until:?} is not a date")))?,
        address: text(pairs, "address")?,
        phone: text(pairs, "phone")?,
        opening_hours: text(pairs, "opening_hours")?,
        price_single_cents: fen(pairs, "price_single")?,
        price_pooled_cents: fen(pairs, "price_pooled")?,
        daily_capacity: number(pairs, "daily_capacity")?,
        region: text(pairs, "region")?,
    })
}

/// A collection site from the form: the pool sizes ticked, and whether it takes barcodes
/// natlis did not issue.
fn site_from_form(pairs: &[(String, String)]) -> Result<registry::SiteInput, Error> {
    let sizes: Vec<u32> = pairs
        .iter()
        .filter(|(k, _)| k == "pool_size")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    Ok(registry::SiteInput {
        code: text(pairs, "code")?,
        name: text(pairs, "name")?,
        address: text(pairs, "address")?,
        region: text(pairs, "region")?,
        lab: field(pairs, "lab").map(String::from),
        pool_sizes: Some(sizes).filter(|s| !s.is_empty()),
        accepts_foreign_barcodes: Some(field(pairs, "accepts_foreign_barcodes").is_some()),
    })
}

/// Adds a lab.
async fn add_lab(
    State(s): State<AppState>,
    page: Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageRegistry) {
        return r;
    }
    let lab = match lab_from_form(&pairs) {
        Ok(l) => l,
        Err(e) => return said(page.chrome, Err(e)),
    };
    let today = s.today();
    let made = apply(&s, &page.actor, move |tx| {
        let lab = lab.clone();
        Box::pin(async move { registry::create_lab(tx, lab, today).await })
    })
    .await;
    let tr = page.chrome.tr;
    said(
        page.chrome,
        made.map(|l| Message::ok(tr.f("admin.lab_added", &[("code", &l.info.code)]))),
    )
}

/// Adds a collection site.
async fn add_site(
    State(s): State<AppState>,
    page: Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = page.refusal(Action::ManageRegistry) {
        return r;
    }
    let site = match site_from_form(&pairs) {
        Ok(x) => x,
        Err(e) => return said(page.chrome, Err(e)),
    };
    let made = apply(&s, &page.actor, move |tx| {
        let site = site.clone();
        Box::pin(async move { registry::create_site(tx, site).await })
    })
    .await;
    let tr = page.chrome.tr;
    said(
        page.chrome,
        made.map(|x| Message::ok(tr.f("admin.site_added", &[("code", &x.code)]))),
    )
}

#[derive(Debug, Deserialize)]
pub struct KitForm {
    /// A kit (or a new version of one) as the API takes it, in JSON.
    #[serde(default)]
    kit: String,
}

/// Adds a kit, or a new version of one, from its JSON (the API's shape): earlier versions never
/// change.
async fn add_kit(State(s): State<AppState>, page: Signed, Form(f): Form<KitForm>) -> Response {
    if let Some(r) = page.refusal(Action::ManageKits) {
        return r;
    }
    let kit: crate::domain::kit::Kit = match serde_json::from_str(&f.kit) {
        Ok(k) => k,
        Err(e) => {
            let e = Error::invalid("kit", format!("the kit's JSON: {e}"));
            return said(page.chrome, Err(e));
        }
    };
    let made = apply(&s, &page.actor, move |tx| {
        let kit = kit.clone();
        Box::pin(async move { kits::create(tx, kit).await })
    })
    .await;
    let tr = page.chrome.tr;
    said(
        page.chrome,
        made.map(|k| {
            Message::ok(tr.f(
                "admin.kit_added",
                &[("code", &k.kit.code), ("version", &k.kit.version)],
            ))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_settings_form_changes_what_it_names_and_reads_the_ticked_categories() {
        let s = settings_from_form(
            &pairs(&[
                ("transport_limit_minutes", " 300 "),
                ("negative_valid_hours", ""),
                ("single_only", "close_contact"),
                ("single_only", "no_such_category"),
            ]),
            Settings::default(),
        )
        .unwrap();
        assert_eq!(s.transport_limit_minutes, 300);
        assert_eq!(
            s.negative_valid_hours,
            Settings::default().negative_valid_hours
        );
        assert_eq!(s.single_only, vec![Category::CloseContact]);
        let e = settings_from_form(&pairs(&[("urgent", "six")]), Settings::default()).unwrap_err();
        assert_eq!(e.code, "invalid.urgent");
    }

    #[test]
    fn the_lab_and_site_forms_name_the_field_that_is_wrong() {
        let mut lab = pairs(&[
            ("code", "LAB-X"),
            ("name", "x"),
            ("licence_no", "1"),
            ("accredited_until", "2027-01-31"),
            ("address", "x"),
            ("phone", "1"),
            ("opening_hours", "00:00–24:00"),
            ("price_single", "16"),
            ("price_pooled", "3.5"),
            ("daily_capacity", "20000"),
            ("region", "110108"),
        ]);
        let l = lab_from_form(&lab).unwrap();
        assert_eq!((l.price_single_cents, l.price_pooled_cents), (1600, 350));
        lab[3].1 = "31/01/2027".into();
        assert_eq!(
            lab_from_form(&lab).unwrap_err().code,
            "invalid.accredited_until"
        );
        lab[3].1 = "2027-01-31".into();
        lab[8].1 = "cheap".into();
        assert_eq!(
            lab_from_form(&lab).unwrap_err().code,
            "invalid.price_pooled"
        );
        lab.retain(|(k, _)| k != "name");
        assert_eq!(lab_from_form(&lab).unwrap_err().code, "invalid.name");
        let site = site_from_form(&pairs(&[
            ("code", "S-X"),
            ("name", "x"),
            ("address", "x"),
            ("region", "110108"),
            ("lab", ""),
            ("pool_size", "10"),
            ("pool_size", "20"),
        ]))
        .unwrap();
        assert_eq!(site.pool_sizes, Some(vec![10, 20]));
        assert_eq!(
            (site.lab, site.accepts_foreign_barcodes),
            (None, Some(false))
        );
    }
}
