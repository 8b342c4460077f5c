//! profile.proto decoding.
//!
//! The small tables (sample types, mappings, locations, functions) are decoded with the
//! prost-generated types. Samples, which are most of a large profile's bytes, are decoded by a
//! hand-written pass straight into the model's column vectors: prost's owned `Sample` structs
//! (three `Vec`s per sample) cost one allocation per field per sample, ~20x slower than the
//! gunzip that precedes it on fleet-sized heap profiles (issue 9). The string table is also read
//! by hand so invalid UTF-8 in a name is replaced (U+FFFD) rather than failing the whole file:
//! Go strings are bytes and `go tool pprof` reads such files.
//!
//! Two passes over the top-level fields: the first reads everything but samples (Go writes
//! samples before the locations they refer to), the second decodes samples with the location
//! table already resolved, so stacks are stored as dense `LocId`s without a remap.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use prost::Message;

use crate::model::{
    Frame, FuncId, Function, Label, Location, MapId, Mapping, Profile, Samples, SamplesBuilder,
    SourceFormat, StackError, StrId, ValueType,
};
use crate::pb;

/// Limits that keep a hostile file from exhausting memory before validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum frames in one sample's stack.
    pub max_stack_depth: usize,
    /// Maximum samples in one profile.
    pub max_samples: usize,
    /// Maximum entries in each of the location, function and mapping tables.
    pub max_locations: usize,
    /// Maximum entries in the string table.
    pub max_strings: usize,
    /// Maximum length in bytes of one line of a legacy text profile.
    pub max_line_len: usize,
    /// Maximum length in bytes of one string of the string table: a string is held up to
    /// three times while it is decoded (issue 16, finding 9: one 2 GiB name aborted at 4 GB).
    pub max_string_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stack_depth: 1 << 16,
            max_samples: 1 << 26,
            max_locations: 1 << 24,
            max_strings: 1 << 24,
            max_line_len: 1 << 20,
            max_string_len: 16 << 20,
        }
    }
}

fn check_string_len(len: u64, limits: &Limits, at: usize) -> Result<()> {
    if len > limits.max_string_len as u64 {
        bail!(
            "a string of {len} bytes at byte offset {at} is over the limit of {} bytes (a limit of heapdoc's decoder)",
            limits.max_string_len
        );
    }
    Ok(())
}

fn check_count(n: usize, limit: usize, what: &str, at: usize) -> Result<()> {
    if n > limit {
        bail!("more than {limit} {what} (a limit of heapdoc's decoder), at byte offset {at}");
    }
    Ok(())
}

/// A cursor over protobuf wire bytes. Every read is bounds-checked and errors carry the
/// absolute byte offset in the (decompressed) input.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_FIXED32: u64 = 5;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// One varint; the one-byte case (keys, lengths, most ids) inline, the rest out of line.
    #[inline]
    fn varint(&mut self) -> Result<u64> {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64> {
        let mut result = 0u64;
        let mut shift = 0;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                bail!("truncated varint at byte offset {}", self.offset());
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                bail!(
                    "varint overflows 64 bits at byte offset {}",
                    self.offset() - 1
                );
            }
            result |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(result);
            }
            shift += 7;
            if shift > 63 {
                bail!(
                    "varint longer than 10 bytes at byte offset {}",
                    self.offset()
                );
            }
        }
    }

    /// Reads a field key: (field number, wire type).
    #[inline]
    fn key(&mut self) -> Result<(u64, u64)> {
        let at = self.offset();
        let k = self.varint()?;
        let field = k >> 3;
        if field == 0 {
            bail!("invalid protobuf field number 0 at byte offset {at}");
        }
        Ok((field, k & 7))
    }

    #[inline]
    fn bytes(&mut self) -> Result<(&'a [u8], usize)> {
        let len = self.varint()?;
        let start = self.pos;
        let at = self.offset();
        let end = (start as u64).checked_add(len).filter(|&e| e <= self.buf.len() as u64).ok_or_else(|| {
            anyhow!("length-delimited field of {len} bytes at byte offset {at} runs past the end of its message")
        })? as usize;
        self.pos = end;
        Ok((&self.buf[start..end], self.base + start))
    }

    fn skip(&mut self, wire: u64) -> Result<()> {
        let at = self.offset();
        match wire {
            WIRE_VARINT => {
                self.varint()?;
            }
            WIRE_FIXED64 => self.advance(8, at)?,
            WIRE_LEN => {
                self.bytes()?;
            }
            WIRE_FIXED32 => self.advance(4, at)?,
            w => bail!("unsupported protobuf wire type {w} at byte offset {at}"),
        }
        Ok(())
    }

    fn advance(&mut self, n: usize, at: usize) -> Result<()> {
        if self.buf.len() - self.pos < n {
            bail!("truncated fixed-width field at byte offset {at}");
        }
        self.pos += n;
        Ok(())
    }
}

/// Maps a file's ids (arbitrary non-zero u64) to dense indexes. Go writes ids 1..=n in
/// order, which takes the fast path with no hashing.
enum IdMap {
    Dense(usize),
    Sparse(HashMap<u64, u32>),
}

impl IdMap {
    fn build(ids: impl Iterator<Item = u64>, what: &str) -> Result<IdMap> {
        let ids: Vec<u64> = ids.collect();
        if ids.iter().enumerate().all(|(i, &id)| id == i as u64 + 1) {
            return Ok(IdMap::Dense(ids.len()));
        }
        let mut map = HashMap::with_capacity(ids.len());
        for (i, &id) in ids.iter().enumerate() {
            if id == 0 {
                bail!("{what} #{} has id 0 (ids must be non-zero)", i + 1);
            }
            if map.insert(id, i as u32).is_some() {
                bail!("duplicate {what} id {id}");
            }
        }
        Ok(IdMap::Sparse(map))
    }

    #[inline]
    fn get(&self, id: u64) -> Option<u32> {
        match self {
            IdMap::Dense(n) => (id >= 1 && id <= *n as u64).then(|| (id - 1) as u32),
            IdMap::Sparse(m) => m.get(&id).copied(),
        }
    }
}

/// A top-level field's value.
enum Val<'a> {
    Varint(u64),
    Bytes(&'a [u8], usize),
    /// A fixed-width value (skipped).
    Fixed,
}

/// Marks a file the streaming decoder does not handle in one pass (samples before the sample
/// types, label string indexes over 32 bits): the caller decodes it from a whole buffer
/// instead. Never seen on Go's output.
#[derive(Debug)]
pub struct NeedsBuffer;

impl std::fmt::Display for NeedsBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("profile needs the buffered decoder")
    }
}

impl std::error::Error for NeedsBuffer {}

/// Everything but the samples, accumulated field by field in file order. Strings are interned
/// as they arrive, so both decoders give the same ids.
struct Tables {
    p: Profile,
    string_map: Vec<StrId>,
    first_string_len: usize,
    sample_types: Vec<pb::ValueType>,
    mappings: Vec<pb::Mapping>,
    locations: Vec<pb::Location>,
    functions: Vec<pb::Function>,
    period_type: Option<pb::ValueType>,
    comments: Vec<i64>,
    default_sample_type: i64,
    n_samples: usize,
}

impl Tables {
    fn new() -> Tables {
        Tables {
            p: Profile {
                format: Some(SourceFormat::Proto),
                ..Profile::default()
            },
            string_map: Vec::new(),
            first_string_len: 0,
            sample_types: Vec::new(),
            mappings: Vec::new(),
            locations: Vec::new(),
            functions: Vec::new(),
            period_type: None,
            comments: Vec::new(),
            default_sample_type: 0,
            n_samples: 0,
        }
    }

    /// One top-level field other than a sample (field 2).
    fn field(
        &mut self,
        field: u64,
        wire: u64,
        key_at: usize,
        val: Val<'_>,
        limits: &Limits,
    ) -> Result<()> {
        let want = |w: u64| -> Result<()> {
            if wire != w {
                bail!("profile field {field} has wire type {wire}, expected {w}, at byte offset {key_at}");
            }
            Ok(())
        };
        match field {
            1 | 3 | 4 | 5 | 6 | 11 => {
                want(WIRE_LEN)?;
                let Val::Bytes(b, at) = val else {
                    unreachable!("wire type checked")
                };
                let ctx = |what: &str| format!("invalid {what} message at byte offset {at}");
                match field {
                    1 => self
                        .sample_types
                        .push(pb::ValueType::decode(b).with_context(|| ctx("sample_type"))?),
                    3 => {
                        check_count(
                            self.mappings.len() + 1,
                            limits.max_locations,
                            "mappings",
                            key_at,
                        )?;
                        self.mappings
                            .push(pb::Mapping::decode(b).with_context(|| ctx("mapping"))?)
                    }
                    4 => {
                        check_count(
                            self.locations.len() + 1,
                            limits.max_locations,
                            "locations",
                            key_at,
                        )?;
                        self.locations
                            .push(pb::Location::decode(b).with_context(|| ctx("location"))?)
                    }
                    5 => {
                        check_count(
                            self.functions.len() + 1,
                            limits.max_locations,
                            "functions",
                            key_at,
                        )?;
                        self.functions
                            .push(pb::Function::decode(b).with_context(|| ctx("function"))?)
                    }
                    6 => {
                        check_count(
                            self.string_map.len() + 1,
                            limits.max_strings,
                            "strings",
                            key_at,
                        )?;
                        check_string_len(b.len() as u64, limits, key_at)?;
                        if self.string_map.is_empty() {
                            self.first_string_len = b.len();
                        }
                        let id = self.p.strings.intern(&String::from_utf8_lossy(b));
                        self.string_map.push(id);
                    }
                    _ => {
                        self.period_type =
                            Some(pb::ValueType::decode(b).with_context(|| ctx("period_type"))?)
                    }
                }
            }
            7..=10 | 12 | 14 | 15 => {
                want(WIRE_VARINT)?;
                let Val::Varint(v) = val else {
                    unreachable!("wire type checked")
                };
                let v = v as i64;
                match field {
                    9 => self.p.time_nanos = v,
                    10 => self.p.duration_nanos = v,
                    12 => self.p.period = v,
                    14 => self.default_sample_type = v,
                    _ => {}
                }
            }
            13 => match val {
                // repeated int64, packed or not.
                Val::Bytes(b, at) => {
                    let mut pr = Reader::new(b, at);
                    while !pr.at_end() {
                        self.comments.push(pr.varint()? as i64);
                    }
                }
                _ => {
                    want(WIRE_VARINT)?;
                    if let Val::Varint(v) = val {
                        self.comments.push(v as i64);
                    }
                }
            },
            _ => {}
        }
        Ok(())
    }

    /// Checks and converts the tables; returns the profile (without samples), the location id
    /// map and the string map.
    fn finish(self) -> Result<(Profile, IdMap, Vec<StrId>)> {
        let Tables {
            mut p,
            string_map,
            first_string_len,
            sample_types,
            mappings,
            locations,
            functions,
            period_type,
            comments,
            default_sample_type,
            n_samples,
        } = self;
        if string_map.is_empty() {
            if n_samples == 0 && sample_types.is_empty() && locations.is_empty() {
                bail!("not a pprof profile: no string table, sample types or samples");
            }
            bail!("invalid profile: the string table is empty (it must start with \"\")");
        }
        if first_string_len != 0 {
            bail!("invalid profile: string_table[0] must be empty, found {first_string_len} bytes");
        }
        let st = |idx: i64, what: &dyn Fn() -> String| -> Result<StrId> {
            usize::try_from(idx)
                .ok()
                .and_then(|i| string_map.get(i).copied())
                .ok_or_else(|| {
                    anyhow!(
                        "{} refers to string {idx} but the string table has {} entries",
                        what(),
                        string_map.len()
                    )
                })
        };

        for (i, t) in sample_types.iter().enumerate() {
            p.sample_types.push(ValueType {
                ty: st(t.r#type, &|| format!("sample_type[{i}].type"))?,
                unit: st(t.unit, &|| format!("sample_type[{i}].unit"))?,
            });
        }
        if let Some(t) = &period_type {
            p.period_type = Some(ValueType {
                ty: st(t.r#type, &|| "period_type.type".into())?,
                unit: st(t.unit, &|| "period_type.unit".into())?,
            });
        }
        if default_sample_type != 0 {
            let name = st(default_sample_type, &|| "default_sample_type".into())?;
            p.default_sample_type = p.sample_types.iter().position(|t| t.ty == name);
        }
        for (i, c) in comments.iter().enumerate() {
            p.comments.push(st(*c, &|| format!("comment[{i}]"))?);
        }

        let map_ids = IdMap::build(mappings.iter().map(|m| m.id), "mapping")?;
        for m in &mappings {
            let filename = st(m.filename, &|| format!("mapping id {} filename", m.id))?;
            let label = crate::model::mapping_label(p.strings.get(filename));
            p.mappings.push(Mapping {
                memory_start: m.memory_start,
                memory_limit: m.memory_limit,
                file_offset: m.file_offset,
                filename,
                build_id: st(m.build_id, &|| format!("mapping id {} build_id", m.id))?,
                label: p.strings.intern(&label),
            });
        }
        let func_ids = IdMap::build(functions.iter().map(|f| f.id), "function")?;
        for f in &functions {
            p.functions.push(Function {
                name: st(f.name, &|| format!("function id {} name", f.id))?,
                system_name: st(f.system_name, &|| {
                    format!("function id {} system_name", f.id)
                })?,
                filename: st(f.filename, &|| format!("function id {} filename", f.id))?,
                start_line: f.start_line,
            });
        }
        let loc_ids = IdMap::build(locations.iter().map(|l| l.id), "location")?;
        for l in &locations {
            let mapping = match l.mapping_id {
                0 => None,
                id => Some(MapId(map_ids.get(id).ok_or_else(|| {
                    anyhow!("location id {} refers to missing mapping id {id}", l.id)
                })?)),
            };
            let start = p.frames.len() as u32;
            for line in &l.line {
                let func = func_ids.get(line.function_id).ok_or_else(|| {
                    anyhow!(
                        "location id {} refers to missing function id {}",
                        l.id,
                        line.function_id
                    )
                })?;
                p.frames.push(Frame {
                    func: FuncId(func),
                    line: line.line,
                });
            }
            p.locations.push(Location {
                address: l.address,
                mapping,
                frames_start: start,
                frames_end: p.frames.len() as u32,
            });
        }
        p.samples = Samples::new(p.sample_types.len());
        Ok((p, loc_ids, string_map))
    }
}

/// Samples being decoded into a [`SamplesBuilder`]: stacks keep the file's location ids and
/// labels its string indexes until the tables (which Go writes after the samples) are read;
/// [`finish_samples`] resolves them. The buffers are reused from sample to sample.
struct SampleSink {
    b: SamplesBuilder,
    labels: Vec<Label>,
    /// The label set a sample's label fields gave, by their bytes as read: Go's heap samples
    /// repeat a few dozen `bytes` labels, which are then neither decoded nor hashed again.
    label_sets: rustc_hash::FxHashMap<Box<[u8]>, u32>,
}

impl SampleSink {
    fn new(width: usize) -> SampleSink {
        SampleSink {
            b: SamplesBuilder::new(width),
            labels: Vec::new(),
            label_sets: rustc_hash::FxHashMap::default(),
        }
    }
}

/// Resolves the stored location ids and label string indexes, naming the first sample with
/// one that does not resolve.
fn finish_samples(
    sink: Option<SampleSink>,
    width: usize,
    loc_ids: &IdMap,
    string_map: &[StrId],
) -> Result<Samples> {
    let Some(sink) = sink else {
        return Ok(Samples::new(width));
    };
    sink.b.check_size()?;
    let mut s = sink.b.finish();
    // Go's ids 1..=n are already what the store keeps (`LocId + 1`), and `Profile::validate`
    // checks them; other ids are mapped here.
    if let IdMap::Sparse(m) = loc_ids {
        if let Err((k, id)) = s.remap_locations(|id| m.get(&id).copied()) {
            let index = s.first_sample(|r| r.stack == k).unwrap_or(0);
            bail!("sample #{index} refers to missing location id {id}");
        }
    }
    let resolved = s.remap_labels(|l| {
        for (what, id) in [
            ("key", &mut l.key),
            ("str", &mut l.str),
            ("num_unit", &mut l.unit),
        ] {
            *id = *string_map.get(id.0 as usize).ok_or((what, id.0))?;
        }
        Ok(())
    });
    if let Err((k, (what, i))) = resolved {
        let index = s.first_sample(|r| r.labels == k).unwrap_or(0);
        bail!(
            "sample #{index} label {what} refers to string {i} but the string table has {} entries",
            string_map.len()
        );
    }
    Ok(s)
}

/// Decodes an uncompressed profile.proto message held whole in memory into a validated
/// [`Profile`]. Two passes over the top-level fields: the first reads everything but samples
/// (Go writes samples before the locations they refer to), the second decodes samples with the
/// location table already resolved, so stacks are stored as dense `LocId`s without a remap.
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Profile> {
    let mut t = Tables::new();
    let mut r = Reader::new(buf, 0);
    while !r.at_end() {
        let key_at = r.offset();
        let (field, wire) = r.key()?;
        let val = match wire {
            WIRE_VARINT => Val::Varint(r.varint()?),
            WIRE_LEN => {
                let (b, at) = r.bytes()?;
                Val::Bytes(b, at)
            }
            w => {
                r.skip(w)?;
                Val::Fixed
            }
        };
        if field == 2 {
            if wire != WIRE_LEN {
                bail!("profile field 2 has wire type {wire}, expected {WIRE_LEN}, at byte offset {key_at}");
            }
            t.n_samples += 1;
            check_count(t.n_samples, limits.max_samples, "samples", key_at)?;
            continue;
        }
        t.field(field, wire, key_at, val, limits)?;
    }
    let (mut p, loc_ids, string_map) = t.finish()?;

    // Pass 2: samples, with the tables known.
    let width = p.sample_types.len();
    let mut sink = SampleSink::new(width);
    let mut batch = Batch::default();
    let mut r = Reader::new(buf, 0);
    let mut index = 0usize;
    let string = |i: i64| u32::try_from(i).ok().map(StrId);
    while !r.at_end() {
        let (field, wire) = r.key()?;
        if field != 2 {
            r.skip(wire)?;
            continue;
        }
        let (b, at) = r.bytes()?;
        batch.clear();
        parse_sample(b, at, index, width, &mut batch)?;
        if let Some(Item::Sample(s)) = batch.items.first() {
            commit_sample(s, &batch, limits, &mut sink, &string)
                .map_err(|e| resolve_error(e, index, &string_map))?;
        }
        index += 1;
    }
    p.samples = finish_samples(Some(sink), width, &loc_ids, &string_map)?;
    p.validate()?;
    Ok(p)
}

/// A label string index that does not fit the store's 32-bit column: the message the buffered
/// decoder gives.
#[derive(Debug)]
enum Unresolved {
    String(&'static str, i64),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Unresolved {}

fn resolve_error(e: anyhow::Error, index: usize, string_map: &[StrId]) -> anyhow::Error {
    match e.downcast_ref::<Unresolved>() {
        Some(Unresolved::String(what, i)) => anyhow!(
            "sample #{index} label {what} refers to string {i} but the string table has {} entries",
            string_map.len()
        ),
        None => e,
    }
}

/// Samples and other top-level fields as the framer read them, in file order: what crosses
/// from the decompressing thread to the decoding one (see [`decode_stream`]). Everything a
/// sample needs is copied into the batch's own vectors, reused from batch to batch.
#[derive(Default)]
pub struct Batch {
    items: Vec<Item>,
    bytes: Vec<u8>,
    values: Vec<i64>,
    /// Scratch for a stack given in several fields (reused, like everything here).
    gather: Vec<u8>,
    /// Byte offsets of the current sample's label fields.
    label_offsets: Vec<usize>,
    /// Set on the last batch: the end of the stream, or why the framer stopped.
    end: Option<std::result::Result<(), StreamError>>,
}

impl Batch {
    /// A batch sized for a full load up front, so a new batch does not reallocate its way up
    /// (the threaded decoder makes a fixed number of them).
    fn full_size() -> Batch {
        Batch {
            items: Vec::with_capacity(Framer::<std::io::Empty>::BATCH_ITEMS),
            bytes: Vec::with_capacity(Framer::<std::io::Empty>::BATCH_BYTES + (4 << 10)),
            // Go heap profiles carry four values per sample.
            values: Vec::with_capacity(Framer::<std::io::Empty>::BATCH_ITEMS * 4),
            ..Batch::default()
        }
    }

    fn clear(&mut self) {
        self.items.clear();
        self.bytes.clear();
        self.values.clear();
        self.end = None;
    }
}

/// One top-level field of a [`Batch`]; ranges index the batch's vectors.
enum Item {
    Sample(ParsedSample),
    Field {
        field: u64,
        wire: u64,
        key_at: usize,
        val: ItemVal,
    },
}

enum ItemVal {
    Varint(u64),
    Bytes(std::ops::Range<usize>, usize),
    Fixed,
}

/// A sample read but not yet stored: its stack bytes with their hash and first look, its
/// values (decoded, and as read when they were one packed field), and its label fields.
struct ParsedSample {
    index: usize,
    at: usize,
    stack: std::ops::Range<usize>,
    hash: u32,
    values: std::ops::Range<usize>,
    raw_values: Option<std::ops::Range<usize>>,
    /// Each label field as `varint len, payload`: the key of the label set cache.
    labels: std::ops::Range<usize>,
    /// Each label field's byte offset, as varints.
    label_offsets: std::ops::Range<usize>,
}

/// Reads sample `index` (its message `b`, at byte offset `at`) into `batch`: the work that
/// needs no table, done on the decompressing thread when there is one.
fn parse_sample(b: &[u8], at: usize, index: usize, width: usize, batch: &mut Batch) -> Result<()> {
    let values_start = batch.values.len();
    // The stack: one packed field copied as read (Go's case), or every location_id field
    // gathered in order.
    let mut stack: Option<&[u8]> = None;
    let mut gathered = false;
    let mut gather = std::mem::take(&mut batch.gather);
    let mut raw_values: Option<&[u8]> = None;
    let mut value_fields = 0;
    // Label fields go straight into the batch (nothing allocated per sample); they are the
    // only bytes written before the loop ends, so they stay contiguous.
    let label_start = batch.bytes.len();
    batch.label_offsets.clear();
    let mut r = Reader::new(b, at);
    while !r.at_end() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, WIRE_LEN) => {
                let (pb, _) = r.bytes()?;
                if !gathered && stack.is_none() {
                    stack = Some(pb);
                } else {
                    start_gather(&mut gathered, &mut gather, stack);
                    gather.extend_from_slice(pb);
                }
            }
            (1, WIRE_VARINT) => {
                let v = r.varint()?;
                start_gather(&mut gathered, &mut gather, stack);
                put_varint(&mut gather, v);
            }
            (2, WIRE_LEN) => {
                let (pb, pat) = r.bytes()?;
                let mut pr = Reader::new(pb, pat);
                while !pr.at_end() {
                    batch.values.push(pr.varint()? as i64);
                    if batch.values.len() - values_start > width {
                        break;
                    }
                }
                raw_values = Some(pb);
                value_fields += 1;
            }
            (2, WIRE_VARINT) => {
                batch.values.push(r.varint()? as i64);
                value_fields += 2;
            }
            (3, WIRE_LEN) => {
                let (lb, lat) = r.bytes()?;
                put_varint(&mut batch.bytes, lb.len() as u64);
                batch.bytes.extend_from_slice(lb);
                batch.label_offsets.push(lat);
            }
            (f @ 1..=3, w) => {
                bail!("sample #{index} field {f} has unexpected wire type {w} at byte offset {at}")
            }
            (_, w) => r.skip(w)?,
        }
    }
    let n_values = batch.values.len() - values_start;
    if n_values != width {
        if n_values > width {
            bail!("sample #{index} has more values than the profile's {width} sample types");
        }
        bail!("sample #{index} has {n_values} values but the profile has {width} sample types");
    }
    let labels = label_start..batch.bytes.len();
    let offsets_start = batch.bytes.len();
    for &lat in &batch.label_offsets {
        put_varint(&mut batch.bytes, lat as u64);
    }
    let label_offsets = offsets_start..batch.bytes.len();
    let stack_bytes = if gathered {
        &gather[..]
    } else {
        stack.unwrap_or(&[])
    };
    let stack_start = batch.bytes.len();
    batch.bytes.extend_from_slice(stack_bytes);
    let stack = stack_start..batch.bytes.len();
    let raw = match raw_values {
        Some(raw) if value_fields == 1 => {
            let start = batch.bytes.len();
            batch.bytes.extend_from_slice(raw);
            Some(start..batch.bytes.len())
        }
        _ => None,
    };
    // The hash here, on the framing thread; the first look at a new stack is left to the
    // storing thread, which takes it only for the stacks it has not seen (faster on the 100 MB
    // profile than taking it here for every sample).
    let hash = crate::model::stack_hash(stack_bytes);
    batch.gather = gather;
    batch.items.push(Item::Sample(ParsedSample {
        index,
        at,
        stack,
        hash,
        values: values_start..batch.values.len(),
        raw_values: raw,
        labels,
        label_offsets,
    }));
    Ok(())
}

/// Switches a sample's stack to the gather buffer, starting it with what was read in place.
fn start_gather(gathered: &mut bool, gather: &mut Vec<u8>, stack: Option<&[u8]>) {
    if !*gathered {
        gather.clear();
        gather.extend_from_slice(stack.unwrap_or(&[]));
        *gathered = true;
    }
}

/// Stores a parsed sample: its stack and label set interned, its row written. `string` maps a
/// label's string index to the id stored (None: out of range).
fn commit_sample(
    s: &ParsedSample,
    batch: &Batch,
    limits: &Limits,
    sink: &mut SampleSink,
    string: &impl Fn(i64) -> Option<StrId>,
) -> Result<()> {
    let index = s.index;
    let at = s.at;
    let stack = &batch.bytes[s.stack.clone()];
    let k = match sink
        .b
        .stack_bytes_hashed(stack, s.hash, limits.max_stack_depth)
    {
        Ok(k) => k,
        Err(StackError::Malformed) => {
            bail!("sample #{index} has a malformed location_id varint at byte offset {at}")
        }
        Err(StackError::TooDeep(n)) => bail!(
            "sample #{index} has a stack of {n} frames, over the limit of {}",
            limits.max_stack_depth
        ),
    };
    let label_bytes = &batch.bytes[s.labels.clone()];
    let l = match sink.label_sets.get(label_bytes) {
        Some(&l) => l,
        None => {
            // New label bytes: decode each label field.
            sink.labels.clear();
            let offsets = &batch.bytes[s.label_offsets.clone()];
            let (mut pos, mut opos) = (0, 0);
            while pos < label_bytes.len() {
                let len = crate::model::read_varint(label_bytes, &mut pos) as usize;
                let lat = crate::model::read_varint(offsets, &mut opos) as usize;
                sink.labels
                    .push(decode_label(&label_bytes[pos..pos + len], lat, string)?);
                pos += len;
            }
            let l = sink.b.label_set(&sink.labels);
            sink.label_sets.insert(label_bytes.into(), l);
            l
        }
    };
    let values = &batch.values[s.values.clone()];
    match &s.raw_values {
        Some(raw) => sink.b.row_raw(k, l, values, &batch.bytes[raw.clone()]),
        None => sink.b.row(k, l, values),
    }
    Ok(())
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn decode_label(b: &[u8], at: usize, string: &impl Fn(i64) -> Option<StrId>) -> Result<Label> {
    let mut r = Reader::new(b, at);
    let (mut key, mut str, mut num, mut unit) = (0i64, 0i64, 0i64, 0i64);
    while !r.at_end() {
        let (field, wire) = r.key()?;
        if wire != WIRE_VARINT {
            r.skip(wire)?;
            continue;
        }
        let v = r.varint()? as i64;
        match field {
            1 => key = v,
            2 => str = v,
            3 => num = v,
            4 => unit = v,
            _ => {}
        }
    }
    let st = |i: i64, what: &'static str| -> Result<StrId> {
        Ok(string(i).ok_or(Unresolved::String(what, i))?)
    };
    Ok(Label {
        key: st(key, "key")?,
        str: st(str, "str")?,
        num,
        unit: st(unit, "num_unit")?,
    })
}

/// Why a streamed decode stopped.
pub enum StreamError {
    /// The decompressor failed (corrupt gzip, over the size limit): reported as is.
    Input(anyhow::Error),
    /// The profile is invalid.
    Proto(anyhow::Error),
    /// Decode this file from a whole buffer instead ([`NeedsBuffer`]).
    NeedsBuffer,
}

/// A forward-only buffered view of a decompressing reader, handing out whole top-level
/// fields as slices of its buffer (grown when one field is larger than the buffer).
pub struct Stream<R: std::io::Read> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]` in the decompressed stream.
    base: usize,
    eof: bool,
    max_size: u64,
}

impl<R: std::io::Read> Stream<R> {
    pub fn new(r: R, max_size: u64) -> Stream<R> {
        Stream {
            r,
            buf: vec![0; 1 << 18],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            max_size,
        }
    }

    /// Makes at least `n` unread bytes available unless the stream ends first. Errors are
    /// the decompressor's.
    pub fn fill(&mut self, n: usize) -> Result<()> {
        if self.end - self.pos >= n || self.eof {
            return Ok(());
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n && !self.eof {
            // The buffer grows with the bytes that arrive, never to a declared length: a
            // field that claims 2 GiB in a 1 KB gzip costs what is actually inflated
            // (issue 16, finding 4).
            if self.end == self.buf.len() {
                let grown = self.buf.len().saturating_mul(2).min(n).max(self.end + 1);
                self.buf.resize(grown, 0);
            }
            let k = loop {
                match self.r.read(&mut self.buf[self.end..]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            }
            .context("corrupt or truncated gzip data")?;
            if k == 0 {
                self.eof = true;
            }
            self.end += k;
            if (self.base + self.end) as u64 > self.max_size {
                bail!(
                    "decompressed size exceeds the --max-size limit of {} bytes (a gzip bomb, or raise --max-size)",
                    self.max_size
                );
            }
        }
        Ok(())
    }

    /// The unread bytes in the buffer.
    pub fn peek(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub fn at_eof(&self) -> bool {
        self.eof && self.pos == self.end
    }

    /// Reads to the end, for the decompressor's verdict on the rest of the input.
    fn drain(&mut self) -> Result<()> {
        while !self.eof {
            self.pos = self.end;
            self.fill(self.buf.len())?;
        }
        Ok(())
    }
}

/// Decodes a profile.proto stream in one pass without holding it whole (issue 9: peak memory
/// is the decoded profile, not the decompressed file). Samples are stored with the file's
/// location ids and string indexes, resolved when the tables (which Go writes after the
/// samples) have been read.
///
/// Two stages: a [`Framer`] decompresses, splits the top-level fields and reads each sample
/// (the work that needs no table), and this thread stores them (stack and label interning,
/// rows, tables). With `threaded`, the framer runs on a second core and hands over recycled
/// batches through a bounded channel, so the two stages overlap instead of adding up; a gzip
/// bomb still stops at the stream's `--max-size` check.
pub fn decode_stream<R: std::io::Read + Send>(
    st: Stream<R>,
    limits: &Limits,
    threaded: bool,
) -> std::result::Result<Profile, StreamError> {
    let mut framer = Framer::new(st, limits.clone());
    if !threaded {
        let mut batch = Batch::default();
        return consume(
            || {
                framer.next_batch(&mut batch);
                Some(std::mem::take(&mut batch))
            },
            |_| {},
            limits,
        );
    }
    use std::sync::mpsc::sync_channel;
    const IN_FLIGHT: usize = 4;
    // At most BATCHES batches ever exist, and the recycling channel holds them all, so no
    // batch is dropped and made again however the two threads are timed: the allocations do
    // not grow with the input (tests/alloc_count.rs).
    const BATCHES: usize = IN_FLIGHT + 2;
    let (full_tx, full_rx) = sync_channel::<Batch>(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Batch>(BATCHES);
    std::thread::scope(|scope| {
        let mut made = 0;
        scope.spawn(move || loop {
            let mut batch = match empty_rx.try_recv() {
                Ok(b) => b,
                Err(_) if made < BATCHES => {
                    made += 1;
                    Batch::full_size()
                }
                // Every batch is in flight: wait for one back (Err: the consumer is gone).
                Err(_) => match empty_rx.recv() {
                    Ok(b) => b,
                    Err(_) => return,
                },
            };
            let more = framer.next_batch(&mut batch);
            // Stops when the consumer has stopped listening, or after the last batch.
            if full_tx.send(batch).is_err() || !more {
                return;
            }
        });
        consume(
            || full_rx.recv().ok(),
            |b| {
                let _ = empty_tx.try_send(b);
            },
            limits,
        )
    })
}

/// The decoding stage of [`decode_stream`]: takes batches from `next` (None: the framer is
/// gone) and gives them back to `recycle`.
fn consume(
    mut next: impl FnMut() -> Option<Batch>,
    mut recycle: impl FnMut(Batch),
    limits: &Limits,
) -> std::result::Result<Profile, StreamError> {
    let mut t = Tables::new();
    let mut sink: Option<SampleSink> = None;
    let raw_str = |i: i64| u32::try_from(i).ok().map(StrId);
    let failed: anyhow::Error = 'read: loop {
        let Some(batch) = next() else {
            break 'read anyhow!("the profile decoder stopped unexpectedly");
        };
        for item in &batch.items {
            let done = match item {
                Item::Sample(s) => {
                    let sink = sink.get_or_insert_with(|| SampleSink::new(t.sample_types.len()));
                    t.n_samples += 1;
                    commit_sample(s, &batch, limits, sink, &raw_str)
                }
                Item::Field {
                    field,
                    wire,
                    key_at,
                    val,
                } => {
                    let val = match val {
                        ItemVal::Varint(v) => Val::Varint(*v),
                        ItemVal::Bytes(r, at) => Val::Bytes(&batch.bytes[r.clone()], *at),
                        ItemVal::Fixed => Val::Fixed,
                    };
                    t.field(*field, *wire, *key_at, val, limits)
                }
            };
            if let Err(e) = done {
                if e.downcast_ref::<Unresolved>().is_some() {
                    // A string index that does not fit the raw 32-bit column.
                    return Err(StreamError::NeedsBuffer);
                }
                break 'read e;
            }
        }
        match batch.end {
            None => recycle(batch),
            Some(Ok(())) => {
                return finish_stream(t, sink).map_err(StreamError::Proto);
            }
            Some(Err(e)) => return Err(e),
        }
    };
    // A corrupt gzip stream is reported as such even when the protobuf broke first: read the
    // framer's batches to its end for the decompressor's verdict.
    loop {
        let Some(mut batch) = next() else {
            return Err(StreamError::Proto(failed));
        };
        match batch.end.take() {
            Some(Ok(())) => return Err(StreamError::Proto(failed)),
            Some(Err(StreamError::Input(e))) => return Err(StreamError::Input(e)),
            Some(Err(_)) => return Err(StreamError::Proto(failed)),
            // Given back, so a framer waiting for a free batch goes on to the stream's end.
            None => recycle(batch),
        }
    }
}

/// The tables resolved, the samples' ids with them, and the whole profile validated.
fn finish_stream(t: Tables, sink: Option<SampleSink>) -> Result<Profile> {
    let (mut p, loc_ids, string_map) = t.finish()?;
    p.samples = finish_samples(sink, p.sample_types.len(), &loc_ids, &string_map)?;
    p.validate()?;
    Ok(p)
}

/// The framing stage of [`decode_stream`]: reads the stream's top-level fields in order and
/// parses each sample into batches of about [`Framer::BATCH_BYTES`].
pub struct Framer<R: std::io::Read> {
    st: Stream<R>,
    limits: Limits,
    /// Sample types seen before the first sample: the samples' width.
    sample_types: usize,
    /// Samples read so far.
    samples: usize,
    ended: bool,
}

impl<R: std::io::Read> Framer<R> {
    const BATCH_BYTES: usize = 256 << 10;
    const BATCH_ITEMS: usize = 4096;

    fn new(st: Stream<R>, limits: Limits) -> Framer<R> {
        Framer {
            st,
            limits,
            sample_types: 0,
            samples: 0,
            ended: false,
        }
    }

    /// Fills `batch` (cleared first); false when it is the last, with `batch.end` set.
    fn next_batch(&mut self, batch: &mut Batch) -> bool {
        batch.clear();
        if self.ended {
            batch.end = Some(Err(StreamError::Proto(anyhow!("read past the end"))));
            return false;
        }
        let end = loop {
            if batch.bytes.len() >= Self::BATCH_BYTES || batch.items.len() >= Self::BATCH_ITEMS {
                return true;
            }
            match self.field(batch) {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) if e.is::<NeedsBuffer>() => break Err(StreamError::NeedsBuffer),
                Err(e) => match e.downcast::<InputError>() {
                    Ok(InputError(input)) => break Err(StreamError::Input(input)),
                    Err(e) => {
                        // A corrupt gzip stream is reported as such even when the protobuf
                        // broke first.
                        if let Err(input) = self.st.drain() {
                            break Err(StreamError::Input(input));
                        }
                        break Err(StreamError::Proto(e));
                    }
                },
            }
        };
        self.ended = true;
        batch.end = Some(end);
        false
    }

    /// Reads one top-level field into `batch`; false at the end of the stream.
    fn field(&mut self, batch: &mut Batch) -> Result<bool> {
        let st = &mut self.st;
        st.fill(20).map_err(input_err)?;
        if st.at_eof() {
            return Ok(false);
        }
        let base = st.base + st.pos;
        let mut r = Reader::new(st.peek(), base);
        let key_at = r.offset();
        let (field, wire) = r.key()?;
        let header;
        let val_len;
        let mut varint_val = 0;
        match wire {
            WIRE_LEN => {
                let len = r.varint()?;
                header = r.pos;
                if field == 6 {
                    // Refused before its bytes are buffered.
                    check_string_len(len, &self.limits, key_at)?;
                }
                let total = (header as u64)
                    .checked_add(len)
                    .filter(|&n| n <= st.max_size + 1);
                let Some(total) = total else {
                    bail!("length-delimited field of {len} bytes at byte offset {} runs past the end of its message", base + header);
                };
                st.fill(total as usize).map_err(input_err)?;
                if st.end - st.pos < total as usize {
                    bail!("length-delimited field of {len} bytes at byte offset {} runs past the end of its message", base + header);
                }
                val_len = len as usize;
            }
            WIRE_VARINT => {
                varint_val = r.varint()?;
                header = r.pos;
                val_len = 0;
            }
            WIRE_FIXED64 | WIRE_FIXED32 => {
                header = r.pos;
                val_len = if wire == WIRE_FIXED64 { 8 } else { 4 };
                st.fill(header + val_len).map_err(input_err)?;
                if st.end - st.pos < header + val_len {
                    bail!(
                        "truncated fixed-width field at byte offset {}",
                        base + header
                    );
                }
            }
            w => bail!(
                "unsupported protobuf wire type {w} at byte offset {}",
                r.offset()
            ),
        }
        // Re-read the value from the (possibly refilled) buffer.
        let data = &st.buf[st.pos + header..st.pos + header + val_len];
        if field == 2 {
            if self.sample_types == 0 {
                // Samples before their types (protobuf allows any order): the width is not
                // known yet; the buffered decoder reads the whole message (finding 20).
                return Err(NeedsBuffer.into());
            }
            if wire != WIRE_LEN {
                bail!("profile field 2 has wire type {wire}, expected {WIRE_LEN}, at byte offset {key_at}");
            }
            parse_sample(data, base + header, self.samples, self.sample_types, batch)?;
            self.samples += 1;
            check_count(self.samples, self.limits.max_samples, "samples", key_at)?;
        } else {
            if field == 1 {
                if self.samples > 0 {
                    // A sample type after samples: the samples' width was wrong.
                    return Err(NeedsBuffer.into());
                }
                self.sample_types += 1;
            }
            let val = match wire {
                WIRE_VARINT => ItemVal::Varint(varint_val),
                WIRE_LEN => {
                    let start = batch.bytes.len();
                    batch.bytes.extend_from_slice(data);
                    ItemVal::Bytes(start..batch.bytes.len(), base + header)
                }
                _ => ItemVal::Fixed,
            };
            batch.items.push(Item::Field {
                field,
                wire,
                key_at,
                val,
            });
        }
        st.pos += header + val_len;
        Ok(true)
    }
}

/// An error of the decompressor inside [`Framer::field`], kept apart from protobuf errors.
#[derive(Debug)]
struct InputError(anyhow::Error);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InputError {}

fn input_err(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(InputError(e))
}

/// The speed limit of any decoder (issue 9's baseline): one pass over the wire format that
/// reads every key and every varint of every sample (packed fields included) and skips
/// everything else, keeping nothing. Returns a checksum so the work cannot be optimized away.
#[doc(hidden)]
pub fn walk(buf: &[u8]) -> Result<u64> {
    let mut sum = 0u64;
    let mut r = Reader::new(buf, 0);
    while !r.at_end() {
        let (field, wire) = r.key()?;
        if field != 2 || wire != WIRE_LEN {
            r.skip(wire)?;
            continue;
        }
        let (b, at) = r.bytes()?;
        let mut s = Reader::new(b, at);
        while !s.at_end() {
            let (f, w) = s.key()?;
            if w != WIRE_LEN {
                s.skip(w)?;
                continue;
            }
            let (pb, pat) = s.bytes()?;
            let mut pr = Reader::new(pb, pat);
            while !pr.at_end() {
                if f == 3 {
                    let (_, lw) = pr.key()?;
                    if lw != WIRE_VARINT {
                        pr.skip(lw)?;
                        continue;
                    }
                }
                sum = sum.wrapping_add(pr.varint()?);
            }
        }
    }
    Ok(sum)
}
