//! What the host says about a process or a file, read independently of the agent: from
//! /proc, stat(2) and the passwd/group databases (libc).

use std::ffi::{CStr, CString};
use std::os::unix::fs::MetadataExt;

/// One process as /proc shows it now.
#[derive(Clone, Debug)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub tty_nr: u64,
    pub comm: String,
    /// argv as the process has it.
    pub argv: Vec<String>,
    /// /proc/PID/exe resolved.
    pub exepath: String,
    pub cwd: String,
    pub env: Vec<String>,
    pub loginuid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cap_eff: u64,
    pub cap_prm: u64,
    /// Start time since the epoch, ns (clock-tick resolution).
    pub start_ns: u64,
}

impl Proc {
    pub fn read(pid: u32) -> Proc {
        let dir = format!("/proc/{pid}");
        let stat = std::fs::read_to_string(format!("{dir}/stat")).unwrap();
        // The comm may hold spaces and parentheses: fields follow the last ')'.
        let close = stat.rfind(')').unwrap();
        let comm = stat[stat.find('(').unwrap() + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        let field = |n: usize| rest[n - 3].parse::<u64>().unwrap();
        let status = std::fs::read_to_string(format!("{dir}/status")).unwrap();
        let line = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap()
                .trim()
                .to_string()
        };
        let first = |key: &str| line(key).split_whitespace().next().unwrap().to_string();
        let hex = |key: &str| u64::from_str_radix(&line(key), 16).unwrap();
        // Some of pid 1's links and lists are unreadable even for root on this machine
        // kind: empty then (the checks read them only for the test's own processes).
        let nul_list = |name: &str| -> Vec<String> {
            std::fs::read(format!("{dir}/{name}"))
                .unwrap_or_default()
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        };
        let link = |name: &str| {
            std::fs::read_link(format!("{dir}/{name}"))
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        };
        Proc {
            pid,
            ppid: field(4) as u32,
            pgid: field(5) as u32,
            sid: field(6) as u32,
            tty_nr: field(7),
            comm,
            argv: nul_list("cmdline"),
            exepath: link("exe"),
            cwd: link("cwd"),
            env: nul_list("environ"),
            loginuid: std::fs::read_to_string(format!("{dir}/loginuid"))
                .unwrap()
                .trim()
                .parse()
                .unwrap(),
            uid: first("Uid:").parse().unwrap(),
            gid: first("Gid:").parse().unwrap(),
            cap_eff: hex("CapEff:"),
            cap_prm: hex("CapPrm:"),
            start_ns: boot_time_ns() + field(22) * 1_000_000_000 / clock_ticks(),
        }
    }

    /// Falco's `proc.cmdline`: the name, then the arguments.
    pub fn cmdline(&self) -> String {
        std::iter::once(self.comm.clone())
            .chain(self.argv.iter().skip(1).cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The ancestors of `pid` (parent first) as /proc shows them now, up to pid 1.
pub fn ancestors(pid: u32) -> Vec<Proc> {
    let mut out = Vec::new();
    let mut cur = Proc::read(pid).ppid;
    while cur != 0 {
        let p = Proc::read(cur);
        cur = p.ppid;
        out.push(p);
    }
    out
}

fn boot_time_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    btime * 1_000_000_000
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as u64 }
}

/// ctime and mtime of a file, ns since the epoch.
pub fn ctime_mtime_ns(path: &str) -> (u64, u64) {
    let m = std::fs::metadata(path).unwrap();
    let ns = |s: i64, n: i64| s as u64 * 1_000_000_000 + n as u64;
    (ns(m.ctime(), m.ctime_nsec()), ns(m.mtime(), m.mtime_nsec()))
}

/// The user name of `uid` in this host's passwd database.
pub fn user_name(uid: u32) -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; copied at once.
    unsafe {
        let pw = libc::getpwuid(uid);
        (!pw.is_null()).then(|| CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned())
    }
}

/// The group name of `gid` in this host's group database.
pub fn group_name(gid: u32) -> Option<String> {
    // SAFETY: as `user_name`.
    unsafe {
        let gr = libc::getgrgid(gid);
        (!gr.is_null()).then(|| CStr::from_ptr((*gr).gr_name).to_string_lossy().into_owned())
    }
}

/// Linux capability names by bit (include/uapi/linux/capability.h). Written out here rather
/// than taken from the rules crate: the expected values must not come from the code tested.
const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The names of the capabilities set in `mask`, in bit order.
pub fn cap_names(mask: u64) -> Vec<&'static str> {
    CAPS.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// The kernel's `tty_nr` encoding of a character device (`new_encode_dev`).
pub fn tty_nr(rdev: u64) -> u64 {
    let (major, minor) = (libc::major(rdev) as u64, libc::minor(rdev) as u64);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

pub fn cstring(s: &str) -> CString {
    CString::new(s).unwrap()
}
