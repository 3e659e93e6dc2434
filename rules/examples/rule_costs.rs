//! Prints what each rule costs on the synthetic stream (ns/event with only that rule
//! enabled), most expensive first: where to look when evaluation gets slow.
//!
//! `cargo run --release -p peregrine-rules --example rule_costs -- RULES.yaml...`

use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, RuleMatching};
use std::time::Instant;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let sources: Vec<RulesSource> = files
        .iter()
        .map(|f| RulesSource::read(f.as_ref()))
        .collect();
    let out = load_sources(&sources, &CompileOptions::default());
    let Some(mut rs) = out.ruleset else {
        for e in out.errors() {
            eprintln!("{e}");
        }
        std::process::exit(1);
    };
    let events: Vec<_> = Generator::new(SynthConfig {
        seed: 42,
        containers: 12,
        ..Default::default()
    })
    .take(
        std::env::var("N")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000),
    )
    .collect();
    let names: Vec<String> = rs.rules().iter().map(|r| r.name.to_string()).collect();
    let mut costs = Vec::new();
    for name in &names {
        rs.set_enabled_by_name("*", false);
        rs.set_enabled_by_name(name, true);
        let mut scratch = rs.new_scratch();
        let mut m = Vec::new();
        let start = Instant::now();
        for _ in 0..3 {
            for ev in &events {
                rs.evaluate(ev, &mut scratch, RuleMatching::All, &mut m);
            }
        }
        let ns = start.elapsed().as_nanos() as f64 / (3.0 * events.len() as f64);
        costs.push((ns, name.clone(), m.len() / 3));
    }
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total: f64 = costs.iter().map(|c| c.0).sum();
    println!("sum of per-rule costs: {total:.1} ns/event");
    for (ns, name, hits) in costs {
        println!("{ns:8.1} ns/event  {hits:6} matches  {name}");
    }
}
