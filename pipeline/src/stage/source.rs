//! Drives a [`Source`] into the first queue.

use crate::kernel_drops::{self, DropMonitor, SharedTotals};
use crate::queue::{EdgeSender, SendOutcome};
use crate::source::{Pull, Source};
use crate::stats::{DropReason, StageStats};
use peregrine_event::Event;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kernel's counters: where the source publishes them, and who acts on drops.
pub(crate) struct KernelWatch {
    pub totals: SharedTotals,
    pub monitor: DropMonitor,
}

impl KernelWatch {
    fn look(&mut self, source: &dyn Source) {
        if let Some(t) = source.kernel_totals() {
            self.monitor.observe(Instant::now(), &t);
            *self.totals.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
        }
    }
}

pub(crate) fn run(
    mut source: Box<dyn Source>,
    out: EdgeSender<Vec<Event>>,
    stats: Arc<StageStats>,
    stop: Arc<AtomicBool>,
    batch_size: usize,
    wait: Duration,
    mut kernel: Option<KernelWatch>,
) {
    let mut malformed_seen = 0;
    let mut open = true;
    let mut looked = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        stats.heartbeat.beat();
        if looked.elapsed() >= kernel_drops::EVERY {
            looked = Instant::now();
            if let Some(k) = kernel.as_mut() {
                k.look(source.as_ref());
            }
        }
        let pull = source.pull(batch_size, wait);
        let malformed = source.malformed();
        if malformed > malformed_seen {
            let n = (malformed - malformed_seen) as usize;
            stats.received(n);
            stats.dropped(DropReason::Malformed, n);
            malformed_seen = malformed;
        }
        match pull {
            Pull::Batch(batch) => {
                let n = batch.len();
                stats.received(n);
                match out.send(batch) {
                    SendOutcome::Sent => stats.passed(n),
                    SendOutcome::Dropped => stats.dropped(DropReason::QueueFull, n),
                    SendOutcome::Closed => {
                        stats.dropped(DropReason::StageFailure, n);
                        open = false;
                        break;
                    }
                }
            }
            Pull::Idle => {}
            Pull::End => break,
        }
    }
    // Stopped: what the source still holds goes on too, so a stop loses nothing.
    let rest = source.finish();
    if !rest.is_empty() {
        let n = rest.len();
        stats.received(n);
        if !open {
            stats.dropped(DropReason::StageFailure, n);
        } else {
            let mut rest = rest.into_iter().peekable();
            while rest.peek().is_some() {
                let chunk: Vec<Event> = rest.by_ref().take(batch_size.max(1)).collect();
                let k = chunk.len();
                match out.send(chunk) {
                    SendOutcome::Sent => stats.passed(k),
                    SendOutcome::Dropped => stats.dropped(DropReason::QueueFull, k),
                    SendOutcome::Closed => stats.dropped(DropReason::StageFailure, k),
                }
            }
        }
    }
    if let Some(k) = kernel.as_mut() {
        k.look(source.as_ref());
    }
    tracing::info!(source = source.name(), "source stopped");
}
