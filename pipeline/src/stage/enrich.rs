//! Enrichment, then routing to rule shards by thread-group id so one process's events stay
//! in order on one shard.

use crate::queue::{EdgeSender, SendOutcome};
use crate::stats::{DropReason, StageStats};
use crossbeam_channel::Receiver;
use peregrine_event::Event;
use std::sync::Arc;

/// Adds process, fd, user and container context to events. Replayed and synthetic events
/// already carry theirs, so they use [`PassThrough`]; the kernel source plugs in the real
/// tables.
pub trait Enricher: Send {
    fn enrich(&mut self, batch: &mut Vec<Event>);
}

/// For events that arrive enriched (captures, synthetic streams).
pub struct PassThrough;

impl Enricher for PassThrough {
    fn enrich(&mut self, _batch: &mut Vec<Event>) {}
}

/// The real tables, for events from the kernel. Their counters are exported once a second.
pub struct HostTables {
    tables: peregrine_enrich::HostEnricher,
    last_export: std::time::Instant,
}

impl HostTables {
    pub fn new(tables: peregrine_enrich::HostEnricher) -> HostTables {
        HostTables {
            tables,
            last_export: std::time::Instant::now(),
        }
    }
}

impl Enricher for HostTables {
    fn enrich(&mut self, batch: &mut Vec<Event>) {
        self.tables.enrich(batch);
        if self.last_export.elapsed() >= std::time::Duration::from_secs(1) {
            self.tables.stats().record_metrics();
            self.last_export = std::time::Instant::now();
        }
    }
}

/// The shard an event belongs to: by process (thread-group id), so its order is kept.
pub fn shard_of(ev: &Event, shards: usize) -> usize {
    let pid = match ev.process.as_ref() {
        Some(p) => p.pid,
        None if ev.pid != 0 => ev.pid,
        None => ev.tid,
    };
    (pid.unsigned_abs() as usize) % shards.max(1)
}

pub(crate) fn run(
    input: Receiver<Vec<Event>>,
    mut enricher: Box<dyn Enricher>,
    shards: Vec<EdgeSender<Vec<Event>>>,
    stats: Arc<StageStats>,
    batch_hint: usize,
) {
    let k = shards.len();
    let mut parts: Vec<Vec<Event>> = (0..k)
        .map(|_| Vec::with_capacity(batch_hint / k + 1))
        .collect();
    for mut batch in input {
        let n = batch.len();
        stats.received(n);
        let ok = super::guarded(&stats, n, || {
            enricher.enrich(&mut batch);
            for ev in batch.drain(..) {
                parts[shard_of(&ev, k)].push(ev);
            }
            for (shard, part) in shards.iter().zip(parts.iter_mut()) {
                if part.is_empty() {
                    continue;
                }
                let m = part.len();
                let full = std::mem::replace(part, Vec::with_capacity(batch_hint / k + 1));
                match shard.send(full) {
                    SendOutcome::Sent => stats.passed(m),
                    SendOutcome::Dropped => stats.dropped(DropReason::QueueFull, m),
                    SendOutcome::Closed => stats.dropped(DropReason::StageFailure, m),
                }
            }
        });
        if !ok {
            parts.iter_mut().for_each(Vec::clear);
        }
    }
}
