//! Collection points for the public: sites with their hours, who they serve, what their staff
//! set, and how many were sampled at each lately.

use super::code::in_table;
use super::Tx;
use sqlx::{AnyConnection, FromRow};

/// A site as a collection point.
#[derive(Debug, Clone, FromRow)]
pub struct PointRow {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub address: String,
    pub region: String,
    pub opening_hours: String,
    pub serves: String,
    pub bookable: i64,
    pub state_set: Option<String>,
    pub state_note: Option<String>,
    pub state_until: Option<i64>,
    pub queue: Option<i64>,
    pub queue_at: Option<i64>,
    /// People scanned into tubes at the site since the window began.
    pub sampled: i64,
}

/// Every site (or those of a district prefix), with its scans since `since`.
pub async fn points(
    conn: &mut AnyConnection,
    district: &str,
    since: i64,
) -> Result<Vec<PointRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT s.id, s.code, s.name, s.address, s.region, s.opening_hours, s.serves, s.bookable, \
         s.state_set, s.state_note, s.state_until, s.queue, s.queue_at, \
         COALESCE(n.sampled, 0) AS sampled \
         FROM site s LEFT JOIN (SELECT t.site_id, COUNT(*) AS sampled FROM tube_member m \
              JOIN tube t ON t.id = m.tube_id WHERE m.added_at >= $1 GROUP BY t.site_id) n \
           ON n.site_id = s.id \
         WHERE s.region LIKE $2 ORDER BY s.region, s.code",
    )
    .bind(since)
    .bind(format!("{district}%"))
    .fetch_all(conn)
    .await
    .map_err(in_table("site"))
}

/// What a site's staff say of it now.
pub struct SetPoint<'a> {
    pub state: Option<&'a str>,
    pub note: Option<&'a str>,
    pub until: Option<i64>,
    pub queue: Option<i64>,
    pub at: i64,
    pub opening_hours: Option<&'a str>,
    pub serves: Option<&'a str>,
}

/// Records what the staff say (fields not given stay as they were; a state of `auto` clears it).
pub async fn set(tx: &mut Tx, site: i64, p: &SetPoint<'_>) -> Result<(), sqlx::Error> {
    if let Some(state) = p.state {
        let (state, note, until) = match state {
            "auto" => (None, None, None),
            s => (Some(s.to_string()), p.note.map(String::from), p.until),
        };
        sqlx::query(
            "UPDATE site SET state_set = $1, state_note = $2, state_until = $3 WHERE id = $4",
        )
        .bind(state)
        .bind(note)
        .bind(until)
        .bind(site)
        .execute(tx.conn())
        .await?;
    }
    if let Some(q) = p.queue {
        sqlx::query("UPDATE site SET queue = $1, queue_at = $2 WHERE id = $3")
            .bind(q)
            .bind(p.at)
            .bind(site)
            .execute(tx.conn())
            .await?;
    }
    if let Some(h) = p.opening_hours {
        sqlx::query("UPDATE site SET opening_hours = $1 WHERE id = $2")
            .bind(h.to_string())
            .bind(site)
            .execute(tx.conn())
            .await?;
    }
    if let Some(s) = p.serves {
        sqlx::query("UPDATE site SET serves = $1 WHERE id = $2")
            .bind(s.to_string())
            .bind(site)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}
