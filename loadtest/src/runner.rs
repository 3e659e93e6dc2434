//! Runs events through the real pipeline in-process (the agent's stages, queues and
//! settings from its configuration), into a sink that counts alerts and measures their
//! latency, sampling counters, queues, CPU and memory once a second.

use crate::machine::CpuMeter;
use crate::result::{LatencyResult, RunResult, Sample, StageResult};
use crate::source::BatchClock;
use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use peregrine::pipeline::Pipeline;
use peregrine::source::Source;
use peregrine::stage::enrich::Enricher;
use peregrine::stats::StageSnapshot;
use peregrine_config::{Common, Config};
use peregrine_outputs::{Deliver, DeliveryError, OutputsBuilder, Record};
use peregrine_rules::Ruleset;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What an alert's latency is measured from.
#[derive(Clone)]
pub enum Clock {
    /// Live events: their kernel timestamp (epoch ns).
    Wall,
    /// Replayed events: when their batch was handed to the pipeline.
    Batches(Arc<BatchClock>),
}

/// Shared by the sink (on the outputs' thread) and the runner.
struct SinkState {
    latency: Histogram<u64>,
    /// Alerts as JSON lines, when asked.
    alerts_out: Option<std::io::BufWriter<std::fs::File>>,
    write_error: Option<String>,
}

struct CountingSink {
    clock: Clock,
    state: Arc<Mutex<SinkState>>,
}

impl Deliver for CountingSink {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        let now = Instant::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for r in batch {
            let ns = match &self.clock {
                Clock::Wall => Some(wall.saturating_sub(r.alert.time_ns)),
                Clock::Batches(c) => c
                    .entered(r.alert.time_ns)
                    .map(|at| now.duration_since(at).as_nanos() as u64),
            };
            if let Some(ns) = ns {
                let _ = st.latency.record(ns.max(1));
            }
            if st.alerts_out.is_some() {
                let line = alert_line(r);
                if let Some(out) = st.alerts_out.as_mut() {
                    if let Err(e) = writeln!(out, "{line}") {
                        st.write_error.get_or_insert(e.to_string());
                    }
                }
            }
        }
        Ok(batch.len())
    }
}

/// An alert as Falco's JSON (every field), one line.
fn alert_line(r: &Record) -> String {
    r.alert
        .to_json(&peregrine_rules::JsonOptions::default())
        .to_string()
}

/// What the runner needs besides the events.
pub struct RunSpec {
    pub cfg: Config,
    pub ruleset: Ruleset,
    pub clock: Clock,
    /// Write every alert here, one JSON object per line.
    pub alerts_file: Option<PathBuf>,
    /// Stop the source after this long.
    pub duration: Option<Duration>,
    /// Shown with the progress bar; total events when known.
    pub expected_events: Option<u64>,
    pub quiet: bool,
    /// Stop when this is set (the recorder's event limit).
    pub stop: Option<Arc<AtomicBool>>,
}

/// The measured part of a result (the caller fills in kind, label and description).
pub fn run(spec: RunSpec, src: Box<dyn Source>, enricher: Box<dyn Enricher>) -> Result<RunResult> {
    let settings = peregrine::run::pipeline_settings(&spec.cfg);
    let state = Arc::new(Mutex::new(SinkState {
        latency: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
            .context("latency histogram")?,
        alerts_out: match &spec.alerts_file {
            Some(p) => Some(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            None => None,
        },
        write_error: None,
    }));
    let outputs = {
        let mut b = OutputsBuilder::new();
        let (clock, st) = (spec.clock.clone(), state.clone());
        b.add(
            "loadtest",
            &Common::default(),
            Box::new(move || {
                Ok(CountingSink {
                    clock: clock.clone(),
                    state: st.clone(),
                })
            }),
        )
        .context("the counting sink")?;
        b.build()
    };
    let start = Instant::now();
    let pipeline = Arc::new(
        Pipeline::start(&settings, src, enricher, spec.ruleset, outputs)
            .context("starting the pipeline")?,
    );

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (p, done) = (pipeline.clone(), done.clone());
        let (duration, expected, quiet) = (spec.duration, spec.expected_events, spec.quiet);
        let batch = settings.batch_size;
        std::thread::spawn(move || {
            sample_until_done(&p, &done, start, duration, expected, quiet, batch)
        })
    };
    while !pipeline.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
        let asked = spec
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed));
        if asked || spec.duration.is_some_and(|d| start.elapsed() >= d) {
            pipeline.stop();
        }
    }
    done.store(true, Ordering::Relaxed);
    let (samples, waits) = sampler.join().unwrap_or_default();
    let pipeline = Arc::try_unwrap(pipeline)
        .map_err(|_| anyhow::anyhow!("the sampler still holds the pipeline"))?;
    let stats = pipeline.join();
    let secs = start.elapsed().as_secs_f64();

    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(out) = st.alerts_out.as_mut() {
        out.flush().context("writing the alerts file")?;
    }
    if let Some(e) = &st.write_error {
        anyhow::bail!("writing the alerts file: {e}");
    }
    let events = stage(&stats, "source").map_or(0, |s| s.passed);
    let alerts = stage(&stats, "outputs").map_or(0, |s| s.received);
    Ok(RunResult {
        version: crate::result::RESULT_VERSION,
        events,
        alerts,
        duration_secs: secs,
        events_per_sec: if secs > 0.0 {
            events as f64 / secs
        } else {
            0.0
        },
        stages: stats.iter().map(stage_result).collect(),
        latency: std::iter::once(percentiles("end_to_end", &st.latency))
            .chain(waits)
            .collect(),
        samples,
        ..Default::default()
    })
}

fn stage<'a>(stats: &'a [StageSnapshot], name: &str) -> Option<&'a StageSnapshot> {
    stats.iter().find(|s| s.stage == name)
}

fn stage_result(s: &StageSnapshot) -> StageResult {
    StageResult {
        stage: s.stage.clone(),
        received: s.received,
        passed: s.passed,
        filtered: s.filtered,
        dropped: s.dropped,
        dropped_by_reason: s.dropped_by_reason.clone(),
    }
}

pub fn percentiles(name: &str, h: &Histogram<u64>) -> LatencyResult {
    LatencyResult {
        name: name.into(),
        count: h.len(),
        p50_ns: h.value_at_quantile(0.5),
        p90_ns: h.value_at_quantile(0.9),
        p99_ns: h.value_at_quantile(0.99),
        p999_ns: h.value_at_quantile(0.999),
        max_ns: h.max(),
    }
}

/// Per-stage latency without touching the stages: every 50 ms, the events waiting in front
/// of a stage divided by the rate it takes them in (Little's law) estimate how long an
/// event arriving then waits there. Percentiles are over those estimates.
struct QueueWaits {
    /// (stage, its input queues' name prefix, histogram, events it had received).
    stages: Vec<(&'static str, &'static str, Histogram<u64>, u64)>,
    last: Instant,
    batch: usize,
}

impl QueueWaits {
    fn new(batch: usize) -> Option<QueueWaits> {
        let h = || Histogram::new_with_bounds(1, 3_600_000_000_000, 3).ok();
        Some(QueueWaits {
            stages: vec![
                ("enrich", "source", h()?, 0),
                ("rules", "enrich.shard", h()?, 0),
            ],
            last: Instant::now(),
            batch,
        })
    }

    fn observe(&mut self, snap: &[StageSnapshot], depths: &[(String, usize, usize)]) {
        let dt = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        for (name, queue, hist, seen) in &mut self.stages {
            let got = stage(snap, name).map_or(0, |s| s.received);
            let rate = got.saturating_sub(*seen) as f64 / dt.max(1e-9);
            *seen = got;
            let waiting: usize = depths
                .iter()
                .filter(|(q, _, _)| q.starts_with(*queue))
                .map(|(_, d, _)| d * self.batch)
                .sum();
            if rate > 0.0 {
                let _ = hist.record(((waiting as f64 / rate) * 1e9) as u64 + 1);
            }
        }
    }

    fn results(&self) -> Vec<LatencyResult> {
        self.stages
            .iter()
            .filter(|(_, _, h, _)| !h.is_empty())
            .map(|(name, _, h, _)| percentiles(&format!("queue wait before {name} (estimated)"), h))
            .collect()
    }
}

fn sample_until_done(
    p: &Pipeline,
    done: &AtomicBool,
    start: Instant,
    duration: Option<Duration>,
    expected: Option<u64>,
    quiet: bool,
    batch: usize,
) -> (Vec<Sample>, Vec<LatencyResult>) {
    let mut waits = QueueWaits::new(batch);
    let bar = crate::progress::Progress::new(expected, duration, quiet);
    let mut cpu = CpuMeter::new(std::process::id());
    let mut samples = Vec::new();
    let (mut last_events, mut last_alerts, mut last_t) = (0u64, 0u64, 0.0f64);
    let mut next = start + Duration::from_secs(1);
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let snap = p.snapshot();
        let events = stage(&snap, "source").map_or(0, |s| s.passed);
        bar.update(events, start);
        if let Some(w) = waits.as_mut() {
            w.observe(&snap, &p.queue_depths());
        }
        if Instant::now() < next {
            continue;
        }
        next += Duration::from_secs(1);
        let t = start.elapsed().as_secs_f64();
        let alerts = stage(&snap, "outputs").map_or(0, |s| s.received);
        let dt = (t - last_t).max(1e-9);
        let (cores, rss) = cpu.read();
        samples.push(Sample {
            t,
            events_per_sec: (events - last_events) as f64 / dt,
            alerts_per_sec: (alerts - last_alerts) as f64 / dt,
            drops: snap.iter().map(|s| (s.stage.clone(), s.dropped)).collect(),
            queues: p
                .queue_depths()
                .into_iter()
                .map(|(q, d, c)| (q, if c > 0 { d as f64 / c as f64 } else { 0.0 }))
                .collect(),
            cpu_cores: cores,
            rss_bytes: rss,
        });
        (last_events, last_alerts, last_t) = (events, alerts, t);
    }
    bar.finish();
    (samples, waits.map(|w| w.results()).unwrap_or_default())
}
