//! Evaluation cost on a hot batch (the same 1024 events again and again) versus fresh
//! batches: tells compute from memory latency.
//!
//! `cargo run --release -p peregrine-rules --example hot_cold -- RULES.yaml...`

use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::Event;
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, RuleMatching};
use std::time::{Duration, Instant};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let sources: Vec<RulesSource> = files
        .iter()
        .map(|f| RulesSource::read(f.as_ref()))
        .collect();
    let mut rs = load_sources(&sources, &CompileOptions::default())
        .ruleset
        .expect("rules load");
    rs.set_enabled_by_name("*", true);
    let mut gen = Generator::new(SynthConfig {
        seed: 42,
        containers: 12,
        ..Default::default()
    });
    let mut scratch = rs.new_scratch();
    let mut m = Vec::new();
    let batch: Vec<Event> = gen.by_ref().take(1024).collect();
    for _ in 0..50 {
        for ev in &batch {
            rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut m);
        }
    }
    let rounds: usize = std::env::var("HOT_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let start = Instant::now();
    for _ in 0..rounds {
        for ev in &batch {
            rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut m);
        }
    }
    println!(
        "hot:   {:.1} ns/event",
        start.elapsed().as_nanos() as f64 / (rounds as f64 * 1024.0)
    );
    let mut spent = Duration::ZERO;
    for _ in 0..500 {
        let batch: Vec<Event> = gen.by_ref().take(1024).collect();
        let start = Instant::now();
        for ev in &batch {
            rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut m);
        }
        spent += start.elapsed();
    }
    println!(
        "fresh: {:.1} ns/event",
        spent.as_nanos() as f64 / (500.0 * 1024.0)
    );
}
