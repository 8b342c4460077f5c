//! Where profile bytes come from: a file, `-` for stdin, or a URL ([`crate::fetch`]). The only
//! module that touches files, stdin or the network.

use std::io::Read;

use anyhow::{bail, Context, Result};

use crate::fetch::{self, FetchOptions, UreqTransport};

/// Raw bytes of one input and a name for messages.
#[derive(Clone, Debug)]
pub struct Input {
    /// The path, `<stdin>` or the URL, as the user wrote it.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Opens one input: `-` is stdin; an existing path is a file, even if it looks like
/// `host:port` (issue 7); an `http(s)://` URL or `host:port[/path]` is fetched
/// ([`fetch::fetch`]); anything else is a file path (and fails as one if missing).
pub fn open(spec: &str, max_size: u64, opts: &FetchOptions) -> Result<Input> {
    if !is_url(spec) {
        return read(spec, max_size);
    }
    let env = |name: &str| std::env::var(name).ok();
    let fetched = fetch::fetch(spec, max_size, opts, &UreqTransport, &env)?;
    Ok(Input {
        name: fetched.name,
        bytes: fetched.bytes,
    })
}

/// True when [`open`] would fetch `spec` rather than read a file or stdin.
pub fn is_url(spec: &str) -> bool {
    spec != "-" && !std::path::Path::new(spec).exists() && fetch::is_url(spec)
}

/// Reads a path or `-` (stdin), refusing inputs larger than `max_size` before reading them whole.
pub fn read(spec: &str, max_size: u64) -> Result<Input> {
    let mut bytes = Vec::new();
    if spec == "-" {
        std::io::stdin()
            .lock()
            .take(max_size + 1)
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        if bytes.len() as u64 > max_size {
            bail!("<stdin>: input is over the --max-size limit of {max_size} bytes");
        }
        return Ok(Input {
            name: "<stdin>".into(),
            bytes,
        });
    }
    let file = std::fs::File::open(spec).with_context(|| format!("{spec}: cannot open"))?;
    file.take(max_size + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{spec}: cannot read"))?;
    if bytes.len() as u64 > max_size {
        bail!("{spec}: input is over the --max-size limit of {max_size} bytes");
    }
    Ok(Input {
        name: spec.to_string(),
        bytes,
    })
}
