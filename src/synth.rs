//! Synthetic instrument exports, for the demo dataset and the benchmarks: a plate's readings
//! written as a Bio-Rad CFX "Quantification Cq Results" CSV (fluor-major, wells `A01`), the
//! same layout the real CFX files in `shared/instrument-exports/biorad-cfx-csv` have.

use std::fmt::Write;

/// One well of a synthetic export.
#[derive(Debug, Clone)]
pub struct SynthWell {
    /// `A1`…`P24`.
    pub well: instrument_adapters::Well,
    pub sample: String,
    /// CFX's content column: `Unkn`, `NTC`, `Pos Ctrl`.
    pub content: &'static str,
    /// (dye, target, Ct) — `None`: no amplification.
    pub cts: Vec<(String, String, Option<f64>)>,
}

/// The CSV bytes: one row per dye per well, dye by dye (as CFX Maestro writes them).
pub fn cfx_csv(wells: &[SynthWell]) -> Vec<u8> {
    let mut out = String::from(
        ",Well,Fluor,Target,Content,Sample,Biological Set Name,Cq,Cq Mean,Cq Std. Dev,Starting Quantity (SQ),Log Starting Quantity,SQ Mean,SQ Std. Dev,Set Point,Well Note\r\n",
    );
    let mut dyes: Vec<&str> = vec![];
    for w in wells {
        for (dye, _, _) in &w.cts {
            if !dyes.contains(&dye.as_str()) {
                dyes.push(dye);
            }
        }
    }
    for dye in dyes {
        for w in wells {
            for (d, target, ct) in &w.cts {
                if d != dye {
                    continue;
                }
                let well = format!("{}{:02}", char::from(b'A' + w.well.row), w.well.col + 1);
                let cq = ct.map_or("NaN".to_string(), |v| format!("{v:.2}"));
                let _ = write!(
                    out,
                    ",{well},{dye},{target},{},{},,{cq},{cq},0,NaN,NaN,NaN,0,60,\r\n",
                    w.content, w.sample
                );
            }
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use instrument_adapters::{Ct, Format, PlateSize, Well};

    #[test]
    fn a_synthetic_export_reads_back_as_written() {
        let wells = vec![
            SynthWell {
                well: Well::parse("A1", PlateSize::P96).unwrap(),
                sample: "T1".into(),
                content: "Unkn",
                cts: vec![
                    ("FAM".into(), "ORF1ab".into(), Some(25.5)),
                    ("HEX".into(), "N".into(), None),
                ],
            },
            SynthWell {
                well: Well::parse("H12", PlateSize::P96).unwrap(),
                sample: "PC".into(),
                content: "Pos Ctrl",
                cts: vec![("FAM".into(), "ORF1ab".into(), Some(28.0))],
            },
        ];
        let (format, rows) = instrument_adapters::parse(&cfx_csv(&wells)).unwrap();
        assert_eq!(format, Format::BioRadCfxCsv);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].ct, Ct::Value(25.5));
        assert_eq!(rows[0].sample, "T1");
        assert_eq!(rows[2].channel, "HEX");
        assert_eq!(rows[2].ct, Ct::NoAmplification);
    }
}
