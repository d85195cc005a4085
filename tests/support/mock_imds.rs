//! A mock instance metadata service for tests and the first-boot demo: std
//! only, on 127.0.0.1 with a random port. It demands what the real services
//! demand (AWS IMDSv2 tokens, …) and can misbehave on request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which real service to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// IMDSv2: `PUT /latest/api/token`, then the token on every GET.
    Aws,
    /// Only IMDSv1: the token endpoint does not exist (404).
    AwsV1,
}

/// Ways to misbehave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Answer 500 to the first N requests, then behave.
    FailFirst(usize),
    /// Accept the connection, never answer.
    Hang,
    /// Answer with something that is not HTTP.
    Garbage,
    /// Declare a body larger than any sane metadata answer.
    Huge,
}

#[derive(Default)]
pub struct Stats {
    pub token_puts: usize,
    pub requests: Vec<String>,
    pub rejected: usize,
}

struct State {
    flavor: Flavor,
    fault: Fault,
    data: HashMap<String, Vec<u8>>,
    stats: Stats,
    tokens: Vec<String>,
    served: usize,
}

#[derive(Clone)]
pub struct MockImds {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl MockImds {
    pub fn start(flavor: Flavor) -> MockImds {
        MockImds::start_on("127.0.0.1:0", flavor).expect("bind mock IMDS")
    }

    /// Like `start`, on another address (e.g. `[::1]:0`); None if it can't bind.
    pub fn start_on(bind: &str, flavor: Flavor) -> Option<MockImds> {
        let listener = TcpListener::bind(bind).ok()?;
        let addr = listener.local_addr().expect("mock address");
        let state = Arc::new(Mutex::new(State {
            flavor,
            fault: Fault::None,
            data: HashMap::new(),
            stats: Stats::default(),
            tokens: Vec::new(),
            served: 0,
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Some(MockImds { addr, state })
    }

    /// The value for IMDS_ENDPOINT.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Sets the answer for a path below the cloud's base (e.g. `meta-data/hostname`).
    pub fn set(&self, path: &str, body: impl AsRef<[u8]>) -> &Self {
        self.lock()
            .data
            .insert(path.to_string(), body.as_ref().to_vec());
        self
    }

    pub fn remove(&self, path: &str) -> &Self {
        self.lock().data.remove(path);
        self
    }

    pub fn fault(&self, fault: Fault) -> &Self {
        let mut s = self.lock();
        s.fault = fault;
        s.served = 0;
        self
    }

    pub fn token_puts(&self) -> usize {
        self.lock().stats.token_puts
    }

    pub fn requests(&self) -> Vec<String> {
        self.lock().stats.requests.clone()
    }

    pub fn rejected(&self) -> usize {
        self.lock().stats.rejected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A typical EC2 instance: hostname, two keys, and the given user-data.
    pub fn aws_instance(&self, userdata: Option<&[u8]>) -> &Self {
        self.set("meta-data/hostname", "ip-172-31-1-2.ec2.internal")
            .set("meta-data/local-hostname", "ip-172-31-1-2.ec2.internal")
            .set("meta-data/instance-id", "i-0123456789abcdef0")
            .set("meta-data/public-keys/", "0=alice\n1=bob")
            .set(
                "meta-data/public-keys/0/openssh-key",
                "ssh-ed25519 AAAAalice alice@example\n",
            )
            .set(
                "meta-data/public-keys/1/openssh-key",
                "ssh-ed25519 AAAAbob bob@example",
            )
            .set(
                "meta-data/network/interfaces/macs/",
                "02:00:00:00:00:01/\n02:00:00:00:00:02/",
            )
            .set(
                "meta-data/network/interfaces/macs/02:00:00:00:00:01/local-ipv4s",
                "172.31.1.2",
            )
            .set(
                "meta-data/network/interfaces/macs/02:00:00:00:00:01/mac",
                "02:00:00:00:00:01",
            );
        match userdata {
            Some(u) => self.set("user-data", u),
            None => self.remove("user-data"),
        }
    }
}

struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> Option<Req> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        if k.eq_ignore_ascii_case("content-length") {
            length = v.trim().parse().ok()?;
        }
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    Some(Req {
        method,
        target,
        headers,
    })
}

fn respond(mut stream: &TcpStream, status: u16, extra: &[(&str, &str)], body: &[u8]) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    // One write: a split answer meets Nagle + delayed ACK (40 ms a request).
    let mut whole = head.into_bytes();
    whole.extend_from_slice(body);
    let _ = stream.write_all(&whole);
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let Some(req) = read_request(&stream) else {
        return;
    };
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    let (fault, served) = {
        let mut s = lock();
        s.stats
            .requests
            .push(format!("{} {}", req.method, req.target));
        s.served += 1;
        (s.fault.clone(), s.served)
    };
    match fault {
        Fault::None => {}
        Fault::FailFirst(n) if served <= n => return respond(&stream, 500, &[], b"try later"),
        Fault::FailFirst(_) => {}
        Fault::Hang => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
        Fault::Garbage => {
            let _ = (&stream).write_all(b"\x00\x01garbage, not HTTP\r\n\r\n");
            return;
        }
        Fault::Huge => {
            let _ =
                (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nxx");
            return;
        }
    }
    let flavor = lock().flavor;
    match flavor {
        Flavor::Aws | Flavor::AwsV1 => serve_aws(&stream, &req, state, flavor),
    }
}

fn serve_aws(stream: &TcpStream, req: &Req, state: &Mutex<State>, flavor: Flavor) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if req.target == "/latest/api/token" {
        if flavor == Flavor::AwsV1 {
            return respond(stream, 404, &[], b"");
        }
        if req.method != "PUT" {
            return respond(stream, 405, &[], b"");
        }
        let ttl_ok = req
            .header("X-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|t| (1..=21600).contains(&t));
        if !ttl_ok {
            s.stats.rejected += 1;
            return respond(stream, 400, &[], b"missing or invalid TTL");
        }
        s.stats.token_puts += 1;
        let token = format!("token-{}-{}", s.stats.token_puts, std::process::id());
        s.tokens.push(token.clone());
        return respond(stream, 200, &[], token.as_bytes());
    }
    if flavor == Flavor::Aws {
        let valid = req
            .header("X-aws-ec2-metadata-token")
            .is_some_and(|t| s.tokens.iter().any(|k| k == t));
        if !valid {
            s.stats.rejected += 1;
            return respond(stream, 401, &[], b"");
        }
    }
    if req.method != "GET" {
        return respond(stream, 405, &[], b"");
    }
    let Some(path) = req.target.strip_prefix("/latest/") else {
        return respond(stream, 404, &[], b"");
    };
    match s.data.get(path) {
        Some(body) => respond(stream, 200, &[], body),
        None => respond(stream, 404, &[], b"Not Found"),
    }
}
