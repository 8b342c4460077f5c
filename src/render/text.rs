//! The human-readable report.

use std::io::Write;

use anyhow::Result;

use super::term::escape_terminal;
use crate::analyze::attribute::{display_name, module_relative_file, printable_name};
use crate::analyze::diff::{Diff, Status};
use crate::analyze::own::OwnLine;
use crate::analyze::Report;
use crate::units::{group, human, human_f, percent, relative, signed};

/// ANSI SGR codes: color is decoration only (cause names, statuses), never information.
const CAUSE_COLOR: &str = "36"; // cyan

/// `s` wrapped in an SGR color when `on`.
fn paint(s: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn status_color(s: Status) -> &'static str {
    match s {
        Status::Regressed | Status::New => "31",
        Status::Improved | Status::Vanished => "32",
        Status::Unchanged => "2",
    }
}

/// The text format: for a terminal (colored when asked) or a log.
pub struct Text {
    pub color: bool,
}

impl super::Renderer for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn report(&self, r: &Report, w: &mut dyn Write) -> Result<()> {
        render(r, self.color, w)
    }

    fn diff(&self, d: &Diff, w: &mut dyn Write) -> Result<()> {
        render_diff(d, self.color, w)
    }

    fn listing(&self, l: &crate::analyze::listing::Listing, w: &mut dyn Write) -> Result<()> {
        super::list::render(l, w)
    }

    fn goroutines(
        &self,
        r: &crate::analyze::goroutines::GoroutineReport,
        top: usize,
        w: &mut dyn Write,
    ) -> Result<()> {
        let opts = super::goroutines::GoroutineRenderOptions {
            top,
            color: self.color,
        };
        super::goroutines::write_text(r, &opts, w)
    }
}

fn render(r: &Report, color: bool, w: &mut dyn Write) -> Result<()> {
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
    // The engineer's own lines first (issue 18), then the causes and the library sites.
    render_own(r, color, w)?;
    // Causes explain allocations; for other profiles the allocation share is the CPU section.
    if r.kind.is_memory() {
        render_causes(r, color, w)?;
    }
    render_cpu(r, w)?;
    render_cost(r, w)?;
    render_by_label(r, color, w)?;
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
    let causes = r.kind.is_memory();
    if causes {
        header.push("cause");
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
        let cause = match &r.classification.site_cause[id.0 as usize] {
            Some(sc) => {
                let mut c = r.classification.cause(sc.cause).name.clone();
                if sc.share < 0.995 {
                    c.push_str(&format!(" ({:.0}%)", sc.share * 100.0));
                }
                c
            }
            None => "-".into(),
        };
        if causes {
            row.push(cause);
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
    let cause_col = causes.then(|| ncols - 2);
    let line = |cells: &[&str], paint_cause: bool| -> String {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c + 1 == ncols {
                out.push_str(cell);
            } else {
                let padded = format!("{:>width$}", cell, width = widths[c]);
                if paint_cause && Some(c) == cause_col {
                    out.push_str(&paint(&padded, CAUSE_COLOR, color));
                } else {
                    out.push_str(&padded);
                }
                out.push_str("  ");
            }
        }
        out
    };
    writeln!(w, "{}", line(&header, false))?;
    let indent = " ".repeat(widths[..ncols - 1].iter().map(|w| w + 2).sum());
    for (row, &id) in rows.iter().zip(&r.top) {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(w, "{}", line(&cells, true))?;
        if let Some(text) = r.source_line(id) {
            let text = text.trim().replace('\t', " ");
            writeln!(w, "{indent}src: {}", escape_terminal(&text))?;
        }
        // Causes explain allocations; a CPU profile's sites are where time goes.
        if let Some(sc) = r.classification.site_cause[id.0 as usize]
            .as_ref()
            .filter(|_| causes)
        {
            writeln!(
                w,
                "{indent}why: {}",
                escape_terminal(&sc.evidence.describe())
            )?;
            if let Some(note) = &sc.note {
                writeln!(w, "{indent}note: {}", escape_terminal(note))?;
            }
            if let Some(split) = split_line(r, &sc.parts) {
                writeln!(w, "{indent}split: {}", escape_terminal(&split))?;
            }
        }
    }
    Ok(())
}

/// A line's bytes by cause when the typed model split it among several (`fmt 59%,
/// slice-growth 41%`); a cause whose bytes are partly shared with another (sizes fit both)
/// says so.
fn split_line(r: &Report, parts: &[crate::analyze::classify::Part]) -> Option<String> {
    use crate::analyze::classify::Confidence;
    let mut by: Vec<(crate::analyze::classify::CauseId, i128, bool)> = Vec::new();
    for p in parts {
        match by.iter_mut().find(|b| b.0 == p.cause) {
            Some(b) => {
                b.1 += p.value as i128;
                b.2 |= p.confidence == Confidence::Mixed;
            }
            None => by.push((p.cause, p.value as i128, p.confidence == Confidence::Mixed)),
        }
    }
    // Only a line split by object size (the typed model); a site reached with several
    // causes keeps its dominant one here (JSON lists them all).
    if by.len() < 2 || parts.iter().all(|p| p.size.is_none()) {
        return None;
    }
    let total: i128 = by.iter().map(|b| b.1.abs()).sum();
    by.sort_by_key(|b| std::cmp::Reverse(b.1.abs()));
    let cells: Vec<String> = by
        .iter()
        .map(|(c, v, mixed)| {
            let pct = if total == 0 {
                0.0
            } else {
                100.0 * v.abs() as f64 / total as f64
            };
            let name = &r.classification.cause(*c).name;
            if *mixed {
                format!("{name} {pct:.0}% (partly shared: sizes fit several causes)")
            } else {
                format!("{name} {pct:.0}%")
            }
        })
        .collect();
    Some(cells.join(", "))
}

/// For CPU profiles: the allocation and GC share, and the lines whose allocations cost most.
fn render_cpu(r: &Report, w: &mut dyn Write) -> Result<()> {
    let Some(c) = &r.cpu else { return Ok(()) };
    let (unit, total) = (r.unit(), r.total());
    writeln!(w, "Allocation and GC CPU:")?;
    writeln!(
        w,
        "  allocation (runtime.mallocgc*): {} ({:.2}%)",
        human(c.alloc, unit),
        percent(c.alloc, total)
    )?;
    writeln!(
        w,
        "  GC: {} ({:.2}%): assists {}, background mark {}, sweep {}, other {}",
        human(c.gc(), unit),
        percent(c.gc(), total),
        human(c.assist, unit),
        human(c.mark, unit),
        human(c.sweep, unit),
        human(c.other_gc, unit)
    )?;
    if !c.by_site.is_empty() {
        writeln!(w, "  allocation CPU by line (assists included):")?;
        for (site, entry, v) in c.by_site.iter().take(10) {
            let s = &r.attribution.sites[site.0 as usize];
            let via = entry
                .map(|e| {
                    format!(
                        " via {}",
                        r.profile.str(r.attribution.sites[e.0 as usize].name)
                    )
                })
                .unwrap_or_default();
            writeln!(
                w,
                "  {:>10} {:>6.2}%  {}{}",
                human(*v, unit),
                percent(*v, total),
                escape_terminal(&display_name(&r.profile, s)),
                escape_terminal(&via)
            )?;
        }
    }
    writeln!(w)?;
    Ok(())
}

/// Estimated CPU cost (`--cpu`) and allocation rates.
fn render_cost(r: &Report, w: &mut dyn Write) -> Result<()> {
    if let Some(rt) = &r.rates {
        let mut parts = Vec::new();
        if let (Some(s), Some(b)) = (rt.seconds, rt.bytes_per_second) {
            let mut t = format!("over {s:.2} s: {}/s", human(b as i64, "bytes"));
            if let Some(o) = rt.objects_per_second {
                t.push_str(&format!(", {} objects/s", group(o as u64)));
            }
            parts.push(t);
        }
        if let (Some(n), Some(b)) = (rt.requests, rt.bytes_per_request) {
            let mut t = format!(
                "per request ({} requests): {}",
                group(n as u64),
                human(b as i64, "bytes")
            );
            if rt.bytes_stderr > 0.0 {
                t.push_str(&format!(
                    " ± {} (1σ sampling error)",
                    human((rt.bytes_stderr / n) as i64, "bytes")
                ));
            }
            if let Some(o) = rt.objects_per_request {
                t.push_str(&format!(", {o:.0} objects"));
            }
            parts.push(t);
        }
        writeln!(w, "Allocation rate {}", parts.join("; "))?;
        writeln!(w)?;
    }
    let Some(c) = &r.cost else { return Ok(()) };
    let pct = |v: f64| c.share(v) * 100.0;
    writeln!(
        w,
        "Estimated CPU cost (estimate; --help explains the method): allocation {:.2}% + GC {:.2}% = {:.2}% of the CPU profile",
        pct(c.alloc_cpu as f64),
        pct(c.gc_cpu as f64),
        pct((c.alloc_cpu + c.gc_cpu) as f64)
    )?;
    for (cause, est, measured) in c.causes.iter().take(8) {
        writeln!(
            w,
            "  {:<24} ~{:>6.2}% CPU  (measured allocation CPU in this cause: {})",
            escape_terminal(&r.classification.cause(*cause).name),
            pct(*est),
            human(*measured, "nanoseconds")
        )?;
    }
    writeln!(w, "  by site:")?;
    for (site, est, _) in c.sites.iter().take(5) {
        let s = &r.attribution.sites[site.0 as usize];
        let mut line = format!(
            "  ~{:>6.2}% CPU  {}",
            pct(*est),
            escape_terminal(&display_name(&r.profile, s))
        );
        if let Some(rt) = &r.rates {
            if let Some(n) = rt.requests.filter(|n| *n > 0.0) {
                line.push_str(&format!(
                    "  ({}/request)",
                    human((s.flat as f64 / n) as i64, "bytes")
                ));
            }
        }
        writeln!(w, "{line}")?;
    }
    writeln!(w)?;
    Ok(())
}

/// The causes table: value, share, objects, sites and advice per cause.
fn render_causes(r: &Report, color: bool, w: &mut dyn Write) -> Result<()> {
    let c = &r.classification;
    let order = c.cause_order();
    if order.is_empty() {
        return Ok(());
    }
    let unit = r.unit();
    let base = r.share_base();
    writeln!(w, "Causes by {}:", escape_terminal(r.sample_name()))?;
    let mut rows = Vec::new();
    for &id in &order {
        let t = &c.totals[id.0 as usize];
        let share = if r.is_excluded(id) {
            "apart".to_string()
        } else {
            format!("{:.2}%", percent(t.value, base))
        };
        rows.push([
            escape_terminal(&c.cause(id).name).into_owned(),
            human(t.value, unit),
            share,
            if r.attribution.total_objects.is_some() {
                group(t.objects.unsigned_abs())
            } else {
                "-".into()
            },
            t.sites.to_string(),
        ]);
    }
    let header = ["cause", r.sample_name(), "share", "objects", "sites"];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let fmt_row = |cells: [&str; 5], paint_cause: bool| {
        let first = format!("{:<w0$}", cells[0], w0 = widths[0]);
        format!(
            "{}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}",
            if paint_cause {
                paint(&first, CAUSE_COLOR, color)
            } else {
                first
            },
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4]
        )
    };
    writeln!(
        w,
        "{}",
        fmt_row(
            [
                header[0],
                &escape_terminal(header[1]),
                header[2],
                header[3],
                header[4]
            ],
            false
        )
    )?;
    for row in &rows {
        writeln!(
            w,
            "{}",
            fmt_row([&row[0], &row[1], &row[2], &row[3], &row[4]], true)
        )?;
    }
    if order.iter().any(|&id| r.is_excluded(id)) {
        writeln!(
            w,
            "(profiler-overhead is the profiler's own allocation, left out of shares)"
        )?;
    }
    writeln!(w)?;
    writeln!(w, "What to do:")?;
    for &id in order.iter().filter(|&&id| !r.is_excluded(id)).take(5) {
        let cause = c.cause(id);
        writeln!(
            w,
            "  {}: {}",
            paint(&escape_terminal(&cause.name), CAUSE_COLOR, color),
            escape_terminal(&cause.advice)
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// `--by-label`: one row per label value with its total, cause mix and top site.
fn render_by_label(r: &Report, color: bool, w: &mut dyn Write) -> Result<()> {
    let Some(b) = &r.by_label else {
        return Ok(());
    };
    let unit = r.unit();
    let total = r.total();
    writeln!(
        w,
        "By label {} ({} values{}):",
        escape_terminal(&b.key),
        b.groups.len(),
        if b.folded_values > 0 {
            format!(", {} more folded into (other values)", b.folded_values)
        } else {
            String::new()
        }
    )?;
    let memory = r.kind.is_memory();
    let mut header = vec!["value", "total", "total%"];
    if memory {
        header.push("causes");
    }
    header.push("top sites");
    let rows: Vec<(Vec<String>, Option<&'static str>)> = b
        .groups
        .iter()
        .map(|g| {
            let mut row = vec![
                escape_terminal(&label_value(&g.value)).into_owned(),
                human(g.total, unit),
                format!("{:.2}%", percent(g.total, total)),
            ];
            let (causes, sites) =
                label_group_cells(r, g, &|t: &str| escape_terminal(t).into_owned());
            if memory {
                row.push(causes);
            }
            row.push(sites);
            (row, None)
        })
        .collect();
    table(&header, &rows, usize::MAX, color, w)?;
    writeln!(w)?;
    Ok(())
}

/// How a label group is named in every format.
/// A label group's cause mix (its top three) and top two sites, as table cells, names
/// escaped by `esc` for the format.
pub(crate) fn label_group_cells(
    r: &Report,
    g: &crate::analyze::labels::LabelGroup,
    esc: &dyn Fn(&str) -> String,
) -> (String, String) {
    let unit = r.unit();
    let causes: Vec<String> = g
        .causes
        .iter()
        .take(3)
        .map(|&(c, v)| {
            format!(
                "{} {:.0}%",
                esc(&r.classification.cause(c).name),
                percent(v, g.total)
            )
        })
        .collect();
    let sites: Vec<String> = g
        .sites
        .iter()
        .take(2)
        .map(|&(id, v)| {
            let s = &r.attribution.sites[id.0 as usize];
            format!("{} ({})", esc(&display_name(&r.profile, s)), human(v, unit))
        })
        .collect();
    (causes.join(", "), sites.join("; "))
}

pub(crate) fn label_value(v: &crate::analyze::labels::LabelValue) -> String {
    use crate::analyze::labels::LabelValue;
    match v {
        LabelValue::Value(s) => s.clone(),
        LabelValue::Missing => "(no such label)".into(),
        LabelValue::Other => "(other values)".into(),
    }
}

/// "Your code": each own line, what is allocated below it, its causes and the library sites.
fn render_own(r: &Report, color: bool, w: &mut dyn Write) -> Result<()> {
    let Some(o) = &r.own else {
        return Ok(());
    };
    let p = &r.profile;
    let unit = r.unit();
    let total = r.total();
    // Own code is the default's (main and what is outside GOROOT and the module cache)
    // unless --module says otherwise.
    let whose = if o.modules.is_empty() {
        String::new()
    } else {
        format!(" (main, {})", escape_terminal(&o.modules.join(", ")))
    };
    writeln!(
        w,
        "Your code{whose}: {} ({:.2}% of {}) allocated under {} of your lines; top {}:",
        human(o.total, unit),
        percent(o.total, total),
        escape_terminal(r.sample_name()),
        o.count,
        o.lines.len()
    )?;
    let memory = r.attribution.total_objects.is_some();
    let mut header = vec![
        escape_terminal(r.sample_name()).into_owned(),
        "share".into(),
    ];
    if memory {
        header.push("objects".into());
    }
    header.extend(["causes".to_string(), "your line".to_string()]);
    let rows: Vec<Vec<String>> = o
        .lines
        .iter()
        .map(|l| {
            let mut row = vec![
                human(l.value, unit),
                format!("{:.2}%", percent(l.value, total)),
            ];
            if memory {
                row.push(group(l.objects.unsigned_abs()));
            }
            row.push(own_causes(r, l));
            let s = &r.attribution.sites[l.site.0 as usize];
            row.push(escape_terminal(&printable_name(p, s)).into_owned());
            row
        })
        .collect();
    let ncols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (c, cell) in row.iter().enumerate().take(ncols - 1) {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let cause_col = ncols - 2;
    let line = |cells: &[String], paint_cause: bool| -> String {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c + 1 == ncols {
                out.push_str(cell);
            } else {
                let padded = format!("{:>width$}", cell, width = widths[c]);
                if paint_cause && c == cause_col {
                    out.push_str(&paint(&padded, CAUSE_COLOR, color));
                } else {
                    out.push_str(&padded);
                }
                out.push_str("  ");
            }
        }
        out
    };
    writeln!(w, "{}", line(&header, false))?;
    let indent = " ".repeat(widths[..ncols - 1].iter().map(|w| w + 2).sum());
    for (row, l) in rows.iter().zip(&o.lines) {
        writeln!(w, "{}", line(row, true))?;
        if let Some(text) = r.source_line(l.site) {
            let text = text.trim().replace('\t', " ");
            writeln!(w, "{indent}src: {}", escape_terminal(&text))?;
        }
        writeln!(
            w,
            "{indent}allocated in: {}",
            escape_terminal(&own_sites(r, l))
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// An own line's cause mix: `json` alone, or `json 80%, fmt 15%, +1`.
pub(crate) fn own_causes(r: &Report, l: &OwnLine) -> String {
    let c = &r.classification;
    if let [(id, _)] = l.causes.as_slice() {
        return c.cause(*id).name.clone();
    }
    let mut parts: Vec<String> = l
        .causes
        .iter()
        .take(2)
        .map(|&(id, v)| format!("{} {:.0}%", c.cause(id).name, percent(v, l.value)))
        .collect();
    if l.causes.len() > 2 {
        parts.push(format!("+{}", l.causes.len() - 2));
    }
    parts.join(", ")
}

/// The library sites that allocate below an own line (`this line` when it allocates itself),
/// with their shares of it.
pub(crate) fn own_sites(r: &Report, l: &OwnLine) -> String {
    let p = &r.profile;
    let mut parts: Vec<String> = l
        .sites
        .iter()
        .map(|&(id, v)| {
            let name = if id == l.site {
                "this line".to_string()
            } else {
                // Library files in their short form (`compress/flate/deflate.go`, not the
                // GOROOT they were built from).
                let s = &r.attribution.sites[id.0 as usize];
                let (f, file) = (p.str(s.name), p.str(s.file));
                if file.is_empty() || s.line == 0 {
                    printable_name(p, s)
                } else {
                    format!("{f} {}:{}", module_relative_file(f, file), s.line)
                }
            };
            format!("{name} ({:.0}%)", percent(v, l.value))
        })
        .collect();
    if l.other_sites > 0 {
        parts.push(format!("+{} more", l.other_sites));
    }
    parts.join(", ")
}

/// Right-aligned columns, the last one left as is; `paint[c]` colors cell c of data rows.
fn table(
    header: &[&str],
    rows: &[(Vec<String>, Option<&'static str>)],
    paint_col: usize,
    color: bool,
    w: &mut dyn Write,
) -> Result<()> {
    let ncols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for (row, _) in rows {
        for (c, cell) in row.iter().enumerate().take(ncols - 1) {
            widths[c] = widths[c].max(cell.chars().count());
        }
    }
    let line = |cells: &[String], code: Option<&str>| {
        let mut out = String::new();
        for (c, cell) in cells.iter().enumerate() {
            if c + 1 == ncols {
                out.push_str(cell);
                continue;
            }
            let padded = if c == 0 {
                format!("{:<width$}", cell, width = widths[c])
            } else {
                format!("{:>width$}", cell, width = widths[c])
            };
            match code {
                Some(code) if c == paint_col => out.push_str(&paint(&padded, code, color)),
                _ => out.push_str(&padded),
            }
            out.push_str("  ");
        }
        out.trim_end().to_string()
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    writeln!(w, "{}", line(&header, None))?;
    for (row, code) in rows {
        writeln!(w, "{}", line(row, *code))?;
    }
    Ok(())
}

/// The diff of two profiles: totals, causes, then the sites that changed most.
fn render_diff(d: &Diff, color: bool, w: &mut dyn Write) -> Result<()> {
    let unit = d.value_unit();
    let h = |v: f64| human_f(v, &unit);
    writeln!(w, "heapdoc diff of {}", escape_terminal(&d.sample_index))?;
    for (label, side) in [("Base", &d.base), ("New ", &d.new)] {
        let inputs: Vec<_> = side
            .inputs
            .iter()
            .map(|s| escape_terminal(s).into_owned())
            .collect();
        write!(
            w,
            "{label}: {} (total {}",
            inputs.join(", "),
            human(side.total, &d.unit)
        )?;
        if side.duration_nanos > 0 {
            write!(w, " over {}", human(side.duration_nanos, "nanoseconds"))?;
        }
        writeln!(w, ")")?;
    }
    let norm = match d.normalize {
        crate::analyze::diff::Normalize::Seconds => {
            "per second of each profile's duration".to_string()
        }
        crate::analyze::diff::Normalize::Total => {
            format!("NEW scaled by {:.4} to BASE's total", d.new.factor)
        }
        _ => d.normalize_none_reason().to_string(),
    };
    writeln!(w, "Normalized: {norm}")?;
    writeln!(
        w,
        "A change counts when it exceeds {}σ of sampling error (see heapdoc diff --help).",
        d.sigma
    )?;
    writeln!(
        w,
        "Total: {} -> {}  {} ({})  ±{}  {}",
        h(d.total.base),
        h(d.total.new),
        signed(h(d.total.delta)),
        relative(d.total.relative),
        h(d.sigma * d.total.stderr),
        paint(
            if d.total.significant {
                "changed"
            } else {
                "within noise"
            },
            if d.total.significant {
                if d.total.delta > 0.0 {
                    "31"
                } else {
                    "32"
                }
            } else {
                "2"
            },
            color
        )
    )?;
    writeln!(w)?;
    let band = format!("±{}σ", d.sigma);
    if !d.causes.is_empty() {
        writeln!(w, "Causes:")?;
        let rows: Vec<_> = d
            .causes
            .iter()
            .map(|c| {
                (
                    vec![
                        escape_terminal(&c.cause).into_owned(),
                        h(c.delta.base),
                        h(c.delta.new),
                        signed(h(c.delta.delta)),
                        relative(c.delta.relative),
                        h(d.sigma * c.delta.stderr),
                        c.status.name().to_string(),
                    ],
                    Some(status_color(c.status)),
                )
            })
            .collect();
        table(
            &["cause", "base", "new", "delta", "delta%", &band, "status"],
            &rows,
            6,
            color,
            w,
        )?;
        writeln!(w)?;
    }
    let shown = if d.top == 0 {
        d.sites.len()
    } else {
        d.top.min(d.sites.len())
    };
    let changed = d.sites.iter().filter(|s| s.delta.significant).count();
    writeln!(
        w,
        "Sites: {changed} of {} changed beyond the noise; top {shown}:",
        d.sites.len()
    )?;
    let rows: Vec<_> = d.sites[..shown]
        .iter()
        .map(|s| {
            let name = if s.file.is_empty() {
                s.function.clone()
            } else if s.base_line != 0 && s.base_line != s.line {
                format!(
                    "{} {}:{} (was :{})",
                    s.function, s.file, s.line, s.base_line
                )
            } else {
                format!("{} {}:{}", s.function, s.file, s.line)
            };
            (
                vec![
                    s.status.name().to_string(),
                    h(s.delta.base),
                    h(s.delta.new),
                    signed(h(s.delta.delta)),
                    relative(s.delta.relative),
                    h(d.sigma * s.delta.stderr),
                    escape_terminal(&s.cause).into_owned(),
                    escape_terminal(&name).into_owned(),
                ],
                Some(status_color(s.status)),
            )
        })
        .collect();
    table(
        &[
            "status", "base", "new", "delta", "delta%", &band, "cause", "site",
        ],
        &rows,
        0,
        color,
        w,
    )?;
    Ok(())
}

#[cfg(test)]
mod escape_tests {
    use super::escape_terminal;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(escape_terminal("main.f"), "main.f");
        assert_eq!(escape_terminal("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(
            escape_terminal("user\u{202e}txt.exe"),
            "user\\u{202e}txt.exe"
        );
        assert_eq!(escape_terminal("x\u{2066}y"), "x\\u{2066}y");
    }
}
