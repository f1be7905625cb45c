//! Background workers, one per job, each running on every node until the store closes: the
//! push worker ([`push`]: delivers status messages to the health-code sinks), the audit sealer
//! ([`sealer`]) and the turnaround rollup's folder ([`rollup`]). The last two work in turns: a
//! turn every period, and while a turn says a backlog is left, the next one after a short
//! pause that leaves the writer to others.

pub mod push;
pub mod rollup;
pub mod sealer;
mod sink;

use crate::store::Store;
use std::future::Future;
use std::time::Duration;

/// Spawns `turn` every `period`; a turn returns `true` when work is left (its errors are its
/// own to log).
pub(crate) fn spawn_turns<F, Fut>(store: Store, period: Duration, pause: Duration, turn: F)
where
    F: Fn(Store) -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if store.is_closed() {
                return;
            }
            while turn(store.clone()).await {
                tokio::time::sleep(pause).await;
            }
        }
    });
}
