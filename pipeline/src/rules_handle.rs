//! The ruleset shared by the rule shards, swapped atomically on reload: a shard picks up a
//! new ruleset between two batches, so no event is evaluated twice or skipped.

use peregrine_rules::Ruleset;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub struct RulesHandle {
    current: RwLock<Arc<Ruleset>>,
    generation: AtomicU64,
}

impl RulesHandle {
    pub fn new(rules: Ruleset) -> Arc<RulesHandle> {
        Arc::new(RulesHandle {
            current: RwLock::new(Arc::new(rules)),
            generation: AtomicU64::new(1),
        })
    }

    /// Increases on every swap; shards compare it per batch.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn current(&self) -> (u64, Arc<Ruleset>) {
        let guard = self.current.read().unwrap_or_else(|e| e.into_inner());
        (self.generation(), guard.clone())
    }

    pub fn swap(&self, rules: Ruleset) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        *guard = Arc::new(rules);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
