//! Hostile input, round two (issue 16): how outputs are written. Findings 1, 14, 16, 17, 18,
//! 19 of the campaign report (`../shared/reviews/hostile-2026-12.md`), each on the real binary
//! and a real Go heap profile from `samples/`.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::heapdoc;

const PROFILE: &str = "samples/profiles/go1.27/boxing.allocs.default.pb.gz";

fn profile_in(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(PROFILE), &p).unwrap();
    p
}

/// The report heapdoc prints on stdout for the profile (what every file output must hold).
fn report() -> Vec<u8> {
    common::run_ok([PROFILE])
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".heapdoc-"))
        .collect()
}

fn euid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

/// Finding 1: a FIFO is written to, not replaced: the reader gets the whole report.
#[test]
fn output_to_fifo_writes_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    heapdoc()
        .args([PROFILE, "-o"])
        .arg(&fifo)
        .assert()
        .success();
    let got = reader.join().unwrap();
    assert_eq!(got, report());
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(ft.is_fifo(), "the FIFO was replaced: {ft:?}");
    assert!(temp_files(dir.path()).is_empty());
}

/// Finding 1: a device node stays a device (as root, a mknod'd copy of /dev/null in a temp
/// dir; where mknod is not allowed, /dev/null itself).
#[test]
fn output_to_device_writes_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("null");
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid path; makedev(1, 3) is /dev/null's device number.
    let made = euid() == 0
        && unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0;
    // Without root (or CAP_MKNOD), /dev/null itself: it must be written to, not replaced.
    let dev = if made { p } else { PathBuf::from("/dev/null") };
    heapdoc().args([PROFILE, "-o"]).arg(&dev).assert().success();
    let m = std::fs::symlink_metadata(&dev).unwrap();
    assert!(
        m.file_type().is_char_device(),
        "{dev:?} is no longer a device"
    );
    assert_eq!(m.rdev(), libc::makedev(1, 3));
    assert!(temp_files(dir.path()).is_empty());
}

/// Finding 1 (and 24's "-o /proc/self/fd/1 cannot be used"): /dev/stdout and /proc/self/fd/1
/// write to heapdoc's stdout, here a pipe.
#[test]
fn output_to_stdout_paths_writes_to_stdout() {
    for path in ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"] {
        let out = heapdoc().args([PROFILE, "-o", path]).output().unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, report(), "{path}");
    }
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Finding 14: with stderr a broken pipe, an error exits 2 (not 101, a panic).
#[test]
fn broken_pipe_stderr_does_not_panic() {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: closing the read end we own.
    unsafe { libc::close(fds[0]) };
    // SAFETY: fds[1] is an open descriptor we own; Stdio takes it over.
    let w: std::process::Stdio = unsafe { std::os::fd::FromRawFd::from_raw_fd(fds[1]) };
    let status = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapdoc"))
        .arg("/nonexistent/profile.pb")
        .stderr(w)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

/// Finding 16: `-o` naming an input (by its name or through a hard link) is a usage error and
/// the profile is untouched.
#[test]
fn output_onto_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = profile_in(dir.path(), "self.pb.gz");
    let before = std::fs::read(&input).unwrap();
    let hard = dir.path().join("other-name.pb.gz");
    std::fs::hard_link(&input, &hard).unwrap();
    for out in [&input, &hard] {
        let o = heapdoc().arg(&input).arg("-o").arg(out).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("is the input"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // diff: either side, -o and --svg.
    for flag in ["-o", "--svg"] {
        let o = heapdoc()
            .arg("diff")
            .arg(PROFILE)
            .arg(&input)
            .arg(flag)
            .arg(&input)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

/// Finding 17: `diff -o X --svg Y` where Y cannot be written leaves no X; `-o X --svg X` is a
/// usage error.
#[test]
fn diff_writes_both_outputs_or_neither() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("d.md");
    let o = heapdoc()
        .args(["diff", PROFILE, PROFILE, "-o"])
        .arg(&md)
        .arg("--svg")
        .arg(dir.path().join("missing-dir/x.svg"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!md.exists(), "-o was written though --svg failed");
    assert!(temp_files(dir.path()).is_empty());

    let same = dir.path().join("same.out");
    let o = heapdoc()
        .args(["diff", PROFILE, PROFILE, "-o"])
        .arg(&same)
        .arg("--svg")
        .arg(&same)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("the same file"));
    assert!(!same.exists());

    let svg = dir.path().join("d.svg");
    heapdoc()
        .args(["diff", PROFILE, PROFILE, "-o"])
        .arg(&md)
        .arg("--svg")
        .arg(&svg)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&md).unwrap().contains("heapdoc"));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<?xml"));
}

/// Finding 18: a signal that stops the write removes the temporary file. SIGXFSZ (a file-size
/// limit hit while writing the temporary file) goes through the same handler as Ctrl-C and
/// SIGTERM, and is deterministic.
#[test]
fn interrupted_write_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    std::fs::write(&out, "old report\n").unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapdoc"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([PROFILE, "-o"])
        .arg(&out)
        .stderr(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; it only lowers this child's file-size limit.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 100,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd.status().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGXFSZ), "{status:?}");
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old report\n");
}

/// Finding 19: an existing file keeps its mode (0600 stays private) and, as root, its owner.
#[test]
fn output_keeps_mode_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("private.txt");
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    if euid() == 0 {
        std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
    }
    let before = std::fs::metadata(&out).unwrap();
    heapdoc().args([PROFILE, "-o"]).arg(&out).assert().success();
    let after = std::fs::metadata(&out).unwrap();
    assert_eq!(after.mode() & 0o7777, 0o600);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_eq!(std::fs::read(&out).unwrap(), report());
}

/// Finding 19: symlinks (also dangling ones) are written through; hard links keep sharing the
/// new content.
#[test]
fn output_writes_through_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("target.txt"), "old").unwrap();
    std::os::unix::fs::symlink("target.txt", d.join("link.txt")).unwrap();
    std::os::unix::fs::symlink("created.txt", d.join("dangling.txt")).unwrap();
    std::fs::write(d.join("a.txt"), "old").unwrap();
    std::fs::hard_link(d.join("a.txt"), d.join("b.txt")).unwrap();
    for name in ["link.txt", "dangling.txt", "a.txt"] {
        heapdoc()
            .args([PROFILE, "-o"])
            .arg(d.join(name))
            .assert()
            .success();
    }
    let r = report();
    assert!(std::fs::symlink_metadata(d.join("link.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(d.join("target.txt")).unwrap(), r);
    assert!(std::fs::symlink_metadata(d.join("dangling.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(d.join("created.txt")).unwrap(), r);
    assert_eq!(std::fs::read(d.join("b.txt")).unwrap(), r);
    assert!(temp_files(d).is_empty());
}

/// Finding 24 (cosmetic, the cheap ones): a failed stdout write names stdout; `--cpu` with a
/// heap profile says "a Go allocs profile" once; a timeout too large says what the limit is;
/// a byte order mark or blank lines before a legacy header are skipped; a goroutine stack
/// dump (debug=2) is named.
#[test]
fn cosmetic_messages() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    if let Ok(full) = full {
        let o = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapdoc"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg(PROFILE)
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("writing to stdout"));
    }
    let o = heapdoc()
        .args([PROFILE, "--cpu", PROFILE])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("a Go allocs profile, not a CPU profile"), "{e}");
    let o = heapdoc()
        .args(["--timeout", "1e10", "localhost:1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("at most 1e9 seconds"));

    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/profiles/go1.27/appendgrowth.heap.default.debug1.txt"),
    )
    .unwrap();
    for (name, prefix) in [
        ("bom.txt", &b"\xef\xbb\xbf"[..]),
        ("blank.txt", b"\n\n  \n"),
    ] {
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(&text);
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let o = heapdoc().arg(&p).output().unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).starts_with("Go heap profile"));
    }
    // A goroutine traceback (debug=2) is read since issue 19; a truncated one names the line.
    let p = dir.path().join("g2.txt");
    std::fs::write(&p, "goroutine 1 [running]:\nmain.main()\n").unwrap();
    let o = heapdoc().arg(&p).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 2: goroutine 1"), "{err}");
    std::fs::write(
        &p,
        "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:10 +0x1d\n",
    )
    .unwrap();
    let o = heapdoc().arg(&p).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("goroutine profile"));
}
