//! 采样登记 accession at the collection site: open a tube by its barcode, scan people into it,
//! close it (by itself when full, or by hand with its actual count).

use super::parse_barcode;
use super::persons::{self, PersonScan, PersonView};
use super::registry::{self, SiteRules};
use super::{parse_opt_text, parse_text};
use crate::actor::Actor;
use crate::domain::barcode::{Origin, TubeBarcode};
use crate::domain::policy::{covers_tube, Action, Scope};
use crate::domain::tube::{self as rules, PoolPolicy, TubeState, TubeStatus};
use crate::domain::vocab::{Category, Payer, Priority, SampleType, TubeKind};
use crate::error::Error;
use crate::store::time::{show, to_db};
use crate::store::tube::{self as store, TubeRow};
use crate::store::{is_unique_violation, Tx};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// How far in the future a collection time may lie (clock skew of a collector's device).
const FUTURE_SKEW_MINUTES: i64 = 10;
/// How old a collection time may be when it is registered (offline collection apps upload late).
const MAX_BACKDATE_DAYS: i64 = 7;

/// 采样描述 what an environment or cold-chain sample was taken from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Description {
    /// Product or surface, e.g. `冻带鱼外包装` or `冷库门把手`.
    pub item: String,
    #[serde(default)]
    pub lot: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
    /// Market, warehouse or place sampled.
    pub location: String,
}

/// A request to open a tube.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenTube {
    /// The tube barcode as scanned (trimmed).
    pub barcode: String,
    pub kind: TubeKind,
    /// Nominal pool size for a pooled tube (5, 10 or 20 as the site allows).
    #[serde(default)]
    pub pool_size: Option<u32>,
    pub sample_type: SampleType,
    /// Code of the collection site.
    pub site: String,
    /// Who took the swabs (default: the acting user).
    #[serde(default)]
    pub collector: Option<String>,
    /// When the swabs were taken, RFC 3339 with offset (default: now).
    #[serde(default)]
    pub collected_at: Option<DateTime<FixedOffset>>,
    pub category: Category,
    /// Who pays (default: public for key populations, self otherwise).
    #[serde(default)]
    pub payer: Option<Payer>,
    /// Code of the paying institution when the employer pays.
    #[serde(default)]
    pub payer_institution: Option<String>,
    /// For environment and cold-chain samples, instead of people.
    #[serde(default)]
    pub description: Option<Description>,
    /// People scanned in at once (e.g. the one person of a single tube).
    #[serde(default)]
    pub people: Vec<PersonScan>,
    /// 留样管 a retained single tube taken beside this pool (its barcode) for its one person:
    /// held at the lab and tested only if the pool needs a re-check.
    #[serde(default)]
    pub retained_for: Option<String>,
}

/// A person's place in a tube.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub position: u32,
    pub person: PersonView,
    pub added_at: DateTime<FixedOffset>,
    pub added_by: String,
}

/// A tube's reception at a lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub lab: String,
    pub received_at: DateTime<FixedOffset>,
    pub received_by: String,
    /// Minutes from collection to receipt.
    pub transport_minutes: i64,
    /// Transport took longer than the limit.
    pub transport_over_limit: bool,
}

/// A tube's rejection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rejection {
    pub reason: crate::domain::reception::RejectionReason,
    pub note: Option<String>,
    pub rejected_at: DateTime<FixedOffset>,
    pub rejected_by: String,
    pub lab: Option<String>,
}

/// A tube as every response shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TubeView {
    pub barcode: String,
    pub kind: TubeKind,
    pub status: TubeStatus,
    /// 1 for a single tube, the pool size for a pooled tube, 0 for an environment sample.
    pub nominal_size: u32,
    pub member_count: u32,
    /// Closed by hand with fewer people than its nominal size.
    pub short_closed: bool,
    pub sample_type: SampleType,
    pub site: String,
    pub collector: String,
    pub collected_at: DateTime<FixedOffset>,
    pub category: Category,
    pub priority: Priority,
    /// Result due by (collection + the priority's deadline).
    pub deadline_at: DateTime<FixedOffset>,
    pub payer: Payer,
    pub payer_institution: Option<String>,
    pub description: Option<Description>,
    /// Whether natlis issued the barcode (with a verified check character).
    pub barcode_issued: bool,
    pub closed_at: Option<DateTime<FixedOffset>>,
    pub closed_by: Option<String>,
    /// 转送 the lab the tube was forwarded to before reception (it, not the site's lab,
    /// receives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to: Option<String>,
    pub receipt: Option<Receipt>,
    pub rejection: Option<Rejection>,
    pub members: Vec<Member>,
    /// Things worth a second look that did not stop the scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl TubeRow {
    pub fn state(&self) -> TubeState {
        TubeState {
            kind: self.kind,
            status: self.status,
            nominal: self.nominal_size as u32,
            members: self.member_count as u32,
        }
    }

    pub fn view(&self, members: Vec<Member>, tz: FixedOffset) -> TubeView {
        TubeView {
            barcode: self.barcode.clone(),
            kind: self.kind,
            status: self.status,
            nominal_size: self.nominal_size as u32,
            member_count: self.member_count as u32,
            short_closed: self.short_closed != 0,
            sample_type: self.sample_type,
            site: self.site_code.clone(),
            collector: self.collector.clone(),
            collected_at: show(self.collected_at, tz),
            category: self.category,
            priority: self.priority,
            deadline_at: show(self.deadline_at, tz),
            payer: self.payer,
            payer_institution: self.payer_institution_code.clone(),
            description: self.env_item.as_ref().map(|item| Description {
                item: item.clone(),
                lot: self.env_lot.clone(),
                origin: self.env_origin.clone(),
                location: self.env_location.clone().unwrap_or_default(),
            }),
            barcode_issued: self.issued_batch_id.is_some(),
            closed_at: self.closed_at.map(|t| show(t, tz)),
            closed_by: self.closed_by.clone(),
            forwarded_to: self.forwarded_lab_code.clone(),
            receipt: match (&self.lab_code, self.received_at, &self.received_by) {
                (Some(lab), Some(at), Some(by)) => Some(Receipt {
                    lab: lab.clone(),
                    received_at: show(at, tz),
                    received_by: by.clone(),
                    transport_minutes: self.transport_minutes.unwrap_or(0),
                    transport_over_limit: self.transport_over_limit != 0,
                }),
                _ => None,
            },
            rejection: match (self.rejected_at, &self.rejected_by, self.rejection_reason) {
                (Some(at), Some(by), Some(reason)) => Some(Rejection {
                    reason,
                    note: self.rejection_note.clone(),
                    rejected_at: show(at, tz),
                    rejected_by: by.clone(),
                    lab: self.lab_code.clone(),
                }),
                _ => None,
            },
            members,
            warnings: vec![],
        }
    }
}

/// Loads a tube by barcode, locking its row for the rest of the transaction on PostgreSQL.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn members(
    conn: &mut AnyConnection,
    tube_id: i64,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<Vec<Member>, Error> {
    let rows = store::members(conn, tube_id).await?;
    Ok(rows
        .into_iter()
        .map(|r| Member {
            position: r.position as u32,
            person: r.person.view(today),
            added_at: show(r.added_at, tz),
            added_by: r.added_by,
        })
        .collect())
}

/// A tube with its members, as shown to clients, if the actor may see it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<TubeView, Error> {
    let barcode = parse_barcode(barcode)?;
    let row = store::load(conn, barcode.as_str()).await?;
    row.visible_to(actor, Action::ViewTube)?;
    let m = members(conn, row.id, tz, today).await?;
    Ok(row.view(m, tz))
}

/// A tube with its members, for a service that checked the actor already.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn load_view(
    conn: &mut AnyConnection,
    barcode: &str,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<TubeView, Error> {
    let row = store::load(conn, barcode).await?;
    let m = members(conn, row.id, tz, today).await?;
    Ok(row.view(m, tz))
}

/// Checks where a barcode comes from against the site's rules; returns the issuing batch of a
/// natlis barcode and any warning.
async fn check_origin(
    conn: &mut AnyConnection,
    barcode: &TubeBarcode,
    prefix: &str,
    site: &SiteRules,
) -> Result<(Option<i64>, Option<String>), Error> {
    match barcode.origin(prefix) {
        Err(e) => Err(Error::unprocessable("barcode.check_failed", e.to_string()).at("barcode")),
        Ok(Origin::Foreign) if !site.accepts_foreign_barcodes => Err(Error::unprocessable(
            "barcode.foreign_not_allowed",
            format!(
                "site {} accepts only barcodes natlis issued ({prefix}…); {barcode} is not one",
                site.code
            ),
        )
        .at("barcode")),
        Ok(Origin::Foreign) => Ok((None, None)),
        Ok(Origin::Issued { seq }) => {
            let batch = crate::store::barcode_batch::issuing(conn, prefix, seq as i64).await?;
            match batch {
                Some((id, site_id, end, code)) if (seq as i64) < end => {
                    let warning = (site_id != site.id).then(|| {
                        format!(
                            "barcode {barcode} was issued to site {code}, not to {}",
                            site.code
                        )
                    });
                    Ok((Some(id), warning))
                }
                _ => Err(Error::unprocessable(
                    "barcode.not_issued",
                    format!("{barcode} has the shape of a natlis barcode but was never issued"),
                )
                .at("barcode")),
            }
        }
    }
}

/// The existing binding of a barcode, for the error that refuses to use it twice.
async fn already_used(
    tx: &mut Tx,
    barcode: &TubeBarcode,
    tz: FixedOffset,
    today: NaiveDate,
) -> Error {
    let existing = match store::by_barcode(tx.conn(), barcode.as_str()).await {
        // The other tube is described only to a caller who may see it; to anyone else the
        // barcode is just taken.
        Ok(Some(row)) if covers_tube(&tx.actor().scope, row.place()) => {
            let m = members(tx.conn(), row.id, tz, today)
                .await
                .unwrap_or_default();
            Some(row.view(m, tz))
        }
        _ => None,
    };
    let mut err = Error::conflict(
        "barcode.already_used",
        match &existing {
            Some(t) => format!(
                "barcode {barcode} is already a {} tube of site {} collected at {} with {} people",
                t.kind, t.site, t.collected_at, t.member_count
            ),
            None => format!("barcode {barcode} is already used"),
        },
    )
    .at("barcode");
    if let Some(t) = existing {
        err = err.with_details(serde_json::json!({ "tube": t }));
    }
    err
}

fn check_collected_at(collected: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Error> {
    if collected > now + Duration::minutes(FUTURE_SKEW_MINUTES) {
        return Err(Error::invalid(
            "collected_at",
            format!("collection time {collected} is in the future"),
        ));
    }
    if collected < now - Duration::days(MAX_BACKDATE_DAYS) {
        return Err(Error::invalid(
            "collected_at",
            format!("collection time {collected} is more than {MAX_BACKDATE_DAYS} days ago"),
        ));
    }
    Ok(())
}

fn parse_description(d: Option<Description>) -> Result<Option<Description>, Error> {
    d.map(|d| {
        Ok(Description {
            item: parse_text("description.item", &d.item, 200)?,
            lot: parse_opt_text("description.lot", d.lot.as_deref(), 100)?,
            origin: parse_opt_text("description.origin", d.origin.as_deref(), 200)?,
            location: parse_text("description.location", &d.location, 200)?,
        })
    })
    .transpose()
}

/// A request to open a tube, checked against everything that needs no write lock: barcode,
/// site, pooling rules, collection time, and the people in it.
#[derive(Clone)]
pub struct OpenPlan {
    req: OpenTube,
    barcode: TubeBarcode,
    site: SiteRules,
    nominal: u32,
    batch: Option<i64>,
    warning: Option<String>,
    collected: Option<DateTime<Utc>>,
    collector: Option<String>,
    payer: Payer,
    payer_institution: Option<(i64, String)>,
    description: Option<Description>,
    people: Vec<persons::Identified>,
    /// The pool a retained tube is taken for.
    retained_for: Option<(i64, String)>,
}

/// Refuses to pool a person who owes a single-tube re-sample (单采复核): they are re-checked
/// in a single tube.
async fn refuse_pooling_if_recheck_due(
    conn: &mut AnyConnection,
    who: &persons::Identified,
    today: NaiveDate,
) -> Result<(), Error> {
    let persons::Identified::Known(p) = who else {
        return Ok(());
    };
    match crate::store::sample_order::has_open(conn, p.id).await? {
        false => Ok(()),
        true => Err(Error::unprocessable(
            "person.resample_single",
            // The tube behind the order may be another site's or lab's: not named here.
            format!(
                "{} must be re-sampled in a single tube (a re-sampling order is open), not pooled",
                p.view(today).name
            ),
        )
        .with_details(serde_json::json!({ "person": p.view(today) }))),
    }
}

/// Checks a request to open a tube on a read connection (outside the write transaction).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prepare_open(
    conn: &mut AnyConnection,
    actor: &Actor,
    mut req: OpenTube,
    today: NaiveDate,
) -> Result<OpenPlan, Error> {
    actor.require(Action::Accession)?;
    let barcode = parse_barcode(&req.barcode)?;
    let site = registry::site_rules(&mut *conn, "site", &req.site).await?;
    if !matches!(&actor.scope, Scope::Everywhere)
        && !matches!(&actor.scope, Scope::Site { id, .. } if *id == site.id)
    {
        return Err(actor.out_of_scope(&format!("site {}", site.code)));
    }
    let settings = &site.settings;
    let description = parse_description(req.description.take())?;
    let policy = PoolPolicy {
        allowed_sizes: site.pool_sizes.clone(),
        single_only: settings.single_only.clone(),
    };
    let nominal = rules::open(
        req.kind,
        req.pool_size,
        req.category,
        req.sample_type,
        description.is_some(),
        &policy,
    )?;
    if req.kind == TubeKind::Environment && !req.people.is_empty() {
        return Err(rules::AccessionRule::NoPeopleOnEnvironment.into());
    }
    if req.people.len() as u32 > nominal {
        return Err(rules::AccessionRule::Full { nominal }.into());
    }
    let (batch, warning) =
        check_origin(&mut *conn, &barcode, &settings.barcode_prefix, &site).await?;
    let collected = req.collected_at.map(|t| t.with_timezone(&Utc));
    if let Some(c) = collected {
        check_collected_at(c, Utc::now())?;
    }
    let collector = req
        .collector
        .as_deref()
        .map(|c| parse_text("collector", c, 64))
        .transpose()?;
    let payer = req.payer.unwrap_or(if req.category.is_key_population() {
        Payer::Public
    } else {
        Payer::SelfPay
    });
    let payer_institution = match req.payer_institution.as_deref() {
        Some(code) => Some(registry::institution_id(&mut *conn, "payer_institution", code).await?),
        None => None,
    };
    let mut people = Vec::with_capacity(req.people.len());
    for (i, scan) in std::mem::take(&mut req.people).iter().enumerate() {
        let who = persons::identify(&mut *conn, scan, today)
            .await
            .map_err(|e| at_person(i, e))?;
        if req.kind == TubeKind::Pool {
            refuse_pooling_if_recheck_due(&mut *conn, &who, today)
                .await
                .map_err(|e| at_person(i, e))?;
        }
        people.push(who);
    }
    let retained_for = match req.retained_for.as_deref() {
        None => None,
        Some(pool) => {
            if req.kind != TubeKind::Single || people.len() != 1 {
                return Err(Error::invalid(
                    "retained_for",
                    "a retained tube is a single tube with its one person",
                ));
            }
            let pool = parse_barcode(pool).map_err(|e| e.at("retained_for"))?;
            match store::by_barcode(&mut *conn, pool.as_str()).await? {
                Some(t) if t.kind == TubeKind::Pool => Some((t.id, pool.to_string())),
                Some(_) => {
                    return Err(Error::invalid(
                        "retained_for",
                        format!("tube {pool} is not a pooled tube"),
                    ))
                }
                None => return Err(store::not_found(pool.as_str()).at("retained_for")),
            }
        }
    };
    Ok(OpenPlan {
        retained_for,
        req,
        barcode,
        site,
        nominal,
        batch,
        warning,
        collected,
        collector,
        payer,
        payer_institution,
        description,
        people,
    })
}

/// Points an error at the `i`th person of a request.
fn at_person(i: usize, e: Error) -> Error {
    match e.field.clone() {
        Some(f) => e.at(&format!("people[{i}].{f}")),
        None => e.at(&format!("people[{i}]")),
    }
}

/// Opens a tube and scans in the people given with it (see [`prepare_open`]).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open(
    tx: &mut Tx,
    plan: OpenPlan,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<TubeView, Error> {
    let OpenPlan {
        req,
        barcode,
        site,
        nominal,
        batch,
        warning,
        collected,
        collector,
        payer,
        payer_institution,
        description,
        people: identified,
        retained_for,
    } = plan;
    let now = tx.now();
    let collected = collected.unwrap_or(now);
    let collector = collector.unwrap_or_else(|| tx.actor().username.clone());
    let priority = req.category.priority();
    let deadline = collected + Duration::hours(site.settings.deadline_hours.of(priority));
    let environment = req.kind == TubeKind::Environment;
    let by = tx.actor().username.clone();
    let mut state = TubeState {
        kind: req.kind,
        status: if environment {
            TubeStatus::Closed
        } else {
            TubeStatus::Open
        },
        nominal,
        members: 0,
    };
    let mut people: Vec<crate::store::person::PersonRow> = Vec::with_capacity(identified.len());
    for (i, who) in identified.into_iter().enumerate() {
        let person = persons::bind(tx, who, today)
            .await
            .map_err(|e| at_person(i, e))?;
        let already = people.iter().any(|p| p.id == person.id);
        let added = rules::add_member(state, already).map_err(|e| at_person(i, e.into()))?;
        state.members = added.position;
        if added.closes {
            state.status = TubeStatus::Closed;
        }
        people.push(person);
    }
    let closed = state.status == TubeStatus::Closed;
    // A retained tube's person must be in its pool; a single tube for someone who owes a
    // re-sample answers it, keeping the earlier deadline.
    if let Some((pool, pool_barcode)) = &retained_for {
        if store::position_of(tx.conn(), *pool, people[0].id)
            .await?
            .is_none()
        {
            return Err(Error::unprocessable(
                "tube.not_in_pool",
                format!("this person is not in pool {pool_barcode}: a retained tube is taken for a member"),
            )
            .at("retained_for"));
        }
    }
    let mut deadline = deadline;
    // The deadline clock starts at collection, or where the re-check's pool started it.
    let mut clock_start = collected;
    let mut recheck: Option<(i64, i64)> = None;
    let mut answered: Vec<i64> = vec![];
    if req.kind == TubeKind::Single && people.len() == 1 && retained_for.is_none() {
        let orders = open_resample_orders(tx.conn(), people[0].id).await?;
        if let Some(first) = orders.first() {
            deadline = deadline.min(crate::store::time::from_db(first.due_at));
            clock_start = clock_start.min(crate::store::time::from_db(first.clock_start_at));
            recheck = Some((first.source_tube, first.recollection_no + 1));
        }
        answered = orders.iter().map(|o| o.id).collect();
    }
    let inserted = store::insert(
        tx,
        &store::NewTube {
            barcode: barcode.as_str(),
            kind: req.kind,
            status: state.status,
            nominal_size: i64::from(nominal),
            member_count: i64::from(state.members),
            sample_type: req.sample_type,
            site_id: site.id,
            collector: &collector,
            collected_at: to_db(collected),
            category: req.category,
            priority,
            deadline_at: to_db(deadline),
            payer,
            payer_institution_id: payer_institution.as_ref().map(|p| p.0),
            env_item: description.as_ref().map(|d| d.item.as_str()),
            env_lot: description.as_ref().and_then(|d| d.lot.as_deref()),
            env_origin: description.as_ref().and_then(|d| d.origin.as_deref()),
            env_location: description.as_ref().map(|d| d.location.as_str()),
            issued_batch_id: batch,
            opened_by: &by,
            closed_at: closed.then(|| to_db(now)),
            closed_by: closed.then_some(by.as_str()),
            created_at: to_db(now),
            recheck_of: recheck.map(|r| r.0),
            recollection_no: recheck.map_or(0, |r| r.1),
            retained_for: retained_for.as_ref().map(|r| r.0),
            clock_start_at: to_db(clock_start),
        },
    )
    .await;
    let id = match inserted {
        Ok(Some(id)) => id,
        Ok(None) => return Err(already_used(tx, &barcode, tz, today).await),
        Err(e) if is_unique_violation(&e) => {
            return Err(already_used(tx, &barcode, tz, today).await)
        }
        Err(e) => return Err(e.into()),
    };
    fulfil_orders(tx, id, &answered).await?;
    let mut members = Vec::with_capacity(people.len());
    for (i, person) in people.iter().enumerate() {
        let position = i as u32 + 1;
        insert_member(tx, id, person.id, position).await?;
        if !answered.is_empty() {
            // A new swab answers the person's re-sampling orders: their status may change.
            super::push::person_changed(tx, person.id, None).await?;
        }
        members.push(Member {
            position,
            person: person.view(today),
            added_at: now.with_timezone(&tz),
            added_by: by.clone(),
        });
    }
    // One entry tells the whole opening: the tube, the people bound to it, and whether it
    // closed itself (a single tube with its person does).
    tx.audit(
        "tube.open",
        "tube",
        barcode.as_str(),
        None,
        Some(&serde_json::json!({
            "kind": req.kind, "nominal_size": nominal, "sample_type": req.sample_type,
            "site": site.code, "category": req.category, "collected_at": collected,
            "status": state.status, "members": people.iter().enumerate()
                .map(|(i, p)| serde_json::json!({ "person": p.uid, "position": i + 1 }))
                .collect::<Vec<_>>(),
            "retained_for": retained_for.as_ref().map(|r| r.1.clone()),
            "answers_resample_orders": answered,
        })),
    );
    metrics::counter!("natlis_tubes_opened_total", "kind" => req.kind.as_str()).increment(1);
    metrics::counter!("natlis_members_scanned_total").increment(people.len() as u64);
    let row = TubeRow {
        id,
        site_id: site.id,
        site_lab_id: site.lab_id,
        site_region: site.region.clone(),
        lab_id: None,
        barcode: barcode.to_string(),
        kind: req.kind,
        status: state.status,
        nominal_size: i64::from(nominal),
        member_count: i64::from(state.members),
        short_closed: 0,
        sample_type: req.sample_type,
        site_code: site.code,
        collector,
        collected_at: to_db(collected),
        category: req.category,
        priority,
        deadline_at: to_db(deadline),
        payer,
        payer_institution_code: payer_institution.map(|p| p.1),
        env_item: description.as_ref().map(|d| d.item.clone()),
        env_lot: description.as_ref().and_then(|d| d.lot.clone()),
        env_origin: description.as_ref().and_then(|d| d.origin.clone()),
        env_location: description.as_ref().map(|d| d.location.clone()),
        issued_batch_id: batch,
        closed_at: closed.then(|| to_db(now)),
        closed_by: closed.then(|| by.clone()),
        lab_code: None,
        received_at: None,
        received_by: None,
        transport_minutes: None,
        transport_over_limit: 0,
        rejected_at: None,
        rejected_by: None,
        rejection_reason: None,
        rejection_note: None,
        held: 0,
        forwarded_lab_id: None,
        forwarded_lab_code: None,
    };
    let mut view = row.view(members, tz);
    view.warnings.extend(warning);
    Ok(view)
}

/// Binds a person to a tube at a position; `false` when the person is already in the tube.
async fn insert_member(
    tx: &mut Tx,
    tube_id: i64,
    person_id: i64,
    position: u32,
) -> Result<bool, Error> {
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    Ok(store::insert_member(tx, tube_id, person_id, i64::from(position), now, &by).await?)
}

/// The error for a person already in the tube, with their position.
async fn already_member(
    tx: &mut Tx,
    tube_id: i64,
    person: &crate::store::person::PersonRow,
    today: NaiveDate,
) -> Error {
    let position = store::position_of(tx.conn(), tube_id, person.id)
        .await
        .unwrap_or(None);
    let err = Error::from(rules::AccessionRule::AlreadyMember);
    match position {
        Some(pos) => {
            err.with_details(serde_json::json!({ "position": pos, "person": person.view(today) }))
        }
        None => err,
    }
}

/// A scan of one person into a tube, checked on a read connection: the tube as it stood, and
/// who the person is.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    barcode: TubeBarcode,
    tube: TubeRow,
    who: persons::Identified,
}

/// Checks a scan outside the write transaction. Tubes only ever fill up and close, so a tube
/// that is closed or full here is closed or full for good; one that is open is checked again
/// when the scan is written.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn prepare_scan(
    conn: &mut AnyConnection,
    actor: &Actor,
    barcode: &str,
    scan: &PersonScan,
    today: NaiveDate,
) -> Result<ScanPlan, Error> {
    let barcode = parse_barcode(barcode)?;
    let tube = store::load(&mut *conn, barcode.as_str()).await?;
    tube.visible_to(actor, Action::Accession)?;
    let who = persons::identify(&mut *conn, scan, today).await?;
    if let (
        TubeStatus::Closed | TubeStatus::Received | TubeStatus::Rejected,
        persons::Identified::Known(p),
    ) = (tube.status, &who)
    {
        // Say what a person at the site needs to hear: already in it, or the tube is closed.
        if let Some(pos) = store::position_of(&mut *conn, tube.id, p.id).await? {
            return Err(Error::from(rules::AccessionRule::AlreadyMember)
                .with_details(serde_json::json!({ "position": pos, "person": p.view(today) })));
        }
    }
    rules::add_member(tube.state(), false)?;
    if tube.kind == TubeKind::Pool {
        refuse_pooling_if_recheck_due(&mut *conn, &who, today).await?;
    }
    Ok(ScanPlan { barcode, tube, who })
}

/// Scans one person into an open tube (see [`prepare_scan`]). The tube's count moves from
/// what the plan saw to one more only if nobody changed it meanwhile; otherwise the tube is read
/// again under the write lock and the rules asked again.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_member(
    tx: &mut Tx,
    plan: ScanPlan,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<MemberAdded, Error> {
    let ScanPlan {
        barcode,
        tube: mut row,
        who,
    } = plan;
    let person = persons::bind(tx, who, today).await?;
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    let (state, added, status) = loop {
        let state = row.state();
        let added = rules::add_member(state, false)?;
        let status = if added.closes {
            TubeStatus::Closed
        } else {
            state.status
        };
        let moved = store::count_member(
            tx,
            row.id,
            i64::from(state.members),
            state.status,
            i64::from(added.position),
            status,
            added.closes.then_some((now, by.as_str())),
        )
        .await?;
        if moved {
            break (state, added, status);
        }
        row = store::lock_existing(tx, barcode.as_str()).await?;
        if row.status != TubeStatus::Open
            && store::position_of(tx.conn(), row.id, person.id)
                .await?
                .is_some()
        {
            return Err(already_member(tx, row.id, &person, today).await);
        }
    };
    if !insert_member(tx, row.id, person.id, added.position).await? {
        // Already in the tube: the count update goes with the rolled-back transaction.
        return Err(already_member(tx, row.id, &person, today).await);
    }
    let (answered, deadline) = if added.position == 1 {
        answer_orders_of_scan(tx, &row, person.id).await?
    } else {
        (vec![], row.deadline_at)
    };
    row.deadline_at = deadline;
    tx.audit(
        "tube.add_member",
        "tube",
        barcode.as_str(),
        None,
        Some(&serde_json::json!({
            "person": person.uid, "position": added.position, "answers_resample_orders": answered,
        })),
    );
    if added.closes {
        tx.audit(
            "tube.close",
            "tube",
            barcode.as_str(),
            Some(&serde_json::json!({ "status": state.status })),
            Some(&serde_json::json!({ "status": status, "member_count": added.position, "automatic": true })),
        );
    }
    metrics::counter!("natlis_members_scanned_total").increment(1);
    Ok(MemberAdded {
        barcode: barcode.to_string(),
        status,
        nominal_size: row.nominal_size as u32,
        member_count: added.position,
        closed_now: added.closes,
        deadline_at: show(row.deadline_at, tz),
        added: Member {
            position: added.position,
            person: person.view(today),
            added_at: show(now, tz),
            added_by: tx.actor().username.clone(),
        },
    })
}

/// An open re-sampling order (重新采样) of a person, with what the new swab inherits from the
/// tube behind it: the deadline, the start of the deadline clock, the recollection count.
use crate::store::sample_order::Answerable as OpenOrder;

/// A person's open re-sampling orders, the most urgent first.
async fn open_resample_orders(
    conn: &mut AnyConnection,
    person: i64,
) -> Result<Vec<OpenOrder>, Error> {
    Ok(crate::store::sample_order::answerable(conn, person).await?)
}

/// Marks re-sampling orders answered by a tube.
async fn fulfil_orders(tx: &mut Tx, tube: i64, orders: &[i64]) -> Result<(), Error> {
    for order in orders {
        crate::store::sample_order::fulfil(tx, *order, tube).await?;
    }
    Ok(())
}

/// A single tube's first person scanned in by the ordinary scan: if they owe a re-sample, the
/// tube answers it as the one-request path does — the earlier deadline and clock kept, the
/// re-check's recollection counted, the orders fulfilled, their status recomputed. Returns the
/// orders answered and the tube's deadline.
async fn answer_orders_of_scan(
    tx: &mut Tx,
    tube: &TubeRow,
    person: i64,
) -> Result<(Vec<i64>, i64), Error> {
    // A pool's first member (most scans) asks nothing more.
    if tube.kind != TubeKind::Single {
        return Ok((vec![], tube.deadline_at));
    }
    let (recheck_of, retained, clock_start) = store::recheck_links(tx.conn(), tube.id).await?;
    if recheck_of.is_some() || retained.is_some() {
        return Ok((vec![], tube.deadline_at));
    }
    let orders = open_resample_orders(tx.conn(), person).await?;
    let Some(first) = orders.first() else {
        return Ok((vec![], tube.deadline_at));
    };
    let deadline = tube.deadline_at.min(first.due_at);
    store::make_recollection(
        tx,
        tube.id,
        deadline,
        clock_start.min(first.clock_start_at),
        first.source_tube,
        first.recollection_no + 1,
    )
    .await?;
    let answered: Vec<i64> = orders.iter().map(|o| o.id).collect();
    fulfil_orders(tx, tube.id, &answered).await?;
    super::push::person_changed(tx, person, None).await?;
    Ok((answered, deadline))
}

/// The answer to a scan of one person into a tube: where the tube stands, and who was added.
/// (The whole tube with all its people: `GET /api/v1/tubes/{barcode}`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberAdded {
    pub barcode: String,
    pub status: TubeStatus,
    pub nominal_size: u32,
    pub member_count: u32,
    /// This scan filled the tube and closed it.
    pub closed_now: bool,
    pub deadline_at: DateTime<FixedOffset>,
    pub added: Member,
}

/// A request to close a tube by hand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloseTube {
    /// The number of swabs the collector counts in the tube; must match the people scanned.
    #[serde(default)]
    pub count: Option<u32>,
}

/// Closes an open tube with its actual count (flagged when below nominal).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn close(
    tx: &mut Tx,
    barcode: &str,
    req: CloseTube,
    tz: FixedOffset,
    today: NaiveDate,
) -> Result<TubeView, Error> {
    let barcode = parse_barcode(barcode)?;
    let mut row = store::lock_existing(tx, barcode.as_str()).await?;
    row.visible_to(tx.actor(), Action::Accession)?;
    let closed = rules::close(row.state())?;
    if let Some(count) = req.count {
        if count != closed.members {
            return Err(Error::unprocessable(
                "tube.count_mismatch",
                format!(
                    "the collector counts {count} swabs but {} people were scanned into {barcode}: scan the missing people or re-check the tube",
                    closed.members
                ),
            )
            .at("count"));
        }
    }
    let now = to_db(tx.now());
    let by = tx.actor().username.clone();
    store::close(tx, row.id, closed.short, now, &by).await?;
    tx.audit(
        "tube.close",
        "tube",
        barcode.as_str(),
        Some(&serde_json::json!({ "status": row.status }),),
        Some(&serde_json::json!({ "status": "closed", "member_count": closed.members, "short": closed.short })),
    );
    row.status = TubeStatus::Closed;
    row.short_closed = i64::from(closed.short);
    row.closed_at = Some(now);
    row.closed_by = Some(by);
    let members = members(tx.conn(), row.id, tz, today).await?;
    Ok(row.view(members, tz))
}

/// Filters for listing tubes, and the page.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct TubeFilter {
    pub site: Option<String>,
    pub lab: Option<String>,
    pub status: Option<TubeStatus>,
    /// Tubes per page, newest first (default 100, 1 to 1000).
    pub limit: Option<i64>,
    /// Tubes to skip (the previous page's `X-Next-Offset`).
    pub offset: Option<i64>,
}

/// A page of tubes: how many match in all, and where the next page starts (none: the last).
#[derive(Debug, Clone)]
pub struct TubePage {
    pub tubes: Vec<TubeView>,
    pub total: i64,
    pub next_offset: Option<i64>,
}

/// Tubes in the caller's scope, newest collection first, without their members, a page at a
/// time (never cut silently: the page says how many there are and where the next starts).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &TubeFilter,
    tz: FixedOffset,
) -> Result<TubePage, Error> {
    actor.require(Action::ViewTube)?;
    let (limit, offset) = super::page_bounds(f.limit, f.offset, 100)?;
    let (site_id, lab_id, region) = scope_filter(&actor.scope);
    let filter = store::TubeFilter {
        site_code: f.site.as_ref().map(|s| s.trim().to_ascii_uppercase()),
        lab_code: f.lab.as_ref().map(|s| s.trim().to_ascii_uppercase()),
        status: f.status,
        site_id,
        lab_id,
        region_like: region,
    };
    let (rows, total) = store::list(conn, &filter, limit, offset).await?;
    let next = offset + rows.len() as i64;
    Ok(TubePage {
        tubes: rows.into_iter().map(|r| r.view(vec![], tz)).collect(),
        total,
        next_offset: (next < total).then_some(next),
    })
}

/// The (site, lab, region-prefix pattern) a listing is confined to by a scope.
pub(crate) fn scope_filter(scope: &Scope) -> (Option<i64>, Option<i64>, Option<String>) {
    match scope {
        Scope::Everywhere => (None, None, None),
        Scope::Site { id, .. } => (Some(*id), None, None),
        Scope::Lab { id, .. } => (None, Some(*id), None),
        Scope::Region(r) => (None, None, Some(format!("{r}%"))),
        // Institutions see their staff's results, not tubes: nothing matches.
        Scope::Institution { .. } => (Some(-1), None, None),
    }
}
