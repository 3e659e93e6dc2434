//! [`HostEnricher`]: the process, thread and fd tables, kept current from the events
//! themselves and attached to them.
//!
//! One thread owns it and feeds it batches in timestamp order. Per event the hot path is a
//! hash lookup by thread-group id (plus one by thread id for non-main threads, and one by
//! fd for fd events) and `Arc` clones; allocation happens only when something changes.

use crate::config::EnrichConfig;
use crate::container::{self, Runtime};
use crate::error::Result;
use crate::fdevents::{self, FdCtx};
use crate::fdtable::FdTable;
use crate::hold::{Hold, HoldStats, Release};
use crate::path;
use crate::process::{
    self, idx, param_i64, param_list, param_str, param_u64, Process, CLONE_THREAD,
};
use crate::procfs::{self, ProcReader, ProcRecord, SocketMap};
use crate::runtime::{ContainerMeta, Lookup};
use crate::stats::{EnrichStats, SharedStats};
use crate::users::{Scope, UserTable};
use peregrine_event::{Event, EventType, FdInfo, ProcessInfo, HOST_CONTAINER_ID};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// Ancestors read from `/proc` for one miss, at most.
const MAX_PROC_CHAIN: usize = 64;

/// A thread other than its process's main thread.
#[derive(Debug)]
struct Thread {
    tgid: i64,
    vtid: i64,
    /// The process's exec epoch when the thread was registered.
    epoch: u32,
    last_seen: u64,
    /// This thread's view of its process and the process generation it was built from.
    view: Option<(u64, Arc<ProcessInfo>)>,
}

/// The enrichment tables. See the crate docs for what each event does to them.
pub struct HostEnricher {
    cfg: EnrichConfig,
    reader: ProcReader,
    procs: FxHashMap<i64, Process>,
    threads: FxHashMap<i64, Thread>,
    /// Exited processes (and lone main threads) in exit order: (tgid, exit ts).
    exited: VecDeque<(i64, u64)>,
    /// Thread-group ids `/proc` did not have, with the event time of the failed lookup.
    negative: FxHashMap<i64, u64>,
    users: UserTable,
    stats: EnrichStats,
    shared: Arc<SharedStats>,
    /// Latest event time seen.
    now: u64,
    /// Container metadata from the runtimes.
    containers: ContainerMeta,
    /// Events waiting for their container's metadata.
    hold: Hold,
    /// Wall clock of the batch in hand (lookups, TTLs and the hold run on it).
    clock: Instant,
}

impl HostEnricher {
    /// Builds the tables and, when configured, reads every running process from `/proc`.
    pub fn new(cfg: EnrichConfig) -> HostEnricher {
        let reader = ProcReader::new(&cfg.proc_root);
        let users = UserTable::new(
            cfg.host_root.clone(),
            cfg.proc_root.clone(),
            cfg.user_cache_containers,
            cfg.user_recheck,
        );
        let mut e = HostEnricher {
            reader,
            procs: FxHashMap::default(),
            threads: FxHashMap::default(),
            exited: VecDeque::new(),
            negative: FxHashMap::default(),
            users,
            stats: EnrichStats::default(),
            shared: Arc::new(SharedStats::default()),
            now: 0,
            containers: ContainerMeta::new(cfg.containers.clone()),
            hold: Hold::default(),
            clock: Instant::now(),
            cfg,
        };
        if e.cfg.bootstrap {
            match e.bootstrap() {
                Ok(n) => tracing::info!(processes = n, "process table bootstrapped from /proc"),
                Err(err) => tracing::warn!(error = %err, "cannot bootstrap the process table"),
            }
        }
        e
    }

    /// Reads every process under the `/proc` root into the table (existing entries are
    /// replaced). Returns how many were read.
    pub fn bootstrap(&mut self) -> Result<usize> {
        let pids = self.reader.list_pids()?;
        let mut records: FxHashMap<i64, ProcRecord> = FxHashMap::default();
        for pid in pids {
            match self.reader.read_process(pid, self.cfg.proc_env) {
                Ok(rec) => {
                    records.insert(pid, rec);
                }
                Err(e) => tracing::debug!(pid, error = %e, "process vanished during bootstrap"),
            }
        }
        let mut sockets: FxHashMap<u64, SocketMap> = FxHashMap::default();
        let mut pids: Vec<i64> = records.keys().copied().collect();
        pids.sort_unstable();
        let n = pids.len();
        for pid in pids {
            // Parents first: walk up to the first ancestor already inserted.
            let mut chain = vec![pid];
            while let Some(rec) = chain.last().and_then(|p| records.get(p)) {
                let ppid = rec.ppid;
                if ppid <= 0
                    || !records.contains_key(&ppid)
                    || chain.len() > n
                    || chain.contains(&ppid)
                {
                    break;
                }
                chain.push(ppid);
            }
            for p in chain.into_iter().rev() {
                if let Some(rec) = records.remove(&p) {
                    let map = self.socket_map(&mut sockets, &rec);
                    self.insert_record(&rec, map);
                    self.stats.bootstrapped += 1;
                }
            }
        }
        self.evict_if_needed(0);
        self.publish();
        Ok(n)
    }

    /// The socket table of `rec`'s network namespace, read once per namespace.
    fn socket_map<'m>(
        &self,
        cache: &'m mut FxHashMap<u64, SocketMap>,
        rec: &ProcRecord,
    ) -> Option<&'m SocketMap> {
        if !self.cfg.proc_fds {
            return None;
        }
        Some(
            cache
                .entry(rec.netns)
                .or_insert_with(|| self.reader.read_sockets(rec.pid)),
        )
    }

    /// Inserts a process read from `/proc`; its parent (if any) must already be in.
    fn insert_record(&mut self, rec: &ProcRecord, sockets: Option<&SocketMap>) {
        let parent = self.procs.get(&rec.ppid).map(|p| p.info.clone());
        let mut info = process::proc_info(rec, parent.as_ref());
        let helper = container::is_runtime_helper(&rec.comm, &rec.exe, &rec.args);
        let cont: Option<Arc<str>> = rec
            .container
            .as_ref()
            .filter(|_| !helper)
            .map(|(_, id)| Arc::from(id.as_str()));
        info.container_id = container_short(cont.as_ref());
        self.resolve_users(&mut info, cont.as_ref(), true);
        let mut fds = FdTable::default();
        if self.cfg.proc_fds {
            match self
                .reader
                .read_fds(rec.pid, sockets, self.cfg.max_fds_per_process)
            {
                Ok(list) => {
                    let keep = |fd: &FdInfo| self.cfg.keep_regular_files || !fdevents::regular(fd);
                    for fd in list.into_iter().filter(keep) {
                        fds.insert(Arc::new(fd), self.cfg.max_fds_per_process);
                    }
                }
                Err(e) => tracing::debug!(pid = rec.pid, error = %e, "cannot read fds"),
            }
        }
        let mut p = Process::new(Arc::new(info), Arc::new(fds), cont, self.now);
        p.runtime = rec
            .container
            .as_ref()
            .filter(|_| !helper)
            .map(|(rt, _)| *rt);
        p.loaded_at = procfs::now_ns();
        self.insert_process(rec.pid, p);
    }

    /// Puts `p` in the table under `tgid`, replacing (and unlinking) whatever was there,
    /// and registers it with its parent.
    fn insert_process(&mut self, tgid: i64, p: Process) {
        let ptid = p.info.ptid;
        if let Some(old) = self.procs.insert(tgid, p) {
            self.unlink_child(old.info.ptid, tgid);
        }
        self.negative.remove(&tgid);
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

    /// user, group and loginuser for `info`'s ids. With `force` false, names already
    /// attached for the same ids are kept.
    fn resolve_users(&mut self, info: &mut ProcessInfo, cont: Option<&Arc<str>>, force: bool) {
        let scope = match cont {
            Some(id) => Scope::Container { id, pid: info.pid },
            None => Scope::Host,
        };
        if force || info.user.as_ref().is_none_or(|u| u.uid != info.uid) {
            info.user = self.users.user(scope, info.uid);
        }
        if force || info.group.as_ref().is_none_or(|g| g.gid != info.gid) {
            info.group = self.users.group(scope, info.gid);
        }
        if force
            || info
                .loginuser
                .as_ref()
                .is_none_or(|u| u.uid != info.loginuid)
        {
            info.loginuser = match info.loginuid {
                u32::MAX => None,
                uid => self.users.user(scope, uid),
            };
        }
    }

    /// Enriches a batch in order, then expires exited processes and publishes counters.
    /// Nothing is held: events of a container whose metadata is still being looked up go on
    /// without it (counted as `container_not_ready`); see [`Self::enrich_and_hold`].
    pub fn enrich(&mut self, batch: &mut [Event]) {
        self.clock = Instant::now();
        for ev in batch.iter_mut() {
            if self.enrich_one(ev).is_some() {
                self.stats.container_not_ready += 1;
            }
        }
        self.end_batch();
    }

    /// Enriches a batch like [`Self::enrich`], and holds back the events of containers whose
    /// first metadata lookup is in flight (when `containers.hold` is on). On return `batch`
    /// holds, in order, the held events released since the last call (their lookup
    /// answered or their hold timed out) and then this batch's events that need not wait.
    /// Each process's events keep their order.
    pub fn enrich_and_hold(&mut self, batch: &mut Vec<Event>) {
        let now = Instant::now();
        self.clock = now;
        let mut marks: Vec<(usize, Arc<str>)> = Vec::new();
        for (i, ev) in batch.iter_mut().enumerate() {
            if let Some(id) = self.enrich_one(ev) {
                marks.push((i, id));
            }
        }
        if !self.cfg.containers.hold {
            self.stats.container_not_ready += marks.len() as u64;
            self.end_batch();
            return;
        }
        if marks.is_empty() && self.hold.is_empty() {
            self.end_batch();
            return;
        }
        let mut out = Vec::with_capacity(batch.len() + self.hold.len());
        self.release_due(now, &mut out);
        let mut marks = marks.into_iter().peekable();
        for (i, mut ev) in batch.drain(..).enumerate() {
            if let Some((_, id)) = marks.next_if(|(j, _)| *j == i) {
                match self.containers.poll(&id, now) {
                    Lookup::Pending => {
                        self.hold.push(&id, ev, now);
                        if self.hold.len() > self.cfg.containers.hold_max_events {
                            self.release_oldest(now, &mut out);
                        }
                        continue;
                    }
                    Lookup::Ready(info) | Lookup::Unavailable(info) => ev.container = Some(info),
                }
            }
            out.push(ev);
        }
        *batch = out;
        self.end_batch();
    }

    /// Appends to `out` the held events that may go on now: their container's lookup
    /// answered, or their hold timed out. For calls between batches (the stage's tick).
    pub fn release_held(&mut self, out: &mut Vec<Event>) {
        if self.hold.is_empty() {
            return;
        }
        let now = Instant::now();
        self.clock = now;
        self.release_due(now, out);
        self.publish();
    }

    /// Appends every held event to `out` now, answered or not (shutdown).
    pub fn release_all(&mut self, out: &mut Vec<Event>) {
        let now = Instant::now();
        for (id, _) in self.hold.containers() {
            let (info, with) = match self.containers.poll(&id, now) {
                Lookup::Ready(info) => (info, true),
                Lookup::Unavailable(info) => (info, false),
                Lookup::Pending => (crate::runtime::meta::id_only(&id, None), false),
            };
            self.hold
                .release(&id, &info, with, Release::Flush, now, out);
        }
        self.publish();
    }

    /// Events held now.
    pub fn held(&self) -> usize {
        self.hold.len()
    }

    /// Counters of the hold.
    pub fn hold_stats(&self) -> HoldStats {
        self.hold.stats
    }

    /// The container metadata cache and its lookups.
    pub fn containers(&self) -> &ContainerMeta {
        &self.containers
    }

    fn release_due(&mut self, now: Instant, out: &mut Vec<Event>) {
        let timeout = self.cfg.containers.hold_timeout;
        for (id, since) in self.hold.containers() {
            match self.containers.poll(&id, now) {
                Lookup::Ready(info) => {
                    self.hold
                        .release(&id, &info, true, Release::Answered, now, out)
                }
                Lookup::Unavailable(info) => {
                    self.hold
                        .release(&id, &info, false, Release::Answered, now, out)
                }
                Lookup::Pending if now.duration_since(since) >= timeout => {
                    tracing::debug!(
                        container = container::short_id(&id),
                        "container metadata did not arrive in time; its events go on without it"
                    );
                    self.containers.hold_expired(&id);
                    let info = self.id_only(&id);
                    self.hold
                        .release(&id, &info, false, Release::Timeout, now, out);
                }
                Lookup::Pending => {}
            }
        }
    }

    /// The hold is full: the longest-held container's events go on without metadata.
    fn release_oldest(&mut self, now: Instant, out: &mut Vec<Event>) {
        if let Some((id, _)) = self.hold.containers().into_iter().next() {
            self.containers.hold_expired(&id);
            let info = self.id_only(&id);
            self.hold
                .release(&id, &info, false, Release::Overflow, now, out);
        }
    }

    fn id_only(&mut self, id: &Arc<str>) -> Arc<peregrine_event::ContainerInfo> {
        match self.containers.poll(id, self.clock) {
            Lookup::Ready(info) | Lookup::Unavailable(info) => info,
            Lookup::Pending => crate::runtime::meta::id_only(id, None),
        }
    }

    /// Enriches one event (batch housekeeping excluded: call [`Self::end_batch`] after a
    /// run of these). Container metadata still being looked up is not attached.
    pub fn enrich_event(&mut self, ev: &mut Event) {
        if self.enrich_one(ev).is_some() {
            self.stats.container_not_ready += 1;
        }
    }

    /// Enriches one event; returns the container's full id when its metadata is being
    /// looked up (the event has none attached).
    fn enrich_one(&mut self, ev: &mut Event) -> Option<Arc<str>> {
        self.stats.events += 1;
        if ev.process.is_some() {
            self.stats.preenriched += 1;
            return None;
        }
        self.now = self.now.max(ev.ts);
        let et = ev.etype;
        if et.is_clone() {
            self.on_clone(ev);
        } else if et.is_exec() && ev.res() == Some(0) {
            self.on_exec(ev);
        } else {
            self.on_event(ev);
        }
        self.attach_container(ev)
    }

    /// Container metadata for an event of a process in a container.
    fn attach_container(&mut self, ev: &mut Event) -> Option<Arc<str>> {
        let p = ev.process.as_deref()?;
        if &*p.container_id == HOST_CONTAINER_ID {
            return None;
        }
        let proc = self.procs.get(&p.pid)?;
        let id = proc.container.as_ref()?;
        match self.containers.lookup(id, proc.runtime, self.clock) {
            Lookup::Ready(info) | Lookup::Unavailable(info) => {
                ev.container = Some(info);
                None
            }
            Lookup::Pending => Some(id.clone()),
        }
    }

    /// Expires exited processes whose linger time has passed, bounds the tables and
    /// publishes the counters.
    pub fn end_batch(&mut self) {
        self.expire(false, 0);
        self.evict_if_needed(0);
        self.publish();
    }

    fn publish(&mut self) {
        let u = self.users.stats();
        self.stats.user_reloads = u.reloads;
        self.stats.user_container_loads = u.container_loads;
        self.stats.user_container_failures = u.container_load_failures;
        self.stats.processes = self.procs.len() as u64;
        self.stats.exited = self.exited.len() as u64;
        self.stats.threads = self.threads.len() as u64;
        let c = self.containers.stats();
        let s = &mut self.stats;
        s.container_hits = c.hits;
        s.container_misses = c.misses;
        s.container_evictions = c.evictions;
        s.container_negative_hits = c.negative_hits;
        s.container_lookups = c.lookups;
        s.container_refreshes = c.refreshes;
        s.container_retries = c.retries;
        s.container_queue_full = c.queue_full;
        s.container_found = c.found;
        s.container_not_found = c.not_found;
        s.container_errors = c.errors;
        s.container_docker_requests = c.docker.requests;
        s.container_docker_found = c.docker.found;
        s.container_docker_errors = c.docker.errors;
        s.container_docker_timeouts = c.docker.timeouts;
        s.container_cri_requests = c.cri.requests;
        s.container_cri_found = c.cri.found;
        s.container_cri_errors = c.cri.errors;
        s.container_cri_timeouts = c.cri.timeouts;
        s.container_no_socket = c.no_socket;
        s.container_not_found_retries = c.not_found_retries;
        s.containers_cached = c.cached;
        s.container_announced = c.announced_hits;
        s.container_events_created = c.events_created;
        s.container_events_connects = c.events_connects;
        s.container_events_errors = c.events_errors;
        let h = self.hold.stats;
        s.held_events = h.held;
        s.held_with_metadata = h.released_with_metadata;
        s.held_without_metadata = h.released_without_metadata;
        s.hold_timeouts = h.timeouts;
        s.hold_overflows = h.overflows;
        s.holding = h.holding;
        self.shared.publish(&self.stats);
    }

    /// The thread-group id an event belongs to.
    fn tgid_of(&self, ev: &Event) -> i64 {
        if ev.pid > 0 {
            return ev.pid;
        }
        self.threads.get(&ev.tid).map_or(ev.tid, |t| t.tgid)
    }

    /// Makes sure `tgid` is in the table (from `/proc`, else as a minimal entry); counts
    /// the hit or miss.
    fn ensure(&mut self, tgid: i64) {
        if self.procs.contains_key(&tgid) {
            self.stats.process_hits += 1;
            return;
        }
        self.stats.process_misses += 1;
        if !self.load_from_proc(tgid) {
            self.insert_minimal(tgid);
        }
    }

    /// Reads `tgid` and its unknown ancestors from `/proc`. False when it is not there (or
    /// lookups are off, or it failed recently).
    fn load_from_proc(&mut self, tgid: i64) -> bool {
        if !self.cfg.proc_lookup_on_miss || tgid <= 0 {
            return false;
        }
        let ttl = self.cfg.negative_ttl.as_nanos() as u64;
        if let Some(&failed) = self.negative.get(&tgid) {
            if self.now.saturating_sub(failed) < ttl {
                self.stats.negative_hits += 1;
                return false;
            }
        }
        let mut chain: Vec<ProcRecord> = Vec::new();
        let mut pid = tgid;
        while chain.len() < MAX_PROC_CHAIN && pid > 0 && !self.procs.contains_key(&pid) {
            self.stats.proc_lookups += 1;
            match self.reader.read_process(pid, self.cfg.proc_env) {
                Ok(rec) => {
                    pid = rec.ppid;
                    // A thread id resolves to its process: stop at what we asked for.
                    if chain.iter().any(|r| r.pid == rec.pid) {
                        break;
                    }
                    chain.push(rec);
                }
                Err(e) => {
                    self.stats.proc_lookup_failures += 1;
                    tracing::debug!(pid, error = %e, "process not in /proc");
                    self.remember_missing(pid);
                    break;
                }
            }
        }
        if chain.is_empty() {
            return false;
        }
        let mut sockets = FxHashMap::default();
        for rec in chain.iter().rev() {
            let map = self.socket_map(&mut sockets, rec).cloned();
            self.insert_record(rec, map.as_ref());
        }
        self.procs.contains_key(&tgid)
    }

    fn remember_missing(&mut self, tgid: i64) {
        if self.negative.len() >= self.cfg.max_negative {
            let ttl = self.cfg.negative_ttl.as_nanos() as u64;
            let now = self.now;
            self.negative.retain(|_, t| now.saturating_sub(*t) < ttl);
            if self.negative.len() >= self.cfg.max_negative {
                self.negative.clear();
            }
        }
        self.negative.insert(tgid, self.now);
    }

    /// A process nothing is known about but its id; queued to expire like an exited one.
    fn insert_minimal(&mut self, tgid: i64) {
        let mut info = process::minimal_info(tgid);
        info.container_id = HOST_CONTAINER_ID.into();
        let mut p = Process::new(Arc::new(info), Arc::default(), None, self.now);
        p.minimal = true;
        p.exit_ts = Some(self.now);
        self.exited.push_back((tgid, self.now));
        self.insert_process(tgid, p);
        self.evict_if_needed(tgid);
    }

    /// Any event that does not create or replace a process.
    fn on_event(&mut self, ev: &mut Event) {
        let tgid = self.tgid_of(ev);
        match self.procs.get_mut(&tgid) {
            Some(p) => {
                self.stats.process_hits += 1;
                p.last_seen = ev.ts;
            }
            None => self.ensure(tgid),
        }
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
        let Some(p) = self.procs.get_mut(&tgid) else {
            return;
        };
        if p.minimal {
            self.stats.events_without_process += 1;
        }
        ev.process = Some(view(&mut self.threads, p, ev.tid, ev.ts));
        if ev.etype.fd_param().is_some() {
            let untracked = fdevents::take_untracked(ev);
            let mut cx = FdCtx {
                max_fds: self.cfg.max_fds_per_process,
                reader: self.cfg.proc_lookup_on_miss.then_some(&self.reader),
                stats: &mut self.stats,
                keep_regular_files: self.cfg.keep_regular_files,
                untracked,
            };
            ev.fd = fdevents::apply(p, ev, &mut cx);
        }
        if ev.etype == EventType::PROCEXIT {
            self.on_exit(tgid, ev);
        }
    }

    /// setuid/setgid family, chdir and fchdir: a new snapshot with the changed field.
    fn change_ids_or_cwd(&mut self, tgid: i64, ev: &Event) {
        if ev.res() != Some(0) {
            return;
        }
        let Some(p) = self.procs.get(&tgid) else {
            return;
        };
        let id = |i: usize| {
            param_u64(ev, i)
                .map(|v| v as u32)
                .filter(|v| *v != u32::MAX)
        };
        let mut info = ProcessInfo::clone(&p.info);
        match ev.etype {
            EventType::SETUID => info.uid = id(1).unwrap_or(info.uid),
            EventType::SETRESUID => info.uid = id(2).unwrap_or(info.uid),
            EventType::SETGID => info.gid = id(1).unwrap_or(info.gid),
            EventType::SETRESGID => info.gid = id(2).unwrap_or(info.gid),
            EventType::CHDIR => match param_str(ev, 1) {
                Some(dir) => info.cwd = path::join(&info.cwd, dir).into(),
                None => return,
            },
            _ => match param_i64(ev, 1).and_then(|fd| p.fds.get(fd)) {
                Some(dir) if !dir.name.is_empty() => info.cwd = dir.name.as_str().into(),
                _ => return,
            },
        }
        if info.uid == p.info.uid && info.gid == p.info.gid && info.cwd == p.info.cwd {
            return;
        }
        let cont = p.container.clone();
        self.resolve_users(&mut info, cont.as_ref(), false);
        if let Some(p) = self.procs.get_mut(&tgid) {
            p.set_info(info);
        }
    }

    /// setsid: the process leads a new session whose id is the result (its pid), as
    /// libsinsp's setsid exit parser sets it; the process group is left as it was (Falco
    /// does not follow it there either: the next exec carries it).
    fn new_session(&mut self, tgid: i64, ev: &Event) {
        let Some(sid) = ev.res().filter(|r| *r > 0) else {
            return;
        };
        let Some(p) = self.procs.get_mut(&tgid) else {
            return;
        };
        if p.info.sid == sid {
            return;
        }
        let mut info = ProcessInfo::clone(&p.info);
        info.sid = sid;
        info.session_leader_name = None;
        p.set_info(info);
    }

    /// fork/vfork/clone/clone3, reported for the new task.
    fn on_clone(&mut self, ev: &mut Event) {
        let tid = ev.tid;
        let tgid = if ev.pid > 0 { ev.pid } else { tid };
        let flags = param_u64(ev, idx::clone::FLAGS).unwrap_or(0);
        if flags & CLONE_THREAD != 0 || tid != tgid {
            self.ensure(tgid);
            if let Some(p) = self.procs.get_mut(&tgid) {
                let vtid = param_i64(ev, idx::clone::VTID).unwrap_or(-1);
                register_thread(&mut self.threads, p, tid, vtid, ev.ts);
                ev.process = Some(view(&mut self.threads, p, tid, ev.ts));
            }
            return;
        }
        // A live entry read from /proc after this fork already describes the child.
        if let Some(p) = self.procs.get_mut(&tgid) {
            if p.loaded_at > ev.ts && p.exit_ts.is_none() {
                self.stats.process_hits += 1;
                p.last_seen = ev.ts;
                ev.process = Some(p.info.clone());
                return;
            }
        }
        // A new process is not a miss; its parent may be.
        let ptid = param_i64(ev, idx::clone::PTID).unwrap_or(0);
        if self.procs.contains_key(&ptid) {
            self.stats.process_hits += 1;
        } else {
            self.stats.process_misses += 1;
            if ptid > 0 && ptid != tgid {
                self.load_from_proc(ptid);
            }
        }
        let parent = self.procs.get(&ptid).filter(|_| ptid != tgid);
        let (mut info, fds, cont, runtime) = match parent {
            Some(pp) => {
                let mut info = process::fork_info(&pp.info, ev, tgid);
                if info.exe.is_empty() {
                    info.exe = info.name.clone();
                }
                (info, pp.fds.clone(), pp.container.clone(), pp.runtime)
            }
            None => {
                let mut info = process::clone_only_info(ev, tgid);
                info.container_id = HOST_CONTAINER_ID.into();
                (info, Arc::default(), None, None)
            }
        };
        self.resolve_users(&mut info, cont.as_ref(), false);
        let info = Arc::new(info);
        ev.process = Some(info.clone());
        let mut p = Process::new(info, fds, cont, ev.ts);
        p.runtime = runtime;
        self.insert_process(tgid, p);
        self.evict_if_needed(tgid);
    }

    /// A successful execve/execveat: the process gets a new snapshot.
    fn on_exec(&mut self, ev: &mut Event) {
        let tgid = param_i64(ev, idx::exec::PID)
            .filter(|p| *p > 0)
            .unwrap_or(if ev.pid > 0 { ev.pid } else { ev.tid });
        let ptid = param_i64(ev, idx::exec::PTID).unwrap_or(0);
        if self.procs.contains_key(&tgid) {
            self.stats.process_hits += 1;
        } else {
            self.stats.process_misses += 1;
        }
        if ptid > 0 && ptid != tgid && !self.procs.contains_key(&ptid) {
            self.load_from_proc(ptid);
        }
        let old = self.procs.get(&tgid);
        let mut info = process::exec_info(old.map(|p| &*p.info), ev, tgid);
        // The parent as it is now; else the link we had.
        let parent = match self.procs.get(&info.ptid).filter(|_| info.ptid != tgid) {
            Some(pp) => Some(pp.info.clone()),
            None => old.and_then(|p| p.info.parent.clone()),
        };
        info.parent = process::parent_link(parent.as_ref());
        let (cont, runtime): (Option<Arc<str>>, Option<Runtime>) =
            match param_list(ev, idx::exec::CGROUPS) {
                Some(cgroups) => {
                    match container::container_from_cgroups(cgroups.iter().map(String::as_str)) {
                        // The same container as before: keep the shared id.
                        Some(c) => match old.and_then(|p| p.container.clone()) {
                            Some(prev) if *prev == *c.id => (Some(prev), Some(c.runtime)),
                            _ => (Some(Arc::from(c.id)), Some(c.runtime)),
                        },
                        None => (None, None),
                    }
                }
                None => (
                    old.and_then(|p| p.container.clone()),
                    old.and_then(|p| p.runtime),
                ),
            };
        // runc's `runc init` sits in the container's cgroup before it runs the container's
        // command; it is the runtime's, not the container's.
        let (cont, runtime) = if container::is_runtime_helper(&info.name, &info.exe, &info.args) {
            (None, None)
        } else {
            (cont, runtime)
        };
        info.container_id = container_short(cont.as_ref());
        let old_ptid = old.map(|p| p.info.ptid);
        self.resolve_users(&mut info, cont.as_ref(), true);
        let new_ptid = info.ptid;
        match self.procs.get_mut(&tgid) {
            Some(p) => {
                p.set_info(info);
                p.container = cont;
                p.runtime = runtime;
                p.epoch = p.epoch.wrapping_add(1);
                p.threads = 0;
                p.leader_alive = true;
                p.exit_ts = None;
                p.minimal = false;
                p.last_seen = ev.ts;
                if p.fds.has_cloexec() {
                    Arc::make_mut(&mut p.fds).remove_cloexec();
                }
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
                let info = Arc::new(info);
                ev.process = Some(info.clone());
                let mut p = Process::new(info, Arc::default(), cont, ev.ts);
                p.runtime = runtime;
                self.insert_process(tgid, p);
                self.evict_if_needed(tgid);
            }
        }
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
        if (dead || tid == tgid) && p.exit_ts.is_none() {
            p.exit_ts = Some(ev.ts);
            self.exited.push_back((tgid, ev.ts));
        }
        if dead {
            const REAPER: usize = 4;
            let reaper = param_i64(ev, REAPER).unwrap_or(0);
            self.reparent(tgid, reaper);
        }
    }

    /// Hands the children of a dead process to the reaper the kernel chose, as Falco does.
    fn reparent(&mut self, tgid: i64, reaper_tid: i64) {
        if reaper_tid <= 0 {
            return;
        }
        let reaper = self.threads.get(&reaper_tid).map_or(reaper_tid, |t| t.tgid);
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
            info.parent = process::parent_link(Some(&reaper_info));
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

    /// After `root`'s snapshot changed: its descendants' parent links are rebuilt so that
    /// `proc.pname`/`proc.aname` see the change.
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
            let children = p.children.clone();
            for c in children {
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
                ci.parent = process::parent_link(Some(&info));
                cp.set_info(ci);
                stack.push(c);
            }
        }
    }

    /// Drops exited processes whose linger time is over (all of them with `force`).
    fn expire(&mut self, force: bool, keep: i64) {
        let linger = self.cfg.exited_linger.as_nanos() as u64;
        while let Some(&(tgid, ts)) = self.exited.front() {
            let due = force
                || ts.saturating_add(linger) <= self.now
                || self.exited.len() > self.cfg.max_exited;
            if !due {
                break;
            }
            self.exited.pop_front();
            if tgid == keep {
                // The process in hand (a fresh minimal entry): it waits its turn again.
                self.exited.push_back((tgid, ts));
                if self.exited.len() == 1 {
                    break;
                }
                continue;
            }
            let Some(p) = self.procs.get_mut(&tgid) else {
                continue;
            };
            if p.exit_ts != Some(ts) {
                continue; // re-queued, or the pid was reused
            }
            let still_running = !p.minimal
                && p.threads > 0
                && (!self.cfg.proc_lookup_on_miss
                    || self
                        .reader
                        .root()
                        .join(tgid.to_string())
                        .join("stat")
                        .exists());
            if still_running {
                // The main thread left but other threads run on.
                p.exit_ts = None;
                continue;
            }
            self.remove_process(tgid);
            self.stats.exited_dropped += 1;
        }
    }

    fn remove_process(&mut self, tgid: i64) {
        if let Some(p) = self.procs.remove(&tgid) {
            self.unlink_child(p.info.ptid, tgid);
        }
    }

    /// Keeps the process and thread tables within their sizes: exited processes go first,
    /// then the least recently active. `keep` is never evicted (the process in hand).
    fn evict_if_needed(&mut self, keep: i64) {
        if self.procs.len() > self.cfg.max_processes {
            self.expire(true, keep);
        }
        if self.procs.len() > self.cfg.max_processes {
            let target = self.cfg.max_processes - self.cfg.max_processes / 8;
            let mut ages: Vec<(u64, i64)> = self
                .procs
                .iter()
                .filter(|(pid, _)| **pid != keep)
                .map(|(pid, p)| (p.last_seen, *pid))
                .collect();
            let n = self.procs.len().saturating_sub(target).min(ages.len());
            if n > 0 {
                ages.select_nth_unstable(n - 1);
                for &(_, pid) in &ages[..n] {
                    self.remove_process(pid);
                    self.stats.process_evictions += 1;
                }
            }
            tracing::debug!(evicted = n, "process table full");
        }
        if self.threads.len() > self.cfg.max_threads {
            let procs = &self.procs;
            let before = self.threads.len();
            self.threads.retain(|_, t| procs.contains_key(&t.tgid));
            if self.threads.len() > self.cfg.max_threads {
                let target = self.cfg.max_threads - self.cfg.max_threads / 8;
                let mut ages: Vec<(u64, i64)> = self
                    .threads
                    .iter()
                    .map(|(tid, t)| (t.last_seen, *tid))
                    .collect();
                let n = self.threads.len().saturating_sub(target);
                ages.select_nth_unstable(n.saturating_sub(1));
                for &(_, tid) in &ages[..n] {
                    if let Some(t) = self.threads.remove(&tid) {
                        if let Some(p) = self.procs.get_mut(&t.tgid) {
                            if t.epoch == p.epoch {
                                p.threads = p.threads.saturating_sub(1);
                            }
                        }
                    }
                }
            }
            self.stats.thread_evictions += (before - self.threads.len()) as u64;
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> EnrichStats {
        self.stats
    }

    /// The counters as another thread can read them (updated once per batch).
    pub fn shared_stats(&self) -> Arc<SharedStats> {
        self.shared.clone()
    }

    /// The current snapshot of a process (by thread-group id).
    pub fn process(&self, pid: i64) -> Option<Arc<ProcessInfo>> {
        self.procs.get(&pid).map(|p| p.info.clone())
    }

    /// An fd of a process, as the table has it now.
    pub fn fd(&self, pid: i64, fd: i64) -> Option<Arc<FdInfo>> {
        self.procs.get(&pid)?.fds.get(fd).cloned()
    }

    /// The full (64-character) container id of a process; `None` on the host.
    pub fn container_full_id(&self, pid: i64) -> Option<Arc<str>> {
        self.procs.get(&pid)?.container.clone()
    }

    /// Fds in all the processes' tables (a table shared after a fork counts once per
    /// process, as each process sees it).
    pub fn fd_count(&self) -> usize {
        self.procs.values().map(|p| p.fds.len()).sum()
    }

    /// Processes in the table, live and exited.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn config(&self) -> &EnrichConfig {
        &self.cfg
    }
}

fn container_short(full: Option<&Arc<str>>) -> Arc<str> {
    match full {
        Some(id) => container::short_id(id).into(),
        None => HOST_CONTAINER_ID.into(),
    }
}

/// Registers `tid` as a live thread of `p` (a clone event, or the first event seen from it).
fn register_thread(
    threads: &mut FxHashMap<i64, Thread>,
    p: &mut Process,
    tid: i64,
    vtid: i64,
    ts: u64,
) {
    let tgid = p.pid();
    let vtid = if vtid > 0 {
        vtid
    } else if p.info.vpid == tgid {
        tid // not in a pid namespace: the ids are the same
    } else {
        -1
    };
    let fresh = Thread {
        tgid,
        vtid,
        epoch: p.epoch,
        last_seen: ts,
        view: None,
    };
    match threads.insert(tid, fresh) {
        Some(old) if old.tgid == tgid && old.epoch == p.epoch => {}
        _ => p.threads += 1,
    }
}

/// What an event of thread `tid` carries: the process snapshot itself for the main thread,
/// a per-thread copy (own tid/vtid) for the others, rebuilt only when the process changed.
fn view(
    threads: &mut FxHashMap<i64, Thread>,
    p: &mut Process,
    tid: i64,
    ts: u64,
) -> Arc<ProcessInfo> {
    let tgid = p.pid();
    if tid == tgid || tid <= 0 {
        return p.info.clone();
    }
    let known = threads
        .get(&tid)
        .is_some_and(|t| t.tgid == tgid && t.epoch == p.epoch);
    if !known {
        register_thread(threads, p, tid, -1, ts);
    }
    let Some(t) = threads.get_mut(&tid) else {
        return p.info.clone();
    };
    t.last_seen = ts;
    if let Some((gen, v)) = &t.view {
        if *gen == p.gen {
            return v.clone();
        }
    }
    let mut info = ProcessInfo::clone(&p.info);
    info.tid = tid;
    info.vtid = t.vtid;
    let v = Arc::new(info);
    t.view = Some((p.gen, v.clone()));
    v
}

#[cfg(test)]
#[path = "enricher_tests.rs"]
mod tests;
