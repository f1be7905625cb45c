//! 自助登记 staff self-registration: the administrator prints a poster whose QR code carries a
//! link; a staff member scans it, fills in name, document, phone and class (checked as a roster
//! row is), and waits; the administrator approves — the person is registered (or found) and
//! joins the roster today, their ledger line judged at once — or rejects with a reason.
//!
//! The public side says nothing about who is on the roster or registered: every well-formed
//! request gets the same answer ("waiting for approval"), a second one for the same document is
//! the same request, and an address that sends many in a short time is told to wait.

use super::ledger::institution_for;
use super::persons;
use crate::actor::Actor;
use crate::domain::policy::{Action, Role, Scope};
use crate::domain::roster::{self, Problem};
use crate::error::Error;
use crate::store::enrolment::{self as store, Decision, LinkRow, NewRequest, RequestRow};
use crate::store::membership::{self, NewMembership};
use crate::store::programme;
use crate::store::registry;
use crate::store::time::to_db;
use crate::store::Tx;
use crate::view::enrolment::{EnrolmentForm, EnrolmentLink, EnrolmentReceipt, EnrolmentRequest};
use axum::http::StatusCode;
use base64::Engine;
use chrono::{Duration, FixedOffset};
use rand::RngCore;
use serde::Deserialize;
use sqlx::AnyConnection;
use std::collections::HashMap;
use utoipa::ToSchema;

/// Requests one address may send within [`WINDOW_MINUTES`] (a ward's staff on one Wi-Fi may
/// register together; a script may not fill the queue).
pub const MAX_PER_ADDRESS: i64 = 30;
pub const WINDOW_MINUTES: i64 = 10;
/// Pending requests an institution may have waiting: past it, a leaked poster cannot flood it.
pub const MAX_PENDING: i64 = 2000;

/// Who sends a public request, for the audit trail: a role that changes nothing, bound to a
/// site that does not exist (its scope covers nothing).
pub fn public_actor(address: &str) -> Actor {
    Actor {
        username: format!("public@{address}"),
        role: Role::Auditor,
        scope: Scope::Site {
            id: 0,
            code: "public".into(),
        },
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn link_view(code: &str, l: &LinkRow, tz: FixedOffset) -> EnrolmentLink {
    EnrolmentLink {
        institution: code.to_string(),
        token: l.token.clone(),
        path: format!("/join/{}", l.token),
        created_at: crate::store::time::from_db(l.created_at).with_timezone(&tz),
        created_by: l.created_by.clone(),
    }
}

/// The institution's live poster link, if it has one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn link(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    tz: FixedOffset,
) -> Result<Option<EnrolmentLink>, Error> {
    actor.require(Action::ManageStaff)?;
    let place = institution_for(conn, actor, code).await?;
    Ok(store::live_link(conn, place.id)
        .await?
        .map(|l| link_view(&place.code, &l, tz)))
}

/// Makes sure the institution has a live poster link (the same one again), or with `renew`
/// revokes it and starts another: the old poster's QR code stops working.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn issue_link(tx: &mut Tx, code: &str, renew: bool) -> Result<EnrolmentLink, Error> {
    let actor = tx.actor().clone();
    actor.require(Action::ManageStaff)?;
    let place = institution_for(tx.conn(), &actor, code).await?;
    let tz = tx.zone();
    let now = to_db(tx.now());
    if let Some(l) = store::live_link(tx.conn(), place.id).await? {
        if !renew {
            return Ok(link_view(&place.code, &l, tz));
        }
        store::revoke_links(tx, place.id, now, &actor.username).await?;
        tx.audit(
            "enrolment.revoke_link",
            "institution",
            &place.code,
            Some(&serde_json::json!({ "link": l.id })),
            None,
        );
    }
    let token = new_token();
    let id = store::insert_link(tx, place.id, &token, now, &actor.username).await?;
    tx.audit(
        "enrolment.issue_link",
        "institution",
        &place.code,
        None,
        Some(&serde_json::json!({ "link": id })),
    );
    let l = store::live_link(tx.conn(), place.id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the link just written vanished")))?;
    Ok(link_view(&place.code, &l, tz))
}

/// The live link a scanned token names: a revoked poster says so (and who to ask).
async fn live(conn: &mut AnyConnection, token: &str) -> Result<(LinkRow, String, String), Error> {
    let unknown = || {
        Error::not_found(
            "enrolment.unknown_link",
            "this registration link is not known: scan the QR code on your institution's poster again, or ask its administrator",
        )
    };
    if token.len() > 64
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(unknown());
    }
    let l = store::link_by_token(conn, token)
        .await?
        .ok_or_else(unknown)?;
    let place = registry::institution_by_id(conn, l.institution_id)
        .await?
        .ok_or_else(unknown)?;
    if l.revoked_at.is_some() {
        return Err(Error::new(
            StatusCode::GONE,
            "enrolment.link_replaced",
            format!(
                "{} has replaced this poster with a new one: ask its administrator (电话 {}) for the new QR code",
                place.name, place.phone
            ),
        ));
    }
    Ok((l, place.code, place.name))
}

/// The form a scanned poster opens: the institution and the classes to choose from.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn form(conn: &mut AnyConnection, token: &str) -> Result<EnrolmentForm, Error> {
    let (l, _, name) = live(conn, token).await?;
    let classes = programme::classes(conn, l.institution_id)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    Ok(EnrolmentForm {
        institution_name: name,
        classes,
    })
}

/// What a staff member fills in.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EnrolmentInput {
    pub name: String,
    /// `resident_id` (default), `passport`, … or as a roster writes it (身份证, 护照).
    #[serde(default)]
    pub doc_type: Option<String>,
    pub doc_no: String,
    pub phone: String,
    /// One of the institution's staff classes.
    pub class: String,
}

fn refused(problems: &[Problem]) -> Error {
    let first = &problems[0];
    Error::unprocessable("enrolment.invalid", {
        let all: Vec<String> = problems.iter().map(|p| format!("{}: {p}", p.field())).collect();
        all.join("; ")
    })
    .at(first.field())
    .with_details(serde_json::json!({
        "problems": problems.iter().map(|p| serde_json::json!({"field": p.field(), "code": p.code()})).collect::<Vec<_>>()
    }))
}

/// A staff member's request to join, from a scanned poster: checked as a roster row, throttled
/// per address, recorded pending. The same document's second request is the first one.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn submit(
    tx: &mut Tx,
    token: &str,
    input: &EnrolmentInput,
    address: &str,
) -> Result<EnrolmentReceipt, Error> {
    let (l, _, institution_name) = live(tx.conn(), token).await?;
    let now = tx.now();
    let (recent, pending) = store::pressure(
        tx.conn(),
        address,
        to_db(now - Duration::minutes(WINDOW_MINUTES)),
        l.institution_id,
    )
    .await?;
    if recent >= MAX_PER_ADDRESS || pending >= MAX_PENDING {
        return Err(Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "enrolment.too_many",
            format!("too many registrations at once; please try again in {WINDOW_MINUTES} minutes"),
        ));
    }
    let classes = programme::classes(tx.conn(), l.institution_id).await?;
    let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    let entry = roster::check_one(
        [
            &input.name,
            input.doc_type.as_deref().unwrap_or(""),
            &input.doc_no,
            &input.phone,
            &input.class,
        ],
        &names,
        tx.today(),
    )
    .map_err(|p| refused(&p))?;
    let class = classes
        .iter()
        .find(|c| c.name == entry.class)
        .ok_or_else(|| refused(&[Problem::UnknownClass(entry.class.clone())]))?;
    let id = store::insert_request(
        tx,
        &NewRequest {
            institution_id: l.institution_id,
            link_id: l.id,
            staff_class_id: class.id,
            name: &entry.name,
            doc_type: entry.document.doc_type,
            doc_no: &entry.document.number,
            phone: &entry.phone,
            address,
            at: to_db(now),
        },
    )
    .await?;
    if let Some(id) = id {
        tx.audit(
            "enrolment.submit",
            "enrolment",
            &id.to_string(),
            None,
            Some(&serde_json::json!({
                "name": crate::domain::mask::name(&entry.name),
                "doc_no": crate::domain::mask::document_number(&entry.document.number),
                "class": entry.class, "link": l.id,
            })),
        );
    }
    Ok(EnrolmentReceipt {
        institution_name,
        name: crate::domain::mask::name(&entry.name),
        class: entry.class,
        state: "pending".into(),
    })
}

/// Which requests to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct RequestQuery {
    /// `pending` (default), `approved` or `rejected`.
    pub state: Option<String>,
}

/// The institution's requests in a state, masked (pending: oldest first; at most 500).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn requests(
    conn: &mut AnyConnection,
    actor: &Actor,
    code: &str,
    q: &RequestQuery,
    tz: FixedOffset,
) -> Result<Vec<EnrolmentRequest>, Error> {
    actor.require(Action::ManageStaff)?;
    let place = institution_for(conn, actor, code).await?;
    let state = q.state.as_deref().unwrap_or("pending");
    if !matches!(state, "pending" | "approved" | "rejected") {
        return Err(Error::invalid(
            "state",
            format!("{state:?}: pending, approved or rejected"),
        ));
    }
    let rows = store::requests(conn, place.id, state, 500).await?;
    let documents: Vec<(crate::domain::id_number::DocumentType, &str)> = rows
        .iter()
        .map(|r| (r.doc_type, r.doc_no.as_str()))
        .collect();
    let known: HashMap<(crate::domain::id_number::DocumentType, String), i64> =
        membership::people_by_documents(conn, &documents)
            .await?
            .into_iter()
            .map(|k| ((k.doc_type, k.doc_no), k.id))
            .collect();
    let people: Vec<i64> = known.values().copied().collect();
    let classes: HashMap<i64, String> = membership::active_classes(conn, place.id, &people)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            let on_roster = known
                .get(&(r.doc_type, r.doc_no.clone()))
                .and_then(|p| classes.get(p).cloned());
            EnrolmentRequest::of(r, on_roster, tz)
        })
        .collect())
}

/// The person a request's document is registered to, if any.
async fn persons_known(conn: &mut AnyConnection, r: &RequestRow) -> Result<Option<i64>, Error> {
    Ok(
        membership::people_by_documents(conn, &[(r.doc_type, r.doc_no.as_str())])
            .await?
            .first()
            .map(|k| k.id),
    )
}

async fn pending_request(
    tx: &mut Tx,
    code: &str,
    id: i64,
) -> Result<(i64, String, RequestRow), Error> {
    let actor = tx.actor().clone();
    actor.require(Action::ManageStaff)?;
    let place = institution_for(tx.conn(), &actor, code).await?;
    let r = store::request(tx.conn(), place.id, id)
        .await?
        .ok_or_else(|| {
            Error::not_found(
                "enrolment.not_found",
                format!("no registration request {id} at {}", place.code),
            )
        })?;
    Ok((place.id, place.code, r))
}

/// Approves a pending request: the person is registered (or found by their document — the
/// name must match), joins the roster today in the class asked for, and their ledger line is
/// judged from the results they already have. Approving again answers the same; someone
/// already on the roster stays as they are.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn approve(tx: &mut Tx, code: &str, id: i64) -> Result<EnrolmentRequest, Error> {
    let (institution_id, inst_code, r) = pending_request(tx, code, id).await?;
    let tz = tx.zone();
    match r.state.as_str() {
        "pending" => {}
        "approved" => {
            let on = on_roster(tx, institution_id, &r).await?;
            return Ok(EnrolmentRequest::of(&r, on, tz));
        }
        _ => {
            return Err(Error::conflict(
                "enrolment.decided",
                format!("request {id} was rejected already; the person may register again"),
            ))
        }
    }
    let today = tx.today();
    let document = persons::parse_document(r.doc_type, &r.doc_no, today)?;
    let (person, created) = persons::find_or_create(
        tx,
        &document,
        &r.name,
        &r.phone,
        Some((institution_id, inst_code.clone())),
        today,
    )
    .await?;
    if created {
        persons::issue_code(tx, person.id, &person.uid).await?;
    }
    let existing = membership::active_classes(tx.conn(), institution_id, &[person.id]).await?;
    let by = tx.actor().username.clone();
    let now = to_db(tx.now());
    let membership_id = match existing.first() {
        Some(_) => None,
        None => {
            let version = current_version_of_class(tx, r.staff_class_id).await?;
            let ids = membership::insert(
                tx,
                institution_id,
                &[NewMembership {
                    person_id: person.id,
                    staff_class_id: r.staff_class_id,
                    judged_by: version,
                }],
                &today.to_string(),
                "self_registration",
                now,
                &by,
            )
            .await?;
            tx.audit(
                "staff.join",
                "person",
                &person.uid,
                None,
                Some(&serde_json::json!({
                    "institution": inst_code, "class": r.class, "on": today.to_string(),
                    "source": "self_registration", "request": id,
                })),
            );
            super::ledger::people_changed(tx, &[person.id]).await?;
            ids.first().copied()
        }
    };
    store::decide(
        tx,
        id,
        &Decision {
            state: "approved",
            at: now,
            by: &by,
            reason: None,
            person_id: Some(person.id),
            membership_id,
        },
    )
    .await?;
    tx.audit(
        "enrolment.approve",
        "enrolment",
        &id.to_string(),
        Some(&serde_json::json!({ "state": "pending" })),
        Some(&serde_json::json!({ "state": "approved", "person": person.uid, "joined": membership_id.is_some() })),
    );
    let r = store::request(tx.conn(), institution_id, id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the request just decided vanished")))?;
    let on = on_roster(tx, institution_id, &r).await?;
    Ok(EnrolmentRequest::of(&r, on, tz))
}

/// The current version of the programme a class follows.
async fn current_version_of_class(tx: &mut Tx, class_id: i64) -> Result<i64, Error> {
    programme::current_version_of_class(tx.conn(), class_id)
        .await?
        .ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "staff class {class_id} has no programme version"
            ))
        })
}

async fn on_roster(
    tx: &mut Tx,
    institution_id: i64,
    r: &RequestRow,
) -> Result<Option<String>, Error> {
    let Some(p) = persons_known(tx.conn(), r).await? else {
        return Ok(None);
    };
    Ok(membership::active_classes(tx.conn(), institution_id, &[p])
        .await?
        .into_iter()
        .next()
        .map(|(_, c)| c))
}

/// Rejects a pending request with a reason the person's administrator can tell them.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reject(
    tx: &mut Tx,
    code: &str,
    id: i64,
    reason: &str,
) -> Result<EnrolmentRequest, Error> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(Error::invalid(
            "reason",
            "say why, in at most 200 characters",
        ));
    }
    let (institution_id, _, r) = pending_request(tx, code, id).await?;
    let tz = tx.zone();
    match r.state.as_str() {
        "pending" => {}
        "rejected" => return Ok(EnrolmentRequest::of(&r, None, tz)),
        _ => {
            return Err(Error::conflict(
                "enrolment.decided",
                format!("request {id} was approved already; a leaver is ended by a roster"),
            ))
        }
    }
    let by = tx.actor().username.clone();
    store::decide(
        tx,
        id,
        &Decision {
            state: "rejected",
            at: to_db(tx.now()),
            by: &by,
            reason: Some(reason),
            person_id: None,
            membership_id: None,
        },
    )
    .await?;
    tx.audit(
        "enrolment.reject",
        "enrolment",
        &id.to_string(),
        Some(&serde_json::json!({ "state": "pending" })),
        Some(&serde_json::json!({ "state": "rejected", "reason": reason })),
    );
    let r = store::request(tx.conn(), institution_id, id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("the request just decided vanished")))?;
    Ok(EnrolmentRequest::of(&r, None, tz))
}
