//! Which characters text from outside may hold. Control characters (U+0000 NUL above all,
//! which PostgreSQL cannot store in text and SQLite stores silently) are refused at the edge,
//! so the same input gets the same answer on both databases.

/// The first control character in `s`, if any. `multiline`: tab, line feed and carriage
/// return are text (a note), not control.
pub fn control_char(s: &str, multiline: bool) -> Option<char> {
    s.chars()
        .find(|c| c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r')))
}

/// How a control character is named in an error (`U+0000`).
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// The path (`people[2].name`) of the first string in a JSON value holding a control character
/// other than tab, line feed and carriage return, with the character. Keys count too.
pub fn control_in_json(v: &serde_json::Value) -> Option<(String, char)> {
    fn walk(v: &serde_json::Value, path: &mut String) -> Option<char> {
        match v {
            serde_json::Value::String(s) => control_char(s, true),
            serde_json::Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if found.is_none() {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                if let Some(c) = control_char(k, false) {
                    path.push_str(&k.replace(|c: char| c.is_control(), "?"));
                    return Some(c);
                }
                path.push_str(k);
                let found = walk(item, path);
                if found.is_none() {
                    path.truncate(len);
                }
                found
            }),
            _ => None,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).map(|c| (if path.is_empty() { "body".into() } else { path }, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn nul_and_other_controls_are_found_where_they_are() {
        assert_eq!(control_char("张三", false), None);
        assert_eq!(control_char("a\u{0}b", false), Some('\0'));
        assert_eq!(control_char("line\nline\ttab", true), None);
        assert_eq!(control_char("line\nline", false), Some('\n'));
        assert_eq!(control_char("esc\u{1b}", true), Some('\u{1b}'));
        assert_eq!(control_char("del\u{7f}", true), Some('\u{7f}'));
        assert_eq!(describe('\0'), "U+0000");
        let body = json!({"site": "S01", "people": [{"name": "ok"}, {"name": "bad\u{0}"}]});
        assert_eq!(
            control_in_json(&body),
            Some(("people[1].name".to_string(), '\0'))
        );
        assert_eq!(control_in_json(&json!({"note": "two\nlines"})), None);
        assert_eq!(
            control_in_json(&json!({"a\u{0}": 1})),
            Some(("a?".to_string(), '\0'))
        );
        assert_eq!(
            control_in_json(&json!("x\u{0}")),
            Some(("body".to_string(), '\0'))
        );
    }

    proptest! {
        #[test]
        fn text_without_controls_passes(s in "[^\\p{Cc}]*") {
            prop_assert_eq!(control_char(&s, false), None);
        }

        #[test]
        fn a_control_anywhere_is_found(a in "[^\\p{Cc}]*", b in "[^\\p{Cc}]*", c in 0u32..0x20) {
            let ch = char::from_u32(c).unwrap();
            let s = format!("{a}{ch}{b}");
            prop_assert_eq!(control_char(&s, false), Some(ch));
        }
    }
}
