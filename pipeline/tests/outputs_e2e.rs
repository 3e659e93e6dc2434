//! The real `peregrine` binary with falcosidekick's job: alerts from the rules and from the
//! sidekick-compatible input (a real Falco alert POSTed to `/`) reach a local Loki receiver;
//! `/metrics` carries `falco_outputs_total` and the per-destination queue depth; SIGTERM
//! drains and the final counters of the destination add up.

use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A Loki stand-in: keeps each push body, answers 204.
fn loki() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pushes = Arc::new(Mutex::new(Vec::new()));
    let p = pushes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                loop {
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end().to_ascii_lowercase();
                        if l.is_empty() {
                            break;
                        }
                        if let Some(v) = l.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    p.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&body).unwrap());
                    if w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, pushes)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn request(port: u16, head: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{head} HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rules_in(pushes: &[Value]) -> Vec<String> {
    pushes
        .iter()
        .flat_map(|p| p["streams"].as_array().unwrap().clone())
        .map(|s| s["stream"]["rule"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rule_alerts_and_sidekick_input_reach_loki_with_metrics_and_a_clean_drain() {
    let dir = std::env::temp_dir().join(format!("peregrine-outputs-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (loki_port, pushes) = loki();
    let (input_port, web_port) = (free_port(), free_port());
    let stats = dir.join("stats.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args([
            "--source",
            "synthetic:20000",
            "--stats-file",
            stats.to_str().unwrap(),
            "-o",
            "stdout_output.enabled=false",
            "-o",
            &format!("outputs.loki.hostport=http://127.0.0.1:{loki_port}"),
            "-o",
            "outputs.loki.format=json",
            "-o",
            "outputs.listenaddress=127.0.0.1",
            "-o",
            &format!("outputs.listenport={input_port}"),
            "-o",
            "webserver.enabled=true",
            "-o",
            "webserver.listen_address=127.0.0.1",
            "-o",
            &format!("webserver.listen_port={web_port}"),
            "-o",
            "webserver.prometheus_metrics_enabled=true",
            "-o",
            "metrics.enabled=true",
        ])
        .stdout(Stdio::from(File::create(dir.join("stdout")).unwrap()))
        .stderr(Stdio::from(File::create(dir.join("stderr")).unwrap()))
        .spawn()
        .expect("start peregrine");

    wait_for(|| !pushes.lock().unwrap().is_empty(), "rule alerts at Loki");
    wait_for(
        // A connect to a free ephemeral port can succeed by connecting to itself.
        || {
            TcpStream::connect(("127.0.0.1", input_port))
                .is_ok_and(|s| s.local_addr().ok() != s.peer_addr().ok())
        },
        "the sidekick input",
    );
    let falco = r#"{"hostname":"falco-node","output":"16:17:57.881781397: Warning An open was seen (command=cat /dev/null)","priority":"Warning","rule":"open_from_cat","source":"syscall","tags":["filesystem"],"time":"2016-08-04T16:17:57.881781397Z","output_fields":{"proc.cmdline":"cat /dev/null"}}"#;
    let answer = request(input_port, "POST /", falco);
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    let answer = request(input_port, "POST /", "{\"rule\": 1}");
    assert!(
        answer.contains(" 400 ") && answer.contains("`rule` must be a string"),
        "{answer}"
    );
    wait_for(
        || {
            rules_in(&pushes.lock().unwrap())
                .iter()
                .any(|r| r == "open_from_cat")
        },
        "the posted alert at Loki",
    );
    let mut metrics = String::new();
    wait_for(
        || {
            metrics = request(web_port, "GET /metrics", "");
            metrics.contains("falco_outputs_total{")
        },
        "output metrics",
    );
    for line in [
        "destination=\"loki\"",
        "peregrine_output_queue_depth_alerts{",
        "peregrine_output_dropped_total{",
        "falcosecurity_falcosidekick_inputs_total{",
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("falco_outputs_total{")
                && l.contains("destination=\"loki\"")
                && l.contains("status=\"ok\"")),
        "{metrics}"
    );

    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(dir.join("stderr")).unwrap()
    );
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let loki = all
        .iter()
        .find(|s| s["stage"] == "output.loki")
        .expect("loki counters");
    let n = |k: &str| loki[k].as_u64().unwrap();
    assert_eq!(n("in"), n("out") + n("dropped") + n("filtered"), "{loki}");
    assert_eq!(n("dropped"), 0, "{loki}");
    let delivered: usize = pushes
        .lock()
        .unwrap()
        .iter()
        .flat_map(|p| p["streams"].as_array().unwrap().clone())
        .map(|s| s["values"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        delivered as u64,
        n("out"),
        "every counted alert reached Loki"
    );
    let outputs = all.iter().find(|s| s["stage"] == "outputs").unwrap();
    assert_eq!(
        n("in"),
        outputs["out"].as_u64().unwrap() + 1,
        "rule alerts plus the posted one"
    );
}
