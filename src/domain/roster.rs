//! 人员名单 an institution's staff roster as uploaded: the file's cells as text (CSV in UTF-8
//! with or without BOM, or GBK; or an Excel workbook's first sheet, dates as dates and long
//! numbers kept recognisable), the columns found by their headers (Chinese or English), and
//! every row checked before anything is written — a missing name or class, a class the
//! institution does not have, a document that does not parse (the ID number's check character
//! named), an ID number that Excel turned into a number, a phone that is not one, the same
//! person twice in the file.

use super::id_number::{Document, DocumentType};
use chrono::NaiveDate;
use std::collections::HashMap;

/// Most rows a roster may have.
pub const MAX_ROWS: usize = 200_000;

/// Why a file gives no table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the file is empty")]
    Empty,
    #[error("the workbook cannot be read: {0}")]
    Workbook(String),
    #[error("line {line}: {problem}")]
    Line { line: usize, problem: String },
    #[error("more than {MAX_ROWS} rows: split the roster")]
    TooLong,
}

/// The file's rows as cells of text, blank rows dropped: (line in the file, cells).
pub fn read_table(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, ReadError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty);
    }
    let rows = if bytes.starts_with(b"PK") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        workbook_rows(bytes)?
    } else {
        text_rows(bytes)?
    };
    let rows: Vec<(usize, Vec<String>)> = rows
        .into_iter()
        .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
        .collect();
    if rows.len() > MAX_ROWS + 1 {
        return Err(ReadError::TooLong);
    }
    Ok(rows)
}

/// CSV (or tab-separated) text, in whatever encoding a spreadsheet saved it: (line, cells).
fn text_rows(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, ReadError> {
    let text = instrument_adapters::decode::text(bytes);
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches('\t').count() > first.matches(',').count() {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = vec![];
    // Newlines counted so far, up to `counted` (records come in order: each byte is counted
    // once).
    let (mut counted, mut newlines) = (0usize, 0usize);
    let bytes = text.as_bytes();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| ReadError::Line {
            line: i + 1,
            problem: e.to_string(),
        })?;
        // (The reader's own line count skips blank lines, and its offset is where the blank
        // lines before a record begin: count the newlines up to the record's first cell.)
        let line = rec.position().map_or(i + 1, |p| {
            let mut start = (p.byte() as usize).min(bytes.len());
            while start < bytes.len() && matches!(bytes[start], b'\n' | b'\r') {
                start += 1;
            }
            if start >= counted {
                newlines += memchr::memchr_iter(b'\n', &bytes[counted..start]).count();
                counted = start;
            }
            newlines + 1
        });
        out.push((line, rec.iter().map(String::from).collect()));
        if out.len() > MAX_ROWS + 1 {
            return Err(ReadError::TooLong);
        }
    }
    Ok(out)
}

/// An Excel workbook's first sheet: (row number, cells).
fn workbook_rows(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, ReadError> {
    use calamine::{open_workbook_auto_from_rs, Reader};
    if bytes.starts_with(b"PK") {
        instrument_adapters::bounds::check_workbook(bytes)
            .map_err(|e| ReadError::Workbook(e.to_string()))?;
    }
    let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec()))
        .map_err(|e| ReadError::Workbook(e.to_string()))?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ReadError::Workbook("it has no sheet".into()))?;
    let range = book
        .worksheet_range(&name)
        .map_err(|e| ReadError::Workbook(format!("sheet {name:?}: {e}")))?;
    if range.height() > MAX_ROWS + 1 {
        return Err(ReadError::TooLong);
    }
    let first = range.start().map_or(0, |(row, _)| row as usize);
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, r)| (first + i + 1, r.iter().map(workbook_cell).collect()))
        .collect())
}

/// A workbook cell as the roster reads it: text as typed; a whole number as digits (a long one
/// with `.0`, so an ID number Excel took for a number is recognised as one); a date as
/// `YYYY-MM-DD`.
fn workbook_cell(d: &calamine::Data) -> String {
    use calamine::{Data, DataType};
    match d {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() >= 1e15 => format!("{}.0", *f as i128),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Error(e) => format!("#{e:?}"),
        Data::DateTime(_) => d
            .as_f64()
            .and_then(excel_date)
            .map(|day| day.to_string())
            .unwrap_or_default(),
    }
}

/// An Excel serial date (the 1900 system, as every current Excel writes) as a day.
pub fn excel_date(serial: f64) -> Option<NaiveDate> {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    (serial.is_finite() && (1.0..2_958_466.0).contains(&serial))
        .then(|| epoch + chrono::Duration::days(serial.floor() as i64))
}

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
    /// A name with a control character, or longer than 100 characters.
    InvalidName(String),
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
    /// The document is registered to someone of another name (both masked).
    NameMismatch {
        registered: String,
    },
}

impl Problem {
    /// The field of a row (or a self-registration form) at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Problem::MissingName | Problem::InvalidName(_) | Problem::NameMismatch { .. } => "name",
            Problem::MissingClass | Problem::UnknownClass(_) => "class",
            Problem::UnknownDocType(_) => "doc_type",
            Problem::InvalidDocument(_) | Problem::NumberNotText(_) | Problem::DuplicateOf(_) => {
                "doc_no"
            }
            Problem::InvalidPhone(_) => "phone",
        }
    }

    /// A stable code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::MissingName => "missing_name",
            Problem::InvalidName(_) => "invalid_name",
            Problem::MissingClass => "missing_class",
            Problem::UnknownClass(_) => "unknown_class",
            Problem::UnknownDocType(_) => "unknown_doc_type",
            Problem::InvalidDocument(_) => "invalid_document",
            Problem::NumberNotText(_) => "number_not_text",
            Problem::InvalidPhone(_) => "invalid_phone",
            Problem::DuplicateOf(_) => "duplicate",
            Problem::NameMismatch { .. } => "name_mismatch",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::MissingName => write!(f, "the name is missing"),
            Problem::InvalidName(why) => write!(f, "the name {why}"),
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
            Problem::NameMismatch { registered } => write!(
                f,
                "this document is registered to {registered}: check the number and the name"
            ),
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

/// Checks one person's entry as a roster row is checked (a self-registration form): name,
/// document type (as a roster writes it; empty: resident ID card), number, phone, class.
pub fn check_one(
    fields: [&str; 5],
    classes: &[String],
    today: NaiveDate,
) -> Result<Entry, Vec<Problem>> {
    let cols = Columns {
        name: 0,
        doc_type: Some(1),
        doc_no: 2,
        phone: 3,
        class: 4,
    };
    let row = (1, fields.iter().map(|f| f.to_string()).collect());
    check(cols, &[row], classes, today)
        .pop()
        .map_or_else(|| Err(vec![Problem::MissingName]), |c| c.result)
}

/// Checks every row (each with its line in the file); `classes` are the institution's staff
/// classes.
pub fn check(
    cols: Columns,
    rows: &[(usize, Vec<String>)],
    classes: &[String],
    today: NaiveDate,
) -> Vec<Checked> {
    let mut seen: HashMap<(DocumentType, String), usize> = HashMap::new();
    rows.iter()
        .map(|(line, row)| {
            let line = *line;
            let mut problems = vec![];
            let name = cell(row, cols.name).to_string();
            if name.is_empty() {
                problems.push(Problem::MissingName);
            } else if let Some(c) = super::text::control_char(&name, true) {
                problems.push(Problem::InvalidName(format!(
                    "contains the control character {}",
                    super::text::describe(c)
                )));
            } else if name.chars().count() > 100 {
                problems.push(Problem::InvalidName("is longer than 100 characters".into()));
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

crate::domain::vocab::vocabulary! {
    /// What a roster is: the whole staff (whoever is missing leaves), or additions and class
    /// changes only.
    RosterMode {
        /// 增补 joins and class changes; nobody leaves
        Add = "add",
        /// 全量 the whole staff: the active members missing from the file leave
        Full = "full",
    }
}

/// A person registered already: their id and registered name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub person: i64,
    pub name: String,
}

/// An active membership: its id and class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub membership: i64,
    pub class: String,
}

/// A row that joins: its entry, and the person if registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub line: usize,
    pub entry: Entry,
    pub person: Option<i64>,
}

/// A row whose person changes class: the membership that ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub line: usize,
    pub person: i64,
    pub from: Member,
    pub to: String,
}

/// What applying a roster would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub rows: usize,
    pub problems: Vec<(usize, Vec<Problem>)>,
    pub joins: Vec<Join>,
    pub moves: Vec<Move>,
    /// Active members not in a full roster: (person, membership).
    pub leaves: Vec<(i64, Member)>,
    pub unchanged: usize,
}

/// Plans a roster against who is registered (by document) and who is active (by person):
/// a registered person of another name is a problem; an active member in another class moves;
/// in the same class stays; someone not active joins; in a full roster, the active not named
/// leave (by person id, in order).
pub fn plan(
    checked: Vec<Checked>,
    known: &HashMap<(DocumentType, String), Known>,
    active: &HashMap<i64, Member>,
    mode: RosterMode,
    mask_name: impl Fn(&str) -> String,
) -> Plan {
    let mut p = Plan {
        rows: checked.len(),
        ..Plan::default()
    };
    let mut named = std::collections::HashSet::new();
    for c in checked {
        let entry = match c.result {
            Ok(e) => e,
            Err(problems) => {
                p.problems.push((c.line, problems));
                continue;
            }
        };
        let key = (entry.document.doc_type, entry.document.number.clone());
        let Some(k) = known.get(&key) else {
            p.joins.push(Join {
                line: c.line,
                entry,
                person: None,
            });
            continue;
        };
        if k.name != entry.name {
            p.problems.push((
                c.line,
                vec![Problem::NameMismatch {
                    registered: mask_name(&k.name),
                }],
            ));
            continue;
        }
        named.insert(k.person);
        match active.get(&k.person) {
            Some(m) if m.class == entry.class => p.unchanged += 1,
            Some(m) => p.moves.push(Move {
                line: c.line,
                person: k.person,
                from: m.clone(),
                to: entry.class,
            }),
            None => p.joins.push(Join {
                line: c.line,
                entry,
                person: Some(k.person),
            }),
        }
    }
    if mode == RosterMode::Full && p.problems.is_empty() {
        let mut leaves: Vec<(i64, Member)> = active
            .iter()
            .filter(|(person, _)| !named.contains(*person))
            .map(|(person, m)| (*person, m.clone()))
            .collect();
        leaves.sort_by_key(|l| l.0);
        p.leaves = leaves;
    }
    p
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
    fn one_entry_is_checked_as_a_row_and_each_problem_names_its_field() {
        let good = check_one(
            ["张三", "", "11010519491231002X", "139 0000 0001", "医护"],
            &classes(),
            today(),
        )
        .unwrap();
        assert_eq!(
            (good.name.as_str(), good.phone.as_str(), good.class.as_str()),
            ("张三", "13900000001", "医护")
        );
        let bad = check_one(["", "护照x", "123", "abc", "保安"], &classes(), today()).unwrap_err();
        let fields: Vec<&str> = bad.iter().map(Problem::field).collect();
        assert_eq!(fields, ["name", "class", "doc_type", "phone"]);
        let wrong_check = check_one(
            [
                "李四",
                "身份证",
                "110105194912310021",
                "13900000002",
                "后勤",
            ],
            &classes(),
            today(),
        )
        .unwrap_err();
        assert_eq!(
            wrong_check
                .iter()
                .map(|p| (p.field(), p.code()))
                .collect::<Vec<_>>(),
            [("doc_no", "invalid_document")]
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
        let rows: Vec<(usize, Vec<String>)> = rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i + 2, r))
            .collect();
        let got = check(cols, &rows, &classes(), today());
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
    fn a_csv_in_gbk_with_a_bom_or_tabs_reads_the_same() {
        let text = "姓名,身份证号,手机号,人员类别\n张三,11010519491231002X,13812345678,医护\n\n李四,\"110105194912310021\",13812345679,后勤\n";
        let utf8 = read_table(text.as_bytes()).unwrap();
        assert_eq!(utf8.len(), 3, "the blank line is dropped");
        assert_eq!(utf8[2].0, 4, "lines keep their number in the file");
        assert_eq!(utf8[1].1[1], "11010519491231002X");
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(read_table(&gbk).unwrap(), utf8);
        let bom = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
        assert_eq!(read_table(&bom).unwrap()[0].1[0], "姓名");
        let tabs = text.replace(',', "\t");
        assert_eq!(read_table(tabs.as_bytes()).unwrap(), utf8);
        assert_eq!(read_table(b"  \n").unwrap_err(), ReadError::Empty);
        let bad = b"a,b\n\"unterminated";
        assert!(read_table(bad).is_ok() || matches!(read_table(bad), Err(ReadError::Line { .. })));
    }

    #[test]
    fn workbook_cells_keep_long_numbers_recognisable_and_dates_as_days() {
        use calamine::Data;
        assert_eq!(
            workbook_cell(&Data::Float(1.101_051_949_123_100_2e17)),
            "110105194912310016.0"
        );
        assert!(looks_like_a_number(&workbook_cell(&Data::Float(
            1.101_051_949_123_100_2e17
        ))));
        assert_eq!(workbook_cell(&Data::Float(13812345678.0)), "13812345678");
        assert_eq!(
            workbook_cell(&Data::String("11010519491231002X".into())),
            "11010519491231002X"
        );
        assert_eq!(excel_date(46361.0), NaiveDate::from_ymd_opt(2026, 12, 5));
        assert_eq!(excel_date(1.0), NaiveDate::from_ymd_opt(1899, 12, 31));
        assert_eq!(excel_date(f64::NAN), None);
        assert!(read_table(b"PK\x03\x04 not really a workbook").is_err());
    }

    #[test]
    fn long_numbers_a_spreadsheet_made_are_caught() {
        assert!(looks_like_a_number("1.10105E+17"));
        assert!(looks_like_a_number("110105194912310000.0"));
        assert!(!looks_like_a_number("11010519491231002X"));
        assert!(!looks_like_a_number("E12345678"));
    }

    #[test]
    fn a_plan_joins_moves_keeps_and_lets_go() {
        use crate::domain::id_number::{Document, DocumentType};
        let doc = |n: &str| Document {
            doc_type: DocumentType::Passport,
            number: n.to_string(),
        };
        let entry = |name: &str, n: &str, class: &str| Entry {
            name: name.into(),
            document: doc(n),
            phone: "13800000000".into(),
            class: class.into(),
        };
        let checked = vec![
            Checked {
                line: 2,
                result: Ok(entry("甲", "E1", "医护")),
            },
            Checked {
                line: 3,
                result: Ok(entry("乙", "E2", "后勤")),
            },
            Checked {
                line: 4,
                result: Ok(entry("丙", "E3", "医护")),
            },
            Checked {
                line: 5,
                result: Ok(entry("丁", "E4", "医护")),
            },
        ];
        let known: HashMap<(DocumentType, String), Known> = [
            ("E1", 1, "甲"),
            ("E2", 2, "乙"),
            ("E3", 3, "丙"),
            ("E9", 9, "壬"),
        ]
        .into_iter()
        .map(|(n, id, name)| {
            (
                (DocumentType::Passport, n.to_string()),
                Known {
                    person: id,
                    name: name.into(),
                },
            )
        })
        .collect();
        let member = |m: i64, class: &str| Member {
            membership: m,
            class: class.into(),
        };
        let active: HashMap<i64, Member> = [
            (1, member(11, "医护")),
            (2, member(12, "医护")),
            (9, member(19, "后勤")),
        ]
        .into_iter()
        .collect();
        let p = plan(checked.clone(), &known, &active, RosterMode::Full, |n| {
            format!("{n}*")
        });
        assert_eq!(p.unchanged, 1);
        assert_eq!(p.moves.len(), 1);
        assert_eq!((p.moves[0].person, p.moves[0].to.as_str()), (2, "后勤"));
        let joins: Vec<(usize, Option<i64>)> = p.joins.iter().map(|j| (j.line, j.person)).collect();
        assert_eq!(joins, [(4, Some(3)), (5, None)]);
        assert_eq!(p.leaves, vec![(9, member(19, "后勤"))]);
        // Additions only: nobody leaves.
        let p = plan(checked.clone(), &known, &active, RosterMode::Add, |n| {
            format!("{n}*")
        });
        assert!(p.leaves.is_empty());
        // A registered document under another name is a problem, and then nobody leaves.
        let mut renamed = checked;
        renamed[0].result = Ok(entry("戊", "E1", "医护"));
        let p = plan(renamed, &known, &active, RosterMode::Full, |n| {
            format!("{n}*")
        });
        assert_eq!(
            p.problems,
            vec![(
                2,
                vec![Problem::NameMismatch {
                    registered: "甲*".into()
                }]
            )]
        );
        assert!(p.leaves.is_empty());
    }
}
