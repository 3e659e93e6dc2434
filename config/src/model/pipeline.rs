//! `pipeline`: Peregrine's own tuning of the staged pipeline (no Falco equivalent).

use crate::decode::{boolean, choice, duration, size, Cx, KeyPath};
use crate::error::ConfigError;
use crate::tree::Value;
use std::time::Duration;

/// What a full queue does with a new batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Wait: backpressure travels upstream to the kernel ring buffers (default).
    #[default]
    Block,
    /// Drop the new batch and count it.
    DropNewest,
}

/// One bounded queue between two stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// In batches, at least 1 (default 8: with 1024-event batches that bounds what is in flight per edge to ~8k events, a few MiB).
    pub capacity: usize,
    /// Default `block`.
    pub overflow: Overflow,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 8,
            overflow: Overflow::Block,
        }
    }
}

/// `pipeline.queues`: the queue in front of each stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queues {
    /// Probes → merge/decode.
    pub source: QueueConfig,
    /// → enrichment.
    pub enrich: QueueConfig,
    /// → rule shards.
    pub rules: QueueConfig,
    /// Accepted for compatibility and unused: each output destination has its own bounded
    /// buffer (`outputs.buffersize`, `outputs.overflow`).
    pub outputs: QueueConfig,
}

/// `pipeline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// Events per batch, 1..=1048576 (default 1024).
    pub batch_size: usize,
    /// Rule evaluation shards; 0 = one per CPU (default 0). See [`Pipeline::rule_shard_count`].
    pub rule_shards: usize,
    /// Threads draining and decoding the kernel ring buffers; 0 = one per ring, at most
    /// half the CPUs (default 0); 1 = the source drains them itself. See
    /// [`Pipeline::probe_actor_count`].
    pub probe_actors: usize,
    /// How long a partial batch may wait before it is sent on (default 10ms).
    pub flush_interval: Duration,
    /// Keep in the kernel the syscall exits no enabled rule can match and no state table
    /// needs (default true). Off, every call of every traced syscall is sent.
    pub kernel_filter: bool,
    pub queues: Queues,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            batch_size: 1024,
            rule_shards: 0,
            probe_actors: 0,
            flush_interval: Duration::from_millis(10),
            kernel_filter: true,
            queues: Queues::default(),
        }
    }
}

impl Pipeline {
    /// The number of rule shards to run: `rule_shards`, or the CPU count when it is 0.
    pub fn rule_shard_count(&self) -> usize {
        if self.rule_shards > 0 {
            self.rule_shards
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        }
    }

    /// Probe actors for `rings` kernel ring buffers: `probe_actors`, or one per ring up to
    /// half the CPUs when it is 0; never more than there are rings. 1 or less means the
    /// source thread drains the rings itself.
    pub fn probe_actor_count(&self, rings: usize) -> usize {
        let wanted = if self.probe_actors > 0 {
            self.probe_actors
        } else {
            (std::thread::available_parallelism().map_or(1, usize::from) / 2).max(1)
        };
        wanted.min(rings)
    }

    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        let known = [
            "batch_size",
            "rule_shards",
            "probe_actors",
            "flush_interval",
            "kernel_filter",
            "queues",
        ];
        for (e, p) in cx.section(v, path, &known, &[])? {
            let v = &e.value;
            match e.key.as_str() {
                "batch_size" => out.batch_size = size(v, &p, 1, 1 << 20)?,
                "rule_shards" => out.rule_shards = size(v, &p, 0, 1024)?,
                "probe_actors" => out.probe_actors = size(v, &p, 0, 1024)?,
                "flush_interval" => out.flush_interval = duration(v, &p, Duration::ZERO)?,
                "kernel_filter" => out.kernel_filter = boolean(v, &p)?,
                "queues" => out.queues = decode_queues(v, &p, cx)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

fn decode_queues(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Queues, ConfigError> {
    let mut out = Queues::default();
    for (e, p) in cx.section(v, path, &["source", "enrich", "rules", "outputs"], &[])? {
        let queue = decode_queue(&e.value, &p, cx)?;
        match e.key.as_str() {
            "source" => out.source = queue,
            "enrich" => out.enrich = queue,
            "rules" => out.rules = queue,
            "outputs" => out.outputs = queue,
            _ => {}
        }
    }
    Ok(out)
}

fn decode_queue(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<QueueConfig, ConfigError> {
    let mut out = QueueConfig::default();
    for (e, p) in cx.section(v, path, &["capacity", "overflow"], &[])? {
        match e.key.as_str() {
            "capacity" => out.capacity = size(&e.value, &p, 1, 1 << 20)?,
            "overflow" => {
                out.overflow = choice(
                    &e.value,
                    &p,
                    &[
                        ("block", Overflow::Block),
                        ("drop_newest", Overflow::DropNewest),
                    ],
                )?
            }
            _ => {}
        }
    }
    Ok(out)
}
