//! Parallel stages give the same answer on any number of threads (issue 9): the per-stack
//! passes split the stacks into ranges and merge them, and decompression runs on its own
//! thread. Checked byte for byte on every output, with `HEAPDOC_THREADS` forcing the count.

use assert_cmd::Command;

fn run(threads: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .env("HEAPDOC_THREADS", threads)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "heapdoc {args:?} with HEAPDOC_THREADS={threads}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The outputs compared: every format, at both granularities, and the flame graph.
fn outputs(profile: &str) -> [Vec<&str>; 4] {
    [
        vec!["--top", "0", profile],
        vec!["--format", "json", "--top", "0", profile],
        vec![
            "--format",
            "markdown",
            "--granularity",
            "functions",
            profile,
        ],
        vec!["flame", profile],
    ]
}

fn same_on_any_thread_count(profile: &str, args: &[&str]) {
    let one = run("1", args);
    assert!(!one.is_empty());
    // 2: the split in halves; 7: more threads than cores and uneven ranges.
    for threads in ["2", "7"] {
        assert!(
            run(threads, args) == one,
            "{profile}: heapdoc {args:?} differs between 1 and {threads} threads"
        );
    }
}

#[test]
fn real_profiles_give_the_same_report_on_any_thread_count() {
    let root = env!("CARGO_MANIFEST_DIR");
    for rel in [
        "samples/profiles/go1.27/service.allocs.rate1.pb.gz",
        "samples/profiles/go1.27/service.cpu.window.pb.gz",
    ] {
        let profile = format!("{root}/{rel}");
        for args in outputs(&profile) {
            same_on_any_thread_count(&profile, &args);
        }
    }
}

/// One output of a profile large enough that the default split uses two cores as well
/// (60,000 samples give about 36,000 distinct stacks, over 2 x `par::MIN_PER_THREAD`); one
/// test per output keeps each test short (issue 15: none over 10 s).
fn large_profile_output(which: usize) {
    let raw = heapdoc_synth::synthesize(&heapdoc_synth::Shape::bigheap(60_000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pb.gz");
    std::fs::write(&path, heapdoc_synth::gzip(&raw)).unwrap();
    let profile = path.to_str().unwrap();
    same_on_any_thread_count(profile, &outputs(profile)[which]);
}

#[test]
fn a_large_profile_gives_the_same_text_report_on_any_thread_count() {
    large_profile_output(0);
}

#[test]
fn a_large_profile_gives_the_same_json_on_any_thread_count() {
    large_profile_output(1);
}

#[test]
fn a_large_profile_gives_the_same_markdown_on_any_thread_count() {
    large_profile_output(2);
}

#[test]
fn a_large_profile_gives_the_same_flame_graph_on_any_thread_count() {
    large_profile_output(3);
}
