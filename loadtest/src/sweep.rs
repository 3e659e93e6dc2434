//! `sweep`: the highest rate a rule set holds with zero drops. The source queue is switched
//! to `drop_newest` (as the kernel's rings drop when the agent falls behind), the capture is
//! replayed at a target rate for a fixed step, and the rate is searched: first the flat-out
//! throughput, then bisection below it. The run at the sustained rate gives the CPU per
//! 100k events/s; two more at 50 % and 90 % of it give the latency there.

use crate::commands::{description, AgentArgs};
use crate::result::{LatencyResult, RunResult, SweepStep};
use crate::runner::{Clock, RunSpec};
use crate::source::{MemorySource, Pacing};
use anyhow::{Context, Result};
use peregrine::stage::enrich::PassThrough;
use peregrine_event::Event;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SweepArgs {
    pub input: PathBuf,
    /// How long each rate is held.
    pub step: Duration,
    /// Bisection steps below the flat-out rate.
    pub steps: u32,
    pub quiet: bool,
}

/// A step holds when nothing was dropped and the rate was reached (within 3 %).
fn held(target: f64, r: &RunResult) -> bool {
    r.dropped() == 0 && r.events_per_sec >= target * 0.97
}

/// Mean CPU over the samples after the first (start-up) second.
fn mean_cpu(r: &RunResult) -> f64 {
    let s: Vec<f64> = r.samples.iter().skip(1).map(|s| s.cpu_cores).collect();
    if s.is_empty() {
        return r.samples.first().map_or(0.0, |s| s.cpu_cores);
    }
    s.iter().sum::<f64>() / s.len() as f64
}

fn one_step(
    agent: &AgentArgs,
    events: &Arc<Vec<Event>>,
    pacing: Pacing,
    a: &SweepArgs,
) -> Result<RunResult> {
    let cfg = agent.config()?;
    let ruleset = agent.ruleset(&cfg)?;
    let src = MemorySource::new(events.clone(), 1, pacing).for_duration(a.step);
    let clock = Clock::Batches(src.clock());
    let spec = RunSpec {
        cfg,
        ruleset,
        clock,
        alerts_file: None,
        duration: None,
        expected_events: None,
        quiet: true,
        stop: None,
    };
    let mut r = crate::runner::run(spec, Box::new(src), Box::new(PassThrough))?;
    // The source ran for exactly the step: its rate, not diluted by start-up and drain.
    r.events_per_sec = r.events as f64 / a.step.as_secs_f64();
    Ok(r)
}

fn step_of(target: f64, r: &RunResult) -> SweepStep {
    let e2e = r.latency("end_to_end").cloned().unwrap_or_default();
    SweepStep {
        target_events_per_sec: target,
        achieved_events_per_sec: r.events_per_sec,
        dropped: r.dropped(),
        cpu_cores: mean_cpu(r),
        latency_p50_ns: e2e.p50_ns,
        latency_p99_ns: e2e.p99_ns,
        ok: held(target, r),
    }
}

pub fn sweep(agent: &AgentArgs, a: &SweepArgs, command: &[String]) -> Result<RunResult> {
    // Overload must show as drops, not as a slower source.
    let mut agent = agent.clone();
    agent
        .overrides
        .push("pipeline.queues.source.overflow=drop_newest".into());
    let cfg = agent.config()?;
    let mut d = description(command);
    agent.describe(&cfg, &mut d)?;
    d.input = Some(
        crate::machine::file_id(&a.input)
            .with_context(|| format!("reading {}", a.input.display()))?,
    );
    d.pacing = format!("sweep, {} s per step", a.step.as_secs_f64());
    let (header, events) = crate::source::read_capture_with_header(&a.input)?;
    d.seed = crate::source::seed_of(&header);
    let events = Arc::new(events);
    anyhow::ensure!(!events.is_empty(), "{}: no events", a.input.display());

    let say = |s: &SweepStep| {
        if !a.quiet {
            eprintln!(
                "  {:>10.0} events/s target: {:>10.0} achieved, {} dropped, {:.2} cores, p99 {:.1} µs {}",
                s.target_events_per_sec,
                s.achieved_events_per_sec,
                s.dropped,
                s.cpu_cores,
                s.latency_p99_ns as f64 / 1e3,
                if s.ok { "held" } else { "not held" }
            );
        }
    };
    // Flat out: the ceiling (the source blocks on nothing, drops show the overload).
    let flat = one_step(&agent, &events, Pacing::Flat, a)?;
    // What the rules got through, not what the source offered (the rest was dropped).
    let evaluated = flat
        .stages
        .iter()
        .find(|s| s.stage == "rules")
        .map_or(0, |s| s.received);
    let ceiling = (evaluated as f64 / a.step.as_secs_f64()).max(1.0);
    if !a.quiet {
        eprintln!(
            "flat out: {ceiling:.0} events/s, {} dropped",
            flat.dropped()
        );
    }
    let mut steps = Vec::new();
    let (mut lo, mut hi): (Option<(f64, RunResult)>, f64) = (None, ceiling * 1.05);
    let mut target = ceiling * 0.9;
    for _ in 0..a.steps.max(1) {
        let r = one_step(&agent, &events, Pacing::Rate(target), a)?;
        let s = step_of(target, &r);
        say(&s);
        steps.push(s.clone());
        if s.ok {
            lo = Some((target, r));
        } else {
            hi = target;
        }
        let floor = lo.as_ref().map_or(0.0, |(t, _)| *t);
        target = if lo.is_none() {
            target / 2.0
        } else {
            (floor + hi) / 2.0
        };
    }
    let mut result = RunResult {
        version: crate::result::RESULT_VERSION,
        kind: "sweep".into(),
        label: format!(
            "sweep {}",
            a.input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
        description: d,
        ..Default::default()
    };
    if let Some((rate, r)) = lo {
        let cores = mean_cpu(&r);
        result.sustained_events_per_sec = Some(rate);
        result.cpu_per_100k_eps = Some(cores / (rate / 100_000.0));
        for share in [0.5, 0.9] {
            let at = one_step(&agent, &events, Pacing::Rate(rate * share), a)?;
            let mut s = step_of(rate * share, &at);
            s.ok = held(rate * share, &at);
            say(&s);
            if let Some(l) = at.latency("end_to_end") {
                result.latency.push(LatencyResult {
                    name: format!("end_to_end at {:.0} % of sustained", share * 100.0),
                    ..l.clone()
                });
            }
            steps.push(s);
        }
        result.events = r.events;
        result.alerts = r.alerts;
        result.duration_secs = r.duration_secs;
        result.events_per_sec = r.events_per_sec;
        if let Some(l) = r.latency("end_to_end") {
            result.latency.insert(0, l.clone());
        }
        result.stages = r.stages;
        result.samples = r.samples;
    }
    result.sweep = steps;
    Ok(result)
}
