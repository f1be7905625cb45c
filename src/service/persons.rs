//! People: registered by their identity document (the same document is the same person),
//! optionally pre-registered with a personal code that collectors scan.

use super::{parse_opt_text, parse_text, snapshot};
use crate::actor::Actor;
use crate::domain::id_number::{Document, DocumentType};
use crate::domain::policy::{Action, Scope};
use crate::domain::{mask, personal_code};
use crate::error::Error;
use crate::store::person::{self as store, PersonRow};
use crate::store::{is_unique_violation, Tx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// A person as registered at a site or in advance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonInput {
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub name: String,
    pub phone: String,
    /// Code of the institution that employs the person, for routine staff testing.
    #[serde(default)]
    pub institution: Option<String>,
}

/// How a collector identifies a person at the tube: the personal code from a QR scan, or
/// the document (with name and phone for someone not yet registered).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonScan {
    /// Personal code (个人码) as scanned — or a booking code (预约码, `B…`) of the tube's site
    /// for today: the person of the booking, and the booking used.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub doc_type: Option<DocumentType>,
    #[serde(default)]
    pub doc_no: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

pub(crate) fn parse_document(
    doc_type: DocumentType,
    doc_no: &str,
    today: NaiveDate,
) -> Result<Document, Error> {
    Document::parse(doc_type, doc_no, today).map_err(|e| {
        let code = if doc_type == DocumentType::ResidentId {
            "id_number.invalid"
        } else {
            "document.invalid"
        };
        Error::unprocessable(code, e.to_string()).at("doc_no")
    })
}

pub(crate) fn parse_phone(input: &str) -> Result<String, Error> {
    let s: String = input
        .trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    let digits = s.strip_prefix('+').unwrap_or(&s);
    if digits.len() < 5 || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "phone",
            format!("{input:?} is not a phone number"),
        ));
    }
    Ok(s)
}

async fn find_by_document(
    conn: &mut AnyConnection,
    doc: &Document,
) -> Result<Option<PersonRow>, Error> {
    Ok(store::by_document(conn, doc.doc_type, &doc.number).await?)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find(conn: &mut AnyConnection, actor: &Actor, uid: &str) -> Result<PersonRow, Error> {
    actor.require(Action::ViewPerson)?;
    in_scope(conn, actor, uid, Reach::Masked).await
}

/// Finds a person by what a person at a desk has in hand — a personal code, an ID card number,
/// or another document with its type — within the caller's scope (someone outside it is
/// answered exactly as nobody: `person.not_found`). The document is checked first (a wrong
/// check character is named).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lookup(
    conn: &mut AnyConnection,
    actor: &Actor,
    doc_type: Option<DocumentType>,
    query: &str,
    today: NaiveDate,
) -> Result<PersonRow, Error> {
    actor.require(Action::ViewStatus)?;
    let query = query.trim();
    if query.is_empty() {
        return Err(Error::invalid(
            "q",
            "give a personal code or a document number",
        ));
    }
    let row = match (doc_type, personal_code::recognise(query)) {
        (None, Some(code)) => store::by_code(&mut *conn, &code).await?,
        (doc_type, _) => {
            let doc = parse_document(doc_type.unwrap_or(DocumentType::ResidentId), query, today)?;
            find_by_document(&mut *conn, &doc).await?
        }
    };
    let nobody = || Error::not_found("person.not_found", "no such person (or not in your scope)");
    let Some(row) = row else {
        return Err(nobody());
    };
    if !covers_person(conn, &actor.scope, &row, Reach::Masked).await? {
        return Err(nobody());
    }
    Ok(row)
}

/// The person with a public id, if the caller's scope covers them at that reach; otherwise
/// 404, exactly as for an id nobody has (a person outside the scope does not exist for the
/// caller). The caller's role was checked.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn in_scope(
    conn: &mut AnyConnection,
    actor: &Actor,
    uid: &str,
    reach: Reach,
) -> Result<PersonRow, Error> {
    let row = store::by_uid(conn, uid.trim()).await?;
    let covered = match &row {
        Some(r) => covers_person(conn, &actor.scope, r, reach).await?,
        None => false,
    };
    row.filter(|_| covered)
        .ok_or_else(|| Error::not_found("person.not_found", format!("no person with id {uid}")))
}

/// The refusal of a document registered to someone else's name (a mistyped ID number or name
/// is the commonest binding error at a collection site).
/// Nothing of the registered person is shown (not their name, id, age or institution): anyone
/// who can register people could otherwise look citizens up by document number.
fn name_mismatch(doc: &Document, name: &str) -> Error {
    Error::conflict(
        "person.name_mismatch",
        format!(
            "document {} is registered to another name than {}: check the ID number and the name",
            mask::document_number(&doc.number),
            mask::name(name),
        ),
    )
    .at("name")
}

/// A new person, registered in the transaction; `None` when the document is registered
/// already (perhaps a moment ago, by another request or node).
async fn insert(
    tx: &mut Tx,
    doc: &Document,
    name: &str,
    phone: &str,
    institution: Option<(i64, String)>,
    today: NaiveDate,
) -> Result<Option<PersonRow>, Error> {
    let (sex, birth) = match doc.demographics() {
        Some((b, s)) => (Some(s), Some(b.to_string())),
        None => (None, None),
    };
    let uid = uuid::Uuid::new_v4().to_string();
    let registered_site_id = match &tx.actor().scope {
        Scope::Site { id, .. } => Some(*id),
        _ => None,
    };
    let created_at = crate::store::time::to_db(tx.now());
    let inserted = store::insert(
        tx.conn(),
        &store::NewPerson {
            uid: &uid,
            doc_type: doc.doc_type,
            doc_no: &doc.number,
            name,
            phone,
            sex,
            birth_date: birth.as_deref(),
            institution_id: institution.as_ref().map(|i| i.0),
            registered_site_id,
            created_at,
        },
    )
    .await?;
    let Some(id) = inserted else {
        return Ok(None);
    };
    let row = PersonRow {
        id,
        uid,
        doc_type: doc.doc_type,
        doc_no: doc.number.clone(),
        name: name.to_string(),
        phone: phone.to_string(),
        sex,
        birth_date: birth,
        personal_code: None,
        institution_code: institution.map(|i| i.1),
    };
    tx.audit(
        "person.register",
        "person",
        &row.uid,
        None,
        Some(&snapshot(&row.view(today))),
    );
    Ok(Some(row))
}

/// The person registered under a document, or registered now; `true` when new.
pub(crate) async fn find_or_create(
    tx: &mut Tx,
    doc: &Document,
    name: &str,
    phone: &str,
    institution: Option<(i64, String)>,
    today: NaiveDate,
) -> Result<(PersonRow, bool), Error> {
    if let Some(row) = insert(tx, doc, name, phone, institution, today).await? {
        return Ok((row, true));
    }
    let existing = find_by_document(tx.conn(), doc)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("person vanished after conflict")))?;
    if existing.name != name {
        return Err(name_mismatch(doc, name));
    }
    Ok((existing, false))
}

/// Pre-registers a person and gives them a personal code (printable as a QR code). Registering
/// the same document again returns the same person and code.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn register(
    tx: &mut Tx,
    input: PersonInput,
    today: NaiveDate,
) -> Result<(PersonRow, bool), Error> {
    tx.actor().require(Action::RegisterPerson)?;
    let doc = parse_document(input.doc_type, &input.doc_no, today)?;
    let name = parse_text("name", &input.name, 100)?;
    let phone = parse_phone(&input.phone)?;
    let mut institution = parse_opt_text("institution", input.institution.as_deref(), 32)?;
    // An institution's administrator registers the institution's own staff.
    if let Scope::Institution { code, .. } = &tx.actor().scope {
        match institution.as_deref() {
            Some(given) if !given.eq_ignore_ascii_case(code) => {
                return Err(tx.actor().out_of_scope(&format!("institution {given}")))
            }
            _ => institution = Some(code.clone()),
        }
    }
    let institution = match institution {
        Some(code) => Some(super::registry::institution_id(tx.conn(), "institution", &code).await?),
        None => None,
    };
    let (mut row, created) = find_or_create(tx, &doc, &name, &phone, institution, today).await?;
    if row.personal_code.is_none() {
        row.personal_code = match issue_code(tx, row.id, &row.uid).await? {
            Some(code) => Some(code),
            // Another node issued a code a moment ago: that one is the person's code.
            None => find_by_document(tx.conn(), &doc)
                .await?
                .and_then(|r| r.personal_code),
        };
    }
    Ok((row, created))
}

/// Gives a person without a personal code a new one (printable as a QR code), audited; `None`
/// when another node issued one a moment ago.
pub(crate) async fn issue_code(tx: &mut Tx, id: i64, uid: &str) -> Result<Option<String>, Error> {
    for attempt in 0.. {
        let code = personal_code::generate(&mut rand::thread_rng());
        let updated = match store::set_personal_code(tx.conn(), id, &code).await {
            Err(e) if is_unique_violation(&e) && attempt < 5 => continue,
            r => r?,
        };
        if !updated {
            return Ok(None);
        }
        tx.audit(
            "person.issue_code",
            "person",
            uid,
            None,
            Some(&serde_json::json!({ "personal_code": code })),
        );
        return Ok(Some(code));
    }
    Err(Error::internal(anyhow::anyhow!("no free personal code")))
}

/// A person identified by a scan at the tube, before the write transaction: someone
/// registered, or someone to register in it.
#[derive(Debug, Clone)]
pub enum Identified {
    Known(PersonRow),
    New {
        doc: Document,
        name: String,
        phone: String,
    },
}

/// Identifies the person a scan names — by personal code, or by document — and checks what
/// can be checked without the write lock: the code, the document, the name against the
/// registered one. Errors name the request field.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn identify(
    conn: &mut AnyConnection,
    scan: &PersonScan,
    today: NaiveDate,
) -> Result<Identified, Error> {
    if let Some(raw) = scan.code.as_deref().filter(|c| !c.trim().is_empty()) {
        let Some(code) = personal_code::recognise(raw) else {
            // A tube barcode scanned where a person belongs: never pool a pool.
            if let Some(kind) = crate::store::tube::kind_of(&mut *conn, raw.trim()).await? {
                return Err(Error::unprocessable(
                    "tube.nested_pool",
                    format!(
                        "{} is the barcode of a {kind} tube; a tube cannot be put into another tube (never pool pools)",
                        raw.trim()
                    ),
                )
                .at("code"));
            }
            return Err(Error::invalid(
                "code",
                format!(
                    "{:?} is not a personal code (P + 10 characters with a valid check character)",
                    raw.trim()
                ),
            ));
        };
        return match store::by_code(conn, &code).await? {
            Some(row) => Ok(Identified::Known(row)),
            None => Err(Error::unprocessable(
                "person.code_unknown",
                format!("no person has personal code {code}"),
            )
            .at("code")),
        };
    }
    let (Some(doc_type), Some(doc_no)) = (scan.doc_type, scan.doc_no.as_deref()) else {
        return Err(Error::invalid(
            "person",
            "identify the person by personal code, or by doc_type and doc_no",
        ));
    };
    let doc = parse_document(doc_type, doc_no, today)?;
    let name = scan
        .name
        .as_deref()
        .map(|n| parse_text("name", n, 100))
        .transpose()?;
    let phone = scan.phone.as_deref().map(parse_phone).transpose()?;
    match (find_by_document(conn, &doc).await?, name, phone) {
        (Some(existing), Some(name), _) if existing.name != name => Err(name_mismatch(&doc, &name)),
        (Some(existing), _, _) => Ok(Identified::Known(existing)),
        (None, Some(name), Some(phone)) => Ok(Identified::New { doc, name, phone }),
        (None, None, _) => Err(Error::invalid(
            "name",
            "a person not yet registered needs a name and a phone number",
        )),
        (None, Some(_), None) => Err(Error::invalid(
            "phone",
            "a person not yet registered needs a phone number",
        )),
    }
}

/// The person row for an identified person, registering a new one in the transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn bind(tx: &mut Tx, who: Identified, today: NaiveDate) -> Result<PersonRow, Error> {
    match who {
        Identified::Known(row) => Ok(row),
        Identified::New { doc, name, phone } => {
            Ok(find_or_create(tx, &doc, &name, &phone, None, today)
                .await?
                .0)
        }
    }
}

/// A person's full record, if the caller's scope covers them: a lab's reviewers see the people of
/// their lab's tubes, a region's CDC reviewers the people of its positive tubes (a positive
/// person, or every member of a positive pool), admins everyone. Each view is audited, and so
/// is each refusal (`None`: the caller is told there is no such person); the refusal's audit
/// commits with the transaction.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn unmasked(tx: &mut Tx, uid: &str) -> Result<Option<PersonRow>, Error> {
    tx.actor().require(Action::ViewUnmasked)?;
    let row = store::by_uid(tx.conn(), uid.trim()).await?;
    let covered = match &row {
        Some(r) => {
            let scope = tx.actor().scope.clone();
            covers_person(tx.conn(), &scope, r, Reach::Full).await?
        }
        None => false,
    };
    let Some(row) = row.filter(|_| covered) else {
        tx.audit("person.view_unmasked_refused", "person", uid, None, None);
        return Ok(None);
    };
    tx.audit("person.view_unmasked", "person", &row.uid, None, None);
    Ok(Some(row))
}

/// How much of a person a view shows, for the scope rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Masked record, status, results, history.
    Masked,
    /// Full identity (ID number, name, phone).
    Full,
}

/// Whether a person lies in a scope. A site covers the people it registered and the people of
/// its tubes; a lab the people of the tubes it received or is sent; an institution its staff;
/// a region the people of its sites' tubes — and in full only those of its positive tubes (a
/// positive person, or every member of a positive pool).
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) async fn covers_person(
    conn: &mut AnyConnection,
    scope: &Scope,
    person: &PersonRow,
    reach: Reach,
) -> Result<bool, Error> {
    Ok(match scope {
        Scope::Everywhere => true,
        Scope::Institution { code, .. } => {
            reach == Reach::Masked && person.institution_code.as_deref() == Some(code.as_str())
        }
        Scope::Site { id, .. } => store::seen_at_site(conn, person.id, *id).await?,
        Scope::Lab { id, .. } => store::seen_by_lab(conn, person.id, *id).await?,
        Scope::Region(region) => {
            store::seen_in_region(conn, person.id, region, reach == Reach::Full).await?
        }
    })
}
