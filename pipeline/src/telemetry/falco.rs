//! Falco's own metric set (`falcosecurity_*`): facts about the agent and the host, set at
//! start and on reload, and resource use, refreshed on every supervisor tick. Kernel and
//! state counters are exported where their source lives (the kernel source and the
//! enrichment stage), from the same numbers as Peregrine's own counters.

use peregrine_config::{Config, RulesSourceSpec};
use std::path::Path;
use std::time::Instant;

/// Which event source feeds the agent, in Falco's `engine_name` words.
pub fn engine_name(source: &str) -> &'static str {
    match source {
        "kernel" => "modern_bpf",
        "replay" => "savefile",
        _ => "nodriver",
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// (file name, sha256) of every rules file the config loads, embedded ones included.
pub fn rules_file_hashes(cfg: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    for s in cfg.rules_sources() {
        match s {
            RulesSourceSpec::Path(p) => paths.push(p),
            RulesSourceSpec::Embedded => out.push((
                "default_rules.yaml".to_string(),
                sha256_hex(peregrine_config::DEFAULT_RULES.as_bytes()),
            )),
        }
    }
    for f in peregrine_rules::loader::rules_files(&paths).files {
        out.extend(file_hash(&f));
    }
    out
}

/// (file name, sha256): the name without its directory, as Falco labels it.
fn file_hash(path: &Path) -> Option<(String, String)> {
    let bytes = std::fs::read(path).ok()?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Some((name, sha256_hex(&bytes)))
}

/// Sets the facts that change only on a reload: rules and config file hashes. A file or
/// hash no longer loaded keeps its series at 0 (the registry cannot drop a series).
pub fn export_files(cfg: &Config) {
    static LAST: std::sync::Mutex<Vec<(&'static str, String, String)>> =
        std::sync::Mutex::new(Vec::new());
    let mut now: Vec<(&'static str, String, String)> = rules_file_hashes(cfg)
        .into_iter()
        .map(|(n, h)| ("falcosecurity_falco_sha256_rules_files_info", n, h))
        .collect();
    now.extend(
        cfg.files()
            .iter()
            .filter_map(|f| file_hash(f))
            .map(|(n, h)| ("falcosecurity_falco_sha256_config_files_info", n, h)),
    );
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    for gone in last.iter().filter(|e| !now.contains(e)) {
        metrics::gauge!(gone.0, "file_name" => gone.1.clone(), "sha256" => gone.2.clone()).set(0.0);
    }
    for (metric, name, sha) in &now {
        metrics::gauge!(*metric, "file_name" => name.clone(), "sha256" => sha.clone()).set(1.0);
    }
    *last = now;
}

/// Sets the facts fixed for the agent's life.
pub fn export_static(source: &str) {
    metrics::gauge!("falcosecurity_falco_version_info", "version" => env!("CARGO_PKG_VERSION"))
        .set(1.0);
    let release = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default();
    metrics::gauge!("falcosecurity_falco_kernel_release_info", "kernel_release" => release)
        .set(1.0);
    metrics::gauge!("falcosecurity_evt_hostname_info", "hostname" => crate::hostinfo::hostname().to_string())
        .set(1.0);
    metrics::gauge!("falcosecurity_scap_engine_name_info", "engine_name" => engine_name(source), "evt_source" => "syscall")
        .set(1.0);
    if let Some(btime) = proc_stat_field("btime") {
        metrics::gauge!("falcosecurity_falco_host_boot_timestamp_nanoseconds")
            .set(btime as f64 * 1e9);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    metrics::gauge!("falcosecurity_falco_host_num_cpus_total").set(cpus as f64);
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// A `name value` line of /proc/stat.
fn proc_stat_field(name: &str) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
}

/// A `Name:   N kB` line of a /proc status-like file, in bytes.
fn kb_field(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// The agent's and the host's resource use, as rates between two ticks.
pub struct Resources {
    started: Instant,
    last: Option<Sample>,
    ticks_per_sec: f64,
}

/// What the previous tick read: when, the agent's CPU ticks, the host's (busy, total).
struct Sample {
    at: Instant,
    cpu: u64,
    host: Option<(u64, u64)>,
}

impl Default for Resources {
    fn default() -> Self {
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        Resources {
            started: Instant::now(),
            last: None,
            ticks_per_sec: if hz > 0 { hz as f64 } else { 100.0 },
        }
    }
}

/// utime + stime of this process, in clock ticks.
fn own_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// (busy, total) jiffies of all CPUs of the host.
fn host_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Memory used by the agent's own cgroup (v2 `memory.current`, v1 `memory.usage_in_bytes`).
fn container_memory() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = if controllers.is_empty() {
            format!("/sys/fs/cgroup{path}/memory.current")
        } else if controllers.split(',').any(|c| c == "memory") {
            format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")
        } else {
            continue;
        };
        if let Some(v) = read_trimmed(&file).and_then(|s| s.parse().ok()) {
            return Some(v);
        }
    }
    None
}

/// Refreshes the gauges too costly to read every tick, just before the metrics are read
/// (a scrape, a metrics snapshot). PSS walks every page table of the agent: ~2 ms here.
pub fn refresh_before_read() {
    if !super::enabled(super::catalog::Switch::ResourceUtilization) {
        return;
    }
    if let Ok(rollup) = std::fs::read_to_string("/proc/self/smaps_rollup") {
        if let Some(pss) = kb_field(&rollup, "Pss") {
            metrics::gauge!("falcosecurity_falco_memory_pss_bytes").set(pss as f64);
        }
    }
}

impl Resources {
    /// Refreshes the resource gauges (`metrics.resource_utilization_enabled`) and the
    /// agent's running time.
    pub fn export(&mut self, utilization: bool) {
        if !super::enabled(super::catalog::Switch::Always) {
            return;
        }
        metrics::counter!("falcosecurity_falco_duration_seconds_total")
            .absolute(self.started.elapsed().as_secs());
        if !utilization {
            return;
        }
        let now = Instant::now();
        let (cpu, host) = (own_cpu_ticks().unwrap_or(0), host_cpu());
        if let Some(Sample {
            at: then,
            cpu: cpu0,
            host: host0,
        }) = self.last.take()
        {
            let wall = now.duration_since(then).as_secs_f64();
            if wall > 0.0 {
                let used = cpu.saturating_sub(cpu0) as f64 / self.ticks_per_sec;
                metrics::gauge!("falcosecurity_falco_cpu_usage_ratio").set(used / wall);
            }
            if let (Some((b1, t1)), Some((b0, t0))) = (host, host0) {
                if t1 > t0 {
                    let ratio = b1.saturating_sub(b0) as f64 / (t1 - t0) as f64;
                    metrics::gauge!("falcosecurity_falco_host_cpu_usage_ratio").set(ratio);
                }
            }
        }
        self.last = Some(Sample { at: now, cpu, host });
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            if let Some(rss) = kb_field(&status, "VmRSS") {
                metrics::gauge!("falcosecurity_falco_memory_rss_bytes").set(rss as f64);
            }
            if let Some(vsz) = kb_field(&status, "VmSize") {
                metrics::gauge!("falcosecurity_falco_memory_vsz_bytes").set(vsz as f64);
            }
        }
        if let Some(used) = container_memory() {
            metrics::gauge!("falcosecurity_falco_container_memory_used_bytes").set(used as f64);
        }
        if let Ok(meminfo) = std::fs::read_to_string("/proc/meminfo") {
            if let (Some(total), Some(avail)) = (
                kb_field(&meminfo, "MemTotal"),
                kb_field(&meminfo, "MemAvailable"),
            ) {
                metrics::gauge!("falcosecurity_falco_host_memory_used_bytes")
                    .set(total.saturating_sub(avail) as f64);
            }
        }
        if let Some(n) = proc_stat_field("procs_running") {
            metrics::gauge!("falcosecurity_falco_host_procs_running_total").set(n as f64);
        }
        if let Some(open) = read_trimmed("/proc/sys/fs/file-nr")
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            metrics::gauge!("falcosecurity_falco_host_open_fds_total").set(open as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn proc_readers_find_this_process() {
        assert!(own_cpu_ticks().is_some());
        let (busy, total) = host_cpu().unwrap();
        assert!(busy <= total && total > 0);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(kb_field(&status, "VmRSS").unwrap() > 0);
        assert!(proc_stat_field("btime").unwrap() > 1_000_000_000);
    }
}
