//! `heapdoc list REGEX`: pprof's `list`, plus why. For each matching function, its source lines
//! with flat and cumulative allocation, the line's cause and the evidence (the compiler's
//! reason), computed here once; `render` only formats the [`Listing`].

use std::collections::{BTreeMap, HashMap, HashSet};

use regex::Regex;

use crate::analyze::attribute::SiteId;
use crate::analyze::classify::{CauseId, LineSource};
use crate::analyze::Report;

/// How far past its last allocating line a function's listing runs looking for its closing
/// brace.
const TAIL_LINES: i64 = 200;

/// The annotated source of the functions matching a pattern.
#[derive(Debug)]
pub struct Listing {
    /// The unit of the values (the report's sample type unit).
    pub unit: String,
    /// The report's total, for the header of each function.
    pub total: i64,
    /// Whether the source of any listed function was read (`--source-root`, `--explain`, the
    /// default roots).
    pub have_source: bool,
    /// Functions by name, then file.
    pub functions: Vec<ListedFunction>,
}

/// One function (in one file) of a [`Listing`].
#[derive(Debug)]
pub struct ListedFunction {
    pub name: String,
    pub file: String,
    /// Allocated on this function's own lines.
    pub flat: i64,
    /// Allocated with this function anywhere on the stack (pprof's cum of the function).
    pub cum: i64,
    /// The lines shown: every line of the function when the source is available, else only
    /// the lines with a site.
    pub lines: Vec<ListedLine>,
}

/// One source line of a [`ListedFunction`].
#[derive(Debug)]
pub struct ListedLine {
    pub line: i64,
    /// The source text (tabs expanded), when available.
    pub text: Option<String>,
    /// The line's site values, when something was allocated at or under it.
    pub site: Option<LineSite>,
}

/// The allocation at or under one listed line.
#[derive(Debug)]
pub struct LineSite {
    pub flat: i64,
    pub cum: i64,
    /// The line's cause: its own when it allocates, else the dominant cause of the bytes
    /// allocated under it.
    pub cause: Option<String>,
    /// The evidence for the cause, or the function the line calls into.
    pub why: Option<String>,
}

/// The listing of every function whose name matches `re`, in name order. Source lines come
/// from `lines` when given.
pub fn listing(r: &Report, re: &Regex, lines: Option<&dyn LineSource>) -> Listing {
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
    let under = causes_under(r, &funcs);
    let cum = function_cum(r, &funcs);
    let mut out = Listing {
        unit: r.unit().to_string(),
        total: r.total(),
        have_source: false,
        functions: Vec::new(),
    };
    for (name, files) in &funcs {
        for (file, sites) in files {
            let flat = sites
                .values()
                .map(|s| r.attribution.sites[s.0 as usize].flat)
                .sum();
            let first = *sites.keys().next().unwrap_or(&1);
            let last = *sites.keys().next_back().unwrap_or(&first);
            let start = start_lines
                .get(name)
                .copied()
                .filter(|s| *s <= first)
                .unwrap_or(first);
            let source = lines.and_then(|l| l.lines(file));
            let text_of = |line: i64| -> Option<String> {
                let i = usize::try_from(line).ok()?.checked_sub(1)?;
                // Tabs are expanded so the listing lines up and escaping leaves them readable.
                source.as_ref()?.get(i).map(|t| t.replace('\t', "    "))
            };
            let site_of = |line: i64| sites.get(&line).map(|&id| line_site(r, id, &under));
            let mut listed = Vec::new();
            match &source {
                // Every line of the function that exists in the file: from its start to its
                // closing brace (at most TAIL_LINES past the last site). The cost is bounded by
                // the file's length, not by the distance between line numbers (hostile #5).
                Some(src) => {
                    let len = src.len() as i64;
                    let mut line = start.max(1);
                    let mut end = last.min(len);
                    while line <= end {
                        let text = text_of(line);
                        if line == end
                            && text.as_deref().is_some_and(|t| t.trim_end() != "}")
                            && end < (last + TAIL_LINES).min(len)
                        {
                            end += 1;
                        }
                        listed.push(ListedLine {
                            line,
                            text,
                            site: site_of(line),
                        });
                        line += 1;
                    }
                    // Sites on lines the file does not have (a stale or different source).
                    for (&line, _) in sites.range(len + 1..) {
                        listed.push(ListedLine {
                            line,
                            text: None,
                            site: site_of(line),
                        });
                    }
                }
                None => listed.extend(sites.keys().map(|&line| ListedLine {
                    line,
                    text: None,
                    site: site_of(line),
                })),
            }
            out.functions.push(ListedFunction {
                name: name.to_string(),
                file: file.to_string(),
                flat,
                cum: cum.get(&(*name, *file)).copied().unwrap_or(flat),
                lines: listed,
            });
        }
    }
    // Sources read by default (issue 18) may not hold these files: say "not shown" unless
    // some line was found.
    out.have_source = out
        .functions
        .iter()
        .any(|f| f.lines.iter().any(|l| l.text.is_some()));
    out
}

fn line_site(
    r: &Report,
    id: SiteId,
    under: &HashMap<SiteId, BTreeMap<(u16, u32), i128>>,
) -> LineSite {
    let p = &r.profile;
    let s = &r.attribution.sites[id.0 as usize];
    let (cause, why) = match &r.classification.site_cause[id.0 as usize] {
        Some(sc) if s.flat != 0 => (
            Some(r.classification.cause(sc.cause).name.clone()),
            Some(sc.evidence.describe()),
        ),
        _ => match under
            .get(&id)
            .and_then(|m| m.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))))
        {
            Some((&(c, callee), _)) => (
                Some(r.classification.cause(CauseId(c)).name.clone()),
                Some(format!(
                    "calls {}",
                    p.str(r.attribution.sites[callee as usize].name)
                )),
            ),
            None => (None, None),
        },
    };
    LineSite {
        flat: s.flat,
        cum: s.cum,
        cause,
        why,
    }
}

type Funcs<'a> = BTreeMap<&'a str, BTreeMap<&'a str, BTreeMap<i64, SiteId>>>;

/// For lines that call into allocating code (cum but no flat): the value under each listed
/// line per (cause, callee site), from one walk over the samples.
fn causes_under(r: &Report, funcs: &Funcs) -> HashMap<SiteId, BTreeMap<(u16, u32), i128>> {
    let p = &r.profile;
    let listed: HashSet<SiteId> = funcs
        .values()
        .flat_map(|f| f.values().flat_map(|l| l.values().copied()))
        .collect();
    let mut under: HashMap<SiteId, BTreeMap<(u16, u32), i128>> = HashMap::new();
    if listed.is_empty() {
        return under;
    }
    let mut frames: Vec<SiteId> = Vec::new();
    // The sample in which each site was last seen: "not earlier in this stack" in O(1), where
    // a scan of the frames before was quadratic in the depth (issue 16, finding 7: 75 s).
    let mut seen_in = vec![usize::MAX; r.attribution.sites.len()];
    let mut n = 0usize;
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values[r.sample_index] as i128;
        if v == 0 {
            continue;
        }
        n += 1;
        frames.clear();
        for l in p.samples.stack(s.stack) {
            frames.extend_from_slice(r.attribution.sites_of(l));
        }
        let cause = r.classification.stack_cause[s.stack as usize];
        for (k, f) in frames.iter().enumerate() {
            let first = std::mem::replace(&mut seen_in[f.0 as usize], n) != n;
            if k > 0 && first && listed.contains(f) {
                let callee = frames[k - 1];
                *under
                    .entry(*f)
                    .or_default()
                    .entry((cause.0, callee.0))
                    .or_insert(0) += v;
            }
        }
    }
    under
}

/// Each listed function's cum: the value of samples with any of its lines on the stack,
/// counted once per sample (pprof's cum of a function node).
fn function_cum<'a>(r: &Report, funcs: &Funcs<'a>) -> HashMap<(&'a str, &'a str), i64> {
    let p = &r.profile;
    let mut owner: HashMap<SiteId, usize> = HashMap::new();
    let mut keys = Vec::new();
    for (name, files) in funcs {
        for (file, sites) in files {
            for id in sites.values() {
                owner.insert(*id, keys.len());
            }
            keys.push((*name, *file));
        }
    }
    let mut sums = vec![0i128; keys.len()];
    if keys.is_empty() {
        return HashMap::new();
    }
    // The sample each function was last counted in: once per sample in O(1) (a list of the
    // functions seen was quadratic in deep stacks).
    let mut counted_in = vec![usize::MAX; keys.len()];
    let mut n = 0usize;
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values[r.sample_index] as i128;
        if v == 0 {
            continue;
        }
        n += 1;
        for l in p.samples.stack(s.stack) {
            for f in r.attribution.sites_of(l) {
                if let Some(&k) = owner.get(f) {
                    if std::mem::replace(&mut counted_in[k], n) != n {
                        sums[k] += v;
                    }
                }
            }
        }
    }
    keys.into_iter()
        .zip(sums)
        .map(|(k, v)| (k, v.clamp(i64::MIN as i128, i64::MAX as i128) as i64))
        .collect()
}
