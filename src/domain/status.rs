//! 个人状态 a person's current status, derived from their results: what the health-code push
//! carries. Pure: the service gathers the current version of each of the person's results and
//! their open re-sampling orders.

use super::review::ResultValue;
use serde::{Deserialize, Serialize};

/// Where the CDC stands on a positive (defined with the result states it moves).
pub use super::review::Cdc;

/// The current version of one of a person's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    /// When the swab was taken (microseconds, UTC).
    pub sampled_at: i64,
    pub value: ResultValue,
    pub cdc: Option<Cdc>,
}

/// A person's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PersonStatus {
    /// 无有效结果 no result, or the last negative has expired.
    NoResult,
    /// 阴性 until `valid_until` (microseconds, UTC), counted from sampling.
    Negative {
        #[serde(skip)]
        valid_until: i64,
    },
    /// 待复核 a positive or inconclusive pool: re-checked singly.
    PendingRecheck,
    /// 需重新采样 a specimen could not give a result (rejected, invalid twice).
    NeedsResampling,
    /// 阳性（初筛） released positive, awaiting the CDC.
    PositivePreliminary,
    /// 阳性（确诊） confirmed by the CDC: final.
    PositiveConfirmed,
}

impl PersonStatus {
    pub fn code(self) -> &'static str {
        match self {
            Self::NoResult => "no_result",
            Self::Negative { .. } => "negative",
            Self::PendingRecheck => "pending_recheck",
            Self::NeedsResampling => "needs_resampling",
            Self::PositivePreliminary => "positive_preliminary",
            Self::PositiveConfirmed => "positive_confirmed",
        }
    }
}

/// The status from the person's current results and the time of their oldest open
/// re-sampling order that is not a pool re-check (`None`: none open).
///
/// A confirmed positive is final. A preliminary positive stands until the CDC rules. Otherwise
/// the most recently sampled result speaks — a single-tube re-check supersedes the pool's
/// pending re-check — unless a re-sampling order is open that no later swab answered.
pub fn derive(
    facts: &[Fact],
    resample_ordered_at: Option<i64>,
    now: i64,
    valid_micros: i64,
) -> PersonStatus {
    if facts
        .iter()
        .any(|f| f.value == ResultValue::Positive && f.cdc == Some(Cdc::Confirmed))
    {
        return PersonStatus::PositiveConfirmed;
    }
    if facts
        .iter()
        .any(|f| f.value == ResultValue::Positive && f.cdc != Some(Cdc::Rejected))
    {
        return PersonStatus::PositivePreliminary;
    }
    let latest = facts.iter().max_by_key(|f| f.sampled_at);
    if let Some(at) = resample_ordered_at {
        if latest.is_none_or(|f| f.sampled_at < at) {
            return PersonStatus::NeedsResampling;
        }
    }
    match latest {
        None => PersonStatus::NoResult,
        Some(f) => match f.value {
            ResultValue::PendingRecheck => PersonStatus::PendingRecheck,
            ResultValue::Negative if f.sampled_at + valid_micros > now => PersonStatus::Negative {
                valid_until: f.sampled_at + valid_micros,
            },
            ResultValue::Negative => PersonStatus::NoResult,
            // A positive the CDC rejected: the lab re-checks it.
            ResultValue::Positive => PersonStatus::PendingRecheck,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn fact(at: i64, value: ResultValue, cdc: Option<Cdc>) -> Fact {
        Fact {
            sampled_at: at,
            value,
            cdc,
        }
    }

    #[test]
    fn a_negative_is_valid_for_its_hours_from_sampling() {
        let f = [fact(0, ResultValue::Negative, None)];
        assert_eq!(
            derive(&f, None, 47 * H, 48 * H),
            PersonStatus::Negative {
                valid_until: 48 * H
            }
        );
        assert_eq!(derive(&f, None, 48 * H, 48 * H), PersonStatus::NoResult);
        assert_eq!(derive(&[], None, 0, 48 * H), PersonStatus::NoResult);
    }

    #[test]
    fn a_pool_recheck_is_answered_by_the_single_tube() {
        let pool = fact(0, ResultValue::PendingRecheck, None);
        assert_eq!(
            derive(&[pool], None, H, 48 * H),
            PersonStatus::PendingRecheck
        );
        let single = fact(2 * H, ResultValue::Negative, None);
        assert_eq!(
            derive(&[pool, single], None, 3 * H, 48 * H),
            PersonStatus::Negative {
                valid_until: 50 * H
            }
        );
        let positive = fact(2 * H, ResultValue::Positive, Some(Cdc::Pending));
        assert_eq!(
            derive(&[pool, positive], None, 3 * H, 48 * H),
            PersonStatus::PositivePreliminary
        );
    }

    #[test]
    fn the_cdc_decides_positives() {
        let confirmed = fact(0, ResultValue::Positive, Some(Cdc::Confirmed));
        let later_negative = fact(5 * H, ResultValue::Negative, None);
        assert_eq!(
            derive(&[confirmed, later_negative], None, 6 * H, 48 * H),
            PersonStatus::PositiveConfirmed
        );
        let rejected = fact(0, ResultValue::Positive, Some(Cdc::Rejected));
        assert_eq!(
            derive(&[rejected], None, H, 48 * H),
            PersonStatus::PendingRecheck
        );
        assert_eq!(
            derive(&[rejected, later_negative], None, 6 * H, 48 * H),
            PersonStatus::Negative {
                valid_until: 53 * H
            }
        );
    }

    #[test]
    fn an_open_resampling_order_stands_until_a_later_swab_answers_it() {
        let old = fact(0, ResultValue::Negative, None);
        assert_eq!(
            derive(&[old], Some(H), 2 * H, 48 * H),
            PersonStatus::NeedsResampling
        );
        assert_eq!(
            derive(&[], Some(H), 2 * H, 48 * H),
            PersonStatus::NeedsResampling
        );
        let new = fact(3 * H, ResultValue::Negative, None);
        assert_eq!(
            derive(&[old, new], Some(H), 4 * H, 48 * H),
            PersonStatus::Negative {
                valid_until: 51 * H
            }
        );
    }
}
