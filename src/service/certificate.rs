//! 检测证明 certificates: issued to a person for a current negative (through their lookup's
//! access), rendered as a PDF with a QR code of the signed payload, verified by anyone — offline
//! against the published keys, or here, where it is also told whether the certificate was
//! superseded (its result amended) or revoked.
//!
//! Keys: the signing key of generation N is derived from the audit key (every node with the key
//! file derives the same; nothing secret is in the database). An administrator rotates to N+1:
//! new certificates are signed with it, N is retired and still verifies what it signed. A key
//! revoked as compromised verifies nothing it signed.

use super::lookup;
use crate::domain::certificate::{self as payload, Claims, Invalid, Key, PublicKey};
use crate::domain::mask;
use crate::domain::policy::{Action, Scope};
use crate::domain::review::ResultValue;
use crate::error::Error;
use crate::store::certificate::{self as store, CertificateRow, KeyRow, NewCertificate};
use crate::store::time::{show, to_db};
use crate::store::Tx;
use base64::Engine;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use utoipa::ToSchema;

const PURPOSE: &str = "certificate signing";

fn secret(key: Option<&crate::audit_key::AuditKey>) -> Result<[u8; 32], Error> {
    key.map(|k| k.derive(PURPOSE)).ok_or_else(|| {
        Error::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "certificate.no_key",
            "this node has no audit key, so it cannot sign certificates",
        )
    })
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn key_row(k: &Key, at: i64, by: &str) -> KeyRow {
    let p = k.public();
    let (x, y) = p.xy();
    KeyRow {
        generation: k.generation,
        kid: b64url(&p.kid),
        x: b64url(x),
        y: b64url(y),
        created_at: at,
        created_by: by.to_string(),
        retired_at: None,
        revoked_at: None,
        reason: None,
    }
}

fn public_keys(rows: &[KeyRow]) -> Vec<PublicKey> {
    let d = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap_or_default()
    };
    rows.iter()
        .filter(|k| k.revoked_at.is_none())
        .map(|k| {
            let mut point = vec![4u8];
            point.extend(d(&k.x));
            point.extend(d(&k.y));
            PublicKey {
                kid: d(&k.kid),
                point,
            }
        })
        .collect()
}

/// The generation that signs now: the newest neither retired nor revoked, published first when
/// there is none yet.
async fn signing_generation(tx: &mut Tx) -> Result<i64, Error> {
    let rows = store::keys(tx.conn()).await?;
    if let Some(k) = rows
        .iter()
        .rev()
        .find(|k| k.retired_at.is_none() && k.revoked_at.is_none())
    {
        return Ok(k.generation);
    }
    let next = rows.last().map_or(1, |k| k.generation + 1);
    publish(tx, next).await?;
    Ok(next)
}

async fn publish(tx: &mut Tx, generation: i64) -> Result<(), Error> {
    let key = Key::derive(&secret(tx.audit_key())?, generation);
    let row = key_row(&key, to_db(tx.now()), &tx.actor().username);
    store::publish_key(tx, &row).await?;
    tx.audit(
        "certificate_key.publish",
        "certificate_key",
        &generation.to_string(),
        None,
        Some(&serde_json::json!({"kid": row.kid})),
    );
    Ok(())
}

/// A published key as JWK (RFC 7517), with its history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublishedKey {
    /// Key id: base64url of the first 8 bytes of SHA-256 of the public point (the COSE `kid`).
    pub kid: String,
    /// `EC`.
    pub kty: String,
    /// `P-256`.
    pub crv: String,
    /// `ES256`.
    pub alg: String,
    pub x: String,
    pub y: String,
    pub generation: i64,
    pub published_at: DateTime<FixedOffset>,
    /// From then on it signs nothing new; what it signed still verifies.
    pub retired_at: Option<DateTime<FixedOffset>>,
    /// Compromised: nothing it signed verifies.
    pub revoked_at: Option<DateTime<FixedOffset>>,
}

/// The published keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<PublishedKey>,
}

/// Every key that signed certificates here, for offline verifiers (no login).
pub async fn keys(conn: &mut AnyConnection, tz: FixedOffset) -> Result<KeyList, Error> {
    let rows = store::keys(conn).await?;
    Ok(KeyList {
        keys: rows
            .into_iter()
            .map(|k| PublishedKey {
                kid: k.kid,
                kty: "EC".into(),
                crv: "P-256".into(),
                alg: "ES256".into(),
                x: k.x,
                y: k.y,
                generation: k.generation,
                published_at: show(k.created_at, tz),
                retired_at: k.retired_at.map(|t| show(t, tz)),
                revoked_at: k.revoked_at.map(|t| show(t, tz)),
            })
            .collect(),
    })
}

/// Rotates the signing key (an administrator): the next generation signs from now on; the
/// previous ones are retired and still verify.
pub async fn rotate(tx: &mut Tx, tz: FixedOffset) -> Result<KeyList, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let rows = store::keys(tx.conn()).await?;
    let next = rows.last().map_or(1, |k| k.generation + 1);
    publish(tx, next).await?;
    store::retire_below(tx, next, to_db(tx.now())).await?;
    keys(tx.conn(), tz).await
}

/// Why a key is revoked.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Reason {
    pub reason: String,
}

/// Revokes a key generation as compromised (an administrator): its certificates verify no more.
pub async fn revoke_key(
    tx: &mut Tx,
    generation: i64,
    r: &Reason,
    tz: FixedOffset,
) -> Result<KeyList, Error> {
    tx.actor().require(Action::ManageRegistry)?;
    let reason = super::parse_text("reason", &r.reason, 500)?;
    if store::revoke_key(tx, generation, to_db(tx.now()), &reason).await? {
        tx.audit(
            "certificate_key.revoke",
            "certificate_key",
            &generation.to_string(),
            None,
            Some(&serde_json::json!({"reason": reason})),
        );
    }
    keys(tx.conn(), tz).await
}

/// A certificate as its holder sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateInfo {
    /// The certificate's number.
    pub id: String,
    pub result: i64,
    pub issued_at: DateTime<FixedOffset>,
    pub valid_until: DateTime<FixedOffset>,
    /// `valid`, `expired`, `superseded`, `revoked`.
    pub state: String,
}

fn state(c: &CertificateRow, now: DateTime<Utc>) -> &'static str {
    if c.revoked_at.is_some() {
        "revoked"
    } else if c.current == 0 {
        "superseded"
    } else if to_db(now) > c.valid_until {
        "expired"
    } else {
        "valid"
    }
}

fn info(c: &CertificateRow, tz: FixedOffset) -> CertificateInfo {
    CertificateInfo {
        id: c.uid.clone(),
        result: c.result_id,
        issued_at: show(c.issued_at, tz),
        valid_until: show(c.valid_until, tz),
        state: state(c, Utc::now()).into(),
    }
}

/// Which result to certify.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct IssueInput {
    pub result: i64,
}

/// Issues (or gives again) the certificate of one of the person's current negatives, through
/// their access.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn issue(
    tx: &mut Tx,
    access: &str,
    input: &IssueInput,
) -> Result<CertificateInfo, Error> {
    let tz = tx.zone();
    let (person, _) = lookup::accessed(tx.conn(), access, tz).await?;
    let rows = crate::store::result::current_of_person(tx.conn(), person.id).await?;
    let Some(r) = rows.iter().find(|r| r.id == input.result) else {
        return Err(Error::not_found(
            "certificate.no_result",
            format!("you have no current result {}", input.result),
        ));
    };
    if r.value != ResultValue::Negative {
        return Err(Error::conflict(
            "certificate.not_negative",
            format!(
                "a certificate states a negative result; this one is {}",
                r.value
            ),
        ));
    }
    if let Some(c) = store::of_result(tx.conn(), r.id, person.id).await? {
        if c.revoked_at.is_some() {
            return Err(Error::conflict(
                "certificate.revoked",
                format!(
                    "the lab revoked this result's certificate ({}): call {} at {}",
                    c.revoke_reason.clone().unwrap_or_default(),
                    c.lab_name,
                    c.lab_phone
                ),
            ));
        }
        return Ok(info(&c, tz));
    }
    let generation = signing_generation(tx).await?;
    let valid_hours = super::settings::load(tx.conn()).await?.negative_valid_hours;
    let uid = hex::encode(rand::random::<[u8; 16]>());
    store::insert(
        tx,
        &NewCertificate {
            uid: &uid,
            result_id: r.id,
            person_id: person.id,
            generation,
            issued_at: to_db(tx.now()),
            valid_until: r.sampled_at + valid_hours * 3_600_000_000,
        },
    )
    .await?;
    let c = store::of_result(tx.conn(), r.id, person.id)
        .await?
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a certificate just issued is gone")))?;
    tx.audit(
        "certificate.issue",
        "certificate",
        &c.uid,
        None,
        Some(&serde_json::json!({"result": r.id, "person": person.uid, "generation": generation})),
    );
    Ok(info(&c, tz))
}

fn seconds(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

fn claims(c: &CertificateRow) -> Claims {
    Claims {
        id: c.uid.clone(),
        lab: c.lab_code.clone(),
        lab_name: c.lab_name.clone(),
        name: mask::name(&c.name),
        doc_no: mask::document_number(&c.doc_no),
        result: c.value.clone(),
        sampled_at: seconds(c.sampled_at),
        issued_at: seconds(c.issued_at),
        valid_until: seconds(c.valid_until),
    }
}

/// The certificate's PDF, through the holder's access.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn pdf(
    conn: &mut AnyConnection,
    key: Option<&crate::audit_key::AuditKey>,
    access: &str,
    id: &str,
    (tz, verify_at): (FixedOffset, &str),
) -> Result<Vec<u8>, Error> {
    let (person, _) = lookup::accessed(conn, access, tz).await?;
    let c = store::by_uid(conn, id)
        .await?
        .filter(|c| c.person_id == person.id)
        .ok_or_else(|| Error::not_found("certificate.not_found", "you have no such certificate"))?;
    if c.revoked_at.is_some() {
        return Err(Error::conflict(
            "certificate.revoked",
            format!(
                "the lab revoked this certificate: call {} at {}",
                c.lab_name, c.lab_phone
            ),
        ));
    }
    let signing = Key::derive(&secret(key)?, c.generation);
    let text = payload::sign(&claims(&c), &signing);
    let at = |t: i64| show(t, tz).format("%Y-%m-%d %H:%M").to_string();
    let result_zh = match c.value.as_str() {
        "negative" => "阴性",
        "positive" => "阳性",
        _ => "—",
    };
    let doc = mask::document_number(&c.doc_no);
    crate::view::certificate::pdf(&crate::view::certificate::CertificatePage {
        name: &person.name,
        doc_no: &doc,
        sampled: &at(c.sampled_at),
        released: &at(c.released_at),
        result_zh,
        result_en: &c.value,
        lab_name: &c.lab_name,
        lab_code: &c.lab_code,
        lab_phone: &c.lab_phone,
        valid_until: &at(c.valid_until),
        number: &c.uid,
        issued: &at(c.issued_at),
        payload: &text,
        verify_at,
    })
    .map_err(|why| {
        Error::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "certificate.no_font",
            why,
        )
    })
}

/// What a scanned certificate says, and whether it holds.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verification {
    /// `valid`, `expired`, `superseded`, `revoked`, `not_issued_here` (a good signature of a
    /// published key, but no certificate of that number here), or `invalid`.
    pub state: String,
    /// What is wrong, for `invalid`; what to do otherwise.
    pub message: String,
    /// What the certificate states (the person masked), when its signature holds.
    pub claims: Option<Claims>,
    pub sampled_at: Option<DateTime<FixedOffset>>,
    pub valid_until: Option<DateTime<FixedOffset>>,
    /// The key generation that signed it.
    pub generation: Option<i64>,
    /// For a superseded certificate: the one that replaced it, if issued.
    pub superseded_by: Option<String>,
}

/// A scanned payload to verify.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VerifyInput {
    /// The QR code's text (`NC1:…`).
    pub payload: String,
}

fn invalid(message: String) -> Verification {
    Verification {
        state: "invalid".into(),
        message,
        claims: None,
        sampled_at: None,
        valid_until: None,
        generation: None,
        superseded_by: None,
    }
}

/// Verifies a certificate's payload (no login): its signature against the published keys, then
/// its standing here.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn verify(
    conn: &mut AnyConnection,
    text: &str,
    tz: FixedOffset,
) -> Result<Verification, Error> {
    let rows = store::keys(conn).await?;
    let keys = public_keys(&rows);
    let v = match payload::verify(text, &keys) {
        Ok(v) => v,
        Err(Invalid::UnknownKey(kid)) => {
            let kid64 = b64url(&hex::decode(&kid).unwrap_or_default());
            let revoked = rows
                .iter()
                .any(|k| k.kid == kid64 && k.revoked_at.is_some());
            return Ok(invalid(if revoked {
                "it is signed with a key that was revoked as compromised: it proves nothing".into()
            } else {
                Invalid::UnknownKey(kid).to_string()
            }));
        }
        Err(e) => return Ok(invalid(e.to_string())),
    };
    let kid64 = b64url(&v.kid);
    let generation = rows.iter().find(|k| k.kid == kid64).map(|k| k.generation);
    let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0).map(|t| t.with_timezone(&tz));
    let mut out = Verification {
        state: String::new(),
        message: String::new(),
        sampled_at: at(v.claims.sampled_at),
        valid_until: at(v.claims.valid_until),
        claims: Some(v.claims.clone()),
        generation,
        superseded_by: None,
    };
    let Some(c) = store::by_uid(conn, &v.claims.id).await? else {
        out.state = "not_issued_here".into();
        out.message =
            "the signature holds, but no certificate of this number was issued here".into();
        return Ok(out);
    };
    let now = Utc::now();
    out.state = state(&c, now).into();
    out.message = match out.state.as_str() {
        "valid" => "the certificate is genuine and its result stands: compare the name and document with the holder's".into(),
        "expired" => format!(
            "genuine, but the result counted until {}: a newer test is needed",
            show(c.valid_until, tz).format("%Y-%m-%d %H:%M")
        ),
        "superseded" => {
            out.superseded_by = store::newer_of_person(conn, c.person_id, c.id).await?;
            "the lab amended this result: this certificate no longer stands".into()
        }
        _ => format!(
            "the lab revoked this certificate on {}",
            c.revoked_at
                .map(|t| show(t, tz).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        ),
    };
    Ok(out)
}

/// Revokes a certificate (a reviewer of the lab that tested it, or an administrator).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn revoke(tx: &mut Tx, id: &str, r: &Reason) -> Result<CertificateInfo, Error> {
    let actor = tx.actor().clone();
    actor.require(Action::Review)?;
    let reason = super::parse_text("reason", &r.reason, 500)?;
    let not_found = || Error::not_found("certificate.not_found", format!("no certificate {id}"));
    let c = store::by_uid(tx.conn(), id).await?.ok_or_else(not_found)?;
    if let Scope::Lab { id: lab, .. } = &actor.scope {
        if *lab != c.lab_id {
            return Err(not_found());
        }
    }
    if store::revoke(tx, c.id, to_db(tx.now()), &actor.username, &reason).await? {
        tx.audit(
            "certificate.revoke",
            "certificate",
            &c.uid,
            Some(&serde_json::json!({"state": state(&c, tx.now())})),
            Some(&serde_json::json!({"state": "revoked", "reason": reason})),
        );
    }
    let c = store::by_uid(tx.conn(), id).await?.ok_or_else(not_found)?;
    Ok(info(&c, tx.zone()))
}
