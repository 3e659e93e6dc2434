//! `peregrine-loadtest`: see `lib.rs` and `peregrine-loadtest --help`.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use peregrine_loadtest::commands::{self, AgentArgs, GenerateArgs, RecordArgs, ReplayArgs};
use peregrine_loadtest::record::Filters;
use peregrine_loadtest::result::RunResult;
use peregrine_loadtest::source::Pacing;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "peregrine-loadtest",
    version,
    about = "Record, generate, import, replay, storm, sweep and report: sizing and regression runs for Peregrine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Agent {
    /// Configuration file (falco.yaml keys), as the agent's -c.
    #[arg(short = 'c', long = "config")]
    config: Option<PathBuf>,
    /// key=value overrides, as the agent's -o.
    #[arg(short = 'o', long = "option")]
    overrides: Vec<String>,
    /// Rules files or folders (replace the config's rules_files), as the agent's -r.
    #[arg(short = 'r', long = "rules")]
    rules: Vec<PathBuf>,
}

impl From<&Agent> for AgentArgs {
    fn from(a: &Agent) -> AgentArgs {
        AgentArgs {
            config: a.config.clone(),
            overrides: a.overrides.clone(),
            rules: a.rules.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Live kernel events (the agent's probes and enrichment, its rules running) into a capture.
    Record {
        #[command(flatten)]
        agent: Agent,
        /// The capture to write (rotated files get .1, .2, ... before the extension).
        #[arg(short = 'w')]
        out: PathBuf,
        /// How long to record (e.g. 30s, 5m).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Stop after this many recorded events.
        #[arg(long)]
        events: Option<u64>,
        /// Start a new file past this many MB.
        #[arg(long)]
        rotate_mb: Option<u64>,
        /// Start a new file after this long.
        #[arg(long, value_parser = parse_duration)]
        rotate_every: Option<Duration>,
        /// Record only these event types (repeat or comma-separate).
        #[arg(long = "event-type", value_delimiter = ',')]
        event_types: Vec<String>,
        /// Record only these containers (id, name, or `host`).
        #[arg(long = "container", value_delimiter = ',')]
        containers: Vec<String>,
        /// Record only these process names.
        #[arg(long = "process", value_delimiter = ',')]
        processes: Vec<String>,
        /// Write the live run's alerts here (JSON lines).
        #[arg(long)]
        alerts: Option<PathBuf>,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(short, long)]
        quiet: bool,
    },
    /// A seeded synthetic stream into a capture.
    Generate {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Event-type mix: general, web, build or db.
        #[arg(long, default_value = "general")]
        preset: String,
        /// Containers besides the host.
        #[arg(long, default_value_t = 8)]
        containers: usize,
        /// Per mille of events that are attacks.
        #[arg(long = "attack-share", default_value_t = 5)]
        attack_per_mille: u32,
        /// Which attacks (default: all): shadow-read, interactive-shell, reverse-shell,
        /// metadata-connect, ssh-key-write, key-search, binary-dir-write, script-download.
        #[arg(long = "attack", value_delimiter = ',')]
        attacks: Vec<String>,
        /// The stream's own event rate, which sets its timestamps (for --speed replays).
        #[arg(long, default_value_t = 100_000)]
        rate: u64,
        #[arg(short = 'w')]
        out: PathBuf,
    },
    /// A Falco .scap capture into a Peregrine capture (the event types Peregrine models).
    Import {
        input: PathBuf,
        #[arg(short = 'w')]
        out: PathBuf,
        /// Convert what a capture cut short holds (a warning instead of an error).
        #[arg(long)]
        allow_truncated: bool,
        /// The import report as JSON.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// A capture or generated stream through the real pipeline in-process.
    Replay {
        input: PathBuf,
        #[command(flatten)]
        agent: Agent,
        /// Events per second.
        #[arg(long, conflicts_with_all = ["flat", "speed"])]
        rate: Option<f64>,
        /// As fast as the pipeline takes them (the default).
        #[arg(long)]
        flat: bool,
        /// The recorded timing times this factor.
        #[arg(long, conflicts_with = "flat")]
        speed: Option<f64>,
        #[arg(long = "loop", default_value_t = 1)]
        loops: u32,
        /// Write the alerts here (JSON lines).
        #[arg(long)]
        alerts: Option<PathBuf>,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Live syscall workloads with and without agents, alternated: the workload's slowdown.
    Storm {
        #[command(flatten)]
        agent: Agent,
        /// open, exec, connect or mix.
        #[arg(long, default_value = "open")]
        workload: peregrine_loadtest::storm::Workload,
        /// Operations per second (0: as fast as it goes).
        #[arg(long, default_value_t = 0)]
        rate: u64,
        #[arg(long, value_parser = parse_duration, default_value = "30s")]
        duration: Duration,
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Time each agent gets to start before the workload.
        #[arg(long, value_parser = parse_duration, default_value = "6s")]
        settle: Duration,
        /// Peregrine's command (default: the peregrine binary beside this one).
        #[arg(long = "agent-cmd")]
        agent_cmd: Option<String>,
        /// Another agent's command line, run through sh -c (repeat for several).
        #[arg(long = "compare")]
        compare: Vec<String>,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(short, long)]
        quiet: bool,
    },
    /// The highest rate a rule set holds with zero drops, and the CPU it takes.
    Sweep {
        input: PathBuf,
        #[command(flatten)]
        agent: Agent,
        /// How long each rate is held.
        #[arg(long, value_parser = parse_duration, default_value = "10s")]
        step: Duration,
        /// Bisection steps.
        #[arg(long, default_value_t = 6)]
        steps: u32,
        #[arg(long)]
        json: Option<PathBuf>,
        #[arg(short, long)]
        quiet: bool,
    },
    /// HTML, Markdown and JSON report of one or more result files.
    Report {
        results: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Exits 1 when B is worse than A by more than the allowed regression.
    Compare {
        base: PathBuf,
        new: PathBuf,
        /// e.g. 5% or 0.05.
        #[arg(long = "max-regression", default_value = "5%")]
        max_regression: String,
    },
}

/// `30s`, `5m`, `1h`, `250ms`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, ""), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 30s, 5m, 250ms)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("'{s}' must be more than zero"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn write_json(r: &RunResult, path: Option<&Path>) -> Result<()> {
    if let Some(p) = path {
        r.write(p)?;
        eprintln!("result written to {}", p.display());
    }
    Ok(())
}

fn summary(r: &RunResult) {
    let e2e = r.latency("end_to_end");
    eprintln!(
        "{}: {} events in {:.2} s = {:.0} events/s, {} alerts, {} dropped{}",
        r.label,
        r.events,
        r.duration_secs,
        r.events_per_sec,
        r.alerts,
        r.dropped(),
        e2e.map(|l| format!(
            ", latency p50 {:.1} µs p99 {:.1} µs max {:.1} µs",
            l.p50_ns as f64 / 1e3,
            l.p99_ns as f64 / 1e3,
            l.max_ns as f64 / 1e3
        ))
        .unwrap_or_default()
    );
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match run(cli, &argv) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // Each cause once: some errors already name their source in their message.
            let mut msg = String::new();
            for cause in e.chain() {
                let text = cause.to_string();
                if !msg.contains(&text) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&text);
                }
            }
            eprintln!("error: {msg}");
            std::process::exit(2);
        }
    }
}

fn run(cli: Cli, argv: &[String]) -> Result<i32> {
    match cli.command {
        Command::Record {
            agent,
            out,
            duration,
            events,
            rotate_mb,
            rotate_every,
            event_types,
            containers,
            processes,
            alerts,
            json,
            quiet,
        } => {
            let a = RecordArgs {
                out,
                duration,
                events,
                rotate_bytes: rotate_mb.map(|m| m << 20),
                rotate_every,
                filters: Filters {
                    event_types,
                    containers,
                    processes,
                },
                alerts_file: alerts,
                quiet,
            };
            let (r, rec) = commands::record(&(&agent).into(), &a, argv)?;
            summary(&r);
            let files: Vec<String> = rec.files.iter().map(|f| f.display().to_string()).collect();
            eprintln!("{} events recorded into {}", rec.events, files.join(", "));
            write_json(&r, json.as_deref())?;
            Ok(0)
        }
        Command::Generate {
            seed,
            events,
            preset,
            containers,
            attack_per_mille,
            attacks,
            rate,
            out,
        } => {
            let a = GenerateArgs {
                seed,
                events,
                preset,
                containers,
                attack_per_mille,
                attacks,
                rate,
            };
            let n = commands::generate(&a, &out)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("{n} events written to {}", out.display());
            Ok(0)
        }
        Command::Import {
            input,
            out,
            allow_truncated,
            json,
        } => {
            let opts = peregrine_loadtest::scap::ImportOptions { allow_truncated };
            let report = peregrine_loadtest::scap::import_with(&input, &out, &opts)?;
            eprint!("{report}");
            if let Some(p) = json {
                std::fs::write(&p, serde_json::to_vec_pretty(&report)?)
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            Ok(0)
        }
        Command::Replay {
            input,
            agent,
            rate,
            flat: _,
            speed,
            loops,
            alerts,
            json,
            quiet,
        } => {
            let pacing = match (rate, speed) {
                (Some(r), _) if r > 0.0 => Pacing::Rate(r),
                (Some(r), _) => bail!("--rate must be more than 0, got {r}"),
                (None, Some(x)) if x > 0.0 => Pacing::Speed(x),
                (None, Some(x)) => bail!("--speed must be more than 0, got {x}"),
                (None, None) => Pacing::Flat,
            };
            let a = ReplayArgs {
                input,
                pacing,
                loops,
                alerts_file: alerts,
                quiet,
            };
            let r = commands::replay(&(&agent).into(), &a, argv)?;
            summary(&r);
            write_json(&r, json.as_deref())?;
            Ok(0)
        }
        Command::Storm {
            agent,
            workload,
            rate,
            duration,
            rounds,
            settle,
            agent_cmd,
            compare,
            json,
            quiet,
        } => {
            let mut flags = Vec::new();
            if let Some(c) = &agent.config {
                flags.extend(["-c".to_string(), c.display().to_string()]);
            }
            for o in &agent.overrides {
                flags.extend(["-o".to_string(), o.clone()]);
            }
            for r in &agent.rules {
                flags.extend(["-r".to_string(), r.display().to_string()]);
            }
            let a = peregrine_loadtest::storm::StormArgs {
                workload,
                rate,
                duration,
                rounds,
                settle,
                agent: agent_cmd.into_iter().collect(),
                compare,
                agent_flags: flags,
                quiet,
            };
            let r = peregrine_loadtest::storm::storm(&a, argv)?;
            for s in &r.storm {
                eprintln!(
                    "{}: {:.0} ops/s median, {:.2}x of no agent, agent CPU {:.2} cores, kernel drops {}, pipeline drops {}",
                    s.agent,
                    peregrine_loadtest::storm::median(&s.ops_per_sec),
                    s.ratio,
                    s.agent_cpu_cores,
                    s.kernel_drops,
                    s.pipeline_drops
                );
            }
            write_json(&r, json.as_deref())?;
            Ok(0)
        }
        Command::Sweep {
            input,
            agent,
            step,
            steps,
            json,
            quiet,
        } => {
            let a = peregrine_loadtest::sweep::SweepArgs {
                input,
                step,
                steps,
                quiet,
            };
            let r = peregrine_loadtest::sweep::sweep(&(&agent).into(), &a, argv)?;
            match (r.sustained_events_per_sec, r.cpu_per_100k_eps) {
                (Some(rate), Some(cpu)) => eprintln!(
                    "sustained with zero drops: {rate:.0} events/s, {cpu:.3} cores per 100k events/s"
                ),
                _ => eprintln!("no rate tried was held without drops"),
            }
            for l in &r.latency {
                eprintln!(
                    "  latency {}: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs",
                    l.name,
                    l.p50_ns as f64 / 1e3,
                    l.p90_ns as f64 / 1e3,
                    l.p99_ns as f64 / 1e3
                );
            }
            write_json(&r, json.as_deref())?;
            Ok(0)
        }
        Command::Report { results, out } => {
            if results.is_empty() {
                bail!("report needs at least one result file");
            }
            let runs = results
                .iter()
                .map(|p| RunResult::read(p))
                .collect::<Result<Vec<_>, _>>()?;
            let files = peregrine_loadtest::report::write_report(&runs, &out)?;
            eprintln!("report written: {files:?}");
            Ok(0)
        }
        Command::Compare {
            base,
            new,
            max_regression,
        } => {
            let max = peregrine_loadtest::compare::parse_percent(&max_regression)
                .map_err(anyhow::Error::msg)
                .context("--max-regression")?;
            let (a, b) = (RunResult::read(&base)?, RunResult::read(&new)?);
            let c = peregrine_loadtest::compare::compare(&a, &b, max);
            println!("{c}");
            Ok(if c.regressed() { 1 } else { 0 })
        }
    }
}
