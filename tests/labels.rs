//! Profile labels (issue 18): `--tagfocus`/`--tagignore` keep exactly the samples go tool
//! pprof keeps, and `--by-label` splits a report by one label's values.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

const HEAP: &str = "samples/profiles/go1.27/service.allocs.default.pb.gz";

fn totals(v: &serde_json::Value) -> Vec<i64> {
    v["sample_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["total"].as_i64().unwrap())
        .collect()
}

fn heapdoc_totals(file: &Path, args: &[&str]) -> Vec<i64> {
    let mut a: Vec<String> = vec!["--format".into(), "json".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push(file.to_string_lossy().into_owned());
    totals(&common::json_ok(&a))
}

/// On a Go heap profile (every sample carries the numeric `bytes` label): a filter and its
/// negation partition the samples, and a range that holds every size keeps everything.
#[test]
fn tagfocus_and_tagignore_partition_the_samples() {
    let file = Path::new(HEAP);
    let all = heapdoc_totals(file, &[]);
    for filter in ["bytes=:1kb", "bytes=64b:4kb", "bytes=32kb:", ":512b"] {
        let kept = heapdoc_totals(file, &["--tagfocus", filter]);
        let dropped = heapdoc_totals(file, &["--tagignore", filter]);
        for i in 0..all.len() {
            assert_eq!(kept[i] + dropped[i], all[i], "{filter}: sample type {i}");
        }
        assert!(kept.iter().any(|&v| v != 0), "{filter} kept nothing");
        assert!(kept[1] < all[1], "{filter} kept everything");
    }
    assert_eq!(heapdoc_totals(file, &["--tagfocus", "bytes=0b:1gb"]), all);
    // A string filter on a profile whose labels are all numeric keeps nothing.
    let none = heapdoc_totals(file, &["--tagfocus", "handler=api"]);
    assert!(none.iter().all(|&v| v == 0), "{none:?}");
}

#[test]
fn bad_label_filters_are_usage_errors() {
    for (filter, needle) in [("k=(", "--tagfocus"), ("", "--tagfocus")] {
        let out = common::heapdoc()
            .args(["--tagfocus", filter, HEAP])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{filter:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{filter:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

fn corpus() -> PathBuf {
    let dir = std::env::var_os("HEAPDOC_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(
        dir.join("MANIFEST.tsv").exists(),
        "needs ../shared/corpus or $HEAPDOC_CORPUS"
    );
    dir
}

/// go tool pprof -tagfocus/-tagignore writes the filtered profile (-proto); heapdoc's
/// totals of that profile must equal heapdoc's own filter on the original, for every sample
/// type, on the corpus profiles that carry labels and on a Go heap profile's numeric labels.
#[test]
#[ignore = "needs Go (go tool pprof) and ../shared/corpus; .ci/run runs the ignored tests"]
fn label_filters_keep_what_go_tool_pprof_keeps() {
    let corpus = corpus();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases: &[(PathBuf, &str, &str)] = &[
        (
            corpus.join("pyro_go_cpu_labels.pb.gz"),
            "tagfocus",
            "function=slow",
        ),
        (
            corpus.join("pyro_go_cpu_labels.pb.gz"),
            "tagignore",
            "function=slow",
        ),
        (
            corpus.join("pyro_go_cpu_labels.pb.gz"),
            "tagfocus",
            "function=fast,slow",
        ),
        (
            corpus.join("pyro_go_cpu_labels.pb.gz"),
            "tagfocus",
            "foo:bar,function:fa",
        ),
        (
            corpus.join("pyro_go_cpu_labels.pb.gz"),
            "tagfocus",
            "profile_id=^0",
        ),
        (corpus.join("parca_labels.pb.gz"), "tagfocus", "api=query"),
        (corpus.join("parca_labels.pb.gz"), "tagignore", "api=query"),
        (
            corpus.join("gpn_goroutine_debug0.pb.gz"),
            "tagfocus",
            "test_label=test_value",
        ),
        (root.join(HEAP), "tagfocus", "bytes=:1kb"),
        (root.join(HEAP), "tagfocus", "bytes=64b:4kb"),
        (root.join(HEAP), "tagignore", "32kb:"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, (file, flag, filter)) in cases.iter().enumerate() {
        let filtered = tmp.path().join(format!("{i}.pb.gz"));
        let out = Process::new("go")
            .args(["tool", "pprof", "-proto"])
            .arg(format!("-{flag}={filter}"))
            .arg("-output")
            .arg(&filtered)
            .arg(file)
            .output()
            .expect("go on PATH");
        assert!(
            out.status.success(),
            "go tool pprof -{flag}={filter} {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let want = heapdoc_totals(&filtered, &[]);
        let got = heapdoc_totals(file, &[&format!("--{flag}"), filter]);
        assert_eq!(got, want, "--{flag} {filter} on {}", file.display());
        let all = heapdoc_totals(file, &[]);
        assert_ne!(got, all, "--{flag} {filter}: filtered nothing out");
    }
}
