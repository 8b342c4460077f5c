//! The Go compiler's escape analysis, as evidence for why a line allocates.
//!
//! Reads the text of `go build -gcflags=-m=2` (or `-m`), one diagnostic per line
//! `path:line:col: message`, with the multi-line flow explanations (indented `flow:` / `from`
//! lines) that follow a `... escapes to heap in FUNC:` header. And the JSON diagnostics that
//! `go build -gcflags=-json=0,DIR` writes: one file per package under DIR, a header object and
//! then LSP-style diagnostics with `range`, `code` and `message`.
//!
//! Paths are matched to the profile's file paths by longest common suffix of path components,
//! so a tree built in a different directory (or with -trimpath) still matches; a profile path
//! that matches two compiler files equally well is reported as ambiguous, not guessed.

use std::collections::HashMap;

use anyhow::{Context, Result};

/// Escape-analysis messages by file and line.
#[derive(Debug, Default, Clone)]
pub struct EscapeIndex {
    /// Compiler file path -> line -> messages (deduplicated, in the compiler's order).
    pub files: HashMap<String, HashMap<i64, Vec<String>>>,
}

impl EscapeIndex {
    /// Parses `-m`/`-m=2` text output. Lines that are not diagnostics are ignored.
    pub fn add_text(&mut self, text: &str) {
        for raw in text.lines() {
            let Some((path, line, msg)) = split_diagnostic(raw) else {
                continue;
            };
            // Flow explanations are indented under their headline; they are kept (trimmed,
            // without their `at path:line:col`) because they carry the why: `captured by a
            // closure`, `← &x` (address taken), `(spill)` (a value boxed).
            let msg = normalize(msg.trim_start());
            // Inlining chatter says nothing about allocation, except that the compiler wraps a
            // `go f(x)` statement in an `F.gowrapN` func literal: that names a go statement.
            let inlining = msg.starts_with("can inline")
                || msg.starts_with("inlining call")
                || msg.starts_with("cannot inline");
            if msg.is_empty() || (inlining && !msg.contains(".gowrap")) {
                continue;
            }
            self.push(path, line, msg);
        }
    }

    /// Like [`add_text`](Self::add_text) for output of a build run in `dir`: relative paths
    /// are joined to `dir` (absolute, when it can be resolved).
    pub fn add_text_in(&mut self, text: &str, dir: &std::path::Path) {
        let base = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut rebased = String::with_capacity(text.len());
        for line in text.lines() {
            match split_diagnostic(line) {
                Some((path, _, _)) if !std::path::Path::new(path).is_absolute() => {
                    let rel = path.strip_prefix("./").unwrap_or(path);
                    rebased.push_str(&base.join(rel).to_string_lossy());
                    rebased.push_str(&line[path.len()..]);
                }
                _ => rebased.push_str(line),
            }
            rebased.push('\n');
        }
        self.add_text(&rebased);
    }

    /// Parses one `-json=0,DIR` diagnostics file: a header object naming the `file`, then one
    /// object per diagnostic with `range.start.line` (1-based, as the compiler writes it),
    /// `code`, `message` and the flow explanation in `relatedInformation`.
    pub fn add_json(&mut self, text: &str, origin: &str) -> Result<()> {
        let stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        let mut file = String::new();
        for (i, v) in stream.enumerate() {
            let v = v.with_context(|| format!("{origin}: invalid JSON diagnostic #{}", i + 1))?;
            if let Some(f) = v.get("file").and_then(|f| f.as_str()) {
                file = f.to_string();
                continue;
            }
            let code = v.get("code").and_then(|c| c.as_str()).unwrap_or("");
            if !matches!(code, "escapes" | "escape" | "heapMove" | "leak") {
                continue;
            }
            let line = v
                .pointer("/range/start/line")
                .and_then(|l| l.as_i64())
                .unwrap_or(0);
            if file.is_empty() || line <= 0 {
                continue;
            }
            let msg = v.get("message").and_then(|m| m.as_str()).unwrap_or("");
            let file = file.clone();
            if !msg.is_empty() {
                self.push(&file, line, normalize(msg));
            }
            for rel in v
                .get("relatedInformation")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(m) = rel.get("message").and_then(|m| m.as_str()) {
                    let m = m.strip_prefix("escflow:").unwrap_or(m).trim_start();
                    self.push(&file, line, normalize(m));
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, path: &str, line: i64, msg: String) {
        let msgs = self
            .files
            .entry(path.to_string())
            .or_default()
            .entry(line)
            .or_default();
        if !msgs.contains(&msg) {
            msgs.push(msg);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Resolves a profile file path to a compiler file path by longest common suffix.
    pub fn resolve(&self, profile_path: &str) -> Resolved<'_> {
        let want: Vec<&str> = components(profile_path);
        match best_suffix(self.files.keys().map(String::as_str), &want) {
            (None, _) => Resolved::None,
            (Some(p), false) => Resolved::File(p),
            (Some(_), true) => Resolved::Ambiguous,
        }
    }

    /// Messages for `line` of compiler file `path`.
    pub fn messages(&self, path: &str, line: i64) -> &[String] {
        self.files
            .get(path)
            .and_then(|l| l.get(&line))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// How a profile path matched the compiler's files.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<'a> {
    File(&'a str),
    Ambiguous,
    None,
}

/// The path of `paths` sharing the longest suffix of components with `profile_path` (same
/// base name at least); None also when two match equally well.
pub fn resolve_suffix<'a>(
    paths: impl Iterator<Item = &'a str>,
    profile_path: &str,
) -> Option<&'a str> {
    match best_suffix(paths, &components(profile_path)) {
        (Some(p), false) => Some(p),
        _ => None,
    }
}

/// (best path, tied).
fn best_suffix<'a>(paths: impl Iterator<Item = &'a str>, want: &[&str]) -> (Option<&'a str>, bool) {
    let Some(base) = want.last() else {
        return (None, false);
    };
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for path in paths {
        let have = components(path);
        if have.last() != Some(base) {
            continue;
        }
        let n = want
            .iter()
            .rev()
            .zip(have.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        match best {
            Some((_, m)) if n < m => {}
            Some((_, m)) if n == m => tie = true,
            _ => {
                best = Some((path, n));
                tie = false;
            }
        }
    }
    (best.map(|b| b.0), tie)
}

fn components(p: &str) -> Vec<&str> {
    p.split(['/', '\\'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect()
}

/// `path:line:col: message` (col optional). Paths may contain ':' on Windows only; Go
/// prints `./main.go:12:5: msg` or `/abs/main.go:12:5: msg`.
fn split_diagnostic(raw: &str) -> Option<(&str, i64, &str)> {
    let go = raw.find(".go:")?;
    let path = &raw[..go + 3];
    let rest = &raw[go + 4..];
    let (line, rest) = rest.split_once(':')?;
    let line: i64 = line.parse().ok()?;
    let rest = match rest.split_once(':') {
        Some((col, msg)) if col.chars().all(|c| c.is_ascii_digit()) && !col.is_empty() => msg,
        _ => rest,
    };
    let msg = rest.strip_prefix(' ').unwrap_or(rest);
    Some((path, line, msg))
}

/// Removes the `in FUNC:` suffix of -m=2 headlines and the ` at path:line:col` of flow lines,
/// so the text and JSON forms compare equal.
fn normalize(msg: &str) -> String {
    let mut m = msg.trim_end();
    if let Some(i) = m.rfind(" at ") {
        if m[i + 4..].contains(".go:") {
            m = &m[..i];
        }
    }
    let m = match m.rfind(" in ") {
        Some(i) if m.ends_with(':') && m[..i].ends_with("escapes to heap") => &m[..i],
        _ => m.trim_end_matches(':'),
    };
    m.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_m2_headlines_and_skips_flows() {
        let mut idx = EscapeIndex::default();
        idx.add_text(
            "# heapdoc.dev/samples/boxing\n\
             heapdoc.dev/samples/boxing/main.go:35:20: ints[k] escapes to heap in boxValues:\n\
             heapdoc.dev/samples/boxing/main.go:35:20:   flow: {heap} <- &{storage for ints[k]}:\n\
             heapdoc.dev/samples/boxing/main.go:35:20: ints[k] escapes to heap\n\
             ./main.go:25:3: moved to heap: counter\n",
        );
        assert_eq!(
            idx.messages("heapdoc.dev/samples/boxing/main.go", 35),
            [
                "ints[k] escapes to heap",
                "flow: {heap} <- &{storage for ints[k]}"
            ]
        );
        assert_eq!(idx.messages("./main.go", 25), ["moved to heap: counter"]);
    }

    #[test]
    fn longest_suffix_wins_and_ties_are_ambiguous() {
        let mut idx = EscapeIndex::default();
        idx.add_text("/build/a/svc/main.go:1:1: moved to heap: x\n/build/b/tool/main.go:1:1: moved to heap: y\n");
        assert_eq!(
            idx.resolve("/home/me/src/svc/main.go"),
            Resolved::File("/build/a/svc/main.go")
        );
        assert_eq!(idx.resolve("/elsewhere/main.go"), Resolved::Ambiguous);
        assert_eq!(idx.resolve("x/other.go"), Resolved::None);
    }
}
