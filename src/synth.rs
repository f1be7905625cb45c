//! Synthetic instrument exports, for the demo dataset, the benchmarks and the tests: a plate's
//! readings written as a Bio-Rad CFX "Quantification Cq Results" CSV (fluor-major, wells `A01`),
//! the same layout the real CFX files in `shared/instrument-exports/biorad-cfx-csv` have; and in
//! the layouts `shared/instrument-exports/FORMATS.md` gives for the LightCycler 480 Cp text
//! export (one file per filter combination), SLAN-96P (GBK, dyes in 目标) and MA-6000, and the
//! QuantStudio, 7500, SDS, Rotor-Gene and Design & Analysis layouts of the real files beside
//! it (text and workbooks).

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

/// The rows of a plate: (well, sample, role, dye, target, Ct) in well order.
fn rows(wells: &[SynthWell]) -> impl Iterator<Item = (&SynthWell, &str, &str, Option<f64>)> {
    wells.iter().flat_map(|w| {
        w.cts
            .iter()
            .map(move |(dye, target, ct)| (w, dye.as_str(), target.as_str(), *ct))
    })
}

/// A well's 1-based row-major index on a 96-well plate (A1 = 1, A2 = 2, B1 = 13).
fn index1(w: &SynthWell) -> usize {
    w.well.row as usize * 12 + w.well.col as usize + 1
}

/// A Thermo task name for a well.
fn task(w: &SynthWell) -> &'static str {
    match w.content {
        "NTC" => "NTC",
        "Pos Ctrl" => "STANDARD",
        _ => "UNKNOWN",
    }
}

/// Which text layout of the Thermo/Applied Biosystems family to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThermoText {
    /// QuantStudio v1.x text export: `* key = value`, `[Results]`, `Well` (index) and
    /// `Well Position`, `CT`, `Undetermined`.
    QuantStudio,
    /// 7500 Software v2.x text export: the same with `Instrument Type = sds7500fast`, `Well`
    /// holding `A1`, and the Ct column titled `Cт`.
    Abi7500,
    /// QuantStudio results re-saved as CSV: `Block Type,…` rows, then the table.
    QuantStudioCsv,
}

/// A Thermo text export of the plate.
pub fn thermo_text(wells: &[SynthWell], layout: ThermoText) -> Vec<u8> {
    let mut out = String::new();
    let (sep, instrument) = match layout {
        ThermoText::QuantStudioCsv => (",", ""),
        ThermoText::Abi7500 => ("\t", "sds7500fast"),
        ThermoText::QuantStudio => ("\t", "QuantStudio(TM) 7 Flex System"),
    };
    match layout {
        ThermoText::QuantStudioCsv => {
            out.push_str("Block Type,96-Well 0.2-mL Block\r\nChemistry,TAQMAN\r\nExperiment Name,natlis synthetic run\r\nPassive Reference,ROX\r\n\r\n");
        }
        _ => {
            let _ = write!(
                out,
                "* Block Type = 96fast\r\n* Chemistry = TAQMAN\r\n* Experiment Name = natlis synthetic run\r\n* Instrument Type = {instrument}\r\n* Passive Reference = ROX\r\n\r\n[Results]\r\n"
            );
        }
    }
    let header: &[&str] = match layout {
        ThermoText::Abi7500 => &[
            "Well",
            "Sample Name",
            "Target Name",
            "Task",
            "Reporter",
            "Quencher",
            "Cт",
            "Cт Mean",
        ],
        _ => &[
            "Well",
            "Well Position",
            "Omit",
            "Sample Name",
            "Target Name",
            "Task",
            "Reporter",
            "Quencher",
            "CT",
            "Ct Mean",
        ],
    };
    out.push_str(&header.join(sep));
    out.push_str("\r\n");
    for (w, dye, target, ct) in rows(wells) {
        let ct = ct_text(ct, "Undetermined");
        let cells: Vec<String> = match layout {
            ThermoText::Abi7500 => vec![
                w.well.to_string(),
                w.sample.clone(),
                target.into(),
                task(w).into(),
                dye.into(),
                "NFQ-MGB".into(),
                ct,
                String::new(),
            ],
            _ => vec![
                index1(w).to_string(),
                w.well.to_string(),
                "false".into(),
                w.sample.clone(),
                target.into(),
                task(w).into(),
                dye.into(),
                "NFQ-MGB".into(),
                ct,
                String::new(),
            ],
        };
        out.push_str(&cells.join(sep));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// An SDS 2.x (7900HT) results table: `Well` a 1-based number, the target in `Detector`.
pub fn sds_text(wells: &[SynthWell]) -> Vec<u8> {
    let mut out = String::from(
        "SDS 2.2.2\tAQ Results\t1.0\r\n\r\nWell\tSample Name\tDetector\tTask\tCt\tStdDev Ct\r\n",
    );
    for (w, _, target, ct) in rows(wells) {
        let _ = write!(
            out,
            "{}\t{}\t{target}\t{}\t{}\t\r\n",
            index1(w),
            w.sample,
            if w.content == "Unkn" {
                "Unknown"
            } else {
                "Standard"
            },
            ct_text(ct, "Undetermined")
        );
    }
    out.into_bytes()
}

/// A 7500 `.eds` `analysis_result.txt`: `Well` 0-based, the target in `Detector`, `40.0` for
/// no amplification, each row followed by its curve rows.
pub fn abi7500_analysis_result(wells: &[SynthWell]) -> Vec<u8> {
    let mut out = String::from(
        "Session Name\t\nWell\tSample Name\tDetector\tTask\tCt\tAvg Ct\tCt SD\tDelta Ct\tQty\tAvg Qty\tQty SD\n",
    );
    for (w, _, target, ct) in rows(wells) {
        let _ = write!(
            out,
            "{}\t{}\t{target}\tTarget\t{}\t\t\t\t\t\t\nRn values\t0.51\t0.52\t0.55\nDelta Rn values\t0.01\t0.02\t0.05\nDDCT Values\t0\t\t{}\t{target}\tTarget\t{}\t\t\t\t\t\t\t\t\tfalse\t\n",
            index1(w) - 1,
            w.sample,
            ct_text(Some(ct.unwrap_or(40.0)), ""),
            w.sample,
            ct_text(Some(ct.unwrap_or(40.0)), ""),
        );
    }
    out.into_bytes()
}

/// The Rotor-Gene's name for the channel a dye is read on.
fn rotor_gene_channel(dye: &str) -> &'static str {
    match dye.to_uppercase().as_str() {
        "FAM" => "Green",
        "VIC" | "HEX" => "Yellow",
        "ROX" => "Orange",
        _ => "Red",
    }
}

/// A Rotor-Gene Q "Excel Analysed Data Export" CSV: one block per channel, titled
/// `Quantitative analysis of Cycling A.<channel> (<assay>)`; `No.` the 1-based position; an
/// empty Ct for no amplification.
pub fn rotor_gene_csv(wells: &[SynthWell]) -> Vec<u8> {
    let mut out = String::from("\u{feff}Excel Analysed Data Export;;;;;\r\nCopyright (c) 2013 QIAGEN GmbH. All Rights Reserved.;;;;;\r\nFile;natlis synthetic run.rex;;;;\r\n;;;;;\r\n");
    let mut dyes: Vec<(&str, &str)> = vec![];
    for (_, dye, target, _) in rows(wells) {
        if !dyes.iter().any(|d| d.0 == dye) {
            dyes.push((dye, target));
        }
    }
    for (dye, target) in dyes {
        let _ = write!(
            out,
            "Quantitative analysis of Cycling A.{} ({target});;;;;\r\n;;;;;\r\nNo.;Color;Name;Type;Ct;Ct Comment\r\n",
            rotor_gene_channel(dye)
        );
        for (w, d, _, ct) in rows(wells) {
            if d == dye {
                let kind = match w.content {
                    "NTC" => "NTC",
                    "Pos Ctrl" => "Positive Control",
                    _ => "Unknown",
                };
                let _ = write!(
                    out,
                    "{};255;{};{kind};{};\r\n",
                    index1(w),
                    w.sample,
                    ct_text(ct, "")
                );
            }
        }
        out.push_str(";;;;;\r\n");
    }
    out.into_bytes()
}

/// Which workbook layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workbook {
    /// QuantStudio v1.x: sheet `Results`, the key-value block, then the QuantStudio table.
    QuantStudio,
    /// Design & Analysis (QuantStudio Pro, Diomni): sheet `Results`, `File Name`/`Software Name
    /// and Version` rows, then `Well`, `Well Position`, `Sample`, `Target`, `Reporter`, `Cq`.
    DesignAnalysis,
    /// Rotor-Gene Q analysed data export, as a workbook.
    RotorGene,
}

/// A workbook (`.xlsx`) of the plate.
pub fn workbook(wells: &[SynthWell], layout: Workbook) -> Vec<u8> {
    let lines: Vec<Vec<String>> = match layout {
        Workbook::QuantStudio => String::from_utf8(thermo_text(wells, ThermoText::QuantStudio))
            .expect("UTF-8")
            .lines()
            .map(|l| {
                // `* key = value` → two cells; table rows by tab.
                match l.strip_prefix("* ").and_then(|kv| kv.split_once(" = ")) {
                    Some((k, v)) => vec![k.to_string(), v.to_string()],
                    None => l.split('\t').map(String::from).collect(),
                }
            })
            .filter(|cells: &Vec<String>| cells != &[String::from("[Results]")])
            .collect(),
        Workbook::DesignAnalysis => {
            let mut lines = vec![
                vec!["File Name".into(), "natlis synthetic run.eds".into()],
                vec![
                    "Software Name and Version".into(),
                    "Design & Analysis Software 2.6.0".into(),
                ],
                vec![],
                [
                    "Well",
                    "Well Position",
                    "Omit",
                    "Sample",
                    "Target",
                    "Task",
                    "Reporter",
                    "Quencher",
                    "Cq",
                    "Amp Status",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            ];
            for (w, dye, target, ct) in rows(wells) {
                lines.push(vec![
                    index1(w).to_string(),
                    format!("{}{:02}", char::from(b'A' + w.well.row), w.well.col + 1),
                    "false".into(),
                    w.sample.clone(),
                    target.into(),
                    task(w).into(),
                    dye.into(),
                    "NFQ-MGB".into(),
                    ct_text(ct, "UNDETERMINED"),
                    if ct.is_some() { "AMP" } else { "NO_AMP" }.into(),
                ]);
            }
            lines
        }
        Workbook::RotorGene => String::from_utf8(rotor_gene_csv(wells))
            .expect("UTF-8")
            .lines()
            .map(|l| {
                l.trim_start_matches('\u{feff}')
                    .split(';')
                    .map(String::from)
                    .collect()
            })
            .collect(),
    };
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Results").expect("a sheet name");
    for (r, cells) in lines.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            // Numbers as numbers, as the instruments write them.
            let _ = match cell.parse::<f64>() {
                Ok(v) if !cell.starts_with('0') || cell == "0" || cell.contains('.') => {
                    sheet.write_number(r as u32, c as u16, v)
                }
                _ => sheet.write_string(r as u32, c as u16, cell),
            };
        }
    }
    book.save_to_buffer().expect("a workbook")
}

/// Escapes text for XML.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An RDML file (a ZIP holding `rdml_data.xml`) as a StepOne writes it: wells `A1` as react
/// ids, each target with its dye, a `<cq>` per reading (none: no amplification).
pub fn rdml(wells: &[SynthWell]) -> Vec<u8> {
    use std::io::Write as _;
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<rdml xmlns=\"http://www.rdml.org\" version=\"1.0\">\n",
    );
    for w in wells {
        let kind = match w.content {
            "NTC" => "ntc",
            "Pos Ctrl" => "pos",
            _ => "unkn",
        };
        let _ = writeln!(
            x,
            "  <sample id=\"{}\"><type>{kind}</type></sample>",
            xml(&w.sample)
        );
    }
    let mut targets: Vec<(&str, &str)> = vec![];
    for (_, dye, target, _) in rows(wells) {
        if !targets.iter().any(|t| t.1 == target) {
            targets.push((dye, target));
        }
    }
    for (dye, target) in &targets {
        let _ = writeln!(
            x,
            "  <target id=\"{}\"><type>toi</type><dyeId>{}</dyeId></target>",
            xml(target),
            xml(dye)
        );
    }
    x.push_str("  <experiment id=\"natlis\">\n    <run id=\"synthetic run\">\n      <instrument>natlis synthetic</instrument>\n");
    for w in wells {
        let _ = writeln!(
            x,
            "      <react id=\"{}\"><sample id=\"{}\"/>",
            w.well,
            xml(&w.sample)
        );
        for (_, target, ct) in &w.cts {
            let cq = ct.map_or(String::new(), |v| format!("<cq>{v:.2}</cq>"));
            let _ = writeln!(x, "        <data><tar id=\"{}\"/>{cq}</data>", xml(target));
        }
        x.push_str("      </react>\n");
    }
    x.push_str("    </run>\n  </experiment>\n</rdml>\n");
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    zip.start_file(
        "rdml_data.xml",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )
    .expect("a ZIP member");
    zip.write_all(x.as_bytes()).expect("writing to memory");
    zip.finish().expect("a ZIP");
    out.into_inner()
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
