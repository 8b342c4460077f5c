//! Goroutine groups (issue 19): goroutines grouped the way an engineer thinks about them (by
//! creation site, the user frame where they block and the wait state), each group classified
//! by the `[[goroutine]]` rules of rules.toml (why it waits, whether it looks leaked, what to
//! change), and, with a base snapshot of the same process, how each group grew.
//!
//! Stacks that differ only in argument values fold together (the decoder drops arguments), and
//! so do stacks that differ only in the line of a runtime frame (the group key has no runtime
//! frame). Groups join across snapshots by structured keys (function, file, line), never by
//! display strings.

use anyhow::{anyhow, bail, Result};
use regex::Regex;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::analyze::attribute::is_runtime;
use crate::analyze::classify::is_user;
use crate::analyze::classify::rules::BUILTIN;
use crate::model::goroutine::{Dump, DumpFormat, FrameIdx, StackIdx, NO_WAIT};
use crate::model::StrId;

/// A place in the code: function, file, line.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Site {
    pub func: String,
    pub file: String,
    pub line: u32,
}

/// Whether a group looks leaked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Nothing can wake these goroutines, or the group grew since the base snapshot.
    Leak,
    /// One snapshot: many goroutines or long waits in a wait that leaks when it grows.
    Suspect,
    /// Not a leak: the runtime's own, a stable pool, a listener, running.
    Ok,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::Suspect => "suspect",
            Verdict::Ok => "ok",
        }
    }
}

/// One `[[goroutine]]` rule.
#[derive(Clone, Debug)]
pub struct GoroutineRule {
    pub kind: String,
    pub description: String,
    pub advice: String,
    pub leak: LeakWhen,
    pub min_count: u64,
    pub min_wait: u32,
    state: Vec<Regex>,
    stack: Vec<Regex>,
    created: Vec<Regex>,
    user: Option<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeakWhen {
    Always,
    Growing,
    Never,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    goroutine: Vec<RuleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    kind: String,
    description: String,
    advice: String,
    #[serde(default)]
    leak: Option<LeakWhen>,
    #[serde(default)]
    min_count: Option<u64>,
    #[serde(default)]
    min_wait: Option<u32>,
    #[serde(default)]
    state: Vec<String>,
    #[serde(default)]
    stack: Vec<String>,
    #[serde(default)]
    created: Vec<String>,
    #[serde(default)]
    user: Option<bool>,
}

/// The goroutine rules in priority order.
#[derive(Clone, Debug)]
pub struct GoroutineRules {
    pub rules: Vec<GoroutineRule>,
}

impl GoroutineRules {
    /// The built-in rules (rules.toml's `[[goroutine]]` tables).
    pub fn builtin() -> GoroutineRules {
        // The embedded file is tested (tests below); failing here is a build defect.
        Self::parse(&[("built-in rules", BUILTIN)])
            .unwrap_or_else(|e| panic!("built-in rules.toml: {e:#}"))
    }

    /// A user's rules file (same shape, `--rules`) tried before the built-in rules.
    pub fn with_user(text: &str, origin: &str) -> Result<GoroutineRules> {
        Self::parse(&[(origin, text), ("built-in rules", BUILTIN)])
    }

    fn parse(sources: &[(&str, &str)]) -> Result<GoroutineRules> {
        let mut rules = Vec::new();
        for (origin, text) in sources {
            let f: File = toml::from_str(text)
                .map_err(|e| anyhow!("{origin}: {}", e.to_string().replace('\n', " ")))?;
            for d in f.goroutine {
                let re = |v: &[String]| -> Result<Vec<Regex>> {
                    v.iter()
                        .map(|s| {
                            Regex::new(s).map_err(|e| {
                                anyhow!("{origin}: goroutine rule {:?}: regex {s:?}: {e}", d.kind)
                            })
                        })
                        .collect()
                };
                rules.push(GoroutineRule {
                    state: re(&d.state)?,
                    stack: re(&d.stack)?,
                    created: re(&d.created)?,
                    user: d.user,
                    leak: d.leak.unwrap_or(LeakWhen::Growing),
                    min_count: d.min_count.unwrap_or(10),
                    min_wait: d.min_wait.unwrap_or(10),
                    kind: d.kind,
                    description: d.description,
                    advice: d.advice,
                });
            }
        }
        if rules.is_empty() {
            bail!("no [[goroutine]] rules");
        }
        Ok(GoroutineRules { rules })
    }

    /// The first rule that matches; the last built-in rule matches everything.
    fn classify(&self, state: &str, funcs: &[&str], created: Option<&str>, user: bool) -> usize {
        self.rules
            .iter()
            .position(|r| {
                (r.state.is_empty() || r.state.iter().any(|re| re.is_match(state)))
                    && (r.stack.is_empty()
                        || funcs
                            .iter()
                            .any(|f| r.stack.iter().any(|re| re.is_match(f))))
                    && (r.created.is_empty()
                        || created.is_some_and(|c| r.created.iter().any(|re| re.is_match(c))))
                    && r.user.is_none_or(|u| u == user)
            })
            .unwrap_or(self.rules.len() - 1)
    }
}

/// Options for [`analyze`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct GoroutineOptions {
    /// Seconds between the base snapshot and this one, when known otherwise than from the
    /// profiles' own times (a `--seconds` fetch, `--elapsed`).
    pub elapsed: Option<f64>,
    /// `StackInuse` of the same process (a heap profile's debug=1 `# Stack =` line), for
    /// stack memory when the dump does not measure it.
    pub stack_inuse: Option<u64>,
}

/// Go's smallest goroutine stack (runtime/stack.go `stackMin`, 2 KiB since Go 1.4; stacks
/// grow by doubling, and since Go 1.19 may start larger, at the average stack use).
pub const MIN_STACK: u64 = 2048;

/// How a group's stack memory was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackBasis {
    /// Each goroutine's used stack (crash text's `fp=`/`sp=`) rounded up to Go's stack size
    /// (a power of two, at least 2 KiB): a lower bound of what is allocated.
    Measured,
    /// The process's `StackInuse` divided evenly among its goroutines.
    Average,
    /// 2 KiB per goroutine, Go's minimum: a lower bound.
    Minimum,
}

impl StackBasis {
    pub fn describe(self) -> &'static str {
        match self {
            StackBasis::Measured => "measured: fp-sp rounded up to Go's power-of-two stack sizes",
            StackBasis::Average => "MemStats StackInuse / goroutines",
            StackBasis::Minimum => "at least Go's 2 KiB minimum stack each",
        }
    }
}

/// Go's allocated stack size for `used` bytes of stack: the next power of two, at least 2 KiB.
pub fn stack_size(used: u64) -> u64 {
    used.max(MIN_STACK).next_power_of_two()
}

/// How long a group's goroutines have waited, in whole minutes as Go prints them.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Waits {
    /// Goroutines with no wait time (under a minute, or a format without wait times).
    pub unknown: u64,
    /// (lower bound in minutes, goroutines) for the buckets 1, 5, 15, 60, 240 minutes.
    pub buckets: Vec<(u32, u64)>,
    pub min: Option<u32>,
    pub median: Option<u32>,
    pub max: Option<u32>,
}

const BUCKETS: [u32; 5] = [1, 5, 15, 60, 240];

/// One group of goroutines.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The `created by` site, when the format prints it.
    pub created_by: Option<Site>,
    /// The goroutine's entry function (the outermost frame).
    pub entry: Option<Site>,
    /// The innermost frame of the user's code, else the innermost non-runtime frame.
    pub blocked_in: Option<Site>,
    /// Whether `blocked_in` is the user's code.
    pub blocked_in_user: bool,
    pub state: String,
    pub count: u64,
    /// The runtime's own goroutines (not counted by `runtime.NumGoroutine`).
    pub system: bool,
    pub locked: u64,
    pub truncated: u64,
    pub waits: Waits,
    /// Index into [`GoroutineReport::rules`].
    pub rule: usize,
    pub verdict: Verdict,
    /// Why the verdict: "grew by 10", "nothing can wake them", "20 goroutines".
    pub reason: String,
    /// The group's most common stack, leaf first.
    pub stack: Vec<Site>,
    /// Distinct stacks folded into the group.
    pub stacks: u64,
    /// A few goroutine ids (traceback formats), lowest first.
    pub ids: Vec<u64>,
    /// Count in the base snapshot (0 when the group is new), when there is a base.
    pub base_count: Option<u64>,
    /// Stack memory of the group's goroutines, and how it was obtained.
    pub stack_bytes: u64,
    pub stack_basis: StackBasis,
    /// With `--heap`: inuse_space of the heap allocations whose stacks pass through the
    /// group's blocking (or entry) function, and the largest of their sites.
    pub heap_inuse: Option<i64>,
    pub heap_sites: Vec<(Site, i64)>,
}

impl Group {
    pub fn delta(&self) -> Option<i64> {
        self.base_count.map(|b| self.count as i64 - b as i64)
    }

    /// The group's name for `--fail-on goroutines:GROUP`: its blocking function, else entry.
    pub fn name(&self) -> &str {
        self.blocked_in
            .as_ref()
            .or(self.entry.as_ref())
            .map_or("", |s| s.func.as_str())
    }
}

/// The base snapshot's totals.
#[derive(Clone, Debug, PartialEq)]
pub struct BaseInfo {
    pub name: String,
    pub user_total: u64,
    /// Groups of the base that are gone now.
    pub vanished: u64,
    pub elapsed: Option<f64>,
}

/// The analysis of one goroutine dump (with an optional base).
#[derive(Clone, Debug, PartialEq)]
pub struct GoroutineReport {
    pub name: String,
    pub format: DumpFormat,
    /// Goroutines `runtime.NumGoroutine` counts.
    pub user_total: u64,
    /// The runtime's own goroutines listed (crash text only).
    pub system_total: u64,
    /// Groups: leaks first, then suspects, then the rest; larger first.
    pub groups: Vec<Group>,
    pub rules: Vec<RuleInfo>,
    pub base: Option<BaseInfo>,
    pub notes: Vec<String>,
}

/// The parts of a rule a report shows.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleInfo {
    pub kind: String,
    pub description: String,
    pub advice: String,
}

impl GoroutineReport {
    pub fn per_second(&self, g: &Group) -> Option<f64> {
        let e = self.base.as_ref()?.elapsed?;
        (e > 0.0).then(|| g.delta().unwrap_or(0) as f64 / e)
    }

    pub fn leaks(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(|g| g.verdict == Verdict::Leak)
    }
}

/// The key of a group within one dump: creator, blocking frame, state (dump-local ids).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct LocalKey {
    created_by: Option<FrameIdx>,
    blocked_in: Option<FrameIdx>,
    entry: Option<FrameIdx>,
    state: StrId,
}

struct Acc {
    key: LocalKey,
    count: u64,
    system: bool,
    locked: u64,
    truncated: u64,
    user: bool,
    /// goroutines per wait minute (NO_WAIT for unknown)
    waits: FxHashMap<u32, u64>,
    stacks: FxHashMap<StackIdx, u64>,
    ids: Vec<u64>,
    /// Sum of measured stack sizes, and how many goroutines were measured.
    measured: u64,
    measured_n: u64,
}

/// Per stack: its blocking frame, entry frame and whether it has user code.
#[derive(Clone, Copy)]
struct StackFacts {
    blocked_in: Option<FrameIdx>,
    entry: Option<FrameIdx>,
    user: bool,
}

/// Groups and classifies one dump. `base` (with its name) is an earlier snapshot of the same
/// process.
pub fn analyze(
    name: &str,
    dump: &Dump,
    base: Option<(&str, &Dump)>,
    rules: &GoroutineRules,
    opts: &GoroutineOptions,
) -> Result<GoroutineReport> {
    let format = dump.format.unwrap_or(DumpFormat::Debug2);
    let mut groups = group(dump, rules, opts.stack_inuse);
    let mut notes = Vec::new();
    let base_info = match base {
        None => None,
        Some((bname, b)) => {
            let old = group(b, rules, None);
            let mut by_key: FxHashMap<JoinKey, u64> = FxHashMap::default();
            for g in &old {
                *by_key.entry(join_key(g)).or_default() += g.count;
            }
            let mut seen = 0usize;
            for g in &mut groups {
                let k = join_key(g);
                let c = by_key.get(&k).copied();
                if c.is_some() {
                    seen += 1;
                }
                g.base_count = Some(c.unwrap_or(0));
            }
            let vanished = by_key.len().saturating_sub(seen) as u64;
            let elapsed = opts.elapsed.or_else(|| {
                (dump.time_nanos > 0 && b.time_nanos > 0 && dump.time_nanos > b.time_nanos)
                    .then(|| (dump.time_nanos - b.time_nanos) as f64 / 1e9)
            });
            if elapsed.is_none() {
                notes.push(
                    "growth per second needs the snapshots' times: profile.proto carries them; for text dumps pass --elapsed SECONDS".into(),
                );
            }
            if b.format != dump.format {
                notes.push(format!(
                    "the base is {} and this snapshot {}: groups join by blocking frame and creator, which both formats must have",
                    b.format.map_or("?", |f| f.name()),
                    format.name()
                ));
            }
            Some(BaseInfo {
                name: bname.to_string(),
                user_total: b.user_count(),
                vanished,
                elapsed,
            })
        }
    };
    for g in &mut groups {
        let r = &rules.rules[g.rule];
        let (v, reason) = verdict(g, r, base_info.is_some());
        g.verdict = v;
        g.reason = reason;
    }
    groups.sort_by(|a, b| {
        a.verdict
            .cmp(&b.verdict)
            .then(b.count.cmp(&a.count))
            .then_with(|| join_key(a).cmp(&join_key(b)))
    });
    if !format.has_tracebacks() {
        notes.push(format!(
            "{} has no wait states, wait times or creation sites: fetch ?debug=2 for them",
            format.name()
        ));
    }
    Ok(GoroutineReport {
        name: name.to_string(),
        format,
        user_total: dump.user_count(),
        system_total: dump.total_count() - dump.user_count(),
        groups,
        rules: rules
            .rules
            .iter()
            .map(|r| RuleInfo {
                kind: r.kind.clone(),
                description: r.description.clone(),
                advice: r.advice.clone(),
            })
            .collect(),
        base: base_info,
        notes,
    })
}

/// Creator, blocking frame, entry, state: how groups of two snapshots are joined.
type JoinKey = (Option<Site>, Option<Site>, Option<Site>, String);

fn join_key(g: &Group) -> JoinKey {
    (
        g.created_by.clone(),
        g.blocked_in.clone(),
        g.entry.clone(),
        g.state.clone(),
    )
}

fn verdict(g: &Group, r: &GoroutineRule, has_base: bool) -> (Verdict, String) {
    if g.system {
        return (Verdict::Ok, "the runtime's own".into());
    }
    match r.leak {
        LeakWhen::Never => (Verdict::Ok, "not a leak".into()),
        LeakWhen::Always => (Verdict::Leak, "nothing can ever wake them".into()),
        LeakWhen::Growing => {
            if let Some(d) = g.delta() {
                return if d > 0 {
                    (Verdict::Leak, format!("grew by {d} since the base"))
                } else if d == 0 {
                    (Verdict::Ok, "stable since the base".into())
                } else {
                    (Verdict::Ok, format!("shrank by {}", -d))
                };
            }
            let _ = has_base;
            let long = g.waits.max.is_some_and(|m| m >= r.min_wait);
            if g.count >= r.min_count || long {
                let why = if long {
                    format!(
                        "waiting up to {} minutes; compare two snapshots to confirm",
                        g.waits.max.unwrap_or(0)
                    )
                } else {
                    format!(
                        "{} goroutines in one wait; compare two snapshots to confirm",
                        g.count
                    )
                };
                (Verdict::Suspect, why)
            } else {
                (Verdict::Ok, "few and short waits".into())
            }
        }
    }
}

fn site(dump: &Dump, f: FrameIdx) -> Site {
    let fr = dump.frame(f);
    Site {
        func: dump.str(fr.func).to_string(),
        file: dump.str(fr.file).to_string(),
        line: fr.line,
    }
}

/// Groups a dump's goroutines; verdicts are set by [`analyze`].
fn group(dump: &Dump, rules: &GoroutineRules, stack_inuse: Option<u64>) -> Vec<Group> {
    let total = dump.total_count().max(1);
    // Facts once per distinct stack: a million goroutines have a few hundred stacks.
    let facts: Vec<StackFacts> = (0..dump.stacks.len() as StackIdx)
        .map(|s| {
            let (a, b) = dump.stacks[s as usize];
            let ids = &dump.stack_frames[a as usize..b as usize];
            let func = |f: FrameIdx| dump.str(dump.frame(f).func);
            let file = |f: FrameIdx| dump.str(dump.frame(f).file);
            let user_frame = ids
                .iter()
                .copied()
                .find(|&f| is_user(func(f), file(f), &[]));
            let blocked_in = user_frame.or_else(|| {
                ids.iter()
                    .copied()
                    .find(|&f| !is_runtime(func(f)) && !func(f).starts_with("internal/"))
            });
            StackFacts {
                blocked_in,
                entry: ids.last().copied(),
                user: user_frame.is_some(),
            }
        })
        .collect();
    let mut index: FxHashMap<LocalKey, usize> = FxHashMap::default();
    let mut accs: Vec<Acc> = Vec::new();
    for g in &dump.goroutines {
        let sf = facts[g.stack as usize];
        let key = LocalKey {
            created_by: g.created_by,
            blocked_in: sf.blocked_in,
            entry: if g.created_by.is_some() {
                None
            } else {
                sf.entry
            },
            state: g.state,
        };
        let i = *index.entry(key).or_insert_with(|| {
            accs.push(Acc {
                key,
                count: 0,
                system: true,
                locked: 0,
                truncated: 0,
                user: sf.user,
                waits: FxHashMap::default(),
                stacks: FxHashMap::default(),
                ids: Vec::new(),
                measured: 0,
                measured_n: 0,
            });
            accs.len() - 1
        });
        let a = &mut accs[i];
        a.count += g.count;
        a.system &= g.system;
        a.user |= sf.user;
        if g.locked {
            a.locked += g.count;
        }
        if g.truncated {
            a.truncated += g.count;
        }
        *a.waits.entry(g.wait_minutes).or_default() += g.count;
        if g.stack_used > 0 {
            a.measured += stack_size(g.stack_used) * g.count;
            a.measured_n += g.count;
        }
        *a.stacks.entry(g.stack).or_default() += g.count;
        if dump.format.is_some_and(|f| f.has_tracebacks()) {
            a.ids.push(g.id);
            if a.ids.len() > 64 {
                a.ids.sort_unstable();
                a.ids.truncate(5);
            }
        }
    }
    accs.into_iter()
        .map(|a| {
            let (stack, _) = a
                .stacks
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                .map(|(&s, &n)| (s, n))
                .unwrap_or((0, 0));
            let frames: Vec<Site> = if dump.stacks.is_empty() {
                Vec::new()
            } else {
                let (s0, s1) = dump.stacks[stack as usize];
                dump.stack_frames[s0 as usize..s1 as usize]
                    .iter()
                    .map(|&f| site(dump, f))
                    .collect()
            };
            let funcs: Vec<&str> = frames.iter().map(|s| s.func.as_str()).collect();
            let created = a.key.created_by.map(|f| site(dump, f));
            let state = dump.str(a.key.state).to_string();
            let rule = rules.classify(
                &state,
                &funcs,
                created.as_ref().map(|s| s.func.as_str()),
                a.user,
            );
            let mut ids = a.ids;
            ids.sort_unstable();
            ids.truncate(5);
            let blocked_in = a.key.blocked_in.map(|f| site(dump, f));
            let blocked_in_user = blocked_in
                .as_ref()
                .is_some_and(|s| is_user(&s.func, &s.file, &[]));
            let (stack_bytes, stack_basis) = if a.measured_n == a.count && a.count > 0 {
                (a.measured, StackBasis::Measured)
            } else if let Some(inuse) = stack_inuse {
                (
                    (inuse as u128 * a.count as u128 / total as u128) as u64,
                    StackBasis::Average,
                )
            } else {
                (MIN_STACK.saturating_mul(a.count), StackBasis::Minimum)
            };
            Group {
                created_by: created,
                entry: frames.last().cloned(),
                blocked_in,
                blocked_in_user,
                state,
                count: a.count,
                system: a.system,
                locked: a.locked,
                truncated: a.truncated,
                waits: waits(&a.waits),
                rule,
                verdict: Verdict::Ok,
                reason: String::new(),
                stack: frames,
                stacks: a.stacks.len() as u64,
                ids,
                base_count: None,
                stack_bytes,
                stack_basis,
                heap_inuse: None,
                heap_sites: Vec::new(),
            }
        })
        .collect()
}

fn waits(m: &FxHashMap<u32, u64>) -> Waits {
    let mut known: Vec<(u32, u64)> = m
        .iter()
        .filter(|(&w, _)| w != NO_WAIT)
        .map(|(&w, &n)| (w, n))
        .collect();
    known.sort_unstable();
    let total: u64 = known.iter().map(|x| x.1).sum();
    let mut buckets: Vec<(u32, u64)> = BUCKETS.iter().map(|&b| (b, 0)).collect();
    for &(w, n) in &known {
        if let Some(b) = buckets.iter_mut().rev().find(|(lo, _)| w >= *lo) {
            b.1 += n;
        }
    }
    buckets.retain(|b| b.1 > 0);
    let median = (total > 0).then(|| {
        let mut acc = 0;
        known
            .iter()
            .find(|(_, n)| {
                acc += n;
                acc * 2 >= total
            })
            .map_or(0, |x| x.0)
    });
    Waits {
        unknown: m.get(&NO_WAIT).copied().unwrap_or(0),
        buckets,
        min: known.first().map(|x| x.0),
        median,
        max: known.last().map(|x| x.0),
    }
}

/// With a heap profile of the same process (`--heap`): for each leaking or suspect group, the
/// inuse_space of the allocations whose stacks pass through the group's blocking function
/// (the user's frame where its goroutines wait), else its entry function, and the top three
/// of their sites (leaf frames). Memory a leaked goroutine allocated on its way to the wait
/// stays reachable from its stack: the heap growth and the leak are one story.
pub fn attach_heap(r: &mut GoroutineReport, heap: &crate::model::Profile) -> Result<()> {
    let Some(idx) = heap.sample_type_index("inuse_space") else {
        bail!(
            "--heap: a {} has no inuse_space (want a heap profile)",
            heap.kind().describe()
        );
    };
    // Function name -> groups keyed by it.
    let mut by_func: FxHashMap<&str, Vec<usize>> = FxHashMap::default();
    let keys: Vec<Option<String>> = r
        .groups
        .iter()
        .map(|g| {
            if g.verdict == Verdict::Ok {
                return None;
            }
            g.blocked_in
                .as_ref()
                .filter(|_| g.blocked_in_user)
                .or(g.entry.as_ref())
                .map(|s| s.func.clone())
        })
        .collect();
    for (i, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            by_func.entry(k.as_str()).or_default().push(i);
        }
    }
    let mut sums = vec![0i64; r.groups.len()];
    let mut sites: Vec<FxHashMap<Site, i64>> = vec![FxHashMap::default(); r.groups.len()];
    let mut hit: Vec<usize> = Vec::new();
    let mut cur = heap.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values.get(idx).copied().unwrap_or(0);
        if v == 0 {
            continue;
        }
        hit.clear();
        let mut leaf: Option<Site> = None;
        for loc in heap.samples.stack(s.stack).iter() {
            for fr in heap.frames(loc) {
                let f = heap.function(fr.func);
                let name = heap.str(f.name);
                // The allocating site is the first frame outside the runtime (legacy text
                // keeps mallocgc and elided runtime frames).
                if leaf.is_none() && !is_runtime(name) {
                    leaf = Some(Site {
                        func: name.to_string(),
                        file: heap.str(f.filename).to_string(),
                        line: fr.line.clamp(0, u32::MAX as i64) as u32,
                    });
                }
                if let Some(gs) = by_func.get(name) {
                    for &g in gs {
                        if !hit.contains(&g) {
                            hit.push(g);
                        }
                    }
                }
            }
        }
        for &g in &hit {
            sums[g] = sums[g].saturating_add(v);
            if let Some(l) = &leaf {
                *sites[g].entry(l.clone()).or_default() += v;
            }
        }
    }
    for (i, g) in r.groups.iter_mut().enumerate() {
        if keys[i].is_none() {
            continue;
        }
        g.heap_inuse = Some(sums[i]);
        let mut top: Vec<(Site, i64)> = std::mem::take(&mut sites[i]).into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(3);
        g.heap_sites = top;
    }
    Ok(())
}

/// A `--fail-on` rule for goroutines: `goroutines>N` (all goroutines `runtime.NumGoroutine`
/// counts) or `goroutines:GROUP>+N` (a group's growth since the base; GROUP is the function
/// the group blocks in, its creator, or a kind such as `http-no-deadline`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailOn {
    Total(u64),
    Growth(String, u64),
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad =
            || format!("bad --fail-on {s:?}: expected `goroutines>N` or `goroutines:GROUP>+N`");
        if let Some(n) = s.strip_prefix("goroutines>") {
            return n.trim().parse().map(FailOn::Total).map_err(|_| bad());
        }
        let rest = s.strip_prefix("goroutines:").ok_or_else(bad)?;
        let (g, n) = rest.rsplit_once(">+").ok_or_else(bad)?;
        if g.is_empty() {
            return Err(bad());
        }
        let n = n.trim().parse().map_err(|_| bad())?;
        Ok(FailOn::Growth(g.to_string(), n))
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailOn::Total(n) => write!(f, "goroutines>{n}"),
            FailOn::Growth(g, n) => write!(f, "goroutines:{g}>+{n}"),
        }
    }
}

/// The breaches of `rules`: one message each. A growth rule without a base, or whose group is
/// in neither snapshot, is an error (it could never fire).
pub fn check(r: &GoroutineReport, rules: &[FailOn]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for rule in rules {
        match rule {
            FailOn::Total(n) => {
                if r.user_total > *n {
                    out.push(format!(
                        "--fail-on {rule}: {} goroutines, over {n}",
                        r.user_total
                    ));
                }
            }
            FailOn::Growth(name, n) => {
                if r.base.is_none() {
                    bail!(
                        "--fail-on {rule}: growth needs a base snapshot (BEFORE AFTER, or --base)"
                    );
                }
                let rules_kind = |g: &Group| r.rules[g.rule].kind == *name;
                let matching: Vec<&Group> = r
                    .groups
                    .iter()
                    .filter(|g| {
                        g.name() == name
                            || g.created_by.as_ref().is_some_and(|c| c.func == *name)
                            || rules_kind(g)
                    })
                    .collect();
                if matching.is_empty() {
                    bail!("--fail-on {rule}: no goroutine group blocks in, was created by, or is of kind {name:?}");
                }
                let d: i64 = matching.iter().map(|g| g.delta().unwrap_or(0)).sum();
                if d > *n as i64 {
                    out.push(format!("--fail-on {rule}: {name} grew by {d}, over +{n}"));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_goroutine_rules_parse_and_end_with_a_catch_all() {
        let r = GoroutineRules::builtin();
        let last = r.rules.last().unwrap();
        assert_eq!(last.kind, "other");
        assert!(last.state.is_empty() && last.stack.is_empty() && last.user.is_none());
        assert_eq!(r.classify("chan send", &["main.f"], None, true), {
            r.rules
                .iter()
                .position(|x| x.kind == "abandoned-send")
                .unwrap()
        });
    }

    #[test]
    fn fail_on_parses() {
        assert_eq!("goroutines>100".parse(), Ok(FailOn::Total(100)));
        assert_eq!(
            "goroutines:main.fetchUser>+5".parse(),
            Ok(FailOn::Growth("main.fetchUser".into(), 5))
        );
        for bad in [
            "goroutines",
            "goroutines>x",
            "goroutines:>+1",
            "total>1",
            "goroutines:a>1",
        ] {
            assert!(bad.parse::<FailOn>().is_err(), "{bad}");
        }
    }
}
