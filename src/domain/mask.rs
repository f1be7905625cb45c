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
