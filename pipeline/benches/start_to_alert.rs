//! Start to first alert: from launching the agent with the three upstream rulesets to the
//! first "Read sensitive file untrusted" alert on its stdout, while this process opens
//! /etc/shadow every 5 ms. The release binary, and beside it, alternated in the same run,
//! the reference Falco when `../shared/anchors/falco-0.43.1` is there (a yardstick only).
//!
//! `cargo bench -p peregrine --bench start_to_alert` as root, with ../shared/testdata
//! present. `RUNS` (default 5) trials of each.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RULE: &str = "Read sensitive file untrusted";

/// The agent must not outlive a failed trial.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Seconds from spawning `cmd` to the first line of its stdout naming [`RULE`].
fn first_alert(mut cmd: Command) -> Option<f64> {
    let start = Instant::now();
    let mut child = KillOnDrop(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?,
    );
    let stdout = child.0.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(RULE) {
                let _ = tx.send(start.elapsed());
                return;
            }
        }
    });
    let got = rx.recv_timeout(Duration::from_secs(60)).ok();
    // SAFETY: signalling our own child; SIGINT lets both agents detach their probes.
    unsafe { libc::kill(child.0.id() as i32, libc::SIGINT) };
    let _ = child.0.wait();
    got.map(|d| d.as_secs_f64())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("start_to_alert: needs root; skipped");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let up = root.join("shared/testdata/upstream");
    if !up.is_dir() {
        eprintln!("start_to_alert: ../shared/testdata/upstream not found; skipped");
        return;
    }
    let files: Vec<PathBuf> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| up.join(f))
    .collect();
    let agent = env!("CARGO_BIN_EXE_peregrine");
    let falco = root.join("shared/anchors/falco-0.43.1/run.sh");
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);

    let stop = Arc::new(AtomicBool::new(false));
    let opener = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = std::fs::File::open("/etc/shadow");
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let with_rules = |mut cmd: Command| {
        for f in &files {
            cmd.arg("-r").arg(f);
        }
        cmd.args(["-o", "rule_matching=all", "-o", "json_output=true"]);
        cmd
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        let mut cmd = with_rules(Command::new(agent));
        cmd.args(["-o", "webserver.enabled=false", "-U"]);
        match first_alert(cmd) {
            Some(s) => ours.push(s),
            None => eprintln!("run {run}: peregrine gave no alert within 60 s"),
        }
        if falco.exists() {
            match first_alert(with_rules(Command::new(&falco))) {
                Some(s) => theirs.push(s),
                None => eprintln!("run {run}: falco gave no alert within 60 s"),
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    stop.store(true, Ordering::Relaxed);
    let _ = opener.join();

    let show = |name: &str, v: &mut Vec<f64>| {
        if v.is_empty() {
            println!("{name}: no alert");
            return;
        }
        let list: Vec<String> = v.iter().map(|s| format!("{s:.3}")).collect();
        println!(
            "{name}: start to first alert median {:.3} s (runs: {})",
            median(v),
            list.join(", ")
        );
    };
    show("peregrine", &mut ours);
    if falco.exists() {
        show("falco 0.43.1", &mut theirs);
    }
}
