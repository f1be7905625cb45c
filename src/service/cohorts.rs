//! 管控人群 cohorts: the CDC loads close contacts, arrivals or discharged patients with each one's
//! anchor (quarantine start, arrival, discharge); the cohort's programme says which tests fall
//! due when; each member's windows are read against the swabs they gave — who is due today,
//! who missed a test.

use crate::actor::Actor;
use crate::domain::id_number::DocumentType;
use crate::domain::policy::{self, Action, Scope};
use crate::domain::programme::{self, Covers, Outcome, Sample, Schedule};
use crate::error::Error;
use crate::store::cohort::{self as store, CohortRow};
use crate::store::time::{from_db, to_db};
use crate::store::{is_unique_violation, Tx};
use crate::view::cohort::{self as view, Cohort, CohortDetail};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Deserialize;
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

/// A person of a cohort, and when their clock started.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CohortMemberInput {
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub name: String,
    pub phone: String,
    /// Quarantine start, arrival or discharge (its local day is day 1).
    pub anchor: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CohortInput {
    pub code: String,
    pub name: String,
    /// A cohort programme: `close-contact`, `ordinary-contact`, `inbound-port`,
    /// `arrivals-twice`, `discharged`.
    pub programme: String,
    /// The region it belongs to (a CDC reviewer's own region, or under it).
    pub region: String,
    #[serde(default)]
    pub members: Vec<CohortMemberInput>,
}

/// Registers the people (or finds them, their names checked) and adds them with their anchors.
async fn add(tx: &mut Tx, cohort_id: i64, members: &[CohortMemberInput]) -> Result<u64, Error> {
    let today = tx.today();
    let now = tx.now();
    let mut rows = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let at = |e: Error| {
            let field = e.field.clone().unwrap_or_default();
            e.at(&format!("members[{i}].{field}"))
        };
        let doc = super::persons::parse_document(m.doc_type, &m.doc_no, today).map_err(at)?;
        let name = super::parse_text("name", &m.name, 100).map_err(at)?;
        let phone = super::persons::parse_phone(&m.phone).map_err(at)?;
        let anchor = m.anchor.with_timezone(&chrono::Utc);
        if anchor > now + chrono::Duration::days(30) {
            return Err(Error::invalid(
                &format!("members[{i}].anchor"),
                "an anchor is at most 30 days ahead",
            ));
        }
        let (person, _) = super::persons::find_or_create(tx, &doc, &name, &phone, None, today)
            .await
            .map_err(at)?;
        rows.push((person.id, to_db(anchor), person.uid));
    }
    let pairs: Vec<(i64, i64)> = rows.iter().map(|r| (r.0, r.1)).collect();
    let by = tx.actor().username.clone();
    let added = store::add_members(tx, cohort_id, &pairs, to_db(now), &by).await?;
    for (_, anchor, uid) in &rows {
        tx.audit(
            "cohort.add",
            "person",
            uid,
            None,
            Some(&serde_json::json!({ "cohort": cohort_id, "anchor": from_db(*anchor) })),
        );
    }
    Ok(added)
}

fn check_scope(actor: &Actor, region: &str) -> Result<(), Error> {
    if policy::covers_region(&actor.scope, region) {
        Ok(())
    } else {
        Err(actor.out_of_scope(&format!("region {region}")))
    }
}

/// Loads a cohort with its members.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(tx: &mut Tx, input: CohortInput) -> Result<CohortDetail, Error> {
    tx.actor().require(Action::ManageCohorts)?;
    let code = super::parse_code("code", &input.code)?;
    let name = super::parse_text("name", &input.name, 200)?;
    let region = super::parse_code("region", &input.region)?;
    check_scope(tx.actor(), &region)?;
    let programme = crate::store::programme::current(tx.conn())
        .await?
        .into_iter()
        .find(|p| p.code == input.programme.trim())
        .ok_or_else(|| {
            Error::unprocessable(
                "programme.unknown",
                format!("no programme {:?}", input.programme.trim()),
            )
            .at("programme")
        })?;
    if programme.covers != Covers::Cohort {
        return Err(Error::unprocessable(
            "programme.not_for_cohorts",
            format!(
                "programme {} covers {}, not a cohort",
                programme.code, programme.covers
            ),
        )
        .at("programme"));
    }
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    let id = match store::insert(tx, &code, &name, programme.id, &region, now, &by).await {
        Err(e) if is_unique_violation(&e) => {
            return Err(
                Error::conflict("cohort.code_taken", format!("a cohort {code} exists")).at("code"),
            )
        }
        r => r?,
    };
    let added = add(tx, id, &input.members).await?;
    tx.audit(
        "cohort.load",
        "cohort",
        &code,
        None,
        Some(&serde_json::json!({
            "name": name, "programme": programme.code, "region": region, "members": added,
        })),
    );
    let tz = tx.zone();
    let today = tx.today();
    let actor = tx.actor().clone();
    detail(tx.conn(), &actor, &code, tz, today).await
}

/// Adds people to a cohort (one already in it keeps their first anchor).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_members(
    tx: &mut Tx,
    code: &str,
    members: Vec<CohortMemberInput>,
) -> Result<CohortDetail, Error> {
    tx.actor().require(Action::ManageCohorts)?;
    let actor = tx.actor().clone();
    let row = visible(tx.conn(), &actor, code).await?;
    let added = add(tx, row.id, &members).await?;
    tx.audit(
        "cohort.add_members",
        "cohort",
        &row.code,
        None,
        Some(&serde_json::json!({ "added": added })),
    );
    let (tz, today) = (tx.zone(), tx.today());
    detail(tx.conn(), &actor, code, tz, today).await
}

async fn visible(conn: &mut AnyConnection, actor: &Actor, code: &str) -> Result<CohortRow, Error> {
    let code = code.trim().to_ascii_uppercase();
    let not_found = || Error::not_found("cohort.not_found", format!("no cohort {code}"));
    let row = store::by_code(conn, &code).await?.ok_or_else(not_found)?;
    if !policy::covers_region(&actor.scope, &row.region) {
        return Err(not_found());
    }
    Ok(row)
}

/// Each member's follow-up on `today`.
async fn follow_ups(
    conn: &mut AnyConnection,
    row: &CohortRow,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Vec<view::CohortMember>, Error> {
    let schedule: Schedule = serde_json::from_str(&row.schedule).map_err(|e| {
        Error::internal(anyhow::anyhow!(
            "cohort {}: its schedule does not read: {e}",
            row.code
        ))
    })?;
    let members = store::members(conn, row.id).await?;
    let ids: Vec<i64> = members.iter().map(|m| m.person_id).collect();
    let mut samples: HashMap<i64, Vec<Sample>> = HashMap::new();
    for (person, at, value) in store::samples_of(conn, &ids).await? {
        let outcome = match value.as_deref() {
            Some("negative") => Outcome::Negative,
            Some("positive") => Outcome::Positive,
            Some("pending_recheck") => Outcome::PendingRecheck,
            _ => Outcome::Pending,
        };
        samples.entry(person).or_default().push(Sample {
            at: from_db(at),
            outcome,
        });
    }
    Ok(members
        .iter()
        .map(|m| {
            let taken = samples.get(&m.person_id).map_or(&[][..], |v| v);
            let f = programme::follow_up(&schedule, from_db(m.anchor_at), taken, today, tz);
            view::member(m, &f, tz, today)
        })
        .collect())
}

/// One cohort with every member's follow-up.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn detail(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<CohortDetail, Error> {
    actor.require(Action::ViewCohorts)?;
    let row = visible(conn, actor, code).await?;
    let members = follow_ups(conn, &row, tz, today).await?;
    Ok(CohortDetail {
        cohort: view::cohort(&row, &members, tz),
        members,
    })
}

/// The cohorts in the caller's region, newest first, with who is due and who missed.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Vec<Cohort>, Error> {
    actor.require(Action::ViewCohorts)?;
    let region = match &actor.scope {
        Scope::Region(r) => r.clone(),
        Scope::Everywhere => String::new(),
        _ => return Err(actor.out_of_scope("cohorts")),
    };
    let mut out = vec![];
    for row in store::in_region(conn, &region).await? {
        let members = follow_ups(conn, &row, tz, today).await?;
        out.push(view::cohort(&row, &members, tz));
    }
    Ok(out)
}
