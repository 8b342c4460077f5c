//! A goroutine dump: what every goroutine of a process was doing at one moment (issue 19).
//!
//! Representation: strings interned once; each distinct frame (function, file, line; argument
//! values are dropped) once in [`Dump::frames`]; each distinct stack once as a range of
//! [`Dump::stack_frames`], leaf first; one small [`Goroutine`] record per goroutine (or per
//! stack with a count, for formats that only count: profile.proto and `?debug=1`). A
//! million-goroutine dump is a few dozen bytes per goroutine plus its distinct stacks.

use super::{StrId, Strings};

/// Index into [`Dump::frames`].
pub type FrameIdx = u32;
/// Index into [`Dump::stacks`].
pub type StackIdx = u32;

/// One frame: function, file and line; arguments and PC offsets are not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GFrame {
    pub func: StrId,
    pub file: StrId,
    pub line: u32,
}

/// The wire format a dump was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    /// `/debug/pprof/goroutine` (profile.proto): counts per stack, no states, no creators.
    Proto,
    /// `?debug=1`: counts per stack, labels; no states, no creators.
    Debug1,
    /// `?debug=2` (`runtime.Stack(all)`): one traceback per goroutine.
    Debug2,
    /// A crash or SIGQUIT traceback (`GOTRACEBACK=all`): debug=2 plus the runtime's own
    /// goroutines and register dumps.
    Crash,
}

impl DumpFormat {
    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::Proto => "profile.proto",
            DumpFormat::Debug1 => "debug=1 text",
            DumpFormat::Debug2 => "debug=2 tracebacks",
            DumpFormat::Crash => "crash traceback",
        }
    }

    /// Whether the format has wait states, wait times and creation sites.
    pub fn has_tracebacks(self) -> bool {
        matches!(self, DumpFormat::Debug2 | DumpFormat::Crash)
    }
}

/// Wait time unknown (formats without it, or under a minute: Go prints only whole minutes
/// from one minute on).
pub const NO_WAIT: u32 = u32::MAX;

/// One goroutine, or `count` goroutines with the same stack in counting formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Goroutine {
    /// The goroutine id (0 in counting formats).
    pub id: u64,
    pub count: u64,
    pub stack: StackIdx,
    /// The wait state as Go prints it without the wait time and flags (`chan receive`,
    /// `select`, `IO wait`, `running`); empty in counting formats.
    pub state: StrId,
    /// Minutes blocked, as printed (`[select, 14 minutes]`), or [`NO_WAIT`].
    pub wait_minutes: u32,
    /// `locked to thread`.
    pub locked: bool,
    /// The `created by` frame (the go statement's function, file and line), if printed.
    pub created_by: Option<FrameIdx>,
    /// The runtime's own goroutine (GC workers, finalizers, the signalled M's goroutine 0):
    /// listed by crash dumps, not counted by `runtime.NumGoroutine`.
    pub system: bool,
    /// Frames were elided (`...additional frames elided...`) or the stack was unavailable.
    pub truncated: bool,
    /// The goroutine's labels as printed (`{"k":"v"}`), or empty.
    pub labels: StrId,
    /// Bytes of stack in use, from the outermost frame's `fp=` and the innermost frame's
    /// `sp=` (crash text only); 0 when unknown.
    pub stack_used: u64,
}

/// A parsed goroutine dump.
#[derive(Clone, Debug, Default)]
pub struct Dump {
    pub strings: Strings,
    pub frames: Vec<GFrame>,
    /// Frame indexes of all stacks, concatenated; each stack leaf first.
    pub stack_frames: Vec<FrameIdx>,
    /// Ranges into `stack_frames`.
    pub stacks: Vec<(u32, u32)>,
    pub goroutines: Vec<Goroutine>,
    pub format: Option<DumpFormat>,
    /// `goroutine profile: total N` (debug=1), when present.
    pub declared_total: Option<u64>,
    /// The profile's time (profile.proto), nanoseconds since the epoch, 0 when unknown.
    pub time_nanos: i64,
}

impl Dump {
    pub fn str(&self, id: StrId) -> &str {
        self.strings.get(id)
    }

    /// The frames of a stack, leaf first.
    pub fn stack(&self, s: StackIdx) -> impl DoubleEndedIterator<Item = &GFrame> + '_ {
        let (a, b) = self.stacks[s as usize];
        self.stack_frames[a as usize..b as usize]
            .iter()
            .map(|&f| &self.frames[f as usize])
    }

    pub fn frame(&self, f: FrameIdx) -> &GFrame {
        &self.frames[f as usize]
    }

    /// Goroutines that `runtime.NumGoroutine` counts (the runtime's own excluded).
    pub fn user_count(&self) -> u64 {
        self.goroutines
            .iter()
            .filter(|g| !g.system)
            .map(|g| g.count)
            .sum()
    }

    /// All goroutines listed, the runtime's own included.
    pub fn total_count(&self) -> u64 {
        self.goroutines.iter().map(|g| g.count).sum()
    }
}

/// Builds a [`Dump`] with frames and stacks interned.
#[derive(Default)]
pub struct DumpBuilder {
    pub dump: Dump,
    frame_index: rustc_hash::FxHashMap<GFrame, FrameIdx>,
    stack_index: hashbrown::HashMap<Box<[FrameIdx]>, StackIdx, rustc_hash::FxBuildHasher>,
}

impl DumpBuilder {
    pub fn intern(&mut self, s: &str) -> StrId {
        self.dump.strings.intern(s)
    }

    pub fn frame(&mut self, f: GFrame) -> FrameIdx {
        let next = self.dump.frames.len() as FrameIdx;
        *self.frame_index.entry(f).or_insert_with(|| {
            self.dump.frames.push(f);
            next
        })
    }

    /// The index of a stack (leaf first), adding it on first sight.
    pub fn stack(&mut self, frames: &[FrameIdx]) -> StackIdx {
        if let Some(&s) = self.stack_index.get(frames) {
            return s;
        }
        let s = self.dump.stacks.len() as StackIdx;
        let start = self.dump.stack_frames.len() as u32;
        self.dump.stack_frames.extend_from_slice(frames);
        self.dump
            .stacks
            .push((start, self.dump.stack_frames.len() as u32));
        self.stack_index.insert(frames.into(), s);
        s
    }

    pub fn finish(self) -> Dump {
        self.dump
    }
}
