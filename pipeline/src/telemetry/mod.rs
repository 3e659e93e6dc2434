//! What the agent says about itself: the metric catalog, Falco's metric set gathered from
//! the stages' counters and the host, label caps, and the periodic metrics snapshot.

pub mod catalog;
pub mod labels;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds of every `_seconds` histogram: 10 ns to 10 s in 1-2.5-5 steps, so the
/// fleet's quantiles of rule evaluation (tens of ns) and of container lookups (ms to s)
/// can be summed across nodes.
pub fn seconds_buckets() -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 1e-8;
    while decade < 10.0 {
        for step in [1.0, 2.5, 5.0] {
            out.push(decade * step);
        }
        decade *= 10.0;
    }
    out.push(10.0);
    out
}

/// Installs the process-wide Prometheus recorder: histograms with buckets, HELP text for
/// every family of the catalog, label caps from the config.
pub fn install_recorder(cfg: &peregrine_config::Metrics) -> Result<PrometheusHandle, BuildError> {
    labels::set_limit(cfg.max_label_values);
    set_switches(cfg);
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds_buckets())?
        .install_recorder()?;
    catalog::describe_all();
    Ok(handle)
}
pub mod falco;

use std::sync::atomic::{AtomicBool, Ordering};

static ACTIVE: AtomicBool = AtomicBool::new(false);
static RULES_COUNTERS: AtomicBool = AtomicBool::new(true);
static RESOURCES: AtomicBool = AtomicBool::new(true);
static STATE_COUNTERS: AtomicBool = AtomicBool::new(true);
static KERNEL_COUNTERS: AtomicBool = AtomicBool::new(true);
static KERNEL_PER_CPU: AtomicBool = AtomicBool::new(true);
static LIBBPF_STATS: AtomicBool = AtomicBool::new(true);

fn flag(switch: catalog::Switch) -> &'static AtomicBool {
    use catalog::Switch::*;
    static ALWAYS: AtomicBool = AtomicBool::new(true);
    match switch {
        Always => &ALWAYS,
        RulesCounters => &RULES_COUNTERS,
        ResourceUtilization => &RESOURCES,
        StateCounters => &STATE_COUNTERS,
        KernelEventCounters => &KERNEL_COUNTERS,
        KernelEventCountersPerCpu => &KERNEL_PER_CPU,
        LibbpfStats => &LIBBPF_STATS,
    }
}

/// Takes the `metrics.*_enabled` switches from the config (Falco: per-CPU counters imply
/// the kernel counters).
pub fn set_switches(cfg: &peregrine_config::Metrics) {
    ACTIVE.store(cfg.enabled, Ordering::Relaxed);
    RULES_COUNTERS.store(cfg.rules_counters_enabled, Ordering::Relaxed);
    RESOURCES.store(cfg.resource_utilization_enabled, Ordering::Relaxed);
    STATE_COUNTERS.store(cfg.state_counters_enabled, Ordering::Relaxed);
    KERNEL_COUNTERS.store(
        cfg.kernel_event_counters_enabled || cfg.kernel_event_counters_per_cpu_enabled,
        Ordering::Relaxed,
    );
    KERNEL_PER_CPU.store(cfg.kernel_event_counters_per_cpu_enabled, Ordering::Relaxed);
    LIBBPF_STATS.store(cfg.libbpf_stats_enabled, Ordering::Relaxed);
}

/// Whether the metrics behind `switch` are exported (never without `metrics.enabled`).
pub fn enabled(switch: catalog::Switch) -> bool {
    ACTIVE.load(Ordering::Relaxed) && flag(switch).load(Ordering::Relaxed)
}
pub mod snapshot;
