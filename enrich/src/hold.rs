//! The hold: events of a container whose first metadata lookup is in flight wait here,
//! per container and in arrival order, until the answer is in (then they go on with it),
//! the lookup fails, or the hold's time or size bound is reached (then they go on with the
//! container's id and type only). Only containers waiting on a lookup are held; every
//! other event flows on.

use peregrine_event::{ContainerInfo, Event};
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug)]
struct Queue {
    since: Instant,
    events: Vec<Event>,
}

/// Counters of the hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HoldStats {
    /// Events that were held.
    pub held: u64,
    /// Held events that went on with the runtime's metadata.
    pub released_with_metadata: u64,
    /// Held events that went on without it (failed lookup, timeout, overflow, shutdown).
    pub released_without_metadata: u64,
    /// Containers whose hold timed out.
    pub timeouts: u64,
    /// Containers released early because the hold was full.
    pub overflows: u64,
    /// Containers released, and their hold time (first held event to release).
    pub releases: u64,
    pub hold_ns_total: u64,
    pub hold_ns_max: u64,
    /// Events held now.
    pub holding: u64,
}

/// Why a container's queue is released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// The lookup answered (found or failed).
    Answered,
    Timeout,
    Overflow,
    Flush,
}

#[derive(Debug, Default)]
pub(crate) struct Hold {
    queues: FxHashMap<Arc<str>, Queue>,
    total: usize,
    pub stats: HoldStats,
}

impl Hold {
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn len(&self) -> usize {
        self.total
    }

    /// Holds `ev` behind the earlier events of container `id`.
    pub fn push(&mut self, id: &Arc<str>, ev: Event, now: Instant) {
        self.queues
            .entry(id.clone())
            .or_insert_with(|| Queue {
                since: now,
                events: Vec::new(),
            })
            .events
            .push(ev);
        self.total += 1;
        self.stats.held += 1;
        self.stats.holding = self.total as u64;
    }

    /// Held containers, longest-held first.
    pub fn containers(&self) -> Vec<(Arc<str>, Instant)> {
        let mut v: Vec<(Arc<str>, Instant)> = self
            .queues
            .iter()
            .map(|(k, q)| (k.clone(), q.since))
            .collect();
        v.sort_by_key(|(_, since)| *since);
        v
    }

    /// Moves container `id`'s events to `out`, in order, each with `info` (the metadata,
    /// or the id-only info when `with_metadata` is false).
    pub fn release(
        &mut self,
        id: &str,
        info: &Arc<ContainerInfo>,
        with_metadata: bool,
        why: Release,
        now: Instant,
        out: &mut Vec<Event>,
    ) {
        let Some(q) = self.queues.remove(id) else {
            return;
        };
        let n = q.events.len() as u64;
        self.total -= q.events.len();
        let ns = now.duration_since(q.since).as_nanos() as u64;
        let s = &mut self.stats;
        s.releases += 1;
        s.hold_ns_total += ns;
        s.hold_ns_max = s.hold_ns_max.max(ns);
        s.holding = self.total as u64;
        match why {
            Release::Timeout => s.timeouts += 1,
            Release::Overflow => s.overflows += 1,
            Release::Answered | Release::Flush => {}
        }
        if with_metadata {
            s.released_with_metadata += n;
        } else {
            s.released_without_metadata += n;
        }
        metrics::histogram!("peregrine_enrich_container_hold_seconds").record(ns as f64 / 1e9);
        out.extend(q.events.into_iter().map(|mut ev| {
            ev.container = Some(info.clone());
            ev
        }));
    }
}
