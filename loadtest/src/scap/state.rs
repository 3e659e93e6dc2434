//! The thread, fd and user state a capture carries, rebuilt as the events go by, and the
//! snapshots attached to each converted event.
//!
//! A replayed event is not enriched again, so every converted event gets here what
//! `peregrine-enrich` would have attached to the same kernel event: the process snapshot
//! (`Arc<ProcessInfo>` with its parent chain, per-thread views), the fd the event acts on,
//! the container id. The rules for each event follow the enricher's (`enrich/src/enricher.rs`,
//! `fdevents.rs`); what differs is where the start comes from: the capture's process, fd and
//! user lists instead of `/proc` and `/etc/passwd`, and nothing is looked up on a miss (a
//! thread nobody knows gets a minimal entry, counted).

use super::events::{self, RawEvent, CLONE_THREAD};
use super::tables::{fd_type, FdEntry, FdWhat, GroupEntry, ThreadEntry, UserEntry};
use peregrine_enrich::container::{self, Runtime};
use peregrine_enrich::path;
use peregrine_enrich::runtime::meta::id_only;
use peregrine_event::flags::{exe as exe_flags, open};
use peregrine_event::{
    ContainerInfo, Event, EventType, FdInfo, FdKind, GroupInfo, L4Proto, ParamValue, ProcessInfo,
    SockAddr, SockTuple, SocketRole, UserInfo, HOST_CONTAINER_ID,
};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Ancestor chains are cut at this depth, as the enricher cuts them.
const MAX_DEPTH: usize = 512;
/// How long an exited process stays for late events (event time), as the enricher's default.
const EXITED_LINGER_NS: u64 = 5_000_000_000;
const AT_FDCWD: i64 = -100;
const EINPROGRESS: i64 = 115;

/// Parameter positions in Peregrine's exec and clone schemas (checked in the tests).
mod idx {
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
        pub const PID: usize = 4;
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

/// A thread other than its process's main thread.
struct Thread {
    tgid: i64,
    vtid: i64,
    /// The process's exec epoch when the thread was registered.
    epoch: u32,
    view: Option<(u64, Arc<ProcessInfo>)>,
}

/// One thread group.
struct Proc {
    info: Arc<ProcessInfo>,
    fds: HashMap<i64, Arc<FdInfo>>,
    /// Full container id and runtime; `None` on the host.
    container: Option<(Arc<str>, Runtime)>,
    container_info: Option<Arc<ContainerInfo>>,
    children: Vec<i64>,
    /// Live threads other than the main one.
    threads: u32,
    leader_alive: bool,
    exit_ts: Option<u64>,
    /// Bumped on every snapshot change (thread views built from an older one are stale).
    gen: u64,
    /// Bumped on exec: threads registered before it are gone.
    epoch: u32,
    /// Made from the parent's side of a clone; the child's own event replaces it.
    provisional: bool,
    minimal: bool,
}

impl Proc {
    fn new(info: ProcessInfo, fds: HashMap<i64, Arc<FdInfo>>) -> Proc {
        Proc {
            info: Arc::new(info),
            fds,
            container: None,
            container_info: None,
            children: Vec::new(),
            threads: 0,
            leader_alive: true,
            exit_ts: None,
            gen: 0,
            epoch: 0,
            provisional: false,
            minimal: false,
        }
    }

    fn set_info(&mut self, info: ProcessInfo) {
        self.info = Arc::new(info);
        self.gen += 1;
    }

    fn set_container(&mut self, c: Option<(Arc<str>, Runtime)>) {
        self.container_info = c.as_ref().map(|(id, rt)| id_only(id, Some(*rt)));
        self.container = c;
    }
}

/// Counters of what the state had to make up or could not follow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateStats {
    /// Events of a thread in neither the process list nor an earlier clone: given a
    /// minimal process entry (ids only).
    pub missing_processes: u64,
    /// fd events on an fd the tables did not know.
    pub unknown_fds: u64,
    /// fd-list entries whose thread was not in the process list (dropped, as libscap does).
    pub orphan_fds: u64,
}

/// The tables.
#[derive(Default)]
pub struct State {
    procs: HashMap<i64, Proc>,
    threads: HashMap<i64, Thread>,
    exited: VecDeque<(i64, u64)>,
    users: HashMap<(String, u32), Arc<UserInfo>>,
    groups: HashMap<(String, u32), Arc<GroupInfo>>,
    now: u64,
    pub stats: StateStats,
}

fn parent_link(parent: Option<&Arc<ProcessInfo>>) -> Option<Arc<ProcessInfo>> {
    let parent = parent?;
    (parent.ancestors().take(MAX_DEPTH).count() < MAX_DEPTH).then(|| parent.clone())
}

fn container_of(cgroups: &[String], info: &ProcessInfo) -> Option<(Arc<str>, Runtime)> {
    if container::is_runtime_helper(&info.name, &info.exe, &info.args) {
        return None;
    }
    container::container_from_cgroups(cgroups.iter().map(String::as_str))
        .map(|c| (Arc::from(c.id), c.runtime))
}

fn short_id(c: Option<&(Arc<str>, Runtime)>) -> Arc<str> {
    match c {
        Some((id, _)) => container::short_id(id).into(),
        None => HOST_CONTAINER_ID.into(),
    }
}

fn p_i64(ev: &Event, i: usize) -> Option<i64> {
    ev.param(i).as_i64()
}

fn p_u64(ev: &Event, i: usize) -> Option<u64> {
    ev.param(i).as_u64()
}

fn p_str(ev: &Event, i: usize) -> Option<&str> {
    ev.param(i).as_str().filter(|s| !s.is_empty())
}

fn p_list(ev: &Event, i: usize) -> Option<&Arc<[String]>> {
    match ev.param(i) {
        ParamValue::StrList(v) => Some(v),
        _ => None,
    }
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// Whether an event code Peregrine does not model still changes the tables (see
    /// [`State::apply_unmodelled`]).
    pub fn wants(code: u16) -> bool {
        matches!(
            code,
            43 | 61
                | 63
                | 127
                | 137
                | 139
                | 151
                | 339
                | 354
                | 356
                | 358
                | 360
                | 375
                | 377
                | 393
                | 395
                | 397
                | 399
                | 405
                | 407
                | 409
        )
    }

    /// Processes (thread groups) known now, live and lingering.
    pub fn processes(&self) -> usize {
        self.procs.len()
    }

    /// Threads known now (main threads included).
    pub fn threads(&self) -> usize {
        self.procs.len() + self.threads.len()
    }

    /// fds known now, over all processes.
    pub fn fds(&self) -> usize {
        self.procs.values().map(|p| p.fds.len()).sum()
    }

    /// The current snapshot of a process.
    pub fn process(&self, pid: i64) -> Option<Arc<ProcessInfo>> {
        self.procs.get(&pid).map(|p| p.info.clone())
    }

    /// An fd of a process as the table has it now.
    pub fn fd(&self, pid: i64, fd: i64) -> Option<Arc<FdInfo>> {
        self.procs.get(&pid)?.fds.get(&fd).cloned()
    }

    // ---------------------------------------------------------------- users

    pub fn add_user(&mut self, u: &UserEntry) {
        self.users.insert(
            (u.container.clone(), u.uid),
            Arc::new(UserInfo {
                uid: u.uid,
                name: u.name.as_str().into(),
                homedir: u.homedir.as_str().into(),
                shell: u.shell.as_str().into(),
            }),
        );
    }

    pub fn remove_user(&mut self, container: &str, uid: u32) {
        self.users.remove(&(container.to_string(), uid));
    }

    pub fn add_group(&mut self, g: &GroupEntry) {
        self.groups.insert(
            (g.container.clone(), g.gid),
            Arc::new(GroupInfo {
                gid: g.gid,
                name: g.name.as_str().into(),
            }),
        );
    }

    pub fn remove_group(&mut self, container: &str, gid: u32) {
        self.groups.remove(&(container.to_string(), gid));
    }

    /// A user or group of a container (by full or short id), else of the host.
    fn lookup<T>(
        map: &HashMap<(String, u32), Arc<T>>,
        container: Option<&(Arc<str>, Runtime)>,
        id: u32,
    ) -> Option<Arc<T>> {
        if let Some((full, _)) = container {
            for key in [&**full, container::short_id(full)] {
                if let Some(v) = map.get(&(key.to_string(), id)) {
                    return Some(v.clone());
                }
            }
        }
        map.get(&(String::new(), id)).cloned()
    }

    fn resolve_users(&self, info: &mut ProcessInfo, c: Option<&(Arc<str>, Runtime)>) {
        info.user = Self::lookup(&self.users, c, info.uid);
        info.group = Self::lookup(&self.groups, c, info.gid);
        info.loginuser = match info.loginuid {
            u32::MAX => None,
            uid => Self::lookup(&self.users, c, uid),
        };
    }

    // ---------------------------------------------------------------- process list

    /// Loads the capture's process list: processes parents first (so each snapshot links
    /// its parent's), then the other threads.
    pub fn load_threads(&mut self, entries: &[ThreadEntry]) {
        let mut mains: HashMap<i64, &ThreadEntry> = HashMap::new();
        for t in entries {
            if t.tid == t.pid || !mains.contains_key(&t.pid) {
                mains.insert(t.pid, t);
            }
        }
        // Threads first, so a parent id that is a thread resolves to its process.
        for t in entries.iter().filter(|t| t.tid != t.pid) {
            self.threads.insert(
                t.tid,
                Thread {
                    tgid: t.pid,
                    vtid: t.vtid,
                    epoch: 0,
                    view: None,
                },
            );
        }
        let tgid_of =
            |tid: i64, threads: &HashMap<i64, Thread>| threads.get(&tid).map_or(tid, |t| t.tgid);
        let mut pids: Vec<i64> = mains.keys().copied().collect();
        pids.sort_unstable();
        let n = pids.len();
        for pid in pids {
            if self.procs.contains_key(&pid) {
                continue;
            }
            let mut chain = vec![pid];
            while let Some(t) = chain.last().and_then(|p| mains.get(p)) {
                let ppid = tgid_of(t.ptid, &self.threads);
                if ppid <= 0
                    || !mains.contains_key(&ppid)
                    || self.procs.contains_key(&ppid)
                    || chain.len() > n
                    || chain.contains(&ppid)
                {
                    break;
                }
                chain.push(ppid);
            }
            for p in chain.into_iter().rev() {
                if self.procs.contains_key(&p) {
                    continue;
                }
                if let Some(t) = mains.get(&p) {
                    self.insert_entry(t);
                }
            }
        }
        for t in entries.iter().filter(|t| t.tid != t.pid) {
            if let Some(p) = self.procs.get_mut(&t.pid) {
                p.threads += 1;
            }
        }
    }

    fn insert_entry(&mut self, t: &ThreadEntry) {
        let pid = t.pid;
        let ptid = self.tgid_of(t.ptid);
        let parent = self.procs.get(&ptid).map(|p| p.info.clone());
        let mut info = ProcessInfo {
            tid: pid,
            pid,
            ptid,
            vpid: t.vpid,
            vtid: if t.tid == t.pid { t.vtid } else { t.vpid },
            sid: t.sid,
            vpgid: t.vpgid,
            name: t.comm.as_str().into(),
            exe: t.exe.as_str().into(),
            exepath: t.exepath.as_str().into(),
            args: t.args.as_slice().into(),
            cwd: t.cwd.as_str().into(),
            env: t.env.as_slice().into(),
            tty: t.tty,
            loginuid: t.loginuid,
            uid: t.uid,
            gid: t.gid,
            cap_inheritable: t.cap_inheritable,
            cap_permitted: t.cap_permitted,
            cap_effective: t.cap_effective,
            exe_ino: t.exe_ino,
            exe_ino_ctime: t.exe_ino_ctime,
            exe_ino_mtime: t.exe_ino_mtime,
            exe_writable: t.exe_writable,
            exe_upper_layer: t.exe_upper_layer,
            exe_from_memfd: t.exe_from_memfd,
            exe_lower_layer: t.exe_lower_layer,
            parent: parent_link(parent.as_ref()),
            ..Default::default()
        };
        let cont = container_of(&t.cgroups, &info);
        info.container_id = short_id(cont.as_ref());
        self.resolve_users(&mut info, cont.as_ref());
        let mut p = Proc::new(info, HashMap::new());
        p.set_container(cont);
        self.insert_process(pid, p);
    }

    /// Loads the fd list of a thread (its process's table).
    pub fn load_fds(&mut self, tid: i64, entries: &[FdEntry]) {
        let tgid = self.tgid_of(tid);
        let Some(p) = self.procs.get_mut(&tgid) else {
            self.stats.orphan_fds += entries.len() as u64;
            return;
        };
        for e in entries {
            p.fds.insert(e.fd, Arc::new(fd_from_entry(e)));
        }
    }

    // ---------------------------------------------------------------- tables

    fn tgid_of(&self, tid: i64) -> i64 {
        self.threads.get(&tid).map_or(tid, |t| t.tgid)
    }

    fn insert_process(&mut self, tgid: i64, p: Proc) {
        let ptid = p.info.ptid;
        if let Some(old) = self.procs.insert(tgid, p) {
            self.unlink_child(old.info.ptid, tgid);
        }
        if ptid != tgid {
            if let Some(parent) = self.procs.get_mut(&ptid) {
                parent.children.push(tgid);
            }
        }
    }

    fn unlink_child(&mut self, ptid: i64, child: i64) {
        if let Some(parent) = self.procs.get_mut(&ptid) {
            if let Some(i) = parent.children.iter().position(|c| *c == child) {
                parent.children.swap_remove(i);
            }
        }
    }

    /// A process nothing is known about but its id.
    fn insert_minimal(&mut self, tgid: i64) {
        self.stats.missing_processes += 1;
        let info = ProcessInfo {
            tid: tgid,
            pid: tgid,
            vpid: -1,
            vtid: -1,
            loginuid: u32::MAX,
            container_id: HOST_CONTAINER_ID.into(),
            ..Default::default()
        };
        let mut p = Proc::new(info, HashMap::new());
        p.minimal = true;
        self.insert_process(tgid, p);
    }

    fn ensure(&mut self, tgid: i64) {
        if !self.procs.contains_key(&tgid) {
            self.insert_minimal(tgid);
        }
    }

    /// Drops exited processes whose linger time is over.
    fn expire(&mut self) {
        while let Some(&(tgid, ts)) = self.exited.front() {
            if ts.saturating_add(EXITED_LINGER_NS) > self.now {
                break;
            }
            self.exited.pop_front();
            if self.procs.get(&tgid).is_some_and(|p| p.exit_ts == Some(ts)) {
                // Its thread entries go with their own procexit; any left over are stale
                // (other epoch or process) and harmless.
                if let Some(p) = self.procs.remove(&tgid) {
                    self.unlink_child(p.info.ptid, tgid);
                }
            }
        }
    }

    /// After `root`'s snapshot changed, its descendants' parent links are rebuilt.
    fn refresh_children(&mut self, root: i64) {
        let mut stack = vec![root];
        let mut budget = self.procs.len();
        while let Some(pid) = stack.pop() {
            let Some(p) = self.procs.get(&pid) else {
                continue;
            };
            if p.children.is_empty() {
                continue;
            }
            let info = p.info.clone();
            for c in p.children.clone() {
                if budget == 0 {
                    return;
                }
                budget -= 1;
                let Some(cp) = self.procs.get_mut(&c) else {
                    continue;
                };
                if cp.info.ptid != pid {
                    continue;
                }
                let mut ci = ProcessInfo::clone(&cp.info);
                ci.parent = parent_link(Some(&info));
                cp.set_info(ci);
                stack.push(c);
            }
        }
    }

    /// What an event of thread `tid` carries: the process snapshot for the main thread, a
    /// per-thread copy (own tid/vtid) for the others.
    fn view(&mut self, tgid: i64, tid: i64) -> Option<Arc<ProcessInfo>> {
        let p = self.procs.get_mut(&tgid)?;
        if tid == tgid || tid <= 0 {
            return Some(p.info.clone());
        }
        let known = self
            .threads
            .get(&tid)
            .is_some_and(|t| t.tgid == tgid && t.epoch == p.epoch);
        if !known {
            register_thread(&mut self.threads, p, tid, -1);
        }
        let t = self.threads.get_mut(&tid)?;
        if let Some((gen, v)) = &t.view {
            if *gen == p.gen {
                return Some(v.clone());
            }
        }
        let mut info = ProcessInfo::clone(&p.info);
        info.tid = tid;
        info.vtid = t.vtid;
        let v = Arc::new(info);
        t.view = Some((p.gen, v.clone()));
        Some(v)
    }

    // ---------------------------------------------------------------- events

    /// Applies a converted event to the tables and attaches its context: `ev.process`,
    /// `ev.fd`, `ev.container` and `ev.pid`. Clone events must be the child's side.
    pub fn apply(&mut self, ev: &mut Event) {
        self.now = self.now.max(ev.ts);
        self.expire();
        let et = ev.etype;
        let tgid = if et.is_clone() {
            self.on_clone(ev)
        } else if et.is_exec() && ev.res() == Some(0) {
            self.on_exec(ev)
        } else {
            self.on_event(ev)
        };
        ev.pid = tgid;
        if let Some(p) = self.procs.get(&tgid) {
            ev.container = p.container_info.clone();
        }
    }

    /// Any event that does not create or replace a process. Returns the tgid.
    fn on_event(&mut self, ev: &mut Event) -> i64 {
        let tgid = self.tgid_of(ev.tid);
        self.ensure(tgid);
        match ev.etype {
            EventType::SETUID
            | EventType::SETRESUID
            | EventType::SETGID
            | EventType::SETRESGID
            | EventType::CHDIR
            | EventType::FCHDIR => self.change_ids_or_cwd(tgid, ev),
            EventType::SETSID => self.new_session(tgid, ev),
            _ => {}
        }
        ev.process = self.view(tgid, ev.tid);
        if ev.etype.fd_param().is_some() {
            if let Some(p) = self.procs.get_mut(&tgid) {
                ev.fd = apply_fd(p, ev, &mut self.stats);
            }
        }
        if ev.etype == EventType::PROCEXIT {
            self.on_exit(tgid, ev);
        }
        tgid
    }

    fn change_ids_or_cwd(&mut self, tgid: i64, ev: &Event) {
        if ev.res() != Some(0) {
            return;
        }
        let Some(p) = self.procs.get(&tgid) else {
            return;
        };
        let id = |i: usize| p_u64(ev, i).map(|v| v as u32).filter(|v| *v != u32::MAX);
        let mut info = ProcessInfo::clone(&p.info);
        match ev.etype {
            EventType::SETUID => info.uid = id(1).unwrap_or(info.uid),
            EventType::SETRESUID => info.uid = id(2).unwrap_or(info.uid),
            EventType::SETGID => info.gid = id(1).unwrap_or(info.gid),
            EventType::SETRESGID => info.gid = id(2).unwrap_or(info.gid),
            EventType::CHDIR => match p_str(ev, 1) {
                Some(dir) => info.cwd = path::join(&info.cwd, dir).into(),
                None => return,
            },
            _ => match p_i64(ev, 1).and_then(|fd| p.fds.get(&fd)) {
                Some(dir) if !dir.name.is_empty() => info.cwd = dir.name.as_str().into(),
                _ => return,
            },
        }
        if info.uid == p.info.uid && info.gid == p.info.gid && info.cwd == p.info.cwd {
            return;
        }
        let cont = p.container.clone();
        self.resolve_users(&mut info, cont.as_ref());
        if let Some(p) = self.procs.get_mut(&tgid) {
            p.set_info(info);
        }
    }

    fn new_session(&mut self, tgid: i64, ev: &Event) {
        let Some(sid) = ev.res().filter(|r| *r > 0) else {
            return;
        };
        let Some(p) = self.procs.get_mut(&tgid) else {
            return;
        };
        if p.info.sid != sid {
            let mut info = ProcessInfo::clone(&p.info);
            info.sid = sid;
            info.session_leader_name = None;
            p.set_info(info);
        }
    }

    /// The child's side of fork/vfork/clone/clone3. Returns the child's tgid.
    fn on_clone(&mut self, ev: &mut Event) -> i64 {
        use idx::clone as c;
        let tid = ev.tid;
        let tgid = p_i64(ev, c::PID).filter(|p| *p > 0).unwrap_or(tid);
        let flags = p_u64(ev, c::FLAGS).unwrap_or(0);
        if flags & CLONE_THREAD != 0 || tid != tgid {
            self.ensure(tgid);
            if let Some(p) = self.procs.get_mut(&tgid) {
                let vtid = p_i64(ev, c::VTID).unwrap_or(-1);
                register_thread(&mut self.threads, p, tid, vtid);
            }
            ev.process = self.view(tgid, tid);
            return tgid;
        }
        let ptid = self.tgid_of(p_i64(ev, c::PTID).unwrap_or(0));
        // A provisional entry from the parent's side keeps the fds it copied then.
        let earlier = self
            .procs
            .get(&tgid)
            .filter(|p| p.provisional)
            .map(|p| p.fds.clone());
        let parent = self.procs.get(&ptid).filter(|_| ptid != tgid);
        let (mut info, fds, cont) = match parent {
            Some(pp) => (
                fork_info(&pp.info, ev, tgid),
                pp.fds.clone(),
                pp.container.clone(),
            ),
            None => {
                self.stats.missing_processes += u64::from(ptid > 0);
                (clone_only_info(ev, tgid), HashMap::new(), None)
            }
        };
        info.container_id = short_id(cont.as_ref());
        self.resolve_users(&mut info, cont.as_ref());
        let mut p = Proc::new(info, earlier.unwrap_or(fds));
        p.set_container(cont);
        let info = p.info.clone();
        self.threads.remove(&tid);
        self.insert_process(tgid, p);
        ev.process = Some(info);
        tgid
    }

    /// The parent's side of a clone (`res` is the child): the child is made from the
    /// parent unless its own event came first. Nothing is attached: the event is not written.
    pub fn clone_parent(&mut self, raw: &RawEvent<'_>) {
        let Some(child) = raw.int(events::clone_idx::RES).filter(|c| *c > 0) else {
            return;
        };
        self.now = self.now.max(raw.hdr.ts);
        let parent_tgid = match raw.int(events::clone_idx::PID).filter(|p| *p > 0) {
            Some(pid) => pid,
            None => self.tgid_of(raw.hdr.tid),
        };
        if self.procs.contains_key(&child) || self.threads.contains_key(&child) {
            return;
        }
        let flags = events::ppm_clone(raw.uint(events::clone_idx::FLAGS).unwrap_or(0));
        self.ensure(parent_tgid);
        let Some(pp) = self.procs.get_mut(&parent_tgid) else {
            return;
        };
        if flags & CLONE_THREAD != 0 {
            register_thread(&mut self.threads, pp, child, -1);
            return;
        }
        let mut info = ProcessInfo::clone(&pp.info);
        info.tid = child;
        info.pid = child;
        info.ptid = parent_tgid;
        // Outside a pid namespace the ids are the same; inside, the child's are unknown.
        let same_ns = pp.info.vpid == pp.info.pid;
        info.vpid = if same_ns { child } else { -1 };
        info.vtid = info.vpid;
        info.start_ts = raw.hdr.ts;
        info.session_leader_name = None;
        info.parent = parent_link(Some(&pp.info));
        let mut p = Proc::new(info, pp.fds.clone());
        p.set_container(pp.container.clone());
        p.provisional = true;
        self.insert_process(child, p);
    }

    /// A successful execve/execveat: the process gets a new snapshot. Returns the tgid.
    fn on_exec(&mut self, ev: &mut Event) -> i64 {
        use idx::exec as x;
        let tgid = p_i64(ev, x::PID)
            .filter(|p| *p > 0)
            .unwrap_or_else(|| self.tgid_of(ev.tid));
        let ptid = p_i64(ev, x::PTID).map(|p| self.tgid_of(p));
        let old = self.procs.get(&tgid);
        let mut info = exec_info(old.map(|p| &*p.info), ev, tgid, ptid);
        let parent = match self.procs.get(&info.ptid).filter(|_| info.ptid != tgid) {
            Some(pp) => Some(pp.info.clone()),
            None => old.and_then(|p| p.info.parent.clone()),
        };
        info.parent = parent_link(parent.as_ref());
        let cont = match p_list(ev, x::CGROUPS) {
            Some(cgroups) => container_of(cgroups, &info),
            None => old.and_then(|p| p.container.clone()),
        };
        info.container_id = short_id(cont.as_ref());
        self.resolve_users(&mut info, cont.as_ref());
        let old_ptid = old.map(|p| p.info.ptid);
        let new_ptid = info.ptid;
        match self.procs.get_mut(&tgid) {
            Some(p) => {
                p.set_info(info);
                p.set_container(cont);
                p.epoch = p.epoch.wrapping_add(1);
                p.threads = 0;
                p.leader_alive = true;
                p.exit_ts = None;
                p.minimal = false;
                p.provisional = false;
                p.fds.retain(|_, fd| fd.flags & open::O_CLOEXEC == 0);
                ev.process = Some(p.info.clone());
                if old_ptid != Some(new_ptid) {
                    if let Some(old_ptid) = old_ptid {
                        self.unlink_child(old_ptid, tgid);
                    }
                    if let Some(parent) = self.procs.get_mut(&new_ptid) {
                        parent.children.push(tgid);
                    }
                }
                self.refresh_children(tgid);
            }
            None => {
                let mut p = Proc::new(info, HashMap::new());
                p.set_container(cont);
                ev.process = Some(p.info.clone());
                self.insert_process(tgid, p);
            }
        }
        // The other threads are gone: their entries are of the old epoch now.
        tgid
    }

    /// procexit of one thread; the process is gone when its last known thread is.
    fn on_exit(&mut self, tgid: i64, ev: &Event) {
        let tid = ev.tid;
        let removed = if tid != tgid {
            self.threads.remove(&tid)
        } else {
            None
        };
        let Some(p) = self.procs.get_mut(&tgid) else {
            return;
        };
        if tid == tgid {
            p.leader_alive = false;
        } else if removed.is_some_and(|t| t.tgid == tgid && t.epoch == p.epoch) {
            p.threads = p.threads.saturating_sub(1);
        }
        let dead = !p.leader_alive && p.threads == 0;
        if dead && p.exit_ts.is_none() {
            p.exit_ts = Some(ev.ts);
            self.exited.push_back((tgid, ev.ts));
        }
        if dead {
            let reaper = p_i64(ev, 4).unwrap_or(0);
            self.reparent(tgid, reaper);
        }
    }

    /// Hands the children of a dead process to the reaper the kernel chose.
    fn reparent(&mut self, tgid: i64, reaper_tid: i64) {
        if reaper_tid <= 0 {
            return;
        }
        let reaper = self.tgid_of(reaper_tid);
        if reaper == tgid || !self.procs.contains_key(&reaper) {
            return;
        }
        let children = match self.procs.get_mut(&tgid) {
            Some(p) => std::mem::take(&mut p.children),
            None => return,
        };
        let Some(reaper_info) = self.procs.get(&reaper).map(|r| r.info.clone()) else {
            return;
        };
        let mut moved = Vec::new();
        for c in children {
            let Some(cp) = self.procs.get_mut(&c) else {
                continue;
            };
            if cp.info.ptid != tgid {
                continue;
            }
            let mut info = ProcessInfo::clone(&cp.info);
            info.ptid = reaper;
            info.parent = parent_link(Some(&reaper_info));
            cp.set_info(info);
            moved.push(c);
        }
        if let Some(r) = self.procs.get_mut(&reaper) {
            r.children.extend_from_slice(&moved);
        }
        for c in moved {
            self.refresh_children(c);
        }
    }

    // ---------------------------------------------------------------- events not written

    /// The fd-creating calls Peregrine does not model (pipes, eventfds, epoll, memfd, …):
    /// their fds enter the table so that later events on them carry their kind. Returns
    /// whether the code was one of them.
    pub fn apply_unmodelled(&mut self, raw: &RawEvent<'_>) -> bool {
        let code = raw.hdr.code;
        let made: Vec<FdInfo> = match code {
            // pipe, pipe2: res, fd1, fd2, ino[, flags]
            61 | 393 => {
                if raw.int(0).is_none_or(|r| r < 0) {
                    return true;
                }
                let ino = raw.uint(3).unwrap_or(0);
                let flags = raw.uint(4).map_or(0, events::ppm_open) & open::O_CLOEXEC;
                [raw.int(1), raw.int(2)]
                    .into_iter()
                    .flatten()
                    .map(|fd| FdInfo {
                        num: fd,
                        kind: FdKind::Pipe,
                        name: format!("pipe:[{ino}]"),
                        flags,
                        ino,
                        ..Default::default()
                    })
                    .collect()
            }
            // socketpair: res, fd1, fd2, source, peer, domain, type, proto
            43 => {
                if raw.int(0).is_none_or(|r| r < 0) {
                    return true;
                }
                let (src, peer) = (raw.uint(3).unwrap_or(0), raw.uint(4).unwrap_or(0));
                let domain = raw.uint(5).unwrap_or(1);
                let base = socket_fd(
                    0,
                    domain,
                    raw.uint(6).unwrap_or(0),
                    raw.uint(7).unwrap_or(0),
                );
                let named = |fd: i64, a: u64, b: u64| {
                    let mut info = base.clone();
                    info.num = fd;
                    if info.kind == FdKind::Unix {
                        let t = SockTuple::Unix {
                            source: a,
                            dest: b,
                            path: String::new(),
                        };
                        info.name = t.to_string();
                        info.tuple = Some(t);
                        info.connected = true;
                    }
                    info
                };
                let mut v = Vec::new();
                if let Some(fd) = raw.int(1) {
                    v.push(named(fd, src, peer));
                }
                if let Some(fd) = raw.int(2) {
                    v.push(named(fd, peer, src));
                }
                v
            }
            // The result is the new fd.
            63 | 397 => anon(raw.int(0), FdKind::Event, "anon_inode:[eventfd]"),
            127 | 399 => anon(raw.int(0), FdKind::Signalfd, "anon_inode:[signalfd]"),
            137 => anon(raw.int(0), FdKind::Timerfd, "anon_inode:[timerfd]"),
            139 | 395 => anon(raw.int(0), FdKind::Inotify, "anon_inode:inotify"),
            375 | 377 => anon(raw.int(0), FdKind::Eventpoll, "anon_inode:[eventpoll]"),
            339 => anon(raw.int(0), FdKind::IoUring, "anon_inode:[io_uring]"),
            409 => anon(raw.int(0), FdKind::Pidfd, "anon_inode:[pidfd]"),
            407 => anon(raw.int(0), FdKind::Unknown, ""),
            405 => anon(
                raw.int(0),
                FdKind::Memfd,
                &format!("memfd:{}", raw.string(1).unwrap_or_default()),
            ),
            // fcntl: res, fd, cmd; F_DUPFD (1) and F_DUPFD_CLOEXEC (26) copy the fd.
            151 => {
                let (Some(res), Some(fd), Some(cmd)) = (raw.int(0), raw.int(1), raw.uint(2)) else {
                    return true;
                };
                if res < 0 || !(cmd == 1 || cmd == 26) {
                    return true;
                }
                let tgid = self.tgid_of(raw.hdr.tid);
                let Some(old) = self.procs.get(&tgid).and_then(|p| p.fds.get(&fd)) else {
                    return true;
                };
                let mut info = FdInfo::clone(old);
                info.num = res;
                info.flags &= !open::O_CLOEXEC;
                if cmd == 26 {
                    info.flags |= open::O_CLOEXEC;
                }
                vec![info]
            }
            // useradded / userdeleted: uid, gid, name, home, shell, container_id
            354 | 356 => {
                let user = UserEntry {
                    uid: raw.uint(0).unwrap_or(0) as u32,
                    gid: raw.uint(1).unwrap_or(0) as u32,
                    name: raw.string(2).unwrap_or_default(),
                    homedir: raw.string(3).unwrap_or_default(),
                    shell: raw.string(4).unwrap_or_default(),
                    container: raw.string(5).unwrap_or_default(),
                };
                if code == 354 {
                    self.add_user(&user);
                } else {
                    self.remove_user(&user.container, user.uid);
                }
                return true;
            }
            // groupadded / groupdeleted: gid, name, container_id
            358 | 360 => {
                let group = GroupEntry {
                    gid: raw.uint(0).unwrap_or(0) as u32,
                    name: raw.string(1).unwrap_or_default(),
                    container: raw.string(2).unwrap_or_default(),
                };
                if code == 358 {
                    self.add_group(&group);
                } else {
                    self.remove_group(&group.container, group.gid);
                }
                return true;
            }
            _ => return false,
        };
        if made.is_empty() {
            return true;
        }
        self.now = self.now.max(raw.hdr.ts);
        let tgid = self.tgid_of(raw.hdr.tid);
        self.ensure(tgid);
        if let Some(p) = self.procs.get_mut(&tgid) {
            for info in made {
                p.fds.insert(info.num, Arc::new(info));
            }
        }
        true
    }
}

/// An fd whose number is an event's result.
fn anon(res: Option<i64>, kind: FdKind, name: &str) -> Vec<FdInfo> {
    match res {
        Some(fd) if fd >= 0 => vec![FdInfo {
            num: fd,
            kind,
            name: name.to_string(),
            ..Default::default()
        }],
        _ => Vec::new(),
    }
}

/// Registers `tid` as a live thread of `p`.
fn register_thread(threads: &mut HashMap<i64, Thread>, p: &mut Proc, tid: i64, vtid: i64) {
    let tgid = p.info.pid;
    let vtid = if vtid > 0 {
        vtid
    } else if p.info.vpid == tgid {
        tid
    } else {
        -1
    };
    let fresh = Thread {
        tgid,
        vtid,
        epoch: p.epoch,
        view: None,
    };
    match threads.insert(tid, fresh) {
        Some(old) if old.tgid == tgid && old.epoch == p.epoch => {}
        _ => p.threads += 1,
    }
}

/// The snapshot after a successful exec: what the event says, the rest carried over.
fn exec_info(old: Option<&ProcessInfo>, ev: &Event, tgid: i64, ptid: Option<i64>) -> ProcessInfo {
    use idx::exec as x;
    let base = old.cloned().unwrap_or_else(|| ProcessInfo {
        vpid: tgid,
        vtid: tgid,
        loginuid: u32::MAX,
        start_ts: ev.ts,
        ..Default::default()
    });
    let exe: Arc<str> = p_str(ev, x::EXE)
        .or(p_str(ev, x::FILENAME))
        .unwrap_or_default()
        .into();
    let cwd: Arc<str> = p_str(ev, x::CWD).map_or(base.cwd.clone(), Arc::from);
    let exepath: Arc<str> = match p_str(ev, x::TRUSTED_EXEPATH) {
        Some(p) => p.into(),
        None => match p_str(ev, x::FILENAME) {
            Some(f) => path::join(&cwd, f).into(),
            None => exe.clone(),
        },
    };
    let name: Arc<str> = match p_str(ev, x::COMM) {
        Some(c) => c.into(),
        None => exepath.rsplit('/').next().unwrap_or_default().into(),
    };
    let flags = p_u64(ev, x::FLAGS).unwrap_or(0);
    let u32_or = |i: usize, d: u32| p_u64(ev, i).map_or(d, |v| v as u32);
    let u64_or = |i: usize, d: u64| p_u64(ev, i).unwrap_or(d);
    ProcessInfo {
        tid: tgid,
        pid: tgid,
        ptid: ptid.unwrap_or(base.ptid),
        vtid: base.vpid,
        vpgid: p_i64(ev, x::VPGID).unwrap_or(base.vpgid),
        name,
        exe,
        exepath,
        args: p_list(ev, x::ARGS).cloned().unwrap_or_default(),
        cwd,
        env: p_list(ev, x::ENV).map_or(base.env.clone(), Arc::clone),
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
        exe_writable: flags & exe_flags::WRITABLE != 0,
        exe_upper_layer: flags & exe_flags::UPPER_LAYER != 0,
        exe_from_memfd: flags & exe_flags::FROM_MEMFD != 0,
        exe_lower_layer: flags & exe_flags::LOWER_LAYER != 0,
        session_leader_name: None,
        ..base
    }
}

/// A new process made by fork/clone: the parent's snapshot with the child's ids.
fn fork_info(parent: &Arc<ProcessInfo>, ev: &Event, tgid: i64) -> ProcessInfo {
    use idx::clone as c;
    let mut info = ProcessInfo::clone(parent);
    info.tid = tgid;
    info.pid = tgid;
    info.ptid = parent.pid;
    info.vpid = p_i64(ev, c::VPID).unwrap_or(tgid);
    info.vtid = p_i64(ev, c::VTID).unwrap_or(info.vpid);
    if let Some(comm) = p_str(ev, c::COMM) {
        if *comm != *info.name {
            info.name = comm.into();
        }
    }
    if let Some(exe) = p_str(ev, c::EXE) {
        info.exe = exe.into();
    }
    if let Some(args) = p_list(ev, c::ARGS) {
        info.args = args.clone();
    }
    if let Some(cwd) = p_str(ev, c::CWD) {
        info.cwd = cwd.into();
    }
    info.uid = p_u64(ev, c::UID).map_or(info.uid, |v| v as u32);
    info.gid = p_u64(ev, c::GID).map_or(info.gid, |v| v as u32);
    info.start_ts = ev.ts;
    info.session_leader_name = None;
    info.parent = parent_link(Some(parent));
    info
}

/// A process known only from its clone event (its parent unknown).
fn clone_only_info(ev: &Event, tgid: i64) -> ProcessInfo {
    use idx::clone as c;
    let comm: Arc<str> = p_str(ev, c::COMM).unwrap_or_default().into();
    ProcessInfo {
        tid: tgid,
        pid: tgid,
        ptid: p_i64(ev, c::PTID).unwrap_or(0),
        vpid: p_i64(ev, c::VPID).unwrap_or(tgid),
        vtid: p_i64(ev, c::VTID).unwrap_or(tgid),
        exe: p_str(ev, c::EXE).map_or(comm.clone(), Arc::from),
        name: comm,
        args: p_list(ev, c::ARGS).cloned().unwrap_or_default(),
        cwd: p_str(ev, c::CWD).unwrap_or_default().into(),
        uid: p_u64(ev, c::UID).unwrap_or(0) as u32,
        gid: p_u64(ev, c::GID).unwrap_or(0) as u32,
        loginuid: u32::MAX,
        start_ts: ev.ts,
        ..Default::default()
    }
}

// -------------------------------------------------------------------- fds

fn l4(scap: u8) -> Option<L4Proto> {
    match scap {
        2 => Some(L4Proto::Tcp),
        3 => Some(L4Proto::Udp),
        4 => Some(L4Proto::Icmp),
        5 => Some(L4Proto::Raw),
        0 => Some(L4Proto::Unknown),
        _ => None,
    }
}

fn ip_of(b: &[u8]) -> IpAddr {
    match b.len() {
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            let v6 = Ipv6Addr::from(a);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// An fd as the capture's fd list describes it.
fn fd_from_entry(e: &FdEntry) -> FdInfo {
    let base = FdInfo {
        num: e.fd,
        ino: e.ino,
        ..Default::default()
    };
    match &e.what {
        FdWhat::Inet {
            v6,
            sip,
            dip,
            sport,
            dport,
            l4proto,
        } => {
            let proto = l4(*l4proto);
            let t = SockTuple::Inet {
                proto: proto.unwrap_or(L4Proto::Unknown),
                sip: ip_of(sip),
                sport: *sport,
                dip: ip_of(dip),
                dport: *dport,
            };
            FdInfo {
                kind: if *v6 { FdKind::Ipv6 } else { FdKind::Ipv4 },
                name: t.to_string(),
                tuple: Some(t),
                l4proto: proto,
                connected: true,
                ..base
            }
        }
        FdWhat::InetServer {
            v6,
            ip,
            port,
            l4proto,
        } => {
            let mut info = FdInfo {
                kind: if *v6 { FdKind::Ipv6 } else { FdKind::Ipv4 },
                l4proto: l4(*l4proto),
                ..base
            };
            info = bound(
                &info,
                &SockAddr::Inet {
                    ip: ip_of(ip),
                    port: *port,
                },
            );
            info
        }
        FdWhat::Unix { source, dest, path } => {
            let t = SockTuple::Unix {
                source: *source,
                dest: *dest,
                path: path.clone(),
            };
            FdInfo {
                kind: FdKind::Unix,
                name: t.to_string(),
                tuple: Some(t),
                connected: true,
                ..base
            }
        }
        FdWhat::File { flags, name, dev } => {
            let flags = flags.map_or(0, |f| events::ppm_open(f as u64));
            FdInfo {
                kind: if flags & open::O_DIRECTORY != 0 {
                    FdKind::Directory
                } else {
                    FdKind::File
                },
                name: name.clone(),
                nameraw: name.clone(),
                flags,
                dev: dev.unwrap_or(0) as u64,
                ..base
            }
        }
        FdWhat::Named { scap_type, name } => FdInfo {
            kind: match *scap_type {
                fd_type::DIRECTORY => FdKind::Directory,
                fd_type::FIFO => FdKind::Pipe,
                fd_type::EVENT => FdKind::Event,
                fd_type::SIGNALFD => FdKind::Signalfd,
                fd_type::EVENTPOLL => FdKind::Eventpoll,
                fd_type::INOTIFY => FdKind::Inotify,
                fd_type::TIMERFD => FdKind::Timerfd,
                fd_type::NETLINK => FdKind::Netlink,
                fd_type::BPF => FdKind::Bpf,
                fd_type::USERFAULTFD => FdKind::Userfaultfd,
                fd_type::IOURING => FdKind::IoUring,
                fd_type::MEMFD => FdKind::Memfd,
                fd_type::PIDFD => FdKind::Pidfd,
                _ => FdKind::Unknown,
            },
            name: name.clone(),
            nameraw: if *scap_type == fd_type::DIRECTORY {
                name.clone()
            } else {
                String::new()
            },
            ..base
        },
    }
}

/// A fresh socket from `socket(domain, type, proto)`.
fn socket_fd(num: i64, domain: u64, stype: u64, proto: u64) -> FdInfo {
    let kind = match domain {
        2 => FdKind::Ipv4,
        10 => FdKind::Ipv6,
        1 => FdKind::Unix,
        16 => FdKind::Netlink,
        _ => FdKind::Unknown,
    };
    let l4proto = match (kind, stype & 0xf, proto) {
        (FdKind::Ipv4 | FdKind::Ipv6, _, 1 | 58) => Some(L4Proto::Icmp),
        (FdKind::Ipv4 | FdKind::Ipv6, 1, _) => Some(L4Proto::Tcp),
        (FdKind::Ipv4 | FdKind::Ipv6, 2, _) => Some(L4Proto::Udp),
        (FdKind::Ipv4 | FdKind::Ipv6, 3, _) => Some(L4Proto::Raw),
        _ => None,
    };
    FdInfo {
        num,
        kind,
        l4proto,
        ..Default::default()
    }
}

fn kind_of_tuple(t: &SockTuple) -> FdKind {
    match t {
        SockTuple::Inet {
            sip: IpAddr::V6(_), ..
        } => FdKind::Ipv6,
        SockTuple::Inet { .. } => FdKind::Ipv4,
        SockTuple::Unix { .. } => FdKind::Unix,
    }
}

/// `base` (or a fresh socket) with a connection tuple.
fn with_tuple(base: Option<&FdInfo>, num: i64, tuple: &SockTuple, role: SocketRole) -> FdInfo {
    let mut info = base.cloned().unwrap_or_default();
    info.num = num;
    if !info.kind.is_socket() {
        info.kind = kind_of_tuple(tuple);
    }
    if let SockTuple::Inet { proto, .. } = tuple {
        if info.l4proto.is_none() || *proto != L4Proto::Unknown {
            info.l4proto = Some(*proto);
        }
    }
    info.name = tuple.to_string();
    info.tuple = Some(tuple.clone());
    if info.role == SocketRole::None {
        info.role = role;
    }
    info.connected = true;
    info.name_changed = false;
    info
}

/// A socket after a successful bind: named after the address; a server for inet ports.
fn bound(base: &FdInfo, addr: &SockAddr) -> FdInfo {
    let mut info = base.clone();
    info.name = addr.to_string();
    info.name_changed = false;
    match addr {
        SockAddr::Inet { ip, port } if *port > 0 => {
            let any: IpAddr = match ip {
                IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
            };
            info.tuple = Some(SockTuple::Inet {
                proto: info.l4proto.unwrap_or(L4Proto::Unknown),
                sip: any,
                sport: 0,
                dip: *ip,
                dport: *port,
            });
            info.role = SocketRole::Server;
        }
        SockAddr::Unix { .. } => info.kind = FdKind::Unix,
        _ => {}
    }
    info
}

fn insert(p: &mut Proc, info: FdInfo) -> Arc<FdInfo> {
    let info = Arc::new(info);
    p.fds.insert(info.num, info.clone());
    info
}

/// The tuple parameter of a socket event.
fn tuple_index(et: EventType) -> Option<usize> {
    Some(match et {
        EventType::CONNECT | EventType::ACCEPT | EventType::ACCEPT4 => 1,
        EventType::SENDTO | EventType::SENDMSG => 4,
        EventType::RECVFROM => 2,
        EventType::RECVMSG => 3,
        _ => return None,
    })
}

/// Scap tuples carry no protocol: the socket's, when the table knows it (accepted
/// connections are stream sockets).
fn fill_tuple_proto(p: &Proc, ev: &mut Event) {
    let Some(i) = tuple_index(ev.etype) else {
        return;
    };
    let proto = if matches!(ev.etype, EventType::ACCEPT | EventType::ACCEPT4) {
        Some(L4Proto::Tcp)
    } else {
        ev.fd_num()
            .and_then(|fd| p.fds.get(&fd))
            .and_then(|f| f.l4proto)
    };
    if let (Some(proto), Some(ParamValue::Tuple(SockTuple::Inet { proto: slot, .. }))) =
        (proto, ev.params.get_mut(i))
    {
        if *slot == L4Proto::Unknown {
            *slot = proto;
        }
    }
}

/// Applies an fd event to `p`'s table and returns the fd info the event carries.
fn apply_fd(p: &mut Proc, ev: &mut Event, stats: &mut StateStats) -> Option<Arc<FdInfo>> {
    fill_tuple_proto(p, ev);
    let et = ev.etype;
    let lookup = |p: &Proc, fd: i64, stats: &mut StateStats| {
        let found = p.fds.get(&fd).cloned();
        if found.is_none() {
            stats.unknown_fds += 1;
        }
        found
    };
    match et {
        EventType::OPEN | EventType::OPENAT | EventType::OPENAT2 | EventType::CREAT => {
            opened(p, ev, stats)
        }
        EventType::SOCKET => {
            let fd = ev.res().filter(|fd| *fd >= 0)?;
            let u = |i| p_u64(ev, i).unwrap_or(0);
            Some(insert(p, socket_fd(fd, u(1), u(2), u(3))))
        }
        EventType::CONNECT => {
            let fd = ev.fd_num()?;
            let base = lookup(p, fd, stats);
            let res = ev.res().unwrap_or(0);
            match ev.param(1) {
                ParamValue::Tuple(t) if res == 0 || res == -EINPROGRESS => {
                    let info = with_tuple(base.as_deref(), fd, t, SocketRole::Client);
                    let stored = insert(p, info);
                    if base.is_some_and(|b| b.name != stored.name) {
                        let mut shown = FdInfo::clone(&stored);
                        shown.name_changed = true;
                        return Some(Arc::new(shown));
                    }
                    Some(stored)
                }
                _ => base,
            }
        }
        EventType::ACCEPT | EventType::ACCEPT4 => {
            let fd = ev.res().filter(|fd| *fd >= 0)?;
            match ev.param(1) {
                ParamValue::Tuple(t) => {
                    Some(insert(p, with_tuple(None, fd, t, SocketRole::Server)))
                }
                _ => Some(insert(
                    p,
                    FdInfo {
                        num: fd,
                        kind: FdKind::Unknown,
                        role: SocketRole::Server,
                        ..Default::default()
                    },
                )),
            }
        }
        EventType::BIND => {
            let fd = ev.fd_num()?;
            let base = lookup(p, fd, stats);
            match (ev.res(), ev.param(1)) {
                (Some(0), ParamValue::Addr(addr)) => {
                    let base = base.as_deref().cloned().unwrap_or_else(|| FdInfo {
                        num: fd,
                        kind: match addr {
                            SockAddr::Inet { ip, .. } if ip.is_ipv4() => FdKind::Ipv4,
                            SockAddr::Inet { .. } => FdKind::Ipv6,
                            SockAddr::Unix { .. } => FdKind::Unix,
                            SockAddr::Other { .. } => FdKind::Unknown,
                        },
                        ..Default::default()
                    });
                    Some(insert(p, bound(&base, addr)))
                }
                _ => base,
            }
        }
        EventType::LISTEN => {
            let fd = ev.fd_num()?;
            let base = lookup(p, fd, stats)?;
            if ev.res() == Some(0) && base.role == SocketRole::None {
                let mut info = FdInfo::clone(&base);
                info.role = SocketRole::Server;
                return Some(insert(p, info));
            }
            Some(base)
        }
        EventType::SENDTO | EventType::SENDMSG | EventType::RECVFROM | EventType::RECVMSG => {
            let fd = ev.fd_num()?;
            let base = lookup(p, fd, stats);
            let Some(ParamValue::Tuple(tuple)) = tuple_index(et).map(|i| ev.param(i)) else {
                return base;
            };
            if ev.res().is_some_and(|r| r < 0) {
                return base;
            }
            let udp = base
                .as_deref()
                .is_some_and(|b| b.l4proto == Some(L4Proto::Udp));
            let update = match base.as_deref() {
                None => true,
                Some(b) => b.tuple.is_none() || (udp && b.tuple.as_ref() != Some(tuple)),
            };
            if !update {
                return base;
            }
            let role = match et {
                EventType::SENDTO | EventType::SENDMSG => SocketRole::Client,
                _ => SocketRole::Server,
            };
            let had_name = base.as_deref().is_some_and(|b| !b.name.is_empty());
            let stored = insert(p, with_tuple(base.as_deref(), fd, tuple, role));
            if had_name {
                let mut shown = FdInfo::clone(&stored);
                shown.name_changed = true;
                return Some(Arc::new(shown));
            }
            Some(stored)
        }
        EventType::DUP | EventType::DUP2 | EventType::DUP3 => {
            let newfd = ev.res().filter(|fd| *fd >= 0)?;
            let oldfd = p_i64(ev, 1)?;
            let base = lookup(p, oldfd, stats)?;
            if newfd == oldfd {
                return Some(base);
            }
            let previous = p.fds.get(&newfd).map(|i| i.name.clone());
            let mut info = FdInfo::clone(&base);
            info.num = newfd;
            info.flags &= !open::O_CLOEXEC;
            if et == EventType::DUP3 {
                info.flags |= p_u64(ev, 3).unwrap_or(0) & open::O_CLOEXEC;
            }
            info.name_changed = false;
            let stored = insert(p, info);
            if previous.is_some_and(|name| name != stored.name) {
                let mut shown = FdInfo::clone(&stored);
                shown.name_changed = true;
                return Some(Arc::new(shown));
            }
            Some(stored)
        }
        EventType::CLOSE => {
            let fd = ev.fd_num()?;
            let info = lookup(p, fd, stats);
            if ev.res().is_none_or(|r| r >= 0) && info.is_some() {
                p.fds.remove(&fd);
            }
            info
        }
        EventType::BPF => {
            let fd = ev.res().filter(|fd| *fd >= 0)?;
            Some(insert(
                p,
                FdInfo {
                    num: fd,
                    kind: FdKind::Bpf,
                    ..Default::default()
                },
            ))
        }
        _ => {
            let fd = ev.fd_num()?;
            lookup(p, fd, stats)
        }
    }
}

/// open/openat/openat2/creat: a new file fd named by its absolute path.
fn opened(p: &mut Proc, ev: &Event, stats: &mut StateStats) -> Option<Arc<FdInfo>> {
    let fd = ev.res().filter(|fd| *fd >= 0)?;
    let (name_i, dirfd_i, flags_i, dev_i, ino_i) = match ev.etype {
        EventType::OPEN => (1, None, Some(2), 4, 5),
        EventType::OPENAT => (2, Some(1), Some(3), 5, 6),
        EventType::OPENAT2 => (2, Some(1), Some(3), 6, 7),
        _ => (1, None, None, 3, 4),
    };
    let raw = ev.param(name_i).as_str().unwrap_or_default();
    let dirfd = dirfd_i.and_then(|i| p_i64(ev, i)).unwrap_or(AT_FDCWD);
    let name = if raw.starts_with('/') {
        path::normalize(raw)
    } else if dirfd != AT_FDCWD {
        match p.fds.get(&dirfd) {
            Some(dir) => path::join(&dir.name, raw),
            None => {
                stats.unknown_fds += 1;
                format!("<UNKNOWN>/{raw}")
            }
        }
    } else {
        path::join(&p.info.cwd, raw)
    };
    let flags = match flags_i {
        Some(i) => p_u64(ev, i).unwrap_or(0),
        None => open::O_CREAT | open::O_WRONLY | open::O_TRUNC,
    };
    let u = |i| p_u64(ev, i).unwrap_or(0);
    let kind = if flags & open::O_DIRECTORY != 0 {
        FdKind::Directory
    } else {
        FdKind::File
    };
    Some(insert(
        p,
        FdInfo {
            num: fd,
            kind,
            name,
            nameraw: raw.to_string(),
            flags,
            dev: u(dev_i),
            ino: u(ino_i),
            ..Default::default()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_event::flags::open;

    #[test]
    fn indices_match_the_schemas() {
        use idx::{clone as c, exec as x};
        let exec = [
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
            (c::PID, "pid"),
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
        assert_eq!(EventType::PROCEXIT.params()[4].name, "reaper_tid");
    }

    fn ev(etype: EventType, ts: u64, tid: i64, params: Vec<ParamValue>) -> Event {
        Event::new(etype, ts, tid, params)
    }

    fn loaded() -> State {
        let mut s = State::new();
        s.add_user(&UserEntry {
            uid: 0,
            gid: 0,
            name: "root".into(),
            homedir: "/root".into(),
            shell: "/bin/bash".into(),
            container: String::new(),
        });
        let mut shell = super::super::writer::thread(10, 10, 1, "bash", &[]);
        shell.cwd = "/home/u".into();
        let worker = super::super::writer::thread(11, 10, 1, "bash", &[]);
        let init = super::super::writer::thread(1, 1, 0, "init", &[]);
        s.load_threads(&[shell, worker, init]);
        s.load_fds(
            10,
            &[
                super::super::writer::fd_file(0, "/dev/pts/0", 3),
                super::super::writer::fd_file(7, "/etc/passwd", 1 | 1 << 12),
            ],
        );
        s
    }

    #[test]
    fn process_list_builds_linked_snapshots_and_threads() {
        let mut s = loaded();
        let bash = s.process(10).unwrap();
        assert_eq!(bash.parent.as_ref().unwrap().name.as_ref(), "init");
        assert_eq!(bash.user.as_ref().unwrap().name.as_ref(), "root");
        assert_eq!(&*bash.container_id, HOST_CONTAINER_ID);
        assert_eq!(s.threads(), 3);
        // An event of the second thread carries its own tid.
        let mut e = ev(
            EventType::CLOSE,
            5,
            11,
            vec![ParamValue::Int(0), ParamValue::Int(7)],
        );
        s.apply(&mut e);
        assert_eq!(e.pid, 10);
        let p = e.process.as_ref().unwrap();
        assert_eq!((p.pid, p.tid), (10, 11));
        assert_eq!(e.fd.as_ref().unwrap().name, "/etc/passwd");
        assert!(s.fd(10, 7).is_none(), "closed");
    }

    #[test]
    fn exec_drops_cloexec_fds_and_fork_copies_the_table() {
        let mut s = loaded();
        let mut fork = ev(
            EventType::CLONE,
            10,
            20,
            vec![
                ParamValue::Int(0),
                ParamValue::Absent,
                ParamValue::Absent,
                ParamValue::Int(20),
                ParamValue::Int(20),
                ParamValue::Int(10),
                ParamValue::Absent,
                ParamValue::Str("bash".into()),
                ParamValue::Uint(0x11),
                ParamValue::Uint(0),
                ParamValue::Uint(0),
                ParamValue::Int(20),
                ParamValue::Int(20),
            ],
        );
        s.apply(&mut fork);
        assert_eq!(s.fd(20, 7).unwrap().name, "/etc/passwd");
        assert_eq!(fork.process.as_ref().unwrap().cwd.as_ref(), "/home/u");
        let mut params = vec![ParamValue::Absent; 25];
        params[0] = ParamValue::Int(0);
        params[1] = ParamValue::Str("cat".into());
        params[2] = ParamValue::StrList(["notes".into()].into());
        params[4] = ParamValue::Int(20);
        params[5] = ParamValue::Int(10);
        params[7] = ParamValue::Str("cat".into());
        params[21] = ParamValue::Str("/usr/bin/cat".into());
        let mut exec = ev(EventType::EXECVE, 11, 20, params);
        s.apply(&mut exec);
        let p = exec.process.as_ref().unwrap();
        assert_eq!(p.cmdline(), "cat notes");
        assert_eq!(p.parent.as_ref().unwrap().name.as_ref(), "bash");
        assert!(s.fd(20, 7).is_none(), "O_CLOEXEC fd gone");
        assert!(s.fd(20, 0).is_some());
        // A relative open resolves against the inherited cwd.
        let mut o = ev(
            EventType::OPENAT,
            12,
            20,
            vec![
                ParamValue::Int(3),
                ParamValue::Int(-100),
                ParamValue::Str("notes".into()),
                ParamValue::Uint(open::O_RDONLY),
            ],
        );
        s.apply(&mut o);
        assert_eq!(o.fd.as_ref().unwrap().name, "/home/u/notes");
    }

    #[test]
    fn unknown_threads_get_a_minimal_entry() {
        let mut s = State::new();
        let mut e = ev(
            EventType::CLOSE,
            1,
            99,
            vec![ParamValue::Int(0), ParamValue::Int(3)],
        );
        s.apply(&mut e);
        assert_eq!(e.process.as_ref().unwrap().pid, 99);
        assert_eq!(s.stats.missing_processes, 1);
        assert!(e.fd.is_none());
    }
}
