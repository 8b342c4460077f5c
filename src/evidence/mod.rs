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
    // The typed model of the source roots too, when a Go toolchain can build it (without
    // one, source evidence is the line's text).
    for root in &opts.source_roots {
        if opts.explain.as_ref() == Some(root) {
            continue;
        }
        match goscan::typed_model(root, &opts.modules, None) {
            Ok(t) => match &mut typed {
                Some(have) => have.merge(t),
                None => typed = Some(t),
            },
            Err(e) if format!("{e:#}").contains("needs a Go toolchain") => {}
            Err(e) => notes.push(format!(
                "--source-root {}: no typed model of the source ({e:#}); causes come from the lines' text",
                root.display()
            )),
        }
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
    let go_env = |key: &str| -> Option<String> {
        if let Some(v) = std::env::var_os(key).filter(|v| !v.is_empty()) {
            return Some(v.to_string_lossy().into_owned());
        }
        // One `go env` for the process (goscan::go_env_all), shared with --explain.
        let all = goscan::go_env_all().ok()?;
        let v = if key == "GOROOT" { &all[1] } else { &all[2] };
        (!v.is_empty()).then(|| v.clone())
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
