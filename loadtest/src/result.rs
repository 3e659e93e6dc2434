//! The result file every run writes (`--json OUT.json`): what was run, on what, and what it
//! measured. `report` and `compare` read these; the format is versioned.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped when a field changes meaning or goes away (new fields are optional).
pub const RESULT_VERSION: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub version: u32,
    /// `replay`, `generate`, `record`, `storm`, `sweep`.
    pub kind: String,
    /// A short name for tables and charts (default: kind and input file name).
    pub label: String,
    pub description: Description,
    /// Events that went into the pipeline.
    pub events: u64,
    /// Alerts handed to the outputs.
    pub alerts: u64,
    pub duration_secs: f64,
    pub events_per_sec: f64,
    /// Per stage (kernel, source, enrich, rules, outputs, output.<name>): final counters.
    pub stages: Vec<StageResult>,
    /// End to end (event timestamp → alert handed to the output) and per stage.
    pub latency: Vec<LatencyResult>,
    /// Once a second during the run.
    pub samples: Vec<Sample>,
    /// `sweep`: one step per rate tried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<SweepStep>,
    /// `sweep`: the highest rate held with zero drops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sustained_events_per_sec: Option<f64>,
    /// CPU cores used per 100k events/s at the sustained rate (1.0 = one core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_per_100k_eps: Option<f64>,
    /// `storm`: one entry per agent compared (the first is the baseline without an agent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storm: Vec<StormResult>,
}

/// Everything needed to reproduce the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// The command line, as given.
    pub command: Vec<String>,
    pub peregrine_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub seed: Option<u64>,
    pub input: Option<FileId>,
    pub rules: Vec<FileId>,
    pub config: Option<FileId>,
    /// `-o key=value` overrides.
    pub overrides: Vec<String>,
    /// Target rate (events/s), `flat`, or the speed factor.
    pub pacing: String,
    pub loops: u32,
    pub machine: Machine,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub hostname: String,
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub memory_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    pub stage: String,
    #[serde(rename = "in")]
    pub received: u64,
    #[serde(rename = "out")]
    pub passed: u64,
    pub filtered: u64,
    pub dropped: u64,
    /// (reason, count).
    pub dropped_by_reason: Vec<(String, u64)>,
}

/// Percentiles of one latency, in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyResult {
    /// `end_to_end`, or a stage: `source`, `enrich`, `rules`, `outputs`.
    pub name: String,
    pub count: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

/// The run's state at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    /// Over the last interval.
    pub events_per_sec: f64,
    pub alerts_per_sec: f64,
    /// Cumulative drops per stage: (stage, dropped).
    pub drops: Vec<(String, u64)>,
    /// Queue fill, 0..1: (queue, fill).
    pub queues: Vec<(String, f64)>,
    /// CPU cores used by the process over the last interval (1.0 = one core).
    pub cpu_cores: f64,
    pub rss_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepStep {
    pub target_events_per_sec: f64,
    pub achieved_events_per_sec: f64,
    pub dropped: u64,
    pub cpu_cores: f64,
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    /// Held the rate with zero drops.
    pub ok: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StormResult {
    /// `none` (no agent), `peregrine`, or the command line compared.
    pub agent: String,
    /// Workload operations per second, one per alternated run.
    pub ops_per_sec: Vec<f64>,
    /// Median over the runs divided by the no-agent median.
    pub ratio: f64,
    pub kernel_drops: u64,
    pub pipeline_drops: u64,
    /// Peregrine's drops by stage (kernel, source, enrich, rules, outputs, output.<name>),
    /// summed over the runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drops_by_stage: Vec<(String, u64)>,
    pub agent_cpu_cores: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a load-test result: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path}: result format version {found} is not supported (this build reads version {RESULT_VERSION})")]
    Version { path: String, found: u32 },
}

impl RunResult {
    pub fn read(path: &Path) -> Result<RunResult, ResultError> {
        let p = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| ResultError::Io {
            path: p.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&text).map_err(|e| ResultError::Parse {
                path: p.clone(),
                reason: e.to_string(),
            })?;
        let found = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
        if found != RESULT_VERSION {
            return Err(ResultError::Version { path: p, found });
        }
        serde_json::from_value(value).map_err(|e| ResultError::Parse {
            path: p,
            reason: e.to_string(),
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), ResultError> {
        let text = serde_json::to_vec_pretty(self).expect("a result serializes");
        std::fs::write(path, text).map_err(|source| ResultError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Total drops over every stage.
    pub fn dropped(&self) -> u64 {
        self.stages.iter().map(|s| s.dropped).sum()
    }

    pub fn latency(&self, name: &str) -> Option<&LatencyResult> {
        self.latency.iter().find(|l| l.name == name)
    }
}
