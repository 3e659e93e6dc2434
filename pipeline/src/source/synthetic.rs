//! The synthetic source: a seeded, realistic event stream, paced or flat out.

use super::{Pacer, Pull, Source};
use peregrine_event::synth::{Generator, SynthConfig};
use std::time::Duration;

pub struct SyntheticSource {
    gen: Generator,
    pacer: Pacer,
    /// Events left to produce (none: endless).
    left: Option<u64>,
}

impl SyntheticSource {
    pub fn new(cfg: SynthConfig, rate: Option<u64>, limit: Option<u64>) -> SyntheticSource {
        SyntheticSource {
            gen: Generator::new(cfg),
            pacer: Pacer::new(rate),
            left: limit,
        }
    }
}

impl Source for SyntheticSource {
    fn name(&self) -> &'static str {
        "synthetic"
    }

    fn pull(&mut self, max: usize, wait: Duration) -> Pull {
        let max = match self.left {
            Some(0) => return Pull::End,
            Some(left) => max.min(left as usize),
            None => max,
        };
        let n = self.pacer.allow(max, wait);
        if n == 0 {
            return Pull::Idle;
        }
        if let Some(left) = self.left.as_mut() {
            *left -= n as u64;
        }
        Pull::Batch(self.gen.by_ref().take(n).collect())
    }
}
