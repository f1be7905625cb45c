//! 人员名单 an institution's staff roster as uploaded: the columns found by their headers
//! (Chinese or English), and every row checked before anything is written — a missing name or
//! class, a class the institution does not have, a document that does not parse (the ID
//! number's check character named), an ID number that Excel turned into a number, a phone that
//! is not one, the same person twice in the file. Plain rules over the cells as text; reading
//! CSV or XLSX into cells is the caller's.

use super::id_number::{Document, DocumentType};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Which column holds what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub name: usize,
    pub doc_no: usize,
    /// Absent: every document is a resident ID card.
    pub doc_type: Option<usize>,
    pub phone: usize,
    pub class: usize,
}

/// Header words for each column, as rosters write them.
const NAME: &[&str] = &["姓名", "name"];
const DOC_NO: &[&str] = &[
    "证件号码",
    "证件号",
    "身份证号",
    "身份证号码",
    "doc_no",
    "document number",
    "id number",
];
const DOC_TYPE: &[&str] = &["证件类型", "doc_type", "document type"];
const PHONE: &[&str] = &["手机号", "手机号码", "电话", "联系电话", "phone"];
const CLASS: &[&str] = &["人员类别", "岗位类别", "类别", "class", "staff class"];

/// The columns of a header row, or the names of those missing.
pub fn columns(header: &[String]) -> Result<Columns, Vec<&'static str>> {
    let find = |words: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            words.iter().any(|w| h == *w)
        })
    };
    let (name, doc_no, phone, class) = (find(NAME), find(DOC_NO), find(PHONE), find(CLASS));
    let mut missing = vec![];
    for (found, what) in [
        (name, "name (姓名)"),
        (doc_no, "document number (证件号码)"),
        (phone, "phone (手机号)"),
        (class, "class (人员类别)"),
    ] {
        if found.is_none() {
            missing.push(what);
        }
    }
    match (name, doc_no, phone, class) {
        (Some(name), Some(doc_no), Some(phone), Some(class)) => Ok(Columns {
            name,
            doc_no,
            doc_type: find(DOC_TYPE),
            phone,
            class,
        }),
        _ => Err(missing),
    }
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    MissingName,
    MissingClass,
    /// The institution has no such staff class.
    UnknownClass(String),
    UnknownDocType(String),
    /// The document does not parse; the message names why (the check character, the length…).
    InvalidDocument(String),
    /// Excel stored the ID number as a number (`1.10105E+17`, `110105194912310000`): its last
    /// digits are lost; the column must be text.
    NumberNotText(String),
    InvalidPhone(String),
    /// The same document as an earlier line.
    DuplicateOf(usize),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MissingName => write!(f, "the name is missing"),
            Problem::MissingClass => write!(f, "the staff class is missing"),
            Problem::UnknownClass(c) => write!(f, "no staff class {c:?} in this institution"),
            Problem::UnknownDocType(t) => write!(f, "no document type {t:?}"),
            Problem::InvalidDocument(why) => write!(f, "the document number: {why}"),
            Problem::NumberNotText(v) => write!(
                f,
                "{v:?} was stored as a number and lost its last digits: format the column as text"
            ),
            Problem::InvalidPhone(p) => write!(f, "{p:?} is not a phone number"),
            Problem::DuplicateOf(line) => write!(f, "the same person as line {line}"),
        }
    }
}

/// A row that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub document: Document,
    pub phone: String,
    pub class: String,
}

/// A row as checked: its line in the file, and what it is or what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub line: usize,
    pub result: Result<Entry, Vec<Problem>>,
}

fn cell(row: &[String], i: usize) -> &str {
    row.get(i).map(|s| s.trim()).unwrap_or("")
}

/// Whether a cell is a long number as a spreadsheet writes one it took for a number.
fn looks_like_a_number(s: &str) -> bool {
    let upper = s.to_ascii_uppercase();
    (upper.contains("E+") && upper.chars().next().is_some_and(|c| c.is_ascii_digit()))
        || (s.ends_with(".0") && s[..s.len() - 2].bytes().all(|b| b.is_ascii_digit()))
}

fn phone(s: &str) -> Option<String> {
    let p: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = p.strip_prefix('+').unwrap_or(&p);
    (digits.len() >= 5 && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(p)
}

/// Checks every row (`first_line`: the file line of `rows[0]`); `classes` are the
/// institution's staff classes.
pub fn check(
    cols: Columns,
    rows: &[Vec<String>],
    first_line: usize,
    classes: &[String],
    today: NaiveDate,
) -> Vec<Checked> {
    let mut seen: HashMap<(DocumentType, String), usize> = HashMap::new();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let line = first_line + i;
            let mut problems = vec![];
            let name = cell(row, cols.name).to_string();
            if name.is_empty() {
                problems.push(Problem::MissingName);
            }
            let class = cell(row, cols.class).to_string();
            if class.is_empty() {
                problems.push(Problem::MissingClass);
            } else if !classes.contains(&class) {
                problems.push(Problem::UnknownClass(class.clone()));
            }
            let doc_type = match cols
                .doc_type
                .map(|c| cell(row, c))
                .filter(|t| !t.is_empty())
            {
                None => Some(DocumentType::ResidentId),
                Some(t) => DocumentType::parse(t).or(match t {
                    "身份证" | "居民身份证" => Some(DocumentType::ResidentId),
                    "护照" => Some(DocumentType::Passport),
                    _ => None,
                }),
            };
            let raw_no = cell(row, cols.doc_no);
            let document = match doc_type {
                None => {
                    let t = cols.doc_type.map(|c| cell(row, c)).unwrap_or_default();
                    problems.push(Problem::UnknownDocType(t.to_string()));
                    None
                }
                Some(_) if looks_like_a_number(raw_no) => {
                    problems.push(Problem::NumberNotText(raw_no.to_string()));
                    None
                }
                Some(t) => match Document::parse(t, raw_no, today) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        problems.push(Problem::InvalidDocument(e.to_string()));
                        None
                    }
                },
            };
            let phone_no = cell(row, cols.phone);
            let phone = phone(phone_no);
            if phone.is_none() {
                problems.push(Problem::InvalidPhone(phone_no.to_string()));
            }
            if let Some(d) = &document {
                let key = (d.doc_type, d.number.clone());
                match seen.get(&key) {
                    Some(first) => problems.push(Problem::DuplicateOf(*first)),
                    None => {
                        seen.insert(key, line);
                    }
                }
            }
            let result = match (problems.is_empty(), document, phone) {
                (true, Some(document), Some(phone)) => Ok(Entry {
                    name,
                    document,
                    phone,
                    class,
                }),
                _ => Err(problems),
            };
            Checked { line, result }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    fn classes() -> Vec<String> {
        strings(&["医护", "后勤"])
    }

    #[test]
    fn columns_are_found_by_their_chinese_or_english_headers_in_any_order() {
        let c = columns(&strings(&[
            "\u{feff}序号",
            "人员类别",
            "姓名",
            "手机号",
            "身份证号",
        ]))
        .unwrap();
        assert_eq!(
            (c.name, c.doc_no, c.phone, c.class, c.doc_type),
            (2, 4, 3, 1, None)
        );
        let c = columns(&strings(&["Name", "Doc_Type", "Doc_No", "Phone", "Class"])).unwrap();
        assert_eq!(c.doc_type, Some(1));
        assert_eq!(
            columns(&strings(&["姓名", "电话"])).unwrap_err(),
            vec!["document number (证件号码)", "class (人员类别)"]
        );
    }

    #[test]
    fn every_rows_problem_is_named_with_its_line() {
        let cols = columns(&strings(&[
            "姓名",
            "证件类型",
            "证件号码",
            "手机号",
            "人员类别",
        ]))
        .unwrap();
        let rows = vec![
            strings(&[
                "张三",
                "身份证",
                "11010519491231002X",
                "138 1234 5678",
                "医护",
            ]),
            strings(&["李四", "", "110105194912310021", "13812345679", "医护"]),
            strings(&["", "passport", "E1234567", "13812345670", ""]),
            strings(&["王五", "", "1.10105E+17", "138", "保安"]),
            strings(&["赵六", "驾照", "123", "13812345671", "后勤"]),
            strings(&[
                "张三",
                "resident_id",
                "11010519491231002x",
                "13812345678",
                "后勤",
            ]),
        ];
        let got = check(cols, &rows, 2, &classes(), today());
        assert_eq!(got[0].line, 2);
        let ok = got[0].result.as_ref().unwrap();
        assert_eq!(
            (ok.phone.as_str(), ok.document.number.as_str()),
            ("13812345678", "11010519491231002X")
        );
        let problems = |i: usize| got[i].result.clone().unwrap_err();
        assert!(
            matches!(&problems(1)[..], [Problem::InvalidDocument(why)] if why.contains("check character"))
        );
        assert_eq!(
            problems(2),
            vec![Problem::MissingName, Problem::MissingClass]
        );
        assert_eq!(
            problems(3),
            vec![
                Problem::UnknownClass("保安".into()),
                Problem::NumberNotText("1.10105E+17".into()),
                Problem::InvalidPhone("138".into()),
            ]
        );
        assert_eq!(problems(4), vec![Problem::UnknownDocType("驾照".into())]);
        // Line 7 is line 2's person (the check character's case does not matter).
        assert_eq!(problems(5), vec![Problem::DuplicateOf(2)]);
        assert!(problems(5)[0].to_string().contains("line 2"));
    }

    #[test]
    fn long_numbers_a_spreadsheet_made_are_caught() {
        assert!(looks_like_a_number("1.10105E+17"));
        assert!(looks_like_a_number("110105194912310000.0"));
        assert!(!looks_like_a_number("11010519491231002X"));
        assert!(!looks_like_a_number("E12345678"));
    }
}
