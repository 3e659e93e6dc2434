//! The kernel path, side by side with Falco 0.43.1 (`../shared/anchors/falco-0.43.1`):
//! the same syscall loops run with no agent, Peregrine and Falco, with the seed's rules and
//! with all three upstream rulesets, alternated in one run. For each: the loop's speed
//! relative to no agent and the agent's CPU during it (kernel statistics off, as users run),
//! then in a second pass the mean time per run of the agent's `sys_exit` program (kernel
//! `bpf_stats`, which adds a clock read to every program run and so is not on while speed
//! is measured; Peregrine's program on close's entry is counted in, per `sys_exit` run);
//! drops, and the agent's CPU at rest. For Peregrine also the share of the open/close
//! loop's syscalls kept in the kernel.
//!
//! `cargo bench -p peregrine --bench kernel_path` as root, with ../shared present.
//! `ROUNDS` (default 3), `SECS` per loop (default 3), `IDLE_SECS` (default 20) measured
//! `IDLE_WARM` seconds (default 5) after the agent attached, `ONLY` (`peregrine` or `falco`:
//! skip the other agent).

use peregrine_probes::progstats;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKLOADS: [&str; 5] = ["getpid", "close(-1)", "failed open", "open+close", "exec"];
const PORT: u16 = 18791;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs workload `w` for `secs`; returns loop iterations per second.
fn run_loop(w: &str, secs: f64) -> f64 {
    let t0 = Instant::now();
    let mut n = 0u64;
    let (host, missing) = (c"/etc/hostname", c"/nonexistent/x");
    let (truebin, arg0) = (c"/bin/true", c"true");
    while t0.elapsed().as_secs_f64() < secs {
        for _ in 0..if w == "exec" { 1 } else { 1000 } {
            // SAFETY: plain syscalls on valid C strings; the child only execs or exits.
            unsafe {
                match w {
                    "getpid" => {
                        libc::syscall(libc::SYS_getpid);
                    }
                    "close(-1)" => {
                        libc::close(-1);
                    }
                    "failed open" => {
                        libc::open(missing.as_ptr(), libc::O_RDONLY);
                    }
                    "open+close" => {
                        let fd = libc::open(host.as_ptr(), libc::O_RDONLY);
                        libc::close(fd);
                    }
                    _ => {
                        let pid = libc::fork();
                        if pid == 0 {
                            let argv = [arg0.as_ptr(), std::ptr::null()];
                            libc::execv(truebin.as_ptr(), argv.as_ptr());
                            libc::_exit(127);
                        }
                        libc::waitpid(pid, std::ptr::null_mut(), 0);
                    }
                }
            }
            n += 1;
        }
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

/// CPU time of all the process's threads, in ns (schedstat: exact, unlike the tick
/// counts of /proc/PID/stat), and how many times they were scheduled in.
fn cpu_ns(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .fold((0, 0), |(ns, n), s| {
            let f: Vec<u64> = s
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            (ns + f.first().unwrap_or(&0), n + f.get(2).unwrap_or(&0))
        })
}

/// The sum of a metric's series on the agent's /metrics; `None` when it has none.
fn metric_sum(name: &str) -> Option<u64> {
    let mut s = match std::net::TcpStream::connect(("127.0.0.1", PORT)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kernel_path: /metrics on port {PORT}: {e}");
            return None;
        }
    };
    let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    if let Err(e) = s.read_to_string(&mut body) {
        eprintln!("kernel_path: /metrics on port {PORT}: {e}");
    }
    let values: Vec<f64> = body
        .lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() as u64)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Peregrine,
    Falco,
}

struct Agent {
    kind: Kind,
    /// Taken by `stop`; killed on drop otherwise.
    child: Option<Child>,
    log: PathBuf,
}

impl Agent {
    fn program(&self) -> &'static str {
        match self.kind {
            Kind::Peregrine => "pg_sys_exit",
            Kind::Falco => "sys_exit",
        }
    }

    /// (runs of [`Agent::program`], nanoseconds of it and of the agent's other programs
    /// that run on the same syscalls: Peregrine's on close's entry).
    fn runs(&self) -> (u64, u64) {
        let (n, t) = progstats::runs(self.program());
        match self.kind {
            Kind::Peregrine => (n, t + progstats::runs("pg_close_enter").1),
            Kind::Falco => (n, t),
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the agent and waits until it has attached. `served`: Peregrine also serves its
    /// metrics (the loops read its kernel counters); otherwise it runs with the defaults, as
    /// Falco's anchor does (metrics and web server off).
    fn start(kind: Kind, rules: &[PathBuf], anchor: &Path, served: bool) -> Agent {
        let log = std::env::temp_dir().join(format!(
            "peregrine-kernel-path-{}.log",
            match kind {
                Kind::Peregrine => "peregrine",
                Kind::Falco => "falco",
            }
        ));
        let mut cmd = match kind {
            Kind::Peregrine => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_peregrine"));
                c.args(["-o", "json_output=true"]);
                if served {
                    c.args(["-o", "webserver.enabled=true"])
                        .args(["-o", &format!("webserver.listen_port={PORT}")])
                        .args(["-o", "webserver.prometheus_metrics_enabled=true"])
                        .args(["-o", "metrics.enabled=true"]);
                }
                c
            }
            Kind::Falco => Command::new(anchor.join("run.sh")),
        };
        for r in rules {
            cmd.arg("-r").arg(r);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start the agent");
        let agent = Agent {
            kind,
            child: Some(child),
            log,
        };
        // Up once its sys_exit program runs (Falco attaches seconds after it starts).
        let t0 = Instant::now();
        while progstats::runs(agent.program()).0 == 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "agent did not attach: {}",
                std::fs::read_to_string(&agent.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_secs(2));
        agent
    }

    /// SIGINT, wait; the agent's log.
    fn stop(mut self) -> String {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let _ = c.wait();
        }
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Drops an agent reported at exit: Peregrine's kernel and pipeline drops, Falco's
/// "event drop detected" occurrences (it counts drops per second with drops, not events).
fn drops(kind: Kind, log: &str) -> String {
    let after = |l: &str, key: &str| -> Option<u64> {
        let rest = l.split(key).nth(1)?;
        rest.trim()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    match kind {
        Kind::Peregrine => {
            let k: u64 = log
                .lines()
                .filter_map(|l| after(l, "dropped before reaching the agent:"))
                .sum();
            let p: u64 = log
                .lines()
                .filter_map(|l| after(l, "dropped in the pipeline:"))
                .sum();
            format!("{k} kernel, {p} pipeline")
        }
        Kind::Falco => {
            let d: u64 = log
                .lines()
                .filter_map(|l| after(l, "event drop detected:"))
                .sum();
            format!("drops detected in {d} s")
        }
    }
}

struct Cell {
    ns: Vec<f64>,
    speed: Vec<f64>,
    /// Loop iterations per second under the agent.
    rate: Vec<f64>,
    /// The agent's CPU during the loop, % of one core.
    agent_cpu: Vec<f64>,
}

fn human(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else {
        format!("{v:.0}")
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn range(v: &[f64], digits: usize) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.digits$}–{hi:.digits$}")
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("kernel_path: needs root; skipped");
        return;
    }
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    let anchor = shared.join("anchors/falco-0.43.1");
    let testdata = shared.join("testdata");
    if !testdata.join("seed_rules.yaml").exists() {
        eprintln!("kernel_path: {} not found; skipped", testdata.display());
        return;
    }
    let only = std::env::var("ONLY").unwrap_or_default();
    let with_falco = anchor.join("run.sh").exists() && only != "peregrine";
    if !with_falco {
        eprintln!(
            "kernel_path: Falco not measured ({} or ONLY)",
            anchor.display()
        );
    }
    let (rounds, secs, idle_secs, idle_warm) = (
        env("ROUNDS", 3),
        env("SECS", 3) as f64,
        env("IDLE_SECS", 20),
        env("IDLE_WARM", 5),
    );
    let seed = vec![testdata.join("seed_rules.yaml")];
    let upstream: Vec<PathBuf> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| testdata.join("upstream").join(f))
    .collect();
    let mut configs: Vec<(&str, Kind, &[PathBuf])> = Vec::new();
    for (rules_name, rules) in [("seed", &seed), ("upstream", &upstream)] {
        if only != "falco" {
            configs.push((
                if rules_name == "seed" {
                    "Peregrine, seed rules"
                } else {
                    "Peregrine, upstream rules"
                },
                Kind::Peregrine,
                rules,
            ));
        }
        if with_falco {
            configs.push((
                if rules_name == "seed" {
                    "Falco, seed rules"
                } else {
                    "Falco, upstream rules"
                },
                Kind::Falco,
                rules,
            ));
        }
    }
    let mut cells: Vec<Vec<Cell>> = configs
        .iter()
        .map(|_| {
            WORKLOADS
                .iter()
                .map(|_| Cell {
                    ns: vec![],
                    speed: vec![],
                    rate: vec![],
                    agent_cpu: vec![],
                })
                .collect()
        })
        .collect();
    let mut idle: Vec<Vec<f64>> = vec![vec![]; configs.len()];
    let mut wakeups: Vec<Vec<f64>> = vec![vec![]; configs.len()];
    let mut dropped: Vec<Vec<String>> = vec![vec![]; configs.len()];
    let mut kept_in_kernel: Vec<Vec<f64>> = vec![vec![]; configs.len()];
    for round in 0..rounds {
        for (c, (name, kind, rules)) in configs.iter().enumerate() {
            eprintln!("round {}/{rounds}: {name}", round + 1);
            // Each agent's loops beside loops with no agent, just before.
            let base: Vec<f64> = WORKLOADS.iter().map(|w| run_loop(w, secs)).collect();
            // At rest, each agent with its defaults, after a warm-up.
            let start = |served| {
                // Run counts tell when the agent has attached.
                let _stats = progstats::enable().expect("kernel.bpf_stats");
                Agent::start(*kind, rules, &anchor, served)
            };
            let mut agent = start(false);
            if let Some(pid) = agent.pid() {
                std::thread::sleep(Duration::from_secs(idle_warm));
                let (t, n) = cpu_ns(pid);
                std::thread::sleep(Duration::from_secs(idle_secs));
                let (t2, n2) = cpu_ns(pid);
                idle[c].push((t2 - t) as f64 / 1e9 / idle_secs as f64 * 100.0);
                wakeups[c].push((n2 - n) as f64 / idle_secs as f64);
            }
            if *kind == Kind::Peregrine {
                agent.stop();
                agent = start(true);
            }
            for (w, workload) in WORKLOADS.iter().enumerate() {
                let sent_before = if *kind == Kind::Peregrine {
                    metric_sum("peregrine_kernel_events_total")
                } else {
                    None
                };
                // Speed, statistics off.
                let pid = agent.pid().unwrap_or(0);
                let (cpu_before, started) = (cpu_ns(pid).0, Instant::now());
                let rate = run_loop(workload, secs);
                let busy =
                    (cpu_ns(pid).0 - cpu_before) as f64 / started.elapsed().as_nanos() as f64;
                cells[c][w].speed.push(rate / base[w]);
                cells[c][w].rate.push(rate);
                cells[c][w].agent_cpu.push(100.0 * busy);
                if *kind == Kind::Peregrine && *workload == "open+close" {
                    std::thread::sleep(Duration::from_millis(1500));
                    match (sent_before, metric_sum("peregrine_kernel_events_total")) {
                        (Some(a), Some(b)) => {
                            let syscalls = rate * secs * 2.0;
                            kept_in_kernel[c].push(100.0 * (1.0 - (b - a) as f64 / syscalls));
                        }
                        _ => eprintln!(
                            "kernel_path: no peregrine_kernel_events_total on port {PORT}"
                        ),
                    }
                }
                // Time per run, statistics on, a second pass.
                {
                    let _stats = progstats::enable().expect("kernel.bpf_stats");
                    let before = agent.runs();
                    run_loop(workload, secs);
                    let after = agent.runs();
                    let runs = (after.0 - before.0).max(1) as f64;
                    cells[c][w].ns.push((after.1 - before.1) as f64 / runs);
                }
            }
            let log = agent.stop();
            dropped[c].push(drops(*kind, &log));
        }
    }
    println!(
        "\n| agent | {} | CPU at rest | drops (per round) |",
        WORKLOADS.join(" | ")
    );
    println!("|---|{}---|---|", "---|".repeat(WORKLOADS.len()));
    for (c, (name, _, _)) in configs.iter().enumerate() {
        let cols: Vec<String> = cells[c]
            .iter()
            .map(|cell| {
                format!(
                    "{:.0} ns ({}), loop {:.2}× ({}), {}/s, agent {:.0} %",
                    median(&cell.ns),
                    range(&cell.ns, 0),
                    median(&cell.speed),
                    range(&cell.speed, 2),
                    human(median(&cell.rate)),
                    median(&cell.agent_cpu)
                )
            })
            .collect();
        println!(
            "| {name} | {} | {:.3} % ({}; {:.0}/s) | {} |",
            cols.join(" | "),
            median(&idle[c]),
            range(&idle[c], 3),
            median(&wakeups[c]),
            dropped[c].join("; ")
        );
    }
    for (c, (name, _, _)) in configs.iter().enumerate() {
        if !kept_in_kernel[c].is_empty() {
            println!(
                "\n{name}: {:.1} % of the open+close loop's syscalls kept in the kernel ({} %)",
                median(&kept_in_kernel[c]),
                range(&kept_in_kernel[c], 1)
            );
        }
    }
}
