//! 预约 booking a slot at a collection site: the site's staff open slots with a capacity; a
//! member of the public reserves a seat (held 10 minutes), confirms it with their document,
//! name and phone (a booking code to show), cancels or moves it until the slot starts. The
//! database keeps a slot from being overbooked however many nodes take seats at once; bookings
//! from one address are throttled; a code alone reads nothing of a confirmed booking without
//! its document number.

use super::persons::{self, PersonScan};
use crate::actor::Actor;
use crate::domain::booking::{self as rules, SlotClosed};
use crate::domain::id_number::DocumentType;
use crate::domain::mask;
use crate::domain::policy::{Action, Scope};
use crate::error::Error;
use crate::store::booking::{self as store, BookingRow, SlotRow};
use crate::store::time::{from_db, show, to_db};
use crate::store::{is_unique_violation, Tx};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// Bookings (held seats) one address may make within [`WINDOW_MINUTES`].
pub const MAX_PER_ADDRESS: i64 = 20;
pub const WINDOW_MINUTES: i64 = 10;

/// A slot as the public sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Slot {
    pub site: String,
    pub site_name: String,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    pub capacity: i64,
    /// Seats still free (held seats count as taken until they expire).
    pub free: i64,
    /// It may be booked now (it has not started, and is within the week ahead).
    pub open: bool,
}

fn slot_view(r: &SlotRow, tz: FixedOffset, now: DateTime<Utc>) -> Slot {
    Slot {
        site: r.site.clone(),
        site_name: r.site_name.clone(),
        starts_at: show(r.starts_at, tz),
        ends_at: show(r.ends_at, tz),
        capacity: r.capacity,
        free: (r.capacity - r.booked).max(0),
        open: rules::takeable(from_db(r.starts_at), now).is_ok(),
    }
}

/// A booking as its holder sees it (the person masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Booking {
    /// The booking code to show at the site (`B…`).
    pub code: String,
    /// `reserved`, `confirmed`, `used`, `cancelled`, `expired`.
    pub state: String,
    pub site: String,
    pub site_name: String,
    pub starts_at: DateTime<FixedOffset>,
    pub ends_at: DateTime<FixedOffset>,
    /// Until when a reserved seat waits for its confirmation.
    pub hold_until: Option<DateTime<FixedOffset>>,
    /// Masked.
    pub name: Option<String>,
    /// Masked.
    pub doc_no: Option<String>,
}

fn booking_view(r: &BookingRow, tz: FixedOffset) -> Booking {
    Booking {
        code: r.code.clone(),
        state: r.state.clone(),
        site: r.site.clone(),
        site_name: r.site_name.clone(),
        starts_at: show(r.starts_at, tz),
        ends_at: show(r.ends_at, tz),
        hold_until: r.hold_until.map(|t| show(t, tz)),
        name: r.name.as_deref().map(mask::name),
        doc_no: r.doc_no.as_deref().map(mask::document_number),
    }
}

/// Slots a site's staff open on a day: from, to, each `minutes` long, with `capacity` seats.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SlotsInput {
    pub date: NaiveDate,
    /// `HH:MM`, local time.
    pub from: String,
    pub to: String,
    pub minutes: u32,
    pub capacity: u32,
}

fn time(field: &str, v: &str) -> Result<NaiveTime, Error> {
    NaiveTime::parse_from_str(v.trim(), "%H:%M")
        .map_err(|_| Error::invalid(field, format!("{v:?} is not a time (HH:MM)")))
}

fn at(tz: FixedOffset, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
    tz.from_local_datetime(&d.and_time(t))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// Opens a site's slots of a day (its collectors, an admin); slots that exist keep theirs. The
/// site becomes bookable.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open_slots(tx: &mut Tx, site: &str, input: &SlotsInput) -> Result<Vec<Slot>, Error> {
    let actor = tx.actor().clone();
    actor.require(Action::Accession)?;
    let code = site.trim().to_ascii_uppercase();
    let (site_id, _) = store::site(tx.conn(), &code).await?.ok_or_else(|| {
        Error::unprocessable("site.unknown", format!("no site with code {code}")).at("site")
    })?;
    if !matches!(&actor.scope, Scope::Everywhere)
        && !matches!(&actor.scope, Scope::Site { id, .. } if *id == site_id)
    {
        return Err(actor.out_of_scope(&format!("site {code}")));
    }
    let (from, to) = (time("from", &input.from)?, time("to", &input.to)?);
    if !(5..=240).contains(&input.minutes) {
        return Err(Error::invalid("minutes", "a slot is 5 to 240 minutes"));
    }
    if !(1..=10_000).contains(&input.capacity) {
        return Err(Error::invalid("capacity", "1 to 10,000 seats a slot"));
    }
    if to <= from {
        return Err(Error::invalid("to", "the day's slots end after they start"));
    }
    let tz = tx.zone();
    let today = tx.today();
    if input.date < today || input.date > today + Duration::days(rules::AHEAD_DAYS) {
        return Err(Error::invalid(
            "date",
            format!(
                "slots are opened for today up to {} days ahead",
                rules::AHEAD_DAYS
            ),
        ));
    }
    let step = Duration::minutes(i64::from(input.minutes));
    let mut slots = vec![];
    let mut t = at(tz, input.date, from);
    let end = at(tz, input.date, to);
    while t + step <= end {
        slots.push((to_db(t), to_db(t + step), i64::from(input.capacity)));
        t += step;
    }
    let now = to_db(tx.now());
    let opened = store::open_slots(tx, site_id, &slots, now, &actor.username).await?;
    store::make_bookable(tx, site_id).await?;
    tx.audit(
        "booking.open_slots",
        "site",
        &code,
        None,
        Some(
            &serde_json::json!({"date": input.date, "from": input.from, "to": input.to,
            "minutes": input.minutes, "capacity": input.capacity, "opened": opened}),
        ),
    );
    let day_start = to_db(at(tz, input.date, NaiveTime::MIN));
    let rows = store::slots(
        tx.conn(),
        site_id,
        (day_start, day_start + 86_400_000_000),
        now,
    )
    .await?;
    let now = tx.now();
    Ok(rows.iter().map(|r| slot_view(r, tz, now)).collect())
}

/// A bookable site's slots of a day (no login).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn slots(
    conn: &mut AnyConnection,
    site: &str,
    date: NaiveDate,
    tz: FixedOffset,
) -> Result<Vec<Slot>, Error> {
    let s = bookable_site(conn, site).await?;
    let day_start = to_db(at(tz, date, NaiveTime::MIN));
    let now = to_db(Utc::now());
    let rows = store::slots(conn, s, (day_start, day_start + 86_400_000_000), now).await?;
    Ok(rows.iter().map(|r| slot_view(r, tz, Utc::now())).collect())
}

async fn bookable_site(conn: &mut AnyConnection, code: &str) -> Result<i64, Error> {
    let code = code.trim().to_ascii_uppercase();
    match store::site(conn, &code).await? {
        Some((id, true)) => Ok(id),
        _ => Err(Error::not_found(
            "site.not_bookable",
            format!("site {code} takes no bookings"),
        )),
    }
}

fn closed(why: SlotClosed) -> Error {
    match why {
        SlotClosed::Started => Error::conflict(
            "booking.slot_started",
            "this slot has started: choose a later one",
        ),
        SlotClosed::TooFarAhead => Error::invalid(
            "starts_at",
            format!("slots are booked at most {} days ahead", rules::AHEAD_DAYS),
        ),
    }
}

/// A seat to reserve: a site's slot, by the time it starts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReserveInput {
    pub site: String,
    pub starts_at: DateTime<FixedOffset>,
}

/// The slot a request names, with its expired holds let go.
async fn open_slot(tx: &mut Tx, site: &str, starts: DateTime<Utc>) -> Result<SlotRow, Error> {
    let site_id = bookable_site(tx.conn(), site).await?;
    let slot = store::slot_at(tx.conn(), site_id, to_db(starts))
        .await?
        .ok_or_else(|| {
            Error::not_found(
                "booking.no_slot",
                format!(
                    "site {} has no slot starting at {}",
                    site.trim().to_ascii_uppercase(),
                    starts.with_timezone(&tx.zone()).format("%Y-%m-%d %H:%M")
                ),
            )
        })?;
    rules::takeable(from_db(slot.starts_at), tx.now()).map_err(closed)?;
    store::expire_holds(tx, slot.id, to_db(tx.now())).await?;
    Ok(slot)
}

fn full(slot: &SlotRow) -> Error {
    Error::conflict(
        "booking.full",
        format!(
            "the slot at {} is fully booked ({} seats): choose another",
            slot.site, slot.capacity
        ),
    )
}

/// Reserves a seat (no login): held for 10 minutes for its confirmation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reserve(tx: &mut Tx, input: &ReserveInput, address: &str) -> Result<Booking, Error> {
    let now = tx.now();
    let recent = store::from_address(
        tx.conn(),
        address,
        to_db(now - Duration::minutes(WINDOW_MINUTES)),
    )
    .await?;
    if recent >= MAX_PER_ADDRESS {
        return Err(Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "booking.too_many",
            format!("too many bookings from here; please try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    let slot = open_slot(tx, &input.site, input.starts_at.with_timezone(&Utc)).await?;
    if !store::take_seat(tx, slot.id).await? {
        return Err(full(&slot));
    }
    let hold = to_db(rules::hold_until(now));
    let mut code = String::new();
    for attempt in 0.. {
        code = rules::generate(&mut rand::thread_rng());
        match store::insert_hold(tx, &code, slot.id, hold, address, to_db(now)).await {
            Err(e) if is_unique_violation(&e) && attempt < 5 => continue,
            r => r?,
        }
        break;
    }
    tx.audit(
        "booking.reserve",
        "booking",
        &code,
        None,
        Some(&serde_json::json!({"site": slot.site, "starts_at": slot.starts_at})),
    );
    let row = find(tx.conn(), &code).await?;
    Ok(booking_view(&row, tx.zone()))
}

async fn find(conn: &mut AnyConnection, code: &str) -> Result<BookingRow, Error> {
    let unknown = || {
        Error::not_found(
            "booking.not_found",
            "no booking with this code: check it against your confirmation",
        )
    };
    let code = rules::recognise(code).ok_or_else(unknown)?;
    store::by_code(conn, &code).await?.ok_or_else(unknown)
}

/// The booking, if `doc_no` is the document it was confirmed with (a held seat has none yet).
async fn owned(
    conn: &mut AnyConnection,
    code: &str,
    doc_no: Option<&str>,
) -> Result<BookingRow, Error> {
    let b = find(conn, code).await?;
    let stored = b.doc_no.as_deref().map(|d| d.to_ascii_uppercase());
    let given = doc_no.map(|d| d.trim().to_ascii_uppercase());
    match (stored, given) {
        (None, _) => Ok(b),
        (Some(s), Some(g)) if s == g => Ok(b),
        // The same answer as an unknown code: a code without its document tells nothing.
        _ => Err(Error::not_found(
            "booking.not_found",
            "no booking with this code: check it against your confirmation",
        )),
    }
}

/// Who a booking is for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConfirmInput {
    #[serde(default)]
    pub doc_type: Option<DocumentType>,
    pub doc_no: String,
    pub name: String,
    pub phone: String,
}

/// Confirms a held seat with the person it is for.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn confirm(tx: &mut Tx, code: &str, input: &ConfirmInput) -> Result<Booking, Error> {
    let b = find(tx.conn(), code).await?;
    let tz = tx.zone();
    match b.state.as_str() {
        "reserved" => {}
        "confirmed" if b.doc_no.as_deref() == Some(input.doc_no.trim()) => {
            return Ok(booking_view(&b, tz))
        }
        "expired" => return Err(hold_expired()),
        other => {
            return Err(Error::conflict(
                "booking.not_held",
                format!("this booking is {other}; it cannot be confirmed"),
            ))
        }
    }
    let now = tx.now();
    if b.hold_until.is_some_and(|h| h < to_db(now)) {
        store::expire_holds(tx, b.slot_id, to_db(now)).await?;
        return Err(hold_expired());
    }
    let doc = persons::parse_document(
        input.doc_type.unwrap_or(DocumentType::ResidentId),
        &input.doc_no,
        tx.today(),
    )?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "a name is 1–100 characters"));
    }
    let phone = persons::parse_phone(&input.phone)?;
    if !store::confirm(
        tx,
        b.id,
        (doc.doc_type, &doc.number, name, &phone),
        to_db(now),
    )
    .await?
    {
        return Err(hold_expired());
    }
    tx.audit(
        "booking.confirm",
        "booking",
        &b.code,
        Some(&serde_json::json!({"state": "reserved"})),
        Some(
            &serde_json::json!({"state": "confirmed", "name": mask::name(name),
            "doc_no": mask::document_number(&doc.number)}),
        ),
    );
    Ok(booking_view(&find(tx.conn(), &b.code).await?, tz))
}

fn hold_expired() -> Error {
    Error::new(
        StatusCode::GONE,
        "booking.hold_expired",
        format!(
            "the seat was held for {} minutes and has been let go: reserve again",
            rules::HOLD_MINUTES
        ),
    )
}

/// Reads a booking: its code, and for a confirmed one the document it was made with.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(
    conn: &mut AnyConnection,
    code: &str,
    doc_no: Option<&str>,
    tz: FixedOffset,
) -> Result<Booking, Error> {
    Ok(booking_view(&owned(conn, code, doc_no).await?, tz))
}

/// Proof of a booking for changing it: the document it was confirmed with.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct Proof {
    /// The document number the booking was confirmed with (none for a seat only held).
    #[serde(default)]
    pub doc_no: Option<String>,
}

/// Cancels a booking until its slot starts; the seat is free again. Again: the same answer.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn cancel(tx: &mut Tx, code: &str, proof: &Proof) -> Result<Booking, Error> {
    let b = owned(tx.conn(), code, proof.doc_no.as_deref()).await?;
    let tz = tx.zone();
    if matches!(b.state.as_str(), "cancelled" | "expired") {
        return Ok(booking_view(&b, tz));
    }
    if b.state == "used" || !rules::changeable(from_db(b.starts_at), tx.now()) {
        return Err(Error::conflict(
            "booking.too_late",
            "this booking's slot has started or it was used: it cannot be cancelled",
        ));
    }
    let now = to_db(tx.now());
    if store::set_state(tx, b.id, &["reserved", "confirmed"], "cancelled", now).await? {
        store::free_seat(tx, b.slot_id).await?;
        tx.audit(
            "booking.cancel",
            "booking",
            &b.code,
            Some(&serde_json::json!({"state": b.state})),
            Some(&serde_json::json!({"state": "cancelled"})),
        );
    }
    Ok(booking_view(&find(tx.conn(), &b.code).await?, tz))
}

/// Another slot for a booking.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MoveInput {
    #[serde(default)]
    pub doc_no: Option<String>,
    /// The new slot's site (default: the same).
    #[serde(default)]
    pub site: Option<String>,
    pub starts_at: DateTime<FixedOffset>,
}

/// Moves a booking to another slot until its own starts: the new seat is taken before the old
/// one is given back, in one transaction (a full slot leaves the booking where it was).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reschedule(tx: &mut Tx, code: &str, input: &MoveInput) -> Result<Booking, Error> {
    let b = owned(tx.conn(), code, input.doc_no.as_deref()).await?;
    if !matches!(b.state.as_str(), "reserved" | "confirmed")
        || !rules::changeable(from_db(b.starts_at), tx.now())
    {
        return Err(Error::conflict(
            "booking.too_late",
            format!(
                "this booking is {} or its slot has started: it cannot be moved",
                b.state
            ),
        ));
    }
    let site = input.site.clone().unwrap_or_else(|| b.site.clone());
    let slot = open_slot(tx, &site, input.starts_at.with_timezone(&Utc)).await?;
    let tz = tx.zone();
    if slot.id == b.slot_id {
        return Ok(booking_view(&b, tz));
    }
    if !store::take_seat(tx, slot.id).await? {
        return Err(full(&slot));
    }
    store::move_to(tx, b.id, slot.id).await?;
    store::free_seat(tx, b.slot_id).await?;
    tx.audit(
        "booking.reschedule",
        "booking",
        &b.code,
        Some(&serde_json::json!({"site": b.site, "starts_at": b.starts_at})),
        Some(&serde_json::json!({"site": slot.site, "starts_at": slot.starts_at})),
    );
    Ok(booking_view(&find(tx.conn(), &b.code).await?, tz))
}

/// What the site's collector sees of a scanned booking code (the person in full, to register
/// them): only for a confirmed booking of their own site, of today.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookedPerson {
    pub code: String,
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub name: String,
    pub phone: String,
    pub starts_at: DateTime<FixedOffset>,
}

/// A booking of this site (any site: None), by its code; another site's is no booking here
/// (its person stays invisible).
async fn of_site(
    conn: &mut AnyConnection,
    code: &str,
    site: Option<i64>,
) -> Result<BookingRow, Error> {
    let b = find(conn, code).await?;
    if site.is_some_and(|id| id != b.site_id) {
        return Err(Error::not_found(
            "booking.not_found",
            "no booking with this code at this site",
        ));
    }
    Ok(b)
}

/// Why a booking cannot be used at a site today, if it cannot.
fn usable(b: &BookingRow, tz: FixedOffset, today: NaiveDate) -> Result<(), Error> {
    if b.state == "used" {
        let at = b.used_at.map(|t| show(t, tz).format("%H:%M").to_string());
        return Err(Error::conflict(
            "booking.used",
            format!(
                "this booking was used at {}: the person is registered",
                at.unwrap_or_default()
            ),
        ));
    }
    if b.state != "confirmed" {
        return Err(Error::conflict(
            "booking.not_confirmed",
            format!(
                "this booking is {}: register the person without it",
                b.state
            ),
        ));
    }
    if show(b.starts_at, tz).date_naive() != today {
        return Err(Error::conflict(
            "booking.other_day",
            format!(
                "this booking is for {}",
                show(b.starts_at, tz).format("%Y-%m-%d %H:%M")
            ),
        ));
    }
    Ok(())
}

fn booked_person(b: BookingRow, tz: FixedOffset) -> Result<BookedPerson, Error> {
    match (b.doc_type, b.doc_no, b.name, b.phone) {
        (Some(doc_type), Some(doc_no), Some(name), Some(phone)) => Ok(BookedPerson {
            code: b.code,
            doc_type,
            doc_no,
            name,
            phone,
            starts_at: show(b.starts_at, tz),
        }),
        _ => Err(Error::internal(anyhow::anyhow!(
            "a confirmed booking without its person"
        ))),
    }
}

/// Marks a booking used (by a check-in or a scan into `tube`); false when it was not confirmed
/// any more (used meanwhile).
async fn mark_used(tx: &mut Tx, b: &BookingRow, tube: Option<(i64, &str)>) -> Result<bool, Error> {
    let now = to_db(tx.now());
    if !store::set_state(tx, b.id, &["confirmed"], "used", now).await? {
        return Ok(false);
    }
    if let Some((tube_id, _)) = tube {
        store::link_tube(tx, b.id, tube_id).await?;
    }
    tx.audit(
        "booking.check_in",
        "booking",
        &b.code,
        Some(&serde_json::json!({"state": "confirmed"})),
        Some(&serde_json::json!({"state": "used", "site": b.site, "tube": tube.map(|t| t.1)})),
    );
    Ok(true)
}

/// A booking scanned at its site: the person to pre-fill, the booking marked used (audited, as
/// every unmasking is).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn check_in(tx: &mut Tx, code: &str, actor: &Actor) -> Result<BookedPerson, Error> {
    actor.require(Action::Accession)?;
    let site = match &actor.scope {
        Scope::Everywhere => None,
        Scope::Site { id, .. } => Some(*id),
        _ => Some(-1),
    };
    let b = of_site(tx.conn(), code, site).await?;
    let tz = tx.zone();
    usable(&b, tz, tx.today())?;
    if !mark_used(tx, &b, None).await? {
        let again = find(tx.conn(), &b.code).await?;
        usable(&again, tz, tx.today())?;
    }
    booked_person(b, tz)
}

/// A booking code scanned where a person belongs (at accession, into a tube of `site`): the
/// booking and the person it names, or None when the code is not a booking code. Checked again when the scan is written
/// ([`use_in_tube`]).
pub async fn scanned(
    conn: &mut AnyConnection,
    raw: &str,
    site: i64,
    (tz, today): (FixedOffset, NaiveDate),
) -> Result<Option<(i64, PersonScan)>, Error> {
    if rules::recognise(raw).is_none() {
        return Ok(None);
    }
    let b = of_site(conn, raw, Some(site))
        .await
        .map_err(|e| e.at("code"))?;
    usable(&b, tz, today).map_err(|e| e.at("code"))?;
    let id = b.id;
    let p = booked_person(b, tz)?;
    Ok(Some((
        id,
        PersonScan {
            code: None,
            doc_type: Some(p.doc_type),
            doc_no: Some(p.doc_no),
            name: Some(p.name),
            phone: Some(p.phone),
        },
    )))
}

/// The booking of a scan, used by it in `tube` — in the scan's transaction: a booking is used
/// once, on its day.
pub async fn use_in_tube(tx: &mut Tx, booking: i64, tube: (i64, &str)) -> Result<(), Error> {
    let b = store::by_id(tx.conn(), booking)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a scanned booking vanished")))?;
    let tz = tx.zone();
    usable(&b, tz, tx.today()).map_err(|e| e.at("code"))?;
    if !mark_used(tx, &b, Some(tube)).await? {
        let again = store::by_id(tx.conn(), booking).await?;
        if let Some(again) = again {
            usable(&again, tz, tx.today()).map_err(|e| e.at("code"))?;
        }
    }
    Ok(())
}

/// A site that takes bookings, as the public sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookableSite {
    pub code: String,
    pub name: String,
    pub address: String,
    pub district: String,
}

/// The sites that take bookings (no login).
pub async fn bookable_sites(conn: &mut AnyConnection) -> Result<Vec<BookableSite>, Error> {
    Ok(store::bookable_sites(conn)
        .await?
        .into_iter()
        .map(|(code, name, address, district)| BookableSite {
            code,
            name,
            address,
            district,
        })
        .collect())
}
