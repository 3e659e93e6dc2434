//! The key numbers of one run, computed once and shared by the HTML and Markdown tables,
//! the combined JSON and `compare`.

use crate::result::RunResult;
use serde::Serialize;

/// The latency the summary and `compare` single out.
pub const END_TO_END: &str = "end_to_end";

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// The run's label, made unique among the runs reported together.
    pub label: String,
    pub kind: String,
    pub events: u64,
    pub alerts: u64,
    pub duration_secs: f64,
    pub events_per_sec: f64,
    /// Over every stage; `None` when the run recorded no stages.
    pub dropped: Option<u64>,
    /// End to end; `None` when the run measured no latency.
    pub latency_p50_ns: Option<u64>,
    pub latency_p99_ns: Option<u64>,
    /// Over the samples; `None` without samples.
    pub cpu_cores_mean: Option<f64>,
    pub cpu_cores_max: Option<f64>,
    /// `None` without samples (or when none measured RSS).
    pub rss_peak_bytes: Option<u64>,
    /// Mean CPU over the run divided by its rate: CPU time (µs) spent per event.
    pub cpu_us_per_event: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sustained_events_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_per_100k_eps: Option<f64>,
}

impl RunSummary {
    pub fn of(run: &RunResult, label: String) -> RunSummary {
        let end_to_end = run.latency(END_TO_END).filter(|l| l.count > 0);
        let cpu: Vec<f64> = run
            .samples
            .iter()
            .map(|s| s.cpu_cores)
            .filter(|c| c.is_finite() && *c >= 0.0)
            .collect();
        let cpu_cores_mean = (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64);
        let cpu_cores_max = cpu.iter().copied().reduce(f64::max);
        let cpu_us_per_event = cpu_cores_mean
            .filter(|_| run.events_per_sec.is_finite() && run.events_per_sec > 0.0)
            .map(|mean| mean / run.events_per_sec * 1e6);
        RunSummary {
            label,
            kind: run.kind.clone(),
            events: run.events,
            alerts: run.alerts,
            duration_secs: run.duration_secs,
            events_per_sec: run.events_per_sec,
            dropped: (!run.stages.is_empty()).then(|| run.dropped()),
            latency_p50_ns: end_to_end.map(|l| l.p50_ns),
            latency_p99_ns: end_to_end.map(|l| l.p99_ns),
            cpu_cores_mean,
            cpu_cores_max,
            rss_peak_bytes: run
                .samples
                .iter()
                .map(|s| s.rss_bytes)
                .max()
                .filter(|b| *b > 0),
            cpu_us_per_event,
            sustained_events_per_sec: run.sustained_events_per_sec,
            cpu_per_100k_eps: run.cpu_per_100k_eps,
        }
    }
}

/// The summaries of runs reported together, labelled as [`run_labels`] does.
pub fn summarize(runs: &[RunResult]) -> Vec<RunSummary> {
    runs.iter()
        .zip(run_labels(runs))
        .map(|(run, label)| RunSummary::of(run, label))
        .collect()
}

/// One label per run for tables and legends: the run's own, else its kind, else `run N`;
/// a label already taken gets ` #N` so two runs never share a legend entry.
pub fn run_labels(runs: &[RunResult]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        let base = [run.label.trim(), run.kind.trim()]
            .into_iter()
            .find(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("run {}", i + 1));
        let label = if labels.contains(&base) {
            format!("{base} #{}", i + 1)
        } else {
            base
        };
        labels.push(label);
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{LatencyResult, Sample, StageResult};

    #[test]
    fn summary_of_a_run_with_samples() {
        let run = RunResult {
            label: "a".into(),
            events_per_sec: 100_000.0,
            stages: vec![StageResult {
                stage: "rules".into(),
                dropped: 7,
                ..Default::default()
            }],
            latency: vec![LatencyResult {
                name: END_TO_END.into(),
                count: 10,
                p50_ns: 1000,
                p99_ns: 9000,
                ..Default::default()
            }],
            samples: vec![
                Sample {
                    cpu_cores: 1.0,
                    rss_bytes: 10,
                    ..Default::default()
                },
                Sample {
                    cpu_cores: 3.0,
                    rss_bytes: 30,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let s = RunSummary::of(&run, "a".into());
        assert_eq!(s.dropped, Some(7));
        assert_eq!(s.latency_p99_ns, Some(9000));
        assert_eq!(s.cpu_cores_mean, Some(2.0));
        assert_eq!(s.cpu_cores_max, Some(3.0));
        assert_eq!(s.rss_peak_bytes, Some(30));
        // 2 cores at 100k events/s: 20 µs of CPU per event.
        assert_eq!(s.cpu_us_per_event, Some(20.0));
    }

    #[test]
    fn missing_data_is_none() {
        let s = RunSummary::of(&RunResult::default(), "x".into());
        assert_eq!(s.dropped, None);
        assert_eq!(s.latency_p50_ns, None);
        assert_eq!(s.cpu_cores_mean, None);
        assert_eq!(s.rss_peak_bytes, None);
        assert_eq!(s.cpu_us_per_event, None);
    }

    #[test]
    fn labels_are_filled_in_and_unique() {
        let runs = [
            RunResult {
                label: "replay".into(),
                ..Default::default()
            },
            RunResult {
                label: "replay".into(),
                ..Default::default()
            },
            RunResult {
                kind: "sweep".into(),
                ..Default::default()
            },
            RunResult::default(),
        ];
        assert_eq!(run_labels(&runs), ["replay", "replay #2", "sweep", "run 4"]);
    }
}
