//! 荧光通道 optical channels, from what instruments call them: a dye name (`FAM`, `hex`), a
//! Rotor-Gene colour (`Green`), or a LightCycler filter combination — several dyes read through
//! one filter pair, slash-combined, often with the pair's wavelengths (`HEX/VIC (533-580)`,
//! `VIC / HEX / Yellow555`, `Cy5 / Cy5.5`, `SYBR Green I / HRM Dye (483-533)`, or a cobas z 480's
//! bare `540-580`). Pure.

/// The channels natlis knows, each with the names instruments give it; the first name is the
/// canonical one.
const CHANNELS: &[&[&str]] = &[
    &[
        "FAM",
        "GREEN",
        "SYBR",
        "SYBR GREEN",
        "SYBR GREEN I",
        "HRM DYE",
        "FITC",
        "EVAGREEN",
    ],
    &["VIC", "HEX", "JOE", "YELLOW", "TET", "YAKIMA YELLOW"],
    &[
        "ROX",
        "TEXAS RED",
        "TEXASRED",
        "ORANGE",
        "CAL FLUOR RED 610",
        "CFR610",
    ],
    &[
        "CY5",
        "QUASAR 670",
        "QUASAR670",
        "RED",
        "CY 5",
        "LC RED 640",
    ],
    &["CY5.5", "QUASAR 705", "CRIMSON", "CY 5.5", "LC RED 705"],
];

/// The canonical name of a channel of [`CHANNELS`].
fn canonical(group: usize) -> &'static str {
    CHANNELS[group][0]
}

/// Upper case, inner whitespace collapsed.
fn clean(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// The channel one dye name belongs to: as written, else without a trailing wavelength
/// (`Yellow555`, `Cal Fluor Red 610`).
fn group_of(dye: &str) -> Option<usize> {
    let d = clean(dye);
    let find = |d: &str| CHANNELS.iter().position(|g| g.contains(&d));
    find(&d).or_else(|| {
        let stem = d.trim_end_matches(|c: char| c.is_ascii_digit());
        (d.len() - stem.len() >= 3)
            .then(|| find(stem.trim_end_matches([' ', '-'])))
            .flatten()
    })
}

/// The channel of a filter pair's emission wavelength (nm).
fn group_of_emission(nm: u32) -> Option<usize> {
    Some(match nm {
        490..=539 => 0,
        540..=594 => 1,
        595..=629 => 2,
        630..=684 => 3,
        685..=760 => 4,
        _ => return None,
    })
}

/// `533-580` anywhere in the name: (excitation, emission).
fn wavelengths(name: &str) -> Option<(u32, u32)> {
    let b = name.as_bytes();
    (0..b.len()).find_map(|i| {
        let num = |at: usize| {
            let s = name.get(at..at + 3)?;
            let before = at.checked_sub(1).map(|p| b[p]);
            let after = b.get(at + 3);
            (s.bytes().all(|c| c.is_ascii_digit())
                && !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
        };
        let ex = num(i)?;
        let mut j = i + 3;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        if b.get(j) != Some(&b'-') {
            return None;
        }
        j += 1;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        Some((ex, num(j)?))
    })
}

/// The channels a name denotes, most certain first: the filter pair's emission wavelength if it
/// has one, then each dye it names in the order named. Canonical names (`FAM`, `VIC`, `ROX`,
/// `CY5`, `CY5.5`); a dye natlis does not know stands for itself, upper-cased.
pub fn channels(name: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    let mut push = |c: String| {
        if !c.is_empty() && !out.contains(&c) {
            out.push(c);
        }
    };
    if let Some(g) = wavelengths(name).and_then(|(_, em)| group_of_emission(em)) {
        push(canonical(g).to_string());
    }
    // Without the wavelengths, in parentheses or bare.
    let mut names = String::new();
    let mut depth = 0;
    for c in name.chars() {
        match c {
            '(' | '（' => depth += 1,
            ')' | '）' => depth -= 1,
            _ if depth <= 0 => names.push(c),
            _ => {}
        }
    }
    for part in names.split(['/', ',', '+', '|', '、']) {
        let part = part.trim();
        if part.is_empty() || wavelengths(part).is_some() {
            continue;
        }
        match group_of(part) {
            Some(g) => push(canonical(g).to_string()),
            None => push(clean(part)),
        }
    }
    out
}

/// Whether a name is a dye or filter that natlis knows (not a target such as `N` or `ORF1ab`).
pub fn is_dye(name: &str) -> bool {
    wavelengths(name).is_some_and(|(_, em)| group_of_emission(em).is_some())
        || name
            .split(['/', ',', '+', '|', '、', '(', '（'])
            .next()
            .and_then(group_of)
            .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_channel() {
        for (name, want) in [
            ("FAM", vec!["FAM"]),
            ("fam", vec!["FAM"]),
            ("Green", vec!["FAM"]),
            ("FAM (465-510)", vec!["FAM"]),
            ("SYBR Green I / HRM Dye (483-533)", vec!["FAM"]),
            ("465-510", vec!["FAM"]),
            ("HEX/VIC (533-580)", vec!["VIC"]),
            ("VIC / HEX / Yellow555", vec!["VIC"]),
            ("HEX/VIC/JOE", vec!["VIC"]),
            ("540-580", vec!["VIC"]),
            ("Texas Red (533-610)", vec!["ROX"]),
            ("ROX", vec!["ROX"]),
            ("Cy5 (618-660)", vec!["CY5"]),
            ("610-670", vec!["CY5"]),
            ("Cy5 / Cy5.5", vec!["CY5", "CY5.5"]),
            ("Cy5 / Cy5.5 (618-660)", vec!["CY5", "CY5.5"]),
            ("CY5.5", vec!["CY5.5"]),
            ("Cal Fluor Red 610", vec!["ROX"]),
            ("LC Red 640 (498-640)", vec!["CY5"]),
            ("Mystery Dye", vec!["MYSTERY DYE"]),
            ("", vec![]),
        ] {
            assert_eq!(channels(name), want, "{name:?}");
        }
    }

    #[test]
    fn dyes_are_told_from_targets() {
        for dye in [
            "FAM",
            "VIC",
            "ROX",
            "CY5",
            "Cy5 / Cy5.5",
            "HEX/VIC (533-580)",
            "540-580",
        ] {
            assert!(is_dye(dye), "{dye}");
        }
        for target in ["N", "ORF1ab", "E", "IC", "内标", "N gene", ""] {
            assert!(!is_dye(target), "{target}");
        }
    }

    #[test]
    fn wavelength_pairs_are_read_anywhere() {
        assert_eq!(wavelengths("FAM (465-510)"), Some((465, 510)));
        assert_eq!(wavelengths("540 - 580"), Some((540, 580)));
        assert_eq!(wavelengths("Yellow555"), None);
        assert_eq!(wavelengths("1234-5678"), None);
    }
}
