//! Instrument adapters: turn a real-time PCR instrument's result export into rows of
//! (well, channel, target, Ct, sample name, well role).
//!
//! This crate has no database and no I/O beyond the bytes it is given. The adapters for
//! each instrument family arrive with the plates-and-import work; this crate holds the
//! shared row type they produce, so the LIS can already depend on it.

/// One reading of one well on one channel, as the instrument exported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Well position as exported (normalised later, e.g. `A1`).
    pub well: String,
    /// Channel or dye (`FAM`, `VIC`, `CY5`, ...).
    pub channel: String,
    /// Target name as exported (`ORF1ab`, `N`, ...).
    pub target: String,
    /// Cycle threshold; `None` for no amplification (`Undetermined`, `No Ct`, `N/A`, blank).
    pub ct: Option<f64>,
    /// Sample name as exported.
    pub sample: String,
}
