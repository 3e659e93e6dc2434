//! `storm`: a live syscall workload on the real kernel, timed without an agent, with
//! Peregrine running, and with each `--compare` agent, the runs alternated round by round
//! so every ratio is measured side by side. The workload's own speed is the measure (what
//! every process on the node pays); the agents' CPU and, for Peregrine, kernel and pipeline
//! drops come with it.

use crate::machine::CpuMeter;
use crate::result::{RunResult, StormResult};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// open + close of /etc/hostname.
    Open,
    /// fork + exec of /bin/true, waited for.
    Exec,
    /// TCP connect to a local listener, accepted and closed.
    Connect,
    /// 8 opens, 1 exec and 1 connect in every 10 operations.
    Mix,
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "open" => Workload::Open,
            "exec" => Workload::Exec,
            "connect" => Workload::Connect,
            "mix" => Workload::Mix,
            _ => {
                return Err(format!(
                    "unknown workload '{s}': use open, exec, connect or mix"
                ))
            }
        })
    }
}

#[derive(Clone, Debug)]
pub struct StormArgs {
    pub workload: Workload,
    /// Operations per second (0: as fast as it goes).
    pub rate: u64,
    pub duration: Duration,
    pub rounds: u32,
    /// Time an agent gets between its start and the workload.
    pub settle: Duration,
    /// Peregrine's command line (default: the `peregrine` next to this binary).
    pub agent: Vec<String>,
    /// Other agents' command lines, each run as given (through `sh -c`).
    pub compare: Vec<String>,
    /// `-c`, `-o` and `-r` for Peregrine, appended to its command line.
    pub agent_flags: Vec<String>,
    pub quiet: bool,
}

/// A word for `sh -c`, quoted.
fn quoted(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// Runs the workload for `d`; operations done per second.
fn workload(w: Workload, rate: u64, d: Duration) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0").context("a local listener")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acceptor = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.write_all(b"x");
                    }
                    Err(_) => std::thread::sleep(Duration::from_micros(50)),
                }
            }
        })
    };
    let start = Instant::now();
    let mut ops = 0u64;
    let path = c"/etc/hostname";
    while start.elapsed() < d {
        if rate > 0 {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            if ops >= due {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
        }
        let kind = match w {
            Workload::Mix => match ops % 10 {
                8 => Workload::Exec,
                9 => Workload::Connect,
                _ => Workload::Open,
            },
            w => w,
        };
        match kind {
            Workload::Open => {
                // SAFETY: a valid C string; the fd is closed at once.
                unsafe {
                    let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                    if fd >= 0 {
                        libc::close(fd);
                    }
                }
            }
            Workload::Exec => {
                Command::new("/bin/true")
                    .status()
                    .context("running /bin/true")?;
            }
            _ => {
                let mut s = TcpStream::connect(addr).context("connecting locally")?;
                let mut b = [0u8; 1];
                let _ = s.read(&mut b);
            }
        }
        ops += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = acceptor.join();
    Ok(ops as f64 / secs)
}

/// An agent started for one run.
struct Running {
    child: Child,
    cpu: CpuMeter,
    stats_file: Option<PathBuf>,
}

fn start_agent(cmd: &str, stats_file: Option<PathBuf>) -> Result<Running> {
    let child = Command::new("sh")
        .arg("-c")
        // exec: the agent's pid is the one measured and signalled.
        .arg(format!("exec {cmd}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {cmd}"))?;
    let cpu = CpuMeter::new(child.id());
    Ok(Running {
        child,
        cpu,
        stats_file,
    })
}

/// SIGTERM, then SIGKILL after 20 s.
fn stop_agent(r: &mut Running) {
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(r.child.id() as i32, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = r.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = r.child.kill();
    let _ = r.child.wait();
}

/// Drops by stage from Peregrine's `--stats-file`; `None` when it wrote none (it did not
/// stop cleanly), which the caller reports rather than taking for zero drops.
fn peregrine_drops(path: &std::path::Path) -> Option<Vec<(String, u64)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let stages = serde_json::from_str::<Vec<serde_json::Value>>(&text).ok()?;
    Some(
        stages
            .iter()
            .map(|s| {
                (
                    s["stage"].as_str().unwrap_or("?").to_string(),
                    s["dropped"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
    )
}

pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

pub fn storm(a: &StormArgs, command: &[String]) -> Result<RunResult> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("storm starts agents that load eBPF programs: run it as root");
    }
    let dir = std::env::temp_dir().join(format!("peregrine-storm-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let peregrine = if a.agent.is_empty() {
        let exe = std::env::current_exe()?;
        let bin = exe.with_file_name("peregrine");
        if !bin.exists() {
            bail!(
                "{} not found: build it (cargo build --release -p peregrine) or pass --agent",
                bin.display()
            );
        }
        bin.display().to_string()
    } else {
        a.agent.join(" ")
    };
    let flags: Vec<String> = a.agent_flags.iter().map(|f| quoted(f)).collect();
    let peregrine = format!("{peregrine} {}", flags.join(" "));
    let mut agents: Vec<(String, Option<String>)> = vec![("none".into(), None)];
    agents.push((peregrine.clone(), Some(peregrine)));
    for c in &a.compare {
        agents.push((c.clone(), Some(c.clone())));
    }
    let mut results: Vec<StormResult> = agents
        .iter()
        .map(|(name, _)| StormResult {
            agent: name.clone(),
            ..Default::default()
        })
        .collect();
    for round in 0..a.rounds.max(1) {
        for (i, (name, cmd)) in agents.iter().enumerate() {
            let mut running = match cmd {
                None => None,
                Some(cmd) => {
                    // Peregrine (the first agent) writes its counters for the drop totals.
                    let stats = (i == 1).then(|| dir.join(format!("stats-{round}.json")));
                    let line = match &stats {
                        Some(p) => format!(
                            "{cmd} -o stdout_output.enabled=false --stats-file {}",
                            p.display()
                        ),
                        None => cmd.clone(),
                    };
                    let r = start_agent(&line, stats)?;
                    std::thread::sleep(a.settle);
                    Some(r)
                }
            };
            if let Some(r) = running.as_mut() {
                if let Ok(Some(status)) = r.child.try_wait() {
                    bail!("agent '{name}' exited before the workload ({status})");
                }
                r.cpu.read();
            }
            let ops = workload(a.workload, a.rate, a.duration)?;
            let out = &mut results[i];
            out.ops_per_sec.push(ops);
            if let Some(mut r) = running {
                let (cores, _) = r.cpu.read();
                out.agent_cpu_cores += cores / a.rounds.max(1) as f64;
                stop_agent(&mut r);
                if let Some(path) = &r.stats_file {
                    let Some(stages) = peregrine_drops(path) else {
                        bail!(
                            "agent '{name}' wrote no counters to {} (did it stop cleanly?)",
                            path.display()
                        );
                    };
                    for (stage, n) in stages {
                        if stage == "kernel" {
                            out.kernel_drops += n;
                        } else {
                            out.pipeline_drops += n;
                        }
                        match out.drops_by_stage.iter_mut().find(|(s, _)| *s == stage) {
                            Some((_, total)) => *total += n,
                            None => out.drops_by_stage.push((stage, n)),
                        }
                    }
                }
            }
            if !a.quiet {
                eprintln!("round {}: {name}: {ops:.0} ops/s", round + 1);
            }
        }
    }
    let base = median(&results[0].ops_per_sec).max(1e-9);
    for r in &mut results {
        r.ratio = median(&r.ops_per_sec) / base;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut d = crate::commands::description(command);
    d.pacing = if a.rate == 0 {
        "flat out".into()
    } else {
        format!("{} ops/s", a.rate)
    };
    d.loops = a.rounds;
    Ok(RunResult {
        version: crate::result::RESULT_VERSION,
        kind: "storm".into(),
        label: format!("storm {:?}", a.workload).to_lowercase(),
        description: d,
        duration_secs: a.duration.as_secs_f64(),
        storm: results,
        ..Default::default()
    })
}
