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
    Frame, FuncId, Function, Label, LocId, Location, MapId, Mapping, Profile, SourceFormat, StrId,
    ValueType,
};
use crate::pb;

/// Limits that keep a hostile file from exhausting memory before validation.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum frames in one sample's stack.
    pub max_stack_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stack_depth: 1 << 16,
        }
    }
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

    #[inline]
    fn varint(&mut self) -> Result<u64> {
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

/// Decodes an uncompressed profile.proto message into a validated [`Profile`].
pub fn decode(buf: &[u8], limits: &Limits) -> Result<Profile> {
    let mut sample_types = Vec::new();
    let mut mappings = Vec::new();
    let mut locations = Vec::new();
    let mut functions = Vec::new();
    let mut raw_strings: Vec<(&[u8], usize)> = Vec::new();
    let mut period_type = None;
    let mut comments = Vec::new();
    let (mut period, mut time_nanos, mut duration_nanos, mut default_sample_type) =
        (0i64, 0i64, 0i64, 0i64);
    let mut n_samples = 0usize;
    let mut sample_bytes = 0usize;

    let mut r = Reader::new(buf, 0);
    while !r.at_end() {
        let key_at = r.offset();
        let (field, wire) = r.key()?;
        let expect = |want: u64| -> Result<()> {
            if wire != want {
                bail!("profile field {field} has wire type {wire}, expected {want}, at byte offset {key_at}");
            }
            Ok(())
        };
        match field {
            1 | 3 | 4 | 5 | 11 => {
                expect(WIRE_LEN)?;
                let (b, at) = r.bytes()?;
                let ctx = |what: &str| format!("invalid {what} message at byte offset {at}");
                match field {
                    1 => sample_types
                        .push(pb::ValueType::decode(b).with_context(|| ctx("sample_type"))?),
                    3 => mappings.push(pb::Mapping::decode(b).with_context(|| ctx("mapping"))?),
                    4 => locations.push(pb::Location::decode(b).with_context(|| ctx("location"))?),
                    5 => functions.push(pb::Function::decode(b).with_context(|| ctx("function"))?),
                    _ => {
                        period_type =
                            Some(pb::ValueType::decode(b).with_context(|| ctx("period_type"))?)
                    }
                }
            }
            2 => {
                expect(WIRE_LEN)?;
                let (b, _) = r.bytes()?;
                n_samples += 1;
                sample_bytes += b.len();
            }
            6 => {
                expect(WIRE_LEN)?;
                raw_strings.push(r.bytes()?);
            }
            7..=10 | 12 | 14 | 15 => {
                expect(WIRE_VARINT)?;
                let v = r.varint()? as i64;
                match field {
                    9 => time_nanos = v,
                    10 => duration_nanos = v,
                    12 => period = v,
                    14 => default_sample_type = v,
                    _ => {}
                }
            }
            13 => {
                // repeated int64, packed or not.
                if wire == WIRE_LEN {
                    let (b, at) = r.bytes()?;
                    let mut pr = Reader::new(b, at);
                    while !pr.at_end() {
                        comments.push(pr.varint()? as i64);
                    }
                } else {
                    expect(WIRE_VARINT)?;
                    comments.push(r.varint()? as i64);
                }
            }
            _ => r.skip(wire)?,
        }
    }

    if raw_strings.is_empty() {
        if n_samples == 0 && sample_types.is_empty() && locations.is_empty() {
            bail!("not a pprof profile: no string table, sample types or samples");
        }
        bail!("invalid profile: the string table is empty (it must start with \"\")");
    }
    if !raw_strings[0].0.is_empty() {
        bail!(
            "invalid profile: string_table[0] must be empty, found {} bytes",
            raw_strings[0].0.len()
        );
    }

    let mut p = Profile {
        format: Some(SourceFormat::Proto),
        ..Profile::default()
    };
    // File string index -> interned id. Duplicate strings in the file share one id.
    let string_map: Vec<StrId> = raw_strings
        .iter()
        .map(|(b, _)| p.strings.intern(&String::from_utf8_lossy(b)))
        .collect();
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
    p.period = period;
    p.time_nanos = time_nanos;
    p.duration_nanos = duration_nanos;
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
    drop((sample_types, mappings, locations, functions));

    // Pass 2: samples, straight into column vectors.
    let width = p.sample_types.len();
    let s = &mut p.samples;
    s.width = width;
    s.locs_end.reserve_exact(n_samples);
    s.labels_end.reserve_exact(n_samples);
    s.values.reserve_exact(n_samples * width);
    // A stack id takes >= 1 byte on the wire, so this never over-reserves by more than 4x.
    s.locs.reserve(sample_bytes / 2);
    let mut r = Reader::new(buf, 0);
    let mut index = 0usize;
    while !r.at_end() {
        let (field, wire) = r.key()?;
        if field != 2 {
            r.skip(wire)?;
            continue;
        }
        let (b, at) = r.bytes()?;
        decode_sample(b, at, index, &loc_ids, &string_map, width, limits, s)?;
        index += 1;
    }
    p.validate()?;
    Ok(p)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn decode_sample(
    b: &[u8],
    at: usize,
    index: usize,
    loc_ids: &IdMap,
    string_map: &[StrId],
    width: usize,
    limits: &Limits,
    s: &mut crate::model::Samples,
) -> Result<()> {
    let locs_start = s.locs.len();
    let values_start = s.values.len();
    let mut r = Reader::new(b, at);
    let push_loc = |s: &mut crate::model::Samples, id: u64| -> Result<()> {
        let loc = loc_ids
            .get(id)
            .ok_or_else(|| anyhow!("sample #{index} refers to missing location id {id}"))?;
        s.locs.push(LocId(loc));
        Ok(())
    };
    while !r.at_end() {
        let (field, wire) = r.key()?;
        match (field, wire) {
            (1, WIRE_LEN) => {
                let (pb, pat) = r.bytes()?;
                let mut pr = Reader::new(pb, pat);
                while !pr.at_end() {
                    push_loc(s, pr.varint()?)?;
                }
            }
            (1, WIRE_VARINT) => push_loc(s, r.varint()?)?,
            (2, WIRE_LEN) => {
                let (pb, pat) = r.bytes()?;
                let mut pr = Reader::new(pb, pat);
                while !pr.at_end() {
                    s.values.push(pr.varint()? as i64);
                }
            }
            (2, WIRE_VARINT) => s.values.push(r.varint()? as i64),
            (3, WIRE_LEN) => {
                let (lb, lat) = r.bytes()?;
                s.labels.push(decode_label(lb, lat, index, string_map)?);
            }
            (f @ 1..=3, w) => {
                bail!("sample #{index} field {f} has unexpected wire type {w} at byte offset {at}")
            }
            (_, w) => r.skip(w)?,
        }
    }
    let n_values = s.values.len() - values_start;
    if n_values != width {
        bail!("sample #{index} has {n_values} values but the profile has {width} sample types");
    }
    if s.locs.len() - locs_start > limits.max_stack_depth {
        bail!(
            "sample #{index} has a stack of {} frames, over the limit of {}",
            s.locs.len() - locs_start,
            limits.max_stack_depth
        );
    }
    if s.locs.len() > u32::MAX as usize || s.labels.len() > u32::MAX as usize {
        bail!("too many stack entries in one profile (over 2^32)");
    }
    s.locs_end.push(s.locs.len() as u32);
    s.labels_end.push(s.labels.len() as u32);
    Ok(())
}

fn decode_label(b: &[u8], at: usize, index: usize, string_map: &[StrId]) -> Result<Label> {
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
    let st = |i: i64, what: &str| -> Result<StrId> {
        usize::try_from(i).ok().and_then(|i| string_map.get(i).copied()).ok_or_else(|| {
            anyhow!(
                "sample #{index} label {what} refers to string {i} but the string table has {} entries",
                string_map.len()
            )
        })
    };
    Ok(Label {
        key: st(key, "key")?,
        str: st(str, "str")?,
        num,
        unit: st(unit, "num_unit")?,
    })
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
