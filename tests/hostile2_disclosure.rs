//! Hostile input, round two (issue 16): `--source-root` reads nothing outside its roots.
//! Finding 2 of the campaign report (`../shared/reviews/hostile-2026-12.md`): a profile naming
//! `/etc/passwd`, `/proc/self/environ`, an absolute path outside the root or `../` escapes
//! printed those files in the report and in `list`.

mod common;

use std::path::Path;

use common::{encode, heap_profile, heapdoc};

/// 40 lines, each naming its number, so line 12 (main.work's site) and line 30 exist.
fn secret_text(tag: &str) -> String {
    (1..=40).map(|i| format!("{tag} line {i}\n")).collect()
}

/// The heap profile with its source file name replaced by `file`.
fn profile_naming(dir: &Path, file: &str) -> std::path::PathBuf {
    let mut p = heap_profile();
    let i = p
        .string_table
        .iter()
        .position(|s| s == "/src/main.go")
        .unwrap();
    p.string_table[i] = file.to_string();
    let path = dir.join(format!("p{}.pb", p.string_table[i].len()));
    std::fs::write(&path, encode(&p)).unwrap();
    path
}

/// The text report, the Markdown report and `list .` of `profile` with `--source-root root`,
/// run with a marker in the environment (which `/proc/self/environ` would show).
fn outputs(profile: &Path, root: &Path) -> Vec<String> {
    let runs: [&[&str]; 3] = [&[], &["--format", "markdown"], &["list", "."]];
    runs.iter()
        .map(|args| {
            let mut cmd = heapdoc();
            cmd.args(*args)
                .arg(profile)
                .arg("--source-root")
                .arg(root)
                .env("HEAPDOC_TEST_MARKER", "TOPSECRET-ENV");
            let o = cmd.output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap()
        })
        .collect()
}

#[test]
fn source_root_reads_nothing_outside_its_roots() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root/proj");
    std::fs::create_dir_all(&root).unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, secret_text("TOPSECRET")).unwrap();
    // A symlink inside the root that points out of it.
    std::os::unix::fs::symlink(&secret, root.join("link.go")).unwrap();
    let secret_s = secret.to_str().unwrap();
    let dotdot = format!("../../../../../../../../..{secret_s}");
    let hostile = [
        secret_s,
        dotdot.as_str(),
        "/etc/passwd",
        "/proc/self/environ",
        "link.go",
        "../secret.txt",
    ];
    for file in hostile {
        let prof = profile_naming(dir.path(), file);
        for out in outputs(&prof, &root) {
            assert!(!out.contains("TOPSECRET"), "{file}: {out}");
            assert!(!out.contains("root:x:0:0"), "{file}: {out}");
        }
    }
}

#[test]
fn source_root_still_reads_files_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/main.go"), secret_text("INSIDE")).unwrap();
    let abs = root.join("src/main.go");
    for file in [
        "/build/src/main.go",
        abs.to_str().unwrap(),
        "../src/main.go",
    ] {
        let prof = profile_naming(dir.path(), file);
        let outs = outputs(&prof, &root);
        assert!(
            outs[0].contains("src: INSIDE line 12"),
            "{file}: {}",
            outs[0]
        );
        assert!(outs[2].contains("INSIDE line 30"), "{file}: {}", outs[2]);
    }
}

/// A file over the size cap (8 MiB) inside the root is not read.
#[test]
fn source_root_skips_oversized_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let mut big = secret_text("BIG");
    big.push_str(&"x".repeat(9 << 20));
    std::fs::write(root.join("src/main.go"), big).unwrap();
    let prof = profile_naming(dir.path(), "/src/main.go");
    for out in outputs(&prof, &root) {
        assert!(!out.contains("BIG line"), "{out}");
    }
}
