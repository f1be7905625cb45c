//! 审计密钥 the audit trail's key, kept outside the database: it makes every entry's hash and
//! every seal a keyed MAC (HMAC-SHA256), so that someone who can write to the database — but
//! has not the key file — can neither change an entry (sealed or not) and fix its hash, nor
//! rewrite the chain of seals. Next to the key, an anchor file records the newest seal this
//! node has made or verified, so that cutting the tail off the trail (deleting the last seals
//! with their entries) is found too.
//!
//! The key file holds 64 hex characters (32 random bytes), readable by its owner only. Every
//! node of one database needs the same key file.

use anyhow::Context;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The audit key and where this node keeps its anchor.
#[derive(Clone)]
pub struct AuditKey {
    key: [u8; 32],
    /// Names the key without revealing it (the first 8 bytes of its SHA-256, hex).
    pub id: String,
    anchor: Option<PathBuf>,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey").field("id", &self.id).finish()
    }
}

/// The newest seal a node has seen whole, as its anchor file records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Anchor {
    pub seal: i64,
    pub hash: String,
}

impl AuditKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self {
            id: hex::encode(&Sha256::digest(key)[..8]),
            key,
            anchor: None,
        }
    }

    /// The key in `path`, or a new one written there (owner-only) when there is none; `true`
    /// when it was created now. The anchor is kept beside it (`<path>.anchor`).
    pub fn load_or_create(path: &Path) -> anyhow::Result<(Self, bool)> {
        let (key, created) = match std::fs::read_to_string(path) {
            Ok(text) => (
                parse(text.trim()).with_context(|| {
                    format!(
                        "{}: the audit key must be 64 hex characters",
                        path.display()
                    )
                })?,
                false,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut key);
                write_private(path, &hex::encode(key))
                    .with_context(|| format!("writing the audit key {}", path.display()))?;
                (key, true)
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading the audit key {}", path.display()))
            }
        };
        let mut k = Self::from_bytes(key);
        k.anchor = Some(anchor_path(path));
        Ok((k, created))
    }

    /// HMAC-SHA256 of `data` under the key, hex.
    pub fn mac(&self, data: &[u8]) -> String {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        m.update(data);
        hex::encode(m.finalize().into_bytes())
    }

    /// A secret for another purpose derived from the key (HMAC-SHA256 of the purpose): every
    /// node with the key file derives the same, and knowing it tells nothing of the key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        m.update(b"natlis derived secret: ");
        m.update(purpose.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// Whether `mac` is the key's MAC of `data` (in constant time).
    pub fn verify(&self, data: &[u8], mac: &str) -> bool {
        let Ok(given) = hex::decode(mac) else {
            return false;
        };
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        m.update(data);
        m.verify_slice(&given).is_ok()
    }

    /// The anchor this node recorded, if any.
    pub fn anchor(&self) -> anyhow::Result<Option<Anchor>> {
        let Some(path) = &self.anchor else {
            return Ok(None);
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                Ok(Some(serde_json::from_str(&text).with_context(|| {
                    format!("{}: not an audit anchor", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Moves the anchor up to `seal` (never down: a lower seal says nothing new).
    pub fn raise_anchor(&self, seal: i64, hash: &str) -> anyhow::Result<()> {
        let Some(path) = &self.anchor else {
            return Ok(());
        };
        if self.anchor()?.is_some_and(|a| a.seal >= seal) {
            return Ok(());
        }
        let text = serde_json::to_string(&Anchor {
            seal,
            hash: hash.to_string(),
        })?;
        let tmp = path.with_extension("anchor.tmp");
        write_private(&tmp, &text)?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
    }
}

fn parse(hex_key: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(hex_key)?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("not 32 bytes"))
}

fn anchor_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".anchor");
    PathBuf::from(p)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("natlis-audit.key");
        let (a, created) = AuditKey::load_or_create(&path).unwrap();
        assert!(created);
        let (b, created) = AuditKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.id, b.id);
        assert_eq!(a.mac(b"x"), b.mac(b"x"));
        assert!(a.verify(b"x", &b.mac(b"x")));
        assert!(!a.verify(b"y", &b.mac(b"x")));
        assert!(!a.verify(b"x", "not hex"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "short").unwrap();
        assert!(AuditKey::load_or_create(&path).is_err());
    }

    #[test]
    fn the_anchor_only_rises() {
        let dir = tempfile::tempdir().unwrap();
        let (k, _) = AuditKey::load_or_create(&dir.path().join("k")).unwrap();
        assert_eq!(k.anchor().unwrap(), None);
        k.raise_anchor(5, "h5").unwrap();
        k.raise_anchor(3, "h3").unwrap();
        assert_eq!(
            k.anchor().unwrap(),
            Some(Anchor {
                seal: 5,
                hash: "h5".into()
            })
        );
        k.raise_anchor(9, "h9").unwrap();
        assert_eq!(k.anchor().unwrap().unwrap().seal, 9);
    }
}
