//! Readiness, as `/healthz` reports it: ready once the probes are attached, the rules loaded
//! and the outputs started; not ready, with the reason, while starting, when a stage has
//! died, when the source has stopped polling, and while shutting down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// How long the source may go without polling before the agent is not ready: its longest
/// wait is well under a second, so this means it is stuck.
pub const SOURCE_STALL_MS: u64 = 5_000;

#[derive(Default)]
pub struct Health {
    started: AtomicBool,
    problem: Mutex<Option<String>>,
}

impl Health {
    /// Probes attached, rules loaded, outputs started.
    pub fn set_started(&self) {
        self.started.store(true, Ordering::Relaxed);
    }

    /// What is wrong now (`None`: nothing).
    pub fn set_problem(&self, problem: Option<String>) {
        *self.problem.lock().unwrap_or_else(|e| e.into_inner()) = problem;
    }

    /// `Ok` when ready, else why not.
    pub fn check(&self) -> Result<(), String> {
        if !self.started.load(Ordering::Relaxed) {
            return Err("starting: probes, rules or outputs not up yet".into());
        }
        match &*self.problem.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(p) => Err(p.clone()),
            None => Ok(()),
        }
    }
}

/// Milliseconds on a process-wide monotonic clock, for heartbeats.
pub fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The last time a thread showed it was alive (made alive: a new stage is not stalled).
#[derive(Debug)]
pub struct Heartbeat(AtomicU64);

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat(AtomicU64::new(now_ms()))
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        self.0.store(now_ms(), Ordering::Relaxed);
    }

    /// Milliseconds since the last beat.
    pub fn age_ms(&self) -> u64 {
        now_ms().saturating_sub(self.0.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_once_started_and_without_a_problem() {
        let h = Health::default();
        assert!(h.check().unwrap_err().contains("starting"));
        h.set_started();
        assert_eq!(h.check(), Ok(()));
        h.set_problem(Some("stage enrich has stopped".into()));
        assert_eq!(h.check().unwrap_err(), "stage enrich has stopped");
        h.set_problem(None);
        assert_eq!(h.check(), Ok(()));
    }
}
