//! `proc.*` and `thread.*` fields: the acting process, its ancestors and its thread.

use super::registry::{Arg, FieldDef, Id};
use super::render;
use super::value::{Borrowed, FieldType, Value};
use super::{any_slots, set_bool, set_i64, set_u64};
use peregrine_event::{Event, ProcessInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F {
    Pid,
    Ppid,
    Vpid,
    Pvpid,
    Sid,
    Sname,
    SidExe,
    SidExepath,
    Vpgid,
    VpgidName,
    VpgidExe,
    VpgidExepath,
    IsSidLeader,
    IsVpgidLeader,
    Name,
    Exe,
    Exepath,
    Args,
    Cmdline,
    Exeline,
    Cmdnargs,
    Cmdlenargs,
    Pname,
    Pexe,
    Pexepath,
    Pcmdline,
    Aname,
    Aexe,
    Aexepath,
    Acmdline,
    Apid,
    Cwd,
    Tty,
    Env,
    Loginshellid,
    Duration,
    PpidDuration,
    PidTs,
    PpidTs,
    IsExeWritable,
    IsExeUpperLayer,
    IsExeFromMemfd,
    IsExeLowerLayer,
    ExeIno,
    ExeInoCtime,
    ExeInoMtime,
    ExeInoCtimeDurationProcStart,
    ExeInoCtimeDurationPidnsStart,
    ThreadTid,
    ThreadVtid,
    ThreadIsmain,
    CapPermitted,
    CapInheritable,
    CapEffective,
}

const fn d(name: &'static str, t: FieldType, desc: &'static str, f: F) -> FieldDef {
    FieldDef::new(name, t, "process", desc, Id::Proc(f))
}

use super::registry::ArgSpec as A;
use FieldType as T;

pub(crate) const DEFS: &[FieldDef] = &[
    d("proc.exe", T::Str, "The first command line argument argv[0], usually the executable name.", F::Exe),
    d("proc.pexe", T::Str, "The proc.exe of the parent process.", F::Pexe),
    d("proc.aexe", T::Str, "The proc.exe of an ancestor: proc.aexe[1] is the parent; without an index, matches any ancestor.", F::Aexe).ancestor(),
    d("proc.exepath", T::Str, "The full executable path of the process.", F::Exepath),
    d("proc.pexepath", T::Str, "The proc.exepath of the parent process.", F::Pexepath),
    d("proc.aexepath", T::Str, "The proc.exepath of an ancestor: proc.aexepath[1] is the parent; without an index, matches any ancestor.", F::Aexepath).ancestor(),
    d("proc.name", T::Str, "The process name (task->comm, at most 15 characters).", F::Name),
    d("proc.pname", T::Str, "The proc.name of the parent process.", F::Pname),
    d("proc.aname", T::Str, "The proc.name of an ancestor: proc.aname[0] is the process, [1] the parent; without an index, matches any ancestor.", F::Aname).ancestor(),
    d("proc.args", T::Str, "The command line arguments, excluding argv[0].", F::Args),
    d("proc.cmdline", T::Str, "proc.name followed by proc.args.", F::Cmdline),
    d("proc.pcmdline", T::Str, "The proc.cmdline of the parent process.", F::Pcmdline),
    d("proc.acmdline", T::Str, "The proc.cmdline of an ancestor: proc.acmdline[1] is the parent; without an index, matches any ancestor.", F::Acmdline).ancestor(),
    d("proc.cmdnargs", T::U64, "The number of command line arguments (proc.args).", F::Cmdnargs),
    d("proc.cmdlenargs", T::U64, "The total length of the command line arguments, without separators.", F::Cmdlenargs),
    d("proc.exeline", T::Str, "proc.exe followed by proc.args.", F::Exeline),
    d("proc.env", T::Str, "The environment as 'NAME=value NAME1=value1'; proc.env[NAME] is one variable's value.", F::Env)
        .arg(A::Key { required: false }),
    d("proc.cwd", T::Str, "The current working directory of the process.", F::Cwd),
    d("proc.loginshellid", T::I64, "The pid of the oldest shell among the process and its ancestors.", F::Loginshellid),
    d("proc.tty", T::U32, "The controlling terminal of the process; 0 for processes without a terminal.", F::Tty),
    d("proc.pid", T::I64, "The id of the process generating the event.", F::Pid),
    d("proc.ppid", T::I64, "The pid of the parent of the process generating the event.", F::Ppid),
    d("proc.apid", T::I64, "The pid of an ancestor: proc.apid[1] is the parent; without an index, matches any ancestor.", F::Apid).ancestor(),
    d("proc.vpid", T::I64, "The pid as seen from the process's own pid namespace.", F::Vpid),
    d("proc.pvpid", T::I64, "The parent's pid as seen from its pid namespace.", F::Pvpid),
    d("proc.sid", T::I64, "The session id of the process.", F::Sid),
    d("proc.sname", T::Str, "The name of the session leader: the process with pid=proc.sid, or the eldest ancestor with the same sid.", F::Sname),
    d("proc.sid.exe", T::Str, "The proc.exe of the session leader.", F::SidExe),
    d("proc.sid.exepath", T::Str, "The proc.exepath of the session leader.", F::SidExepath),
    d("proc.vpgid", T::I64, "The process group id, as seen from the process's pid namespace.", F::Vpgid),
    d("proc.vpgid.name", T::Str, "The name of the process group leader (the eldest ancestor with the same vpgid).", F::VpgidName),
    d("proc.vpgid.exe", T::Str, "The proc.exe of the process group leader.", F::VpgidExe),
    d("proc.vpgid.exepath", T::Str, "The proc.exepath of the process group leader.", F::VpgidExepath),
    d("proc.duration", T::RelTime, "Nanoseconds since the process started.", F::Duration),
    d("proc.ppid.duration", T::RelTime, "Nanoseconds since the parent process started.", F::PpidDuration),
    d("proc.pid.ts", T::RelTime, "Start of the process as epoch nanoseconds.", F::PidTs),
    d("proc.ppid.ts", T::RelTime, "Start of the parent process as epoch nanoseconds.", F::PpidTs),
    d("proc.is_exe_writable", T::Bool, "'true' if the executable is writable by the user that spawned the process.", F::IsExeWritable),
    d("proc.is_exe_upper_layer", T::Bool, "'true' if the executable is in the overlayfs upper layer.", F::IsExeUpperLayer),
    d("proc.is_exe_lower_layer", T::Bool, "'true' if the executable is in an overlayfs lower layer.", F::IsExeLowerLayer),
    d("proc.is_exe_from_memfd", T::Bool, "'true' if the executable is an anonymous memfd file (fileless execution).", F::IsExeFromMemfd),
    d("proc.is_sid_leader", T::Bool, "'true' if the process leads its session (proc.sid == proc.vpid).", F::IsSidLeader),
    d("proc.is_vpgid_leader", T::Bool, "'true' if the process leads its process group (proc.vpgid == proc.vpid).", F::IsVpgidLeader),
    d("proc.exe_ino", T::I64, "The inode number of the executable file.", F::ExeIno),
    d("proc.exe_ino.ctime", T::AbsTime, "Last status change time of the executable (epoch ns).", F::ExeInoCtime),
    d("proc.exe_ino.mtime", T::AbsTime, "Last modification time of the executable (epoch ns).", F::ExeInoMtime),
    d("proc.exe_ino.ctime_duration_proc_start", T::AbsTime, "Nanoseconds between the executable's ctime and the process start.", F::ExeInoCtimeDurationProcStart),
    d("proc.exe_ino.ctime_duration_pidns_start", T::AbsTime, "Nanoseconds between the pid namespace start and the executable's ctime, when the ctime is later.", F::ExeInoCtimeDurationPidnsStart),
    d("thread.cap_permitted", T::Str, "The permitted capabilities set, as capability names.", F::CapPermitted),
    d("thread.cap_inheritable", T::Str, "The inheritable capabilities set, as capability names.", F::CapInheritable),
    d("thread.cap_effective", T::Str, "The effective capabilities set, as capability names.", F::CapEffective),
    d("thread.tid", T::I64, "The id of the thread generating the event.", F::ThreadTid),
    d("thread.ismain", T::Bool, "'true' if the thread generating the event is the process's main thread.", F::ThreadIsmain),
    d("thread.vtid", T::I64, "The thread id as seen from its pid namespace.", F::ThreadVtid),
];

/// The ancestor fields, which match any ancestor when written without an index.
pub(crate) fn is_ancestor(f: F) -> bool {
    matches!(f, F::Aname | F::Aexe | F::Aexepath | F::Acmdline | F::Apid)
}

/// Falco hides ids outside [-1, u32::MAX]: they are not real host ids.
fn xid(v: i64) -> Option<i64> {
    (-1..=i64::from(u32::MAX)).contains(&v).then_some(v)
}

/// Which attribute of a process an ancestor field reads.
#[derive(Clone, Copy)]
enum Attr {
    Name,
    Exe,
    Exepath,
    Cmdline,
    Pid,
}

fn attr_of(f: F) -> Attr {
    match f {
        F::Aname | F::Pname | F::Name | F::Sname | F::VpgidName => Attr::Name,
        F::Aexe | F::Pexe | F::Exe | F::SidExe | F::VpgidExe => Attr::Exe,
        F::Aexepath | F::Pexepath | F::Exepath | F::SidExepath | F::VpgidExepath => Attr::Exepath,
        F::Acmdline | F::Pcmdline | F::Cmdline => Attr::Cmdline,
        _ => Attr::Pid,
    }
}

/// Writes one attribute of `p`; false when it has none (an id Falco would hide).
fn write_attr(p: &ProcessInfo, attr: Attr, out: &mut Value) -> bool {
    match attr {
        Attr::Name => out.set_str(&p.name),
        Attr::Exe => out.set_str(&p.exe),
        Attr::Exepath => out.set_str(&p.exepath),
        Attr::Cmdline => write_cmdline(p, out.str_buf()),
        Attr::Pid => match xid(p.pid) {
            Some(pid) => *out = Value::I64(pid),
            None => return false,
        },
    }
    true
}

/// `proc.cmdline`: the name, then each argument after a space.
fn write_cmdline(p: &ProcessInfo, buf: &mut String) {
    buf.push_str(&p.name);
    for a in p.args.iter() {
        buf.push(' ');
        buf.push_str(a);
    }
}

fn write_joined_args(args: &[String], buf: &mut String) {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        buf.push_str(a);
    }
}

/// The eldest of `p` and its ancestors that shares `key(p)`: Falco's fallback for session
/// and process-group leaders when the leader is not in the thread table.
fn eldest_with(p: &ProcessInfo, key: impl Fn(&ProcessInfo) -> i64) -> &ProcessInfo {
    let id = key(p);
    p.ancestors()
        .take_while(|a| key(a) == id)
        .last()
        .unwrap_or(p)
}

/// `proc.env[NAME]`: the value with surrounding spaces trimmed, "" when unset.
fn env_value<'a>(p: &'a ProcessInfo, key: &str) -> &'a str {
    p.env
        .iter()
        .find_map(|kv| {
            kv.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .filter(|v| !v.is_empty())
        })
        .map(|v| v.trim_matches(' '))
        .unwrap_or("")
}

pub(crate) fn extract(f: F, arg: &Arg, ev: &Event, out: &mut Value) -> bool {
    // thread.tid comes from the event, so it exists even without process context.
    if f == F::ThreadTid {
        return xid(ev.tid).is_some_and(|tid| set_i64(out, tid));
    }
    let Some(p) = ev.process.as_deref() else {
        return false;
    };
    let parent = p.parent.as_deref();
    match f {
        F::Pid => xid(p.pid).is_some_and(|v| set_i64(out, v)),
        F::Ppid => {
            let ppid = match parent {
                Some(pp) if p.tid != p.pid => pp.pid,
                _ => p.ptid,
            };
            xid(ppid).is_some_and(|v| set_i64(out, v))
        }
        F::Vpid => p.vpid != -1 && set_i64(out, p.vpid),
        F::Pvpid => parent.is_some_and(|pp| set_i64(out, pp.vpid)),
        F::Sid => set_i64(out, p.sid),
        F::Vpgid => set_i64(out, p.vpgid),
        F::Sname => match &p.session_leader_name {
            Some(name) => {
                out.set_str(name);
                true
            }
            None => write_attr(eldest_with(p, |t| t.sid), Attr::Name, out),
        },
        F::SidExe | F::SidExepath => write_attr(eldest_with(p, |t| t.sid), attr_of(f), out),
        F::VpgidName | F::VpgidExe | F::VpgidExepath => {
            write_attr(eldest_with(p, |t| t.vpgid), attr_of(f), out)
        }
        F::IsSidLeader => set_bool(out, p.sid == p.vpid),
        F::IsVpgidLeader => set_bool(out, p.vpgid == p.vpid),
        F::Name | F::Exe | F::Exepath | F::Cmdline => write_attr(p, attr_of(f), out),
        F::Args => {
            write_joined_args(&p.args, out.str_buf());
            true
        }
        F::Exeline => {
            let buf = out.str_buf();
            buf.push_str(&p.exe);
            buf.push(' ');
            write_joined_args(&p.args, buf);
            true
        }
        F::Cmdnargs => set_u64(out, p.args.len() as u64),
        F::Cmdlenargs => set_u64(out, p.args.iter().map(|a| a.len() as u64).sum()),
        F::Pname | F::Pexe | F::Pexepath | F::Pcmdline => {
            parent.is_some_and(|pp| write_attr(pp, attr_of(f), out))
        }
        F::Aname | F::Aexe | F::Aexepath | F::Acmdline | F::Apid => match arg {
            Arg::Index(n) => p
                .ancestor(*n)
                .is_some_and(|a| write_attr(a, attr_of(f), out)),
            _ => fill_ancestors(p, attr_of(f), out),
        },
        F::Cwd => {
            // Falco keeps the cwd with a trailing '/' (sinsp_threadinfo::set_cwd); the
            // kernel and /proc give it without.
            let buf = out.str_buf();
            buf.push_str(&p.cwd);
            if !buf.ends_with('/') {
                buf.push('/');
            }
            true
        }
        F::Tty => set_u64(out, u64::from(p.tty)),
        F::Env => {
            match arg {
                // A numeric key selects nothing in Falco: the whole environment.
                Arg::Key(k) if !k.bytes().all(|b| b.is_ascii_digit()) => {
                    out.set_str(env_value(p, k))
                }
                _ => write_joined_args(&p.env, out.str_buf()),
            }
            true
        }
        F::Loginshellid => {
            let shell = std::iter::once(p)
                .chain(p.ancestors())
                .filter(|t| t.name.ends_with("sh"))
                .last();
            shell.is_some_and(|t| set_i64(out, t.pid))
        }
        F::Duration => p.start_ts != 0 && set_u64(out, ev.ts.saturating_sub(p.start_ts)),
        F::PpidDuration => parent
            .filter(|pp| pp.start_ts != 0)
            .is_some_and(|pp| set_u64(out, ev.ts.saturating_sub(pp.start_ts))),
        F::PidTs => p.start_ts != 0 && set_u64(out, p.start_ts),
        F::PpidTs => parent.is_some_and(|pp| set_u64(out, pp.start_ts)),
        F::IsExeWritable => set_bool(out, p.exe_writable),
        F::IsExeUpperLayer => set_bool(out, p.exe_upper_layer),
        F::IsExeLowerLayer => set_bool(out, p.exe_lower_layer),
        F::IsExeFromMemfd => set_bool(out, p.exe_from_memfd),
        // Inode 0 and time 0 mean "unknown", as in Falco.
        F::ExeIno => p.exe_ino != 0 && set_i64(out, p.exe_ino as i64),
        F::ExeInoCtime => p.exe_ino_ctime != 0 && set_u64(out, p.exe_ino_ctime),
        F::ExeInoMtime => p.exe_ino_mtime != 0 && set_u64(out, p.exe_ino_mtime),
        F::ExeInoCtimeDurationProcStart => {
            // Unsigned arithmetic, as Falco's: an executable changed after the start wraps.
            let d = p.start_ts.wrapping_sub(p.exe_ino_ctime);
            p.start_ts != 0 && p.exe_ino_ctime != 0 && d != 0 && set_u64(out, d)
        }
        F::ExeInoCtimeDurationPidnsStart => {
            let pidns_start = ev.container.as_ref().and_then(|c| c.start_ts).unwrap_or(0);
            pidns_start != 0
                && p.exe_ino_ctime > pidns_start
                && set_u64(out, p.exe_ino_ctime - pidns_start)
        }
        F::ThreadVtid => p.vtid != -1 && set_i64(out, p.vtid),
        F::ThreadIsmain => set_bool(out, p.tid == p.pid),
        F::CapPermitted => caps(p.cap_permitted, out),
        F::CapInheritable => caps(p.cap_inheritable, out),
        F::CapEffective => caps(p.cap_effective, out),
        F::ThreadTid => false,
    }
}

/// A text field that is pieces joined by single spaces, read without joining them: a
/// needle with no space occurs in the joined text exactly when it occurs in one piece.
/// Why: `proc.cmdline contains stratum+tcp` and the like were evaluated for every
/// `execve` by rendering the command line; searched piece by piece, they can be guards.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pieces<'a> {
    /// The field has no value (no process).
    Missing,
    /// `first` (if any), then each of `rest`.
    Joined {
        first: Option<&'a str>,
        rest: &'a [String],
    },
}

impl<'a> Pieces<'a> {
    /// Calls `f` with each piece.
    #[inline]
    pub(crate) fn each(&self, mut f: impl FnMut(&'a str)) {
        if let Pieces::Joined { first, rest } = *self {
            if let Some(s) = first {
                f(s);
            }
            rest.iter().for_each(|s| f(s));
        }
    }
}

/// Whether [`pieces`] reads this field.
pub(crate) fn has_pieces(f: F, arg: &Arg) -> bool {
    match f {
        F::Cmdline | F::Args => true,
        // With a key, one variable's value (see `extract`).
        F::Env => !matches!(arg, Arg::Key(k) if !k.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// `proc.cmdline`, `proc.args` and the whole `proc.env` as [`Pieces`]; `None` for other
/// fields.
pub(crate) fn pieces<'a>(f: F, arg: &Arg, ev: &'a Event) -> Option<Pieces<'a>> {
    let joined = |first: fn(&'a ProcessInfo) -> Option<&'a str>,
                  rest: fn(&'a ProcessInfo) -> &'a [String]| {
        Some(match ev.process.as_deref() {
            Some(p) => Pieces::Joined {
                first: first(p),
                rest: rest(p),
            },
            None => Pieces::Missing,
        })
    };
    if !has_pieces(f, arg) {
        return None;
    }
    match f {
        F::Cmdline => joined(|p| Some(&p.name), |p| &p.args),
        F::Args => joined(|_| None, |p| &p.args),
        F::Env => joined(|_| None, |p| &p.env),
        _ => None,
    }
}

/// Whether [`borrow`] can read this field without joining or rendering.
/// Whether `f` reads nothing of the event but its process (and container): not the
/// event's time or thread.
pub(crate) fn per_process(f: F) -> bool {
    !matches!(f, F::Duration | F::PpidDuration | F::ThreadTid)
}

pub(crate) fn can_borrow(f: F) -> bool {
    !matches!(
        f,
        F::Args
            | F::Cmdline
            | F::Exeline
            | F::Pcmdline
            | F::Acmdline
            | F::Env
            | F::CapPermitted
            | F::CapInheritable
            | F::CapEffective
    )
}

/// One attribute of `p` as a borrow (see [`write_attr`]).
fn borrow_attr(p: &ProcessInfo, attr: Attr) -> Borrowed<'_> {
    match attr {
        Attr::Name => Borrowed::str(&p.name),
        Attr::Exe => Borrowed::str(&p.exe),
        Attr::Exepath => Borrowed::str(&p.exepath),
        Attr::Cmdline => Borrowed::NotBorrowable,
        Attr::Pid => match xid(p.pid) {
            Some(pid) => Borrowed::i64(pid),
            None => Borrowed::Missing,
        },
    }
}

fn present<'a>(v: bool, b: Borrowed<'a>) -> Borrowed<'a> {
    if v {
        b
    } else {
        Borrowed::Missing
    }
}

/// [`extract`] without copying, for the fields stored as they are (see `Field::borrow`).
pub(crate) fn borrow<'a>(f: F, arg: &Arg, ev: &'a Event) -> Borrowed<'a> {
    if f == F::ThreadTid {
        return xid(ev.tid).map_or(Borrowed::Missing, Borrowed::i64);
    }
    let Some(p) = ev.process.as_deref() else {
        return Borrowed::Missing;
    };
    let parent = p.parent.as_deref();
    match f {
        F::Name | F::Exe | F::Exepath | F::Cmdline => borrow_attr(p, attr_of(f)),
        F::Pname | F::Pexe | F::Pexepath | F::Pcmdline => match parent {
            Some(pp) => borrow_attr(pp, attr_of(f)),
            None => Borrowed::Missing,
        },
        F::Aname | F::Aexe | F::Aexepath | F::Acmdline | F::Apid => match arg {
            Arg::Index(n) => match p.ancestor(*n) {
                Some(a) => borrow_attr(a, attr_of(f)),
                None => Borrowed::Missing,
            },
            _ => Borrowed::NotBorrowable,
        },
        F::Cwd if p.cwd.ends_with('/') => Borrowed::str(&p.cwd),
        F::Cwd => Borrowed::NotBorrowable,
        F::Tty => Borrowed::u64(u64::from(p.tty)),
        F::Pid => xid(p.pid).map_or(Borrowed::Missing, Borrowed::i64),
        F::Ppid => {
            let ppid = match parent {
                Some(pp) if p.tid != p.pid => pp.pid,
                _ => p.ptid,
            };
            xid(ppid).map_or(Borrowed::Missing, Borrowed::i64)
        }
        F::Vpid => present(p.vpid != -1, Borrowed::i64(p.vpid)),
        F::Pvpid => parent.map_or(Borrowed::Missing, |pp| Borrowed::i64(pp.vpid)),
        F::Sid => Borrowed::i64(p.sid),
        F::Vpgid => Borrowed::i64(p.vpgid),
        F::Sname => match &p.session_leader_name {
            Some(name) => Borrowed::str(name),
            None => borrow_attr(eldest_with(p, |t| t.sid), Attr::Name),
        },
        F::SidExe | F::SidExepath => borrow_attr(eldest_with(p, |t| t.sid), attr_of(f)),
        F::VpgidName | F::VpgidExe | F::VpgidExepath => {
            borrow_attr(eldest_with(p, |t| t.vpgid), attr_of(f))
        }
        F::IsSidLeader => Borrowed::bool(p.sid == p.vpid),
        F::IsVpgidLeader => Borrowed::bool(p.vpgid == p.vpid),
        F::Cmdnargs => Borrowed::u64(p.args.len() as u64),
        F::Cmdlenargs => Borrowed::u64(p.args.iter().map(|a| a.len() as u64).sum()),
        F::Loginshellid => std::iter::once(p)
            .chain(p.ancestors())
            .filter(|t| t.name.ends_with("sh"))
            .last()
            .map_or(Borrowed::Missing, |t| Borrowed::i64(t.pid)),
        F::Duration => present(
            p.start_ts != 0,
            Borrowed::u64(ev.ts.saturating_sub(p.start_ts)),
        ),
        F::PpidDuration => parent
            .filter(|pp| pp.start_ts != 0)
            .map_or(Borrowed::Missing, |pp| {
                Borrowed::u64(ev.ts.saturating_sub(pp.start_ts))
            }),
        F::PidTs => present(p.start_ts != 0, Borrowed::u64(p.start_ts)),
        F::PpidTs => parent.map_or(Borrowed::Missing, |pp| Borrowed::u64(pp.start_ts)),
        F::IsExeWritable => Borrowed::bool(p.exe_writable),
        F::IsExeUpperLayer => Borrowed::bool(p.exe_upper_layer),
        F::IsExeLowerLayer => Borrowed::bool(p.exe_lower_layer),
        F::IsExeFromMemfd => Borrowed::bool(p.exe_from_memfd),
        F::ExeIno => present(p.exe_ino != 0, Borrowed::i64(p.exe_ino as i64)),
        F::ExeInoCtime => present(p.exe_ino_ctime != 0, Borrowed::u64(p.exe_ino_ctime)),
        F::ExeInoMtime => present(p.exe_ino_mtime != 0, Borrowed::u64(p.exe_ino_mtime)),
        F::ExeInoCtimeDurationProcStart => {
            let d = p.start_ts.wrapping_sub(p.exe_ino_ctime);
            present(
                p.start_ts != 0 && p.exe_ino_ctime != 0 && d != 0,
                Borrowed::u64(d),
            )
        }
        F::ExeInoCtimeDurationPidnsStart => {
            let pidns_start = ev.container.as_ref().and_then(|c| c.start_ts).unwrap_or(0);
            present(
                pidns_start != 0 && p.exe_ino_ctime > pidns_start,
                Borrowed::u64(p.exe_ino_ctime.wrapping_sub(pidns_start)),
            )
        }
        F::ThreadVtid => present(p.vtid != -1, Borrowed::i64(p.vtid)),
        F::ThreadIsmain => Borrowed::bool(p.tid == p.pid),
        F::Args | F::Exeline | F::Env | F::CapPermitted | F::CapInheritable | F::CapEffective => {
            Borrowed::NotBorrowable
        }
        F::ThreadTid => Borrowed::Missing,
    }
}

fn caps(set: u64, out: &mut Value) -> bool {
    render::write_caps(set, out.str_buf());
    true
}

/// Every ancestor (not the process itself) as one candidate; missing when there is none.
fn fill_ancestors(p: &ProcessInfo, attr: Attr, out: &mut Value) -> bool {
    let slots = any_slots(out);
    let mut n = 0;
    for a in p.ancestors() {
        if n == slots.len() {
            slots.push(Value::default());
        }
        if write_attr(a, attr, &mut slots[n]) {
            n += 1;
        }
    }
    slots.truncate(n);
    n > 0
}
