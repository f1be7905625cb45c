//! The rules of the trade as plain Rust: no I/O, every function unit-tested.

pub mod accreditation;
pub mod barcode;
pub mod breaker;
pub mod coverage;
pub mod dye;
pub mod id_number;
pub mod interpretation;
pub mod kit;
pub mod mask;
pub mod opening_hours;
pub mod personal_code;
pub mod plate;
pub mod policy;
pub mod programme;
pub mod push;
pub mod reception;
pub mod region;
pub mod review;
pub mod roster;
pub mod run;
pub mod scan;
pub mod status;
pub mod text;
pub mod tube;
pub mod turnaround;
pub mod vocab;
