//! Pipeline throughput, flat out, on the synthetic stream: events/s through every stage
//! (source → enrich → rule shards → outputs) and the peak RSS, with the seed rules and with
//! every upstream rule enabled. `cargo bench -p peregrine --bench pipeline`; results in
//! `docs/benchmarks.md`.
//!
//! Each case runs in its own child process so its peak RSS is its own. Each ruleset runs
//! with the metrics recorder off and on (Prometheus registry installed, every metric the
//! stages record, a scrape rendered every second), alternated `ROUNDS` times (default 3),
//! and the medians are compared: the cost of metrics per event.

use peregrine::pipeline::{Pipeline, PipelineSettings};
use peregrine::source::SyntheticSource;
use peregrine::stage::enrich::PassThrough;
use peregrine_config::Common;
use peregrine_event::synth::SynthConfig;
use peregrine_outputs::{Deliver, DeliveryError, OutputsBuilder, Record};
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS: u64 = 4_000_000;

/// Counts alerts and throws them away: measures the pipeline, not a terminal.
struct NullSink;

impl Deliver for NullSink {
    async fn deliver(&mut self, batch: &[Arc<Record>]) -> Result<usize, DeliveryError> {
        Ok(batch.len())
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn sources(case: &str) -> Option<Vec<RulesSource>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    match case {
        "seed" => Some(vec![RulesSource::read(
            &root.join("config/defaults/default_rules.yaml"),
        )]),
        _ => {
            let up = root.join("../shared/testdata/upstream");
            up.is_dir().then(|| {
                [
                    "falco_rules.yaml",
                    "falco-incubating_rules.yaml",
                    "falco-sandbox_rules.yaml",
                ]
                .iter()
                .map(|f| RulesSource::read(&up.join(f)))
                .collect()
            })
        }
    }
}

fn run_case(case: &str) {
    let (case, with_metrics) = match case.split_once(':') {
        Some((c, "metrics")) => (c, true),
        _ => (case, false),
    };
    let scraper = with_metrics.then(|| {
        let cfg = peregrine_config::Metrics {
            enabled: true,
            ..Default::default()
        };
        let handle = peregrine::telemetry::install_recorder(&cfg).expect("recorder");
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            std::hint::black_box(handle.render());
        })
    });
    let Some(srcs) = sources(case) else {
        println!("{case}: skipped (../shared/testdata/upstream not found)");
        return;
    };
    let mut rules = load_sources(&srcs, &CompileOptions::default())
        .ruleset
        .expect("rules load");
    rules.set_enabled_by_name("*", true);
    let enabled = rules.enabled_rules().count();
    let settings = PipelineSettings::default();
    let source = Box::new(SyntheticSource::new(
        SynthConfig::default(),
        None,
        Some(EVENTS),
    ));
    let start = Instant::now();
    let p = Pipeline::start(&settings, source, Box::new(PassThrough), rules, {
        let mut b = OutputsBuilder::new();
        b.add("null", &Common::default(), Box::new(|| Ok(NullSink)))
            .expect("null destination");
        b.build()
    })
    .expect("start");
    let stats = p.join();
    let secs = start.elapsed().as_secs_f64();
    let dropped: u64 = stats.iter().map(|s| s.dropped).sum();
    let alerts = stats
        .iter()
        .find(|s| s.stage == "outputs")
        .map(|s| s.received)
        .unwrap_or(0);
    let metrics = if scraper.is_some() { "on" } else { "off" };
    println!(
        "{case}, metrics {metrics}: {enabled} rules, {EVENTS} events in {secs:.2} s = {:.0} events/s, {alerts} alerts, {dropped} dropped, peak RSS {:.1} MiB, {} rule shards",
        EVENTS as f64 / secs,
        peak_rss_kib() as f64 / 1024.0,
        settings.rule_shards
    );
    println!("RESULT {case} {metrics} {:.0}", EVENTS as f64 / secs);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if let Ok(case) = std::env::var("PEREGRINE_BENCH_CASE") {
        run_case(&case);
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let exe = std::env::current_exe().expect("bench executable");
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let mut results: Vec<(String, String, f64)> = Vec::new();
    for _ in 0..rounds {
        for case in ["seed", "seed:metrics", "upstream", "upstream:metrics"] {
            let out = std::process::Command::new(&exe)
                .env("PEREGRINE_BENCH_CASE", case)
                .arg("--bench")
                .output()
                .expect("run case");
            assert!(out.status.success(), "case {case} failed");
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                match line.strip_prefix("RESULT ") {
                    Some(r) => {
                        let f: Vec<&str> = r.split(' ').collect();
                        results.push((f[0].into(), f[1].into(), f[2].parse().unwrap_or(0.0)));
                    }
                    None => println!("{line}"),
                }
            }
        }
    }
    for case in ["seed", "upstream"] {
        let rate = |m: &str| {
            let v: Vec<f64> = results
                .iter()
                .filter(|r| r.0 == case && r.1 == m)
                .map(|r| r.2)
                .collect();
            (!v.is_empty()).then(|| median(v))
        };
        if let (Some(off), Some(on)) = (rate("off"), rate("on")) {
            println!(
                "{case}: median {off:.0} events/s with metrics off, {on:.0} on: {:+.1} %",
                (on - off) / off * 100.0
            );
        }
    }
}
