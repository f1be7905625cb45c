//! 团检 group testing sessions as clients see them: who is expected where and when, who came;
//! people masked, personal codes shown (they are what the sheet prints for the scanner).

use crate::domain::mask;
use crate::domain::programme::{DutyState, Pooling};
use crate::store::session::{MemberRow, SessionRow};
use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSession {
    pub id: i64,
    pub institution: String,
    pub institution_name: String,
    /// The collection site, and the day (lab's calendar).
    pub site: String,
    pub site_name: String,
    pub on: String,
    /// Whom it was ordered for: `due`, `overdue`, `all` or `class:<name>`.
    pub who: String,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
    pub expected: i64,
    /// Scanned into a tube at the site that day.
    pub came: i64,
    pub missing: i64,
}

impl SessionRow {
    pub fn view(&self, tz: FixedOffset) -> GroupSession {
        GroupSession {
            id: self.id,
            institution: self.institution.clone(),
            institution_name: self.institution_name.clone(),
            site: self.site.clone(),
            site_name: self.site_name.clone(),
            on: self.on_day.clone(),
            who: self.who.clone(),
            created_at: show(self.created_at, tz),
            created_by: self.created_by.clone(),
            expected: self.expected,
            came: self.came,
            missing: self.expected - self.came,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSessionMember {
    pub person: String,
    /// Masked, e.g. `张*`.
    pub name: String,
    /// 个人码 what the sheet prints as a QR code and the collector scans.
    pub personal_code: Option<String>,
    pub class: Option<String>,
    /// `single`: a key population, one person per tube; `pooled`: may be pooled with colleagues.
    pub pooling: Pooling,
    /// The ledger state that put them on the list.
    pub reason: DutyState,
    pub came: bool,
}

impl MemberRow {
    pub fn view(&self) -> GroupSessionMember {
        GroupSessionMember {
            person: self.uid.clone(),
            name: mask::name(&self.name),
            personal_code: self.personal_code.clone(),
            class: self.class.clone(),
            pooling: self.pooling,
            reason: self.reason,
            came: self.came != 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupSessionDetail {
    #[serde(flatten)]
    pub session: GroupSession,
    pub members: Vec<GroupSessionMember>,
}
