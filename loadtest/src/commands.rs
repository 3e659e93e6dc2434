//! The subcommands, as library functions (the binary parses arguments and calls these).

use crate::machine;
use crate::record::{Filters, Limits, Recorded, RecordingEnricher};
use crate::result::{Description, RunResult};
use crate::runner::{Clock, RunSpec};
use crate::source::{MemorySource, Pacing};
use anyhow::{bail, Context, Result};
use peregrine::capture::{CaptureHeader, CaptureWriter, FORMAT_VERSION};
use peregrine::stage::enrich::PassThrough;
use peregrine_config::Config;
use peregrine_event::synth::{Attack, Mix, SynthConfig};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `-c`, `-o` and `-r` as in the agent.
#[derive(Clone, Debug, Default)]
pub struct AgentArgs {
    pub config: Option<PathBuf>,
    pub overrides: Vec<String>,
    pub rules: Vec<PathBuf>,
}

impl AgentArgs {
    /// The configuration as the agent would load it, `-r` replacing `rules_files`.
    pub fn config(&self) -> Result<Config> {
        let mut cfg = peregrine_config::load(self.config.as_deref(), &self.overrides)
            .context("loading the configuration")?;
        if !self.rules.is_empty() {
            cfg.rules_files = self.rules.clone();
        }
        Ok(cfg)
    }

    pub fn ruleset(&self, cfg: &Config) -> Result<peregrine_rules::Ruleset> {
        peregrine::rules_load::load(cfg, !self.rules.is_empty())
    }

    /// What the result records about the rules, config and overrides.
    pub fn describe(&self, cfg: &Config, d: &mut Description) -> Result<()> {
        for path in &cfg.rules_files {
            d.rules.extend(
                machine::file_ids(path)
                    .with_context(|| format!("hashing the rules {}", path.display()))?,
            );
        }
        if let Some(c) = &self.config {
            d.config =
                Some(machine::file_id(c).with_context(|| format!("hashing {}", c.display()))?);
        }
        d.overrides = self.overrides.clone();
        Ok(())
    }
}

/// What every result starts with.
pub fn description(command: &[String]) -> Description {
    Description {
        command: command.to_vec(),
        peregrine_version: env!("CARGO_PKG_VERSION").into(),
        started_at: machine::now_rfc3339(),
        machine: machine::machine(),
        loops: 1,
        ..Default::default()
    }
}

/// Options of `generate`.
#[derive(Clone, Debug)]
pub struct GenerateArgs {
    pub seed: u64,
    pub events: u64,
    pub preset: String,
    pub containers: usize,
    /// Per mille of events that are attacks.
    pub attack_per_mille: u32,
    pub attacks: Vec<String>,
    /// Events per second of the stream's own clock (sets the time between events).
    pub rate: u64,
}

pub fn synth_config(a: &GenerateArgs) -> Result<SynthConfig> {
    let mix = Mix::preset(&a.preset).with_context(|| {
        format!(
            "unknown preset '{}': use general, web, build or db",
            a.preset
        )
    })?;
    let attacks = a
        .attacks
        .iter()
        .map(|n| {
            Attack::from_name(n).with_context(|| {
                let known: Vec<&str> = Attack::ALL.iter().map(|a| a.name()).collect();
                format!("unknown attack '{n}': use one of {}", known.join(", "))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if a.attack_per_mille > 1000 {
        bail!(
            "--attack-share must be at most 1000 per mille, got {}",
            a.attack_per_mille
        );
    }
    Ok(SynthConfig {
        seed: a.seed,
        containers: a.containers,
        suspicious_per_mille: a.attack_per_mille,
        step_ns: 1_000_000_000 / a.rate.max(1),
        mix,
        attacks,
        ..SynthConfig::default()
    })
}

/// Writes `n` generated events to `out`; returns how many.
pub fn generate(a: &GenerateArgs, out: &Path) -> Result<u64> {
    let cfg = synth_config(a)?;
    let header = CaptureHeader {
        version: FORMAT_VERSION,
        hostname: "synthetic".into(),
        created_ns: cfg.start_ns,
        producer: format!(
            "peregrine-loadtest generate --seed {} --preset {}",
            a.seed, a.preset
        ),
    };
    let mut w = CaptureWriter::create(out, &header)?;
    let bar = crate::progress::Progress::new(Some(a.events), None, false);
    let start = std::time::Instant::now();
    let mut gen = peregrine_event::synth::Generator::new(cfg);
    for i in 0..a.events {
        w.write(&gen.next_event())?;
        if i % 65_536 == 0 {
            bar.update(i, start);
        }
    }
    bar.finish();
    w.finish()?;
    Ok(a.events)
}

/// Options of `replay`.
#[derive(Clone, Debug)]
pub struct ReplayArgs {
    pub input: PathBuf,
    pub pacing: Pacing,
    pub loops: u32,
    pub alerts_file: Option<PathBuf>,
    pub quiet: bool,
}

pub fn replay(agent: &AgentArgs, a: &ReplayArgs, command: &[String]) -> Result<RunResult> {
    let cfg = agent.config()?;
    let ruleset = agent.ruleset(&cfg)?;
    let mut d = description(command);
    agent.describe(&cfg, &mut d)?;
    d.input =
        Some(machine::file_id(&a.input).with_context(|| format!("reading {}", a.input.display()))?);
    d.pacing = a.pacing.to_string();
    d.loops = a.loops;
    let (header, events) = crate::source::read_capture_with_header(&a.input)?;
    d.seed = crate::source::seed_of(&header);
    let events = Arc::new(events);
    let n = events.len() as u64 * a.loops.max(1) as u64;
    let src = MemorySource::new(events, a.loops, a.pacing);
    let clock = Clock::Batches(src.clock());
    let spec = RunSpec {
        cfg,
        ruleset,
        clock,
        alerts_file: a.alerts_file.clone(),
        duration: None,
        expected_events: Some(n),
        quiet: a.quiet,
        stop: None,
    };
    let mut r = crate::runner::run(spec, Box::new(src), Box::new(PassThrough))?;
    r.kind = "replay".into();
    r.label = label("replay", &a.input);
    r.description = d;
    Ok(r)
}

fn label(kind: &str, input: &Path) -> String {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{kind} {name}")
}

/// Options of `record`.
#[derive(Clone, Debug)]
pub struct RecordArgs {
    pub out: PathBuf,
    pub duration: Option<Duration>,
    pub events: Option<u64>,
    pub rotate_bytes: Option<u64>,
    pub rotate_every: Option<Duration>,
    pub filters: Filters,
    pub alerts_file: Option<PathBuf>,
    pub quiet: bool,
}

/// Records live kernel events while the rules run on them as in the agent.
pub fn record(
    agent: &AgentArgs,
    a: &RecordArgs,
    command: &[String],
) -> Result<(RunResult, Recorded)> {
    if a.duration.is_none() && a.events.is_none() {
        bail!("record needs --duration or --events (or both)");
    }
    let cfg = agent.config()?;
    let ruleset = agent.ruleset(&cfg)?;
    let mut d = description(command);
    agent.describe(&cfg, &mut d)?;
    d.pacing = "live".into();
    let done = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(Mutex::new(Recorded::default()));
    let (source, tables) = peregrine::run::live_kernel(&cfg, &ruleset)?;
    let tap = RecordingEnricher::new(
        Box::new(tables),
        &a.out,
        d.machine.hostname.clone(),
        a.filters.clone(),
        Limits {
            events: a.events,
            rotate_bytes: a.rotate_bytes,
            rotate_every: a.rotate_every,
        },
        done.clone(),
        recorded.clone(),
    )
    .open()
    .with_context(|| format!("creating {}", a.out.display()))?;
    let spec = RunSpec {
        cfg,
        ruleset,
        clock: Clock::Wall,
        alerts_file: a.alerts_file.clone(),
        duration: a.duration,
        expected_events: a.events,
        quiet: a.quiet,
        stop: Some(done),
    };
    let mut r = crate::runner::run(spec, Box::new(source), Box::new(tap))?;
    r.kind = "record".into();
    r.label = label("record", &a.out);
    r.description = d;
    let rec = std::mem::take(&mut *recorded.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(e) = &rec.error {
        bail!("writing the capture: {e}");
    }
    Ok((r, rec))
}
