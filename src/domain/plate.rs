//! PCR plates (板): 96-well (A1–H12) and 384-well (A1–P24) layouts, controls in fixed positions,
//! tubes scanned into wells or placed by a proposal (earliest deadline first, pool re-checks
//! before everything else).

use instrument_adapters::{PlateSize, Well};
use std::collections::BTreeMap;

crate::domain::vocab::vocabulary! {
    /// Where a plate stands (`plate.status`).
    PlateStatus {
        /// 上样中 wells are being filled
        Loading = "loading",
        /// 已出结果 an instrument file was imported; the layout is fixed
        Resulted = "resulted",
    }
}

/// What a well holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WellContent {
    Tube(String),
    /// 阴性对照 negative / no-template control.
    NegativeControl,
    /// 阳性对照 positive control.
    PositiveControl,
}

/// Where the controls go on every plate: the last two wells.
pub fn control_wells(size: PlateSize) -> (Well, Well) {
    let last = Well {
        row: size.rows() - 1,
        col: size.cols() - 1,
    };
    let before = Well {
        row: last.row,
        col: last.col - 1,
    };
    (before, last)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("well {0} holds {1} already")]
    Occupied(Well, String),
    #[error("tube {0} is on this plate already, in well {1}")]
    TubeTwice(String, Well),
    #[error("well {0} is reserved for the {1}")]
    ControlWell(Well, &'static str),
}

/// A plate's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub size: PlateSize,
    pub wells: BTreeMap<Well, WellContent>,
}

impl Layout {
    /// An empty plate with its controls in place.
    pub fn new(size: PlateSize) -> Self {
        let (neg, pos) = control_wells(size);
        let mut wells = BTreeMap::new();
        wells.insert(neg, WellContent::NegativeControl);
        wells.insert(pos, WellContent::PositiveControl);
        Self { size, wells }
    }

    /// Wells left for tubes.
    pub fn free(&self) -> usize {
        usize::from(self.size.wells()) - self.wells.len()
    }

    /// Puts a scanned tube into a well.
    pub fn assign(&mut self, well: Well, barcode: &str) -> Result<(), LayoutError> {
        match self.wells.get(&well) {
            Some(WellContent::NegativeControl) => {
                return Err(LayoutError::ControlWell(well, "negative control"))
            }
            Some(WellContent::PositiveControl) => {
                return Err(LayoutError::ControlWell(well, "positive control"))
            }
            Some(WellContent::Tube(t)) => return Err(LayoutError::Occupied(well, t.clone())),
            None => {}
        }
        if let Some((w, _)) = self
            .wells
            .iter()
            .find(|(_, c)| **c == WellContent::Tube(barcode.to_string()))
        {
            return Err(LayoutError::TubeTwice(barcode.to_string(), *w));
        }
        self.wells
            .insert(well, WellContent::Tube(barcode.to_string()));
        Ok(())
    }

    /// The next free well, row by row.
    pub fn next_free(&self) -> Option<Well> {
        (0..self.size.wells())
            .filter_map(|i| Well::from_index(i, 0, self.size).ok())
            .find(|w| !self.wells.contains_key(w))
    }
}

/// A tube waiting for a plate.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub barcode: String,
    /// Result due by (microseconds since the epoch, UTC).
    pub deadline: i64,
    /// A re-check of a positive pool's member (单采复核): goes first.
    pub recheck: bool,
}

/// Proposes the next plate: re-checks first, then earliest deadline first; ties by barcode so
/// the same queue always gives the same plate. Returns the layout and the tubes left waiting.
pub fn propose(size: PlateSize, mut waiting: Vec<Waiting>) -> (Layout, Vec<Waiting>) {
    waiting.sort_by(|a, b| {
        b.recheck
            .cmp(&a.recheck)
            .then(a.deadline.cmp(&b.deadline))
            .then(a.barcode.cmp(&b.barcode))
    });
    let mut layout = Layout::new(size);
    let mut left = vec![];
    for w in waiting {
        match layout.next_free() {
            Some(well) if layout.assign(well, &w.barcode).is_ok() => {}
            _ => left.push(w),
        }
    }
    (layout, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str, size: PlateSize) -> Well {
        Well::parse(s, size).unwrap()
    }

    #[test]
    fn controls_sit_in_the_last_two_wells() {
        let (n, p) = control_wells(PlateSize::P96);
        assert_eq!((n.to_string(), p.to_string()), ("H11".into(), "H12".into()));
        let (n, p) = control_wells(PlateSize::P384);
        assert_eq!((n.to_string(), p.to_string()), ("P23".into(), "P24".into()));
        assert_eq!(Layout::new(PlateSize::P96).free(), 94);
        assert_eq!(Layout::new(PlateSize::P384).free(), 382);
    }

    #[test]
    fn scanning_into_wells_refuses_doubles_and_control_wells() {
        let size = PlateSize::P96;
        let mut l = Layout::new(size);
        l.assign(w("A1", size), "T1").unwrap();
        assert_eq!(
            l.assign(w("A1", size), "T2"),
            Err(LayoutError::Occupied(w("A1", size), "T1".into()))
        );
        assert_eq!(
            l.assign(w("A2", size), "T1"),
            Err(LayoutError::TubeTwice("T1".into(), w("A1", size)))
        );
        assert!(matches!(
            l.assign(w("H12", size), "T3"),
            Err(LayoutError::ControlWell(_, "positive control"))
        ));
        assert_eq!(l.next_free(), Some(w("A2", size)));
    }

    #[test]
    fn the_proposal_puts_rechecks_then_the_most_urgent_first() {
        let t = |b: &str, deadline: i64, recheck: bool| Waiting {
            barcode: b.into(),
            deadline,
            recheck,
        };
        let queue = vec![
            t("LATE", 300, false),
            t("SOON", 100, false),
            t("RECHECK", 900, true),
            t("MID", 200, false),
        ];
        let (layout, left) = propose(PlateSize::P96, queue);
        let order: Vec<String> = layout
            .wells
            .iter()
            .filter_map(|(well, c)| match c {
                WellContent::Tube(b) => Some(format!("{well}:{b}")),
                _ => None,
            })
            .collect();
        assert_eq!(order, ["A1:RECHECK", "A2:SOON", "A3:MID", "A4:LATE"]);
        assert!(left.is_empty());
    }

    #[test]
    fn a_full_plate_leaves_the_rest_waiting() {
        let queue: Vec<Waiting> = (0..100)
            .map(|i| Waiting {
                barcode: format!("T{i:03}"),
                deadline: i,
                recheck: false,
            })
            .collect();
        let (layout, left) = propose(PlateSize::P96, queue);
        assert_eq!(layout.free(), 0);
        assert_eq!(left.len(), 6);
        assert_eq!(left[0].barcode, "T094");
    }
}
