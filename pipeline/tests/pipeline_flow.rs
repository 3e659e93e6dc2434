//! The pipeline as a library: backpressure, drop accounting, per-process ordering across
//! shards, ruleset swaps mid-stream, and outputs that never hold the rule stage back.

use peregrine::pipeline::{Pipeline, PipelineSettings, QueueSettings};
use peregrine::queue::Overflow;
use peregrine::source::SyntheticSource;
use peregrine::stage::enrich::PassThrough;
use peregrine::stats::StageSnapshot;
use peregrine_config::Common;
use peregrine_event::synth::SynthConfig;
use peregrine_outputs::{Deliver, DeliveryError, Outputs, OutputsBuilder, Record};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, Alert, CompileOptions, Ruleset};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ruleset(yaml: &str) -> Ruleset {
    let out = load_sources(
        &[RulesSource::new("t.yaml", yaml)],
        &CompileOptions {
            suggested_output: false,
            ..Default::default()
        },
    );
    let errors: Vec<String> = out.errors().map(|e| e.to_string()).collect();
    out.ruleset.unwrap_or_else(|| panic!("{errors:?}"))
}

const EVERY_OPEN: &str = "- rule: every open\n  desc: d\n  condition: evt.type in (open, openat)\n  output: num=%evt.num pid=%proc.pid file=%fd.name\n  priority: INFO\n";
const EVERY_CONNECT: &str = "- rule: every connect\n  desc: d\n  condition: evt.type = connect\n  output: num=%evt.num pid=%proc.pid\n  priority: NOTICE\n";

/// Keeps every alert, optionally sleeping per batch to act as a slow destination.
struct CollectSink {
    alerts: Arc<Mutex<Vec<Alert>>>,
    delay: Duration,
}

impl Deliver for CollectSink {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        std::thread::sleep(self.delay);
        let mut out = self.alerts.lock().unwrap();
        out.extend(batch.iter().map(|r| r.alert.clone()));
        Ok(batch.len())
    }
}

/// One destination, `collect`, with a buffer of `buffer` alerts (drop_oldest).
fn collect(alerts: &Arc<Mutex<Vec<Alert>>>, delay: Duration, buffer: usize) -> Outputs {
    let mut common = Common::default();
    common.delivery.buffersize = buffer;
    common.delivery.batchsize = 256;
    let alerts = alerts.clone();
    let mut b = OutputsBuilder::new();
    b.add(
        "collect",
        &common,
        Box::new(move || {
            Ok(CollectSink {
                alerts: alerts.clone(),
                delay,
            })
        }),
    )
    .unwrap();
    b.build()
}

/// Sleeps per batch: a slow stage in front of the rules.
struct SlowEnricher(Duration);

impl peregrine::stage::enrich::Enricher for SlowEnricher {
    fn enrich(&mut self, _batch: &mut Vec<peregrine_event::Event>) {
        std::thread::sleep(self.0);
    }
}

fn settings(shards: usize, capacity: usize, overflow: Overflow) -> PipelineSettings {
    let q = QueueSettings { capacity, overflow };
    PipelineSettings {
        batch_size: 256,
        rule_shards: shards,
        source_queue: q,
        enrich_queue: q,
        rules_queue: q,
        outputs_queue: q,
        ..Default::default()
    }
}

fn synthetic(events: u64) -> Box<SyntheticSource> {
    Box::new(SyntheticSource::new(
        SynthConfig {
            seed: 7,
            containers: 6,
            ..Default::default()
        },
        None,
        Some(events),
    ))
}

fn stage<'a>(stats: &'a [StageSnapshot], name: &str) -> &'a StageSnapshot {
    stats
        .iter()
        .find(|s| s.stage == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

/// in = out + dropped + filtered for every stage, and each stage got what the previous sent.
fn assert_counts_add_up(stats: &[StageSnapshot], alerts_written: usize) {
    for s in stats {
        assert_eq!(
            s.received,
            s.passed + s.dropped + s.filtered,
            "stage {} does not add up: {s:?}",
            s.stage
        );
    }
    assert_eq!(
        stage(stats, "source").passed,
        stage(stats, "enrich").received
    );
    assert_eq!(
        stage(stats, "enrich").passed,
        stage(stats, "rules").received
    );
    // rule_matching first: one alert per matching event.
    assert_eq!(
        stage(stats, "rules").passed,
        stage(stats, "outputs").received
    );
    assert_eq!(
        stage(stats, "outputs").passed,
        stage(stats, "output.collect").received
    );
    assert_eq!(
        stage(stats, "output.collect").passed as usize,
        alerts_written
    );
}

#[test]
fn block_loses_nothing_and_backpressure_reaches_the_source() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::start(
        &settings(2, 2, Overflow::Block),
        synthetic(60_000),
        Box::new(SlowEnricher(Duration::from_millis(3))),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 1_000_000),
    )
    .unwrap();
    let mut source_queue_full = false;
    while !p.is_finished() {
        for (q, depth, cap) in p.queue_depths() {
            if q == "source" && depth == cap {
                source_queue_full = true;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let stats = p.join();
    let written = alerts.lock().unwrap().len();
    assert_counts_add_up(&stats, written);
    assert!(
        stats.iter().all(|s| s.dropped == 0),
        "block must not drop: {stats:?}"
    );
    assert_eq!(stage(&stats, "source").passed, 60_000);
    assert_eq!(stage(&stats, "rules").received, 60_000);
    assert!(
        written > 20_000,
        "about 45% of events are opens, got {written}"
    );
    assert!(
        source_queue_full,
        "a slow stage under block must fill the queues back to the source"
    );
}

#[test]
fn drop_newest_drops_and_every_counter_adds_up() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::start(
        &settings(2, 1, Overflow::DropNewest),
        synthetic(100_000),
        Box::new(SlowEnricher(Duration::from_millis(2))),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 1_000_000),
    )
    .unwrap();
    let stats = p.join();
    let written = alerts.lock().unwrap().len();
    assert_counts_add_up(&stats, written);
    let dropped: u64 = stats.iter().map(|s| s.dropped).sum();
    assert!(
        dropped > 0,
        "a slow stage with one-batch queues must drop: {stats:?}"
    );
    assert_eq!(stage(&stats, "source").received, 100_000);
    for s in &stats {
        for (reason, n) in &s.dropped_by_reason {
            if *n > 0 {
                assert_eq!(reason, "queue_full", "{s:?}");
            }
        }
    }
}

#[test]
fn alerts_of_one_process_keep_event_order_across_shards() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::start(
        &settings(4, 8, Overflow::Block),
        synthetic(80_000),
        Box::new(PassThrough),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 1_000_000),
    )
    .unwrap();
    let stats = p.join();
    let alerts = alerts.lock().unwrap();
    assert_counts_add_up(&stats, alerts.len());
    let mut last: std::collections::HashMap<u64, u64> = Default::default();
    let mut pids = std::collections::HashSet::new();
    for a in alerts.iter() {
        let num = a.output_fields["evt.num"].as_u64().unwrap();
        let pid = a.output_fields["proc.pid"].as_u64().unwrap();
        pids.insert(pid);
        if let Some(prev) = last.insert(pid, num) {
            assert!(num > prev, "process {pid}: event {num} came after {prev}");
        }
    }
    assert!(
        pids.len() >= 8,
        "several processes spread over the shards: {}",
        pids.len()
    );
}

#[test]
fn a_swapped_ruleset_applies_from_the_next_batch_without_losing_events() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let source = Box::new(SyntheticSource::new(
        SynthConfig {
            seed: 9,
            ..Default::default()
        },
        Some(200_000),
        Some(60_000),
    ));
    let p = Pipeline::start(
        &settings(2, 8, Overflow::Block),
        source,
        Box::new(PassThrough),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 1_000_000),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    p.rules().swap(ruleset(EVERY_CONNECT));
    let stats = p.join();
    let alerts = alerts.lock().unwrap();
    assert_counts_add_up(&stats, alerts.len());
    assert_eq!(
        stage(&stats, "rules").received,
        60_000,
        "every event evaluated exactly once"
    );
    let first_connect = alerts
        .iter()
        .position(|a| &*a.rule == "every connect")
        .expect("new rules took effect");
    assert!(first_connect > 0, "old rules ran first");
    assert!(alerts.iter().any(|a| &*a.rule == "every open"));
    // Per shard, no old-rule alert follows a new-rule alert: check per process, whose
    // events all go to one shard.
    let mut switched = std::collections::HashSet::new();
    for a in alerts.iter() {
        let pid = a.output_fields["proc.pid"].as_u64().unwrap();
        if &*a.rule == "every connect" {
            switched.insert(pid);
        } else {
            assert!(
                !switched.contains(&pid),
                "process {pid} got an old-rules alert after the swap"
            );
        }
    }
}

/// Fails on the first batch it sees, then works: a stage that fails is restarted.
struct FlakyEnricher {
    failed: bool,
}

impl peregrine::stage::enrich::Enricher for FlakyEnricher {
    fn enrich(&mut self, batch: &mut Vec<peregrine_event::Event>) {
        if !self.failed && !batch.is_empty() {
            self.failed = true;
            panic!("enricher bug on a batch of {}", batch.len());
        }
    }
}

/// Panics on its first call, refuses the second, then works; rebuilt writers share the count.
struct FailingSink {
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl Deliver for FailingSink {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        let calls = self
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        match calls {
            1 => panic!("sink bug"),
            2 => Err(DeliveryError::reject("destination refused")),
            _ => Ok(batch.len()),
        }
    }
}

#[test]
fn failing_stages_are_restarted_and_counted() {
    let p = Pipeline::start(
        &settings(2, 8, Overflow::Block),
        synthetic(20_000),
        Box::new(FlakyEnricher { failed: false }),
        ruleset(EVERY_OPEN),
        {
            let mut b = OutputsBuilder::new();
            b.add("flaky", &Common::default(), {
                let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                Box::new(move || {
                    Ok(FailingSink {
                        calls: calls.clone(),
                    })
                })
            })
            .unwrap();
            b.build()
        },
    )
    .unwrap();
    let stats = p.join();
    for s in &stats {
        assert_eq!(s.received, s.passed + s.dropped + s.filtered, "{s:?}");
    }
    let enrich = stage(&stats, "enrich");
    assert_eq!(enrich.restarts, 1);
    assert_eq!(
        enrich.dropped, 256,
        "the failed batch is counted: {enrich:?}"
    );
    assert_eq!(
        stage(&stats, "rules").received,
        20_000 - 256,
        "the rest flowed on"
    );
    let sink = stage(&stats, "output.flaky");
    assert_eq!(sink.restarts, 1);
    assert!(sink
        .dropped_by_reason
        .iter()
        .any(|(r, n)| r == "rejected" && *n > 0));
    assert!(sink.passed > 0, "the sink went on after failing");
}

/// Fails every attempt after a pause, like a destination that is down behind a timeout.
struct DownDestination;

impl Deliver for DownDestination {
    async fn deliver(&mut self, _batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        std::thread::sleep(Duration::from_millis(20));
        Err(DeliveryError::retry("connection refused"))
    }
}

#[test]
fn a_failing_destination_never_holds_the_rules_back() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let mut small = Common::default();
    small.delivery.buffersize = 100;
    small.delivery.backoff = Duration::from_millis(5);
    small.delivery.maxbackoff = Duration::from_millis(20);
    small.delivery.draintimeout = Duration::from_millis(200);
    let mut big = Common::default();
    big.delivery.buffersize = 1_000_000;
    let mut b = OutputsBuilder::new();
    b.add("down", &small, Box::new(|| Ok(DownDestination)))
        .unwrap();
    let a2 = alerts.clone();
    b.add(
        "collect",
        &big,
        Box::new(move || {
            Ok(CollectSink {
                alerts: a2.clone(),
                delay: Duration::ZERO,
            })
        }),
    )
    .unwrap();
    let p = Pipeline::start(
        &settings(2, 8, Overflow::Block),
        synthetic(60_000),
        Box::new(PassThrough),
        ruleset(EVERY_OPEN),
        b.build(),
    )
    .unwrap();
    let stats = p.join();
    let written = alerts.lock().unwrap().len();
    assert_counts_add_up(&stats, written);
    let rules = stage(&stats, "rules");
    assert_eq!(rules.received, 60_000);
    assert_eq!(rules.dropped, 0, "the rule stage never waited: {rules:?}");
    let down = stage(&stats, "output.down");
    assert_eq!(down.received, stage(&stats, "outputs").passed);
    assert_eq!(down.passed, 0);
    assert_eq!(
        down.received, down.dropped,
        "everything offered to the dead destination is counted as dropped: {down:?}"
    );
    assert_eq!(written as u64, stage(&stats, "outputs").passed);
}

/// Holds every event of processes whose pid is a multiple of 5 for `delay` (wall time), in
/// arrival order, as the container hold does; releases on later batches and on ticks.
struct HoldingEnricher {
    held: std::collections::VecDeque<(std::time::Instant, peregrine_event::Event)>,
    delay: Duration,
    max_seen: usize,
}

impl HoldingEnricher {
    fn release(&mut self, out: &mut Vec<peregrine_event::Event>) {
        let now = std::time::Instant::now();
        while self
            .held
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= self.delay)
        {
            out.extend(self.held.pop_front().map(|(_, ev)| ev));
        }
    }
}

impl peregrine::stage::enrich::Enricher for HoldingEnricher {
    fn enrich(&mut self, batch: &mut Vec<peregrine_event::Event>) {
        let now = std::time::Instant::now();
        let mut out = Vec::with_capacity(batch.len());
        self.release(&mut out);
        for ev in batch.drain(..) {
            let pid = ev.process.as_ref().map_or(0, |p| p.pid);
            if pid % 5 == 0 {
                self.held.push_back((now, ev));
            } else {
                out.push(ev);
            }
        }
        self.max_seen = self.max_seen.max(self.held.len());
        *batch = out;
    }

    fn tick(&mut self, out: &mut Vec<peregrine_event::Event>) {
        self.release(out);
    }

    fn held(&self) -> usize {
        self.held.len()
    }

    fn finish(&mut self, out: &mut Vec<peregrine_event::Event>) {
        out.extend(self.held.drain(..).map(|(_, ev)| ev));
    }

    fn max_hold(&self) -> Duration {
        self.delay
    }
}

#[test]
fn held_events_are_neither_lost_nor_double_counted_and_keep_their_order() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let p = Pipeline::start(
        &settings(3, 8, Overflow::Block),
        synthetic(40_000),
        Box::new(HoldingEnricher {
            held: Default::default(),
            delay: Duration::from_millis(30),
            max_seen: 0,
        }),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 1_000_000),
    )
    .unwrap();
    let mut saw_held = false;
    while !p.is_finished() {
        let s = p.snapshot();
        let e = stage(&s, "enrich");
        saw_held |= e.held > 0;
        // Never more out than in, whatever is held.
        assert!(e.passed + e.dropped <= e.received, "{e:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = p.join();
    let alerts = alerts.lock().unwrap();
    assert_counts_add_up(&stats, alerts.len());
    let e = stage(&stats, "enrich");
    assert_eq!((e.received, e.passed, e.held), (40_000, 40_000, 0), "{e:?}");
    assert!(
        saw_held,
        "the enrich stage reported held events while running"
    );
    let mut last: std::collections::HashMap<u64, u64> = Default::default();
    let mut held_pids = 0;
    for a in alerts.iter() {
        let num = a.output_fields["evt.num"].as_u64().unwrap();
        let pid = a.output_fields["proc.pid"].as_u64().unwrap();
        held_pids += usize::from(pid % 5 == 0);
        if let Some(prev) = last.insert(pid, num) {
            assert!(num > prev, "process {pid}: event {num} came after {prev}");
        }
    }
    assert!(held_pids > 0, "some alerts come from held processes");
}

/// A source that keeps what it generates (like the kernel reader's reorder window) until
/// it is stopped, then hands everything over in `finish`.
struct HoldingSource {
    inner: SyntheticSource,
    held: Vec<peregrine_event::Event>,
}

impl peregrine::source::Source for HoldingSource {
    fn name(&self) -> &'static str {
        "holding"
    }

    fn pull(&mut self, max: usize, wait: Duration) -> peregrine::source::Pull {
        if let peregrine::source::Pull::Batch(b) = self.inner.pull(max, wait) {
            self.held.extend(b);
        }
        std::thread::sleep(Duration::from_millis(1));
        peregrine::source::Pull::Idle
    }

    fn finish(&mut self) -> Vec<peregrine_event::Event> {
        std::mem::take(&mut self.held)
    }
}

#[test]
fn a_stopped_source_hands_over_what_it_still_holds() {
    let alerts = Arc::new(Mutex::new(Vec::new()));
    let source = HoldingSource {
        inner: SyntheticSource::new(
            SynthConfig {
                seed: 7,
                containers: 6,
                ..Default::default()
            },
            None,
            Some(5_000),
        ),
        held: Vec::new(),
    };
    let p = Pipeline::start(
        &settings(2, 8, Overflow::Block),
        Box::new(source),
        Box::new(PassThrough),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 1_000_000),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        stage(&p.snapshot(), "source").received,
        0,
        "all held so far"
    );
    p.stop();
    while !p.is_finished() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = p.join();
    assert_counts_add_up(&stats, alerts.lock().unwrap().len());
    assert_eq!(stage(&stats, "source").passed, 5_000);
    assert_eq!(stage(&stats, "rules").received, 5_000);
}

#[test]
fn readiness_names_a_finished_source_then_shutting_down() {
    let alerts = Arc::default();
    let p = Pipeline::start(
        &settings(2, 8, Overflow::Block),
        synthetic(2_000),
        Box::new(PassThrough),
        ruleset(EVERY_OPEN),
        collect(&alerts, Duration::ZERO, 10_000),
    )
    .unwrap();
    let start = std::time::Instant::now();
    // The source ends after its events: readiness must say which stage stopped.
    let problem = loop {
        if let Some(problem) = p.problem() {
            break problem;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no problem reported"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(problem, "stage source has stopped");
    p.stop();
    assert_eq!(p.problem().as_deref(), Some("shutting down"));
    p.join();
}
