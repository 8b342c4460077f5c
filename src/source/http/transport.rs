//! The network behind a trait ([`Transport`]) so tests can fake it; [`UreqTransport`] is the
//! real one (ureq, rustls, the system and Mozilla roots, `--cacert`, client certificates).

use super::*;

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
    /// Trust roots and client certificate, loaded once per fetch.
    pub tls: &'a Tls,
}

/// PEM files for https:// inputs, as curl and go tool pprof take them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--cacert FILE`: more trusted CA certificates (PEM), beside the system's and the
    /// bundled Mozilla roots.
    pub cacert: Option<std::path::PathBuf>,
    /// `--cert FILE`: the client certificate chain (PEM) for servers that ask for one.
    pub cert: Option<std::path::PathBuf>,
    /// `--key FILE`: the client certificate's private key (PEM; PKCS#8, PKCS#1 or SEC1).
    pub key: Option<std::path::PathBuf>,
}

/// Loaded TLS material: the trusted roots (system, bundled Mozilla roots, `--cacert`) and the
/// client certificate.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    roots: Vec<ureq::tls::Certificate<'static>>,
    client: Option<ureq::tls::ClientCert>,
}

impl Tls {
    /// Reads the files; a file that cannot be read or holds no certificate (or key) is an
    /// error naming the flag and the file.
    pub fn load(files: &TlsFiles) -> Result<Tls> {
        use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey};
        let read = |flag: &str, path: &std::path::Path| -> Result<Vec<u8>> {
            std::fs::read(path).with_context(|| format!("{flag} {}: cannot read", path.display()))
        };
        let certs = |flag: &str, path: &std::path::Path| -> Result<Vec<Certificate<'static>>> {
            let pem = read(flag, path)?;
            let mut out = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(PemItem::Certificate(c)) => out.push(c),
                    Ok(_) => {}
                    Err(e) => bail!("{flag} {}: not PEM: {e}", path.display()),
                }
            }
            if out.is_empty() {
                bail!("{flag} {}: no PEM certificate in the file", path.display());
            }
            Ok(out)
        };
        // The system's roots (as curl and Go use them), then Mozilla's bundled set, so a
        // machine without a CA store still reaches public endpoints.
        let mut roots: Vec<Certificate<'static>> = Vec::new();
        let native = rustls_native_certs::load_native_certs();
        for c in native.certs {
            roots.push(Certificate::from_der(c.as_ref()).to_owned());
        }
        for c in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            roots.push(Certificate::from_der(c.as_ref()).to_owned());
        }
        if let Some(path) = &files.cacert {
            roots.extend(certs("--cacert", path)?);
        }
        let client = match (&files.cert, &files.key) {
            (None, None) => None,
            (Some(_), None) => bail!("--cert needs --key (the client certificate's private key)"),
            (None, Some(_)) => bail!("--key needs --cert (the client certificate)"),
            (Some(cert), Some(key)) => {
                let chain = certs("--cert", cert)?;
                let pem = read("--key", key)?;
                let key = PrivateKey::from_pem(&pem).map_err(|e| {
                    anyhow!(
                        "--key {}: no PEM private key in the file ({e})",
                        key.display()
                    )
                })?;
                Some(ClientCert::new_with_certs(&chain, key))
            }
        };
        Ok(Tls { roots, client })
    }
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
        let mut tls = ureq::tls::TlsConfig::builder()
            .disable_verification(req.insecure)
            .client_cert(req.tls.client.clone());
        if !req.tls.roots.is_empty() {
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&req.tls.roots));
        }
        let tls = tls.build();
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

/// Redirects followed before giving up (ureq's default).
pub(super) const MAX_REDIRECTS: u32 = 10;

/// Headers sent to another origin after a redirect: none that can carry a credential.
pub(super) fn is_safe_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "accept" | "accept-encoding" | "accept-language" | "user-agent" | "cache-control"
    )
}

/// `scheme://host:port` of a URL, lowercased, with the scheme's default port made explicit.
pub(super) fn origin_of(url: &str) -> String {
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
pub(super) fn redirect_target(base: &str, loc: &str) -> Option<String> {
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

/// Maps ureq's errors to the cases that have their own message.
pub(super) fn classify(e: ureq::Error, https: bool) -> TransportError {
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
