//! heapdoc against real profiles written by other people's tools (`../shared/corpus`), with
//! `go tool pprof`'s own output as the ground truth:
//! - every sample type's total equals MANIFEST.tsv's exact `raw_totals`;
//! - the top sites by line equal the rows of `truth/*.lines.top.txt` (function, file:line,
//!   flat within pprof's display rounding);
//! - every file heapdoc does not read is refused with a one-line error that names the format.
//!
//! Skipped, with a message, only when the corpus directory is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use heapdoc::analyze::attribute::Granularity;
use heapdoc::analyze::AnalyzeOptions;
use heapdoc::decode::DecodeOptions;

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HEAPDOC_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    dir.join("MANIFEST.tsv").exists().then_some(dir)
}

struct Row {
    file: String,
    format: String,
    sample_types: Vec<String>,
    raw_totals: Vec<i64>,
    readable: bool,
}

fn manifest(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (c_file, c_format, c_types, c_totals, c_read) = (
        col("filename"),
        col("format"),
        col("sample_types"),
        col("raw_totals"),
        col("go_pprof_readable"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                file: f[c_file].to_string(),
                format: f[c_format].to_string(),
                sample_types: f[c_types]
                    .split(',')
                    .map(|s| s.split('/').next().unwrap().to_string())
                    .collect(),
                raw_totals: f[c_totals].split(',').map(|s| s.parse().unwrap()).collect(),
                readable: f[c_read] == "yes",
            }
        })
        .collect()
}

/// Formats heapdoc deliberately refuses (the brief allows it): each error must name the format.
fn refused_format(format: &str, file: &str) -> Option<&'static str> {
    match format {
        "legacy-binary-cpu" => Some("legacy binary CPU profile"),
        "legacy-text" if file.contains("java") => Some("Java legacy text profile"),
        _ => None,
    }
}

fn load(path: &Path) -> anyhow::Result<heapdoc::model::Profile> {
    heapdoc::source::load(
        &[path.to_string_lossy().into_owned()],
        &DecodeOptions::default(),
        &Default::default(),
    )
    .map(|(p, _)| p)
}

#[test]
#[ignore = "needs ../shared/corpus or $HEAPDOC_CORPUS; .ci/run runs the ignored tests"]
fn totals_equal_manifest_raw_totals() {
    let dir = corpus_dir().expect("../shared/corpus not found (set HEAPDOC_CORPUS)");
    let mut checked = 0;
    for row in manifest(&dir) {
        let path = dir.join(&row.file);
        let result = load(&path);
        if let Some(what) = refused_format(&row.format, &row.file) {
            let err = format!("{:#}", result.expect_err(&row.file));
            assert!(
                err.contains(what),
                "{}: error should name the format: {err}",
                row.file
            );
            assert!(
                !err.contains('\n'),
                "{}: error must be one line: {err}",
                row.file
            );
            continue;
        }
        assert!(
            row.readable,
            "{} is not readable by pprof but heapdoc has no refusal rule",
            row.file
        );
        let p = result.unwrap_or_else(|e| panic!("{}: {e:#}", row.file));
        let totals = p.totals();
        assert_eq!(
            totals, row.raw_totals,
            "{}: totals differ from go tool pprof -raw",
            row.file
        );
        let names: Vec<&str> = (0..p.sample_types.len())
            .map(|i| p.sample_type_name(i))
            .collect();
        // The manifest names absent type strings as their unit; compare only when present.
        if names.iter().all(|n| !n.is_empty()) {
            assert_eq!(names, row.sample_types, "{}: sample type names", row.file);
        }
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} corpus files checked");
}

/// One row of `go tool pprof -top` output.
#[derive(Debug)]
struct TopRow {
    flat: f64,
    /// Scale of the unit pprof printed flat in, for the rounding tolerance.
    scale: f64,
    name: String,
}

/// Parses pprof's value display: `520.62MB`, `26MB`, `0`, `1.71s`, `410ms`, `12345`.
fn parse_value(s: &str) -> (f64, f64) {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num
        .parse()
        .unwrap_or_else(|_| panic!("bad pprof value {s:?}"));
    let scale = match unit {
        "" | "B" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024f64.powi(4),
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        other => panic!("unknown pprof unit {other:?} in {s:?}"),
    };
    (num * scale, scale)
}

fn parse_top(text: &str) -> Vec<TopRow> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.trim_start().starts_with("flat") {
            in_table = true;
            continue;
        }
        if !in_table || line.trim().is_empty() {
            continue;
        }
        // flat flat% sum% cum cum% name...
        let mut parts = line.split_whitespace();
        let flat = parts.next().unwrap();
        let rest: Vec<&str> = parts.collect();
        let name = rest[4..].join(" ");
        let (flat, scale) = parse_value(flat);
        rows.push(TopRow { flat, scale, name });
    }
    rows
}

#[test]
#[ignore = "needs ../shared/corpus or $HEAPDOC_CORPUS; .ci/run runs the ignored tests"]
fn top_sites_by_line_equal_go_tool_pprof() {
    let dir = corpus_dir().expect("../shared/corpus not found (set HEAPDOC_CORPUS)");
    let refused: Vec<String> = manifest(&dir)
        .into_iter()
        .filter(|r| refused_format(&r.format, &r.file).is_some())
        .map(|r| r.file)
        .collect();
    let mut cache: HashMap<String, heapdoc::model::Profile> = HashMap::new();
    let mut compared = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir.join("truth"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    entries.sort();
    for name in entries {
        let name = name.to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".lines.top.txt") else {
            continue;
        };
        let (file, index) = stem.rsplit_once('.').unwrap();
        if refused.iter().any(|r| r == file) {
            continue;
        }
        let profile = cache
            .entry(file.to_string())
            .or_insert_with(|| load(&dir.join(file)).unwrap())
            .clone();
        let truth = parse_top(&std::fs::read_to_string(dir.join("truth").join(&name)).unwrap());
        let opts = AnalyzeOptions {
            sample_index: Some(index.to_string()),
            top: 0,
            granularity: Granularity::Lines,
            ..Default::default()
        };
        let mut report =
            heapdoc::analyze::analyze(profile, vec![file.into()], &opts, &Default::default())
                .unwrap();
        // pprof drops nodes whose |cum| is under 0.5% (its nodefraction) of the signed sum of
        // the values of samples that have a stack, before taking the top rows.
        let a = &report.attribution;
        let cutoff = ((a.total - a.unattributed) as f64 * 0.005).abs() as u64;
        // pprof's inline marks are relative to the nodes it shows (-nodecount=30).
        // pprof also lists sites with zero flat (callers only); heapdoc's report leaves them out,
        // so compare against the full order and check the report is its non-zero prefix.
        let full = heapdoc::analyze::attribute::top_order(&report.profile, &report.attribution);
        let nonzero: Vec<_> = full
            .iter()
            .copied()
            .filter(|id| report.attribution.sites[id.0 as usize].flat != 0)
            .collect();
        let reported: Vec<_> = report
            .top
            .iter()
            .copied()
            .filter(|id| report.attribution.sites[id.0 as usize].flat != 0)
            .collect();
        assert_eq!(
            reported, nonzero,
            "{name}: report order differs from pprof's flat order"
        );
        let shown: Vec<_> = full
            .iter()
            .copied()
            .filter(|id| report.attribution.sites[id.0 as usize].cum.unsigned_abs() >= cutoff)
            .take(30)
            .collect();
        report
            .attribution
            .mark_inline(&report.profile, report.sample_index, &shown);
        let ours: Vec<_> = shown
            .iter()
            .take(10)
            .map(|id| &report.attribution.sites[id.0 as usize])
            .collect();
        let n = truth.len().min(10);
        assert!(
            ours.len() >= n,
            "{name}: heapdoc has {} sites above pprof's cutoff, pprof shows {n}",
            ours.len()
        );
        for (i, (t, s)) in truth.iter().take(n).zip(&ours).enumerate() {
            let ours_name = heapdoc::analyze::attribute::display_name(&report.profile, s);
            let tol = t.scale * 0.005 + 1.0;
            assert!(
                (s.flat as f64 - t.flat).abs() <= tol,
                "{name} row {i}: flat {} vs pprof {} ({})",
                s.flat,
                t.flat,
                t.name
            );
            if ours_name != t.name {
                // Equal flat values may be ordered differently only if pprof's printable names
                // tie-break the same way, which they do; any name difference is a real mismatch.
                panic!("{name} row {i}: site {ours_name:?} vs pprof {:?}", t.name);
            }
        }
        compared += 1;
    }
    assert!(compared >= 40, "only {compared} truth files compared");
}
