//! Several inputs are merged (samples summed) when their sample types agree, and refused with
//! an error naming both sets otherwise; a zero total names the flag that shows the other type.

mod common;

use common::heapdoc;

fn json(args: &[&str]) -> serde_json::Value {
    common::json_ok(["--format", "json"].iter().chain(args))
}

fn totals(v: &serde_json::Value) -> Vec<i64> {
    v["sample_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["total"].as_i64().unwrap())
        .collect()
}

#[test]
fn merged_totals_are_the_sums() {
    let a = "samples/profiles/go1.27/json.heap.rate1.pb.gz";
    let b = "samples/profiles/go1.27/fmt.heap.rate1.pb.gz";
    let (ta, tb, tab) = (
        totals(&json(&[a])),
        totals(&json(&[b])),
        totals(&json(&[a, b])),
    );
    assert_eq!(
        tab,
        ta.iter().zip(&tb).map(|(x, y)| x + y).collect::<Vec<_>>()
    );
    // Merging a profile with itself doubles every site.
    let one = json(&["--top", "3", a]);
    let two = json(&["--top", "3", a, a]);
    for (s1, s2) in one["sites"]
        .as_array()
        .unwrap()
        .iter()
        .zip(two["sites"].as_array().unwrap())
    {
        assert_eq!(s1["name"], s2["name"]);
        assert_eq!(
            s2["flat"].as_i64().unwrap(),
            2 * s1["flat"].as_i64().unwrap()
        );
    }
}

#[test]
fn different_sample_types_are_refused() {
    let out = heapdoc()
        .args([
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
            "samples/profiles/go1.27/json.cpu.pb.gz",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot merge")
            && err.contains("samples/count,cpu/nanoseconds")
            && err.contains("alloc_space/bytes"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1);
    assert!(out.stdout.is_empty());
}

#[test]
fn zero_total_names_the_flag_for_the_other_type() {
    let v = json(&[
        "--sample-index",
        "inuse_space",
        "samples/profiles/go1.27/conversion.heap.default.pb.gz",
    ]);
    assert_eq!(v["total"], 0);
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(notes.iter().any(|n| n.contains("inuse_space totals 0") && n.contains("--sample-index=alloc_space")), "{notes:?}");
}
