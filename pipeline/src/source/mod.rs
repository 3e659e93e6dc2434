//! Event sources: what feeds the pipeline. The kernel probes implement [`Source`] too.

mod kernel;
mod replay;
mod synthetic;

pub use kernel::{KernelSource, SyscallRequest};
pub use replay::{ReplayFailure, ReplaySource};
pub use synthetic::SyntheticSource;

use peregrine_event::Event;
use std::time::{Duration, Instant};

/// What a pull produced.
pub enum Pull {
    Batch(Vec<Event>),
    /// Nothing right now; pull again.
    Idle,
    /// The source is exhausted.
    End,
}

pub trait Source: Send {
    fn name(&self) -> &'static str;

    /// Up to `max` events. May wait up to `wait` for the first one.
    fn pull(&mut self, max: usize, wait: Duration) -> Pull;

    /// Records that could not be decoded and were skipped.
    fn malformed(&self) -> u64 {
        0
    }

    /// What the source still holds when it is stopped (the kernel reader's reorder
    /// window, its rings' last records), in order. Called once, after the last pull.
    fn finish(&mut self) -> Vec<Event> {
        Vec::new()
    }

    /// The kernel's own counters, for a source fed by the kernel.
    fn kernel_totals(&self) -> Option<crate::kernel_drops::KernelTotals> {
        None
    }
}

/// Paces a source at `rate` events per second (none: flat out).
#[derive(Debug)]
pub struct Pacer {
    rate: Option<f64>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    pub fn new(rate: Option<u64>) -> Pacer {
        Pacer {
            rate: rate.filter(|r| *r > 0).map(|r| r as f64),
            start: Instant::now(),
            sent: 0,
        }
    }

    /// How many events may go now (at most `max`), sleeping up to `wait` for the first.
    pub fn allow(&mut self, max: usize, wait: Duration) -> usize {
        let Some(rate) = self.rate else {
            self.sent += max as u64;
            return max;
        };
        let due = |s: &Pacer| (s.start.elapsed().as_secs_f64() * rate) as u64;
        let mut allowed = due(self).saturating_sub(self.sent);
        if allowed == 0 {
            let next = Duration::from_secs_f64(((self.sent + 1) as f64 / rate).max(0.0));
            let sleep = next.saturating_sub(self.start.elapsed()).min(wait);
            std::thread::sleep(sleep);
            allowed = due(self).saturating_sub(self.sent);
        }
        let n = (allowed as usize).min(max);
        self.sent += n as u64;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_keeps_the_rate() {
        let mut p = Pacer::new(Some(10_000));
        let start = Instant::now();
        let mut total = 0;
        while total < 2_000 {
            total += p.allow(100, Duration::from_millis(5));
        }
        let secs = start.elapsed().as_secs_f64();
        assert!(
            secs >= 0.15,
            "2000 events at 10k/s take ~0.2 s, took {secs}"
        );
        assert_eq!(Pacer::new(None).allow(7, Duration::ZERO), 7);
    }
}
