//! Where profile bytes come from: a file, `-` for stdin, or a URL ([`http`]). The only
//! module that touches files, stdin or the network.

use std::io::Read;

use crate::decode;

use anyhow::{bail, Context, Result};

pub mod dump;
pub mod http;
mod load;

pub use load::load;

use http::{FetchOptions, UreqTransport};

/// Raw bytes of one input and a name for messages.
#[derive(Clone, Debug)]
pub struct Input {
    /// The path, `<stdin>` or the URL, as the user wrote it.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Opens one input: `-` is stdin; an existing path is a file, even if it looks like
/// `host:port` (issue 7); an `http(s)://` URL or `host:port[/path]` is fetched
/// ([`http::fetch`]); anything else is a file path (and fails as one if missing).
pub fn open(spec: &str, max_size: u64, opts: &FetchOptions) -> Result<Input> {
    if !is_url(spec) {
        return read(spec, max_size);
    }
    let env = |name: &str| std::env::var(name).ok();
    let fetched = http::fetch(spec, max_size, opts, &UreqTransport, &env)?;
    Ok(Input {
        name: fetched.name,
        bytes: fetched.bytes,
    })
}

/// True when [`open`] would fetch `spec` rather than read a file or stdin.
pub fn is_url(spec: &str) -> bool {
    spec != "-" && !std::path::Path::new(spec).exists() && http::is_url(spec)
}

/// Reads a path or `-` (stdin), refusing inputs larger than `max_size` before reading them whole.
pub fn read(spec: &str, max_size: u64) -> Result<Input> {
    let (name, result) = if spec == "-" {
        let stdin = std::io::stdin().lock();
        ("<stdin>", decode::read_capped(stdin, max_size, 0))
    } else {
        let file = std::fs::File::open(spec).with_context(|| format!("{spec}: cannot open"))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > max_size {
            bail!("{spec}: input is over the --max-size limit of {max_size} bytes");
        }
        (spec, decode::read_capped(file, max_size, len as usize + 1))
    };
    let bytes = match result {
        Ok(b) => b,
        Err(decode::ReadError::TooLarge) => {
            bail!("{name}: input is over the --max-size limit of {max_size} bytes")
        }
        Err(decode::ReadError::Io(e)) if spec == "-" => {
            return Err(e).context("reading stdin");
        }
        Err(decode::ReadError::Io(e)) => {
            return Err(e).with_context(|| format!("{spec}: cannot read"))
        }
        Err(e) => return Err(e).with_context(|| name.to_string()),
    };
    Ok(Input {
        name: name.to_string(),
        bytes,
    })
}

/// A gzipped local file, for decoding while it is read ([`crate::decode::decode_gzip`]) rather
/// than reading it whole first (issue 9): returns a function that opens it (again) as a
/// buffered reader. None when `spec` is stdin or the file is not gzipped.
pub fn gzip_file(
    spec: &str,
    max_size: u64,
) -> Result<Option<impl FnMut() -> Result<std::io::BufReader<std::fs::File>> + '_>> {
    if spec == "-" {
        return Ok(None);
    }
    let open = move || -> Result<std::io::BufReader<std::fs::File>> {
        let file = std::fs::File::open(spec).with_context(|| format!("{spec}: cannot open"))?;
        Ok(std::io::BufReader::with_capacity(1 << 16, file))
    };
    let mut file = open()?;
    let len = file.get_ref().metadata().map(|m| m.len()).unwrap_or(0);
    if len > max_size {
        bail!("{spec}: input is over the --max-size limit of {max_size} bytes");
    }
    let mut magic = [0u8; 2];
    let n = file
        .read(&mut magic)
        .with_context(|| format!("{spec}: cannot read"))?;
    Ok((n == 2 && magic == [0x1f, 0x8b]).then_some(open))
}
