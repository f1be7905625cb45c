//! 实验室接收 reception: transport time against its limit, and coded rejection reasons.

use super::vocab::vocabulary;
use chrono::{DateTime, Duration, Utc};

vocabulary! {
    /// 拒收原因 coded reasons for rejecting a tube (domain brief §4).
    RejectionReason {
        /// 标签缺失或无法识别
        LabelUnreadable = "label_unreadable",
        /// 信息不符
        InformationMismatch = "information_mismatch",
        /// 漏液或破损
        LeakingOrBroken = "leaking_or_broken",
        /// 无保存液或保存液不足
        InsufficientMedium = "insufficient_medium",
        /// 拭子数超过标称
        TooManySwabs = "too_many_swabs",
        /// 采样管类型错误
        WrongTubeType = "wrong_tube_type",
        /// 转运时间超限
        TransportTimeExceeded = "transport_time_exceeded",
        /// 转运温度超限
        TransportTemperatureExceeded = "transport_temperature_exceeded",
        /// 其他 (a note is required)
        Other = "other",
    }
}

/// Transport from collection to receipt, judged against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    pub minutes: i64,
    pub over_limit: bool,
}

/// Errors in reception timing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceptionTimeError {
    #[error("received at {received} is {minutes} min before collection at {collected}: check the clocks")]
    BeforeCollection {
        collected: DateTime<Utc>,
        received: DateTime<Utc>,
        minutes: i64,
    },
}

/// Allowed clock skew between a collector's device and the lab.
pub const CLOCK_SKEW_MINUTES: i64 = 10;

/// The transport time of a tube; over the limit when strictly longer than it.
pub fn transport(
    collected: DateTime<Utc>,
    received: DateTime<Utc>,
    limit: Duration,
) -> Result<Transport, ReceptionTimeError> {
    let elapsed = received - collected;
    if elapsed < -Duration::minutes(CLOCK_SKEW_MINUTES) {
        return Err(ReceptionTimeError::BeforeCollection {
            collected,
            received,
            minutes: -elapsed.num_minutes(),
        });
    }
    let elapsed = elapsed.max(Duration::zero());
    Ok(Transport {
        minutes: elapsed.num_minutes(),
        over_limit: elapsed > limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, m, 0).unwrap()
    }

    #[test]
    fn exactly_at_the_limit_is_in_time_one_minute_over_is_flagged() {
        let limit = Duration::hours(4);
        assert_eq!(
            transport(t(8, 0), t(12, 0), limit),
            Ok(Transport {
                minutes: 240,
                over_limit: false
            })
        );
        assert_eq!(
            transport(t(8, 0), t(12, 1), limit),
            Ok(Transport {
                minutes: 241,
                over_limit: true
            })
        );
    }

    #[test]
    fn small_clock_skew_is_tolerated_a_large_one_is_an_error() {
        let limit = Duration::hours(4);
        assert_eq!(transport(t(8, 5), t(8, 0), limit).unwrap().minutes, 0);
        assert!(matches!(
            transport(t(9, 0), t(8, 0), limit),
            Err(ReceptionTimeError::BeforeCollection { minutes: 60, .. })
        ));
    }

    #[test]
    fn reasons_have_stable_codes() {
        assert_eq!(
            RejectionReason::parse("leaking_or_broken"),
            Some(RejectionReason::LeakingOrBroken)
        );
        assert_eq!(RejectionReason::ALL.len(), 9);
    }
}
