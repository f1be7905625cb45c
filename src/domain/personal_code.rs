//! 个人码 personal codes: given to a pre-registered person and printed as a QR code, so that
//! collectors scan it instead of typing an ID number. `P` + 9 random characters from an
//! alphabet without look-alikes + a Luhn mod 36 check character.

use super::barcode::check_character;
use rand::Rng;

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const LEN: usize = 11;

/// Generates a new personal code.
pub fn generate(rng: &mut impl Rng) -> String {
    let body: String = (0..LEN - 2)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    let payload = format!("P{body}");
    let check = check_character(&payload);
    format!("{payload}{check}")
}

/// Whether scanner input looks like a personal code with a valid check character. The input
/// is trimmed and upper-cased first; returns the normalised code.
pub fn recognise(input: &str) -> Option<String> {
    let s = input.trim().to_ascii_uppercase();
    if s.len() != LEN || !s.starts_with('P') || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (payload, check) = s.split_at(LEN - 1);
    check.starts_with(check_character(payload)).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_codes_are_recognised_and_typos_are_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let code = generate(&mut rng);
            assert_eq!(
                recognise(&format!(" {} ", code.to_lowercase())),
                Some(code.clone())
            );
            let mut typo = code.into_bytes();
            typo[3] = if typo[3] == b'2' { b'3' } else { b'2' };
            assert_eq!(recognise(std::str::from_utf8(&typo).unwrap()), None);
        }
        assert_eq!(recognise("11010519491231002X"), None);
    }
}
