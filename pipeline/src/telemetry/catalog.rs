//! Every metric the agent exports: name, type, labels and help text, in one place. The
//! `/metrics` HELP lines come from here ([`describe_all`]), the dashboard and alerting
//! rules in `deploy/` are checked against it, and a live test checks that the agent exports
//! nothing that is not listed.

/// A metric's Prometheus type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The `metrics.*_enabled` switch a metric depends on (beyond `metrics.enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// Always exported.
    Always,
    RulesCounters,
    ResourceUtilization,
    StateCounters,
    KernelEventCounters,
    KernelEventCountersPerCpu,
    LibbpfStats,
}

/// One metric family.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
    pub switch: Switch,
}

const fn m(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        labels,
        help,
        switch: Switch::Always,
    }
}

const fn on(switch: Switch, metric: Metric) -> Metric {
    Metric { switch, ..metric }
}

use Kind::{Counter, Gauge, Histogram};
use Switch::*;

/// Falco's help text: a link to its metrics page, as Falco prints for its own names.
const FALCO_HELP: &str = "https://falco.org/docs/metrics/";

/// The families of the seed's dashboards, Falco's and Falcosidekick's, and Peregrine's own.
pub const METRICS: &[Metric] = &[
    // The seed's dashboards.
    m("falco_events_total", Counter, &["rule", "priority", "source", "container_name"],
        "Alerts emitted, by rule, priority (lower-case name), source and container name (host for host processes; capped by metrics.max_label_values)."),
    m("falco_duration_seconds", Histogram, &[],
        "Time to evaluate one event against the rules, in seconds (one sample per batch, divided by its events)."),
    m("falco_outputs_total", Counter, &["destination", "status"],
        "Alerts delivered (status=ok) and failed delivery attempts (status=error), per output destination."),
    // Falco's metric set.
    m("falcosecurity_falco_version_info", Gauge, &["version"], FALCO_HELP),
    m("falcosecurity_falco_sha256_rules_files_info", Gauge, &["file_name", "sha256"], FALCO_HELP),
    m("falcosecurity_falco_sha256_config_files_info", Gauge, &["file_name", "sha256"], FALCO_HELP),
    m("falcosecurity_falco_outputs_queue_num_drops_total", Counter, &[], FALCO_HELP),
    m("falcosecurity_falco_reload_timestamp_nanoseconds", Gauge, &[], FALCO_HELP),
    m("falcosecurity_falco_start_timestamp_nanoseconds", Gauge, &[], FALCO_HELP),
    m("falcosecurity_falco_duration_seconds_total", Counter, &[], FALCO_HELP),
    m("falcosecurity_falco_host_boot_timestamp_nanoseconds", Gauge, &[], FALCO_HELP),
    m("falcosecurity_falco_host_num_cpus_total", Gauge, &[], FALCO_HELP),
    m("falcosecurity_falco_kernel_release_info", Gauge, &["kernel_release"], FALCO_HELP),
    m("falcosecurity_evt_hostname_info", Gauge, &["hostname"], FALCO_HELP),
    m("falcosecurity_scap_engine_name_info", Gauge, &["engine_name", "evt_source"], FALCO_HELP),
    on(RulesCounters, m("falcosecurity_falco_rules_matches_total", Counter, &["rule_name", "priority", "source"], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_cpu_usage_ratio", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_memory_rss_bytes", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_memory_vsz_bytes", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_memory_pss_bytes", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_container_memory_used_bytes", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_host_cpu_usage_ratio", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_host_memory_used_bytes", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_host_procs_running_total", Gauge, &[], FALCO_HELP)),
    on(ResourceUtilization, m("falcosecurity_falco_host_open_fds_total", Gauge, &[], FALCO_HELP)),
    on(KernelEventCounters, m("falcosecurity_scap_n_evts_total", Counter, &[], FALCO_HELP)),
    on(KernelEventCounters, m("falcosecurity_scap_n_drops_total", Counter, &[], FALCO_HELP)),
    on(KernelEventCounters, m("falcosecurity_scap_n_drops_buffer_total", Counter, &["dir", "drop"], FALCO_HELP)),
    on(KernelEventCounters, m("falcosecurity_scap_n_drops_scratch_map_total", Counter, &[], FALCO_HELP)),
    on(KernelEventCountersPerCpu, m("falcosecurity_scap_n_evts_cpu_total", Counter, &["cpu"], FALCO_HELP)),
    on(KernelEventCountersPerCpu, m("falcosecurity_scap_n_drops_cpu_total", Counter, &["cpu"], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_threads_total", Gauge, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_fds_total", Gauge, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_cached_thread_lookups_total", Counter, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_noncached_thread_lookups_total", Counter, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_failed_thread_lookups_total", Counter, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_cached_fd_lookups_total", Counter, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_noncached_fd_lookups_total", Counter, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_failed_fd_lookups_total", Counter, &[], FALCO_HELP)),
    on(StateCounters, m("falcosecurity_scap_n_drops_full_threadtable_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sys_exit_run_cnt_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sys_exit_run_time_nanoseconds_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sys_exit_avg_time_nanoseconds", Gauge, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_fork_run_cnt_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_fork_run_time_nanoseconds_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_fork_avg_time_nanoseconds", Gauge, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_exec_run_cnt_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_exec_run_time_nanoseconds_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_exec_avg_time_nanoseconds", Gauge, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_exit_run_cnt_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_exit_run_time_nanoseconds_total", Counter, &[], FALCO_HELP)),
    on(LibbpfStats, m("falcosecurity_scap_sched_process_exit_avg_time_nanoseconds", Gauge, &[], FALCO_HELP)),
    // Falcosidekick's.
    m("falcosecurity_falcosidekick_inputs_total", Counter, &["source", "status"],
        "Requests to the falcosidekick-compatible HTTP input, accepted or rejected."),
    m("falcosecurity_falcosidekick_outputs_total", Counter, &["destination", "status"],
        "Alerts delivered (ok) and failed delivery attempts (error), per output destination (falcosidekick's name for falco_outputs_total)."),
    m("falcosecurity_falcosidekick_falco_events_total", Counter,
        &["hostname", "rule", "priority", "priority_raw", "source", "k8s_ns_name", "k8s_pod_name"],
        "Alerts, as falcosidekick counts them: priority as its integer (1 debug .. 8 emergency), priority_raw as the lower-case name (rule and k8s_* values capped by metrics.max_label_values)."),
    // Peregrine's stages.
    m("peregrine_stage_events_total", Counter, &["stage", "outcome"],
        "Events per pipeline stage: received, sent on, filtered (no rule could match) and dropped."),
    m("peregrine_stage_dropped_total", Counter, &["stage", "reason"],
        "Events dropped per pipeline stage and reason (queue_full, stage_failed, ...)."),
    m("peregrine_stage_restarts_total", Counter, &["stage"],
        "Times a stage's worker was restarted after a panic."),
    m("peregrine_stage_held_events", Gauge, &["stage"],
        "Events held by the stage now (enrich: waiting for their container's metadata)."),
    m("peregrine_queue_depth_batches", Gauge, &["queue"],
        "Batches waiting in the queue between two stages."),
    m("peregrine_queue_capacity_batches", Gauge, &["queue"],
        "Capacity of the queue between two stages, in batches."),
    m("peregrine_reloads_total", Counter, &["result"],
        "Rule reloads (SIGHUP or a watched file changing), by result (ok, failed)."),
    m("peregrine_label_overflow_total", Counter, &["label"],
        "Increments counted under the overflow value because a label had reached metrics.max_label_values distinct values."),
    m("peregrine_webserver_rejected_total", Counter, &["reason"],
        "Requests and connections the web server rejected, by reason."),
    m("peregrine_input_rejected_total", Counter, &["reason"],
        "Requests and connections the sidekick input rejected, by reason."),
    // The kernel and the probes.
    m("peregrine_kernel_events_total", Counter, &["cpu"],
        "Records the kernel programs tried to send, per CPU."),
    m("peregrine_kernel_drops_total", Counter, &["cpu", "reason"],
        "Records the kernel programs could not send, per CPU and reason (buffer_full, max_event_size, no_ring, scratch)."),
    m("peregrine_kernel_syscalls_seen_total", Counter, &["syscall"],
        "Exits of traced syscalls seen by the kernel program."),
    m("peregrine_kernel_syscalls_filtered_total", Counter, &["syscall"],
        "Exits kept in the kernel because no enabled rule or state table needed them."),
    m("peregrine_kernel_syscalls_sent_total", Counter, &["syscall"],
        "Exits sent on towards the ring buffer."),
    m("peregrine_probe_records_total", Counter, &[], "Records read from the ring buffers."),
    m("peregrine_probe_malformed_total", Counter, &[], "Records skipped because their frame was broken."),
    m("peregrine_probe_malformed_reason_total", Counter, &["reason"], "Broken records, by reason."),
    m("peregrine_probe_undecoded_params_total", Counter, &[], "Parameters kept as unknown because they could not be decoded."),
    m("peregrine_probe_late_events_total", Counter, &[], "Events that arrived after the reorder window had passed their time."),
    m("peregrine_probe_wakeups_total", Counter, &[], "Times the ring reader woke up."),
    m("peregrine_probe_sleeps_total", Counter, &[], "Times the ring reader slept until the next record (at rest) rather than napping."),
    m("peregrine_probe_reorder_pending", Gauge, &[], "Events waiting in the reorder window."),
    // Outputs.
    m("peregrine_output_dropped_total", Counter, &["destination", "reason"], "Alerts a destination dropped, by reason."),
    m("peregrine_output_filtered_total", Counter, &["destination", "reason"], "Alerts a destination did not send on purpose (priority below its minimum, deduplicated)."),
    m("peregrine_output_received_total", Counter, &["destination"], "Alerts handed to a destination."),
    m("peregrine_output_restarts_total", Counter, &["destination"], "Times a destination's writer was rebuilt."),
    m("peregrine_output_queue_depth_alerts", Gauge, &["destination"], "Alerts queued or retrying for a destination."),
    m("peregrine_output_queue_capacity_alerts", Gauge, &["destination"], "Capacity of a destination's queue."),
];

/// The catalog entry of `name`, also for a histogram's `_bucket`/`_sum`/`_count` series.
pub fn find(name: &str) -> Option<&'static Metric> {
    all().find(|m| {
        m.name == name
            || (m.kind == Kind::Histogram
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(m.name)))
    })
}

/// Every family: [`METRICS`] and those of the enrichment stage.
pub fn all() -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().chain(ENRICH.iter())
}

/// The enrichment stage's families, from its own list.
static ENRICH: std::sync::LazyLock<Vec<Metric>> = std::sync::LazyLock::new(|| {
    peregrine_enrich::stats::METRICS
        .iter()
        .map(|&(name, kind, help)| Metric {
            name,
            kind: match kind {
                "gauge" => Gauge,
                "histogram" => Histogram,
                _ => Counter,
            },
            labels: &[],
            help: help.trim(),
            switch: Always,
        })
        .collect()
});

/// Gives every family its HELP text in the installed recorder.
pub fn describe_all() {
    for m in all() {
        match m.kind {
            Counter => metrics::describe_counter!(m.name, m.help),
            Gauge => metrics::describe_gauge!(m.name, m.help),
            Histogram => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for m in all() {
            assert!(seen.insert(m.name), "{} listed twice", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                m.name
            );
            assert!(!m.help.is_empty(), "{} has no help", m.name);
            if m.kind == Kind::Counter {
                assert!(
                    m.name.ends_with("_total"),
                    "counter {} lacks _total",
                    m.name
                );
            }
        }
    }

    #[test]
    fn histogram_series_resolve_to_their_family() {
        assert_eq!(
            find("falco_duration_seconds_bucket").map(|m| m.name),
            Some("falco_duration_seconds")
        );
        assert!(find("falco_events_total_bucket").is_none());
        assert!(find("peregrine_enrich_container_lookup_seconds_count").is_some());
    }
}
