//! Synthetic instrument exports, for the demo dataset, the benchmarks and the tests: a plate's
//! readings written as a Bio-Rad CFX "Quantification Cq Results" CSV (fluor-major, wells `A01`),
//! the same layout the real CFX files in `shared/instrument-exports/biorad-cfx-csv` have; and in
//! the layouts `shared/instrument-exports/FORMATS.md` gives for the LightCycler 480 Cp text
//! export (one file per filter combination), SLAN-96P (GBK, dyes in 目标) and MA-6000.

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

/// What a synthetic well shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// No target, internal control at this Ct.
    Negative(f64),
    /// Every target at this Ct, the internal control too.
    Positive(f64),
    /// The first target only, at this Ct.
    SingleTarget(f64),
    /// Nothing amplified, not even the internal control.
    Invalid,
    /// The negative control: nothing amplified (a dirty one: the first target at this Ct).
    NegativeControl(Option<f64>),
    /// The positive control: every target and the internal control near Ct 28.
    PositiveControl,
}

/// A well read with `kit`'s dyes and targets, showing `shape`.
pub fn well(
    kit: &crate::domain::kit::Kit,
    well: instrument_adapters::Well,
    sample: &str,
    shape: Shape,
) -> SynthWell {
    let n = kit.targets.len();
    let (targets, ic): (Vec<Option<f64>>, Option<f64>) = match shape {
        Shape::Negative(ic) => (vec![None; n], Some(ic)),
        Shape::Positive(ct) => (
            (0..n).map(|i| Some(ct + i as f64 * 0.7)).collect(),
            Some(29.0),
        ),
        Shape::SingleTarget(ct) => ((0..n).map(|i| (i == 0).then_some(ct)).collect(), Some(28.4)),
        Shape::Invalid => (vec![None; n], None),
        Shape::NegativeControl(dirty) => (
            (0..n).map(|i| if i == 0 { dirty } else { None }).collect(),
            None,
        ),
        Shape::PositiveControl => (
            (0..n).map(|i| Some(28.0 + i as f64 * 0.3)).collect(),
            Some(27.0),
        ),
    };
    let mut cts: Vec<(String, String, Option<f64>)> = kit
        .targets
        .iter()
        .zip(targets)
        .map(|(t, ct)| (t.channel.clone(), t.target.clone(), ct))
        .collect();
    cts.push((kit.internal_control.channel.clone(), "IC".into(), ic));
    SynthWell {
        well,
        sample: sample.to_string(),
        content: match shape {
            Shape::NegativeControl(_) => "NTC",
            Shape::PositiveControl => "Pos Ctrl",
            _ => "Unkn",
        },
        cts,
    }
}

/// A whole plate's export: `shape` says what each tube (by its index on the plate) shows;
/// the controls are clean unless `dirty_negative_control` gives the Ct of a contamination.
pub fn plate_export(
    kit: &crate::domain::kit::Kit,
    layout: &crate::domain::plate::Layout,
    dirty_negative_control: Option<f64>,
    shape: impl Fn(usize) -> Shape,
) -> Vec<u8> {
    cfx_csv(&plate_wells(kit, layout, dirty_negative_control, shape))
}

/// A plate's wells as [`plate_export`] reads them, to be written in any layout.
pub fn plate_wells(
    kit: &crate::domain::kit::Kit,
    layout: &crate::domain::plate::Layout,
    dirty_negative_control: Option<f64>,
    shape: impl Fn(usize) -> Shape,
) -> Vec<SynthWell> {
    use crate::domain::plate::WellContent;
    let mut wells = vec![];
    let mut i = 0;
    for (w, content) in &layout.wells {
        wells.push(match content {
            WellContent::Tube(b) => {
                i += 1;
                well(kit, *w, b, shape(i - 1))
            }
            WellContent::NegativeControl => well(
                kit,
                *w,
                "NTC",
                Shape::NegativeControl(dirty_negative_control),
            ),
            WellContent::PositiveControl => well(kit, *w, "PC", Shape::PositiveControl),
        });
    }
    wells
}

fn ct_text(ct: Option<f64>, none: &str) -> String {
    ct.map_or(none.to_string(), |v| format!("{v:.2}"))
}

/// LightCycler 480 Cp text exports, one per dye: `filter` names the dye's filter combination on
/// the instrument's first line (`HEX/VIC (533-580)`, `Cy5 / Cy5.5`, …). No dye or target in the
/// table; an empty Cp is no amplification.
pub fn lc480_txt(wells: &[SynthWell], filter: impl Fn(&str) -> String) -> Vec<Vec<u8>> {
    let mut dyes: Vec<&str> = vec![];
    for w in wells {
        for (dye, _, _) in &w.cts {
            if !dyes.contains(&dye.as_str()) {
                dyes.push(dye);
            }
        }
    }
    dyes.iter()
        .map(|dye| {
            let mut out = format!(
                "Experiment: natlis synthetic run  Selected Filter: {}\r\nInclude\tColor\tPos\tName\tCp\tConcentration\tStandard\tStatus\r\n",
                filter(dye)
            );
            for w in wells {
                for (d, _, ct) in &w.cts {
                    if d == dye {
                        let _ = write!(
                            out,
                            "True\t255\t{}\t{}\t{}\t\t0\t\r\n",
                            w.well,
                            w.sample,
                            ct_text(*ct, "")
                        );
                    }
                }
            }
            out.into_bytes()
        })
        .collect()
}

/// A SLAN-96P export as FORMATS.md §9 describes it, GBK-encoded: the instrument in the first
/// rows, the header `反应孔,样本名称,目标,Ct,属性,浓度`, and the dye (FAM / VIC / ROX / CY5) in
/// the 目标 column, one row per well and dye.
pub fn slan_csv(wells: &[SynthWell]) -> Vec<u8> {
    let mut out = String::from(
        "仪器型号,SLAN-96P\r\n实验名称,新冠核酸检测\r\n\r\n反应孔,样本名称,目标,Ct,属性,浓度\r\n",
    );
    for w in wells {
        for (dye, _, ct) in &w.cts {
            let role = match w.content {
                "NTC" => "阴性对照",
                "Pos Ctrl" => "阳性对照",
                _ => "样本",
            };
            let _ = write!(
                out,
                "{},{},{},{},{role},\r\n",
                w.well,
                w.sample,
                dye.to_uppercase(),
                ct_text(*ct, "No Ct")
            );
        }
    }
    encoding_rs::GBK.encode(&out).0.into_owned()
}

/// An MA-6000 `Data&Graph` export: `Well` as a number 1…96 (row-major), `Item`, `Reporter`, `Ct`.
pub fn ma6000_txt(wells: &[SynthWell]) -> Vec<u8> {
    let mut out = String::from("MA6000 Data&Graph\nWell\tItem\tReporter\tCt\n");
    for w in wells {
        for (dye, _, ct) in &w.cts {
            let _ = writeln!(
                out,
                "{}\t{}\t{dye}\t{}",
                w.well.row as usize * 12 + w.well.col as usize + 1,
                w.sample,
                ct_text(*ct, "Undetermined")
            );
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
