//! `heapdoc list` golden files on the samples: the annotated source with each line's
//! allocation, cause and compiler reason. Re-bless with `HEAPDOC_BLESS=1 cargo test --test list`.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn golden(name: &str, args: &[&str]) {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::golden(name, &out.stdout);
}

#[test]
fn list_with_compiler_reasons_and_source() {
    for (program, func) in [
        ("boxing", "main\\.boxValues$"),
        ("closure", "main\\.makeClosures$"),
        ("pointerescape", "main\\.newSession$"),
        ("stringbuild", "main\\.(concatPlus|builderGrowth)$"),
        ("mapgrowth", "main\\.fillMapNoHint$"),
    ] {
        let escapes = format!("samples/escapes/go1.27/{program}.m2.txt");
        let profile = format!("samples/profiles/go1.27/{program}.heap.rate1.pb.gz");
        golden(
            &format!("list.{program}.escapes.txt"),
            &[
                "list",
                func,
                "--escapes",
                &escapes,
                "--source-root",
                "samples/src",
                &profile,
            ],
        );
    }
}

#[test]
fn list_without_source_shows_allocating_lines_only() {
    golden(
        "list.json.nosource.txt",
        &[
            "list",
            "main\\.decode",
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
        ],
    );
}

#[test]
fn list_with_no_match_is_an_error() {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args([
            "list",
            "^nothing$",
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no function"));
}
