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

/// The stored statuses of these people: (person, status, valid until, version).
pub async fn statuses(
    conn: &mut AnyConnection,
    people: &[i64],
) -> Result<Vec<(i64, String, Option<i64>, i64)>, sqlx::Error> {
    if people.is_empty() {
        return Ok(vec![]);
    }
    let ids = people
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(&format!(
        "SELECT person_id, status, valid_until, version FROM person_status WHERE person_id IN ({ids})"
    ))
    .fetch_all(conn)
    .await
}

/// Stores a person's status as its next version.
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
