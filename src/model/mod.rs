//! The normalized profile that every stage after `decode` works on.
//!
//! Representation (see DESIGN.md):
//! - Strings are interned once in [`Strings`]; everything else refers to them by [`StrId`].
//!   Id 0 is always the empty string, as in pprof's string table.
//! - Functions, locations and mappings live in dense vectors addressed by typed ids
//!   ([`FuncId`], [`LocId`], [`MapId`]); the file's own (arbitrary, non-zero) ids are
//!   resolved during decoding and not kept.
//! - A location's frames are a contiguous range of [`Profile::frames`], innermost inlined
//!   frame first, exactly like `Location.line` in the wire format.
//! - Samples live in the compact [`Samples`] store (see `samples.rs`): each distinct stack and
//!   label set once, and one row of varints per sample, read in order with a [`Cursor`]. No
//!   per-sample allocation, and about a quarter of the protobuf's size on fleet heap profiles
//!   (issue 9).
//!
//! Invariants established by [`Profile::validate`] (run once by the decoders): every id
//! refers to an existing entry, every sample has exactly one value per sample type, and the
//! sum of every sample type fits in 64 bits. Later stages index without `Option`.

use std::collections::HashMap;
use std::fmt;

use anyhow::{bail, Result};

/// Index into [`Strings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StrId(pub u32);
/// Index into [`Profile::functions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId(pub u32);
/// Index into [`Profile::locations`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocId(pub u32);
/// Index into [`Profile::mappings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub u32);

/// An interner: each distinct string is stored once.
#[derive(Clone, Debug)]
pub struct Strings {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, StrId>,
}

impl Default for Strings {
    fn default() -> Self {
        let mut s = Strings {
            list: Vec::new(),
            index: HashMap::new(),
        };
        s.intern("");
        s
    }
}

impl Strings {
    /// Returns the id of `s`, adding it on first sight.
    pub fn intern(&mut self, s: &str) -> StrId {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = StrId(self.list.len() as u32);
        self.list.push(s.into());
        self.index.insert(s.into(), id);
        id
    }

    /// The id of `s` if it was interned.
    pub fn find(&self, s: &str) -> Option<StrId> {
        self.index.get(s).copied()
    }

    pub fn get(&self, id: StrId) -> &str {
        &self.list[id.0 as usize]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.len() <= 1
    }
}

/// A sample type or the period type: `alloc_space`/`bytes`, `cpu`/`nanoseconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueType {
    pub ty: StrId,
    pub unit: StrId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: StrId,
    pub system_name: StrId,
    pub filename: StrId,
    pub start_line: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub memory_start: u64,
    pub memory_limit: u64,
    pub file_offset: u64,
    pub filename: StrId,
    pub build_id: StrId,
    /// What pprof shows for an unsymbolized address in this mapping: `[basename]`, or ""
    /// when the mapping has no file name.
    pub label: StrId,
}

/// The probability that Go's heap profiler records an allocation of `size` bytes when it
/// samples on average every `period` bytes (`runtime.MemProfileRate`): `1 - exp(-size/period)`,
/// computed with `exp_m1` to stay accurate for small objects. 1 when every allocation is
/// recorded (`period <= 1`).
pub fn heap_sample_probability(size: f64, period: f64) -> f64 {
    if period <= 1.0 {
        return 1.0;
    }
    -(-size / period).exp_m1()
}

/// pprof's name for an unsymbolized address in a mapping of file `filename`.
pub fn mapping_label(filename: &str) -> String {
    if filename.is_empty() {
        return String::new();
    }
    let base = filename.rsplit('/').next().unwrap_or(filename);
    format!("[{base}]")
}

/// One frame of a location: a function and a line in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Frame {
    pub func: FuncId,
    pub line: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub address: u64,
    pub mapping: Option<MapId>,
    /// Range into [`Profile::frames`], innermost inlined frame first. Empty when the
    /// location is unsymbolized.
    pub frames_start: u32,
    pub frames_end: u32,
}

/// A sample label: `key` is either a string (`str`) or a number (`num`, `unit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label {
    pub key: StrId,
    pub str: StrId,
    pub num: i64,
    pub unit: StrId,
}

pub mod goroutine;
mod samples;

pub use samples::{
    read_varint, stack_hash, Cursor, SampleRef, Samples, SamplesBuilder, Stack, StackError,
    StackIter,
};

/// Which wire format a profile was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    Proto,
    /// Go's `heap profile: ...` text (`/debug/pprof/heap?debug=1`, pre-Go 1.9 heap files).
    LegacyHeapText,
    /// Go's `goroutine profile: total N` text (`/debug/pprof/goroutine?debug=1`).
    LegacyGoroutineText,
}

/// What a profile measures, decided from its sample and period types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Go heap profile (`/debug/pprof/heap`): four sample types, no default.
    Heap,
    /// Go allocs profile (`/debug/pprof/allocs`): a heap profile whose default is alloc_space.
    Allocs,
    /// Any other memory profile (other languages' heap profilers).
    Memory,
    Cpu,
    Goroutine,
    /// Block or mutex contention.
    Contention,
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Heap => "heap",
            Kind::Allocs => "allocs",
            Kind::Memory => "memory",
            Kind::Cpu => "cpu",
            Kind::Goroutine => "goroutine",
            Kind::Contention => "contention",
            Kind::Other => "other",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Heap => "Go heap profile",
            Kind::Allocs => "Go allocs profile",
            Kind::Memory => "memory profile",
            Kind::Cpu => "CPU profile",
            Kind::Goroutine => "goroutine profile",
            Kind::Contention => "block/mutex contention profile",
            Kind::Other => "profile",
        }
    }

    /// Heap-like: values are objects and bytes allocated or in use.
    pub fn is_memory(self) -> bool {
        matches!(self, Kind::Heap | Kind::Allocs | Kind::Memory)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded, validated profile. See the module docs for the representation.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub strings: Strings,
    pub sample_types: Vec<ValueType>,
    /// Index into `sample_types` of the file's `default_sample_type`, when it names one.
    pub default_sample_type: Option<usize>,
    pub period_type: Option<ValueType>,
    pub period: i64,
    pub time_nanos: i64,
    pub duration_nanos: i64,
    pub comments: Vec<StrId>,
    pub mappings: Vec<Mapping>,
    pub functions: Vec<Function>,
    pub locations: Vec<Location>,
    pub frames: Vec<Frame>,
    pub samples: Samples,
    pub format: Option<SourceFormat>,
}

impl Profile {
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    pub fn frames(&self, loc: LocId) -> &[Frame] {
        let l = &self.locations[loc.0 as usize];
        &self.frames[l.frames_start as usize..l.frames_end as usize]
    }

    pub fn function(&self, id: FuncId) -> &Function {
        &self.functions[id.0 as usize]
    }

    pub fn func_name(&self, id: FuncId) -> &str {
        self.str(self.functions[id.0 as usize].name)
    }

    pub fn sample_type_name(&self, i: usize) -> &str {
        self.str(self.sample_types[i].ty)
    }

    pub fn sample_type_unit(&self, i: usize) -> &str {
        self.str(self.sample_types[i].unit)
    }

    /// Index of the sample type called `name` (pprof's `-sample_index` also accepts a number).
    pub fn sample_type_index(&self, name: &str) -> Option<usize> {
        if let Some(i) = (0..self.sample_types.len()).find(|&i| self.sample_type_name(i) == name) {
            return Some(i);
        }
        name.parse::<usize>()
            .ok()
            .filter(|&i| i < self.sample_types.len())
    }

    /// Exact total of every sample type. `validate` guarantees each fits in an i64.
    pub fn totals(&self) -> Vec<i64> {
        self.sums().into_iter().map(|s| s as i64).collect()
    }

    /// Exact sums of every sample type.
    fn sums(&self) -> Vec<i128> {
        self.samples.sums().to_vec()
    }

    /// What the profile measures, from its sample types and period type.
    pub fn kind(&self) -> Kind {
        let names: Vec<&str> = (0..self.sample_types.len())
            .map(|i| self.sample_type_name(i))
            .collect();
        let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
        let period = self
            .period_type
            .map(|p| self.str(p.ty).to_ascii_lowercase());
        if has("alloc_space") && has("inuse_space") {
            let default = self.default_sample_type.map(|i| names[i]);
            return if default == Some("alloc_space") || default == Some("alloc_objects") {
                Kind::Allocs
            } else {
                Kind::Heap
            };
        }
        if has("inuse_space") || has("alloc_space") || has("alloc_size") || has("space") {
            return Kind::Memory;
        }
        if has("goroutine") || has("goroutines") {
            return Kind::Goroutine;
        }
        if has("contentions") || has("delay") {
            return Kind::Contention;
        }
        if has("cpu") || period.as_deref() == Some("cpu") {
            return Kind::Cpu;
        }
        Kind::Other
    }

    /// Checks the invariants in the module docs. Errors name the field and the offending id.
    pub fn validate(&self) -> Result<()> {
        let ns = self.strings.len();
        let check_str = |id: StrId, what: &str| -> Result<()> {
            if id.0 as usize >= ns {
                bail!(
                    "{what} refers to string {} but the string table has {ns} entries",
                    id.0
                );
            }
            Ok(())
        };
        for (i, vt) in self.sample_types.iter().enumerate() {
            check_str(vt.ty, &format!("sample_type[{i}].type"))?;
            check_str(vt.unit, &format!("sample_type[{i}].unit"))?;
        }
        for (i, f) in self.functions.iter().enumerate() {
            check_str(f.name, &format!("function #{i} name"))?;
            check_str(f.filename, &format!("function #{i} filename"))?;
        }
        for (i, l) in self.locations.iter().enumerate() {
            if l.frames_start > l.frames_end || l.frames_end as usize > self.frames.len() {
                bail!("location #{i} has an invalid frame range");
            }
            if let Some(m) = l.mapping {
                if m.0 as usize >= self.mappings.len() {
                    bail!("location #{i} refers to missing mapping #{}", m.0);
                }
            }
        }
        for f in &self.frames {
            if f.func.0 as usize >= self.functions.len() {
                bail!("a location line refers to missing function #{}", f.func.0);
            }
        }
        let s = &self.samples;
        if s.width() != self.sample_types.len() {
            bail!(
                "samples have {} values each but there are {} sample types",
                s.width(),
                self.sample_types.len()
            );
        }
        let nl = self.locations.len();
        // Stored values are `LocId + 1`: for a file with Go's dense ids 1..=n, the file's id.
        if let Some((k, v)) = s.find_bad_location(nl) {
            let index = s.first_sample(|r| r.stack == k).unwrap_or(0);
            bail!("sample #{index} refers to missing location id {v}");
        }
        for k in 0..s.label_set_count() {
            for l in s.labels(k as u32) {
                check_str(l.key, "a sample label key")?;
                check_str(l.str, "a sample label value")?;
                check_str(l.unit, "a sample label unit")?;
            }
        }
        let sums = self.sums();
        for (i, sum) in sums.iter().enumerate() {
            if i64::try_from(*sum).is_err() {
                bail!(
                    "the sum of sample values for {} overflows 64 bits ({sum})",
                    self.sample_type_name(i)
                );
            }
        }
        Ok(())
    }
}

impl Profile {
    /// Keeps only the samples for which `keep` is true (pprof's -focus/-ignore), in order.
    pub fn retain_samples(&mut self, keep: impl FnMut(&SampleRef<'_>) -> bool) {
        self.samples.retain(keep);
    }

    /// Per location: does any of its frames' function name or file name match `re`? This is
    /// pprof's matching rule for -focus, -ignore and -show.
    pub fn locations_matching(&self, re: &regex::Regex) -> Vec<bool> {
        (0..self.locations.len())
            .map(|l| {
                self.frames(LocId(l as u32)).iter().any(|f| {
                    let func = self.function(f.func);
                    re.is_match(self.str(func.name)) || re.is_match(self.str(func.filename))
                })
            })
            .collect()
    }
}

/// Builds a [`Profile`] while re-interning strings and deduplicating functions and locations:
/// used by the legacy text parsers and by [`merge`].
#[derive(Default)]
pub struct Builder {
    pub profile: Profile,
    funcs: HashMap<(StrId, StrId, StrId), FuncId>,
}

impl Builder {
    pub fn intern(&mut self, s: &str) -> StrId {
        self.profile.strings.intern(s)
    }

    pub fn function(
        &mut self,
        name: &str,
        system_name: &str,
        filename: &str,
        start_line: i64,
    ) -> FuncId {
        let key = (
            self.intern(name),
            self.intern(system_name),
            self.intern(filename),
        );
        if let Some(&id) = self.funcs.get(&key) {
            return id;
        }
        let id = FuncId(self.profile.functions.len() as u32);
        self.profile.functions.push(Function {
            name: key.0,
            system_name: key.1,
            filename: key.2,
            start_line,
        });
        self.funcs.insert(key, id);
        id
    }

    /// Adds a mapping of `filename` over [start, limit).
    pub fn mapping(
        &mut self,
        start: u64,
        limit: u64,
        offset: u64,
        filename: &str,
        build_id: &str,
    ) -> MapId {
        let m = Mapping {
            memory_start: start,
            memory_limit: limit,
            file_offset: offset,
            filename: self.intern(filename),
            build_id: self.intern(build_id),
            label: self.intern(&mapping_label(filename)),
        };
        self.profile.mappings.push(m);
        MapId(self.profile.mappings.len() as u32 - 1)
    }

    /// Adds a location with the given frames (innermost first).
    pub fn location(&mut self, address: u64, mapping: Option<MapId>, frames: &[Frame]) -> LocId {
        let p = &mut self.profile;
        let start = p.frames.len() as u32;
        p.frames.extend_from_slice(frames);
        let id = LocId(p.locations.len() as u32);
        p.locations.push(Location {
            address,
            mapping,
            frames_start: start,
            frames_end: p.frames.len() as u32,
        });
        id
    }
}

/// `new - base`, as `go tool pprof -base` does: the base's samples are merged in with negated
/// values, so what both have cancels and the result is what happened in between. The
/// duration becomes the time between the two collections when both times are known.
pub fn subtract(new: Profile, mut base: Profile) -> Result<Profile> {
    base.samples
        .negate()
        .map_err(|e| anyhow::anyhow!("--base: {e}"))?;
    let (t_new, t_base, d_new) = (new.time_nanos, base.time_nanos, new.duration_nanos);
    let mut out = merge(vec![new, base])?;
    out.time_nanos = t_new;
    out.duration_nanos = if t_new > t_base && t_base > 0 {
        t_new - t_base
    } else {
        d_new
    };
    Ok(out)
}

/// Two inputs of different sample types: `index` is the input (0-based) that differs from
/// the first; the caller names both (`source::load` knows the file names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeMismatch {
    pub index: usize,
    /// Its sample types, `type/unit,...`.
    pub got: String,
    /// The first input's.
    pub want: String,
}

impl std::fmt::Display for MergeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot merge profile #{} (sample types {}) with profile #1 (sample types {})",
            self.index + 1,
            self.got,
            self.want
        )
    }
}

impl std::error::Error for MergeMismatch {}

/// Merges profiles by summing samples, as `go tool pprof` does for several inputs.
/// Sample types must agree (same names and units, same order).
pub fn merge(profiles: Vec<Profile>) -> Result<Profile> {
    let mut iter = profiles.into_iter();
    let Some(first) = iter.next() else {
        bail!("no profiles to merge")
    };
    let rest: Vec<Profile> = iter.collect();
    if rest.is_empty() {
        return Ok(first);
    }
    let first_width = first.samples.width();
    let type_names = |p: &Profile| -> Vec<(String, String)> {
        p.sample_types
            .iter()
            .map(|t| (p.str(t.ty).to_string(), p.str(t.unit).to_string()))
            .collect()
    };
    let want = type_names(&first);
    for (i, p) in rest.iter().enumerate() {
        let got = type_names(p);
        if got != want {
            let show = |v: &[(String, String)]| {
                v.iter()
                    .map(|(t, u)| format!("{t}/{u}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(MergeMismatch {
                index: i + 1,
                got: show(&got),
                want: show(&want),
            }
            .into());
        }
    }
    let mut b = Builder::default();
    let mut samples = SamplesBuilder::new(first_width);
    let mut locs: HashMap<(u64, Vec<Frame>, Option<StrId>), LocId> = HashMap::new();
    let mut out_stack = Vec::new();
    let mut out_labels = Vec::new();
    let mut frames = Vec::new();
    let all: Vec<Profile> = std::iter::once(first).chain(rest).collect();
    for p in &all {
        let st = |b: &mut Builder, id: StrId| b.intern(p.str(id));
        if b.profile.sample_types.is_empty() {
            let types: Vec<ValueType> = p
                .sample_types
                .iter()
                .map(|t| ValueType {
                    ty: st(&mut b, t.ty),
                    unit: st(&mut b, t.unit),
                })
                .collect();
            b.profile.sample_types = types;
            b.profile.default_sample_type = p.default_sample_type;
            b.profile.period_type = p.period_type.map(|t| ValueType {
                ty: st(&mut b, t.ty),
                unit: st(&mut b, t.unit),
            });
            b.profile.period = p.period;
            b.profile.time_nanos = p.time_nanos;
            b.profile.format = p.format;
        }
        b.profile.duration_nanos = b.profile.duration_nanos.saturating_add(p.duration_nanos);
        if p.time_nanos != 0 && (b.profile.time_nanos == 0 || p.time_nanos < b.profile.time_nanos) {
            b.profile.time_nanos = p.time_nanos;
        }
        let func_map: Vec<FuncId> = p
            .functions
            .iter()
            .map(|f| {
                b.function(
                    p.str(f.name),
                    p.str(f.system_name),
                    p.str(f.filename),
                    f.start_line,
                )
            })
            .collect();
        let map_map: Vec<MapId> = p
            .mappings
            .iter()
            .map(|m| {
                b.mapping(
                    m.memory_start,
                    m.memory_limit,
                    m.file_offset,
                    p.str(m.filename),
                    p.str(m.build_id),
                )
            })
            .collect();
        let mut loc_map = Vec::with_capacity(p.locations.len());
        for (i, _) in p.locations.iter().enumerate() {
            frames.clear();
            frames.extend(p.frames(LocId(i as u32)).iter().map(|f| Frame {
                func: func_map[f.func.0 as usize],
                line: f.line,
            }));
            let addr = p.locations[i].address;
            let mapping = p.locations[i].mapping.map(|m| map_map[m.0 as usize]);
            // Locations are shared across inputs only when symbolized identically; addresses
            // of different binaries are not comparable.
            let key = (
                if frames.is_empty() { addr } else { 0 },
                frames.clone(),
                mapping.map(|m| b.profile.mappings[m.0 as usize].filename),
            );
            let id = match locs.get(&key) {
                Some(&id) => id,
                None => {
                    let id = b.location(addr, mapping, &frames);
                    locs.insert(key, id);
                    id
                }
            };
            loc_map.push(id);
        }
        // Stacks and label sets are translated once each, then every row refers to them.
        let stack_map: Vec<u32> = (0..p.samples.stack_count() as u32)
            .map(|k| {
                out_stack.clear();
                out_stack.extend(p.samples.stack(k).iter().map(|l| loc_map[l.0 as usize]));
                samples.stack(&out_stack)
            })
            .collect();
        let label_map: Vec<u32> = (0..p.samples.label_set_count() as u32)
            .map(|k| {
                out_labels.clear();
                for l in p.samples.labels(k) {
                    out_labels.push(Label {
                        key: st(&mut b, l.key),
                        str: st(&mut b, l.str),
                        num: l.num,
                        unit: st(&mut b, l.unit),
                    });
                }
                samples.label_set(&out_labels)
            })
            .collect();
        let mut c = p.samples.cursor();
        while let Some(s) = c.next() {
            samples.row(
                stack_map[s.stack as usize],
                label_map[s.labels as usize],
                s.values,
            );
        }
    }
    samples.check_size()?;
    b.profile.samples = samples.finish();
    let merged = b.profile;
    merged.validate()?;
    Ok(merged)
}
