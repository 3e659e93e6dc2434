//! Alerts per second delivered to a local Loki receiver, in batches.
//! `cargo bench -p peregrine-outputs --bench loki`; results in `docs/benchmarks.md`.
//!
//! The receiver is a minimal HTTP/1.1 server on loopback that reads each push and answers
//! 204 (it does not parse the JSON, so the number is the agent's side: rendering labels and
//! lines, building the push body, the HTTP round trip). Alerts look like the seed rules'
//! (about 15 output fields, a ~500-byte output line), 20 rules × 3 priorities spread over
//! the batches, offered the way the rule shards do (1024 per call) as fast as the
//! dispatcher takes them; the clock stops when the destination has sent them all. Besides
//! wall-clock alerts/s (which depends on what else runs on the machine), it reports the CPU
//! time the destination's own thread (`output.loki`) spent per alert, from
//! `/proc/self/task/*/stat`.

use peregrine_outputs::Outputs;
use peregrine_rules::{Alert, Priority};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ALERTS: u64 = 200_000;

fn receiver() -> (u16, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let pushes = Arc::new(AtomicU64::new(0));
    let p = pushes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::with_capacity(1 << 20, stream);
                let mut line = String::new();
                let mut body = Vec::new();
                loop {
                    let mut len = 0usize;
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    body.resize(len, 0);
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    p.fetch_add(1, Ordering::Relaxed);
                    if w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, pushes)
}

fn alerts(n: u64) -> Vec<Alert> {
    let priorities = [Priority::Critical, Priority::Warning, Priority::Notice];
    (0..n)
        .map(|i| {
            let rule = format!("Rule number {}", i % 20);
            let p = priorities[(i % 3) as usize];
            let message = format!(
                "Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=systemd \
                 ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 user_loginuid=1000 \
                 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34816 \
                 container_id=3ad7b26ded6d container_name=web-{} container_image_repository=nginx \
                 container_image_tag=1.25 k8s_pod_name=web-{} k8s_ns_name=default)",
                i % 7,
                i % 7
            );
            let fields = json!({
                "container.id": "3ad7b26ded6d", "container.image.repository": "nginx",
                "container.image.tag": "1.25", "container.name": format!("web-{}", i % 7),
                "evt.time": 1_700_000_000_000_000_000u64 + i, "evt.type": "openat",
                "fd.name": "/etc/shadow", "k8s.ns.name": "default",
                "k8s.pod.name": format!("web-{}", i % 7), "proc.cmdline": "cat /etc/shadow",
                "proc.exepath": "/usr/bin/cat", "proc.name": "cat", "proc.pname": "bash",
                "proc.tty": 34816, "user.loginuid": 1000, "user.name": "root", "user.uid": 0
            });
            Alert {
                time_ns: 1_700_000_000_000_000_000 + i,
                rule: rule.as_str().into(),
                priority: p,
                source: "syscall".into(),
                tags: Arc::from(vec!["T1555".to_string(), "container".into(), "filesystem".into()]),
                hostname: "node-1".into(),
                output: format!("22:13:31.726060287: {} {message}", p.as_str()),
                message,
                output_fields: match fields {
                    serde_json::Value::Object(m) => m,
                    _ => unreachable!(),
                },
            }
        })
        .collect()
}

fn outputs(port: u16, format: &str, batch: usize) -> Outputs {
    let text = format!(
        "stdout_output: {{enabled: false}}\noutputs:\n  loki:\n    hostport: http://127.0.0.1:{port}\n    format: {format}\n    batchsize: {batch}\n    buffersize: {ALERTS}\n"
    );
    let cfg = peregrine_config::load_str("bench.yaml", &text, &[]).unwrap();
    peregrine_outputs::from_config(&cfg, false).unwrap()
}

/// CPU time (user + system) of the thread called `name`, in seconds.
fn thread_cpu(name: &str) -> f64 {
    let tick = 100.0; // USER_HZ
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3; utime 14, stime 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        return ticks / tick;
    }
    0.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let all = alerts(ALERTS);
    println!("{ALERTS} alerts per case, offered 1024 at a time");
    println!("format  batchsize  alerts/s   pushes  avg alerts/push  sender CPU µs/alert");
    for format in ["text", "json"] {
        for batch in [1usize, 100, 500, 2000] {
            let (port, pushes) = receiver();
            let o = outputs(port, format, batch);
            let start = Instant::now();
            for chunk in all.chunks(1024) {
                o.offer(chunk.to_vec());
            }
            while o.snapshot()[0].sent < ALERTS {
                std::thread::sleep(Duration::from_millis(1));
            }
            let secs = start.elapsed().as_secs_f64();
            let cpu = thread_cpu("output.loki");
            let s = o.join();
            assert_eq!(s[0].dropped, 0, "{:?}", s[0]);
            let n = pushes.load(Ordering::Relaxed);
            println!(
                "{format:6}  {batch:9}  {:8.0}  {n:7}  {:15.1}  {:18.1}",
                ALERTS as f64 / secs,
                ALERTS as f64 / n as f64,
                cpu * 1e6 / ALERTS as f64
            );
        }
    }
}
