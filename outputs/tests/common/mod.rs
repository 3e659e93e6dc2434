//! A local HTTP/1.1 receiver for the end-to-end tests: records every request (method,
//! path, headers, body) and answers as told — 200, another status (with `Retry-After`),
//! slowly, or by closing the connection — so the tests can check exact wire formats and
//! drive every fault. Plain std sockets, one thread per connection, keep-alive honoured.

#![allow(dead_code)]

use peregrine_outputs::DestinationSnapshot;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the receiver answered 2xx.
    pub accepted: bool,
    /// When the request was read.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// How the receiver answers.
#[derive(Clone, Debug)]
pub enum Mode {
    Ok,
    Status(u16, Option<u64>),
    /// Sleeps this long before a 200.
    Slow(Duration),
    /// Reads the request and closes the connection without an answer.
    Close,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start(mode: Mode) -> Receiver {
        Self::bind("127.0.0.1:0".parse().unwrap(), mode)
    }

    /// Binds a given address (to come back on the same port after a "restart").
    pub fn bind(addr: SocketAddr, mode: Mode) -> Receiver {
        let listener = TcpListener::bind(addr).expect("bind receiver");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(mode));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, m, s) = (requests.clone(), mode.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (r, m, s) = (r.clone(), m.clone(), s.clone());
                        conns.push(std::thread::spawn(move || serve(stream, r, m, s)));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
            drop(listener);
            for c in conns {
                let _ = c.join();
            }
        });
        Receiver {
            addr,
            requests,
            mode,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn all(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> Vec<Request> {
        self.all().into_iter().filter(|r| r.accepted).collect()
    }

    /// Waits until `f(accepted requests)` holds, for at most `limit`.
    pub fn wait_for(&self, limit: Duration, f: impl Fn(&[Request]) -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if f(&self.accepted()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        f(&self.accepted())
    }

    /// Stops listening and closes every connection (a receiver going down).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(
    stream: TcpStream,
    requests: Arc<Mutex<Vec<Request>>>,
    mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
) {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        // Request line (waiting for it while the receiver runs).
        let mut line = String::new();
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) if line.ends_with('\n') => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if read_line_patiently(&mut reader, &mut h).is_none() {
                return;
            }
            let h = h.trim_end_matches(['\r', '\n']);
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        let mut got = 0;
        while got < len {
            match reader.read(&mut body[got..]) {
                Ok(0) => return,
                Ok(n) => got += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
        let at = Instant::now();
        let mode = mode.lock().unwrap().clone();
        let (status, retry_after) = match &mode {
            Mode::Ok => (200, None),
            Mode::Status(s, r) => (*s, *r),
            Mode::Slow(d) => {
                std::thread::sleep(*d);
                (200, None)
            }
            Mode::Close => (0, None),
        };
        requests.lock().unwrap().push(Request {
            method,
            path,
            headers,
            body,
            accepted: (200..300).contains(&status),
            at,
        });
        if status == 0 {
            return; // close without answering
        }
        let mut answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 2\r\n");
        if let Some(r) = retry_after {
            answer.push_str(&format!("Retry-After: {r}\r\n"));
        }
        answer.push_str("\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_line_patiently(reader: &mut BufReader<TcpStream>, line: &mut String) -> Option<()> {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        match reader.read_line(line) {
            Ok(0) => return None,
            Ok(_) if line.ends_with('\n') => return Some(()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if Instant::now() > end {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

/// A free local port with nothing listening on it.
pub fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// `received = filtered + deduplicated + sent + dropped + pending`, and the drops by reason
/// add up to the drops.
#[track_caller]
pub fn assert_adds_up(s: &DestinationSnapshot) {
    assert_eq!(
        s.received,
        s.filtered + s.deduplicated + s.sent + s.dropped + s.pending,
        "{s:?}"
    );
    assert_eq!(
        s.dropped,
        s.dropped_by_reason.iter().map(|(_, n)| n).sum::<u64>(),
        "{s:?}"
    );
}

pub fn find<'a>(snaps: &'a [DestinationSnapshot], name: &str) -> &'a DestinationSnapshot {
    snaps
        .iter()
        .find(|s| s.destination == name)
        .unwrap_or_else(|| panic!("no destination {name} in {snaps:?}"))
}

/// An alert like the rule engine makes.
pub fn alert(
    rule: &str,
    priority: peregrine_rules::Priority,
    time_ns: u64,
    fields: serde_json::Value,
) -> peregrine_rules::Alert {
    let output_fields = match fields {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    };
    let message = format!("{rule} happened (n={time_ns})");
    peregrine_rules::Alert {
        time_ns,
        rule: Arc::from(rule),
        priority,
        source: Arc::from("syscall"),
        tags: Arc::from(vec!["T1555".to_string(), "container".to_string()]),
        hostname: Arc::from("node-1"),
        output: format!("22:13:31.726060287: {} {message}", priority.as_str()),
        message,
        output_fields,
    }
}

/// Loads a configuration text (the real config crate) for building destinations.
pub fn config(text: &str) -> peregrine_config::Config {
    peregrine_config::load_str("test.yaml", text, &[]).expect("config loads")
}
