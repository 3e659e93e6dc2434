//! Compile time of conditions that grow with their input: a wide `or` on one field (folded
//! into one set or one multi-pattern test), and the three upstream rulesets. Each size is
//! twice the last, so linear compile time shows as doubling times.
//!
//! `cargo bench -p peregrine-rules --bench compile` — results are in `docs/benchmarks.md`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions};
use std::path::PathBuf;

fn rule(condition: String) -> Vec<RulesSource> {
    let yaml = format!(
        "- rule: r\n  desc: d\n  condition: evt.type = execve and ({condition})\n  output: o\n  priority: WARNING\n"
    );
    vec![RulesSource::new("wide.yaml", yaml)]
}

fn compile(sources: &[RulesSource]) {
    let out = load_sources(sources, &CompileOptions::default());
    assert!(out.ruleset.is_some(), "rules must load");
}

fn wide_or(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile_wide_or");
    g.sample_size(10);
    for n in [5_000usize, 10_000, 20_000, 40_000] {
        let eq: Vec<String> = (0..n).map(|i| format!("proc.name = p{i}")).collect();
        let eq = rule(eq.join(" or "));
        g.bench_with_input(BenchmarkId::new("equal", n), &eq, |b, s| {
            b.iter(|| compile(s))
        });
        let glob: Vec<String> = (0..n).map(|i| format!("proc.name glob 'p{i}x*'")).collect();
        let glob = rule(glob.join(" or "));
        g.bench_with_input(BenchmarkId::new("glob", n), &glob, |b, s| {
            b.iter(|| compile(s))
        });
    }
    g.finish();
}

fn upstream(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/upstream");
    let files = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ];
    let Ok(sources) = files
        .iter()
        .map(|f| {
            let path = dir.join(f);
            std::fs::read_to_string(&path).map(|text| RulesSource::new(f.to_string(), text))
        })
        .collect::<Result<Vec<_>, _>>()
    else {
        eprintln!(
            "skipping the upstream compile bench: {} not found",
            dir.display()
        );
        return;
    };
    c.bench_function("compile_upstream_three_rulesets", |b| {
        b.iter(|| compile(&sources))
    });
}

criterion_group!(benches, wide_or, upstream);
criterion_main!(benches);
