//! 个人状态 a person's status — what the health-code push carries and the status page shows —
//! from their current results and open re-sampling orders, by the domain's rule
//! ([`crate::domain::status`]).

use crate::domain::review;
use crate::domain::status::{self, Fact, PersonStatus};
use crate::store::result::ResultRow;

use crate::store::sample_order::OpenOrderRow;

/// A person's status at `now` (µs) from their current results (newest first) and open
/// re-sampling orders; a negative counts for `valid_hours`.
pub(crate) fn derive(
    results: &[ResultRow],
    orders: &[OpenOrderRow],
    valid_hours: i64,
    now: i64,
) -> PersonStatus {
    // Pool re-checks and CDC returns are told as pending re-check by their results; other
    // open orders (a rejected tube, a specimen that failed twice) mean a new swab is needed.
    let resample_at = orders
        .iter()
        .filter(|(_, reason, ..)| reason != review::POOL_RECHECK && reason != review::CDC_RETURNED)
        .map(|o| o.3)
        .min();
    let facts: Vec<Fact> = results.iter().map(fact).collect();
    status::derive(&facts, resample_at, now, valid_hours * 3_600_000_000)
}

fn fact(r: &ResultRow) -> Fact {
    Fact {
        sampled_at: r.sampled_at,
        value: r.value,
        cdc: r.cdc_status,
    }
}
