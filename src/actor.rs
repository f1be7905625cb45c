//! Who is acting: a user with one role, bound to their lab, site, institution or region.
//! Every handler that changes or shows protected data has one (from its credentials, see
//! [`crate::auth`]); every service function checks it; every audit entry names it.

use crate::domain::policy::{Role, Scope};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub username: String,
    pub role: Role,
    pub scope: Scope,
}

impl Actor {
    /// An administrator acting everywhere: for work natlis does by itself or on an operator's
    /// command line (migrations, demo data, benchmarks, `natlis user add`).
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            role: Role::Admin,
            scope: Scope::Everywhere,
        }
    }

    pub fn system() -> Self {
        Self::new("system")
    }

    /// The lab a lab user is bound to (others: none, they name the lab they mean).
    pub fn lab_id(&self) -> Option<i64> {
        match &self.scope {
            Scope::Lab { id, .. } => Some(*id),
            _ => None,
        }
    }
}
