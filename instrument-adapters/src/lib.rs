//! Instrument adapters: turn a real-time PCR instrument's result export into rows of
//! (well, channel, target, Ct or no amplification, sample name, well role).
//!
//! No database and no I/O beyond the bytes given. The format is recognised by content, never
//! by file name; text is decoded from UTF-8 (with or without BOM), UTF-16 (with BOM) or
//! GBK/GB18030; the header row is found by content; every spelling of "no Ct" is understood;
//! wells come as `A1`, `A01`, or 0- or 1-based indices. Parsing never panics: bad input is an
//! [`ImportError`] naming the line and the problem.

pub mod bounds;
pub mod ct;
pub mod decode;
pub mod formats;
pub mod profile_file;
pub mod rdml;
pub mod table;
pub mod well;
pub mod workbook;

pub use ct::Ct;
pub use formats::{detect, parse, parse_sized, Format};
pub use profile_file::{parse_for_plate, parse_with, CustomFormat};
pub use well::{PlateSize, Well};

/// One reading of one well on one channel, as the instrument exported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub well: Well,
    /// Channel or dye (`FAM`, `VIC`, `CY5`, ...), empty when the export has none.
    pub channel: String,
    /// Target name as exported (`ORF1ab`, `N`, ...), empty when the export has none.
    pub target: String,
    pub ct: Ct,
    /// Sample name as exported.
    pub sample: String,
    /// The well's role as exported (`UNKNOWN`, `NTC`, `Unkn`, `Std`, ...), empty when none.
    pub role: String,
}

/// What is wrong with an export. Line numbers are 1-based, as an editor shows them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a result export natlis knows (QuantStudio, 7500, CFX, LightCycler 480, ...): {0}")]
    UnknownFormat(String),
    #[error("{format}: no header row with a well and a Ct column was found")]
    NoHeader { format: String },
    #[error("{format}, line {line}: {problem}")]
    Line {
        format: String,
        line: usize,
        problem: String,
    },
    #[error("{format}: the results table has no rows")]
    NoRows { format: String },
    #[error("profile {file}: {problem}")]
    Profile { file: String, problem: String },
    /// A container or document that expands beyond what natlis reads (a ZIP bomb, a sheet
    /// spanning a million rows).
    #[error("the file is larger inside than natlis reads: {0}")]
    TooLarge(String),
}
