//! 单采复核 the re-checks of positive and inconclusive pools: every member is re-sampled into a
//! single tube (or their retained tube is tested) and tested alone, by the pool's deadline. The
//! list shows who is still owed; the exceptions are members without an order, or past due.

use crate::actor::Actor;
use crate::domain::policy::{Action, Scope};
use crate::error::Error;
use crate::store::time::to_db;
use crate::view::recheck::Recheck;
use chrono::Utc;
use serde::Deserialize;
use sqlx::AnyConnection;

/// Filters for the re-check list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct RecheckFilter {
    /// Lab code (lab users: their own lab).
    pub lab: Option<String>,
    /// Only the exceptions: members without an order, or past due.
    #[serde(default)]
    pub exceptions: bool,
    /// Include members whose re-check has its result.
    #[serde(default)]
    pub all: bool,
}

/// The members of positive and inconclusive pools and their re-checks, most urgent first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    f: &RecheckFilter,
) -> Result<Vec<Recheck>, Error> {
    actor.require(Action::ViewReview)?;
    let lab = match (&actor.scope, &f.lab) {
        (Scope::Lab { id, .. }, _) => Some(*id),
        (_, Some(code)) => Some(super::registry::lab_id(&mut *conn, "lab", code).await?.0),
        _ => None,
    };
    let rows = crate::store::result::awaiting_recheck(conn, lab, super::LIST_CAP + 1).await?;
    let rows = super::within_cap(rows, "pool members await re-checks", "give the lab")?;
    let now = to_db(Utc::now());
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = match (&r.order_status, &r.tube, &r.result) {
                (None, _, _) => "no_order",
                (_, _, Some(_)) => "resulted",
                (_, Some(_), None) => "resampled",
                (Some(_), None, None) => "awaiting_resample",
            };
            Recheck {
                pool: r.pool,
                person: r.person,
                due_at: r.due_at,
                overdue: r.due_at < now && state != "resulted",
                state: state.to_string(),
                tube: r.tube,
                result: r.result,
            }
        })
        .filter(|i| f.all || i.state != "resulted")
        .filter(|i| !f.exceptions || i.state == "no_order" || i.overdue)
        .collect())
}
