//! Go's legacy text profiles, as `go tool pprof` reads them:
//!
//! - heap: `heap profile: N: B [AN: AB] @ heap/RATE2`, one record per line
//!   (`inuse_count: inuse_bytes [alloc_count: alloc_bytes] @ 0xpc ...`), written by
//!   `/debug/pprof/heap?debug=1` and by Go before 1.9 (also tcmalloc's `heapz_v2`, same syntax);
//! - goroutine: `goroutine profile: total N`, records `count @ 0xpc ...`
//!   (`/debug/pprof/goroutine?debug=1`).
//!
//! Go follows each record with `#\t0xPC\tname+0xOFF\tfile:line` lines. Unlike `go tool pprof`
//! (which needs the binary and shows `<unknown>`), heapdoc symbolizes from those lines, so a
//! text dump is useful on its own. Values are unsampled exactly as pprof does
//! (`scaleHeapSample`), so totals equal pprof's.

use std::collections::{HashMap, HashSet};

use anyhow::{anyhow, bail, Result};

use super::Limits;
use crate::model::{Builder, Frame, Label, LocId, Profile, SourceFormat, ValueType};

/// Name given to an address Go's text dump did not symbolize because it is a runtime frame.
pub const ELIDED_RUNTIME: &str = "runtime.(elided)";

/// True when `buf` starts like one of the legacy text formats this module parses.
pub fn sniff(buf: &[u8]) -> bool {
    let head = trim_start(buf);
    head.starts_with(b"heap profile:") || head.starts_with(b"goroutine profile:")
}

/// `buf` without a UTF-8 byte order mark and leading whitespace (blank lines).
fn trim_start(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(buf);
    let n = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &buf[n..]
}

/// Bytes the expanded `$variable` mapping paths of one file may take beyond the file's size.
const MAP_PATHS_BUDGET: usize = 16 << 20;

/// The records before symbolization, stored flat: about 60 bytes a one-frame record, where
/// a struct of three `Vec`s per record took ~190 (issue 16, finding 8).
#[derive(Default)]
struct Records {
    /// Every record's values, `width` each.
    values: Vec<i64>,
    width: usize,
    /// Every record's addresses (already minus one), record `i`'s are
    /// `addrs[addr_end[i-1]..addr_end[i]]`.
    addrs: Vec<u64>,
    addr_end: Vec<usize>,
    /// Per record, the heap profile's block size (`bytes` label); empty for goroutines.
    blocksize: Vec<i64>,
    /// `# labels:` lines, by record index (rare).
    labels: Vec<(usize, Vec<(String, String)>)>,
}

impl Records {
    fn len(&self) -> usize {
        self.addr_end.len()
    }

    fn addrs(&self, i: usize) -> &[u64] {
        let start = if i == 0 { 0 } else { self.addr_end[i - 1] };
        &self.addrs[start..self.addr_end[i]]
    }
}

/// Parses a legacy text profile whose first line [`sniff`] recognized. `limits` bounds line
/// length, stack depth and the number of records, each refused with an error naming the line.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Profile> {
    let text = std::str::from_utf8(buf).map_err(|e| {
        anyhow!(
            "legacy text profile is not valid UTF-8 at byte offset {}",
            e.valid_up_to()
        )
    })?;
    let mut offset = 0usize;
    for (n, line) in text.split('\n').enumerate() {
        if line.len() > limits.max_line_len {
            bail!(
                "line {} (byte offset {offset}) is {} bytes long, over the limit of {} bytes",
                n + 1,
                line.len(),
                limits.max_line_len
            );
        }
        offset += line.len() + 1;
    }
    // A byte order mark and blank lines before the header are skipped, as `sniff` does.
    let mut lines = text
        .lines()
        .enumerate()
        .skip_while(|(_, l)| l.trim_start_matches('\u{feff}').trim().is_empty())
        .peekable();
    let (_, header) = lines
        .next()
        .ok_or_else(|| anyhow!("empty legacy text profile"))?;
    let header = header.trim_start_matches('\u{feff}').trim();
    let mut b = Builder::default();
    let mut records = Records::default();
    // Symbols from `#` lines: address -> frames (innermost first).
    let mut symbols: HashMap<u64, Vec<(String, String, i64)>> = HashMap::new();
    let mut seen_symbols: HashSet<(u64, (String, String, i64))> = HashSet::new();
    // Executable mappings from a /proc/self/maps section (tcmalloc heap profiles).
    let mut maps: Vec<(u64, u64, u64, String)> = Vec::new();
    let format;
    let (mut scale_rate, mut include_alloc) = (0i64, false);

    if let Some(rest) = header.strip_prefix("heap profile:") {
        format = SourceFormat::LegacyHeapText;
        let (totals, sampling) = rest
            .split_once('@')
            .ok_or_else(|| anyhow!("line 1: heap profile header has no '@'"))?;
        let t = parse_counts(totals)
            .ok_or_else(|| anyhow!("line 1: malformed heap profile header counts"))?;
        let sampling = sampling.trim();
        let (name, rate) = match sampling.split_once('/') {
            Some((n, r)) => (
                n,
                r.trim()
                    .parse::<i64>()
                    .map_err(|_| anyhow!("line 1: bad sampling rate {r:?}"))?,
            ),
            None => (sampling, 0),
        };
        // pprof's parseHeapHeader: Go's `heap/R` writes twice the sampling period.
        let period = match name {
            "heap" => rate / 2,
            "heap_v2" | "heapz_v2" => rate,
            "heapprofile" => 1,
            other => bail!("line 1: unsupported heap profile sampling {other:?}"),
        };
        scale_rate = if name == "heapprofile" { 0 } else { period };
        include_alloc = (t.2 != t.0 && t.2 != 0) || (t.3 != t.1 && t.3 != 0);
        let types: &[(&str, &str)] = if include_alloc {
            &[
                ("alloc_objects", "count"),
                ("alloc_space", "bytes"),
                ("inuse_objects", "count"),
                ("inuse_space", "bytes"),
            ]
        } else {
            &[("objects", "count"), ("space", "bytes")]
        };
        for (t, u) in types {
            let vt = ValueType {
                ty: b.intern(t),
                unit: b.intern(u),
            };
            b.profile.sample_types.push(vt);
        }
        b.profile.period_type = Some(ValueType {
            ty: b.intern("space"),
            unit: b.intern("bytes"),
        });
        b.profile.period = period;
    } else if let Some(rest) = header.strip_prefix("goroutine profile:") {
        format = SourceFormat::LegacyGoroutineText;
        let total = rest.trim().strip_prefix("total").map(str::trim);
        if total.and_then(|t| t.parse::<i64>().ok()).is_none() {
            bail!("line 1: malformed goroutine profile header {header:?}");
        }
        let vt = ValueType {
            ty: b.intern("goroutine"),
            unit: b.intern("count"),
        };
        b.profile.sample_types.push(vt);
        b.profile.period_type = Some(vt);
        b.profile.period = 1;
    } else {
        bail!(
            "unrecognized legacy text profile header {:?}",
            truncate(header, 60)
        );
    }

    while let Some((n, raw)) = lines.next() {
        let line = raw.trim();
        let lineno = n + 1;
        if line.is_empty() {
            continue;
        }
        if line.starts_with("# runtime.MemStats") {
            break;
        }
        if line.starts_with("MAPPED_LIBRARIES") || line.starts_with("--- Memory map") {
            // Either /proc/self/maps lines or pprof's short `start-end: path` form, where
            // `name=value` lines define `$name` for the paths.
            let mut vars: Vec<(String, String)> = Vec::new();
            // All expanded paths together may take what the text itself does plus 16 MiB:
            // each path alone is capped, but 1000 lines of 1 MiB expansions took 4.8 GiB
            // from 159 KB (issue 16, finding 3).
            let mut budget = buf.len().saturating_add(MAP_PATHS_BUDGET);
            for (_, m) in lines.by_ref() {
                let t = m.trim();
                if let Some((k, v)) = t
                    .split_once('=')
                    .filter(|(k, _)| !k.contains(char::is_whitespace) && !k.contains('-'))
                {
                    vars.push((format!("${k}"), v.to_string()));
                } else if let Some((start, limit, offset, file)) = parse_proc_map(t) {
                    let Some(file) = expand_vars(file, &vars, limits.max_line_len.min(budget))
                    else {
                        if budget < limits.max_line_len {
                            bail!("the mapping paths together grow past {} bytes (the input's size plus {MAP_PATHS_BUDGET}, a limit of heapdoc's decoder) when their $variables are expanded", buf.len() + MAP_PATHS_BUDGET);
                        }
                        bail!(
                            "a mapping path grows past {} bytes when its $variables are expanded",
                            limits.max_line_len
                        );
                    };
                    budget -= file.len();
                    maps.push((start, limit, offset, file));
                }
            }
            break;
        }
        if let Some(sym) = line.strip_prefix('#') {
            if let Some(rest) = sym.trim_start().strip_prefix("labels:") {
                if let Some(last) = records.len().checked_sub(1) {
                    let labels = parse_labels(rest.trim());
                    match records.labels.last_mut() {
                        Some((i, l)) if *i == last => *l = labels,
                        _ => records.labels.push((last, labels)),
                    }
                }
                continue;
            }
            if let Some((addr, frame)) = parse_symbol(raw) {
                // A set, not `Vec::contains`: many `#` lines for one address were quadratic.
                if seen_symbols.insert((addr, frame.clone())) {
                    symbols.entry(addr).or_default().push(frame);
                }
            }
            continue;
        }
        let (counts, stack) = line.split_once('@').ok_or_else(|| {
            anyhow!(
                "line {lineno}: expected a record `COUNTS @ ADDRESSES`, found {:?}",
                truncate(line, 60)
            )
        })?;
        if records.len() >= limits.max_samples {
            bail!(
                "line {lineno}: more than {} records (a limit of heapdoc's decoder)",
                limits.max_samples
            );
        }
        let first = records.addrs.len();
        for a in stack.split_whitespace() {
            if records.addrs.len() - first >= limits.max_stack_depth {
                bail!(
                    "line {lineno}: stack has more than {} frames, over the limit",
                    limits.max_stack_depth
                );
            }
            let hex = a.strip_prefix("0x").unwrap_or(a);
            let v = u64::from_str_radix(hex, 16)
                .map_err(|_| anyhow!("line {lineno}: bad address {a:?}"))?;
            // Return addresses point after the call; pprof stores pc-1, and so do Go's `#` lines.
            records.addrs.push(v.saturating_sub(1));
        }
        let (values, blocksize) = if format == SourceFormat::LegacyHeapText {
            let c = parse_counts(counts).ok_or_else(|| {
                anyhow!(
                    "line {lineno}: malformed heap record counts {:?}",
                    counts.trim()
                )
            })?;
            let (ic, is) = scale(c.0, c.1, scale_rate);
            let (ac, asz) = scale(c.2, c.3, scale_rate);
            let blocksize = if c.0 > 0 {
                c.1 / c.0
            } else if c.2 > 0 {
                c.3 / c.2
            } else {
                0
            };
            if include_alloc {
                records.values.extend([ac, asz, ic, is]);
            } else {
                records.values.extend([ic, is]);
            }
            (if include_alloc { 4 } else { 2 }, Some(blocksize))
        } else {
            let n: i64 = counts
                .trim()
                .parse()
                .map_err(|_| anyhow!("line {lineno}: bad goroutine count {:?}", counts.trim()))?;
            records.values.push(n);
            (1, None)
        };
        records.width = values;
        records.addr_end.push(records.addrs.len());
        if let Some(bs) = blocksize {
            records.blocksize.push(bs);
        }
    }

    let map_ids: Vec<_> = maps
        .iter()
        .map(|(s, l, o, f)| b.mapping(*s, *l, *o, f, ""))
        .collect();
    // Locations: one per distinct address, symbolized from the `#` lines when present.
    let mut locs: HashMap<u64, LocId> = HashMap::new();
    let mut stack = Vec::new();
    let mut labels = Vec::new();
    let mut frames = Vec::new();
    let bytes_key = b.intern("bytes");
    // Every record of a file has the width of its format (the header decides it).
    let width = if records.len() == 0 {
        b.profile.sample_types.len()
    } else {
        records.width
    };
    let mut samples = crate::model::SamplesBuilder::new(width);
    let mut rec_labels = records.labels.iter().peekable();
    for r in 0..records.len() {
        stack.clear();
        for &a in records.addrs(r) {
            let id = match locs.get(&a) {
                Some(&id) => id,
                None => {
                    frames.clear();
                    for (name, file, line) in symbols.get(&a).map(Vec::as_slice).unwrap_or(&[]) {
                        let func = b.function(name, name, file, 0);
                        frames.push(Frame { func, line: *line });
                    }
                    // Go prints `#` lines for every frame except runtime ones (unless the
                    // whole stack is runtime), so in a symbolized dump an address without one
                    // is an elided runtime frame (mallocgc, newobject): name it so, so that
                    // attribution skips it to reach the allocating caller.
                    if frames.is_empty() && !symbols.is_empty() {
                        let func = b.function(ELIDED_RUNTIME, ELIDED_RUNTIME, "", 0);
                        frames.push(Frame { func, line: 0 });
                    }
                    let mapping = maps
                        .iter()
                        .position(|m| a >= m.0 && a < m.1)
                        .map(|i| map_ids[i]);
                    let id = b.location(a, mapping, &frames);
                    locs.insert(a, id);
                    id
                }
            };
            stack.push(id);
        }
        labels.clear();
        if let Some(&bs) = records.blocksize.get(r) {
            labels.push(Label {
                key: bytes_key,
                str: Default::default(),
                num: bs,
                unit: Default::default(),
            });
        }
        if let Some((_, kv)) = rec_labels.next_if(|(i, _)| *i == r) {
            for (k, v) in kv {
                labels.push(Label {
                    key: b.intern(k),
                    str: b.intern(v),
                    num: 0,
                    unit: Default::default(),
                });
            }
        }
        samples.push(&stack, &records.values[r * width..(r + 1) * width], &labels);
    }
    samples.check_size()?;
    let mut p = b.profile;
    p.samples = samples.finish();
    p.format = Some(format);
    p.validate()?;
    Ok(p)
}

/// Parses a /proc/self/maps line `start-end perms offset dev inode [path]`, keeping only
/// executable mappings, as pprof does.
fn parse_proc_map(line: &str) -> Option<(u64, u64, u64, &str)> {
    let mut f = line.split_whitespace();
    let range = f.next()?;
    if let Some(range) = range.strip_suffix(':') {
        let (start, end) = range.split_once('-')?;
        let path = line.split_once(':')?.1.trim();
        return Some((
            u64::from_str_radix(start, 16).ok()?,
            u64::from_str_radix(end, 16).ok()?,
            0,
            path,
        ));
    }
    let (start, end) = range.split_once('-')?;
    let perms = f.next()?;
    let offset = u64::from_str_radix(f.next()?, 16).ok()?;
    let _dev = f.next()?;
    let _inode = f.next()?;
    let path = f.next().unwrap_or("");
    if !perms.contains('x') {
        return None;
    }
    Some((
        u64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(end, 16).ok()?,
        offset,
        path,
    ))
}

/// Replaces `$name` in a mapping path in one pass, as pprof's `strings.NewReplacer` does: a
/// value is never expanded again (repeated `replace` calls made `$a=$b$b`, `$b=$c$c`, ...
/// grow exponentially), and the result is capped at `max` bytes (None past it).
fn expand_vars(file: &str, vars: &[(String, String)], max: usize) -> Option<String> {
    let mut out = String::with_capacity(file.len());
    let mut rest = file;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match vars.iter().find(|(k, _)| rest.starts_with(k.as_str())) {
            Some((k, v)) => {
                out.push_str(v);
                rest = &rest[k.len()..];
            }
            None => {
                out.push('$');
                rest = &rest[1..];
            }
        }
        if out.len() > max {
            return None;
        }
    }
    out.push_str(rest);
    (out.len() <= max).then_some(out)
}

/// pprof's `scaleHeapSample`: undoes Poisson sampling at `rate` bytes.
fn scale(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let avg = size as f64 / count as f64;
    let s = 1.0 / (1.0 - (-avg / rate as f64).exp());
    ((count as f64 * s) as i64, (size as f64 * s) as i64)
}

/// Parses `A: B [C: D]`.
fn parse_counts(s: &str) -> Option<(i64, i64, i64, i64)> {
    let (inuse, alloc) = s.split_once('[')?;
    let alloc = alloc.trim().strip_suffix(']')?;
    let pair = |p: &str| -> Option<(i64, i64)> {
        let (a, b) = p.split_once(':')?;
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
    };
    let (a, b) = pair(inuse)?;
    let (c, d) = pair(alloc)?;
    if a < 0 || b < 0 || c < 0 || d < 0 {
        return None;
    }
    Some((a, b, c, d))
}

/// Parses Go's `#\t0xPC\tname+0xOFF\tfile:line`. Fields are tab-separated; names may contain
/// spaces (generic instantiations), so only tabs split.
fn parse_symbol(raw: &str) -> Option<(u64, (String, String, i64))> {
    let mut parts = raw
        .trim_start()
        .strip_prefix('#')?
        .split('\t')
        .filter(|p| !p.trim().is_empty());
    let addr = parts.next()?.trim();
    let addr = u64::from_str_radix(addr.strip_prefix("0x")?, 16).ok()?;
    let name = parts.next()?.trim();
    let name = match name.rfind("+0x") {
        Some(i) => &name[..i],
        None => name,
    };
    let loc = parts.next().unwrap_or("").trim();
    let (file, line) = match loc.rsplit_once(':') {
        Some((f, l)) => (f, l.parse().unwrap_or(0)),
        None => (loc, 0),
    };
    Some((addr, (name.to_string(), file.to_string(), line)))
}

/// Parses `{"k":"v", ...}` as written by Go's goroutine debug=1 output.
fn parse_labels(s: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<std::collections::BTreeMap<String, String>>(s) {
        Ok(m) => m.into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_matches_pprof_on_a_real_record() {
        // gobench.heap's first record `1: 524288 [3: 1572864]` at rate 524288; pprof -raw
        // prints `4 2488234 1 829411`.
        assert_eq!(scale(1, 524288, 524288), (1, 829411));
        assert_eq!(scale(3, 1572864, 524288), (4, 2488234));
        assert_eq!(scale(0, 0, 524288), (0, 0));
        assert_eq!(scale(5, 100, 1), (5, 100));
    }

    #[test]
    fn symbol_lines_split_on_tabs_only() {
        let (addr, (name, file, line)) = parse_symbol(
            "#\t0x4a4ba4\tmain.Box[go.shape.struct { A int; B string }]+0x24\t/src/x y.go:12",
        )
        .unwrap();
        assert_eq!(addr, 0x4a4ba4);
        assert_eq!(name, "main.Box[go.shape.struct { A int; B string }]");
        assert_eq!(file, "/src/x y.go");
        assert_eq!(line, 12);
    }
}
