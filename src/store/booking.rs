//! `booking_slot` and `booking`: a site's time slots with their capacity, and the bookings of
//! them. Seats are counted in the slot's row and moved by statements that check the capacity
//! themselves, so the database — not the caller — keeps a slot from being overbooked.

use super::code::in_table;
use super::Tx;
use crate::domain::id_number::DocumentType;
use sqlx::{AnyConnection, FromRow};

/// A site's id and whether it takes bookings.
pub async fn site(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<(i64, bool)>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as("SELECT id, bookable FROM site WHERE code = $1")
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("site"))?;
    Ok(row.map(|(id, b)| (id, b != 0)))
}

/// Makes a site take bookings.
pub async fn make_bookable(tx: &mut Tx, site_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE site SET bookable = 1 WHERE id = $1")
        .bind(site_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A slot with its site.
#[derive(Debug, Clone, FromRow)]
pub struct SlotRow {
    pub id: i64,
    pub site_id: i64,
    pub site: String,
    pub site_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub capacity: i64,
    pub booked: i64,
}

const SLOT: &str =
    "SELECT b.id, b.site_id, s.code AS site, s.name AS site_name, b.starts_at, b.ends_at, \
     b.capacity, b.booked FROM booking_slot b JOIN site s ON s.id = b.site_id";

/// A site's slots starting in `[from, to)`, in order; holds run out before `now` are counted
/// as free (they are let go when the slot is next written).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn slots(
    conn: &mut AnyConnection,
    site_id: i64,
    (from, to): (i64, i64),
    now: i64,
) -> Result<Vec<SlotRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT b.id, b.site_id, s.code AS site, s.name AS site_name, b.starts_at, b.ends_at, b.capacity, \
         b.booked - (SELECT COUNT(*) FROM booking k WHERE k.slot_id = b.id AND k.state = 'reserved' \
                     AND k.hold_until < $4) AS booked \
         FROM booking_slot b JOIN site s ON s.id = b.site_id \
         WHERE b.site_id = $1 AND b.starts_at >= $2 AND b.starts_at < $3 ORDER BY b.starts_at",
    )
    .bind(site_id)
    .bind(from)
    .bind(to)
    .bind(now)
    .fetch_all(conn)
    .await
    .map_err(in_table("booking_slot"))
}

/// The slot of a site starting at `starts_at`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn slot_at(
    conn: &mut AnyConnection,
    site_id: i64,
    starts_at: i64,
) -> Result<Option<SlotRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SLOT} WHERE b.site_id = $1 AND b.starts_at = $2"))
        .bind(site_id)
        .bind(starts_at)
        .fetch_optional(conn)
        .await
        .map_err(in_table("booking_slot"))
}

/// A slot by id.
pub async fn slot(conn: &mut AnyConnection, id: i64) -> Result<Option<SlotRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SLOT} WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(in_table("booking_slot"))
}

/// Opens slots (start, end, capacity) of a site; one that exists keeps its capacity. The
/// number opened.
pub async fn open_slots(
    tx: &mut Tx,
    site_id: i64,
    slots: &[(i64, i64, i64)],
    at: i64,
    by: &str,
) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for (starts, ends, capacity) in slots {
        n += sqlx::query(
            "INSERT INTO booking_slot (site_id, starts_at, ends_at, capacity, booked, created_at, created_by) \
             VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (site_id, starts_at) DO NOTHING",
        )
        .bind(site_id)
        .bind(*starts)
        .bind(*ends)
        .bind(*capacity)
        .bind(at)
        .bind(by.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    }
    Ok(n)
}

/// Lets go of the holds of a slot that ran out before `now`: their seats are free again.
pub async fn expire_holds(tx: &mut Tx, slot_id: i64, now: i64) -> Result<u64, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE booking SET state = 'expired' WHERE slot_id = $1 AND state = 'reserved' AND hold_until < $2",
    )
    .bind(slot_id)
    .bind(now)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n > 0 {
        sqlx::query("UPDATE booking_slot SET booked = booked - $1 WHERE id = $2")
            .bind(n as i64)
            .bind(slot_id)
            .execute(tx.conn())
            .await?;
    }
    Ok(n)
}

/// Takes a seat of a slot if one is free — the check and the count in one statement. False
/// when the slot is full.
pub async fn take_seat(tx: &mut Tx, slot_id: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE booking_slot SET booked = booked + 1 WHERE id = $1 AND booked < capacity",
    )
    .bind(slot_id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Gives a seat back.
pub async fn free_seat(tx: &mut Tx, slot_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE booking_slot SET booked = booked - 1 WHERE id = $1")
        .bind(slot_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A booking with its slot and site.
#[derive(Debug, Clone, FromRow)]
pub struct BookingRow {
    pub id: i64,
    pub code: String,
    pub slot_id: i64,
    pub state: String,
    pub hold_until: Option<i64>,
    pub doc_type: Option<DocumentType>,
    pub doc_no: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    pub used_at: Option<i64>,
    pub site_id: i64,
    pub site: String,
    pub site_name: String,
    pub starts_at: i64,
    pub ends_at: i64,
}

const BOOKING: &str = "SELECT k.id, k.code, k.slot_id, k.state, k.hold_until, k.doc_type, k.doc_no, k.name, \
     k.phone, k.created_at, k.confirmed_at, k.used_at, b.site_id, s.code AS site, s.name AS site_name, \
     b.starts_at, b.ends_at FROM booking k JOIN booking_slot b ON b.id = k.slot_id JOIN site s ON s.id = b.site_id";

/// The booking with this code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_code(
    conn: &mut AnyConnection,
    code: &str,
) -> Result<Option<BookingRow>, sqlx::Error> {
    sqlx::query_as(&format!("{BOOKING} WHERE k.code = $1"))
        .bind(code.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("booking"))
}

/// The booking with this id.
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> Result<Option<BookingRow>, sqlx::Error> {
    sqlx::query_as(&format!("{BOOKING} WHERE k.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(in_table("booking"))
}

/// The tube a booking's person was scanned into.
pub async fn link_tube(tx: &mut Tx, id: i64, tube_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE booking SET tube_id = $1 WHERE id = $2")
        .bind(tube_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Records a held seat; a code taken is a unique violation.
pub async fn insert_hold(
    tx: &mut Tx,
    code: &str,
    slot_id: i64,
    hold_until: i64,
    address: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO booking (code, slot_id, state, hold_until, address, created_at) \
         VALUES ($1, $2, 'reserved', $3, $4, $5)",
    )
    .bind(code.to_string())
    .bind(slot_id)
    .bind(hold_until)
    .bind(address.to_string())
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The person of a held booking, confirmed. False when it was no longer held.
pub async fn confirm(
    tx: &mut Tx,
    id: i64,
    person: (DocumentType, &str, &str, &str),
    at: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE booking SET state = 'confirmed', doc_type = $1, doc_no = $2, name = $3, phone = $4, \
         confirmed_at = $5, hold_until = NULL WHERE id = $6 AND state = 'reserved'",
    )
    .bind(person.0)
    .bind(person.1.to_string())
    .bind(person.2.to_string())
    .bind(person.3.to_string())
    .bind(at)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Moves a booking from one state to another (`cancelled`, `used`); false when it was not in
/// `from` any more.
pub async fn set_state(
    tx: &mut Tx,
    id: i64,
    from: &[&str],
    to: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let column = match to {
        "cancelled" => "cancelled_at",
        "used" => "used_at",
        _ => "created_at",
    };
    let states: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
    Ok(sqlx::query(&format!(
        "UPDATE booking SET state = $1, {column} = $2 WHERE id = $3 AND state IN ({})",
        states.join(", ")
    ))
    .bind(to.to_string())
    .bind(at)
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Moves a booking to another slot.
pub async fn move_to(tx: &mut Tx, id: i64, slot_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE booking SET slot_id = $1 WHERE id = $2")
        .bind(slot_id)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Bookings made from an address since `since` (what the throttle counts).
pub async fn from_address(
    conn: &mut AnyConnection,
    address: &str,
    since: i64,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM booking WHERE address = $1 AND created_at >= $2")
            .bind(address.to_string())
            .bind(since)
            .fetch_one(conn)
            .await
            .map_err(in_table("booking"))?;
    Ok(n)
}

/// The sites that take bookings: code, name, address, region.
pub async fn bookable_sites(
    conn: &mut AnyConnection,
) -> Result<Vec<(String, String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT code, name, address, region FROM site WHERE bookable = 1 ORDER BY region, code",
    )
    .fetch_all(conn)
    .await
    .map_err(in_table("site"))
}
