//! Facts about this host that alerts carry.

use std::sync::Arc;

/// `FALCO_HOSTNAME` when set (as Falco does), else the kernel's host name.
pub fn hostname() -> Arc<str> {
    if let Ok(h) = std::env::var("FALCO_HOSTNAME") {
        if !h.is_empty() {
            return h.into();
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
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
