//! Realistic results for the unit tests of `report` and `compare`.

use crate::result::*;

/// A 30 s replay at about `rate` events/s, with drops in `enrich` after 20 s.
pub fn replay(label: &str, rate: f64, p99_ns: u64) -> RunResult {
    let samples = (1..=30u32)
        .map(|t| Sample {
            t: f64::from(t),
            events_per_sec: rate * (1.0 + 0.02 * f64::from(t % 5)),
            alerts_per_sec: rate / 1000.0,
            drops: vec![
                ("kernel".into(), 0),
                (
                    "enrich".into(),
                    if t > 20 { u64::from(t - 20) * 50 } else { 0 },
                ),
            ],
            queues: vec![
                ("source".into(), f64::from(t % 10) / 10.0),
                ("rules".into(), 0.2),
            ],
            cpu_cores: 1.5,
            rss_bytes: (60 + u64::from(t)) * 1024 * 1024,
        })
        .collect();
    RunResult {
        version: RESULT_VERSION,
        kind: "replay".into(),
        label: label.into(),
        description: Description {
            command: vec![
                "peregrine-loadtest".into(),
                "replay".into(),
                "syscalls.pgev".into(),
            ],
            peregrine_version: "0.1.0".into(),
            started_at: "2025-01-01T00:00:00Z".into(),
            seed: Some(42),
            input: Some(FileId {
                path: "syscalls.pgev".into(),
                sha256: "ab".repeat(32),
                bytes: 1 << 20,
            }),
            rules: vec![FileId {
                path: "rules/falco_rules.yaml".into(),
                sha256: "cd".repeat(32),
                bytes: 4096,
            }],
            pacing: format!("{rate}"),
            loops: 1,
            machine: Machine {
                hostname: "bench-1".into(),
                cpus: 8,
                cpu_model: "Test CPU".into(),
                kernel: "6.1.0".into(),
                memory_bytes: 16 << 30,
            },
            ..Default::default()
        },
        events: (rate * 30.0) as u64,
        alerts: (rate * 30.0 / 1000.0) as u64,
        duration_secs: 30.0,
        events_per_sec: rate,
        stages: vec![
            StageResult {
                stage: "source".into(),
                received: 100,
                passed: 100,
                ..Default::default()
            },
            StageResult {
                stage: "enrich".into(),
                received: 100,
                passed: 90,
                dropped: 500,
                dropped_by_reason: vec![("queue full".into(), 500)],
                ..Default::default()
            },
        ],
        latency: vec![
            LatencyResult {
                name: "rules".into(),
                count: 1000,
                p50_ns: 800,
                p90_ns: 2_000,
                p99_ns: 9_000,
                p999_ns: 40_000,
                max_ns: 300_000,
            },
            LatencyResult {
                name: "end_to_end".into(),
                count: 1000,
                p50_ns: p99_ns / 10,
                p90_ns: p99_ns / 3,
                p99_ns,
                p999_ns: p99_ns * 3,
                max_ns: p99_ns * 20,
            },
        ],
        samples,
        ..Default::default()
    }
}
