//! Issue 2's bad-input must-show, on the real binary: every bad input gets one line on
//! stderr, `heapdoc: ...`, naming the problem (with the byte offset, field or id where that
//! helps), exit code 2, nothing on stdout, and never a panic.

mod common;

use std::path::PathBuf;

use common::{encode, gzip, heap_profile, heapdoc, put_bytes_field};

/// Writes `bytes` to a fresh file and returns (the dir guard, the path).
fn file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// Runs heapdoc on `bytes` (as a file named `name`) with `args` and checks the bad-input
/// contract; returns the message after `heapdoc: `.
fn refused_with(name: &str, bytes: &[u8], args: &[&str], needle: &str) -> String {
    let (_dir, path) = file(name, bytes);
    let out = heapdoc().args(args).arg(&path).output().unwrap();
    check_refusal(&out, needle)
}

fn refused(name: &str, bytes: &[u8], needle: &str) -> String {
    refused_with(name, bytes, &[], needle)
}

fn check_refusal(out: &std::process::Output, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout must be empty, got {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let line = stderr
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("stderr must end with a newline: {stderr:?}"));
    assert!(!line.contains('\n'), "stderr must be one line: {stderr:?}");
    let msg = line
        .strip_prefix("heapdoc: ")
        .unwrap_or_else(|| panic!("stderr must start with `heapdoc: `: {stderr:?}"));
    assert!(
        msg.contains(needle),
        "message {msg:?} should contain {needle:?}"
    );
    msg.to_string()
}

#[test]
fn empty_file() {
    let msg = refused("empty.pb", b"", "empty input");
    assert!(msg.contains("empty.pb"), "{msg}");
}

#[test]
fn empty_stdin() {
    let out = heapdoc().arg("-").write_stdin("").output().unwrap();
    check_refusal(&out, "<stdin>: empty input");
}

#[test]
fn empty_gzip_stream() {
    refused("empty.pb.gz", &gzip(b""), "empty input");
}

#[test]
fn truncated_gzip() {
    let gz = gzip(&encode(&heap_profile()));
    for cut in [3, 10, gz.len() / 2, gz.len() - 4] {
        refused("cut.pb.gz", &gz[..cut], "corrupt or truncated gzip data");
    }
}

/// A valid profile followed by an 8 MiB unknown field of zeros: a valid protobuf message that
/// gzips to a few KiB.
fn bomb() -> Vec<u8> {
    let mut raw = encode(&heap_profile());
    put_bytes_field(&mut raw, 100, &vec![0u8; 8 << 20]);
    let gz = gzip(&raw);
    assert!(gz.len() < 64 << 10, "bomb is {} bytes compressed", gz.len());
    gz
}

#[test]
fn gzip_bomb_stops_at_max_size() {
    let msg = refused_with(
        "bomb.pb.gz",
        &bomb(),
        &["--max-size", "1048576"],
        "decompressed size exceeds the --max-size limit of 1048576 bytes",
    );
    assert!(msg.contains("bomb.pb.gz"), "{msg}");
}

#[test]
fn max_size_raises_the_cap() {
    let (_dir, path) = file("bomb.pb.gz", &bomb());
    heapdoc()
        .args(["--max-size", "16777216"])
        .arg(&path)
        .assert()
        .success()
        .stdout(predicates::str::contains("main.work"));
}

#[test]
fn raw_input_over_max_size() {
    refused_with(
        "big.pb",
        &encode(&heap_profile()),
        &["--max-size", "10"],
        "input is over the --max-size limit of 10 bytes",
    );
}

#[test]
fn huge_max_size_does_not_overflow() {
    // `max_size + 1` overflowed (a panic in debug builds, a 0-byte read limit in release).
    refused_with(
        "empty.pb",
        b"",
        &["--max-size", &u64::MAX.to_string()],
        "empty input",
    );
    let (_dir, path) = file("ok.pb", &encode(&heap_profile()));
    heapdoc()
        .args(["--max-size", &u64::MAX.to_string()])
        .arg(&path)
        .assert()
        .success();
    // A gzipped legacy text profile takes the buffered fallback after the streaming decoder.
    let text = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("samples/profiles/go1.27/json.heap.default.debug1.txt"),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &text).unwrap();
    let (_dir, path) = file("heap.txt.gz", &gz.finish().unwrap());
    heapdoc()
        .args(["--max-size", &u64::MAX.to_string()])
        .arg(&path)
        .assert()
        .success();
}

#[test]
fn html_error_page() {
    refused(
        "heap",
        b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>oops</body></html>\n",
        "input is an HTML page",
    );
    refused(
        "heap.gz",
        &gzip(b"  <html>\n<body>x</body></html>"),
        "HTML page",
    );
}

#[test]
fn json_input() {
    refused(
        "heap.json",
        br#"{"error": "profiling disabled"}"#,
        "input is JSON",
    );
    refused("heap.json", b"[1, 2, 3]\n", "JSON");
}

/// xorshift64*: deterministic bytes without a dependency.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn random_bytes_are_refused() {
    let msg = refused(
        "random.bin",
        &random_bytes(0x5eed, 4096),
        "not a valid pprof profile.proto",
    );
    assert!(msg.contains("byte offset"), "{msg}");
    // More seeds and sizes: all refused cleanly (the message depends on the bytes).
    for seed in 1..=20u64 {
        let bytes = random_bytes(seed, 64 * seed as usize);
        let (_dir, path) = file("random.bin", &bytes);
        let out = heapdoc().arg(&path).output().unwrap();
        check_refusal(&out, "random.bin");
    }
}

#[test]
fn string_index_out_of_range() {
    let mut p = heap_profile();
    p.function[1].name = 99;
    refused(
        "p.pb",
        &encode(&p),
        "function id 2 name refers to string 99 but the string table has 11 entries",
    );
    let mut p = heap_profile();
    p.sample_type[2].unit = -1;
    refused(
        "p.pb",
        &encode(&p),
        "sample_type[2].unit refers to string -1",
    );
}

#[test]
fn location_id_out_of_range() {
    let mut p = heap_profile();
    p.sample[1].location_id = vec![2, 42];
    refused(
        "p.pb",
        &encode(&p),
        "sample #1 refers to missing location id 42",
    );
}

#[test]
fn function_id_out_of_range() {
    let mut p = heap_profile();
    p.location[0].line[0].function_id = 7;
    refused(
        "p.pb",
        &encode(&p),
        "location id 1 refers to missing function id 7",
    );
}

#[test]
fn mapping_id_out_of_range() {
    let mut p = heap_profile();
    p.location[1].mapping_id = 9;
    refused(
        "p.pb",
        &encode(&p),
        "location id 2 refers to missing mapping id 9",
    );
}

#[test]
fn value_count_mismatch() {
    let mut p = heap_profile();
    p.sample[1].value = vec![1, 512, 0];
    refused(
        "p.pb",
        &encode(&p),
        "sample #1 has 3 values but the profile has 4 sample types",
    );
}

#[test]
fn duplicate_ids() {
    let mut p = heap_profile();
    p.location[1].id = 1;
    refused("p.pb", &encode(&p), "duplicate location id 1");
    let mut p = heap_profile();
    p.function[0].id = 2;
    refused("p.pb", &encode(&p), "duplicate function id 2");
    let mut p = heap_profile();
    p.mapping.push(p.mapping[0]);
    refused("p.pb", &encode(&p), "duplicate mapping id 1");
}

#[test]
fn id_zero() {
    let mut p = heap_profile();
    p.function[1].id = 0;
    p.location[1].line[0].function_id = 0;
    refused("p.pb", &encode(&p), "function #2 has id 0");
    let mut p = heap_profile();
    p.location[0].id = 0;
    refused("p.pb", &encode(&p), "location #1 has id 0");
    let mut p = heap_profile();
    p.mapping[0].id = 0;
    refused("p.pb", &encode(&p), "mapping #1 has id 0");
}

#[test]
fn sums_overflowing_64_bits() {
    let mut p = heap_profile();
    p.sample[0].value[1] = i64::MAX;
    p.sample[1].value[1] = 1;
    refused(
        "p.pb",
        &encode(&p),
        "the sum of sample values for alloc_space overflows 64 bits (9223372036854775808)",
    );
    let mut p = heap_profile();
    p.sample[0].value[3] = i64::MIN;
    p.sample[1].value[3] = -1;
    refused("p.pb", &encode(&p), "for inuse_space overflows 64 bits");
}

#[test]
fn sums_overflowing_across_merged_inputs() {
    let mut p = heap_profile();
    p.sample[0].value[1] = i64::MAX / 2 + 1;
    p.sample[1].value[1] = i64::MAX / 2;
    let bytes = encode(&p);
    let (_d1, a) = file("a.pb", &bytes);
    let (_d2, b) = file("b.pb", &bytes);
    let out = heapdoc().arg(&a).arg(&b).output().unwrap();
    check_refusal(
        &out,
        "merging inputs: the sum of sample values for alloc_space overflows 64 bits",
    );
}

#[test]
fn truncated_protobuf_names_the_offset() {
    let bytes = encode(&heap_profile());
    let msg = refused("p.pb", &bytes[..bytes.len() - 3], "byte offset");
    assert!(msg.contains("not a valid pprof profile.proto"), "{msg}");
}

#[test]
fn missing_file() {
    let out = heapdoc().arg("/nonexistent/heap.pb").output().unwrap();
    check_refusal(&out, "/nonexistent/heap.pb: cannot open");
}

#[test]
fn unknown_sample_index_lists_valid_ones() {
    let (_dir, path) = file("p.pb", &encode(&heap_profile()));
    let out = heapdoc()
        .args(["--sample-index", "nope"])
        .arg(&path)
        .output()
        .unwrap();
    check_refusal(
        &out,
        "valid: alloc_objects, alloc_space, inuse_objects, inuse_space",
    );
}

#[test]
fn valid_profile_is_accepted() {
    // The control for every test above: the unmodified profile reads fine.
    let (_dir, path) = file("p.pb", &encode(&heap_profile()));
    heapdoc()
        .arg(&path)
        .assert()
        .success()
        .stdout(predicates::str::contains("main.work /src/main.go:12"));
}

/// Profile-level errors name the input (issue 16, finding 24): a profile without sample
/// types, and inputs of different sample types, by file name rather than "profile #2".
#[test]
fn profile_level_errors_name_the_input() {
    // Only a string table (field 6): a valid profile.proto with no sample types.
    let (_dir, path) = file("no-types.pb", &[0x32, 0x00]);
    let out = heapdoc().arg(&path).output().unwrap();
    let msg = check_refusal(&out, "the profile has no sample types");
    assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");

    let root = env!("CARGO_MANIFEST_DIR");
    let heap = format!("{root}/samples/profiles/go1.27/service.allocs.default.pb.gz");
    let cpu = format!("{root}/samples/profiles/go1.27/service.cpu.window.pb.gz");
    let out = heapdoc().args([&heap, &cpu]).output().unwrap();
    let msg = check_refusal(&out, "cannot merge");
    assert!(
        msg.starts_with(&format!(
            "cannot merge {cpu} (sample types samples/count,cpu/nanoseconds) with {heap} ("
        )),
        "{msg}"
    );
}
