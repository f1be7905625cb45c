//! Time is stored as microseconds since the Unix epoch, UTC, in a 64-bit integer on both
//! backends, and shown in the lab's time zone.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

pub fn to_db(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_db(micros: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A stored time shown in the lab's zone, RFC 3339 (`2026-11-23T08:00:00+08:00`).
pub fn show(micros: i64, tz: FixedOffset) -> DateTime<FixedOffset> {
    from_db(micros).with_timezone(&tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_microseconds() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
            + chrono::Duration::microseconds(7);
        assert_eq!(from_db(to_db(t)), t);
        let tz = FixedOffset::east_opt(8 * 3600).unwrap();
        assert_eq!(
            show(to_db(t), tz).to_rfc3339(),
            "2026-11-23T08:00:00.000007+08:00"
        );
    }
}
