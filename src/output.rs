//! Writing a rendered output: to stdout, or atomically to a file (`-o FILE`), so readers see
//! the old file or the whole new one and a failure leaves nothing behind.

use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output path names no file")
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".heapdoc-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes a fully rendered output to `-o FILE` (atomically) or, without one or with `-o -`,
/// to stdout. The error names the flag.
pub fn emit(output: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    match output {
        Some(path) if path.as_os_str() != "-" => write_atomically(path, bytes)
            .with_context(|| format!("-o {}: cannot write", path.display())),
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}
