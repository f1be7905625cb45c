//! 居民身份证号码 — the 18-digit resident ID number of GB 11643-1999, and the other
//! identity documents a person may present at a collection site.
//!
//! Layout: 6-digit area code, 8-digit birth date `YYYYMMDD`, 3-digit sequence (odd male, even
//! female), 1 check character computed over the first 17 digits with ISO 7064 MOD 11-2.

use chrono::{Datelike, NaiveDate};
use std::fmt;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Province-level area codes (the first two digits) that resident ID numbers are issued under.
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// What is wrong with a resident ID number; each names the problem in the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("a resident ID number has 18 characters, this one has {0}")]
    Length(usize),
    #[error("character {position} ({found:?}) must be a digit")]
    NotDigit { position: usize, found: char },
    #[error("the last character must be a digit or X, found {0:?}")]
    BadCheckCharacter(char),
    #[error("area code {0} is not a known province")]
    UnknownArea(String),
    #[error("birth date {0} is not a valid date")]
    BadBirthDate(String),
    #[error("birth date {0} is in the future")]
    FutureBirthDate(NaiveDate),
    #[error(
        "check character is {found}, the first 17 digits give {expected}: the number is mistyped"
    )]
    CheckMismatch { expected: char, found: char },
}

crate::domain::vocab::vocabulary! {
    /// Sex as encoded in the sequence digits of a resident ID number.
    Sex {
        Male = "male",
        Female = "female",
    }
}

/// A valid 18-digit resident ID number, stored upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

/// The check character for the first 17 digits (ASCII digits only).
pub fn check_character(first17: &[u8; 17]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(CHECK_CHARS[(sum % 11) as usize])
}

impl ResidentId {
    /// Parses scanner or keyboard input: trims it, accepts a lower-case `x`, and checks the
    /// area, the birth date (a real date, not after `today`) and the check character.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, IdNumberError> {
        let s = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 18 {
            return Err(IdNumberError::Length(chars.len()));
        }
        for (i, c) in chars.iter().take(17).enumerate() {
            if !c.is_ascii_digit() {
                return Err(IdNumberError::NotDigit {
                    position: i + 1,
                    found: *c,
                });
            }
        }
        let last = chars[17];
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(IdNumberError::BadCheckCharacter(last));
        }
        let bytes = s.as_bytes();
        let province = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
        if !PROVINCES.contains(&province) {
            return Err(IdNumberError::UnknownArea(s[0..6].to_string()));
        }
        let birth = &s[6..14];
        let date = NaiveDate::parse_from_str(birth, "%Y%m%d")
            .ok()
            .filter(|d| d.year() >= 1900)
            .ok_or_else(|| IdNumberError::BadBirthDate(birth.to_string()))?;
        if date > today {
            return Err(IdNumberError::FutureBirthDate(date));
        }
        let first17: &[u8; 17] = bytes[..17].try_into().expect("18 ASCII characters");
        let expected = check_character(first17);
        if expected != last {
            return Err(IdNumberError::CheckMismatch {
                expected,
                found: last,
            });
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").expect("validated at parse")
    }

    pub fn sex(&self) -> Sex {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

crate::domain::vocab::vocabulary! {
    /// The kind of identity document a person presents.
    DocumentType {
        /// 居民身份证
        ResidentId = "resident_id",
        /// 护照
        Passport = "passport",
        /// 港澳居民来往内地通行证
        HkMacauPermit = "hk_macau_permit",
        /// 台湾居民来往大陆通行证
        TaiwanPermit = "taiwan_permit",
        /// 外国人永久居留身份证
        ForeignerPermanentResidence = "foreigner_permanent_residence",
        /// 其他证件
        Other = "other",
    }
}

/// What is wrong with a document number of any type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("invalid resident ID number: {0}")]
    ResidentId(#[from] IdNumberError),
    #[error("document number is empty")]
    Empty,
    #[error("document number is longer than 32 characters")]
    TooLong,
    #[error("document number contains {0:?}; only letters, digits and '-' are allowed")]
    BadCharacter(char),
}

/// A validated identity document: its type and its normalised number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Document {
    pub doc_type: DocumentType,
    pub number: String,
}

impl Document {
    /// Resident ID numbers are checked in full; other documents are taken as typed, trimmed and
    /// upper-cased, as long as they look like a document number at all.
    pub fn parse(
        doc_type: DocumentType,
        input: &str,
        today: NaiveDate,
    ) -> Result<Self, DocumentError> {
        let number = match doc_type {
            DocumentType::ResidentId => ResidentId::parse(input, today)?.0,
            _ => {
                let s = input.trim().to_uppercase();
                if s.is_empty() {
                    return Err(DocumentError::Empty);
                }
                if s.chars().count() > 32 {
                    return Err(DocumentError::TooLong);
                }
                if let Some(c) = s
                    .chars()
                    .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
                {
                    return Err(DocumentError::BadCharacter(c));
                }
                s
            }
        };
        Ok(Self { doc_type, number })
    }

    /// Birth date and sex, where the document encodes them.
    pub fn demographics(&self) -> Option<(NaiveDate, Sex)> {
        (self.doc_type == DocumentType::ResidentId).then(|| {
            let id = ResidentId(self.number.clone());
            (id.birth_date(), id.sex())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    /// Builds a valid number from area, birth date and sequence (used by tests and demo data).
    pub fn make(area: &str, birth: &str, seq: &str) -> String {
        let first17 = format!("{area}{birth}{seq}");
        let arr: [u8; 17] = first17.as_bytes().try_into().unwrap();
        format!("{first17}{}", check_character(&arr))
    }

    #[test]
    fn standard_example_is_valid() {
        let id = ResidentId::parse("11010519491231002X", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
    }

    #[test]
    fn lower_case_x_and_whitespace_are_accepted_and_normalised() {
        let id = ResidentId::parse(" 11010519491231002x\r\n", today()).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn wrong_check_character_is_rejected_naming_both() {
        let err = ResidentId::parse("110105194912310021", today()).unwrap_err();
        assert_eq!(
            err,
            IdNumberError::CheckMismatch {
                expected: 'X',
                found: '1'
            }
        );
    }

    #[test]
    fn each_shape_error_is_named() {
        assert_eq!(
            ResidentId::parse("1101051949123100", today()),
            Err(IdNumberError::Length(16))
        );
        assert_eq!(
            ResidentId::parse("11010519491231A02X", today()),
            Err(IdNumberError::NotDigit {
                position: 15,
                found: 'A'
            })
        );
        assert_eq!(
            ResidentId::parse("11010519491231002Y", today()),
            Err(IdNumberError::BadCheckCharacter('Y'))
        );
        assert!(matches!(
            ResidentId::parse(&make("990105", "19491231", "002"), today()),
            Err(IdNumberError::UnknownArea(_))
        ));
    }

    #[test]
    fn impossible_and_future_birth_dates_are_rejected() {
        for bad in ["19490230", "19491331", "18991231", "20230229"] {
            let n = make("110105", bad, "002");
            assert_eq!(
                ResidentId::parse(&n, today()),
                Err(IdNumberError::BadBirthDate(bad.to_string())),
                "{n}"
            );
        }
        let leap = make("110105", "20240229", "002");
        assert!(ResidentId::parse(&leap, today()).is_ok());
        let future = make("110105", "20261124", "002");
        assert!(matches!(
            ResidentId::parse(&future, today()),
            Err(IdNumberError::FutureBirthDate(_))
        ));
        let born_today = make("110105", "20261123", "002");
        assert!(ResidentId::parse(&born_today, today()).is_ok());
    }

    #[test]
    fn sex_follows_the_parity_of_the_sequence() {
        let m = ResidentId::parse(&make("310104", "19800101", "013"), today()).unwrap();
        assert_eq!(m.sex(), Sex::Male);
        let f = ResidentId::parse(&make("310104", "19800101", "014"), today()).unwrap();
        assert_eq!(f.sex(), Sex::Female);
    }

    #[test]
    fn other_documents_are_taken_as_typed() {
        let p = Document::parse(DocumentType::Passport, " e1234567 ", today()).unwrap();
        assert_eq!(p.number, "E1234567");
        assert_eq!(p.demographics(), None);
        assert_eq!(
            Document::parse(DocumentType::Passport, "  ", today()),
            Err(DocumentError::Empty)
        );
        assert_eq!(
            Document::parse(DocumentType::Passport, "E12 34", today()),
            Err(DocumentError::BadCharacter(' '))
        );
        assert_eq!(
            Document::parse(DocumentType::Other, &"A".repeat(33), today()),
            Err(DocumentError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn every_generated_valid_number_parses(
            p in prop::sample::select(PROVINCES.to_vec()),
            rest in 0u32..10_000,
            days in 0i64..40_000,
            seq in 0u32..1000,
        ) {
            let birth = NaiveDate::from_ymd_opt(1910, 1, 1).unwrap() + chrono::Days::new(days as u64);
            let n = make(&format!("{p:02}{rest:04}"), &birth.format("%Y%m%d").to_string(), &format!("{seq:03}"));
            let id = ResidentId::parse(&n, today()).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            prop_assert_eq!(id.sex() == Sex::Male, seq % 2 == 1);
        }

        #[test]
        fn any_single_digit_change_is_caught(
            p in prop::sample::select(PROVINCES.to_vec()),
            seq in 0u32..1000,
            pos in 0usize..17,
            delta in 1u8..10,
        ) {
            let n = make(&format!("{p:02}0101"), "19900101", &format!("{seq:03}"));
            let mut b = n.into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(b).unwrap();
            prop_assert!(ResidentId::parse(&typo, today()).is_err());
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = ResidentId::parse(&s, today());
            let _ = Document::parse(DocumentType::Passport, &s, today());
        }
    }
}
