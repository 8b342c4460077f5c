//! Synthetic Go heap profiles for benchmarks and allocation tests (issue 9), so `cargo bench`
//! runs without a Go toolchain, plus the shape statistics used to check that a synthetic profile
//! looks like a real one (`cargo run --release --example shape -- FILE...` prints them).
//!
//! [`Shape::ddgo_big_heap`] is fitted to `/work/shared/corpus/ddgo_big_heap.pb` (a real service's
//! heap profile); [`Shape::bigheap`] to the profiles of `samples/src/bigheap`
//! (`scripts/gen-large-profile.sh`). The writer emits fields in the Go runtime's order
//! (samples before the tables they refer to, string table last).

use std::collections::HashSet;
use std::fmt;

use heapdoc::model::{LocId, Profile};

/// Shape statistics of a decoded profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeStats {
    pub raw_bytes: usize,
    pub samples: usize,
    pub locations: usize,
    pub functions: usize,
    pub strings: usize,
    /// Total bytes of the distinct strings.
    pub string_bytes: usize,
    pub distinct_stacks: usize,
    /// Locations per sample.
    pub depth_mean: f64,
    pub depth_p50: usize,
    pub depth_p90: usize,
    pub depth_p99: usize,
    pub depth_max: usize,
    /// Lines (frames) per location, > 1 when functions were inlined.
    pub lines_per_location: f64,
    /// Fraction of locations with inlined frames.
    pub inlined_locations: f64,
    pub labels_per_sample: f64,
}

impl ShapeStats {
    pub fn of(p: &Profile, raw_bytes: usize) -> ShapeStats {
        let n = p.samples.len();
        let mut depths: Vec<usize> = Vec::with_capacity(n);
        let mut stacks: HashSet<Vec<LocId>> = HashSet::new();
        let mut labels = 0usize;
        let mut cur = p.samples.cursor();
        while let Some(s) = cur.next() {
            let stack = p.samples.stack(s.stack);
            depths.push(stack.len());
            stacks.insert(stack.iter().collect());
            labels += p.samples.labels(s.labels).len();
        }
        depths.sort_unstable();
        let pct = |q: f64| -> usize {
            if depths.is_empty() {
                0
            } else {
                depths[((depths.len() - 1) as f64 * q).round() as usize]
            }
        };
        let nl = p.locations.len().max(1) as f64;
        let inlined = p
            .locations
            .iter()
            .filter(|l| l.frames_end - l.frames_start > 1)
            .count();
        let strings = p.strings.len();
        let string_bytes = (0..strings)
            .map(|i| p.strings.get(heapdoc::model::StrId(i as u32)).len())
            .sum();
        ShapeStats {
            raw_bytes,
            samples: n,
            locations: p.locations.len(),
            functions: p.functions.len(),
            strings,
            string_bytes,
            distinct_stacks: stacks.len(),
            depth_mean: depths.iter().sum::<usize>() as f64 / n.max(1) as f64,
            depth_p50: pct(0.5),
            depth_p90: pct(0.9),
            depth_p99: pct(0.99),
            depth_max: depths.last().copied().unwrap_or(0),
            lines_per_location: p.frames.len() as f64 / nl,
            inlined_locations: inlined as f64 / nl,
            labels_per_sample: labels as f64 / n.max(1) as f64,
        }
    }
}

impl fmt::Display for ShapeStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "raw_bytes={} samples={} bytes/sample={:.1} locations={} functions={} strings={} string_bytes={} \
             distinct_stacks={} ({:.1}% of samples) depth mean={:.1} p50={} p90={} p99={} max={} \
             lines/location={:.2} inlined_locations={:.1}% labels/sample={:.2}",
            self.raw_bytes,
            self.samples,
            self.raw_bytes as f64 / self.samples.max(1) as f64,
            self.locations,
            self.functions,
            self.strings,
            self.string_bytes,
            self.distinct_stacks,
            100.0 * self.distinct_stacks as f64 / self.samples.max(1) as f64,
            self.depth_mean,
            self.depth_p50,
            self.depth_p90,
            self.depth_p99,
            self.depth_max,
            self.lines_per_location,
            100.0 * self.inlined_locations,
            self.labels_per_sample,
        )
    }
}

/// The parameters of a synthetic Go heap profile.
#[derive(Clone, Debug)]
pub struct Shape {
    pub samples: usize,
    pub locations: usize,
    pub functions: usize,
    /// Distinct stacks as a fraction of samples (Go buckets by stack *and* size, so a stack
    /// can have several samples).
    pub distinct_stack_fraction: f64,
    /// Stack depth: uniform in `depth_min..=depth_max`, except a `short_stacks` fraction
    /// uniform in the lowest quarter of that range.
    pub depth_min: usize,
    pub depth_max: usize,
    pub short_stacks: f64,
    /// Fraction of locations with inlined frames (2 or 3 lines).
    pub inlined_locations: f64,
    /// Mean length of a function name (package path included).
    pub name_len: usize,
    pub seed: u64,
}

impl Shape {
    /// Fitted to ddgo_big_heap.pb (examples/shape): 5676 samples, 2040 locations, 1181
    /// functions, 37% distinct stacks, depth mean 9.7 p90 15, 13% inlined locations,
    /// ~28-byte strings.
    pub fn ddgo_big_heap() -> Shape {
        Shape {
            samples: 5676,
            locations: 2040,
            functions: 1181,
            distinct_stack_fraction: 0.37,
            depth_min: 4,
            depth_max: 17,
            short_stacks: 0.3,
            inlined_locations: 0.13,
            name_len: 24,
            seed: 1,
        }
    }

    /// Fitted to samples/src/bigheap's profiles (scripts/gen-large-profile.sh; 20 MB: 373079
    /// samples, 440 locations, 196 functions, 61% distinct stacks, depth mean 23.5 max 43, 25%
    /// inlined locations). The 100 MB profile has ~2.1M samples.
    pub fn bigheap(samples: usize) -> Shape {
        Shape {
            samples,
            locations: 440,
            functions: 196,
            distinct_stack_fraction: 0.61,
            depth_min: 4,
            depth_max: 43,
            short_stacks: 0.0,
            inlined_locations: 0.25,
            name_len: 24,
            seed: 1,
        }
    }

    pub fn with_samples(mut self, samples: usize) -> Shape {
        self.samples = samples;
        self
    }

    /// The same distinct stacks (and tables) whatever the number of samples: `distinct`
    /// stacks, the samples after the first `distinct` repeating them.
    pub fn with_distinct_stacks(mut self, distinct: usize) -> Shape {
        self.distinct_stack_fraction = distinct as f64 / self.samples.max(1) as f64;
        self
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The same generator as a closure for tests: `rng(seed)(n)` is a pseudo-random number below
/// `n` (deterministic for a seed).
pub fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut r = Rng(seed | 1);
    move |n| r.next() % n.max(1)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u64, wire: u64) {
    varint(out, field << 3 | wire);
}

fn len_field(out: &mut Vec<u8>, field: u64, body: &[u8]) {
    key(out, field, 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn varint_field(out: &mut Vec<u8>, field: u64, v: u64) {
    if v != 0 {
        key(out, field, 0);
        varint(out, v);
    }
}

/// An uncompressed Go-style heap profile (profile.proto bytes) of the given shape.
pub fn synthesize(shape: &Shape) -> Vec<u8> {
    let mut rng = Rng(shape.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut strings: Vec<String> = vec![String::new()];
    let mut intern = |s: String| -> u64 {
        strings.push(s);
        strings.len() as u64 - 1
    };
    let types = [
        "alloc_objects",
        "alloc_space",
        "inuse_objects",
        "inuse_space",
    ];
    let units = ["count", "bytes"];
    let type_ids: Vec<u64> = types.iter().map(|t| intern(t.to_string())).collect();
    let unit_ids: Vec<u64> = units.iter().map(|u| intern(u.to_string())).collect();
    let space = intern("space".into());
    let bytes_key = intern("bytes".into());
    let bin = intern("/app/bin/service".into());

    let mut out = Vec::with_capacity(shape.samples * 96 + shape.locations * 64);
    let mut body = Vec::with_capacity(256);
    for (i, &t) in type_ids.iter().enumerate() {
        body.clear();
        varint_field(&mut body, 1, t);
        varint_field(&mut body, 2, unit_ids[i % 2]);
        len_field(&mut out, 1, &body);
    }

    // Stacks: each new stack shares a prefix (root side) with an earlier one, as real call
    // trees do, and extends it with random locations.
    let distinct = ((shape.samples as f64 * shape.distinct_stack_fraction) as usize).max(1);
    let nloc = shape.locations.max(1) as u64;
    let mut stacks: Vec<u32> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(distinct);
    let mut stack: Vec<u64> = Vec::new();
    for s in 0..distinct {
        let span = shape.depth_max.saturating_sub(shape.depth_min) + 1;
        // Uniform, with a short-stack bump as in service profiles.
        let depth = if (rng.below(1000) as f64) < shape.short_stacks * 1000.0 {
            shape.depth_min + rng.below(span / 4 + 1)
        } else {
            shape.depth_min + rng.below(span)
        };
        stack.clear();
        if s > 0 {
            let j = rng.below(s);
            let start = if j == 0 { 0 } else { ends[j - 1] };
            let other = &stacks[start..ends[j]];
            // Root side of the other stack (stored leaf first).
            let share = rng.below(depth.min(other.len()) + 1);
            stack.extend(other[other.len() - share..].iter().map(|&l| l as u64));
        }
        while stack.len() < depth {
            // Leaf-side frames: spread over all locations.
            stack.insert(0, 1 + rng.next() % nloc);
        }
        stacks.extend(stack.iter().map(|&l| l as u32));
        ends.push(stacks.len());
    }

    let mut locs = Vec::with_capacity(64);
    let mut vals = Vec::with_capacity(64);
    let mut label = Vec::with_capacity(16);
    for i in 0..shape.samples {
        let s = if i < distinct { i } else { rng.below(distinct) };
        let start = if s == 0 { 0 } else { ends[s - 1] };
        locs.clear();
        for &l in &stacks[start..ends[s]] {
            varint(&mut locs, l as u64);
        }
        let size = 8u64 << rng.below(10);
        let count = 1 + rng.below(200) as u64;
        let inuse = if rng.below(5) == 0 {
            rng.below(count as usize) as u64
        } else {
            0
        };
        vals.clear();
        for v in [count, count * size, inuse, inuse * size] {
            varint(&mut vals, v);
        }
        label.clear();
        varint_field(&mut label, 1, bytes_key);
        varint_field(&mut label, 3, size);
        body.clear();
        len_field(&mut body, 1, &locs);
        len_field(&mut body, 2, &vals);
        len_field(&mut body, 3, &label);
        len_field(&mut out, 2, &body);
    }

    // One mapping, like a static Go binary.
    body.clear();
    varint_field(&mut body, 1, 1);
    varint_field(&mut body, 2, 0x400000);
    varint_field(&mut body, 3, 0x400000 + (nloc << 6) + 0x1000);
    varint_field(&mut body, 5, bin);
    varint_field(&mut body, 7, 1);
    varint_field(&mut body, 8, 1);
    varint_field(&mut body, 9, 1);
    varint_field(&mut body, 10, 1);
    len_field(&mut out, 3, &body);

    // The tables come from their own generator, so profiles that differ only in the number of
    // samples have the same tables.
    let mut rng = Rng(shape.seed.wrapping_mul(0xd1b5_4a32_d192_ed03) | 1);
    let nfunc = shape.functions.max(1) as u64;
    let mut line = Vec::with_capacity(16);
    for l in 1..=nloc {
        body.clear();
        varint_field(&mut body, 1, l);
        varint_field(&mut body, 2, 1);
        varint_field(&mut body, 3, 0x400000 + (l << 6));
        // Go's inlined locations here are one call deep: two lines.
        let lines = if (rng.below(1000) as f64) < shape.inlined_locations * 1000.0 {
            2
        } else {
            1
        };
        for _ in 0..lines {
            line.clear();
            varint_field(&mut line, 1, 1 + rng.next() % nfunc);
            varint_field(&mut line, 2, 10 + rng.below(900) as u64);
            len_field(&mut body, 4, &line);
        }
        len_field(&mut out, 4, &body);
    }

    // Function names like a service's: a package path, a receiver and a method.
    let base = strings.len() as u64;
    // One function in eight is a standard library API, so stacks have library frames between
    // the allocation and the user's code, as real services' do (classify's stack evidence).
    const LIBRARY: [&str; 8] = [
        "fmt.Sprintf",
        "encoding/json.(*decodeState).object",
        "strconv.Itoa",
        "regexp.(*Regexp).doExecute",
        "bytes.(*Buffer).grow",
        "compress/flate.(*compressor).init",
        "reflect.New",
        "strings.(*Builder).grow",
    ];
    for f in 0..nfunc {
        let pkg = f % 97;
        let pad = "x".repeat(shape.name_len.saturating_sub(24) / 2 + (f % 7) as usize);
        if f % 8 == 0 {
            strings.push(LIBRARY[(f / 8 % 8) as usize].to_string());
            strings.push(format!("/usr/lib/go/src/lib{pkg}/{pad}{f}.go"));
        } else {
            strings.push(format!("example.com/svc/p{pkg}{pad}.(*T{f}).M{pad}"));
            strings.push(format!("/src/svc/p{pkg}/{pad}{f}.go"));
        }
    }
    for f in 0..nfunc {
        body.clear();
        varint_field(&mut body, 1, f + 1);
        varint_field(&mut body, 2, base + 2 * f);
        varint_field(&mut body, 3, base + 2 * f);
        varint_field(&mut body, 4, base + 2 * f + 1);
        varint_field(&mut body, 5, 1 + rng.below(500) as u64);
        len_field(&mut out, 5, &body);
    }
    for s in &strings {
        len_field(&mut out, 6, s.as_bytes());
    }
    varint_field(&mut out, 9, 1_700_000_000_000_000_000);
    body.clear();
    varint_field(&mut body, 1, space);
    varint_field(&mut body, 2, unit_ids[1]);
    len_field(&mut out, 11, &body);
    varint_field(&mut out, 12, 512 * 1024);
    out
}

/// gzip-compresses `data` at the default level, as Go's profile writer does.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}
