//! 界面语言 the pages' words: a keyed catalogue per language (`locales/zh-CN.json` first,
//! `locales/en.json` second), compiled into the binary. Every string a page shows comes from
//! here; a key missing in one language falls back to the other, then to the key itself (and a
//! test keeps the two catalogues' keys equal).

use chrono::{DateTime, FixedOffset, Utc};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The cookie that remembers a browser's language.
pub const LANG_COOKIE: &str = "natlis_lang";

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The BCP 47 tag (`<html lang>`, the cookie's value).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(tag: &str) -> Option<Lang> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.starts_with("zh") {
            Some(Lang::Zh)
        } else if tag.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The other language (the header's switch).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language a request asks for: its cookie, else the first language of
    /// `Accept-Language` that natlis has, else Chinese.
    pub fn of_request(headers: &axum::http::HeaderMap) -> Lang {
        let cookie = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == LANG_COOKIE)
            .and_then(|(_, v)| Lang::parse(v));
        cookie
            .or_else(|| {
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').find_map(|l| Lang::parse(l.split(';').next()?)))
            })
            .unwrap_or_default()
    }
}

fn load(json: &str) -> HashMap<String, String> {
    serde_json::from_str(json).expect("a locale catalogue is a JSON object of strings")
}

static ZH: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| load(include_str!("../../locales/zh-CN.json")));
static EN: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| load(include_str!("../../locales/en.json")));

fn catalogue(lang: Lang) -> &'static HashMap<String, String> {
    match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

/// Whether a key is in a language's catalogue (for the tests that keep them complete).
pub fn has(lang: Lang, key: &str) -> bool {
    catalogue(lang).contains_key(key)
}

/// Every key of a language's catalogue.
#[cfg(test)]
pub fn keys(lang: Lang) -> Vec<&'static str> {
    let mut k: Vec<&'static str> = catalogue(lang).keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

/// The words of one language, with the lab's time zone for dates and times.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
    pub tz: FixedOffset,
}

impl Tr {
    /// The string for `key`.
    pub fn t(&self, key: &str) -> String {
        catalogue(self.lang)
            .get(key)
            .or_else(|| catalogue(self.lang.other()).get(key))
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    /// The string for `key` with `{name}` placeholders filled in.
    pub fn f(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut s = self.t(key);
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), &value.to_string());
        }
        s
    }

    /// A stored vocabulary code shown in words (`category.mass_screening` → 全员筛查).
    pub fn code(&self, family: &str, code: &str) -> String {
        let key = format!("{family}.{code}");
        if has(self.lang, &key) || has(self.lang.other(), &key) {
            self.t(&key)
        } else {
            code.to_string()
        }
    }

    /// A time in the lab's time zone, as both languages write it (2026-12-03 09:05).
    pub fn time(&self, at: &DateTime<FixedOffset>) -> String {
        at.with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// A time of day in the lab's time zone (09:05:12).
    pub fn clock(&self, at: &DateTime<Utc>) -> String {
        at.with_timezone(&self.tz).format("%H:%M:%S").to_string()
    }

    /// A span of minutes as the language writes it (2 小时 05 分 / 2 h 05 min; 45 分 / 45 min).
    pub fn minutes(&self, minutes: i64) -> String {
        let (sign, m) = if minutes < 0 {
            ("-", -minutes)
        } else {
            ("", minutes)
        };
        let text = if m >= 60 {
            self.f(
                "time.hours_minutes",
                &[("h", &(m / 60)), ("m", &format!("{:02}", m % 60))],
            )
        } else {
            self.f("time.minutes", &[("m", &m)])
        };
        format!("{sign}{text}")
    }

    /// A count as the language writes it: digits grouped by thousands (12,345) in both.
    pub fn num(&self, n: impl Into<i64>) -> String {
        let n: i64 = n.into();
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 {
            format!("-{out}")
        } else {
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn both_catalogues_have_the_same_keys_and_no_empty_string() {
        assert_eq!(keys(Lang::Zh), keys(Lang::En));
        for lang in Lang::ALL {
            for k in keys(lang) {
                assert!(!catalogue(lang)[k].trim().is_empty(), "{} {k}", lang.tag());
            }
        }
    }

    #[test]
    fn every_vocabulary_value_the_pages_show_has_words() {
        use crate::domain::id_number::DocumentType;
        use crate::domain::policy::Role;
        use crate::domain::tube::TubeStatus;
        use crate::domain::vocab::{Category, SampleType, TubeKind};
        let mut wanted: Vec<String> = vec![];
        wanted.extend(Category::ALL.iter().map(|c| format!("category.{c}")));
        wanted.extend(SampleType::ALL.iter().map(|c| format!("sample_type.{c}")));
        wanted.extend(TubeKind::ALL.iter().map(|c| format!("kind.{c}")));
        wanted.extend(TubeStatus::ALL.iter().map(|c| format!("status.{c}")));
        wanted.extend(Role::ALL.iter().map(|c| format!("role.{c}")));
        wanted.extend(DocumentType::ALL.iter().map(|c| format!("doc_type.{c}")));
        use crate::domain::interpretation::CallOutcome;
        use crate::domain::plate::PlateStatus;
        use crate::domain::reception::RejectionReason;
        use crate::domain::review::{Decision, Released};
        wanted.extend(RejectionReason::ALL.iter().map(|c| format!("reject.{c}")));
        wanted.extend(PlateStatus::ALL.iter().map(|c| format!("plate_status.{c}")));
        wanted.extend(CallOutcome::ALL.iter().map(|c| format!("call.{c}")));
        wanted.extend(Decision::ALL.iter().map(|c| format!("decision.{c}")));
        wanted.extend(Released::ALL.iter().map(|c| format!("released.{c}")));
        use crate::domain::id_number::Sex;
        use crate::domain::review::{Cdc, ResultValue};
        wanted.extend(ResultValue::ALL.iter().map(|c| format!("result_value.{c}")));
        wanted.extend(Cdc::ALL.iter().map(|c| format!("cdc.{c}")));
        wanted.extend(Sex::ALL.iter().map(|c| format!("sex.{c}")));
        use crate::domain::programme::{DutyState, Hold};
        wanted.extend(DutyState::ALL.iter().map(|c| format!("duty.{c}")));
        wanted.extend(Hold::ALL.iter().map(|c| format!("hold.{c}")));
        use crate::domain::programme::Pooling;
        wanted.extend(Pooling::ALL.iter().map(|c| format!("pooling.{c}")));
        for w in ["upcoming", "due", "done", "missed"] {
            wanted.push(format!("window.{w}"));
        }
        for p in [
            "missing_name",
            "invalid_name",
            "missing_class",
            "unknown_class",
            "unknown_doc_type",
            "invalid_document",
            "number_not_text",
            "invalid_phone",
            "duplicate",
            "name_mismatch",
        ] {
            wanted.push(format!("roster_problem.{p}"));
        }
        for c in [
            "no_result",
            "negative",
            "pending_recheck",
            "needs_resampling",
            "positive_preliminary",
            "positive_confirmed",
        ] {
            wanted.push(format!("person_status.{c}"));
        }
        use crate::domain::turnaround::Stage;
        wanted.extend(Stage::STEPS.iter().map(|c| format!("stage.{}", c.as_str())));
        wanted.push("stage.done".into());
        for c in ["tube", "negative_control", "positive_control"] {
            wanted.push(format!("content.{c}"));
        }
        for key in wanted {
            for lang in Lang::ALL {
                assert!(has(lang, &key), "{} lacks {key}", lang.tag());
            }
        }
    }

    #[test]
    fn every_key_the_templates_and_pages_use_is_in_the_catalogue() {
        // `t("…")`, `f("…"` and `refusal("…")` in templates/ and src/web/.
        let mut sources: Vec<String> = vec![];
        for dir in ["templates", "src/web"] {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for e in std::fs::read_dir(root).expect("readable") {
                let p = e.expect("entry").path();
                // (This file's own tests use a key that is not there on purpose.)
                if p.is_file() && !p.ends_with("i18n.rs") {
                    sources.push(std::fs::read_to_string(&p).expect("text"));
                }
            }
        }
        let mut used = 0;
        for s in &sources {
            for opener in ["t(\"", "f(\""] {
                for (i, _) in s.match_indices(opener) {
                    let rest = &s[i + opener.len()..];
                    let key = &rest[..rest.find('"').expect("closed")];
                    if key.contains('{') || !key.contains('.') {
                        continue;
                    }
                    used += 1;
                    for lang in Lang::ALL {
                        assert!(has(lang, key), "{} lacks {key}", lang.tag());
                    }
                }
            }
        }
        assert!(used > 30, "only {used} keys found: is the scan broken?");
    }

    #[test]
    fn placeholders_are_filled_and_unknown_keys_show_themselves() {
        let tr = Tr {
            lang: Lang::En,
            tz: FixedOffset::east_opt(8 * 3600).unwrap(),
        };
        assert_eq!(
            tr.f("collect.fill", &[("count", &7), ("size", &10)]),
            "7/10 people"
        );
        assert_eq!(tr.t("no.such.key"), "no.such.key");
        assert_eq!(tr.code("category", "mass_screening"), "Mass screening");
        assert_eq!(tr.code("category", "unheard_of"), "unheard_of");
        let zh = Tr {
            lang: Lang::Zh,
            ..tr
        };
        assert_eq!(
            zh.f("collect.fill", &[("count", &7), ("size", &10)]),
            "已采 7/10"
        );
        assert_eq!(zh.num(1_234_567), "1,234,567");
        assert_eq!(zh.num(-1000), "-1,000");
        assert_eq!(zh.num(999), "999");
        assert_eq!(zh.minutes(125), "2 小时 05 分");
        assert_eq!(tr.minutes(45), "45 min");
        assert_eq!(tr.minutes(-61), "-1 h 01 min");
        let at = DateTime::parse_from_rfc3339("2026-12-03T01:05:00Z").unwrap();
        assert_eq!(zh.time(&at), "2026-12-03 09:05");
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_accept_language_then_chinese() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::of_request(&h), Lang::Zh);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("fr-FR, en-GB;q=0.8"),
        );
        assert_eq!(Lang::of_request(&h), Lang::En);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; natlis_lang=zh-CN"),
        );
        assert_eq!(Lang::of_request(&h), Lang::Zh);
    }
}
