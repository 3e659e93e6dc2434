//! Evaluation cost per event over a mixed synthetic stream (exec/open/connect/...).
//!
//! `cargo bench -p peregrine-rules` — results are recorded in `docs/benchmarks.md`.
//!
//! Events are generated in batches of [`BATCH`] and each batch is evaluated right after it
//! is generated, as the pipeline does with freshly decoded events; only evaluation is
//! timed. The upstream rulesets are read from `../shared/testdata/upstream`; without them
//! only the seed ruleset is measured.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::Event;
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, RuleMatching, Ruleset};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BATCH: usize = 1024;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata")
}

fn ruleset(sources: Vec<RulesSource>, enable_all: bool) -> Ruleset {
    let out = load_sources(&sources, &CompileOptions::default());
    let errors: Vec<_> = out.errors().map(|d| d.to_string()).collect();
    let mut rs = out
        .ruleset
        .unwrap_or_else(|| panic!("rules must load: {errors:?}"));
    if enable_all {
        rs.set_enabled_by_name("*", true);
    }
    rs
}

fn generator() -> Generator {
    Generator::new(SynthConfig {
        seed: 42,
        containers: 12,
        ..Default::default()
    })
}

/// Evaluates `events` events, batch by batch; returns the time spent evaluating and the
/// number of alerts.
fn run(rs: &Ruleset, gen: &mut Generator, events: u64) -> (Duration, usize) {
    let mut scratch = rs.new_scratch();
    let mut matches = Vec::new();
    let mut batch: Vec<Event> = Vec::with_capacity(BATCH);
    let mut spent = Duration::ZERO;
    let mut left = events;
    while left > 0 {
        let n = (left as usize).min(BATCH);
        batch.clear();
        batch.extend(gen.by_ref().take(n));
        let start = Instant::now();
        for ev in &batch {
            rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut matches);
        }
        spent += start.elapsed();
        left -= n as u64;
    }
    (spent, matches.len())
}

fn bench_ruleset(c: &mut Criterion, name: &str, rs: &Ruleset) {
    let (_, alerts) = run(rs, &mut generator(), 100_000);
    eprintln!(
        "{name}: {} enabled rules, {alerts} alerts per 100000 events",
        rs.enabled_rules().count()
    );
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(name, |b| {
        let mut gen = generator();
        b.iter_custom(|iters| run(rs, &mut gen, iters * BATCH as u64).0)
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let seed_rules = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/defaults/default_rules.yaml"),
    )
    .expect("embedded default rules");
    let seed = ruleset(vec![RulesSource::new("seed_rules.yaml", seed_rules)], false);
    bench_ruleset(c, "seed_rules", &seed);

    let upstream = testdata().join("upstream");
    if upstream.is_dir() {
        let files = [
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ];
        let sources = files
            .iter()
            .map(|f| RulesSource::read(&upstream.join(f)))
            .collect();
        bench_ruleset(c, "all_upstream_rules", &ruleset(sources, true));
    } else {
        eprintln!("skipping upstream rules: {} not found", upstream.display());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
