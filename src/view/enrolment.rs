//! 自助登记 self-registration as clients see it: the poster's link, the form a scan opens, the
//! receipt a staff member gets, and the requests the administrator decides (people masked).

use crate::domain::id_number::DocumentType;
use crate::domain::mask;
use crate::store::enrolment::RequestRow;
use crate::store::time::show;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use utoipa::ToSchema;

/// An institution's live poster link (its QR code carries `path` on this server).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentLink {
    pub institution: String,
    pub token: String,
    /// The public page the QR code opens, e.g. `/join/…`.
    pub path: String,
    pub created_at: DateTime<FixedOffset>,
    pub created_by: String,
}

/// What a scanned poster shows: whom the staff member registers with, and the classes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentForm {
    pub institution_name: String,
    pub classes: Vec<String>,
}

/// The answer to a request: waiting for the administrator (the same for everyone).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentReceipt {
    pub institution_name: String,
    /// Masked.
    pub name: String,
    pub class: String,
    /// `pending`.
    pub state: String,
}

/// A request as the administrator sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolmentRequest {
    pub id: i64,
    /// Masked.
    pub name: String,
    pub doc_type: DocumentType,
    /// Masked.
    pub doc_no: String,
    /// Masked.
    pub phone: String,
    pub class: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub submitted_at: DateTime<FixedOffset>,
    pub decided_at: Option<DateTime<FixedOffset>>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    /// The class the person is on the roster in already, if they are.
    pub on_roster: Option<String>,
}

impl EnrolmentRequest {
    pub fn of(r: &RequestRow, on_roster: Option<String>, tz: FixedOffset) -> EnrolmentRequest {
        EnrolmentRequest {
            id: r.id,
            name: mask::name(&r.name),
            doc_type: r.doc_type,
            doc_no: mask::document_number(&r.doc_no),
            phone: mask::phone(&r.phone),
            class: r.class.clone(),
            state: r.state.clone(),
            submitted_at: show(r.created_at, tz),
            decided_at: r.decided_at.map(|t| show(t, tz)),
            decided_by: r.decided_by.clone(),
            reason: r.reason.clone(),
            on_roster,
        }
    }
}
