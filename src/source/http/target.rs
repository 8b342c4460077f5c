//! A URL input read by pprof's rules: what to request, with which credentials and headers,
//! how long to wait, and how it is shown in messages (secrets redacted).

use super::*;

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

pub(super) fn scheme_len(spec: &str) -> Option<usize> {
    ["http://", "https://"]
        .into_iter()
        .find(|s| spec.len() >= s.len() && spec[..s.len()].eq_ignore_ascii_case(s))
        .map(str::len)
}

/// `host:port` or `host:port/path`, host a name, an IPv4 address or `[v6]`.
pub(super) fn shorthand(spec: &str) -> bool {
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
pub(super) fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
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
pub(super) fn split_authority(rest: &str, for_messages: bool) -> (Option<&str>, &str, &str) {
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
pub(super) fn redact(spec: &str) -> String {
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
pub(super) fn is_secret_param(name: &str) -> bool {
    let n = percent_decode(name).to_ascii_lowercase();
    [
        "token", "key", "sig", "pass", "pwd", "secret", "auth", "cred", "session", "jwt",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// `url` with the values of token-like query parameters replaced by `***`.
pub(super) fn redact_query(url: &str) -> String {
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

pub(super) fn percent_decode(s: &str) -> String {
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
