//! 采样登记 accession at the collection site: open a tube by its barcode, scan people into it,
//! close it (by itself when full, or by hand with its actual count).

use super::parse_barcode;
use super::persons::{self, PersonScan};
use super::registry::{self, SiteRules};
use super::{parse_opt_text, parse_text};
use crate::actor::Actor;
use crate::domain::barcode::{Origin, TubeBarcode};
use crate::domain::policy::{covers_tube, Action, Scope};
use crate::domain::tube::{self as rules, PoolPolicy, TubeState, TubeStatus};
use crate::domain::vocab::{Category, Payer, SampleType, TubeKind};
use crate::error::Error;
use crate::store::time::to_db;
use crate::store::tube::{self as store, MemberRow, TubeRow};
use crate::store::{is_unique_violation, Tx};
use crate::view::tube::{Scanned, Tube};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

mod open;
mod scan;

pub use crate::domain::tube::Description;
pub use open::{open, prepare_open, OpenPlan};
pub use scan::{add_member, prepare_scan, ScanPlan};

/// How far in the future a collection time may lie (clock skew of a collector's device).
const FUTURE_SKEW_MINUTES: i64 = 10;
/// How old a collection time may be when it is registered (offline collection apps upload late).
const MAX_BACKDATE_DAYS: i64 = 7;

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

impl TubeRow {
    pub fn state(&self) -> TubeState {
        TubeState {
            kind: self.kind,
            status: self.status,
            nominal: self.nominal_size as u32,
            members: self.member_count as u32,
        }
    }
}

/// A tube with its members, if the actor may see it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(conn: &mut AnyConnection, actor: &Actor, barcode: &str) -> Result<Tube, Error> {
    let barcode = parse_barcode(barcode)?;
    let row = store::load(conn, barcode.as_str()).await?;
    row.visible_to(actor, Action::ViewTube)?;
    with_members(conn, row).await
}

/// A tube with its members, for a service that checked the actor already.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn load_with_members(
    conn: &mut AnyConnection,
    barcode: &str,
) -> Result<Tube, Error> {
    let row = store::load(conn, barcode).await?;
    with_members(conn, row).await
}

async fn with_members(conn: &mut AnyConnection, row: TubeRow) -> Result<Tube, Error> {
    let members = store::members(conn, row.id).await?;
    Ok(Tube {
        row,
        members,
        warnings: vec![],
    })
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
async fn already_used(tx: &mut Tx, barcode: &TubeBarcode) -> Error {
    let (tz, today) = (tx.zone(), tx.today());
    let existing = match store::by_barcode(tx.conn(), barcode.as_str()).await {
        // The other tube is described only to a caller who may see it; to anyone else the
        // barcode is just taken.
        Ok(Some(row)) if covers_tube(&tx.actor().scope, row.place()) => {
            let m = store::members(tx.conn(), row.id).await.unwrap_or_default();
            Some(row.view(&m, tz, today))
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
            point: parse_opt_text("description.point", d.point.as_deref(), 40)?
                .map(|p| p.to_ascii_uppercase()),
        })
    })
    .transpose()
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

/// A request to close a tube by hand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloseTube {
    /// The number of swabs the collector counts in the tube; must match the people scanned.
    #[serde(default)]
    pub count: Option<u32>,
}

/// Closes an open tube with its actual count (flagged when below nominal).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn close(tx: &mut Tx, barcode: &str, req: CloseTube) -> Result<Tube, Error> {
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
    with_members(tx.conn(), row).await
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
    pub tubes: Vec<TubeRow>,
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
        tubes: rows,
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
