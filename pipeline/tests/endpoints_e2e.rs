//! The real `peregrine` binary's listeners as a stranger meets them: the web server over
//! HTTPS only (`webserver.ssl_enabled`) and refusing to start on an unusable certificate;
//! the sidekick input over TLS and mutual TLS (falcosidekick's `tlsserver.*`), with its
//! `notlspaths` in clear and Peregrine's bearer token; both bound to loopback unless told
//! otherwise; and a flood of junk requests costing a counter each and a bounded number of
//! log lines. Certificates are made at test time.

mod common;

use common::tls::{get, https, post, Ca, Leaf};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const FALCO_ALERT: &str = r#"{"hostname":"falco-node","output":"16:17:57.881781397: Warning An open was seen (command=cat /dev/null)","priority":"Warning","rule":"open_from_cat","source":"syscall","tags":["filesystem"],"time":"2016-08-04T16:17:57.881781397Z","output_fields":{"proc.cmdline":"cat /dev/null"}}"#;

fn tmpdir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("peregrine-endpoints-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The agent on a slow synthetic stream, with `-o` overrides; killed when dropped.
struct Agent {
    child: Child,
    dir: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn spawn(dir: &Path, overrides: &[String]) -> Agent {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peregrine"));
        cmd.args([
            "--source",
            "synthetic:200",
            "-o",
            "stdout_output.enabled=false",
        ]);
        for o in overrides {
            cmd.arg("-o").arg(o);
        }
        let child = cmd
            .stdout(Stdio::from(File::create(dir.join("stdout")).unwrap()))
            .stderr(Stdio::from(File::create(dir.join("stderr")).unwrap()))
            .spawn()
            .expect("start peregrine");
        Agent {
            child,
            dir: dir.to_path_buf(),
        }
    }

    /// Started, and `line` is in its log.
    fn start(dir: &Path, overrides: &[String], line: &str) -> Agent {
        let mut agent = Agent::spawn(dir, overrides);
        let start = Instant::now();
        while !agent.stderr().contains(line) {
            if let Some(status) = agent.child.try_wait().unwrap() {
                panic!("agent exited ({status}): {}", agent.stderr());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {line:?} in {}",
                agent.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// SIGTERM and a clean exit.
    fn stop(mut self) {
        // SAFETY: signalling our own child.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{}", self.stderr());
    }
}

/// The agent with these overrides must refuse to start, saying all of `says`.
fn refuses(dir: &Path, overrides: &[String], says: &[&str]) {
    let mut agent = Agent::spawn(dir, overrides);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = agent.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still running with {overrides:?}: {}",
            agent.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = agent.stderr();
    assert!(!status.success(), "started with {overrides:?}: {err}");
    for s in says {
        assert!(err.contains(s), "{s:?} missing in: {err}");
    }
}

/// A plain-HTTP exchange with `127.0.0.1:port`.
fn plain(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of the counter `name{reason="reason"}` in a Prometheus text body (0 if absent).
fn counter(metrics: &str, name: &str, reason: &str) -> u64 {
    let key = format!("{name}{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
}

fn sum_of(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn status_of(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn webserver_ssl_serves_https_only_and_refuses_to_start_on_a_bad_certificate() {
    let dir = tmpdir("webserver");
    let ca = Ca::new("web test CA");
    let server = ca.server();
    let bundle = write(&dir, "falco.pem", &format!("{}{}", server.cert, server.key));
    let port = free_port();
    let web = |pem: &str| {
        vec![
            "webserver.enabled=true".to_string(),
            format!("webserver.listen_port={port}"),
            "webserver.prometheus_metrics_enabled=true".into(),
            "metrics.enabled=true".into(),
            "webserver.ssl_enabled=true".into(),
            format!("webserver.ssl_certificate={pem}"),
        ]
    };
    let agent = Agent::start(
        &dir,
        &web(&bundle),
        &format!("web server listening on https://127.0.0.1:{port}"),
    );
    let health = https(port, &ca.pem(), None, &get("/healthz")).unwrap();
    assert_eq!(status_of(&health), "200", "{health}");
    assert!(health.ends_with("{\"status\": \"ok\"}"), "{health}");
    // Plain HTTP to the TLS port gets no HTTP answer, and is counted.
    let answer = plain(port, &get("/healthz"));
    assert!(!answer.starts_with("HTTP/"), "{answer}");
    let lost = https(port, &ca.pem(), None, &get("/nowhere")).unwrap();
    assert_eq!(status_of(&lost), "404", "{lost}");
    let metrics = https(port, &ca.pem(), None, &get("/metrics")).unwrap();
    assert_eq!(status_of(&metrics), "200", "{metrics}");
    let name = "peregrine_webserver_rejected_total";
    assert_eq!(counter(&metrics, name, "tls_handshake"), 1, "{metrics}");
    assert_eq!(counter(&metrics, name, "bad_path"), 1, "{metrics}");
    agent.stop();

    // An unusable certificate file stops the agent, naming the file and the problem.
    let missing = dir.join("absent.pem").display().to_string();
    refuses(
        &dir,
        &web(&missing),
        &["webserver.ssl_certificate", &missing, "cannot read"],
    );
    let garbage = write(&dir, "garbage.pem", "not a certificate\n");
    refuses(&dir, &web(&garbage), &[&garbage, "no PEM certificate"]);
    let cert_only = write(&dir, "cert-only.pem", &server.cert);
    refuses(&dir, &web(&cert_only), &[&cert_only, "no PEM private key"]);
    let other = ca.server();
    let mismatched = write(
        &dir,
        "mismatched.pem",
        &format!("{}{}", server.cert, other.key),
    );
    refuses(&dir, &web(&mismatched), &[&mismatched, "does not belong"]);
}

struct InputSetup {
    ca: Ca,
    client: Leaf,
    dir: PathBuf,
    port: u16,
    clear_port: u16,
    web_port: u16,
    overrides: Vec<String>,
}

/// The input with mutual TLS, `/ping` and `/healthz` in clear, a bearer token, and a plain
/// web server for its metrics; alerts to a file.
fn input_setup(name: &str) -> InputSetup {
    let dir = tmpdir(name);
    let ca = Ca::new("input test CA");
    let server = ca.server();
    let client = ca.client();
    let (port, clear_port, web_port) = (free_port(), free_port(), free_port());
    let overrides = vec![
        format!("outputs.listenport={port}"),
        "outputs.tlsserver.deploy=true".into(),
        format!(
            "outputs.tlsserver.certfile={}",
            write(&dir, "server.crt", &server.cert)
        ),
        format!(
            "outputs.tlsserver.keyfile={}",
            write(&dir, "server.key", &server.key)
        ),
        "outputs.tlsserver.mutualtls=true".into(),
        format!(
            "outputs.tlsserver.cacertfile={}",
            write(&dir, "ca.crt", &ca.pem())
        ),
        format!("outputs.tlsserver.notlsport={clear_port}"),
        "outputs.tlsserver.notlspaths=/ping,/healthz".into(),
        "outputs.input.bearertoken=s3cret-token".into(),
        "webserver.enabled=true".into(),
        format!("webserver.listen_port={web_port}"),
        "webserver.prometheus_metrics_enabled=true".into(),
        "metrics.enabled=true".into(),
        "file_output.enabled=true".into(),
        format!("file_output.filename={}", dir.join("alerts.txt").display()),
    ];
    InputSetup {
        ca,
        client,
        dir,
        port,
        clear_port,
        web_port,
        overrides,
    }
}

#[test]
fn input_over_mutual_tls_with_clear_paths_and_a_bearer_token() {
    let s = input_setup("mtls");
    let agent = Agent::start(
        &s.dir,
        &s.overrides,
        "falcosidekick-compatible input listening",
    );
    let log = agent.stderr();
    assert!(
        log.contains("https (mutual TLS; /ping, /healthz in clear"),
        "{log}"
    );
    assert!(log.contains("bearer token required"), "{log}");
    let ca = s.ca.pem();
    let auth = "Authorization: Bearer s3cret-token\r\n";

    // A good client certificate and the token: accepted and delivered.
    let ok = https(s.port, &ca, Some(&s.client), &post("/", auth, FALCO_ALERT)).unwrap();
    assert_eq!(status_of(&ok), "200", "{ok}");
    // No client certificate, or one from another CA: the handshake is refused.
    let no_cert = https(s.port, &ca, None, &post("/", auth, FALCO_ALERT));
    assert!(no_cert.is_err(), "{no_cert:?}");
    let stranger = Ca::new("another CA").client();
    let foreign = https(s.port, &ca, Some(&stranger), &post("/", auth, FALCO_ALERT));
    assert!(foreign.is_err(), "{foreign:?}");
    // Plain HTTP to the TLS port: no HTTP answer.
    let answer = plain(s.port, &post("/", auth, FALCO_ALERT));
    assert!(!answer.starts_with("HTTP/"), "{answer}");
    // The token is checked after the handshake.
    let none = https(s.port, &ca, Some(&s.client), &post("/", "", FALCO_ALERT)).unwrap();
    assert_eq!(status_of(&none), "401", "{none}");
    let wrong = "Authorization: Bearer s3cret-tokem\r\n";
    let bad = https(s.port, &ca, Some(&s.client), &post("/", wrong, FALCO_ALERT)).unwrap();
    assert_eq!(status_of(&bad), "401", "{bad}");
    let test_route = https(s.port, &ca, Some(&s.client), &get("/test")).unwrap();
    assert_eq!(status_of(&test_route), "401", "{test_route}");
    // notlspaths are served in clear on notlsport, and only there.
    let pong = plain(s.clear_port, &get("/ping"));
    assert!(
        pong.starts_with("HTTP/1.0 200") && pong.ends_with("pong\n"),
        "{pong}"
    );
    let health = plain(s.clear_port, &get("/healthz"));
    assert_eq!(status_of(&health), "200", "{health}");
    let post_clear = plain(s.clear_port, &post("/", auth, FALCO_ALERT));
    assert_eq!(status_of(&post_clear), "404", "{post_clear}");
    let ping_tls = https(s.port, &ca, Some(&s.client), &get("/ping")).unwrap();
    assert_eq!(status_of(&ping_tls), "404", "{ping_tls}");

    let alerts = s.dir.join("alerts.txt");
    let start = Instant::now();
    while !std::fs::read_to_string(&alerts)
        .unwrap_or_default()
        .contains("An open was seen")
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the accepted alert was not delivered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&alerts).unwrap();
    assert_eq!(
        text.matches("An open was seen").count(),
        1,
        "only the authorised post: {text}"
    );

    // Malformed HTTP is counted too (the web server, plain here).
    let garbage = plain(s.web_port, "GARBAGE\r\n\r\n");
    assert_eq!(status_of(&garbage), "400", "{garbage}");
    let metrics = plain(s.web_port, &get("/metrics"));
    let web = "peregrine_webserver_rejected_total";
    assert_eq!(counter(&metrics, web, "malformed_http"), 1, "{metrics}");
    let name = "peregrine_input_rejected_total";
    assert_eq!(counter(&metrics, name, "tls_handshake"), 3, "{metrics}");
    assert_eq!(counter(&metrics, name, "unauthorized"), 3, "{metrics}");
    assert_eq!(counter(&metrics, name, "bad_path"), 2, "{metrics}");
    agent.stop();

    // A CA file that is not there: no input, no agent.
    let mut o = s.overrides.clone();
    let absent = s.dir.join("absent-ca.crt").display().to_string();
    o.push(format!("outputs.tlsserver.cacertfile={absent}"));
    refuses(
        &s.dir,
        &o,
        &[
            "outputs.tlsserver",
            "client CA file",
            &absent,
            "cannot read",
        ],
    );
}

/// The host's first non-loopback IPv4 address (`ip -o -4 addr`), if it has one.
fn non_loopback_address() -> Option<IpAddr> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let addr = l.split_whitespace().skip_while(|w| *w != "inet").nth(1)?;
        let ip: IpAddr = addr.split('/').next()?.parse().ok()?;
        (!ip.is_loopback()).then_some(ip)
    })
}

#[test]
fn both_listeners_bind_loopback_by_default() {
    let Some(outside) = non_loopback_address() else {
        eprintln!("skipping both_listeners_bind_loopback_by_default: this host has no non-loopback IPv4 address");
        return;
    };
    let dir = tmpdir("loopback");
    let (input, web) = (free_port(), free_port());
    let agent = Agent::start(
        &dir,
        &[
            format!("outputs.listenport={input}"),
            "webserver.enabled=true".into(),
            format!("webserver.listen_port={web}"),
        ],
        "web server listening",
    );
    let log = agent.stderr();
    assert!(
        log.contains(&format!("input listening on 127.0.0.1:{input}")),
        "{log}"
    );
    assert!(
        log.contains("set outputs.listenaddress=0.0.0.0 to accept other hosts"),
        "{log}"
    );
    assert!(
        log.contains(&format!("web server listening on http://127.0.0.1:{web}")),
        "{log}"
    );
    assert!(
        log.contains("set webserver.listen_address=0.0.0.0"),
        "{log}"
    );
    for port in [input, web] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "loopback :{port}"
        );
        let refused = TcpStream::connect_timeout(&(outside, port).into(), Duration::from_secs(2));
        assert!(refused.is_err(), "{outside}:{port} answered");
    }
    agent.stop();
}

#[test]
fn a_junk_flood_costs_a_counter_each_and_a_few_log_lines() {
    let s = input_setup("junk");
    // Plain HTTP for the flood (no handshake per request), the token still required.
    let overrides: Vec<String> = s
        .overrides
        .iter()
        .filter(|o| !o.starts_with("outputs.tlsserver."))
        .cloned()
        .collect();
    let agent = Agent::start(
        &s.dir,
        &overrides,
        "falcosidekick-compatible input listening",
    );
    let auth = "Authorization: Bearer s3cret-token\r\n";
    let started = Instant::now();
    let kinds = 5;
    let total = 2000;
    for i in 0..total {
        let request = match i % kinds {
            0 => post("/", auth, "{not json"),
            1 => format!(
                "POST / HTTP/1.0\r\nContent-Type: text/plain\r\n{auth}Content-Length: 2\r\n\r\n{{}}"
            ),
            2 => get("/wp-login.php"),
            3 => format!(
                "POST / HTTP/1.0\r\nContent-Type: application/json\r\n{auth}Content-Length: 99999999\r\n\r\n"
            ),
            _ => post("/", "Authorization: Bearer guess\r\n", FALCO_ALERT),
        };
        let answer = plain(s.port, &request);
        assert!(answer.starts_with("HTTP/1.0 4"), "request {i}: {answer}");
    }
    let elapsed = started.elapsed();
    let metrics = plain(s.web_port, &get("/metrics"));
    let name = "peregrine_input_rejected_total";
    assert_eq!(sum_of(&metrics, name), total, "{metrics}");
    for reason in [
        "not_json",
        "content_type",
        "bad_path",
        "too_large",
        "unauthorized",
    ] {
        assert_eq!(
            counter(&metrics, name, reason),
            total / kinds,
            "{reason}: {metrics}"
        );
    }
    let log = agent.stderr();
    let lines = log.matches("sidekick input: rejected a request").count() as u64;
    // One at once, then at most one per 10 s.
    let bound = 1 + elapsed.as_secs() / 10 + 1;
    assert!(
        lines >= 1 && lines <= bound,
        "{lines} lines in {elapsed:?}: {log}"
    );
    assert!(!log.contains("ERROR"), "{log}");
    agent.stop();
}
