//! Masking of personal information (个人信息脱敏) in every response, export and log line:
//! ID `110105********002X`, phone `138****5678`, name `张*`.

/// Masks a document number: a resident ID keeps its 6-digit area and last 4 characters;
/// other documents keep their first 2 and last 2.
pub fn document_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let (head, tail) = if chars.len() == 18 {
        (6, 4)
    } else {
        (2.min(chars.len() / 3), 2.min(chars.len() / 3))
    };
    keep_ends(&chars, head, tail)
}

/// Masks a phone number: an 11-digit mobile keeps 3 + 4, anything else its last 4 at most.
pub fn phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() == 11 {
        keep_ends(&chars, 3, 4)
    } else {
        keep_ends(&chars, 0, 4.min(chars.len() / 2))
    }
}

/// Masks a tube barcode where a person's test is shown to someone who may not trace the tube
/// (an institution's ledger): its last 4 characters stay.
pub fn barcode(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    keep_ends(&chars, 0, 4.min(chars.len() / 2))
}

/// Masks a name: its first character stays, every other becomes `*`.
pub fn name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => String::new(),
        Some(first) if name.chars().count() == 1 => {
            let _ = first;
            "*".to_string()
        }
        Some(first) => std::iter::once(first)
            .chain(chars.map(|c| if c == ' ' { ' ' } else { '*' }))
            .collect(),
    }
}

/// Masks every run of characters in free text that could be an 18-character resident ID
/// number (17 digits and a digit or X), so that no error message or log line carries one.
pub fn redact_ids(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if starts_run && i + 18 <= chars.len() {
            let cand = &chars[i..i + 18];
            let shaped = cand[..17].iter().all(|c| c.is_ascii_digit())
                && (cand[17].is_ascii_digit() || cand[17] == 'X' || cand[17] == 'x');
            let ends_run = chars.get(i + 18).is_none_or(|c| !c.is_ascii_alphanumeric());
            if shaped && ends_run {
                out.push_str(&document_number(&cand.iter().collect::<String>()));
                i += 18;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn keep_ends(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples_from_the_domain_brief() {
        assert_eq!(document_number("11010519491231002X"), "110105********002X");
        assert_eq!(phone("13812345678"), "138****5678");
        assert_eq!(name("张三"), "张*");
        assert_eq!(name("欧阳小明"), "欧***");
        assert_eq!(name("王"), "*");
        assert_eq!(name(""), "");
    }

    #[test]
    fn other_documents_and_phones() {
        assert_eq!(document_number("E12345678"), "E1*****78");
        assert_eq!(document_number("AB"), "**");
        assert_eq!(phone("02161234567"), "021****4567");
        assert_eq!(phone("61234567"), "****4567");
        assert_eq!(phone(""), "");
    }

    #[test]
    fn ids_in_free_text_are_redacted() {
        assert_eq!(
            redact_ids("Key (doc_type, doc_no)=(resident_id, 11010519491231002X) already exists"),
            "Key (doc_type, doc_no)=(resident_id, 110105********002X) already exists"
        );
        // Longer digit runs (timestamps, other numbers) are left alone.
        assert_eq!(redact_ids("t=1700000000000000000"), "t=1700000000000000000");
        assert_eq!(redact_ids("no ids here"), "no ids here");
    }

    proptest! {
        #[test]
        fn masked_id_never_shows_the_birth_date(id in "[0-9]{17}[0-9X]") {
            let m = document_number(&id);
            prop_assert_eq!(m.chars().count(), 18);
            prop_assert_eq!(&m[6..14], "********");
        }

        #[test]
        fn masking_keeps_length_and_never_panics(s in "\\PC{0,30}") {
            prop_assert_eq!(document_number(&s).chars().count(), s.chars().count());
            prop_assert_eq!(phone(&s).chars().count(), s.chars().count());
            prop_assert_eq!(name(&s).chars().count(), s.chars().count());
        }
    }
}
