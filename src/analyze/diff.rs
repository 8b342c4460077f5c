//! Comparing two analyzed profiles (issue 8): per cause and per site deltas with their
//! sampling error, and the `--fail-on` CI gate. Pure computation over two [`Report`]s; the
//! formats live in `report::{text, json, markdown}`.
//!
//! Sampling error. Go samples heap allocations as a Poisson process with mean distance
//! `period` bytes (`runtime.MemProfileRate`, 512 KiB by default) and writes each record scaled
//! by 1/p, where p = 1 - exp(-s/period) is the probability that an object of s bytes is
//! sampled (pprof's `scaleHeapSample`, with s the record's average object size, space/objects).
//! A record of scaled value X and scaled object count O therefore holds n = O * p sampled
//! objects (the unscaled count Go recorded). Two profiles come from two runs, so the question
//! is whether the allocation *rate* differs, and the allocations themselves vary: with the
//! true count N taken as Poisson (mean lambda), sampling thins it to a Poisson count
//! n ~ Poisson(lambda * p), and the estimate X = n * s / p has
//! Var(X) = s^2 * lambda / p = X^2 / n (estimated), a relative standard error of 1/sqrt(n).
//! (Sampling alone, given the run's true count, would be X^2 * (1 - p) / n, which is 0 for
//! rate-1 profiles and for objects far larger than the period and so would call every
//! run-to-run difference real.) Variances add over records (independent) and over the two
//! profiles, and scale by the square of the normalization factor. A delta is significant when
//! |delta| > K * sqrt(Var_base + Var_new) (`--sigma K`). CPU profiles count Poisson samples of
//! `period` nanoseconds (Var = value * period; = the count for sample counts); other profiles
//! (goroutines, ...) are taken as exact.

use std::collections::BTreeMap;
use std::str::FromStr;

use anyhow::{bail, Result};

use crate::analyze::attribute::{module_relative_file, SiteId, SiteKey};
use crate::analyze::Report;
use crate::model::Kind;

/// How the two profiles are made comparable (`--normalize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Normalize {
    /// Per second when both profiles have a duration, else none.
    #[default]
    Auto,
    /// Values per second of each profile's `duration_nanos`.
    Seconds,
    /// NEW scaled so its total equals BASE's total.
    Total,
    /// Raw values.
    None,
}

impl Normalize {
    pub fn name(self) -> &'static str {
        match self {
            Normalize::Auto => "auto",
            Normalize::Seconds => "seconds",
            Normalize::Total => "total",
            Normalize::None => "none",
        }
    }
}

/// Options of [`diff`], built once from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct DiffOptions {
    pub normalize: Normalize,
    /// `--sigma`: standard errors a change must exceed to count.
    pub sigma: f64,
    /// `--top`: sites shown by the text and Markdown formats (0 = all); JSON has them all.
    pub top: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            normalize: Normalize::Auto,
            sigma: 3.0,
            top: 10,
        }
    }
}

/// One compared quantity, normalized.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Delta {
    pub base: f64,
    pub new: f64,
    /// new - base.
    pub delta: f64,
    /// delta / |base|; None when base is 0.
    pub relative: Option<f64>,
    /// Standard error of `delta` from sampling: sqrt(Var_base + Var_new).
    pub stderr: f64,
    /// |delta| > sigma * stderr (and delta != 0).
    pub significant: bool,
}

impl Delta {
    fn new(base: f64, var_base: f64, new: f64, var_new: f64, sigma: f64) -> Delta {
        let delta = new - base;
        let stderr = (var_base + var_new).max(0.0).sqrt();
        Delta {
            base,
            new,
            delta,
            relative: (base != 0.0).then(|| delta / base.abs()),
            stderr,
            significant: delta != 0.0 && delta.abs() > sigma * stderr,
        }
    }
}

/// What happened to a cause or a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Grew beyond the sampling error.
    Regressed,
    /// Shrank beyond the sampling error.
    Improved,
    /// Only in NEW.
    New,
    /// Only in BASE.
    Vanished,
    /// Within the sampling error.
    Unchanged,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Regressed => "regressed",
            Status::Improved => "improved",
            Status::New => "new",
            Status::Vanished => "vanished",
            Status::Unchanged => "unchanged",
        }
    }

    fn of(d: &Delta, in_base: bool, in_new: bool) -> Status {
        // A site seen in only one profile is new or vanished only if that is beyond the
        // noise too: a site with one sample comes and goes between runs.
        match (d.significant, in_base, in_new) {
            (false, _, _) => Status::Unchanged,
            (true, false, true) => Status::New,
            (true, true, false) => Status::Vanished,
            _ if d.delta > 0.0 => Status::Regressed,
            _ => Status::Improved,
        }
    }
}

/// One profile (or merged set) of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    pub inputs: Vec<String>,
    /// Raw total of the sample type.
    pub total: i64,
    pub duration_nanos: i64,
    pub period: i64,
    /// Factor the values were multiplied by.
    pub factor: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CauseDelta {
    pub cause: String,
    pub advice: String,
    pub status: Status,
    pub delta: Delta,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SiteDelta {
    pub function: String,
    /// The file in module-relative form (`-trimpath`'s), the same in any build directory.
    pub file: String,
    /// The line with most of the site's value in NEW (in BASE for vanished sites): a site is
    /// a function's lines of one cause, matched without their line numbers (issue 18).
    pub line: i64,
    /// That line in BASE (0 when the site is new).
    pub base_line: i64,
    /// The site's cause (part of its identity: a line whose cause changed is another site).
    pub cause: String,
    pub status: Status,
    pub delta: Delta,
}

/// The comparison of two reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    pub kind: Kind,
    /// The sample type compared (the same in both).
    pub sample_index: String,
    /// Its unit (`bytes`, `count`, `nanoseconds`).
    pub unit: String,
    /// The normalization applied (never `Auto`).
    pub normalize: Normalize,
    pub sigma: f64,
    /// Sites shown by text and Markdown (0 = all).
    pub top: usize,
    pub base: Side,
    pub new: Side,
    pub total: Delta,
    /// Every cause present in either profile, by |delta| descending, then name.
    pub causes: Vec<CauseDelta>,
    /// Every site present in either profile: significant changes first, then by |delta|
    /// descending, then (function, file, line, cause).
    pub sites: Vec<SiteDelta>,
    /// Per function: the cumulative value (every sample with the function on its stack,
    /// once), for `--fail-on cum:FUNCTION`. Not rendered.
    pub cum: BTreeMap<String, Delta>,
}

impl Diff {
    /// How `none` normalization reads in a report: raw values, and why when auto chose it.
    pub fn normalize_none_reason(&self) -> &'static str {
        if self.base.duration_nanos <= 0 || self.new.duration_nanos <= 0 {
            "none (raw values: a profile has no duration; --normalize total compares shares)"
        } else {
            "none (raw values)"
        }
    }

    /// Unit of the normalized values: `bytes/s` when per second.
    pub fn value_unit(&self) -> String {
        if self.normalize == Normalize::Seconds {
            format!("{}/s", self.unit)
        } else {
            self.unit.clone()
        }
    }
}

/// How one sample's variance is computed (see the module docs).
enum Sampling {
    Heap {
        space: usize,
        objects: usize,
        period: f64,
    },
    Events {
        period: f64,
    },
    Counts,
    Exact,
}

impl Sampling {
    fn of(r: &Report) -> Sampling {
        let p = &r.profile;
        let period = p.period as f64;
        if period <= 0.0 {
            return Sampling::Exact;
        }
        let name = r.sample_name();
        if r.kind.is_memory() {
            let pair = if let Some(prefix) = name.strip_suffix("_space") {
                Some((name.to_string(), format!("{prefix}_objects")))
            } else if let Some(prefix) = name.strip_suffix("_objects") {
                Some((format!("{prefix}_space"), name.to_string()))
            } else {
                match name {
                    "space" | "objects" => Some(("space".into(), "objects".into())),
                    _ => None,
                }
            };
            if let Some((s, o)) = pair {
                if let (Some(space), Some(objects)) =
                    (p.sample_type_index(&s), p.sample_type_index(&o))
                {
                    return Sampling::Heap {
                        space,
                        objects,
                        period,
                    };
                }
            }
            return Sampling::Exact;
        }
        if r.kind == Kind::Cpu {
            let unit = r.unit();
            let period_unit = p.period_type.map_or("", |t| p.str(t.unit));
            if unit == period_unit {
                return Sampling::Events { period };
            }
            if unit == "count" {
                return Sampling::Counts;
            }
        }
        Sampling::Exact
    }

    /// Variance of the estimate `x` from one sample's values.
    fn variance(&self, x: f64, values: &[i64]) -> f64 {
        if x == 0.0 {
            return 0.0;
        }
        match *self {
            Sampling::Heap {
                space,
                objects,
                period,
            } => {
                let (s, o) = ((values[space] as f64).abs(), (values[objects] as f64).abs());
                if s == 0.0 || o == 0.0 {
                    // Nothing to derive the size from: as uncertain as a single sample.
                    return x * x;
                }
                let p = crate::model::heap_sample_probability(s / o, period);
                // A record with a nonzero value holds at least one sampled object.
                let n = (o * p).max(1.0);
                x * x / n
            }
            Sampling::Events { period } => x.abs() * period,
            Sampling::Counts => x.abs(),
            Sampling::Exact => 0.0,
        }
    }
}

/// (value, variance) sums.
#[derive(Clone, Copy, Default)]
struct Acc {
    value: f64,
    var: f64,
}

/// How a site is matched across the two profiles (issue 18): its function, its file in the
/// module-relative form ([`module_relative_file`]) and its cause, never its absolute path or
/// its line, so the same code built in another directory, or with lines moved, compares.
/// Lines of one function with the same cause are one entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MatchKey {
    function: String,
    file: String,
    cause: String,
}

/// One matched entry of one side: its sums, and the line that carries most of it (shown).
#[derive(Clone, Copy, Default)]
struct Entry {
    acc: Acc,
    line: i64,
    line_value: f64,
}

/// Per cause, per matched site and per function (cumulative) sums of one report.
struct Sums {
    total: Acc,
    causes: BTreeMap<String, (Acc, String)>,
    sites: BTreeMap<MatchKey, Entry>,
    /// Per function name: every sample with the function anywhere on its stack, once.
    cum: BTreeMap<String, Acc>,
}

fn sums(r: &Report) -> Sums {
    let p = &r.profile;
    let a = &r.attribution;
    let c = &r.classification;
    let sampling = Sampling::of(r);
    // Per cause id, per site id and per distinct stack while walking the samples: nothing
    // allocated per sample.
    let mut total = Acc::default();
    let mut by_cause = vec![Acc::default(); c.rules.causes.len()];
    let mut by_stack = vec![Acc::default(); a.stack_site.len()];
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let values = s.values;
        let x = values[r.sample_index] as f64;
        let var = sampling.variance(x, values);
        total.value += x;
        total.var += var;
        let e = &mut by_cause[c.stack_cause[s.stack as usize].0 as usize];
        e.value += x;
        e.var += var;
        if let Some(e) = by_stack.get_mut(s.stack as usize) {
            e.value += x;
            e.var += var;
        }
    }
    let mut causes: BTreeMap<String, (Acc, String)> = BTreeMap::new();
    for (id, acc) in by_cause.into_iter().enumerate() {
        if acc.value != 0.0 {
            let cause = &c.rules.causes[id];
            let e = causes
                .entry(cause.name.clone())
                .or_insert_with(|| (Acc::default(), cause.advice.clone()));
            e.0.value += acc.value;
            e.0.var += acc.var;
        }
    }
    // Cumulative per function: each distinct stack's sums once for every function on it.
    let func_of: Vec<u32> = {
        let mut ids: BTreeMap<&str, u32> = BTreeMap::new();
        a.sites
            .iter()
            .map(|s| {
                let n = ids.len() as u32;
                *ids.entry(p.str(s.name)).or_insert(n)
            })
            .collect()
    };
    let nfuncs = func_of.iter().map(|&f| f as usize + 1).max().unwrap_or(0);
    let mut by_func = vec![Acc::default(); nfuncs];
    let mut stamp = vec![u32::MAX; nfuncs];
    for (k, acc) in by_stack.iter().enumerate() {
        if acc.value == 0.0 && acc.var == 0.0 {
            continue;
        }
        for l in p.samples.stack(k as u32) {
            for site in a.sites_of(l) {
                let f = func_of[site.0 as usize] as usize;
                if stamp[f] != k as u32 {
                    stamp[f] = k as u32;
                    by_func[f].value += acc.value;
                    by_func[f].var += acc.var;
                }
            }
        }
    }
    let mut cum: BTreeMap<String, Acc> = BTreeMap::new();
    for (id, s) in a.sites.iter().enumerate() {
        let f = func_of[id] as usize;
        if by_func[f].value != 0.0 || by_func[f].var != 0.0 {
            let name = match p.str(s.name) {
                "" => "<unknown>",
                n => n,
            };
            cum.entry(name.to_string()).or_insert(by_func[f]);
        }
    }
    // Per (site, cause of the stack): a site reached under several causes (reflect.unsafe_New
    // under json and logging) is one entry per cause, so a change of one cause's share does
    // not move the rest to another entry.
    let mut by_site: BTreeMap<(SiteId, u32), Acc> = BTreeMap::new();
    for (k, acc) in by_stack.iter().enumerate() {
        let site = a.stack_site[k];
        if site == SiteId::NONE || (acc.value == 0.0 && acc.var == 0.0) {
            continue;
        }
        let e = by_site
            .entry((site, c.stack_cause[k].0 as u32))
            .or_default();
        e.value += acc.value;
        e.var += acc.var;
    }
    // Sites are matched across profiles by their strings, not their ids.
    let mut sites: BTreeMap<MatchKey, Entry> = BTreeMap::new();
    for ((id, cause), acc) in by_site {
        let site = &a.sites[id.0 as usize];
        let key = SiteKey::of(p, site);
        let key = MatchKey {
            file: module_relative_file(&key.function, &key.file),
            function: key.function,
            cause: c.rules.causes[cause as usize].name.clone(),
        };
        let e = sites.entry(key).or_default();
        e.acc.value += acc.value;
        e.acc.var += acc.var;
        let line = site.line;
        if acc.value.abs() > e.line_value || (acc.value.abs() == e.line_value && line < e.line) {
            e.line = line;
            e.line_value = acc.value.abs();
        }
    }
    Sums {
        total,
        causes,
        sites,
        cum,
    }
}

/// Compares two reports analyzed with the same options.
pub fn diff(base: &Report, new: &Report, opts: &DiffOptions) -> Result<Diff> {
    if base.sample_name() != new.sample_name() {
        bail!(
            "BASE is measured in {} but NEW in {}; pass --sample-index to compare the same type",
            base.sample_name(),
            new.sample_name()
        );
    }
    let (db, dn) = (base.profile.duration_nanos, new.profile.duration_nanos);
    let normalize = match opts.normalize {
        Normalize::Auto if db > 0 && dn > 0 => Normalize::Seconds,
        Normalize::Auto => Normalize::None,
        Normalize::Seconds if db <= 0 || dn <= 0 => {
            let which = if db <= 0 { "BASE" } else { "NEW" };
            bail!("--normalize seconds: {which} has no duration (duration_nanos is 0); use --normalize total or none")
        }
        n => n,
    };
    let (fb, fn_) = match normalize {
        Normalize::Seconds => (1e9 / db as f64, 1e9 / dn as f64),
        Normalize::Total if new.total() != 0 => (1.0, base.total() as f64 / new.total() as f64),
        _ => (1.0, 1.0),
    };
    let (sb, sn) = (sums(base), sums(new));
    let k = opts.sigma;
    let delta = |b: Option<&Acc>, n: Option<&Acc>| {
        let b = b.copied().unwrap_or_default();
        let n = n.copied().unwrap_or_default();
        Delta::new(
            b.value * fb,
            b.var * fb * fb,
            n.value * fn_,
            n.var * fn_ * fn_,
            k,
        )
    };
    let total = delta(Some(&sb.total), Some(&sn.total));

    let mut names: Vec<&String> = sb.causes.keys().chain(sn.causes.keys()).collect();
    names.sort();
    names.dedup();
    let mut causes: Vec<CauseDelta> = names
        .into_iter()
        .map(|name| {
            let (b, n) = (sb.causes.get(name), sn.causes.get(name));
            let d = delta(b.map(|e| &e.0), n.map(|e| &e.0));
            let in_base = b.is_some_and(|e| e.0.value != 0.0);
            let in_new = n.is_some_and(|e| e.0.value != 0.0);
            CauseDelta {
                cause: name.clone(),
                advice: n.or(b).map(|e| e.1.clone()).unwrap_or_default(),
                status: Status::of(&d, in_base, in_new),
                delta: d,
            }
        })
        .filter(|c| c.delta.base != 0.0 || c.delta.new != 0.0)
        .collect();
    causes.sort_by(|a, b| {
        b.delta
            .delta
            .abs()
            .total_cmp(&a.delta.delta.abs())
            .then_with(|| a.cause.cmp(&b.cause))
    });

    let mut keys: Vec<&MatchKey> = sb.sites.keys().chain(sn.sites.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut sites: Vec<SiteDelta> = keys
        .into_iter()
        .map(|key| {
            let (b, n) = (sb.sites.get(key), sn.sites.get(key));
            let d = delta(b.map(|e| &e.acc), n.map(|e| &e.acc));
            SiteDelta {
                function: key.function.clone(),
                file: key.file.clone(),
                line: n.or(b).map_or(0, |e| e.line),
                base_line: b.map_or(0, |e| e.line),
                cause: key.cause.clone(),
                status: Status::of(&d, b.is_some(), n.is_some()),
                delta: d,
            }
        })
        .collect();
    sites.sort_by(|a, b| {
        b.delta
            .significant
            .cmp(&a.delta.significant)
            .then_with(|| b.delta.delta.abs().total_cmp(&a.delta.delta.abs()))
            .then_with(|| {
                (&a.function, &a.file, a.line, &a.cause).cmp(&(
                    &b.function,
                    &b.file,
                    b.line,
                    &b.cause,
                ))
            })
    });
    let mut functions: Vec<&String> = sb.cum.keys().chain(sn.cum.keys()).collect();
    functions.sort();
    functions.dedup();
    let cum: BTreeMap<String, Delta> = functions
        .into_iter()
        .map(|f| (f.clone(), delta(sb.cum.get(f), sn.cum.get(f))))
        .collect();

    let side = |r: &Report, factor: f64| Side {
        inputs: r.inputs.clone(),
        total: r.total(),
        duration_nanos: r.profile.duration_nanos,
        period: r.profile.period,
        factor,
    };
    Ok(Diff {
        kind: new.kind,
        sample_index: new.sample_name().to_string(),
        unit: new.unit().to_string(),
        normalize,
        sigma: k,
        top: opts.top,
        base: side(base, fb),
        new: side(new, fn_),
        total,
        causes,
        sites,
        cum,
    })
}

/// A `--fail-on` rule, parsed once from `TARGET>+LIMIT`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// The expression as written, for messages.
    pub text: String,
    pub target: Target,
    pub limit: Limit,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Total,
    Cause(String),
    /// `site:FILE:LINE`: sites whose file ends with FILE (at a path boundary) on LINE: the
    /// line a site shows, NEW's or BASE's (a site is a function's lines of one cause).
    SiteLine {
        file_suffix: String,
        line: i64,
    },
    /// `site:FUNCTION`: every site of that function, summed (its own lines only).
    SiteFunction(String),
    /// `cum:FUNCTION`: everything allocated with the function on the stack, its callees
    /// included (pprof's cum), so a handler whose callees allocate trips the gate (issue 18).
    Cum(String),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// Relative growth, in percent.
    Percent(f64),
    /// Absolute growth in the compared unit; `bytes` when written with a byte unit.
    Amount { value: f64, bytes: bool },
}

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Rule, String> {
        let text = s.trim().to_string();
        let (target, limit) = text.rsplit_once('>').ok_or_else(|| {
            format!("{s:?} is not TARGET>+LIMIT (e.g. total>+10%, cause:json>+5%, site:handler.go:42>+1MiB, cum:main.handle>+5%)")
        })?;
        let target = target.trim();
        let target = if target == "total" {
            Target::Total
        } else if let Some(name) = target.strip_prefix("cause:") {
            if name.is_empty() {
                return Err(format!("{s:?}: cause: needs a cause name"));
            }
            Target::Cause(name.to_string())
        } else if let Some(name) = target.strip_prefix("cum:") {
            if name.is_empty() {
                return Err(format!("{s:?}: cum: needs a function name"));
            }
            Target::Cum(name.to_string())
        } else if let Some(spec) = target.strip_prefix("site:") {
            match spec.rsplit_once(':') {
                Some((file, line))
                    if !file.is_empty()
                        && !line.is_empty()
                        && line.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Target::SiteLine {
                        file_suffix: file.to_string(),
                        line: line
                            .parse()
                            .map_err(|_| format!("{s:?}: line {line} is too large"))?,
                    }
                }
                _ if !spec.is_empty() => Target::SiteFunction(spec.to_string()),
                _ => return Err(format!("{s:?}: site: needs FILE:LINE or a function name")),
            }
        } else {
            return Err(format!(
                "{s:?}: the target must be total, cause:NAME, site:FILE:LINE|FUNCTION or cum:FUNCTION"
            ));
        };
        let limit = limit.trim();
        if limit.starts_with('-') {
            return Err(format!(
                "{s:?}: only growth is gated; write the limit as +N (e.g. >+10%)"
            ));
        }
        let limit = limit.strip_prefix('+').unwrap_or(limit).trim();
        let split = limit
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(limit.len());
        let (num, unit) = limit.split_at(split);
        let value: f64 = num
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| format!("{s:?}: {limit:?} is not a number with an optional unit"))?;
        let (mult, bytes) = match unit.trim() {
            "%" => {
                return Ok(Rule {
                    text,
                    target,
                    limit: Limit::Percent(value),
                })
            }
            "" => (1.0, false),
            "B" => (1.0, true),
            "KiB" => (1024.0, true),
            "MiB" => (1024.0 * 1024.0, true),
            "GiB" => (1024.0 * 1024.0 * 1024.0, true),
            "KB" | "kB" => (1e3, true),
            "MB" => (1e6, true),
            "GB" => (1e9, true),
            u => {
                return Err(format!(
                    "{s:?}: unknown unit {u:?} (use %, B, KiB, MiB, GiB, KB, MB, GB or none)"
                ))
            }
        };
        Ok(Rule {
            text,
            target,
            limit: Limit::Amount {
                value: value * mult,
                bytes,
            },
        })
    }
}

/// A rule the diff breached.
#[derive(Clone, Debug, PartialEq)]
pub struct Breach {
    pub rule: String,
    /// One line saying what grew and by how much.
    pub message: String,
}

/// The outcome of the gate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gate {
    pub breaches: Vec<Breach>,
    /// Rules whose target is in neither profile (probably a typo).
    pub unmatched: Vec<String>,
    /// Rules whose limit lies inside the target's noise band (`sigma` standard errors): a
    /// growth that small can never trip them, however real (issue 18).
    pub within_noise: Vec<String>,
}

fn matches_file(file: &str, suffix: &str) -> bool {
    file == suffix
        || (file.ends_with(suffix)
            && (suffix.starts_with('/')
                || file[..file.len() - suffix.len()].ends_with(['/', '\\'])))
}

/// Evaluates the rules against a diff. A rule with a byte amount on a profile not measured
/// in bytes is an error (a usage error: the rule cannot mean anything here).
pub fn check(d: &Diff, rules: &[Rule]) -> Result<Gate> {
    let mut gate = Gate::default();
    let k = d.sigma;
    for rule in rules {
        if let Limit::Amount { bytes: true, .. } = rule.limit {
            if d.unit != "bytes" {
                bail!(
                    "--fail-on {}: a byte amount, but {} is measured in {}",
                    rule.text,
                    d.sample_index,
                    d.unit
                );
            }
        }
        let (what, delta) = match &rule.target {
            Target::Total => (format!("total {}", d.sample_index), Some(d.total)),
            Target::Cause(name) => (
                format!("cause {name}"),
                d.causes.iter().find(|c| &c.cause == name).map(|c| c.delta),
            ),
            Target::SiteLine { file_suffix, line } => (
                format!("site {file_suffix}:{line}"),
                sum(
                    d.sites.iter().filter(|s| {
                        (s.line == *line || s.base_line == *line)
                            && matches_file(&s.file, file_suffix)
                    }),
                    k,
                ),
            ),
            Target::SiteFunction(f) => (
                format!("site {f}"),
                sum(d.sites.iter().filter(|s| &s.function == f), k),
            ),
            Target::Cum(f) => (format!("cum {f}"), d.cum.get(f).copied()),
        };
        let Some(delta) = delta else {
            gate.unmatched.push(rule.text.clone());
            continue;
        };
        let band = k * delta.stderr;
        let limit = match rule.limit {
            Limit::Percent(pct) => pct / 100.0 * delta.base.abs(),
            Limit::Amount { value, .. } => value,
        };
        if band > 0.0 && limit < band {
            let unit = d.value_unit();
            gate.within_noise.push(format!(
                "--fail-on {}: the limit ({}) lies inside the {k}σ noise band of {what} (±{}): growth below the band is never reported; raise the limit, lower --sigma or record longer profiles",
                rule.text,
                crate::units::human_f(limit, &unit),
                crate::units::human_f(band, &unit),
            ));
        }
        let over = delta.significant
            && delta.delta > 0.0
            && match rule.limit {
                Limit::Percent(pct) => delta.relative.is_none_or(|r| r * 100.0 > pct),
                Limit::Amount { value, .. } => delta.delta > value,
            };
        if over {
            let unit = d.value_unit();
            let rel = delta
                .relative
                .map_or_else(|| "new".to_string(), |r| format!("{:+.2}%", r * 100.0));
            gate.breaches.push(Breach {
                rule: rule.text.clone(),
                message: format!(
                    "--fail-on {}: {what} grew {rel} ({} -> {}, {}; {}σ noise band ±{})",
                    rule.text,
                    crate::units::human_f(delta.base, &unit),
                    crate::units::human_f(delta.new, &unit),
                    crate::units::signed(crate::units::human_f(delta.delta, &unit)),
                    k,
                    crate::units::human_f(k * delta.stderr, &unit),
                ),
            });
        }
    }
    Ok(gate)
}

/// The sum of several sites as one delta; None when no site matched.
fn sum<'a>(sites: impl Iterator<Item = &'a SiteDelta>, k: f64) -> Option<Delta> {
    let mut any = false;
    let (mut b, mut n, mut var) = (0.0, 0.0, 0.0);
    for s in sites {
        any = true;
        b += s.delta.base;
        n += s.delta.new;
        var += s.delta.stderr * s.delta.stderr;
    }
    // The variance is split evenly between the sides: only the sum matters for the test.
    any.then(|| Delta::new(b, var / 2.0, n, var / 2.0, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse() {
        let r: Rule = "total>+10%".parse().unwrap();
        assert_eq!(r.target, Target::Total);
        assert_eq!(r.limit, Limit::Percent(10.0));
        let r: Rule = "cause:json>+5%".parse().unwrap();
        assert_eq!(r.target, Target::Cause("json".into()));
        let r: Rule = "site:handler.go:42>+1MiB".parse().unwrap();
        assert_eq!(
            r.target,
            Target::SiteLine {
                file_suffix: "handler.go".into(),
                line: 42
            }
        );
        assert_eq!(
            r.limit,
            Limit::Amount {
                value: 1048576.0,
                bytes: true
            }
        );
        let r: Rule = "site:main.(*T).handle>100".parse().unwrap();
        assert_eq!(r.target, Target::SiteFunction("main.(*T).handle".into()));
        assert_eq!(
            r.limit,
            Limit::Amount {
                value: 100.0,
                bytes: false
            }
        );
        let r: Rule = "cum:main.handle>+5%".parse().unwrap();
        assert_eq!(r.target, Target::Cum("main.handle".into()));
        for bad in [
            "cum:>+1%",
            "total",
            "total>",
            "total>-5%",
            "bytes>+5%",
            "cause:>+1%",
            "site:>+1%",
            "total>+5parsecs",
            "total>+x%",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn files_match_in_module_relative_form() {
        use crate::analyze::attribute::module_relative_file as rel;
        // The user's module: package path and base name, wherever it was built.
        assert_eq!(
            rel(
                "example.com/svc/api.(*S).Handle",
                "/home/a/svc/api/handler.go"
            ),
            "example.com/svc/api/handler.go"
        );
        assert_eq!(
            rel("main.work", "/tmp/x1/main.go"),
            rel("main.work", "/tmp/y2/main.go")
        );
        // GOROOT and the module cache, whichever GOROOT or cache.
        assert_eq!(
            rel(
                "reflect.mapassign_faststr0",
                "/usr/local/go/src/runtime/map.go"
            ),
            "runtime/map.go"
        );
        assert_eq!(
            rel(
                "github.com/x/y/z.F",
                "/root/go/pkg/mod/github.com/x/y@v1.2.3/z/f.go"
            ),
            "github.com/x/y/z/f.go"
        );
        // Already trimmed paths are kept.
        assert_eq!(
            rel("main.work", "heapdoc.dev/samples/service/main.go"),
            "heapdoc.dev/samples/service/main.go"
        );
    }

    #[test]
    fn file_suffix_matches_at_path_boundaries() {
        assert!(matches_file("/app/handler.go", "handler.go"));
        assert!(matches_file("handler.go", "handler.go"));
        assert!(matches_file("/app/api/handler.go", "api/handler.go"));
        assert!(!matches_file("/app/myhandler.go", "handler.go"));
    }

    #[test]
    fn significance_follows_the_standard_error() {
        // 100 bytes up with a standard error of 50: 2 sigma.
        let d = Delta::new(1000.0, 1250.0, 1100.0, 1250.0, 3.0);
        assert_eq!(d.stderr, 50.0);
        assert!(!d.significant);
        let d = Delta::new(1000.0, 1250.0, 1100.0, 1250.0, 1.5);
        assert!(d.significant);
        // Exact values: any change counts.
        assert!(Delta::new(1.0, 0.0, 2.0, 0.0, 3.0).significant);
        assert!(!Delta::new(1.0, 0.0, 1.0, 0.0, 3.0).significant);
    }

    #[test]
    fn heap_variance_is_x_squared_over_sampled_objects() {
        let s = Sampling::Heap {
            space: 0,
            objects: 1,
            period: 524288.0,
        };
        // 100 objects of 64 bytes, scaled: p = 1 - exp(-64/524288).
        let p = -(-64.0f64 / 524288.0).exp_m1();
        let o = 100.0 / p;
        let x = o * 64.0;
        let v = s.variance(x, &[x as i64, o as i64]);
        let rel = v.sqrt() / x;
        assert!((rel - 0.1).abs() < 0.001, "relative error {rel}");
        // Objects far above the period, or a rate-1 profile: every object is recorded, and
        // what remains is the Poisson variation of the count itself, 1/sqrt(objects).
        let big = s.variance(1e9, &[1_000_000_000, 100]);
        assert!((big.sqrt() / 1e9 - 0.1).abs() < 1e-9, "{big}");
        let exact = Sampling::Heap {
            space: 0,
            objects: 1,
            period: 1.0,
        };
        assert!((exact.variance(6400.0, &[6400, 100]).sqrt() - 640.0).abs() < 1e-6);
    }
}
