//! Goroutine dumps from a file, stdin or a URL (issue 19). Traceback text from a local file
//! (gzipped or not) is parsed while it is read, so a million-goroutine dump never sits in
//! memory whole; everything else is read and decoded as a profile.

use std::io::{BufRead, BufReader, Read};

use anyhow::{bail, Context, Result};

use crate::decode::goroutine::{self as g, sniff};
use crate::decode::DecodeOptions;
use crate::model::goroutine::Dump;

use super::http::FetchOptions;

/// How much of an input is read to recognize its format.
const HEAD: u64 = 64 << 10;

/// Reads one goroutine dump: a path, `-` (stdin) or a URL (`?debug=2` is fetched as is).
/// Returns the name to show and the dump.
pub fn load_dump(spec: &str, opts: &DecodeOptions, fetch: &FetchOptions) -> Result<(String, Dump)> {
    if spec == "-" || super::is_url(spec) {
        let input = super::open(spec, opts.max_size, fetch)?;
        let d = g::decode(&input.bytes, opts).with_context(|| input.name.clone())?;
        return Ok((input.name, d));
    }
    let d = read_file(spec, opts).with_context(|| spec.to_string())?;
    Ok((spec.to_string(), d))
}

fn read_file(path: &str, opts: &DecodeOptions) -> Result<Dump> {
    let file = std::fs::File::open(path).context("cannot open")?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > opts.max_size {
        bail!(
            "input is over the --max-size limit of {} bytes",
            opts.max_size
        );
    }
    let mut file = BufReader::with_capacity(1 << 20, file);
    let gz = file
        .fill_buf()
        .context("cannot read")?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    // The cap on decompressed size, checked while reading.
    let mut reader = reader.take(opts.max_size.saturating_add(1));
    let mut head = Vec::new();
    (&mut reader)
        .take(HEAD)
        .read_to_end(&mut head)
        .context(if gz {
            "corrupt or truncated gzip data"
        } else {
            "cannot read"
        })?;
    let Some(format) = sniff(&head) else {
        // Not traceback text: a profile (proto or debug=1), small; decode it whole.
        let mut all = head;
        reader.read_to_end(&mut all).context("cannot read")?;
        if all.len() as u64 > opts.max_size {
            bail!(
                "decompressed size exceeds the --max-size limit of {} bytes",
                opts.max_size
            );
        }
        return g::decode(&all, opts);
    };
    if !gz && len >= PARALLEL_MIN {
        if let Some(d) = two_parts(path, len, format, opts)? {
            return Ok(d);
        }
    }
    let mut counted = Counted {
        inner: reader,
        n: head.len() as u64,
    };
    let chained = BufReader::with_capacity(1 << 20, std::io::Cursor::new(head).chain(&mut counted));
    let d = g::parse_text(chained, format, &opts.limits)?;
    if counted.n > opts.max_size {
        bail!(
            "decompressed size exceeds the --max-size limit of {} bytes",
            opts.max_size
        );
    }
    Ok(d)
}

/// Traceback text this large is parsed in two halves on two threads.
const PARALLEL_MIN: u64 = 64 << 20;

/// Parses an uncompressed traceback file in two parts, split at a goroutine header near the
/// middle, on two threads. None when no split point is found or the second part fails (the
/// caller then parses it whole, so an error names the right line).
fn two_parts(
    path: &str,
    len: u64,
    format: crate::model::goroutine::DumpFormat,
    opts: &DecodeOptions,
) -> Result<Option<Dump>> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).context("cannot open")?;
    f.seek(SeekFrom::Start(len / 2)).context("cannot read")?;
    let mut window = Vec::new();
    (&mut f)
        .take(4 << 20)
        .read_to_end(&mut window)
        .context("cannot read")?;
    let Some(i) = memchr::memmem::find(&window, b"\n\ngoroutine ") else {
        return Ok(None);
    };
    let split = len / 2 + i as u64 + 2;
    let part = |start: u64, n: u64| -> Result<Dump> {
        let mut f = std::fs::File::open(path).context("cannot open")?;
        f.seek(SeekFrom::Start(start)).context("cannot read")?;
        g::parse_text(
            BufReader::with_capacity(1 << 20, f.take(n)),
            format,
            &opts.limits,
        )
    };
    let (a, b) = std::thread::scope(|s| {
        let second = s.spawn(|| part(split, len - split));
        let first = part(0, split);
        (first, second.join())
    });
    let a = a?;
    let Ok(Ok(b)) = b else {
        return Ok(None);
    };
    if a.goroutines.len() + b.goroutines.len() > opts.limits.max_samples {
        return Ok(None);
    }
    Ok(Some(g::concat(a, b)))
}

struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}
