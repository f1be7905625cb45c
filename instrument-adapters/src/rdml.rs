//! RDML (Real-time PCR Data Markup Language): a ZIP holding one XML document. Every run of
//! every experiment, every react (well), every data element (target) becomes a reading; the
//! channel is the target's dye. Wells are `A1` ("free format", StepOne) or integers counted
//! row-wise over the run's `pcrFormat` (Bio-Rad, which writes one run per dye).

use crate::{Ct, ImportError, PlateSize, Reading, Well};
use std::collections::HashMap;
use std::io::Cursor;

const FORMAT: &str = "RDML";

fn err(problem: impl Into<String>) -> ImportError {
    ImportError::Line {
        format: FORMAT.into(),
        line: 0,
        problem: problem.into(),
    }
}

/// The RDML document inside a ZIP, if the ZIP holds one; refused when the archive or the
/// document expands beyond [`bounds`](crate::bounds).
pub fn document(bytes: &[u8]) -> Result<Option<String>, ImportError> {
    crate::bounds::check_zip(bytes)?;
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(None);
    };
    for i in 0..zip.len() {
        let Ok(file) = zip.by_index(i) else {
            continue;
        };
        let name = file.name().to_string();
        if !name.to_ascii_lowercase().ends_with(".xml") {
            continue;
        }
        let xml = crate::bounds::read_capped(file, &name, crate::bounds::MAX_EXPANDED_BYTES)?;
        if let Ok(text) = String::from_utf8(xml) {
            if text.contains("<rdml") {
                return Ok(Some(text));
            }
        }
    }
    Ok(None)
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<roxmltree::Node<'a, 'a>> {
    node.children().find(|c| c.tag_name().name() == name)
}

fn text_of(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

/// Reads every reading of an RDML document.
pub fn read(xml: &str) -> Result<Vec<Reading>, ImportError> {
    let options = roxmltree::ParsingOptions {
        nodes_limit: crate::bounds::MAX_XML_NODES,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::NodesLimitReached => ImportError::TooLarge(format!(
            "the RDML document has more than {} XML nodes",
            crate::bounds::MAX_XML_NODES
        )),
        e => err(format!("the XML is damaged: {e}")),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "rdml" {
        return Err(err("the document is not RDML"));
    }
    // Target → dye (an element's text in StepOne, an `id` attribute in Bio-Rad); sample → type.
    let mut dyes: HashMap<String, String> = HashMap::new();
    let mut sample_types: HashMap<String, String> = HashMap::new();
    for node in root.children().filter(|n| n.is_element()) {
        let id = node.attribute("id").unwrap_or("").to_string();
        match node.tag_name().name() {
            "target" => {
                if let Some(d) = child(node, "dyeId") {
                    let dye = d
                        .attribute("id")
                        .map(str::to_string)
                        .or_else(|| d.text().map(|t| t.trim().to_string()))
                        .unwrap_or_default();
                    dyes.insert(id, dye);
                }
            }
            "sample" => {
                sample_types.insert(id, text_of(node, "type").unwrap_or_default());
            }
            _ => {}
        }
    }
    let mut rows = vec![];
    for run in root.descendants().filter(|n| n.tag_name().name() == "run") {
        let run_id = run.attribute("id").unwrap_or("?");
        let format = child(run, "pcrFormat");
        let columns: Option<u16> = format
            .and_then(|f| text_of(f, "columns"))
            .and_then(|c| c.parse().ok());
        let rows_n: Option<u16> = format
            .and_then(|f| text_of(f, "rows"))
            .and_then(|c| c.parse().ok());
        let size = match (rows_n, columns) {
            (Some(r), Some(c)) if r > 8 || c > 12 => PlateSize::P384,
            _ => PlateSize::P96,
        };
        // StepOne writes the last cycle, 40.0, for no amplification.
        let instrument = text_of(run, "instrument").unwrap_or_default();
        let last_cycle_no_ct =
            instrument.contains("StepOne") || instrument.contains("Applied Biosystems");
        for react in run.children().filter(|n| n.tag_name().name() == "react") {
            let rid = react.attribute("id").unwrap_or("");
            let well = match (columns, rid.parse::<u16>()) {
                (Some(_), Ok(i)) => Well::from_index(i, 1, size),
                _ => Well::parse(rid, size),
            }
            .map_err(|e| err(format!("run {run_id}: react {rid:?}: {e}")))?;
            let sample = child(react, "sample")
                .and_then(|s| s.attribute("id"))
                .unwrap_or("")
                .to_string();
            for data in react.children().filter(|n| n.tag_name().name() == "data") {
                let target = child(data, "tar")
                    .and_then(|t| t.attribute("id"))
                    .unwrap_or("")
                    .to_string();
                let ct = match text_of(data, "cq") {
                    None => Ct::NoAmplification,
                    Some(cq) => Ct::parse(&cq).map_err(|e| {
                        err(format!("run {run_id}: well {well}, target {target}: {e}"))
                    })?,
                };
                let ct = match ct.value() {
                    Some(v) if last_cycle_no_ct && v >= 40.0 => Ct::NoAmplification,
                    _ => ct,
                };
                rows.push(Reading {
                    well,
                    channel: dyes.get(&target).cloned().unwrap_or_default(),
                    target,
                    ct,
                    role: sample_types.get(&sample).cloned().unwrap_or_default(),
                    sample: sample.clone(),
                });
            }
        }
    }
    if rows.is_empty() {
        return Err(ImportError::NoRows {
            format: FORMAT.into(),
        });
    }
    Ok(rows)
}
