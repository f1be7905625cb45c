//! 管控人群 a cohort's follow-up as clients see it: each person (masked) with the windows of
//! their schedule — done, due, missed, upcoming — or their spaced tests, in the lab's calendar.

use crate::domain::mask;
use crate::domain::programme::{FollowUp, WindowState};
use crate::store::cohort::{CohortRow, MemberRow};
use crate::store::time::show;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// One window of a member's schedule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WindowView {
    /// `upcoming`, `due`, `done` or `missed`.
    pub state: String,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// When the swab that answered it was taken.
    pub taken_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SpacedView {
    pub done: u32,
    pub needed: u32,
    /// The earliest the next test counts.
    pub next_from: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CohortMember {
    pub person: String,
    /// Masked.
    pub name: String,
    /// Masked.
    pub doc_no: String,
    pub personal_code: Option<String>,
    /// When their clock started (day 1 is its local day).
    pub anchor: DateTime<FixedOffset>,
    pub windows: Vec<WindowView>,
    pub spaced: Option<SpacedView>,
    /// A test is due today.
    pub due: bool,
    /// Windows closed without a sample.
    pub missed: usize,
    pub complete: bool,
}

pub fn member(m: &MemberRow, f: &FollowUp, tz: FixedOffset, today: NaiveDate) -> CohortMember {
    let windows = match f {
        FollowUp::Windows(w) => w
            .iter()
            .map(|s| match s {
                WindowState::Upcoming { from, to } => window("upcoming", *from, *to, None),
                WindowState::Due { from, to } => window("due", *from, *to, None),
                WindowState::Missed { from, to } => window("missed", *from, *to, None),
                WindowState::Done { at } => WindowView {
                    state: "done".into(),
                    from: None,
                    to: None,
                    taken_at: Some(at.with_timezone(&tz)),
                },
            })
            .collect(),
        _ => vec![],
    };
    CohortMember {
        person: m.uid.clone(),
        name: mask::name(&m.name),
        doc_no: mask::document_number(&m.doc_no),
        personal_code: m.personal_code.clone(),
        anchor: show(m.anchor_at, tz),
        windows,
        spaced: match f {
            FollowUp::Spaced(s) => Some(SpacedView {
                done: s.done,
                needed: s.needed,
                next_from: s.next_from.map(|t| t.with_timezone(&tz)),
            }),
            _ => None,
        },
        due: f.due(today, tz),
        missed: f.missed(),
        complete: f.complete(),
    }
}

fn window(
    state: &str,
    from: NaiveDate,
    to: NaiveDate,
    at: Option<DateTime<FixedOffset>>,
) -> WindowView {
    WindowView {
        state: state.into(),
        from: Some(from),
        to: Some(to),
        taken_at: at,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cohort {
    pub code: String,
    pub name: String,
    pub programme: String,
    pub region: String,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
    pub member_count: i64,
    /// Members with a test due today.
    pub due_today: usize,
    /// Members who missed at least one window.
    pub missed: usize,
    pub complete: usize,
}

pub fn cohort(r: &CohortRow, members: &[CohortMember], tz: FixedOffset) -> Cohort {
    Cohort {
        code: r.code.clone(),
        name: r.name.clone(),
        programme: r.programme.clone(),
        region: r.region.clone(),
        created_at: show(r.created_at, tz),
        created_by: r.created_by.clone(),
        member_count: r.members,
        due_today: members.iter().filter(|m| m.due).count(),
        missed: members.iter().filter(|m| m.missed > 0).count(),
        complete: members.iter().filter(|m| m.complete).count(),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CohortDetail {
    #[serde(flatten)]
    pub cohort: Cohort,
    pub members: Vec<CohortMember>,
}
