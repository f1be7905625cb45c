//! 采样点实时状态 a collection point's live state for the public: open or closed by its hours,
//! unless its staff set it (paused for disinfection, closed early, open late) until a time; how
//! many were sampled in the last 15 minutes; and, when the staff counted the people waiting
//! lately, the wait that rate gives.

use chrono::{DateTime, Duration, Utc};

/// The window the sampling rate is read over.
pub const WINDOW_MINUTES: i64 = 15;
/// How long a queue count by the staff is trusted.
pub const QUEUE_FRESH_MINUTES: i64 = 30;

/// What the staff set, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetState {
    Open,
    Paused,
    Closed,
}

impl SetState {
    pub fn parse(s: &str) -> Option<SetState> {
        match s {
            "open" => Some(SetState::Open),
            "paused" => Some(SetState::Paused),
            "closed" => Some(SetState::Closed),
            _ => None,
        }
    }
}

/// What the public is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// `open`, `paused`, `closed`, or `unknown` (hours that do not read, nothing set).
    pub state: &'static str,
    /// Sampled in the last [`WINDOW_MINUTES`].
    pub sampled: i64,
    /// People waiting, as the staff last counted (fresh counts only).
    pub waiting: Option<i64>,
    /// Estimated wait in minutes: the people waiting at the rate of the last 15 minutes.
    pub wait_minutes: Option<i64>,
}

/// The live state from the hours (`open_by_hours`), what the staff set (until when), the scans of
/// the window, and the staff's last queue count (with when it was made).
pub fn live(
    open_by_hours: Option<bool>,
    set: Option<(SetState, Option<DateTime<Utc>>)>,
    sampled: i64,
    queue: Option<(i64, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Live {
    let set = set.filter(|(_, until)| until.is_none_or(|u| u > now));
    let state = match (set, open_by_hours) {
        (Some((SetState::Open, _)), _) => "open",
        (Some((SetState::Paused, _)), _) => "paused",
        (Some((SetState::Closed, _)), _) => "closed",
        (None, Some(true)) => "open",
        (None, Some(false)) => "closed",
        (None, None) => "unknown",
    };
    let waiting = queue
        .filter(|(n, at)| *n >= 0 && now - *at <= Duration::minutes(QUEUE_FRESH_MINUTES))
        .map(|(n, _)| n)
        .filter(|_| state == "open");
    let wait_minutes = match waiting {
        Some(0) => Some(0),
        // People per minute over the window; nobody sampled says nothing of the wait.
        Some(n) if sampled > 0 => Some((n * WINDOW_MINUTES + sampled - 1) / sampled),
        _ => None,
    };
    Live {
        state,
        sampled,
        waiting,
        wait_minutes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 2, 0, 0).unwrap()
    }

    #[test]
    fn the_hours_decide_unless_the_staff_set_it_for_now() {
        let n = now();
        assert_eq!(live(Some(true), None, 0, None, n).state, "open");
        assert_eq!(live(Some(false), None, 0, None, n).state, "closed");
        assert_eq!(live(None, None, 0, None, n).state, "unknown");
        let paused = Some((SetState::Paused, Some(n + Duration::minutes(20))));
        assert_eq!(live(Some(true), paused, 0, None, n).state, "paused");
        // Set until a time that has passed: the hours decide again.
        let over = Some((SetState::Closed, Some(n - Duration::minutes(1))));
        assert_eq!(live(Some(true), over, 0, None, n).state, "open");
        let late = Some((SetState::Open, None));
        assert_eq!(live(Some(false), late, 0, None, n).state, "open");
    }

    #[test]
    fn the_wait_is_the_queue_at_the_rate_of_the_last_quarter_hour() {
        let n = now();
        let fresh = Some((30, n - Duration::minutes(5)));
        // 45 sampled in 15 minutes: 3 a minute; 30 waiting: 10 minutes.
        let l = live(Some(true), None, 45, fresh, n);
        assert_eq!((l.waiting, l.wait_minutes), (Some(30), Some(10)));
        // Rounded up: 7 waiting at 2 a minute is 4 minutes.
        assert_eq!(
            live(Some(true), None, 30, Some((7, n)), n).wait_minutes,
            Some(4)
        );
        // Nobody sampled: the queue is told, the wait is not guessed.
        let l = live(Some(true), None, 0, fresh, n);
        assert_eq!((l.waiting, l.wait_minutes), (Some(30), None));
        // An old count is not told; nor a queue at a closed site.
        let stale = Some((30, n - Duration::minutes(31)));
        assert_eq!(live(Some(true), None, 45, stale, n).waiting, None);
        assert_eq!(live(Some(false), None, 45, fresh, n).waiting, None);
        assert_eq!(
            live(Some(true), None, 9, Some((0, n)), n).wait_minutes,
            Some(0)
        );
    }
}
