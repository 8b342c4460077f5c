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
//! one (ureq with rustls and the webpki roots; proxies from `ALL_PROXY`/`HTTPS_PROXY`/
//! `HTTP_PROXY` and `NO_PROXY`, read by ureq).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;

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
/// How much of an error response's body is read for its first line.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

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
    /// Where to keep the raw bytes (`--save FILE`, `--no-save`).
    pub save: Save,
    /// Show elapsed and expected time on stderr while waiting; the binary sets it when
    /// stderr is a terminal.
    pub progress: bool,
}

/// A URL input after applying the fetch rules: what to request and how long to wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The URL requested, without credentials.
    pub url: String,
    /// `url` with the values of token-like query parameters (`access_token=`, `key=`, ...)
    /// replaced by `***`: the input's name in messages and reports (issue 16, finding 12).
    pub shown: String,
    /// The host as written (brackets kept for IPv6), for messages.
    pub host: String,
    /// `user:pass@` from the URL, percent-decoded.
    pub credentials: Option<(String, String)>,
    /// `host_port`, for the saved file's name.
    pub host_port: String,
    /// The path's last segment (`heap`, `allocs`, `profile`), for the saved file's name.
    pub endpoint: String,
    /// The URL asks for Go's text format (`debug=N`, N > 0): a text answer is expected.
    pub debug_text: bool,
    /// The profiling duration the server will take, when known.
    pub duration: Option<Duration>,
    /// How long to wait for the whole response.
    pub timeout: Duration,
    /// Why `timeout` has its value, for the timeout error.
    pub timeout_reason: String,
}

/// True when `spec` names a URL: `http://`, `https://`, or `host:port[/path]`. The caller
/// checks first that no file of that name exists (an existing path wins).
pub fn is_url(spec: &str) -> bool {
    scheme_len(spec).is_some() || shorthand(spec)
}

fn scheme_len(spec: &str) -> Option<usize> {
    ["http://", "https://"]
        .into_iter()
        .find(|s| spec.len() >= s.len() && spec[..s.len()].eq_ignore_ascii_case(s))
        .map(str::len)
}

/// `host:port` or `host:port/path`, host a name, an IPv4 address or `[v6]`.
fn shorthand(spec: &str) -> bool {
    let authority = spec.split('/').next().unwrap_or("");
    let Some((host, port)) = split_host_port(authority) else {
        return false;
    };
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    };
    host_ok
        && port
            .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Splits `host[:port]`, keeping the brackets of an IPv6 host.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    Some(match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    })
}

/// Applies the fetch rules to a URL input (see the module doc).
pub fn target(spec: &str, opts: &FetchOptions) -> Result<Target> {
    let (scheme, rest) = match scheme_len(spec) {
        Some(n) => (spec[..n - 3].to_ascii_lowercase(), &spec[n..]),
        None => ("http".to_string(), spec),
    };
    let (userinfo, host_port, path_query) = split_authority(rest, false);
    let path_query = path_query.split('#').next().unwrap_or("");
    let Some((host, port)) = split_host_port(host_port) else {
        bail!("{}: malformed host in URL", redact(spec));
    };
    if host.is_empty() {
        bail!("{}: URL has no host", redact(spec));
    }
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            bail!("{}: bad port {p:?} in URL", redact(spec));
        }
    }
    let credentials = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        (percent_decode(user), percent_decode(pass))
    });
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_query, ""),
    };
    let path = if path.is_empty() || path == "/" {
        DEFAULT_PATH
    } else {
        path
    };
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect();
    let endpoint = path
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("profile")
        .to_string();
    let is_cpu = endpoint == "profile";

    let duration_secs = if let Some(n) = opts.seconds {
        params.retain(|(k, _)| k != "seconds");
        params.push(("seconds".to_string(), n.to_string()));
        Some(n)
    } else {
        params
            .iter()
            .find(|(k, _)| k == "seconds")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .filter(|&n| n > 0)
    };
    let debug_text = params
        .iter()
        .any(|(k, v)| k == "debug" && v.parse::<u64>().is_ok_and(|n| n > 0));
    // The server's own default applies to /profile without seconds=; pprof's timeout rule
    // does not count it (60 s is more than 30 s anyway), but the progress line shows it.
    let duration = duration_secs
        .or(is_cpu.then_some(CPU_DEFAULT_SECONDS))
        .map(Duration::from_secs);
    let (timeout, timeout_reason) = match (opts.timeout, duration_secs) {
        (Some(t), _) => (t, "--timeout".to_string()),
        (None, Some(n)) => (
            Duration::from_secs(n).saturating_add(Duration::from_secs(n) / 2),
            format!("the default, 1.5 x {n} s of profiling"),
        ),
        (None, None) => (DEFAULT_TIMEOUT, "the default without --seconds".to_string()),
    };

    // Deadlines are Instant + timeout, which must not overflow.
    let timeout = timeout.min(MAX_TIMEOUT);
    let mut url = format!("{scheme}://{host_port}{path}");
    if !params.is_empty() {
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        url.push('?');
        url.push_str(&q.join("&"));
    }
    let port = port
        .map(str::to_string)
        .unwrap_or_else(|| if scheme == "https" { "443" } else { "80" }.to_string());
    Ok(Target {
        shown: redact_query(&url),
        url,
        host: host.to_string(),
        credentials,
        host_port: file_safe(&format!(
            "{}_{port}",
            host.trim_start_matches('[').trim_end_matches(']')
        )),
        endpoint: file_safe(&endpoint),
        debug_text,
        duration,
        timeout,
        timeout_reason,
    })
}

/// Splits what follows a URL's scheme into userinfo, `host[:port]` and the rest (path,
/// query, fragment). The authority normally ends at the first `/`, `?` or `#`; a password
/// may hold those unencoded (`alice:hun/ter2@host`), so when that authority has no `@` and is
/// no valid `host[:port]` while an `@` follows, everything up to that `@` is the userinfo.
/// `for_messages` takes that reading whenever the part before the `@` looks like `user:pass`,
/// so a message never shows a password even for a URL [`target`] refuses.
fn split_authority(rest: &str, for_messages: bool) -> (Option<&str>, &str, &str) {
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if let Some((u, h)) = authority.rsplit_once('@') {
        return (Some(u), h, tail);
    }
    let valid = split_host_port(authority)
        .is_some_and(|(h, p)| !h.is_empty() && p.is_none_or(|p| p.parse::<u16>().is_ok()));
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        let after = &rest[at + 1..];
        let host_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let looks_like_creds = userinfo
            .split_once(':')
            .is_some_and(|(user, _)| !user.is_empty() && !user.contains(['/', '?', '#']));
        if looks_like_creds && host_end > 0 && (!valid || for_messages) {
            return (Some(userinfo), &after[..host_end], &after[host_end..]);
        }
    }
    (None, authority, tail)
}

/// The spec with any password and token-like query values replaced, for messages.
fn redact(spec: &str) -> String {
    let start = scheme_len(spec).unwrap_or(0);
    let rest = &spec[start..];
    let (userinfo, host, tail) = split_authority(rest, true);
    let shown = match userinfo {
        Some(userinfo) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***@{host}{tail}", &spec[..start])
        }
        None => spec.to_string(),
    };
    redact_query(&shown)
}

/// Query parameter names whose values are secrets: they are shown as `***`.
fn is_secret_param(name: &str) -> bool {
    let n = percent_decode(name).to_ascii_lowercase();
    [
        "token", "key", "sig", "pass", "pwd", "secret", "auth", "cred", "session", "jwt",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `url` with the values of token-like query parameters replaced by `***`.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if is_secret_param(k) => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    let mut out = format!("{base}?{}", parts.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The request headers: `-H` ones, then `Authorization` from the URL's credentials or the
/// bearer token unless `-H` gave one. `env` looks up environment variables.
pub fn request_headers(
    target: &Target,
    opts: &FetchOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>> {
    let mut headers = opts.headers.clone();
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        return Ok(headers);
    }
    if let Some((user, pass)) = &target.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        headers.push(("Authorization".to_string(), format!("Basic {token}")));
        return Ok(headers);
    }
    let token = match &opts.bearer_env {
        Some(var) => Some(env(var).filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            anyhow!("--bearer-env {var}: the environment variable {var} is not set or empty")
        })?),
        None => env(BEARER_ENV).filter(|t| !t.trim().is_empty()),
    };
    if let Some(token) = token {
        headers.push((
            "Authorization".to_string(),
            format!("Bearer {}", token.trim()),
        ));
    }
    Ok(headers)
}

/// One GET request as the fetcher asks for it.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    /// For the whole exchange, body included.
    pub timeout: Duration,
    /// Largest body accepted from a successful (2xx) answer.
    pub max_size: u64,
    /// Skip TLS certificate verification.
    pub insecure: bool,
}

/// An HTTP answer of any status.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    /// The whole body for 2xx answers (at most `max_size` bytes), a prefix otherwise.
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no answer came: the cases with their own message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Nothing listens on the port.
    Refused,
    /// The host name does not resolve.
    HostNotFound(String),
    /// No complete answer within the timeout.
    Timeout,
    /// The TLS handshake failed.
    Tls(String),
    /// A 2xx body larger than `max_size` (its Content-Length when the server sent one).
    TooLarge(Option<u64>),
    /// Anything else, described.
    Other(String),
}

/// The network, behind a trait so tests can fake it.
pub trait Transport {
    fn get(&self, req: &Request) -> std::result::Result<Response, TransportError>;
}

/// The real transport: ureq, rustls with the webpki roots, proxies from the environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct UreqTransport;

impl Transport for UreqTransport {
    fn get(&self, req: &Request) -> std::result::Result<Response, TransportError> {
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(req.insecure)
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(req.timeout))
            .tls_config(tls)
            .user_agent(concat!("heapdoc/", env!("CARGO_PKG_VERSION")))
            // Redirects are followed below, so headers can be chosen per hop.
            .max_redirects(0)
            .build()
            .new_agent();
        let deadline = Instant::now() + req.timeout;
        let origin = origin_of(req.url);
        let mut url = req.url.to_string();
        let mut hops = 0;
        let resp = loop {
            // Another scheme, host or port gets only headers that carry no credentials:
            // ureq dropped Authorization there, but `-H 'X-Api-Key: …'` followed
            // (issue 16, finding 15).
            let same_origin = origin_of(&url) == origin;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TransportError::Timeout);
            }
            let mut rb = agent.get(&url).config().timeout_global(Some(left)).build();
            for (k, v) in req.headers {
                if same_origin || is_safe_header(k) {
                    rb = rb.header(k.as_str(), v.as_str());
                }
            }
            let https = url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
            let resp = rb.call().map_err(|e| classify(e, https))?;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(loc)) => {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(TransportError::Other(format!(
                            "more than {MAX_REDIRECTS} redirects"
                        )));
                    }
                    url = redirect_target(&url, &loc).ok_or_else(|| {
                        TransportError::Other(format!(
                            "redirected to {:?}, which is not an http(s) URL",
                            redact(&loc)
                        ))
                    })?;
                }
                _ => break resp,
            }
        };
        let https = url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
        let classify = |e| classify(e, https);
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = resp.into_body();
        if !(200..300).contains(&status) {
            let mut prefix = Vec::new();
            // A partial or failed read still leaves what the message needs.
            let _ = body
                .as_reader()
                .take(ERROR_BODY_LIMIT)
                .read_to_end(&mut prefix);
            return Ok(Response {
                status,
                headers,
                body: prefix,
            });
        }
        if let Some(len) = body.content_length().filter(|&n| n > req.max_size) {
            return Err(TransportError::TooLarge(Some(len)));
        }
        // Grown as bytes arrive, with a memory failure named as such (issue 16, finding 10).
        let bytes = match crate::decode::read_capped(
            body.with_config()
                .limit(req.max_size.saturating_add(1))
                .reader(),
            req.max_size,
            0,
        ) {
            Ok(b) => b,
            Err(crate::decode::ReadError::TooLarge) => return Err(TransportError::TooLarge(None)),
            Err(crate::decode::ReadError::Io(e)) => return Err(classify(ureq::Error::Io(e))),
            Err(e) => return Err(TransportError::Other(e.to_string())),
        };
        Ok(Response {
            status,
            headers,
            body: bytes,
        })
    }
}

/// Maps ureq's errors to the cases that have their own message.
/// Redirects followed before giving up (ureq's default).
const MAX_REDIRECTS: u32 = 10;

/// Headers sent to another origin after a redirect: none that can carry a credential.
fn is_safe_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "accept" | "accept-encoding" | "accept-language" | "user-agent" | "cache-control"
    )
}

/// `scheme://host:port` of a URL, lowercased, with the scheme's default port made explicit.
fn origin_of(url: &str) -> String {
    let n = scheme_len(url).unwrap_or(0);
    let scheme = url[..n].to_ascii_lowercase();
    let rest = &url[n..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut authority = rest[..end].to_ascii_lowercase();
    if let Some((_, host)) = authority.rsplit_once('@') {
        authority = host.to_string();
    }
    let has_port = split_host_port(&authority).is_some_and(|(_, p)| p.is_some());
    if !has_port {
        authority.push_str(if scheme == "https://" { ":443" } else { ":80" });
    }
    format!("{scheme}{authority}")
}

/// The URL a `Location` header names, relative to `base`; None unless it is http(s).
fn redirect_target(base: &str, loc: &str) -> Option<String> {
    let loc = loc.trim();
    let lower = loc.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(loc.to_string());
    }
    if scheme_len(loc).is_some() || lower.contains(':') && !lower.starts_with('/') {
        // Another scheme (file:, gopher:, javascript:, …).
        let colon = lower.find(':')?;
        if !lower[..colon].contains(['/', '?', '#']) {
            return None;
        }
    }
    let n = scheme_len(base)?;
    if let Some(rest) = loc.strip_prefix("//") {
        return Some(format!("{}{rest}", &base[..n]));
    }
    let after = &base[n..];
    let auth_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let root = &base[..n + auth_end];
    if loc.starts_with('/') {
        return Some(format!("{root}{loc}"));
    }
    let path = &after[auth_end..];
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    Some(format!("{root}{dir}{loc}"))
}

fn classify(e: ureq::Error, https: bool) -> TransportError {
    match e {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::HostNotFound => TransportError::HostNotFound("no address found".into()),
        ureq::Error::BodyExceedsLimit(_) => TransportError::TooLarge(None),
        ureq::Error::Rustls(e) => TransportError::Tls(e.to_string()),
        ureq::Error::Tls(e) => TransportError::Tls(e.to_string()),
        ureq::Error::Pem(e) => TransportError::Tls(e.to_string()),
        ureq::Error::Io(io) => {
            // A ureq error that travelled through a reader comes back wrapped in io::Error.
            if io.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
                return classify(ureq::Error::from(io), https);
            }
            let msg = io.to_string();
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => TransportError::Refused,
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                    TransportError::Timeout
                }
                // std's getaddrinfo failure has no stable ErrorKind, only this message.
                _ if msg.contains("failed to lookup address") => TransportError::HostNotFound(msg),
                // rustls reports a bad handshake (a plain-HTTP answer, say) as InvalidData.
                std::io::ErrorKind::InvalidData if https => TransportError::Tls(msg),
                _ => TransportError::Other(msg),
            }
        }
        other => TransportError::Other(other.to_string()),
    }
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
/// Prints to stderr, as the exception to "functions never print": the progress line while
/// waiting, and the saved copy's path at once, so the user learns it even if decoding fails.
pub fn fetch(
    spec: &str,
    max_size: u64,
    opts: &FetchOptions,
    transport: &dyn Transport,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Fetched> {
    let t = target(spec, opts)?;
    let headers = request_headers(&t, opts, env)?;
    let req = Request {
        url: &t.url,
        headers: &headers,
        timeout: t.timeout,
        max_size,
        insecure: opts.insecure,
    };
    let started = Instant::now();
    let progress = opts
        .progress
        .then(|| Progress::start(&t.shown, t.duration, t.timeout));
    let result = transport.get(&req);
    drop(progress);
    let resp = result.map_err(|e| transport_error(&t, e, max_size, started.elapsed(), opts))?;
    check_response(&t, &resp, max_size)?;
    let saved = save(&t, &resp.body, &opts.save, env)?;
    Ok(Fetched {
        name: t.shown,
        bytes: resp.body,
        saved,
    })
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

fn transport_error(
    t: &Target,
    e: TransportError,
    max_size: u64,
    waited: Duration,
    opts: &FetchOptions,
) -> anyhow::Error {
    let url = &t.shown;
    match e {
        TransportError::Refused => {
            anyhow!("{url}: connection refused: is the service running, serving net/http/pprof on that port?")
        }
        TransportError::HostNotFound(detail) => {
            anyhow!(
                "{url}: cannot resolve host {} (DNS lookup failed: {detail})",
                t.host
            )
        }
        TransportError::Timeout => {
            let how = if opts.timeout.is_some() {
                "raise --timeout SECONDS".to_string()
            } else {
                "set a longer one with --timeout SECONDS".to_string()
            };
            anyhow!(
                "{url}: timed out: no complete answer after waiting {} (the timeout, {}); {how}",
                secs(waited),
                t.timeout_reason
            )
        }
        TransportError::Tls(detail) => {
            let hint = if detail.contains("certificate") || detail.contains("Certificate") {
                "--insecure skips certificate verification"
            } else {
                "does the port speak plain HTTP? then use http://"
            };
            anyhow!("{url}: TLS handshake failed: {detail}; {hint}")
        }
        TransportError::TooLarge(len) => {
            let got = len.map(|n| format!(" ({n} bytes)")).unwrap_or_default();
            anyhow!("{url}: response body is over the --max-size limit of {max_size} bytes{got}; raise --max-size")
        }
        TransportError::Other(detail) => anyhow!("{url}: fetch failed: {detail}"),
    }
}

/// The first non-empty line of a body, trimmed and shortened, for messages.
fn first_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut line = line.to_string();
    if line.chars().count() > 200 {
        line = line.chars().take(200).collect::<String>() + "...";
    }
    Some(line)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn looks_like_html(resp: &Response) -> bool {
    let ct = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let head = String::from_utf8_lossy(&resp.body[..resp.body.len().min(256)])
        .trim_start()
        .to_ascii_lowercase();
    ct.contains("text/html") || head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// Text rather than a binary profile: valid UTF-8 without control bytes in its first KiB.
fn looks_like_text(body: &[u8]) -> bool {
    let head = &body[..body.len().min(1024)];
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the 1 KiB boundary is still text.
        Err(e) => e.error_len().is_none(),
    };
    valid
        && head
            .iter()
            .all(|&b| b >= 0x20 || b == b'\n' || b == b'\r' || b == b'\t')
}

fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]).into_owned();
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    Some(text[start..end].trim().to_string()).filter(|t| !t.is_empty())
}

/// Turns a non-2xx status, an HTML page, or unexpected text into an error.
fn check_response(t: &Target, resp: &Response, max_size: u64) -> Result<()> {
    let url = &t.shown;
    if !(200..300).contains(&resp.status) {
        let status = format!("{} {}", resp.status, reason_phrase(resp.status))
            .trim_end()
            .to_string();
        let ct = resp
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        // Go's net/http/pprof marks its own errors (bad seconds=, unknown profile) with X-Go-Pprof;
        // pprof prints their body. Other plain-text bodies ("404 page not found") help too.
        let detail = if resp.header("x-go-pprof").is_some() || ct.starts_with("text/plain") {
            first_line(&resp.body)
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        } else if looks_like_html(resp) {
            html_title(&resp.body)
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let hint = match resp.status {
            401 | 403 => format!(
                "; the endpoint wants credentials: pass -H 'Authorization: ...', user:pass@ in the URL, or a bearer token in ${BEARER_ENV} (--bearer-env VAR)"
            ),
            404 if resp.header("x-go-pprof").is_none() => {
                "; is net/http/pprof registered on this server, under /debug/pprof/?".to_string()
            }
            _ => String::new(),
        };
        bail!("{url}: server answered {status}{detail}{hint}");
    }
    if resp.body.len() as u64 > max_size {
        bail!("{url}: response body is over the --max-size limit of {max_size} bytes; raise --max-size");
    }
    if resp.body.is_empty() {
        bail!(
            "{url}: the server answered {} with an empty body, not a profile",
            resp.status
        );
    }
    if looks_like_html(resp) {
        let what = html_title(&resp.body)
            .map(|t| format!(" titled {t:?}"))
            .unwrap_or_default();
        bail!(
            "{url}: expected a profile but the server sent an HTML page{what} (an index, login or error page?); pprof endpoints are /debug/pprof/heap, /debug/pprof/allocs, /debug/pprof/profile"
        );
    }
    if !t.debug_text && !resp.body.starts_with(&[0x1f, 0x8b]) && looks_like_text(&resp.body) {
        let line = first_line(&resp.body).unwrap_or_default();
        let hint = if line.starts_with("heap profile:") {
            " (Go's text heap format: add ?debug=1 to the URL to read it as such)"
        } else {
            ""
        };
        bail!("{url}: expected a binary profile but the server sent text starting {line:?}{hint}");
    }
    Ok(())
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (never negative here).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A line on stderr that is dropped when stderr is closed or a broken pipe (`eprintln!`
/// panics there; issue 16).
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

/// The saved copy's file name: `heapdoc.<host_port>.<endpoint>.<timestamp>[.<n>].<ext>`,
/// `n` telling apart copies made within one second, the extension from the content
/// (`pb.gz`, `pb`, or `txt` for Go's debug text).
pub fn save_name(t: &Target, body: &[u8], now: SystemTime, n: u32) -> String {
    let ext = if body.starts_with(&[0x1f, 0x8b]) {
        "pb.gz"
    } else if looks_like_text(body) {
        "txt"
    } else {
        "pb"
    };
    let n = if n == 0 {
        String::new()
    } else {
        format!(".{n}")
    };
    format!(
        "heapdoc.{}.{}.{}{n}.{ext}",
        t.host_port,
        t.endpoint,
        utc_timestamp(now)
    )
}

fn save(
    t: &Target,
    body: &[u8],
    how: &Save,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<PathBuf>> {
    let dir = match how {
        Save::Off => return Ok(None),
        Save::File(path) => {
            crate::output::write_file(path, body)
                .with_context(|| format!("--save {}: cannot write", path.display()))?;
            note!("heapdoc: saved fetched profile to {}", path.display());
            return Ok(Some(path.clone()));
        }
        Save::Dir(dir) => dir.clone(),
        Save::DefaultDir => match env(SAVE_DIR_ENV).filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => match env("HOME").filter(|h| !h.is_empty()) {
                Some(home) => Path::new(&home).join(".heapdoc").join("profiles"),
                None => {
                    note!("heapdoc: warning: not keeping a copy of the fetched profile: neither ${SAVE_DIR_ENV} nor $HOME is set (--save FILE keeps one)");
                    return Ok(None);
                }
            },
        },
    };
    // The copy is a convenience: failing to keep it must not fail the analysis.
    let now = SystemTime::now();
    let result = std::fs::create_dir_all(&dir)
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            // Two fetches of one endpoint within a second get distinct names.
            for n in 0..100 {
                let path = dir.join(save_name(t, body, now, n));
                match write_new(&path, body) {
                    Ok(()) => return Ok(path),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            bail!("too many copies named {}", save_name(t, body, now, 0))
        });
    match result {
        Ok(path) => {
            note!("heapdoc: saved fetched profile to {}", path.display());
            Ok(Some(path))
        }
        Err(e) => {
            note!("heapdoc: warning: cannot keep a copy of the fetched profile in {}: {e:#} (--no-save skips it)", dir.display());
            Ok(None)
        }
    }
}

/// Writes a new file (never over an existing one) through a temporary file in the same
/// directory, then renames it into place, so a reader never sees a partial profile.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".heapdoc-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let _guard = crate::output::signals::Guard::new(tmp.path());
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    Ok(())
}

/// The progress line on stderr: elapsed and expected time, redrawn until dropped. It first
/// appears after a second so quick fetches print nothing.
struct Progress {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Progress {
    fn start(url: &str, expected: Option<Duration>, timeout: Duration) -> Progress {
        let (tx, rx) = mpsc::channel::<()>();
        let url = url.to_string();
        let handle = thread::spawn(move || {
            let start = Instant::now();
            let mut drawn = false;
            while let Err(mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(Duration::from_millis(250))
            {
                let elapsed = start.elapsed();
                if elapsed < Duration::from_secs(1) {
                    continue;
                }
                let expect = match expected {
                    Some(d) => format!(" of ~{} s", d.as_secs()),
                    None => String::new(),
                };
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2Kheapdoc: fetching {url}: {} s{expect} (timeout {})",
                    elapsed.as_secs(),
                    secs(timeout)
                );
                let _ = err.flush();
                drawn = true;
            }
            if drawn {
                let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
            }
        });
        Progress {
            stop: Some(tx),
            handle: Some(handle),
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
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
