//! The turnaround rollup's folder: counts the tubes whose steps changed into the hourly rollup
//! every few seconds (see [`crate::service::turnaround_report`]).

use crate::service::turnaround_report;
use crate::store::Store;

/// Folds every few seconds until the process ends (in batches while there is a backlog).
pub fn spawn(store: Store, every: std::time::Duration) {
    let pause = std::time::Duration::from_millis(10);
    super::spawn_turns(store, every, pause, |store| async move {
        match turnaround_report::fold(&store, turnaround_report::FOLD_BATCH).await {
            Ok(n) => n as i64 == turnaround_report::FOLD_BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "turnaround rollup: a turn failed; will retry");
                false
            }
        }
    });
}
