//! 人员名单 rosters: an institution's staff file previewed — every row's problem named, what it
//! would change counted — and applied in one transaction: people registered, joins, class
//! changes and (for a full roster) leaves written as dated memberships, each audited, the new
//! members' ledger lines judged from the results they already have.

use crate::actor::Actor;
use crate::domain::id_number::DocumentType;
use crate::domain::mask;
use crate::domain::policy::Action;
use crate::domain::roster::{self, Known, Member, Plan, RosterMode};
use crate::error::Error;
use crate::store::membership::{self as store, NewMembership, NewStaff};
use crate::store::programme as programmes;
use crate::store::registry::InstitutionPlace;
use crate::store::time::to_db;
use crate::store::Tx;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

/// The largest roster file read (a 200,000-row workbook is well under it).
pub const MAX_FILE_BYTES: usize = 48 << 20;

/// Problems listed in a preview at most (the count says how many there are).
const LISTED: usize = 2000;

/// A roster file as uploaded.
#[derive(Debug, Clone)]
pub struct RosterFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// How to apply a roster.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
pub struct RosterOptions {
    /// `add` (joins and class changes; the default) or `full` (the whole staff: whoever is
    /// missing leaves).
    #[serde(default = "default_mode")]
    pub mode: RosterMode,
    /// The date joins and leaves take effect (default: today).
    pub effective_on: Option<NaiveDate>,
}

fn default_mode() -> RosterMode {
    RosterMode::Add
}

/// One row's problems.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowProblem {
    /// The line in the file (the header is line 1 of a CSV; a workbook's rows as Excel numbers them).
    pub line: usize,
    pub problems: Vec<ProblemView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemView {
    /// missing_name, missing_class, unknown_class, unknown_doc_type, invalid_document,
    /// number_not_text, invalid_phone, duplicate, name_mismatch
    pub code: String,
    pub message: String,
}

/// Someone a roster moves or lets go (masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Change {
    pub person: String,
    pub name: String,
    pub from_class: String,
    /// The new class; none for a leaver.
    pub to_class: Option<String>,
}

/// What a roster would do (a preview) or did (applied).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RosterReport {
    pub institution: String,
    pub file: String,
    pub sha256: String,
    pub mode: RosterMode,
    pub effective_on: NaiveDate,
    pub rows: usize,
    /// Rows with at least one problem.
    pub invalid: usize,
    pub joins: usize,
    /// Of the joins, people registered already (with results the ledger counts at once).
    pub joins_registered: usize,
    pub moves: usize,
    pub leaves: usize,
    pub unchanged: usize,
    /// Every row's problems (the first 2,000 rows with problems).
    pub problems: Vec<RowProblem>,
    /// Class changes and leavers (the first 2,000 of each).
    pub changes: Vec<Change>,
    /// Whether it can be applied as it is (no row has a problem).
    pub can_apply: bool,
    /// Written (an apply), or only looked at (a preview).
    pub applied: bool,
}

/// A file's data rows, each with its line.
type Rows = Vec<(usize, Vec<String>)>;

/// The rows of a file (each with its line) and its header's columns.
fn read(file: &RosterFile) -> Result<(roster::Columns, Rows), Error> {
    if file.bytes.len() > MAX_FILE_BYTES {
        return Err(Error::unprocessable(
            "roster.too_large",
            format!(
                "{}: {} bytes; a roster file has at most {MAX_FILE_BYTES} bytes",
                file.name,
                file.bytes.len()
            ),
        ));
    }
    let table = roster::read_table(&file.bytes).map_err(|e| {
        Error::unprocessable("roster.unreadable", format!("{}: {e}", file.name)).at("file")
    })?;
    let mut rows = table.into_iter();
    let Some((header_line, header)) = rows.next() else {
        return Err(Error::unprocessable(
            "roster.unreadable",
            format!("{}: the file has no rows", file.name),
        ));
    };
    let cols = roster::columns(&header).map_err(|missing| {
        Error::unprocessable(
            "roster.columns_missing",
            format!(
                "{} line {header_line}: no column for {}",
                file.name,
                missing.join(", ")
            ),
        )
        .at("file")
    })?;
    Ok((cols, rows.collect()))
}

/// A file read and checked against the institution, the registry and the active staff.
struct Planned {
    plan: Plan,
    sha256: String,
    /// class name → (class id, the current version of its programme)
    classes: HashMap<String, (i64, i64)>,
    /// Person id → (uid, registered name), for those the plan names.
    people: HashMap<i64, (String, String)>,
}

async fn planned(
    conn: &mut AnyConnection,
    place: &InstitutionPlace,
    file: &RosterFile,
    mode: RosterMode,
    today: NaiveDate,
) -> Result<Planned, Error> {
    let sha256 = hex::encode(sha2::Sha256::digest(&file.bytes));
    let current: HashMap<i64, i64> = programmes::current(conn)
        .await?
        .into_iter()
        .map(|p| (p.id, p.version_id))
        .collect();
    let mut classes = HashMap::new();
    let mut class_of_id = HashMap::new();
    for c in programmes::classes(conn, place.id).await? {
        let version = *current.get(&c.programme_id).ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "programme {} has no version",
                c.programme_code
            ))
        })?;
        class_of_id.insert(c.id, c.name.clone());
        classes.insert(c.name, (c.id, version));
    }
    let names: Vec<String> = classes.keys().cloned().collect();
    let checked = {
        let f = file.clone();
        tokio::task::spawn_blocking(move || {
            let (cols, rows) = read(&f)?;
            Ok::<_, Error>(roster::check(cols, &rows, &names, today))
        })
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("reading the roster: {e}")))??
    };
    let numbers: Vec<(DocumentType, &str)> = checked
        .iter()
        .filter_map(|c| c.result.as_ref().ok())
        .map(|e| (e.document.doc_type, e.document.number.as_str()))
        .collect();
    let mut known: HashMap<(DocumentType, String), Known> = HashMap::new();
    let mut people = HashMap::new();
    for k in store::people_by_documents(conn, &numbers).await? {
        people.insert(k.id, (k.uid, k.name.clone()));
        known.insert(
            (k.doc_type, k.doc_no),
            Known {
                person: k.id,
                name: k.name,
            },
        );
    }
    let mut active = HashMap::new();
    let mut absent = vec![];
    for a in store::active_of_institution(conn, place.id).await? {
        let class = class_of_id
            .get(&a.staff_class_id)
            .cloned()
            .unwrap_or_default();
        if !people.contains_key(&a.person_id) {
            absent.push(a.person_id);
        }
        active.insert(
            a.person_id,
            Member {
                membership: a.id,
                class,
            },
        );
    }
    let plan = roster::plan(checked, &known, &active, mode, mask::name);
    if !plan.leaves.is_empty() {
        for p in crate::store::person::by_ids(conn, &absent).await? {
            people.insert(p.id, (p.uid, p.name));
        }
    }
    Ok(Planned {
        plan,
        sha256,
        classes,
        people,
    })
}

fn effective(o: &RosterOptions, today: NaiveDate) -> Result<NaiveDate, Error> {
    let on = o.effective_on.unwrap_or(today);
    if on > today + Duration::days(31) || on < today - Duration::days(366) {
        return Err(Error::invalid(
            "effective_on",
            format!(
                "{on} is more than a month ahead or a year back; a roster takes effect near today"
            ),
        ));
    }
    Ok(on)
}

fn report(
    place: &InstitutionPlace,
    file: &RosterFile,
    o: &RosterOptions,
    on: NaiveDate,
    p: &Planned,
    applied: bool,
) -> RosterReport {
    let plan = &p.plan;
    let person = |id: i64| {
        p.people
            .get(&id)
            .map(|(uid, name)| (uid.clone(), mask::name(name)))
            .unwrap_or_default()
    };
    let mut changes: Vec<Change> = plan
        .moves
        .iter()
        .take(LISTED)
        .map(|m| {
            let (uid, name) = person(m.person);
            Change {
                person: uid,
                name,
                from_class: m.from.class.clone(),
                to_class: Some(m.to.clone()),
            }
        })
        .collect();
    changes.extend(plan.leaves.iter().take(LISTED).map(|(id, m)| {
        let (uid, name) = person(*id);
        Change {
            person: uid,
            name,
            from_class: m.class.clone(),
            to_class: None,
        }
    }));
    RosterReport {
        institution: place.code.clone(),
        file: file.name.clone(),
        sha256: p.sha256.clone(),
        mode: o.mode,
        effective_on: on,
        rows: plan.rows,
        invalid: plan.problems.len(),
        joins: plan.joins.len(),
        joins_registered: plan.joins.iter().filter(|j| j.person.is_some()).count(),
        moves: plan.moves.len(),
        leaves: plan.leaves.len(),
        unchanged: plan.unchanged,
        problems: plan
            .problems
            .iter()
            .take(LISTED)
            .map(|(line, ps)| RowProblem {
                line: *line,
                problems: ps
                    .iter()
                    .map(|pr| ProblemView {
                        code: pr.code().to_string(),
                        message: mask::redact_ids(&pr.to_string()),
                    })
                    .collect(),
            })
            .collect(),
        changes,
        can_apply: plan.problems.is_empty(),
        applied,
    }
}

/// What applying a roster would do, with nothing written.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn preview(
    conn: &mut AnyConnection,
    actor: &Actor,
    institution: &str,
    file: &RosterFile,
    o: RosterOptions,
    today: NaiveDate,
) -> Result<RosterReport, Error> {
    actor.require(Action::ManageStaff)?;
    let place = super::ledger::institution_for(conn, actor, institution).await?;
    let on = effective(&o, today)?;
    let p = planned(conn, &place, file, o.mode, today).await?;
    Ok(report(&place, file, &o, on, &p, false))
}

/// How far an apply has come: (stage, done, of).
pub type Progress<'a> = &'a (dyn Fn(&str, usize, usize) + Send + Sync);

/// Applies a roster in this transaction: refused whole while any row has a problem.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn apply(
    tx: &mut Tx,
    institution: &str,
    file: &RosterFile,
    o: RosterOptions,
    progress: Option<Progress<'_>>,
) -> Result<RosterReport, Error> {
    tx.actor().require(Action::ManageStaff)?;
    let today = tx.today();
    let actor = tx.actor().clone();
    let place = super::ledger::institution_for(tx.conn(), &actor, institution).await?;
    let on = effective(&o, today)?;
    let tell = |stage: &str, done: usize, of: usize| {
        if let Some(p) = progress {
            p(stage, done, of)
        }
    };
    tell("checked", 0, 0);
    let mut p = planned(tx.conn(), &place, file, o.mode, today).await?;
    if !p.plan.problems.is_empty() {
        let first: Vec<String> = p
            .plan
            .problems
            .iter()
            .take(3)
            .map(|(line, ps)| {
                let what: Vec<String> = ps
                    .iter()
                    .map(|x| mask::redact_ids(&x.to_string()))
                    .collect();
                format!("line {line}: {}", what.join("; "))
            })
            .collect();
        return Err(Error::unprocessable(
            "roster.invalid_rows",
            format!(
                "{}: {} of {} rows have problems ({}{}); nothing was written — fix the file and preview it again",
                file.name,
                p.plan.problems.len(),
                p.plan.rows,
                first.join(" · "),
                if p.plan.problems.len() > 3 { " …" } else { "" }
            ),
        )
        .at("file"));
    }
    let now = to_db(tx.now());
    let by = actor.username.clone();
    let on_text = on.to_string();
    let summary = serde_json::json!({
        "file": file.name, "sha256": p.sha256, "mode": o.mode, "effective_on": on_text,
        "rows": p.plan.rows, "joins": p.plan.joins.len(), "moves": p.plan.moves.len(),
        "leaves": p.plan.leaves.len(), "unchanged": p.plan.unchanged,
    });
    tx.begin_bulk("roster.apply", "institution", &place.code, Some(&summary))
        .await?;

    // New people first: registered in bulk; one registered by someone else a moment ago is
    // read back by document.
    let fresh: Vec<&roster::Join> = p.plan.joins.iter().filter(|j| j.person.is_none()).collect();
    let uids: Vec<String> = fresh
        .iter()
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let demographics: Vec<(Option<crate::domain::id_number::Sex>, Option<String>)> = fresh
        .iter()
        .map(|j| match j.entry.document.demographics() {
            Some((b, s)) => (Some(s), Some(b.to_string())),
            None => (None, None),
        })
        .collect();
    let staff: Vec<NewStaff<'_>> = fresh
        .iter()
        .zip(&uids)
        .zip(&demographics)
        .map(|((j, uid), (sex, birth))| NewStaff {
            uid,
            doc_type: j.entry.document.doc_type,
            doc_no: &j.entry.document.number,
            name: &j.entry.name,
            phone: &j.entry.phone,
            sex: *sex,
            birth_date: birth.as_deref(),
        })
        .collect();
    let mut registered: HashMap<(DocumentType, String), (i64, String)> = HashMap::new();
    let total = staff.len();
    for (i, chunk) in staff.chunks(4000).enumerate() {
        let written = store::insert_people(tx, chunk, place.id, now).await?;
        let by_no: HashMap<String, i64> = written.into_iter().map(|(id, no)| (no, id)).collect();
        for s in chunk {
            if let Some(id) = by_no.get(s.doc_no) {
                registered.insert((s.doc_type, s.doc_no.to_string()), (*id, s.uid.to_string()));
            }
        }
        tell("people", (i * 4000 + chunk.len()).min(total), total);
    }
    let missing: Vec<(DocumentType, &str)> = staff
        .iter()
        .filter(|s| !registered.contains_key(&(s.doc_type, s.doc_no.to_string())))
        .map(|s| (s.doc_type, s.doc_no))
        .collect();
    if !missing.is_empty() {
        for k in store::people_by_documents(tx.conn(), &missing).await? {
            registered.insert((k.doc_type, k.doc_no.clone()), (k.id, k.uid.clone()));
            p.people.insert(k.id, (k.uid, k.name));
        }
    }
    for j in &fresh {
        let key = (j.entry.document.doc_type, j.entry.document.number.clone());
        let (id, uid) = registered.get(&key).cloned().ok_or_else(|| {
            Error::internal(anyhow::anyhow!("a roster's person was not registered"))
        })?;
        p.people.insert(id, (uid.clone(), j.entry.name.clone()));
        tx.audit(
            "person.register",
            "person",
            &uid,
            None,
            Some(&serde_json::json!({
                "doc_type": j.entry.document.doc_type,
                "doc_no": mask::document_number(&j.entry.document.number),
                "name": mask::name(&j.entry.name), "institution": place.code,
            })),
        );
    }

    // Class changes and leavers end their membership on the effective day.
    let ending: Vec<i64> = p
        .plan
        .moves
        .iter()
        .map(|m| m.from.membership)
        .chain(p.plan.leaves.iter().map(|l| l.1.membership))
        .collect();
    store::end(tx, &ending, &on_text, now, &by).await?;
    let class = |name: &str| {
        p.classes.get(name).copied().ok_or_else(|| {
            Error::internal(anyhow::anyhow!("class {name} vanished during the roster"))
        })
    };
    let mut starting = Vec::with_capacity(p.plan.joins.len() + p.plan.moves.len());
    let mut judge_now = vec![];
    for j in &p.plan.joins {
        let key = (j.entry.document.doc_type, j.entry.document.number.clone());
        let person = match j.person {
            Some(id) => {
                judge_now.push(id);
                id
            }
            None => registered.get(&key).map(|r| r.0).unwrap_or_default(),
        };
        let (staff_class_id, judged_by) = class(&j.entry.class)?;
        starting.push(NewMembership {
            person_id: person,
            staff_class_id,
            judged_by,
        });
    }
    for m in &p.plan.moves {
        let (staff_class_id, judged_by) = class(&m.to)?;
        judge_now.push(m.person);
        starting.push(NewMembership {
            person_id: m.person,
            staff_class_id,
            judged_by,
        });
    }
    tell("memberships", 0, starting.len());
    store::insert(tx, place.id, &starting, &on_text, "roster", now, &by).await?;
    tell("memberships", starting.len(), starting.len());
    let uid_of = |id: i64| p.people.get(&id).map(|x| x.0.clone()).unwrap_or_default();
    for (j, m) in p.plan.joins.iter().zip(&starting) {
        tx.audit(
            "staff.join",
            "person",
            &uid_of(m.person_id),
            None,
            Some(&serde_json::json!({
                "institution": place.code, "class": j.entry.class, "on": on_text, "line": j.line,
            })),
        );
    }
    for m in &p.plan.moves {
        tx.audit(
            "staff.change_class",
            "person",
            &uid_of(m.person),
            Some(&serde_json::json!({ "institution": place.code, "class": m.from.class })),
            Some(&serde_json::json!({ "institution": place.code, "class": m.to, "on": on_text, "line": m.line })),
        );
    }
    for (person, m) in &p.plan.leaves {
        tx.audit(
            "staff.leave",
            "person",
            &uid_of(*person),
            Some(&serde_json::json!({ "institution": place.code, "class": m.class })),
            Some(&serde_json::json!({ "institution": place.code, "left_on": on_text })),
        );
    }
    // Those registered before may have results already: their new lines count them now.
    super::ledger::people_changed(tx, &judge_now).await?;
    tx.end_bulk();
    let counts = [
        p.plan.rows as i64,
        p.plan.joins.len() as i64,
        p.plan.moves.len() as i64,
        p.plan.leaves.len() as i64,
        p.plan.unchanged as i64,
    ];
    store::insert_upload(
        tx,
        place.id,
        &file.name,
        &p.sha256,
        o.mode.as_str(),
        &on_text,
        counts,
        now,
        &by,
    )
    .await?;
    tell("done", 1, 1);
    Ok(report(&place, file, &o, on, &p, true))
}
