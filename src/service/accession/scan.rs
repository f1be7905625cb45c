//! Scanning one person into an open tube: checked on a read connection ([`prepare_scan`]),
//! then written ([`add_member`]), answering the person's re-sampling orders.

use super::*;
use crate::service::booking;

/// A scan of one person into a tube, checked on a read connection: the tube as it stood, and
/// who the person is.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    barcode: TubeBarcode,
    tube: TubeRow,
    who: persons::Identified,
    /// The booking whose code was scanned for the person (预约码), used by the scan.
    booking: Option<i64>,
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
    (tz, today): (FixedOffset, NaiveDate),
) -> Result<ScanPlan, Error> {
    let barcode = parse_barcode(barcode)?;
    let tube = store::load(&mut *conn, barcode.as_str()).await?;
    tube.visible_to(actor, Action::Accession)?;
    // A booking code in the code field: the person it names, as if their document were scanned.
    let booked = match scan.code.as_deref() {
        Some(raw) => booking::scanned(&mut *conn, raw, tube.site_id, (tz, today)).await?,
        None => None,
    };
    let (booking, scan) = match &booked {
        Some((id, person)) => (Some(*id), person),
        None => (None, scan),
    };
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
        open::refuse_pooling_if_recheck_due(&mut *conn, &who, today).await?;
    }
    Ok(ScanPlan {
        barcode,
        tube,
        who,
        booking,
    })
}

/// Scans one person into an open tube (see [`prepare_scan`]). The tube's count moves from
/// what the plan saw to one more only if nobody changed it meanwhile; otherwise the tube is read
/// again under the write lock and the rules asked again.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn add_member(tx: &mut Tx, plan: ScanPlan, today: NaiveDate) -> Result<Scanned, Error> {
    let ScanPlan {
        barcode,
        tube: mut row,
        who,
        booking: booked,
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
    if let Some(b) = booked {
        booking::use_in_tube(tx, b, (row.id, barcode.as_str())).await?;
    }
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
    row.status = status;
    row.member_count = i64::from(added.position);
    if added.closes {
        row.closed_at = Some(now);
        row.closed_by = Some(by.clone());
    }
    Ok(Scanned {
        tube: row,
        member: MemberRow {
            position: i64::from(added.position),
            added_at: now,
            added_by: by,
            person,
        },
        closed_now: added.closes,
    })
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
    crate::service::push::person_changed(tx, person, None).await?;
    Ok((answered, deadline))
}
