//! Builders for kernel-shaped events (as the probes deliver them: exit events, `tid` and
//! `pid` set, no context attached), for tests and benchmarks here and downstream.

use crate::process::CLONE_THREAD;
use peregrine_event::{Event, EventType, ParamValue, SockAddr, SockTuple};

use ParamValue::{Absent, Int, Str, StrList, Tuple, Uint};

fn ev(etype: EventType, ts: u64, tid: i64, pid: i64, params: Vec<ParamValue>) -> Event {
    let mut e = Event::new(etype, ts, tid, params);
    e.pid = pid;
    e
}

fn s(v: &str) -> ParamValue {
    Str(v.to_string())
}

fn list(v: &[&str]) -> ParamValue {
    StrList(v.iter().map(|a| a.to_string()).collect())
}

/// A new process `child` forked by process `ptid` (reported for the child, as
/// sched_process_fork does: exe/args/cwd absent).
pub fn fork(ts: u64, child: i64, ptid: i64, comm: &str) -> Event {
    clone_event(ts, child, child, ptid, comm, 0x11 /* SIGCHLD */)
}

/// A new thread `tid` of process `tgid`.
pub fn thread(ts: u64, tid: i64, tgid: i64, comm: &str) -> Event {
    clone_event(
        ts,
        tid,
        tgid,
        tgid,
        comm,
        CLONE_THREAD | 0x100 | 0x200 | 0x400 | 0x800,
    )
}

fn clone_event(ts: u64, tid: i64, tgid: i64, ptid: i64, comm: &str, flags: u64) -> Event {
    ev(
        EventType::CLONE,
        ts,
        tid,
        tgid,
        vec![
            Int(0),
            Absent,
            Absent,
            Int(tid),
            Int(tgid),
            Int(ptid),
            Absent,
            s(comm),
            Uint(flags),
            Uint(0),
            Uint(0),
            Int(tid),
            Int(tgid),
        ],
    )
}

/// Everything a successful exec reports; [`Exec::new`] fills the usual defaults.
#[derive(Clone, Debug)]
pub struct Exec {
    pub pid: i64,
    pub ptid: i64,
    /// argv[0].
    pub exe: String,
    pub args: Vec<String>,
    /// Absolute path of the image (`trusted_exepath`).
    pub exepath: String,
    pub cwd: Option<String>,
    pub comm: String,
    pub cgroups: Vec<String>,
    pub env: Vec<String>,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    pub tty: u32,
}

impl Exec {
    /// `exepath` run as `argv`, by root on the host; comm is the file name.
    pub fn new(pid: i64, ptid: i64, exepath: &str, argv: &[&str]) -> Exec {
        let comm: String = exepath
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .chars()
            .take(15)
            .collect();
        Exec {
            pid,
            ptid,
            exe: argv.first().copied().unwrap_or(exepath).to_string(),
            args: argv.iter().skip(1).map(|a| a.to_string()).collect(),
            exepath: exepath.to_string(),
            cwd: None,
            comm,
            cgroups: vec!["cpuset=/".into(), "memory=/".into()],
            env: Vec::new(),
            uid: 0,
            gid: 0,
            loginuid: u32::MAX,
            tty: 0,
        }
    }

    pub fn cwd(mut self, cwd: &str) -> Exec {
        self.cwd = Some(cwd.to_string());
        self
    }

    pub fn cgroups(mut self, cgroups: &[&str]) -> Exec {
        self.cgroups = cgroups.iter().map(|c| c.to_string()).collect();
        self
    }

    pub fn user(mut self, uid: u32, gid: u32) -> Exec {
        self.uid = uid;
        self.gid = gid;
        self
    }

    pub fn event(&self, ts: u64) -> Event {
        let strs = |v: &[String]| StrList(v.into());
        ev(
            EventType::EXECVE,
            ts,
            self.pid,
            self.pid,
            vec![
                Int(0),
                s(&self.exe),
                strs(&self.args),
                Int(self.pid),
                Int(self.pid),
                Int(self.ptid),
                self.cwd.as_deref().map_or(Absent, s),
                s(&self.comm),
                strs(&self.cgroups),
                if self.env.is_empty() {
                    Absent
                } else {
                    strs(&self.env)
                },
                Uint(self.tty.into()),
                Int(self.pid),
                Uint(self.loginuid.into()),
                Uint(0),
                Uint(0),
                Uint(0x1ff_ffff_ffff),
                Uint(0x1ff_ffff_ffff),
                Uint(1234),
                Uint(1_600_000_000_000_000_000),
                Uint(1_600_000_000_000_000_000),
                Uint(self.uid.into()),
                s(&self.exepath),
                Int(self.pid),
                Uint(self.gid.into()),
                s(&self.exepath),
            ],
        )
    }
}

/// A failed exec: only `res` and `filename`.
pub fn failed_exec(ts: u64, pid: i64, filename: &str, errno: i64) -> Event {
    let mut params = vec![Absent; 25];
    params[0] = Int(-errno);
    params[24] = s(filename);
    ev(EventType::EXECVE, ts, pid, pid, params)
}

/// `openat(dirfd, name, flags) = fd`.
pub fn openat(ts: u64, tid: i64, pid: i64, dirfd: i64, name: &str, flags: u64, fd: i64) -> Event {
    ev(
        EventType::OPENAT,
        ts,
        tid,
        pid,
        vec![
            Int(fd),
            Int(dirfd),
            s(name),
            Uint(flags),
            Uint(0),
            Uint(0),
            Uint(0),
        ],
    )
}

/// `open(name, flags) = fd`.
pub fn open(ts: u64, tid: i64, pid: i64, name: &str, flags: u64, fd: i64) -> Event {
    ev(
        EventType::OPEN,
        ts,
        tid,
        pid,
        vec![Int(fd), s(name), Uint(flags), Uint(0), Uint(0), Uint(0)],
    )
}

pub fn close(ts: u64, tid: i64, pid: i64, fd: i64) -> Event {
    ev(EventType::CLOSE, ts, tid, pid, vec![Int(0), Int(fd)])
}

/// `dup2(oldfd, newfd) = newfd`.
pub fn dup2(ts: u64, tid: i64, pid: i64, oldfd: i64, newfd: i64) -> Event {
    ev(
        EventType::DUP2,
        ts,
        tid,
        pid,
        vec![Int(newfd), Int(oldfd), Int(newfd)],
    )
}

/// `socket(domain, type, 0) = fd`.
pub fn socket(ts: u64, tid: i64, pid: i64, domain: u64, stype: u64, fd: i64) -> Event {
    ev(
        EventType::SOCKET,
        ts,
        tid,
        pid,
        vec![Int(fd), Uint(domain), Uint(stype), Uint(0), Uint(0)],
    )
}

/// `connect(fd, addr) = res` with the kernel's tuple (local → remote).
pub fn connect(ts: u64, tid: i64, pid: i64, fd: i64, tuple: SockTuple, res: i64) -> Event {
    let addr = match &tuple {
        SockTuple::Inet { dip, dport, .. } => ParamValue::Addr(SockAddr::Inet {
            ip: *dip,
            port: *dport,
        }),
        SockTuple::Unix { path, .. } => ParamValue::Addr(SockAddr::Unix { path: path.clone() }),
    };
    ev(
        EventType::CONNECT,
        ts,
        tid,
        pid,
        vec![Int(res), Tuple(tuple), Int(fd), addr],
    )
}

/// `accept4(…) = fd` with the tuple (remote client → local server).
pub fn accept(ts: u64, tid: i64, pid: i64, fd: i64, tuple: SockTuple) -> Event {
    ev(
        EventType::ACCEPT4,
        ts,
        tid,
        pid,
        vec![Int(fd), Tuple(tuple), Uint(0), Uint(0), Uint(128), Uint(0)],
    )
}

/// The exit of thread `tid` of process `pid`; `reaper` is who inherits its children.
pub fn procexit(ts: u64, tid: i64, pid: i64, reaper: i64) -> Event {
    ev(
        EventType::PROCEXIT,
        ts,
        tid,
        pid,
        vec![Int(0), Int(0), Uint(0), Uint(0), Int(reaper)],
    )
}

pub fn setuid(ts: u64, tid: i64, pid: i64, uid: u32) -> Event {
    ev(
        EventType::SETUID,
        ts,
        tid,
        pid,
        vec![Int(0), Uint(uid.into())],
    )
}

pub fn chdir(ts: u64, tid: i64, pid: i64, path: &str) -> Event {
    ev(EventType::CHDIR, ts, tid, pid, vec![Int(0), s(path)])
}

/// An event that touches neither process nor fd state (a `mkdir`), to read the context.
pub fn touch(ts: u64, tid: i64, pid: i64) -> Event {
    ev(
        EventType::MKDIR,
        ts,
        tid,
        pid,
        vec![Int(0), s("/tmp/x"), Uint(0o755)],
    )
}

/// A `StrList` parameter, for hand-built events.
pub fn str_list(v: &[&str]) -> ParamValue {
    list(v)
}
