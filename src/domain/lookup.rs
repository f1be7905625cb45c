//! 结果查询 a person looking up their own results: a document number and a second factor (the
//! phone's last four digits and a code the person holds — their personal code or a booking
//! code), a lockout after repeated failures, and an access that expires. The answers say what
//! happened and whom to call, as the result portals that came before learned they must.

use chrono::{DateTime, Duration, Utc};

/// Failed attempts on one document within [`WINDOW_MINUTES`] that lock it.
pub const MAX_FAILURES: usize = 5;
/// The window failures are counted in, and how long a lockout lasts after the last of them.
pub const WINDOW_MINUTES: i64 = 60;
/// Failed attempts from one address within the window before it must wait.
pub const MAX_ADDRESS_FAILURES: i64 = 20;
/// How long a successful lookup's access reads the results.
pub const ACCESS_MINUTES: i64 = 30;
/// Whom to call when locked out (the national health hotline).
pub const HOTLINE: &str = "12320";

/// Until when a document is locked, given its failures since its last success (newest first).
pub fn locked_until(failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = Duration::minutes(WINDOW_MINUTES);
    let recent: Vec<_> = failures.iter().filter(|t| now - **t < window).collect();
    if recent.len() < MAX_FAILURES {
        return None;
    }
    // Locked for a window after the failure that made it MAX_FAILURES within one window.
    let newest = *recent[0];
    Some(newest + window).filter(|until| *until > now)
}

/// Attempts left before a lockout.
pub fn attempts_left(failures: &[DateTime<Utc>], now: DateTime<Utc>) -> usize {
    let window = Duration::minutes(WINDOW_MINUTES);
    MAX_FAILURES.saturating_sub(failures.iter().filter(|t| now - **t < window).count())
}

/// The phone's last four digits as typed (digits only, exactly four).
pub fn last_four(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// Whether a stored phone number ends with these four digits.
pub fn phone_matches(phone: &str, four: &str) -> bool {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    digits.len() >= 4 && digits.ends_with(four)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn five_failures_within_an_hour_lock_for_an_hour_after_the_last() {
        let now = t(30);
        let four: Vec<_> = (0..4).map(|i| t(25 - i)).collect();
        assert_eq!(locked_until(&four, now), None);
        assert_eq!(attempts_left(&four, now), 1);
        let five: Vec<_> = (0..5).map(|i| t(29 - i)).collect();
        assert_eq!(locked_until(&five, now), Some(t(29 + 60)));
        assert_eq!(attempts_left(&five, now), 0);
        // An hour after the last failure it opens again.
        assert_eq!(locked_until(&five, t(89)), None);
        // Failures spread over more than an hour never lock.
        let spread: Vec<_> = (0..5).map(|i| t(30 - i * 20)).collect();
        assert_eq!(locked_until(&spread, t(30)), None);
    }

    #[test]
    fn the_phone_factor_is_exactly_four_digits() {
        assert_eq!(last_four(" 5678 "), Some("5678".into()));
        assert_eq!(last_four("567"), None);
        assert_eq!(last_four("56a8"), None);
        assert!(phone_matches("13912345678", "5678"));
        assert!(phone_matches("139-1234-5678", "5678"));
        assert!(!phone_matches("13912345678", "1234"));
        assert!(!phone_matches("78", "5678"));
    }
}
