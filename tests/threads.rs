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

fn same_on_any_thread_count(profile: &str) {
    let outputs: [&[&str]; 4] = [
        &["--top", "0", profile],
        &["--format", "json", "--top", "0", profile],
        &[
            "--format",
            "markdown",
            "--granularity",
            "functions",
            profile,
        ],
        &["flame", profile],
    ];
    for args in outputs {
        let one = run("1", args);
        assert!(!one.is_empty());
        for threads in ["2", "3", "7"] {
            assert!(
                run(threads, args) == one,
                "{profile}: heapdoc {args:?} differs between 1 and {threads} threads"
            );
        }
    }
}

#[test]
fn real_profiles_give_the_same_report_on_any_thread_count() {
    let root = env!("CARGO_MANIFEST_DIR");
    for rel in [
        "samples/profiles/go1.27/service.allocs.rate1.pb.gz",
        "samples/profiles/go1.27/service.cpu.window.pb.gz",
    ] {
        same_on_any_thread_count(&format!("{root}/{rel}"));
    }
}

#[test]
fn a_large_profile_gives_the_same_report_on_any_thread_count() {
    // Large enough that the default split uses every core as well.
    let raw = heapdoc_synth::synthesize(&heapdoc_synth::Shape::bigheap(120_000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.pb.gz");
    std::fs::write(&path, heapdoc_synth::gzip(&raw)).unwrap();
    same_on_any_thread_count(path.to_str().unwrap());
}
