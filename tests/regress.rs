//! Regression inputs (issue 10): every file in tests/data/regress/ once crashed, hung or
//! exhausted memory. Each must be listed in `CASES` with the outcome it gets now; a crash
//! found by fuzzing (scripts/fuzz-smoke.sh) is added here with its minimized input.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::heapdoc;

/// (file, exit code, text that stdout (exit 0) or stderr (exit 2) must contain).
const CASES: &[(&str, i32, &str)] = &[
    // text report: `flat / objects` with flat = i64::MIN and objects = -1 overflowed.
    (
        "avg-size-min-div-minus-one.pb",
        0,
        "Total: -8192.00 PiB in 1 objects",
    ),
    // mark_inline: `total - unattributed` overflowed when attributed values sum past i64::MAX.
    // Since issue 16 (finding 21) a site sum past 64 bits is refused rather than clamped.
    (
        "inline-cutoff-overflow.pb",
        2,
        "values of one allocation site sum past 64 bits",
    ),
    // legacy text: chained `$var` replacement doubled the mapping path 48 times (2^48 bytes).
    (
        "legacy-map-vars-exponential.txt",
        0,
        "main.work /src/main.go:12",
    ),
];

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regress")
}

#[test]
fn every_regression_input_is_listed() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "tests/data/regress/ and CASES must match");
}

#[test]
fn regression_inputs() {
    for &(file, code, needle) in CASES {
        let start = Instant::now();
        let out = heapdoc()
            .arg(dir().join(file))
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(code), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        let shown = if code == 0 { &stdout } else { &stderr };
        assert!(
            shown.contains(needle),
            "{file}: expected {needle:?} in:\n{shown}"
        );
        if code != 0 {
            assert!(
                stdout.is_empty() && stderr.lines().count() == 1,
                "{file}: {stderr}"
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{file}: too slow"
        );
    }
}
