//! Shared helpers for the integration tests: small profiles built with the prost types in
//! `heapdoc::pb`, encoders, and the hostile-names profile (issue 10).
#![allow(dead_code)] // each test crate uses a different subset

use std::io::Write;

use heapdoc::pb;
use prost::Message;

/// A command running the real `heapdoc` binary, from the repository root (so the paths
/// `samples/...` resolve).
pub fn heapdoc() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("heapdoc").unwrap();
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `heapdoc ARGS` from the repository root and returns its stdout; the test fails with
/// heapdoc's stderr unless it exits 0.
pub fn run_ok<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Vec<u8> {
    let out = heapdoc().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// [`run_ok`], its stdout parsed as JSON.
pub fn json_ok<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> serde_json::Value {
    serde_json::from_slice(&run_ok(args)).unwrap()
}

/// String table of [`heap_profile`]; ids used by tests below.
pub const STRINGS: &[&str] = &[
    "",
    "alloc_objects",
    "count",
    "alloc_space",
    "bytes",
    "inuse_objects",
    "inuse_space",
    "space",
    "main.work",
    "/src/main.go",
    "main.main",
];

/// A valid Go-like heap profile: four sample types, two functions, two locations, two samples.
pub fn heap_profile() -> pb::Profile {
    let vt = |t, u| pb::ValueType { r#type: t, unit: u };
    pb::Profile {
        sample_type: vec![vt(1, 2), vt(3, 4), vt(5, 2), vt(6, 4)],
        sample: vec![
            pb::Sample {
                location_id: vec![1, 2],
                value: vec![2, 2048, 1, 1024],
                label: vec![],
            },
            pb::Sample {
                location_id: vec![2],
                value: vec![1, 512, 0, 0],
                label: vec![],
            },
        ],
        mapping: vec![pb::Mapping {
            id: 1,
            memory_start: 0x400000,
            memory_limit: 0x800000,
            filename: 9,
            ..Default::default()
        }],
        location: vec![
            pb::Location {
                id: 1,
                mapping_id: 1,
                address: 0x401000,
                line: vec![pb::Line {
                    function_id: 1,
                    line: 12,
                    column: 0,
                }],
                is_folded: false,
            },
            pb::Location {
                id: 2,
                mapping_id: 1,
                address: 0x402000,
                line: vec![pb::Line {
                    function_id: 2,
                    line: 30,
                    column: 0,
                }],
                is_folded: false,
            },
        ],
        function: vec![
            pb::Function {
                id: 1,
                name: 8,
                system_name: 8,
                filename: 9,
                start_line: 10,
            },
            pb::Function {
                id: 2,
                name: 10,
                system_name: 10,
                filename: 9,
                start_line: 28,
            },
        ],
        string_table: STRINGS.iter().map(|s| s.to_string()).collect(),
        period_type: Some(vt(7, 4)),
        period: 524288,
        ..Default::default()
    }
}

pub fn encode(p: &pb::Profile) -> Vec<u8> {
    p.encode_to_vec()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Appends protobuf varint `v` to `out`.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-delimited field (wire type 2) with raw `bytes` to an encoded message.
pub fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Function names of [`hostile_profile`], as raw bytes: markup, ANSI escapes (color, window
/// title, cursor movement), table and Markdown metacharacters, NUL and other C0/C1 controls,
/// a newline, and invalid UTF-8.
pub const HOSTILE_FUNCS: &[&[u8]] = &[
    b"main.<script>alert(1)</script>",
    b"main.\x1b[31mred\x1b[0m",
    b"main.pipe|col|`tick`",
    b"main.nul\x00byte",
    b"main.bad\xff\xfeutf8",
    b"main.title\x1b]0;pwned\x07\r\n[fake line",
    b"main.c1\xc2\x9bcontrol",
];

/// File names of [`hostile_profile`], one per function.
pub const HOSTILE_FILES: &[&[u8]] = &[
    b"/src/<b>bold</b>.go",
    b"/src/\x1b[2Jclear.go",
    b"/src/a|b.go",
    b"/src/nul\x00.go",
    b"/src/\xc3\x28.go",
    b"/src/`x`.go",
    b"/src/\x7fdel.go",
];

/// A heap profile whose every function and file name is hostile ([`HOSTILE_FUNCS`],
/// [`HOSTILE_FILES`]), plus an unsymbolized location in a mapping with a hostile file name.
/// prost's `String` cannot hold invalid UTF-8, so the hostile strings are appended to the
/// encoded message as raw string_table entries (repeated fields may appear anywhere; their
/// order gives the indexes).
pub fn hostile_profile() -> Vec<u8> {
    let base = STRINGS.len() as i64;
    let n = HOSTILE_FUNCS.len();
    let mut p = heap_profile();
    p.function.clear();
    p.location.clear();
    p.sample.clear();
    // Strings base..base+n are function names, base+n..base+2n file names, base+2n the mapping.
    for i in 0..n {
        let id = i as u64 + 1;
        p.function.push(pb::Function {
            id,
            name: base + i as i64,
            system_name: base + i as i64,
            filename: base + (n + i) as i64,
            start_line: 1,
        });
        p.location.push(pb::Location {
            id,
            mapping_id: 1,
            address: 0x401000 + id * 0x10,
            line: vec![pb::Line {
                function_id: id,
                line: 10 + i as i64,
                column: 0,
            }],
            is_folded: false,
        });
        p.sample.push(pb::Sample {
            location_id: vec![id],
            value: vec![1, 1000 * (i as i64 + 1), 1, 1000 * (i as i64 + 1)],
            label: vec![],
        });
    }
    // An unsymbolized location: pprof names it by the mapping's file, `[basename]`.
    let unsym = n as u64 + 1;
    p.mapping.push(pb::Mapping {
        id: 2,
        memory_start: 0x7f0000000000,
        memory_limit: 0x7f0000100000,
        filename: base + 2 * n as i64,
        ..Default::default()
    });
    p.location.push(pb::Location {
        id: unsym,
        mapping_id: 2,
        address: 0x7f0000000100,
        line: vec![],
        is_folded: false,
    });
    p.sample.push(pb::Sample {
        location_id: vec![unsym],
        value: vec![1, 99_000, 1, 99_000],
        label: vec![],
    });
    let mut out = encode(&p);
    for s in HOSTILE_FUNCS.iter().chain(HOSTILE_FILES) {
        put_bytes_field(&mut out, 6, s);
    }
    put_bytes_field(&mut out, 6, HOSTILE_MAPPING);
    out
}

/// The mapping file name of [`hostile_profile`]'s unsymbolized location.
pub const HOSTILE_MAPPING: &[u8] = b"/lib/\x1b[5mlib\x00evil\xff.so";

/// Checks common to every output format: no C0 control byte but newline and tab (ESC drives
/// a terminal, NUL truncates C strings, CR rewrites a line) and the output is UTF-8.
/// serde_json escapes exactly these in JSON strings.
pub fn assert_no_raw_controls(format: &str, out: &[u8]) {
    for (i, &b) in out.iter().enumerate() {
        let bad = b < 0x20 && b != b'\n' && b != b'\t';
        assert!(
            !bad,
            "{format}: raw control byte {b:#04x} at offset {i} in:\n{}",
            String::from_utf8_lossy(out)
        );
    }
    if let Err(e) = std::str::from_utf8(out) {
        panic!("{format}: not UTF-8: {e}");
    }
}

/// Output meant for a terminal also has no DEL and no C1 controls (U+0080..U+009F, e.g.
/// U+009B, the one-character CSI).
pub fn assert_terminal_safe(text: &str) {
    if let Some(c) = text
        .chars()
        .find(|&c| c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c))
    {
        panic!("raw control {c:?} in terminal output:\n{text}");
    }
}

/// A two-type heap profile (alloc_objects, alloc_space) with one function per name in `names`,
/// all in file `file`: one sample per name as the leaf, and with `full_stack` one more sample
/// through every function. Used to push crafted names through each output format.
pub fn named_heap_profile(names: &[&str], file: &str, full_stack: bool) -> Vec<u8> {
    let mut strings = vec![
        String::new(),
        "alloc_objects".into(),
        "count".into(),
        "alloc_space".into(),
        "bytes".into(),
        file.into(),
    ];
    let mut functions = Vec::new();
    let mut locations = Vec::new();
    for (i, name) in names.iter().enumerate() {
        strings.push(name.to_string());
        let id = i as u64 + 1;
        functions.push(pb::Function {
            id,
            name: strings.len() as i64 - 1,
            system_name: strings.len() as i64 - 1,
            filename: 5,
            start_line: 1,
        });
        locations.push(pb::Location {
            id,
            address: 0x1000 + id,
            line: vec![pb::Line {
                function_id: id,
                line: 10 + id as i64,
                column: 0,
            }],
            ..Default::default()
        });
    }
    let n = names.len() as u64;
    let mut samples: Vec<pb::Sample> = (1..=n)
        .map(|leaf| pb::Sample {
            location_id: vec![leaf],
            value: vec![1, 1024 * leaf as i64],
            label: vec![],
        })
        .collect();
    if full_stack {
        samples.push(pb::Sample {
            location_id: (1..=n).collect(),
            value: vec![2, 4096],
            label: vec![],
        });
    }
    pb::Profile {
        sample_type: vec![
            pb::ValueType { r#type: 1, unit: 2 },
            pb::ValueType { r#type: 3, unit: 4 },
        ],
        sample: samples,
        location: locations,
        function: functions,
        string_table: strings,
        period_type: Some(pb::ValueType { r#type: 3, unit: 4 }),
        period: 524288,
        ..Default::default()
    }
    .encode_to_vec()
}

/// Compares `got` with the golden file `tests/data/golden/NAME` byte for byte, or rewrites it
/// with `HEAPDOC_BLESS=1`. On a difference the output is written to
/// `target/golden-actual/NAME` (never next to the golden file) for a diff.
pub fn golden(name: &str, got: &[u8]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("tests/data/golden").join(name);
    if std::env::var_os("HEAPDOC_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with HEAPDOC_BLESS=1", path.display()));
    if want != got {
        let actual = root.join("target/golden-actual").join(name);
        let _ = std::fs::create_dir_all(actual.parent().unwrap());
        let _ = std::fs::write(&actual, got);
        panic!(
            "{} differs from the output (written to {}); HEAPDOC_BLESS=1 re-blesses",
            path.display(),
            actual.display()
        );
    }
}
