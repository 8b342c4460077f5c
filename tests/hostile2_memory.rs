//! Hostile input, round two (issue 16): memory and time bounded by what the input holds.
//! Findings 3, 4, 5, 10 and 20 of the campaign report (`../shared/reviews/hostile-2026-12.md`).
//! The bombs are crafted here; heapdoc runs under an address-space limit (RLIMIT_AS) of
//! 1 GB, so a run that sizes memory from a declared length aborts instead of passing.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{encode, gzip, heap_profile, put_varint};

const AS_LIMIT: u64 = 1 << 30;

/// Runs heapdoc with `args` under the address-space limit, stdin from `stdin` when given.
fn capped(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("heapdoc"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args);
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).unwrap());
    }
    // SAFETY: setrlimit is async-signal-safe and only limits the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: AS_LIMIT,
                rlim_max: AS_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Finding 4: a 1 KB gzip whose field declares 2 GiB, followed by 1 MiB of zeros (so the stream
/// is not at its end yet): a clean error, never a 2 GiB buffer. Three fields: a string, a
/// sample and an unknown field.
#[test]
fn declared_length_does_not_size_the_stream_buffer() {
    let dir = tempfile::tempdir().unwrap();
    for field in [6u64, 2, 99] {
        let mut data = Vec::new();
        put_varint(&mut data, field << 3 | 2);
        put_varint(&mut data, (1 << 31) - 100);
        data.resize(data.len() + (1 << 20), 0);
        let gz = gzip(&data);
        assert!(gz.len() < 4096, "{}", gz.len());
        let p = write(dir.path(), &format!("declared_{field}.pb.gz"), &gz);
        let o = capped(&[p.as_os_str()], None);
        assert_eq!(o.status.code(), Some(2), "field {field}: {o:?}");
        let e = stderr(&o);
        // A string that long is refused by the string-length limit first.
        assert!(
            e.contains("runs past the end of its message") || e.contains("is over the limit of"),
            "{e}"
        );
    }
}

/// Finding 3: `$var` expansion in a legacy heap profile's mapping section has a total budget
/// (each path alone was capped at 1 MiB; 2000 such paths took GiBs).
#[test]
fn legacy_mapping_variables_have_a_total_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "heap profile: 1: 2 [ 1: 2] @ heap/1048576\n1: 2 [1: 2] @ 0x401000\n\nMAPPED_LIBRARIES:\n",
    );
    text.push_str(&format!("v={}\n", "x".repeat(4096)));
    for _ in 0..2000 {
        // 250 x 4 KiB: just under the per-path cap, 2 GB in total.
        text.push_str("00400000-00800000 r-xp 00000000 00:00 0 ");
        text.push_str(&"$v".repeat(250));
        text.push('\n');
    }
    let plain = write(dir.path(), "mapvar.txt", text.as_bytes());
    let gz = write(dir.path(), "mapvar.txt.gz", &gzip(text.as_bytes()));
    for p in [plain, gz] {
        let o = capped(&[p.as_os_str()], None);
        assert_eq!(o.status.code(), Some(2), "{o:?}");
        let e = stderr(&o);
        assert!(e.contains("the mapping paths together grow past"), "{e}");
    }
    // A few expanded paths stay fine.
    let mut ok = String::from(
        "heap profile: 1: 2 [ 1: 2] @ heap/1048576\n1: 2 [1: 2] @ 0x401000\n\nMAPPED_LIBRARIES:\n",
    );
    ok.push_str("root=/opt/app\n00400000-00800000 r-xp 00000000 00:00 0 $root/bin/server\n");
    let p = write(dir.path(), "ok.txt", ok.as_bytes());
    let o = capped(&[p.as_os_str(), "--format".as_ref(), "json".as_ref()], None);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Finding 10: reading an endless input (`/dev/zero` as a file and as stdin) under a memory
/// limit below `--max-size` is an error that names `--max-size`, not an abort or "out of
/// memory" blamed on the input; with a lower `--max-size` it is the size error.
#[test]
fn endless_input_under_a_memory_limit_names_max_size() {
    let zero = Path::new("/dev/zero");
    let o = capped(&[zero.as_os_str()], None);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let e = stderr(&o);
    assert!(e.contains("--max-size limit of 2147483648"), "{e}");
    assert!(e.contains("lower --max-size"), "{e}");
    let o = capped(&["-".as_ref()], Some(zero));
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        stderr(&o).starts_with("heapdoc: <stdin>: out of memory after"),
        "{}",
        stderr(&o)
    );
    let o = capped(
        &[zero.as_os_str(), "--max-size".as_ref(), "1000000".as_ref()],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("over the --max-size limit of 1000000 bytes"),
        "{}",
        stderr(&o)
    );
}

/// Finding 5: `list` on a function with sites on line 12 and line 10^15: the cost is bounded
/// by the lines that exist, with and without the source file.
#[test]
fn list_skips_the_gap_between_far_lines() {
    let mut p = heap_profile();
    p.location[1].line[0].function_id = 1;
    p.location[1].line[0].line = 1_000_000_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let prof = write(dir.path(), "far.pb", &encode(&p));
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("src")).unwrap();
    let src: String = (1..=20).map(|i| format!("// line {i}\n")).collect();
    std::fs::write(root.join("src/main.go"), src).unwrap();
    for with_source in [false, true] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["list".as_ref(), ".".as_ref(), prof.as_os_str()];
        if with_source {
            args.extend(["--source-root".as_ref(), root.as_os_str()]);
        }
        let o = capped(&args, None);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8(o.stdout).unwrap();
        assert!(out.contains("1000000000000000:"), "{out}");
        assert!(out.lines().count() < 40, "{out}");
        if with_source {
            assert!(out.contains("// line 12"), "{out}");
        }
    }
}

/// Finding 20: a valid profile whose samples come before its sample types (protobuf allows
/// any field order) decodes the same gzipped (streaming decoder) as plain (buffered decoder).
#[test]
fn samples_before_sample_types_decode_the_same_gzipped() {
    let p = heap_profile();
    let mut rest = p.clone();
    rest.sample_type.clear();
    let types = heapdoc::pb::Profile {
        sample_type: p.sample_type.clone(),
        ..Default::default()
    };
    // Concatenated messages merge: samples first, then the types.
    let mut bytes = encode(&rest);
    bytes.extend(encode(&types));
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "sbt.pb", &bytes);
    let gz = write(dir.path(), "sbt.pb.gz", &gzip(&bytes));
    let normal = write(dir.path(), "normal.pb", &encode(&p));
    let json = |f: &Path| common::json_ok([f.as_os_str(), "--format".as_ref(), "json".as_ref()]);
    let (a, b, c) = (json(&plain), json(&gz), json(&normal));
    assert_eq!(a["sites"], b["sites"]);
    assert_eq!(a["sites"], c["sites"]);
    assert!(!a["sites"].as_array().unwrap().is_empty());
}

/// Finding 9: one huge string (a 64 MiB function name, 64 KB gzipped) is refused before it is
/// buffered and copied (it was held three times); a 1 MiB name is fine.
#[test]
fn huge_strings_are_refused_before_they_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    for (len, ok) in [(64usize << 20, false), (1 << 20, true)] {
        let mut p = heap_profile();
        p.string_table[8] = format!("main.{}", "x".repeat(len));
        let gz = write(dir.path(), &format!("s{len}.pb.gz"), &gzip(&encode(&p)));
        let o = capped(
            &[gz.as_os_str(), "--format".as_ref(), "json".as_ref()],
            None,
        );
        if ok {
            assert!(o.status.success(), "{}", stderr(&o));
        } else {
            assert_eq!(o.status.code(), Some(2));
            assert!(
                stderr(&o).contains("is over the limit of 16777216 bytes"),
                "{}",
                stderr(&o)
            );
        }
    }
}

/// Finding 6: a flame graph draws at most `MAX_FRAMES` frames (the widest), whatever
/// `--min-width`: 1000 distinct stacks of 1000 frames (1M frames) once made a ~200 MB SVG and
/// GiBs of memory; under the 1 GB limit it now renders, with the total kept.
#[test]
fn flame_graph_frames_are_capped() {
    let mut p = heapdoc::pb::Profile {
        sample_type: vec![
            heapdoc::pb::ValueType { r#type: 1, unit: 2 },
            heapdoc::pb::ValueType { r#type: 3, unit: 4 },
        ],
        string_table: ["", "objects", "count", "space", "bytes", "/src/main.go"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..Default::default()
    };
    for k in 1..=3000u64 {
        p.string_table.push(format!("main.f{k}"));
        let name = p.string_table.len() as i64 - 1;
        p.function.push(heapdoc::pb::Function {
            id: k,
            name,
            system_name: name,
            filename: 5,
            start_line: 0,
        });
        p.location.push(heapdoc::pb::Location {
            id: k,
            address: k * 16,
            line: vec![heapdoc::pb::Line {
                function_id: k,
                line: k as i64,
                column: 0,
            }],
            ..Default::default()
        });
    }
    // A small deterministic generator: distinct stacks from the first frame on.
    let mut x = 16u64;
    for _ in 0..1000 {
        let stack = (0..1000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                1 + (x >> 33) % 3000
            })
            .collect();
        p.sample.push(heapdoc::pb::Sample {
            location_id: stack,
            value: vec![1, 4096],
            label: vec![],
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let prof = write(dir.path(), "deep.pb.gz", &gzip(&encode(&p)));
    for extra in [&[][..], &["--min-width", "0"][..]] {
        let mut args: Vec<&std::ffi::OsStr> = vec!["flame".as_ref(), prof.as_os_str()];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let o = capped(&args, None);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        let svg = String::from_utf8(o.stdout).unwrap();
        let frames = svg.matches("<rect").count();
        // The frames drawn, plus at most one `…` per stack cut, the root and the legend.
        assert!(
            frames <= heapdoc::render::flame::MAX_FRAMES + 1000 + 100,
            "{extra:?}: {frames} frames"
        );
        assert!(
            svg.contains("<title>all (4,096,000 bytes, 100%)"),
            "{extra:?}"
        );
        // The subtitle says the graph was cut.
        assert!(svg.contains("the 50000 widest frames drawn"), "{extra:?}");
    }
    // A small profile is drawn whole and says nothing of a cut.
    let root = env!("CARGO_MANIFEST_DIR");
    let o = capped(
        &[
            "flame".as_ref(),
            std::ffi::OsStr::new(&format!(
                "{root}/samples/profiles/go1.27/service.allocs.default.pb.gz"
            )),
        ],
        None,
    );
    assert!(o.status.success());
    assert!(!String::from_utf8(o.stdout)
        .unwrap()
        .contains("widest frames drawn"));
}

/// Finding 8: legacy heap records are stored flat (~60 bytes each, not ~190): 4M one-frame
/// records (92 MB of text, 2 MB gzipped) decode under the 1 GB limit, totals exact.
#[test]
fn legacy_records_are_stored_compactly() {
    let n = 4_000_000u64;
    let mut text = format!("heap profile: {n}: {n} [ {n}: {n}] @ heap/1\n").into_bytes();
    for i in 0..n {
        text.extend_from_slice(
            format!("1: 1 [1: 1] @ 0x{:x}\n", 0x400000 + (i % 5000) * 16).as_bytes(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "records.txt.gz", &gzip(&text));
    drop(text);
    let o = capped(&[p.as_os_str(), "--format".as_ref(), "json".as_ref()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let total = v["total"].as_i64().or_else(|| v["total"]["value"].as_i64());
    assert_eq!(total, Some(n as i64), "{}", &v.to_string()[..300]);
}
