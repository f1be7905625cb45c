//! The error answers every operation can give, written into the API document: each handler
//! documents its own outcomes; this adds the ones the edges give to any request — a body or
//! parameter that cannot be read (400), no or bad credentials (401), a role that may not (403),
//! an object named in the path or a filter that is outside the caller's scope or does not exist (404), a change
//! that conflicts with the state (409, changes), a body too large (413) or not JSON (415), a
//! field that fails validation or a control character in a parameter (422), a login locked
//! out (429), and an internal error (500: a fault of natlis or its data, such as a stored value
//! it cannot read; the body gives a reference to the log entry). Every answer has the
//! `ErrorBody` shape.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::{OpenApi, RefOr, Response, ResponseBuilder};

fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            utoipa::openapi::ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// Whether an operation is open to anyone (`security(())`).
fn public(op: &Operation) -> bool {
    op.security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &Default::default()))
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| error(description));
}

fn document(op: &mut Operation, path: &str, change: bool) {
    add(
        op,
        "400",
        "the request could not be read (body, parameters)",
    );
    if !public(op) {
        add(op, "401", "no credentials, or they are not valid");
        add(op, "403", "the caller's role may not do this");
    }
    // (Filters name objects too: `?plate=`, `?lab=`.)
    add(
        op,
        "404",
        "no such object (in the path or a filter) — or one outside the caller's scope",
    );
    if change {
        add(op, "409", "the change conflicts with the state");
    }
    if op.request_body.is_some() {
        add(op, "413", "the body is larger than accepted");
        add(op, "415", "the body is not of the documented type");
    }
    add(
        op,
        "422",
        "a field or parameter fails validation (named in `field`)",
    );
    if path.ends_with("/login") {
        add(op, "429", "too many failed logins: locked out for a while");
    }
    add(
        op,
        "500",
        "an internal error; `message` gives the reference of its log entry",
    );
}

/// Adds the edges' error answers to every operation of the document.
pub fn add_common_errors(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let PathItem {
            get,
            put,
            post,
            delete,
            patch,
            ..
        } = item;
        if let Some(op) = get {
            document(op, path, false);
        }
        for op in [put, post, delete, patch].into_iter().flatten() {
            document(op, path, true);
        }
    }
}
