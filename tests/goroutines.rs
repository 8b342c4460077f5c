//! `heapdoc goroutines` on real goroutine dumps (issue 19): samples/goroutines/ holds the
//! snapshots of samples/src/leaky, a Go service with one planted leak of each kind, in every
//! format Go writes (profile.proto, debug=1, debug=2, SIGQUIT crash text) at two times, and
//! MANIFEST.json says which group is which and what runtime.NumGoroutine was at each.

mod common;

use std::path::{Path, PathBuf};

use heapdoc::analyze::goroutines::{
    analyze, GoroutineOptions, GoroutineReport, GoroutineRules, Verdict,
};
use heapdoc::decode::DecodeOptions;
use heapdoc::model::goroutine::{Dump, DumpFormat};
use heapdoc::source::dump::load_dump;
use heapdoc::source::http::FetchOptions;
use serde_json::Value;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/goroutines")
}

fn manifest() -> Value {
    serde_json::from_slice(&std::fs::read(dir().join("MANIFEST.json")).unwrap()).unwrap()
}

fn load(name: &str) -> Dump {
    let p = dir().join(name);
    load_dump(
        p.to_str().unwrap(),
        &DecodeOptions::default(),
        &FetchOptions::default(),
    )
    .unwrap()
    .1
}

fn report(name: &str, base: Option<&str>) -> GoroutineReport {
    let d = load(name);
    let b = base.map(load);
    analyze(
        name,
        &d,
        b.as_ref().map(|b| ("base", b)),
        &GoroutineRules::builtin(),
        &GoroutineOptions::default(),
    )
    .unwrap()
}

/// Every snapshot, in every format, counts exactly the goroutines runtime.NumGoroutine
/// reported when it was taken; crash text lists the runtime's own goroutines besides.
#[test]
fn counts_equal_num_goroutine_in_every_format() {
    let m = manifest();
    for (snap, info) in m["snapshots"].as_object().unwrap() {
        let want = info["num_goroutine"].as_u64().unwrap();
        for f in info["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let d = load(f);
            assert_eq!(d.user_count(), want, "{snap} {f}");
            let expect_format = match f.rsplit_once('.').unwrap().0 {
                x if x.ends_with(".debug2") => DumpFormat::Debug2,
                x if x.ends_with(".debug1") => DumpFormat::Debug1,
                x if x.ends_with(".crash") => DumpFormat::Crash,
                _ => DumpFormat::Proto,
            };
            assert_eq!(d.format, Some(expect_format), "{f}");
            if expect_format == DumpFormat::Crash {
                assert!(
                    d.total_count() > want,
                    "{f}: crash text lists runtime goroutines"
                );
            } else {
                assert_eq!(d.total_count(), want, "{f}");
            }
        }
    }
}

/// With two snapshots, each planted leak is found: verdict leak, the right creation site,
/// blocking frame and kind; the pool, the runtime's goroutines and net/http's connection
/// goroutines are not flagged.
#[test]
fn every_planted_leak_is_found_with_its_creator_frame_and_kind() {
    let m = manifest();
    let src = m["source_file"].as_str().unwrap();
    for (t1, t2, tracebacks) in [
        ("t1.debug2.txt", "t2.debug2.txt", true),
        ("t1.crash.txt", "t2.crash.txt", true),
        ("t1.pb.gz", "t2.pb.gz", false),
        ("t1.debug1.txt", "t2.debug1.txt", false),
    ] {
        let r = report(t2, Some(t1));
        for want in m["groups"].as_array().unwrap() {
            let kind = want["kind"].as_str().unwrap();
            let created = want["created_by"].as_str().unwrap();
            let blocked = want["blocked_in"].as_str();
            let g = r
                .groups
                .iter()
                .find(|g| {
                    let at = match blocked {
                        Some(b) => g.blocked_in.as_ref().is_some_and(|s| s.func == b),
                        // net/http's and the runtime's goroutines: found by their kind.
                        None => r.rules[g.rule].kind == kind,
                    };
                    at && (!tracebacks || g.created_by.as_ref().is_some_and(|c| c.func == created))
                })
                .unwrap_or_else(|| panic!("{t2}: no group for {want}"));
            let leak = want["leak"].as_bool().unwrap();
            assert_eq!(
                g.verdict == Verdict::Leak,
                leak,
                "{t2}: {kind}: {:?} ({})",
                g.verdict,
                g.reason
            );
            if leak {
                assert_eq!(
                    g.delta(),
                    Some(want["per_batch"].as_i64().unwrap()),
                    "{t2} {kind}"
                );
                let b = g.blocked_in.as_ref().unwrap();
                assert_eq!(b.file, src, "{t2} {kind}");
                assert!(g.blocked_in_user);
            } else {
                assert_ne!(g.verdict, Verdict::Suspect, "{t2} {kind}");
            }
            // Kinds need wait states: traceback formats have them; profile.proto and debug=1
            // only what their frames imply (no `nil chan`), so kinds are checked on tracebacks.
            if tracebacks {
                assert_eq!(r.rules[g.rule].kind, kind, "{t2}: {want}");
                assert_eq!(g.state, want["state"].as_str().unwrap_or(&g.state), "{t2}");
                let c = g.created_by.as_ref().unwrap();
                assert_eq!(c.func, created, "{t2}");
            }
        }
        let leaks: Vec<_> = r.leaks().collect();
        assert_eq!(leaks.len(), 4, "{t2}: {:?}", leaks);
        if tracebacks {
            // The runtime's own goroutines of crash text are never flagged.
            assert!(r
                .groups
                .iter()
                .filter(|g| g.system)
                .all(|g| g.verdict == Verdict::Ok));
        }
    }
}

/// One snapshot: a wait nothing can end is a leak at once; the other planted leaks are
/// suspects (20 goroutines in one wait); the pool of 8 is not flagged.
#[test]
fn one_snapshot_flags_suspects_and_not_the_pool() {
    let r = report("t2.debug2.txt", None);
    let by = |f: &str| {
        r.groups
            .iter()
            .find(|g| g.blocked_in.as_ref().is_some_and(|s| s.func == f))
            .unwrap()
    };
    assert_eq!(by("main.watchSession").verdict, Verdict::Leak);
    for f in ["main.fetchUser", "main.sendResult", "main.relay"] {
        assert_eq!(by(f).verdict, Verdict::Suspect, "{f}");
    }
    assert_eq!(by("main.worker").verdict, Verdict::Ok);
    assert_eq!(by("main.worker").count, 8);
    // Go printed `1 minutes` for every waiting goroutine of the second snapshot.
    assert_eq!(by("main.relay").waits.max, Some(1));
}

#[test]
fn text_report_names_the_leak_its_site_and_the_fix() {
    let out = common::run_ok([
        "goroutines",
        "samples/goroutines/t1.debug2.txt",
        "samples/goroutines/t2.debug2.txt",
        "--elapsed",
        "61",
        "--color",
        "never",
    ]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("131 goroutines"), "{text}");
    assert!(
        text.contains(
            "since samples/goroutines/t1.debug2.txt: 71 -> 131 goroutines, +60 in 61.0 s"
        ),
        "{text}"
    );
    assert!(
        text.contains("LEAK 20 goroutines [select] http-no-deadline: grew by 10 since the base"),
        "{text}"
    );
    assert!(
        text.contains("created by  main.serveUsers heapdoc.dev/samples/leaky/main.go:90"),
        "{text}"
    );
    assert!(text.contains("http.Client{Timeout"), "{text}");
    assert!(!text.contains("\x1b["), "--color never");
}

#[test]
fn json_has_every_group_and_markdown_a_table() {
    let v = common::json_ok([
        "goroutines",
        "--format",
        "json",
        "--base",
        "samples/goroutines/t1.pb.gz",
        "samples/goroutines/t2.pb.gz",
    ]);
    assert_eq!(v["schema"], "heapdoc.goroutines/1");
    assert_eq!(v["goroutines"], 131);
    assert_eq!(v["base"]["goroutines"], 71);
    // profile.proto carries its time: growth per second without --elapsed.
    let e = v["base"]["elapsed_seconds"].as_f64().unwrap();
    assert!((60.0..70.0).contains(&e), "{e}");
    let groups = v["groups"].as_array().unwrap();
    let sum: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, 131);
    let leak = groups
        .iter()
        .find(|g| g["blocked_in"]["function"] == "main.fetchUser")
        .unwrap();
    assert_eq!(leak["verdict"], "leak");
    assert_eq!(leak["delta"], 10);
    let md = String::from_utf8(common::run_ok([
        "goroutines",
        "--format",
        "markdown",
        "samples/goroutines/t2.crash.txt",
    ]))
    .unwrap();
    assert!(md.contains("| verdict | goroutines |"), "{md}");
    assert!(
        md.contains("| leak | 20 | chan receive (nil chan) | context-never-done |"),
        "{md}"
    );
}

#[test]
fn fail_on_gates_ci() {
    let base = [
        "goroutines",
        "samples/goroutines/t1.debug2.txt",
        "samples/goroutines/t2.debug2.txt",
    ];
    let out = common::heapdoc()
        .args(base)
        .args(["--fail-on", "goroutines:main.fetchUser>+5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("main.fetchUser grew by 10, over +5"), "{err}");
    assert!(!out.stdout.is_empty(), "the report is still written");
    let out = common::heapdoc()
        .args(base)
        .args([
            "--fail-on",
            "goroutines:http-no-deadline>+10",
            "--fail-on",
            "goroutines>131",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::heapdoc()
        .args(base)
        .args(["--fail-on", "goroutines>130"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // A rule that can never fire is a usage error, and nothing is written.
    let out = common::heapdoc()
        .args(["goroutines", "samples/goroutines/t2.debug2.txt"])
        .args(["--fail-on", "goroutines:main.fetchUser>+5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    for bad in ["goroutines", "goroutines:x>5", "total>1"] {
        let out = common::heapdoc()
            .args([
                "goroutines",
                "samples/goroutines/t2.debug2.txt",
                "--fail-on",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}

/// Bad input: one line naming the problem, exit 2, nothing written.
#[test]
fn bad_dumps_fail_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(dir().join("t1.debug2.txt")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        (
            "cut",
            good.as_bytes()[..good.find("\n\t").unwrap() + 1].to_vec(),
            "without its",
        ),
        (
            "junk",
            format!("{good}\nhello world\n").into_bytes(),
            "expected a goroutine header",
        ),
        (
            "orphan",
            b"goroutine 1 [running]:\n\t/x.go:1 +0x1\n".to_vec(),
            "no function line",
        ),
        (
            "heap",
            std::fs::read(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("samples/profiles/go1.27/goroutine.heap.default.pb.gz"),
            )
            .unwrap(),
            "not a goroutine profile",
        ),
        (
            "utf8",
            b"goroutine 1 [running]:\nmain.\xff()\n\t/x.go:1\n".to_vec(),
            "not UTF-8",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let out_file = tmp.path().join(format!("{name}.out"));
        let out = common::heapdoc()
            .args(["goroutines", "-o"])
            .arg(&out_file)
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
        assert!(!out_file.exists(), "{name}");
    }
}

/// The plain report reads every goroutine format alike, and its top is where goroutines wait
/// in the program, not `runtime.gopark` or `runtime.(elided)` (issue 19).
#[test]
fn plain_report_reads_every_format_and_skips_runtime_frames() {
    let mut outs = Vec::new();
    for f in ["t2.debug2.txt", "t2.debug1.txt", "t2.pb.gz", "t2.crash.txt"] {
        let v = common::json_ok(["--format", "json", &format!("samples/goroutines/{f}")]);
        assert_eq!(v["kind"], "goroutine", "{f}");
        let sites: Vec<(String, i64)> = v["sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["function"].as_str().unwrap_or_default().to_string(),
                    s["flat"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert!(
            sites.iter().all(|(f, _)| !f.starts_with("runtime.")),
            "{f}: {sites:?}"
        );
        assert!(
            sites.contains(&("main.watchSession".into(), 20)),
            "{f}: {sites:?}"
        );
        // The main goroutine (1 of them) wrote each format from a different function.
        outs.push(sites.into_iter().filter(|s| s.1 > 1).collect::<Vec<_>>());
    }
    assert!(outs.windows(2).all(|w| w[0] == w[1]), "{outs:?}");
}

/// `--svg`: a flame graph of the goroutines, one tower per group, the leaf frame naming the
/// wait state (and verdict) and filled with the state's color; widths are the counts.
#[test]
fn svg_flame_graph_colors_leaves_by_wait_state() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("g.svg");
    common::run_ok([
        "goroutines".as_ref(),
        "samples/goroutines/t1.debug2.txt".as_ref(),
        "samples/goroutines/t2.debug2.txt".as_ref(),
        "--svg".as_ref(),
        svg.as_os_str(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&text, opts).unwrap();
    let frame = |needle: &str| {
        doc.descendants()
            .filter(|n| n.has_tag_name("g"))
            .find(|g| {
                g.children()
                    .any(|c| c.has_tag_name("title") && c.text().unwrap_or("").starts_with(needle))
            })
            .unwrap_or_else(|| panic!("no frame {needle}"))
    };
    let rect = |needle: &str| {
        let g = frame(needle);
        let r = g.children().find(|c| c.has_tag_name("rect")).unwrap();
        r.attribute("fill").unwrap().to_string()
    };
    assert_eq!(
        rect(
            "main.watchSession «chan receive (nil chan) · leak context-never-done» (20 goroutines"
        ),
        "rgb(215,48,39)"
    );
    assert_eq!(
        rect("main.worker «chan receive» (8 goroutines"),
        "rgb(102,194,165)"
    );
    // Callers are grey.
    assert_eq!(
        rect("net/http.(*Client).Do (20 goroutines"),
        "rgb(220,220,220)"
    );
}

/// Stack memory: crash text measures each goroutine's stack (fp - sp, rounded up to Go's
/// power-of-two sizes); main.watchSession keeps 32 KiB of non-escaping session state on its
/// stack, so its 20 goroutines hold 64 KiB stacks each. With a debug=1 heap profile, other
/// formats share its MemStats StackInuse; without, 2 KiB each is the floor. `--heap` names
/// the heap held under each flagged group's function.
#[test]
fn stack_memory_and_heap_per_group() {
    let group = |v: &Value, f: &str| {
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["blocked_in"]["function"] == f)
            .unwrap()
            .clone()
    };
    let v = common::json_ok([
        "goroutines",
        "--format",
        "json",
        "samples/goroutines/t2.crash.txt",
    ]);
    let w = group(&v, "main.watchSession");
    assert_eq!(w["stack_basis"], "measured");
    assert_eq!(w["stack_bytes"], 20 * 64 * 1024);
    assert_eq!(group(&v, "main.worker")["stack_bytes"], 8 * 2048);

    let heap_text = std::fs::read_to_string(dir().join("t2.heap.debug1.txt")).unwrap();
    let inuse: u64 = heap_text
        .lines()
        .find_map(|l| l.strip_prefix("# Stack = "))
        .and_then(|l| l.split(" / ").next())
        .unwrap()
        .parse()
        .unwrap();
    let v = common::json_ok([
        "goroutines",
        "--format",
        "json",
        "--heap",
        "samples/goroutines/t2.heap.debug1.txt",
        "samples/goroutines/t2.debug2.txt",
    ]);
    let w = group(&v, "main.worker");
    assert_eq!(w["stack_basis"], "average");
    assert_eq!(w["stack_bytes"], inuse * 8 / 131);

    let v = common::json_ok([
        "goroutines",
        "--format",
        "json",
        "--heap",
        "samples/goroutines/t2.heap.pb.gz",
        "samples/goroutines/t2.debug2.txt",
    ]);
    let f = group(&v, "main.fetchUser");
    assert_eq!(f["stack_basis"], "minimum");
    assert_eq!(f["stack_bytes"], 20 * 2048);
    assert!(f["heap_inuse_bytes"].as_i64().unwrap() > 0, "{f}");
    for s in f["heap_sites"].as_array().unwrap() {
        assert!(
            !s["function"].as_str().unwrap().starts_with("runtime."),
            "{s}"
        );
    }
    // Groups that are not flagged get no heap figure.
    assert!(group(&v, "main.worker")["heap_inuse_bytes"].is_null());
    // A goroutine profile is not a heap profile.
    let out = common::heapdoc()
        .args([
            "goroutines",
            "--heap",
            "samples/goroutines/t2.pb.gz",
            "samples/goroutines/t2.debug2.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inuse_space"));
}

/// Large traceback files are parsed in two halves on two threads and concatenated: the
/// result is the same as one sequential parse (goroutine order, groups, counts).
#[test]
fn two_halves_give_the_same_dump_as_one_parse() {
    use heapdoc::decode::goroutine::{concat, parse_text};
    let limits = heapdoc::decode::Limits::default();
    for f in ["t2.debug2.txt", "t2.crash.txt"] {
        let text = std::fs::read(dir().join(f)).unwrap();
        let format = heapdoc::decode::goroutine::sniff(&text).unwrap();
        let mid = text.len() / 2;
        let i = mid
            + text[mid..]
                .windows(12)
                .position(|w| w == b"\n\ngoroutine ")
                .unwrap()
            + 2;
        let whole = parse_text(&text[..], format, &limits).unwrap();
        let halves = concat(
            parse_text(&text[..i], format, &limits).unwrap(),
            parse_text(&text[i..], format, &limits).unwrap(),
        );
        let ids = |d: &Dump| d.goroutines.iter().map(|g| g.id).collect::<Vec<_>>();
        assert_eq!(ids(&whole), ids(&halves), "{f}");
        assert_eq!(whole.user_count(), halves.user_count(), "{f}");
        let rules = GoroutineRules::builtin();
        let opts = GoroutineOptions::default();
        assert_eq!(
            analyze(f, &whole, None, &rules, &opts).unwrap(),
            analyze(f, &halves, None, &rules, &opts).unwrap(),
            "{f}"
        );
    }
    // Through a file over the size that takes the two-thread path (64 MiB).
    let block = std::fs::read_to_string(dir().join("t2.debug2.txt")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("big.txt");
    let copies = (65 << 20) / block.len() + 1;
    let mut big = String::with_capacity(block.len() * copies + copies);
    for _ in 0..copies {
        big.push_str(block.trim_end());
        big.push_str("\n\n");
    }
    std::fs::write(&p, &big).unwrap();
    let (_, d) = load_dump(
        p.to_str().unwrap(),
        &DecodeOptions::default(),
        &FetchOptions::default(),
    )
    .unwrap();
    assert_eq!(d.user_count(), 131 * copies as u64);
    let whole = heapdoc::decode::goroutine::parse_text(
        big.as_bytes(),
        heapdoc::model::goroutine::DumpFormat::Debug2,
        &heapdoc::decode::Limits::default(),
    )
    .unwrap();
    assert_eq!(
        d.goroutines
            .iter()
            .map(|g| (g.id, g.stack))
            .collect::<Vec<_>>(),
        whole
            .goroutines
            .iter()
            .map(|g| (g.id, g.stack))
            .collect::<Vec<_>>()
    );
}
