//! The audit sealer: seals the trail's new entries every few seconds (see [`crate::audit`]).

use crate::audit;
use crate::store::Store;

/// Seals every few seconds until the process ends.
pub fn spawn(store: Store, every: std::time::Duration) {
    let pause = std::time::Duration::from_millis(20);
    super::spawn_turns(store, every, pause, |store| async move {
        match audit::seal(&store, audit::SEAL_MARGIN).await {
            // A backlog: seal on.
            Ok(Some(s)) => s.entries == audit::MAX_SEAL,
            Ok(None) => false,
            Err(e) if e.code == "audit.seal_raced" => {
                tracing::debug!("sealing raced a writer; will seal again");
                false
            }
            Err(e) => {
                let error = crate::domain::mask::redact_ids(&e.to_string());
                tracing::warn!(error, "sealing the audit trail failed; will retry");
                false
            }
        }
    });
}
