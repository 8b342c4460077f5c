//! The command line as a user meets it (issue 15): every flag each subcommand documents in
//! its --help works on a real profile, flags that do not apply are usage errors naming the
//! flag, and `heapdoc man` writes every page it refers to.

mod common;

use std::collections::BTreeSet;

const PROFILE: &str = "samples/profiles/go1.27/service.allocs.default.pb.gz";
const CPU: &str = "samples/profiles/go1.27/service.cpu.window.pb.gz";
const BASE: &str = "samples/profiles/go1.27/service.allocs.window-start.pb.gz";

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

/// The long flags a subcommand's --help lists.
fn documented_flags(sub: &[&str]) -> BTreeSet<String> {
    let mut args = sub.to_vec();
    args.push("--help");
    let help = String::from_utf8(common::run_ok(&args)).unwrap();
    let re = regex::Regex::new(r"(?m)^\s+(?:-[A-Za-z], )?(--[a-z][a-z-]*)").unwrap();
    re.captures_iter(&help).map(|c| c[1].to_string()).collect()
}

/// How each flag is exercised: extra arguments and whether the run must succeed (fetch flags
/// need a URL input: with a file they must be refused by heapdoc's own check, which proves
/// the parser took them).
fn case(flag: &str, dir: &std::path::Path) -> (Vec<String>, bool) {
    let out = dir.join("out").to_string_lossy().into_owned();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match flag {
        "--help" | "--version" => (vec![], true),
        "--sample-index" => (s(&["--sample-index", "alloc_objects"]), true),
        "--top" => (s(&["--top", "3"]), true),
        "--granularity" => (s(&["--granularity", "functions"]), true),
        "--focus" => (s(&["--focus", "main\\."]), true),
        "--ignore" => (s(&["--ignore", "json"]), true),
        "--tagfocus" => (s(&["--tagfocus", "bytes=:64kb"]), true),
        "--tagignore" => (s(&["--tagignore", "bytes=1mb:"]), true),
        "--by-label" => (s(&["--by-label", "bytes"]), true),
        "--leaf-sites" | "--inverted" | "--lines" | "--no-javascript" | "--folded" => {
            (vec![flag.to_string()], true)
        }
        "--module" => (s(&["--module", "heapdoc.dev/samples"]), true),
        "--rules" => (
            vec![
                "--rules".into(),
                format!("{}/tests/data/rules/acme.toml", root()),
            ],
            true,
        ),
        "--escapes" => (
            vec![
                "--escapes".into(),
                format!("{}/samples/escapes/go1.27/service.m2.txt", root()),
            ],
            true,
        ),
        "--source-root" => (s(&["--source-root", "samples/src"]), true),
        "--no-explain" => (vec![flag.to_string()], true),
        // Runs the Go compiler: covered by tests/explain.rs (needs Go); here the flag must
        // be taken by the parser and refuse a missing directory as heapdoc's own error.
        "--explain" => (s(&["--explain", "/nonexistent-dir"]), false),
        "--base" => (s(&["--base", BASE]), true),
        "--cpu" => (s(&["--cpu", CPU]), true),
        "--requests" => (s(&["--requests", "400"]), true),
        "--rps" => (s(&["--rps", "100"]), true),
        "--format" => (s(&["--format", "markdown"]), true),
        "--color" => (s(&["--color", "never"]), true),
        "--output" => (vec!["--output".into(), out], true),
        "--max-size" => (s(&["--max-size", "100000000"]), true),
        "--min-width" => (s(&["--min-width", "0.5"]), true),
        "--normalize" => (s(&["--normalize", "total"]), true),
        "--sigma" => (s(&["--sigma", "2"]), true),
        "--fail-on" => (s(&["--fail-on", "total>+1000%"]), true),
        "--svg" => (
            vec!["--svg".into(), dir.join("d.svg").to_string_lossy().into()],
            true,
        ),
        "--seconds" => (s(&["--seconds", "5"]), false),
        "--timeout" => (s(&["--timeout", "5"]), false),
        "--header" => (s(&["--header", "X-A: 1"]), false),
        "--bearer-env" => (s(&["--bearer-env", "TOKEN"]), false),
        "--insecure" | "--no-save" => (vec![flag.to_string()], false),
        "--cacert" => (s(&["--cacert", "ca.pem"]), false),
        // --cert and --key require each other (the parser checks that).
        "--cert" | "--key" => (s(&["--cert", "c.pem", "--key", "k.pem"]), false),
        "--save" => (vec!["--save".into(), out], false),
        other => panic!("{other} has no case in tests/cli.rs: add one"),
    }
}

fn check_subcommand(sub: &[&str], inputs: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let flags = documented_flags(sub);
    assert!(flags.len() > 5, "{sub:?}: {flags:?}");
    for flag in &flags {
        if flag == "--help" || flag == "--version" {
            continue;
        }
        let (extra, mut ok) = case(flag, dir.path());
        // `list` shows source lines: function granularity is refused, naming the flag.
        if sub == ["list", "main\\."] && flag == "--granularity" {
            ok = false;
        }
        let mut args: Vec<String> = sub.iter().map(|s| s.to_string()).collect();
        args.extend(extra);
        args.extend(inputs.iter().map(|s| s.to_string()));
        let out = common::heapdoc()
            .current_dir(root())
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if ok {
            assert!(out.status.success(), "heapdoc {args:?}: {stderr}");
        } else {
            assert_eq!(out.status.code(), Some(2), "heapdoc {args:?}: {stderr}");
            assert!(
                !stderr.contains("unexpected argument"),
                "heapdoc {args:?} refused by the parser: {stderr}"
            );
            assert!(stderr.contains(flag.as_str()), "heapdoc {args:?}: {stderr}");
        }
    }
}

#[test]
fn every_documented_report_flag_works() {
    check_subcommand(&[], &[PROFILE]);
}

#[test]
fn every_documented_flame_flag_works() {
    check_subcommand(&["flame"], &[PROFILE]);
}

#[test]
fn every_documented_list_flag_works() {
    check_subcommand(&["list", "main\\."], &[PROFILE]);
}

#[test]
fn every_documented_diff_flag_works() {
    check_subcommand(&["diff"], &[BASE, PROFILE]);
}

/// A flag a subcommand does not use is a usage error naming it, never silently ignored.
#[test]
fn flags_that_do_not_apply_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["flame", "--format", "json", PROFILE][..], "--format"),
        (
            &["list", "--format", "markdown", "main", PROFILE],
            "--format",
        ),
        (&["flame", "--cpu", CPU, PROFILE], "--cpu"),
        (&["diff", "--requests", "3", PROFILE, PROFILE], "--requests"),
        (&["--seconds", "5", PROFILE], "--seconds"),
    ] {
        let out = common::heapdoc()
            .current_dir(root())
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "heapdoc {args:?}: {stderr}");
        assert!(stderr.contains(flag), "heapdoc {args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "heapdoc {args:?} wrote output");
    }
}

/// Every page `heapdoc man` refers to (`heapdoc-flame(1)`, ...) is written.
#[test]
fn man_writes_every_page_it_mentions() {
    let dir = tempfile::tempdir().unwrap();
    common::run_ok(["man", "--dir", dir.path().to_str().unwrap()]);
    let written: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(written.contains("heapdoc.1"), "{written:?}");
    let re = regex::Regex::new(r"heapdoc\\-([a-z]+)").unwrap();
    let mut mentioned = BTreeSet::new();
    for page in &written {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        for c in re.captures_iter(&text) {
            mentioned.insert(format!("heapdoc-{}.1", &c[1]));
        }
    }
    assert!(mentioned.contains("heapdoc-flame.1"), "{mentioned:?}");
    for m in &mentioned {
        assert!(
            written.contains(m),
            "{m} is mentioned but not written: {written:?}"
        );
    }
    // Without --dir, the same pages go to stdout, the main page first.
    let all = String::from_utf8(common::run_ok(["man"])).unwrap();
    assert_eq!(
        all.matches("\n.TH ").count() + usize::from(all.starts_with(".TH ")),
        written.len()
    );
}
