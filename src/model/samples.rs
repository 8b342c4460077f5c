//! The sample store: compact, because on fleet profiles the samples are nearly all of the
//! memory (issue 9: peak RSS within 1.5x the uncompressed profile).
//!
//! - Distinct stacks are stored once, as varints of `LocId + 1`, leaf first, concatenated
//!   (`stack_bytes`, with end offsets). A Go location id is one or two bytes, against four for
//!   a `u32`, and a decoder can intern a stack by hashing and comparing the bytes it read,
//!   without decoding them (see [`SamplesBuilder::stack_bytes`]).
//! - Distinct label sets are stored once (Go's heap profiles carry one `bytes` label per
//!   sample and a few dozen distinct sets).
//! - Each sample is a row of varints in one byte vector: its stack index, its label set index,
//!   then its `width` values (as the wire format's int64 varints). Rows are read in order
//!   with a [`Cursor`]; every stage walks the samples front to back, so nothing needs random
//!   access, and a Go heap sample takes about 10 bytes instead of 40.
//!
//! Only [`SamplesBuilder`] writes a store, so the rows are always well formed.

use anyhow::{bail, Result};

use super::{Label, LocId};

/// The samples of a profile; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    /// Number of values per sample (`sample_types.len()`).
    width: usize,
    len: usize,
    stack_bytes: Vec<u8>,
    stacks_end: Vec<u32>,
    labels: Vec<Label>,
    label_sets_end: Vec<u32>,
    rows: Vec<u8>,
    /// Exact sum of each value column, kept as rows are written.
    sums: Vec<i128>,
    /// Smallest and largest location value stored (`LocId + 1`): the range check of
    /// [`Samples::find_bad_location`] without decoding every stack again.
    loc_min: u64,
    loc_max: u64,
    /// (byte offset in `rows`, sample index) of every [`MARK_EVERY`]th row: where
    /// [`Samples::cursors`] can start reading, so passes over the samples can be split.
    marks: Vec<(usize, usize)>,
}

/// Rows between two marks.
const MARK_EVERY: usize = 1 << 15;

#[inline]
fn range_of(ends: &[u32], k: usize) -> std::ops::Range<usize> {
    let start = if k == 0 { 0 } else { ends[k - 1] as usize };
    start..ends[k] as usize
}

/// Reads the varint at `*pos` of bytes the builder wrote (or checked): never fails.
#[inline(always)]
pub fn read_varint(b: &[u8], pos: &mut usize) -> u64 {
    get_varint(b, pos)
}

#[inline(always)]
fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[inline(always)]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Samples {
    /// An empty store for samples of `width` values.
    pub fn new(width: usize) -> Samples {
        Samples {
            width,
            sums: vec![0; width],
            loc_min: u64::MAX,
            ..Samples::default()
        }
    }

    /// Number of values per sample.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Exact sum of each value column (one per sample type).
    pub fn sums(&self) -> &[i128] {
        &self.sums
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct stacks stored.
    pub fn stack_count(&self) -> usize {
        self.stacks_end.len()
    }

    /// Distinct stack `k` (a sample's [`SampleRef::stack`]), leaf first.
    #[inline]
    pub fn stack(&self, k: u32) -> Stack<'_> {
        Stack(&self.stack_bytes[range_of(&self.stacks_end, k as usize)])
    }

    /// Number of distinct label sets stored.
    pub fn label_set_count(&self) -> usize {
        self.label_sets_end.len()
    }

    /// Distinct label set `k` (a sample's [`SampleRef::labels`]).
    pub fn labels(&self, k: u32) -> &[Label] {
        &self.labels[range_of(&self.label_sets_end, k as usize)]
    }

    /// The samples in order.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            rows: &self.rows,
            pos: 0,
            index: 0,
            values: vec![0; self.width],
        }
    }

    /// The samples in order, cut into at most `parts` runs of about equal length (at marks),
    /// each read by its own cursor: for passes split over threads.
    pub fn cursors(&self, parts: usize) -> Vec<Cursor<'_>> {
        let parts = parts.clamp(1, self.marks.len().max(1));
        let mut starts: Vec<(usize, usize)> = (0..parts)
            .map(|i| {
                self.marks
                    .get(i * self.marks.len() / parts)
                    .copied()
                    .unwrap_or((0, 0))
            })
            .collect();
        starts.dedup();
        let ends: Vec<usize> = starts
            .iter()
            .skip(1)
            .map(|&(at, _)| at)
            .chain([self.rows.len()])
            .collect();
        starts
            .into_iter()
            .zip(ends)
            .map(|((at, index), end)| Cursor {
                rows: &self.rows[at..end],
                pos: 0,
                index,
                values: vec![0; self.width],
            })
            .collect()
    }

    /// The first stored location value outside `1..=n` (a `LocId + 1`), with its stack: the
    /// check that every stack refers to one of `n` locations.
    pub fn find_bad_location(&self, n: usize) -> Option<(u32, u64)> {
        if self.stacks_end.is_empty() || (self.loc_min >= 1 && self.loc_max <= n as u64) {
            return None;
        }
        for k in 0..self.stacks_end.len() {
            let b = &self.stack_bytes[range_of(&self.stacks_end, k)];
            let mut pos = 0;
            while pos < b.len() {
                let v = get_varint(b, &mut pos);
                if v == 0 || v > n as u64 {
                    return Some((k as u32, v));
                }
            }
        }
        None
    }

    /// Index of the first sample for which `pred` holds (for error messages: the first
    /// sample on a stack, or with a label set).
    pub fn first_sample(&self, pred: impl Fn(&SampleRef<'_>) -> bool) -> Option<usize> {
        let mut c = self.cursor();
        while let Some(s) = c.next() {
            if pred(&s) {
                return Some(s.index);
            }
        }
        None
    }

    /// Rewrites every stored location value through `map` (None: leave the value and report
    /// its stack). Used by decoders that stored a file's own location ids.
    pub fn remap_locations(
        &mut self,
        map: impl Fn(u64) -> Option<u32>,
    ) -> std::result::Result<(), (u32, u64)> {
        let mut out = Vec::with_capacity(self.stack_bytes.len());
        let mut ends = Vec::with_capacity(self.stacks_end.len());
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        for k in 0..self.stacks_end.len() {
            let b = &self.stack_bytes[range_of(&self.stacks_end, k)];
            let mut pos = 0;
            while pos < b.len() {
                let v = get_varint(b, &mut pos);
                let Some(id) = map(v) else {
                    return Err((k as u32, v));
                };
                let v = u64::from(id) + 1;
                (lo, hi) = (lo.min(v), hi.max(v));
                put_varint(&mut out, v);
            }
            ends.push(out.len() as u32);
        }
        self.stack_bytes = out;
        self.stacks_end = ends;
        (self.loc_min, self.loc_max) = (lo, hi);
        Ok(())
    }

    /// Rewrites every label through `map`, which may fail naming the label's part.
    pub fn remap_labels<E>(
        &mut self,
        mut map: impl FnMut(&mut Label) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), (u32, E)> {
        for k in 0..self.label_sets_end.len() {
            let range = range_of(&self.label_sets_end, k);
            for l in &mut self.labels[range] {
                map(l).map_err(|e| (k as u32, e))?;
            }
        }
        Ok(())
    }

    /// Negates every value (for `--base`); fails when a value is `i64::MIN`.
    pub fn negate(&mut self) -> Result<()> {
        let mut rows = Vec::with_capacity(self.rows.len());
        let mut vals = vec![0i64; self.width];
        let mut marks = Vec::new();
        let mut c = self.cursor();
        while let Some(s) = c.next() {
            if s.index % MARK_EVERY == 0 {
                marks.push((rows.len(), s.index));
            }
            for (o, v) in vals.iter_mut().zip(s.values) {
                *o = v
                    .checked_neg()
                    .ok_or_else(|| anyhow::anyhow!("a sample value cannot be negated"))?;
            }
            put_row(&mut rows, s.stack, s.labels, &vals);
        }
        self.rows = rows;
        self.marks = marks;
        for sum in &mut self.sums {
            *sum = -*sum;
        }
        Ok(())
    }

    /// Keeps the samples for which `keep` is true, in order; stacks and label sets are kept
    /// as they are (some may then have no sample).
    pub fn retain(&mut self, mut keep: impl FnMut(&SampleRef<'_>) -> bool) {
        let mut rows = Vec::new();
        let mut len = 0;
        let mut sums = vec![0i128; self.width];
        let mut marks = Vec::new();
        let mut c = self.cursor();
        while let Some(s) = c.next() {
            if keep(&s) {
                if len % MARK_EVERY == 0 {
                    marks.push((rows.len(), len));
                }
                put_row(&mut rows, s.stack, s.labels, s.values);
                add_sums(&mut sums, s.values);
                len += 1;
            }
        }
        rows.shrink_to_fit();
        self.rows = rows;
        self.len = len;
        self.sums = sums;
        self.marks = marks;
    }
}

#[inline]
fn add_sums(sums: &mut [i128], values: &[i64]) {
    for (s, &v) in sums.iter_mut().zip(values) {
        *s += v as i128;
    }
}

#[inline]
fn put_row(rows: &mut Vec<u8>, stack: u32, labels: u32, values: &[i64]) {
    put_varint(rows, u64::from(stack));
    put_varint(rows, u64::from(labels));
    for &v in values {
        put_varint(rows, v as u64);
    }
}

/// One distinct stack, leaf first: iterate it for its [`LocId`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Stack<'a>(&'a [u8]);

impl<'a> Stack<'a> {
    pub fn iter(self) -> StackIter<'a> {
        StackIter {
            b: self.0,
            front: 0,
            back: self.0.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.0.is_empty()
    }

    /// The leaf location (the allocation site's), if the stack is not empty.
    pub fn leaf(self) -> Option<LocId> {
        self.iter().next()
    }

    /// Number of frames (locations).
    pub fn len(self) -> usize {
        self.0.iter().filter(|&&b| b < 0x80).count()
    }
}

impl<'a> IntoIterator for Stack<'a> {
    type Item = LocId;
    type IntoIter = StackIter<'a>;
    fn into_iter(self) -> StackIter<'a> {
        self.iter()
    }
}

/// The locations of a [`Stack`], leaf first (or root first, reversed).
#[derive(Clone, Debug)]
pub struct StackIter<'a> {
    b: &'a [u8],
    front: usize,
    back: usize,
}

impl Iterator for StackIter<'_> {
    type Item = LocId;
    #[inline]
    fn next(&mut self) -> Option<LocId> {
        if self.front >= self.back {
            return None;
        }
        Some(LocId((get_varint(self.b, &mut self.front) - 1) as u32))
    }
}

impl DoubleEndedIterator for StackIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<LocId> {
        if self.front >= self.back {
            return None;
        }
        // The last byte of a varint is the only one below 0x80.
        let end = self.back;
        let mut start = end - 1;
        while start > self.front && self.b[start - 1] >= 0x80 {
            start -= 1;
        }
        self.back = start;
        let mut pos = start;
        Some(LocId((get_varint(self.b, &mut pos) - 1) as u32))
    }
}

/// Reads the samples in order: `while let Some(s) = cursor.next() { ... }`. Decodes each row
/// into one reused buffer, so walking a profile allocates nothing per sample.
pub struct Cursor<'a> {
    rows: &'a [u8],
    pos: usize,
    index: usize,
    values: Vec<i64>,
}

/// One sample, borrowed from a [`Cursor`].
#[derive(Debug)]
pub struct SampleRef<'c> {
    /// Position of the sample in the profile.
    pub index: usize,
    /// Its stack: [`Samples::stack`].
    pub stack: u32,
    /// Its label set: [`Samples::labels`].
    pub labels: u32,
    /// One value per sample type.
    pub values: &'c [i64],
}

impl Cursor<'_> {
    #[inline]
    #[allow(clippy::should_implement_trait)] // a lending iterator: values borrow the cursor
    pub fn next(&mut self) -> Option<SampleRef<'_>> {
        if self.pos >= self.rows.len() {
            return None;
        }
        let stack = get_varint(self.rows, &mut self.pos) as u32;
        let labels = get_varint(self.rows, &mut self.pos) as u32;
        for v in self.values.iter_mut() {
            *v = get_varint(self.rows, &mut self.pos) as i64;
        }
        let index = self.index;
        self.index += 1;
        Some(SampleRef {
            index,
            stack,
            labels,
            values: &self.values,
        })
    }
}

/// A hash of a byte string, eight bytes at a time (stack and label set interning).
#[inline]
fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Byte by byte: copy_from_slice of a few bytes is a memmove call.
        let w = rest
            .iter()
            .rev()
            .fold(0u64, |w, &b| (w << 8) | u64::from(b));
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    // hashbrown takes its control bits from the top: fold the high bits down and back up.
    h ^ (h >> 29) ^ (h << 23)
}

/// The table hash of a stored 32-bit hash (hashbrown wants 64 bits, control bits at the top).
#[inline]
fn h64(h: u32) -> u64 {
    (h as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// What a first look at a stack's varints finds: (how many, all canonical, smallest value,
/// largest value).
type Scan = (usize, bool, u64, u64);

/// The hash [`SamplesBuilder::stack_bytes_hashed`] wants for a stack's bytes.
#[inline]
pub fn stack_hash(b: &[u8]) -> u32 {
    (hash_bytes(b) >> 32) as u32
}

/// [`scan_any`] for stacks of one- and two-byte varints (ids below 16384: every Go profile
/// seen), a few operations per id; None for anything else.
#[inline]
fn scan_short(b: &[u8]) -> Option<Scan> {
    let (mut depth, mut canonical, mut lo, mut hi) = (0usize, true, u64::MAX, 0u64);
    let mut i = 0;
    while i < b.len() {
        let b0 = b[i];
        let v = if b0 < 0x80 {
            i += 1;
            u64::from(b0)
        } else {
            let b1 = *b.get(i + 1)?;
            if b1 >= 0x80 {
                return None;
            }
            canonical &= b1 != 0;
            i += 2;
            u64::from(b0 & 0x7f) | u64::from(b1) << 7
        };
        lo = lo.min(v);
        hi = hi.max(v);
        depth += 1;
    }
    Some((depth, canonical, lo, hi))
}

/// Checks any stack's varints: one pass over the bytes, `run` counting the continuation bytes
/// (>= 0x80) before the current one. A varint is malformed when it is truncated, longer than
/// 10 bytes, or over 64 bits (a 10th byte above 1); it is not canonical when it ends with a
/// zero byte after continuation bytes.
fn scan_any(b: &[u8]) -> std::result::Result<Scan, StackError> {
    let mut depth = 0usize;
    let mut canonical = true;
    let mut run = 0usize;
    let (mut v, mut lo, mut hi) = (0u64, u64::MAX, 0u64);
    for &byte in b {
        v |= u64::from(byte & 0x7f) << (7 * run);
        if byte >= 0x80 {
            run += 1;
            if run >= 10 {
                return Err(StackError::Malformed);
            }
        } else {
            if run == 9 && byte > 1 {
                return Err(StackError::Malformed);
            }
            canonical &= run == 0 || byte != 0;
            (lo, hi) = (lo.min(v), hi.max(v));
            depth += 1;
            run = 0;
            v = 0;
        }
    }
    if run != 0 {
        return Err(StackError::Malformed);
    }
    Ok((depth, canonical, lo, hi))
}

/// Why [`SamplesBuilder::stack_bytes`] refused a stack.
#[derive(Debug, PartialEq, Eq)]
pub enum StackError {
    /// A varint is truncated or longer than 64 bits.
    Malformed,
    /// More frames than the decoder's limit.
    TooDeep(usize),
}

/// Builds a [`Samples`], storing each distinct stack and label set once.
pub struct SamplesBuilder {
    s: Samples,
    /// (stack index, its hash).
    stacks: hashbrown::HashTable<(u32, u32)>,
    /// (label set index, its hash).
    label_sets: hashbrown::HashTable<(u32, u32)>,
    scratch: Vec<u8>,
    /// Running sums of the values in i64, flushed into the store's i128 sums when one would
    /// overflow and at the end: i128 read-modify-writes per row cost ~0.05 s on 2M samples.
    partial: Vec<i64>,
}

impl SamplesBuilder {
    pub fn new(width: usize) -> SamplesBuilder {
        SamplesBuilder {
            s: Samples::new(width),
            stacks: hashbrown::HashTable::new(),
            label_sets: hashbrown::HashTable::new(),
            scratch: Vec::new(),
            partial: vec![0; width],
        }
    }

    pub fn width(&self) -> usize {
        self.s.width
    }

    pub fn len(&self) -> usize {
        self.s.len
    }

    pub fn is_empty(&self) -> bool {
        self.s.len == 0
    }

    /// Interns a stack given as the protobuf varints of its location values, leaf first (a
    /// `Sample.location_id` packed field as read): the bytes are hashed and compared as they
    /// are, and decoded only the first time they are seen, to check them (varints well formed,
    /// at most `max_depth` of them) and to store them in canonical form.
    #[inline]
    pub fn stack_bytes(
        &mut self,
        b: &[u8],
        max_depth: usize,
    ) -> std::result::Result<u32, StackError> {
        self.stack_bytes_hashed(b, stack_hash(b), max_depth)
    }

    /// [`SamplesBuilder::stack_bytes`] with the bytes' [`stack_hash`] already taken (by the
    /// thread that read them).
    #[inline]
    pub fn stack_bytes_hashed(
        &mut self,
        b: &[u8],
        hash: u32,
        max_depth: usize,
    ) -> std::result::Result<u32, StackError> {
        if let Some(k) = self.find_hashed(b, hash) {
            return Ok(k);
        }
        // First sight: check, and canonicalize.
        let (depth, canonical, lo, hi) = match scan_short(b) {
            Some(scan) => scan,
            None => scan_any(b)?,
        };
        if depth > max_depth {
            return Err(StackError::TooDeep(depth));
        }
        (self.s.loc_min, self.s.loc_max) = (self.s.loc_min.min(lo), self.s.loc_max.max(hi));
        if canonical {
            return Ok(self.insert_hashed(b, hash));
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let mut pos = 0;
        while pos < b.len() {
            put_varint(&mut scratch, get_varint(b, &mut pos));
        }
        let k = match self.find_stack(&scratch) {
            Some(k) => k,
            None => self.insert_stack(&scratch),
        };
        self.scratch = scratch;
        Ok(k)
    }

    /// Interns a stack of locations, leaf first.
    pub fn stack(&mut self, locs: &[LocId]) -> u32 {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for l in locs {
            let v = u64::from(l.0) + 1;
            (self.s.loc_min, self.s.loc_max) = (self.s.loc_min.min(v), self.s.loc_max.max(v));
            put_varint(&mut scratch, v);
        }
        let k = match self.find_stack(&scratch) {
            Some(k) => k,
            None => self.insert_stack(&scratch),
        };
        self.scratch = scratch;
        k
    }

    #[inline]
    fn find_stack(&self, b: &[u8]) -> Option<u32> {
        self.find_hashed(b, stack_hash(b))
    }

    #[inline]
    fn find_hashed(&self, b: &[u8], h: u32) -> Option<u32> {
        let (bytes, ends) = (&self.s.stack_bytes, &self.s.stacks_end);
        self.stacks
            .find(h64(h), |&(k, kh)| {
                kh == h && bytes[range_of(ends, k as usize)] == *b
            })
            .map(|&(k, _)| k)
    }

    fn insert_stack(&mut self, b: &[u8]) -> u32 {
        self.insert_hashed(b, stack_hash(b))
    }

    fn insert_hashed(&mut self, b: &[u8], h: u32) -> u32 {
        let k = self.s.stacks_end.len() as u32;
        self.s.stack_bytes.extend_from_slice(b);
        self.s.stacks_end.push(self.s.stack_bytes.len() as u32);
        self.stacks
            .insert_unique(h64(h), (k, h), |&(_, kh)| h64(kh));
        k
    }

    /// Interns a label set.
    pub fn label_set(&mut self, labels: &[Label]) -> u32 {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for l in labels {
            for w in [
                l.key.0 as u64,
                l.str.0 as u64,
                l.num as u64,
                l.unit.0 as u64,
            ] {
                scratch.extend_from_slice(&w.to_le_bytes());
            }
        }
        let h = (hash_bytes(&scratch) >> 32) as u32;
        let (all, ends) = (&self.s.labels, &self.s.label_sets_end);
        let found = self
            .label_sets
            .find(h64(h), |&(k, kh)| {
                kh == h && all[range_of(ends, k as usize)] == *labels
            })
            .map(|&(k, _)| k);
        self.scratch = scratch;
        if let Some(k) = found {
            return k;
        }
        let k = self.s.label_sets_end.len() as u32;
        self.s.labels.extend_from_slice(labels);
        self.s.label_sets_end.push(self.s.labels.len() as u32);
        self.label_sets
            .insert_unique(h64(h), (k, h), |&(_, kh)| h64(kh));
        k
    }

    /// Appends a sample. `values.len()` must be the width.
    #[inline]
    pub fn row(&mut self, stack: u32, labels: u32, values: &[i64]) {
        debug_assert_eq!(values.len(), self.s.width);
        self.mark();
        put_row(&mut self.s.rows, stack, labels, values);
        self.add_partial(values);
        self.s.len += 1;
    }

    /// Appends a sample whose values are `raw`: exactly `width` protobuf varints that the
    /// caller has decoded into `values` (so they are well formed), copied as they are.
    #[inline]
    pub fn row_raw(&mut self, stack: u32, labels: u32, values: &[i64], raw: &[u8]) {
        debug_assert_eq!(values.len(), self.s.width);
        self.mark();
        put_varint(&mut self.s.rows, u64::from(stack));
        put_varint(&mut self.s.rows, u64::from(labels));
        self.s.rows.extend_from_slice(raw);
        self.add_partial(values);
        self.s.len += 1;
    }

    #[inline]
    fn mark(&mut self) {
        if self.s.len % MARK_EVERY == 0 {
            self.s.marks.push((self.s.rows.len(), self.s.len));
        }
    }

    #[inline]
    fn add_partial(&mut self, values: &[i64]) {
        for ((p, s), &v) in self.partial.iter_mut().zip(&mut self.s.sums).zip(values) {
            match p.checked_add(v) {
                Some(x) => *p = x,
                None => {
                    *s += *p as i128;
                    *p = v;
                }
            }
        }
    }

    /// Appends a sample, interning its stack and label set.
    pub fn push(&mut self, stack: &[LocId], values: &[i64], labels: &[Label]) {
        let k = self.stack(stack);
        let l = self.label_set(labels);
        self.row(k, l, values);
    }

    /// Fails when the store outgrew its 32-bit offsets.
    pub fn check_size(&self) -> Result<()> {
        if self.s.stack_bytes.len() > u32::MAX as usize || self.s.labels.len() > u32::MAX as usize {
            bail!("too many distinct stacks in one profile (over 4 GiB of them)");
        }
        Ok(())
    }

    /// The finished store, with spare capacity released.
    pub fn finish(self) -> Samples {
        let mut s = self.s;
        for (sum, p) in s.sums.iter_mut().zip(&self.partial) {
            *sum += *p as i128;
        }
        drop(self.stacks);
        drop(self.label_sets);
        s.stack_bytes.shrink_to_fit();
        s.stacks_end.shrink_to_fit();
        s.labels.shrink_to_fit();
        s.label_sets_end.shrink_to_fit();
        s.rows.shrink_to_fit();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StrId;

    fn locs(ids: &[u32]) -> Vec<LocId> {
        ids.iter().map(|&i| LocId(i)).collect()
    }

    #[test]
    fn stacks_round_trip_both_ways_and_are_interned() {
        let mut b = SamplesBuilder::new(2);
        let a = locs(&[0, 127, 128, 300_000, 5]);
        let k1 = b.stack(&a);
        let k2 = b.stack(&locs(&[1, 2]));
        assert_eq!(b.stack(&a), k1);
        let l = b.label_set(&[Label {
            key: StrId(1),
            str: StrId(2),
            num: 0,
            unit: StrId(0),
        }]);
        b.row(k1, l, &[3, -4]);
        b.row(k2, l, &[i64::MAX, i64::MIN]);
        let s = b.finish();
        assert_eq!(s.stack_count(), 2);
        assert_eq!(s.stack(k1).iter().collect::<Vec<_>>(), a);
        let mut rev: Vec<LocId> = s.stack(k1).iter().rev().collect();
        rev.reverse();
        assert_eq!(rev, a);
        assert_eq!(s.stack(k1).len(), 5);
        let mut c = s.cursor();
        let r = c.next().unwrap();
        assert_eq!(
            (r.index, r.stack, r.labels, r.values),
            (0, k1, l, &[3, -4][..])
        );
        let r = c.next().unwrap();
        assert_eq!(
            (r.index, r.stack, r.values),
            (1, k2, &[i64::MAX, i64::MIN][..])
        );
        assert!(c.next().is_none());
    }

    #[test]
    fn raw_stack_bytes_are_checked_and_canonicalized() {
        let mut b = SamplesBuilder::new(0);
        // 1, 2 canonically; then 1 written with a redundant zero group.
        let k = b.stack_bytes(&[1, 2], 10).unwrap();
        assert_eq!(b.stack_bytes(&[0x81, 0x00, 2], 10), Ok(k));
        assert_eq!(b.stack_bytes(&[0x81], 10), Err(StackError::Malformed));
        assert_eq!(b.stack_bytes(&[1, 2, 3], 2), Err(StackError::TooDeep(3)));
        assert_eq!(b.stack_bytes(&[0xff; 11], 100), Err(StackError::Malformed));
        let s = b.finish();
        assert_eq!(s.stack_count(), 1);
        assert_eq!(s.find_bad_location(1), Some((0, 2)));
        assert_eq!(s.find_bad_location(2), None);
    }

    #[test]
    fn sums_are_exact_past_64_bits() {
        let mut b = SamplesBuilder::new(2);
        let k = b.stack(&locs(&[0]));
        let l = b.label_set(&[]);
        for _ in 0..5 {
            b.row(k, l, &[i64::MAX, -3]);
        }
        b.row(k, l, &[i64::MIN, 1]);
        let s = b.finish();
        assert_eq!(s.sums(), &[5 * (i64::MAX as i128) + i64::MIN as i128, -14]);
    }

    #[test]
    fn short_scan_agrees_with_the_general_one() {
        let mut rnd = heapdoc_synth::rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = rnd(12) as usize;
            // Bytes biased to the shapes that matter: small ids, continuation bytes, zeros.
            let b: Vec<u8> = (0..len)
                .map(|_| match rnd(4) {
                    0 => 0,
                    1 => 0x80 | rnd(128) as u8,
                    _ => rnd(128) as u8,
                })
                .collect();
            if let Some(short) = scan_short(&b) {
                assert_eq!(Ok(short), scan_any(&b), "{b:?}");
            } else {
                // Only three-byte or truncated varints go the long way.
                let long = b.windows(2).any(|w| w[0] >= 0x80 && w[1] >= 0x80)
                    || b.last().is_some_and(|&l| l >= 0x80);
                assert!(long, "{b:?}");
            }
        }
    }

    #[test]
    fn cursors_split_the_samples_in_order() {
        let mut b = SamplesBuilder::new(1);
        let k = b.stack(&locs(&[0]));
        let l = b.label_set(&[]);
        let n = 3 * MARK_EVERY + 5;
        for i in 0..n {
            b.row(k, l, &[i as i64]);
        }
        let mut s = b.finish();
        for parts in [1, 2, 3, 4, 9] {
            let mut seen = Vec::new();
            for mut c in s.cursors(parts) {
                while let Some(r) = c.next() {
                    assert_eq!(r.values[0], r.index as i64);
                    seen.push(r.index);
                }
            }
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "{parts} parts");
        }
        s.retain(|r| r.index % 3 == 0);
        let kept: Vec<i64> = s
            .cursors(4)
            .into_iter()
            .flat_map(|mut c| {
                let mut v = Vec::new();
                while let Some(r) = c.next() {
                    v.push(r.values[0]);
                }
                v
            })
            .collect();
        assert_eq!(
            kept,
            (0..n as i64).filter(|i| i % 3 == 0).collect::<Vec<_>>()
        );
    }
}
