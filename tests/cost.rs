//! What allocation costs (issue 11), on the samples' service: an allocs snapshot at the start
//! and end of a window of 400 requests (subtracted with --base), a CPU profile of the same
//! window, and the runtime's own MemStats for the window as ground truth.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn report(program: &str, extra: &[&str]) -> serde_json::Value {
    let s = format!("samples/profiles/go1.27/{program}");
    let mut args = vec![
        "--format".to_string(),
        "json".into(),
        "--top".into(),
        "0".into(),
        format!("{s}.allocs.window-end.pb.gz"),
        "--base".into(),
        format!("{s}.allocs.window-start.pb.gz"),
    ];
    args.extend(extra.iter().map(|a| a.replace("{s}", &s)));
    common::json_ok(&args)
}

fn memstats(program: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join(format!(
        "samples/profiles/go1.27/{program}.default.memstats.json"
    )))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn bytes_per_request_within_sampling_error_of_memstats() {
    for program in ["service", "service-fixed"] {
        let ms = memstats(program);
        let requests = ms["requests"].as_i64().unwrap();
        let r = report(program, &["--requests", &requests.to_string()]);
        let rates = &r["rates"];
        let per_request = rates["bytes_per_request"].as_f64().unwrap();
        let sigma = rates["bytes_stderr"].as_f64().unwrap() / requests as f64;
        let truth = ms["total_alloc_delta"].as_f64().unwrap() / requests as f64;
        assert!(sigma > 0.0, "{program}: no sampling error computed");
        assert!(
            (per_request - truth).abs() <= 3.0 * sigma,
            "{program}: {per_request:.0} B/request vs MemStats {truth:.0} (sigma {sigma:.0})"
        );
        // The window's duration comes from the two snapshots' times.
        let secs = rates["seconds"].as_f64().unwrap();
        let window = ms["window_ns"].as_f64().unwrap() / 1e9;
        assert!(
            (secs - window).abs() < 0.1 * window + 0.05,
            "{program}: {secs} s vs window {window} s"
        );
    }
}

#[test]
fn estimated_cpu_sums_to_measured_alloc_and_gc_and_keeps_the_measured_order() {
    let r = report("service", &["--cpu", "{s}.cpu.window.pb.gz"]);
    let c = &r["cost"];
    let measured = (c["alloc_cpu"].as_i64().unwrap() + c["gc_cpu"].as_i64().unwrap()) as f64;
    assert!(measured > 0.0);
    let sites: f64 = c["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["estimated_cpu"].as_f64().unwrap())
        .sum();
    assert!(
        (sites - measured).abs() < 1e-6 * measured,
        "sites {sites} vs measured {measured}"
    );
    let causes = c["causes"].as_array().unwrap();
    let by_cause: f64 = causes
        .iter()
        .map(|s| s["estimated_cpu"].as_f64().unwrap())
        .sum();
    assert!(
        (by_cause - measured).abs() < 1e-6 * measured,
        "causes {by_cause} vs measured {measured}"
    );
    let shares: f64 = causes
        .iter()
        .map(|s| s["estimated_share"].as_f64().unwrap())
        .sum();
    let measured_share = measured / c["cpu_total"].as_f64().unwrap();
    assert!(
        (shares - measured_share).abs() < 1e-9,
        "{shares} vs {measured_share}"
    );
    // Causes the CPU profile's own mallocgc samples show: same order by estimate as by measure.
    let visible: Vec<(&str, f64, i64)> = causes
        .iter()
        .filter(|c| c["measured_alloc_cpu"].as_i64().unwrap() > 0)
        .map(|c| {
            (
                c["cause"].as_str().unwrap(),
                c["estimated_cpu"].as_f64().unwrap(),
                c["measured_alloc_cpu"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(!visible.is_empty(), "no cause visible in both profiles");
    let mut by_estimate = visible.clone();
    by_estimate.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut by_measure = visible.clone();
    by_measure.sort_by_key(|x| std::cmp::Reverse(x.2));
    let names = |v: &[(&str, f64, i64)]| v.iter().map(|x| x.0.to_string()).collect::<Vec<_>>();
    assert_eq!(names(&by_estimate), names(&by_measure));
}

#[test]
fn cpu_flag_refuses_a_heap_profile() {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args([
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
            "--cpu",
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a CPU profile"));
}

#[test]
fn markdown_shows_the_same_figures() {
    let s = "samples/profiles/go1.27/service";
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .args([
            "--format",
            "markdown",
            &format!("{s}.allocs.window-end.pb.gz"),
            "--base",
        ])
        .arg(format!("{s}.allocs.window-start.pb.gz"))
        .args([
            "--cpu",
            &format!("{s}.cpu.window.pb.gz"),
            "--requests",
            "400",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let md = String::from_utf8(out.stdout).unwrap();
    let json = report(
        "service",
        &["--cpu", "{s}.cpu.window.pb.gz", "--requests", "400"],
    );
    let per_request = json["rates"]["bytes_per_request"].as_f64().unwrap() as i64;
    assert!(md.contains("#### Estimated CPU cost (an estimate)"), "{md}");
    assert!(
        md.contains(&format!(
            "**{}**",
            heapdoc::units::human(per_request, "bytes")
        )),
        "{md}"
    );
    let top = &json["cost"]["causes"][0];
    let row = format!(
        "| {} | {:.2}% |",
        top["cause"].as_str().unwrap(),
        top["estimated_share"].as_f64().unwrap() * 100.0
    );
    assert!(md.contains(&row), "missing {row} in\n{md}");
}

/// A display option never changes a computed number: the CPU profile is joined to the heap
/// profile on (function, file, line), not on display names whose `(inline)` marks depend on
/// which sites `--top` shows (issue 15; it moved 50 ms of direct allocation CPU).
#[test]
fn cost_estimate_does_not_depend_on_top() {
    let s = "samples/profiles/go1.27/stringbuild";
    let cost = |top: &str| {
        let r = common::json_ok(&[
            "--format".to_string(),
            "json".into(),
            "--top".into(),
            top.into(),
            format!("{s}.allocs.default.pb.gz"),
            "--cpu".into(),
            format!("{s}.cpu.pb.gz"),
        ]);
        let sites: std::collections::BTreeMap<String, (f64, i64)> = r["cost"]["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let name = x["name"].as_str().unwrap();
                let name = name
                    .trim_end_matches(" (inline)")
                    .trim_end_matches(" (partial-inline)");
                (
                    name.to_string(),
                    (
                        x["estimated_cpu"].as_f64().unwrap(),
                        x["direct_alloc_cpu"].as_i64().unwrap(),
                    ),
                )
            })
            .collect();
        sites
    };
    let (ten, all) = (cost("10"), cost("0"));
    assert!(!all.is_empty());
    assert_eq!(ten, all);
    // The inlined builder call keeps its directly measured allocation CPU.
    let direct: i64 = all.values().map(|v| v.1).sum();
    assert!(direct > 0, "{all:?}");
    assert!(
        all.iter()
            .any(|(k, v)| k.starts_with("strings.(*Builder).WriteString") && v.1 > 0),
        "{all:?}"
    );
}
