//! 扫码 what a code scanned at a collection site is, by its shape alone: a personal code (with
//! a valid check character), something shaped like a resident ID number (18 characters, 17
//! digits and a digit or X; or the old 15 digits), or anything else (a tube barcode scanned
//! where a person belongs, a typo). Whether an ID number is valid is for its own parser to say.

use super::personal_code;

/// A scanned code, by shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// 个人码, normalised (trimmed, upper-case).
    PersonalCode(String),
    /// Shaped like a resident ID number (trimmed, `x` upper-cased); not yet checked.
    ResidentId(String),
    /// Anything else, trimmed.
    Other(String),
}

/// What `input` is, by shape.
pub fn classify(input: &str) -> Scanned {
    let s = input.trim();
    if let Some(code) = personal_code::recognise(s) {
        return Scanned::PersonalCode(code);
    }
    let b = s.as_bytes();
    let id18 = b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x');
    let id15 = b.len() == 15 && b.iter().all(u8::is_ascii_digit);
    if id18 || id15 {
        return Scanned::ResidentId(s.to_ascii_uppercase());
    }
    Scanned::Other(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn personal_codes_id_numbers_and_the_rest() {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
        let code = personal_code::generate(&mut rng);
        assert_eq!(
            classify(&format!(" {} ", code.to_lowercase())),
            Scanned::PersonalCode(code)
        );
        assert_eq!(
            classify("11010519491231002x"),
            Scanned::ResidentId("11010519491231002X".into())
        );
        assert_eq!(
            classify("110105491231002"),
            Scanned::ResidentId("110105491231002".into())
        );
        // A wrong check character is still shaped like an ID number: its parser refuses it.
        assert_eq!(
            classify("110105194912310021"),
            Scanned::ResidentId("110105194912310021".into())
        );
        for other in [
            "ZGC0000001",
            "1101051949123100",
            "11010519491231002Y",
            "",
            "P12345",
        ] {
            assert_eq!(classify(other), Scanned::Other(other.into()), "{other}");
        }
    }

    proptest! {
        #[test]
        fn classifying_never_panics_and_keeps_the_trimmed_text(s in "\\PC{0,40}") {
            let out = match classify(&s) {
                Scanned::PersonalCode(c) | Scanned::ResidentId(c) | Scanned::Other(c) => c,
            };
            prop_assert_eq!(out.to_ascii_uppercase(), s.trim().to_ascii_uppercase());
        }
    }
}
