//! 图表 charts drawn on the server as SVG, from numbers the services computed: bars with a line
//! over them on a second scale (volume per hour and the share released in time), lines against
//! a reference (turnaround percentiles against the deadline), and a stacked bar (where the
//! minutes went, stage by stage). Plain functions from series to markup; no script, no I/O.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 48.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 36.0;

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A rounded-up axis maximum: 1, 2 or 5 times a power of ten, at least `v`.
pub fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{t}" class="chart"><title>{t}</title>"#,
        t = esc(title)
    );
}

fn x_labels(out: &mut String, labels: &[String], step: f64) {
    let every = (labels.len() / 12).max(1);
    for (i, l) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let x = LEFT + step * (i as f64 + 0.5);
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
            H - BOTTOM + 16.0,
            esc(l)
        );
    }
}

fn y_axis(out: &mut String, max: f64, right: bool, unit: &str) {
    let x = if right { W - RIGHT + 4.0 } else { LEFT - 4.0 };
    let anchor = if right { "start" } else { "end" };
    for k in 0..=4 {
        let v = max * f64::from(k) / 4.0;
        let y = H - BOTTOM - (H - TOP - BOTTOM) * f64::from(k) / 4.0;
        if !right {
            let _ = write!(
                out,
                r#"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" class="grid"/>"#,
                W - RIGHT
            );
        }
        let label = if v.fract() == 0.0 {
            format!("{v:.0}{unit}")
        } else {
            format!("{v:.1}{unit}")
        };
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}" class="axis">{label}</text>"#,
            y + 4.0
        );
    }
}

fn y_of(v: f64, max: f64) -> f64 {
    H - BOTTOM - (H - TOP - BOTTOM) * (v / max).clamp(0.0, 1.0)
}

/// Bars (left scale) with a line over them (right scale, a share 0–1 shown as %): volume per
/// hour and the share released in time. `None` in the line leaves a gap.
pub fn bars_and_share(
    title: &str,
    labels: &[String],
    bars: &[f64],
    share: &[Option<f64>],
    bar_name: &str,
    line_name: &str,
) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let max = nice_max(bars.iter().copied().fold(0.0, f64::max));
    let n = labels.len().max(1) as f64;
    let step = (W - LEFT - RIGHT) / n;
    y_axis(&mut out, max, false, "");
    y_axis(&mut out, 100.0, true, "%");
    for (i, v) in bars.iter().enumerate() {
        let x = LEFT + step * i as f64 + step * 0.15;
        let y = y_of(*v, max);
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" class="bar"><title>{}: {v}</title></rect>"#,
            step * 0.7,
            H - BOTTOM - y,
            esc(labels.get(i).map(String::as_str).unwrap_or(""))
        );
    }
    let mut d = String::new();
    let mut pen_down = false;
    for (i, s) in share.iter().enumerate() {
        match s {
            Some(s) => {
                let x = LEFT + step * (i as f64 + 0.5);
                let y = y_of(s * 100.0, 100.0);
                let _ = write!(d, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
                let _ = write!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" class="dot"><title>{:.0}%</title></circle>"#,
                    s * 100.0
                );
            }
            None => pen_down = false,
        }
    }
    if !d.is_empty() {
        let _ = write!(out, r#"<path d="{}" class="line"/>"#, d.trim_end());
    }
    x_labels(&mut out, labels, step);
    legend(&mut out, &[(bar_name, "bar"), (line_name, "line")]);
    out.push_str("</svg>");
    out
}

/// Lines of minutes (p50, p90, p99 per bucket) against a reference line (the deadline).
pub fn lines_against(
    title: &str,
    labels: &[String],
    series: &[(&str, &str, Vec<Option<f64>>)],
    reference: (&str, f64),
) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let top = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().flatten().copied())
        .fold(reference.1, f64::max);
    let max = nice_max(top * 1.05);
    let n = labels.len().max(1) as f64;
    let step = (W - LEFT - RIGHT) / n;
    y_axis(&mut out, max, false, "");
    let ry = y_of(reference.1, max);
    let _ = write!(
        out,
        r#"<line x1="{LEFT}" x2="{:.1}" y1="{ry:.1}" y2="{ry:.1}" class="reference"/><text x="{:.1}" y="{:.1}" class="reference-label" text-anchor="end">{}</text>"#,
        W - RIGHT,
        W - RIGHT,
        ry - 4.0,
        esc(reference.0)
    );
    for (_, class, values) in series {
        let mut d = String::new();
        let mut pen_down = false;
        for (i, v) in values.iter().enumerate() {
            match v {
                Some(v) => {
                    let x = LEFT + step * (i as f64 + 0.5);
                    let _ = write!(
                        d,
                        "{}{x:.1},{:.1} ",
                        if pen_down { "L" } else { "M" },
                        y_of(*v, max)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = write!(out, r#"<path d="{}" class="line {class}"/>"#, d.trim_end());
        }
    }
    x_labels(&mut out, labels, step);
    let names: Vec<(&str, &str)> = series.iter().map(|(n, c, _)| (*n, *c)).collect();
    legend(&mut out, &names);
    out.push_str("</svg>");
    out
}

/// One horizontal bar split into parts (minutes per stage), each labelled.
pub fn stacked(title: &str, parts: &[(&str, f64)]) -> String {
    let mut out = String::new();
    let h = 90.0;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{t}" class="chart"><title>{t}</title>"#,
        t = esc(title)
    );
    let total: f64 = parts.iter().map(|(_, v)| v.max(0.0)).sum();
    let width = W - 16.0;
    let mut x = 8.0;
    for (i, (name, v)) in parts.iter().enumerate() {
        if total <= 0.0 || *v <= 0.0 {
            continue;
        }
        let w = width * v / total;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="10" width="{w:.1}" height="34" class="part part-{i}"><title>{}: {v:.0}</title></rect>"#,
            esc(name)
        );
        if w > 70.0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="32" text-anchor="middle" class="part-label">{} {v:.0}</text>"#,
                x + w / 2.0,
                esc(name)
            );
        }
        x += w;
    }
    let mut lx = 8.0;
    for (i, (name, v)) in parts.iter().enumerate() {
        let _ = write!(
            out,
            r#"<rect x="{lx:.1}" y="62" width="12" height="12" class="part part-{i}"/><text x="{:.1}" y="72" class="axis">{} {v:.0}</text>"#,
            lx + 16.0,
            esc(name)
        );
        lx += 118.0;
    }
    out.push_str("</svg>");
    out
}

fn legend(out: &mut String, names: &[(&str, &str)]) {
    let mut x = LEFT;
    for (name, class) in names {
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{:.1}" width="12" height="4" class="key {class}"/><text x="{:.1}" y="{:.1}" class="axis">{}</text>"#,
            H - 8.0,
            x + 16.0,
            H - 3.0,
            esc(name)
        );
        x += 140.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_are_round_and_cover_the_data() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(-3.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(10.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(420.0), 500.0);
        assert_eq!(nice_max(756.0), 1000.0);
        assert_eq!(nice_max(0.03), 0.05);
        for v in [0.5, 3.0, 99.0, 101.0, 12345.0] {
            assert!(nice_max(v) >= v, "{v}");
        }
    }

    #[test]
    fn a_bar_per_bucket_and_the_share_as_a_line_with_gaps() {
        let labels: Vec<String> = (0..4).map(|h| format!("{h:02}")).collect();
        let svg = bars_and_share(
            "volume <hour>",
            &labels,
            &[10.0, 0.0, 40.0, 20.0],
            &[Some(1.0), None, Some(0.5), Some(0.75)],
            "tubes",
            "in time",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 4);
        assert_eq!(svg.matches(r#"class="dot""#).count(), 3);
        // The gap: the line lifts the pen after the missing hour.
        let path = svg.split(r#"<path d=""#).nth(1).unwrap();
        assert_eq!(path.split('"').next().unwrap().matches('M').count(), 2);
        assert!(svg.contains("volume &lt;hour&gt;"), "titles are escaped");
        // The tallest bar reaches the top of the plot (its axis is 50: 40 is 80 % of it).
        assert!(svg.contains(">50<"));
    }

    #[test]
    fn percentiles_are_drawn_against_the_deadline() {
        let labels = vec!["a".to_string(), "b".to_string()];
        let svg = lines_against(
            "turnaround",
            &labels,
            &[
                ("p50", "p50", vec![Some(200.0), Some(300.0)]),
                ("p99", "p99", vec![None, Some(900.0)]),
            ],
            ("deadline 720", 720.0),
        );
        assert!(svg.contains(r#"class="reference""#) && svg.contains("deadline 720"));
        assert_eq!(svg.matches(r#"class="line p50""#).count(), 1);
        // The axis covers the highest point above the deadline.
        assert!(svg.contains(">1000<"));
    }

    #[test]
    fn the_stacked_bar_splits_the_width_by_share_and_skips_empty_parts() {
        let svg = stacked("stages", &[("queue", 30.0), ("run", 90.0), ("push", 0.0)]);
        assert_eq!(svg.matches(r#"height="34""#).count(), 2);
        assert!(svg.contains(r#"width="176.0""#), "{svg}");
        assert!(svg.contains(r#"width="528.0""#), "{svg}");
        let empty = stacked("nothing", &[("queue", 0.0)]);
        assert_eq!(empty.matches(r#"height="34""#).count(), 0);
    }
}
