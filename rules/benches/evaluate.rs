//! Evaluation cost per event over a mixed synthetic stream (exec/open/connect/...).
//!
//! `cargo bench -p peregrine-rules` — results are recorded in `docs/benchmarks.md`.
//! The upstream rulesets are read from `../shared/testdata/upstream`; without them only the
//! seed ruleset is measured.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::Event;
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, RuleMatching, Ruleset};
use std::hint::black_box;
use std::path::PathBuf;

const EVENTS: usize = 100_000;

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

fn stream() -> Vec<Event> {
    Generator::new(SynthConfig {
        seed: 42,
        containers: 12,
        ..Default::default()
    })
    .take(EVENTS)
    .collect()
}

fn run(rs: &Ruleset, events: &[Event]) -> usize {
    let mut scratch = rs.new_scratch();
    let mut matches = Vec::new();
    for ev in events {
        rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut matches);
    }
    matches.len()
}

fn bench(c: &mut Criterion) {
    let events = stream();
    let mut group = c.benchmark_group("evaluate");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(20);

    let seed = ruleset(
        vec![RulesSource::new("seed_rules.yaml", peregrine_config_seed())],
        false,
    );
    eprintln!(
        "seed ruleset: {} alerts over {} events",
        run(&seed, &events),
        events.len()
    );
    group.bench_function("seed_rules", |b| b.iter(|| black_box(run(&seed, &events))));

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
        let all = ruleset(sources, true);
        eprintln!(
            "upstream rules ({} enabled): {} alerts over {} events",
            all.enabled_rules().count(),
            run(&all, &events),
            events.len()
        );
        group.bench_function("all_upstream_rules", |b| {
            b.iter(|| black_box(run(&all, &events)))
        });
    } else {
        eprintln!("skipping upstream rules: {} not found", upstream.display());
    }
    group.finish();
}

fn peregrine_config_seed() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/defaults/default_rules.yaml"),
    )
    .expect("embedded default rules")
}

criterion_group!(benches, bench);
criterion_main!(benches);
