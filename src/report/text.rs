//! The human-readable report.

use std::io::Write;

use anyhow::Result;

use super::{group, human, percent, Report};
use crate::attribute::display_name;

/// Escapes control characters (ANSI escapes, NUL, C1 controls) so a crafted function name
/// cannot drive the terminal.
pub fn escape_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

pub fn render(r: &Report, w: &mut dyn Write) -> Result<()> {
    let p = &r.profile;
    let inputs: Vec<_> = r
        .inputs
        .iter()
        .map(|s| escape_terminal(s).into_owned())
        .collect();
    writeln!(w, "{} ({})", r.kind.describe(), inputs.join(", "))?;
    let types: Vec<String> = (0..p.sample_types.len())
        .map(|i| {
            let unit = p.sample_type_unit(i);
            format!(
                "{}/{}={}",
                escape_terminal(p.sample_type_name(i)),
                escape_terminal(unit),
                human(r.totals[i], unit)
            )
        })
        .collect();
    writeln!(w, "Sample types: {}", types.join("  "))?;
    write!(w, "Sample index: {}", escape_terminal(r.sample_name()))?;
    if let Some(why) = &r.sample_index_reason {
        write!(w, " ({})", escape_terminal(why))?;
    }
    writeln!(w)?;
    if let Some(pt) = p.period_type {
        if p.period != 0 {
            let unit = p.str(pt.unit);
            writeln!(
                w,
                "Period: {} {} ({})",
                human(p.period, unit),
                escape_terminal(p.str(pt.ty)),
                escape_terminal(unit)
            )?;
        }
    }
    if p.duration_nanos > 0 {
        writeln!(w, "Duration: {}", human(p.duration_nanos, "nanoseconds"))?;
    }
    let unit = r.unit();
    let mut total = format!("Total: {}", human(r.total(), unit));
    if let Some(objs) = r.attribution.total_objects {
        total.push_str(&format!(" in {} objects", group(objs.unsigned_abs())));
    }
    writeln!(w, "{total}")?;
    for note in &r.notes {
        // Notes quote sample type names, which come from the profile.
        writeln!(w, "Note: {}", escape_terminal(note))?;
    }
    writeln!(w)?;
    if r.top.is_empty() {
        writeln!(w, "No samples.")?;
        return Ok(());
    }
    writeln!(
        w,
        "Top {} of {} sites by {}:",
        r.top.len(),
        r.site_count,
        escape_terminal(r.sample_name())
    )?;
    let memory = r.kind.is_memory() && r.attribution.total_objects.is_some();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["flat", "flat%", "cum", "cum%"];
    if memory {
        header.extend(["objects", "avg size"]);
    }
    header.push("site");
    let total = r.total();
    for &id in &r.top {
        let s = &r.attribution.sites[id.0 as usize];
        let mut row = vec![
            human(s.flat, unit),
            format!("{:.2}%", percent(s.flat, total)),
            human(s.cum, unit),
            format!("{:.2}%", percent(s.cum, total)),
        ];
        if memory {
            row.push(group(s.flat_objects.unsigned_abs()));
            // checked: i64::MIN / -1 overflows (flat and objects are saturated sums, and
            // negative in delta profiles).
            row.push(match s.flat.checked_div(s.flat_objects) {
                Some(avg) => human(avg, "bytes"),
                None => "-".into(),
            });
        }
        row.push(escape_terminal(&display_name(p, s)).into_owned());
        rows.push(row);
    }
    let ncols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (c, cell) in row.iter().enumerate().take(ncols - 1) {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| -> String {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c + 1 == ncols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{:>width$}  ", cell, width = widths[c]));
            }
        }
        out
    };
    writeln!(w, "{}", line(&header))?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(w, "{}", line(&cells))?;
    }
    Ok(())
}
