//! Prints a digest of every match (rule indices per event, `RuleMatching::All` and
//! `First`) over the synthetic stream: evaluation changes must leave it unchanged.
//!
//! `cargo run --release -p peregrine-rules --example match_digest -- RULES.yaml...`

use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, RuleMatching};
use std::hash::{DefaultHasher, Hash, Hasher};

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
    rs.set_enabled_by_name("*", true);
    let n = std::env::var("N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    for mode in [RuleMatching::All, RuleMatching::First] {
        let mut scratch = rs.new_scratch();
        let mut h = DefaultHasher::new();
        let mut total = 0;
        let gen = Generator::new(SynthConfig {
            seed: env("SEED", 42),
            containers: 12,
            suspicious_per_mille: env("SUSPICIOUS", 5) as u32,
            ..Default::default()
        });
        for ev in gen.take(n) {
            let mut m = Vec::new();
            rs.evaluate(&ev, &mut scratch, mode, &mut m);
            total += m.len();
            (ev.num, &m).hash(&mut h);
        }
        println!("{mode:?}: {total} matches, digest {:016x}", h.finish());
    }
}
