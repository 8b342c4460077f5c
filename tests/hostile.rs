//! Issue 10: hostile input is bounded, escaped, and nothing is lost. Hostile names in every
//! output format, decoder limits with clear errors, delta (negative) and extreme values, and
//! atomic `-o/--output`.

mod common;

use std::path::Path;

use common::{
    assert_no_raw_controls, assert_terminal_safe, encode, heap_profile, heapdoc, hostile_profile,
    HOSTILE_FILES, HOSTILE_FUNCS, HOSTILE_MAPPING,
};
use heapdoc::decode::{decode, DecodeOptions, Limits};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the binary on `bytes` in `format` with every site shown; returns stdout.
fn render(bytes: &[u8], format: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hostile.pb", bytes);
    // SVG comes from the flame subcommand; every other format from the report.
    let mut cmd = heapdoc();
    if format == "svg" {
        cmd.args(["flame", "--lines"]);
    } else {
        cmd.args(["--format", format, "--top", "0"]);
    }
    let out = cmd.arg(&path).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Format-specific checks of the hostile profile's output. A new format (Markdown, SVG) adds
/// an arm here and its name to `FORMATS`; the control-byte check applies to all.
fn check_format(format: &str, out: &[u8]) {
    let text = String::from_utf8(out.to_vec()).unwrap();
    match format {
        "text" => {
            // Every name is shown, escaped: `\u{1b}` for ESC, `\0` would be `\u{0}`.
            assert!(text.contains("main.<script>alert(1)</script>"), "{text}");
            assert!(text.contains(r"main.\u{1b}[31mred\u{1b}[0m"), "{text}");
            assert!(text.contains(r"main.nul\u{0}byte"), "{text}");
            assert!(text.contains("main.bad\u{fffd}\u{fffd}utf8"), "{text}");
            assert!(
                text.contains(r"\u{1b}]0;pwned\u{7}\r\n[fake line"),
                "{text}"
            );
            assert!(text.contains(r"[\u{1b}[5mlib\u{0}evil"), "{text}");
            assert!(text.contains("evil\u{fffd}.so]"), "{text}");
            assert!(
                text.contains(r"main.c1\u{9b}control /src/\u{7f}del.go:16"),
                "{text}"
            );
            assert_terminal_safe(&text);
            // The newline in a name must not start a row of its own.
            assert!(!text.lines().any(|l| l.starts_with("[fake line")), "{text}");
        }
        "json" => {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let sites = v["sites"].as_array().unwrap();
            let functions: Vec<&str> = sites
                .iter()
                .map(|s| s["function"].as_str().unwrap())
                .collect();
            let files: Vec<&str> = sites.iter().map(|s| s["file"].as_str().unwrap()).collect();
            // Names round-trip exactly, invalid UTF-8 replaced by U+FFFD.
            for (f, file) in HOSTILE_FUNCS.iter().zip(HOSTILE_FILES) {
                let f = String::from_utf8_lossy(f);
                let file = String::from_utf8_lossy(file);
                let i = functions
                    .iter()
                    .position(|x| **x == *f)
                    .unwrap_or_else(|| panic!("function {f:?} missing from {functions:?}"));
                assert_eq!(files[i], file);
            }
            let lib = String::from_utf8_lossy(HOSTILE_MAPPING);
            let label = format!("[{}]", lib.rsplit('/').next().unwrap());
            assert!(functions.contains(&label.as_str()), "{functions:?}");
            // And the document round-trips through the wire types.
            let doc: heapdoc::render::json::JsonReport = serde_json::from_str(&text).unwrap();
            assert_eq!(doc.sites.len(), HOSTILE_FUNCS.len() + 1);
        }
        "markdown" => {
            // Rendered by a real Markdown parser: no markup from a name becomes HTML, and
            // every table row keeps its column count.
            let mut html = String::new();
            let opts = pulldown_cmark::Options::ENABLE_TABLES;
            pulldown_cmark::html::push_html(
                &mut html,
                pulldown_cmark::Parser::new_ext(&text, opts),
            );
            assert!(!html.contains("<script"), "{html}");
            assert!(
                html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{html}"
            );
            let tables: Vec<&str> = html.split("<table>").skip(1).collect();
            assert!(!tables.is_empty(), "{html}");
            for t in tables {
                let thead = t.split("</thead>").next().unwrap();
                let head = thead.matches("<th").count() - thead.matches("<thead").count();
                for row in t
                    .split("<tbody>")
                    .nth(1)
                    .unwrap_or("")
                    .split("<tr>")
                    .skip(1)
                {
                    assert_eq!(
                        row.matches("<td").count(),
                        head,
                        "row broke out of its columns: {row}"
                    );
                }
            }
        }
        "svg" => {
            let opts = roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            };
            roxmltree::Document::parse_with_options(&text, opts)
                .unwrap_or_else(|e| panic!("svg: not XML: {e}"));
            assert!(!text.contains("<script>alert"), "raw markup from a name");
            assert!(
                text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "name missing or unescaped"
            );
        }
        other => panic!("no checks for format {other}"),
    }
}

/// The report's `--format`s; the flame graph's SVG is checked too where names are.
const FORMATS: &[&str] = &["text", "json", "markdown"];

#[test]
fn hostile_names_are_escaped_in_every_format() {
    let bytes = hostile_profile();
    for format in FORMATS.iter().chain(&["svg"]) {
        let out = render(&bytes, format);
        assert_no_raw_controls(format, &out);
        check_format(format, &out);
    }
}

#[test]
fn hostile_names_are_escaped_by_function_too() {
    let bytes = hostile_profile();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hostile.pb", &bytes);
    for format in FORMATS {
        let out = heapdoc()
            .args(["--format", format, "--granularity", "functions"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_no_raw_controls(format, &out.stdout);
    }
}

#[test]
fn hostile_strings_in_errors_are_escaped() {
    // The error lists the profile's sample type names: they must not reach stderr raw.
    let mut p = heap_profile();
    p.string_table[5] = "inuse_\u{1b}[31mobjects\nsecond line".into();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.pb", &encode(&p));
    let out = heapdoc()
        .args(["--sample-index", "nope"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches('\n').count(), 1, "{stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(
        stderr.contains(r"inuse_\u{1b}[31mobjects second line"),
        "{stderr:?}"
    );
}

#[test]
fn hostile_sample_type_names_in_notes_are_escaped() {
    // A zero total adds a note quoting another sample type's name.
    let mut p = heap_profile();
    p.string_table[3] = "alloc_space".into();
    p.string_table[1] = "alloc_\u{1b}]0;x\u{7}objects".into();
    for s in &mut p.sample {
        s.value[1] = 0;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.pb", &encode(&p));
    let out = heapdoc().arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_raw_controls("text", &out.stdout);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Note: alloc_space totals 0"), "{text}");
}

// --- Limits -------------------------------------------------------------------------------

fn decode_with(bytes: &[u8], limits: Limits) -> anyhow::Result<heapdoc::model::Profile> {
    decode(
        bytes,
        &DecodeOptions {
            limits,
            ..DecodeOptions::default()
        },
    )
}

fn err(r: anyhow::Result<heapdoc::model::Profile>) -> String {
    format!("{:#}", r.expect_err("expected an error"))
}

#[test]
fn default_limits_accept_a_normal_profile() {
    decode_with(&encode(&heap_profile()), Limits::default()).unwrap();
}

#[test]
fn sample_count_limit() {
    let limits = Limits {
        max_samples: 1,
        ..Limits::default()
    };
    let e = err(decode_with(&encode(&heap_profile()), limits));
    assert!(e.contains("more than 1 samples"), "{e}");
    assert!(e.contains("byte offset"), "{e}");
}

#[test]
fn table_size_limits() {
    let limits = Limits {
        max_locations: 1,
        ..Limits::default()
    };
    let e = err(decode_with(&encode(&heap_profile()), limits));
    assert!(e.contains("more than 1 locations"), "{e}");
    let limits = Limits {
        max_strings: 5,
        ..Limits::default()
    };
    let e = err(decode_with(&encode(&heap_profile()), limits));
    assert!(e.contains("more than 5 strings"), "{e}");
}

#[test]
fn stack_depth_limit() {
    let mut p = heap_profile();
    p.sample[0].location_id = vec![1, 2, 2, 2, 2];
    let limits = Limits {
        max_stack_depth: 4,
        ..Limits::default()
    };
    let e = err(decode_with(&encode(&p), limits));
    assert!(
        e.contains("sample #0 has a stack of 5 frames, over the limit of 4"),
        "{e}"
    );
}

const LEGACY: &str = "heap profile: 1: 1024 [2: 2048] @ heap/1048576
1: 1024 [2: 2048] @ 0x401001 0x402001
#\t0x401000\tmain.work+0x10\t/src/main.go:12
#\t0x402000\tmain.main+0x20\t/src/main.go:30
";

#[test]
fn legacy_line_length_limit() {
    decode_with(LEGACY.as_bytes(), Limits::default()).unwrap();
    let limits = Limits {
        max_line_len: 40,
        ..Limits::default()
    };
    let e = err(decode_with(LEGACY.as_bytes(), limits));
    assert!(
        e.contains("line 1 (byte offset 0) is 46 bytes long, over the limit of 40"),
        "{e}"
    );
}

#[test]
fn legacy_stack_and_record_limits() {
    let limits = Limits {
        max_stack_depth: 1,
        ..Limits::default()
    };
    let e = err(decode_with(LEGACY.as_bytes(), limits));
    assert!(e.contains("line 2: stack has more than 1 frames"), "{e}");
    let limits = Limits {
        max_samples: 0,
        ..Limits::default()
    };
    let e = err(decode_with(LEGACY.as_bytes(), limits));
    assert!(e.contains("line 2: more than 0 records"), "{e}");
}

#[test]
fn legacy_mapping_variables_do_not_expand_recursively() {
    // Repeated `replace` made each variable double the path: 2^40 bytes here.
    let mut text = String::from(LEGACY);
    text.push_str("--- Memory map: ---\n");
    for i in 0..40 {
        text.push_str(&format!("v{i}=$v{}$v{}\n", i + 1, i + 1));
    }
    text.push_str("00400000-00800000: $v0/bin\n");
    let p = decode_with(text.as_bytes(), Limits::default()).unwrap();
    assert_eq!(p.str(p.mappings[0].filename), "$v1$v1/bin");
}

#[test]
fn legacy_mapping_variable_expansion_is_capped() {
    let mut text = String::from(LEGACY);
    text.push_str("--- Memory map: ---\n");
    text.push_str(&format!("a={}\n", "x".repeat(1000)));
    text.push_str(&format!("00400000-00800000: {}\n", "$a".repeat(2000)));
    // 2000 x 1000 bytes: over the default cap (1 MiB) as well.
    let e = err(decode_with(text.as_bytes(), Limits::default()));
    assert!(e.contains("grows past 1048576 bytes"), "{e}");
    let limits = Limits {
        max_line_len: 10_000,
        ..Limits::default()
    };
    let e = err(decode_with(text.as_bytes(), limits));
    assert!(e.contains("grows past 10000 bytes"), "{e}");
}

// --- Delta profiles and extreme values ---------------------------------------------------

/// Renders `p` in both formats and checks it does not fail.
fn renders(p: &heapdoc::pb::Profile, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.pb", &encode(p));
    let mut text = String::new();
    for format in FORMATS {
        let out = heapdoc()
            .args(["--format", format])
            .args(extra)
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        if *format == "text" {
            text = String::from_utf8(out.stdout).unwrap();
        }
    }
    text
}

#[test]
fn negative_values_of_delta_profiles() {
    let mut p = heap_profile();
    p.sample[0].value = vec![-3, -3072, -2, -2048];
    p.sample[1].value = vec![1, 512, -1, -512];
    let text = renders(&p, &["--sample-index", "inuse_space"]);
    assert!(text.contains("Total: -2.50 KiB in 3 objects"), "{text}");
    assert!(text.contains("-2.00 KiB"), "{text}");
}

#[test]
fn extreme_values_do_not_overflow_in_reports() {
    // flat = i64::MIN with -1 objects: `flat / objects` overflowed.
    let mut p = heap_profile();
    p.sample[0].value = vec![-1, i64::MIN, 0, 0];
    p.sample[1].value = vec![0, 0, 0, 0];
    renders(&p, &[]);
    // Attributed values sum past i64::MAX while the total (with a stackless sample) fits:
    // `total - unattributed` overflowed. main.main's cum (MAX + MAX) cannot be shown exactly:
    // since issue 16 (finding 21) that is a clean refusal, not a clamped number.
    let mut p = heap_profile();
    p.sample[0].value = vec![1, i64::MAX, 0, 0];
    p.sample[1].value = vec![1, i64::MAX, 0, 0];
    p.sample.push(heapdoc::pb::Sample {
        location_id: vec![],
        value: vec![0, -i64::MAX, 0, 0],
        label: vec![],
    });
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "p.pb", &encode(&p));
    for format in FORMATS {
        let out = heapdoc()
            .args(["--format", format])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{format}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("sum past 64 bits"));
    }
}

// --- Atomic output --------------------------------------------------------------------------

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn output_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "p.pb", &encode(&heap_profile()));
    let out = dir.path().join("report.json");
    let stdout = heapdoc()
        .args(["--format", "json", "-o"])
        .arg(&out)
        .arg(&input)
        .output()
        .unwrap();
    assert!(stdout.status.success());
    assert!(stdout.stdout.is_empty(), "the report goes to the file only");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(v["sites"][0]["function"], "main.work");
    assert_eq!(dir_entries(dir.path()), ["p.pb", "report.json"]);
    // Same bytes as stdout.
    let direct = heapdoc()
        .args(["--format", "json"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), direct.stdout);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_ne!(
            mode & 0o044,
            0,
            "report should be readable like any file: {mode:o}"
        );
    }
}

#[test]
fn failed_run_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.pb", b"<html>oops</html>");
    let out = dir.path().join("report.txt");
    heapdoc()
        .arg("--output")
        .arg(&out)
        .arg(&bad)
        .assert()
        .code(2)
        .stdout("");
    assert!(!out.exists());
    assert_eq!(
        dir_entries(dir.path()),
        ["bad.pb"],
        "no temporary file left behind"
    );
}

#[test]
fn failed_run_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.pb", b"{}");
    let out = write(dir.path(), "report.txt", b"previous report\n");
    heapdoc().arg("-o").arg(&out).arg(&bad).assert().code(2);
    assert_eq!(std::fs::read(&out).unwrap(), b"previous report\n");
    assert_eq!(dir_entries(dir.path()), ["bad.pb", "report.txt"]);
}

#[test]
fn unwritable_output_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "p.pb", &encode(&heap_profile()));
    let out = dir.path().join("missing-dir").join("report.txt");
    let res = heapdoc().arg("-o").arg(&out).arg(&input).output().unwrap();
    assert_eq!(res.status.code(), Some(2));
    assert!(res.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(
        stderr.starts_with("heapdoc: ") && stderr.contains("cannot create a temporary file"),
        "{stderr}"
    );
    assert_eq!(dir_entries(dir.path()), ["p.pb"]);
}
