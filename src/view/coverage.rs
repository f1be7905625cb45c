//! 合规报告 the compliance report of a period: for each day, the staff on the rosters and the
//! state each was in (so the share who might work); for each institution, the person-days
//! off duty. As JSON, as a workbook with a chart, and as SVG charts.

use super::chart;
use super::ledger::StateCounts;
use crate::domain::programme::DutyState;
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

/// One day of a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CoverageDay {
    pub date: NaiveDate,
    /// Staff on the rosters that day, by state.
    #[serde(flatten)]
    pub counts: StateCounts,
    pub on_duty: i64,
    /// The share of staff who might work (covered or due soon), 0–1; none when nobody was on
    /// a roster.
    pub covered_share: Option<f64>,
}

impl CoverageDay {
    pub fn new(date: NaiveDate, counts: StateCounts) -> CoverageDay {
        CoverageDay {
            date,
            on_duty: counts.on_duty(),
            covered_share: share(&counts),
            counts,
        }
    }
}

/// One institution over a period, in person-days (one person on a roster for one day).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstitutionCoverage {
    pub code: String,
    pub name: String,
    pub region: String,
    /// Person-days by state (`staff`: every person-day on the roster).
    pub person_days: StateCounts,
    /// Person-days nobody might work: overdue, never tested, excluded.
    pub off_duty_person_days: i64,
    pub covered_share: Option<f64>,
}

impl InstitutionCoverage {
    pub fn new(code: String, name: String, region: String, days: StateCounts) -> Self {
        InstitutionCoverage {
            code,
            name,
            region,
            off_duty_person_days: days.staff - days.on_duty(),
            covered_share: share(&days),
            person_days: days,
        }
    }
}

/// The compliance report of a period, for an institution or a region.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CoverageReport {
    /// The institution reported on (none: a region).
    pub institution: Option<String>,
    pub institution_name: Option<String>,
    /// The region prefix reported on (an institution's own region for one institution; empty:
    /// everywhere).
    pub region: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<CoverageDay>,
    /// Person-days of the whole period by state.
    pub person_days: StateCounts,
    pub off_duty_person_days: i64,
    pub covered_share: Option<f64>,
    /// The institutions, worst (lowest covered share) first.
    pub institutions: Vec<InstitutionCoverage>,
}

fn share(c: &StateCounts) -> Option<f64> {
    (c.staff > 0).then(|| c.on_duty() as f64 / c.staff as f64)
}

impl CoverageReport {
    pub fn new(
        institution: Option<(String, String)>,
        region: String,
        from: NaiveDate,
        days: Vec<StateCounts>,
        mut institutions: Vec<InstitutionCoverage>,
    ) -> CoverageReport {
        let mut total = StateCounts::default();
        for d in &days {
            total.merge(d);
        }
        institutions.sort_by(|a, b| {
            a.covered_share
                .unwrap_or(1.0)
                .total_cmp(&b.covered_share.unwrap_or(1.0))
                .then(b.off_duty_person_days.cmp(&a.off_duty_person_days))
                .then(a.code.cmp(&b.code))
        });
        let days: Vec<CoverageDay> = days
            .into_iter()
            .enumerate()
            .map(|(i, c)| CoverageDay::new(from + chrono::Duration::days(i as i64), c))
            .collect();
        let (institution, institution_name) = match institution {
            Some((c, n)) => (Some(c), Some(n)),
            None => (None, None),
        };
        CoverageReport {
            institution,
            institution_name,
            region,
            from,
            to: days.last().map_or(from, |d| d.date),
            days,
            off_duty_person_days: total.staff - total.on_duty(),
            covered_share: share(&total),
            person_days: total,
            institutions,
        }
    }

    /// What the report is about, for titles and file names.
    pub fn subject(&self) -> String {
        match (&self.institution, &self.institution_name) {
            (Some(c), Some(n)) => format!("{c} {n}"),
            _ if self.region.is_empty() => "all regions".to_string(),
            _ => format!("region {}", self.region),
        }
    }
}

/// The words a chart is drawn with (the page's language, or English for the API).
pub struct ChartWords {
    pub daily_title: String,
    pub off_duty: String,
    pub covered_share: String,
    pub split_title: String,
    /// The name of each state, in `DutyState::ALL` order.
    pub states: Vec<String>,
}

impl ChartWords {
    pub fn english() -> ChartWords {
        ChartWords {
            daily_title: "Staff off duty per day, and the share who might work".into(),
            off_duty: "off duty".into(),
            covered_share: "share on duty".into(),
            split_title: "Person-days by state".into(),
            states: DutyState::ALL
                .iter()
                .map(|s| s.as_str().replace('_', " "))
                .collect(),
        }
    }
}

/// The two charts of a report: per day, the staff off duty (bars) with the share who might
/// work (line); and the period's person-days split by state.
pub fn charts(r: &CoverageReport, w: &ChartWords) -> (String, String) {
    let labels: Vec<String> = r
        .days
        .iter()
        .map(|d| d.date.format("%m-%d").to_string())
        .collect();
    let off: Vec<f64> = r
        .days
        .iter()
        .map(|d| (d.counts.staff - d.on_duty) as f64)
        .collect();
    let shares: Vec<Option<f64>> = r.days.iter().map(|d| d.covered_share).collect();
    let daily = chart::bars_and_share(
        &w.daily_title,
        &labels,
        &off,
        &shares,
        &w.off_duty,
        &w.covered_share,
    );
    let parts: Vec<(&str, f64)> = r
        .person_days
        .by_state()
        .iter()
        .zip(&w.states)
        .map(|((_, n), name)| (name.as_str(), *n as f64))
        .collect();
    (daily, chart::stacked(&w.split_title, &parts))
}

fn percent(x: Option<f64>) -> String {
    x.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_default()
}

/// The report as a workbook: the days (with a stacked column chart of the states) and the
/// institutions, worst first.
pub fn xlsx(r: &CoverageReport) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Chart, ChartType, Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let states = DutyState::ALL;
    let days_sheet = "按日 By day";
    {
        let ws = wb.add_worksheet();
        ws.set_name(days_sheet)?;
        let head = [
            ("subject", r.subject()),
            ("period", format!("{} – {}", r.from, r.to)),
            ("person-days", r.person_days.staff.to_string()),
            ("off duty person-days", r.off_duty_person_days.to_string()),
            ("share on duty", percent(r.covered_share)),
        ];
        for (i, (k, v)) in head.iter().enumerate() {
            ws.write_string_with_format(i as u32, 0, *k, &bold)?;
            ws.write_string(i as u32, 1, v)?;
        }
        let top = head.len() as u32 + 1;
        let mut columns = vec!["日期 date", "在册 staff", "可上岗 on duty"];
        columns.extend(states.iter().map(|s| s.as_str()));
        columns.push("在岗率 share on duty");
        for (c, name) in columns.iter().enumerate() {
            ws.write_string_with_format(top, c as u16, *name, &bold)?;
        }
        for (i, d) in r.days.iter().enumerate() {
            let y = top + 1 + i as u32;
            ws.write_string(y, 0, d.date.to_string())?;
            ws.write_number(y, 1, d.counts.staff as f64)?;
            ws.write_number(y, 2, d.on_duty as f64)?;
            for (k, (_, n)) in d.counts.by_state().iter().enumerate() {
                ws.write_number(y, 3 + k as u16, *n as f64)?;
            }
            if let Some(s) = d.covered_share {
                ws.write_number(y, 3 + states.len() as u16, s)?;
            }
        }
        if !r.days.is_empty() {
            let (first, last) = (top + 1, top + r.days.len() as u32);
            let mut c = Chart::new(ChartType::ColumnStacked);
            for (k, s) in states.iter().enumerate() {
                let col = 3 + k as u16;
                c.add_series()
                    .set_name(s.as_str())
                    .set_categories((days_sheet, first, 0, last, 0))
                    .set_values((days_sheet, first, col, last, col));
            }
            c.title().set_name("staff per day by state");
            ws.insert_chart(top, 10, &c)?;
        }
        ws.autofit();
    }
    let ws = wb.add_worksheet();
    ws.set_name("机构 Institutions")?;
    let mut columns = vec![
        "机构 institution",
        "名称 name",
        "区划 region",
        "人日 person-days",
        "不可上岗人日 off duty",
    ];
    columns.extend(states.iter().map(|s| s.as_str()));
    columns.push("在岗率 share on duty");
    for (c, name) in columns.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *name, &bold)?;
    }
    for (i, inst) in r.institutions.iter().enumerate() {
        let y = 1 + i as u32;
        ws.write_string(y, 0, &inst.code)?;
        ws.write_string(y, 1, &inst.name)?;
        ws.write_string(y, 2, &inst.region)?;
        ws.write_number(y, 3, inst.person_days.staff as f64)?;
        ws.write_number(y, 4, inst.off_duty_person_days as f64)?;
        for (k, (_, n)) in inst.person_days.by_state().iter().enumerate() {
            ws.write_number(y, 5 + k as u16, *n as f64)?;
        }
        if let Some(s) = inst.covered_share {
            ws.write_number(y, 5 + states.len() as u16, s)?;
        }
    }
    ws.autofit();
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(covered: i64, overdue: i64) -> StateCounts {
        let mut c = StateCounts::default();
        c.add(DutyState::Covered, covered);
        c.add(DutyState::Overdue, overdue);
        c
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, n).unwrap()
    }

    #[test]
    fn days_add_up_to_person_days_and_the_worst_institution_comes_first() {
        let r = CoverageReport::new(
            None,
            "1101".into(),
            day(1),
            vec![counts(8, 2), counts(0, 0), counts(5, 5)],
            vec![
                InstitutionCoverage::new("A".into(), "a".into(), "1101".into(), counts(9, 1)),
                InstitutionCoverage::new("B".into(), "b".into(), "1101".into(), counts(4, 6)),
                InstitutionCoverage::new("C".into(), "c".into(), "1101".into(), counts(0, 0)),
            ],
        );
        assert_eq!(r.to, day(3));
        assert_eq!(r.person_days.staff, 20);
        assert_eq!(r.off_duty_person_days, 7);
        assert_eq!(r.covered_share, Some(13.0 / 20.0));
        assert_eq!(r.days[1].covered_share, None, "nobody on a roster that day");
        assert_eq!(r.days[2].date, day(3));
        let order: Vec<&str> = r.institutions.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(order, ["B", "A", "C"]);
        let (daily, split) = charts(&r, &ChartWords::english());
        assert_eq!(daily.matches(r#"class="bar""#).count(), 3);
        assert_eq!(
            daily.matches(r#"class="dot""#).count(),
            2,
            "a gap on the empty day"
        );
        assert!(split.contains("covered 13") && split.contains("overdue 7"));
        let book = xlsx(&r).unwrap();
        assert!(book.starts_with(b"PK"), "a zip container");
    }
}
