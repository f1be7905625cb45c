//! The outbox as the push worker works it (推送): the enabled sinks, claims under a lease,
//! the settling of a delivery's outcome, and the tube marks a delivery leaves. Every settling
//! changes a message only while it is still its claim's (pending under that lease), so a
//! settling whose lease ran out — another worker may have claimed the message since —
//! changes nothing. The messages are written by [`super::outbox::enqueue`].

use super::outbox::state;
use super::Backend;
use sqlx::{AnyConnection, FromRow};

/// An enabled sink, as its delivery loop needs it (secrets included).
#[derive(FromRow, Clone, PartialEq)]
pub struct ActiveSink {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub url: String,
    pub token: Option<String>,
    pub hmac_key: Option<String>,
    pub batch_size: i64,
    pub max_attempts: i64,
    pub in_flight: i64,
    pub ca_pem: Option<String>,
    pub client_cert_pem: Option<String>,
    pub client_key_pem: Option<String>,
}

/// The enabled sinks, by id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn enabled_sinks(conn: &mut AnyConnection) -> Result<Vec<ActiveSink>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, kind, url, token, hmac_key, batch_size, max_attempts, in_flight, \
         ca_pem, client_cert_pem, client_key_pem FROM push_sink WHERE enabled = 1 ORDER BY id",
    )
    .fetch_all(conn)
    .await
}

/// How many messages are pending (it counts the whole queue). The state is written into the
/// statement, so the planner sees that a partial index matches.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn pending_count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM outbox WHERE status = '{}'",
        state::PENDING
    ))
    .fetch_one(conn)
    .await?;
    Ok(n)
}

/// Makes pending each person's next waiting version that waits behind nothing pending; the
/// ids made pending.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn promote_unblocked(conn: &mut AnyConnection) -> Result<Vec<i64>, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as(&format!(
        "UPDATE outbox SET status = '{pending}' WHERE id IN (SELECT MIN(w.id) FROM outbox w \
         WHERE w.status = '{waiting}' AND NOT EXISTS (SELECT 1 FROM outbox e \
           WHERE e.sink_id = w.sink_id AND e.key = w.key AND e.status = '{pending}') \
         GROUP BY w.sink_id, w.key) AND status = '{waiting}' RETURNING id",
        pending = state::PENDING,
        waiting = state::WAITING,
    ))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The sink is taken to be down since `at` (kept if already down), for `reason`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sink_down(
    conn: &mut AnyConnection,
    sink: i64,
    at: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE push_sink SET down_since = COALESCE(down_since, $1), down_reason = $2 WHERE id = $3",
    )
    .bind(at)
    .bind(reason.to_string())
    .bind(sink)
    .execute(conn)
    .await?;
    Ok(())
}

/// The sink answers again.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sink_up(conn: &mut AnyConnection, sink: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE push_sink SET down_since = NULL, down_reason = NULL WHERE id = $1")
        .bind(sink)
        .execute(conn)
        .await?;
    Ok(())
}

/// A message claimed for delivery.
#[derive(FromRow)]
pub struct Claimed {
    pub id: i64,
    pub payload: String,
    /// Attempts so far, this claim's included.
    pub attempts: i64,
    pub created_at: i64,
    pub solo: i64,
}

/// What one claim asks for.
pub struct Claim {
    pub sink: i64,
    /// Messages to be sent alone, or those that go in batches.
    pub solo: bool,
    /// Only messages whose next try is due (else: any pending message, one).
    pub due_only: bool,
    /// From this id up, or (`None`) from the bottom of the queue.
    pub floor: Option<i64>,
    pub limit: i64,
    /// Until when the claim holds the messages.
    pub lease: i64,
    pub now: i64,
}

/// Claims pending messages of a sink under a lease (on PostgreSQL with `SKIP LOCKED`, so
/// nodes never claim one message together) and marks their tubes as sent. From the bottom,
/// the statement is written so that the planner walks the queue's own index (`outbox_due`) —
/// on PostgreSQL such a walk also marks the entries of settled messages dead for the next
/// one — and not the primary key from id 0 through every settled message.
#[tracing::instrument(level = "debug", skip_all, fields(sink = c.sink, solo = c.solo))]
pub async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    c: &Claim,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let skip = backend.skip_locked("o");
    let due = if c.due_only {
        " AND o.next_try_at <= $4"
    } else {
        ""
    };
    let (which, order) = match c.floor {
        Some(_) => ("o.solo = $3 AND o.id >= $6", "o.id"),
        None => (
            "o.solo BETWEEN $3 AND $3 AND o.id >= $6",
            "o.sink_id, o.solo, o.id",
        ),
    };
    let sql = format!(
        "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT o.id FROM outbox o WHERE o.sink_id = $2 AND {which} \
           AND o.status = '{pending}'{due} AND (o.claimed_until IS NULL OR o.claimed_until <= $4) \
           ORDER BY {order} LIMIT $5{skip}) \
         RETURNING id, payload, attempts, created_at, solo",
        pending = state::PENDING,
    );
    let rows: Vec<Claimed> = sqlx::query_as(&sql)
        .bind(c.lease)
        .bind(c.sink)
        .bind(i64::from(c.solo))
        .bind(c.now)
        .bind(c.limit)
        .bind(c.floor.unwrap_or(0))
        .fetch_all(&mut *conn)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    mark_tubes(conn, backend, &ids, TubeMark::Pushed, c.now).await?;
    Ok(rows)
}

/// What [`mark_tubes`] records.
#[derive(Clone, Copy)]
enum TubeMark {
    Pushed,
    Acked,
}

/// Marks the tubes behind these messages as first sent (`pushed_at`) or first acknowledged
/// (`acked_at`, which the turnaround rollup then counts). Tubes are locked in id order, so
/// deliveries of one pool's members in parallel batches wait for each other, never deadlock.
async fn mark_tubes(
    conn: &mut AnyConnection,
    backend: Backend,
    messages: &[i64],
    mark: TubeMark,
    at: i64,
) -> Result<(), sqlx::Error> {
    let (column, fold) = match mark {
        TubeMark::Pushed => ("pushed_at", ""),
        // The turnaround rollup counts the acknowledgement.
        TubeMark::Acked => ("acked_at", ", fold_pending = 1"),
    };
    for chunk in messages.chunks(backend.rows_per_insert(1)) {
        sqlx::query(&format!(
            "UPDATE tube SET {column} = $1{fold} WHERE id IN (SELECT t.id FROM tube t \
             WHERE t.{column} IS NULL AND t.id IN (SELECT tube_id FROM outbox WHERE id IN ({ids})) \
             ORDER BY t.id{lock})",
            ids = super::id_list(chunk),
            lock = backend.for_update("t"),
        ))
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The condition that a message is still its claim's (the lease bound last).
const STILL_OURS: &str = "status = 'pending' AND claimed_until = ";

/// Puts a message back in the queue as it was before its claim (the claim's attempt given
/// back), due `now`, with what the receiver said; `solo`: to be sent alone from now on.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn requeue(
    conn: &mut AnyConnection,
    id: i64,
    lease: i64,
    answer: &str,
    solo: bool,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE outbox SET solo = CASE WHEN $1 = 1 THEN 1 ELSE solo END, attempts = attempts - 1, \
         next_try_at = $2, last_error = $3, claimed_until = NULL WHERE id = $4 AND {STILL_OURS}$5"
    ))
    .bind(i64::from(solo))
    .bind(now)
    .bind(answer.to_string())
    .bind(id)
    .bind(lease)
    .execute(conn)
    .await?;
    Ok(())
}

/// The messages were delivered (one statement per chunk of ids: a batch may be large); their
/// tubes are marked acknowledged. The ids still the claim's, settled here.
#[tracing::instrument(level = "debug", skip_all, fields(messages = ids.len()))]
pub async fn delivered(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[i64],
    lease: i64,
    now: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut settled = vec![];
    for chunk in ids.chunks(backend.rows_per_insert(1)) {
        let done: Vec<(i64,)> = sqlx::query_as(&format!(
            "UPDATE outbox SET status = $1, delivered_at = $2, last_error = NULL \
             WHERE {STILL_OURS}$3 AND id IN ({}) RETURNING id",
            super::id_list(chunk)
        ))
        .bind(state::DELIVERED)
        .bind(now)
        .bind(lease)
        .fetch_all(&mut *conn)
        .await?;
        settled.extend(done.into_iter().map(|(id,)| id));
    }
    mark_tubes(conn, backend, &settled, TubeMark::Acked, now).await?;
    Ok(settled)
}

/// The receiver refused the message for good; whether it was still the claim's.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn refused(
    conn: &mut AnyConnection,
    id: i64,
    lease: i64,
    answer: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE outbox SET status = $1, last_error = $2 WHERE id = $3 AND {STILL_OURS}$4"
    ))
    .bind(state::FAILED)
    .bind(answer.to_string())
    .bind(id)
    .bind(lease)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The delivery failed: the message is tried again at `next_try_at`, or (`dead`) is
/// dead-lettered; whether it was still the claim's.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn failed(
    conn: &mut AnyConnection,
    id: i64,
    lease: i64,
    dead: bool,
    next_try_at: i64,
    answer: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(&format!(
        "UPDATE outbox SET status = $1, next_try_at = $2, last_error = $3, claimed_until = NULL \
         WHERE id = $4 AND {STILL_OURS}$5"
    ))
    .bind(if dead { state::DEAD } else { state::PENDING })
    .bind(next_try_at)
    .bind(answer.to_string())
    .bind(id)
    .bind(lease)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// After messages settled for good: the next waiting version of each of their people, if one
/// waits, becomes pending. Those made pending, as (solo, id).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn promote_next(
    conn: &mut AnyConnection,
    backend: Backend,
    sink: i64,
    settled: &[i64],
) -> Result<Vec<(bool, i64)>, sqlx::Error> {
    let mut next = vec![];
    for chunk in settled.chunks(backend.rows_per_insert(1)) {
        let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "UPDATE outbox SET status = '{pending}' WHERE id IN (SELECT MIN(w.id) FROM outbox w \
             WHERE w.status = '{waiting}' AND w.sink_id = $1 AND w.key IN (SELECT key FROM outbox WHERE id IN ({ids})) \
             GROUP BY w.key) RETURNING solo, id",
            pending = state::PENDING,
            waiting = state::WAITING,
            ids = super::id_list(chunk)
        ))
        .bind(sink)
        .fetch_all(&mut *conn)
        .await?;
        next.extend(rows.into_iter().map(|(solo, id)| (solo == 1, id)));
    }
    Ok(next)
}
