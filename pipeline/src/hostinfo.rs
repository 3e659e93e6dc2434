//! Facts about this host that alerts carry, and where the host's files are when the agent
//! runs in a container (`HOST_ROOT`, as in Falco's chart: the host's `/proc`, `/etc` and
//! runtime sockets mounted under `/host`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `HOST_ROOT` when set and not empty: the folder the host's files are mounted under.
pub fn host_root() -> Option<PathBuf> {
    std::env::var_os("HOST_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `path` of the host, seen from here: under `HOST_ROOT` when that has it, else as is.
pub fn host_path(path: &Path) -> PathBuf {
    match host_root() {
        Some(root) => {
            let under = root.join(path.strip_prefix("/").unwrap_or(path));
            if under.exists() {
                under
            } else {
                path.to_path_buf()
            }
        }
        None => path.to_path_buf(),
    }
}

/// Each path under `HOST_ROOT` first, then as given (a socket may be mounted at either).
pub fn host_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    let Some(root) = host_root() else {
        return paths.to_vec();
    };
    let mut out: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_absolute() && !p.starts_with(&root))
        .map(|p| root.join(p.strip_prefix("/").unwrap_or(p)))
        .collect();
    out.extend(paths.iter().cloned());
    out
}

/// `FALCO_HOSTNAME` when set (as Falco does), else the host's name: from `HOST_ROOT`'s
/// `etc/hostname` in a container (the container's own UTS name is not the node's), else
/// the kernel's.
pub fn hostname() -> Arc<str> {
    if let Ok(h) = std::env::var("FALCO_HOSTNAME") {
        if !h.is_empty() {
            return h.into();
        }
    }
    let from_host_etc =
        host_root().and_then(|r| std::fs::read_to_string(r.join("etc/hostname")).ok());
    from_host_etc
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
        .into()
}

/// The local time zone's offset east of UTC, in seconds, for `HH:MM:SS` alert prefixes.
pub fn utc_offset_secs() -> i64 {
    // SAFETY: `time` and `localtime_r` only write into the locals passed to them.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff
    }
}

/// The kernel's BTF: `/sys/kernel/btf/vmlinux`, or the host's under `HOST_ROOT` when this
/// container's sysfs does not show it.
pub fn host_btf() -> PathBuf {
    let own = Path::new("/sys/kernel/btf/vmlinux");
    if own.exists() {
        return own.to_path_buf();
    }
    host_path(own)
}
