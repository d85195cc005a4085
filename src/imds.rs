//! `Imds`: the one metadata-service client. It owns the connection details,
//! the retry policy (connection errors, 5xx and 429 are retried with backoff
//! until `IMDS_DEADLINE`; a 404 is a final answer) and session tokens
//! (AWS IMDSv2: one token per process). Clouds only describe *where* things
//! are, through an `ImdsSpec`.

use crate::error::{Error, Result};
use crate::http::{self, Request, Response};
use crate::settings::Settings;
use std::time::{Duration, Instant};

/// Body of any single metadata answer; user-data is the big one (16 KiB on
/// AWS, a few hundred KiB elsewhere), so this is generous.
pub const MAX_BODY: usize = 16 * 1024 * 1024;
/// One attempt may not take longer than this, so a hung server is retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// A session token the service hands out (AWS IMDSv2).
pub struct TokenSpec {
    pub path: &'static str,
    pub ttl_header: &'static str,
    pub header: &'static str,
}

/// What a cloud's metadata service looks like.
pub struct ImdsSpec {
    pub default_endpoint: &'static str,
    /// Prefix of every path, e.g. `/latest/`.
    pub base: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    /// Appended to every request, e.g. `api-version=2021-05-01`.
    pub query: Option<&'static str>,
    pub token: Option<TokenSpec>,
    /// A header every genuine answer carries (GCP's `Metadata-Flavor`).
    pub response_header: Option<(&'static str, &'static str)>,
}

enum Token {
    Unfetched,
    /// The service has no token endpoint (IMDSv1 only).
    Unsupported,
    Held(String),
}

pub struct Imds {
    spec: &'static ImdsSpec,
    /// The spec's base, or the path of a URL given at run time (NoCloud seeds).
    base: String,
    host: String,
    port: u16,
    authority: String,
    deadline: Duration,
    token_ttl: u32,
    token: Token,
}

impl Imds {
    pub fn new(spec: &'static ImdsSpec, settings: &Settings) -> Result<Imds> {
        let authority = settings
            .imds_endpoint
            .as_deref()
            .unwrap_or(spec.default_endpoint);
        let (host, port) = http::parse_authority(authority)
            .map_err(|why| Error::msg(format!("invalid IMDS endpoint '{authority}': {why}")))?;
        Ok(Imds::with(
            spec,
            spec.base.to_string(),
            host,
            port,
            authority,
            settings,
        ))
    }

    fn with(
        spec: &'static ImdsSpec,
        base: String,
        host: String,
        port: u16,
        authority: &str,
        settings: &Settings,
    ) -> Imds {
        Imds {
            spec,
            base,
            host,
            port,
            authority: authority.to_string(),
            deadline: settings.imds_deadline,
            token_ttl: settings.imds_token_ttl,
            token: Token::Unfetched,
        }
    }

    /// A client for a plain `http://host[:port]/path/` URL (a NoCloud
    /// `seedfrom`): no headers, no tokens, `IMDS_ENDPOINT` ignored, but the
    /// same retry policy and `IMDS_DEADLINE` as every metadata service.
    pub fn from_url(url: &str, settings: &Settings) -> Result<Imds> {
        static PLAIN: ImdsSpec = ImdsSpec {
            default_endpoint: "",
            base: "/",
            headers: &[],
            query: None,
            token: None,
            response_header: None,
        };
        let bad = |why: &str| Error::msg(format!("invalid URL '{url}': {why}"));
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// is supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        // The path goes into the request line verbatim, so it may hold
        // nothing that could end or extend that line.
        if !path.bytes().all(|b| b.is_ascii_graphic()) || path.contains(['?', '#']) {
            return Err(bad(
                "the path may only hold printable ASCII, without spaces, '?' or '#'",
            ));
        }
        let (host, port) = http::parse_authority(authority).map_err(|why| bad(&why))?;
        let mut base = path.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Imds::with(&PLAIN, base, host, port, authority, settings))
    }

    fn url(&self, target: &str) -> String {
        format!("http://{}{target}", self.authority)
    }

    /// GETs `path` (relative to the cloud's base); 404 → `Error::NotFound`.
    pub fn get(&mut self, path: &str) -> Result<Vec<u8>> {
        let target = self.target(path)?;
        self.ensure_token()?;
        let mut response = self.request("GET", &target, true)?;
        if response.status == 401 && matches!(self.token, Token::Held(_)) {
            // The token expired (its TTL is short by default): get a new one, once.
            self.token = Token::Unfetched;
            self.ensure_token()?;
            response = self.request("GET", &target, true)?;
        }
        match response.status {
            200 => {
                if let Some((name, value)) = self.spec.response_header {
                    if response.header(name) != Some(value) {
                        return Err(Error::msg(format!(
                            "{}: answer lacks '{name}: {value}'; not the real metadata service?",
                            self.url(&target)
                        )));
                    }
                }
                Ok(response.body)
            }
            404 => Err(Error::NotFound(self.url(&target))),
            status => Err(Error::msg(format!(
                "metadata service answered HTTP {status} for {}",
                self.url(&target)
            ))),
        }
    }

    /// The request target for `path`: the base, then the path (one `/`
    /// between them, none when the path is empty, as Azure's document root
    /// is `/metadata/instance?…`), then the cloud's own query parameters
    /// before any the caller gave.
    fn target(&self, path: &str) -> Result<String> {
        // The path goes into the request line verbatim; a space or line
        // break would split it and let an argument forge headers.
        if path.bytes().any(|b| !b.is_ascii_graphic() || b == b'#') {
            return Err(Error::msg(format!(
                "invalid metadata path {path:?}: only printable ASCII without spaces or '#'"
            )));
        }
        let (path, extra) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let path = path.trim_start_matches('/');
        let mut target = self.base.clone();
        if !path.is_empty() {
            if !target.ends_with('/') {
                target.push('/');
            }
            target.push_str(path);
        }
        let params: Vec<&str> = self
            .spec
            .query
            .into_iter()
            .chain(extra.filter(|q| !q.is_empty()))
            .collect();
        if !params.is_empty() {
            target.push('?');
            target.push_str(&params.join("&"));
        }
        Ok(target)
    }

    pub fn get_text(&mut self, path: &str) -> Result<String> {
        let bytes = self.get(path)?;
        String::from_utf8(bytes)
            .map_err(|_| Error::msg(format!("metadata {path}: not valid UTF-8 text")))
    }

    fn ensure_token(&mut self) -> Result<()> {
        let Some(spec) = &self.spec.token else {
            return Ok(());
        };
        if !matches!(self.token, Token::Unfetched) {
            return Ok(());
        }
        let response = self.request("PUT", spec.path, false)?;
        self.token = match response.status {
            200 => {
                let token = String::from_utf8(response.body)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty() && !t.contains(['\r', '\n']))
                    .ok_or_else(|| Error::msg("metadata service returned an unusable token"))?;
                Token::Held(token)
            }
            // Only "there is no token endpoint" allows falling back to IMDSv1.
            404 | 405 => Token::Unsupported,
            status => {
                return Err(Error::msg(format!(
                    "metadata service refused a session token: HTTP {status} for {}",
                    self.url(spec.path)
                )));
            }
        };
        Ok(())
    }

    /// One request, retried on connection errors, 5xx and 429 until the deadline.
    fn request(&self, method: &str, target: &str, with_token: bool) -> Result<Response> {
        let ttl = self.token_ttl.to_string();
        let mut headers: Vec<(&str, &str)> = self.spec.headers.to_vec();
        if let Some(spec) = &self.spec.token {
            if method == "PUT" {
                headers.push((spec.ttl_header, &ttl));
            } else if let (true, Token::Held(t)) = (with_token, &self.token) {
                headers.push((spec.header, t));
            }
        }
        let req = Request {
            method,
            host: &self.authority,
            target,
            headers: &headers,
            body: b"",
        };
        let give_up = Instant::now() + self.deadline;
        let mut backoff = Duration::from_millis(50);
        loop {
            // Even IMDS_DEADLINE=0 gets one real attempt.
            let now = Instant::now();
            let left = give_up
                .saturating_duration_since(now)
                .max(Duration::from_millis(500));
            let attempt_end = now + ATTEMPT_TIMEOUT.min(left);
            let outcome = self.attempt(&req, attempt_end);
            let retry_reason = match &outcome {
                Ok(r) if r.status >= 500 || r.status == 429 => format!("HTTP {}", r.status),
                Ok(_) => return outcome.map_err(|e: std::io::Error| Error::msg(e.to_string())),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    // A server that talks garbage will not get better by retrying.
                    return Err(Error::msg(format!("{}: {e}", self.url(target))));
                }
                Err(e) => e.to_string(),
            };
            let now = Instant::now();
            if now >= give_up {
                return Err(Error::msg(format!(
                    "metadata service at {} not reachable within {} s (IMDS_DEADLINE): {retry_reason}",
                    self.url(target),
                    self.deadline.as_secs()
                )));
            }
            std::thread::sleep(backoff.min(give_up - now));
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    fn attempt(&self, req: &Request, end: Instant) -> std::io::Result<Response> {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ));
        }
        let stream = http::connect(&self.host, self.port, left)?;
        stream.set_nodelay(true)?;
        http::send(stream, req, end, MAX_BODY, |s, t| {
            s.set_read_timeout(t)?;
            s.set_write_timeout(t)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let env = [("ROOT", "/nonexistent-tiny-cloud-root")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(&env).expect("settings")
    }

    #[test]
    fn urls() {
        let s = settings();
        let i = Imds::from_url("http://10.0.0.1:8000/seed/", &s).unwrap();
        assert_eq!(
            (i.host.as_str(), i.port, i.base.as_str()),
            ("10.0.0.1", 8000, "/seed/")
        );
        let i = Imds::from_url("http://seed.example", &s).unwrap();
        assert_eq!((i.port, i.base.as_str()), (80, "/"));
        let i = Imds::from_url("http://[fd00::1]/a/b", &s).unwrap();
        assert_eq!((i.host.as_str(), i.base.as_str()), ("fd00::1", "/a/b/"));
        for bad in [
            "https://h/",
            "ftp://h/",
            "http://h/a b/",
            "http://h/a\r\nX: y/",
            "http://h/?q=1",
            "http://h/#frag",
            "http://user@h/",
            "http://h:port/",
            "http:///path",
        ] {
            assert!(Imds::from_url(bad, &s).is_err(), "{bad}");
        }
    }

    fn imds(spec: &'static ImdsSpec) -> Imds {
        Imds::new(spec, &settings()).expect("imds")
    }

    static PLAIN: ImdsSpec = ImdsSpec {
        default_endpoint: "169.254.169.254",
        base: "/latest/",
        headers: &[],
        query: None,
        token: None,
        response_header: None,
    };

    static VERSIONED: ImdsSpec = ImdsSpec {
        default_endpoint: "169.254.169.254",
        base: "/metadata/instance",
        headers: &[],
        query: Some("api-version=1"),
        token: None,
        response_header: None,
    };

    #[test]
    fn targets() {
        let plain = imds(&PLAIN);
        assert_eq!(plain.target("meta-data/x").unwrap(), "/latest/meta-data/x");
        assert_eq!(plain.target("/user-data").unwrap(), "/latest/user-data");
        assert_eq!(plain.target("").unwrap(), "/latest/");
        assert_eq!(plain.target("a?b=c").unwrap(), "/latest/a?b=c");
        assert_eq!(plain.target("a?").unwrap(), "/latest/a");
        let v = imds(&VERSIONED);
        assert_eq!(v.target("").unwrap(), "/metadata/instance?api-version=1");
        assert_eq!(
            v.target("compute/name?format=text").unwrap(),
            "/metadata/instance/compute/name?api-version=1&format=text"
        );
    }

    #[test]
    fn paths_that_would_break_the_request_line_are_refused() {
        let plain = imds(&PLAIN);
        for bad in [
            "a b",
            "a\r\nX-Evil: 1",
            "a\tb",
            "a#frag",
            "caf\u{e9}",
            "\x7f",
        ] {
            assert!(plain.target(bad).is_err(), "{bad:?}");
        }
    }
}
