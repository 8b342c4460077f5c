//! Fetching over real sockets (issue 7): a loopback HTTP server thread plays net/http/pprof,
//! serving the bytes a real Go 1.27 service answered to the same requests (samples/, see
//! samples/README.md), or fails in each way the fetcher must explain. Only loopback addresses are used; every server
//! handles a bounded number of connections and stops by itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use heapdoc::source::http::{fetch, FetchOptions, Save, UreqTransport};

/// `/debug/pprof/heap?gc=1`.
const HEAP: &[u8] = include_bytes!("../samples/profiles/go1.27/service.heap.fetch.pb.gz");
/// `/debug/pprof/allocs?seconds=N`: a delta profile.
const ALLOCS_DELTA: &[u8] =
    include_bytes!("../samples/profiles/go1.27/service.allocs.fetch-delta.pb.gz");
/// `/debug/pprof/profile?seconds=2`.
const CPU: &[u8] = include_bytes!("../samples/profiles/go1.27/service.cpu.fetch.pb.gz");
/// `/debug/pprof/heap?debug=1`: Go's text heap format.
const HEAP_TEXT: &[u8] =
    include_bytes!("../samples/profiles/go1.27/service.heap.default.debug1.txt");

/// One canned answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send a Content-Length header (else the body ends when the connection closes).
    content_length: bool,
    /// Wait this long before answering.
    delay: Duration,
}

impl Reply {
    fn new(status: u16, body: &[u8]) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.to_vec(),
            content_length: true,
            delay: Duration::ZERO,
        }
    }
    fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

struct Server {
    addr: SocketAddr,
    /// The request heads received, in order.
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn host_port(&self) -> String {
        self.addr.to_string()
    }
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves up to `max_conns` connections on 127.0.0.1 for at most 20 s, answering each
/// request head with `handler`. A connection that does not start like HTTP (a TLS
/// ClientHello) gets a plain `400`, as a Go HTTP server answers one.
fn serve(max_conns: usize, handler: impl Fn(&str) -> Reply + Send + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    listener.set_nonblocking(true).unwrap();
    thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut handled = 0;
        while handled < max_conns && Instant::now() < deadline {
            match listener.accept() {
                Ok((conn, _)) => {
                    handled += 1;
                    let _ = answer(conn, &handler, &seen);
                }
                Err(_) => thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Server { addr, requests }
}

fn answer(
    mut conn: TcpStream,
    handler: &impl Fn(&str) -> Reply,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if !head[0].is_ascii_uppercase() {
            conn.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            // A proxy client tunnels even plain HTTP: accept, then read the real request.
            if head.starts_with(b"CONNECT ") {
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
                head.clear();
                continue;
            }
            break;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    seen.lock().unwrap().push(head.clone());
    let reply = handler(&head);
    thread::sleep(reply.delay);
    let mut out = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if reply.content_length {
        out.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes())?;
    conn.write_all(&reply.body)?;
    conn.flush()
}

/// Answers like net/http/pprof: allocs, profile (CPU), else heap.
fn profile_server(max_conns: usize) -> Server {
    serve(max_conns, |head| {
        let path = head.split(' ').nth(1).unwrap_or("");
        let body = if path.starts_with("/debug/pprof/allocs") {
            ALLOCS_DELTA
        } else if path.starts_with("/debug/pprof/profile") {
            CPU
        } else {
            HEAP
        };
        Reply::new(200, body).header("Content-Type", "application/octet-stream")
    })
}

/// A port with nothing listening: bound, then released.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn no_save() -> FetchOptions {
    FetchOptions {
        save: Save::Off,
        ..FetchOptions::default()
    }
}

fn env_none(_: &str) -> Option<String> {
    None
}

fn fetch_err(spec: &str, opts: &FetchOptions, max_size: u64) -> String {
    let e = fetch(spec, max_size, opts, &UreqTransport, &env_none).unwrap_err();
    format!("{e:#}")
}

/// The binary with no proxy settings and fetched copies kept in `save_dir`.
fn heapdoc(save_dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("heapdoc").unwrap();
    for var in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HEAPDOC_BEARER_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HEAPDOC_SAVE_DIR", save_dir);
    cmd
}

/// The stderr of a run without the "fetching" notices, which every fetch prints first (issue
/// 18: whatever stderr is, a log shows what the run waited on).
fn without_notices(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with("heapdoc: fetching "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Runs the binary expecting exit 2 and, besides the fetch notice, one line on stderr;
/// returns that line.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = without_notices(&String::from_utf8(out.stderr).unwrap());
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.starts_with("heapdoc: "), "{stderr}");
    stderr.trim_end().to_string()
}

#[test]
fn fetches_and_reports_a_real_heap_profile_from_host_port() {
    let server = profile_server(1);
    let dir = tempfile::tempdir().unwrap();
    let out = heapdoc(dir.path())
        .arg(server.host_port())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let url = format!("http://{}/debug/pprof/heap", server.host_port());
    assert!(
        stdout.contains(&format!("Go heap profile ({url})")),
        "{stdout}"
    );
    assert!(stdout.contains("compression"), "{stdout}");
    let req = &server.requests()[0];
    assert!(
        req.starts_with("GET /debug/pprof/heap HTTP/1.1\r\n"),
        "{req}"
    );
    // The default copy: exact bytes, named after host, port, endpoint and UTC time.
    let saved: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 1);
    let name = saved[0].file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!("heapdoc.127.0.0.1_{}.heap.", server.addr.port());
    assert!(
        name.starts_with(&prefix) && name.ends_with("Z.pb.gz"),
        "{name}"
    );
    assert_eq!(std::fs::read(&saved[0]).unwrap(), HEAP);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "heapdoc: fetching {url} (timeout 60 s)\nheapdoc: saved fetched profile to {}\n",
            saved[0].display()
        )
    );
}

#[test]
fn save_file_gets_the_exact_bytes_and_no_save_keeps_nothing() {
    let server = profile_server(2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kept.pb.gz");
    let url = format!("http://{}/debug/pprof/heap", server.host_port());
    heapdoc(dir.path())
        .args(["--save", file.to_str().unwrap(), &url])
        .assert()
        .success();
    assert_eq!(std::fs::read(&file).unwrap(), HEAP);
    heapdoc(dir.path())
        .args(["--no-save", &url])
        .assert()
        .success()
        .stderr(format!("heapdoc: fetching {url} (timeout 60 s)\n"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn an_existing_file_wins_over_a_host_port_url() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port: fetching would fail.
    let name = format!("127.0.0.1:{}", closed_port());
    std::fs::write(dir.path().join(&name), HEAP).unwrap();
    heapdoc(dir.path())
        .current_dir(dir.path())
        .arg(&name)
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "Go heap profile ({name})"
        )));
}

#[test]
fn seconds_sets_the_query_and_headers_and_auth_are_sent() {
    let server = profile_server(3);
    let opts = FetchOptions {
        seconds: Some(7),
        headers: vec![("X-Team".into(), "perf".into())],
        ..no_save()
    };
    let spec = format!("{}/debug/pprof/allocs", server.host_port());
    let f = fetch(&spec, 1 << 20, &opts, &UreqTransport, &env_none).unwrap();
    assert_eq!(f.bytes, ALLOCS_DELTA);
    let spec = format!(
        "http://alice:s3cret@{}/debug/pprof/profile",
        server.host_port()
    );
    let f = fetch(&spec, 1 << 20, &no_save(), &UreqTransport, &env_none).unwrap();
    assert!(!f.name.contains("s3cret"), "{}", f.name);
    let env = |k: &str| (k == "HEAPDOC_BEARER_TOKEN").then(|| "t0ken".to_string());
    fetch(
        &server.host_port(),
        1 << 20,
        &no_save(),
        &UreqTransport,
        &env,
    )
    .unwrap();

    let reqs = server.requests();
    assert!(
        reqs[0].starts_with("GET /debug/pprof/allocs?seconds=7 HTTP/1.1\r\n"),
        "{}",
        reqs[0]
    );
    assert!(
        reqs[0]
            .to_ascii_lowercase()
            .contains("\r\nx-team: perf\r\n"),
        "{}",
        reqs[0]
    );
    assert!(reqs[0].contains("heapdoc/"), "user agent: {}", reqs[0]);
    // base64("alice:s3cret")
    assert!(
        reqs[1].starts_with("GET /debug/pprof/profile HTTP/1.1"),
        "{}",
        reqs[1]
    );
    assert!(
        reqs[1]
            .to_ascii_lowercase()
            .contains("authorization: basic ywxpy2u6cznjcmv0"),
        "{}",
        reqs[1]
    );
    assert!(reqs[2].contains("Bearer t0ken"), "{}", reqs[2]);
}

#[test]
fn bearer_token_from_a_named_environment_variable() {
    let server = profile_server(1);
    let dir = tempfile::tempdir().unwrap();
    heapdoc(dir.path())
        .env("SVC_TOKEN", "abc123")
        .args([
            "--no-save",
            "--bearer-env",
            "SVC_TOKEN",
            &server.host_port(),
        ])
        .assert()
        .success();
    assert!(server.requests()[0].contains("Bearer abc123"));
    let line = fails(heapdoc(dir.path()).args([
        "--bearer-env",
        "HEAPDOC_TEST_UNSET_VAR",
        &server.host_port(),
    ]));
    assert!(
        line.contains("--bearer-env HEAPDOC_TEST_UNSET_VAR"),
        "{line}"
    );
}

#[test]
fn explicit_debug_1_reads_go_text_format_but_unasked_text_is_refused() {
    let server = serve(2, |_| {
        Reply::new(200, HEAP_TEXT).header("Content-Type", "text/plain; charset=utf-8")
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/debug/pprof/heap?debug=1", server.host_port());
    heapdoc(dir.path())
        .args(["--no-save", &url])
        .assert()
        .success()
        .stdout(predicates::str::contains("Go heap profile"));
    let line = fails(heapdoc(dir.path()).args(["--no-save", &server.host_port()]));
    assert!(
        line.contains(
            "expected a binary profile but the server sent text starting \"heap profile:"
        ),
        "{line}"
    );
    assert!(line.contains("add ?debug=1"), "{line}");
}

#[test]
fn connection_refused() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let line = fails(heapdoc(dir.path()).arg(format!("127.0.0.1:{port}")));
    assert_eq!(
        line,
        format!("heapdoc: http://127.0.0.1:{port}/debug/pprof/heap: connection refused: is the service running, serving net/http/pprof on that port?")
    );
}

#[test]
fn dns_failure() {
    // .invalid never resolves (RFC 6761); resolvers answer it locally.
    let dir = tempfile::tempdir().unwrap();
    let line = fails(heapdoc(dir.path()).arg("http://heapdoc-test.invalid:6060/debug/pprof/heap"));
    assert!(
        line.contains("cannot resolve host heapdoc-test.invalid (DNS lookup failed"),
        "{line}"
    );
}

#[test]
fn timeout_says_how_long_it_waited_and_which_flag_raises_it() {
    let server = serve(1, |_| {
        let mut r = Reply::new(200, HEAP);
        r.delay = Duration::from_secs(3);
        r
    });
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let line = fails(heapdoc(dir.path()).args(["--timeout", "0.3", &server.host_port()]));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The wait it reports is measured: at least the 0.3 s timeout, a little more on a
    // loaded machine (CI once saw 0.4 s).
    let re = regex::Regex::new(
        r"timed out: no complete answer after waiting (0\.[3-9]|[12]\.[0-9]) s \(the timeout, --timeout\); raise --timeout SECONDS$",
    )
    .unwrap();
    assert!(re.is_match(&line), "{line}");
}

#[test]
fn http_404_from_pprof_shows_the_body_first_line() {
    let server = serve(1, |_| {
        Reply::new(404, b"Unknown profile\n")
            .header("X-Go-Pprof", "1")
            .header("Content-Type", "text/plain; charset=utf-8")
    });
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}/debug/pprof/nosuch", server.host_port());
    let line = fails(heapdoc(dir.path()).arg(&url));
    assert_eq!(
        line,
        format!("heapdoc: {url}: server answered 404 Not Found: Unknown profile")
    );
}

#[test]
fn http_401_and_403_suggest_the_credential_flags() {
    for status in [401u16, 403] {
        let server = serve(1, move |_| Reply::new(status, b"denied\n"));
        let line = fetch_err(&server.host_port(), &no_save(), 1 << 20);
        assert!(
            line.contains(&format!("server answered {status} ")),
            "{line}"
        );
        assert!(
            line.contains("-H 'Authorization: ...'")
                && line.contains("$HEAPDOC_BEARER_TOKEN (--bearer-env VAR)"),
            "{line}"
        );
    }
}

#[test]
fn an_html_page_is_not_a_profile() {
    let server = serve(1, |_| {
        Reply::new(
            200,
            b"<html><head><title>/debug/pprof/</title></head><body>...</body></html>",
        )
        .header("Content-Type", "text/html; charset=utf-8")
    });
    let dir = tempfile::tempdir().unwrap();
    let line = fails(heapdoc(dir.path()).arg(format!("{}/debug/pprof/", server.host_port())));
    assert!(
        line.contains(
            "expected a profile but the server sent an HTML page titled \"/debug/pprof/\""
        ),
        "{line}"
    );
    // Nothing was saved: the answer was not a profile.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn oversized_bodies_are_refused_with_or_without_content_length() {
    let server = serve(2, |head| {
        let mut r = Reply::new(200, HEAP);
        r.content_length = !head.contains("nolength");
        r
    });
    let max = HEAP.len() as u64 - 1;
    let line = fetch_err(&server.host_port(), &no_save(), max);
    assert!(
        line.contains(&format!(
            "over the --max-size limit of {max} bytes ({} bytes)",
            HEAP.len()
        )),
        "{line}"
    );
    let line = fetch_err(&format!("{}/nolength", server.host_port()), &no_save(), max);
    assert!(
        line.contains(&format!("over the --max-size limit of {max} bytes")),
        "{line}"
    );
    // Exactly at the limit is fine.
    let server = profile_server(1);
    let f = fetch(
        &server.host_port(),
        HEAP.len() as u64,
        &no_save(),
        &UreqTransport,
        &env_none,
    );
    assert_eq!(f.unwrap().bytes, HEAP);
}

#[test]
fn https_to_a_plain_http_port_is_a_tls_failure() {
    let server = profile_server(1);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("https://{}/debug/pprof/heap", server.host_port());
    let line = fails(heapdoc(dir.path()).arg(&url));
    assert!(
        line.starts_with(&format!("heapdoc: {url}: TLS handshake failed: ")),
        "{line}"
    );
    assert!(
        line.ends_with("does the port speak plain HTTP? then use http://"),
        "{line}"
    );
}

#[test]
fn ipv6_loopback_shorthand() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let seen = Mutex::new(Vec::new());
        answer(conn, &|_: &str| Reply::new(200, HEAP), &seen).unwrap();
    });
    let f = fetch(
        &format!("[::1]:{port}"),
        1 << 20,
        &no_save(),
        &UreqTransport,
        &env_none,
    )
    .unwrap();
    assert_eq!(f.bytes, HEAP);
    assert_eq!(f.name, format!("http://[::1]:{port}/debug/pprof/heap"));
    handle.join().unwrap();
}

#[test]
fn http_proxy_from_the_environment_is_used() {
    // The loopback server plays the proxy: it is asked to tunnel to a host that does not
    // resolve, which proves the request went through it.
    let proxy = profile_server(1);
    let dir = tempfile::tempdir().unwrap();
    heapdoc(dir.path())
        .env("HTTP_PROXY", format!("http://{}", proxy.host_port()))
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .args(["--no-save", "proxied-svc.invalid:6060"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "Go heap profile (http://proxied-svc.invalid:6060/debug/pprof/heap)",
        ));
    let reqs = proxy.requests();
    assert!(
        reqs[0].starts_with("CONNECT proxied-svc.invalid:6060 HTTP/1.1\r\n"),
        "{reqs:?}"
    );
    assert!(
        reqs[1].starts_with("GET /debug/pprof/heap HTTP/1.1\r\n"),
        "{reqs:?}"
    );
}

#[test]
fn seconds_fetches_a_cpu_profile_and_an_allocs_delta() {
    let server = profile_server(2);
    let dir = tempfile::tempdir().unwrap();
    let cpu = format!("{}/debug/pprof/profile", server.host_port());
    heapdoc(dir.path())
        .args(["--no-save", "--seconds", "2", &cpu])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "CPU profile (http://{cpu}?seconds=2)"
        )));
    let allocs = format!("{}/debug/pprof/allocs", server.host_port());
    heapdoc(dir.path())
        .args(["--no-save", "--seconds", "2", &allocs])
        .assert()
        .success()
        .stdout(predicates::str::contains(format!(
            "Go heap profile (http://{allocs}?seconds=2)"
        )));
    let reqs = server.requests();
    assert!(reqs[0].starts_with("GET /debug/pprof/profile?seconds=2 HTTP/1.1"));
    assert!(reqs[1].starts_with("GET /debug/pprof/allocs?seconds=2 HTTP/1.1"));
}

#[test]
fn save_file_takes_one_url_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("one.pb.gz");
    let line = fails(heapdoc(dir.path()).args([
        "--save",
        out.to_str().unwrap(),
        "127.0.0.1:1",
        "127.0.0.1:2",
    ]));
    assert!(
        line.contains("keeps one fetched profile, but 2 inputs are URLs"),
        "{line}"
    );
}
