//! A process-table entry, and how its snapshot is built from a fork, an exec or `/proc`.
//!
//! The snapshot (`Arc<ProcessInfo>`) is immutable: every change builds a new one, so
//! events already enriched keep what was true when they happened.

use crate::container::Runtime;
use crate::fdtable::FdTable;
use crate::procfs::ProcRecord;
use peregrine_event::flags::exe;
use peregrine_event::{Event, ParamValue, ProcessInfo};
use std::sync::Arc;

/// Parameter positions in the exec and clone schemas (checked against the schemas in tests).
pub(crate) mod idx {
    pub mod exec {
        pub const EXE: usize = 1;
        pub const ARGS: usize = 2;
        pub const PID: usize = 4;
        pub const PTID: usize = 5;
        pub const CWD: usize = 6;
        pub const COMM: usize = 7;
        pub const CGROUPS: usize = 8;
        pub const ENV: usize = 9;
        pub const TTY: usize = 10;
        pub const VPGID: usize = 11;
        pub const LOGINUID: usize = 12;
        pub const FLAGS: usize = 13;
        pub const CAP_INHERITABLE: usize = 14;
        pub const CAP_PERMITTED: usize = 15;
        pub const CAP_EFFECTIVE: usize = 16;
        pub const EXE_INO: usize = 17;
        pub const EXE_INO_CTIME: usize = 18;
        pub const EXE_INO_MTIME: usize = 19;
        pub const UID: usize = 20;
        pub const TRUSTED_EXEPATH: usize = 21;
        pub const GID: usize = 23;
        pub const FILENAME: usize = 24;
    }
    pub mod clone {
        pub const EXE: usize = 1;
        pub const ARGS: usize = 2;
        pub const PTID: usize = 5;
        pub const CWD: usize = 6;
        pub const COMM: usize = 7;
        pub const FLAGS: usize = 8;
        pub const UID: usize = 9;
        pub const GID: usize = 10;
        pub const VTID: usize = 11;
        pub const VPID: usize = 12;
    }
}

/// The clone flag that makes the new task a thread of the caller's process.
pub(crate) const CLONE_THREAD: u64 = 0x10000;

/// Ancestor chains longer than this are cut (a fork chain thousands deep would otherwise
/// make every snapshot drop recurse that deep).
pub(crate) const MAX_DEPTH: usize = 512;

/// One thread group in the table.
#[derive(Debug)]
pub(crate) struct Process {
    /// The main thread's view (tid == pid).
    pub info: Arc<ProcessInfo>,
    pub fds: Arc<FdTable>,
    /// Full container id; `None` on the host.
    pub container: Option<Arc<str>>,
    /// The runtime the container's cgroup path names.
    pub runtime: Option<Runtime>,
    /// Live child processes (thread-group ids), to refresh their parent links.
    pub children: Vec<i64>,
    /// Known live threads other than the main one.
    pub threads: u32,
    pub leader_alive: bool,
    /// Set when the process exited (or its main thread did): when it was queued for removal.
    pub exit_ts: Option<u64>,
    /// Event time of the last event, for eviction.
    pub last_seen: u64,
    /// Bumped on every snapshot change; thread views built from an older one are stale.
    pub gen: u64,
    /// Bumped on exec: threads registered before it are gone.
    pub epoch: u32,
    /// Wall-clock time it was read from `/proc`; 0 when built from events.
    pub loaded_at: u64,
    /// fds that were not in `/proc/<pid>/fd` either (bounded), so they are not looked up again.
    pub missing_fds: Vec<i64>,
    /// Nothing but the ids is known (it was in neither the events nor `/proc`).
    pub minimal: bool,
}

impl Process {
    pub fn new(
        info: Arc<ProcessInfo>,
        fds: Arc<FdTable>,
        container: Option<Arc<str>>,
        ts: u64,
    ) -> Process {
        Process {
            info,
            fds,
            container,
            runtime: None,
            children: Vec::new(),
            threads: 0,
            leader_alive: true,
            exit_ts: None,
            last_seen: ts,
            gen: 0,
            epoch: 0,
            loaded_at: 0,
            missing_fds: Vec::new(),
            minimal: false,
        }
    }

    /// Replaces the snapshot.
    pub fn set_info(&mut self, info: ProcessInfo) {
        self.info = Arc::new(info);
        self.gen += 1;
    }

    pub fn pid(&self) -> i64 {
        self.info.pid
    }
}

pub(crate) fn param_i64(ev: &Event, i: usize) -> Option<i64> {
    ev.param(i).as_i64()
}

pub(crate) fn param_u64(ev: &Event, i: usize) -> Option<u64> {
    ev.param(i).as_u64()
}

pub(crate) fn param_str(ev: &Event, i: usize) -> Option<&str> {
    ev.param(i).as_str().filter(|s| !s.is_empty())
}

pub(crate) fn param_list(ev: &Event, i: usize) -> Option<&Arc<[String]>> {
    match ev.param(i) {
        ParamValue::StrList(v) => Some(v),
        _ => None,
    }
}

/// `parent` as a link for a new snapshot, unless the chain is already too deep.
pub(crate) fn parent_link(parent: Option<&Arc<ProcessInfo>>) -> Option<Arc<ProcessInfo>> {
    let parent = parent?;
    (parent.ancestors().take(MAX_DEPTH).count() < MAX_DEPTH).then(|| parent.clone())
}

/// The snapshot after a successful exec: everything the event says, the rest (sid, start
/// time, namespace ids, cwd/env when not captured) carried over from before.
pub(crate) fn exec_info(old: Option<&ProcessInfo>, ev: &Event, tgid: i64) -> ProcessInfo {
    use idx::exec as x;
    let base = old.cloned().unwrap_or_else(|| ProcessInfo {
        vpid: tgid,
        vtid: tgid,
        sid: 0,
        loginuid: u32::MAX,
        start_ts: ev.ts,
        ..Default::default()
    });
    let exe: Arc<str> = param_str(ev, x::EXE)
        .or(param_str(ev, x::FILENAME))
        .unwrap_or_default()
        .into();
    let cwd: Arc<str> = param_str(ev, x::CWD).map_or(base.cwd.clone(), Arc::from);
    let exepath: Arc<str> = match param_str(ev, x::TRUSTED_EXEPATH) {
        Some(p) => p.into(),
        None => match param_str(ev, x::FILENAME) {
            Some(f) => crate::path::join(&cwd, f).into(),
            None => exe.clone(),
        },
    };
    let name: Arc<str> = match param_str(ev, x::COMM) {
        Some(c) => c.into(),
        None => exepath.rsplit('/').next().unwrap_or_default().into(),
    };
    let flags = param_u64(ev, x::FLAGS).unwrap_or(0);
    let u32_or = |i: usize, d: u32| param_u64(ev, i).map_or(d, |v| v as u32);
    let u64_or = |i: usize, d: u64| param_u64(ev, i).unwrap_or(d);
    ProcessInfo {
        tid: tgid,
        pid: tgid,
        ptid: param_i64(ev, x::PTID).unwrap_or(base.ptid),
        vtid: base.vpid,
        vpgid: param_i64(ev, x::VPGID).unwrap_or(base.vpgid),
        name,
        exe,
        exepath,
        args: param_list(ev, x::ARGS).cloned().unwrap_or_default(),
        cwd,
        env: param_list(ev, x::ENV).map_or(base.env.clone(), Arc::clone),
        tty: u32_or(x::TTY, base.tty),
        loginuid: u32_or(x::LOGINUID, base.loginuid),
        uid: u32_or(x::UID, base.uid),
        gid: u32_or(x::GID, base.gid),
        cap_inheritable: u64_or(x::CAP_INHERITABLE, base.cap_inheritable),
        cap_permitted: u64_or(x::CAP_PERMITTED, base.cap_permitted),
        cap_effective: u64_or(x::CAP_EFFECTIVE, base.cap_effective),
        exe_ino: u64_or(x::EXE_INO, 0),
        exe_ino_ctime: u64_or(x::EXE_INO_CTIME, 0),
        exe_ino_mtime: u64_or(x::EXE_INO_MTIME, 0),
        exe_writable: flags & exe::WRITABLE != 0,
        exe_upper_layer: flags & exe::UPPER_LAYER != 0,
        exe_from_memfd: flags & exe::FROM_MEMFD != 0,
        exe_lower_layer: flags & exe::LOWER_LAYER != 0,
        session_leader_name: None,
        ..base
    }
}

/// The snapshot of a new process created by fork/clone: the parent's, with the child's ids.
pub(crate) fn fork_info(parent: &Arc<ProcessInfo>, ev: &Event, tgid: i64) -> ProcessInfo {
    use idx::clone as c;
    let mut info = ProcessInfo::clone(parent);
    info.tid = tgid;
    info.pid = tgid;
    info.ptid = parent.pid;
    info.vpid = param_i64(ev, c::VPID).unwrap_or(tgid);
    info.vtid = param_i64(ev, c::VTID).unwrap_or(info.vpid);
    if let Some(comm) = param_str(ev, c::COMM) {
        if *comm != *info.name {
            info.name = comm.into();
        }
    }
    if let Some(exe) = param_str(ev, c::EXE) {
        info.exe = exe.into();
    }
    if let Some(args) = param_list(ev, c::ARGS) {
        info.args = args.clone();
    }
    if let Some(cwd) = param_str(ev, c::CWD) {
        info.cwd = cwd.into();
    }
    info.uid = param_u64(ev, c::UID).map_or(info.uid, |v| v as u32);
    info.gid = param_u64(ev, c::GID).map_or(info.gid, |v| v as u32);
    info.start_ts = ev.ts;
    info.session_leader_name = None;
    info.parent = parent_link(Some(parent));
    info
}

/// A process known only from a clone event (its parent unknown everywhere).
pub(crate) fn clone_only_info(ev: &Event, tgid: i64) -> ProcessInfo {
    use idx::clone as c;
    let comm: Arc<str> = param_str(ev, c::COMM).unwrap_or_default().into();
    ProcessInfo {
        tid: tgid,
        pid: tgid,
        ptid: param_i64(ev, c::PTID).unwrap_or(0),
        vpid: param_i64(ev, c::VPID).unwrap_or(tgid),
        vtid: param_i64(ev, c::VTID).unwrap_or(tgid),
        exe: param_str(ev, c::EXE).map_or(comm.clone(), Arc::from),
        name: comm,
        args: param_list(ev, c::ARGS).cloned().unwrap_or_default(),
        cwd: param_str(ev, c::CWD).unwrap_or_default().into(),
        uid: param_u64(ev, c::UID).unwrap_or(0) as u32,
        gid: param_u64(ev, c::GID).unwrap_or(0) as u32,
        loginuid: u32::MAX,
        start_ts: ev.ts,
        ..Default::default()
    }
}

/// What we know of a process nothing could be learned about: its ids.
pub(crate) fn minimal_info(tgid: i64) -> ProcessInfo {
    ProcessInfo {
        tid: tgid,
        pid: tgid,
        vpid: -1,
        vtid: -1,
        loginuid: u32::MAX,
        ..Default::default()
    }
}

/// The snapshot of a process read from `/proc` (users and container id set by the caller).
pub(crate) fn proc_info(rec: &ProcRecord, parent: Option<&Arc<ProcessInfo>>) -> ProcessInfo {
    ProcessInfo {
        tid: rec.pid,
        pid: rec.pid,
        ptid: rec.ppid,
        vpid: rec.vpid,
        vtid: rec.vpid,
        sid: rec.sid,
        vpgid: rec.pgid,
        name: rec.comm.as_str().into(),
        exe: rec.exe.as_str().into(),
        exepath: rec.exepath.as_str().into(),
        args: rec.args.as_slice().into(),
        cwd: rec.cwd.as_str().into(),
        env: rec.env.as_slice().into(),
        tty: rec.tty,
        loginuid: rec.loginuid,
        uid: rec.uid,
        gid: rec.gid,
        cap_inheritable: rec.cap_inheritable,
        cap_permitted: rec.cap_permitted,
        cap_effective: rec.cap_effective,
        start_ts: rec.start_ts,
        exe_ino: rec.exe_ino,
        exe_ino_ctime: rec.exe_ino_ctime,
        exe_ino_mtime: rec.exe_ino_mtime,
        exe_from_memfd: rec.exe_from_memfd,
        parent: parent_link(parent),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_event::EventType;

    #[test]
    fn indices_match_the_schemas() {
        use idx::{clone as c, exec as x};
        let exec = [
            (0, "res"),
            (x::EXE, "exe"),
            (x::ARGS, "args"),
            (x::PID, "pid"),
            (x::PTID, "ptid"),
            (x::CWD, "cwd"),
            (x::COMM, "comm"),
            (x::CGROUPS, "cgroups"),
            (x::ENV, "env"),
            (x::TTY, "tty"),
            (x::VPGID, "vpgid"),
            (x::LOGINUID, "loginuid"),
            (x::FLAGS, "flags"),
            (x::CAP_INHERITABLE, "cap_inheritable"),
            (x::CAP_PERMITTED, "cap_permitted"),
            (x::CAP_EFFECTIVE, "cap_effective"),
            (x::EXE_INO, "exe_ino"),
            (x::EXE_INO_CTIME, "exe_ino_ctime"),
            (x::EXE_INO_MTIME, "exe_ino_mtime"),
            (x::UID, "uid"),
            (x::TRUSTED_EXEPATH, "trusted_exepath"),
            (x::GID, "gid"),
            (x::FILENAME, "filename"),
        ];
        for t in [EventType::EXECVE, EventType::EXECVEAT] {
            for (i, name) in exec {
                assert_eq!(t.params()[i].name, name);
            }
        }
        let clone = [
            (c::EXE, "exe"),
            (c::ARGS, "args"),
            (c::PTID, "ptid"),
            (c::CWD, "cwd"),
            (c::COMM, "comm"),
            (c::FLAGS, "flags"),
            (c::UID, "uid"),
            (c::GID, "gid"),
            (c::VTID, "vtid"),
            (c::VPID, "vpid"),
        ];
        for t in [
            EventType::CLONE,
            EventType::CLONE3,
            EventType::FORK,
            EventType::VFORK,
        ] {
            for (i, name) in clone {
                assert_eq!(t.params()[i].name, name);
            }
        }
    }

    #[test]
    fn deep_chains_are_cut() {
        let mut p = Arc::new(minimal_info(1));
        for pid in 2..(MAX_DEPTH as i64 + 10) {
            let mut child = minimal_info(pid);
            child.parent = parent_link(Some(&p));
            p = Arc::new(child);
        }
        assert!(p.ancestors().count() < MAX_DEPTH);
    }
}
