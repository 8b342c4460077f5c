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
}

/// The result of [`attribute`].
#[derive(Clone, Debug)]
pub struct Attribution {
    pub sites: Vec<Site>,
    /// Per sample: the site its value is attributed to.
    pub sample_site: Vec<SiteId>,
    /// Sum of the chosen sample type over all samples.
    pub total: i64,
    pub total_objects: Option<i64>,
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
    // Resolve each location's frames to site ids once.
    let mut keys: HashMap<(StrId, StrId, i64), SiteId> = HashMap::new();
    let mut sites: Vec<Site> = Vec::new();
    let mut loc_sites: Vec<SiteId> = Vec::with_capacity(p.frames.len() + p.locations.len());
    let mut loc_sites_end: Vec<u32> = Vec::with_capacity(p.locations.len());
    let unknown = p.strings.find("").unwrap_or_default();
    for (i, _) in p.locations.iter().enumerate() {
        let frames = p.frames(LocId(i as u32));
        let mut add = |name: StrId, file: StrId, line: i64, func: Option<FuncId>| {
            let key = match opts.granularity {
                Granularity::Lines => (name, file, line),
                Granularity::Functions => (name, unknown, 0),
            };
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
                });
                SiteId(sites.len() as u32 - 1)
            });
            loc_sites.push(id);
        };
        if frames.is_empty() {
            add(unknown, unknown, 0, None);
        } else {
            for f in frames {
                let func = p.function(f.func);
                add(func.name, func.filename, f.line, Some(f.func));
            }
        }
        loc_sites_end.push(loc_sites.len() as u32);
    }
    let sites_of = |l: LocId| -> &[SiteId] {
        let i = l.0 as usize;
        let start = if i == 0 { 0 } else { loc_sites_end[i - 1] as usize };
        &loc_sites[start..loc_sites_end[i] as usize]
    };
    // Per-site runtime flag at frame level, for skipping inlined runtime frames too.
    let site_runtime: Vec<bool> = sites.iter().map(|s| is_runtime(p.str(s.name))).collect();

    let n = p.samples.len();
    let mut flat = vec![0i128; sites.len()];
    let mut cum = vec![0i128; sites.len()];
    let mut objs = vec![0i128; sites.len()];
    let mut stamp = vec![u32::MAX; sites.len()];
    let mut sample_site = Vec::with_capacity(n);
    let mut total = 0i128;
    let mut total_objects = 0i128;
    // Samples with empty stacks are attributed to `<unknown>`, as pprof does.
    let mut empty_site: Option<SiteId> = None;
    for i in 0..n {
        let v = p.samples.values(i)[opts.sample_index] as i128;
        let o = opts.objects_index.map_or(0, |oi| p.samples.values(i)[oi] as i128);
        total += v;
        total_objects += o;
        let stack = p.samples.stack(i);
        // Allocation site.
        let mut site = None;
        if opts.skip_runtime {
            'outer: for &l in stack {
                for &s in sites_of(l) {
                    if !site_runtime[s.0 as usize] {
                        site = Some(s);
                        break 'outer;
                    }
                }
            }
        }
        let site = match site.or_else(|| stack.first().map(|&l| sites_of(l)[0])) {
            Some(s) => s,
            None => *empty_site.get_or_insert_with(|| {
                let id = *keys.entry((unknown, unknown, 0)).or_insert_with(|| {
                    sites.push(Site { name: unknown, file: unknown, line: 0, func: None, flat: 0, cum: 0, flat_objects: 0, samples: 0 });
                    flat.push(0);
                    cum.push(0);
                    objs.push(0);
                    stamp.push(u32::MAX);
                    SiteId(sites.len() as u32 - 1)
                });
                id
            }),
        };
        let si = site.0 as usize;
        flat[si] += v;
        objs[si] += o;
        sites[si].samples += 1;
        sample_site.push(site);
        let tag = i as u32;
        if stack.is_empty() && stamp[si] != tag {
            stamp[si] = tag;
            cum[si] += v;
        }
        for &l in stack {
            for &s in sites_of(l) {
                let s = s.0 as usize;
                if stamp[s] != tag {
                    stamp[s] = tag;
                    cum[s] += v;
                }
            }
        }
    }
    let clamp = |x: i128| x.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    for (i, s) in sites.iter_mut().enumerate() {
        s.flat = clamp(flat[i]);
        s.cum = clamp(cum[i]);
        s.flat_objects = clamp(objs[i]);
    }
    Attribution {
        sites,
        sample_site,
        total: clamp(total),
        total_objects: opts.objects_index.map(|_| clamp(total_objects)),
    }
}

/// pprof's printable node name: `func file:line`, `func`, or `<unknown>`.
pub fn printable_name(p: &Profile, s: &Site) -> String {
    let name = p.str(s.name);
    let file = p.str(s.file);
    let mut out = String::new();
    if !name.is_empty() {
        out.push_str(name);
    }
    if s.line != 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(file);
        out.push(':');
        out.push_str(&s.line.to_string());
    } else if name.is_empty() {
        out.push_str("<unknown>");
    }
    out
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
pub fn skips_runtime(kind: Kind) -> bool {
    kind.is_memory()
}
