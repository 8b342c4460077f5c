//! Fetching a profile straight from a running service's `/debug/pprof` endpoints (issue 7).
//!
//! Part of the `source` stage: the only other module that does I/O. The rules follow
//! `go tool pprof`'s fetcher where it has one:
//!
//! - `host:port` alone means `http://host:port/debug/pprof/heap`; `host:port/path` means
//!   `http://host:port/path`. (pprof defaults to the CPU profile; heapdoc is about memory.)
//! - `--seconds N` sets `?seconds=N`: a delta profile over N seconds from `heap` and `allocs`,
//!   an N-second CPU profile from `profile`. Without it a `seconds=` already in the URL counts.
//! - The timeout is `--timeout`, else 1.5 x the duration, else 60 s (pprof's rule).
//! - A 4xx/5xx answer is an error carrying the body's first line when it is text (Go's
//!   net/http/pprof marks its own errors with an `X-Go-Pprof` header).
//! - The raw bytes as fetched are kept (`--save FILE`, else a timestamped copy in
//!   `$HEAPDOC_SAVE_DIR` or `$HOME/.heapdoc/profiles`, as pprof keeps `$HOME/pprof`).
//!
//! HTTP sits behind [`Transport`] so tests can fake the network; [`UreqTransport`] is the real
//! one (ureq with rustls, the system's and Mozilla's roots; proxies from `ALL_PROXY`/
//! `HTTPS_PROXY`/`HTTP_PROXY` and `NO_PROXY`, read by ureq).
//!
//! The files, bottom up: `target` (the URL by pprof's rules, credentials, redaction),
//! `transport` (the HTTP exchange, TLS), `observe` (progress events for the binary to show),
//! `check` (is the answer a profile; the error with its fix), `save` (the kept copy), and this
//! file, which runs them in order ([`fetch`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;

mod check;
mod observe;
mod save;
mod target;
mod transport;

use check::*;
pub use observe::*;
pub use save::*;
pub use target::*;
pub use transport::*;

/// Environment variable holding a bearer token sent as `Authorization: Bearer <token>`
/// (`--bearer-env` names another variable).
pub const BEARER_ENV: &str = "HEAPDOC_BEARER_TOKEN";
/// Environment variable naming the directory for fetched copies (default
/// `$HOME/.heapdoc/profiles`).
pub const SAVE_DIR_ENV: &str = "HEAPDOC_SAVE_DIR";
/// The endpoint `host:port` alone means.
pub const DEFAULT_PATH: &str = "/debug/pprof/heap";
/// Timeout without a duration: google/pprof's default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait accepted (about 31 years): anything longer is as good as forever.
const MAX_TIMEOUT: Duration = Duration::from_secs(1_000_000_000);
/// What net/http/pprof's `/debug/pprof/profile` records without `seconds=`.
pub const CPU_DEFAULT_SECONDS: u64 = 30;
/// Where the raw bytes of a fetched profile are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Save {
    /// A timestamped file in `$HEAPDOC_SAVE_DIR`, else `$HOME/.heapdoc/profiles`.
    #[default]
    DefaultDir,
    /// A timestamped file in this directory.
    Dir(PathBuf),
    /// Exactly this file (`--save FILE`), replaced if it exists.
    File(PathBuf),
    /// Not kept (`--no-save`).
    Off,
}

/// Options for URL inputs, built once from the command line. They apply to every URL input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchOptions {
    /// `--seconds`: ask for a delta (heap, allocs) or an N-second CPU profile via `?seconds=N`.
    pub seconds: Option<u64>,
    /// `--timeout`: overrides the default of 1.5 x the duration, or 60 s without one.
    pub timeout: Option<Duration>,
    /// `-H 'Name: value'`: extra request headers, in order. An `Authorization` header here
    /// wins over URL credentials and the bearer token.
    pub headers: Vec<(String, String)>,
    /// `--bearer-env`: the variable holding a bearer token; None reads [`BEARER_ENV`] if set.
    /// Named explicitly, the variable must be set.
    pub bearer_env: Option<String>,
    /// `--insecure`: skip TLS certificate verification.
    pub insecure: bool,
    /// `--cacert`, `--cert`, `--key`: a private CA and a client certificate (mTLS).
    pub tls: TlsFiles,
    /// Where to keep the raw bytes (`--save FILE`, `--no-save`).
    pub save: Save,
}

/// A fetched profile.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The URL requested, without credentials.
    pub name: String,
    /// The body exactly as received.
    pub bytes: Vec<u8>,
    /// Where a copy was kept, if anywhere.
    pub saved: Option<PathBuf>,
}

/// Fetches one URL input through `transport`, checks that a profile came back, and keeps a
/// copy per `opts.save`. `env` looks up environment variables (bearer token, save directory).
///
/// Reports the wait and the saved copy's path through the installed [`FetchObserver`] as they
/// happen, so the user learns the path even if decoding fails.
pub fn fetch(
    spec: &str,
    max_size: u64,
    opts: &FetchOptions,
    transport: &dyn Transport,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Fetched> {
    let t = target(spec, opts)?;
    let headers = request_headers(&t, opts, env)?;
    let tls = if t
        .url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        Tls::load(&opts.tls)?
    } else {
        Tls::default()
    };
    let req = Request {
        url: &t.url,
        headers: &headers,
        timeout: t.timeout,
        max_size,
        insecure: opts.insecure,
        tls: &tls,
    };
    let started = Instant::now();
    notify(FetchEvent::Started {
        url: &t.shown,
        expected: t.duration,
        timeout: t.timeout,
    });
    let result = transport.get(&req);
    notify(FetchEvent::Finished { url: &t.shown });
    let resp = result.map_err(|e| transport_error(&t, e, max_size, started.elapsed(), opts))?;
    check_response(&t, &resp, max_size)?;
    let saved = save(&t, &resp.body, &opts.save, env)?;
    Ok(Fetched {
        name: t.shown,
        bytes: resp.body,
        saved,
    })
}

/// A wait as messages show it: `60 s`, `0.3 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn opts() -> FetchOptions {
        FetchOptions {
            save: Save::Off,
            ..FetchOptions::default()
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A request as the fake saw it: url, headers, timeout, max_size.
    type Seen = (String, Vec<(String, String)>, Duration, u64);

    /// Answers every request with one canned result and remembers what was asked.
    struct Fake {
        answer: std::result::Result<Response, TransportError>,
        seen: RefCell<Vec<Seen>>,
    }

    impl Fake {
        fn ok(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Fake {
            Fake::answer(Ok(Response {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
            }))
        }
        fn answer(answer: std::result::Result<Response, TransportError>) -> Fake {
            Fake {
                answer,
                seen: RefCell::new(Vec::new()),
            }
        }
    }

    impl Transport for Fake {
        fn get(&self, req: &Request) -> std::result::Result<Response, TransportError> {
            self.seen.borrow_mut().push((
                req.url.to_string(),
                req.headers.to_vec(),
                req.timeout,
                req.max_size,
            ));
            self.answer.clone()
        }
    }

    const GZ: &[u8] = &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0];

    fn err(spec: &str, fake: &Fake) -> String {
        let e = fetch(spec, 1 << 20, &opts(), fake, &no_env).unwrap_err();
        format!("{e:#}")
    }

    #[test]
    fn recognizes_urls_and_shorthands() {
        for s in [
            "http://x",
            "HTTPS://x:1/y",
            "localhost:6060",
            "127.0.0.1:6060/debug/pprof/allocs",
            "[::1]:6060",
            "svc-1.ns.svc:8080/debug/pprof/heap?debug=1",
        ] {
            assert!(is_url(s), "{s}");
        }
        for s in [
            "-",
            "heap.pb.gz",
            "dir/heap:1",
            "host:",
            "host:port",
            ":6060",
            "host:123456",
            "a b:1",
        ] {
            assert!(!is_url(s), "{s}");
        }
    }

    #[test]
    fn host_port_alone_means_the_heap_endpoint() {
        let t = target("localhost:6060", &opts()).unwrap();
        assert_eq!(t.url, "http://localhost:6060/debug/pprof/heap");
        assert_eq!(
            (t.host_port.as_str(), t.endpoint.as_str()),
            ("localhost_6060", "heap")
        );
        assert_eq!(
            target("http://h:1/", &opts()).unwrap().url,
            "http://h:1/debug/pprof/heap"
        );
        let t = target("127.0.0.1:6060/debug/pprof/allocs", &opts()).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:6060/debug/pprof/allocs");
        let t = target("https://[::1]/debug/pprof/profile#frag", &opts()).unwrap();
        assert_eq!(t.url, "https://[::1]/debug/pprof/profile");
        assert_eq!(t.host_port, "__1_443");
    }

    #[test]
    fn timeout_is_one_and_a_half_times_the_duration_else_60s() {
        let t = target("h:1", &opts()).unwrap();
        assert_eq!((t.timeout, t.duration), (DEFAULT_TIMEOUT, None));
        let o = FetchOptions {
            seconds: Some(30),
            ..opts()
        };
        let t = target("h:1/debug/pprof/allocs?seconds=5&gc=1", &o).unwrap();
        assert_eq!(t.url, "http://h:1/debug/pprof/allocs?gc=1&seconds=30");
        assert_eq!(t.timeout, Duration::from_secs(45));
        assert_eq!(t.duration, Some(Duration::from_secs(30)));
        // Without --seconds, a seconds= in the URL is the duration, as pprof reads it.
        let t = target("h:1/debug/pprof/profile?seconds=10", &opts()).unwrap();
        assert_eq!(t.timeout, Duration::from_secs(15));
        // /profile records 30 s by default: shown as expected, but the timeout stays 60 s.
        let t = target("h:1/debug/pprof/profile", &opts()).unwrap();
        assert_eq!(t.duration, Some(Duration::from_secs(30)));
        assert_eq!(t.timeout, DEFAULT_TIMEOUT);
        let o = FetchOptions {
            seconds: Some(30),
            timeout: Some(Duration::from_millis(1500)),
            ..opts()
        };
        let t = target("h:1", &o).unwrap();
        assert_eq!(t.timeout, Duration::from_millis(1500));
        let huge = FetchOptions {
            seconds: Some(u64::MAX),
            ..opts()
        };
        assert_eq!(target("h:1", &huge).unwrap().timeout, MAX_TIMEOUT);
        assert_eq!(t.timeout_reason, "--timeout");
        assert_eq!(t.url, "http://h:1/debug/pprof/heap?seconds=30");
    }

    #[test]
    fn credentials_leave_the_url_and_become_basic_auth() {
        let t = target("http://us%40r:p%3Ass@h:1/debug/pprof/heap", &opts()).unwrap();
        assert_eq!(t.url, "http://h:1/debug/pprof/heap");
        assert_eq!(
            t.credentials,
            Some(("us@r".to_string(), "p:ss".to_string()))
        );
        let h = request_headers(&t, &opts(), &no_env).unwrap();
        // base64("us@r:p:ss")
        assert_eq!(
            h,
            [(
                "Authorization".to_string(),
                "Basic dXNAcjpwOnNz".to_string()
            )]
        );
        assert_eq!(redact("http://u:secret@h:1/x"), "http://u:***@h:1/x");
        let e = target("http://u:secret@h:99999/x", &opts())
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn headers_then_one_authorization_by_precedence() {
        let env = |k: &str| (k == BEARER_ENV || k == "MY_TOKEN").then(|| format!("tok-{k}"));
        let t = target("h:1", &opts()).unwrap();
        let o = FetchOptions {
            headers: vec![("X-A".into(), "1".into()), ("X-B".into(), "2".into())],
            ..opts()
        };
        let h = request_headers(&t, &o, &env).unwrap();
        assert_eq!(h[..2], o.headers[..]);
        assert_eq!(h[2].1, format!("Bearer tok-{BEARER_ENV}"));
        let o = FetchOptions {
            bearer_env: Some("MY_TOKEN".into()),
            ..opts()
        };
        assert_eq!(
            request_headers(&t, &o, &env).unwrap()[0].1,
            "Bearer tok-MY_TOKEN"
        );
        let o = FetchOptions {
            bearer_env: Some("UNSET".into()),
            ..opts()
        };
        let e = request_headers(&t, &o, &env).unwrap_err().to_string();
        assert!(e.contains("--bearer-env UNSET"), "{e}");
        // -H Authorization wins over URL credentials and the bearer token.
        let o = FetchOptions {
            headers: vec![("authorization".into(), "Token x".into())],
            ..opts()
        };
        let t = target("http://u:p@h:1", &opts()).unwrap();
        assert_eq!(request_headers(&t, &o, &env).unwrap(), o.headers);
        // URL credentials win over the ambient bearer token.
        assert!(request_headers(&t, &opts(), &env).unwrap()[0]
            .1
            .starts_with("Basic "));
        assert!(
            request_headers(&target("h:1", &opts()).unwrap(), &opts(), &no_env)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_profile_comes_back_with_its_bytes_and_name() {
        let fake = Fake::ok(200, &[("content-type", "application/octet-stream")], GZ);
        let o = FetchOptions {
            seconds: Some(2),
            ..opts()
        };
        let f = fetch("localhost:6060", 1000, &o, &fake, &no_env).unwrap();
        assert_eq!(f.bytes, GZ);
        assert_eq!(f.name, "http://localhost:6060/debug/pprof/heap?seconds=2");
        let seen = fake.seen.borrow();
        assert_eq!(seen[0].0, f.name);
        assert_eq!((seen[0].2, seen[0].3), (Duration::from_secs(3), 1000));
    }

    #[test]
    fn http_errors_carry_the_first_line_and_a_hint() {
        let fake = Fake::ok(
            404,
            &[
                ("x-go-pprof", "1"),
                ("content-type", "text/plain; charset=utf-8"),
            ],
            b"Unknown profile\nmore\n",
        );
        let e = err("h:1/debug/pprof/nope", &fake);
        assert_eq!(
            e,
            "http://h:1/debug/pprof/nope: server answered 404 Not Found: Unknown profile"
        );
        let fake = Fake::ok(
            404,
            &[("content-type", "text/plain")],
            b"404 page not found\n",
        );
        assert!(err("h:1", &fake).contains("404 page not found; is net/http/pprof registered"));
        for status in [401, 403] {
            let e = err("h:1", &Fake::ok(status, &[], b""));
            assert!(e.contains(&format!("answered {status} ")), "{e}");
            assert!(
                e.contains("-H 'Authorization: ...'") && e.contains(BEARER_ENV),
                "{e}"
            );
        }
        let e = err("h:1", &Fake::ok(500, &[], b"\x00\x01binary"));
        assert_eq!(
            e,
            "http://h:1/debug/pprof/heap: server answered 500 Internal Server Error"
        );
    }

    #[test]
    fn html_text_and_empty_answers_are_not_profiles() {
        let page = b"<!DOCTYPE html><html><head><title>Login</title></head></html>";
        let e = err(
            "h:1",
            &Fake::ok(200, &[("content-type", "text/html")], page),
        );
        assert!(e.contains("sent an HTML page titled \"Login\""), "{e}");
        let text = b"heap profile: 1: 2 [3: 4] @ heap/524288\n";
        let e = err(
            "h:1",
            &Fake::ok(200, &[("content-type", "text/plain")], text),
        );
        assert!(
            e.contains("sent text starting \"heap profile: 1: 2") && e.contains("?debug=1"),
            "{e}"
        );
        // Asked for explicitly, Go's text format is what the decoder then reads.
        let f = fetch(
            "h:1/debug/pprof/heap?debug=1",
            100,
            &opts(),
            &Fake::ok(200, &[], text),
            &no_env,
        );
        assert_eq!(f.unwrap().bytes, text);
        let e = err("h:1", &Fake::ok(200, &[], b""));
        assert!(e.contains("empty body"), "{e}");
        let e = fetch("h:1", 3, &opts(), &Fake::ok(200, &[], GZ), &no_env).unwrap_err();
        assert!(
            e.to_string()
                .contains("over the --max-size limit of 3 bytes"),
            "{e}"
        );
    }

    #[test]
    fn transport_failures_name_the_cause_and_the_fix() {
        let cases = [
            (TransportError::Refused, "connection refused"),
            (
                TransportError::HostNotFound("x".into()),
                "cannot resolve host h",
            ),
            (
                TransportError::Tls("invalid peer certificate: UnknownIssuer".into()),
                "--insecure",
            ),
            (
                TransportError::Tls("received corrupt message".into()),
                "use http://",
            ),
            (
                TransportError::TooLarge(Some(9)),
                "over the --max-size limit of 1048576 bytes (9 bytes)",
            ),
            (TransportError::Other("boom".into()), "fetch failed: boom"),
        ];
        for (e, want) in cases {
            let msg = err("h:1", &Fake::answer(Err(e)));
            assert!(msg.contains(want), "{msg}");
        }
        let msg = err("h:1", &Fake::answer(Err(TransportError::Timeout)));
        assert!(
            msg.contains("timed out") && msg.contains("--timeout SECONDS"),
            "{msg}"
        );
        assert!(msg.contains("the default without --seconds"), "{msg}");
    }

    #[test]
    fn utc_timestamps() {
        let at = |s| utc_timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "19700101T000000Z");
        assert_eq!(at(951_782_400), "20000229T000000Z");
        assert_eq!(at(1_700_000_000), "20231114T221320Z");
        assert_eq!(at(4_102_444_799), "20991231T235959Z");
        // 2100 is not a leap year.
        assert_eq!(at(4_107_542_399), "21000228T235959Z");
        assert_eq!(at(4_107_542_400), "21000301T000000Z");
    }

    #[test]
    fn saves_exact_bytes_under_a_timestamped_name() {
        let dir = tempfile::tempdir().unwrap();
        let t = target("localhost:6060", &opts()).unwrap();
        let name = save_name(&t, GZ, UNIX_EPOCH + Duration::from_secs(1_700_000_000), 0);
        assert_eq!(name, "heapdoc.localhost_6060.heap.20231114T221320Z.pb.gz");
        let t2 = target("my.pb.host:1", &opts()).unwrap();
        assert_eq!(
            save_name(&t2, b"heap profile:", UNIX_EPOCH, 2),
            "heapdoc.my.pb.host_1.heap.19700101T000000Z.2.txt"
        );
        assert!(save_name(&t, b"\x0a\x00", UNIX_EPOCH, 0).ends_with("Z.pb"));
        let how = Save::Dir(dir.path().join("new"));
        let a = save(&t, GZ, &how, &no_env).unwrap().unwrap();
        let b = save(&t, b"second", &how, &no_env).unwrap().unwrap();
        assert_ne!(a, b, "two fetches in one second keep both copies");
        assert_eq!(std::fs::read(&a).unwrap(), GZ);
        assert_eq!(std::fs::read(&b).unwrap(), b"second");
        // --save FILE replaces the file.
        let file = dir.path().join("out.pb.gz");
        std::fs::write(&file, b"old").unwrap();
        save(&t, GZ, &Save::File(file.clone()), &no_env).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), GZ);
        // The default directory: $HEAPDOC_SAVE_DIR, else $HOME/.heapdoc/profiles.
        let home = dir.path().to_string_lossy().into_owned();
        let env = |k: &str| (k == "HOME").then(|| home.clone());
        let p = save(&t, GZ, &Save::DefaultDir, &env).unwrap().unwrap();
        assert!(p.starts_with(dir.path().join(".heapdoc/profiles")), "{p:?}");
        let env = |k: &str| (k == SAVE_DIR_ENV).then(|| format!("{home}/env"));
        let p = save(&t, GZ, &Save::DefaultDir, &env).unwrap().unwrap();
        assert!(p.starts_with(dir.path().join("env")), "{p:?}");
        assert_eq!(save(&t, GZ, &Save::Off, &env).unwrap(), None);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("new"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
