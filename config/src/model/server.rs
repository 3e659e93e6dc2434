//! `webserver` (health, Prometheus `/metrics`) and `metrics` (what is collected and where
//! snapshots go).

use crate::decode::{
    boolean, duration, integer, invalid, optional_path, path_buf, string, Cx, Ignored, KeyPath,
};
use crate::error::ConfigError;
use crate::tree::Value;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// `webserver`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webserver {
    /// Default false (Falco's code default; its shipped falco.yaml says true).
    pub enabled: bool,
    /// Worker threads; 0 = one per CPU (default 0).
    pub threadiness: u32,
    /// Default 8765.
    pub listen_port: u16,
    /// An IPv4 or IPv6 literal (default `127.0.0.1`: loopback only, unlike Falco's
    /// `0.0.0.0`; write `0.0.0.0` to serve every address).
    pub listen_address: IpAddr,
    /// Default `/healthz`.
    pub k8s_healthz_endpoint: String,
    /// Serve `/metrics`; needs `metrics.enabled` too (default false).
    pub prometheus_metrics_enabled: bool,
    /// Serve HTTPS only, with `ssl_certificate` (default false).
    pub ssl_enabled: bool,
    /// One PEM file holding the certificate chain and its private key, as Falco reads it
    /// (default `/etc/falco/falco.pem`); read at startup when `ssl_enabled`.
    pub ssl_certificate: PathBuf,
}

impl Default for Webserver {
    fn default() -> Self {
        Webserver {
            enabled: false,
            threadiness: 0,
            listen_port: 8765,
            listen_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            k8s_healthz_endpoint: "/healthz".into(),
            prometheus_metrics_enabled: false,
            ssl_enabled: false,
            ssl_certificate: PathBuf::from("/etc/falco/falco.pem"),
        }
    }
}

const WEBSERVER_KEYS: &[&str] = &[
    "enabled",
    "threadiness",
    "listen_port",
    "listen_address",
    "k8s_healthz_endpoint",
    "prometheus_metrics_enabled",
    "ssl_enabled",
    "ssl_certificate",
];

impl Webserver {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, WEBSERVER_KEYS, &[])? {
            let v = &e.value;
            match e.key.as_str() {
                "enabled" => out.enabled = boolean(v, &p)?,
                "threadiness" => out.threadiness = integer(v, &p, 0, 1024)? as u32,
                "listen_port" => out.listen_port = integer(v, &p, 1, 65535)? as u16,
                "listen_address" => {
                    out.listen_address = string(v, &p)?
                        .trim()
                        .parse()
                        .map_err(|_| invalid(&p, "an IPv4 or IPv6 address", v))?
                }
                "k8s_healthz_endpoint" => {
                    let endpoint = string(v, &p)?;
                    if !endpoint.starts_with('/') {
                        return Err(invalid(&p, "a URL path starting with /", v));
                    }
                    out.k8s_healthz_endpoint = endpoint;
                }
                "prometheus_metrics_enabled" => out.prometheus_metrics_enabled = boolean(v, &p)?,
                "ssl_enabled" => out.ssl_enabled = boolean(v, &p)?,
                "ssl_certificate" => out.ssl_certificate = path_buf(v, &p)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

/// `metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metrics {
    /// Default false.
    pub enabled: bool,
    /// How often snapshots are taken; at least 100 ms (default 1h: Falco's shipped value;
    /// its code default `"5000"` has no unit).
    pub interval: Duration,
    /// Emit `Falco internal: metrics snapshot` alerts (default false).
    pub output_rule: bool,
    /// JSON-lines file for snapshots (default none).
    pub output_file: Option<PathBuf>,
    /// Default true.
    pub rules_counters_enabled: bool,
    /// Default true.
    pub resource_utilization_enabled: bool,
    /// Default true.
    pub state_counters_enabled: bool,
    /// Default true.
    pub kernel_event_counters_enabled: bool,
    /// Default true (Falco's code default; shipped falco.yaml says false).
    pub kernel_event_counters_per_cpu_enabled: bool,
    /// Default true.
    pub libbpf_stats_enabled: bool,
    /// Default true (JSON snapshots only; Prometheus is always bytes).
    pub convert_memory_to_mb: bool,
    /// Default false.
    pub include_empty_values: bool,
    /// Peregrine: distinct values kept per workload-derived label (`container_name`,
    /// `rule`, `k8s_ns_name`, `k8s_pod_name`); later values are counted under `_overflow`.
    pub max_label_values: usize,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: false,
            interval: Duration::from_secs(3600),
            output_rule: false,
            output_file: None,
            rules_counters_enabled: true,
            resource_utilization_enabled: true,
            state_counters_enabled: true,
            kernel_event_counters_enabled: true,
            kernel_event_counters_per_cpu_enabled: true,
            libbpf_stats_enabled: true,
            convert_memory_to_mb: true,
            include_empty_values: false,
            max_label_values: 1000,
        }
    }
}

/// The shortest metrics interval Falco accepts.
pub const MIN_METRICS_INTERVAL: Duration = Duration::from_millis(100);

const METRICS_KEYS: &[&str] = &[
    "enabled",
    "interval",
    "output_rule",
    "output_file",
    "rules_counters_enabled",
    "resource_utilization_enabled",
    "state_counters_enabled",
    "kernel_event_counters_enabled",
    "kernel_event_counters_per_cpu_enabled",
    "libbpf_stats_enabled",
    "convert_memory_to_mb",
    "include_empty_values",
    "max_label_values",
];
const METRICS_IGNORED: &[Ignored] = &[
    ("plugins_metrics_enabled", "Peregrine has no plugins"),
    (
        "kernel_iter_event_counters_enabled",
        "Peregrine does not use BPF iterators",
    ),
    ("jemalloc_stats_enabled", "Peregrine does not use jemalloc"),
];

impl Metrics {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, METRICS_KEYS, METRICS_IGNORED)? {
            let v = &e.value;
            match e.key.as_str() {
                "interval" => out.interval = duration(v, &p, MIN_METRICS_INTERVAL)?,
                "output_file" => out.output_file = optional_path(v, &p)?,
                "max_label_values" => out.max_label_values = integer(v, &p, 1, 1_000_000)? as usize,
                key => {
                    let flag = boolean(v, &p)?;
                    match key {
                        "enabled" => out.enabled = flag,
                        "output_rule" => out.output_rule = flag,
                        "rules_counters_enabled" => out.rules_counters_enabled = flag,
                        "resource_utilization_enabled" => out.resource_utilization_enabled = flag,
                        "state_counters_enabled" => out.state_counters_enabled = flag,
                        "kernel_event_counters_enabled" => out.kernel_event_counters_enabled = flag,
                        "kernel_event_counters_per_cpu_enabled" => {
                            out.kernel_event_counters_per_cpu_enabled = flag
                        }
                        "libbpf_stats_enabled" => out.libbpf_stats_enabled = flag,
                        "convert_memory_to_mb" => out.convert_memory_to_mb = flag,
                        "include_empty_values" => out.include_empty_values = flag,
                        _ => {}
                    }
                }
            }
        }
        Ok(out)
    }
}
