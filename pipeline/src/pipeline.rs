//! Wiring: source → enrich → K rule shards → output dispatcher → destinations, with a
//! bounded queue on every edge. Stopping the source drains every queue in order: each
//! stage ends when its input is closed and empty, so nothing accepted is lost; the
//! destinations then deliver what they hold within their drain time (and count the rest).

use crate::kernel_drops::{DropMonitor, SharedTotals};
use crate::queue::{depth_probe, edge, DepthProbe, Overflow};
use crate::rules_handle::RulesHandle;
use crate::source::Source;
use crate::stage::enrich::Enricher;
use crate::stage::rules::ShardContext;
use crate::stage::{enrich, output, rules, source};
use crate::stats::{StageSnapshot, StageStats};
use peregrine_config::SyscallEventDrops;
use peregrine_outputs::{DestinationSnapshot, Outputs};
use peregrine_rules::{AlertOptions, RuleMatching, Ruleset};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One edge's size and overflow policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// In batches.
    pub capacity: usize,
    pub overflow: Overflow,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            capacity: 8,
            overflow: Overflow::Block,
        }
    }
}

/// Everything the pipeline needs to know, from the configuration.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    pub batch_size: usize,
    pub rule_shards: usize,
    /// How long a source may wait to fill a batch.
    pub flush_interval: Duration,
    /// source → enrich.
    pub source_queue: QueueSettings,
    /// enrich → each rule shard.
    pub enrich_queue: QueueSettings,
    /// rule shards → output dispatcher.
    pub rules_queue: QueueSettings,
    /// Unused since destinations have their own buffers (`outputs.buffersize`); kept so
    /// `pipeline.queues.outputs` still loads.
    pub outputs_queue: QueueSettings,
    pub rule_matching: RuleMatching,
    pub alert: AlertOptions,
    /// What to do when the kernel drops events (falco.yaml `syscall_event_drops`).
    pub syscall_event_drops: SyscallEventDrops,
    /// Set when a `syscall_event_drops` `exit` action stopped the pipeline.
    pub drop_exit: Arc<AtomicBool>,
    /// The agent's own container: its events are not evaluated
    /// (`containers.alert_own_container: false`).
    pub own_container: Option<peregrine_enrich::own::OwnContainer>,
    /// Called by a rule shard with each batch of alerts it raised, before they are queued
    /// for the outputs (the load-test tool times the stages with it; the agent sets none).
    pub alert_tap: Option<AlertTap>,
}

/// What an [`AlertTap`] calls.
pub type AlertTapFn = dyn Fn(&[peregrine_rules::Alert]) + Send + Sync;

/// See [`PipelineSettings::alert_tap`].
#[derive(Clone)]
pub struct AlertTap(pub Arc<AlertTapFn>);

impl std::fmt::Debug for AlertTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertTap")
    }
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            batch_size: 1024,
            rule_shards: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            flush_interval: Duration::from_millis(10),
            source_queue: QueueSettings::default(),
            enrich_queue: QueueSettings::default(),
            rules_queue: QueueSettings::default(),
            outputs_queue: QueueSettings::default(),
            rule_matching: RuleMatching::First,
            alert: AlertOptions::default(),
            syscall_event_drops: SyscallEventDrops::default(),
            drop_exit: Arc::default(),
            own_container: None,
            alert_tap: None,
        }
    }
}

/// A running pipeline.
pub struct Pipeline {
    threads: Vec<(String, JoinHandle<()>)>,
    stop: Arc<AtomicBool>,
    stages: Vec<Arc<StageStats>>,
    queues: Vec<(String, DepthProbe)>,
    rules: Arc<RulesHandle>,
    outputs: Outputs,
    /// The kernel's counters, when the source is the kernel.
    kernel: Option<SharedTotals>,
}

fn spawn(
    threads: &mut Vec<(String, JoinHandle<()>)>,
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    // The source may decode capture records, whose nesting the reader bounds to what
    // this stack holds (`capture::DECODE_STACK`); the other stages do not recurse.
    let mut builder = std::thread::Builder::new().name(name.clone());
    if name == "source" {
        builder = builder.stack_size(crate::capture::DECODE_STACK);
    }
    let handle = builder.spawn(f)?;
    threads.push((name, handle));
    Ok(())
}

impl Pipeline {
    pub fn start(
        settings: &PipelineSettings,
        src: Box<dyn Source>,
        enricher: Box<dyn Enricher>,
        ruleset: Ruleset,
        outputs: Outputs,
    ) -> std::io::Result<Pipeline> {
        let shards = settings.rule_shards.max(1);
        let stop = Arc::new(AtomicBool::new(false));
        let rules_handle = RulesHandle::new(ruleset);
        let mut threads = Vec::new();
        let mut stages = Vec::new();
        let mut queues: Vec<(String, DepthProbe)> = Vec::new();

        // Consumers before producers: the destinations are already running.
        let dispatch_stats = StageStats::new("outputs");
        let (alerts_tx, alerts_rx) =
            edge(settings.rules_queue.capacity, settings.rules_queue.overflow);
        queues.push(("rules".into(), depth_probe(&alerts_rx)));
        let (st, outs) = (dispatch_stats.clone(), outputs.clone());
        spawn(&mut threads, "outputs".into(), move || {
            output::dispatch(alerts_rx, outs, st)
        })?;

        let rules_stats = StageStats::new("rules");
        let mut shard_txs = Vec::with_capacity(shards);
        for i in 0..shards {
            let (tx, rx) = edge(
                settings.enrich_queue.capacity,
                settings.enrich_queue.overflow,
            );
            queues.push((format!("enrich.shard{i}"), depth_probe(&rx)));
            shard_txs.push(tx);
            let cx = ShardContext {
                rules: rules_handle.clone(),
                matching: settings.rule_matching,
                alert: settings.alert.clone(),
                own_container: settings.own_container.clone(),
                alert_tap: settings.alert_tap.clone(),
            };
            let (out, st) = (alerts_tx.clone(), rules_stats.clone());
            spawn(&mut threads, format!("rules.shard{i}"), move || {
                rules::run(rx, out, st, cx)
            })?;
        }
        drop(alerts_tx);

        let enrich_stats = StageStats::new("enrich");
        let (events_tx, events_rx) = edge(
            settings.source_queue.capacity,
            settings.source_queue.overflow,
        );
        queues.push(("source".into(), depth_probe(&events_rx)));
        let (st, hint) = (enrich_stats.clone(), settings.batch_size);
        spawn(&mut threads, "enrich".into(), move || {
            enrich::run(events_rx, enricher, shard_txs, st, hint)
        })?;

        let source_stats = StageStats::new("source");
        let (st, stop2, batch, wait) = (
            source_stats.clone(),
            stop.clone(),
            settings.batch_size,
            settings.flush_interval,
        );
        let kernel_totals: Option<SharedTotals> =
            src.kernel_totals().map(|_| SharedTotals::default());
        let watch = kernel_totals.clone().map(|totals| source::KernelWatch {
            totals,
            monitor: DropMonitor::new(
                settings.syscall_event_drops.clone(),
                outputs.clone(),
                settings.alert.clone(),
                stop.clone(),
                settings.drop_exit.clone(),
            ),
        });
        spawn(&mut threads, "source".into(), move || {
            source::run(src, events_tx, st, stop2, batch, wait, watch)
        })?;

        stages.splice(
            0..0,
            [source_stats, enrich_stats, rules_stats, dispatch_stats],
        );
        Ok(Pipeline {
            threads,
            stop,
            stages,
            queues,
            rules: rules_handle,
            outputs,
            kernel: kernel_totals,
        })
    }

    pub fn rules(&self) -> &Arc<RulesHandle> {
        &self.rules
    }

    /// The destinations (shared with the sidekick HTTP input).
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Counters of every stage: source, enrich, rules, outputs, then one per destination
    /// (`output.<name>`: in = received, out = sent, filtered = below minimum priority or
    /// deduplicated; alerts still pending are in none of them).
    pub fn snapshot(&self) -> Vec<StageSnapshot> {
        let mut all = self.kernel_snapshot();
        all.extend(self.stages.iter().map(|s| s.snapshot()));
        all.extend(self.outputs.snapshot().iter().map(destination_stage));
        all
    }

    /// The `kernel` stage (records attempted, dropped by reason), when the source is the
    /// kernel and has been looked at.
    fn kernel_snapshot(&self) -> Vec<StageSnapshot> {
        self.kernel
            .as_ref()
            .and_then(|k| k.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .map(|t| t.snapshot())
            .into_iter()
            .collect()
    }

    /// (queue, depth, capacity) of every edge.
    pub fn queue_depths(&self) -> Vec<(String, usize, usize)> {
        self.queues
            .iter()
            .map(|(n, p)| {
                let (d, c) = p();
                (n.clone(), d, c)
            })
            .collect()
    }

    /// Asks the source to stop; the rest drains.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether every stage has finished (after the source ended or was stopped), the
    /// destinations included.
    /// Why the pipeline is not delivering now, if it is not: stopping, a stage thread
    /// gone, or a source that has stopped polling.
    pub fn problem(&self) -> Option<String> {
        if self.stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Some("shutting down".into());
        }
        // Upstream first (the source was spawned last): a stopped source ends the rest too.
        if let Some((name, _)) = self.threads.iter().rev().find(|(_, h)| h.is_finished()) {
            return Some(format!("stage {name} has stopped"));
        }
        let source = self.stages.iter().find(|s| &*s.name == "source")?;
        let age = source.heartbeat.age_ms();
        (age > crate::health::SOURCE_STALL_MS)
            .then(|| format!("the source has not polled for {:.1} s", age as f64 / 1000.0))
    }

    pub fn is_finished(&self) -> bool {
        self.threads.iter().all(|(_, h)| h.is_finished()) && self.outputs.is_finished()
    }

    /// Waits for every stage to drain and end; returns the final counters.
    pub fn join(self) -> Vec<StageSnapshot> {
        let kernel = self.kernel.clone();
        let snapshot_of = self.stages.clone();
        for (name, handle) in self.threads {
            if handle.join().is_err() {
                tracing::error!("stage thread {name} panicked outside a batch");
            }
        }
        let destinations = self.outputs.join();
        let mut all: Vec<StageSnapshot> = kernel
            .and_then(|k| k.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .map(|t| t.snapshot())
            .into_iter()
            .collect();
        all.extend(snapshot_of.iter().map(|s| s.snapshot()));
        all.extend(destinations.iter().map(destination_stage));
        all
    }
}

/// A destination's counters in the shape of a stage's.
fn destination_stage(d: &DestinationSnapshot) -> StageSnapshot {
    StageSnapshot {
        stage: format!("output.{}", d.destination),
        received: d.received,
        passed: d.sent,
        filtered: d.filtered + d.deduplicated,
        dropped: d.dropped,
        dropped_by_reason: d.dropped_by_reason.clone(),
        restarts: d.restarts,
        held: 0,
    }
}
