//! 资质与公示 labs' accreditation as data and the public list: the regional health authority
//! records licences, PCR lab approvals, EQA rounds and penalties; natlis computes from them
//! whether a lab may test and take on large-scale work (`domain::accreditation`); the authority
//! publishes a qualified lab or withdraws it, each change kept as history and audited. The
//! public list shows the labs published and qualified today — a lab that fails an EQA round
//! drops off it at once — each with its report-time promise and the share of its results
//! released within it over the last 7 days, measured from natlis's own turnaround records.

use crate::actor::Actor;
use crate::domain::accreditation::{self as rules, Record};
use crate::domain::opening_hours;
use crate::domain::policy::{self, Action};
use crate::domain::turnaround::{hour_of, Histogram};
use crate::error::Error;
use crate::store::accreditation::{
    self as store, CredentialRow, EqaRow, LabPlace, Labs, PenaltyRow,
};
use crate::store::time::{show, to_db};
use crate::store::{is_unique_violation, Tx};
use crate::view::accreditation::{
    Accreditation, Credential, EqaRound, Listing, Measured, Penalty, PublicLab, PublicList,
};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

/// The lab a caller names, if their scope covers it (else: not found, as if absent).
async fn place_for(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    action: Action,
) -> Result<LabPlace, Error> {
    actor.require(action)?;
    let code = code.trim().to_ascii_uppercase();
    let not_found = || Error::not_found("lab.not_found", format!("no lab with code {code}"));
    let place = store::lab_place(conn, &code).await?.ok_or_else(not_found)?;
    if !policy::covers_lab(&actor.scope, place.id, &place.region) {
        return Err(not_found());
    }
    Ok(place)
}

fn day(v: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()
}

/// The record the rules read, from a lab's rows. Of each kind of credential the newest
/// recorded decides (rows come newest first): a renewal, or a licence cut short, is recorded
/// as a new entry.
fn record_of(c: &[&CredentialRow], e: &[&EqaRow], p: &[&PenaltyRow]) -> Record {
    let until = |kind: &str| {
        c.iter()
            .find(|x| x.kind == kind)
            .and_then(|x| day(&x.valid_until))
    };
    Record {
        licence_until: until("licence"),
        pcr_until: until("pcr_approval"),
        eqa: e
            .iter()
            .filter_map(|x| Some((day(&x.held_on)?, x.passed != 0)))
            .collect(),
        penalties: p.iter().filter_map(|x| day(&x.decided_on)).collect(),
    }
}

/// A lab's accreditation record, what the rules make of it today, and its listing history.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Accreditation, Error> {
    let place = place_for(conn, actor, code, Action::ViewAccreditation).await?;
    describe(conn, &place, tz, today).await
}

async fn describe(
    conn: &mut AnyConnection,
    place: &LabPlace,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Accreditation, Error> {
    let (c, e, p) = store::records(conn, Labs::One(place.id)).await?;
    let history = store::listing(conn, place.id).await?;
    let q = rules::qualify(
        &record_of(
            &c.iter().collect::<Vec<_>>(),
            &e.iter().collect::<Vec<_>>(),
            &p.iter().collect::<Vec<_>>(),
        ),
        today,
    );
    let published = place.published != 0;
    Ok(Accreditation {
        lab: place.code.clone(),
        name: place.name.clone(),
        region: place.region.clone(),
        today,
        on_public_list: published && q.qualified,
        published,
        qualification: q,
        credentials: c
            .into_iter()
            .map(|x| Credential {
                kind: x.kind,
                number: x.number,
                valid_until: x.valid_until,
                recorded_at: show(x.recorded_at, tz),
                recorded_by: x.recorded_by,
            })
            .collect(),
        eqa: e
            .into_iter()
            .map(|x| EqaRound {
                round: x.round,
                held_on: x.held_on,
                passed: x.passed != 0,
                organiser: x.organiser,
                recorded_at: show(x.recorded_at, tz),
                recorded_by: x.recorded_by,
            })
            .collect(),
        penalties: p
            .into_iter()
            .map(|x| Penalty {
                decided_on: x.decided_on,
                authority: x.authority,
                summary: x.summary,
                recorded_at: show(x.recorded_at, tz),
                recorded_by: x.recorded_by,
            })
            .collect(),
        history: history
            .into_iter()
            .map(|x| Listing {
                action: x.action,
                reason: x.reason,
                at: show(x.at, tz),
                by: x.by_user,
            })
            .collect(),
    })
}

/// The accreditation of every lab the caller's scope covers (the authority: its region's).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn overview(
    conn: &mut AnyConnection,
    actor: &Actor,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Vec<Accreditation>, Error> {
    actor.require(Action::ViewAccreditation)?;
    let mut out = vec![];
    for place in store::lab_places(conn).await? {
        if policy::covers_lab(&actor.scope, place.id, &place.region) {
            out.push(describe(conn, &place, tz, today).await?);
        }
    }
    Ok(out)
}

/// A words field of a record: present, at most 200 characters, on one line.
fn words(field: &str, v: &str) -> Result<String, Error> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > 200 || v.contains(['\n', '\r']) {
        return Err(Error::invalid(
            field,
            format!("{field} is 1–200 characters on one line"),
        ));
    }
    Ok(v.to_string())
}

/// A licence or PCR lab approval to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CredentialInput {
    /// `licence` (执业许可) or `pcr_approval` (PCR实验室备案).
    pub kind: String,
    pub number: String,
    /// Valid through this day.
    pub valid_until: NaiveDate,
}

/// An EQA round to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EqaInput {
    /// The round's name, e.g. `2026-2` (one result per lab and round).
    pub round: String,
    pub held_on: NaiveDate,
    pub passed: bool,
    /// Who ran it, e.g. 国家卫生健康委临床检验中心.
    pub organiser: String,
}

/// A penalty to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PenaltyInput {
    pub decided_on: NaiveDate,
    pub authority: String,
    pub summary: String,
}

/// What is recorded of a lab.
#[derive(Debug, Clone)]
pub enum Entry {
    Credential(CredentialInput),
    Eqa(EqaInput),
    Penalty(PenaltyInput),
}

/// Records an entry of a lab's accreditation (the authority of its region, an admin); the
/// answer is the record as it now stands, qualification included.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add(tx: &mut Tx, code: &str, entry: Entry) -> Result<Accreditation, Error> {
    let actor = tx.actor().clone();
    let place = place_for(tx.conn(), &actor, code, Action::ManageAccreditation).await?;
    let today = tx.today();
    let at = to_db(tx.now());
    let by = actor.username.clone();
    let (action, after) = match &entry {
        Entry::Credential(c) => {
            if !matches!(c.kind.as_str(), "licence" | "pcr_approval") {
                return Err(Error::invalid(
                    "kind",
                    format!("{:?}: licence or pcr_approval", c.kind),
                ));
            }
            let number = words("number", &c.number)?;
            let until = c.valid_until.to_string();
            store::insert_credential(tx, place.id, &c.kind, &number, &until, at, &by).await?;
            (
                "lab.credential",
                serde_json::json!({"kind": c.kind, "number": number, "valid_until": until}),
            )
        }
        Entry::Eqa(e) => {
            let round = words("round", &e.round)?;
            let organiser = words("organiser", &e.organiser)?;
            if e.held_on > today {
                return Err(Error::invalid(
                    "held_on",
                    format!(
                        "{} is after today: record a round once it is held",
                        e.held_on
                    ),
                ));
            }
            let held = e.held_on.to_string();
            match store::insert_eqa(tx, place.id, &round, &held, e.passed, &organiser, at, &by)
                .await
            {
                Err(err) if is_unique_violation(&err) => {
                    return Err(Error::conflict(
                        "lab.eqa_recorded",
                        format!(
                            "{}'s result of EQA round {round} is recorded already",
                            place.code
                        ),
                    )
                    .at("round"))
                }
                r => r?,
            }
            (
                "lab.eqa",
                serde_json::json!({"round": round, "held_on": held, "passed": e.passed, "organiser": organiser}),
            )
        }
        Entry::Penalty(p) => {
            let authority = words("authority", &p.authority)?;
            let summary = words("summary", &p.summary)?;
            if p.decided_on > today {
                return Err(Error::invalid(
                    "decided_on",
                    format!("{} is after today", p.decided_on),
                ));
            }
            let on = p.decided_on.to_string();
            store::insert_penalty(tx, place.id, &on, &authority, &summary, at, &by).await?;
            (
                "lab.penalty",
                serde_json::json!({"decided_on": on, "authority": authority, "summary": summary}),
            )
        }
    };
    tx.audit(action, "lab", &place.code, None, Some(&after));
    let tz = tx.zone();
    describe(tx.conn(), &place, tz, today).await
}

/// Why a lab is published or withdrawn.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ListingInput {
    pub reason: String,
}

/// Publishes a lab on the public list (only a qualified one: the answer names what it lacks)
/// or withdraws it; doing it again changes nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    tx: &mut Tx,
    code: &str,
    publish: bool,
    input: &ListingInput,
) -> Result<Accreditation, Error> {
    let actor = tx.actor().clone();
    let place = place_for(tx.conn(), &actor, code, Action::ManageAccreditation).await?;
    let reason = words("reason", &input.reason)?;
    let (tz, today) = (tx.zone(), tx.today());
    if publish {
        let now = describe(tx.conn(), &place, tz, today).await?;
        if !now.qualification.qualified {
            let lacks: Vec<&str> = now
                .qualification
                .shortfalls
                .iter()
                .map(|s| s.as_str())
                .collect();
            return Err(Error::unprocessable(
                "lab.not_qualified",
                format!("{} may not be published: {}", place.code, lacks.join(", ")),
            )
            .with_details(serde_json::json!({ "shortfalls": lacks })));
        }
    }
    let at = to_db(tx.now());
    if store::set_listed(tx, place.id, publish, &reason, at, &actor.username).await? {
        tx.audit(
            if publish {
                "lab.publish"
            } else {
                "lab.withdraw"
            },
            "lab",
            &place.code,
            Some(&serde_json::json!({ "published": !publish })),
            Some(&serde_json::json!({ "published": publish, "reason": reason })),
        );
    }
    let place = store::lab_place(tx.conn(), &place.code)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the lab vanished")))?;
    describe(tx.conn(), &place, tz, today).await
}

/// Which labs of the public list to show.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct PublicQuery {
    /// A region code prefix (区划), e.g. `110108` for Haidian.
    pub district: Option<String>,
    /// `individuals` or `groups`.
    pub service: Option<String>,
    /// The most a single-tube test may cost, in yuan.
    pub max_price: Option<f64>,
    /// Only those open at the time of asking.
    #[serde(default)]
    pub open_now: bool,
}

impl PublicQuery {
    /// The query checked, as a cache key.
    pub fn key(&self) -> Result<String, Error> {
        let district = self.district.as_deref().map(str::trim).unwrap_or("");
        if !district.bytes().all(|b| b.is_ascii_digit()) || district.len() > 12 {
            return Err(Error::invalid(
                "district",
                "a district is a region code (digits)",
            ));
        }
        let service = self.service.as_deref().map(str::trim).unwrap_or("");
        if !matches!(service, "" | "individuals" | "groups") {
            return Err(Error::invalid("service", "individuals or groups"));
        }
        if self.max_price.is_some_and(|p| !p.is_finite() || p < 0.0) {
            return Err(Error::invalid("max_price", "a price in yuan, 0 or more"));
        }
        Ok(format!(
            "{district}|{service}|{}|{}",
            self.max_price.map(|p| p.to_string()).unwrap_or_default(),
            self.open_now
        ))
    }
}

/// The public list: the labs published and qualified today, with their promise and how well
/// they kept it over the last 7 days, filtered.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn public_list(
    conn: &mut AnyConnection,
    q: &PublicQuery,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> Result<PublicList, Error> {
    q.key()?;
    let local = now.with_timezone(&tz);
    let today = local.date_naive();
    let labs = store::published(conn).await?;
    let (c, e, p) = store::records(conn, Labs::Published).await?;
    let since = hour_of(to_db(now - Duration::days(7)));
    let mut hist: HashMap<i64, Histogram> = HashMap::new();
    for (lab, h) in store::published_histograms(conn, since).await? {
        hist.entry(lab)
            .or_default()
            .add_encoded(&h)
            .map_err(|e| Error::internal(anyhow::anyhow!("turnaround_rollup.hist: {e}")))?;
    }
    let district = q.district.as_deref().map(str::trim).unwrap_or("");
    let service = q.service.as_deref().map(str::trim).unwrap_or("");
    let mut out = vec![];
    for lab in labs {
        let of = |id: i64| move |x: &&CredentialRow| x.lab_id == id;
        let creds: Vec<&CredentialRow> = c.iter().filter(of(lab.id)).collect();
        let rounds: Vec<&EqaRow> = e.iter().filter(|x| x.lab_id == lab.id).collect();
        let pens: Vec<&PenaltyRow> = p.iter().filter(|x| x.lab_id == lab.id).collect();
        let qual = rules::qualify(&record_of(&creds, &rounds, &pens), today);
        if !qual.qualified || !lab.region.starts_with(district) {
            continue;
        }
        let serves: Vec<String> = lab
            .serves
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !service.is_empty() && !serves.iter().any(|s| s == service) {
            continue;
        }
        if q.max_price
            .is_some_and(|max| lab.price_single_cents as f64 > max * 100.0)
        {
            continue;
        }
        let open_now = opening_hours::open_at(&lab.opening_hours, local.time());
        if q.open_now && open_now != Some(true) {
            continue;
        }
        let h = hist.remove(&lab.id).unwrap_or_default();
        let released = h.count();
        let within = h.within(lab.report_hours * 60);
        out.push(PublicLab {
            code: lab.code,
            name: lab.name,
            address: lab.address,
            phone: lab.phone,
            opening_hours: lab.opening_hours,
            open_now,
            price_single_cents: lab.price_single_cents,
            price_pooled_cents: lab.price_pooled_cents,
            district: lab.region,
            serves,
            report_hours: lab.report_hours,
            measured: Measured {
                released,
                within_promise: within,
                share: (released > 0).then(|| within as f64 / released as f64),
            },
            large_scale: qual.large_scale,
            latitude: lab.latitude,
            longitude: lab.longitude,
        });
    }
    Ok(PublicList {
        as_of: local,
        labs: out,
    })
}
