//! 板图 the picture of a plate: its rows and columns, each well coloured by what it holds —
//! free, the next free well, a control, a tube, and once results are in, the tube's automatic
//! call. The plate builder and the review screen draw the same picture from the plate's view.

use super::page::Chrome;
use crate::domain::plate::{Layout, WellContent};
use crate::view::plate::{PlateView, WellView};
use instrument_adapters::{PlateSize, Well};

/// One well of the picture.
pub struct Cell {
    pub well: String,
    /// CSS classes: `free`, `next`, `control neg`/`control pos`, `tube`, `call-<code>`,
    /// `run-invalid`.
    pub class: String,
    /// What the well shows (the end of a tube's barcode, NC/PC).
    pub label: String,
    /// The whole story on hover and for screen readers.
    pub title: String,
}

pub struct MapRow {
    pub letter: char,
    pub cells: Vec<Cell>,
}

/// The picture of a plate.
pub struct PlateMap {
    pub cols: Vec<u8>,
    pub rows: Vec<MapRow>,
    /// `p96` or `p384` (cell size).
    pub size_class: &'static str,
}

/// The plate's size as the adapters name it.
pub fn size_of(p: &PlateView) -> PlateSize {
    if p.size == 384 {
        PlateSize::P384
    } else {
        PlateSize::P96
    }
}

/// The plate's layout (what each well holds), rebuilt from its view.
pub fn layout_of(p: &PlateView) -> Layout {
    let size = size_of(p);
    let mut layout = Layout {
        size,
        wells: Default::default(),
    };
    for w in &p.wells {
        let Ok(well) = Well::parse(&w.well, size) else {
            continue;
        };
        let content = match (w.content.as_str(), &w.tube) {
            ("negative_control", _) => WellContent::NegativeControl,
            ("positive_control", _) => WellContent::PositiveControl,
            (_, Some(t)) => WellContent::Tube(t.barcode.clone()),
            _ => continue,
        };
        layout.wells.insert(well, content);
    }
    layout
}

/// The well a scanned tube goes into next (row by row), while the plate is loading.
pub fn next_well(p: &PlateView) -> Option<String> {
    if p.status != crate::domain::plate::PlateStatus::Loading {
        return None;
    }
    layout_of(p).next_free().map(|w| w.to_string())
}

/// The end of a barcode that fits in a well.
fn tail(barcode: &str, n: usize) -> String {
    let chars: Vec<char> = barcode.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

fn cell(chrome: &Chrome, well: String, used: Option<&WellView>, next: bool, big: bool) -> Cell {
    let tr = &chrome.tr;
    let Some(w) = used else {
        return Cell {
            title: format!(
                "{well} · {}",
                tr.t(if next {
                    "plate.next_well"
                } else {
                    "plate.free"
                })
            ),
            class: if next {
                "free next".into()
            } else {
                "free".into()
            },
            label: if next { "▶".into() } else { String::new() },
            well,
        };
    };
    let mut class = match w.content.as_str() {
        "negative_control" => "control neg".to_string(),
        "positive_control" => "control pos".to_string(),
        _ => "tube".to_string(),
    };
    let mut title = format!("{well} · {}", tr.code("content", &w.content));
    let label = match (&w.tube, w.content.as_str()) {
        (Some(t), _) => {
            title = format!(
                "{well} · {} · {} · {}",
                t.barcode,
                tr.code("kind", t.kind.as_str()),
                tr.f("reception.people", &[("count", &t.member_count)])
            );
            tail(&t.barcode, if big { 3 } else { 5 })
        }
        (None, "negative_control") => "NC".into(),
        (None, "positive_control") => "PC".into(),
        _ => String::new(),
    };
    if let Some(c) = &w.call {
        class.push_str(&format!(" call-{}", c.call));
        if !c.run_valid {
            class.push_str(" run-invalid");
        }
        title.push_str(&format!(" · {}", tr.code("call", &c.call)));
        if let Some(d) = &c.detail {
            title.push_str(&format!(" ({d})"));
        }
    }
    Cell {
        well,
        class,
        label,
        title,
    }
}

/// The picture of a plate, the next free well marked while it loads.
pub fn plate_map(chrome: &Chrome, p: &PlateView) -> PlateMap {
    let size = size_of(p);
    let next = next_well(p);
    let big = size == PlateSize::P384;
    let by_well: std::collections::HashMap<&str, &WellView> =
        p.wells.iter().map(|w| (w.well.as_str(), w)).collect();
    let rows = (0..size.rows())
        .map(|r| MapRow {
            letter: char::from(b'A' + r),
            cells: (0..size.cols())
                .map(|c| {
                    let well = Well { row: r, col: c }.to_string();
                    let used = by_well.get(well.as_str()).copied();
                    let is_next = next.as_deref() == Some(well.as_str());
                    cell(chrome, well, used, is_next, big)
                })
                .collect(),
        })
        .collect();
    PlateMap {
        cols: (1..=size.cols()).collect(),
        rows,
        size_class: if big { "p384" } else { "p96" },
    }
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn a_barcode_is_shown_by_its_end() {
        assert_eq!(tail("ZGC0000123", 3), "123");
        assert_eq!(tail("AB", 5), "AB");
        assert_eq!(tail("管号0001", 5), "号0001");
    }
}
