//! 开放时间 opening hours as labs and sites write them — `08:00-22:00`, several ranges
//! (`08:00-12:00, 14:00-18:00`, also with `，`, `、` or `;`), `00:00-24:00` or `24小时` for
//! always, a range past midnight (`20:00-02:00`) — and whether a place is open at a time.

use chrono::{NaiveTime, Timelike};

/// Minutes of the day a range covers: `[from, to)`, `to` may pass midnight (> 1440).
fn ranges(hours: &str) -> Option<Vec<(u32, u32)>> {
    let text = hours.trim();
    if matches!(text, "24小时" | "24h" | "全天" | "24 hours") {
        return Some(vec![(0, 24 * 60)]);
    }
    let minutes = |s: &str| -> Option<u32> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
        (h <= 24 && m < 60 && (h < 24 || m == 0)).then_some(h * 60 + m)
    };
    let mut out = vec![];
    for part in text.split([',', '，', '、', ';', '；']) {
        if part.trim().is_empty() {
            continue;
        }
        let (a, b) = part.split_once(['-', '–', '~', '至'])?;
        let (from, to) = (minutes(a)?, minutes(b)?);
        out.push(if to > from {
            (from, to)
        } else {
            (from, to + 24 * 60)
        });
    }
    (!out.is_empty()).then_some(out)
}

/// Whether the place is open at `t` (local time); `None` when the hours do not read.
pub fn open_at(hours: &str, t: NaiveTime) -> Option<bool> {
    let m = t.hour() * 60 + t.minute();
    Some(
        ranges(hours)?
            .iter()
            .any(|(from, to)| (m >= *from && m < *to) || (*to > 24 * 60 && m + 24 * 60 < *to)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn a_day_range_opens_at_its_start_and_closes_at_its_end() {
        assert_eq!(open_at("08:00-22:00", at(8, 0)), Some(true));
        assert_eq!(open_at("08:00-22:00", at(7, 59)), Some(false));
        assert_eq!(open_at("08:00-22:00", at(21, 59)), Some(true));
        assert_eq!(open_at("08:00-22:00", at(22, 0)), Some(false));
    }

    #[test]
    fn always_open_and_several_ranges() {
        for always in ["00:00-24:00", "24小时"] {
            assert_eq!(open_at(always, at(3, 0)), Some(true), "{always}");
            assert_eq!(open_at(always, at(23, 59)), Some(true), "{always}");
        }
        let split = "08:00-12:00，14:00-18:00";
        assert_eq!(open_at(split, at(13, 0)), Some(false));
        assert_eq!(open_at(split, at(14, 30)), Some(true));
    }

    #[test]
    fn a_night_range_runs_past_midnight() {
        assert_eq!(open_at("20:00-02:00", at(23, 0)), Some(true));
        assert_eq!(open_at("20:00-02:00", at(1, 59)), Some(true));
        assert_eq!(open_at("20:00-02:00", at(2, 0)), Some(false));
        assert_eq!(open_at("20:00-02:00", at(12, 0)), Some(false));
    }

    #[test]
    fn hours_that_do_not_read_say_so() {
        for odd in ["", "weekdays", "8-22", "25:00-26:00", "08:00"] {
            assert_eq!(open_at(odd, at(9, 0)), None, "{odd}");
        }
    }
}
