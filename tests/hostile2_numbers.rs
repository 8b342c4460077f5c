//! Hostile input, round two (issue 16): numbers. Findings 21 and 22 of the campaign report
//! (`../shared/reviews/hostile-2026-12.md`): per-site sums saturated at i64 and showed
//! ±8192 PiB for a profile whose total is 0; `--requests 0` and `--rps NaN` printed
//! infinities and NaN.

mod common;

use common::{encode, heapdoc};
use heapdoc::pb;

/// A profile whose samples are `(stack of function numbers, innermost first, value)`; each
/// function `k` is `main.fK` at line `10 * k` of /a.go.
fn profile(samples: &[(&[u64], i64)]) -> Vec<u8> {
    let mut strings: Vec<String> = ["", "objects", "count", "space", "bytes", "/a.go"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut p = pb::Profile {
        sample_type: vec![
            pb::ValueType { r#type: 1, unit: 2 },
            pb::ValueType { r#type: 3, unit: 4 },
        ],
        ..Default::default()
    };
    let max_fn = samples
        .iter()
        .flat_map(|(s, _)| s.iter())
        .max()
        .copied()
        .unwrap_or(0);
    for k in 1..=max_fn {
        strings.push(format!("main.f{k}"));
        p.function.push(pb::Function {
            id: k,
            name: (strings.len() - 1) as i64,
            system_name: (strings.len() - 1) as i64,
            filename: 5,
            start_line: 0,
        });
        p.location.push(pb::Location {
            id: k,
            address: 0x1000 * k,
            line: vec![pb::Line {
                function_id: k,
                line: 10 * k as i64,
                column: 0,
            }],
            ..Default::default()
        });
    }
    for (stack, v) in samples {
        p.sample.push(pb::Sample {
            location_id: stack.to_vec(),
            value: vec![1, *v],
            label: vec![],
        });
    }
    p.string_table = strings;
    encode(&p)
}

fn run(bytes: &[u8], extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.pb");
    std::fs::write(&path, bytes).unwrap();
    heapdoc().arg(&path).args(extra).output().unwrap()
}

/// Finding 21: a site's flat (MAX + MAX) or a caller's cum over 64 bits, in a profile whose
/// total fits (the negatives cancel it), is refused with one line, exit 2, in every format.
#[test]
fn site_sums_past_64_bits_are_refused() {
    const MAX: i64 = i64::MAX;
    const MIN: i64 = i64::MIN;
    // flat: f1 gets MAX twice; f2 gets MIN and MIN + 2; the total is 0.
    let flat = profile(&[(&[1], MAX), (&[1], MAX), (&[2], MIN), (&[2], MIN + 2)]);
    // cum: f1 and f2 each MAX under the caller f3; f4 and f5 cancel them out.
    let cum = profile(&[(&[1, 3], MAX), (&[2, 3], MAX), (&[4], MIN), (&[5], MIN + 2)]);
    for (name, bytes) in [("flat", &flat), ("cum", &cum)] {
        for format in ["text", "json", "markdown"] {
            let o = run(bytes, &["--format", format]);
            assert_eq!(o.status.code(), Some(2), "{name} {format}: {o:?}");
            let e = String::from_utf8_lossy(&o.stderr);
            assert!(e.contains("sum past 64 bits"), "{name}: {e}");
            assert_eq!(e.lines().count(), 1);
            assert!(o.stdout.is_empty());
        }
    }
    // Large values that fit stay exact.
    let ok = profile(&[(&[1], MAX / 2), (&[1], MAX / 2), (&[2], 1)]);
    let o = run(&ok, &["--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let flats: Vec<i64> = v["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["flat"].as_i64().unwrap())
        .collect();
    assert!(flats.contains(&(MAX / 2 * 2)), "{flats:?}");
}

/// Finding 22: rates that would print infinities or NaN are usage errors.
#[test]
fn zero_or_nan_rates_are_usage_errors() {
    let bytes = profile(&[(&[1], 4096)]);
    for args in [
        ["--requests", "0"],
        ["--requests=-3", "--top=5"],
        ["--requests", "inf"],
        ["--rps", "0"],
        ["--rps", "NaN"],
    ] {
        let o = run(&bytes, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("is not a positive number"), "{args:?}: {e}");
        assert!(o.stdout.is_empty());
    }
}
