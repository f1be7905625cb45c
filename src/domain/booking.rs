//! 预约 booking a collection site's time slot: the booking code the person shows (and the
//! collector scans), and when a slot may be taken, held, cancelled or moved.
//!
//! A seat is held for [`HOLD_MINUTES`] after it is reserved; a confirmed booking keeps it. A
//! slot is taken or moved to until it starts and at most [`AHEAD_DAYS`] days ahead; a booking
//! is cancelled or moved until its slot starts. The code is `B` + 9 random characters from an
//! alphabet without look-alikes + a check character (a mistyped code is caught before any
//! lookup), 32⁹ ≈ 3.5·10¹³ codes: not guessed, and never enough alone to read anything.

use super::barcode::check_character;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const LEN: usize = 11;
/// How long a reserved seat waits for its confirmation.
pub const HOLD_MINUTES: i64 = 10;
/// How far ahead a slot may be booked.
pub const AHEAD_DAYS: i64 = 7;

/// A new booking code.
pub fn generate(rng: &mut impl Rng) -> String {
    let body: String = (0..LEN - 2)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    let payload = format!("B{body}");
    let check = check_character(&payload);
    format!("{payload}{check}")
}

/// Whether input (typed or scanned) is a booking code with a valid check character; the
/// normalised code.
pub fn recognise(input: &str) -> Option<String> {
    let s = input.trim().to_ascii_uppercase();
    if s.len() != LEN || !s.starts_with('B') || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (payload, check) = s.split_at(LEN - 1);
    check.starts_with(check_character(payload)).then_some(s)
}

/// Why a slot cannot be taken (or a booking changed) now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotClosed {
    /// It has started (or is over).
    Started,
    /// It is more than [`AHEAD_DAYS`] ahead.
    TooFarAhead,
}

/// Whether a slot starting at `starts` may be taken or moved to at `now`.
pub fn takeable(starts: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), SlotClosed> {
    if starts <= now {
        return Err(SlotClosed::Started);
    }
    if starts - now > Duration::days(AHEAD_DAYS) {
        return Err(SlotClosed::TooFarAhead);
    }
    Ok(())
}

/// Whether a booking of a slot starting at `starts` may still be cancelled or moved at `now`.
pub fn changeable(starts: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now < starts
}

/// Until when a seat reserved at `now` is held.
pub fn hold_until(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(HOLD_MINUTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::SeedableRng;

    #[test]
    fn codes_are_recognised_and_a_mistyped_one_is_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..500 {
            let c = generate(&mut rng);
            assert_eq!(recognise(&c.to_lowercase()), Some(c.clone()));
            let mut typo = c.clone().into_bytes();
            typo[4] = if typo[4] == b'2' { b'3' } else { b'2' };
            assert_eq!(recognise(&String::from_utf8(typo).unwrap()), None, "{c}");
        }
        assert_eq!(
            recognise("P23456789AB"),
            None,
            "a personal code is not a booking code"
        );
    }

    #[test]
    fn a_slot_is_taken_until_it_starts_and_up_to_a_week_ahead() {
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
        assert_eq!(takeable(now + Duration::minutes(1), now), Ok(()));
        assert_eq!(takeable(now, now), Err(SlotClosed::Started));
        assert_eq!(takeable(now + Duration::days(7), now), Ok(()));
        assert_eq!(
            takeable(now + Duration::days(7) + Duration::minutes(1), now),
            Err(SlotClosed::TooFarAhead)
        );
        assert!(changeable(now + Duration::minutes(1), now));
        assert!(!changeable(now, now));
        assert_eq!(hold_until(now), now + Duration::minutes(10));
    }
}
