//! Wells: `A1`, `A01`, `a1`, or a plate index (0- or 1-based, row-major, 12 columns on a 96-well
//! plate and 24 on a 384-well plate).

use std::fmt;

/// Plate formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlateSize {
    /// 8 × 12, A1–H12
    P96,
    /// 16 × 24, A1–P24
    P384,
}

impl PlateSize {
    pub fn rows(self) -> u8 {
        match self {
            Self::P96 => 8,
            Self::P384 => 16,
        }
    }

    pub fn cols(self) -> u8 {
        match self {
            Self::P96 => 12,
            Self::P384 => 24,
        }
    }

    pub fn wells(self) -> u16 {
        u16::from(self.rows()) * u16::from(self.cols())
    }
}

/// A well position: row 0 = A, column 0 = 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Well {
    pub row: u8,
    pub col: u8,
}

impl Well {
    /// Parses `A1`, `A01`, `p24` (case-insensitive, trimmed) on a plate of `size`.
    pub fn parse(input: &str, size: PlateSize) -> Result<Self, String> {
        let s = input.trim();
        let mut chars = s.chars();
        let letter = chars
            .next()
            .filter(|c| c.is_ascii_alphabetic())
            .ok_or_else(|| format!("well {s:?} does not start with a row letter"))?;
        let row = letter.to_ascii_uppercase() as u8 - b'A';
        let digits = chars.as_str();
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("well {s:?} has no column number"));
        }
        let col: u8 = digits.parse().map_err(|_| format!("well {s:?}"))?;
        if row >= size.rows() || col == 0 || col > size.cols() {
            return Err(format!(
                "well {s:?} is outside a {}-well plate",
                size.wells()
            ));
        }
        Ok(Self { row, col: col - 1 })
    }

    /// A plate index, `base` 0 or 1, row-major.
    pub fn from_index(index: u16, base: u16, size: PlateSize) -> Result<Self, String> {
        let i = index
            .checked_sub(base)
            .filter(|i| *i < size.wells())
            .ok_or_else(|| {
                format!(
                    "well index {index} is outside a {}-well plate",
                    size.wells()
                )
            })?;
        Ok(Self {
            row: (i / u16::from(size.cols())) as u8,
            col: (i % u16::from(size.cols())) as u8,
        })
    }
}

impl fmt::Display for Well {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", char::from(b'A' + self.row), self.col + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_a_well() {
        for s in ["A1", "A01", "a1", " A1 "] {
            assert_eq!(
                Well::parse(s, PlateSize::P96),
                Ok(Well { row: 0, col: 0 }),
                "{s}"
            );
        }
        assert_eq!(
            Well::parse("H12", PlateSize::P96).unwrap().to_string(),
            "H12"
        );
        assert_eq!(
            Well::parse("P24", PlateSize::P384).unwrap().to_string(),
            "P24"
        );
        assert!(Well::parse("I1", PlateSize::P96).is_err());
        assert!(Well::parse("A13", PlateSize::P96).is_err());
        assert!(Well::parse("A0", PlateSize::P96).is_err());
        assert!(Well::parse("1A", PlateSize::P96).is_err());
        assert!(Well::parse("", PlateSize::P96).is_err());
    }

    #[test]
    fn indices_are_row_major_with_24_columns_on_384() {
        assert_eq!(
            Well::from_index(0, 0, PlateSize::P96).unwrap().to_string(),
            "A1"
        );
        assert_eq!(
            Well::from_index(95, 0, PlateSize::P96).unwrap().to_string(),
            "H12"
        );
        assert_eq!(
            Well::from_index(13, 1, PlateSize::P96).unwrap().to_string(),
            "B1"
        );
        assert_eq!(
            Well::from_index(25, 1, PlateSize::P384)
                .unwrap()
                .to_string(),
            "B1"
        );
        assert!(Well::from_index(96, 0, PlateSize::P96).is_err());
        assert!(Well::from_index(0, 1, PlateSize::P96).is_err());
    }
}
