//! Run-time statistics the kernel keeps for loaded BPF programs while asked to
//! (`kernel.bpf_stats_enabled`): how often a program ran and for how long. For benchmarks
//! that compare kernel programs, ours or another agent's, by name.

use crate::error::ProbeError;
use std::os::fd::OwnedFd;

/// Keeps the kernel's run-time statistics on while it lives.
pub struct StatsOn(#[allow(dead_code)] OwnedFd);

/// Turns the statistics on (they cost a clock read per program run while on).
pub fn enable() -> Result<StatsOn, ProbeError> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map(StatsOn)
        .map_err(|e| ProbeError::Io {
            what: "enabling BPF run-time statistics",
            source: e.io_error,
        })
}

/// (runs, nanoseconds) of every loaded program named `name`, summed.
pub fn runs(name: &str) -> (u64, u64) {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.name_as_str() == Some(name))
        .fold((0, 0), |(n, t), p| {
            (n + p.run_count(), t + p.run_time().as_nanos() as u64)
        })
}
