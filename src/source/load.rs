//! Reading every input: files, stdin and URLs, decoded in parallel and merged.

use anyhow::{bail, Context, Result};

use crate::decode::{self, DecodeOptions};
use crate::model::{self, Profile};
use crate::source::{self, http};

/// Reads and decodes every input, then merges them (summing samples) when there are several.
pub fn load(
    specs: &[String],
    opts: &DecodeOptions,
    fetch: &http::FetchOptions,
) -> Result<(Profile, Vec<String>)> {
    if let http::Save::File(path) = &fetch.save {
        let urls = specs.iter().filter(|s| source::is_url(s)).count();
        if urls > 1 {
            bail!("--save {} keeps one fetched profile, but {urls} inputs are URLs; drop --save to keep timestamped copies (see --help)", path.display());
        }
    }
    let load_one = |spec: &String| -> Result<(Profile, String)> {
        // A gzipped file is decoded while it is decompressed, never held whole (issue 9).
        if !source::is_url(spec) {
            if let Some(open) = source::gzip_file(spec, opts.max_size)? {
                let p = decode::decode_gzip(open, opts).with_context(|| spec.clone())?;
                return Ok((p, spec.clone()));
            }
        }
        let input = source::open(spec, opts.max_size, fetch)?;
        let p = decode::decode(&input.bytes, opts).with_context(|| input.name.clone())?;
        Ok((p, input.name))
    };
    // Inputs are read and decoded in parallel (issue 8), on par's threads (so HEAPDOC_THREADS
    // holds here too); results keep their input's slot, so the merge order (and the first
    // error reported) is the command line's whatever the timing.
    let threads = crate::par::threads_override()
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(specs.len());
    let chunks = crate::par::run_all(crate::par::split(specs.len(), threads), |r| {
        specs[r].iter().map(load_one).collect::<Vec<_>>()
    });
    let results = chunks.into_iter().flatten();
    let mut profiles = Vec::with_capacity(specs.len());
    let mut names = Vec::with_capacity(specs.len());
    for r in results {
        let (p, name) = r?;
        profiles.push(p);
        names.push(name);
    }
    let merged =
        model::merge(profiles).map_err(|e| match e.downcast_ref::<model::MergeMismatch>() {
            // Named by file (issue 16, finding 24), not by position.
            Some(m) => anyhow::anyhow!(
                "cannot merge {} (sample types {}) with {} (sample types {})",
                names[m.index],
                m.got,
                names[0],
                m.want
            ),
            None => e.context("merging inputs"),
        })?;
    Ok((merged, names))
}
