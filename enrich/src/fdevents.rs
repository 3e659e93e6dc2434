//! How each fd event changes its process's fd table, and which fd info it carries.

use crate::fdtable::{self, FdTable};
use crate::path;
use crate::process::{param_i64, param_u64, Process};
use crate::procfs::ProcReader;
use crate::stats::EnrichStats;
use peregrine_event::flags::open;
use peregrine_event::{
    Event, EventType, FdInfo, FdKind, L4Proto, ParamValue, SockAddr, SocketRole,
};
use std::sync::Arc;

/// `AT_FDCWD`: the *at calls' "relative to the cwd".
const AT_FDCWD: i64 = -100;
/// A non-blocking connect that is still in progress has succeeded as far as the fd goes.
const EINPROGRESS: i64 = 115;
/// fds remembered per process as absent from `/proc` too.
const MAX_MISSING_FDS: usize = 64;

/// What fd handling needs besides the process.
pub(crate) struct FdCtx<'a> {
    pub max_fds: usize,
    /// Set when unknown fds may be looked up in `/proc/<pid>/fd`.
    pub reader: Option<&'a ProcReader>,
    pub stats: &'a mut EnrichStats,
    /// See [`crate::EnrichConfig::keep_regular_files`].
    pub keep_regular_files: bool,
    /// This open's file is one the kernel leaves out of the state tables (see
    /// [`take_untracked`]).
    pub untracked: bool,
}

/// The probe's mark on an open's flags (a creat's `creat_flags`) that the file is regular
/// and the state tables leave it out: its close will not be sent (`PG_O_F_UNTRACKED`).
pub const O_F_UNTRACKED: u64 = 1 << 33;

/// Whether an open of `ev` carries [`O_F_UNTRACKED`], taking the mark off so no rule or
/// output sees it.
pub(crate) fn take_untracked(ev: &mut Event) -> bool {
    let i = match ev.etype {
        EventType::OPEN => 2,
        EventType::OPENAT | EventType::OPENAT2 => 3,
        EventType::CREAT => 5,
        _ => return false,
    };
    match ev.params.get_mut(i) {
        Some(ParamValue::Uint(flags)) if *flags & O_F_UNTRACKED != 0 => {
            *flags &= !O_F_UNTRACKED;
            true
        }
        _ => false,
    }
}

/// A file (not a directory, socket or the like): what the tables leave out when they keep
/// no regular files. Devices and fifos with names count too, which only costs lookups.
pub(crate) fn regular(info: &FdInfo) -> bool {
    info.kind == FdKind::File
}

impl FdCtx<'_> {
    /// The fd's info: from the table, else (when allowed) from `/proc`, remembered.
    fn lookup(&mut self, p: &mut Process, fd: i64, from_proc: bool) -> Option<Arc<FdInfo>> {
        if let Some(info) = p.fds.get(fd) {
            self.stats.fd_hits += 1;
            return Some(info.clone());
        }
        self.stats.fd_misses += 1;
        let reader = self.reader.filter(|_| from_proc && fd >= 0)?;
        if p.missing_fds.contains(&fd) {
            return None;
        }
        self.stats.fd_proc_lookups += 1;
        let pid = p.pid();
        let found = reader.read_fd(pid, fd, None).map(|info| {
            if info.kind == FdKind::Unknown && info.name.starts_with("socket:") {
                // A socket: describe it from its namespace's socket tables.
                reader
                    .read_fd(pid, fd, Some(&reader.read_sockets(pid)))
                    .unwrap_or(info)
            } else {
                info
            }
        });
        match found {
            Ok(info) => Some(self.insert(p, info)),
            Err(e) => {
                tracing::trace!(pid, fd, error = %e, "fd not in /proc either");
                if p.missing_fds.len() >= MAX_MISSING_FDS {
                    p.missing_fds.remove(0);
                }
                p.missing_fds.push(fd);
                None
            }
        }
    }

    /// Puts `info` in the table, unless it is a file the table must not keep.
    fn insert(&mut self, p: &mut Process, info: FdInfo) -> Arc<FdInfo> {
        if !self.keep_regular_files && regular(&info) {
            // Whatever held the number before is gone.
            forget(p, info.num);
            return Arc::new(info);
        }
        self.store(p, info)
    }

    fn store(&mut self, p: &mut Process, info: FdInfo) -> Arc<FdInfo> {
        let info = Arc::new(info);
        if !p.missing_fds.is_empty() {
            p.missing_fds.retain(|fd| *fd != info.num);
        }
        if !Arc::make_mut(&mut p.fds).insert(info.clone(), self.max_fds) {
            self.stats.fd_table_full += 1;
        }
        info
    }
}

fn table(p: &mut Process) -> &mut FdTable {
    Arc::make_mut(&mut p.fds)
}

/// Drops what the table holds for `fd`, if anything (a table shared after a fork is copied
/// only then).
fn forget(p: &mut Process, fd: i64) {
    if p.fds.get(fd).is_some() {
        table(p).remove(fd);
    }
}

/// Applies an fd event to `p`'s table and returns the fd info the event should carry.
pub(crate) fn apply(p: &mut Process, ev: &Event, cx: &mut FdCtx<'_>) -> Option<Arc<FdInfo>> {
    let et = ev.etype;
    match et {
        EventType::OPEN | EventType::OPENAT | EventType::OPENAT2 | EventType::CREAT => {
            opened(p, ev, cx)
        }
        EventType::SOCKET => {
            let fd = ev.res().filter(|fd| *fd >= 0)?;
            let u = |i| param_u64(ev, i).unwrap_or(0);
            Some(cx.insert(p, fdtable::socket(fd, u(1), u(2), u(3))))
        }
        EventType::CONNECT => {
            let fd = ev.fd_num()?;
            let base = cx.lookup(p, fd, true);
            let res = ev.res().unwrap_or(0);
            match ev.param(1) {
                ParamValue::Tuple(t) if res == 0 || res == -EINPROGRESS => {
                    let info = fdtable::with_tuple(base.as_deref(), fd, t, SocketRole::Client);
                    let stored = cx.insert(p, info);
                    // As libsinsp compares the name before and after parsing: a known
                    // socket's name changes from "" (or an older tuple) to this one.
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
                    let info = fdtable::with_tuple(None, fd, t, SocketRole::Server);
                    Some(cx.insert(p, info))
                }
                _ => Some(cx.insert(
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
            let base = cx.lookup(p, fd, true);
            match (ev.res(), ev.param(1)) {
                (Some(0), ParamValue::Addr(addr)) => {
                    let base = base
                        .as_deref()
                        .cloned()
                        .unwrap_or_else(|| unknown_socket(fd, addr));
                    Some(cx.insert(p, fdtable::bound(&base, addr)))
                }
                _ => base,
            }
        }
        EventType::LISTEN => {
            let fd = ev.fd_num()?;
            let base = cx.lookup(p, fd, true)?;
            if ev.res() == Some(0) && base.role == SocketRole::None {
                let mut info = FdInfo::clone(&base);
                info.role = SocketRole::Server;
                return Some(cx.insert(p, info));
            }
            Some(base)
        }
        EventType::SENDTO | EventType::SENDMSG | EventType::RECVFROM | EventType::RECVMSG => {
            io(p, ev, cx)
        }
        EventType::DUP | EventType::DUP2 | EventType::DUP3 => {
            let newfd = ev.res().filter(|fd| *fd >= 0)?;
            let oldfd = param_i64(ev, 1)?;
            let Some(base) = cx.lookup(p, oldfd, true) else {
                // Unknown now, so is the new number: drop what it held before.
                if newfd != oldfd {
                    forget(p, newfd);
                }
                return None;
            };
            if newfd == oldfd {
                return Some(base);
            }
            let previous = p.fds.get(newfd).map(|i| i.name.clone());
            let mut info = FdInfo::clone(&base);
            info.num = newfd;
            // dup and dup2 clear close-on-exec; dup3 sets it when asked.
            info.flags &= !open::O_CLOEXEC;
            if et == EventType::DUP3 {
                info.flags |= param_u64(ev, 3).unwrap_or(0) & open::O_CLOEXEC;
            }
            info.name_changed = false;
            let stored = cx.insert(p, info);
            if previous.is_some_and(|name| name != stored.name) {
                let mut shown = FdInfo::clone(&stored);
                shown.name_changed = true;
                return Some(Arc::new(shown));
            }
            Some(stored)
        }
        EventType::CLOSE => {
            let fd = ev.fd_num()?;
            // Already closed by the time we look: /proc cannot help.
            let info = cx.lookup(p, fd, false);
            if ev.res().is_none_or(|r| r >= 0) && info.is_some() {
                table(p).remove(fd);
            }
            info
        }
        EventType::BPF => {
            let fd = ev.res().filter(|fd| *fd >= 0)?;
            Some(cx.insert(
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
            // The probe may have named the fd itself (fchmod of a file the tables leave out).
            cx.lookup(p, fd, ev.fd.is_none()).or_else(|| ev.fd.clone())
        }
    }
}

/// A socket first seen at bind: its kind from the address.
fn unknown_socket(fd: i64, addr: &SockAddr) -> FdInfo {
    let kind = match addr {
        SockAddr::Inet { ip, .. } if ip.is_ipv4() => FdKind::Ipv4,
        SockAddr::Inet { .. } => FdKind::Ipv6,
        SockAddr::Unix { .. } => FdKind::Unix,
        SockAddr::Other { .. } => FdKind::Unknown,
    };
    FdInfo {
        num: fd,
        kind,
        ..Default::default()
    }
}

/// open/openat/openat2/creat: a new file fd named by its absolute path.
fn opened(p: &mut Process, ev: &Event, cx: &mut FdCtx<'_>) -> Option<Arc<FdInfo>> {
    let fd = ev.res().filter(|fd| *fd >= 0)?;
    // (name, dirfd, flags, dev, ino) positions in each schema.
    let (name_i, dirfd_i, flags_i, dev_i, ino_i) = match ev.etype {
        EventType::OPEN => (1, None, Some(2), 4, 5),
        EventType::OPENAT => (2, Some(1), Some(3), 5, 6),
        EventType::OPENAT2 => (2, Some(1), Some(3), 6, 7),
        _ => (1, None, None, 3, 4), // creat
    };
    let raw = ev.param(name_i).as_str().unwrap_or_default();
    let dirfd = dirfd_i.and_then(|i| param_i64(ev, i)).unwrap_or(AT_FDCWD);
    let name = if raw.starts_with('/') {
        path::normalize(raw)
    } else if dirfd != AT_FDCWD {
        match cx.lookup(p, dirfd, true) {
            Some(dir) => path::join(&dir.name, raw),
            None => format!("<UNKNOWN>/{raw}"),
        }
    } else {
        path::join(&p.info.cwd, raw)
    };
    let flags = match flags_i {
        Some(i) => param_u64(ev, i).unwrap_or(0),
        None => open::O_CREAT | open::O_WRONLY | open::O_TRUNC,
    };
    let u = |i| param_u64(ev, i).unwrap_or(0);
    let info = fdtable::file(fd, name, raw.to_string(), flags, u(dev_i), u(ino_i));
    if cx.untracked {
        // Its close will not come: kept out of the table, as any earlier holder of the
        // number is gone.
        forget(p, fd);
        return Some(Arc::new(info));
    }
    Some(cx.store(p, info))
}

/// send/recv: UDP peers (and sockets we had not seen) take the event's tuple.
fn io(p: &mut Process, ev: &Event, cx: &mut FdCtx<'_>) -> Option<Arc<FdInfo>> {
    let fd = ev.fd_num()?;
    let base = cx.lookup(p, fd, true);
    let tuple_i = match ev.etype {
        EventType::SENDTO | EventType::SENDMSG => 4,
        EventType::RECVFROM => 2,
        _ => 3,
    };
    let ParamValue::Tuple(tuple) = ev.param(tuple_i) else {
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
    let role = match ev.etype {
        EventType::SENDTO | EventType::SENDMSG => SocketRole::Client,
        _ => SocketRole::Server,
    };
    let had_name = base.as_deref().is_some_and(|b| !b.name.is_empty());
    let stored = cx.insert(p, fdtable::with_tuple(base.as_deref(), fd, tuple, role));
    if had_name {
        let mut shown = FdInfo::clone(&stored);
        shown.name_changed = true;
        return Some(Arc::new(shown));
    }
    Some(stored)
}
