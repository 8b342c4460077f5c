//! `heapdoc goroutines` output (issue 19): text, JSON (schema in docs/json.md) and Markdown
//! of a [`GoroutineReport`]. Formatting only.

use std::io::Write;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::analyze::goroutines::{GoroutineReport, Group, Site, StackBasis, Verdict};
use crate::render::escape::markdown as md;
use crate::render::term::escape_terminal as esc;
use crate::units::group as num;
use crate::units::human;

/// Options of the goroutine renderers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoroutineRenderOptions {
    /// Groups shown in detail (0 = all); leaks and suspects are always shown.
    pub top: usize,
    /// ANSI color in text output.
    pub color: bool,
}

impl Default for GoroutineRenderOptions {
    fn default() -> Self {
        GoroutineRenderOptions {
            top: 10,
            color: false,
        }
    }
}

fn site(s: &Site) -> String {
    if s.file.is_empty() {
        s.func.clone()
    } else {
        format!("{} {}:{}", s.func, s.file, s.line)
    }
}

fn signed(d: i64) -> String {
    if d > 0 {
        format!("+{}", num(d as u64))
    } else if d < 0 {
        format!("-{}", num(d.unsigned_abs()))
    } else {
        "±0".into()
    }
}

fn growth(r: &GoroutineReport, g: &Group) -> Option<String> {
    let d = g.delta()?;
    Some(match r.per_second(g) {
        Some(ps) => format!("{} ({:+.2}/s)", signed(d), ps),
        None => signed(d),
    })
}

fn waits_text(g: &Group) -> Option<String> {
    let w = &g.waits;
    if w.buckets.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = w
        .buckets
        .iter()
        .map(|(lo, n)| {
            let range = match lo {
                1 => "1-4",
                5 => "5-14",
                15 => "15-59",
                60 => "60-239",
                _ => "240+",
            };
            format!("{} for {range} min", num(*n))
        })
        .collect();
    if w.unknown > 0 {
        parts.push(format!("{} under a minute", num(w.unknown)));
    }
    Some(format!(
        "{} (min {} / median {} / max {} minutes)",
        parts.join(", "),
        w.min.unwrap_or(0),
        w.median.unwrap_or(0),
        w.max.unwrap_or(0)
    ))
}

/// The shown groups: every leak and suspect, then others up to `top`.
fn shown(r: &GoroutineReport, top: usize) -> (Vec<&Group>, usize) {
    let mut out = Vec::new();
    let mut others = 0;
    for g in &r.groups {
        if g.verdict != Verdict::Ok || top == 0 || out.len() < top {
            out.push(g);
        } else {
            others += 1;
        }
    }
    (out, others)
}

fn summary(r: &GoroutineReport) -> Vec<String> {
    let mut lines = vec![format!(
        "{} goroutines in {} groups ({})",
        num(r.user_total),
        num(r.groups.iter().filter(|g| !g.system).count() as u64),
        r.format.name()
    )];
    if r.system_total > 0 {
        lines.push(format!(
            "plus {} of the runtime's own goroutines (GC workers, finalizers; runtime.NumGoroutine does not count them)",
            num(r.system_total)
        ));
    }
    if let Some(b) = &r.base {
        let d = r.user_total as i64 - b.user_total as i64;
        let rate = b
            .elapsed
            .filter(|e| *e > 0.0)
            .map(|e| format!(" in {e:.1} s ({:+.2}/s)", d as f64 / e))
            .unwrap_or_default();
        lines.push(format!(
            "since {}: {} -> {} goroutines, {}{rate}; {} groups vanished",
            b.name,
            num(b.user_total),
            num(r.user_total),
            signed(d),
            num(b.vanished)
        ));
    }
    let leaks: Vec<&Group> = r.leaks().collect();
    let sus = r
        .groups
        .iter()
        .filter(|g| g.verdict == Verdict::Suspect)
        .count();
    lines.push(format!(
        "{} leaking groups ({} goroutines), {} suspect",
        leaks.len(),
        num(leaks.iter().map(|g| g.count).sum()),
        sus
    ));
    lines
}

/// Text for a terminal.
pub fn write_text(
    r: &GoroutineReport,
    opts: &GoroutineRenderOptions,
    w: &mut dyn Write,
) -> Result<()> {
    let paint = |s: &str, code: &str| {
        if opts.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    writeln!(w, "Goroutines: {}", esc(&r.name))?;
    for l in summary(r) {
        writeln!(w, "{}", esc(&l))?;
    }
    let (groups, others) = shown(r, opts.top);
    for (i, g) in groups.iter().enumerate() {
        let rule = &r.rules[g.rule];
        let verdict = match g.verdict {
            Verdict::Leak => paint("LEAK", "1;31"),
            Verdict::Suspect => paint("SUSPECT", "1;33"),
            Verdict::Ok => paint("ok", "32"),
        };
        let state = if g.state.is_empty() {
            String::new()
        } else {
            format!(" [{}]", g.state)
        };
        writeln!(w)?;
        writeln!(
            w,
            "{:>2}. {} {} goroutine{}{} {}: {}",
            i + 1,
            verdict,
            num(g.count),
            if g.count == 1 { "" } else { "s" },
            esc(&state),
            esc(&rule.kind),
            esc(&g.reason)
        )?;
        if let Some(s) = &g.blocked_in {
            writeln!(w, "    blocked in  {}", esc(&site(s)))?;
        }
        match &g.created_by {
            Some(s) => writeln!(w, "    created by  {}", esc(&site(s)))?,
            None => {
                if let Some(s) = &g.entry {
                    writeln!(w, "    entry       {}", esc(&site(s)))?;
                }
            }
        }
        if let Some(gr) = growth(r, g) {
            writeln!(w, "    growth      {gr}")?;
        }
        if let Some(wt) = waits_text(g) {
            writeln!(w, "    waiting     {wt}")?;
        }
        writeln!(
            w,
            "    stacks      {} ({})",
            human(g.stack_bytes as i64, "bytes"),
            g.stack_basis.describe()
        )?;
        if let Some(h) = g.heap_inuse {
            let sites: Vec<String> = g
                .heap_sites
                .iter()
                .map(|(s, v)| format!("{} {}", site(s), human(*v, "bytes")))
                .collect();
            writeln!(
                w,
                "    heap        {} in use under this group's function{}",
                human(h, "bytes"),
                if sites.is_empty() {
                    String::new()
                } else {
                    format!(": {}", esc(&sites.join("; ")))
                }
            )?;
        }
        if g.locked > 0 {
            writeln!(
                w,
                "    locked      {} locked to their OS thread",
                num(g.locked)
            )?;
        }
        if g.verdict != Verdict::Ok {
            writeln!(w, "    why         {}", esc(&rule.description))?;
            writeln!(w, "    fix         {}", esc(&rule.advice))?;
            let stack: Vec<&str> = g.stack.iter().take(8).map(|s| s.func.as_str()).collect();
            if !stack.is_empty() {
                writeln!(w, "    stack       {}", esc(&stack.join(" <- ")))?;
            }
        }
    }
    if others > 0 {
        writeln!(w)?;
        writeln!(
            w,
            "... {others} more groups not leaking (--top 0 shows all)"
        )?;
    }
    for n in &r.notes {
        writeln!(w)?;
        writeln!(w, "note: {}", esc(n))?;
    }
    Ok(())
}

/// Markdown for a PR or an incident note.
pub fn write_markdown(
    r: &GoroutineReport,
    opts: &GoroutineRenderOptions,
    w: &mut dyn Write,
) -> Result<()> {
    writeln!(w, "## Goroutines: `{}`", md(&r.name))?;
    writeln!(w)?;
    for l in summary(r) {
        writeln!(w, "- {}", md(&l))?;
    }
    writeln!(w)?;
    let has_base = r.base.is_some();
    write!(
        w,
        "| verdict | goroutines | state | kind | blocked in | created by (or entry) |"
    )?;
    if has_base {
        write!(w, " growth |")?;
    }
    writeln!(w)?;
    write!(w, "|---|---:|---|---|---|---|")?;
    if has_base {
        write!(w, "---:|")?;
    }
    writeln!(w)?;
    let (groups, others) = shown(r, opts.top);
    for g in &groups {
        let cell = |s: Option<&Site>| s.map(|s| format!("`{}`", md(&site(s)))).unwrap_or_default();
        write!(
            w,
            "| {} | {} | {} | {} | {} | {} |",
            g.verdict.name(),
            num(g.count),
            md(&g.state),
            md(&r.rules[g.rule].kind),
            cell(g.blocked_in.as_ref()),
            cell(g.created_by.as_ref().or(g.entry.as_ref()))
        )?;
        if has_base {
            write!(w, " {} |", growth(r, g).unwrap_or_default())?;
        }
        writeln!(w)?;
    }
    if others > 0 {
        writeln!(w)?;
        writeln!(w, "{others} more groups not leaking.")?;
    }
    let flagged: Vec<&&Group> = groups.iter().filter(|g| g.verdict != Verdict::Ok).collect();
    if !flagged.is_empty() {
        writeln!(w)?;
        writeln!(w, "### What to change")?;
        writeln!(w)?;
        let mut seen = Vec::new();
        for g in flagged {
            let rule = &r.rules[g.rule];
            if seen.contains(&g.rule) {
                continue;
            }
            seen.push(g.rule);
            writeln!(
                w,
                "- **{}**: {} {}",
                md(&rule.kind),
                md(&rule.description),
                md(&rule.advice)
            )?;
        }
    }
    for n in &r.notes {
        writeln!(w)?;
        writeln!(w, "> {}", md(n))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct JsonSite<'a> {
    function: &'a str,
    file: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct JsonGroup<'a> {
    verdict: &'static str,
    reason: &'a str,
    kind: &'a str,
    count: u64,
    state: &'a str,
    runtime: bool,
    blocked_in: Option<JsonSite<'a>>,
    blocked_in_user_code: bool,
    created_by: Option<JsonSite<'a>>,
    entry: Option<JsonSite<'a>>,
    base_count: Option<u64>,
    delta: Option<i64>,
    per_second: Option<f64>,
    wait_minutes: JsonWaits<'a>,
    locked_to_thread: u64,
    truncated: u64,
    distinct_stacks: u64,
    stack_bytes: u64,
    stack_basis: &'static str,
    heap_inuse_bytes: Option<i64>,
    heap_sites: Vec<JsonHeapSite<'a>>,
    goroutine_ids: &'a [u64],
    stack: Vec<JsonSite<'a>>,
}

#[derive(Serialize)]
struct JsonHeapSite<'a> {
    function: &'a str,
    file: &'a str,
    line: u32,
    inuse_bytes: i64,
}

#[derive(Serialize)]
struct JsonWaits<'a> {
    unknown: u64,
    buckets: &'a [(u32, u64)],
    min: Option<u32>,
    median: Option<u32>,
    max: Option<u32>,
}

#[derive(Serialize)]
struct JsonBase<'a> {
    name: &'a str,
    goroutines: u64,
    vanished_groups: u64,
    elapsed_seconds: Option<f64>,
}

#[derive(Serialize)]
struct JsonKind<'a> {
    kind: &'a str,
    description: &'a str,
    advice: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    schema: &'static str,
    name: &'a str,
    format: &'static str,
    goroutines: u64,
    runtime_goroutines: u64,
    base: Option<JsonBase<'a>>,
    groups: Vec<JsonGroup<'a>>,
    kinds: Vec<JsonKind<'a>>,
    notes: &'a [String],
}

fn jsite(s: &Site) -> JsonSite<'_> {
    JsonSite {
        function: &s.func,
        file: &s.file,
        line: s.line,
    }
}

/// JSON: every group (no `--top` cut), schema `heapdoc.goroutines/1` (docs/json.md).
pub fn write_json(r: &GoroutineReport, w: &mut dyn Write) -> Result<()> {
    let mut used: Vec<usize> = r.groups.iter().map(|g| g.rule).collect();
    used.sort_unstable();
    used.dedup();
    let out = JsonReport {
        schema: "heapdoc.goroutines/1",
        name: &r.name,
        format: r.format.name(),
        goroutines: r.user_total,
        runtime_goroutines: r.system_total,
        base: r.base.as_ref().map(|b| JsonBase {
            name: &b.name,
            goroutines: b.user_total,
            vanished_groups: b.vanished,
            elapsed_seconds: b.elapsed,
        }),
        groups: r
            .groups
            .iter()
            .map(|g| JsonGroup {
                verdict: g.verdict.name(),
                reason: &g.reason,
                kind: &r.rules[g.rule].kind,
                count: g.count,
                state: &g.state,
                runtime: g.system,
                blocked_in: g.blocked_in.as_ref().map(jsite),
                blocked_in_user_code: g.blocked_in_user,
                created_by: g.created_by.as_ref().map(jsite),
                entry: g.entry.as_ref().map(jsite),
                base_count: g.base_count,
                delta: g.delta(),
                per_second: r.per_second(g),
                wait_minutes: JsonWaits {
                    unknown: g.waits.unknown,
                    buckets: &g.waits.buckets,
                    min: g.waits.min,
                    median: g.waits.median,
                    max: g.waits.max,
                },
                locked_to_thread: g.locked,
                truncated: g.truncated,
                distinct_stacks: g.stacks,
                stack_bytes: g.stack_bytes,
                stack_basis: match g.stack_basis {
                    StackBasis::Measured => "measured",
                    StackBasis::Average => "average",
                    StackBasis::Minimum => "minimum",
                },
                heap_inuse_bytes: g.heap_inuse,
                heap_sites: g
                    .heap_sites
                    .iter()
                    .map(|(s, v)| JsonHeapSite {
                        function: &s.func,
                        file: &s.file,
                        line: s.line,
                        inuse_bytes: *v,
                    })
                    .collect(),
                goroutine_ids: &g.ids,
                stack: g.stack.iter().map(jsite).collect(),
            })
            .collect(),
        kinds: used
            .iter()
            .map(|&i| JsonKind {
                kind: &r.rules[i].kind,
                description: &r.rules[i].description,
                advice: &r.rules[i].advice,
            })
            .collect(),
        notes: &r.notes,
    };
    serde_json::to_writer_pretty(&mut *w, &out)?;
    writeln!(w)?;
    Ok(())
}

/// Fill colors of the wait states in the SVG.
const STATE_COLORS: &[(&str, (u8, u8, u8))] = &[
    ("select", (0x8d, 0xa0, 0xcb)),
    ("chan receive", (0x66, 0xc2, 0xa5)),
    ("chan send", (0xfc, 0x8d, 0x62)),
    ("IO wait", (0xe7, 0x8a, 0xc3)),
    ("sleep", (0xa6, 0xd8, 0x54)),
    ("syscall", (0xe5, 0xc4, 0x94)),
    ("running", (0xff, 0xd9, 0x2f)),
    ("runnable", (0xff, 0xd9, 0x2f)),
];

fn state_color(state: &str) -> (u8, u8, u8) {
    if state.contains("nil chan") || state.starts_with("select (no cases)") {
        return (0xd7, 0x30, 0x27);
    }
    if state.starts_with("sync.") || state.contains("semacquire") || state.contains("Lock") {
        return (0xb3, 0xb3, 0xff);
    }
    STATE_COLORS
        .iter()
        .find(|(s, _)| *s == state)
        .map_or((0xbd, 0xbd, 0xbd), |x| x.1)
}

/// An SVG flame graph of the groups' goroutines (inferno): one tower per group, its most
/// common stack, as wide as the group's count; the leaf frame names the wait state (and the
/// verdict, for leaks and suspects) and is filled with the state's color; callers are grey.
pub fn write_svg(
    r: &GoroutineReport,
    opts: &crate::render::flame::FlameOptions,
    w: &mut dyn Write,
) -> Result<()> {
    use crate::render::flame::{add_legend, inferno_options, rgb, safe_name, NEUTRAL};
    use inferno::flamegraph::{self, color::PaletteMap};
    let mut palette = PaletteMap::default();
    palette.insert("", rgb(NEUTRAL));
    let mut lines: std::collections::BTreeMap<String, u64> = Default::default();
    let mut legend: Vec<(String, (u8, u8, u8))> = Vec::new();
    for g in &r.groups {
        let mut frames: Vec<String> = g
            .stack
            .iter()
            .rev()
            .map(|s| {
                if opts.lines {
                    safe_name(&format!("{} {}:{}", s.func, s.file, s.line))
                } else {
                    safe_name(&s.func)
                }
            })
            .collect();
        for f in &frames {
            palette.insert(f, rgb(NEUTRAL));
        }
        let state = if g.state.is_empty() {
            "unknown state"
        } else {
            g.state.as_str()
        };
        let mut tag = safe_name(state);
        if g.verdict != Verdict::Ok {
            tag.push_str(&format!(
                " · {} {}",
                g.verdict.name(),
                safe_name(&r.rules[g.rule].kind)
            ));
        }
        let leaf = match frames.pop() {
            Some(f) => format!("{f} «{tag}»"),
            None => format!("«{tag}»"),
        };
        let color = state_color(state);
        palette.insert(&leaf, rgb(color));
        if !legend.iter().any(|(n, _)| n == state) {
            legend.push((safe_name(state), color));
        }
        frames.push(leaf);
        *lines.entry(frames.join(";")).or_default() += g.count;
    }
    let subtitle = format!(
        "{} goroutines ({}); one tower per group, leaf frames colored by wait state; from {}",
        r.user_total + r.system_total,
        r.format.name(),
        safe_name(&r.name)
    );
    let mut o = inferno_options("heapdoc: goroutines".into(), subtitle, "count", opts);
    o.count_name = "goroutines".into();
    o.palette_map = Some(&mut palette);
    let text: Vec<String> = lines.iter().map(|(s, v)| format!("{s} {v}")).collect();
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut o, text.iter().map(|s| s.as_str()), &mut svg)
        .context("rendering the flame graph")?;
    let svg = String::from_utf8(svg).context("inferno wrote non-UTF-8 SVG")?;
    w.write_all(add_legend(&svg, &legend).as_bytes())?;
    Ok(())
}
