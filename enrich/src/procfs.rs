//! Reading processes, their fds and the socket tables from `/proc`.
//!
//! Parsers are pure functions over the file contents (tested with odd input); the reader
//! does the I/O under a configurable root so tests can point it at a fake tree. Every
//! read may race with the process exiting: errors come back as values, never panics.

use crate::container::{self, Runtime};
use crate::error::{Error, Result};
use crate::fdtable;
use peregrine_event::{FdInfo, FdKind, L4Proto, SockTuple, SocketRole};
use rustc_hash::{FxHashMap, FxHashSet};
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `/proc/<pid>` says about one process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcRecord {
    pub pid: i64,
    pub ppid: i64,
    pub comm: String,
    /// argv[0]; the comm for kernel threads (which have no command line).
    pub exe: String,
    pub args: Vec<String>,
    /// `/proc/<pid>/exe` target; empty when unreadable (kernel threads, no permission).
    pub exepath: String,
    pub cwd: String,
    pub env: Vec<String>,
    pub tty: u32,
    pub sid: i64,
    pub pgid: i64,
    pub vpid: i64,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// Epoch ns.
    pub start_ts: u64,
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub exe_from_memfd: bool,
    pub container: Option<(Runtime, String)>,
    /// Inode of the network namespace, for the socket tables; 0 when unknown.
    pub netns: u64,
}

/// The fields of `/proc/<pid>/stat` the tables use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub comm: String,
    pub ppid: i64,
    pub pgrp: i64,
    pub session: i64,
    pub tty_nr: u32,
    /// Clock ticks after boot.
    pub starttime: u64,
}

/// `/proc/<pid>/stat`. The comm sits in parentheses and may itself contain spaces and
/// parentheses, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let num = |i: usize| rest.get(i).and_then(|v| v.parse::<i64>().ok());
    Some(Stat {
        comm,
        ppid: num(1)?,
        pgrp: num(2).unwrap_or(0),
        session: num(3).unwrap_or(0),
        tty_nr: num(4).unwrap_or(0) as u32,
        starttime: rest.get(19).and_then(|v| v.parse().ok()).unwrap_or(0),
    })
}

/// The fields of `/proc/<pid>/status` the tables use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub tgid: i64,
    pub ppid: i64,
    /// Effective ids, as Falco reports them.
    pub uid: u32,
    pub gid: u32,
    /// The innermost pid namespace's view of the process's pid.
    pub vpid: i64,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
}

pub fn parse_status(text: &str) -> Status {
    let mut st = Status {
        vpid: -1,
        ..Default::default()
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let mut words = value.split_whitespace();
        match key {
            "Tgid" => st.tgid = words.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "PPid" => st.ppid = words.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "Uid" => st.uid = words.nth(1).and_then(|v| v.parse().ok()).unwrap_or(0),
            "Gid" => st.gid = words.nth(1).and_then(|v| v.parse().ok()).unwrap_or(0),
            "NSpid" => st.vpid = words.last().and_then(|v| v.parse().ok()).unwrap_or(-1),
            "CapInh" => st.cap_inheritable = hex(words.next()),
            "CapPrm" => st.cap_permitted = hex(words.next()),
            "CapEff" => st.cap_effective = hex(words.next()),
            _ => {}
        }
    }
    st
}

fn hex(v: Option<&str>) -> u64 {
    v.and_then(|v| u64::from_str_radix(v, 16).ok()).unwrap_or(0)
}

/// NUL-separated strings (`cmdline`, `environ`); a trailing NUL ends the list.
pub fn parse_nul_list(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|b| *b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// One socket from `/proc/net/{tcp,tcp6,udp,udp6}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetSocket {
    pub inode: u64,
    pub proto: L4Proto,
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub listening: bool,
}

/// An address as the kernel prints it in the socket tables: 32-bit words in host order.
fn parse_net_addr(text: &str) -> Option<(IpAddr, u16)> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_le_bytes);
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(ip.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// `/proc/net/tcp` and friends; lines that do not parse are skipped.
pub fn parse_net_inet(text: &str, proto: L4Proto) -> Vec<InetSocket> {
    const TCP_LISTEN: &str = "0A";
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = parse_net_addr(f.get(1)?)?;
            let remote = parse_net_addr(f.get(2)?)?;
            let inode = f.get(9)?.parse().ok()?;
            let listening = match proto {
                L4Proto::Tcp => *f.get(3)? == TCP_LISTEN,
                _ => remote.1 == 0 && local.1 != 0,
            };
            Some(InetSocket {
                inode,
                proto,
                local,
                remote,
                listening,
            })
        })
        .collect()
}

/// `/proc/net/unix`: inode → (kernel address, path).
pub fn parse_net_unix(text: &str) -> Vec<(u64, u64, String)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let addr = u64::from_str_radix(f.first()?.trim_end_matches(':'), 16).ok()?;
            let inode = f.get(6)?.parse().ok()?;
            let path = f.get(7).map(|p| p.to_string()).unwrap_or_default();
            Some((inode, addr, path))
        })
        .collect()
}

/// Sockets of one network namespace by inode, ready to describe fds.
#[derive(Clone, Debug, Default)]
pub struct SocketMap {
    by_inode: FxHashMap<u64, FdInfo>,
}

impl SocketMap {
    pub fn from_tables(inet: &[InetSocket], unix: &[(u64, u64, String)]) -> SocketMap {
        // A connected socket whose local port is one we listen on is the server end.
        let listening: FxHashSet<(L4Proto, u16)> = inet
            .iter()
            .filter(|s| s.listening)
            .map(|s| (s.proto, s.local.1))
            .collect();
        let mut by_inode = FxHashMap::default();
        for s in inet {
            let kind = if s.local.0.is_ipv4() {
                FdKind::Ipv4
            } else {
                FdKind::Ipv6
            };
            let (tuple, role, name) = if s.listening {
                let tuple = SockTuple::Inet {
                    proto: s.proto,
                    sip: s.remote.0,
                    sport: 0,
                    dip: s.local.0,
                    dport: s.local.1,
                };
                (
                    tuple,
                    SocketRole::Server,
                    format!("{}", SockAddrText(s.local)),
                )
            } else {
                let server = listening.contains(&(s.proto, s.local.1));
                let ((cip, cport), (sip, sport)) = if server {
                    (s.remote, s.local)
                } else {
                    (s.local, s.remote)
                };
                let tuple = SockTuple::Inet {
                    proto: s.proto,
                    sip: cip,
                    sport: cport,
                    dip: sip,
                    dport: sport,
                };
                let role = if server {
                    SocketRole::Server
                } else {
                    SocketRole::Client
                };
                let name = tuple.to_string();
                (tuple, role, name)
            };
            by_inode.insert(
                s.inode,
                FdInfo {
                    kind,
                    name,
                    l4proto: Some(s.proto),
                    connected: !s.listening,
                    tuple: Some(tuple),
                    role,
                    ino: s.inode,
                    ..Default::default()
                },
            );
        }
        for (inode, addr, path) in unix {
            let tuple = SockTuple::Unix {
                source: *addr,
                dest: 0,
                path: path.clone(),
            };
            by_inode.insert(
                *inode,
                FdInfo {
                    kind: FdKind::Unix,
                    name: tuple.to_string(),
                    tuple: Some(tuple),
                    ino: *inode,
                    ..Default::default()
                },
            );
        }
        SocketMap { by_inode }
    }

    pub fn get(&self, inode: u64) -> Option<&FdInfo> {
        self.by_inode.get(&inode)
    }

    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }
}

struct SockAddrText((IpAddr, u16));

impl std::fmt::Display for SockAddrText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0 .0, self.0 .1)
    }
}

/// The inode in a `socket:[123]` link.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Reads processes under a `/proc` root.
#[derive(Clone, Debug)]
pub struct ProcReader {
    root: PathBuf,
    boot_ns: u64,
    tick_ns: u64,
}

impl ProcReader {
    pub fn new(root: impl Into<PathBuf>) -> ProcReader {
        let root = root.into();
        let boot_ns = fs::read_to_string(root.join("stat"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .map(|s| s * 1_000_000_000)
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions; it only reads a constant.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let tick_ns = if ticks > 0 {
            1_000_000_000 / ticks as u64
        } else {
            10_000_000
        };
        ProcReader {
            root,
            boot_ns,
            tick_ns,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn pid_dir(&self, pid: i64) -> PathBuf {
        self.root.join(pid.to_string())
    }

    /// Every numeric entry of the root: the thread-group ids.
    pub fn list_pids(&self) -> Result<Vec<i64>> {
        let dir = fs::read_dir(&self.root).map_err(|e| Error::read(&self.root, e))?;
        let mut pids: Vec<i64> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|pid: &i64| *pid > 0)
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// The thread-group id of any task id (thread ids are reachable under `/proc` too).
    pub fn tgid_of(&self, tid: i64) -> Result<i64> {
        let path = self.pid_dir(tid).join("status");
        let text = fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        match parse_status(&text).tgid {
            0 => Err(Error::parse(path, "no Tgid line")),
            tgid => Ok(tgid),
        }
    }

    /// One process. `stat` is required (without it the process is gone); everything else
    /// is best effort and left empty when unreadable.
    pub fn read_process(&self, pid: i64, with_env: bool) -> Result<ProcRecord> {
        let dir = self.pid_dir(pid);
        let stat_path = dir.join("stat");
        // Lossy: a comm set with prctl may hold any bytes.
        let stat_text = fs::read(&stat_path).map_err(|e| Error::read(&stat_path, e))?;
        let stat_text = String::from_utf8_lossy(&stat_text);
        let stat =
            parse_stat(&stat_text).ok_or_else(|| Error::parse(&stat_path, "no comm or ppid"))?;
        let status = read_lossy(&dir.join("status"))
            .map(|t| parse_status(&t))
            .unwrap_or_default();
        let mut argv = fs::read(dir.join("cmdline"))
            .map(|b| parse_nul_list(&b))
            .unwrap_or_default();
        let exe = if argv.is_empty() {
            stat.comm.clone()
        } else {
            argv.remove(0)
        };
        let link = |name: &str| {
            fs::read_link(dir.join(name))
                .ok()
                .map(|p| p.to_string_lossy().into_owned())
        };
        let mut exepath = link("exe").unwrap_or_default();
        let exe_from_memfd = exepath.starts_with("/memfd:");
        if let Some(stripped) = exepath.strip_suffix(" (deleted)") {
            exepath = stripped.to_string();
        }
        let (exe_ino, exe_ino_ctime, exe_ino_mtime) = fs::metadata(dir.join("exe"))
            .map(|m| {
                (
                    m.ino(),
                    ns(m.ctime(), m.ctime_nsec()),
                    ns(m.mtime(), m.mtime_nsec()),
                )
            })
            .unwrap_or_default();
        let env = if with_env {
            fs::read(dir.join("environ"))
                .map(|b| parse_nul_list(&b))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let cgroup = read_lossy(&dir.join("cgroup")).unwrap_or_default();
        let container = container::container_from_cgroups(cgroup.lines())
            .map(|c| (c.runtime, c.id.to_string()));
        let loginuid = fs::read_to_string(dir.join("loginuid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u32::MAX);
        let netns = link("ns/net")
            .as_deref()
            .and_then(|l| l.strip_prefix("net:["))
            .and_then(|l| l.strip_suffix(']'))
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        Ok(ProcRecord {
            pid,
            ppid: stat.ppid,
            comm: stat.comm,
            exe,
            args: argv,
            exepath,
            cwd: link("cwd").unwrap_or_default(),
            env,
            tty: stat.tty_nr,
            sid: stat.session,
            pgid: stat.pgrp,
            vpid: if status.vpid > 0 { status.vpid } else { pid },
            uid: status.uid,
            gid: status.gid,
            loginuid,
            cap_inheritable: status.cap_inheritable,
            cap_permitted: status.cap_permitted,
            cap_effective: status.cap_effective,
            start_ts: self.boot_ns + stat.starttime * self.tick_ns,
            exe_ino,
            exe_ino_ctime,
            exe_ino_mtime,
            exe_from_memfd,
            container,
            netns,
        })
    }

    /// The socket tables as `pid` sees them (its network namespace).
    pub fn read_sockets(&self, pid: i64) -> SocketMap {
        let net = self.pid_dir(pid).join("net");
        let read = |name: &str| fs::read_to_string(net.join(name)).unwrap_or_default();
        let mut inet = parse_net_inet(&read("tcp"), L4Proto::Tcp);
        inet.extend(parse_net_inet(&read("tcp6"), L4Proto::Tcp));
        inet.extend(parse_net_inet(&read("udp"), L4Proto::Udp));
        inet.extend(parse_net_inet(&read("udp6"), L4Proto::Udp));
        SocketMap::from_tables(&inet, &parse_net_unix(&read("unix")))
    }

    /// One fd of a process, described from its link (and `stat` for files).
    pub fn read_fd(&self, pid: i64, fd: i64, sockets: Option<&SocketMap>) -> Result<FdInfo> {
        let path = self.pid_dir(pid).join("fd").join(fd.to_string());
        let link = fs::read_link(&path).map_err(|e| Error::read(&path, e))?;
        let link = link.to_string_lossy();
        if let Some(inode) = socket_inode(&link) {
            let mut info = match sockets.and_then(|s| s.get(inode)) {
                Some(known) => known.clone(),
                None => FdInfo {
                    kind: FdKind::Unknown,
                    name: link.to_string(),
                    ino: inode,
                    ..Default::default()
                },
            };
            info.num = fd;
            return Ok(info);
        }
        let (mut kind, name) = fdtable::classify_link(&link);
        let (mut dev, mut ino) = (0, 0);
        if kind == FdKind::File {
            if let Ok(meta) = fs::metadata(&path) {
                if meta.is_dir() {
                    kind = FdKind::Directory;
                }
                dev = meta.dev();
                ino = meta.ino();
            }
        }
        Ok(FdInfo {
            num: fd,
            kind,
            nameraw: name.clone(),
            name,
            dev,
            ino,
            ..Default::default()
        })
    }

    /// Every fd of a process (at most `max`), skipping the ones that close while we read.
    pub fn read_fds(
        &self,
        pid: i64,
        sockets: Option<&SocketMap>,
        max: usize,
    ) -> Result<Vec<FdInfo>> {
        let dir = self.pid_dir(pid).join("fd");
        let entries = fs::read_dir(&dir).map_err(|e| Error::read(&dir, e))?;
        let mut fds: Vec<i64> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        fds.sort_unstable();
        fds.truncate(max);
        Ok(fds
            .into_iter()
            .filter_map(|fd| self.read_fd(pid, fd, sockets).ok())
            .collect())
    }
}

fn read_lossy(path: &Path) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn ns(secs: i64, nsecs: i64) -> u64 {
    (secs.max(0) as u64) * 1_000_000_000 + nsecs.max(0) as u64
}

/// Wall-clock now, epoch ns.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let text = "1234 (my (odd) proc) S 1 1234 1234 34816 1234 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 0 0";
        let st = parse_stat(text).unwrap();
        assert_eq!(st.comm, "my (odd) proc");
        assert_eq!(
            (st.ppid, st.pgrp, st.session, st.tty_nr, st.starttime),
            (1, 1234, 1234, 34816, 98765)
        );
        let kthread = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0";
        assert_eq!(parse_stat(kthread).unwrap().ppid, 0);
        for bad in ["", "12 comm S 1", "12 (x", "12 ) (x", "12 (x) S"] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn status_fields() {
        let text = "Name:\tcat\nTgid:\t11913\nPid:\t11913\nPPid:\t11907\nUid:\t1000\t0\t0\t0\nGid:\t5\t6\t6\t6\nNSpid:\t11913\t7\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n";
        let st = parse_status(text);
        assert_eq!(
            (st.tgid, st.ppid, st.uid, st.gid, st.vpid),
            (11913, 11907, 0, 6, 7)
        );
        assert_eq!(st.cap_permitted, 0x1ff_ffff_ffff);
        let empty = parse_status("garbage\nUid:\nCapEff:\tzz\n");
        assert_eq!((empty.uid, empty.cap_effective, empty.vpid), (0, 0, -1));
    }

    #[test]
    fn nul_lists() {
        assert_eq!(
            parse_nul_list(b"cat\0/etc/shadow\0"),
            ["cat", "/etc/shadow"]
        );
        assert_eq!(parse_nul_list(b"a\0\0b\0"), ["a", "", "b"]);
        assert!(parse_nul_list(b"").is_empty());
        assert!(parse_nul_list(b"\0").is_empty());
        assert_eq!(parse_nul_list(b"\xff\0"), ["\u{fffd}"]);
    }

    #[test]
    fn socket_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1\n\
   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1\n\
   garbage line\n";
        let socks = parse_net_inet(tcp, L4Proto::Tcp);
        assert_eq!(socks.len(), 3);
        assert_eq!(socks[0].local, ("127.0.0.1".parse().unwrap(), 8080));
        assert!(socks[0].listening && !socks[1].listening);
        let tcp6 = "hdr\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0 0 0 0 0 2001 1\n";
        let six = parse_net_inet(tcp6, L4Proto::Tcp);
        assert_eq!(six[0].local, ("::1".parse().unwrap(), 22));
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path\n\
ffff9b2a00000000: 00000002 00000000 00010000 0001 01 3001 /run/a.sock\n\
ffff9b2a00000400: 00000003 00000000 00000000 0001 03 3002\n";
        let u = parse_net_unix(unix);
        assert_eq!(
            u,
            vec![
                (3001, 0xffff9b2a00000000, "/run/a.sock".into()),
                (3002, 0xffff9b2a00000400, String::new())
            ]
        );

        let map = SocketMap::from_tables(&socks, &u);
        let listen = map.get(1001).unwrap();
        assert_eq!(
            (listen.name.as_str(), listen.role),
            ("127.0.0.1:8080", SocketRole::Server)
        );
        let server_end = map.get(1002).unwrap();
        assert_eq!(server_end.role, SocketRole::Server);
        assert_eq!(server_end.name, "127.0.0.1:40000->127.0.0.1:8080");
        let client_end = map.get(1003).unwrap();
        assert_eq!(client_end.role, SocketRole::Client);
        assert_eq!(client_end.name, "127.0.0.1:40000->127.0.0.1:8080");
        assert_eq!(map.get(3001).unwrap().kind, FdKind::Unix);
        assert!(map.get(9).is_none());
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode("socket:[123]"), Some(123));
        assert_eq!(socket_inode("socket:[x]"), None);
        assert_eq!(socket_inode("pipe:[1]"), None);
    }

    #[test]
    fn missing_process_is_an_error_not_a_panic() {
        let r = ProcReader::new("/nonexistent-proc-root");
        let err = r.read_process(1, true).unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(r.list_pids().is_err());
        assert!(r.read_fds(1, None, 10).is_err());
    }
}
