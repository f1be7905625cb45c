//! `tube`: a sampling tube (采样管) — single, pooled or environmental — from collection to
//! reception, with its members (`tube_member`).

use super::code::in_table;
use super::person::{self, PersonRow};
use super::Tx;
use crate::actor::Actor;
use crate::domain::policy::{covers_tube, Action, TubePlace};
use crate::domain::reception::RejectionReason;
use crate::domain::tube::TubeStatus;
use crate::domain::vocab::{Category, Payer, Priority, SampleType, TubeKind};
use crate::error::Error;
use sqlx::{AnyConnection, FromRow};

/// A tube as stored, with the codes of its site, labs and paying institution.
#[derive(Debug, Clone, FromRow)]
pub struct TubeRow {
    pub id: i64,
    pub site_id: i64,
    pub site_lab_id: Option<i64>,
    pub site_region: String,
    pub lab_id: Option<i64>,
    pub barcode: String,
    pub kind: TubeKind,
    pub status: TubeStatus,
    pub nominal_size: i64,
    pub member_count: i64,
    pub short_closed: i64,
    pub sample_type: SampleType,
    pub site_code: String,
    pub collector: String,
    pub collected_at: i64,
    pub category: Category,
    pub priority: Priority,
    pub deadline_at: i64,
    pub payer: Payer,
    pub payer_institution_code: Option<String>,
    pub env_item: Option<String>,
    pub env_lot: Option<String>,
    pub env_origin: Option<String>,
    pub env_location: Option<String>,
    pub issued_batch_id: Option<i64>,
    pub closed_at: Option<i64>,
    pub closed_by: Option<String>,
    pub lab_code: Option<String>,
    pub received_at: Option<i64>,
    pub received_by: Option<String>,
    pub transport_minutes: Option<i64>,
    pub transport_over_limit: i64,
    pub rejected_at: Option<i64>,
    pub rejected_by: Option<String>,
    pub rejection_reason: Option<RejectionReason>,
    pub rejection_note: Option<String>,
    pub held: i64,
    pub forwarded_lab_id: Option<i64>,
    pub forwarded_lab_code: Option<String>,
}

impl TubeRow {
    /// The lab that may receive the tube: the one it was forwarded to, else its site's lab.
    pub fn bound_for(&self) -> Option<i64> {
        self.forwarded_lab_id.or(self.site_lab_id)
    }

    /// Where the tube is, for scope checks: the lab that received it, or else the lab it is
    /// bound for.
    pub fn place(&self) -> TubePlace<'_> {
        TubePlace {
            site_id: self.site_id,
            lab_id: self.lab_id.or(self.bound_for()),
            region: &self.site_region,
        }
    }

    /// 404 unless the actor may see this tube (its existence is not shown outside the scope).
    pub fn visible_to(&self, actor: &Actor, action: Action) -> Result<(), Error> {
        actor.require(action)?;
        if covers_tube(&actor.scope, self.place()) {
            Ok(())
        } else {
            Err(not_found(&self.barcode))
        }
    }
}

/// The answer for a barcode no tube has (or none the caller may see).
pub fn not_found(barcode: &str) -> Error {
    Error::not_found(
        "tube.not_found",
        format!("no tube with barcode {barcode} has been registered"),
    )
    .at("barcode")
}

/// `SELECT` of a [`TubeRow`] (`t`, with its site `s`, lab `l`, forwarded-to lab `fl` and
/// paying institution `i`), for a `WHERE` to follow.
pub const SELECT: &str = "SELECT t.id, t.site_id, s.lab_id AS site_lab_id, \
     s.region AS site_region, t.lab_id, t.barcode, t.kind, t.status, t.nominal_size, \
     t.member_count, t.short_closed, t.sample_type, s.code AS site_code, t.collector, t.collected_at, \
     t.category, t.priority, t.deadline_at, t.payer, i.code AS payer_institution_code, t.env_item, \
     t.env_lot, t.env_origin, t.env_location, t.issued_batch_id, t.closed_at, t.closed_by, \
     l.code AS lab_code, t.received_at, t.received_by, t.transport_minutes, t.transport_over_limit, \
     t.rejected_at, t.rejected_by, t.rejection_reason, t.rejection_note, t.held, \
     t.forwarded_lab_id, fl.code AS forwarded_lab_code \
     FROM tube t JOIN site s ON s.id = t.site_id LEFT JOIN lab l ON l.id = t.lab_id \
     LEFT JOIN lab fl ON fl.id = t.forwarded_lab_id \
     LEFT JOIN institution i ON i.id = t.payer_institution_id";

/// A tube by barcode.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn by_barcode(
    conn: &mut AnyConnection,
    barcode: &str,
) -> Result<Option<TubeRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE t.barcode = $1"))
        .bind(barcode.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("tube"))
}

/// A tube by barcode, or `tube.not_found` (no scope check: for services that check it).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn load(conn: &mut AnyConnection, barcode: &str) -> Result<TubeRow, Error> {
    by_barcode(conn, barcode)
        .await?
        .ok_or_else(|| not_found(barcode))
}

/// A tube by barcode, locked for the rest of the transaction (PostgreSQL), or
/// `tube.not_found`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock_existing(tx: &mut Tx, barcode: &str) -> Result<TubeRow, Error> {
    lock(tx, barcode).await?.ok_or_else(|| not_found(barcode))
}

/// A tube by barcode, its row locked for the rest of the transaction on PostgreSQL.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(tx: &mut Tx, barcode: &str) -> Result<Option<TubeRow>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE t.barcode = $1{}", tx.for_update("t"));
    sqlx::query_as(&sql)
        .bind(barcode.to_string())
        .fetch_optional(tx.conn())
        .await
        .map_err(in_table("tube"))
}

/// The kind of the tube with this barcode, if there is one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn kind_of(
    conn: &mut AnyConnection,
    barcode: &str,
) -> Result<Option<TubeKind>, sqlx::Error> {
    let kind: Option<(TubeKind,)> = sqlx::query_as("SELECT kind FROM tube WHERE barcode = $1")
        .bind(barcode.to_string())
        .fetch_optional(conn)
        .await
        .map_err(in_table("tube"))?;
    Ok(kind.map(|(k,)| k))
}

/// A member of a tube: who, at which position, scanned in when and by whom.
#[derive(Debug, Clone, FromRow)]
pub struct MemberRow {
    pub position: i64,
    pub added_at: i64,
    pub added_by: String,
    #[sqlx(flatten)]
    pub person: PersonRow,
}

/// The members of a tube in the order they were scanned in.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn members(conn: &mut AnyConnection, tube: i64) -> Result<Vec<MemberRow>, sqlx::Error> {
    let sql = format!(
        "SELECT m.position, m.added_at, m.added_by, {} \
         FROM tube_member m JOIN person p ON p.id = m.person_id \
         LEFT JOIN institution i ON i.id = p.institution_id WHERE m.tube_id = $1 ORDER BY m.position",
        person::COLUMNS
    );
    sqlx::query_as(&sql)
        .bind(tube)
        .fetch_all(conn)
        .await
        .map_err(in_table("tube_member"))
}

/// The ids and public ids of a tube's people, in scan order.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn member_ids(
    conn: &mut AnyConnection,
    tube: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT p.id, p.uid FROM tube_member m JOIN person p ON p.id = m.person_id WHERE m.tube_id = $1 ORDER BY m.position",
    )
    .bind(tube)
    .fetch_all(conn)
    .await
}

/// A tube taken in at a lab (签收).
pub struct Receipt<'a> {
    pub lab: i64,
    pub at: i64,
    pub by: &'a str,
    pub transport_minutes: i64,
    pub over_limit: bool,
}

/// Records a tube received at a lab.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn receive(tx: &mut Tx, tube: i64, r: &Receipt<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET status = $1, lab_id = $2, received_at = $3, received_by = $4, \
         transport_minutes = $5, transport_over_limit = $6 WHERE id = $7",
    )
    .bind(TubeStatus::Received)
    .bind(r.lab)
    .bind(r.at)
    .bind(r.by.to_string())
    .bind(r.transport_minutes)
    .bind(i64::from(r.over_limit))
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Sends a tube on to another lab before reception (转送).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn forward(tx: &mut Tx, tube: i64, lab: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE tube SET forwarded_lab_id = $1 WHERE id = $2")
        .bind(lab)
        .bind(tube)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A tube refused (拒收), by a lab (`None`: the lab that received it).
pub struct Refusal<'a> {
    pub at: i64,
    pub by: &'a str,
    pub reason: RejectionReason,
    pub note: Option<&'a str>,
    pub lab: Option<i64>,
}

/// Records a tube rejected; the turnaround rollup counts it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reject(tx: &mut Tx, tube: i64, r: &Refusal<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET status = $1, rejected_at = $2, rejected_by = $3, rejection_reason = $4, \
         rejection_note = $5, lab_id = COALESCE($6, lab_id), fold_pending = 1 WHERE id = $7",
    )
    .bind(TubeStatus::Rejected)
    .bind(r.at)
    .bind(r.by.to_string())
    .bind(r.reason)
    .bind(r.note.map(str::to_string))
    .bind(r.lab)
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A tube's result deadline (µs).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn deadline(conn: &mut AnyConnection, tube: i64) -> Result<i64, sqlx::Error> {
    let (due,): (i64,) = sqlx::query_as("SELECT deadline_at FROM tube WHERE id = $1")
        .bind(tube)
        .fetch_one(conn)
        .await?;
    Ok(due)
}

/// What a new tube is registered with.
pub struct NewTube<'a> {
    pub barcode: &'a str,
    pub kind: TubeKind,
    pub status: TubeStatus,
    pub nominal_size: i64,
    pub member_count: i64,
    pub sample_type: SampleType,
    pub site_id: i64,
    pub collector: &'a str,
    pub collected_at: i64,
    pub category: Category,
    pub priority: Priority,
    pub deadline_at: i64,
    pub payer: Payer,
    pub payer_institution_id: Option<i64>,
    pub env_item: Option<&'a str>,
    pub env_lot: Option<&'a str>,
    pub env_origin: Option<&'a str>,
    pub env_location: Option<&'a str>,
    pub issued_batch_id: Option<i64>,
    pub opened_by: &'a str,
    pub closed_at: Option<i64>,
    pub closed_by: Option<&'a str>,
    pub created_at: i64,
    pub recheck_of: Option<i64>,
    pub recollection_no: i64,
    pub retained_for: Option<i64>,
    pub clock_start_at: i64,
}

/// Registers a tube; `None` when the barcode is taken (perhaps a moment ago).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(tx: &mut Tx, t: &NewTube<'_>) -> Result<Option<i64>, sqlx::Error> {
    let owned = |s: Option<&str>| s.map(str::to_string);
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO tube (barcode, kind, status, nominal_size, member_count, short_closed, sample_type, \
         site_id, collector, collected_at, category, priority, deadline_at, payer, payer_institution_id, \
         env_item, env_lot, env_origin, env_location, issued_batch_id, opened_by, closed_at, closed_by, \
         transport_over_limit, created_at, recheck_of, recollection_no, retained_for, held, clock_start_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 0, $23, \
         $24, $25, $26, $27, $28) \
         ON CONFLICT (barcode) DO NOTHING RETURNING id",
    )
    .bind(t.barcode.to_string())
    .bind(t.kind)
    .bind(t.status)
    .bind(t.nominal_size)
    .bind(t.member_count)
    .bind(t.sample_type)
    .bind(t.site_id)
    .bind(t.collector.to_string())
    .bind(t.collected_at)
    .bind(t.category)
    .bind(t.priority)
    .bind(t.deadline_at)
    .bind(t.payer)
    .bind(t.payer_institution_id)
    .bind(owned(t.env_item))
    .bind(owned(t.env_lot))
    .bind(owned(t.env_origin))
    .bind(owned(t.env_location))
    .bind(t.issued_batch_id)
    .bind(t.opened_by.to_string())
    .bind(t.closed_at)
    .bind(owned(t.closed_by))
    .bind(t.created_at)
    .bind(t.recheck_of)
    .bind(t.recollection_no)
    .bind(t.retained_for)
    .bind(i64::from(t.retained_for.is_some()))
    .bind(t.clock_start_at)
    .fetch_optional(tx.conn())
    .await?;
    Ok(inserted.map(|(id,)| id))
}

/// Puts a person into a tube at a position; `false` when they are in it already.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_member(
    tx: &mut Tx,
    tube: i64,
    person: i64,
    position: i64,
    at: i64,
    by: &str,
) -> Result<bool, sqlx::Error> {
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO tube_member (tube_id, person_id, position, added_at, added_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tube_id, person_id) DO NOTHING RETURNING position",
    )
    .bind(tube)
    .bind(person)
    .bind(position)
    .bind(at)
    .bind(by.to_string())
    .fetch_optional(tx.conn())
    .await?;
    Ok(inserted.is_some())
}

/// A person's position in a tube, if they are in it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn position_of(
    conn: &mut AnyConnection,
    tube: i64,
    person: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT position FROM tube_member WHERE tube_id = $1 AND person_id = $2")
            .bind(tube)
            .bind(person)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(p,)| p))
}

/// Counts a member in, if the tube is still as it was read (`members`, `status`): the new count
/// and status, closed at and by whom when the member fills it. `false`: another scan came first.
#[tracing::instrument(level = "debug", skip_all)]
#[allow(clippy::too_many_arguments)]
pub async fn count_member(
    tx: &mut Tx,
    tube: i64,
    members: i64,
    status: TubeStatus,
    new_count: i64,
    new_status: TubeStatus,
    closed: Option<(i64, &str)>,
) -> Result<bool, sqlx::Error> {
    let moved = sqlx::query(
        "UPDATE tube SET member_count = $1, status = $2, closed_at = $3, closed_by = $4 \
         WHERE id = $5 AND member_count = $6 AND status = $7",
    )
    .bind(new_count)
    .bind(new_status)
    .bind(closed.map(|c| c.0))
    .bind(closed.map(|c| c.1.to_string()))
    .bind(tube)
    .bind(members)
    .bind(status)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(moved == 1)
}

/// Closes a tube by hand (`short`: with fewer people than its nominal size).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn close(
    tx: &mut Tx,
    tube: i64,
    short: bool,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET status = $1, short_closed = $2, closed_at = $3, closed_by = $4 WHERE id = $5",
    )
    .bind(TubeStatus::Closed)
    .bind(i64::from(short))
    .bind(at)
    .bind(by.to_string())
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A tube's re-check links and clock start: (re-check of, retained for, clock start).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn recheck_links(
    conn: &mut AnyConnection,
    tube: i64,
) -> Result<(Option<i64>, Option<i64>, i64), sqlx::Error> {
    sqlx::query_as("SELECT recheck_of, retained_for, clock_start_at FROM tube WHERE id = $1")
        .bind(tube)
        .fetch_one(conn)
        .await
}

/// Makes a tube the re-collection of another (it answers a re-sampling order): its deadline,
/// clock start, source and re-collection number.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn make_recollection(
    tx: &mut Tx,
    tube: i64,
    deadline: i64,
    clock_start: i64,
    source: i64,
    recollection_no: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET deadline_at = $1, clock_start_at = $2, recheck_of = $3, \
         recollection_no = $4 WHERE id = $5",
    )
    .bind(deadline)
    .bind(clock_start)
    .bind(source)
    .bind(recollection_no)
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// What a list of tubes is narrowed to (each `None`: any).
pub struct TubeFilter {
    pub site_code: Option<String>,
    pub lab_code: Option<String>,
    pub status: Option<TubeStatus>,
    /// The caller's scope: a site, a lab (received at, forwarded to or bound for), a region prefix.
    pub site_id: Option<i64>,
    pub lab_id: Option<i64>,
    pub region_like: Option<String>,
}

/// The conditions of a tube listing (parameters $1–$3 the filters, $4–$6 the scope).
const LIST_WHERE: &str = "WHERE ($1 IS NULL OR s.code = $1) AND ($2 IS NULL OR l.code = $2) \
     AND ($3 IS NULL OR t.status = $3) AND ($4 IS NULL OR t.site_id = $4) \
     AND ($5 IS NULL OR COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) = $5) \
     AND ($6 IS NULL OR s.region LIKE $6)";

/// A page of tubes, the newest collection first, and how many match in all.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    f: &TubeFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TubeRow>, i64), sqlx::Error> {
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM tube t JOIN site s ON s.id = t.site_id LEFT JOIN lab l ON l.id = t.lab_id \
         {LIST_WHERE}"
    ))
    .bind(f.site_code.clone())
    .bind(f.lab_code.clone())
    .bind(f.status)
    .bind(f.site_id)
    .bind(f.lab_id)
    .bind(f.region_like.clone())
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<TubeRow> = sqlx::query_as(&format!(
        "{SELECT} {LIST_WHERE} ORDER BY t.collected_at DESC, t.id DESC LIMIT $7 OFFSET $8"
    ))
    .bind(f.site_code.clone())
    .bind(f.lab_code.clone())
    .bind(f.status)
    .bind(f.site_id)
    .bind(f.lab_id)
    .bind(f.region_like.clone())
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
    .map_err(in_table("tube"))?;
    Ok((rows, total))
}

/// The retained single tubes held for a pool, with their person: (tube, barcode, person).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn held_for(
    conn: &mut AnyConnection,
    pool: i64,
) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.barcode, m.person_id FROM tube t JOIN tube_member m ON m.tube_id = t.id \
         WHERE t.retained_for = $1 AND t.held = 1 ORDER BY t.id",
    )
    .bind(pool)
    .fetch_all(conn)
    .await
}

/// Releases a retained tube from hold as its pool's re-check, with the pool's deadline and
/// clock.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn release_hold(tx: &mut Tx, tube: i64, pool: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tube SET held = 0, recheck_of = $1, \
         deadline_at = (SELECT deadline_at FROM tube WHERE id = $1), \
         clock_start_at = (SELECT clock_start_at FROM tube WHERE id = $1) WHERE id = $2",
    )
    .bind(pool)
    .bind(tube)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Which of these names are registered tube barcodes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn registered_barcodes(
    conn: &mut AnyConnection,
    names: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let mut known = vec![];
    for chunk in names.chunks(100) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT barcode FROM tube WHERE barcode IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        for n in chunk {
            q = q.bind(n.clone());
        }
        known.extend(q.fetch_all(&mut *conn).await?.into_iter().map(|(b,)| b));
    }
    Ok(known)
}
