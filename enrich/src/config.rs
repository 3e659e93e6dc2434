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
    /// Keep regular files in the fd tables. Off when the kernel sends neither their opens
    /// nor their closes (in-kernel filtering that leaves them out of the state tables):
    /// then an entry for one could not be removed when it closes.
    pub keep_regular_files: bool,
    /// How long a failed `/proc` lookup is remembered before it may be tried again.
    pub negative_ttl: Duration,
    /// Most failed lookups remembered.
    pub max_negative: usize,
    /// Containers whose user and group files are cached.
    pub user_cache_containers: usize,
    /// How often a cached passwd/group file is checked for changes.
    pub user_recheck: Duration,
    /// Container metadata from the runtimes, and holding events until it is there.
    pub containers: ContainerConfig,
}

/// Container metadata lookups (see [`crate::runtime`]) and the hold of a new container's
/// events until its metadata is there.
#[derive(Clone, Debug)]
pub struct ContainerConfig {
    /// Look metadata up at all (default true). Off: containers have their id only.
    pub enabled: bool,
    /// Docker Engine API sockets (docker; podman's `podman system service`), tried in order;
    /// those that do not exist are skipped at each lookup.
    pub docker_sockets: Vec<PathBuf>,
    /// CRI sockets (containerd, CRI-O; k3s's and Bottlerocket's containerd), tried in order;
    /// those that do not exist are skipped at each lookup.
    pub cri_sockets: Vec<PathBuf>,
    /// Follow the runtime's event stream and inspect each container when it is created
    /// (default true): metadata is usually there before the container's first event.
    pub watch_events: bool,
    /// Worker threads doing lookups (default 2).
    pub workers: usize,
    /// Lookups waiting for a worker, at most (default 1024); beyond it a lookup fails (counted).
    pub queue_size: usize,
    /// One API request, at most (default 2s).
    pub request_timeout: Duration,
    /// A new container may not be known to the runtime yet when its first process runs:
    /// "not found" is retried with backoff for this long (default 1s).
    pub not_found_retry: Duration,
    /// Containers whose metadata (or failure) is cached (default 4096, LRU).
    pub cache_size: usize,
    /// Found metadata is refreshed in the background after this (default 10min; zero = never).
    pub metadata_ttl: Duration,
    /// A failed lookup is tried again after this (default 30s).
    pub retry_interval: Duration,
    /// Hold a container's events while its first lookup is in flight (default true).
    pub hold: bool,
    /// How long events are held at most before they go on without metadata (default 2s).
    pub hold_timeout: Duration,
    /// Events held at most, all containers together (default 16384); beyond it the
    /// longest-held container's events go on without metadata.
    pub hold_max_events: usize,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            enabled: true,
            docker_sockets: vec![
                PathBuf::from("/run/podman/podman.sock"),
                PathBuf::from("/var/run/docker.sock"),
            ],
            cri_sockets: vec![
                PathBuf::from("/run/containerd/containerd.sock"),
                PathBuf::from("/run/crio/crio.sock"),
                PathBuf::from("/run/k3s/containerd/containerd.sock"),
                PathBuf::from("/run/host-containerd/containerd.sock"),
            ],
            watch_events: true,
            workers: 2,
            queue_size: 1024,
            request_timeout: Duration::from_secs(2),
            not_found_retry: Duration::from_secs(1),
            cache_size: 4096,
            metadata_ttl: Duration::from_secs(600),
            retry_interval: Duration::from_secs(30),
            hold: true,
            hold_timeout: Duration::from_secs(2),
            hold_max_events: 16_384,
        }
    }
}

impl ContainerConfig {
    /// No lookups (containers get their id only) and so no hold.
    pub fn disabled() -> Self {
        ContainerConfig {
            enabled: false,
            ..Default::default()
        }
    }
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
            keep_regular_files: true,
            negative_ttl: Duration::from_secs(30),
            max_negative: 8_192,
            user_cache_containers: 256,
            user_recheck: Duration::from_secs(2),
            containers: ContainerConfig::default(),
        }
    }
}

impl EnrichConfig {
    /// No `/proc` at all: tables fed only by events (for tests and replays), and no
    /// container runtime lookups.
    pub fn events_only() -> Self {
        EnrichConfig {
            containers: ContainerConfig::disabled(),
            bootstrap: false,
            proc_fds: false,
            proc_env: false,
            proc_lookup_on_miss: false,
            ..Default::default()
        }
    }
}
