//! Per-stage counters. Stages add per batch (one atomic add per batch, not per event); the
//! supervisor folds them into the `metrics` registry periodically.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Why events were dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The downstream queue was full under `drop_newest`.
    QueueFull,
    /// The stage failed while handling the batch (and was restarted).
    StageFailure,
    /// A sink could not write the alert.
    WriteError,
    /// A record that could not be decoded (captures, kernel records).
    Malformed,
}

impl DropReason {
    pub const ALL: [DropReason; 4] = [
        DropReason::QueueFull,
        DropReason::StageFailure,
        DropReason::WriteError,
        DropReason::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::StageFailure => "stage_failure",
            DropReason::WriteError => "write_error",
            DropReason::Malformed => "malformed",
        }
    }
}

/// Counters of one stage. Invariant once the stage is idle:
/// `in = out + dropped + filtered + held` (`held`: events the stage keeps for now, a gauge;
/// only the enrich stage holds any, and it has released them all when it ends).
#[derive(Debug, Default)]
pub struct StageStats {
    pub name: Arc<str>,
    received: AtomicU64,
    passed: AtomicU64,
    filtered: AtomicU64,
    dropped: [AtomicU64; 4],
    restarts: AtomicU64,
    held: AtomicU64,
    /// When the stage's thread last went round its loop (readiness, `/healthz`).
    pub heartbeat: crate::health::Heartbeat,
}

/// A point-in-time copy of a stage's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StageSnapshot {
    pub stage: String,
    #[serde(rename = "in")]
    pub received: u64,
    #[serde(rename = "out")]
    pub passed: u64,
    pub filtered: u64,
    pub dropped: u64,
    pub dropped_by_reason: Vec<(String, u64)>,
    pub restarts: u64,
    /// Events held inside the stage now (see [`StageStats`]).
    pub held: u64,
}

impl StageStats {
    pub fn new(name: impl Into<Arc<str>>) -> Arc<StageStats> {
        Arc::new(StageStats {
            name: name.into(),
            ..Default::default()
        })
    }

    pub fn received(&self, n: usize) {
        self.received.fetch_add(n as u64, Relaxed);
    }

    pub fn passed(&self, n: usize) {
        self.passed.fetch_add(n as u64, Relaxed);
    }

    pub fn filtered(&self, n: usize) {
        self.filtered.fetch_add(n as u64, Relaxed);
    }

    pub fn dropped(&self, reason: DropReason, n: usize) {
        let i = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.dropped[i].fetch_add(n as u64, Relaxed);
    }

    /// How many events the stage holds now.
    pub fn set_held(&self, n: usize) {
        self.held.store(n as u64, Relaxed);
    }

    pub fn restarted(&self) {
        self.restarts.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> StageSnapshot {
        let by_reason: Vec<(String, u64)> = DropReason::ALL
            .iter()
            .zip(self.dropped.iter())
            .map(|(r, c)| (r.as_str().to_string(), c.load(Relaxed)))
            .collect();
        StageSnapshot {
            stage: self.name.to_string(),
            received: self.received.load(Relaxed),
            passed: self.passed.load(Relaxed),
            filtered: self.filtered.load(Relaxed),
            dropped: by_reason.iter().map(|(_, c)| c).sum(),
            dropped_by_reason: by_reason,
            restarts: self.restarts.load(Relaxed),
            held: self.held.load(Relaxed),
        }
    }
}
