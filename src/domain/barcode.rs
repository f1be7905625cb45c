//! 试管条码 tube barcodes. There is no national format: a tube barcode is an opaque unique
//! string. Barcodes that natlis issues itself (pre-printed label batches) have the shape
//! `PREFIX` + 10-digit sequence + one check character (Luhn mod 36), which accession verifies.

use std::fmt;

/// Longest barcode accepted from a scanner.
pub const MAX_LEN: usize = 40;
/// Digits in the sequence part of an issued barcode.
pub const SEQ_DIGITS: usize = 10;
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// What is wrong with a scanned barcode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    #[error("barcode is empty")]
    Empty,
    #[error("barcode is {0} characters long, at most {MAX_LEN} are allowed")]
    TooLong(usize),
    #[error("barcode contains {found:?} at position {position}; only letters, digits, '-' and '_' are allowed, starting with a letter or digit")]
    BadCharacter { position: usize, found: char },
    #[error("barcode {barcode} fails its check character (expected {expected}): it was mistyped or misread")]
    CheckMismatch { barcode: String, expected: char },
}

/// A scanned tube barcode: trimmed, of safe characters. Case is kept (labels from elsewhere
/// may be case-sensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TubeBarcode(String);

/// Where a barcode comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Issued by natlis with this sequence number; its check character was verified.
    Issued { seq: u64 },
    /// Printed elsewhere: an opaque string.
    Foreign,
}

impl TubeBarcode {
    /// Parses scanner input: surrounding whitespace and control characters (CR/LF/TAB that
    /// scanners append) are trimmed.
    pub fn parse(input: &str) -> Result<Self, BarcodeError> {
        let s = input.trim_matches(|c: char| c.is_whitespace() || c.is_control());
        if s.is_empty() {
            return Err(BarcodeError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_LEN {
            return Err(BarcodeError::TooLong(len));
        }
        if let Some((i, c)) = s
            .chars()
            .enumerate()
            .find(|(i, c)| !(c.is_ascii_alphanumeric() || (*i > 0 && matches!(c, '-' | '_'))))
        {
            return Err(BarcodeError::BadCharacter {
                position: i + 1,
                found: c,
            });
        }
        Ok(Self(s.to_string()))
    }

    /// The barcode natlis issues for sequence number `seq` under `prefix`.
    pub fn issued(prefix: &str, seq: u64) -> Self {
        let payload = format!("{prefix}{seq:0width$}", width = SEQ_DIGITS);
        let check = check_character(&payload);
        Self(format!("{payload}{check}"))
    }

    /// Classifies the barcode against the issuing `prefix`: a barcode of the issued shape must
    /// carry the right check character.
    pub fn origin(&self, prefix: &str) -> Result<Origin, BarcodeError> {
        let s = self.0.as_str();
        let Some(rest) = s.strip_prefix(prefix) else {
            return Ok(Origin::Foreign);
        };
        if prefix.is_empty()
            || rest.len() != SEQ_DIGITS + 1
            || !rest[..SEQ_DIGITS].bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(Origin::Foreign);
        }
        let payload = &s[..s.len() - 1];
        let expected = check_character(payload);
        if !s.ends_with(expected) {
            return Err(BarcodeError::CheckMismatch {
                barcode: s.to_string(),
                expected,
            });
        }
        Ok(Origin::Issued {
            seq: rest[..SEQ_DIGITS].parse().expect("ten digits"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TubeBarcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Luhn mod 36 check character over an alphanumeric payload (case-insensitive). It catches
/// every single-character error and every transposition of adjacent characters.
pub fn check_character(payload: &str) -> char {
    let n = 36u32;
    let mut factor = 2;
    let mut sum = 0u32;
    for b in payload.bytes().rev() {
        let code = ALPHABET
            .iter()
            .position(|a| *a == b.to_ascii_uppercase())
            .unwrap_or(0) as u32;
        let addend = factor * code;
        sum += addend / n + addend % n;
        factor = if factor == 2 { 1 } else { 2 };
    }
    let check = (n - sum % n) % n;
    char::from(ALPHABET[check as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scanner_input_is_trimmed() {
        assert_eq!(TubeBarcode::parse("  AB123\r\n").unwrap().as_str(), "AB123");
        assert_eq!(
            TubeBarcode::parse("\tAB123\u{0}").unwrap().as_str(),
            "AB123"
        );
    }

    #[test]
    fn malformed_barcodes_name_the_problem() {
        assert_eq!(TubeBarcode::parse(" \r\n"), Err(BarcodeError::Empty));
        assert_eq!(
            TubeBarcode::parse("AB 123"),
            Err(BarcodeError::BadCharacter {
                position: 3,
                found: ' '
            })
        );
        assert_eq!(
            TubeBarcode::parse("AB^FS"),
            Err(BarcodeError::BadCharacter {
                position: 3,
                found: '^'
            })
        );
        assert_eq!(
            TubeBarcode::parse(&"1".repeat(41)),
            Err(BarcodeError::TooLong(41))
        );
    }

    #[test]
    fn issued_barcodes_verify_and_carry_their_sequence() {
        let b = TubeBarcode::issued("NL", 42);
        assert_eq!(b.as_str().len(), 2 + SEQ_DIGITS + 1);
        assert!(b.as_str().starts_with("NL0000000042"));
        assert_eq!(b.origin("NL"), Ok(Origin::Issued { seq: 42 }));
        assert_eq!(
            TubeBarcode::parse("0000000042X").unwrap().origin("NL"),
            Ok(Origin::Foreign)
        );
    }

    #[test]
    fn a_misread_issued_barcode_is_caught() {
        let good = TubeBarcode::issued("NL", 123_456).to_string();
        let mut bad = good.clone().into_bytes();
        bad[8] = if bad[8] == b'9' { b'0' } else { bad[8] + 1 };
        let bad = TubeBarcode::parse(std::str::from_utf8(&bad).unwrap()).unwrap();
        assert!(matches!(
            bad.origin("NL"),
            Err(BarcodeError::CheckMismatch { .. })
        ));
    }

    proptest! {
        #[test]
        fn single_substitutions_and_adjacent_swaps_are_detected(
            seq in 0u64..10_000_000_000,
            pos in 2usize..11,
            d in 1u8..10,
        ) {
            let good = TubeBarcode::issued("NL", seq).to_string();
            let mut sub = good.clone().into_bytes();
            sub[pos] = b'0' + (sub[pos] - b'0' + d) % 10;
            let sub = TubeBarcode::parse(std::str::from_utf8(&sub).unwrap()).unwrap();
            prop_assert!(sub.origin("NL").is_err());

            let mut swap = good.clone().into_bytes();
            swap.swap(pos, pos + 1);
            if swap != good.as_bytes() {
                let swapped = String::from_utf8(swap).unwrap();
                let swapped = TubeBarcode::parse(&swapped).unwrap();
                prop_assert!(swapped.origin("NL").is_err());
            }
        }

        #[test]
        fn every_issued_barcode_round_trips(seq in 0u64..10_000_000_000) {
            let b = TubeBarcode::issued("NL", seq);
            let again = TubeBarcode::parse(b.as_str()).unwrap();
            prop_assert_eq!(again.origin("NL"), Ok(Origin::Issued { seq }));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            if let Ok(b) = TubeBarcode::parse(&s) {
                let _ = b.origin("NL");
            }
        }
    }
}
