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

/// The report's total in its sample index.
fn report_total(file: &Path, args: &[&str]) -> i64 {
    let mut a: Vec<String> = vec!["--format".into(), "json".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    a.push(file.to_string_lossy().into_owned());
    common::json_ok(&a)["total"].as_i64().unwrap()
}

fn by_label(file: &Path, key: &str) -> serde_json::Value {
    let out = common::json_ok(&[
        "--format".to_string(),
        "json".into(),
        "--by-label".into(),
        key.into(),
        file.to_string_lossy().into_owned(),
    ]);
    out["by_label"].clone()
}

/// `--by-label bytes` on a Go heap profile: every sample carries the label, the groups sum
/// to the report's total, each group equals `--tagfocus bytes=SIZE` of its value, and the
/// text and Markdown reports show the table.
#[test]
fn by_label_groups_partition_the_total() {
    let file = Path::new(HEAP);
    let b = by_label(file, "bytes");
    assert_eq!(b["key"], "bytes");
    let groups = b["groups"].as_array().unwrap();
    assert!(groups.len() >= 5, "{b}");
    let sum: i64 = groups.iter().map(|g| g["total"].as_i64().unwrap()).sum();
    assert_eq!(sum, report_total(file, &[]));
    // Every sample of a Go heap profile carries `bytes`: only the folded group has no value.
    assert!(
        groups
            .iter()
            .all(|g| g["value"].is_null() == (g["other"] == true)),
        "{b}"
    );
    for g in groups.iter().filter(|g| g["other"] == false).take(5) {
        let v = g["value"].as_str().unwrap();
        let kept = report_total(file, &["--tagfocus", &format!("bytes={v}")]);
        assert_eq!(kept, g["total"].as_i64().unwrap(), "bytes={v}");
        assert!(!g["sites"].as_array().unwrap().is_empty());
    }
    let text = String::from_utf8(common::run_ok(["--by-label", "bytes", HEAP])).unwrap();
    assert!(text.contains("By label bytes ("), "{text}");
    let md = String::from_utf8(common::run_ok([
        "--format",
        "markdown",
        "--by-label",
        "bytes",
        HEAP,
    ]))
    .unwrap();
    assert!(md.contains("#### By label `bytes`"), "{md}");
}

/// Each `--by-label` group of a labelled corpus profile equals what go tool pprof keeps with
/// `-tagfocus KEY=^VALUE$`, and samples without the key equal `-tagignore KEY=.*`.
#[test]
#[ignore = "needs Go (go tool pprof) and ../shared/corpus; .ci/run runs the ignored tests"]
fn by_label_groups_equal_go_tool_pprof_tagfocus() {
    let corpus = corpus();
    let tmp = tempfile::tempdir().unwrap();
    for (name, key) in [
        ("pyro_go_cpu_labels.pb.gz", "function"),
        ("parca_labels.pb.gz", "api"),
    ] {
        let file = corpus.join(name);
        let b = by_label(&file, key);
        let groups = b["groups"].as_array().unwrap();
        assert!(!groups.is_empty(), "{name}: {b}");
        let mut checked = 0;
        for (i, g) in groups.iter().enumerate() {
            if g["other"] == true {
                continue;
            }
            let filter = match g["value"].as_str() {
                Some(v) => format!("-tagfocus={key}=^{}$", regex::escape(v)),
                None => format!("-tagignore={key}=.*"),
            };
            let filtered = tmp.path().join(format!("{name}.{i}.pb.gz"));
            let out = Process::new("go")
                .args(["tool", "pprof", "-proto", &filter, "-output"])
                .arg(&filtered)
                .arg(&file)
                .output()
                .expect("go on PATH");
            assert!(
                out.status.success(),
                "{filter}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want = report_total(&filtered, &[]);
            assert_eq!(g["total"].as_i64().unwrap(), want, "{name} {filter}");
            checked += 1;
        }
        assert!(checked >= 2, "{name}: {b}");
    }
}
