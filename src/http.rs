//! A deliberately small HTTP/1.1 client for link-local metadata services:
//! one request per connection, no proxies, no redirects, bounded sizes and a
//! deadline on every request. Hand-written because the IMDS endpoints need
//! what general clients don't offer together: IPv6 literals (`[fd00::1]:80`),
//! HTTP over a Unix socket, and a privileged source port.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Headers of a response may not grow past this; IMDS headers are tiny.
const MAX_HEAD: usize = 64 * 1024;

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
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

pub struct Request<'a> {
    pub method: &'a str,
    /// Value of the `Host` header (`host` or `host:port`).
    pub host: &'a str,
    /// Path and query, starting with `/`.
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port` (or a bare IPv6 address)
/// into host and port; port defaults to 80.
pub fn parse_authority(s: &str) -> Result<(String, u16), String> {
    let bad_port = |p: &str| format!("'{p}' is not a port number");
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("missing ']' after an IPv6 address")?;
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("'{host}' is not an IPv6 address"))?;
        let port = match after {
            "" => 80,
            p => {
                let p = p.strip_prefix(':').ok_or("expected ':PORT' after ']'")?;
                p.parse().map_err(|_| bad_port(p))?
            }
        };
        return Ok((host.to_string(), port));
    }
    if s.matches(':').count() > 1 {
        s.parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("'{s}' is not an address (write IPv6 as [addr]:port)"))?;
        return Ok((s.to_string(), 80));
    }
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| bad_port(p))?),
        None => (s, 80),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
    if !host_ok {
        return Err(format!("'{host}' is not a host name or address"));
    }
    Ok((host.to_string(), port))
}

/// Connects to `host:port` within `timeout`, trying each resolved address.
pub fn connect(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Sends one request over a fresh connection and reads the whole response.
pub fn send<S: Read + Write>(
    stream: S,
    req: &Request,
    deadline: Instant,
    max_body: usize,
    set_timeout: impl Fn(&S, Option<Duration>) -> io::Result<()>,
) -> io::Result<Response> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tiny-cloud/{}\r\nConnection: close\r\n",
        req.method,
        req.target,
        req.host,
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in req.headers {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "header with a line break",
            ));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !req.body.is_empty() || req.method == "PUT" || req.method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");

    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    };
    set_timeout(&stream, Some(remaining()?))?;
    let mut reader = BufReader::new(stream);
    let mut whole = head.into_bytes();
    whole.extend_from_slice(req.body);
    reader.get_mut().write_all(&whole)?;
    reader.get_mut().flush()?;

    let mut head_len = 0;
    let mut line = String::new();
    let mut read_line = |reader: &mut BufReader<S>, line: &mut String| -> io::Result<()> {
        line.clear();
        set_timeout(reader.get_ref(), Some(remaining()?))?;
        let mut raw = Vec::new();
        let limit = (MAX_HEAD - head_len.min(MAX_HEAD)) as u64 + 1;
        reader.by_ref().take(limit).read_until(b'\n', &mut raw)?;
        head_len += raw.len();
        if head_len > MAX_HEAD {
            return Err(invalid("response headers too large"));
        }
        if raw.is_empty() {
            return Err(invalid(
                "connection closed before the response was complete",
            ));
        }
        *line = String::from_utf8_lossy(&raw)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        Ok(())
    };

    read_line(&mut reader, &mut line)?;
    let status = parse_status_line(&line)?;
    let mut headers = Vec::new();
    loop {
        read_line(&mut reader, &mut line)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| invalid("malformed response header"))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let response = Response {
        status,
        headers,
        body: Vec::new(),
    };

    let too_big = || invalid(&format!("response body larger than {max_body} bytes"));
    let mut body = Vec::new();
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if req.method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        // no body
    } else if chunked {
        loop {
            read_line(&mut reader, &mut line)?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid("malformed chunk size"))?;
            if size == 0 {
                break;
            }
            if body.len().saturating_add(size) > max_body {
                return Err(too_big());
            }
            read_exact_until(&mut reader, &mut body, size, &remaining, &set_timeout)?;
            read_line(&mut reader, &mut line)?;
        }
    } else if let Some(len) = response.header("content-length") {
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| invalid("malformed Content-Length"))?;
        if len > max_body {
            return Err(too_big());
        }
        read_exact_until(&mut reader, &mut body, len, &remaining, &set_timeout)?;
    } else {
        let mut buf = [0u8; 8192];
        loop {
            set_timeout(reader.get_ref(), Some(remaining()?))?;
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            if body.len() + n > max_body {
                return Err(too_big());
            }
            body.extend_from_slice(&buf[..n]);
        }
    }
    Ok(Response { body, ..response })
}

fn read_exact_until<S: Read>(
    reader: &mut BufReader<S>,
    body: &mut Vec<u8>,
    mut len: usize,
    remaining: &impl Fn() -> io::Result<Duration>,
    set_timeout: &impl Fn(&S, Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    while len > 0 {
        set_timeout(reader.get_ref(), Some(remaining()?))?;
        let want = len.min(buf.len());
        let n = reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(invalid("connection closed before the body was complete"));
        }
        body.extend_from_slice(&buf[..n]);
        len -= n;
    }
    Ok(())
}

fn parse_status_line(line: &str) -> io::Result<u16> {
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("not an HTTP response"));
    }
    parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| invalid("malformed HTTP status line"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(
            parse_authority("169.254.169.254").unwrap(),
            ("169.254.169.254".into(), 80)
        );
        assert_eq!(
            parse_authority("127.0.0.1:8080").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(
            parse_authority("[fd00:ec2::254]:81").unwrap(),
            ("fd00:ec2::254".into(), 81)
        );
        assert_eq!(parse_authority("[::1]").unwrap(), ("::1".into(), 80));
        assert_eq!(
            parse_authority("fd00:ec2::254").unwrap(),
            ("fd00:ec2::254".into(), 80)
        );
        assert_eq!(parse_authority("metadata.google.internal").unwrap().1, 80);
        for bad in [
            "",
            "host:port",
            "[::1",
            "[nope]:1",
            "a b",
            "h:99999",
            "http://x",
        ] {
            assert!(parse_authority(bad).is_err(), "{bad}");
        }
    }

    /// An in-memory stream: reads a canned response, records what was written.
    struct Canned(io::Cursor<Vec<u8>>, Vec<u8>);
    impl Read for Canned {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }
    impl Write for Canned {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn run(raw: &str, max: usize) -> io::Result<Response> {
        let req = Request {
            method: "GET",
            host: "h",
            target: "/x",
            headers: &[],
            body: b"",
        };
        let stream = Canned(io::Cursor::new(raw.as_bytes().to_vec()), Vec::new());
        send(
            stream,
            &req,
            Instant::now() + Duration::from_secs(5),
            max,
            |_, _| Ok(()),
        )
    }

    #[test]
    fn bodies() {
        let r = run("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", 10).unwrap();
        assert_eq!(r.body, b"abc");
        let r = run(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;x\r\nc\r\n0\r\n\r\n",
            10,
        )
        .unwrap();
        assert_eq!(r.body, b"abc");
        let r = run("HTTP/1.0 404 Not Found\r\n\r\nnope", 10).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"nope"[..]));
    }

    #[test]
    fn limits_and_garbage() {
        assert!(run("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 10).is_err());
        assert!(run("HTTP/1.1 200 OK\r\n\r\n0123456789a", 10).is_err());
        assert!(run("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 10).is_err());
        assert!(run("SSH-2.0-OpenSSH\r\n", 10).is_err());
        assert!(run("HTTP/1.1 2000 OK\r\n\r\n", 10).is_err());
        assert!(run("", 10).is_err());
        assert!(
            run(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                10
            )
            .is_err()
        );
    }
}
