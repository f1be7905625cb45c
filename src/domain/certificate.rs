//! 检测证明 the certificate's signed payload, as the EU Digital COVID Certificate does it: a CWT
//! claim set (CBOR) signed as COSE Sign1 with ES256 (ECDSA P-256, SHA-256), zlib-compressed,
//! base45-encoded behind the prefix `NC1:` — the text of the certificate's QR code. Anyone with
//! the published keys (`/public/keys`) checks it offline; the claims carry no more of the person
//! than the masked name and document number.
//!
//! Signing keys are numbered generations derived from a node secret (every node of a database
//! derives the same key; nothing secret is stored in the database). A key is named by its `kid`:
//! the first 8 bytes of the SHA-256 of its public point (SEC1, uncompressed).

use coset::cwt::{ClaimsSet, ClaimsSetBuilder, Timestamp};
use coset::{
    cbor::Value, iana, CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder,
    TaggedCborSerializable,
};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

/// The prefix of a certificate payload (natlis certificate, version 1).
pub const PREFIX: &str = "NC1:";
/// The private CWT claim holding the certificate's content.
pub const CLAIM: i64 = -65537;
/// The longest payload text accepted for verification (a real one is ~300 characters).
pub const MAX_TEXT: usize = 4096;

/// What a certificate states (every field as printed; the person masked).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Claims {
    /// The certificate's id (hex, 32 characters).
    pub id: String,
    /// The issuing lab's code.
    pub lab: String,
    pub lab_name: String,
    /// Masked name (张*).
    pub name: String,
    /// Masked document number.
    pub doc_no: String,
    /// `negative`.
    pub result: String,
    /// When the sample was taken (Unix seconds).
    pub sampled_at: i64,
    /// When the certificate was issued (Unix seconds).
    pub issued_at: i64,
    /// Until when the result counts (Unix seconds): sampling plus the negative's validity.
    pub valid_until: i64,
}

/// A signing key of a generation.
pub struct Key {
    pub generation: i64,
    signing: SigningKey,
}

/// A published key: its id and public point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: Vec<u8>,
    /// SEC1 uncompressed point (65 bytes: 04 ‖ x ‖ y).
    pub point: Vec<u8>,
}

impl Key {
    /// The key of `generation` derived from `secret` (HMAC-SHA256 of the generation; the rare
    /// output that is no valid scalar is derived again with a counter).
    pub fn derive(secret: &[u8; 32], generation: i64) -> Key {
        use hmac::{Hmac, Mac};
        for counter in 0u32.. {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
            m.update(format!("natlis certificate signing key {generation}/{counter}").as_bytes());
            let bytes = m.finalize().into_bytes();
            if let Ok(signing) = SigningKey::from_slice(&bytes) {
                return Key {
                    generation,
                    signing,
                };
            }
        }
        unreachable!("a valid scalar is found within a few tries")
    }

    pub fn public(&self) -> PublicKey {
        public_of(self.signing.verifying_key())
    }
}

fn public_of(v: &VerifyingKey) -> PublicKey {
    let point = v.to_encoded_point(false).as_bytes().to_vec();
    PublicKey {
        kid: Sha256::digest(&point)[..8].to_vec(),
        point,
    }
}

impl PublicKey {
    /// The x and y coordinates (32 bytes each).
    pub fn xy(&self) -> (&[u8], &[u8]) {
        (&self.point[1..33], &self.point[33..65])
    }
}

fn claims_set(c: &Claims) -> ClaimsSet {
    let content = Value::Map(vec![
        (Value::Text("v".into()), Value::Integer(1.into())),
        (Value::Text("ln".into()), Value::Text(c.lab_name.clone())),
        (Value::Text("n".into()), Value::Text(c.name.clone())),
        (Value::Text("d".into()), Value::Text(c.doc_no.clone())),
        (Value::Text("r".into()), Value::Text(c.result.clone())),
        (Value::Text("s".into()), Value::Integer(c.sampled_at.into())),
    ]);
    ClaimsSetBuilder::new()
        .issuer(c.lab.clone())
        .issued_at(Timestamp::WholeSeconds(c.issued_at))
        .expiration_time(Timestamp::WholeSeconds(c.valid_until))
        .cwt_id(hex::decode(&c.id).unwrap_or_else(|_| c.id.as_bytes().to_vec()))
        .private_claim(CLAIM, content)
        .build()
}

/// The QR text of a certificate: its claims signed with `key`.
pub fn sign(c: &Claims, key: &Key) -> String {
    let payload = claims_set(c).to_vec().expect("a claim set serialises");
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(key.public().kid)
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| {
            let s: Signature = key.signing.sign(tbs);
            s.to_bytes().to_vec()
        })
        .build();
    // Tagged (18), as COSE libraries expect a message to say what it is.
    let cbor = sign1.to_tagged_vec().expect("a COSE Sign1 serialises");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(&cbor).expect("writing to memory");
    let compressed = z.finish().expect("writing to memory");
    format!("{PREFIX}{}", base45::encode(compressed))
}

/// Why a payload does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("this is not a natlis certificate (it does not start with {PREFIX})")]
    NotACertificate,
    #[error("the code is damaged: {0}")]
    Damaged(String),
    #[error("it is signed with a key that is not published (kid {0})")]
    UnknownKey(String),
    #[error("the signature does not match: the certificate was altered or forged")]
    BadSignature,
}

/// A payload opened and checked: the key it was signed with and what it states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kid: Vec<u8>,
    pub claims: Claims,
}

fn damaged(what: impl std::fmt::Display) -> Invalid {
    Invalid::Damaged(what.to_string())
}

/// Opens a certificate's QR text and checks its signature against the published keys.
pub fn verify(text: &str, keys: &[PublicKey]) -> Result<Verified, Invalid> {
    let text = text.trim();
    if text.len() > MAX_TEXT {
        return Err(damaged("longer than any certificate"));
    }
    let body = text.strip_prefix(PREFIX).ok_or(Invalid::NotACertificate)?;
    let compressed = base45::decode(body).map_err(|e| damaged(format!("base45: {e}")))?;
    // Never inflate without a bound: a hostile code could expand without end.
    let mut cbor = Vec::new();
    flate2::read::ZlibDecoder::new(&compressed[..])
        .take(MAX_TEXT as u64 * 4)
        .read_to_end(&mut cbor)
        .map_err(|e| damaged(format!("zlib: {e}")))?;
    let sign1 = CoseSign1::from_tagged_slice(&cbor)
        .or_else(|_| CoseSign1::from_slice(&cbor))
        .map_err(|e| damaged(format!("COSE: {e:?}")))?;
    let kid = sign1.protected.header.key_id.clone();
    let alg_ok = sign1.protected.header.alg
        == Some(coset::RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::ES256,
        ));
    if !alg_ok {
        return Err(damaged("not signed with ES256"));
    }
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Invalid::UnknownKey(hex::encode(&kid)))?;
    let verifying = VerifyingKey::from_sec1_bytes(&key.point).map_err(damaged)?;
    sign1.verify_signature(b"", |sig, tbs| {
        let sig = Signature::from_slice(sig).map_err(|_| Invalid::BadSignature)?;
        verifying
            .verify(tbs, &sig)
            .map_err(|_| Invalid::BadSignature)
    })?;
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| damaged("no payload"))?;
    let set = ClaimsSet::from_slice(payload).map_err(|e| damaged(format!("claims: {e:?}")))?;
    Ok(Verified {
        kid,
        claims: claims_of(set)?,
    })
}

fn claims_of(set: ClaimsSet) -> Result<Claims, Invalid> {
    let seconds = |t: Option<Timestamp>, what: &str| match t {
        Some(Timestamp::WholeSeconds(s)) => Ok(s),
        _ => Err(damaged(format!("no {what}"))),
    };
    let content = set
        .rest
        .into_iter()
        .find(|(name, _)| *name == coset::cwt::ClaimName::PrivateUse(CLAIM))
        .map(|(_, v)| v)
        .ok_or_else(|| damaged("no certificate content"))?;
    let Value::Map(fields) = content else {
        return Err(damaged("the content is not a map"));
    };
    let text = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .and_then(|(_, v)| v.as_text())
            .map(String::from)
            .ok_or_else(|| damaged(format!("no field {key}")))
    };
    let sampled_at = fields
        .iter()
        .find(|(k, _)| k.as_text() == Some("s"))
        .and_then(|(_, v)| v.as_integer())
        .and_then(|i| i64::try_from(i).ok())
        .ok_or_else(|| damaged("no sampling time"))?;
    Ok(Claims {
        id: hex::encode(set.cwt_id.unwrap_or_default()),
        lab: set.issuer.ok_or_else(|| damaged("no issuer"))?,
        lab_name: text("ln")?,
        name: text("n")?,
        doc_no: text("d")?,
        result: text("r")?,
        sampled_at,
        issued_at: seconds(set.issued_at, "issue time")?,
        valid_until: seconds(set.expiration_time, "expiry")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            id: "00112233445566778899aabbccddeeff".into(),
            lab: "LAB-HD".into(),
            lab_name: "海淀区疾控中心实验室".into(),
            name: "张*".into(),
            doc_no: "1101**********123X".into(),
            result: "negative".into(),
            sampled_at: 1_796_000_000,
            issued_at: 1_796_030_000,
            valid_until: 1_796_000_000 + 48 * 3600,
        }
    }

    #[test]
    fn a_signed_payload_verifies_and_says_what_was_signed() {
        let key = Key::derive(&[7; 32], 1);
        let text = sign(&claims(), &key);
        assert!(text.starts_with(PREFIX));
        assert!(text.len() < 600, "fits a QR code: {}", text.len());
        let v = verify(&text, &[key.public()]).unwrap();
        assert_eq!(v.claims, claims());
        assert_eq!(v.kid, key.public().kid);
        // Deterministic (RFC 6979): the same claims and key give the same text.
        assert_eq!(sign(&claims(), &key), text);
    }

    #[test]
    fn keys_are_derived_per_generation_and_secret() {
        let a1 = Key::derive(&[7; 32], 1).public();
        assert_eq!(Key::derive(&[7; 32], 1).public(), a1);
        assert_ne!(Key::derive(&[7; 32], 2).public(), a1);
        assert_ne!(Key::derive(&[8; 32], 1).public(), a1);
        assert_eq!(a1.point.len(), 65);
        assert_eq!(a1.kid.len(), 8);
    }

    #[test]
    fn tampering_an_unknown_key_and_junk_are_refused() {
        let key = Key::derive(&[7; 32], 1);
        let text = sign(&claims(), &key);
        // Another key's signature over the same claims: unknown key.
        let other = Key::derive(&[7; 32], 2);
        assert!(matches!(
            verify(&sign(&claims(), &other), &[key.public()]),
            Err(Invalid::UnknownKey(_))
        ));
        // A changed claim under the right kid: bad signature.
        let mut forged = claims();
        forged.result = "negative".into();
        forged.name = "李*".into();
        let cbor = {
            let body = text.strip_prefix(PREFIX).unwrap();
            let mut out = vec![];
            flate2::read::ZlibDecoder::new(&base45::decode(body).unwrap()[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        };
        let mut sign1 = CoseSign1::from_tagged_slice(&cbor).unwrap();
        sign1.payload = Some(claims_set(&forged).to_vec().unwrap());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&sign1.to_tagged_vec().unwrap()).unwrap();
        let tampered = format!("{PREFIX}{}", base45::encode(z.finish().unwrap()));
        assert_eq!(
            verify(&tampered, &[key.public()]),
            Err(Invalid::BadSignature)
        );
        assert_eq!(
            verify("HC1:6BFOXN", &[key.public()]),
            Err(Invalid::NotACertificate)
        );
        assert!(matches!(
            verify("NC1:!!!", &[key.public()]),
            Err(Invalid::Damaged(_))
        ));
        // A zlib bomb is cut off, not inflated.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; 10_000_000]).unwrap();
        let bomb = format!("{PREFIX}{}", base45::encode(z.finish().unwrap()));
        assert!(matches!(
            verify(&bomb, &[key.public()]),
            Err(Invalid::Damaged(_))
        ));
    }
}
