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
