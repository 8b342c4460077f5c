//! Bytes to a validated [`Profile`]: gzip (detected by its magic bytes, never by file name)
//! with a cap on the decompressed size, then profile.proto or one of Go's legacy text formats.
//! Formats heapdoc does not read are refused with an error that names them.

pub mod goroutine;
pub mod legacy;
pub mod proto;

use std::io::Read;

use anyhow::{bail, Context, Result};

use crate::model::Profile;

pub use proto::Limits;

/// Default cap on decompressed input: large enough for fleet heap profiles, small enough
/// that a gzip bomb fails fast.
pub const DEFAULT_MAX_SIZE: u64 = 2 << 30;

/// Options for [`decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Maximum decompressed (or raw) input size in bytes (`--max-size`).
    pub max_size: u64,
    /// Structural limits applied while decoding.
    pub limits: Limits,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_size: DEFAULT_MAX_SIZE,
            limits: Limits::default(),
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Returns the uncompressed bytes: `bytes` itself, or its gunzipped content.
pub fn decompress<'a>(bytes: &'a [u8], opts: &DecodeOptions) -> Result<std::borrow::Cow<'a, [u8]>> {
    if bytes.len() as u64 > opts.max_size {
        bail!(
            "input is {} bytes, over the --max-size limit of {} bytes",
            bytes.len(),
            opts.max_size
        );
    }
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(std::borrow::Cow::Borrowed(bytes));
    }
    let capacity = (bytes.len() * 4).min(opts.max_size as usize);
    Ok(std::borrow::Cow::Owned(gunzip_capped(
        bytes, capacity, opts,
    )?))
}

/// Decodes one input (compressed or not) into a validated profile.
pub fn decode(bytes: &[u8], opts: &DecodeOptions) -> Result<Profile> {
    if bytes.is_empty() {
        bail!("empty input: no profile data");
    }
    if bytes.len() as u64 > opts.max_size {
        bail!(
            "input is {} bytes, over the --max-size limit of {} bytes",
            bytes.len(),
            opts.max_size
        );
    }
    if bytes.starts_with(&GZIP_MAGIC) {
        return decode_gzip(|| Ok(bytes), opts);
    }
    decode_buffer(bytes, opts)
}

/// Decodes an uncompressed input held whole in memory.
fn decode_buffer(data: &[u8], opts: &DecodeOptions) -> Result<Profile> {
    if let Some(why) = refuse(data) {
        bail!("{why}");
    }
    if let Some(format) = goroutine::sniff(data) {
        // ?debug=2 and crash tracebacks (issue 19): as a goroutine profile.
        return goroutine::to_profile(&goroutine::parse_text(data, format, &opts.limits)?);
    }
    if legacy::sniff(data) {
        return legacy::parse(data, &opts.limits);
    }
    proto::decode(data, &opts.limits).context("not a valid pprof profile.proto")
}

/// Decodes a gzip stream (the bytes after the magic included) while decompressing it, without
/// holding the decompressed profile whole (issue 9): peak memory is the decoded profile.
/// `open` gives the compressed stream; it is called a second time only for the inputs the
/// streaming decoder leaves to the buffered one (legacy text formats, and profile.proto files
/// with samples before their sample types or label string indexes over 32 bits, which Go
/// never writes).
pub fn decode_gzip<R: Read + Send>(
    mut open: impl FnMut() -> Result<R>,
    opts: &DecodeOptions,
) -> Result<Profile> {
    // Go writes one gzip member; MultiGzDecoder also accepts concatenated members like gunzip.
    let gz = flate2::read::MultiGzDecoder::new(open()?);
    let streamed = stream_or_buffer(proto::Stream::new(gz, opts.max_size), opts);
    match streamed? {
        Some(p) => Ok(p),
        None => {
            let out = gunzip_capped(open()?, 0, opts)?;
            decode_buffer(&out, opts)
        }
    }
}

/// The streaming decode of [`decode_gzip`]; None when the input is for the buffered decoder.
fn stream_or_buffer<R: Read + Send>(
    mut st: proto::Stream<R>,
    opts: &DecodeOptions,
) -> Result<Option<Profile>> {
    // Enough to recognize the formats `refuse` names and the legacy text formats.
    st.fill(64 << 10)?;
    let head = st.peek();
    if head.is_empty() {
        bail!("empty input: gzip stream holds no data");
    }
    if let Some(why) = refuse(head) {
        bail!("{why}");
    }
    let blank = head.iter().all(|b| b.is_ascii_whitespace());
    if !blank && !legacy::sniff(head) && goroutine::sniff(head).is_none() {
        // Inflate and frame on the second core while this one decodes.
        match proto::decode_stream(st, &opts.limits, crate::par::second_core()) {
            Ok(p) => return Ok(Some(p)),
            Err(proto::StreamError::Input(e)) => return Err(e),
            Err(proto::StreamError::Proto(e)) => {
                return Err(e.context("not a valid pprof profile.proto"))
            }
            Err(proto::StreamError::NeedsBuffer) => {}
        }
    }
    Ok(None)
}

/// Recognizes inputs that are not profiles heapdoc reads, to name them in the error.
fn refuse(data: &[u8]) -> Option<String> {
    let head = &data[..data.len().min(512)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start();
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.starts_with("<head")
        || lower.starts_with("<body")
    {
        return Some("input is an HTML page, not a profile (an error or login page?)".into());
    }
    if lower.starts_with("<?xml") || lower.starts_with("<svg") {
        return Some("input is XML/SVG, not a profile".into());
    }
    // Goroutine tracebacks (`?debug=2`, crash text) are read by `goroutine`, not refused.
    if t.starts_with('{') || t.starts_with('[') {
        return Some("input is JSON, not a pprof profile".into());
    }
    if t.starts_with("--- heapz")
        || t.starts_with("--- contentionz")
        || t.starts_with("--- contention")
        || t.starts_with("--- threadz")
    {
        let name = t.lines().next().unwrap_or("").trim();
        return Some(format!(
            "Java legacy text profile ({name}) is not supported; convert it with `go tool pprof -proto FILE > out.pb.gz`"
        ));
    }
    if is_legacy_binary_cpu(data) {
        return Some(
            "legacy binary CPU profile (gperftools / pre-Go 1.9 format) is not supported: it has only addresses; convert it with `go tool pprof -proto BINARY FILE > out.pb.gz`"
                .into(),
        );
    }
    None
}

/// gperftools' CPU header: words 0, 3, 0, period, 0 in 32- or 64-bit native (little-endian).
fn is_legacy_binary_cpu(data: &[u8]) -> bool {
    let w64 = |i: usize| {
        data.get(i * 8..i * 8 + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    let w32 = |i: usize| {
        data.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    (w64(0) == Some(0) && w64(1) == Some(3) && w64(2) == Some(0))
        || (w32(0) == Some(0) && w32(1) == Some(3) && w32(2) == Some(0))
}

/// Gunzips `r` whole, refusing more than `--max-size` bytes of output (a gzip bomb stops
/// there). Go writes one gzip member; MultiGzDecoder also accepts concatenated members like
/// gunzip.
fn gunzip_capped(r: impl Read, capacity: usize, opts: &DecodeOptions) -> Result<Vec<u8>> {
    let dec = flate2::read::MultiGzDecoder::new(r);
    match read_capped(dec, opts.max_size, capacity) {
        Ok(out) => Ok(out),
        Err(ReadError::TooLarge) => bail!(
            "decompressed size exceeds the --max-size limit of {} bytes (a gzip bomb, or raise --max-size)",
            opts.max_size
        ),
        Err(ReadError::Io(e)) => Err(e).context("corrupt or truncated gzip data"),
        Err(e @ ReadError::NoMemory { .. }) => Err(e.into()),
    }
}

/// Why [`read_capped`] stopped.
#[derive(Debug)]
pub enum ReadError {
    /// More than the cap.
    TooLarge,
    /// The memory for the bytes read so far could not grow (an address-space or cgroup limit
    /// below `--max-size`).
    NoMemory {
        read: usize,
        max: u64,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge => write!(f, "input is over the --max-size limit"),
            ReadError::NoMemory { read, max } => write!(
                f,
                "out of memory after {read} bytes of input, under the --max-size limit of {max} bytes; lower --max-size below the memory available"
            ),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads `r` whole into memory, at most `max` bytes (`--max-size`): more is [`ReadError::TooLarge`].
/// The buffer grows by doubling with `try_reserve`, so a memory limit below `max` is an error
/// that names `--max-size` ([`ReadError::NoMemory`]), not an abort or a message blaming the
/// input (issue 16, finding 10).
pub fn read_capped(mut r: impl Read, max: u64, capacity: usize) -> Result<Vec<u8>, ReadError> {
    // saturating: `--max-size 18446744073709551615` must not overflow (tests/bad_input.rs).
    let limit = max.saturating_add(1);
    let mut out: Vec<u8> = Vec::new();
    let first = capacity.clamp(64 << 10, 1 << 30);
    out.try_reserve_exact(first)
        .map_err(|_| ReadError::NoMemory { read: 0, max })?;
    loop {
        if out.len() == out.capacity() {
            let more = out.capacity().max(64 << 10);
            out.try_reserve_exact(more)
                .map_err(|_| ReadError::NoMemory {
                    read: out.len(),
                    max,
                })?;
        }
        let room = (out.capacity() - out.len()) as u64;
        let want = room.min(limit - (out.len() as u64).min(limit));
        if want == 0 {
            break;
        }
        let n = (&mut r)
            .take(want)
            .read_to_end(&mut out)
            .map_err(ReadError::Io)?;
        if n == 0 {
            break;
        }
        if out.len() as u64 > max {
            return Err(ReadError::TooLarge);
        }
    }
    if out.len() as u64 > max {
        return Err(ReadError::TooLarge);
    }
    Ok(out)
}
