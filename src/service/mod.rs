//! Use cases, one function each, one transaction each: load what is needed, ask the domain what
//! happens, write the new state and its audit entry, commit. Handlers and the CLI call these.
//! Rows and SQL are the store's ([`crate::store`]): a service calls its functions, and no
//! service holds another's rows.

pub mod accession;
pub mod accreditation;
pub mod booking;
pub mod cdc;
pub mod certificate;
pub mod cohorts;
pub mod collection_point;
pub mod coverage;
pub mod enrolment;
pub mod environment;
pub mod imports;
pub mod kits;
pub mod labels;
pub mod ledger;
pub mod lookup;
pub mod persons;
pub mod plates;
pub mod programmes;
pub mod push;
pub mod reception;
pub mod rechecks;
pub mod registry;
pub mod results;
pub mod review;
pub mod roster;
pub mod sessions;
pub mod settings;
pub mod status;
pub mod turnaround;
pub mod turnaround_report;

use crate::error::Error;

/// A registry code (lab, site, institution): 2–32 of `A–Z 0–9 - _`, upper-cased.
pub fn parse_code(field: &str, input: &str) -> Result<String, Error> {
    let s = input.trim().to_ascii_uppercase();
    if s.len() < 2
        || s.len() > 32
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid(
            field,
            format!("{input:?} is not a code: use 2–32 letters, digits, '-' or '_'"),
        ));
    }
    Ok(s)
}

/// A tube barcode from a request (trimmed, checked); `barcode.invalid` names the field.
pub fn parse_barcode(input: &str) -> Result<crate::domain::barcode::TubeBarcode, Error> {
    crate::domain::barcode::TubeBarcode::parse(input)
        .map_err(|e| Error::unprocessable("barcode.invalid", e.to_string()).at("barcode"))
}

/// A required free-text field: trimmed, non-empty, at most `max` characters.
pub fn parse_text(field: &str, input: &str, max: usize) -> Result<String, Error> {
    let s = input.trim();
    if s.is_empty() {
        return Err(Error::invalid(field, format!("{field} must not be empty")));
    }
    if let Some(c) = crate::domain::text::control_char(s, true) {
        return Err(Error::invalid(
            field,
            format!(
                "{field} contains the control character {}",
                crate::domain::text::describe(c)
            ),
        ));
    }
    if s.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(s.to_string())
}

/// An optional free-text field: trimmed; blank is none.
pub fn parse_opt_text(
    field: &str,
    input: Option<&str>,
    max: usize,
) -> Result<Option<String>, Error> {
    match input.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => parse_text(field, s, max).map(Some),
    }
}

/// A serialised value for the audit trail.
pub(crate) fn snapshot<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The most rows a list endpoint reads before the API pages them ([`crate::api::paging`]).
pub const LIST_CAP: usize = 20_000;

/// A list read with `LIMIT LIST_CAP + 1`: refused, never cut, when it is longer than the cap —
/// `what` names the list, `narrow` says which filter makes it shorter.
pub fn within_cap<T>(rows: Vec<T>, what: &str, narrow: &str) -> Result<Vec<T>, Error> {
    if rows.len() > LIST_CAP {
        return Err(Error::unprocessable(
            "list.too_long",
            format!("more than {LIST_CAP} {what}: {narrow}"),
        ));
    }
    Ok(rows)
}

/// A page's bounds from its `limit` (1–1000, `default` when absent) and `offset` (0 or more),
/// checked: (limit, offset).
pub fn page_bounds(
    limit: Option<i64>,
    offset: Option<i64>,
    default: i64,
) -> Result<(i64, i64), Error> {
    const MAX: i64 = 1000;
    let limit = match limit {
        None => default,
        Some(n) if (1..=MAX).contains(&n) => n,
        Some(n) => {
            return Err(Error::invalid(
                "limit",
                format!("{n}: a page holds 1 to {MAX} items"),
            ))
        }
    };
    let offset = match offset {
        None => 0,
        Some(n) if n >= 0 => n,
        Some(n) => return Err(Error::invalid("offset", format!("{n}: not below 0"))),
    };
    Ok((limit, offset))
}
