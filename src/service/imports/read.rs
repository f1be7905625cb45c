//! Reading uploaded files before any transaction: format by content, rows, hashes.

use crate::error::Error;
use instrument_adapters::{CustomFormat, PlateSize, Reading};
use sha2::{Digest, Sha256};

/// A file as uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A file read and hashed, ready to import.
#[derive(Debug, Clone)]
pub struct ReadFile {
    pub name: String,
    pub sha256: String,
    pub format: String,
    pub bytes: Vec<u8>,
    pub readings: Vec<Reading>,
}

/// The files of one import, read.
#[derive(Debug, Clone)]
pub struct ReadFiles {
    pub files: Vec<ReadFile>,
    /// The hash of the set (of the sorted file hashes): the same files import once.
    pub hash: String,
}

/// Largest file accepted (a 384-well export with curves is a few MB).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads every file (no database): format by content, rows, hash. An unreadable file is named
/// with its problem (line, well, column), and nothing else is looked at.
pub fn read_files(
    uploads: Vec<Upload>,
    size: Option<PlateSize>,
    custom: &[CustomFormat],
) -> Result<ReadFiles, Error> {
    if uploads.is_empty() {
        return Err(Error::invalid("file", "no file was uploaded"));
    }
    let mut files = Vec::with_capacity(uploads.len());
    for u in uploads {
        let name = if u.name.trim().is_empty() {
            "upload".to_string()
        } else {
            u.name.trim().chars().take(200).collect()
        };
        if u.bytes.len() > MAX_FILE_BYTES {
            return Err(Error::unprocessable(
                "import.too_large",
                format!(
                    "{name}: {} bytes is more than the {MAX_FILE_BYTES} accepted",
                    u.bytes.len()
                ),
            )
            .at("file"));
        }
        let (format, readings) = instrument_adapters::parse_for_plate(&u.bytes, custom, size)
            .map_err(|e| {
                Error::unprocessable("import.unreadable", format!("{name}: {e}"))
                    .at("file")
                    .with_details(serde_json::json!({ "file": name, "problem": e.to_string() }))
            })?;
        if files
            .iter()
            .any(|f: &ReadFile| f.sha256 == sha256_hex(&u.bytes))
        {
            return Err(Error::invalid(
                "file",
                format!("{name} is uploaded twice in one import"),
            ));
        }
        files.push(ReadFile {
            sha256: sha256_hex(&u.bytes),
            name,
            format,
            bytes: u.bytes,
            readings,
        });
    }
    let mut hashes: Vec<&str> = files.iter().map(|f| f.sha256.as_str()).collect();
    hashes.sort_unstable();
    let hash = sha256_hex(hashes.join("\n").as_bytes());
    Ok(ReadFiles { files, hash })
}
