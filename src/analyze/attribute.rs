//! Sites: where each sample's value is attributed, with flat and cumulative totals.
//!
//! A site is a (function, file, line) at `lines` granularity or a function at `functions`
//! granularity, as in pprof's `-lines` / default. Flat is the value of samples whose
//! allocation site it is; cum counts each sample once for every site on its stack.
//!
//! Allocation site: Go's heap writer already drops the leading `runtime.*` frames, so the leaf
//! is the user's (or library's) line. Other writers, and runtime-only stacks, keep them; for
//! memory profiles the site is therefore the first frame from the leaf that is not runtime, or
//! the leaf when the whole stack is runtime (e.g. goroutine creation under `runtime.malg`).
//! For other profile kinds the site is the leaf, exactly pprof's flat.
//!
//! The loop over samples allocates nothing per sample: every location's sites are resolved
//! once, and a per-site stamp counts each site once per sample for cum.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use crate::model::{FuncId, Kind, LocId, Profile, StrId};

/// pprof's `-granularity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Granularity {
    #[default]
    Lines,
    Functions,
}

/// Options for [`attribute`].
#[derive(Clone, Debug, Default)]
pub struct AttributeOptions {
    pub granularity: Granularity,
    /// Index of the sample type the values are taken from.
    pub sample_index: usize,
    /// Index of the paired object count (alloc_objects for alloc_space), when there is one.
    pub objects_index: Option<usize>,
    /// Skip leading runtime frames to find the allocation site (memory profiles).
    pub skip_runtime: bool,
}

/// A dense site id: index into [`Attribution::sites`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteId(pub u32);

impl SiteId {
    /// The site of a sample with an empty stack: none.
    pub const NONE: SiteId = SiteId(u32::MAX);
}

/// One site and its totals.
#[derive(Clone, Debug)]
pub struct Site {
    /// Function name; the empty string for an unsymbolized location (shown `<unknown>`).
    pub name: StrId,
    pub file: StrId,
    /// 0 at `functions` granularity or when unknown.
    pub line: i64,
    /// A function id for this site (the first seen), for classification.
    pub func: Option<FuncId>,
    pub flat: i64,
    pub cum: i64,
    /// Flat object count (the paired `*_objects` type), when the profile has one.
    pub flat_objects: i64,
    /// Number of samples attributed here.
    pub samples: u64,
    /// How callers reach this site, pprof's `(inline)` / `(partial-inline)` marks.
    pub inline: Inline,
}

/// A site's identity across profiles: its function, file and line as strings. Joins between
/// two profiles (a heap and a CPU profile, the two sides of a diff) use it, never a display
/// name, whose `(inline)` marks depend on which sites are shown (issue 15).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteKey {
    /// The function name, `<unknown>` when unsymbolized.
    pub function: String,
    pub file: String,
    pub line: i64,
}

impl SiteKey {
    pub fn of(p: &Profile, s: &Site) -> SiteKey {
        SiteKey {
            function: match p.str(s.name) {
                "" => "<unknown>".to_string(),
                f => f.to_string(),
            },
            file: p.str(s.file).to_string(),
            line: s.line,
        }
    }
}

/// Whether a site is reached through inlined calls (pprof marks these in `-top` output).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Inline {
    /// Not inlined, or a root with no caller.
    #[default]
    No,
    /// Every call to it was inlined into its caller.
    Inline,
    /// Inlined in some stacks and not in others.
    Partial,
}

/// The result of [`attribute`].
#[derive(Clone, Debug)]
pub struct Attribution {
    pub sites: Vec<Site>,
    /// Per distinct stack (`Samples::stack`): the site its samples' values are attributed to
    /// ([`SiteId::NONE`] for an empty stack, or a stack without samples).
    pub stack_site: Vec<SiteId>,
    /// Sum of the chosen sample type over all samples.
    pub total: i64,
    /// Value of samples with an empty stack, which have no site.
    pub unattributed: i64,
    /// Each location's sites, innermost frame first: `loc_sites[loc_sites_end[l-1]..loc_sites_end[l]]`.
    pub loc_sites: Vec<SiteId>,
    pub loc_sites_end: Vec<u32>,
    pub total_objects: Option<i64>,
    /// A site's flat, cum or objects, the total or the unattributed value is outside i64
    /// (summed exactly in i128): the caller refuses the profile rather than show a clamped
    /// number (issue 16, finding 21).
    pub overflowed: bool,
    /// Per distinct stack, the sum of its samples' chosen values, kept from the pass for
    /// [`Attribution::mark_inline`] (which takes it).
    stack_values: Option<StackValues>,
}

/// Per distinct stack: the sum of its samples' values of one sample type.
#[derive(Clone, Debug)]
struct StackValues {
    sample_index: usize,
    sums: Sums,
    /// Whether any of the stack's samples has a non-zero value.
    nonzero: Vec<bool>,
}

/// Is `name` a Go runtime function (package runtime, internal/runtime/..., runtime/internal/...)?
/// runtime/pprof and runtime/trace are ordinary packages, not the allocator.
pub fn is_runtime(name: &str) -> bool {
    let pkg = go_package(name);
    pkg == "runtime" || pkg.starts_with("internal/runtime/") || pkg.starts_with("runtime/internal/")
}

/// The package path of a Go symbol: `encoding/json.(*decodeState).object` -> `encoding/json`.
pub fn go_package(name: &str) -> &str {
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    // Generic instantiations contain dots inside brackets; the package ends at the first dot
    // after the last slash that precedes any '['.
    let tail = &name[slash..];
    let stop = tail.find('[').unwrap_or(tail.len());
    match tail[..stop].find('.') {
        Some(d) => &name[..slash + d],
        None => name,
    }
}

/// Aggregates the profile into sites. Values are exact (i128 sums cannot overflow; the
/// profile's validation guarantees the totals fit in i64, and a site's flat or cum cannot
/// exceed the total's magnitude by construction unless values have mixed signs, where it is
/// saturated).
pub fn attribute(p: &Profile, opts: &AttributeOptions) -> Attribution {
    attribute_visiting(p, opts, site_table(p, opts), &NoVisitor).0
}

/// Each location's sites, resolved once (the first step of [`attribute`]): the sites
/// themselves (totals still zero) and, per location, its sites innermost first.
pub struct SiteTable {
    pub sites: Vec<Site>,
    pub loc_sites: Vec<SiteId>,
    pub loc_sites_end: Vec<u32>,
}

/// Work done on each distinct stack during attribution's pass over the stacks, which has the
/// stack's sites at hand (classification: one pass instead of two, issue 9). The pass runs
/// on several threads; each range of stacks has its own `Local` state.
pub trait StackVisitor: Sync {
    type Local: Send;
    type Out: Copy + Send;
    fn local(&self) -> Self::Local;
    /// The result for a stack with no site (empty, or without samples).
    fn none(&self) -> Self::Out;
    /// The result for a stack whose sites are `frames`, leaf first (never empty).
    fn visit(&self, local: &mut Self::Local, frames: &[SiteId]) -> Self::Out;
}

/// A visitor that does nothing.
pub struct NoVisitor;

impl StackVisitor for NoVisitor {
    type Local = ();
    type Out = ();
    fn local(&self) {}
    fn none(&self) {}
    fn visit(&self, _: &mut (), _: &[SiteId]) {}
}

/// Resolves each location's frames to sites (see [`SiteTable`]).
pub fn site_table(p: &Profile, opts: &AttributeOptions) -> SiteTable {
    let mut keys: HashMap<(StrId, StrId, i64), SiteId> = HashMap::new();
    let mut sites: Vec<Site> = Vec::new();
    let mut loc_sites: Vec<SiteId> = Vec::with_capacity(p.frames.len() + p.locations.len());
    let mut loc_sites_end: Vec<u32> = Vec::with_capacity(p.locations.len());
    let unknown = p.strings.find("").unwrap_or_default();
    for (i, _) in p.locations.iter().enumerate() {
        let frames = p.frames(LocId(i as u32));
        let mut add = |name: StrId, file: StrId, line: i64, func: Option<FuncId>| {
            // At function granularity pprof keys and names a node by function name only.
            let key = match opts.granularity {
                Granularity::Lines => (name, file, line),
                Granularity::Functions => (name, unknown, 0),
            };
            let file = key.1;
            let id = *keys.entry(key).or_insert_with(|| {
                sites.push(Site {
                    name,
                    file,
                    line: key.2,
                    func,
                    flat: 0,
                    cum: 0,
                    flat_objects: 0,
                    samples: 0,
                    inline: Inline::No,
                });
                SiteId(sites.len() as u32 - 1)
            });
            loc_sites.push(id);
        };
        if frames.is_empty() {
            // pprof names an unsymbolized address by its mapping's file, `[libc.so.6]`.
            let label = p.locations[i]
                .mapping
                .map_or(unknown, |m| p.mappings[m.0 as usize].label);
            add(label, unknown, 0, None);
        } else {
            for f in frames {
                let func = p.function(f.func);
                add(func.name, func.filename, f.line, Some(f.func));
            }
        }
        loc_sites_end.push(loc_sites.len() as u32);
    }
    SiteTable {
        sites,
        loc_sites,
        loc_sites_end,
    }
}

/// [`attribute`] from a [`SiteTable`], running `visitor` on every stack with a site; returns
/// its result per distinct stack and each range's local state, in range order.
pub fn attribute_visiting<V: StackVisitor>(
    p: &Profile,
    opts: &AttributeOptions,
    table: SiteTable,
    visitor: &V,
) -> (Attribution, Vec<V::Out>, Vec<V::Local>) {
    let SiteTable {
        mut sites,
        loc_sites,
        loc_sites_end,
    } = table;
    let sites_of = |l: LocId| -> &[SiteId] {
        let i = l.0 as usize;
        let start = if i == 0 {
            0
        } else {
            loc_sites_end[i - 1] as usize
        };
        &loc_sites[start..loc_sites_end[i] as usize]
    };
    // Per-site runtime flag at frame level, for skipping inlined runtime frames too.
    let site_runtime: Vec<bool> = sites.iter().map(|s| is_runtime(p.str(s.name))).collect();

    // Values per distinct stack first (the store keeps each stack once, see model::Samples):
    // the walk over stack frames below then runs once per stack, not once per sample. Sums
    // are kept in i64 and redone in i128 only if one overflows (mixed-sign delta profiles).
    let (stack_v, stack_o, stack_n, total, total_objects, stack_nz) =
        match stack_sums::<i64>(p, opts.sample_index, opts.objects_index) {
            Some((v, o, n, t, to, nz)) => (Sums::Narrow(v), Sums::Narrow(o), n, t, to, nz),
            None => {
                let (v, o, n, t, to, nz) =
                    stack_sums::<i128>(p, opts.sample_index, opts.objects_index)
                        .unwrap_or_default();
                (Sums::Wide(v), Sums::Wide(o), n, t, to, nz)
            }
        };
    let nstacks = p.samples.stack_count();
    let mut stack_site = vec![SiteId::NONE; nstacks];
    let nsites = sites.len();
    // One pass per range of stacks, on as many cores as pay (see crate::par), merged exactly.
    let mut outs: Vec<V::Out> = vec![visitor.none(); nstacks];
    let parts =
        crate::par::map_ranges_mut2(&mut stack_site, &mut outs, |range, stack_site, outs| {
            let mut part = Part {
                flat: vec![0; nsites],
                cum: vec![0; nsites],
                objs: vec![0; nsites],
                samples: vec![0; nsites],
                unattributed: 0,
            };
            let mut local = visitor.local();
            let mut stamp = vec![u32::MAX; nsites];
            let mut frames: Vec<SiteId> = Vec::with_capacity(64);
            let first = range.start;
            for k in range {
                if stack_n[k] == 0 {
                    continue;
                }
                let v = stack_v.get(k);
                frames.clear();
                for l in p.samples.stack(k as u32) {
                    // One by one: most locations have one site, and extend_from_slice
                    // called memmove for each (~0.1 s of CPU on the 100 MB profile).
                    for &site in sites_of(l) {
                        frames.push(site);
                    }
                }
                // Samples with an empty stack have no site (pprof's graph gives them no node
                // either); their value is counted in `unattributed`.
                let Some(&leaf) = frames.first() else {
                    part.unattributed += v;
                    continue;
                };
                // Allocation site: the leaf, or the first non-runtime frame (see module docs).
                let mut site = leaf;
                if opts.skip_runtime && site_runtime[site.0 as usize] {
                    if let Some(&s) = frames.iter().find(|s| !site_runtime[s.0 as usize]) {
                        site = s;
                    }
                }
                let si = site.0 as usize;
                part.flat[si] += v;
                part.objs[si] += stack_o.get(k);
                part.samples[si] += u64::from(stack_n[k]);
                stack_site[k - first] = site;
                let tag = k as u32;
                for &s in &frames {
                    let s = s.0 as usize;
                    let new = stamp[s] != tag;
                    stamp[s] = tag;
                    part.cum[s] += if new { v } else { 0 };
                }
                outs[k - first] = visitor.visit(&mut local, &frames);
            }
            (part, local)
        });
    let mut locals = Vec::with_capacity(parts.len());
    let (mut flat, mut cum, mut objs) = (
        vec![0i128; nsites],
        vec![0i128; nsites],
        vec![0i128; nsites],
    );
    let mut unattributed = 0i128;
    for (part, local) in parts {
        locals.push(local);
        for i in 0..nsites {
            flat[i] += part.flat[i];
            cum[i] += part.cum[i];
            objs[i] += part.objs[i];
            sites[i].samples += part.samples[i];
        }
        unattributed += part.unattributed;
    }
    drop((stack_o, stack_n));
    let overflowed = std::cell::Cell::new(false);
    let clamp = |x: i128| {
        let c = x.clamp(i64::MIN as i128, i64::MAX as i128);
        if c != x {
            overflowed.set(true);
        }
        c as i64
    };
    for (i, s) in sites.iter_mut().enumerate() {
        s.flat = clamp(flat[i]);
        s.cum = clamp(cum[i]);
        s.flat_objects = clamp(objs[i]);
    }
    let a = Attribution {
        sites,
        stack_site,
        total: clamp(total),
        unattributed: clamp(unattributed),
        loc_sites,
        loc_sites_end,
        total_objects: opts.objects_index.map(|_| clamp(total_objects)),
        overflowed: overflowed.get(),
        stack_values: Some(StackValues {
            sample_index: opts.sample_index,
            sums: stack_v,
            nonzero: stack_nz,
        }),
    };
    (a, outs, locals)
}

/// A call edge between shown sites, as [`Attribution::mark_inline`] accumulates it.
#[derive(Clone, Copy, Debug)]
struct Edge {
    /// Every traversal so far stayed within one location.
    inline: bool,
    /// The exact i128 weight as two 64-bit halves: i128's 16-byte alignment made an edge
    /// 32 bytes, and deep random stacks have millions of edges (issue 16, finding 7).
    weight: [u64; 2],
    /// The last stack counted in `weight`.
    stamp: u32,
    seen: bool,
}

impl Edge {
    fn weight(&self) -> i128 {
        ((u128::from(self.weight[1]) << 64) | u128::from(self.weight[0])) as i128
    }

    fn add(&mut self, v: i128) {
        let w = (self.weight() + v) as u128;
        self.weight = [w as u64, (w >> 64) as u64];
    }
}

impl Default for Edge {
    fn default() -> Self {
        Edge {
            inline: true,
            weight: [0, 0],
            stamp: u32::MAX,
            seen: false,
        }
    }
}

/// What one range of stacks adds to each site.
struct Part {
    flat: Vec<i128>,
    cum: Vec<i128>,
    objs: Vec<i128>,
    samples: Vec<u64>,
    unattributed: i128,
}

/// Per-stack sums, in i64 unless one overflowed.
#[derive(Clone, Debug)]
enum Sums {
    Narrow(Vec<i64>),
    Wide(Vec<i128>),
}

impl Sums {
    #[inline]
    fn get(&self, k: usize) -> i128 {
        match self {
            Sums::Narrow(v) => v.get(k).map_or(0, |&x| x as i128),
            Sums::Wide(v) => v.get(k).copied().unwrap_or(0),
        }
    }
}

/// An accumulator for per-stack sums: i64 (fails on overflow) or i128 (cannot overflow:
/// at most 2^26 samples of 2^63).
trait Acc: Copy + Default {
    fn add(&mut self, v: i64) -> bool;
}

impl Acc for i64 {
    #[inline]
    fn add(&mut self, v: i64) -> bool {
        match self.checked_add(v) {
            Some(x) => {
                *self = x;
                true
            }
            None => false,
        }
    }
}

impl Acc for i128 {
    #[inline]
    fn add(&mut self, v: i64) -> bool {
        *self += v as i128;
        true
    }
}

type StackSums<T> = (Vec<T>, Vec<T>, Vec<u32>, i128, i128, Vec<bool>);

/// Per distinct stack: the sum of the chosen values, of the paired object counts, and the
/// number of samples; plus both totals. None if a sum overflows `T`.
fn stack_sums<T: Acc>(
    p: &Profile,
    sample_index: usize,
    objects_index: Option<usize>,
) -> Option<StackSums<T>> {
    let nstacks = p.samples.stack_count();
    let mut stack_v = vec![T::default(); nstacks];
    // Empty without a paired count type: `Sums::get` reads 0 there.
    let mut stack_o = vec![T::default(); if objects_index.is_some() { nstacks } else { 0 }];
    let mut stack_n = vec![0u32; nstacks];
    let mut stack_nz = vec![false; nstacks];
    let (mut total, mut total_objects) = (0i128, 0i128);
    let mut c = p.samples.cursor();
    while let Some(s) = c.next() {
        let k = s.stack as usize;
        let v = s.values[sample_index];
        if !stack_v[k].add(v) {
            return None;
        }
        stack_nz[k] |= v != 0;
        total += v as i128;
        if let Some(oi) = objects_index {
            let o = s.values[oi];
            if !stack_o[k].add(o) {
                return None;
            }
            total_objects += o as i128;
        }
        stack_n[k] += 1;
    }
    Some((stack_v, stack_o, stack_n, total, total_objects, stack_nz))
}

/// pprof's printable node name (`NameComponents` joined): `func file:line`, `func file`,
/// `func`, or `<unknown>`.
pub fn printable_name(p: &Profile, s: &Site) -> String {
    let name = p.str(s.name);
    let file = p.str(s.file);
    let mut parts: Vec<String> = Vec::with_capacity(2);
    if !name.is_empty() {
        parts.push(name.to_string());
    }
    if s.line != 0 {
        parts.push(format!("{file}:{}", s.line));
    } else if !file.is_empty() {
        parts.push(file.to_string());
    } else if name.is_empty() {
        parts.push("<unknown>".to_string());
    }
    parts.join(" ")
}

impl Attribution {
    /// The sites of location `l`, innermost frame first.
    pub fn sites_of(&self, l: LocId) -> &[SiteId] {
        let i = l.0 as usize;
        let start = if i == 0 {
            0
        } else {
            self.loc_sites_end[i - 1] as usize
        };
        &self.loc_sites[start..self.loc_sites_end[i] as usize]
    }

    /// Sets each site's `inline` mark as pprof's `-top` does for the nodes it shows: marks are
    /// per call edge between *shown* sites (an edge skips sites not in `shown`), an edge is
    /// inline only if every traversal of it stays within one location, and a site is
    /// `(inline)` when it has inline in-edges only, `(partial-inline)` when it has both kinds.
    /// Samples whose chosen value is 0 are ignored, and edges lighter than pprof's edge
    /// fraction (0.1% of the total) are dropped first, as in pprof's trimmed graph.
    pub fn mark_inline(&mut self, p: &Profile, sample_index: usize, shown: &[SiteId]) {
        // i128: total and unattributed are saturated i64s of either sign (delta profiles).
        let edge_cutoff =
            ((self.total as i128 - self.unattributed as i128) as f64 * 0.001).abs() as u128;
        let mut kept = vec![false; self.sites.len()];
        for s in shown {
            kept[s.0 as usize] = true;
        }
        // Once per distinct stack: the sum of its samples' values and whether any is non-zero
        // (the pass's sums when they are of this sample type).
        let nstacks = p.samples.stack_count();
        let mut kept_sums = self
            .stack_values
            .take()
            .filter(|s| s.sample_index == sample_index);
        let mut stack_nz = kept_sums
            .as_mut()
            .map(|s| std::mem::take(&mut s.nonzero))
            .unwrap_or_default();
        let mut wide: Option<Vec<i128>> = None;
        if kept_sums.is_none() {
            let mut w = vec![0i128; nstacks];
            stack_nz = vec![false; nstacks];
            let mut c = p.samples.cursor();
            while let Some(s) = c.next() {
                let v = s.values[sample_index];
                if v != 0 {
                    let k = s.stack as usize;
                    stack_nz[k] = true;
                    w[k] += v as i128;
                }
            }
            wide = Some(w);
        }
        let stack_v = |k: usize| -> i128 {
            match (&kept_sums, &wide) {
                (Some(s), _) => s.sums.get(k),
                (None, Some(w)) => w[k],
                (None, None) => 0,
            }
        };
        // Per location, whether any of its sites is shown: most are not, and are skipped.
        let loc_kept: Vec<bool> = (0..p.locations.len())
            .map(|l| {
                self.sites_of(crate::model::LocId(l as u32))
                    .iter()
                    .any(|s| kept[s.0 as usize])
            })
            .collect();
        // Edge (caller, callee) -> (all traversals inline so far, weight, last stack counted),
        // in a dense K x K table over the K shown sites when that is small (the usual `--top`),
        // else in a hash map; one per range of stacks (crate::par), merged exactly.
        let mut dense_id = vec![u32::MAX; self.sites.len()];
        for (i, s) in shown.iter().enumerate() {
            dense_id[s.0 as usize] = i as u32;
        }
        let k_shown = shown.len();
        let dense = k_shown <= 512;
        let this = &*self;
        let parts = crate::par::map_ranges(nstacks, |range| {
            let mut table: Vec<Edge> = if dense {
                vec![Edge::default(); k_shown * k_shown]
            } else {
                Vec::new()
            };
            let mut edges: FxHashMap<(SiteId, SiteId), Edge> = FxHashMap::default();
            for i in range {
                if !stack_nz[i] {
                    continue;
                }
                let v = stack_v(i);
                // Leaf to root: each shown site is the caller of the one found before it. A
                // callee's edge is inline when it is not its location's outermost frame.
                let mut callee: Option<(SiteId, bool)> = None;
                for l in p.samples.stack(i as u32) {
                    if !loc_kept[l.0 as usize] {
                        continue;
                    }
                    let ss = this.sites_of(l);
                    for (ni, &n) in ss.iter().enumerate() {
                        if !kept[n.0 as usize] {
                            continue;
                        }
                        if let Some((c, inline)) = callee {
                            if c != n {
                                let e = if dense {
                                    &mut table[dense_id[n.0 as usize] as usize * k_shown
                                        + dense_id[c.0 as usize] as usize]
                                } else {
                                    edges.entry((n, c)).or_default()
                                };
                                e.seen = true;
                                e.inline &= inline;
                                if e.stamp != i as u32 {
                                    // Weight counts each stack once per edge.
                                    e.add(v);
                                    e.stamp = i as u32;
                                }
                            }
                        }
                        callee = Some((n, ni + 1 != ss.len()));
                    }
                }
            }
            if dense {
                for (at, e) in table.into_iter().enumerate() {
                    if e.seen {
                        edges.insert((shown[at / k_shown], shown[at % k_shown]), e);
                    }
                }
            }
            edges
        });
        drop((stack_nz, wide, kept_sums));
        // Merged into the largest part's map, not a new one: with many distinct edges (deep
        // random stacks and --top 0) a third map was the peak (issue 16, finding 7).
        let mut parts = parts;
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        let mut parts = parts.into_iter();
        let mut edges: FxHashMap<(SiteId, SiteId), Edge> = parts.next().unwrap_or_default();
        for part in parts {
            for (key, e) in part {
                let m = edges.entry(key).or_default();
                m.inline &= e.inline;
                m.add(e.weight());
            }
        }
        let (mut inl, mut noinl) = (vec![false; self.sites.len()], vec![false; self.sites.len()]);
        for (&(_, c), e) in &edges {
            let inline = e.inline;
            if e.weight().unsigned_abs() < edge_cutoff {
                continue;
            }
            if inline {
                inl[c.0 as usize] = true;
            } else {
                noinl[c.0 as usize] = true;
            }
        }
        for (i, s) in self.sites.iter_mut().enumerate() {
            s.inline = match (inl[i], noinl[i]) {
                (true, true) => Inline::Partial,
                (true, false) => Inline::Inline,
                _ => Inline::No,
            };
        }
    }
}

/// pprof's `-top` display name: the printable name plus ` (inline)` or ` (partial-inline)`.
pub fn display_name(p: &Profile, s: &Site) -> String {
    let mut name = printable_name(p, s);
    match s.inline {
        Inline::No => {}
        Inline::Inline => name.push_str(" (inline)"),
        Inline::Partial => name.push_str(" (partial-inline)"),
    }
    name
}

/// Site ids in pprof's `-top` order: |flat| descending, then printable name, then |cum|.
pub fn top_order(p: &Profile, a: &Attribution) -> Vec<SiteId> {
    let names: Vec<String> = a.sites.iter().map(|s| printable_name(p, s)).collect();
    let mut ids: Vec<SiteId> = (0..a.sites.len() as u32).map(SiteId).collect();
    ids.sort_by(|&x, &y| {
        let (sx, sy) = (&a.sites[x.0 as usize], &a.sites[y.0 as usize]);
        sy.flat
            .unsigned_abs()
            .cmp(&sx.flat.unsigned_abs())
            .then_with(|| names[x.0 as usize].cmp(&names[y.0 as usize]))
            .then_with(|| sy.cum.unsigned_abs().cmp(&sx.cum.unsigned_abs()))
            .then_with(|| x.cmp(&y))
    });
    ids
}

/// Whether a profile kind attributes to the first non-runtime frame (see module docs).
/// Goroutine profiles too: every parked goroutine's leaf is `runtime.gopark` (profile.proto)
/// or an elided runtime frame (debug=1), which says nothing (issue 19).
pub fn skips_runtime(kind: Kind) -> bool {
    kind.is_memory() || kind == Kind::Goroutine
}

/// Where a CPU profile's time goes in allocation and garbage collection.
#[derive(Clone, Debug, Default)]
pub struct CpuCosts {
    /// Time in `runtime.mallocgc*` (and what it calls), GC assists included.
    pub alloc: i64,
    /// GC assists: allocating goroutines made to do mark work (`runtime.gcAssistAlloc*`).
    pub assist: i64,
    /// Background mark workers (`runtime.gcBgMarkWorker`).
    pub mark: i64,
    /// Sweeping and scavenging (`runtime.bgsweep`, `runtime.sweepone`, `runtime.bgscavenge`).
    pub sweep: i64,
    /// Other GC work (`runtime.gcStart`, `runtime.GC`, `runtime.markroot` outside the above).
    pub other_gc: i64,
    /// Allocation time (assists included) per allocation site: the first non-runtime frame
    /// above `mallocgc`, and the runtime entry it went through (`runtime.growslice`).
    pub by_site: Vec<(SiteId, Option<SiteId>, i64)>,
}

impl CpuCosts {
    /// All GC time: assists, background marking, sweeping, the rest.
    pub fn gc(&self) -> i64 {
        self.assist + self.mark + self.sweep + self.other_gc
    }
}

fn is_malloc(name: &str) -> bool {
    // Go 1.27 splits mallocgc into size-class variants (mallocgcSmallScanNoHeaderSC2, ...).
    name.starts_with("runtime.mallocgc")
}

/// Measures allocation and GC CPU in a CPU profile and attributes allocation time (with the
/// GC assists it triggered) to the user's allocating line.
pub fn cpu_costs(p: &Profile, a: &Attribution, sample_index: usize) -> CpuCosts {
    #[derive(Clone, Copy, PartialEq)]
    enum K {
        None,
        Malloc,
        Assist,
        Mark,
        Sweep,
        Gc,
    }
    let kinds: Vec<K> = a
        .sites
        .iter()
        .map(|s| {
            let n = p.str(s.name);
            if is_malloc(n) {
                K::Malloc
            } else if n.starts_with("runtime.gcAssistAlloc") {
                K::Assist
            } else if n == "runtime.gcBgMarkWorker" {
                K::Mark
            } else if matches!(
                n,
                "runtime.bgsweep" | "runtime.sweepone" | "runtime.bgscavenge"
            ) {
                K::Sweep
            } else if matches!(
                n,
                "runtime.gcStart"
                    | "runtime.GC"
                    | "runtime.gcMarkTermination"
                    | "runtime.gcMarkDone"
            ) {
                K::Gc
            } else {
                K::None
            }
        })
        .collect();
    let runtime: Vec<bool> = a.sites.iter().map(|s| is_runtime(p.str(s.name))).collect();
    let mut c = CpuCosts::default();
    let mut by: HashMap<(SiteId, Option<SiteId>), i128> = HashMap::new();
    let mut frames: Vec<SiteId> = Vec::new();
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values[sample_index];
        frames.clear();
        for l in p.samples.stack(s.stack) {
            frames.extend_from_slice(a.sites_of(l));
        }
        let malloc = frames.iter().position(|f| kinds[f.0 as usize] == K::Malloc);
        let assist = frames.iter().any(|f| kinds[f.0 as usize] == K::Assist);
        if let Some(m) = malloc {
            c.alloc += v;
            if assist {
                c.assist += v;
            }
            // The allocating line: first non-runtime frame above mallocgc; the runtime entry
            // is the runtime frame just below it.
            if let Some(u) = frames[m..]
                .iter()
                .position(|f| !runtime[f.0 as usize])
                .map(|k| k + m)
            {
                let entry = (u > m).then(|| frames[u - 1]);
                *by.entry((frames[u], entry)).or_insert(0) += v as i128;
            }
            continue;
        }
        // GC work outside allocation, by its outermost GC frame.
        let k = frames
            .iter()
            .rev()
            .map(|f| kinds[f.0 as usize])
            .find(|k| *k != K::None && *k != K::Malloc);
        match k {
            Some(K::Assist) => c.assist += v,
            Some(K::Mark) => c.mark += v,
            Some(K::Sweep) => c.sweep += v,
            Some(K::Gc) => c.other_gc += v,
            _ => {}
        }
    }
    let mut by_site: Vec<_> = by
        .into_iter()
        .map(|((s, e), v)| (s, e, v.clamp(i64::MIN as i128, i64::MAX as i128) as i64))
        .collect();
    by_site.sort_by(|x, y| {
        y.2.unsigned_abs()
            .cmp(&x.2.unsigned_abs())
            .then_with(|| x.0.cmp(&y.0))
            .then_with(|| x.1.cmp(&y.1))
    });
    c.by_site = by_site;
    c
}

/// A source file's path as it reads in any build of the same code: the module-relative form
/// `-trimpath` would write (issue 18), so the same function built in another directory, from
/// another GOROOT or module cache, has the same file.
///
/// - a relative path (already `-trimpath`ed, or a GOROOT-relative one) is kept;
/// - a module cache path (`.../pkg/mod/github.com/x/y@v1.2.3/z.go`) loses the cache directory
///   and the version (`github.com/x/y/z.go`);
/// - a standard-library function's file under a `src/` directory (GOROOT) keeps what follows
///   the last `/src/` (`runtime/map.go`);
/// - any other absolute path (the user's module) becomes the function's package path and the
///   file's base name (`example.com/svc/api/handler.go`; `main/main.go` for package main,
///   whose module path a profile does not carry).
pub fn module_relative_file(function: &str, file: &str) -> String {
    let absolute = file.starts_with('/')
        || file.starts_with('\\')
        || (file.len() > 2 && file.as_bytes()[1] == b':');
    if !absolute {
        return file.to_string();
    }
    let file_slash = file.replace('\\', "/");
    if let Some(i) = file_slash.rfind("/pkg/mod/") {
        let rest = &file_slash[i + "/pkg/mod/".len()..];
        let mut out = String::with_capacity(rest.len());
        let mut versioned = false;
        for (k, seg) in rest.split('/').enumerate() {
            if k > 0 {
                out.push('/');
            }
            match seg.find('@') {
                Some(at) if !versioned => {
                    versioned = true;
                    out.push_str(&seg[..at]);
                }
                _ => out.push_str(seg),
            }
        }
        return out;
    }
    let base = file_slash.rsplit('/').next().unwrap_or(&file_slash);
    let pkg = go_package(function);
    let first = pkg.split('/').next().unwrap_or(pkg);
    let stdlib = !first.contains('.') && pkg != "main" && !pkg.is_empty();
    if stdlib {
        if let Some(i) = file_slash.rfind("/src/") {
            return file_slash[i + "/src/".len()..].to_string();
        }
    }
    if pkg.is_empty() || pkg == function {
        return base.to_string();
    }
    format!("{pkg}/{base}")
}
