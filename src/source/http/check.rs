//! Whether an answer is a profile: status, content, size; and the one-line error with the
//! flag or fix when it is not.

use super::*;

/// How much of an error response's body is read for its first line.
pub(super) const ERROR_BODY_LIMIT: u64 = 64 * 1024;

pub(super) fn transport_error(
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
            let hint = if detail.contains("UnknownIssuer") {
                "--cacert FILE trusts a private CA; --insecure skips certificate verification"
            } else if detail.to_ascii_lowercase().contains("certificate required")
                || detail.contains("CertificateRequired")
            {
                "the server asks for a client certificate: --cert FILE --key FILE"
            } else if detail.contains("certificate") || detail.contains("Certificate") {
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
pub(super) fn first_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).into_owned();
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut line = line.to_string();
    if line.chars().count() > 200 {
        line = line.chars().take(200).collect::<String>() + "...";
    }
    Some(line)
}

pub(super) fn reason_phrase(status: u16) -> &'static str {
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

pub(super) fn looks_like_html(resp: &Response) -> bool {
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
pub(super) fn looks_like_text(body: &[u8]) -> bool {
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

pub(super) fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(16 * 1024)]).into_owned();
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    Some(text[start..end].trim().to_string()).filter(|t| !t.is_empty())
}

/// Turns a non-2xx status, an HTML page, or unexpected text into an error.
pub(super) fn check_response(t: &Target, resp: &Response, max_size: u64) -> Result<()> {
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
