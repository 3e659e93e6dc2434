//! The enricher's knobs.

use std::path::PathBuf;
use std::time::Duration;

/// Sizes, lifetimes and sources of the tables. `Default` suits a host agent.
#[derive(Clone, Debug)]
pub struct EnrichConfig {
    /// Where `/proc` is (tests point this at a fake tree).
    pub proc_root: PathBuf,
    /// Where the host's `etc/passwd` and `etc/group` are found (`/`).
    pub host_root: PathBuf,
    /// Most processes (thread groups) kept, live and exited; beyond it the least recently
    /// active are evicted.
    pub max_processes: usize,
    /// Most non-main threads tracked individually.
    pub max_threads: usize,
    /// Most fds kept per process; further ones are not tracked (counted).
    pub max_fds_per_process: usize,
    /// How long an exited process stays for late events, in event time.
    pub exited_linger: Duration,
    /// Most exited processes kept waiting out their linger time.
    pub max_exited: usize,
    /// Read every process from `/proc` when the enricher starts.
    pub bootstrap: bool,
    /// Read each process's fds (and the socket tables of its network namespace) when it is
    /// loaded from `/proc`.
    pub proc_fds: bool,
    /// Read each process's environment when it is loaded from `/proc`.
    pub proc_env: bool,
    /// Look a process up in `/proc` when an event names one the tables do not know, and an
    /// fd in `/proc/<pid>/fd` when an event uses one they do not know.
    pub proc_lookup_on_miss: bool,
    /// How long a failed `/proc` lookup is remembered before it may be tried again.
    pub negative_ttl: Duration,
    /// Most failed lookups remembered.
    pub max_negative: usize,
    /// Containers whose user and group files are cached.
    pub user_cache_containers: usize,
    /// How often a cached passwd/group file is checked for changes.
    pub user_recheck: Duration,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            proc_root: PathBuf::from("/proc"),
            host_root: PathBuf::from("/"),
            max_processes: 32_768,
            max_threads: 131_072,
            max_fds_per_process: 4_096,
            exited_linger: Duration::from_secs(5),
            max_exited: 4_096,
            bootstrap: true,
            proc_fds: true,
            proc_env: true,
            proc_lookup_on_miss: true,
            negative_ttl: Duration::from_secs(30),
            max_negative: 8_192,
            user_cache_containers: 256,
            user_recheck: Duration::from_secs(2),
        }
    }
}

impl EnrichConfig {
    /// No `/proc` at all: tables fed only by events (for tests and replays).
    pub fn events_only() -> Self {
        EnrichConfig {
            bootstrap: false,
            proc_fds: false,
            proc_env: false,
            proc_lookup_on_miss: false,
            ..Default::default()
        }
    }
}
