//! The typed model of a line (issue 17): every expression of the user's line that can
//! allocate, as `goscan` (the Go program heapdoc builds and runs for `--explain`) found it with
//! go/types, and the split of the line's bytes among them by object size.
//!
//! Go keys its heap buckets by stack and object size and writes the size as the `bytes`
//! numeric label of every heap sample, so a line's bytes come in groups of one size each. A
//! boxed `int64` is a 16-byte tiny block, a boxed string 16 bytes, a `&User{}` its type's
//! size class, a growing `[]T` the size classes of its doubling capacities, a map its
//! groups or buckets; a concatenation or a `make([]T, n)` can have any size. Each size goes
//! to the expressions that can have it, preferring an exact size over a predicted series
//! over "any size"; when several causes remain, the size's bytes are shared among them and
//! the part says `mixed`.

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::CauseId;

/// One allocating expression of a Go source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedExpr {
    pub col: u32,
    /// goscan's kind: box, addr, new, composite, composite-map, make-slice, make-map,
    /// make-chan, append, append-copy, concat, conv-string, conv-bytes, funclit,
    /// method-value, go, map-assign.
    pub kind: String,
    /// The static type, package-qualified by name (`[]string`, `main.User`).
    pub ty: String,
    /// The object's size in bytes (box, addr, new, funclit, method-value; a map's key size),
    /// -1 when it depends on run-time values.
    pub size: i64,
    /// The element size of a slice, the value size of a map.
    pub elem: i64,
    /// Whether the object holds pointers (Go's tiny allocator takes only pointer-free
    /// objects under 16 bytes).
    pub ptrs: bool,
    /// For a boxing: the function the value is passed to (`fmt.Sprintf`,
    /// `(*log.Logger).Printf`).
    pub callee: String,
}

#[derive(Deserialize)]
struct Line {
    f: String,
    l: i64,
    c: u32,
    k: String,
    #[serde(default)]
    t: String,
    s: i64,
    e: i64,
    p: bool,
    #[serde(default)]
    callee: String,
}

/// Typed expressions by file and line.
#[derive(Clone, Debug, Default)]
pub struct TypedIndex {
    pub files: HashMap<String, HashMap<i64, Vec<TypedExpr>>>,
}

impl TypedIndex {
    /// Reads goscan's output: one JSON object per line.
    pub fn add_jsonl(&mut self, text: &str, origin: &str) -> Result<()> {
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let e: Line = serde_json::from_str(l)
                .with_context(|| format!("{origin}: line {}: not a goscan record", i + 1))?;
            let exprs = self.files.entry(e.f).or_default().entry(e.l).or_default();
            let x = TypedExpr {
                col: e.c,
                kind: e.k,
                ty: e.t,
                size: e.s,
                elem: e.e,
                ptrs: e.p,
                callee: e.callee,
            };
            if !exprs.contains(&x) {
                exprs.push(x);
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The expressions of `line` of the file the profile calls `path` (longest common path
    /// suffix, like the compiler's files; a tie matches nothing).
    pub fn exprs(&self, path: &str, line: i64) -> &[TypedExpr] {
        match super::escape::resolve_suffix(self.files.keys().map(String::as_str), path) {
            Some(f) => self
                .files
                .get(f)
                .and_then(|l| l.get(&line))
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            None => &[],
        }
    }
}

/// Go's malloc size classes (runtime/sizeclasses.go, unchanged since Go 1.13 but for 24 B in
/// 1.17... kept as the current table).
const SIZE_CLASSES: [i64; 67] = [
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352,
    384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
    2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// The bytes malloc hands out for a request of `n` bytes (`runtime.roundupsize`).
pub fn roundup(n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    if n <= 32768 {
        let i = SIZE_CLASSES.partition_point(|&c| c < n);
        return SIZE_CLASSES[i];
    }
    (n + 8191) / 8192 * 8192
}

/// The size the heap profile records for one object of `n` bytes: pointer-free objects under
/// 16 bytes share 16-byte tiny blocks; since Go 1.22 small objects with pointers over 512
/// bytes carry an 8-byte malloc header.
pub fn recorded(n: i64, ptrs: bool) -> i64 {
    recorded_in(n, ptrs, true)
}

/// [`recorded`] for a runtime with (`header`) or without (Go 1.21 and older) malloc headers.
fn recorded_in(n: i64, ptrs: bool, header: bool) -> i64 {
    if n <= 0 {
        0
    } else if !ptrs && n < 16 {
        16
    } else if header && ptrs && n > 512 && n <= 32768 - 8 {
        roundup(n + 8)
    } else {
        roundup(n)
    }
}

/// The sizes `append` allocates for a slice of `elem`-byte elements grown one element at a
/// time from empty (`runtime.growslice`'s capacity rule and size classes).
pub fn growth_sizes(elem: i64, ptrs: bool) -> Vec<i64> {
    let mut out = Vec::new();
    if elem <= 0 {
        return out;
    }
    for header in [true, false] {
        growth_series(elem, ptrs, header, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn growth_series(elem: i64, ptrs: bool, header: bool, out: &mut Vec<i64>) {
    let mut cap: i64 = 0;
    for _ in 0..200 {
        let needed = cap + 1;
        let double = cap * 2;
        let mut newcap = if needed > double {
            needed
        } else if cap < 256 {
            double
        } else {
            let mut c = cap;
            while c < needed {
                c += (c + 3 * 256) >> 2;
            }
            c
        };
        newcap = newcap.max(needed);
        let Some(bytes) = newcap.checked_mul(elem) else {
            break;
        };
        if bytes > 1 << 36 {
            break;
        }
        let block = recorded_in(bytes, ptrs, header);
        let usable = if header && ptrs && bytes > 512 && bytes <= 32768 - 8 {
            roundup(bytes + 8) - 8
        } else {
            roundup(bytes)
        };
        out.push(block);
        cap = (usable / elem).max(needed);
    }
}

/// The sizes a map with `key`- and `value`-byte slots allocates as it grows: its directory
/// and tables (Go 1.24+), overflow bookkeeping (before), and its groups (Go 1.24+) or
/// buckets (before), doubling; `make` adds the 48-byte header.
pub fn map_sizes(key: i64, value: i64, made: bool) -> Vec<i64> {
    let mut out = vec![8, 24, 32];
    if made {
        out.push(48);
    }
    if key >= 0 && value >= 0 {
        let slots = 8 * (key + value);
        for group in [8 + slots, 16 + slots] {
            for shift in 0..20 {
                for header in [true, false] {
                    out.push(recorded_in(group << shift, true, header));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// What sizes an expression's objects can have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One size.
    Exact(i64),
    /// A series (slice growth, map growth), else any size.
    Series(Vec<i64>),
    /// Any size.
    Any,
}

/// An allocating expression with its cause, as the classifier splits a line among them.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub cause: CauseId,
    pub shape: Shape,
    /// Allocates once each time the line runs (not growth).
    pub once: bool,
    /// May allocate pointer-free objects under 16 bytes (tiny blocks blur object counts).
    pub tiny: bool,
    /// In words: `fmt.Sprintf's ...any boxes u.ID (int64)`.
    pub what: String,
}

/// The certainty of a part of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Confidence {
    /// Only this expression can allocate objects of this size.
    Certain,
    /// The best match; another expression of the line could also have this size.
    Likely,
    /// Several causes fit equally; the bytes are shared among them.
    Mixed,
}

impl Confidence {
    pub fn name(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
            Confidence::Mixed => "mixed",
        }
    }
}

/// One part of a site's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub cause: CauseId,
    pub value: i64,
    pub objects: i64,
    /// The object size (None: the profile has no `bytes` label).
    pub size: Option<i64>,
    pub confidence: Confidence,
    /// The expressions of this cause on the line, in words.
    pub what: String,
}

/// Which candidates take objects of `size` (None: unknown), with their share, and how sure.
fn assign(cands: &[Candidate], size: Option<i64>) -> (Vec<(usize, f64)>, Confidence) {
    let all: Vec<usize> = (0..cands.len()).collect();
    let tiers: Vec<Vec<usize>> = match size {
        None => vec![all.clone()],
        Some(s) => vec![
            all.iter()
                .copied()
                .filter(|&i| cands[i].shape == Shape::Exact(s))
                .collect(),
            all.iter()
                .copied()
                .filter(
                    |&i| matches!(&cands[i].shape, Shape::Series(v) if v.binary_search(&s).is_ok()),
                )
                .collect(),
            all.iter()
                .copied()
                .filter(|&i| cands[i].shape == Shape::Any)
                .collect(),
            all.iter()
                .copied()
                .filter(|&i| matches!(cands[i].shape, Shape::Series(_)))
                .collect(),
            all.clone(),
        ],
    };
    let Some((t, tier)) = tiers.iter().enumerate().find(|(_, t)| !t.is_empty()) else {
        return (Vec::new(), Confidence::Mixed);
    };
    let mut causes: Vec<CauseId> = tier.iter().map(|&i| cands[i].cause).collect();
    causes.sort();
    causes.dedup();
    if causes.len() == 1 {
        // Sure when no other expression could have this size at all.
        let hi = tiers.len().min(3);
        let others = tiers[(t + 1).min(hi)..hi]
            .iter()
            .flatten()
            .any(|&i| cands[i].cause != causes[0]);
        let conf = if size.is_some() && t < 3 && !others {
            Confidence::Certain
        } else {
            Confidence::Likely
        };
        let first = tier[0];
        return (vec![(first, 1.0)], conf);
    }
    // One representative per cause, equal shares.
    let share = 1.0 / causes.len() as f64;
    let picks = causes
        .iter()
        .map(|c| {
            (
                *tier
                    .iter()
                    .find(|&&i| cands[i].cause == *c)
                    .unwrap_or(&tier[0]),
                share,
            )
        })
        .collect();
    (picks, Confidence::Mixed)
}

/// Splits a site's bytes, given per object size (`groups`: size, value, objects), among its
/// line's candidates. Parts of one cause, size and confidence are merged.
pub fn split(cands: &[Candidate], groups: &[(Option<i64>, i64, i64)]) -> Vec<Part> {
    let mut parts: Vec<Part> = Vec::new();
    if cands.is_empty() {
        return parts;
    }
    let mut add = |cause: CauseId, what: &str, size, value: i64, objects: i64, conf| {
        if value == 0 && objects == 0 {
            return;
        }
        match parts
            .iter_mut()
            .find(|p| p.cause == cause && p.size == size && p.confidence == conf)
        {
            Some(p) => {
                p.value += value;
                p.objects += objects;
            }
            None => parts.push(Part {
                cause,
                value,
                objects,
                size,
                confidence: conf,
                what: what.to_string(),
            }),
        }
    };
    // Two expressions that each allocate once per execution of the line, one of a known
    // size and one of any size, different causes: both have as many objects as the line
    // ran, so the known size's objects beyond that count are the other's (tiny blocks can
    // hide a few short strings; the count is then a little low).
    let balance = balance_split(cands, groups);
    for &(size, value, objects) in groups {
        if let (Some((f, v, n)), Some(s)) = (&balance, size) {
            if cands[*f].shape == Shape::Exact(s) && objects > *n && *n > 0 {
                let fv = (value as i128 * *n as i128 / objects as i128) as i64;
                add(
                    cands[*f].cause,
                    &cands[*f].what,
                    size,
                    fv,
                    *n,
                    Confidence::Likely,
                );
                add(
                    cands[*v].cause,
                    &cands[*v].what,
                    size,
                    value - fv,
                    objects - n,
                    Confidence::Likely,
                );
                continue;
            }
        }
        let (picks, conf) = assign(cands, size);
        let mut left_v = value;
        let mut left_o = objects;
        for (k, (i, share)) in picks.iter().enumerate() {
            let (v, o) = if k + 1 == picks.len() {
                (left_v, left_o)
            } else {
                (
                    (value as f64 * share).round() as i64,
                    (objects as f64 * share).round() as i64,
                )
            };
            left_v -= v;
            left_o -= o;
            add(cands[*i].cause, &cands[*i].what, size, v, o, conf);
        }
    }
    parts.sort_by(|a, b| {
        a.size
            .cmp(&b.size)
            .then(b.value.unsigned_abs().cmp(&a.value.unsigned_abs()))
    });
    parts
}

/// For [`split`]: (the known-size candidate, the any-size one, objects per candidate).
fn balance_split(
    cands: &[Candidate],
    groups: &[(Option<i64>, i64, i64)],
) -> Option<(usize, usize, i64)> {
    if cands.len() != 2 || cands.iter().any(|c| !c.once) {
        return None;
    }
    let f = cands
        .iter()
        .position(|c| matches!(c.shape, Shape::Exact(_)))?;
    let v = 1 - f;
    if cands[v].shape != Shape::Any || cands[f].cause == cands[v].cause {
        return None;
    }
    if groups.iter().any(|(s, _, _)| s.is_none()) {
        return None;
    }
    let total: i64 = groups.iter().map(|g| g.2).sum();
    if total <= 0 || total % 2 != 0 {
        return None;
    }
    Some((f, v, total / 2))
}

/// The cause name of a goscan kind (a boxing's callee is decided by the caller with the
/// rules' stack patterns); None for kinds that name no heap cause.
pub fn kind_cause(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "box" => "interface-conversion",
        "addr" | "new" => "pointer-escape",
        "composite" | "make-slice" | "append-copy" => "slice-allocation",
        "composite-map" | "make-map" | "map-assign" => "map-growth",
        "append" => "slice-growth",
        "concat" => "string-building",
        "conv-string" | "conv-bytes" => "byte-string-conversion",
        "funclit" | "method-value" => "closure",
        "go" => "goroutine",
        _ => return None,
    })
}

/// The candidate for one expression with the given cause.
pub fn candidate(e: &TypedExpr, cause: CauseId) -> Candidate {
    let (shape, once, tiny) = match e.kind.as_str() {
        "box" | "addr" | "new" => {
            let r = recorded(e.size, e.ptrs);
            (Shape::Exact(r), true, !e.ptrs && e.size < 16)
        }
        "funclit" | "method-value" => (Shape::Exact(roundup(e.size)), true, false),
        "append" => (Shape::Series(growth_sizes(e.elem, e.ptrs)), false, !e.ptrs),
        "composite-map" | "make-map" | "map-assign" => (
            Shape::Series(map_sizes(e.size, e.elem, e.kind != "map-assign")),
            false,
            false,
        ),
        "concat" | "conv-string" | "conv-bytes" => (Shape::Any, true, true),
        _ => (Shape::Any, true, !e.ptrs),
    };
    let what = match e.kind.as_str() {
        "box" if !e.callee.is_empty() => format!("{} boxed into {}", e.ty, e.callee),
        "box" => format!("{} boxed into an interface", e.ty),
        "addr" => format!("&{}{{}} ({} B)", e.ty, e.size),
        "new" => format!("new({}) ({} B)", e.ty, e.size),
        "composite" | "composite-map" => format!("{} literal", e.ty),
        "make-slice" | "make-map" | "make-chan" => format!("make({})", e.ty),
        "append" => format!("append grows {}", e.ty),
        "append-copy" => format!("append copies into a new {}", e.ty),
        "concat" => "string concatenation".to_string(),
        "conv-string" => "string(...) conversion".to_string(),
        "conv-bytes" => format!("{}(string) conversion", e.ty),
        "funclit" => format!("func literal ({} B closure)", e.size),
        "method-value" => format!("method value of {} ({} B closure)", e.ty, e.size),
        "go" => "go statement".to_string(),
        "map-assign" => format!("{} assignment (map growth)", e.ty),
        k => k.to_string(),
    };
    Candidate {
        cause,
        shape,
        once,
        tiny,
        what: format!("{what}, col {}", e.col),
    }
}

/// The pprof-style symbol of a go/types full function name: `(*log.Logger).Printf` ->
/// `log.(*Logger).Printf`, `(log/slog.Logger).X` -> `log/slog.Logger.X`.
pub fn symbol_name(full: &str) -> String {
    let Some(rest) = full.strip_prefix('(') else {
        return full.to_string();
    };
    let Some((recv, method)) = rest.split_once(")") else {
        return full.to_string();
    };
    let (star, recv) = match recv.strip_prefix('*') {
        Some(r) => ("*", r),
        None => ("", recv),
    };
    let slash = recv.rfind('/').map_or(0, |i| i + 1);
    let Some(dot) = recv[slash..].find('.').map(|d| d + slash) else {
        return full.to_string();
    };
    let (pkg, ty) = (&recv[..dot], &recv[dot + 1..]);
    if star.is_empty() {
        format!("{pkg}.{ty}{method}")
    } else {
        format!("{pkg}.(*{ty}){method}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_match_the_runtime() {
        assert_eq!(roundup(40), 48);
        assert_eq!(roundup(24), 24);
        assert_eq!(roundup(33), 48);
        assert_eq!(roundup(32769), 40960);
        assert_eq!(recorded(8, false), 16);
        assert_eq!(recorded(8, true), 8);
        assert_eq!(recorded(0, true), 0);
    }

    #[test]
    fn growth_of_a_string_slice_doubles_in_size_classes() {
        // []string from empty: caps 1, 2, 4, 8, ... (16 B each), what listKeys records.
        let g = growth_sizes(16, true);
        for s in [16, 32, 64, 128, 256, 512, 1152] {
            assert!(g.contains(&s), "{s} not in {g:?}");
        }
        assert!(!g.contains(&48));
        // []Event of 40-byte elements: 48, 80, 160, 320 (groupByTenant).
        let g = growth_sizes(40, true);
        for s in [48, 80, 160, 320] {
            assert!(g.contains(&s), "{s} not in {g:?}");
        }
        assert!(!g.contains(&352));
        // cap 16 is 640 B, 704 with the malloc header (Go 1.22+), 640 before.
        assert!(g.contains(&704) && g.contains(&640));
    }

    #[test]
    fn map_groups_are_predicted() {
        // map[string][]Event: 8 + 8*(16+24) = 328 -> 352, two groups 704.
        let m = map_sizes(16, 24, false);
        assert!(m.contains(&352) && m.contains(&704) && m.contains(&8) && m.contains(&32));
        // the header is make's, not an insert's
        assert!(!m.contains(&48) && map_sizes(16, 24, true).contains(&48));
        // map[string]int: 208, 416, 896.
        let m = map_sizes(16, 8, false);
        assert!(m.contains(&208) && m.contains(&416) && m.contains(&896));
        assert!(!m.contains(&16));
    }

    #[test]
    fn symbols_in_pprof_form() {
        assert_eq!(symbol_name("(*log.Logger).Printf"), "log.(*Logger).Printf");
        assert_eq!(
            symbol_name("(*log/slog.Logger).Info"),
            "log/slog.(*Logger).Info"
        );
        assert_eq!(symbol_name("fmt.Sprintf"), "fmt.Sprintf");
        assert_eq!(symbol_name("(a.b/c.T).M"), "a.b/c.T.M");
    }

    fn cand(cause: u16, shape: Shape, once: bool) -> Candidate {
        Candidate {
            cause: CauseId(cause),
            shape,
            once,
            tiny: false,
            what: String::new(),
        }
    }

    #[test]
    fn sizes_pick_the_expression() {
        // boxed string (16) and a growing []string: 16 B goes to the boxing (likely: a
        // cap-1 slice is 16 B too), 32 B and up to the growth.
        let c = [
            cand(0, Shape::Exact(16), true),
            cand(1, Shape::Series(growth_sizes(16, true)), false),
        ];
        let parts = split(&c, &[(Some(16), 1600, 100), (Some(32), 320, 10)]);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            (parts[0].cause, parts[0].value, parts[0].confidence),
            (CauseId(0), 1600, Confidence::Likely)
        );
        assert_eq!(
            (parts[1].cause, parts[1].value, parts[1].confidence),
            (CauseId(1), 320, Confidence::Certain)
        );
        // Two any-size causes: shared, marked mixed.
        let c = [cand(0, Shape::Any, true), cand(1, Shape::Any, true)];
        let parts = split(&c, &[(Some(64), 640, 10)]);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.confidence == Confidence::Mixed));
        assert_eq!(parts.iter().map(|p| p.value).sum::<i64>(), 640);
    }

    #[test]
    fn once_per_run_balances_counts() {
        // &User{} (48) and an email concatenation: 2560 runs; at 48 B 3680 objects, so
        // 1120 of them are emails.
        let c = [cand(0, Shape::Exact(48), true), cand(1, Shape::Any, true)];
        let parts = split(
            &c,
            &[(Some(32), 1440 * 32, 1440), (Some(48), 3680 * 48, 3680)],
        );
        let at48: Vec<_> = parts.iter().filter(|p| p.size == Some(48)).collect();
        assert_eq!(at48.len(), 2);
        let user = at48.iter().find(|p| p.cause == CauseId(0)).unwrap();
        assert_eq!((user.objects, user.value), (2560, 2560 * 48));
    }
}
