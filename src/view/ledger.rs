//! 台账 an institution's ledger and a region's compliance, as clients see them: people masked,
//! days in the lab's calendar.

use crate::domain::id_number::DocumentType;
use crate::domain::mask;
use crate::domain::programme::{self, Duty, DutyState, Hold};
use crate::store::membership::LineRow;
use crate::store::time::show;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;
use utoipa::ToSchema;

/// One staff member's line of the ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerLine {
    /// The person's stable public id.
    pub person: String,
    /// Masked, e.g. `张*`.
    pub name: String,
    pub doc_type: DocumentType,
    /// Masked, e.g. `110105********002X`.
    pub doc_no: String,
    /// Masked, e.g. `138****5678`.
    pub phone: String,
    /// 人员类别 the staff class, as the roster names it.
    pub class: String,
    /// The programme the class follows, and the version that judged this line.
    pub programme: String,
    pub programme_version: i64,
    pub joined_on: String,
    pub left_on: Option<String>,
    /// When the last qualifying negative was sampled.
    pub last_negative_at: Option<DateTime<FixedOffset>>,
    /// Its tube, masked to the last 4 characters, and the lab that tested it.
    pub last_tube: Option<String>,
    pub last_lab: Option<String>,
    /// The last day the negative covers (inclusive); the next test is due by then.
    pub covered_until: Option<NaiveDate>,
    pub state: DutyState,
    /// Whether the person may be on duty today.
    pub on_duty: bool,
    /// Days since the cover ended (overdue lines).
    pub overdue_days: Option<i64>,
    /// Why the person is off duty whatever the last negative says, and since when.
    pub hold: Option<Hold>,
    pub hold_since: Option<DateTime<FixedOffset>>,
}

impl LineRow {
    /// This line's duty on `today`, by the domain's rule.
    pub fn duty(&self, today: NaiveDate) -> Duty {
        programme::judge(
            self.covered_through.map(programme::from_day_number),
            self.hold.map(Hold::outcome),
            today,
            u32::try_from(self.warn_days).unwrap_or(0),
        )
    }

    pub fn view(&self, tz: FixedOffset, today: NaiveDate) -> LedgerLine {
        let duty = self.duty(today);
        LedgerLine {
            person: self.uid.clone(),
            name: mask::name(&self.name),
            doc_type: self.doc_type,
            doc_no: mask::document_number(&self.doc_no),
            phone: mask::phone(&self.phone),
            class: self.class.clone(),
            programme: self.programme.clone(),
            programme_version: self.version,
            joined_on: self.joined_on.clone(),
            left_on: self.left_on.clone(),
            last_negative_at: self.last_negative_at.map(|t| show(t, tz)),
            last_tube: self.last_tube.as_deref().map(mask::barcode),
            last_lab: self.last_lab.clone(),
            covered_until: self.covered_through.map(programme::from_day_number),
            state: duty.state(),
            on_duty: duty.may_work(),
            overdue_days: match duty {
                Duty::Overdue { days, .. } => Some(days),
                _ => None,
            },
            hold: self.hold,
            hold_since: self.hold_since.map(|t| show(t, tz)),
        }
    }
}

/// How many lines are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StateCounts {
    pub staff: i64,
    pub covered: i64,
    pub due_soon: i64,
    pub overdue: i64,
    pub never_tested: i64,
    pub excluded: i64,
}

impl StateCounts {
    pub fn add(&mut self, state: DutyState, n: i64) {
        self.staff += n;
        *match state {
            DutyState::Covered => &mut self.covered,
            DutyState::DueSoon => &mut self.due_soon,
            DutyState::Overdue => &mut self.overdue,
            DutyState::NeverTested => &mut self.never_tested,
            DutyState::Excluded => &mut self.excluded,
        } += n;
    }

    /// Each state with its count, in `DutyState::ALL` order.
    pub fn by_state(&self) -> [(DutyState, i64); 5] {
        [
            (DutyState::Covered, self.covered),
            (DutyState::DueSoon, self.due_soon),
            (DutyState::Overdue, self.overdue),
            (DutyState::NeverTested, self.never_tested),
            (DutyState::Excluded, self.excluded),
        ]
    }

    /// Everyone of `other` added in.
    pub fn merge(&mut self, other: &StateCounts) {
        for (state, n) in other.by_state() {
            self.add(state, n);
        }
    }

    /// Those who may work today.
    pub fn on_duty(&self) -> i64 {
        self.covered + self.due_soon
    }

    /// The share of staff who may not work today (overdue, never tested, excluded), 0–1.
    pub fn off_duty_share(&self) -> f64 {
        if self.staff == 0 {
            0.0
        } else {
            (self.staff - self.on_duty()) as f64 / self.staff as f64
        }
    }
}

/// An institution's ledger on a day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ledger {
    pub institution: String,
    pub institution_name: String,
    pub today: NaiveDate,
    /// Counts over every active line (whatever the filter).
    pub counts: StateCounts,
    pub lines: Vec<LedgerLine>,
}

/// One institution's compliance in a region.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstitutionCompliance {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    #[serde(flatten)]
    pub counts: StateCounts,
    pub on_duty: i64,
    /// Share of staff off duty today (overdue, never tested, excluded), 0–1.
    pub off_duty_share: f64,
}

/// The compliance of a region's institutions, worst first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Compliance {
    /// The region prefix looked at (empty: everywhere).
    pub region: String,
    pub today: NaiveDate,
    pub institutions_count: i64,
    pub totals: StateCounts,
    pub off_duty_share: f64,
    pub institutions: Vec<InstitutionCompliance>,
}

/// The ledger as a workbook: a header block, then one row per line (people masked as in the
/// JSON).
pub fn xlsx(l: &Ledger) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("台账 Ledger")?;
    let bold = Format::new().set_bold();
    let head = [
        (
            "institution",
            format!("{} {}", l.institution, l.institution_name),
        ),
        ("date", l.today.to_string()),
        ("staff", l.counts.staff.to_string()),
        ("on duty", l.counts.on_duty().to_string()),
        ("overdue", l.counts.overdue.to_string()),
        ("never tested", l.counts.never_tested.to_string()),
        ("excluded", l.counts.excluded.to_string()),
    ];
    for (i, (k, v)) in head.iter().enumerate() {
        ws.write_string_with_format(i as u32, 0, *k, &bold)?;
        ws.write_string(i as u32, 1, v)?;
    }
    let top = head.len() as u32 + 1;
    let columns = [
        "姓名 name",
        "证件号码 document",
        "手机号 phone",
        "人员类别 class",
        "方案 programme",
        "入职 joined",
        "末次阴性采样 last negative",
        "检测机构 lab",
        "样本 tube",
        "有效至 covered until",
        "状态 state",
        "可上岗 on duty",
        "超期天数 days overdue",
    ];
    for (c, name) in columns.iter().enumerate() {
        ws.write_string_with_format(top, c as u16, *name, &bold)?;
    }
    for (i, line) in l.lines.iter().enumerate() {
        let y = top + 1 + i as u32;
        let cells = [
            line.name.clone(),
            line.doc_no.clone(),
            line.phone.clone(),
            line.class.clone(),
            format!("{} v{}", line.programme, line.programme_version),
            line.joined_on.clone(),
            line.last_negative_at
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            line.last_lab.clone().unwrap_or_default(),
            line.last_tube.clone().unwrap_or_default(),
            line.covered_until
                .map(|d| d.to_string())
                .unwrap_or_default(),
            line.state.as_str().to_string(),
            if line.on_duty { "yes" } else { "no" }.to_string(),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(y, c as u16, v)?;
        }
        if let Some(d) = line.overdue_days {
            ws.write_number(y, cells.len() as u16, d as f64)?;
        }
    }
    ws.autofit();
    wb.save_to_buffer()
}
