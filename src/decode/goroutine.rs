//! Goroutine dumps to a [`Dump`] (issue 19): Go's traceback text (`/debug/pprof/goroutine?debug=2`,
//! `runtime.Stack(buf, true)`, and the same text written by a crash or `SIGQUIT` with
//! `GOTRACEBACK=all`), read as a stream in bounded memory; and goroutine profiles in
//! profile.proto or `?debug=1` text, which go through the profile decoders first.
//!
//! The traceback text, per goroutine:
//!
//! ```text
//! goroutine 18 [chan receive, 14 minutes, locked to thread]:    (crash: `goroutine 18 gp=0x.. m=nil [..]:`)
//! main.worker(0x0?)                                              function(arguments)
//!         /src/app/main.go:147 +0x69                             file:line +pc offset [fp= sp= pc=]
//! ...additional frames elided...
//! created by main.startPool in goroutine 1
//!         /src/app/main.go:155 +0x4a
//! ```
//!
//! Blocks are separated by blank lines. In crash text, everything outside a block (the signal
//! line, register dumps, `-----` separators) is skipped; in debug=2 text it is an error.

use std::io::BufRead;

use anyhow::{anyhow, bail, Context, Result};

use crate::model::goroutine::{
    Dump, DumpBuilder, DumpFormat, FrameIdx, GFrame, Goroutine, NO_WAIT,
};
use crate::model::{Kind, Profile, StrId};

use super::Limits;

/// Is this (the first bytes of an uncompressed input) goroutine traceback text? Returns the
/// format: debug=2 when it starts with a goroutine header, crash text when it starts with a
/// crash's first line and a goroutine header follows.
pub fn sniff(head: &[u8]) -> Option<DumpFormat> {
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // A cut in the middle of a character at the end of the head.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    let t = text.trim_start_matches(['\n', '\r', ' ']);
    let first = t.lines().next().unwrap_or("");
    if header(first).is_some() {
        return Some(DumpFormat::Debug2);
    }
    const CRASH: [&str; 6] = [
        "SIG",
        "panic: ",
        "fatal error: ",
        "runtime: ",
        "unexpected fault address",
        "fatal: ",
    ];
    if CRASH.iter().any(|p| first.starts_with(p)) && t.lines().any(|l| header(l).is_some()) {
        return Some(DumpFormat::Crash);
    }
    None
}

/// A goroutine header's parts: id, the text inside the brackets, and whether it is one.
struct Header<'a> {
    id: u64,
    bracket: &'a str,
    /// Text between the closing bracket and the final colon (labels, when printed).
    labels: &'a str,
}

fn header(line: &str) -> Option<Header<'_>> {
    let rest = line.strip_prefix("goroutine ")?;
    let sp = rest.find(' ')?;
    let id: u64 = rest[..sp].parse().ok()?;
    let rest = &rest[sp..];
    let open = rest.find('[')?;
    // Only `gp=.. m=.. mp=..` may stand between the id and the bracket.
    if !rest[..open]
        .split_whitespace()
        .all(|w| w.starts_with("gp=") || w.starts_with("m=") || w.starts_with("mp="))
    {
        return None;
    }
    let close = open + rest[open..].find(']')?;
    let tail = rest[close + 1..].trim_end();
    let labels = tail.strip_suffix(':')?.trim();
    Some(Header {
        id,
        bracket: &rest[open + 1..close],
        labels,
    })
}

/// The state, wait minutes and locked flag from `chan receive, 14 minutes, locked to thread`.
fn parse_bracket(s: &str) -> (&str, u32, bool) {
    let mut state = s;
    let mut wait = NO_WAIT;
    let mut locked = false;
    // The state itself may contain commas only inside parentheses (`chan receive (nil chan)`
    // has none; be safe): split from the right while the parts are known suffixes.
    while let Some(i) = state.rfind(", ") {
        let part = &state[i + 2..];
        if part == "locked to thread" {
            locked = true;
        } else if let Some(m) = part
            .strip_suffix(" minutes")
            .or_else(|| part.strip_suffix(" minute"))
        {
            match m.parse::<u32>() {
                Ok(n) => wait = n.min(NO_WAIT - 1),
                Err(_) => break,
            }
        } else {
            break;
        }
        state = &state[..i];
    }
    (state, wait, locked)
}

/// Function name of a frame line: `main.(*T).m[...](0x1, {0x2, 0x3})` -> `main.(*T).m[...]`.
fn frame_func(line: &str) -> &str {
    if line.ends_with(')') {
        if let Some(i) = line.rfind('(') {
            if i > 0 {
                return &line[..i];
            }
        }
    }
    line
}

/// File and line of a frame's location line: `\t/src/main.go:147 +0x69 fp=.. sp=.. pc=..`.
fn file_line(line: &str) -> Option<(&str, u32)> {
    let t = line.strip_prefix('\t')?;
    let end = t.find(" +0x").or_else(|| t.find(" fp=")).unwrap_or(t.len());
    let t = t[..end].trim_end();
    let colon = t.rfind(':')?;
    let n = t[colon + 1..].parse().ok()?;
    Some((&t[..colon], n))
}

/// Interns strings through a fast hash in front of the dump's interner.
#[derive(Default)]
struct Cache {
    map: hashbrown::HashMap<Box<str>, StrId, rustc_hash::FxBuildHasher>,
}

impl Cache {
    fn get(&mut self, b: &mut DumpBuilder, s: &str) -> StrId {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = b.intern(s);
        self.map.insert(s.into(), id);
        id
    }
}

/// A goroutine being read.
struct Open {
    id: u64,
    state: StrId,
    wait: u32,
    locked: bool,
    labels: StrId,
    truncated: bool,
    created_by: Option<FrameIdx>,
    /// The next line is the location of this function (or of the creator).
    pending: Option<(StrId, bool)>,
    header_line: u64,
    /// `sp=` of the innermost frame and `fp=` of the latest frame (crash text).
    sp: Option<u64>,
    fp: Option<u64>,
}

/// `fp=0x.. sp=0x..` of a crash text location line.
fn fp_sp(line: &str) -> (Option<u64>, Option<u64>) {
    let hex = |key: &str| {
        let i = line.find(key)? + key.len();
        let t = &line[i..];
        let t = t.strip_prefix("0x")?;
        let end = t.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len());
        u64::from_str_radix(&t[..end], 16).ok()
    };
    (hex(" fp="), hex(" sp="))
}

/// Parses goroutine traceback text from `r` (debug=2 or crash text; [`sniff`] tells which).
/// Reads line by line: memory is the dump's distinct stacks plus a few dozen bytes per
/// goroutine, never the input. Lines longer than `limits.max_line_len`, stacks deeper than
/// `limits.max_stack_depth` and more goroutines than `limits.max_samples` are refused.
pub fn parse_text<R: BufRead>(mut r: R, format: DumpFormat, limits: &Limits) -> Result<Dump> {
    let mut b = DumpBuilder::default();
    b.dump.format = Some(format);
    let empty = b.intern("");
    let mut cache = Cache::default();
    let mut frames: Vec<FrameIdx> = Vec::with_capacity(64);
    let mut cur: Option<Open> = None;
    let mut lineno = 0u64;
    let crash = format == DumpFormat::Crash;
    for_each_line(&mut r, limits.max_line_len, |raw| {
        lineno += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw)
            .map_err(|e| anyhow!("line {lineno}: not UTF-8 text (byte {})", e.valid_up_to()))?;
        if let Some(g) = cur.as_mut() {
            if line.is_empty() {
                let g = cur.take().unwrap_or_else(|| unreachable!());
                close(&mut b, g, &mut frames, lineno, limits)?;
                return Ok(());
            }
            if let Some((func, is_creator)) = g.pending.take() {
                let Some((file, ln)) = file_line(line) else {
                    bail!("line {lineno}: expected a frame's `\\tfile:line`, found {line:?}");
                };
                let file = cache.get(&mut b, file);
                let f = b.frame(GFrame {
                    func,
                    file,
                    line: ln,
                });
                if is_creator {
                    g.created_by = Some(f);
                } else {
                    if crash {
                        let (fp, sp) = fp_sp(line);
                        if g.sp.is_none() {
                            g.sp = sp;
                        }
                        if fp.is_some() {
                            g.fp = fp;
                        }
                    }
                    if frames.len() >= limits.max_stack_depth {
                        bail!(
                            "line {lineno}: goroutine {} has more than {} frames",
                            g.id,
                            limits.max_stack_depth
                        );
                    }
                    frames.push(f);
                }
                return Ok(());
            }
            if let Some(rest) = line.strip_prefix("created by ") {
                let func = rest.split(" in goroutine ").next().unwrap_or(rest);
                g.pending = Some((cache.get(&mut b, func), true));
                return Ok(());
            }
            if line == "...additional frames elided..."
                || line.starts_with("goroutine running on other thread")
                || line.starts_with("...")
            {
                g.truncated = true;
                return Ok(());
            }
            if line.starts_with('\t') || line.starts_with(' ') {
                bail!("line {lineno}: a location line with no function line before it: {line:?}");
            }
            if header(line).is_some() {
                // No blank line between two goroutines: close the first.
                let g = cur.take().unwrap_or_else(|| unreachable!());
                close(&mut b, g, &mut frames, lineno, limits)?;
            } else {
                let func = frame_func(line);
                g.pending = Some((cache.get(&mut b, func), false));
                return Ok(());
            }
        }
        if line.trim().is_empty() {
            return Ok(());
        }
        match header(line) {
            Some(h) => {
                let (state, wait, locked) = parse_bracket(h.bracket);
                let labels = if h.labels.is_empty() {
                    empty
                } else {
                    cache.get(&mut b, h.labels)
                };
                cur = Some(Open {
                    id: h.id,
                    state: cache.get(&mut b, state),
                    wait,
                    locked,
                    labels,
                    truncated: false,
                    created_by: None,
                    pending: None,
                    header_line: lineno,
                    sp: None,
                    fp: None,
                });
            }
            None if crash => {}
            None => bail!(
                "line {lineno}: expected a goroutine header (`goroutine N [state]:`), found {:?}",
                shorten(line)
            ),
        }
        Ok(())
    })?;
    if let Some(g) = cur.take() {
        close(&mut b, g, &mut frames, lineno, limits)?;
    }
    if b.dump.goroutines.is_empty() {
        bail!("no goroutines in the traceback text");
    }
    Ok(b.finish())
}

/// Calls `f` with each line of `r` (without its `\n`), in place in the reader's buffer: a line
/// is copied only when it straddles two reads. A line longer than `max` is an error.
fn for_each_line<R: BufRead>(
    r: &mut R,
    max: usize,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let too_long = || anyhow!("a line is over the limit of {max} bytes");
    loop {
        let buf = r.fill_buf().context("reading")?;
        let n = buf.len();
        if n == 0 {
            if !carry.is_empty() {
                f(&carry)?;
            }
            return Ok(());
        }
        let mut rest = buf;
        if !carry.is_empty() {
            match memchr::memchr(b'\n', rest) {
                Some(i) => {
                    carry.extend_from_slice(&rest[..i]);
                    if carry.len() > max {
                        return Err(too_long());
                    }
                    f(&carry)?;
                    carry.clear();
                    rest = &rest[i + 1..];
                }
                None => {
                    carry.extend_from_slice(rest);
                    if carry.len() > max {
                        return Err(too_long());
                    }
                    r.consume(n);
                    continue;
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if i > max {
                return Err(too_long());
            }
            f(&rest[..i])?;
            rest = &rest[i + 1..];
        }
        if rest.len() > max {
            return Err(too_long());
        }
        carry.extend_from_slice(rest);
        r.consume(n);
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}

fn close(
    b: &mut DumpBuilder,
    g: Open,
    frames: &mut Vec<FrameIdx>,
    lineno: u64,
    limits: &Limits,
) -> Result<()> {
    if g.pending.is_some() {
        bail!(
            "line {lineno}: goroutine {} (line {}) ends after a function line without its `\\tfile:line`",
            g.id,
            g.header_line
        );
    }
    if b.dump.goroutines.len() >= limits.max_samples {
        bail!(
            "line {lineno}: more than {} goroutines (the --max-size of a dump's records)",
            limits.max_samples
        );
    }
    let stack = b.stack(frames);
    frames.clear();
    let system = is_system(b, g.id, g.created_by);
    b.dump.goroutines.push(Goroutine {
        id: g.id,
        count: 1,
        stack,
        state: g.state,
        wait_minutes: g.wait,
        locked: g.locked,
        created_by: g.created_by,
        system,
        truncated: g.truncated,
        labels: g.labels,
        stack_used: match (g.sp, g.fp) {
            // Both on the goroutine's own stack, and not more than Go's 1 GB maximum apart.
            (Some(sp), Some(fp)) if fp > sp && fp - sp <= 1 << 30 => fp - sp,
            _ => 0,
        },
    });
    Ok(())
}

/// `a` then `b` as one dump (two parts of one text parsed on two cores): strings, frames and
/// stacks re-interned, goroutines in order.
pub fn concat(a: Dump, b: Dump) -> Dump {
    let mut out = DumpBuilder::default();
    out.dump.format = a.format;
    out.dump.declared_total = a.declared_total;
    out.dump.time_nanos = a.time_nanos;
    for d in [a, b] {
        let strs: Vec<StrId> = (0..d.strings.len() as u32)
            .map(|i| out.intern(d.strings.get(StrId(i))))
            .collect();
        let frames: Vec<FrameIdx> = d
            .frames
            .iter()
            .map(|f| {
                out.frame(GFrame {
                    func: strs[f.func.0 as usize],
                    file: strs[f.file.0 as usize],
                    line: f.line,
                })
            })
            .collect();
        let mut tmp = Vec::new();
        let stacks: Vec<u32> = d
            .stacks
            .iter()
            .map(|&(x, y)| {
                tmp.clear();
                tmp.extend(
                    d.stack_frames[x as usize..y as usize]
                        .iter()
                        .map(|&f| frames[f as usize]),
                );
                out.stack(&tmp)
            })
            .collect();
        out.dump.goroutines.reserve(d.goroutines.len());
        for g in &d.goroutines {
            out.dump.goroutines.push(Goroutine {
                stack: stacks[g.stack as usize],
                state: strs[g.state.0 as usize],
                labels: strs[g.labels.0 as usize],
                created_by: g.created_by.map(|f| frames[f as usize]),
                ..*g
            });
        }
    }
    out.finish()
}

/// The runtime's own goroutines, which `runtime.NumGoroutine` does not count and debug=2 does
/// not list (crash text does): goroutine 0 (an M's scheduler stack), and goroutines created
/// by the runtime package (GC workers, the finalizer and cleanup goroutines, forcegc).
fn is_system(b: &DumpBuilder, id: u64, created_by: Option<FrameIdx>) -> bool {
    if id == 0 {
        return true;
    }
    created_by.is_some_and(|f| {
        let name = b.dump.strings.get(b.dump.frames[f as usize].func);
        name.starts_with("runtime.")
    })
}

/// A goroutine profile (profile.proto or debug=1 text, decoded) as a dump: one record per
/// stack with its count. Its stacks have no states, wait times or creators.
pub fn from_profile(p: &Profile, format: DumpFormat) -> Result<Dump> {
    if p.kind() != Kind::Goroutine {
        bail!(
            "this is a {}, not a goroutine profile (or dump)",
            p.kind().describe()
        );
    }
    let mut b = DumpBuilder::default();
    b.dump.format = Some(format);
    b.dump.time_nanos = p.time_nanos;
    let empty = b.intern("");
    let mut frames = Vec::new();
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        frames.clear();
        let mut truncated = false;
        for loc in p.samples.stack(s.stack).iter() {
            for fr in p.frames(loc) {
                let f = p.function(fr.func);
                let name = p.str(f.name);
                if name == super::legacy::ELIDED_RUNTIME {
                    truncated = true;
                    continue;
                }
                let func = b.intern(name);
                let file = b.intern(p.str(f.filename));
                frames.push(b.frame(GFrame {
                    func,
                    file,
                    line: fr.line.clamp(0, u32::MAX as i64) as u32,
                }));
            }
        }
        let count = s.values.first().copied().unwrap_or(0);
        if count < 0 {
            bail!("a goroutine count is negative ({count})");
        }
        let stack = b.stack(&frames);
        let state = infer_state(
            frames
                .iter()
                .map(|&f| b.dump.strings.get(b.dump.frames[f as usize].func)),
        );
        let state = b.intern(state);
        b.dump.goroutines.push(Goroutine {
            id: 0,
            count: count as u64,
            stack,
            state,
            wait_minutes: NO_WAIT,
            locked: false,
            created_by: None,
            system: false,
            truncated,
            labels: empty,
            stack_used: 0,
        });
    }
    Ok(b.finish())
}

/// The wait state that the leaf frames of a counting format's stack imply, in the words
/// debug=2 would print; empty when they do not tell. profile.proto keeps the runtime frames
/// (`runtime.selectgo`, `runtime.chansend1`); debug=1 text drops them, so only waits that
/// end in a non-runtime frame (`internal/poll.runtime_pollWait`, `time.Sleep`) are known.
fn infer_state<'a>(leaf_first: impl Iterator<Item = &'a str>) -> &'static str {
    for f in leaf_first.take(6) {
        let s = match f {
            "runtime.selectgo" => "select",
            "runtime.block" => "select (no cases)",
            "runtime.chansend" | "runtime.chansend1" => "chan send",
            "runtime.chanrecv" | "runtime.chanrecv1" | "runtime.chanrecv2" => "chan receive",
            "internal/poll.runtime_pollWait" => "IO wait",
            "time.Sleep" => "sleep",
            "sync.runtime_notifyListWait" => "sync.Cond.Wait",
            "sync.runtime_SemacquireMutex" => "sync.Mutex.Lock",
            "sync.runtime_SemacquireRWMutexR" => "sync.RWMutex.RLock",
            "sync.runtime_SemacquireRWMutex" => "sync.RWMutex.Lock",
            "sync.runtime_SemacquireWaitGroup" | "sync.runtime_Semacquire" => "sync.WaitGroup.Wait",
            "os/signal.signal_recv"
            | "runtime.notetsleepg"
            | "syscall.Syscall"
            | "syscall.Syscall6"
            | "internal/runtime/syscall.Syscall6" => "syscall",
            "runtime/pprof.writeGoroutineStacks" | "runtime/pprof.writeRuntimeProfile" => "running",
            _ => continue,
        };
        return s;
    }
    ""
}

/// A traceback dump as a goroutine profile (one sample per distinct stack, its goroutine
/// count as the value), so the plain report and `flame` read `?debug=2` and crash text like
/// Go's other goroutine formats (issue 19). The runtime's own goroutines of crash text are
/// left out, as Go's goroutine profile leaves them out.
pub fn to_profile(d: &Dump) -> Result<Profile> {
    use crate::model::{Builder, Frame, SamplesBuilder, SourceFormat, ValueType};
    let mut b = Builder::default();
    let vt = ValueType {
        ty: b.intern("goroutine"),
        unit: b.intern("count"),
    };
    b.profile.sample_types.push(vt);
    b.profile.period_type = Some(vt);
    b.profile.period = 1;
    let mut per_stack = vec![0i64; d.stacks.len()];
    for g in d.goroutines.iter().filter(|g| !g.system) {
        per_stack[g.stack as usize] = per_stack[g.stack as usize]
            .checked_add(i64::try_from(g.count).unwrap_or(i64::MAX))
            .ok_or_else(|| anyhow!("goroutine count overflows"))?;
    }
    let mut locs = vec![None; d.frames.len()];
    let mut samples = SamplesBuilder::new(1);
    let mut stack = Vec::new();
    for (s, &n) in per_stack.iter().enumerate() {
        if n == 0 {
            continue;
        }
        stack.clear();
        let (a, e) = d.stacks[s];
        for &f in &d.stack_frames[a as usize..e as usize] {
            let id = match locs[f as usize] {
                Some(id) => id,
                None => {
                    let fr = d.frame(f);
                    let (name, file) = (d.str(fr.func), d.str(fr.file));
                    let func = b.function(name, name, file, 0);
                    let id = b.location(
                        u64::from(f) + 1,
                        None,
                        &[Frame {
                            func,
                            line: i64::from(fr.line),
                        }],
                    );
                    locs[f as usize] = Some(id);
                    id
                }
            };
            stack.push(id);
        }
        samples.push(&stack, &[n], &[]);
    }
    samples.check_size()?;
    let mut p = b.profile;
    p.samples = samples.finish();
    p.format = Some(SourceFormat::LegacyGoroutineText);
    p.validate()?;
    Ok(p)
}

/// `StackInuse` from the `# Stack = INUSE / SYS` line of a heap profile's debug=1 text
/// (runtime.MemStats), when present.
pub fn memstats_stack_inuse(data: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(data).ok()?;
    let line = text.lines().find(|l| l.starts_with("# Stack = "))?;
    line["# Stack = ".len()..]
        .split(" / ")
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Decodes one goroutine input held in memory, gzipped or not: traceback text, debug=1 text
/// or profile.proto.
pub fn decode(bytes: &[u8], opts: &super::DecodeOptions) -> Result<Dump> {
    let data = super::decompress(bytes, opts)?;
    if data.is_empty() {
        bail!("empty input: no goroutine dump");
    }
    if let Some(f) = sniff(&data[..data.len().min(64 << 10)]) {
        return parse_text(&data[..], f, &opts.limits);
    }
    let format = if super::legacy::sniff(&data) {
        DumpFormat::Debug1
    } else {
        DumpFormat::Proto
    };
    let p = super::decode(&data, opts)?;
    from_profile(&p, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_every_kind() {
        let h =
            header("goroutine 18 gp=0x1a06 m=nil [chan receive, 14 minutes, locked to thread]:")
                .unwrap();
        assert_eq!(h.id, 18);
        assert_eq!(parse_bracket(h.bracket), ("chan receive", 14, true));
        let h = header("goroutine 7 [chan receive (nil chan)]:").unwrap();
        assert_eq!(
            parse_bracket(h.bracket),
            ("chan receive (nil chan)", NO_WAIT, false)
        );
        assert!(header("goroutine profile: total 5").is_none());
        assert!(header("goroutine 1 junk [x]:").is_none());
        assert_eq!(
            frame_func("main.(*T).m[...](0x1, {0x2, 0x3})"),
            "main.(*T).m[...]"
        );
        assert_eq!(
            file_line("\truntime/proc.go:474 +0xca fp=0x1 sp=0x2 pc=0x3"),
            Some(("runtime/proc.go", 474))
        );
        assert_eq!(file_line("\t/a b/c.go:9"), Some(("/a b/c.go", 9)));
    }
}
