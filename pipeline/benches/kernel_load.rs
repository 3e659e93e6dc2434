//! The whole agent on this host's kernel under a steady syscall load: the release binary
//! with all upstream rules, a paced workload of `RATE` syscalls/s (half of them traced:
//! openat + close, the other half getpid), and the agent's CPU, peak RSS and drops.
//!
//! `cargo bench -p peregrine --bench kernel_load` as root, with ../shared/testdata present.
//! `RATE` (default 200000) and `SECS` (default 20) change the load.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn metrics(port: u16) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

fn sum_metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The agent must not outlive a failed run (it would keep tracing and hold the port).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("kernel_load: needs root; skipped");
        return;
    }
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/upstream");
    let files = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ];
    if !shared.join(files[0]).exists() {
        eprintln!("kernel_load: {} not found; skipped", shared.display());
        return;
    }
    let rate: u64 = std::env::var("RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let secs: u64 = std::env::var("SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let port = 18765;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peregrine"));
    for f in files {
        cmd.args(["-r", shared.join(f).to_str().unwrap()]);
    }
    let agent = cmd
        .args([
            "-o",
            "json_output=true",
            "-o",
            "metrics.enabled=true",
            "-o",
            "webserver.enabled=true",
        ])
        .args(["-o", "webserver.prometheus_metrics_enabled=true"])
        .args(["-o", &format!("webserver.listen_port={port}")])
        .args(["-o", "webserver.listen_address=127.0.0.1"])
        .args(["--stats-file", "/tmp/peregrine-kernel-load-stats.json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    let mut agent = KillOnDrop(agent);
    let pid = agent.0.id();
    let start = Instant::now();
    while metrics(port).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "agent did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle = status_kib(pid, "VmRSS:");

    // The workload: iterations of openat + close + 2 × getpid = 4 syscalls, paced per 1 ms.
    let per_ms = (rate / 4 / 1000).max(1);
    let t0_ticks = ticks(pid);
    let t0 = Instant::now();
    let mut done = 0u64;
    let path = c"/etc/hostname";
    while t0.elapsed() < Duration::from_secs(secs) {
        for _ in 0..per_ms {
            // SAFETY: valid path; fd closed right away; getpid has no preconditions.
            unsafe {
                let fd = libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY);
                libc::close(fd);
                libc::syscall(libc::SYS_getpid);
                libc::syscall(libc::SYS_getpid);
            }
        }
        done += per_ms;
        let due = Duration::from_micros(done * 1000 / per_ms);
        if let Some(sleep) = due.checked_sub(t0.elapsed()) {
            std::thread::sleep(sleep);
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(1));
    let cpu_ticks = ticks(pid) - t0_ticks;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let m = metrics(port);
    let rss_peak = status_kib(pid, "VmHWM:");
    let rss_loaded = status_kib(pid, "VmRSS:");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = agent.0.wait();
    let stats =
        std::fs::read_to_string("/tmp/peregrine-kernel-load-stats.json").unwrap_or_default();
    let pipeline_dropped: u64 = serde_json::from_str::<Vec<serde_json::Value>>(&stats)
        .unwrap_or_default()
        .iter()
        .map(|s| s["dropped"].as_u64().unwrap_or(0))
        .sum();

    let syscalls = done * 4;
    println!(
        "workload: {syscalls} syscalls in {wall:.1} s = {:.0}/s ({:.0} traced/s)",
        syscalls as f64 / wall,
        done as f64 * 2.0 / wall
    );
    println!(
        "agent CPU: {:.1} % of one core",
        cpu_ticks as f64 / hz / wall * 100.0
    );
    println!(
        "agent RSS: {} KiB idle, {} KiB after the load, {} KiB peak (VmHWM, start-up included)",
        rss_idle, rss_loaded, rss_peak
    );
    println!(
        "kernel: {} records, {} dropped; pipeline dropped {}",
        sum_metric(&m, "peregrine_kernel_events_total"),
        sum_metric(&m, "peregrine_kernel_drops_total"),
        pipeline_dropped
    );
}
