//! `outbox` and `person_status`: each person's current status and its version, and the status
//! messages waiting for, being sent to, or delivered to each health-code sink (健康码推送).

use super::Tx;
use sqlx::AnyConnection;

/// Message states.
pub mod state {
    pub const PENDING: &str = "pending";
    /// Behind an earlier version of the same person, not yet settled.
    pub const WAITING: &str = "waiting";
    /// A pending message under a claim's lease (`claimed_until` ahead): as shown, not as
    /// stored — a claim changes no state, so it touches no index.
    pub const SENDING: &str = "sending";
    pub const DELIVERED: &str = "delivered";
    /// The receiver refused it (4xx); kept with its answer.
    pub const FAILED: &str = "failed";
    /// Given up after the sink's attempts; listed for an admin.
    pub const DEAD: &str = "dead";
    pub const ALL: [&str; 6] = [PENDING, WAITING, SENDING, DELIVERED, FAILED, DEAD];
}

/// A person's stored status: (person, status, valid until, version).
pub type StoredStatus = (i64, String, Option<i64>, i64);

/// The stored statuses of these people.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn statuses(
    conn: &mut AnyConnection,
    people: &[i64],
) -> Result<Vec<StoredStatus>, sqlx::Error> {
    if people.is_empty() {
        return Ok(vec![]);
    }
    let ids = super::id_list(people);
    sqlx::query_as(&format!(
        "SELECT person_id, status, valid_until, version FROM person_status WHERE person_id IN ({ids})"
    ))
    .fetch_all(conn)
    .await
}

/// Stores a person's status as its next version.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_status(
    tx: &mut Tx,
    person: i64,
    status: &str,
    valid_until: Option<i64>,
    version: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO person_status (person_id, status, valid_until, version, changed_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (person_id) DO UPDATE SET status = $2, valid_until = $3, version = $4, changed_at = $5",
    )
    .bind(person)
    .bind(status.to_string())
    .bind(valid_until)
    .bind(version)
    .bind(at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The enabled sinks whose region prefix covers a region.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sinks_for_region(
    conn: &mut AnyConnection,
    region: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let sinks: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM push_sink WHERE enabled = 1 AND $1 LIKE region_prefix || '%' ORDER BY id",
    )
    .bind(region.to_string())
    .fetch_all(conn)
    .await?;
    Ok(sinks.into_iter().map(|s| s.0).collect())
}

/// A message to enqueue: the person's key, the status version, the payload, the tube behind it.
pub type Outgoing = (String, i64, String, Option<i64>);

/// Enqueues messages for a sink, `rows` at a time; a message whose person has an earlier
/// version still unsettled waits behind it (versions go out in order).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn enqueue(
    tx: &mut Tx,
    sink: i64,
    messages: &[Outgoing],
    at: i64,
    rows: usize,
) -> Result<(), sqlx::Error> {
    for chunk in messages.chunks(rows) {
        let keys: Vec<String> = chunk.iter().map(|m| m.0.clone()).collect();
        let marks = (1..=keys.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT DISTINCT key FROM outbox WHERE sink_id = {sink} AND key IN ({marks}) \
             AND status IN ('{}', '{}')",
            state::PENDING,
            state::WAITING
        );
        let mut q = sqlx::query_as::<_, (String,)>(&sql);
        for k in &keys {
            q = q.bind(k.clone());
        }
        let behind: std::collections::HashSet<String> = q
            .fetch_all(tx.conn())
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect();
        let values: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, (key, version, _, tube))| {
                format!(
                    "({sink}, ${}, {version}, ${}, '{}', 0, 0, {at}, {at}, {})",
                    2 * i + 1,
                    2 * i + 2,
                    if behind.contains(key) {
                        state::WAITING
                    } else {
                        state::PENDING
                    },
                    tube.map_or("NULL".to_string(), |t| t.to_string())
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO outbox (sink_id, key, version, payload, status, solo, attempts, next_try_at, created_at, tube_id) \
             VALUES {}",
            values.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (key, _, payload, _) in chunk {
            q = q.bind(key.clone()).bind(payload.clone());
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// What a new sink is configured with.
pub struct NewSink<'a> {
    pub name: &'a str,
    pub region_prefix: &'a str,
    pub kind: &'a str,
    pub url: &'a str,
    pub token: Option<&'a str>,
    pub hmac_key: Option<&'a str>,
    pub batch_size: i64,
    pub max_attempts: i64,
    pub in_flight: i64,
    pub ca_pem: Option<&'a str>,
    pub client_cert_pem: Option<&'a str>,
    pub client_key_pem: Option<&'a str>,
    pub created_at: i64,
    pub created_by: &'a str,
}

/// Adds a sink (enabled); a name taken already is a unique violation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_sink(tx: &mut Tx, s: &NewSink<'_>) -> Result<(), sqlx::Error> {
    let owned = |v: Option<&str>| v.map(str::to_string);
    sqlx::query(
        "INSERT INTO push_sink (name, region_prefix, kind, url, token, hmac_key, batch_size, max_attempts, enabled, created_at, created_by, \
         in_flight, ca_pem, client_cert_pem, client_key_pem) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $14)",
    )
    .bind(s.name.to_string())
    .bind(s.region_prefix.to_string())
    .bind(s.kind.to_string())
    .bind(s.url.to_string())
    .bind(owned(s.token))
    .bind(owned(s.hmac_key))
    .bind(s.batch_size)
    .bind(s.max_attempts)
    .bind(s.created_at)
    .bind(s.created_by.to_string())
    .bind(s.in_flight)
    .bind(owned(s.ca_pem))
    .bind(owned(s.client_cert_pem))
    .bind(owned(s.client_key_pem))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A sink as listed (no secrets).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SinkRow {
    pub name: String,
    pub region_prefix: String,
    pub kind: String,
    pub url: String,
    pub batch_size: i64,
    pub max_attempts: i64,
    pub in_flight: i64,
    pub ca_pem: Option<String>,
    pub client_cert_pem: Option<String>,
    pub down_since: Option<i64>,
    pub down_reason: Option<String>,
}

/// Every sink, in the order they were added.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sinks(conn: &mut AnyConnection) -> Result<Vec<SinkRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, region_prefix, kind, url, batch_size, max_attempts, in_flight, ca_pem, client_cert_pem, \
         down_since, down_reason FROM push_sink ORDER BY id",
    )
    .fetch_all(conn)
    .await
}

/// A message as listed: the state shown (`sending` while a claim's lease runs).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub sink: String,
    pub key: String,
    pub version: i64,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created: i64,
    pub delivered: Option<i64>,
}

/// What a page of messages is narrowed to.
pub struct MessageQuery<'a> {
    /// A known state (one of [`state::ALL`]).
    pub status: Option<&'static str>,
    pub key: Option<&'a str>,
    pub before: Option<i64>,
    pub limit: i64,
    pub offset: i64,
    /// Now (µs): a pending message under a lease running past it is being sent.
    pub now: i64,
}

/// Messages, the newest first. Only the conditions asked for go into the statement, so each
/// can use its index (the failed and dead ones, the waiting ones, a person's versions); known
/// states and integers are written in, so the planner sees a partial index match.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn messages(
    conn: &mut AnyConnection,
    q: &MessageQuery<'_>,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    let now = q.now;
    let leased = format!(
        "o.status = '{}' AND o.claimed_until > {now}",
        state::PENDING
    );
    let mut sql = format!(
        "SELECT o.id, s.name AS sink, o.key, o.version, \
         CASE WHEN {leased} THEN '{}' ELSE o.status END AS status, o.attempts, o.last_error, \
         o.created_at AS created, o.delivered_at AS delivered \
         FROM outbox o JOIN push_sink s ON s.id = o.sink_id WHERE 1 = 1",
        state::SENDING
    );
    if let Some(known) = q.status {
        sql.push_str(&match known {
            state::SENDING => format!(" AND {leased}"),
            state::PENDING => format!(
                " AND o.status = '{known}' AND (o.claimed_until IS NULL OR o.claimed_until <= {now})"
            ),
            _ => format!(" AND o.status = '{known}'"),
        });
    }
    if q.key.is_some() {
        sql.push_str(" AND o.key = $1");
    }
    if let Some(before) = q.before {
        sql.push_str(&format!(" AND o.id < {before}"));
    }
    sql.push_str(&format!(
        " ORDER BY o.id DESC LIMIT {} OFFSET {}",
        q.limit, q.offset
    ));
    match q.key {
        Some(key) => {
            sqlx::query_as(&sql)
                .bind(key.to_string())
                .fetch_all(conn)
                .await
        }
        None => sqlx::query_as(&sql).fetch_all(conn).await,
    }
}

/// How many messages of each sink stand in each state that needs watching (everything but
/// `delivered`), a pending one under a lease counted as sending: (sink, state, count).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn open_counts(
    conn: &mut AnyConnection,
    now: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    let sql = format!(
        "SELECT s.name, CASE WHEN o.status = '{p}' AND o.claimed_until > {now} THEN '{sending}' \
         ELSE o.status END AS st, COUNT(*) FROM outbox o JOIN push_sink s ON s.id = o.sink_id \
         WHERE o.status <> '{delivered}' GROUP BY s.name, st ORDER BY s.name, st",
        p = state::PENDING,
        sending = state::SENDING,
        delivered = state::DELIVERED,
    );
    sqlx::query_as(&sql).fetch_all(conn).await
}

/// A message's sink, key, version and state.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn message(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<(i64, String, i64, String)>, sqlx::Error> {
    sqlx::query_as("SELECT sink_id, key, version, status FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Queues a failed or dead message again with its person's earlier failed or dead versions
/// for the sink (up to `version`), attempts from zero, each sent alone: the earliest pending
/// (unless a version of the person is still unsettled), the later ones waiting behind it.
/// How many were queued.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn requeue_versions(
    tx: &mut Tx,
    sink: i64,
    key: &str,
    version: i64,
    at: i64,
) -> Result<u64, sqlx::Error> {
    let versions: Vec<(i64,)> = sqlx::query_as(
        "SELECT id FROM outbox WHERE sink_id = $1 AND key = $2 AND version <= $3 AND status IN ($4, $5) \
         ORDER BY version",
    )
    .bind(sink)
    .bind(key.to_string())
    .bind(version)
    .bind(state::FAILED)
    .bind(state::DEAD)
    .fetch_all(tx.conn())
    .await?;
    let blocked: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM outbox WHERE sink_id = $1 AND key = $2 AND status IN ($3, $4) LIMIT 1",
    )
    .bind(sink)
    .bind(key.to_string())
    .bind(state::PENDING)
    .bind(state::WAITING)
    .fetch_optional(tx.conn())
    .await?;
    for (i, (message,)) in versions.iter().enumerate() {
        let first = i == 0 && blocked.is_none();
        sqlx::query(
            "UPDATE outbox SET status = $1, attempts = 0, solo = 1, next_try_at = $2, last_error = NULL WHERE id = $3",
        )
        .bind(if first { state::PENDING } else { state::WAITING })
        .bind(at)
        .bind(*message)
        .execute(tx.conn())
        .await?;
    }
    Ok(versions.len() as u64)
}
