//! `containers`: container metadata from the runtimes, and holding a new container's events
//! until it is there (Peregrine's own section; Falco's `container_engines` and container
//! plugin settings are not read).

use crate::decode::{boolean, duration, size, string_list, Cx, KeyPath};
use crate::error::ConfigError;
use crate::tree::Value;
use std::path::PathBuf;
use std::time::Duration;

/// `containers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Containers {
    /// Look metadata up at all (default true); off, containers have their id and type only.
    pub enabled: bool,
    /// Docker Engine API sockets, tried in order; missing ones are skipped (default
    /// `/run/podman/podman.sock`, `/var/run/docker.sock`).
    pub docker_sockets: Vec<PathBuf>,
    /// CRI sockets (containerd, CRI-O), tried in order; missing ones are skipped (default
    /// `/run/containerd/containerd.sock`, `/run/crio/crio.sock`,
    /// `/run/k3s/containerd/containerd.sock`, `/run/host-containerd/containerd.sock`).
    pub cri_sockets: Vec<PathBuf>,
    /// Follow the runtime's event stream and inspect containers as they are created
    /// (default true).
    pub watch_events: bool,
    /// Lookup threads, 1..=64 (default 2).
    pub workers: usize,
    /// Lookups waiting for a thread, at most (default 1024).
    pub queue_size: usize,
    /// One API request, at most (default 2s).
    pub request_timeout: Duration,
    /// How long "not found" is retried for a new container (default 1s).
    pub not_found_retry: Duration,
    /// Containers cached (default 4096, LRU).
    pub cache_size: usize,
    /// Found metadata is refreshed in the background after this; 0 = never (default 10m).
    pub metadata_ttl: Duration,
    /// A failed lookup is tried again after this (default 30s).
    pub retry_interval: Duration,
    pub hold: Hold,
    /// Evaluate the rules on the agent's own container too (default false: a shell opened
    /// in the agent's pod raises nothing).
    pub alert_own_container: bool,
}

/// `containers.hold`: a new container's events wait for its metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    /// Default true.
    pub enabled: bool,
    /// Longest wait before the events go on without metadata (default 2s).
    pub timeout: Duration,
    /// Events held at most, all containers together (default 16384).
    pub max_events: usize,
}

impl Default for Hold {
    fn default() -> Self {
        Hold {
            enabled: true,
            timeout: Duration::from_secs(2),
            max_events: 16_384,
        }
    }
}

impl Default for Containers {
    fn default() -> Self {
        Containers {
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
            hold: Hold::default(),
            alert_own_container: false,
        }
    }
}

impl Containers {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        let known = [
            "enabled",
            "docker_sockets",
            "cri_sockets",
            "watch_events",
            "workers",
            "queue_size",
            "request_timeout",
            "not_found_retry",
            "cache_size",
            "metadata_ttl",
            "retry_interval",
            "hold",
            "alert_own_container",
        ];
        let paths = |v: &Value, p: &KeyPath| -> Result<Vec<PathBuf>, ConfigError> {
            Ok(string_list(v, p)?.into_iter().map(PathBuf::from).collect())
        };
        for (e, p) in cx.section(v, path, &known, &[])? {
            let v = &e.value;
            match e.key.as_str() {
                "enabled" => out.enabled = boolean(v, &p)?,
                "docker_sockets" => out.docker_sockets = paths(v, &p)?,
                "cri_sockets" => out.cri_sockets = paths(v, &p)?,
                "watch_events" => out.watch_events = boolean(v, &p)?,
                "workers" => out.workers = size(v, &p, 1, 64)?,
                "queue_size" => out.queue_size = size(v, &p, 1, 1 << 20)?,
                "request_timeout" => {
                    out.request_timeout = duration(v, &p, Duration::from_millis(1))?
                }
                "not_found_retry" => out.not_found_retry = duration(v, &p, Duration::ZERO)?,
                "cache_size" => out.cache_size = size(v, &p, 1, 1 << 20)?,
                "metadata_ttl" => out.metadata_ttl = duration(v, &p, Duration::ZERO)?,
                "retry_interval" => out.retry_interval = duration(v, &p, Duration::from_millis(1))?,
                "hold" => out.hold = decode_hold(v, &p, cx)?,
                "alert_own_container" => out.alert_own_container = boolean(v, &p)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

fn decode_hold(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Hold, ConfigError> {
    let mut out = Hold::default();
    for (e, p) in cx.section(v, path, &["enabled", "timeout", "max_events"], &[])? {
        let v = &e.value;
        match e.key.as_str() {
            "enabled" => out.enabled = boolean(v, &p)?,
            "timeout" => out.timeout = duration(v, &p, Duration::ZERO)?,
            "max_events" => out.max_events = size(v, &p, 1, 1 << 24)?,
            _ => {}
        }
    }
    Ok(out)
}
