//! --focus / --ignore keep or drop samples with a frame matching a regex (pprof's rule: the
//! function or file name of any frame). Checked against the samples manifest, whose per-
//! workload totals were summed from `go tool pprof -raw` over samples with that function.

use std::path::Path;

use heapdoc::analyze::filter::Filters;
use heapdoc::analyze::{AnalyzeOptions, Pattern};
use heapdoc::decode::DecodeOptions;

fn analyze(rel: &str, opts: &AnalyzeOptions) -> heapdoc::analyze::Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(rel);
    let (p, n) = heapdoc::source::load(
        &[path.to_string_lossy().into_owned()],
        &DecodeOptions::default(),
        &Default::default(),
    )
    .unwrap();
    heapdoc::analyze::analyze(p, n, opts, &Default::default()).unwrap()
}

#[test]
fn focus_totals_equal_the_manifest_per_workload() {
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let service = m["programs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "service")
        .unwrap();
    let mut checked = 0;
    for w in service["workloads"].as_array().unwrap() {
        let obs = &w["observed"]["go1.27"];
        let function = w["function"].as_str().unwrap();
        let re: Pattern = format!("^{}$", regex::escape(function)).parse().unwrap();
        let opts = AnalyzeOptions {
            filters: Filters {
                focus: Some(re.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let r = analyze(obs["profile"].as_str().unwrap(), &opts);
        for (i, t) in r.profile.sample_types.iter().enumerate() {
            let name = r.profile.str(t.ty);
            assert_eq!(
                r.totals[i],
                obs["totals"][name].as_i64().unwrap(),
                "{function} {name}"
            );
        }
        // focus + ignore of the same pattern partition the profile.
        let all = analyze(obs["profile"].as_str().unwrap(), &AnalyzeOptions::default());
        let rest = analyze(
            obs["profile"].as_str().unwrap(),
            &AnalyzeOptions {
                filters: Filters {
                    ignore: Some(re),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        for i in 0..all.totals.len() {
            assert_eq!(r.totals[i] + rest.totals[i], all.totals[i], "{function}");
        }
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn bad_focus_regex_is_a_usage_error() {
    let out = assert_cmd::Command::cargo_bin("heapdoc")
        .unwrap()
        .args([
            "--focus",
            "(",
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--focus"));
}
