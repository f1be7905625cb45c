//! What a client sees: the JSON views of the lab's records, with times in the lab's time zone
//! and personal data masked.
//!
//! Services answer with records — store rows with their decoded domain values, or the small
//! answer structs defined here beside the view that shows them — and never with a view; the
//! API (and the web pages) turn them into views here with `.view(tz, today)`, so every face
//! shows the same values from one copy of the rendering. A view is built from rows and domain values only — this
//! module reads nothing and depends on no service — so a service may still describe an object
//! with its view where the description is part of the answer it writes: an audit snapshot
//! (masked) or the details of a refusal ("this barcode is already that tube").

pub mod accreditation;
pub mod cdc;
pub mod certificate;
pub mod chart;
pub mod cohort;
pub mod coverage;
pub mod enrolment;
pub mod import;
pub mod kit;
pub mod label;
pub mod ledger;
pub mod person;
pub mod plate;
pub mod push;
pub mod qr_sheet;
pub mod reception;
pub mod recheck;
pub mod result;
pub mod review;
pub mod session;
pub mod tube;
pub mod turnaround;

pub use person::{PersonFull, PersonView};
pub use tube::{Member, MemberAdded, Receipt, Rejection, Scanned, Tube, TubeView};
