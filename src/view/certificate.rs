//! 检测证明 the certificate as a PDF (krilla): the person, the sample, the result, the lab, and a
//! QR code of the signed payload, on an A5 page. The CJK font is Debian's Noto Sans CJK SC
//! (package `fonts-noto-cjk`) or the font `NATLIS_CJK_FONT` names (a TrueType/OpenType file,
//! `path` or `path#index` for a collection), embedded as a subset of the glyphs used — the
//! certificate reads the same on any reader, printed or on a phone.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use krilla::Document;
use qrcode::{Color, EcLevel, QrCode};
use std::sync::{Arc, OnceLock};

/// Fonts tried when `NATLIS_CJK_FONT` is not set: Debian's packages' paths (font, index).
const DEBIAN_FONTS: &[(&str, u32)] = &[
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
];

/// The certificate's font, loaded once; why there is none, if there is none.
pub fn font() -> Result<Font, String> {
    static FONT: OnceLock<Result<Font, String>> = OnceLock::new();
    FONT.get_or_init(load_font).clone()
}

fn load_font() -> Result<Font, String> {
    let candidates: Vec<(String, u32)> = match std::env::var("NATLIS_CJK_FONT") {
        Ok(v) if !v.trim().is_empty() => {
            let (path, index) = match v.rsplit_once('#') {
                Some((p, i)) => (p.to_string(), i.parse().unwrap_or(0)),
                None => (v.clone(), 0),
            };
            vec![(path, index)]
        }
        _ => DEBIAN_FONTS
            .iter()
            .map(|(p, i)| (p.to_string(), *i))
            .collect(),
    };
    for (path, index) in &candidates {
        if let Ok(bytes) = std::fs::read(path) {
            return Font::new(Arc::new(bytes).into(), *index)
                .ok_or_else(|| format!("{path} is not a font krilla can read"));
        }
    }
    Err(format!(
        "no CJK font for certificates: install the Debian package fonts-noto-cjk, or set \
         NATLIS_CJK_FONT to a TrueType/OpenType file (tried {})",
        candidates
            .iter()
            .map(|c| c.0.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// What the certificate shows.
pub struct CertificatePage<'a> {
    /// The holder's name in full (the holder downloads it).
    pub name: &'a str,
    /// Masked document number.
    pub doc_no: &'a str,
    pub sampled: &'a str,
    pub released: &'a str,
    pub result_zh: &'a str,
    pub result_en: &'a str,
    pub lab_name: &'a str,
    pub lab_code: &'a str,
    pub lab_phone: &'a str,
    pub valid_until: &'a str,
    pub number: &'a str,
    pub issued: &'a str,
    /// The QR text (the signed payload).
    pub payload: &'a str,
    /// Where the public verifies (the service's own address, or empty).
    pub verify_at: &'a str,
}

const W: f32 = 420.0; // A5, points
const H: f32 = 595.0;

/// The certificate's PDF.
pub fn pdf(c: &CertificatePage<'_>) -> Result<Vec<u8>, String> {
    let font = font()?;
    let mut doc = Document::new();
    {
        let mut page = doc.start_page_with(PageSettings::from_wh(W, H).expect("A5"));
        let mut s = page.surface();
        let ink = |s: &mut krilla::surface::Surface<'_>, r: u8, g: u8, b: u8| {
            s.set_fill(Some(Fill {
                paint: rgb::Color::new(r, g, b).into(),
                ..Fill::default()
            }));
        };
        let text = |s: &mut krilla::surface::Surface<'_>, x: f32, y: f32, size: f32, t: &str| {
            s.draw_text(
                Point::from_xy(x, y),
                font.clone(),
                size,
                t,
                false,
                TextDirection::Auto,
            );
        };
        // A band at the top.
        ink(&mut s, 0x1f, 0x5f, 0x8b);
        if let Some(band) = rect(0.0, 0.0, W, 64.0) {
            s.draw_path(&band);
        }
        ink(&mut s, 255, 255, 255);
        text(&mut s, 30.0, 32.0, 17.0, "新型冠状病毒核酸检测证明");
        text(
            &mut s,
            30.0,
            52.0,
            10.0,
            "SARS-CoV-2 nucleic acid test certificate",
        );
        ink(&mut s, 0x22, 0x22, 0x22);
        let rows: [(&str, &str, &str); 8] = [
            ("姓名", "Name", c.name),
            ("证件号码", "Document", c.doc_no),
            ("采样时间", "Sampled", c.sampled),
            ("报告时间", "Reported", c.released),
            ("检测机构", "Laboratory", c.lab_name),
            ("机构 / 电话", "Lab / phone", ""),
            ("有效至", "Counts until", c.valid_until),
            ("证明编号", "Certificate no.", c.number),
        ];
        let mut y = 96.0;
        for (zh, en, value) in rows {
            text(&mut s, 30.0, y, 9.0, &format!("{zh}  {en}"));
            let v = if zh.starts_with("机构") {
                format!("{} · {}", c.lab_code, c.lab_phone)
            } else {
                value.to_string()
            };
            text(&mut s, 150.0, y, 11.0, &v);
            y += 22.0;
        }
        // The result, large.
        text(&mut s, 30.0, y + 14.0, 9.0, "检测结果  Result");
        if c.result_en == "negative" {
            ink(&mut s, 0x1a, 0x7f, 0x37);
        } else {
            ink(&mut s, 0xb0, 0x1c, 0x1c);
        }
        text(
            &mut s,
            150.0,
            y + 18.0,
            20.0,
            &format!("{}  {}", c.result_zh, c.result_en.to_uppercase()),
        );
        ink(&mut s, 0, 0, 0);
        // The QR code of the signed payload.
        let size = 190.0;
        let (qx, qy) = ((W - size) / 2.0, y + 40.0);
        qr(&mut s, c.payload, qx, qy, size);
        ink(&mut s, 0x44, 0x44, 0x44);
        let foot = qy + size + 18.0;
        text(
            &mut s,
            30.0,
            foot,
            8.0,
            "扫描二维码核验：签名可用公布的密钥离线核验（/public/keys）",
        );
        text(
            &mut s,
            30.0,
            foot + 13.0,
            8.0,
            &format!(
                "Scan to verify, offline against the published keys, or at {}",
                if c.verify_at.is_empty() {
                    "/verify"
                } else {
                    c.verify_at
                }
            ),
        );
        text(
            &mut s,
            30.0,
            foot + 26.0,
            8.0,
            &format!("签发 Issued {}", c.issued),
        );
        s.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| format!("the certificate PDF: {e:?}"))
}

fn rect(x: f32, y: f32, w: f32, h: f32) -> Option<krilla::geom::Path> {
    let mut pb = PathBuilder::new();
    pb.push_rect(Rect::from_xywh(x, y, w, h)?);
    pb.finish()
}

/// Draws a QR code (error correction M) with a quiet zone of four modules.
fn qr(s: &mut krilla::surface::Surface<'_>, text: &str, x: f32, y: f32, size: f32) {
    let Ok(q) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) else {
        return;
    };
    let n = q.width();
    let quiet = 4.0;
    let module = size / (n as f32 + 2.0 * quiet);
    let colors = q.to_colors();
    let mut pb = PathBuilder::new();
    for row in 0..n {
        for col in 0..n {
            if colors[row * n + col] == Color::Dark {
                if let Some(r) = Rect::from_xywh(
                    x + (col as f32 + quiet) * module,
                    y + (row as f32 + quiet) * module,
                    module,
                    module,
                ) {
                    pb.push_rect(r);
                }
            }
        }
    }
    if let Some(p) = pb.finish() {
        s.draw_path(&p);
    }
}
