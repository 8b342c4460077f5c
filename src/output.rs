//! Where a rendered output goes: stdout, or a file (`-o/--output`, `--svg`, `--save`).
//! With `source`, the only module that touches files (DESIGN.md: I/O only at the two ends).
//!
//! One write function for every output file (issue 16), by what the target is:
//! - a regular file (or none yet): a temporary file beside it, renamed over it, so readers see
//!   the old file or the whole new one; an existing file keeps its mode and owner (a file whose
//!   owner cannot be kept, or with other hard links, is rewritten in place instead);
//! - a symlink: written through to the file it points to (a dangling one creates its target);
//! - a device, FIFO or socket (`/dev/null`, a named pipe), `/dev/std*`, `/dev/fd/*` and
//!   `/proc/*/fd/*`: opened and written directly, never replaced;
//! - a directory: an error.
//!
//! Ctrl-C or SIGTERM while a temporary file exists removes it ([`signals`]).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A file output rendered and ready to be put in place by [`Staged::commit`]: written to its
/// temporary file already when it replaces a regular file. Dropping it uncommitted removes the
/// temporary file and leaves the target untouched.
pub struct Staged {
    how: How,
    bytes_for_direct: Option<Vec<u8>>,
    name: String,
}

enum How {
    /// A temporary file to rename over `target`.
    Replace {
        tmp: tempfile::NamedTempFile,
        target: PathBuf,
        _guard: signals::Guard,
    },
    /// Opened and written at commit: devices, FIFOs, stdio paths, hard-linked files and files
    /// whose owner cannot be kept.
    Direct { path: PathBuf, append: bool },
}

/// Prepares writing `bytes` to `path` (see the module docs). Nothing is visible at `path` until
/// [`Staged::commit`].
pub fn stage(path: &Path, bytes: &[u8]) -> Result<Staged> {
    let name = path.display().to_string();
    // Paths that name an already open file: write to that file; never create or rename there.
    if is_fd_path(path) {
        let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
        return Ok(direct(path, regular, bytes, name));
    }
    let target = resolve_links(path).with_context(|| format!("{name}: cannot resolve"))?;
    let meta = match std::fs::metadata(&target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("{name}: cannot inspect")),
    };
    if let Some(m) = &meta {
        if m.is_dir() {
            bail!("{name}: is a directory");
        }
        if !m.is_file() {
            return Ok(direct(&target, false, bytes, name));
        }
        if in_place(m) {
            return Ok(direct(&target, false, bytes, name));
        }
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".heapdoc-").suffix(".tmp");
    // tempfile creates 0600 files; a new report is an ordinary file (0666 less the umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .with_context(|| format!("{name}: cannot create a temporary file next to it"))?;
    let guard = signals::Guard::new(tmp.path());
    if let Some(m) = &meta {
        keep_mode_and_owner(tmp.as_file(), m)
            .with_context(|| format!("{name}: cannot keep its mode"))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{name}: cannot write"))?;
    Ok(Staged {
        how: How::Replace {
            tmp,
            target,
            _guard: guard,
        },
        bytes_for_direct: None,
        name,
    })
}

fn direct(path: &Path, append: bool, bytes: &[u8], name: String) -> Staged {
    Staged {
        how: How::Direct {
            path: path.to_path_buf(),
            append,
        },
        bytes_for_direct: Some(bytes.to_vec()),
        name,
    }
}

impl Staged {
    /// Puts the output in place: renames the temporary file over the target, or writes the
    /// bytes to the device, FIFO or open file.
    pub fn commit(self) -> Result<()> {
        let name = self.name;
        match self.how {
            How::Replace { tmp, target, .. } => {
                // On error `persist` hands the temporary file back; dropping it deletes it.
                tmp.persist(&target)
                    .map_err(|e| e.error)
                    .with_context(|| format!("{name}: cannot replace"))?;
            }
            How::Direct { path, append } => {
                let bytes = self.bytes_for_direct.unwrap_or_default();
                let mut f = open_direct(&path, append)
                    .with_context(|| format!("{name}: cannot open for writing"))?;
                f.write_all(&bytes)
                    .and_then(|()| f.flush())
                    .with_context(|| format!("{name}: cannot write"))?;
            }
        }
        Ok(())
    }
}

/// Opens an existing target for writing without creating or replacing it. A regular file
/// rewritten in place is truncated after it is opened; stdio paths append (as the shell's
/// redirection left them).
fn open_direct(path: &Path, append: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    if append {
        o.append(true);
    } else {
        o.write(true);
    }
    let f = o.open(path)?;
    if !append && f.metadata()?.is_file() {
        f.set_len(0)?;
    }
    Ok(f)
}

/// Writes `bytes` to `path` (see the module docs): [`stage`] then [`Staged::commit`].
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    stage(path, bytes)?.commit()
}

/// Writes a fully rendered output to `-o FILE` or, without one or with `-o -`, to stdout.
/// The error names the flag.
pub fn emit(output: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match output {
        Some(path) if path.as_os_str() != "-" => {
            write_file(path, bytes).with_context(|| format!("-o {}", path.display()))
        }
        _ => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .context("writing to stdout")?;
            Ok(())
        }
    }
}

/// A usage error when the output file `out` (flag `flag`) is one of the input files (the same
/// file, whatever the name): writing the report would destroy the profile it comes from.
pub fn check_not_input(flag: &str, out: &Path, inputs: &[&str]) -> Result<()> {
    if out.as_os_str() == "-" || is_fd_path(out) {
        return Ok(());
    }
    let Ok(o) = std::fs::metadata(out) else {
        return Ok(());
    };
    if !o.is_file() {
        return Ok(());
    }
    for input in inputs {
        if *input == "-" {
            continue;
        }
        if let Ok(i) = std::fs::metadata(input) {
            if same_file(&o, &i) {
                bail!(
                    "{flag} {} is the input {input}: writing there would destroy the profile; choose another output",
                    out.display()
                );
            }
        }
    }
    Ok(())
}

/// A usage error when two outputs name the same file (`diff -o X --svg X`).
pub fn check_distinct(a: (&str, &Path), b: (&str, &Path)) -> Result<()> {
    let same_name = a.1 == b.1;
    let same_file = match (std::fs::metadata(a.1), std::fs::metadata(b.1)) {
        (Ok(x), Ok(y)) => x.is_file() && same_file(&x, &y),
        _ => false,
    };
    if (same_name || same_file) && a.1.as_os_str() != "-" {
        bail!(
            "{} {} and {} {} name the same file; one would overwrite the other",
            a.0,
            a.1.display(),
            b.0,
            b.1.display()
        );
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

/// `/dev/stdin|stdout|stderr`, `/dev/fd/N` and `/proc/*/fd/N`: names of open files.
fn is_fd_path(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.starts_with("/dev/std") || s.starts_with("/dev/fd/") || {
        let mut parts = s.strip_prefix("/proc/").unwrap_or("").split('/');
        parts.next().is_some_and(|pid| !pid.is_empty()) && parts.next() == Some("fd")
    }
}

/// Follows symlinks (at most 40, like the kernel) to the path they finally name, which may
/// not exist yet (a dangling link is written through: its target is created).
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let t = std::fs::read_link(&p)?;
                p = if t.is_absolute() {
                    t
                } else {
                    p.parent().unwrap_or(Path::new(".")).join(t)
                };
            }
            _ => return Ok(p),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// A regular file that renaming would change other than by its content: other hard links
/// keep the old content, and a file owned by someone else becomes ours.
#[cfg(unix)]
fn in_place(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    m.nlink() > 1 || (m.uid() != effective_uid() && effective_uid() != 0)
}

#[cfg(not(unix))]
fn in_place(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(unix)]
fn keep_mode_and_owner(f: &File, m: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if effective_uid() == 0 {
        std::os::unix::fs::fchown(f, Some(m.uid()), Some(m.gid()))?;
    } else if m.gid() != f.metadata()?.gid() {
        // A group we belong to can be kept; another cannot (the file then stays ours).
        let _ = std::os::unix::fs::fchown(f, None, Some(m.gid()));
    }
    f.set_permissions(std::fs::Permissions::from_mode(m.mode() & 0o7777))
}

#[cfg(not(unix))]
fn keep_mode_and_owner(f: &File, m: &std::fs::Metadata) -> std::io::Result<()> {
    f.set_permissions(m.permissions())
}

/// Removing temporary files when the process is interrupted (SIGINT, SIGTERM, SIGHUP, or
/// SIGXFSZ when a file-size limit stops the write): the
/// paths of the live temporary files sit in a fixed table a signal handler can read without
/// allocating or locking; the handler unlinks them and re-raises the signal with its default
/// action, so the exit status is the signal's.
pub mod signals {
    use std::path::Path;
    use std::sync::atomic::{AtomicPtr, Ordering};

    const SLOTS: usize = 8;
    static PATHS: [AtomicPtr<libc::c_char>; SLOTS] =
        [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

    /// Registers a temporary file's path for removal on a signal until dropped.
    pub struct Guard(Option<usize>);

    impl Guard {
        pub fn new(path: &Path) -> Guard {
            install();
            use std::os::unix::ffi::OsStrExt;
            let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
                return Guard(None);
            };
            let raw = c.into_raw();
            for (i, slot) in PATHS.iter().enumerate() {
                if slot
                    .compare_exchange(
                        std::ptr::null_mut(),
                        raw,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
                {
                    return Guard(Some(i));
                }
            }
            // SAFETY: `raw` came from `CString::into_raw` above and was not stored.
            drop(unsafe { std::ffi::CString::from_raw(raw) });
            Guard(None)
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(i) = self.0 {
                let raw = PATHS[i].swap(std::ptr::null_mut(), Ordering::SeqCst);
                if !raw.is_null() {
                    // SAFETY: only `Guard::new` stores pointers, from `CString::into_raw`.
                    drop(unsafe { std::ffi::CString::from_raw(raw) });
                }
            }
        }
    }

    extern "C" fn on_signal(sig: libc::c_int) {
        for slot in &PATHS {
            let p = slot.load(Ordering::SeqCst);
            if !p.is_null() {
                // SAFETY: unlink is async-signal-safe; `p` is a NUL-terminated path.
                unsafe { libc::unlink(p) };
            }
        }
        // SAFETY: signal and raise are async-signal-safe.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }

    fn install() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGXFSZ] {
                // SAFETY: installs a handler that only calls async-signal-safe functions.
                unsafe {
                    libc::signal(
                        sig,
                        on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
                    );
                }
            }
        });
    }
}
