//! `heapdoc list REGEX`: pprof's `list`, plus why. Each matching function's source lines with
//! flat and cumulative allocation, the line's cause, and the evidence (the compiler's reason)
//! inline. Lines come from the source tree (`--source-root`, `--explain`); without it only
//! the lines that allocate are listed.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use regex::Regex;

use super::text::escape_terminal;
use super::{human, Report};
use crate::attribute::SiteId;

/// Renders the listing of every function whose name matches `re`, in name order.
pub fn render(r: &Report, re: &Regex, w: &mut dyn Write) -> Result<usize> {
    let p = &r.profile;
    // function name -> file -> line -> site
    let mut funcs: BTreeMap<&str, BTreeMap<&str, BTreeMap<i64, SiteId>>> = BTreeMap::new();
    let mut start_lines: BTreeMap<&str, i64> = BTreeMap::new();
    for (i, s) in r.attribution.sites.iter().enumerate() {
        let name = p.str(s.name);
        if name.is_empty() || !re.is_match(name) || s.line <= 0 {
            continue;
        }
        funcs
            .entry(name)
            .or_default()
            .entry(p.str(s.file))
            .or_default()
            .insert(s.line, SiteId(i as u32));
        if let Some(f) = s.func {
            let start = p.function(f).start_line;
            if start > 0 {
                start_lines.insert(name, start);
            }
        }
    }
    // For lines that call into allocating code (cum but no flat): the dominant cause of the
    // bytes under the line, and the function it calls there.
    let listed: std::collections::HashSet<SiteId> = funcs
        .values()
        .flat_map(|f| f.values().flat_map(|l| l.values().copied()))
        .collect();
    let mut under: std::collections::HashMap<SiteId, BTreeMap<(u16, u32), i128>> =
        std::collections::HashMap::new();
    let mut frames: Vec<SiteId> = Vec::new();
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values[r.sample_index] as i128;
        if v == 0 {
            continue;
        }
        frames.clear();
        for l in p.samples.stack(s.stack) {
            frames.extend_from_slice(r.attribution.sites_of(l));
        }
        let cause = r.classification.stack_cause[s.stack as usize];
        for (k, f) in frames.iter().enumerate() {
            if k > 0 && listed.contains(f) && !frames[..k].contains(f) {
                let callee = frames[k - 1];
                *under
                    .entry(*f)
                    .or_default()
                    .entry((cause.0, callee.0))
                    .or_insert(0) += v;
            }
        }
    }
    let unit = r.unit();
    for (name, files) in &funcs {
        for (file, lines) in files {
            let flat: i64 = lines
                .values()
                .map(|s| r.attribution.sites[s.0 as usize].flat)
                .sum();
            writeln!(
                w,
                "ROUTINE ======================== {} in {}",
                escape_terminal(name),
                escape_terminal(file)
            )?;
            writeln!(
                w,
                "{} allocated here (flat) of {} total",
                human(flat, unit),
                human(r.total(), unit)
            )?;
            let first = *lines.keys().next().unwrap_or(&1);
            let last = *lines.keys().next_back().unwrap_or(&first);
            let start = start_lines
                .get(name)
                .copied()
                .filter(|s| *s <= first)
                .unwrap_or(first);
            let have_source = r.sources.is_some();
            let mut line = start;
            let mut end = last;
            while line <= end {
                let text = if have_source {
                    source(r, file, line)
                } else {
                    None
                };
                // Show the whole function: run on to its closing brace.
                if line == end
                    && text.as_deref().is_some_and(|t| t.trim_end() != "}")
                    && end < last + 200
                {
                    end += 1;
                }
                match lines.get(&line) {
                    Some(&id) => {
                        let s = &r.attribution.sites[id.0 as usize];
                        let (cause, why) = match &r.classification.site_cause[id.0 as usize] {
                            Some(sc) if s.flat != 0 => (
                                r.classification.cause(sc.cause).name.clone(),
                                format!("  // {}", sc.evidence.describe()),
                            ),
                            _ => match under.get(&id).and_then(|m| {
                                m.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                            }) {
                                Some((&(c, callee), _)) => (
                                    r.classification
                                        .cause(crate::classify::CauseId(c))
                                        .name
                                        .clone(),
                                    format!(
                                        "  // calls {}",
                                        p.str(r.attribution.sites[callee as usize].name)
                                    ),
                                ),
                                None => (String::new(), String::new()),
                            },
                        };
                        let flat = if s.flat == 0 {
                            ".".to_string()
                        } else {
                            human(s.flat, unit)
                        };
                        writeln!(
                            w,
                            "{:>12} {:>12} {:<22} {:>5}: {}{}",
                            flat,
                            human(s.cum, unit),
                            cause,
                            line,
                            escape_terminal(text.as_deref().unwrap_or("")),
                            escape_terminal(&why)
                        )?;
                    }
                    None if have_source => {
                        writeln!(
                            w,
                            "{:>12} {:>12} {:<22} {:>5}: {}",
                            ".",
                            ".",
                            "",
                            line,
                            escape_terminal(text.as_deref().unwrap_or(""))
                        )?;
                    }
                    None => {}
                }
                line += 1;
            }
        }
    }
    if !funcs.is_empty() && r.sources.is_none() {
        writeln!(
            w,
            "(source not shown: pass --source-root DIR or --explain DIR)"
        )?;
    }
    Ok(funcs.len())
}

fn source(r: &Report, file: &str, line: i64) -> Option<String> {
    use crate::classify::LineSource;
    // Tabs are expanded so the listing lines up and escaping leaves them readable.
    r.sources
        .as_ref()?
        .line(file, line)
        .map(|t| t.replace('\t', "    "))
}
