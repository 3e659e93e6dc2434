//! Enrichment, then routing to rule shards by thread-group id so one process's events stay
//! in order on one shard.

use crate::queue::{EdgeSender, SendOutcome};
use crate::stats::{DropReason, StageStats};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use peregrine_event::Event;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Adds process, fd, user and container context to events. Replayed and synthetic events
/// already carry theirs, so they use [`PassThrough`]; the kernel source plugs in the real
/// tables.
///
/// An enricher may hold events back (a new container's, until its metadata is there): on
/// return from [`Enricher::enrich`] the batch holds what may go on now, which can be fewer
/// events than came in, plus earlier held ones. Held events come back from a later
/// `enrich` or [`Enricher::tick`], each process's events in order; [`Enricher::held`]
/// says how many are inside.
pub trait Enricher: Send {
    fn enrich(&mut self, batch: &mut Vec<Event>);

    /// Called between batches while events are held (every [`Enricher::tick_interval`])
    /// and when input is idle: appends to `out` the held events that may go on now.
    fn tick(&mut self, _out: &mut Vec<Event>) {}

    /// Events held now.
    fn held(&self) -> usize {
        0
    }

    /// Input has ended: appends every held event to `out`.
    fn finish(&mut self, _out: &mut Vec<Event>) {}

    /// How long the stage may wait for input while events are held.
    fn tick_interval(&self) -> Duration {
        Duration::from_millis(2)
    }

    /// The longest a held event can wait: the stage gives up waiting at shutdown after it.
    fn max_hold(&self) -> Duration {
        Duration::ZERO
    }
}

/// For events that arrive enriched (captures, synthetic streams).
pub struct PassThrough;

impl Enricher for PassThrough {
    fn enrich(&mut self, _batch: &mut Vec<Event>) {}
}

/// The real tables, for events from the kernel, holding a new container's events until
/// its metadata is there. Their counters are exported once a second.
pub struct HostTables {
    tables: peregrine_enrich::HostEnricher,
    last_export: Instant,
}

impl HostTables {
    pub fn new(tables: peregrine_enrich::HostEnricher) -> HostTables {
        HostTables {
            tables,
            last_export: Instant::now(),
        }
    }

    fn export(&mut self) {
        if self.last_export.elapsed() >= Duration::from_secs(1) {
            self.record_metrics();
            self.last_export = Instant::now();
        }
    }

    /// Peregrine's counters, and the same numbers under Falco's state counter names.
    fn record_metrics(&self) {
        let s = self.tables.stats();
        s.record_metrics();
        use crate::telemetry::{catalog::Switch, enabled};
        if !enabled(Switch::StateCounters) {
            return;
        }
        metrics::gauge!("falcosecurity_scap_n_threads_total").set((s.processes + s.threads) as f64);
        metrics::gauge!("falcosecurity_scap_n_fds_total").set(self.tables.fd_count() as f64);
        for (name, v) in [
            (
                "falcosecurity_scap_n_cached_thread_lookups_total",
                s.process_hits,
            ),
            (
                "falcosecurity_scap_n_noncached_thread_lookups_total",
                s.proc_lookups,
            ),
            (
                "falcosecurity_scap_n_failed_thread_lookups_total",
                s.proc_lookup_failures,
            ),
            ("falcosecurity_scap_n_cached_fd_lookups_total", s.fd_hits),
            (
                "falcosecurity_scap_n_noncached_fd_lookups_total",
                s.fd_proc_lookups,
            ),
            // Misses /proc was not asked about or could not answer.
            (
                "falcosecurity_scap_n_failed_fd_lookups_total",
                s.fd_misses.saturating_sub(s.fd_proc_lookups),
            ),
            (
                "falcosecurity_scap_n_drops_full_threadtable_total",
                s.process_evictions + s.thread_evictions,
            ),
        ] {
            metrics::counter!(name).absolute(v);
        }
    }
}

impl Enricher for HostTables {
    fn enrich(&mut self, batch: &mut Vec<Event>) {
        self.tables.enrich_and_hold(batch);
        self.export();
    }

    fn tick(&mut self, out: &mut Vec<Event>) {
        self.tables.release_held(out);
        self.export();
    }

    fn held(&self) -> usize {
        self.tables.held()
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        self.tables.release_all(out);
        self.record_metrics();
    }

    fn max_hold(&self) -> Duration {
        self.tables.config().containers.hold_timeout
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

/// Routes `batch` to the shards and counts what was sent or dropped.
fn route(
    batch: &mut Vec<Event>,
    parts: &mut [Vec<Event>],
    shards: &[EdgeSender<Vec<Event>>],
    stats: &StageStats,
    batch_hint: usize,
) {
    let k = shards.len();
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
}

/// The stage loop. Counters: every event received is, once the stage is idle, passed,
/// dropped or still held (`held` gauge) — never two of them. A batch whose enrichment
/// panics counts as dropped; the events the enricher held before are not in it.
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
    let mut released = Vec::new();
    // With nothing held, a tick only exports metrics (once a second): no need to wake more,
    // nor at all without metrics but to show the stage is there (each wake-up of an idle
    // thread costs 0.1–0.5 ms of CPU in a VM).
    let idle = if crate::telemetry::enabled(crate::telemetry::catalog::Switch::Always) {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(10)
    };
    loop {
        let wait = if enricher.held() > 0 {
            enricher.tick_interval()
        } else {
            idle
        };
        match input.recv_timeout(wait) {
            Ok(mut batch) => {
                let n = batch.len();
                stats.received(n);
                let ok = super::guarded(&stats, n, || {
                    enricher.enrich(&mut batch);
                    route(&mut batch, &mut parts, &shards, &stats, batch_hint);
                });
                if !ok {
                    parts.iter_mut().for_each(Vec::clear);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let ok = super::guarded(&stats, 0, || {
                    enricher.tick(&mut released);
                    route(&mut released, &mut parts, &shards, &stats, batch_hint);
                });
                if !ok {
                    // Released from the hold but not routed: lost with the failure.
                    let lost = released.len() + parts.iter().map(Vec::len).sum::<usize>();
                    stats.dropped(DropReason::StageFailure, lost);
                    released.clear();
                    parts.iter_mut().for_each(Vec::clear);
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        stats.set_held(enricher.held());
    }
    // Input is over: held events still get their lookup's answer (up to the hold's own
    // bound), then whatever remains goes on.
    let deadline = Instant::now() + enricher.max_hold();
    while enricher.held() > 0 && Instant::now() < deadline {
        std::thread::sleep(enricher.tick_interval());
        enricher.tick(&mut released);
        route(&mut released, &mut parts, &shards, &stats, batch_hint);
    }
    enricher.finish(&mut released);
    route(&mut released, &mut parts, &shards, &stats, batch_hint);
    stats.set_held(enricher.held());
}
