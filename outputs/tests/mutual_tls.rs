//! The webhook over HTTPS with mutual TLS: a local rustls server that requires a client
//! certificate from its CA receives the alert when `mutualtls: true` presents
//! `outputs.mutualtlsclient`'s certificate, and refuses the handshake otherwise (the alert is
//! then retried and dropped, counted).

mod common;

use common::{alert, assert_adds_up, config, find};
use peregrine_outputs::DropReason;
use peregrine_rules::Priority;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn tls_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tls")
}

struct TlsReceiver {
    port: u16,
    bodies: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for TlsReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn tls_receiver() -> TlsReceiver {
    let dir = tls_dir();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(dir.join("ca.crt")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let chain: Vec<_> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = Arc::new(
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (b, r, s) = (bodies.clone(), refused.clone(), stop.clone());
    std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            let Ok((tcp, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            tcp.set_nonblocking(false).unwrap();
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let conn = ServerConnection::new(config.clone()).unwrap();
            let mut stream = BufReader::new(StreamOwned::new(conn, tcp));
            let mut len = 0;
            let mut line = String::new();
            loop {
                line.clear();
                match stream.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let l = line.trim_end().to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if l.is_empty() {
                    let mut body = vec![0; len];
                    if stream.read_exact(&mut body).is_ok() {
                        b.lock()
                            .unwrap()
                            .push(String::from_utf8_lossy(&body).into());
                        let _ = stream
                            .get_mut()
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                        let _ = stream.get_mut().flush();
                    }
                    len = 0;
                }
            }
            if line.is_empty() && stream.get_ref().conn.peer_certificates().is_none() {
                r.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    TlsReceiver {
        port,
        bodies,
        refused,
        stop,
    }
}

fn wait_until(limit: Duration, f: impl Fn() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

#[test]
fn the_webhook_presents_its_client_certificate() {
    let rx = tls_receiver();
    let dir = tls_dir();
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  mutualtlsclient:
    certfile: {dir}/client.crt
    keyfile: {dir}/client.key
    cacertfile: {dir}/ca.crt
  webhook:
    address: https://localhost:{port}/hook
    mutualtls: true
"#,
        dir = dir.display(),
        port = rx.port
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    o.offer(vec![alert(
        "r",
        Priority::Critical,
        1_700_000_000_000_000_000,
        json!({"a": "b"}),
    )]);
    assert!(wait_until(Duration::from_secs(10), || rx
        .bodies
        .lock()
        .unwrap()
        .len()
        == 1));
    let snaps = o.join();
    let body: serde_json::Value = serde_json::from_str(&rx.bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(body["rule"], "r");
    assert_eq!(body["output_fields"], json!({"a": "b"}));
    let s = find(&snaps, "webhook");
    assert_eq!(s.sent, 1);
    assert_adds_up(s);
}

#[test]
fn without_the_client_certificate_the_server_refuses_and_the_alert_is_counted() {
    let rx = tls_receiver();
    let dir = tls_dir();
    let cfg = config(&format!(
        r#"
stdout_output: {{enabled: false}}
outputs:
  tlsclient: {{cacertfile: {dir}/ca.crt}}
  webhook:
    address: https://localhost:{port}/hook
    maxretries: 1
    backoff: 10ms
"#,
        dir = dir.display(),
        port = rx.port
    ));
    let o = peregrine_outputs::from_config(&cfg, false).unwrap();
    o.offer(vec![alert("r", Priority::Critical, 1, json!({"a": "b"}))]);
    assert!(wait_until(Duration::from_secs(10), || {
        find(&o.snapshot(), "webhook").dropped == 1
    }));
    let snaps = o.join();
    let s = find(&snaps, "webhook");
    assert_eq!(s.dropped_for(DropReason::RetriesExhausted), 1, "{s:?}");
    assert_eq!(s.failed_attempts, 2);
    assert_adds_up(s);
    assert!(rx.bodies.lock().unwrap().is_empty());
    assert!(rx.refused.load(Ordering::Relaxed) >= 1);
}

#[test]
fn unreadable_certificates_fail_at_start_with_the_file_named() {
    let cfg = config(
        "stdout_output: {enabled: false}\noutputs:\n  mutualtlsfilespath: /nonexistent/certs\n  webhook: {address: 'https://x.invalid/', mutualtls: true}\n",
    );
    let e = peregrine_outputs::from_config(&cfg, false)
        .err()
        .expect("missing certificate files")
        .to_string();
    assert!(
        e.contains("webhook") && e.contains("/nonexistent/certs/ca.crt"),
        "{e}"
    );
}
