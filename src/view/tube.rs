//! A tube as clients see it: its people masked, its times in the lab's zone.

use crate::domain::reception::RejectionReason;
use crate::domain::tube::{Description, TubeStatus};
use crate::domain::vocab::{Category, Payer, Priority, SampleType, TubeKind};
use crate::store::time::show;
use crate::store::tube::{MemberRow, TubeRow};
use crate::view::PersonView;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tube with its members (none when read for a list), as a service answers it.
#[derive(Debug, Clone)]
pub struct Tube {
    pub row: TubeRow,
    pub members: Vec<MemberRow>,
    /// Things worth a second look that did not stop the scan that answered it.
    pub warnings: Vec<String>,
}

/// One person scanned into a tube: the tube after the scan, the new member, and whether the
/// scan filled the tube and closed it.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub tube: TubeRow,
    pub member: MemberRow,
    pub closed_now: bool,
}

/// A person's place in a tube.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub position: u32,
    pub person: PersonView,
    pub added_at: DateTime<FixedOffset>,
    pub added_by: String,
}

/// A tube's reception at a lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub lab: String,
    pub received_at: DateTime<FixedOffset>,
    pub received_by: String,
    /// Minutes from collection to receipt.
    pub transport_minutes: i64,
    /// Transport took longer than the limit.
    pub transport_over_limit: bool,
}

/// A tube's rejection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rejection {
    pub reason: RejectionReason,
    pub note: Option<String>,
    pub rejected_at: DateTime<FixedOffset>,
    pub rejected_by: String,
    pub lab: Option<String>,
}

/// A tube as every response shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TubeView {
    pub barcode: String,
    pub kind: TubeKind,
    pub status: TubeStatus,
    /// 1 for a single tube, the pool size for a pooled tube, 0 for an environment sample.
    pub nominal_size: u32,
    pub member_count: u32,
    /// Closed by hand with fewer people than its nominal size.
    pub short_closed: bool,
    pub sample_type: SampleType,
    pub site: String,
    pub collector: String,
    pub collected_at: DateTime<FixedOffset>,
    pub category: Category,
    pub priority: Priority,
    /// Result due by (collection + the priority's deadline).
    pub deadline_at: DateTime<FixedOffset>,
    pub payer: Payer,
    pub payer_institution: Option<String>,
    pub description: Option<Description>,
    /// Whether natlis issued the barcode (with a verified check character).
    pub barcode_issued: bool,
    pub closed_at: Option<DateTime<FixedOffset>>,
    pub closed_by: Option<String>,
    /// 转送 the lab the tube was forwarded to before reception (it, not the site's lab,
    /// receives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_to: Option<String>,
    pub receipt: Option<Receipt>,
    pub rejection: Option<Rejection>,
    pub members: Vec<Member>,
    /// Things worth a second look that did not stop the scan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl MemberRow {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> Member {
        Member {
            position: self.position as u32,
            person: self.person.view(today),
            added_at: show(self.added_at, tz),
            added_by: self.added_by.clone(),
        }
    }
}

impl Tube {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> TubeView {
        let mut view = self.row.view(&self.members, tz, today);
        view.warnings.clone_from(&self.warnings);
        view
    }
}

impl TubeRow {
    /// The tube with the members given (none for a list of tubes).
    pub fn view(&self, members: &[MemberRow], tz: FixedOffset, today: NaiveDate) -> TubeView {
        TubeView {
            barcode: self.barcode.clone(),
            kind: self.kind,
            status: self.status,
            nominal_size: self.nominal_size as u32,
            member_count: self.member_count as u32,
            short_closed: self.short_closed != 0,
            sample_type: self.sample_type,
            site: self.site_code.clone(),
            collector: self.collector.clone(),
            collected_at: show(self.collected_at, tz),
            category: self.category,
            priority: self.priority,
            deadline_at: show(self.deadline_at, tz),
            payer: self.payer,
            payer_institution: self.payer_institution_code.clone(),
            description: self.env_item.as_ref().map(|item| Description {
                item: item.clone(),
                lot: self.env_lot.clone(),
                origin: self.env_origin.clone(),
                location: self.env_location.clone().unwrap_or_default(),
                // (The point a swab answers is shown on the institution's environment plan.)
                point: None,
            }),
            barcode_issued: self.issued_batch_id.is_some(),
            closed_at: self.closed_at.map(|t| show(t, tz)),
            closed_by: self.closed_by.clone(),
            forwarded_to: self.forwarded_lab_code.clone(),
            receipt: match (&self.lab_code, self.received_at, &self.received_by) {
                (Some(lab), Some(at), Some(by)) => Some(Receipt {
                    lab: lab.clone(),
                    received_at: show(at, tz),
                    received_by: by.clone(),
                    transport_minutes: self.transport_minutes.unwrap_or(0),
                    transport_over_limit: self.transport_over_limit != 0,
                }),
                _ => None,
            },
            rejection: match (self.rejected_at, &self.rejected_by, self.rejection_reason) {
                (Some(at), Some(by), Some(reason)) => Some(Rejection {
                    reason,
                    note: self.rejection_note.clone(),
                    rejected_at: show(at, tz),
                    rejected_by: by.clone(),
                    lab: self.lab_code.clone(),
                }),
                _ => None,
            },
            members: members.iter().map(|m| m.view(tz, today)).collect(),
            warnings: vec![],
        }
    }
}

/// The answer to a scan of one person into a tube: where the tube stands, and who was added.
/// (The whole tube with all its people: `GET /api/v1/tubes/{barcode}`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberAdded {
    pub barcode: String,
    pub status: TubeStatus,
    pub nominal_size: u32,
    pub member_count: u32,
    /// This scan filled the tube and closed it.
    pub closed_now: bool,
    pub deadline_at: DateTime<FixedOffset>,
    pub added: Member,
}

impl Scanned {
    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> MemberAdded {
        MemberAdded {
            barcode: self.tube.barcode.clone(),
            status: self.tube.status,
            nominal_size: self.tube.nominal_size as u32,
            member_count: self.tube.member_count as u32,
            closed_now: self.closed_now,
            deadline_at: show(self.tube.deadline_at, tz),
            added: self.member.view(tz, today),
        }
    }
}
