//! Tube labels: Code 128 barcodes as SVG (for any printer or screen) and as ZPL (for Zebra-
//! compatible thermal label printers), and personal codes as QR codes.

use barcoders::sym::code128::Code128;

/// Width of one bar module in SVG user units, and the bar height.
const MODULE: u32 = 2;
const HEIGHT: u32 = 60;
const QUIET: u32 = 10;

/// The modules (1 = bar) of a Code 128 symbol for `data`, in code set B.
fn modules(data: &str) -> anyhow::Result<Vec<u8>> {
    let symbol = Code128::new(format!("Ɓ{data}"))
        .map_err(|e| anyhow::anyhow!("cannot encode {data:?} as Code 128: {e}"))?;
    Ok(symbol.encode())
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Code 128 label as SVG: the bars, the barcode in plain text below, and an optional caption.
pub fn code128_svg(data: &str, caption: Option<&str>) -> anyhow::Result<String> {
    let bits = modules(data)?;
    let width = (bits.len() as u32 + 2 * QUIET) * MODULE;
    let text_h = if caption.is_some() { 40 } else { 22 };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{h}\" viewBox=\"0 0 {width} {h}\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/><g fill=\"black\">",
        h = HEIGHT + text_h
    );
    let mut i = 0;
    while i < bits.len() {
        if bits[i] == 1 {
            let start = i;
            while i < bits.len() && bits[i] == 1 {
                i += 1;
            }
            svg.push_str(&format!(
                "<rect x=\"{}\" y=\"0\" width=\"{}\" height=\"{HEIGHT}\"/>",
                (start as u32 + QUIET) * MODULE,
                (i - start) as u32 * MODULE
            ));
        } else {
            i += 1;
        }
    }
    svg.push_str(&format!(
        "</g><text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"16\" text-anchor=\"middle\">{}</text>",
        width / 2,
        HEIGHT + 17,
        escape_xml(data)
    ));
    if let Some(c) = caption {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
            width / 2,
            HEIGHT + 35,
            escape_xml(c)
        ));
    }
    svg.push_str("</svg>");
    Ok(svg)
}

/// Removes the characters ZPL treats as commands from text printed on a label.
fn zpl_text(s: &str) -> String {
    s.chars().filter(|c| *c != '^' && *c != '~').collect()
}

/// One ZPL label per barcode (Code 128 with its interpretation line, and a caption), for a
/// 50 × 25 mm label at 203 dpi. `^CI28` selects UTF-8 so Chinese captions print.
pub fn zpl(labels: &[(String, String)]) -> String {
    let mut out = String::with_capacity(labels.len() * 120);
    for (barcode, caption) in labels {
        out.push_str("^XA^CI28^PW400^LL200\n");
        out.push_str(&format!(
            "^FO30,20^BY2^BCN,90,Y,N,N^FD{}^FS\n",
            zpl_text(barcode)
        ));
        out.push_str(&format!("^FO30,150^A0N,24,24^FD{}^FS\n", zpl_text(caption)));
        out.push_str("^XZ\n");
    }
    out
}

/// A QR code as SVG (for a personal code).
pub fn qr_svg(data: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| anyhow::anyhow!("cannot encode {data:?} as QR: {e}"))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_bars_and_the_plain_text() {
        let svg = code128_svg("NL0000000042X", Some("采样点 <A>")).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("NL0000000042X"));
        assert!(svg.contains("采样点 &lt;A&gt;"));
        // start (11) + 13 data + check (11 each) + stop (13) modules, as runs of bars
        assert!(svg.matches("<rect x=").count() > 20);
    }

    #[test]
    fn code128_modules_have_the_standard_length() {
        // Set B: start + n symbols + check = 11 modules each, stop = 13.
        let bits = modules("ABC123").unwrap();
        assert_eq!(bits.len(), 11 * (1 + 6 + 1) + 13);
        assert_eq!(&bits[..11], &[1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0]); // Start B
    }

    #[test]
    fn zpl_has_one_label_per_barcode_and_no_injected_commands() {
        let z = zpl(&[
            ("NL0000000001Y".into(), "S01 ^XZ".into()),
            ("NL0000000002W".into(), "S01".into()),
        ]);
        assert_eq!(z.matches("^XA").count(), 2);
        assert_eq!(z.matches("^XZ").count(), 2);
        assert!(z.contains("^BCN,90,Y,N,N^FDNL0000000001Y^FS"));
    }

    #[test]
    fn qr_renders() {
        assert!(qr_svg("P23456789AB").unwrap().contains("<svg"));
    }
}
