//! A tube's times against its deadline (时限), read from `tube`: one tube's timeline, the tubes
//! and re-sample orders about to miss their deadline, a lab's unreleased tubes and the plates it
//! imported lately. The marks themselves are written by [`super::turnaround_marks`].

use super::person::{PersonRow, COLUMNS as PERSON_COLUMNS};
use crate::domain::turnaround::Timeline;
use sqlx::{AnyConnection, FromRow};

/// The columns a [`Timeline`] is read from (tube alias `t`).
pub const TIMELINE_COLUMNS: &str = "t.clock_start_at, t.collected_at, t.deadline_at, \
    t.received_at, t.placed_at, t.loaded_at, t.requeued_at, t.imported_at, t.released_at, t.acked_at";

/// Tubes still to be released (the partial index `tube_unreleased` holds exactly these).
pub const UNRELEASED: &str = "t.released_at IS NULL AND t.resampled_at IS NULL AND t.held = 0 \
    AND t.status <> 'rejected'";

/// A tube's marks, µs since the epoch.
#[derive(FromRow, Debug, Clone)]
pub struct TimelineRow {
    pub clock_start_at: i64,
    pub collected_at: i64,
    pub deadline_at: i64,
    pub received_at: Option<i64>,
    pub placed_at: Option<i64>,
    pub loaded_at: Option<i64>,
    pub requeued_at: Option<i64>,
    pub imported_at: Option<i64>,
    pub released_at: Option<i64>,
    pub acked_at: Option<i64>,
}

impl TimelineRow {
    pub fn timeline(&self) -> Timeline {
        Timeline {
            clock_start: self.clock_start_at,
            collected: self.collected_at,
            deadline: self.deadline_at,
            received: self.received_at,
            placed: self.placed_at,
            loaded: self.loaded_at,
            requeued: self.requeued_at,
            imported: self.imported_at,
            released: self.released_at,
            acked: self.acked_at,
        }
    }
}

/// The tubes a list covers: a lab's, a region's (its sites' region codes start with it), or
/// everywhere.
#[derive(Debug, Clone)]
pub enum Coverage {
    All,
    Lab(i64),
    Region(String),
}

impl Coverage {
    /// A condition on tube `t` and its site `s`, with the parameter it binds as `$n`.
    pub fn condition(&self, n: usize) -> (String, Option<String>) {
        match self {
            Coverage::All => ("1 = 1".into(), None),
            Coverage::Lab(id) => (
                format!("COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) = {id}"),
                None,
            ),
            Coverage::Region(r) => (format!("s.region LIKE ${n}"), Some(format!("{r}%"))),
        }
    }
}

/// One tube's times and the steps that are not marks of the timeline, with where it is.
#[derive(FromRow)]
pub struct TubeTimes {
    pub barcode: String,
    pub priority: String,
    pub category: String,
    pub called_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub pushed_at: Option<i64>,
    pub rejected_at: Option<i64>,
    pub resampled_at: Option<i64>,
    pub site_id: i64,
    pub lab_id: Option<i64>,
    pub region: String,
    #[sqlx(flatten)]
    pub times: TimelineRow,
}

/// A tube's times by barcode.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn tube_times(
    conn: &mut AnyConnection,
    barcode: &str,
) -> Result<Option<TubeTimes>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT t.barcode, t.priority, t.category, t.called_at, t.confirmed_at, t.pushed_at, \
         t.rejected_at, t.resampled_at, t.site_id, COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) AS lab_id, s.region, \
         {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id WHERE t.barcode = $1"
    ))
    .bind(barcode.to_string())
    .fetch_optional(conn)
    .await
}

/// An unreleased tube due soon.
#[derive(FromRow)]
pub struct DueTube {
    pub barcode: String,
    pub priority: String,
    pub category: String,
    pub site: String,
    pub member_count: i64,
    pub recheck_of: Option<i64>,
    #[sqlx(flatten)]
    pub times: TimelineRow,
}

/// Unreleased tubes of `cover` due by `horizon`, the most urgent first, at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn tubes_due(
    conn: &mut AnyConnection,
    cover: &Coverage,
    horizon: i64,
    limit: i64,
) -> Result<Vec<DueTube>, sqlx::Error> {
    let (cond, bind) = cover.condition(3);
    let sql = format!(
        "SELECT t.barcode, t.priority, t.category, s.code AS site, t.member_count, t.recheck_of, \
         {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE {UNRELEASED} AND t.deadline_at <= $1 AND {cond} ORDER BY t.deadline_at, t.id LIMIT $2"
    );
    let mut q = sqlx::query_as::<_, DueTube>(&sql).bind(horizon).bind(limit);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    q.fetch_all(conn).await
}

/// An open re-sample order due soon: the person owes a new swab for the tube's deadline.
#[derive(FromRow)]
pub struct DueOrder {
    pub barcode: String,
    pub priority: String,
    pub category: String,
    pub site: String,
    pub due_at: i64,
    pub created_at: i64,
    #[sqlx(flatten)]
    pub person: PersonRow,
}

/// Open re-sample orders of `cover` due by `horizon`, the most urgent first, at most `limit`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn orders_due(
    conn: &mut AnyConnection,
    cover: &Coverage,
    horizon: i64,
    limit: i64,
) -> Result<Vec<DueOrder>, sqlx::Error> {
    let (cond, bind) = cover.condition(3);
    let sql = format!(
        "SELECT t.barcode, t.priority, t.category, s.code AS site, o.due_at, o.created_at, \
         {PERSON_COLUMNS} \
         FROM sample_order o JOIN tube t ON t.id = o.source_tube_id JOIN site s ON s.id = t.site_id \
         JOIN person p ON p.id = o.person_id LEFT JOIN institution i ON i.id = p.institution_id \
         WHERE o.status = 'open' AND o.due_at <= $1 AND {cond} ORDER BY o.due_at, o.id LIMIT $2"
    );
    let mut q = sqlx::query_as::<_, DueOrder>(&sql)
        .bind(horizon)
        .bind(limit);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    q.fetch_all(conn)
        .await
        .map_err(super::code::in_table("person"))
}

/// The unreleased tubes of a lab, by deadline (at most 200,000).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unreleased_of_lab(
    conn: &mut AnyConnection,
    lab: i64,
) -> Result<Vec<TimelineRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TIMELINE_COLUMNS} FROM tube t JOIN site s ON s.id = t.site_id \
         WHERE {UNRELEASED} AND COALESCE(t.lab_id, t.forwarded_lab_id, s.lab_id) = $1 \
         ORDER BY t.deadline_at LIMIT 200000"
    ))
    .bind(lab)
    .fetch_all(conn)
    .await
}

/// How many of a lab's plates had a run imported since `since`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn plates_imported_since(
    conn: &mut AnyConnection,
    lab: i64,
    since: i64,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT i.plate_id) FROM result_import i JOIN plate p ON p.id = i.plate_id \
         WHERE p.lab_id = $1 AND i.imported_at >= $2",
    )
    .bind(lab)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(n)
}
