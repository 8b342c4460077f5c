//! Hostile input, round two (issue 16): secrets in URLs never reach a message or a report.
//! Finding 12 of the campaign report (`../shared/reviews/hostile-2026-12.md`): a password
//! holding an unencoded `/`, `#` or `?` was printed whole, and `?access_token=` values went
//! into every error and into the report's inputs. Loopback sockets only.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HEAP: &[u8] = include_bytes!("../samples/profiles/go1.27/service.heap.fetch.pb.gz");

fn heapdoc() -> assert_cmd::Command {
    let mut cmd = common::heapdoc();
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
    cmd
}

/// A port with nothing listening.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves `n` connections on 127.0.0.1 (for at most 20 s) with `reply(request head)`;
/// returns the port and the request heads seen.
fn serve(
    n: usize,
    reply: impl Fn(&str) -> Vec<u8> + Send + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut handled = 0;
        while handled < n && Instant::now() < deadline {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            handled += 1;
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            log.lock().unwrap().push(head.clone());
            let _ = conn.write_all(&reply(&head));
        }
    });
    (port, seen)
}

fn ok_profile(_: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        HEAP.len()
    )
    .into_bytes();
    r.extend_from_slice(HEAP);
    r
}

/// Unencoded `/`, `#`, `?` in a password: the error never shows it.
#[test]
fn password_with_delimiters_is_redacted_in_errors() {
    let port = closed_port();
    for pass in [
        "hun/ter2TOPSECRET",
        "hun#ter2TOPSECRET",
        "hun?ter2TOPSECRET",
    ] {
        let url = format!("http://alice:{pass}@127.0.0.1:{port}/debug/pprof/heap");
        let o = heapdoc().args([&url, "--no-save"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!e.contains("TOPSECRET"), "{e}");
        assert!(!e.contains("ter2"), "{e}");
        assert!(e.contains("connection refused"), "{e}");
    }
}

/// Token-like query parameters are redacted in errors (refused, 401) and in the report's
/// inputs (text, JSON, Markdown); the request itself still carries them.
#[test]
fn query_tokens_are_redacted_in_errors_and_reports() {
    let port = closed_port();
    for q in [
        "access_token=TOPSECRET-q",
        "key=TOPSECRET-q",
        "X-Amz-Signature=TOPSECRET-q",
    ] {
        let url = format!("http://127.0.0.1:{port}/debug/pprof/heap?gc=1&{q}");
        let o = heapdoc().args([&url, "--no-save"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!e.contains("TOPSECRET"), "{e}");
        assert!(e.contains("=***"), "{e}");
    }
    let (port, _) = serve(1, |_| {
        b"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 3\r\n\r\nno\n".to_vec()
    });
    let url = format!("http://127.0.0.1:{port}/debug/pprof/heap?access_token=TOPSECRET-q");
    let o = heapdoc().args([&url, "--no-save"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("401") && !e.contains("TOPSECRET"), "{e}");

    let (port, seen) = serve(3, ok_profile);
    let url = format!("http://127.0.0.1:{port}/debug/pprof/heap?access_token=TOPSECRET-q");
    for format in ["text", "json", "markdown"] {
        let o = heapdoc()
            .args([&url, "--no-save", "--format", format])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(!out.contains("TOPSECRET"), "{format}: {out}");
        // Markdown escapes `_` and `*`.
        assert!(
            out.replace('\\', "").contains("access_token=***"),
            "{format}: {out}"
        );
    }
    assert!(seen.lock().unwrap()[0].contains("access_token=TOPSECRET-q"));
}

fn redirect_to(location: String) -> impl Fn(&str) -> Vec<u8> + Send + 'static {
    move |_| {
        format!("HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n")
            .into_bytes()
    }
}

/// Finding 15: a redirect to another host or port carries no `-H` header (nor Authorization);
/// one to the same origin keeps them. A redirect to a non-HTTP URL is named in the error.
#[test]
fn custom_headers_do_not_follow_a_cross_origin_redirect() {
    let (other, other_seen) = serve(1, ok_profile);
    let (first, first_seen) = serve(1, redirect_to(format!("http://localhost:{other}/steal")));
    let url = format!("http://127.0.0.1:{first}/debug/pprof/heap");
    let o = heapdoc()
        .args([&url, "--no-save", "-H", "X-Api-Key: TOPSECRET-apikey"])
        .env("HEAPDOC_BEARER_TOKEN", "TOPSECRET-bearer")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let first_head = first_seen.lock().unwrap()[0].clone();
    assert!(first_head.contains("TOPSECRET-apikey"), "{first_head}");
    let other_head = other_seen.lock().unwrap()[0].clone();
    assert!(other_head.starts_with("GET /steal"), "{other_head}");
    assert!(!other_head.contains("TOPSECRET"), "{other_head}");

    // Same origin: the header follows.
    let (port, seen) = serve(2, |head| {
        if head.starts_with("GET /debug/pprof/heap ") {
            b"HTTP/1.1 302 Found\r\nConnection: close\r\nLocation: /debug/pprof/heap2\r\nContent-Length: 0\r\n\r\n".to_vec()
        } else {
            ok_profile(head)
        }
    });
    let url = format!("http://127.0.0.1:{port}/debug/pprof/heap");
    let o = heapdoc()
        .args([&url, "--no-save", "-H", "X-Api-Key: same-origin"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 2);
    assert!(
        heads[1].starts_with("GET /debug/pprof/heap2"),
        "{}",
        heads[1]
    );
    assert!(heads[1].contains("same-origin"), "{}", heads[1]);

    // file:// is named as a redirect, not reported as the first server's answer.
    let (port, _) = serve(1, redirect_to("file:///etc/passwd".to_string()));
    let url = format!("http://127.0.0.1:{port}/debug/pprof/heap");
    let o = heapdoc().args([&url, "--no-save"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("redirected to") && e.contains("file:///etc/passwd"),
        "{e}"
    );
}
