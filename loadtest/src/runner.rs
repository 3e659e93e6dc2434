//! Runs events through the real pipeline in-process (the agent's stages, queues and
//! settings from its configuration), into a sink that counts alerts and measures their
//! latency, sampling counters, queues, CPU and memory once a second.

use crate::machine::CpuMeter;
use crate::result::{LatencyResult, RunResult, Sample, StageResult};
use crate::source::BatchClock;
use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use peregrine::pipeline::{AlertTap, Pipeline};
use peregrine::source::Source;
use peregrine::stage::enrich::Enricher;
use peregrine::stats::StageSnapshot;
use peregrine_config::{Common, Config};
use peregrine_outputs::{Deliver, DeliveryError, OutputsBuilder, Record};
use peregrine_rules::{Alert, Ruleset};
use std::collections::HashMap;
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

/// Measures, per batch, how long it took from the source to the enrich stage (the source
/// queue's wait), and notes when each batch left enrichment so the sink can measure the
/// rest (shard queue, rules, alert queue, dispatch) per alert.
struct TimingEnricher {
    inner: Box<dyn Enricher>,
    handed: Arc<BatchClock>,
    enriched: Arc<BatchClock>,
    to_enrich: Arc<Mutex<Histogram<u64>>>,
}

impl TimingEnricher {
    fn note(&self, batch: &[peregrine_event::Event]) {
        let (Some(a), Some(b)) = (batch.first(), batch.last()) else {
            return;
        };
        let now = Instant::now();
        if let Some(at) = self.handed.entered(a.ts) {
            let mut h = self.to_enrich.lock().unwrap_or_else(|e| e.into_inner());
            let _ = h.record((now.duration_since(at).as_nanos() as u64).max(1));
        }
        self.enriched.handed(a.ts, b.ts, now);
    }
}

impl Enricher for TimingEnricher {
    fn enrich(&mut self, batch: &mut Vec<peregrine_event::Event>) {
        self.note(batch);
        self.inner.enrich(batch);
    }
    fn tick(&mut self, out: &mut Vec<peregrine_event::Event>) {
        self.inner.tick(out);
    }
    fn held(&self) -> usize {
        self.inner.held()
    }
    fn finish(&mut self, out: &mut Vec<peregrine_event::Event>) {
        self.inner.finish(out);
    }
    fn tick_interval(&self) -> Duration {
        self.inner.tick_interval()
    }
    fn max_hold(&self) -> Duration {
        self.inner.max_hold()
    }
}

fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).context("latency histogram")
}

/// Shared by the sink (on the outputs' thread) and the runner.
struct SinkState {
    latency: Histogram<u64>,
    /// From arriving at enrichment to the rule shard's alerts (replays).
    enrich_to_rules: Histogram<u64>,
    /// From the rule shard's alerts to the sink: alert queue, dispatch, destination buffer.
    rules_to_output: Histogram<u64>,
    /// Alerts as JSON lines, when asked.
    alerts_out: Option<std::io::BufWriter<std::fs::File>>,
    write_error: Option<String>,
}

/// When a rule shard raised the alerts of an event, by event time (replays).
type RaisedAt = Arc<Mutex<HashMap<u64, Instant>>>;

struct CountingSink {
    clock: Clock,
    enriched: Option<Arc<BatchClock>>,
    raised: Option<RaisedAt>,
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
            let raised = self.raised.as_ref().and_then(|m| {
                let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
                m.remove(&r.alert.time_ns)
            });
            let enriched = self
                .enriched
                .as_ref()
                .and_then(|c| c.entered(r.alert.time_ns));
            if let (Some(raised), Some(enriched)) = (raised, enriched) {
                let in_rules = raised.saturating_duration_since(enriched).as_nanos() as u64;
                let to_output = now.saturating_duration_since(raised).as_nanos() as u64;
                let _ = st.enrich_to_rules.record(in_rules.max(1));
                let _ = st.rules_to_output.record(to_output.max(1));
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
    let mut settings = peregrine::run::pipeline_settings(&spec.cfg);
    let raised: Option<RaisedAt> = matches!(spec.clock, Clock::Batches(_)).then(RaisedAt::default);
    if let Some(map) = &raised {
        let map = map.clone();
        settings.alert_tap = Some(AlertTap(Arc::new(move |alerts: &[Alert]| {
            let now = Instant::now();
            let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
            for a in alerts {
                m.entry(a.time_ns).or_insert(now);
            }
        })));
    }
    // Replays: the time to the enrich stage per batch, and from there to the sink per alert.
    let to_enrich = Arc::new(Mutex::new(histogram()?));
    let (enricher, enriched): (Box<dyn Enricher>, Option<Arc<BatchClock>>) = match &spec.clock {
        Clock::Batches(handed) => {
            let enriched = Arc::new(BatchClock::default());
            let timing = TimingEnricher {
                inner: enricher,
                handed: handed.clone(),
                enriched: enriched.clone(),
                to_enrich: to_enrich.clone(),
            };
            (Box::new(timing), Some(enriched))
        }
        Clock::Wall => (enricher, None),
    };
    let state = Arc::new(Mutex::new(SinkState {
        latency: histogram()?,
        enrich_to_rules: histogram()?,
        rules_to_output: histogram()?,
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
        let (clock, st, en, ra) = (
            spec.clock.clone(),
            state.clone(),
            enriched.clone(),
            raised.clone(),
        );
        b.add(
            "loadtest",
            &Common::default(),
            Box::new(move || {
                Ok(CountingSink {
                    clock: clock.clone(),
                    enriched: en.clone(),
                    raised: ra.clone(),
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
        std::thread::spawn(move || sample_until_done(&p, &done, start, duration, expected, quiet))
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
    let samples = sampler.join().unwrap_or_default();
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
        latency: {
            let to_enrich = to_enrich.lock().unwrap_or_else(|e| e.into_inner());
            let mut l = vec![percentiles("end_to_end", &st.latency)];
            // Measured per batch / per alert (replays only).
            for (name, h) in [
                ("source to enrich (source queue)", &*to_enrich),
                (
                    "enrich to rules (enrichment, shard queue, rule evaluation)",
                    &st.enrich_to_rules,
                ),
                (
                    "rules to output (alert queue, dispatch, destination)",
                    &st.rules_to_output,
                ),
            ] {
                if !h.is_empty() {
                    l.push(percentiles(name, h));
                }
            }
            l
        },
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

fn sample_until_done(
    p: &Pipeline,
    done: &AtomicBool,
    start: Instant,
    duration: Option<Duration>,
    expected: Option<u64>,
    quiet: bool,
) -> Vec<Sample> {
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
    samples
}
