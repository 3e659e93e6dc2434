//! How fast the synthetic generator produces events (events/s on one thread).
use peregrine_event::synth::{Generator, SynthConfig};
use std::time::Instant;

fn main() {
    let n = 2_000_000;
    let start = Instant::now();
    let mut g = Generator::new(SynthConfig::default());
    let mut kept = 0usize;
    for _ in 0..n / 1024 {
        let batch: Vec<_> = g.by_ref().take(1024).collect();
        kept += batch.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.0} events/s ({kept} events, generation and drop)",
        kept as f64 / secs
    );
}
