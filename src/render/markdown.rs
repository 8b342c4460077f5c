//! The Markdown report: a PR-ready summary (GitHub-flavored tables, a collapsible
//! `<details>` section with the evidence). Formatting only.
//!
//! Every name comes from the profile, so it may hold Markdown or HTML. All of it goes through
//! [`escape`]: CommonMark lets any ASCII punctuation be backslash-escaped, so the characters
//! that could start markup (`` ` `` `*` `_` `[` `]` `<` `>` `&` `|` `~` `#` `!` `$` `\`) are;
//! `|` escaped as `\|` also keeps a table cell whole (GFM). Names are never put in code spans,
//! which cannot hold backticks safely. Line breaks become spaces (a cell is one line) and
//! other control characters visible `\u{..}` text.

use std::io::Write;

use anyhow::Result;

use crate::analyze::diff::{Diff, Status};
use crate::analyze::Report;
use crate::units::{group, human, human_f, percent, relative, signed};

pub use super::escape::markdown as escape;

fn row(cells: &[String]) -> String {
    format!("| {} |", cells.join(" | "))
}

/// The Markdown format: a summary for a pull request.
pub struct Markdown;

impl super::Renderer for Markdown {
    fn name(&self) -> &'static str {
        "markdown"
    }

    fn report(&self, r: &Report, w: &mut dyn Write) -> Result<()> {
        render(r, w)
    }

    fn diff(&self, d: &Diff, w: &mut dyn Write) -> Result<()> {
        render_diff(d, w)
    }

    fn goroutines(
        &self,
        r: &crate::analyze::goroutines::GoroutineReport,
        top: usize,
        w: &mut dyn Write,
    ) -> Result<()> {
        let opts = super::goroutines::GoroutineRenderOptions { top, color: false };
        super::goroutines::write_markdown(r, &opts, w)
    }
}

fn render(r: &Report, w: &mut dyn Write) -> Result<()> {
    let p = &r.profile;
    let unit = r.unit();
    writeln!(w, "### heapdoc: {}", escape(r.kind.describe()))?;
    writeln!(w)?;
    let inputs: Vec<String> = r.inputs.iter().map(|s| escape(s)).collect();
    writeln!(w, "Inputs: {}  ", inputs.join(", "))?;
    let mut total = format!(
        "Total **{}** {}",
        human(r.total(), unit),
        escape(r.sample_name())
    );
    if let Some(objs) = r.attribution.total_objects {
        total.push_str(&format!(" in {} objects", group(objs.unsigned_abs())));
    }
    if p.duration_nanos > 0 {
        total.push_str(&format!(" over {}", human(p.duration_nanos, "nanoseconds")));
    }
    writeln!(w, "{total}")?;
    if let Some(why) = &r.sample_index_reason {
        writeln!(w)?;
        writeln!(
            w,
            "Sample index {}: {}",
            escape(r.sample_name()),
            escape(why)
        )?;
    }
    for note in &r.notes {
        writeln!(w)?;
        writeln!(w, "> **Note:** {}", escape(note))?;
    }
    writeln!(w)?;
    if r.top.is_empty() {
        writeln!(w, "No samples.")?;
        return Ok(());
    }
    render_own(r, w)?;
    let c = &r.classification;
    let order = c.cause_order();
    if r.kind.is_memory() && !order.is_empty() {
        writeln!(w, "#### Causes")?;
        writeln!(w)?;
        writeln!(
            w,
            "{}",
            row(&[
                "cause".into(),
                escape(r.sample_name()),
                "share".into(),
                "objects".into(),
                "sites".into()
            ])
        )?;
        writeln!(w, "|:--|--:|--:|--:|--:|")?;
        let base = r.share_base();
        for &id in &order {
            let t = &c.totals[id.0 as usize];
            writeln!(
                w,
                "{}",
                row(&[
                    escape(&c.cause(id).name),
                    human(t.value, unit),
                    if r.is_excluded(id) {
                        "apart".into()
                    } else {
                        format!("{:.2}%", percent(t.value, base))
                    },
                    if r.attribution.total_objects.is_some() {
                        group(t.objects.unsigned_abs())
                    } else {
                        "-".into()
                    },
                    t.sites.to_string(),
                ])
            )?;
        }
        writeln!(w)?;
    }
    writeln!(
        w,
        "#### Top {} of {} sites by {}",
        r.top.len(),
        r.site_count,
        escape(r.sample_name())
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{}",
        row(&[
            "flat".into(),
            "flat%".into(),
            "cum".into(),
            "cause".into(),
            "function".into(),
            "location".into()
        ])
    )?;
    writeln!(w, "|--:|--:|--:|:--|:--|:--|")?;
    let total = r.total();
    for &id in &r.top {
        let s = &r.attribution.sites[id.0 as usize];
        let cause = match &c.site_cause[id.0 as usize] {
            Some(sc) => {
                let mut name = escape(&c.cause(sc.cause).name);
                if sc.share < 0.995 {
                    name.push_str(&format!(" ({:.0}%)", sc.share * 100.0));
                }
                name
            }
            None => "-".into(),
        };
        writeln!(
            w,
            "{}",
            row(&[
                human(s.flat, unit),
                format!("{:.2}%", percent(s.flat, total)),
                human(s.cum, unit),
                cause,
                escape(&function(p.str(s.name))),
                location(p.str(s.file), s.line),
            ])
        )?;
    }
    writeln!(w)?;
    if r.kind.is_memory() {
        let advice: Vec<_> = order
            .iter()
            .filter(|&&id| !r.is_excluded(id))
            .take(5)
            .collect();
        if !advice.is_empty() {
            writeln!(w, "#### What to do")?;
            writeln!(w)?;
            for &&id in &advice {
                let cause = c.cause(id);
                writeln!(
                    w,
                    "- **{}**: {}",
                    escape(&cause.name),
                    escape(&cause.advice)
                )?;
            }
            writeln!(w)?;
        }
    }
    render_cost(r, w)?;
    render_by_label(r, w)?;
    writeln!(w, "<details>")?;
    writeln!(w, "<summary>Evidence per site</summary>")?;
    writeln!(w)?;
    for (i, &id) in r.top.iter().enumerate() {
        let s = &r.attribution.sites[id.0 as usize];
        let mut line = format!(
            "{}. {} at {}",
            i + 1,
            escape(&function(p.str(s.name))),
            location(p.str(s.file), s.line)
        );
        match &c.site_cause[id.0 as usize] {
            Some(sc) if sc.evidence == crate::analyze::classify::Evidence::None => {
                line.push_str(&format!(
                    ": {}, no evidence",
                    escape(&c.cause(sc.cause).name)
                ));
                if let Some(note) = &sc.note {
                    line.push_str(&format!("; {}", escape(note)));
                }
            }
            Some(sc) => {
                line.push_str(&format!(
                    ": {} ({} evidence: {})",
                    escape(&c.cause(sc.cause).name),
                    sc.evidence.kind(),
                    escape(&sc.evidence.describe())
                ));
                if let Some(note) = &sc.note {
                    line.push_str(&format!("; note: {}", escape(note)));
                }
            }
            None => line.push_str(": no samples attributed"),
        }
        writeln!(w, "{line}")?;
    }
    writeln!(w)?;
    writeln!(w, "</details>")?;
    Ok(())
}

/// "Your code" (issue 18): the engineer's own lines first, with what is allocated below them.
fn render_own(r: &Report, w: &mut dyn Write) -> Result<()> {
    let Some(o) = &r.own else {
        return Ok(());
    };
    let p = &r.profile;
    let unit = r.unit();
    let total = r.total();
    writeln!(
        w,
        "#### Your code: {} ({:.2}%) allocated under {} of your lines",
        human(o.total, unit),
        percent(o.total, total),
        o.count
    )?;
    writeln!(w)?;
    if !o.modules.is_empty() {
        let m: Vec<String> = o.modules.iter().map(|m| escape(m)).collect();
        writeln!(w, "Your code: main, {}", m.join(", "))?;
        writeln!(w)?;
    }
    writeln!(
        w,
        "{}",
        row(&[
            escape(r.sample_name()),
            "share".into(),
            "causes".into(),
            "function".into(),
            "location".into(),
            "allocated in".into(),
        ])
    )?;
    writeln!(w, "|--:|--:|:--|:--|:--|:--|")?;
    for l in &o.lines {
        let s = &r.attribution.sites[l.site.0 as usize];
        writeln!(
            w,
            "{}",
            row(&[
                human(l.value, unit),
                format!("{:.2}%", percent(l.value, total)),
                escape(&super::text::own_causes(r, l)),
                escape(&function(p.str(s.name))),
                location(p.str(s.file), s.line),
                escape(&super::text::own_sites(r, l)),
            ])
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// Rates and the estimated CPU cost (`--cpu`), when the inputs allow them.
fn render_cost(r: &Report, w: &mut dyn Write) -> Result<()> {
    if let Some(rt) = &r.rates {
        writeln!(w, "#### Allocation rate")?;
        writeln!(w)?;
        if let (Some(secs), Some(b)) = (rt.seconds, rt.bytes_per_second) {
            writeln!(w, "- over {secs:.2} s: **{}/s**", human(b as i64, "bytes"))?;
        }
        if let (Some(n), Some(b)) = (rt.requests, rt.bytes_per_request) {
            writeln!(
                w,
                "- per request ({} requests): **{}** ± {} (1σ sampling error)",
                group(n as u64),
                human(b as i64, "bytes"),
                human((rt.bytes_stderr / n.max(1.0)) as i64, "bytes")
            )?;
        }
        writeln!(w)?;
    }
    let Some(c) = &r.cost else { return Ok(()) };
    let pct = |v: f64| c.share(v) * 100.0;
    writeln!(w, "#### Estimated CPU cost (an estimate)")?;
    writeln!(w)?;
    writeln!(
        w,
        "Allocation {:.2}% + GC {:.2}% = **{:.2}%** of the CPU profile. Allocation CPU is given to the line where the CPU profile shows it, GC CPU by share of allocated bytes.",
        pct(c.alloc_cpu as f64),
        pct(c.gc_cpu as f64),
        pct((c.alloc_cpu + c.gc_cpu) as f64)
    )?;
    writeln!(w)?;
    writeln!(w, "| cause | estimated CPU | measured allocation CPU |")?;
    writeln!(w, "|:--|--:|--:|")?;
    for (cause, est, measured) in &c.causes {
        writeln!(
            w,
            "| {} | {:.2}% | {} |",
            escape(&r.classification.cause(*cause).name),
            pct(*est),
            human(*measured, "nanoseconds")
        )?;
    }
    writeln!(w)?;
    Ok(())
}

/// `--by-label KEY`: one row per label value with its total, cause mix and top sites.
fn render_by_label(r: &Report, w: &mut dyn Write) -> Result<()> {
    let Some(b) = &r.by_label else { return Ok(()) };
    let unit = r.unit();
    let total = r.total();
    writeln!(w, "#### By label `{}`", b.key.replace('`', "'"))?;
    writeln!(w)?;
    if b.folded_values > 0 {
        writeln!(
            w,
            "{} more values are folded into *(other values)*.",
            b.folded_values
        )?;
        writeln!(w)?;
    }
    writeln!(w, "| value | total | share | causes | top sites |")?;
    writeln!(w, "|:--|--:|--:|:--|:--|")?;
    for g in &b.groups {
        let (causes, sites) = super::text::label_group_cells(r, g, &escape);
        writeln!(
            w,
            "{}",
            row(&[
                escape(&super::text::label_value(&g.value)),
                human(g.total, unit),
                format!("{:.2}%", percent(g.total, total)),
                causes,
                sites,
            ])
        )?;
    }
    writeln!(w)?;
    Ok(())
}

fn function(name: &str) -> String {
    if name.is_empty() {
        "<unknown>".to_string()
    } else {
        name.to_string()
    }
}

fn location(file: &str, line: i64) -> String {
    match (file.is_empty(), line > 0) {
        (true, _) => "-".to_string(),
        (false, true) => format!("{}:{line}", escape(file)),
        (false, false) => escape(file),
    }
}

fn status_mark(s: Status) -> &'static str {
    match s {
        Status::Regressed => "regressed",
        Status::Improved => "improved",
        Status::New => "new",
        Status::Vanished => "vanished",
        Status::Unchanged => "within noise",
    }
}

/// The diff as a PR comment: totals, causes, the sites that changed, and the method.
fn render_diff(d: &Diff, w: &mut dyn Write) -> Result<()> {
    let unit = d.value_unit();
    let h = |v: f64| human_f(v, &unit);
    writeln!(w, "### heapdoc diff: {}", escape(&d.sample_index))?;
    writeln!(w)?;
    let inputs = |v: &[String]| v.iter().map(|s| escape(s)).collect::<Vec<_>>().join(", ");
    writeln!(w, "Base: {}  ", inputs(&d.base.inputs))?;
    writeln!(w, "New: {}", inputs(&d.new.inputs))?;
    writeln!(w)?;
    writeln!(
        w,
        "Total **{} -> {}** ({}, {}), {}",
        h(d.total.base),
        h(d.total.new),
        signed(h(d.total.delta)),
        relative(d.total.relative),
        if d.total.significant {
            "beyond the sampling error"
        } else {
            "within the sampling error"
        }
    )?;
    writeln!(w)?;
    let regressed: Vec<_> = d
        .causes
        .iter()
        .filter(|c| matches!(c.status, Status::Regressed | Status::New))
        .collect();
    if !d.causes.is_empty() {
        writeln!(w, "#### Causes")?;
        writeln!(w)?;
        writeln!(
            w,
            "| cause | base | new | delta | delta% | ±{}σ | status |",
            d.sigma
        )?;
        writeln!(w, "|:--|--:|--:|--:|--:|--:|:--|")?;
        for c in &d.causes {
            writeln!(
                w,
                "{}",
                row(&[
                    escape(&c.cause),
                    h(c.delta.base),
                    h(c.delta.new),
                    signed(h(c.delta.delta)),
                    relative(c.delta.relative),
                    h(d.sigma * c.delta.stderr),
                    status_mark(c.status).into(),
                ])
            )?;
        }
        writeln!(w)?;
    }
    let changed: Vec<_> = d.sites.iter().filter(|s| s.delta.significant).collect();
    let shown = if d.top == 0 {
        changed.len()
    } else {
        d.top.min(changed.len())
    };
    writeln!(
        w,
        "#### Sites changed beyond the noise: {} of {} (top {shown})",
        changed.len(),
        d.sites.len()
    )?;
    writeln!(w)?;
    if shown > 0 {
        writeln!(
            w,
            "| status | base | new | delta | delta% | cause | function | location |"
        )?;
        writeln!(w, "|:--|--:|--:|--:|--:|:--|:--|:--|")?;
        for s in &changed[..shown] {
            writeln!(
                w,
                "{}",
                row(&[
                    status_mark(s.status).into(),
                    h(s.delta.base),
                    h(s.delta.new),
                    signed(h(s.delta.delta)),
                    relative(s.delta.relative),
                    escape(&s.cause),
                    escape(&s.function),
                    if s.base_line != 0 && s.base_line != s.line {
                        format!("{} (was :{})", location(&s.file, s.line), s.base_line)
                    } else {
                        location(&s.file, s.line)
                    },
                ])
            )?;
        }
        writeln!(w)?;
    }
    if !regressed.is_empty() {
        writeln!(w, "#### What to do")?;
        writeln!(w)?;
        for c in &regressed {
            writeln!(w, "- **{}**: {}", escape(&c.cause), escape(&c.advice))?;
        }
        writeln!(w)?;
    }
    writeln!(w, "<details>")?;
    writeln!(w, "<summary>Method</summary>")?;
    writeln!(w)?;
    let norm = match d.normalize {
        crate::analyze::diff::Normalize::Seconds => {
            "per second of each profile's duration".to_string()
        }
        crate::analyze::diff::Normalize::Total => {
            format!("NEW scaled by {:.4} to BASE's total", d.new.factor)
        }
        _ => d.normalize_none_reason().to_string(),
    };
    writeln!(w, "- Normalization: {norm}.")?;
    writeln!(
        w,
        "- A change counts when it exceeds {}σ of the sampling error: Var(X) = X² / n per heap record of value X, with n = objects × p sampled objects and p = 1 − exp(−size/period); variances add over records and profiles.",
        d.sigma
    )?;
    writeln!(
        w,
        "- Periods: base {}, new {}.",
        group(d.base.period.unsigned_abs()),
        group(d.new.period.unsigned_abs())
    )?;
    writeln!(w)?;
    writeln!(w, "</details>")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a|b"), "a\\|b");
        assert_eq!(escape("`x`"), "\\`x\\`");
        assert_eq!(escape("<script>"), "\\<script\\>");
        assert_eq!(escape("a\nb"), "a b");
        assert_eq!(escape("main.f"), "main.f");
    }
}
