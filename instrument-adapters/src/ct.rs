//! Ct (Cq, Cp) values and every spelling of "no amplification".

/// A cycle threshold, or no amplification — never a zero standing in for one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ct {
    Value(f64),
    NoAmplification,
}

/// Spellings of "no Ct" seen in real exports and Chinese labs' parsers (compared
/// case-insensitively, trimmed). An empty cell means the same.
pub const NO_CT: &[&str] = &[
    "undetermined",
    "no ct",
    "noct",
    "noc",
    "n/a",
    "na",
    "nan",
    "-",
    "--",
    "non numérique",
    "无",
    "无ct",
    "未检出",
];

impl Ct {
    /// Parses a Ct cell; `,` is taken as a decimal comma when there is no `.`.
    pub fn parse(cell: &str) -> Result<Self, String> {
        let s = cell.trim().trim_matches('"').trim();
        if s.is_empty()
            || NO_CT
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t) || s.to_lowercase() == *t)
        {
            return Ok(Self::NoAmplification);
        }
        let normalised = if s.contains('.') {
            s.to_string()
        } else {
            s.replace(',', ".")
        };
        match normalised.parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => {
                // 0 is how some exports write "no Ct" in a numeric column.
                Ok(if v == 0.0 {
                    Self::NoAmplification
                } else {
                    Self::Value(v)
                })
            }
            Ok(v) => Err(format!("Ct {v} is outside 0–100 cycles")),
            Err(_) => Err(format!(
                "{s:?} is neither a Ct value nor a way of saying no Ct"
            )),
        }
    }

    pub fn value(self) -> Option<f64> {
        match self {
            Self::Value(v) => Some(v),
            Self::NoAmplification => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_no_ct() {
        for s in [
            "Undetermined",
            "UNDETERMINED",
            "NaN",
            "N/A",
            "No Ct",
            "NoC",
            "-",
            "",
            "  ",
            "Non Numérique",
            "0",
            "未检出",
        ] {
            assert_eq!(Ct::parse(s), Ok(Ct::NoAmplification), "{s:?}");
        }
    }

    #[test]
    fn values_with_point_or_comma() {
        assert_eq!(Ct::parse("32.874"), Ok(Ct::Value(32.874)));
        assert_eq!(Ct::parse("32,874"), Ok(Ct::Value(32.874)));
        assert_eq!(
            Ct::parse("\"21.1877528266099\""),
            Ok(Ct::Value(21.1877528266099))
        );
        assert!(Ct::parse("abc").is_err());
        assert!(Ct::parse("-3").is_err());
        assert!(Ct::parse("1e9").is_err());
    }
}
