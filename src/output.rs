//! Where a rendered output goes: stdout, or a file written atomically (`-o/--output`).
//! With `source`, the only module that touches files (DESIGN.md: I/O only at the two ends).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory (so the
/// rename cannot cross file systems), flushed to disk, then renamed over `path`. Readers see
/// the old file or the whole new one, never a partial report; on any error the temporary
/// file is removed and `path` is untouched (issue 10).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.display();
    let mut builder = tempfile::Builder::new();
    builder.prefix(".heapdoc-").suffix(".tmp");
    // tempfile creates 0600 files; a report is an ordinary file (0666 less the umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("{name}: cannot create a temporary file next to it"))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{name}: cannot write"))?;
    // On error `persist` hands the temporary file back; dropping it deletes it.
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("{name}: cannot replace"))?;
    Ok(())
}

/// Writes a fully rendered output to `-o FILE` (atomically) or, without one or with `-o -`,
/// to stdout. The error names the flag.
pub fn emit(output: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match output {
        Some(path) if path.as_os_str() != "-" => {
            write_atomic(path, bytes).with_context(|| format!("-o {}", path.display()))
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)?;
            out.flush()?;
            Ok(())
        }
    }
}
