//! A small HTTP/1.1 file server on 127.0.0.1 for interop tests: serves a folder, records every
//! request path, and can misbehave on chosen paths (endless data, a slow drip, a stall) to
//! stage the attacks a TUF client must survive.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a path is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// The file, with its length.
    Normal,
    /// The file, then endless bytes, with no Content-Length (endless-data attack).
    Endless,
    /// One byte every `ms` milliseconds (slow-retrieval attack).
    Drip(u64),
}

/// A running server.
pub struct Server {
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
    sent: Arc<Mutex<Vec<(String, usize)>>>,
    behaviors: Arc<Mutex<HashMap<String, Behavior>>>,
    root: Arc<Mutex<PathBuf>>,
}

fn decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&path[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Server {
    /// Serves `root` on a free port.
    pub fn start(root: PathBuf) -> Self {
        Self::start_on(root, 0)
    }

    /// Serves `root` on `port` (0: a free one).
    pub fn start_on(root: PathBuf, port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let behaviors = Arc::new(Mutex::new(HashMap::new()));
        let root = Arc::new(Mutex::new(root));
        let (l, s, b, r) = (log.clone(), sent.clone(), behaviors.clone(), root.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, s, b, r) = (l.clone(), s.clone(), b.clone(), r.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &l, &s, &b, &r);
                });
            }
        });
        Self {
            base,
            log,
            sent,
            behaviors,
            root,
        }
    }

    /// Serves `path` (as requested, e.g. `/metadata/timestamp.json`) with `behavior`.
    pub fn set(&self, path: &str, behavior: Behavior) {
        self.behaviors
            .lock()
            .unwrap()
            .insert(path.to_string(), behavior);
    }

    /// Serves another folder from now on.
    pub fn set_root(&self, root: PathBuf) {
        *self.root.lock().unwrap() = root;
    }

    /// Paths served so far with the body bytes sent (404s count 0), and clears that list.
    pub fn take_sent(&self) -> Vec<(String, usize)> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    /// Request paths so far (decoded), and clears the log.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn handle(
    mut stream: TcpStream,
    log: &Mutex<Vec<String>>,
    sent: &Mutex<Vec<(String, usize)>>,
    behaviors: &Mutex<HashMap<String, Behavior>>,
    root: &Mutex<PathBuf>,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let raw = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" {
                break;
            }
        }
        let path = decode(&raw);
        log.lock().unwrap().push(path.clone());
        let behavior = behaviors
            .lock()
            .unwrap()
            .get(&path)
            .copied()
            .unwrap_or(Behavior::Normal);
        // Fixture metadata files keep the percent-encoded role name on disk (as requested);
        // target files have their plain names.
        let base = root.lock().unwrap().clone();
        let body = std::fs::read(base.join(raw.trim_start_matches('/')))
            .or_else(|_| std::fs::read(base.join(path.trim_start_matches('/'))));
        let Ok(body) = body else {
            sent.lock().unwrap().push((path, 0));
            stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        };
        sent.lock().unwrap().push((path.clone(), body.len()));
        match behavior {
            Behavior::Normal => {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )?;
                stream.write_all(&body)?;
            }
            Behavior::Endless => {
                stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
                stream.write_all(&body)?;
                let junk = [b' '; 8192];
                for _ in 0..100_000 {
                    stream.write_all(&junk)?;
                }
                return Ok(());
            }
            Behavior::Drip(ms) => {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )?;
                for b in body.bytes() {
                    stream.write_all(&[b?])?;
                    stream.flush()?;
                    std::thread::sleep(Duration::from_millis(ms));
                }
                return Ok(());
            }
        }
    }
}
