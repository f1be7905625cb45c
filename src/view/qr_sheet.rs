//! 个人码打印单 a sheet of personal QR codes for a group session, as a PDF: twelve people an
//! A4 page, each a QR code of their personal code, the code in letters, their masked name and
//! class, and "单采" where their programme wants a tube of their own. Chinese text is set in
//! the PDF's predefined Adobe-GB1 font (STSong-Light, UniGB-UCS2-H), which every PDF reader
//! supplies, so nothing is embedded and the file stays small.

use pdf_writer::types::CidFontType;
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};
use qrcode::{Color, QrCode};

/// One person on the sheet.
pub struct SheetEntry {
    pub code: String,
    pub name: String,
    pub class: String,
    pub single: bool,
}

const PAGE: (f32, f32) = (595.0, 842.0);
const COLUMNS: usize = 3;
const ROWS: usize = 4;
const CELL: (f32, f32) = (175.0, 185.0);
const MARGIN: (f32, f32) = (35.0, 40.0);

/// Text as the UniGB-UCS2-H encoding reads it: UTF-16 big-endian (the characters a sheet uses
/// are all in the Basic Multilingual Plane).
fn ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

fn qr(content: &mut Content, code: &str, x: f32, y: f32, size: f32) {
    let Ok(q) = QrCode::new(code.as_bytes()) else {
        return;
    };
    let n = q.width();
    let quiet = 2.0;
    let module = size / (n as f32 + 2.0 * quiet);
    let colors = q.to_colors();
    content.set_fill_gray(0.0);
    for row in 0..n {
        for col in 0..n {
            if colors[row * n + col] == Color::Dark {
                content.rect(
                    x + (col as f32 + quiet) * module,
                    y + size - (row as f32 + quiet + 1.0) * module,
                    module,
                    module,
                );
            }
        }
    }
    content.fill_nonzero();
}

/// The sheet: a title line on every page, then the people, twelve a page.
pub fn sheet(title: &str, entries: &[SheetEntry]) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let cjk = Ref::new(3);
    let cjk_cid = Ref::new(4);
    let latin = Ref::new(5);
    let descriptor = Ref::new(6);
    let mut next = 7;
    let per_page = COLUMNS * ROWS;
    let pages: Vec<&[SheetEntry]> = if entries.is_empty() {
        vec![&[][..]]
    } else {
        entries.chunks(per_page).collect()
    };
    let mut page_ids = vec![];
    let mut contents = vec![];
    for (p, chunk) in pages.iter().enumerate() {
        let page_id = Ref::new(next);
        let content_id = Ref::new(next + 1);
        next += 2;
        page_ids.push(page_id);
        let mut c = Content::new();
        c.begin_text();
        c.set_font(Name(b"C"), 13.0);
        c.next_line(MARGIN.0, PAGE.1 - 28.0);
        c.show(Str(&ucs2(title)));
        c.end_text();
        c.begin_text();
        c.set_font(Name(b"L"), 9.0);
        c.next_line(PAGE.0 - MARGIN.0 - 60.0, 20.0);
        c.show(Str(format!("{} / {}", p + 1, pages.len()).as_bytes()));
        c.end_text();
        for (i, e) in chunk.iter().enumerate() {
            let (col, row) = (i % COLUMNS, i / COLUMNS);
            let x = MARGIN.0 + col as f32 * CELL.0;
            let top = PAGE.1 - MARGIN.1 - 10.0 - row as f32 * CELL.1;
            // The cut line around the cell.
            c.set_stroke_gray(0.75);
            c.set_line_width(0.5);
            c.rect(x, top - CELL.1 + 8.0, CELL.0 - 8.0, CELL.1 - 8.0);
            c.stroke();
            qr(&mut c, &e.code, x + 24.0, top - 128.0, 120.0);
            c.begin_text();
            c.set_font(Name(b"L"), 11.0);
            c.next_line(x + 30.0, top - 142.0);
            c.show(Str(e.code.as_bytes()));
            c.end_text();
            let mut line = format!("{}  {}", e.name, e.class);
            if e.single {
                line.push_str("  单采");
            }
            c.begin_text();
            c.set_font(Name(b"C"), 10.0);
            c.next_line(x + 10.0, top - 160.0);
            c.show(Str(&ucs2(&line)));
            c.end_text();
        }
        contents.push((content_id, c.finish()));
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(page_ids.len() as i32);
    for (page_id, (content_id, _)) in page_ids.iter().zip(&contents) {
        let mut page = pdf.page(*page_id);
        page.parent(tree)
            .media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1))
            .contents(*content_id);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(b"C"), cjk);
        fonts.pair(Name(b"L"), latin);
    }
    for (content_id, bytes) in &contents {
        pdf.stream(*content_id, bytes);
    }
    pdf.type1_font(latin).base_font(Name(b"Helvetica"));
    pdf.type0_font(cjk)
        .base_font(Name(b"STSong-Light"))
        .encoding_predefined(Name(b"UniGB-UCS2-H"))
        .descendant_font(cjk_cid);
    pdf.cid_font(cjk_cid)
        .subtype(CidFontType::Type0)
        .base_font(Name(b"STSong-Light"))
        .system_info(pdf_writer::types::SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"GB1"),
            supplement: 4,
        })
        .font_descriptor(descriptor)
        .default_width(1000.0);
    pdf.font_descriptor(descriptor)
        .name(Name(b"STSong-Light"))
        .flags(pdf_writer::types::FontFlags::SYMBOLIC)
        .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
        .italic_angle(0.0)
        .ascent(880.0)
        .descent(-120.0)
        .cap_height(880.0)
        .stem_v(93.0);
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_has_a_page_for_every_twelve_people_and_their_codes() {
        let entries: Vec<SheetEntry> = (0..13)
            .map(|i| SheetEntry {
                code: format!("P{i:010}"),
                name: "王*".into(),
                class: "医务人员".into(),
                single: i % 2 == 0,
            })
            .collect();
        let bytes = sheet("北京医院 · 2026-12-07 · 中关村采样点", &entries);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("%PDF-"));
        assert_eq!(
            text.matches("/Type /Page").count() - text.matches("/Type /Pages").count(),
            2
        );
        assert!(
            text.contains("(P0000000012)"),
            "the codes are printed as text too"
        );
        assert!(text.contains("/STSong-Light") && text.contains("/UniGB-UCS2-H"));
    }
}
