//! The architecture, checked (issue 15; docs/architecture.md): the `crate::` import graph
//! between the library's source files has no cycle, data flows one way between the stages,
//! and only the binary's `cli` knows clap.
//!
//! The graph is built from the source text: every `crate::a::b` path (in `use` items and in
//! expressions) and every `super::x` path names the deepest module file that exists for it;
//! a file's edges are the files it names, other than itself and its own submodules' parent
//! declarations (`mod x;` lines are declarations, not imports).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: src/analyze/mod.rs -> ["analyze"], src/render/text.rs ->
/// ["render", "text"]. The binary's files (main.rs, cli/) are not part of the library.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The text of a file without comments and string literals (so prose cannot add edges), and
/// without `#[cfg(test)]` modules at its end (tests may import anything).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal such as '"' or '\n' (lifetimes have no closing quote).
            let end = text[i + 1..].find('\'').map_or(b.len(), |k| i + 2 + k);
            i = end;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

struct Graph {
    modules: BTreeMap<Vec<String>, PathBuf>,
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.retain(|f| {
        let rel = f.strip_prefix(src()).unwrap();
        !(rel.starts_with("cli") || rel == Path::new("main.rs") || rel.starts_with("pb"))
    });
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let path_re =
        regex::Regex::new(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+|::\{)").unwrap();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, f) in &modules {
        let code = code_of(&std::fs::read_to_string(f).unwrap());
        let is_mod_file = f
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "lib.rs");
        let mut out = BTreeSet::new();
        for c in path_re.captures_iter(&code) {
            let mut base: Vec<String> = if &c[1] == "crate" {
                Vec::new()
            } else {
                // `super` of a mod.rs file is its folder's parent; of x.rs, its folder.
                let mut b = m.clone();
                b.pop();
                let _ = is_mod_file;
                b
            };
            let rest = c[2].trim_start_matches("::");
            let segs: Vec<&str> = rest
                .split("::")
                .filter(|s| !s.is_empty() && *s != "{")
                .collect();
            // `use crate::{a, b}` and `use crate::x::{a, b}`: the group's members.
            let group_start = c.get(0).unwrap().end();
            let mut candidates: Vec<Vec<String>> = Vec::new();
            base.extend(segs.iter().map(|s| s.to_string()));
            if code[group_start..].starts_with("::{") || c[2].ends_with("::{") {
                let open = code[..].get(group_start..).unwrap();
                let open = &open[open.find('{').unwrap() + 1..];
                let close = open.find('}').unwrap_or(open.len());
                for item in open[..close].split(',') {
                    let item = item.trim().split("::").next().unwrap_or("").trim();
                    if !item.is_empty() {
                        let mut p = base.clone();
                        p.push(item.to_string());
                        candidates.push(p);
                    }
                }
            } else {
                candidates.push(base.clone());
            }
            for mut p in candidates {
                while !p.is_empty() && !modules.contains_key(&p) {
                    p.pop();
                }
                if p.is_empty() || &p == m {
                    continue;
                }
                // A module's own descendants (its submodules) are below it, not an import.
                if p.starts_with(m) {
                    continue;
                }
                out.insert(p);
            }
        }
        edges.insert(m.clone(), out);
    }
    Graph { modules, edges }
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Tarjan's strongly connected components; returns those with more than one module.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct St<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        on: BTreeSet<&'a Vec<String>>,
        stack: Vec<&'a Vec<String>>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut St<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.g.edges[v] {
            let w = s.g.edges.get_key_value(w).unwrap().0;
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on.remove(w);
                comp.push(name(w));
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn the_graph_sees_known_imports() {
    // The checker must see real edges, or "no cycle" proves nothing.
    let g = graph();
    let e = |a: &str, b: &str| {
        let a: Vec<String> = a.split("::").map(String::from).collect();
        let b: Vec<String> = b.split("::").map(String::from).collect();
        g.edges[&a].contains(&b)
    };
    assert!(e("render::text", "analyze"));
    assert!(e("evidence", "analyze::classify"));
    assert!(e("pipeline", "source::load"));
    assert!(e("analyze::classify", "model"));
    assert!(g.modules.len() > 20, "{} modules", g.modules.len());
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let m = |s: &str| -> Vec<String> { s.split("::").map(String::from).collect() };
    let mut g = Graph {
        modules: BTreeMap::new(),
        edges: BTreeMap::new(),
    };
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        g.modules.insert(m(a), PathBuf::new());
        g.edges.entry(m(a)).or_default().insert(m(b));
    }
    g.edges.entry(m("c")).or_default();
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
}

#[test]
fn no_import_cycle_between_source_files() {
    let g = graph();
    let c = cycles(&g);
    assert!(c.is_empty(), "import cycles: {c:#?}");
}

/// Data flows one way: each stage imports only the stages below it (docs/architecture.md).
#[test]
fn stages_import_only_downward() {
    let g = graph();
    // Layer of each top-level module; a module may import only modules of a lower layer (or
    // its own top-level module's files).
    let layer = |top: &str| -> usize {
        match top {
            "units" | "par" | "output" | "pb" => 0,
            "model" => 1,
            "decode" => 2,
            "source" => 3,
            "analyze" => 3,
            "evidence" => 4,
            "render" => 4,
            "pipeline" => 5,
            "" => 6,
            other => panic!("module {other} has no layer: add it to docs/architecture.md and here"),
        }
    };
    let mut bad = Vec::new();
    for (m, outs) in &g.edges {
        let top = m.first().map_or("", String::as_str);
        for o in outs {
            let otop = o.first().map_or("", String::as_str);
            if otop == top {
                continue;
            }
            if layer(otop) >= layer(top) {
                bad.push(format!("{} -> {}", name(m), name(o)));
            }
        }
    }
    assert!(bad.is_empty(), "imports against the flow: {bad:#?}");
}

#[test]
fn only_the_binary_knows_clap() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let offenders: Vec<_> = files
        .iter()
        .filter(|f| {
            let rel = f.strip_prefix(src()).unwrap();
            !(rel.starts_with("cli") || rel == Path::new("main.rs"))
        })
        .filter(|f| code_of(&std::fs::read_to_string(f).unwrap()).contains("clap"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "clap in library code: {offenders:?}");
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    assert!(!code_of(&lib).contains("mod cli"), "lib.rs exports the CLI");
}
