//! A plain HTTP file server for NoCloud `seedfrom=http://…` seeds: std
//! only, 127.0.0.1 on a random port, GET of exact paths, 404 otherwise. It
//! records every request and can fail the first few with 500s.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    requests: Vec<String>,
    fail_first: usize,
}

#[derive(Clone)]
pub struct SeedServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl SeedServer {
    pub fn start() -> SeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind seed server");
        let addr = listener.local_addr().expect("seed server address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        SeedServer { addr, state }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `body` at the absolute `path` (e.g. `/seed/meta-data`).
    pub fn file(&self, path: &str, body: impl AsRef<[u8]>) -> &Self {
        self.lock()
            .files
            .insert(path.to_string(), body.as_ref().to_vec());
        self
    }

    pub fn fail_first(&self, n: usize) -> &Self {
        self.lock().fail_first = n;
        self
    }

    /// `METHOD TARGET` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(clone);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header.trim_end().is_empty() => break,
            Ok(_) => {}
        }
    }
    let (status, body) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.requests.push(format!("{method} {target}"));
        if s.fail_first > 0 {
            s.fail_first -= 1;
            (500, b"try later".to_vec())
        } else if method != "GET" {
            (405, Vec::new())
        } else {
            match s.files.get(&target) {
                Some(body) => (200, body.clone()),
                None => (404, b"Not Found".to_vec()),
            }
        }
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}
