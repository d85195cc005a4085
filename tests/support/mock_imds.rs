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
    /// `/metadata/instance`: 400 without `Metadata: true` or `api-version`;
    /// serves the JSON instance document and, with `format=text`, its leaves.
    Azure,
    /// `/computeMetadata/v1/`: 403 without `Metadata-Flavor: Google`, which
    /// it also sets on every answer.
    Gcp,
    /// Like `Gcp`, but its answers lack `Metadata-Flavor: Google`: a
    /// lookalike that a client must not trust.
    GcpLookalike,
    /// `/opc/v2/`: 401 without `Authorization: Bearer Oracle`.
    Oci,
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

    /// A typical Azure VM: one instance document with name, two keys (one
    /// with the CRLF Azure leaves on `keyData`) and base64 user-data.
    pub fn azure_instance(&self, userdata: Option<&[u8]>) -> &Self {
        let doc = serde_json::json!({
            "compute": {
                "azEnvironment": "AzurePublicCloud",
                "location": "westeurope",
                "name": "alpine-azure",
                "osType": "Linux",
                "publicKeys": [
                    {
                        "keyData": "ssh-ed25519 AAAAalice alice@example\r\n",
                        "path": "/home/alpine/.ssh/authorized_keys"
                    },
                    {
                        "keyData": "ssh-ed25519 AAAAbob bob@example",
                        "path": "/home/alpine/.ssh/authorized_keys"
                    }
                ],
                "userData": userdata.map(base64).unwrap_or_default(),
                "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
                "vmSize": "Standard_B1s"
            },
            "network": {
                "interface": [{
                    "ipv4": {
                        "ipAddress": [{"privateIpAddress": "10.0.0.4", "publicIpAddress": ""}],
                        "subnet": [{"address": "10.0.0.0", "prefix": "24"}]
                    },
                    "ipv6": {"ipAddress": []},
                    "macAddress": "000D3A7B6C5D"
                }]
            }
        });
        self.set(AZURE_DOC, doc.to_string())
    }

    /// Changes the Azure instance document in place.
    pub fn azure_edit(&self, edit: impl FnOnce(&mut serde_json::Value)) -> &Self {
        let mut s = self.lock();
        let mut doc = s
            .data
            .get(AZURE_DOC)
            .and_then(|d| serde_json::from_slice(d).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        edit(&mut doc);
        s.data
            .insert(AZURE_DOC.to_string(), doc.to_string().into_bytes());
        drop(s);
        self
    }

    /// A typical GCE instance: an FQDN, a key in the project and one in the
    /// instance attributes, and plain user-data.
    pub fn gcp_instance(&self, userdata: Option<&[u8]>) -> &Self {
        self.set(
            "instance/hostname",
            "alpine-gcp.us-central1-a.c.my-project.internal",
        )
        .set("instance/id", "4567890123456789012")
        .set(
            "project/attributes/ssh-keys",
            "alice:ssh-ed25519 AAAAalice alice@example\n",
        )
        .set(
            "instance/attributes/ssh-keys",
            "bob:ssh-ed25519 AAAAbob bob@example",
        );
        match userdata {
            Some(u) => self.set("instance/attributes/user-data", u),
            None => self.remove("instance/attributes/user-data"),
        }
    }

    /// A typical OCI instance: hostname, two keys, base64 user-data.
    pub fn oci_instance(&self, userdata: Option<&[u8]>) -> &Self {
        self.set("instance/hostname", "alpine-oci")
            .set("instance/id", "ocid1.instance.oc1.phx.exampleuniqueid")
            .set(
                "instance/metadata/ssh_authorized_keys",
                "ssh-ed25519 AAAAalice alice@example\nssh-ed25519 AAAAbob bob@example\n",
            );
        match userdata {
            Some(u) => self.set("instance/metadata/user_data", base64(u)),
            None => self.remove("instance/metadata/user_data"),
        }
    }
}

/// Where `MockImds::set` keeps the Azure instance document.
const AZURE_DOC: &str = "metadata/instance";

/// Standard base64 with padding, as Azure and OCI store user-data; written
/// here so the mock does not test the client's decoder with itself.
pub fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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
        Flavor::Azure => serve_azure(&stream, &req, state),
        Flavor::Gcp | Flavor::GcpLookalike => serve_gcp(&stream, &req, state, flavor),
        Flavor::Oci => serve_oci(&stream, &req, state),
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

/// Splits `/path?a=1&b=2` into the path and its parameters.
fn split_target(target: &str) -> (&str, Vec<(&str, &str)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    (path, params)
}

/// API versions the mock knows; the real service refuses unknown ones.
const AZURE_VERSIONS: &[&str] = &[
    "2021-01-01",
    "2021-02-01",
    "2021-03-01",
    "2021-05-01",
    "2021-10-01",
    "2021-11-01",
    "2021-12-13",
    "2023-07-01",
];

fn serve_azure(stream: &TcpStream, req: &Req, state: &Mutex<State>) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let json = [("Content-Type", "application/json; charset=utf-8")];
    let (path, params) = split_target(&req.target);
    let param = |k: &str| params.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    if req.header("Metadata") != Some("true") {
        s.stats.rejected += 1;
        return respond(
            stream,
            400,
            &json,
            br#"{"error":"Bad request. Required metadata header not specified"}"#,
        );
    }
    if !param("api-version").is_some_and(|v| AZURE_VERSIONS.contains(&v)) {
        s.stats.rejected += 1;
        return respond(
            stream,
            400,
            &json,
            br#"{"error":"Bad request. api-version is invalid or was not specified in the request."}"#,
        );
    }
    if req.method != "GET" {
        return respond(stream, 405, &json, b"");
    }
    let Some(rest) = path.strip_prefix("/metadata/instance") else {
        return respond(stream, 404, &json, br#"{"error":"Not found"}"#);
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return respond(stream, 404, &json, br#"{"error":"Not found"}"#);
    }
    let Some(raw) = s.data.get(AZURE_DOC) else {
        return respond(stream, 404, &json, br#"{"error":"Not found"}"#);
    };
    // The whole document goes out as stored, so a test can serve a broken one.
    if rest.trim_matches('/').is_empty() && param("format").unwrap_or("json") == "json" {
        return respond(stream, 200, &json, raw);
    }
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return respond(
            stream,
            500,
            &json,
            br#"{"error":"mock: stored document is not JSON"}"#,
        );
    };
    let mut node = &doc;
    for part in rest.split('/').filter(|p| !p.is_empty()) {
        let next = match node {
            serde_json::Value::Object(m) => m.get(part),
            serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return respond(stream, 404, &json, br#"{"error":"Not found"}"#),
        }
    }
    let leaf = !(node.is_object() || node.is_array());
    match (param("format").unwrap_or("json"), leaf) {
        ("text", true) => {
            let text = match node {
                serde_json::Value::String(t) => t.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            respond(
                stream,
                200,
                &[("Content-Type", "text/plain; charset=utf-8")],
                text.as_bytes(),
            )
        }
        ("json", false) => respond(stream, 200, &json, node.to_string().as_bytes()),
        _ => {
            s.stats.rejected += 1;
            respond(
                stream,
                400,
                &json,
                br#"{"error":"Bad request. Use format=text for leaf nodes and format=json otherwise"}"#,
            )
        }
    }
}

fn serve_gcp(stream: &TcpStream, req: &Req, state: &Mutex<State>, flavor: Flavor) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let marked: &[(&str, &str)] = if flavor == Flavor::Gcp {
        &[("Metadata-Flavor", "Google")]
    } else {
        &[]
    };
    if req.header("Metadata-Flavor") != Some("Google") {
        s.stats.rejected += 1;
        return respond(
            stream,
            403,
            marked,
            b"Missing Metadata-Flavor:Google header.",
        );
    }
    if req.method != "GET" {
        return respond(stream, 405, marked, b"");
    }
    let (path, _) = split_target(&req.target);
    let Some(path) = path.strip_prefix("/computeMetadata/v1/") else {
        return respond(stream, 404, marked, b"Not Found");
    };
    match s.data.get(path) {
        Some(body) => respond(stream, 200, marked, body),
        None => respond(stream, 404, marked, b"Not Found"),
    }
}

fn serve_oci(stream: &TcpStream, req: &Req, state: &Mutex<State>) {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    if req.header("Authorization") != Some("Bearer Oracle") {
        s.stats.rejected += 1;
        return respond(
            stream,
            401,
            &[("WWW-Authenticate", "Bearer")],
            b"{\"code\":\"NotAuthenticated\"}",
        );
    }
    if req.method != "GET" {
        return respond(stream, 405, &[], b"");
    }
    let Some(path) = req.target.strip_prefix("/opc/v2/") else {
        return respond(stream, 404, &[], b"");
    };
    match s.data.get(path) {
        Some(body) => respond(stream, 200, &[], body),
        None => respond(stream, 404, &[], b"{\"code\":\"NotFound\"}"),
    }
}

/// One hand-made GET carrying exactly `headers`, bypassing the client under
/// test, to prove what the mock refuses. Returns the status, the response
/// head (status line and headers) and the body.
pub fn raw_get(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect to mock");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head, raw[split + 4..].to_vec())
}
