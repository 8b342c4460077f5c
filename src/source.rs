//! Where profile bytes come from: a file, `-` for stdin (and URLs, see `fetch`). The only
//! module that touches files, stdin or the network.

use std::io::Read;

use anyhow::{bail, Context, Result};

/// Raw bytes of one input and a name for messages.
#[derive(Clone, Debug)]
pub struct Input {
    /// The path, `<stdin>` or the URL, as the user wrote it.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Reads a path or `-` (stdin), refusing inputs larger than `max_size` before reading them whole.
pub fn read(spec: &str, max_size: u64) -> Result<Input> {
    let mut bytes = Vec::new();
    if spec == "-" {
        std::io::stdin()
            .lock()
            .take(max_size.saturating_add(1))
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
    file.take(max_size.saturating_add(1))
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
