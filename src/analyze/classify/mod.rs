//! Why each allocation happens: every sample gets a cause, decided by the strongest evidence
//! available, and the evidence is recorded.
//!
//! Evidence, strongest first (DESIGN.md):
//! 1. the profiler's own frames anywhere on the stack (`profiler-overhead`);
//! 2. the library API the user's code called: library frames between the allocation and the
//!    first user frame, the one closest to the user winning (`reflect.unsafe_New` under
//!    `encoding/json.Unmarshal` under `main.handle` is json);
//! 3. the compiler's escape analysis for the user's allocating line (`--escapes`);
//! 4. the runtime entry the user's line went through (`runtime.growslice`, `convT64`), which
//!    only CPU profiles and non-Go writers show: Go's heap writer drops those frames;
//! 5. the text of the user's allocating line (`--source-root`).
//!
//! Missing evidence gives `unclassified`, never a guess. Causes and rules are data
//! (`rules.toml`, extended with `--rules FILE`).

pub mod escape;
pub mod rules;
pub mod typed;

use rustc_hash::FxHashMap;

use crate::analyze::attribute::{go_package, is_runtime, Attribution, Site, SiteId, StackVisitor};
use crate::model::Profile;
pub use escape::EscapeIndex;
pub use rules::{Cause, RuleSet};
pub use typed::{Confidence, Part, TypedIndex};

/// Index into [`RuleSet::causes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CauseId(pub u16);

/// The evidence the classifier consults besides the profile, loaded by `crate::evidence`.
#[derive(Clone)]
pub struct ClassifyInputs {
    pub rules: RuleSet,
    pub escapes: Option<EscapeIndex>,
    /// The typed model of the source (`--explain`'s goscan): allocating expressions per line.
    pub typed: Option<TypedIndex>,
    /// The source tree (`--source-root`, `--explain`, GOROOT, the module cache).
    pub sources: Option<std::sync::Arc<dyn LineSource>>,
    /// What loading the evidence found the user should know (shown with the report's notes).
    pub notes: Vec<String>,
}

impl Default for ClassifyInputs {
    fn default() -> Self {
        ClassifyInputs {
            rules: RuleSet::builtin(),
            escapes: None,
            typed: None,
            sources: None,
            notes: Vec::new(),
        }
    }
}

impl ClassifyInputs {
    /// The source tree as the classifier's view of it.
    pub fn lines(&self) -> Option<&dyn LineSource> {
        self.sources.as_deref()
    }
}

/// Source of the text of a line of a profile's source file (see `source::SourceRoot`).
pub trait LineSource: Sync {
    /// The text of `line` (1-based) of the file the profile calls `path`, if found.
    fn line(&self, path: &str, line: i64) -> Option<String>;

    /// All lines of that file, for evidence that needs more than one line.
    fn lines(&self, _path: &str) -> Option<std::sync::Arc<Vec<String>>> {
        None
    }
}

/// Options for [`classify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassifyOptions {
    /// `--module`: package path prefixes that are the user's code. Default: code outside the
    /// standard library and the module cache.
    pub modules: Vec<String>,
}

/// What decided a cause.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Evidence {
    /// A profiler frame on the stack.
    Profiler { function: String },
    /// The library API the user's code called, and the user's line that called it.
    Library {
        function: String,
        caller: Option<String>,
    },
    /// The compiler's escape analysis for the allocating line.
    Compiler { message: String },
    /// The runtime entry the allocation went through (CPU profiles).
    Runtime { function: String },
    /// The text of the allocating line.
    SourceLine { text: String },
    /// The typed model of the allocating line: its expressions of this cause.
    Typed { text: String },
    /// No evidence: the allocation is in the user's code, or runtime internals.
    None,
}

impl Evidence {
    /// `stack`, `compiler`, `runtime`, `source`, `none`.
    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::Profiler { .. } | Evidence::Library { .. } => "stack",
            Evidence::Compiler { .. } => "compiler",
            Evidence::Runtime { .. } => "runtime",
            Evidence::SourceLine { .. } => "source",
            Evidence::Typed { .. } => "typed",
            Evidence::None => "none",
        }
    }

    /// One-line description for reports.
    pub fn describe(&self) -> String {
        match self {
            Evidence::Profiler { function } => format!("profiler frame {function}"),
            Evidence::Library {
                function,
                caller: Some(caller),
            } => format!("{caller} calls {function}"),
            Evidence::Library {
                function,
                caller: None,
            } => format!("calls {function}"),
            Evidence::Compiler { message } => format!("compiler: {message}"),
            Evidence::Runtime { function } => format!("via {function}"),
            Evidence::SourceLine { text } => format!("line: {}", text.trim()),
            Evidence::Typed { text } => format!("typed: {text}"),
            Evidence::None => "no evidence".to_string(),
        }
    }
}

/// A site's cause: the one with the largest share of the site's value.
#[derive(Clone, Debug)]
pub struct SiteCause {
    pub cause: CauseId,
    pub evidence: Evidence,
    /// A more specific remark from the rule (e.g. decoding into map[string]interface{}).
    pub note: Option<String>,
    /// Fraction of the site's |value| with this cause (1.0 when the site has one cause).
    pub share: f64,
    /// The split of a line among its allocating expressions by object size (typed model,
    /// `--explain`); empty when the site was not split.
    pub parts: Vec<Part>,
}

/// Totals of one cause.
#[derive(Clone, Debug, Default)]
pub struct CauseTotal {
    pub value: i64,
    pub objects: i64,
    pub sites: usize,
}

/// The result of [`classify`].
#[derive(Clone, Debug)]
pub struct Classification {
    pub rules: RuleSet,
    /// Per distinct stack (`Samples::stack`), the cause of its samples (`unclassified` for
    /// an empty stack).
    pub stack_cause: Vec<CauseId>,
    /// Per site (indexed like `Attribution::sites`), its dominant cause; None for sites with
    /// no samples attributed.
    pub site_cause: Vec<Option<SiteCause>>,
    /// Per cause (indexed like `rules.causes`).
    pub totals: Vec<CauseTotal>,
    /// Profile paths that matched two compiler files equally well.
    pub ambiguous_paths: Vec<String>,
}

impl Classification {
    pub fn cause(&self, id: CauseId) -> &Cause {
        &self.rules.causes[id.0 as usize]
    }

    /// Causes by |value| descending, ties by name; zero-valued causes left out.
    pub fn cause_order(&self) -> Vec<CauseId> {
        let mut ids: Vec<CauseId> = (0..self.totals.len() as u16)
            .map(CauseId)
            .filter(|c| self.totals[c.0 as usize].value != 0)
            .collect();
        ids.sort_by(|a, b| {
            let (ta, tb) = (&self.totals[a.0 as usize], &self.totals[b.0 as usize]);
            tb.value
                .unsigned_abs()
                .cmp(&ta.value.unsigned_abs())
                .then_with(|| self.cause(*a).name.cmp(&self.cause(*b).name))
        });
        ids
    }
}

/// A site's line evidence: the rule and the evidence (compiler or source line); None when
/// neither matched.
type LineEvidence = Option<(u32, Evidence)>;

/// Evidence named by the sites it comes from, turned into [`Evidence`] once per distinct key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum EvKey {
    Profiler(SiteId),
    /// The library frame, and the user's frame that called it.
    Library(SiteId, Option<SiteId>),
    Runtime(SiteId),
    /// The line evidence of a user site (compiler or source line).
    Line(SiteId),
    /// The typed model's expressions of one cause on a user site's line.
    Typed(SiteId, CauseId),
    None,
}

/// What [`decide`] found for one stack.
#[derive(Clone, Copy, Debug)]
pub struct Decision {
    ev: EvKey,
    note: Option<u32>,
    cause: CauseId,
    /// The user site whose line is split by object size (typed model).
    typed: Option<SiteId>,
}

impl Default for Decision {
    fn default() -> Self {
        Decision {
            ev: EvKey::None,
            note: None,
            cause: CauseId(0),
            typed: None,
        }
    }
}

/// Per (site, cause) in one run of samples: sums, and the evidence of its largest sample.
struct RunAcc {
    value: i128,
    objects: i128,
    ev: EvKey,
    note: Option<u32>,
    largest: u128,
}

/// Per (site, cause): value, objects, evidence index, note index, largest stack's |value|.
type SiteAcc = (i128, i128, usize, Option<u32>, u128);

/// Per-site facts computed once, so the per-sample loop only indexes arrays.
struct SiteFacts {
    user: Vec<bool>,
    runtime: Vec<bool>,
    anywhere: Vec<Option<u32>>,
    stack: Vec<Option<u32>>,
    leaf: Vec<Option<u32>>,
    runtime_rule: Vec<Option<u32>>,
    /// Per user site with a typed model of its line: the line's allocating expressions.
    typed: Vec<Option<std::sync::Arc<[typed::Candidate]>>>,
}

/// Is a function the user's code? Standard library packages have no dot in their first path
/// element; module-cache code has `/pkg/mod/` or `@v` in its file; `main` is always the user's.
pub fn is_user(name: &str, file: &str, modules: &[String]) -> bool {
    if name.is_empty() {
        return false;
    }
    let pkg = go_package(name);
    if !modules.is_empty() {
        return pkg == "main" || modules.iter().any(|m| pkg.starts_with(m.as_str()));
    }
    if pkg == "main" || pkg.starts_with("main.") {
        return true;
    }
    let first = pkg.split('/').next().unwrap_or("");
    if !first.contains('.') {
        // Standard library, or a non-Go name without a package (treated as the user's when
        // it does not look like a Go package path at all).
        return !name.contains('.') && !name.contains('/');
    }
    !(file.contains("/pkg/mod/") || file.contains("@v") || file.contains("/vendor/"))
}

/// Classifies stacks during attribution's pass (it is the [`StackVisitor`]), then sums the
/// samples per site and per cause ([`Classifier::finish`]).
///
/// A cause depends only on the stack, so it is decided once per distinct stack (the store
/// keeps each stack once, see model::Samples), on as many cores as pay (crate::par), with the
/// sites attribution gathered anyway; the evidence is named by site ids until the end: no
/// allocation per sample or per stack (issue 9).
pub struct Classifier<'a> {
    p: &'a Profile,
    sites: Vec<Site>,
    rules: RuleSet,
    facts: SiteFacts,
    escapes: Option<&'a EscapeIndex>,
    lines: Option<&'a dyn LineSource>,
    unclassified: CauseId,
    runtime_cause: CauseId,
}

/// A range of stacks' own state: line evidence per user site, computed on first use, and
/// the ambiguous paths met.
pub struct ClassifyLocal {
    line_cache: Vec<Option<LineEvidence>>,
    ambiguous: Vec<String>,
}

impl<'a> Classifier<'a> {
    /// Facts about every site (`sites` as attribution resolves them, before its pass).
    pub fn new(
        p: &'a Profile,
        sites: &[Site],
        rules: RuleSet,
        opts: &ClassifyOptions,
        escapes: Option<&'a EscapeIndex>,
        lines: Option<&'a dyn LineSource>,
        typed_index: Option<&'a TypedIndex>,
    ) -> Classifier<'a> {
        let ns = sites.len();
        let mut facts = SiteFacts {
            user: vec![false; ns],
            runtime: vec![false; ns],
            anywhere: vec![None; ns],
            stack: vec![None; ns],
            leaf: vec![None; ns],
            runtime_rule: vec![None; ns],
            typed: vec![None; ns],
        };
        for (i, s) in sites.iter().enumerate() {
            let name = p.str(s.name);
            let file = p.str(s.file);
            facts.user[i] = s.func.is_some() && is_user(name, file, &opts.modules);
            facts.runtime[i] = is_runtime(name);
            facts.anywhere[i] = rules.match_anywhere(name);
            facts.stack[i] = rules.match_stack(name);
            facts.leaf[i] = rules.match_leaf(name);
            facts.runtime_rule[i] = if facts.runtime[i] {
                rules.match_runtime(name)
            } else {
                None
            };
            if let (true, Some(idx)) = (facts.user[i], typed_index) {
                facts.typed[i] = typed_candidates(&rules, idx.exprs(file, s.line));
            }
        }
        let unclassified = rules.cause_id("unclassified");
        let runtime_cause = rules.cause_id("runtime");
        Classifier {
            p,
            sites: sites.to_vec(),
            rules,
            facts,
            escapes,
            lines,
            unclassified,
            runtime_cause,
        }
    }
}

impl StackVisitor for Classifier<'_> {
    type Local = ClassifyLocal;
    type Out = Decision;

    fn local(&self) -> ClassifyLocal {
        ClassifyLocal {
            line_cache: vec![None; self.sites.len()],
            ambiguous: Vec::new(),
        }
    }

    fn none(&self) -> Decision {
        Decision {
            cause: self.unclassified,
            ..Decision::default()
        }
    }

    fn visit(&self, local: &mut ClassifyLocal, frames: &[SiteId]) -> Decision {
        let facts = &self.facts;
        let (cause, ev, note) = decide(
            self.p,
            &self.sites,
            &self.rules,
            facts,
            frames,
            self.escapes,
            self.lines,
            &mut local.line_cache,
            &mut local.ambiguous,
        )
        .unwrap_or_else(|| {
            let leaf = frames[0];
            if !frames.iter().any(|f| facts.user[f.0 as usize]) && facts.runtime[leaf.0 as usize] {
                (self.runtime_cause, EvKey::Runtime(leaf), None)
            } else {
                (self.unclassified, EvKey::None, None)
            }
        });
        let typed = match ev {
            EvKey::Typed(site, _) => Some(site),
            _ => None,
        };
        Decision {
            ev,
            note,
            cause,
            typed,
        }
    }
}

impl Classifier<'_> {
    /// Sums the samples per (site, cause) from each stack's decision (`decided`, per distinct
    /// stack, as attribution's pass returned it with `locals`).
    pub fn finish(
        self,
        a: &Attribution,
        decided: Vec<Decision>,
        locals: Vec<ClassifyLocal>,
        sample_index: usize,
        objects_index: Option<usize>,
    ) -> Classification {
        let Classifier {
            p, rules, facts, ..
        } = self;
        classify_samples(
            p,
            a,
            decided,
            locals,
            sample_index,
            objects_index,
            rules,
            &facts.typed,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn classify_samples(
    p: &Profile,
    a: &Attribution,
    decided: Vec<Decision>,
    parts: Vec<ClassifyLocal>,
    sample_index: usize,
    objects_index: Option<usize>,
    rules: RuleSet,
    typed_cands: &[Option<std::sync::Arc<[typed::Candidate]>>],
) -> Classification {
    let ns = a.sites.len();
    let mut line_cache: Vec<Option<LineEvidence>> = vec![None; ns];
    let mut ambiguous: Vec<String> = Vec::new();
    for part in parts {
        for (mine, theirs) in line_cache.iter_mut().zip(part.line_cache) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        ambiguous.extend(part.ambiguous);
    }
    let mut stack_cause: Vec<CauseId> = decided.iter().map(|d| d.cause).collect();
    // The object size of each label set (Go's `bytes` label), for splitting typed lines.
    let any_typed = decided.iter().any(|d| d.typed.is_some());
    let label_size: Vec<Option<i64>> = if any_typed {
        (0..p.samples.label_set_count() as u32)
            .map(|k| {
                p.samples
                    .labels(k)
                    .iter()
                    .find(|l| p.str(l.key) == "bytes" && l.num > 0)
                    .map(|l| l.num)
            })
            .collect()
    } else {
        Vec::new()
    };

    // Then the samples, summed per (site, cause): in runs of samples on as many cores as pay,
    // merged in order. The evidence shown for a (site, cause) is that of its first sample
    // with the largest |value| (runs are merged in sample order, larger only if strictly so).
    let cursors = p.samples.cursors(crate::par::threads_for(p.samples.len()));
    let runs = crate::par::run_all(cursors, |mut c| {
        let mut ids: FxHashMap<(SiteId, CauseId), usize> = FxHashMap::default();
        let mut accs: Vec<((SiteId, CauseId), RunAcc)> = Vec::new();
        let mut sized: FxHashMap<(SiteId, Option<i64>), (i128, i128)> = FxHashMap::default();
        while let Some(s) = c.next() {
            let k = s.stack as usize;
            let site = a.stack_site[k];
            if site == SiteId::NONE {
                continue;
            }
            let d = decided[k];
            if d.typed == Some(site) {
                let size = label_size.get(s.labels as usize).copied().flatten();
                let e = sized.entry((site, size)).or_default();
                e.0 += s.values[sample_index] as i128;
                e.1 += objects_index.map_or(0, |oi| s.values[oi] as i128);
                continue;
            }
            let i = *ids.entry((site, d.cause)).or_insert_with(|| {
                accs.push((
                    (site, d.cause),
                    RunAcc {
                        value: 0,
                        objects: 0,
                        ev: d.ev,
                        note: d.note,
                        largest: 0,
                    },
                ));
                accs.len() - 1
            });
            let e = &mut accs[i].1;
            let v = s.values[sample_index] as i128;
            e.value += v;
            e.objects += objects_index.map_or(0, |oi| s.values[oi] as i128);
            if v.unsigned_abs() > e.largest {
                (e.ev, e.note, e.largest) = (d.ev, d.note, v.unsigned_abs());
            }
        }
        (accs, sized)
    });
    let mut ids: FxHashMap<(SiteId, CauseId), usize> = FxHashMap::default();
    let mut merged: Vec<((SiteId, CauseId), RunAcc)> = Vec::new();
    let mut sized: FxHashMap<(SiteId, Option<i64>), (i128, i128)> = FxHashMap::default();
    let mut site_parts: FxHashMap<SiteId, Vec<Part>> = FxHashMap::default();
    for (run, run_sized) in runs {
        for (key, v) in run_sized {
            let e = sized.entry(key).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        for (key, acc) in run {
            match ids.get(&key) {
                Some(&i) => {
                    let m = &mut merged[i].1;
                    m.value += acc.value;
                    m.objects += acc.objects;
                    if acc.largest > m.largest {
                        (m.ev, m.note, m.largest) = (acc.ev, acc.note, acc.largest);
                    }
                }
                None => {
                    ids.insert(key, merged.len());
                    merged.push((key, acc));
                }
            }
        }
    }
    // Typed lines: each site's bytes per object size, split among the line's expressions.
    if !sized.is_empty() {
        let mut by_site: FxHashMap<SiteId, Vec<(Option<i64>, i64, i64)>> = FxHashMap::default();
        let clamp64 = |x: i128| x.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        for ((site, size), (v, o)) in sized {
            by_site
                .entry(site)
                .or_default()
                .push((size, clamp64(v), clamp64(o)));
        }
        for (site, mut groups) in by_site {
            groups.sort();
            let Some(cands) = typed_cands[site.0 as usize].as_ref() else {
                continue;
            };
            let parts = typed::split(cands, &groups);
            for part in &parts {
                let key = (site, part.cause);
                let acc = RunAcc {
                    value: part.value as i128,
                    objects: part.objects as i128,
                    ev: EvKey::Typed(site, part.cause),
                    note: None,
                    largest: part.value.unsigned_abs() as u128,
                };
                match ids.get(&key) {
                    Some(&i) => {
                        let m = &mut merged[i].1;
                        m.value += acc.value;
                        m.objects += acc.objects;
                        if acc.largest > m.largest {
                            (m.ev, m.note, m.largest) = (acc.ev, acc.note, acc.largest);
                        }
                    }
                    None => {
                        ids.insert(key, merged.len());
                        merged.push((key, acc));
                    }
                }
            }
            site_parts.insert(site, parts);
        }
    }
    // Evidence named once each, by index.
    let mut evidence_keys: Vec<EvKey> = Vec::new();
    let mut evidence_ids: FxHashMap<EvKey, usize> = FxHashMap::default();
    let accs: Vec<((SiteId, CauseId), SiteAcc)> = merged
        .into_iter()
        .map(|(key, m)| {
            let ev_id = *evidence_ids.entry(m.ev).or_insert_with(|| {
                evidence_keys.push(m.ev);
                evidence_keys.len() - 1
            });
            (key, (m.value, m.objects, ev_id, m.note, m.largest))
        })
        .collect();
    let name = |s: SiteId| p.str(a.sites[s.0 as usize].name).to_string();
    let evidence: Vec<Evidence> = evidence_keys
        .iter()
        .map(|k| match *k {
            EvKey::Profiler(f) => Evidence::Profiler { function: name(f) },
            EvKey::Library(f, caller) => Evidence::Library {
                function: name(f),
                caller: caller
                    .map(|u| crate::analyze::attribute::printable_name(p, &a.sites[u.0 as usize])),
            },
            EvKey::Runtime(f) => Evidence::Runtime { function: name(f) },
            EvKey::Typed(u, cause) => Evidence::Typed {
                text: typed_cands[u.0 as usize]
                    .as_ref()
                    .map(|cs| {
                        let mut w: Vec<&str> = cs
                            .iter()
                            .filter(|c| c.cause == cause)
                            .map(|c| c.what.as_str())
                            .collect();
                        w.dedup();
                        w.join("; ")
                    })
                    .unwrap_or_default(),
            },
            EvKey::Line(u) => line_cache[u.0 as usize]
                .as_ref()
                .and_then(|l| l.as_ref())
                .map_or(Evidence::None, |(_, ev)| ev.clone()),
            EvKey::None => Evidence::None,
        })
        .collect();
    let per_site = accs;

    let clamp = |x: i128| x.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let mut totals = vec![CauseTotal::default(); rules.causes.len()];
    let mut site_abs = vec![0u128; ns];
    let mut entries: Vec<_> = per_site.into_iter().collect();
    entries.sort_by_key(|((s, c), _)| (*s, *c));
    let mut site_cause: Vec<Option<SiteCause>> = vec![None; ns];
    let mut best: Vec<(u128, Option<CauseId>)> = vec![(0, None); ns];
    for ((s, c), (v, o, _, _, _)) in &entries {
        let t = &mut totals[c.0 as usize];
        t.value = clamp(t.value as i128 + v);
        t.objects = clamp(t.objects as i128 + o);
        t.sites += 1;
        site_abs[s.0 as usize] += v.unsigned_abs();
        let b = &mut best[s.0 as usize];
        if b.1.is_none() || v.unsigned_abs() > b.0 {
            *b = (v.unsigned_abs(), Some(*c));
        }
    }
    // A site whose samples have several causes (one line, several stacks: a shared helper
    // called from two places) lists them as parts, largest first, unless typed split it.
    let mut cause_parts: FxHashMap<SiteId, Vec<Part>> = FxHashMap::default();
    for (i, ((s, c), (v, o, ev, _, _))) in entries.iter().enumerate() {
        let several = entries.get(i + 1).is_some_and(|((t, _), _)| t == s)
            || (i > 0 && entries[i - 1].0 .0 == *s);
        if several && !site_parts.contains_key(s) {
            cause_parts.entry(*s).or_default().push(Part {
                cause: *c,
                value: clamp(*v),
                objects: clamp(*o),
                size: None,
                confidence: Confidence::Certain,
                what: evidence[*ev].describe(),
            });
        }
    }
    for parts in cause_parts.values_mut() {
        parts.sort_by(|a, b| b.value.unsigned_abs().cmp(&a.value.unsigned_abs()));
    }
    for ((s, c), (_, _, ev, note, _)) in &entries {
        let (bv, bc) = best[s.0 as usize];
        if bc == Some(*c) {
            let total = site_abs[s.0 as usize];
            site_cause[s.0 as usize] = Some(SiteCause {
                cause: *c,
                evidence: evidence[*ev].clone(),
                note: note.map(|n| rules.notes[n as usize].clone()),
                share: if total == 0 {
                    1.0
                } else {
                    bv as f64 / total as f64
                },
                parts: site_parts
                    .remove(s)
                    .or_else(|| cause_parts.remove(s))
                    .unwrap_or_default(),
            });
        }
    }
    // A typed stack's cause is its site's dominant cause.
    for (k, d) in decided.iter().enumerate() {
        if let Some(site) = d.typed {
            if a.stack_site[k] == site {
                if let Some(sc) = &site_cause[site.0 as usize] {
                    stack_cause[k] = sc.cause;
                }
            }
        }
    }
    drop(decided);
    ambiguous.sort();
    ambiguous.dedup();
    Classification {
        rules,
        stack_cause,
        site_cause,
        totals,
        ambiguous_paths: ambiguous,
    }
}

/// The cause of one sample from its frames (leaf first), or None when nothing matched.
#[allow(clippy::too_many_arguments)]
fn decide(
    p: &Profile,
    sites: &[Site],
    rules: &RuleSet,
    facts: &SiteFacts,
    frames: &[SiteId],
    escapes: Option<&EscapeIndex>,
    lines: Option<&dyn LineSource>,
    line_cache: &mut [Option<LineEvidence>],
    ambiguous: &mut Vec<String>,
) -> Option<(CauseId, EvKey, Option<u32>)> {
    // 1. The profiler's own frames, anywhere.
    for &f in frames {
        if let Some(r) = facts.anywhere[f.0 as usize] {
            return Some((rules.rules[r as usize].cause, EvKey::Profiler(f), None));
        }
    }
    // 2. Library API (and runtime entry) below the first user frame, closest to the user first.
    let boundary = frames.iter().position(|f| facts.user[f.0 as usize]);
    let region = &frames[..boundary.unwrap_or(frames.len())];
    let mut runtime_hit = None;
    // The allocating frame: the first that is not the runtime's.
    let site = region.iter().position(|f| !facts.runtime[f.0 as usize]);
    for (k, &f) in region.iter().enumerate().rev() {
        let rule = facts.stack[f.0 as usize].or(if Some(k) == site {
            facts.leaf[f.0 as usize]
        } else {
            None
        });
        if let Some(r) = rule {
            let note = rules.sub_note(
                r,
                region[..k].iter().map(|s| p.str(sites[s.0 as usize].name)),
            );
            let caller = boundary.map(|u| frames[u]);
            return Some((
                rules.rules[r as usize].cause,
                EvKey::Library(f, caller),
                note,
            ));
        }
        if runtime_hit.is_none() {
            if let Some(r) = facts.runtime_rule[f.0 as usize] {
                runtime_hit = Some((r, f));
            }
        }
    }
    // 3. and 5. The user's allocating line: its typed model, the compiler reason, then the
    // line's text.
    if let Some(u) = boundary {
        let user = frames[u];
        if u == 0 {
            if let Some(cands) = &facts.typed[user.0 as usize] {
                return Some((cands[0].cause, EvKey::Typed(user, cands[0].cause), None));
            }
        }
        let line_ev = line_cache[user.0 as usize]
            .get_or_insert_with(|| line_evidence(p, sites, rules, user, escapes, lines, ambiguous))
            .as_ref()
            .map(|(r, ev)| (*r, matches!(ev, Evidence::Compiler { .. })));
        if let Some((r, true)) = line_ev {
            return Some((
                rules.rules[r as usize].cause,
                EvKey::Line(user),
                rules.rules[r as usize].note,
            ));
        }
        // 4. Runtime entry.
        if let Some((r, f)) = runtime_hit {
            return Some((rules.rules[r as usize].cause, EvKey::Runtime(f), None));
        }
        if let Some((r, _)) = line_ev {
            return Some((
                rules.rules[r as usize].cause,
                EvKey::Line(user),
                rules.rules[r as usize].note,
            ));
        }
        return None;
    }
    // No user code. A runtime entry names the operation only when library code called it;
    // a stack made only of runtime frames is the runtime's own allocation.
    if frames.iter().all(|f| facts.runtime[f.0 as usize]) {
        return None;
    }
    runtime_hit.map(|(r, f)| (rules.rules[r as usize].cause, EvKey::Runtime(f), None))
}

/// The compiler's reason in one line: the headline (`x escapes to heap`, `moved to heap: x`)
/// and the flow step that sends it there (`from log.Printf(..., x) (call parameter)`).
fn explain_escape(msgs: &[String], matched: &str) -> String {
    let is_flow = |m: &str| m.starts_with("flow:") || m.starts_with("from ");
    if let Some(wrapper) = matched
        .strip_prefix("can inline ")
        .and_then(|m| m.split_whitespace().next())
    {
        return format!("go statement: its call is wrapped in func literal {wrapper}, which escapes to the heap with the new goroutine");
    }
    let headline = if is_flow(matched) {
        msgs.iter()
            .find(|m| m.ends_with("escapes to heap") || m.starts_with("moved to heap"))
            .map_or(matched, |m| m.as_str())
    } else {
        matched
    };
    let step = msgs.iter().find(|m| {
        m.starts_with("from ")
            && (m.ends_with("(call parameter)")
                || m.ends_with("(assign)")
                || m.ends_with("(return)")
                || m.contains("captured by a closure"))
    });
    match step {
        Some(step) => format!("{headline}, {step}"),
        None => headline.to_string(),
    }
}

fn line_evidence(
    p: &Profile,
    sites: &[Site],
    rules: &RuleSet,
    site: SiteId,
    escapes: Option<&EscapeIndex>,
    lines: Option<&dyn LineSource>,
    ambiguous: &mut Vec<String>,
) -> Option<(u32, Evidence)> {
    let s = &sites[site.0 as usize];
    let file = p.str(s.file);
    if s.line <= 0 || file.is_empty() {
        return None;
    }
    if let Some(idx) = escapes {
        match idx.resolve(file) {
            escape::Resolved::File(path) => {
                let msgs = idx.messages(path, s.line);
                if let Some((r, m)) = rules.match_escape(msgs) {
                    return Some((
                        r,
                        Evidence::Compiler {
                            message: explain_escape(msgs, m),
                        },
                    ));
                }
            }
            escape::Resolved::Ambiguous => ambiguous.push(file.to_string()),
            escape::Resolved::None => {}
        }
    }
    if let Some(src) = lines {
        if let Some(text) = src.line(file, s.line) {
            if let Some(r) = rules.match_line(&text) {
                return Some((r, Evidence::SourceLine { text }));
            }
            if let Some(all) = src.lines(file) {
                if let Some((cause, why)) = source_facts(&all, s.line, &text) {
                    if let Some(r) = rules
                        .rules
                        .iter()
                        .position(|r| rules.causes[r.cause.0 as usize].name == cause)
                    {
                        return Some((
                            r as u32,
                            Evidence::SourceLine {
                                text: format!("{} ({why})", text.trim()),
                            },
                        ));
                    }
                }
            }
        }
    }
    None
}

/// Evidence from the rest of the file when the line alone says nothing (Go's heap profile
/// keeps only the user's line for a boxing or a captured variable):
/// - a variable declared on this line and used inside a func literal later in the function
///   is moved to the heap because the closure captures it: `closure`;
/// - an assignment to a variable, array or slice declared with an interface type (`any`,
///   `interface{}`), or a call to a function of this file taking `any`, boxes the value:
///   `interface-conversion`.
fn source_facts(all: &[String], line: i64, text: &str) -> Option<(&'static str, String)> {
    use std::sync::OnceLock;
    static DECL: OnceLock<regex::Regex> = OnceLock::new();
    static ASSIGN: OnceLock<regex::Regex> = OnceLock::new();
    static CALL: OnceLock<regex::Regex> = OnceLock::new();
    static IFACE_VAR: OnceLock<regex::Regex> = OnceLock::new();
    static IFACE_FUNC: OnceLock<regex::Regex> = OnceLock::new();
    let decl = DECL.get_or_init(|| {
        regex::Regex::new(r"^\s*(?:var\s+)?([A-Za-z_]\w*)\s*(?::=|\s[\w.\[\]*]+\s*=)").unwrap()
    });
    let assign = ASSIGN.get_or_init(|| {
        regex::Regex::new(r"^\s*([A-Za-z_]\w*)\s*(?:\[[^\]]*\])?\s*=[^=]").unwrap()
    });
    let call = CALL.get_or_init(|| regex::Regex::new(r"^\s*([A-Za-z_]\w*)\(").unwrap());
    let iface_var = IFACE_VAR.get_or_init(|| {
        regex::Regex::new(r"^\s*(?:var\s+)?([A-Za-z_]\w*)\s+(?:\[[^\]]*\]|map\[[^\]]+\])*(?:any|interface\{\})\s*(?:$|//|=)").unwrap()
    });
    let iface_func =
        IFACE_FUNC.get_or_init(|| regex::Regex::new(r"^func\s+([A-Za-z_]\w*)\(([^)]*)\)").unwrap());
    let idx = usize::try_from(line).ok()?.checked_sub(1)?;
    let code = text.split("//").next().unwrap_or("");
    // Closure capture: `x := ...` here, `func(...) { ... x ... }` below, before the function ends.
    if let Some(name) = decl.captures(code).map(|c| c[1].to_string()) {
        let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(&name))).ok()?;
        for (k, later) in all.iter().enumerate().skip(idx + 1) {
            if later.trim_end() == "}" {
                break;
            }
            let later = later.split("//").next().unwrap_or("");
            if let Some(at) = later.find("func(") {
                if word.is_match(&later[at..]) {
                    return Some((
                        "closure",
                        format!("{name} is captured by the func literal at line {}", k + 1),
                    ));
                }
            }
        }
    }
    // Boxing: the target is declared with an interface type in this file.
    let target = assign.captures(code).map(|c| c[1].to_string());
    let callee = call.captures(code).map(|c| c[1].to_string());
    for decl_line in all {
        if let (Some(t), Some(c)) = (&target, iface_var.captures(decl_line)) {
            if &c[1] == t {
                return Some((
                    "interface-conversion",
                    format!("{t} is declared as an interface: {}", decl_line.trim()),
                ));
            }
        }
        if let (Some(f), Some(c)) = (&callee, iface_func.captures(decl_line)) {
            if &c[1] == f && (c[2].contains("any") || c[2].contains("interface{}")) {
                return Some((
                    "interface-conversion",
                    format!("{f} takes an interface argument: func {f}({})", &c[2]),
                ));
            }
        }
    }
    None
}

/// The candidates of a user line from its typed expressions: each kind's cause, a boxing
/// into a library's parameters taking that library's cause (the rules' `stack` patterns on
/// the callee: fmt, logging, errors, ...). None when nothing on the line can allocate.
fn typed_candidates(
    rules: &RuleSet,
    exprs: &[typed::TypedExpr],
) -> Option<std::sync::Arc<[typed::Candidate]>> {
    let mut out = Vec::new();
    for e in exprs {
        let Some(name) = typed::kind_cause(&e.kind) else {
            continue;
        };
        let mut cause = rules.cause_id(name);
        if e.kind == "box" && !e.callee.is_empty() {
            if let Some(r) = rules.match_stack(&typed::symbol_name(&e.callee)) {
                cause = rules.rules[r as usize].cause;
            }
        }
        out.push(typed::candidate(e, cause));
    }
    (!out.is_empty()).then(|| out.into())
}
