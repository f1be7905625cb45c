//! 结果查询 a member of the public looks up their own results (no login): their document number,
//! the last four digits of their phone, and a code they hold (their personal code, or the code
//! of a booking made with that document). Five failures on a document within an hour lock it
//! for an hour — the same for a document nobody has, so the lockout tells nothing — and twenty
//! from one address make it wait. A success opens an access for 30 minutes: the masked history,
//! the current status, and the certificates of negatives.

use super::persons;
use crate::domain::id_number::DocumentType;
use crate::domain::lookup as rules;
use crate::domain::mask;
use crate::domain::review::ResultValue;
use crate::error::Error;
use crate::store::certificate as store;
use crate::store::person::PersonRow;
use crate::store::time::{from_db, show, to_db};
use crate::store::Tx;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use utoipa::ToSchema;

/// What a person gives to see their results.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct LookupInput {
    #[serde(default)]
    pub doc_type: Option<DocumentType>,
    pub doc_no: String,
    /// The last four digits of the phone registered with the sample.
    pub phone_last4: String,
    /// The personal code (`P…`) or a booking code (`B…`) made with this document.
    pub code: String,
}

/// One of the person's results as they see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyResult {
    pub id: i64,
    /// `negative`, `positive`, `invalid`…
    pub value: ResultValue,
    pub sampled_at: DateTime<FixedOffset>,
    pub released_at: DateTime<FixedOffset>,
    pub lab: String,
    pub lab_phone: String,
    /// A certificate can be had for it (a current negative).
    pub certifiable: bool,
    /// The certificate issued for it, if one was.
    pub certificate: Option<String>,
}

/// A person's own results, through an access that expires.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyResults {
    /// The access (send it back to read again or to get a certificate); given once, kept as a
    /// hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    pub expires_at: DateTime<FixedOffset>,
    /// Masked.
    pub name: String,
    /// Masked.
    pub doc_no: String,
    /// `no_result`, `negative`, `pending_recheck`, `needs_resampling`, `positive_preliminary`,
    /// `positive_confirmed`.
    pub status: String,
    pub valid_until: Option<DateTime<FixedOffset>>,
    /// Current results, newest sample first.
    pub results: Vec<MyResult>,
}

/// How a lookup ended: found, or (recorded as a failure, after the transaction commits) not.
pub enum Lookup {
    Found(Box<MyResults>),
    NoMatch { left: usize },
    Locked { until: DateTime<Utc> },
}

impl Lookup {
    /// The answer, or the error that says what happened and what to do.
    pub fn answer(self, tz: FixedOffset) -> Result<MyResults, Error> {
        match self {
            Lookup::Found(r) => Ok(*r),
            Lookup::NoMatch { left } => Err(Error::not_found(
                "lookup.no_match",
                format!(
                    "no results match this document number, phone digits and code; {left} more \
                     tries within the hour before this document is locked for an hour"
                ),
            )
            .with_details(serde_json::json!({ "attempts_left": left }))),
            Lookup::Locked { until } => Err(Error::new(
                StatusCode::LOCKED,
                "lookup.locked",
                format!(
                    "too many failed tries for this document: locked until {}. If you did not make \
                     them, call {} (the health hotline) or the lab that tested you",
                    until.with_timezone(&tz).format("%H:%M"),
                    rules::HOTLINE
                ),
            )
            .with_details(serde_json::json!({
                "locked_until": until.with_timezone(&tz), "hotline": rules::HOTLINE,
            }))),
        }
    }
}

fn hash(tx_key: Option<&crate::audit_key::AuditKey>, what: &str) -> String {
    match tx_key {
        // Keyed: a stolen table cannot be matched against every ID number.
        Some(k) => k.mac(what.as_bytes()),
        None => hex::encode(Sha256::digest(what.as_bytes())),
    }
}

/// Looks a person's results up (no login). Failures are written as attempts and answered as
/// [`Lookup::NoMatch`] / [`Lookup::Locked`] so that they commit.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn look_up(tx: &mut Tx, input: &LookupInput, address: &str) -> Result<Lookup, Error> {
    let now = tx.now();
    let since = to_db(now - Duration::minutes(rules::WINDOW_MINUTES));
    if store::failures_from_address(tx.conn(), address, since).await? >= rules::MAX_ADDRESS_FAILURES
    {
        return Err(Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "lookup.too_many",
            format!(
                "too many failed lookups from here; please try again in {} minutes",
                rules::WINDOW_MINUTES
            ),
        ));
    }
    let doc = persons::parse_document(
        input.doc_type.unwrap_or(DocumentType::ResidentId),
        &input.doc_no,
        tx.today(),
    )?;
    let four = rules::last_four(&input.phone_last4).ok_or_else(|| {
        Error::invalid(
            "phone_last4",
            "the last four digits of your phone, e.g. 5678",
        )
    })?;
    let code = input.code.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err(Error::invalid(
            "code",
            "your personal code (P…) or the code of your booking (B…)",
        ));
    }
    let doc_hash = hash(
        tx.audit_key(),
        &format!("lookup:{:?}:{}", doc.doc_type, doc.number),
    );
    let failures: Vec<DateTime<Utc>> = store::failures_of_document(tx.conn(), &doc_hash, since)
        .await?
        .into_iter()
        .map(from_db)
        .collect();
    if let Some(until) = rules::locked_until(&failures, now) {
        return Ok(Lookup::Locked { until });
    }
    let person = crate::store::person::by_document(tx.conn(), doc.doc_type, &doc.number).await?;
    let matched = match person {
        Some(p) if rules::phone_matches(&p.phone, &four) && holds(tx, &p, &code).await? => Some(p),
        _ => None,
    };
    let ok = matched.is_some();
    store::record_attempt(tx, &doc_hash, address, to_db(now), ok).await?;
    let Some(person) = matched else {
        let mut all = failures;
        all.insert(0, now);
        if let Some(until) = rules::locked_until(&all, now) {
            return Ok(Lookup::Locked { until });
        }
        return Ok(Lookup::NoMatch {
            left: rules::attempts_left(&all, now),
        });
    };
    let token = hex::encode(rand::random::<[u8; 32]>());
    let expires = now + Duration::minutes(rules::ACCESS_MINUTES);
    store::grant(
        tx,
        &hash(None, &token),
        person.id,
        to_db(now),
        to_db(expires),
    )
    .await?;
    tx.audit(
        "lookup.open",
        "person",
        &person.uid,
        None,
        Some(&serde_json::json!({"via": if code.starts_with('B') { "booking" } else { "personal_code" }})),
    );
    let tz = tx.zone();
    let mut r = results_of(tx.conn(), person, expires, tz).await?;
    r.access = Some(token);
    Ok(Lookup::Found(Box::new(r)))
}

/// Whether the person holds `code`: their personal code, or a booking made with their document.
async fn holds(tx: &mut Tx, p: &PersonRow, code: &str) -> Result<bool, Error> {
    if p.personal_code.as_deref() == Some(code) {
        return Ok(true);
    }
    if crate::domain::booking::recognise(code).is_some() {
        if let Some(b) = crate::store::booking::by_code(tx.conn(), code).await? {
            return Ok(b.doc_no.as_deref() == Some(p.doc_no.as_str()));
        }
    }
    Ok(false)
}

/// The person an access reads, while it lasts.
pub(crate) async fn accessed(
    conn: &mut AnyConnection,
    token: &str,
    tz: FixedOffset,
) -> Result<(PersonRow, DateTime<Utc>), Error> {
    let unknown = || {
        Error::not_found(
            "lookup.access_unknown",
            "this results link is not known: look your results up again",
        )
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let (person, created, expires) = store::access(conn, &hash(None, token))
        .await?
        .ok_or_else(unknown)?;
    let (created, expires) = (from_db(created), from_db(expires));
    if expires <= Utc::now() {
        return Err(Error::new(
            StatusCode::GONE,
            "lookup.expired",
            format!(
                "this view of your results opened at {} and closed after {} minutes, as every \
                 view does: look them up again with your document, phone digits and code (nothing \
                 is wrong; no need to call anyone)",
                created.with_timezone(&tz).format("%H:%M"),
                rules::ACCESS_MINUTES
            ),
        ));
    }
    let row = crate::store::person::by_ids(conn, &[person])
        .await?
        .pop()
        .ok_or_else(unknown)?;
    Ok((row, expires))
}

/// A person's results through an access (no login).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn read(
    conn: &mut AnyConnection,
    token: &str,
    tz: FixedOffset,
) -> Result<MyResults, Error> {
    let (person, expires) = accessed(conn, token, tz).await?;
    results_of(conn, person, expires, tz).await
}

async fn results_of(
    conn: &mut AnyConnection,
    person: PersonRow,
    expires: DateTime<Utc>,
    tz: FixedOffset,
) -> Result<MyResults, Error> {
    let (name, doc_no, id) = (
        mask::name(&person.name),
        mask::document_number(&person.doc_no),
        person.id,
    );
    let status = super::results::status_of(conn, person, Utc::now()).await?;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let view = status.view(tz, today);
    let mut results = vec![];
    for r in &status.results {
        let (lab, lab_phone) = store::lab_of_tube(conn, &r.tube).await?.unwrap_or_default();
        let certificate = store::of_result(conn, r.id, id)
            .await?
            .filter(|c| c.revoked_at.is_none())
            .map(|c| c.uid);
        results.push(MyResult {
            id: r.id,
            value: r.value,
            sampled_at: show(r.sampled_at, tz),
            released_at: show(r.released_at, tz),
            lab,
            lab_phone,
            certifiable: r.value == ResultValue::Negative && r.current,
            certificate,
        });
    }
    Ok(MyResults {
        access: None,
        expires_at: expires.with_timezone(&tz),
        name,
        doc_no,
        status: view.status,
        valid_until: view.valid_until,
        results,
    })
}
