//! A person as clients see them: masked by default; in full only through the audited unmasked
//! read.

use crate::domain::id_number::{DocumentType, Sex};
use crate::domain::mask;
use crate::store::person::PersonRow;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A person as every response shows them: ID number, name and phone masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonView {
    /// Stable public identifier.
    pub id: String,
    pub doc_type: DocumentType,
    /// Masked, e.g. `110105********002X`.
    pub doc_no: String,
    /// Masked, e.g. `张*`.
    pub name: String,
    /// Masked, e.g. `138****5678`.
    pub phone: String,
    pub sex: Option<Sex>,
    pub age: Option<u32>,
    pub personal_code: Option<String>,
    pub institution: Option<String>,
}

impl PersonRow {
    pub fn view(&self, today: NaiveDate) -> PersonView {
        let birth = self
            .birth_date
            .as_deref()
            .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok());
        PersonView {
            id: self.uid.clone(),
            doc_type: self.doc_type,
            doc_no: mask::document_number(&self.doc_no),
            name: mask::name(&self.name),
            phone: mask::phone(&self.phone),
            sex: self.sex,
            age: birth.map(|b| age_on(b, today)),
            personal_code: self.personal_code.clone(),
            institution: self.institution_code.clone(),
        }
    }
}

/// Age in whole years on `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// A person in full: for the roles that need it (reports, CDC confirmation). Every such view
/// is recorded in the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PersonFull {
    pub id: String,
    pub doc_type: DocumentType,
    pub doc_no: String,
    pub name: String,
    pub phone: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    pub institution: Option<String>,
}

impl PersonRow {
    /// The person in full, for a read the service has checked and audited.
    pub fn full(&self) -> PersonFull {
        PersonFull {
            id: self.uid.clone(),
            doc_type: self.doc_type,
            doc_no: self.doc_no.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            sex: self.sex,
            birth_date: self
                .birth_date
                .as_deref()
                .and_then(|b| NaiveDate::parse_from_str(b, "%Y-%m-%d").ok()),
            institution: self.institution_code.clone(),
        }
    }
}
