//! What a result must say about where and with what it ran: the machine, the files' hashes,
//! and the process's own CPU and memory over time.

use crate::result::{FileId, Machine};
use std::path::Path;

pub fn machine() -> Machine {
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib * 1024);
    Machine {
        hostname: read_trim("/proc/sys/kernel/hostname"),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        kernel: read_trim("/proc/sys/kernel/osrelease"),
        memory_bytes,
    }
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A file's path, SHA-256 and size; a folder's files, each (in name order).
pub fn file_ids(path: &Path) -> std::io::Result<Vec<FileId>> {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        return entries.iter().map(|p| file_id(p)).collect();
    }
    Ok(vec![file_id(path)?])
}

pub fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        ctx.update(&buf[..n]);
    }
    let sha256 = ctx
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(FileId {
        path: path.display().to_string(),
        sha256,
        bytes,
    })
}

/// CPU time (user + system, seconds) and RSS (bytes) of a process, from `/proc/PID/stat`.
pub fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let rss_pages = f.get(21)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let (hz, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as f64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
        )
    };
    Some((ticks as f64 / hz, rss_pages * page))
}

/// CPU cores used between two readings.
pub struct CpuMeter {
    pid: u32,
    last: Option<(std::time::Instant, f64)>,
}

impl CpuMeter {
    pub fn new(pid: u32) -> CpuMeter {
        CpuMeter {
            pid,
            last: usage(pid).map(|(cpu, _)| (std::time::Instant::now(), cpu)),
        }
    }

    /// (cores since the last reading, RSS bytes now).
    pub fn read(&mut self) -> (f64, u64) {
        let Some((cpu, rss)) = usage(self.pid) else {
            return (0.0, 0);
        };
        let now = std::time::Instant::now();
        let cores = match self.last {
            Some((t, c)) => {
                let secs = now.duration_since(t).as_secs_f64();
                if secs > 0.0 {
                    (cpu - c) / secs
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, cpu));
        (cores, rss)
    }
}

/// RFC 3339 (UTC, seconds) of now.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_usage_is_read() {
        let (cpu, rss) = usage(std::process::id()).unwrap();
        assert!(cpu >= 0.0 && rss > 0);
    }

    #[test]
    fn hashes_a_file() {
        let dir = std::env::temp_dir().join(format!("lt-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), b"abc").unwrap();
        let ids = file_ids(&dir).unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(
            ids[0].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ids[0].bytes, 3);
    }

    #[test]
    fn dates() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 20);
        assert!(s.starts_with("20"));
    }
}
