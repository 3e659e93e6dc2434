//! The kernel as a source: the probes' ring buffers, merged in time order.

use super::{Pull, Source};
use peregrine_event::Event;
use peregrine_probes::interest::KernelInterest;
use peregrine_probes::wire::WireError;
use peregrine_probes::{KernelProbe, Reader};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a rules reload leaves what the new rules need from the kernel; the source applies
/// it between pulls.
pub type SyscallRequest = Arc<Mutex<Option<KernelInterest>>>;

/// How often the kernel's counters are exported (and a rules reload applied).
const EXPORT_EVERY: Duration = Duration::from_secs(1);
/// Without metrics, how often the source comes round at rest anyway: to apply a reload and
/// to show it is alive, well within [`crate::health::SOURCE_STALL_MS`].
const ROUND_AT_REST: Duration = Duration::from_secs(2);

/// Drains the probes' rings; exports the kernel's own counters while it does.
pub struct KernelSource {
    probe: KernelProbe,
    reader: Reader,
    last_export: Instant,
    requested: SyscallRequest,
}

impl KernelSource {
    pub fn new(probe: KernelProbe, reader: Reader) -> KernelSource {
        KernelSource {
            probe,
            reader,
            last_export: Instant::now(),
            requested: SyscallRequest::default(),
        }
    }

    /// The slot reloads write the new syscall set into.
    pub fn syscall_requests(&self) -> SyscallRequest {
        self.requested.clone()
    }

    /// Whether the state tables must keep no regular files (see
    /// [`KernelProbe::decide_lean`]).
    pub fn lean(&self) -> bool {
        self.probe.lean()
    }

    /// Sends exactly this from now on.
    pub fn set_interest(
        &mut self,
        interest: &KernelInterest,
    ) -> Result<(), peregrine_probes::ProbeError> {
        self.probe.set_interest(interest)
    }

    fn apply_requested(&mut self) {
        let Some(interest) = self.requested.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        if self.probe.lean() && !interest.lean() {
            tracing::warn!(
                "the reloaded rules read regular files from the fd table, which this run keeps none of (fds are looked up in /proc instead): restart the agent to keep them"
            );
        }
        match self.probe.set_interest(&interest) {
            Ok(()) => tracing::info!(
                syscalls = interest.flags.len(),
                "kernel syscall set updated"
            ),
            Err(err) => tracing::error!(%err, "could not update the kernel syscall set"),
        }
    }

    /// Kernel counters per CPU and reason, and the reader's, as Prometheus metrics; the
    /// same numbers under Falco's names (`falcosecurity_scap_*`) where it has them.
    fn export(&mut self) {
        if !crate::telemetry::enabled(crate::telemetry::catalog::Switch::Always) {
            return;
        }
        self.export_falco();
        for (cpu, c) in self.probe.counters().iter().enumerate() {
            let cpu = cpu.to_string();
            metrics::counter!("peregrine_kernel_events_total", "cpu" => cpu.clone())
                .absolute(c.n_evts);
            for (reason, n) in c.drop_reasons() {
                metrics::counter!(
                    "peregrine_kernel_drops_total",
                    "cpu" => cpu.clone(),
                    "reason" => reason
                )
                .absolute(n);
            }
        }
        for t in self.probe.syscall_tallies() {
            let name = peregrine_event::SYSCALL_NAMES
                .iter()
                .find(|(id, _)| *id == t.id)
                .map_or("unknown", |(_, n)| *n);
            metrics::counter!("peregrine_kernel_syscalls_seen_total", "syscall" => name)
                .absolute(t.seen);
            metrics::counter!("peregrine_kernel_syscalls_filtered_total", "syscall" => name)
                .absolute(t.filtered);
            // Sent on towards the ring (the ring may still drop it: see the drop counters).
            metrics::counter!("peregrine_kernel_syscalls_sent_total", "syscall" => name)
                .absolute(t.seen - t.filtered);
        }
        let s = self.reader.stats();
        metrics::counter!("peregrine_probe_records_total").absolute(s.records);
        metrics::counter!("peregrine_probe_malformed_total").absolute(s.malformed);
        for (reason, n) in WireError::REASONS.iter().zip(s.malformed_by_reason) {
            metrics::counter!("peregrine_probe_malformed_reason_total", "reason" => *reason)
                .absolute(n);
        }
        metrics::counter!("peregrine_probe_undecoded_params_total").absolute(s.undecoded_params);
        metrics::counter!("peregrine_probe_late_events_total").absolute(s.late);
        metrics::counter!("peregrine_probe_wakeups_total").absolute(s.wakeups);
        metrics::counter!("peregrine_probe_sleeps_total").absolute(s.sleeps);
        metrics::gauge!("peregrine_probe_reorder_pending").set(self.reader.pending() as f64);
    }
}

impl KernelSource {
    fn export_falco(&self) {
        use crate::telemetry::{catalog::Switch, enabled};
        if enabled(Switch::KernelEventCounters) {
            let counters = self.probe.counters();
            let evts: u64 = counters.iter().map(|c| c.n_evts).sum();
            let drops: u64 = counters.iter().map(|c| c.drops()).sum();
            metrics::counter!("falcosecurity_scap_n_evts_total").absolute(evts);
            metrics::counter!("falcosecurity_scap_n_drops_total").absolute(drops);
            let scratch: u64 = counters.iter().map(|c| c.n_drops_scratch).sum();
            metrics::counter!("falcosecurity_scap_n_drops_scratch_map_total").absolute(scratch);
            for (category, n) in self.probe.drops_by_category() {
                metrics::counter!("falcosecurity_scap_n_drops_buffer_total", "dir" => "exit", "drop" => category)
                    .absolute(n);
                // Kept at 0 as Falco does (no enter events), for the categories it keeps.
                if !matches!(category, "close" | "proc") {
                    metrics::counter!("falcosecurity_scap_n_drops_buffer_total", "dir" => "enter", "drop" => category)
                        .absolute(0);
                }
            }
            if enabled(Switch::KernelEventCountersPerCpu) {
                for (cpu, c) in counters.iter().enumerate() {
                    let cpu = cpu.to_string();
                    metrics::counter!("falcosecurity_scap_n_evts_cpu_total", "cpu" => cpu.clone())
                        .absolute(c.n_evts);
                    metrics::counter!("falcosecurity_scap_n_drops_cpu_total", "cpu" => cpu)
                        .absolute(c.drops());
                }
            }
        }
        if enabled(Switch::LibbpfStats) {
            for (prog, runs, ns) in self.probe.program_stats() {
                let avg = if runs > 0 {
                    ns as f64 / runs as f64
                } else {
                    0.0
                };
                match prog {
                    "sys_exit" => {
                        metrics::counter!("falcosecurity_scap_sys_exit_run_cnt_total")
                            .absolute(runs);
                        metrics::counter!("falcosecurity_scap_sys_exit_run_time_nanoseconds_total")
                            .absolute(ns);
                        metrics::gauge!("falcosecurity_scap_sys_exit_avg_time_nanoseconds")
                            .set(avg);
                    }
                    "sched_process_fork" => {
                        metrics::counter!("falcosecurity_scap_sched_process_fork_run_cnt_total")
                            .absolute(runs);
                        metrics::counter!(
                            "falcosecurity_scap_sched_process_fork_run_time_nanoseconds_total"
                        )
                        .absolute(ns);
                        metrics::gauge!(
                            "falcosecurity_scap_sched_process_fork_avg_time_nanoseconds"
                        )
                        .set(avg);
                    }
                    "sched_process_exec" => {
                        metrics::counter!("falcosecurity_scap_sched_process_exec_run_cnt_total")
                            .absolute(runs);
                        metrics::counter!(
                            "falcosecurity_scap_sched_process_exec_run_time_nanoseconds_total"
                        )
                        .absolute(ns);
                        metrics::gauge!(
                            "falcosecurity_scap_sched_process_exec_avg_time_nanoseconds"
                        )
                        .set(avg);
                    }
                    "sched_process_exit" => {
                        metrics::counter!("falcosecurity_scap_sched_process_exit_run_cnt_total")
                            .absolute(runs);
                        metrics::counter!(
                            "falcosecurity_scap_sched_process_exit_run_time_nanoseconds_total"
                        )
                        .absolute(ns);
                        metrics::gauge!(
                            "falcosecurity_scap_sched_process_exit_avg_time_nanoseconds"
                        )
                        .set(avg);
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Source for KernelSource {
    fn name(&self) -> &'static str {
        "kernel"
    }

    fn pull(&mut self, max: usize, wait: Duration) -> Pull {
        let every = if crate::telemetry::enabled(crate::telemetry::catalog::Switch::Always) {
            EXPORT_EVERY
        } else {
            ROUND_AT_REST
        };
        if self.last_export.elapsed() >= every {
            self.export();
            self.apply_requested();
            self.last_export = Instant::now();
        }
        // Sized when events arrive: most pulls at rest find none.
        let mut out = Vec::new();
        // The reader polls (the kernel does not wake it for every batch), and at rest sleeps
        // until the next record: whatever the batch flush interval, until the next export.
        let until_export = every.saturating_sub(self.last_export.elapsed());
        if self.reader.poll(&mut out, max, wait.max(until_export)) == 0 {
            return Pull::Idle;
        }
        Pull::Batch(out)
    }

    fn malformed(&self) -> u64 {
        self.reader.stats().malformed
    }

    fn kernel_totals(&self) -> Option<crate::kernel_drops::KernelTotals> {
        let mut totals = crate::kernel_drops::KernelTotals::default();
        for c in self.probe.counters() {
            totals.events += c.n_evts;
            for (reason, n) in c.drop_reasons() {
                match totals.drops.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, sum)) => *sum += n,
                    None => totals.drops.push((reason, n)),
                }
            }
        }
        Some(totals)
    }

    fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.reader.flush(&mut out);
        self.export();
        let tallies = self.probe.syscall_tallies();
        let seen: u64 = tallies.iter().map(|t| t.seen).sum();
        let filtered: u64 = tallies.iter().map(|t| t.filtered).sum();
        tracing::info!(
            "Kernel filter: {filtered} of {seen} traced syscall exits left in the kernel (no enabled rule or state table needed them)"
        );
        out
    }
}
