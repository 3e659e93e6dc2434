//! The soak test (issue 15): the live agent for 30 minutes (`PEREGRINE_SOAK_SECS`) under a
//! mixed workload of real processes, file reads and loopback connections, with a Loki that
//! goes down for 20 s of every minute, a webhook that accepts connections and never
//! answers, a file output as the ground truth, and a rules reload (SIGHUP, changed file)
//! every minute. Checked at the end:
//! - RSS stays flat: the mean of the last fifth of the run against the mean of the second
//!   fifth (after warm-up), reported minute by minute;
//! - nothing is lost without a counted reason: every stage and destination adds up
//!   (`in = out + filtered + dropped`), Loki got exactly what was counted as sent, the file
//!   holds exactly its sent alerts, the hanging webhook's alerts are all dropped by reason;
//! - SIGTERM ends the agent within `draintimeout` + 1 s, the hanging webhook included.
//!
//! `cargo test --release -p peregrine --test soak -- --ignored --nocapture`; results go to
//! `docs/benchmarks.md`. Root, BPF and the upstream rules are needed.

mod common;

use common::skip;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DRAIN: Duration = Duration::from_secs(5);

/// A Loki stand-in that is down (connections refused, open ones closed between requests)
/// for the last `down` of every `period`. Counts the log lines of each push it answered
/// 204, after checking the push is Loki's JSON (`streams[].stream`, `values[][ts, line]`).
struct Loki {
    port: u16,
    accepted: Arc<AtomicU64>,
    bad: Arc<AtomicU64>,
    down_periods: Arc<AtomicU64>,
}

impl Loki {
    fn start(period: Duration, down: Duration, stop: Arc<AtomicBool>) -> Loki {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let accepted = Arc::new(AtomicU64::new(0));
        let bad = Arc::new(AtomicU64::new(0));
        let down_periods = Arc::new(AtomicU64::new(0));
        let is_down = Arc::new(AtomicBool::new(false));
        let (a, b, d) = (accepted.clone(), bad.clone(), down_periods.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
                listener.set_nonblocking(true).unwrap();
                is_down.store(false, Ordering::Relaxed);
                let up_until = Instant::now() + (period - down);
                while Instant::now() < up_until && !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            let (a, b, is_down) = (a.clone(), b.clone(), is_down.clone());
                            std::thread::spawn(move || serve_loki(s, &a, &b, &is_down));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
                drop(listener);
                is_down.store(true, Ordering::Relaxed);
                d.fetch_add(1, Ordering::Relaxed);
                let until = Instant::now() + down;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Loki {
            port,
            accepted,
            bad,
            down_periods,
        }
    }
}

fn serve_loki(s: TcpStream, accepted: &AtomicU64, bad: &AtomicU64, is_down: &AtomicBool) {
    s.set_read_timeout(Some(Duration::from_millis(200))).ok();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    loop {
        // Between requests: close when down.
        let mut line = String::new();
        loop {
            if is_down.load(Ordering::Relaxed) {
                return;
            }
            match r.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => return,
            }
        }
        r.get_ref()
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok();
        let mut len = 0;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end().to_ascii_lowercase();
            if h.is_empty() {
                break;
            }
            if let Some(v) = h.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        r.get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .ok();
        match loki_lines(&body) {
            Some(n) if line.starts_with("POST /loki/api/v1/push ") => {
                accepted.fetch_add(n, Ordering::Relaxed);
                if w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err() {
                    return;
                }
            }
            _ => {
                bad.fetch_add(1, Ordering::Relaxed);
                let _ = w.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
            }
        }
    }
}

/// The log lines in a Loki JSON push, if it is one.
fn loki_lines(body: &[u8]) -> Option<u64> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let mut n = 0;
    for s in v["streams"].as_array()? {
        s["stream"].as_object()?;
        for value in s["values"].as_array()? {
            let pair = value.as_array()?;
            pair[0].as_str()?.parse::<u64>().ok()?;
            pair[1].as_str()?;
            n += 1;
        }
    }
    Some(n)
}

/// A webhook that accepts connections, reads what comes, and never answers.
fn hanging_webhook(stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    std::thread::spawn(move || {
                        let mut sink = [0u8; 4096];
                        while s.read(&mut sink).map(|n| n > 0).unwrap_or(false) {}
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

/// Real actions, round after round: reads of a watched file, short-lived processes, a
/// loopback connection. Returns how many rounds ran.
fn workload(dir: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let marker = dir.join("soak-secret");
    std::fs::write(&marker, "x").unwrap();
    std::thread::spawn(move || {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        server.set_nonblocking(true).unwrap();
        let mut rounds = 0;
        while !stop.load(Ordering::Relaxed) {
            let _ = Command::new("cat")
                .arg(&marker)
                .stdout(Stdio::null())
                .status();
            let _ = Command::new("sh")
                .args(["-c", "ls /tmp >/dev/null; id -u >/dev/null"])
                .status();
            let _ = std::fs::read(&marker);
            let _ = TcpStream::connect(addr);
            while server.accept().is_ok() {}
            rounds += 1;
            std::thread::sleep(Duration::from_millis(40));
        }
        rounds
    })
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn rules_text(dir: &Path, generation: u64) -> String {
    format!(
        "# generation {generation}\n- rule: soak watched file read\n  desc: the soak workload reads its marker\n  condition: evt.type in (open, openat, openat2) and fd.name = {}\n  output: soak read %fd.name by %proc.name (gen {generation})\n  priority: WARNING\n",
        dir.join("soak-secret").display()
    )
}

/// `in = out + filtered + dropped` for every stage and destination of the final stats.
fn assert_adds_up(stats: &Value) {
    for s in stats.as_array().unwrap() {
        let n = |k: &str| s[k].as_u64().unwrap();
        assert_eq!(
            n("in"),
            n("out") + n("filtered") + n("dropped") + n("held"),
            "stage {}: {s}",
            s["stage"]
        );
        let by_reason: u64 = s["dropped_by_reason"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[1].as_u64().unwrap())
            .sum();
        assert_eq!(by_reason, n("dropped"), "every drop has a reason: {s}");
    }
}

fn stage<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name}: {stats}"))
}

#[test]
#[ignore = "30 minutes: cargo test --release -p peregrine --test soak -- --ignored --nocapture"]
fn soak() {
    if skip("soak") {
        return;
    }
    let Some(testdata) = common::testdata("soak") else {
        return;
    };
    let secs: u64 = std::env::var("PEREGRINE_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800);
    let total = Duration::from_secs(secs);
    let minute = Duration::from_secs(60).min(total / 3);
    let dir = std::env::temp_dir().join(format!("peregrine-soak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let loki = Loki::start(minute, minute / 3, stop.clone());
    let hook = hanging_webhook(stop.clone());
    let local_rules = dir.join("soak_rules.yaml");
    std::fs::write(&local_rules, rules_text(&dir, 0)).unwrap();
    let alerts_file = dir.join("alerts.json");
    let stats_file = dir.join("stats.json");

    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .arg("-r")
        .arg(testdata.join("upstream/falco_rules.yaml"))
        .arg("-r")
        .arg(&local_rules)
        .args(["-o", "json_output=true", "-o", "webserver.enabled=false"])
        .args(["-o", "stdout_output.enabled=false"])
        .args([
            "-o",
            "file_output.enabled=true",
            "-o",
            "file_output.keep_alive=true",
        ])
        .arg("-o")
        .arg(format!("file_output.filename={}", alerts_file.display()))
        .arg("-o")
        .arg(format!(
            "outputs.loki.hostport=http://127.0.0.1:{}",
            loki.port
        ))
        .args(["-o", "outputs.loki.format=json"])
        .arg("-o")
        .arg(format!("outputs.webhook.address=http://127.0.0.1:{hook}/"))
        .args(["-o", "outputs.timeout=2s", "-o", "outputs.draintimeout=5s"])
        .args(["-o", "outputs.maxretries=3"])
        .arg("--stats-file")
        .arg(&stats_file)
        .stdout(Stdio::null())
        .stderr(Stdio::from(File::create(dir.join("stderr")).unwrap()))
        .spawn()
        .expect("start peregrine");
    let pid = child.id();
    let stderr = || std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    let started = Instant::now();
    while !stderr().contains("processes read from /proc") {
        assert!(started.elapsed() < Duration::from_secs(120), "{}", stderr());
        std::thread::sleep(Duration::from_millis(100));
    }

    let work = workload(&dir, stop.clone());
    let begin = Instant::now();
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut reloads = 0u64;
    let mut next_reload = begin + minute;
    while begin.elapsed() < total {
        std::thread::sleep(Duration::from_secs(10).min(total / 30));
        samples.push((begin.elapsed().as_secs(), rss_kib(pid)));
        if Instant::now() >= next_reload {
            reloads += 1;
            std::fs::write(&local_rules, rules_text(&dir, reloads)).unwrap();
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid as i32, libc::SIGHUP) };
            next_reload += minute;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "agent died: {}",
            stderr()
        );
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = work.join().unwrap();
    // Let the last alerts reach the destinations before the stop.
    std::thread::sleep(Duration::from_secs(2));

    let term = Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let stop_took = term.elapsed();
    let log = stderr();
    assert!(status.success(), "{status}: {log}");

    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(&stats_file).unwrap()).unwrap();
    assert_adds_up(&stats);
    let file_lines = std::fs::read_to_string(&alerts_file)
        .unwrap()
        .lines()
        .inspect(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        })
        .count() as u64;
    let (rules, outs) = (stage(&stats, "rules"), stage(&stats, "outputs"));
    let (file, lk, wh) = (
        stage(&stats, "output.file"),
        stage(&stats, "output.loki"),
        stage(&stats, "output.webhook"),
    );
    let alerts = outs["in"].as_u64().unwrap();
    assert_eq!(rules["out"], outs["in"], "every match became an alert");
    assert_eq!(
        file["out"].as_u64().unwrap(),
        file_lines,
        "the file holds what it sent"
    );
    assert_eq!(file["in"].as_u64().unwrap(), alerts);
    assert_eq!(
        lk["out"].as_u64().unwrap(),
        loki.accepted.load(Ordering::Relaxed),
        "Loki got what was counted as sent"
    );
    assert_eq!(
        loki.bad.load(Ordering::Relaxed),
        0,
        "every push was Loki's JSON"
    );
    assert_eq!(wh["out"], 0, "the hanging webhook never answered");
    assert_eq!(wh["dropped"], wh["in"], "its alerts are dropped, by reason");
    let reloaded = log.matches("rules reloaded (SIGHUP)").count() as u64;
    assert_eq!(reloaded, reloads, "every reload applied: {log}");
    assert!(
        stop_took <= DRAIN + Duration::from_secs(1),
        "stop took {stop_took:?}"
    );

    // RSS: second fifth (after warm-up) against the last fifth.
    let fifth = samples.len() / 5;
    let mean = |s: &[(u64, u64)]| s.iter().map(|(_, r)| r).sum::<u64>() / s.len().max(1) as u64;
    let early = mean(&samples[fifth..2 * fifth]);
    let late = mean(&samples[samples.len() - fifth..]);
    let peak = samples.iter().map(|(_, r)| *r).max().unwrap_or(0);

    let mut report = String::new();
    report.push_str(&format!(
        "soak: {} s, {rounds} workload rounds, {reloads} reloads ({reloaded} applied), Loki down {} times\n",
        secs,
        loki.down_periods.load(Ordering::Relaxed)
    ));
    report.push_str(&format!(
        "events read {}, dropped in the pipeline {}, alerts {alerts}\n",
        stage(&stats, "source")["in"],
        stats
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["stage"].as_str().unwrap().starts_with("output"))
            .map(|s| s["dropped"].as_u64().unwrap())
            .sum::<u64>()
    ));
    for d in [file, lk, wh] {
        report.push_str(&format!(
            "{}: in {} sent {} dropped {} {}\n",
            d["stage"], d["in"], d["out"], d["dropped"], d["dropped_by_reason"]
        ));
    }
    report.push_str(&format!(
        "RSS KiB: warm {early}, end {late}, peak {peak}; SIGTERM to exit {:.2} s\n",
        stop_took.as_secs_f64()
    ));
    report.push_str("RSS by minute (KiB):");
    for (t, r) in samples.iter().filter(|(t, _)| t % 60 < 10) {
        report.push_str(&format!(" {}m:{r}", t / 60));
    }
    report.push('\n');
    eprintln!("{report}");
    if let Ok(path) = std::env::var("PEREGRINE_SOAK_REPORT") {
        std::fs::write(path, &report).unwrap();
    }
    assert!(
        late <= early + early / 10 + 4096,
        "RSS grew from {early} KiB to {late} KiB:\n{report}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
