//! `membership` and `roster_upload`: who belongs to which institution, in which class, since
//! and until when — each membership carrying its ledger line (台账) — and the rosters applied.

use super::code::in_table;
use super::Tx;
use crate::domain::id_number::DocumentType;
use crate::domain::programme::{DutyState, Hold};
use sqlx::{AnyConnection, FromRow};

/// A ledger line's state on day `$1` (a day number), as SQL: the rule of
/// [`crate::domain::programme::judge`] — a hold excludes; no negative is never tested; the cover
/// ended before today is overdue; ending within the judging version's warning days is due soon.
/// A test in `tests/ledger.rs` holds the two to the same answers.
pub const STATE: &str = "CASE WHEN m.hold IS NOT NULL THEN 'excluded' \
     WHEN m.covered_through IS NULL THEN 'never_tested' \
     WHEN m.covered_through < $1 THEN 'overdue' \
     WHEN m.covered_through < $1 + v.warn_days THEN 'due_soon' \
     ELSE 'covered' END";

/// One line of an institution's ledger, with the person (to be masked by the caller).
#[derive(Debug, Clone)]
pub struct LineRow {
    pub id: i64,
    pub person_id: i64,
    pub uid: String,
    pub name: String,
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub phone: String,
    pub class: String,
    pub programme: String,
    pub version: i64,
    pub warn_days: i64,
    pub joined_on: String,
    pub left_on: Option<String>,
    pub last_negative_at: Option<i64>,
    pub last_tube: Option<String>,
    pub last_lab: Option<String>,
    pub covered_through: Option<i64>,
    pub hold: Option<Hold>,
    pub hold_since: Option<i64>,
}

/// The fields of a line, in the order [`LINE`] packs them.
const FIELDS: usize = 18;

/// A line's fields packed into one text (its class and judging version as ids, named after the
/// read from the few classes and versions there are), separated by U+001F (which no field holds: names,
/// phones and codes are cleaned of control characters on entry). One value per row instead of
/// eighteen: decoding a value costs the same whatever its size, and a ledger of 20,000 staff
/// is 340,000 values otherwise — most of the read.
const LINE: &str = "p.uid || char(31) || p.name || char(31) || p.doc_type || char(31) || p.doc_no \
     || char(31) || p.phone || char(31) || CAST(m.staff_class_id AS TEXT) || char(31) || '' \
     || char(31) || CAST(m.judged_by AS TEXT) || char(31) || '' || char(31) || m.joined_on || char(31) || COALESCE(m.left_on, '') \
     || char(31) || COALESCE(CAST(m.last_negative_at AS TEXT), '') || char(31) || COALESCE(t.barcode, '') \
     || char(31) || COALESCE(l.code, '') || char(31) || COALESCE(CAST(m.covered_through AS TEXT), '') \
     || char(31) || COALESCE(m.hold, '') || char(31) || COALESCE(CAST(m.hold_since AS TEXT), '') \
     || char(31) || CAST(m.person_id AS TEXT)";

fn unpack(id: i64, packed: &str) -> Result<LineRow, sqlx::Error> {
    let bad = |what: &str| {
        sqlx::Error::Decode(format!("membership {id}: the packed ledger line {what}").into())
    };
    let f: Vec<&str> = packed.split('\u{1f}').collect();
    if f.len() != FIELDS {
        return Err(bad(&format!("has {} fields, not {FIELDS}", f.len())));
    }
    let int = |s: &str| -> Result<Option<i64>, sqlx::Error> {
        if s.is_empty() {
            Ok(None)
        } else {
            s.parse()
                .map(Some)
                .map_err(|_| bad(&format!("has {s:?} for a number")))
        }
    };
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(LineRow {
        id,
        uid: f[0].to_string(),
        name: f[1].to_string(),
        doc_type: DocumentType::try_from(f[2].to_string()).map_err(|e| bad(&e.to_string()))?,
        doc_no: f[3].to_string(),
        phone: f[4].to_string(),
        // Ids here; [`lines`] puts the names in.
        class: f[5].to_string(),
        programme: String::new(),
        version: int(f[7])?.unwrap_or(0),
        warn_days: 0,
        joined_on: f[9].to_string(),
        left_on: text(f[10]),
        last_negative_at: int(f[11])?,
        last_tube: text(f[12]),
        last_lab: text(f[13]),
        covered_through: int(f[14])?,
        hold: match f[15] {
            "" => None,
            h => Some(Hold::try_from(h.to_string()).map_err(|e| bad(&e.to_string()))?),
        },
        hold_since: int(f[16])?,
        person_id: int(f[17])?.unwrap_or(0),
    })
}

/// Which lines of a ledger.
pub struct LineFilter<'a> {
    pub state: Option<DutyState>,
    pub class: Option<&'a str>,
    /// Active memberships (false: the ended ones, leavers and class changes).
    pub active: bool,
}

/// The lines of an institution's ledger on day `today`, by name; ended memberships with their
/// last standing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lines(
    conn: &mut AnyConnection,
    institution_id: i64,
    today: i64,
    f: &LineFilter<'_>,
) -> Result<Vec<LineRow>, sqlx::Error> {
    let char31 = match super::Backend::of(conn) {
        super::Backend::Sqlite => "char(31)",
        super::Backend::Postgres => "chr(31)",
    };
    let mut sql = format!(
        "SELECT m.id, {} AS packed \
         FROM membership m JOIN person p ON p.id = m.person_id {} {} \
         LEFT JOIN result r ON r.id = m.last_negative_id LEFT JOIN tube t ON t.id = r.tube_id \
         LEFT JOIN lab l ON l.id = t.lab_id \
         WHERE m.institution_id = $2 AND m.state = $3",
        LINE.replace("char(31)", char31),
        if f.class.is_some() {
            "JOIN staff_class c ON c.id = m.staff_class_id"
        } else {
            ""
        },
        if f.state.is_some() {
            "JOIN programme_version v ON v.id = m.judged_by"
        } else {
            ""
        },
    );
    if f.state.is_some() {
        sql.push_str(&format!(" AND {STATE} = $4"));
    }
    if f.class.is_some() {
        sql.push_str(if f.state.is_some() {
            " AND c.name = $5"
        } else {
            " AND c.name = $4"
        });
    }
    // (Sorted here, by name: the database would sort the packed rows whole.)
    let mut q = sqlx::query_as::<_, (i64, String)>(&sql)
        .bind(today)
        .bind(institution_id)
        .bind(if f.active { "active" } else { "ended" });
    if let Some(s) = f.state {
        q = q.bind(s.as_str());
    }
    if let Some(c) = f.class {
        q = q.bind(c.to_string());
    }
    let mut lines = q
        .fetch_all(&mut *conn)
        .await
        .map_err(in_table("membership"))?
        .into_iter()
        .map(|(id, packed)| unpack(id, &packed))
        .collect::<Result<Vec<_>, _>>()?;
    // The classes and versions by id: a handful, read once.
    let classes: std::collections::HashMap<String, (String, String)> = sqlx::query_as::<
        _,
        (i64, String, String),
    >(
        "SELECT c.id, c.name, g.code FROM staff_class c JOIN programme g ON g.id = c.programme_id \
         WHERE c.institution_id IS NULL OR c.institution_id = $1",
    )
    .bind(institution_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(in_table("staff_class"))?
    .into_iter()
    .map(|(id, name, code)| (id.to_string(), (name, code)))
    .collect();
    let mut version_ids: Vec<i64> = lines.iter().map(|l| l.version).collect();
    version_ids.sort_unstable();
    version_ids.dedup();
    let versions: std::collections::HashMap<i64, (i64, i64)> = if version_ids.is_empty() {
        Default::default()
    } else {
        sqlx::query_as::<_, (i64, i64, i64)>(&format!(
            "SELECT id, version, warn_days FROM programme_version WHERE id IN ({})",
            super::id_list(&version_ids)
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(in_table("programme_version"))?
        .into_iter()
        .map(|(id, v, w)| (id, (v, w)))
        .collect()
    };
    for l in &mut lines {
        let (name, code) = classes.get(&l.class).cloned().ok_or_else(|| {
            sqlx::Error::Decode(format!("membership {}: no staff class {}", l.id, l.class).into())
        })?;
        let (version, warn) = versions.get(&l.version).copied().ok_or_else(|| {
            sqlx::Error::Decode(
                format!("membership {}: no programme version {}", l.id, l.version).into(),
            )
        })?;
        l.class = name;
        l.programme = code;
        l.version = version;
        l.warn_days = warn;
    }
    lines.sort_unstable_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(lines)
}

/// Active lines grouped by what decides their state: (institution, the version that judged
/// them, its warning days, the last covered day, held) with their count. The caller judges
/// each group by the domain's rule — a region of a million staff is a few thousand groups,
/// read from the `membership_standing` index alone.
#[derive(Debug, Clone, FromRow)]
pub struct StandingGroup {
    pub institution_id: i64,
    pub warn_days: i64,
    pub covered_through: Option<i64>,
    pub held: i64,
    pub n: i64,
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn standing_groups(
    conn: &mut AnyConnection,
    institution_id: Option<i64>,
    region: Option<&str>,
) -> Result<Vec<StandingGroup>, sqlx::Error> {
    let filter = match (institution_id, region) {
        (Some(_), _) => "AND m.institution_id = $1",
        (None, Some(_)) => {
            "AND m.institution_id IN (SELECT id FROM institution WHERE region LIKE $1)"
        }
        (None, None) => "",
    };
    let sql = format!(
        "SELECT g.institution_id, v.warn_days, g.covered_through, g.held, g.n FROM (\
           SELECT m.institution_id, m.judged_by, m.covered_through, \
           CASE WHEN m.hold IS NULL THEN 0 ELSE 1 END AS held, COUNT(*) AS n \
           FROM membership m WHERE m.state = 'active' {filter} \
           GROUP BY m.institution_id, m.judged_by, m.covered_through, CASE WHEN m.hold IS NULL THEN 0 ELSE 1 END\
         ) g JOIN programme_version v ON v.id = g.judged_by"
    );
    let mut q = sqlx::query_as(&sql);
    if let Some(id) = institution_id {
        q = q.bind(id);
    } else if let Some(r) = region {
        q = q.bind(format!("{r}%"));
    }
    q.fetch_all(conn).await.map_err(in_table("membership"))
}

/// An active membership whose standing a person's results decide, with the schedule of the
/// current version of its class's programme.
#[derive(Debug, Clone, FromRow)]
pub struct StandingRow {
    pub id: i64,
    pub person_id: i64,
    pub version_id: i64,
    pub schedule: String,
    pub judged_by: Option<i64>,
    pub last_negative_id: Option<i64>,
    pub covered_through: Option<i64>,
    pub hold: Option<Hold>,
}

const STANDING: &str = "SELECT m.id, m.person_id, v.id AS version_id, v.schedule, m.judged_by, \
     m.last_negative_id, m.covered_through, m.hold \
     FROM membership m JOIN staff_class c ON c.id = m.staff_class_id \
     JOIN programme_version v ON v.programme_id = c.programme_id \
       AND v.version = (SELECT MAX(w.version) FROM programme_version w WHERE w.programme_id = c.programme_id) \
     WHERE m.state = 'active'";

/// The active memberships of these people.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn standing_of_people(
    conn: &mut AnyConnection,
    person_ids: &[i64],
) -> Result<Vec<StandingRow>, sqlx::Error> {
    let mut out = vec![];
    for chunk in person_ids.chunks(500) {
        let rows: Vec<StandingRow> = sqlx::query_as(&format!(
            "{STANDING} AND m.person_id IN ({})",
            super::id_list(chunk)
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(in_table("membership"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// The active memberships judged by a programme (to judge again by its new version).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn standing_in_programme(
    conn: &mut AnyConnection,
    programme_id: i64,
) -> Result<Vec<StandingRow>, sqlx::Error> {
    sqlx::query_as(&format!("{STANDING} AND c.programme_id = $1"))
        .bind(programme_id)
        .fetch_all(conn)
        .await
        .map_err(in_table("membership"))
}

/// A membership over a period: when it started and ended, and its programme's current rules.
#[derive(Debug, Clone, FromRow)]
pub struct PeriodRow {
    pub institution_id: i64,
    pub person_id: i64,
    pub joined_on: String,
    pub left_on: Option<String>,
    pub schedule: String,
    pub warn_days: i64,
}

/// The memberships of these institutions that overlap the days `from..=to` (`YYYY-MM-DD`, which
/// compare as text): joined by `to`, and not left by `from`; by institution and person.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn in_period(
    conn: &mut AnyConnection,
    institution_ids: &[i64],
    from: &str,
    to: &str,
) -> Result<Vec<PeriodRow>, sqlx::Error> {
    if institution_ids.is_empty() {
        return Ok(vec![]);
    }
    sqlx::query_as(&format!(
        "SELECT m.institution_id, m.person_id, m.joined_on, m.left_on, v.schedule, v.warn_days \
         FROM membership m JOIN staff_class c ON c.id = m.staff_class_id \
         JOIN programme_version v ON v.programme_id = c.programme_id \
           AND v.version = (SELECT MAX(w.version) FROM programme_version w WHERE w.programme_id = c.programme_id) \
         WHERE m.institution_id IN ({}) AND m.joined_on <= $1 AND (m.left_on IS NULL OR m.left_on > $2) \
         ORDER BY m.institution_id, m.person_id, m.joined_on",
        super::id_list(institution_ids)
    ))
    .bind(to.to_string())
    .bind(from.to_string())
    .fetch_all(conn)
    .await
    .map_err(in_table("membership"))
}

/// The current results of the people of [`in_period`] (the same institutions and days), each
/// once: one statement for a batch of institutions instead of one per 500 people.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn results_in_period(
    conn: &mut AnyConnection,
    institution_ids: &[i64],
    from: &str,
    to: &str,
) -> Result<Vec<WeighedRow>, sqlx::Error> {
    if institution_ids.is_empty() {
        return Ok(vec![]);
    }
    sqlx::query_as(&format!(
        "SELECT r.id, r.person_id, r.value, r.cdc_status, r.sampled_at, l.accredited_until \
         FROM result r JOIN tube t ON t.id = r.tube_id LEFT JOIN lab l ON l.id = t.lab_id \
         WHERE r.current = 1 AND r.person_id IN (SELECT m.person_id FROM membership m \
           WHERE m.institution_id IN ({}) AND m.joined_on <= $1 AND (m.left_on IS NULL OR m.left_on > $2))",
        super::id_list(institution_ids)
    ))
    .bind(to.to_string())
    .bind(from.to_string())
    .fetch_all(conn)
    .await
    .map_err(in_table("result"))
}

/// A person's current result as a ledger weighs it.
#[derive(Debug, Clone, FromRow)]
pub struct WeighedRow {
    pub id: i64,
    pub person_id: i64,
    pub value: crate::domain::review::ResultValue,
    pub cdc_status: Option<crate::domain::status::Cdc>,
    pub sampled_at: i64,
    /// The testing lab's accreditation end (`YYYY-MM-DD`), if the tube reached a lab.
    pub accredited_until: Option<String>,
}

/// The current results of these people, with their labs' accreditation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn results_of_people(
    conn: &mut AnyConnection,
    person_ids: &[i64],
) -> Result<Vec<WeighedRow>, sqlx::Error> {
    let mut out = vec![];
    for chunk in person_ids.chunks(500) {
        let rows: Vec<WeighedRow> = sqlx::query_as(&format!(
            "SELECT r.id, r.person_id, r.value, r.cdc_status, r.sampled_at, l.accredited_until \
             FROM result r JOIN tube t ON t.id = r.tube_id LEFT JOIN lab l ON l.id = t.lab_id \
             WHERE r.current = 1 AND r.person_id IN ({})",
            super::id_list(chunk)
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(in_table("result"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// A ledger line's standing as judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub judged_by: i64,
    pub last_negative: Option<(i64, i64)>,
    pub covered_through: Option<i64>,
    pub hold: Option<(Hold, i64)>,
}

/// Writes the standing of memberships: one statement per 500 lines, the values inlined
/// (integers, and a hold's vocabulary code) and typed by the first row's casts.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_standing(tx: &mut Tx, lines: &[(i64, Standing)]) -> Result<(), sqlx::Error> {
    let int = |v: Option<i64>| v.map_or("NULL".to_string(), |n| n.to_string());
    for chunk in lines.chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, (id, s))| {
                let hold = s
                    .hold
                    .map_or("NULL".to_string(), |h| format!("'{}'", h.0.as_str()));
                let cells = [
                    id.to_string(),
                    s.judged_by.to_string(),
                    int(s.last_negative.map(|n| n.0)),
                    int(s.last_negative.map(|n| n.1)),
                    int(s.covered_through),
                    hold,
                    int(s.hold.map(|h| h.1)),
                ];
                let names = ["id", "j", "r", "a", "c", "h", "s"];
                let cells: Vec<String> = cells
                    .iter()
                    .zip(names)
                    .map(|(v, name)| match (i, name) {
                        (0, "h") => format!("CAST({v} AS TEXT) AS {name}"),
                        (0, _) => format!("CAST({v} AS BIGINT) AS {name}"),
                        _ => v.clone(),
                    })
                    .collect();
                format!("SELECT {}", cells.join(", "))
            })
            .collect();
        sqlx::query(&format!(
            "UPDATE membership SET judged_by = v.j, last_negative_id = v.r, last_negative_at = v.a, \
             covered_through = v.c, hold = v.h, hold_since = v.s \
             FROM ({}) v WHERE membership.id = v.id",
            rows.join(" UNION ALL ")
        ))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// An active membership of an institution.
#[derive(Debug, Clone, FromRow)]
pub struct ActiveRow {
    pub id: i64,
    pub person_id: i64,
    pub staff_class_id: i64,
}

/// The institution's active memberships.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn active_of_institution(
    conn: &mut AnyConnection,
    institution_id: i64,
) -> Result<Vec<ActiveRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, person_id, staff_class_id FROM membership WHERE institution_id = $1 AND state = 'active'",
    )
    .bind(institution_id)
    .fetch_all(conn)
    .await
}

/// The class of each of these people's active membership of the institution.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn active_classes(
    conn: &mut AnyConnection,
    institution_id: i64,
    person_ids: &[i64],
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let mut out = vec![];
    for chunk in person_ids.chunks(500) {
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
            "SELECT m.person_id, c.name FROM membership m JOIN staff_class c ON c.id = m.staff_class_id \
             WHERE m.institution_id = $1 AND m.state = 'active' AND m.person_id IN ({})",
            super::id_list(chunk)
        ))
        .bind(institution_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(in_table("membership"))?;
        out.extend(rows);
    }
    Ok(out)
}

/// A membership to start.
pub struct NewMembership {
    pub person_id: i64,
    pub staff_class_id: i64,
    pub judged_by: i64,
}

/// Starts memberships of one institution on `joined_on` (one statement per 500): their ids,
/// in order.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    tx: &mut Tx,
    institution_id: i64,
    rows: &[NewMembership],
    joined_on: &str,
    source: &str,
    at: i64,
    by: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|m| {
                format!(
                    "({institution_id}, {}, {}, 'active', $1, $2, {at}, $3, {})",
                    m.person_id, m.staff_class_id, m.judged_by
                )
            })
            .collect();
        let ids: Vec<(i64,)> = sqlx::query_as(&format!(
            "INSERT INTO membership (institution_id, person_id, staff_class_id, state, joined_on, source, \
             created_at, created_by, judged_by) VALUES {} RETURNING id",
            values.join(", ")
        ))
        .bind(joined_on.to_string())
        .bind(source.to_string())
        .bind(by.to_string())
        .fetch_all(tx.conn())
        .await?;
        out.extend(ids.into_iter().map(|(id,)| id));
    }
    Ok(out)
}

/// Ends memberships on `left_on` (a leaver, or the class they moved from).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn end(
    tx: &mut Tx,
    ids: &[i64],
    left_on: &str,
    at: i64,
    by: &str,
) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        sqlx::query(&format!(
            "UPDATE membership SET state = 'ended', left_on = $1, ended_at = $2, ended_by = $3 \
             WHERE state = 'active' AND id IN ({})",
            super::id_list(chunk)
        ))
        .bind(left_on.to_string())
        .bind(at)
        .bind(by.to_string())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// A person registered under a document, as a roster finds them.
#[derive(Debug, Clone, FromRow)]
pub struct KnownRow {
    pub id: i64,
    pub uid: String,
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub name: String,
}

/// The people registered under these documents (by the `(doc_type, doc_no)` index: one
/// statement per type and 500 numbers).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn people_by_documents(
    conn: &mut AnyConnection,
    documents: &[(DocumentType, &str)],
) -> Result<Vec<KnownRow>, sqlx::Error> {
    let mut out = vec![];
    for doc_type in DocumentType::ALL {
        let numbers: Vec<&str> = documents
            .iter()
            .filter(|(t, _)| t == doc_type)
            .map(|(_, n)| *n)
            .collect();
        for chunk in numbers.chunks(500) {
            let marks = (2..=chunk.len() + 1)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "SELECT id, uid, doc_type, doc_no, name FROM person WHERE doc_type = $1 AND doc_no IN ({marks})"
            );
            let mut q = sqlx::query_as(&sql).bind(*doc_type);
            for n in chunk {
                q = q.bind(n.to_string());
            }
            out.extend(q.fetch_all(&mut *conn).await.map_err(in_table("person"))?);
        }
    }
    Ok(out)
}

/// A person a roster registers.
pub struct NewStaff<'a> {
    pub uid: &'a str,
    pub doc_type: DocumentType,
    pub doc_no: &'a str,
    pub name: &'a str,
    pub phone: &'a str,
    pub sex: Option<crate::domain::id_number::Sex>,
    pub birth_date: Option<&'a str>,
}

/// Registers people (one statement per 400); those whose document another transaction
/// registered a moment ago are skipped. (person id, document number) of those written.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_people(
    tx: &mut Tx,
    people: &[NewStaff<'_>],
    institution_id: i64,
    at: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let mut out = Vec::with_capacity(people.len());
    for chunk in people.chunks(400) {
        let mut n = 0;
        let values: Vec<String> = chunk
            .iter()
            .map(|_| {
                let v = format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, {institution_id}, {at})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5,
                    n + 6,
                    n + 7
                );
                n += 7;
                v
            })
            .collect();
        let sql = format!(
            "INSERT INTO person (uid, doc_type, doc_no, name, phone, sex, birth_date, institution_id, created_at) \
             VALUES {} ON CONFLICT (doc_type, doc_no) DO NOTHING RETURNING id, doc_no",
            values.join(", ")
        );
        let mut q = sqlx::query_as(&sql);
        for p in chunk {
            q = q
                .bind(p.uid.to_string())
                .bind(p.doc_type)
                .bind(p.doc_no.to_string())
                .bind(p.name.to_string())
                .bind(p.phone.to_string())
                .bind(p.sex)
                .bind(p.birth_date.map(str::to_string));
        }
        out.extend(q.fetch_all(tx.conn()).await?);
    }
    Ok(out)
}

/// Records a roster applied.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert_upload(
    tx: &mut Tx,
    institution_id: i64,
    file_name: &str,
    sha256: &str,
    mode: &str,
    effective_on: &str,
    counts: [i64; 5],
    at: i64,
    by: &str,
) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO roster_upload (institution_id, file_name, sha256, mode, effective_on, row_count, joined, moved, \
         left_count, unchanged, applied_at, applied_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(institution_id)
    .bind(file_name.to_string())
    .bind(sha256.to_string())
    .bind(mode.to_string())
    .bind(effective_on.to_string())
    .bind(counts[0])
    .bind(counts[1])
    .bind(counts[2])
    .bind(counts[3])
    .bind(counts[4])
    .bind(at)
    .bind(by.to_string())
    .fetch_one(tx.conn())
    .await?;
    Ok(id)
}
