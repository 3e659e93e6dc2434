//! Fuzzing the falcosidekick-compatible input, time-budgeted (`PEREGRINE_FUZZ_SECS`,
//! default 3 s): `parse_alert` on mutated Falco JSON alerts, and the real input server fed
//! mutated raw HTTP over TCP (request lines, headers, Content-Length, chunked bodies,
//! pipelining, huge lengths). A parse is an alert or an error; the server answers or closes,
//! and still answers a valid request at the end.

use peregrine_event::fuzzing::{fuzz, mutated_bytes, mutated_text, Outcome};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CONNECTION_GAP: Duration = Duration::from_millis(4);

const ALERTS: &[&str] = &[
    r#"{"output":"16:31:56.746609046: Warning Sensitive file opened for reading (user=root command=cat /etc/shadow file=/etc/shadow)","priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["filesystem","mitre_credential_access"],"time":"2026-12-07T02:00:00.123456789Z","hostname":"node-1","output_fields":{"evt.time":1796608800123456789,"fd.name":"/etc/shadow","proc.cmdline":"cat /etc/shadow","user.name":"root","container.id":"host","proc.pid":4242}}"#,
    r#"{"output":"02:00:00.000000000: Critical Shell in container (container=abc)","priority":"Critical","rule":"Terminal shell in container","time":"2026-12-07T02:00:00Z","output_fields":{"container.id":"abcdef012345","k8s.pod.name":null,"proc.args":["-c","id"]}}"#,
    r#"{"rule":"Test rule","priority":"Debug","time":"2026-12-07T02:00:00+09:00","output":"This is a test from falcosidekick","output_fields":{"proc.name":"falcosidekick","user.name":"falcosidekick"},"source":"debug","tags":[],"hostname":"","message":"test"}"#,
];

const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1e999",
    "18446744073709551616",
    "\"rule\":",
    "\"priority\":",
    "\"time\":",
    "\"output_fields\":",
    "\"tags\":",
    "\"source\":",
    "\"output\":",
    "\"hostname\":",
    "\"message\":",
    "\"Emergency\"",
    "\"informational\"",
    "\"WARNING\"",
    "\"9999-12-31T23:59:60.9999999999Z\"",
    "\"0000-01-01T00:00:00Z\"",
    "\"2026-02-30T25:61:61-25:00\"",
    "\"1970-01-01T00:00:00Z\"",
    "\"2262-04-11T23:47:16.854775808Z\"",
    "\\u0000",
    "\\ud800",
    "é",
    ": Warning ",
    "%",
];

/// Real Falco JSON alerts from ../shared when present (Falco's own example output).
fn falco_alerts() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../shared/testdata/upstream/tests/falco-2583ea9-test/output_files_single_rule_with_cat_write.json",
    );
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .map(str::to_string)
            .collect(),
        Err(e) => {
            eprintln!(
                "fuzzing without Falco's example alerts: {} ({e})",
                path.display()
            );
            Vec::new()
        }
    }
}

fn alert_samples() -> Vec<String> {
    let mut s: Vec<String> = ALERTS.iter().map(|a| a.to_string()).collect();
    s.extend(falco_alerts());
    s
}

#[test]
fn sidekick_parse_alert() {
    let samples = alert_samples();
    for s in &samples {
        peregrine_outputs::input::parse_alert(s.as_bytes())
            .unwrap_or_else(|e| panic!("sample {s} does not parse: {e}"));
    }
    let tokens = JSON_TOKENS.iter().map(|t| t.to_string()).collect();
    fuzz(
        "sidekick_parse_alert",
        mutated_text(samples, tokens),
        |body| match peregrine_outputs::input::parse_alert(body.as_bytes()) {
            Ok(alert) => {
                let _ = format!("{alert:?}");
                Outcome::Accepted
            }
            Err(e) => {
                let _ = e.to_string();
                Outcome::Rejected
            }
        },
    );
}

/// The input server on a loopback port, in its own actix system thread, forwarding to no
/// destination.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let cfg =
                peregrine_config::load_str("fuzz.yaml", "stdout_output: {enabled: false}\n", &[])
                    .unwrap();
            let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
            let (server, addr) = peregrine_outputs::input::start("127.0.0.1", 0, outputs).unwrap();
            tx.send(addr).unwrap();
            let _ = server.await;
        })
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the input server starts")
}

fn post(path: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn chunked_post(body: &str) -> Vec<u8> {
    let mut out =
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
            .to_vec();
    for piece in body.as_bytes().chunks(61) {
        out.extend(format!("{:X}\r\n", piece.len()).bytes());
        out.extend(piece);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

fn requests() -> Vec<Vec<u8>> {
    let alert = ALERTS[0];
    let mut pipelined = post("/", "Connection: keep-alive\r\n", alert);
    pipelined.extend(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    vec![
        post("/", "", alert),
        post("/", "Expect: 100-continue\r\n", ALERTS[1]),
        chunked_post(alert),
        post("/test", "", ""),
        b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec(),
        b"GET /healthz HTTP/1.0\r\n\r\n".to_vec(),
        pipelined,
        post("/", "", "{\"rule\":\"x\"}"),
    ]
}

const HTTP_TOKENS: &[&str] = &[
    "\r\n",
    "\r\n\r\n",
    "\n",
    " ",
    "\0",
    "GET ",
    "POST ",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "CONNECT 127.0.0.1:1 HTTP/1.1\r\n",
    " HTTP/1.1\r\n",
    " HTTP/9.9\r\n",
    " HTTP/1.1111111111\r\n",
    "/%zz/../..",
    "Content-Length: 18446744073709551615\r\n",
    "Content-Length: 18446744073709551616\r\n",
    "Content-Length: 99999999\r\n",
    "Content-Length: 0\r\n",
    "Content-Length: 5\r\nContent-Length: 6\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip\r\n",
    "Content-Encoding: gzip\r\n",
    "Content-Encoding: br\r\n",
    "ffffffffffffffff\r\n",
    "fffffffffffffffff\r\n",
    "0\r\n\r\n",
    "1;a=b\r\nx\r\n",
    "Expect: 100-continue\r\n",
    "Connection: upgrade\r\nUpgrade: websocket\r\n",
    "Authorization: Bearer x\r\n",
    "Host: \r\n",
    ": \r\n",
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    "\"priority\":\"Emergency\"",
    "\"time\":\"0000-01-01T00:00:00Z\"",
];

/// Sends `raw` on a fresh connection and reads what comes back; the HTTP status of the first
/// response, if any.
fn exchange(addr: SocketAddr, raw: &[u8]) -> Option<u16> {
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    conn.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
    conn.set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let _ = conn.write_all(raw);
    // The request ends here: a server waiting for more body sees the end of the stream.
    let _ = conn.shutdown(Shutdown::Write);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < 1 << 20 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.strip_prefix("HTTP/1.")?
        .get(2..5)
        .and_then(|s| s.parse().ok())
}

#[test]
fn sidekick_http_server() {
    let addr = start_server();
    let samples = requests();
    assert_eq!(
        exchange(addr, &samples[0]),
        Some(200),
        "a valid alert is taken"
    );
    let tokens = HTTP_TOKENS.iter().map(|t| t.as_bytes().to_vec()).collect();
    // At most one connection per CONNECTION_GAP: a modest load that leaves the loopback's
    // ports to other tests (a long run still makes tens of thousands).
    let last = Mutex::new(Instant::now());
    fuzz(
        "sidekick_http_server",
        mutated_bytes(samples.clone(), tokens, 1024),
        |raw| {
            let mut last = last.lock().unwrap();
            std::thread::sleep(CONNECTION_GAP.saturating_sub(last.elapsed()));
            *last = Instant::now();
            match exchange(addr, &raw) {
                Some(200..=299) => Outcome::Accepted,
                _ => Outcome::Rejected,
            }
        },
    );
    // Whatever came before, the server still takes a valid alert and answers a ping.
    assert_eq!(
        exchange(addr, &samples[0]),
        Some(200),
        "alive after the fuzzing"
    );
    assert_eq!(
        exchange(addr, &samples[4]),
        Some(200),
        "ping after the fuzzing"
    );
}
