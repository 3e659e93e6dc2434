//! `evt.*` fields: the event itself (type, time, result) and its parameters.

use super::registry::{kind_type, param_sel, Arg, FieldDef, Id, ParamSel};
use super::render::{self, Style, AT_FDCWD};
use super::value::{Borrowed, FieldType, Value, ValueRef};
use super::{set_bool, set_i64, set_u64};
use peregrine_event::flags::open;
use peregrine_event::{Event, EventType, FdKind, ParamKind, ParamValue};
use std::fmt::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F {
    Num,
    Time,
    TimeS,
    TimeIso8601,
    Datetime,
    DatetimeS,
    RawTime,
    RawTimeS,
    RawTimeNs,
    Hostname,
    Source,
    IsAsync,
    Cpu,
    Dir,
    Type,
    TypeIs,
    SyscallType,
    Args,
    Info,
    Arg,
    RawArg,
    Buffer,
    Buflen,
    Res,
    RawRes,
    Failed,
    IsOpenRead,
    IsOpenWrite,
    IsOpenExec,
    IsOpenCreate,
    Abspath,
    AbspathSrc,
    AbspathDst,
}

const fn d(name: &'static str, t: FieldType, desc: &'static str, f: F) -> FieldDef {
    FieldDef::new(name, t, "evt", desc, Id::Evt(f))
}

use super::registry::ArgSpec as A;
use FieldType as T;

pub(crate) const DEFS: &[FieldDef] = &[
    d("evt.num", T::U64, "event number.", F::Num),
    d("evt.time", T::Str, "event timestamp as a time string that includes the nanosecond part.", F::Time),
    d("evt.time.s", T::Str, "event timestamp as a time string with no nanoseconds.", F::TimeS),
    d("evt.time.iso8601", T::Str, "event timestamp in ISO 8601 format, including nanoseconds and time zone offset (in UTC).", F::TimeIso8601),
    d("evt.datetime", T::Str, "event timestamp as a time string that includes the date.", F::Datetime),
    d("evt.datetime.s", T::Str, "event timestamp as a datetime string with no nanoseconds.", F::DatetimeS),
    d("evt.rawtime", T::AbsTime, "absolute event timestamp, i.e. nanoseconds from epoch.", F::RawTime),
    d("evt.rawtime.s", T::AbsTime, "integer part of the event timestamp (e.g. seconds since epoch).", F::RawTimeS),
    d("evt.rawtime.ns", T::AbsTime, "fractional part of the absolute event timestamp.", F::RawTimeNs),
    d("evt.hostname", T::Str, "the hostname of the underlying host (FALCO_HOSTNAME when set).", F::Hostname),
    d("evt.source", T::Str, "the name of the source that produced the event.", F::Source),
    d("evt.is_async", T::Bool, "'true' for asynchronous events, 'false' otherwise.", F::IsAsync),
    d("evt.cpu", T::U16, "number of the CPU where this event happened.", F::Cpu),
    d("evt.dir", T::Str, "event direction can be either '>' for enter events or '<' for exit events.", F::Dir),
    d("evt.type", T::Str, "The name of the event (e.g. 'open').", F::Type),
    d("evt.type.is", T::U32, "1 for events of the type named after the dot (evt.type.is.open), 0 otherwise.", F::TypeIs)
        .arg(A::DotSuffix { required: true }),
    d("syscall.type", T::Str, "For system call events, the name of the system call (e.g. 'open').", F::SyscallType),
    d("evt.args", T::Str, "all the event arguments, aggregated into a single string.", F::Args),
    d("evt.info", T::Str, "the same value as 'evt.args'.", F::Info),
    d("evt.arg", T::Str, "one of the event arguments specified by name or by number, rendered as text (e.g. 'evt.arg.fd' or 'evt.arg[0]').", F::Arg)
        .arg(A::IndexOrName { required: true }),
    d("evt.rawarg", T::Str, "one of the event arguments specified by name, as its raw value (e.g. 'evt.rawarg.fd').", F::RawArg)
        .arg(A::DotSuffix { required: true })
        .no_rhs(),
    d("evt.buffer", T::Bytes, "the binary data buffer for events that have one, like recvfrom(), sendto(), etc.", F::Buffer),
    d("evt.buflen", T::U64, "the length of the binary data buffer for events that have one.", F::Buflen),
    d("evt.res", T::Str, "event return value, as a string: 'SUCCESS', or the error code (e.g. 'ENOENT').", F::Res),
    d("evt.rawres", T::I64, "event return value, as a number (e.g. -2).", F::RawRes),
    d("evt.failed", T::Bool, "'true' for events that returned an error status.", F::Failed),
    d("evt.is_open_read", T::Bool, "'true' for open/openat/openat2 events where the path was opened for reading.", F::IsOpenRead),
    d("evt.is_open_write", T::Bool, "'true' for open/openat/openat2 events where the path was opened for writing.", F::IsOpenWrite),
    d("evt.is_open_exec", T::Bool, "'true' for open/openat/openat2 or creat events where a file is created with execute permissions.", F::IsOpenExec),
    d("evt.is_open_create", T::Bool, "'true' for open/openat/openat2 events where a file is created.", F::IsOpenCreate),
    d("evt.abspath", T::Str, "absolute path calculated from dirfd and name during syscalls like renameat and symlinkat.", F::Abspath),
    d("evt.abspath.src", T::Str, "absolute source path of renameat/linkat-style syscalls.", F::AbspathSrc),
    d("evt.abspath.dst", T::Str, "absolute destination path of renameat/linkat-style syscalls.", F::AbspathDst),
];

static HOSTNAME: OnceLock<Option<Box<str>>> = OnceLock::new();

/// Sets the name `evt.hostname` reports. Only the first call (before any extraction)
/// takes effect; returns whether it did.
pub fn set_hostname(name: &str) -> bool {
    HOSTNAME.set(Some(name.into())).is_ok()
}

/// `FALCO_HOSTNAME` when set, else the kernel's hostname: read once.
fn hostname() -> Option<&'static str> {
    HOSTNAME
        .get_or_init(|| {
            std::env::var("FALCO_HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .map(String::into_boxed_str)
        })
        .as_deref()
}

/// Resolves the dot-style argument of `evt.arg.X`, `evt.rawarg.X`, `evt.type.is.X`.
pub(crate) fn resolve_suffix(f: F, suffix: &str) -> Result<Arg, String> {
    match f {
        F::Arg => param_sel(suffix, false),
        F::RawArg => param_sel(suffix, true),
        F::TypeIs => EventType::from_name(suffix)
            .map(Arg::EventType)
            .ok_or_else(|| format!("unknown event type {suffix}")),
        _ => Err("this field takes no dot argument".into()),
    }
}

/// The type of `evt.rawarg.X`: the parameter's type in the first event type that has it.
pub(crate) fn rawarg_type(sel: &ParamSel) -> FieldType {
    EventType::all()
        .take_while(|t| t.is_modelled())
        .find_map(|t| sel.index(t).map(|i| kind_type(t.params()[i].kind)))
        .unwrap_or(FieldType::Str)
}

pub(crate) fn extract(f: F, arg: &Arg, ftype: FieldType, ev: &Event, out: &mut Value) -> bool {
    match f {
        F::Num => set_u64(out, ev.num),
        F::Time => str_with(out, |b| render::write_time(ev.ts, false, true, b)),
        F::TimeS => str_with(out, |b| render::write_time(ev.ts, false, false, b)),
        F::TimeIso8601 => str_with(out, |b| render::write_iso8601(ev.ts, b)),
        F::Datetime => str_with(out, |b| render::write_time(ev.ts, true, true, b)),
        F::DatetimeS => str_with(out, |b| render::write_time(ev.ts, true, false, b)),
        F::RawTime => set_u64(out, ev.ts),
        F::RawTimeS => set_u64(out, ev.ts / 1_000_000_000),
        F::RawTimeNs => set_u64(out, ev.ts % 1_000_000_000),
        F::Hostname => match hostname() {
            Some(h) => {
                out.set_str(h);
                true
            }
            None => false,
        },
        F::Source => {
            out.set_str("syscall");
            true
        }
        F::IsAsync => set_bool(out, false),
        F::Cpu => set_u64(out, u64::from(ev.cpu)),
        F::Dir => {
            out.set_str(ev.dir.as_str());
            true
        }
        F::Type => {
            out.set_str(ev.etype.name());
            true
        }
        F::TypeIs => match arg {
            Arg::EventType(t) => set_u64(out, u64::from(ev.etype == *t)),
            _ => false,
        },
        // procexit is the one modelled event that is not a system call.
        F::SyscallType => {
            if ev.etype == EventType::PROCEXIT {
                return false;
            }
            out.set_str(ev.etype.name());
            true
        }
        F::Args | F::Info => str_with(out, |b| render::write_all_params(ev, b)),
        F::Arg => {
            let idx = match arg {
                Arg::Index(i) => *i,
                Arg::Param(sel) => match sel.index(ev.etype) {
                    Some(i) => i,
                    None => return false,
                },
                _ => return false,
            };
            if idx >= ev.etype.params().len() {
                return false;
            }
            str_with(out, |b| render::write_param(ev, idx, Style::Preferred, b))
        }
        F::RawArg => match arg {
            Arg::Param(sel) => match sel.index(ev.etype) {
                Some(i) => raw_value(ev.param(i), ftype, out),
                None => false,
            },
            _ => false,
        },
        F::Buffer => match data_param(ev) {
            Some(ParamValue::Bytes(b)) => {
                out.set_bytes(b);
                true
            }
            _ => false,
        },
        F::Buflen => match (data_param(ev), ev.res()) {
            (Some(_), Some(res)) if res >= 0 => set_u64(out, res as u64),
            _ => false,
        },
        F::Res => match ev.res() {
            Some(res) if res >= 0 => {
                out.set_str("SUCCESS");
                true
            }
            Some(res) => match render::errno_of(res) {
                Some(name) => {
                    out.set_str(name);
                    true
                }
                None => str_with(out, |b| {
                    let _ = write!(b, "{res}");
                }),
            },
            None => false,
        },
        F::RawRes => match ev.res() {
            Some(res) => set_i64(out, res),
            None => false,
        },
        F::Failed => match ev.res() {
            Some(res) => set_bool(out, res < 0),
            None => false,
        },
        F::IsOpenRead | F::IsOpenWrite | F::IsOpenExec | F::IsOpenCreate => {
            set_bool(out, open_check(f, ev))
        }
        F::Abspath | F::AbspathSrc | F::AbspathDst => abspath(f, ev, out),
    }
}

/// Whether [`borrow`] can read this field without rendering.
pub(crate) fn can_borrow(f: F) -> bool {
    !matches!(
        f,
        F::Time
            | F::TimeS
            | F::TimeIso8601
            | F::Datetime
            | F::DatetimeS
            | F::Args
            | F::Info
            | F::Abspath
            | F::AbspathSrc
            | F::AbspathDst
    )
}

/// [`extract`] without copying, for the fields stored as they are (see `Field::borrow`).
pub(crate) fn borrow<'a>(f: F, arg: &Arg, ftype: FieldType, ev: &'a Event) -> Borrowed<'a> {
    match f {
        F::Num => Borrowed::u64(ev.num),
        F::RawTime => Borrowed::u64(ev.ts),
        F::RawTimeS => Borrowed::u64(ev.ts / 1_000_000_000),
        F::RawTimeNs => Borrowed::u64(ev.ts % 1_000_000_000),
        F::Hostname => match hostname() {
            Some(h) => Borrowed::str(h),
            None => Borrowed::Missing,
        },
        F::Source => Borrowed::str("syscall"),
        F::IsAsync => Borrowed::bool(false),
        F::Cpu => Borrowed::u64(u64::from(ev.cpu)),
        F::Dir => Borrowed::str(ev.dir.as_str()),
        F::Type => Borrowed::str(ev.etype.name()),
        F::TypeIs => match arg {
            Arg::EventType(t) => Borrowed::u64(u64::from(ev.etype == *t)),
            _ => Borrowed::Missing,
        },
        F::SyscallType if ev.etype == EventType::PROCEXIT => Borrowed::Missing,
        F::SyscallType => Borrowed::str(ev.etype.name()),
        F::RawArg => match arg {
            Arg::Param(sel) => match sel.index(ev.etype) {
                Some(i) => raw_borrow(ev.param(i), ftype),
                None => Borrowed::Missing,
            },
            _ => Borrowed::Missing,
        },
        F::Buffer => match data_param(ev) {
            Some(ParamValue::Bytes(b)) => Borrowed::Value(ValueRef::Bytes(b)),
            _ => Borrowed::Missing,
        },
        F::Buflen => match (data_param(ev), ev.res()) {
            (Some(_), Some(res)) if res >= 0 => Borrowed::u64(res as u64),
            _ => Borrowed::Missing,
        },
        F::Res => match ev.res() {
            Some(res) if res >= 0 => Borrowed::str("SUCCESS"),
            Some(res) => match render::errno_of(res) {
                Some(name) => Borrowed::str(name),
                None => Borrowed::NotBorrowable,
            },
            None => Borrowed::Missing,
        },
        F::RawRes => match ev.res() {
            Some(res) => Borrowed::i64(res),
            None => Borrowed::Missing,
        },
        F::Failed => match ev.res() {
            Some(res) => Borrowed::bool(res < 0),
            None => Borrowed::Missing,
        },
        F::IsOpenRead | F::IsOpenWrite | F::IsOpenExec | F::IsOpenCreate => {
            Borrowed::bool(open_check(f, ev))
        }
        F::Arg => {
            let idx = match arg {
                Arg::Index(i) => *i,
                Arg::Param(sel) => match sel.index(ev.etype) {
                    Some(i) => i,
                    None => return Borrowed::Missing,
                },
                _ => return Borrowed::Missing,
            };
            let Some(spec) = ev.etype.params().get(idx) else {
                return Borrowed::Missing;
            };
            // A text parameter prints as it is, except a relative path, which is joined
            // to its directory (`render::write_param`).
            match ev.param(idx) {
                ParamValue::Str(s)
                    if !matches!(spec.kind, ParamKind::FsPath | ParamKind::FsRelPath { .. })
                        || s.is_empty()
                        || s.starts_with('/')
                        || s == "<NA>" =>
                {
                    Borrowed::str(s)
                }
                _ => Borrowed::NotBorrowable,
            }
        }
        F::Time
        | F::TimeS
        | F::TimeIso8601
        | F::Datetime
        | F::DatetimeS
        | F::Args
        | F::Info
        | F::Abspath
        | F::AbspathSrc
        | F::AbspathDst => Borrowed::NotBorrowable,
    }
}

/// [`raw_value`] without copying, where no rendering is needed.
fn raw_borrow(value: &ParamValue, ftype: FieldType) -> Borrowed<'_> {
    match value {
        ParamValue::Absent => Borrowed::Missing,
        ParamValue::Int(v) => match ftype {
            FieldType::Str => Borrowed::NotBorrowable,
            FieldType::I64 | FieldType::I32 => Borrowed::i64(*v),
            FieldType::Bytes | FieldType::Bool | FieldType::Ip | FieldType::IpNet => {
                Borrowed::Missing
            }
            _ => Borrowed::u64(*v as u64),
        },
        ParamValue::Uint(v) => match ftype {
            FieldType::Str => Borrowed::NotBorrowable,
            FieldType::I64 | FieldType::I32 => Borrowed::i64(*v as i64),
            FieldType::Bytes | FieldType::Bool | FieldType::Ip | FieldType::IpNet => {
                Borrowed::Missing
            }
            _ => Borrowed::u64(*v),
        },
        ParamValue::Str(s) if ftype == FieldType::Str => Borrowed::str(s),
        ParamValue::Bytes(b) if ftype == FieldType::Bytes => Borrowed::Value(ValueRef::Bytes(b)),
        ParamValue::StrList(_) | ParamValue::Tuple(_) | ParamValue::Addr(_)
            if ftype == FieldType::Str =>
        {
            Borrowed::NotBorrowable
        }
        _ => Borrowed::Missing,
    }
}

/// Fills `out`'s string buffer with `write`; always a value.
fn str_with(out: &mut Value, write: impl FnOnce(&mut String)) -> bool {
    write(out.str_buf());
    true
}

fn data_param(ev: &Event) -> Option<&ParamValue> {
    ev.etype.param_index("data").map(|i| ev.param(i))
}

/// A parameter's raw value, converted to the field's resolved type.
fn raw_value(value: &ParamValue, ftype: FieldType, out: &mut Value) -> bool {
    match value {
        ParamValue::Absent => false,
        ParamValue::Int(v) => match ftype {
            FieldType::Str => str_with(out, |b| {
                let _ = write!(b, "{v}");
            }),
            FieldType::I64 | FieldType::I32 => set_i64(out, *v),
            FieldType::Bytes | FieldType::Bool | FieldType::Ip | FieldType::IpNet => false,
            _ => set_u64(out, *v as u64),
        },
        ParamValue::Uint(v) => match ftype {
            FieldType::Str => str_with(out, |b| {
                let _ = write!(b, "{v}");
            }),
            FieldType::I64 | FieldType::I32 => set_i64(out, *v as i64),
            FieldType::Bytes | FieldType::Bool | FieldType::Ip | FieldType::IpNet => false,
            _ => set_u64(out, *v),
        },
        ParamValue::Str(s) if ftype == FieldType::Str => {
            out.set_str(s);
            true
        }
        ParamValue::Bytes(b) if ftype == FieldType::Bytes => {
            out.set_bytes(b);
            true
        }
        // Space-joined here rather than NUL-separated, so outputs stay printable.
        ParamValue::StrList(items) if ftype == FieldType::Str => str_with(out, |b| {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    b.push(' ');
                }
                b.push_str(item);
            }
        }),
        ParamValue::Tuple(t) if ftype == FieldType::Str => {
            str_with(out, |b| render::write_tuple(t, b))
        }
        ParamValue::Addr(a) if ftype == FieldType::Str => str_with(out, |b| {
            let _ = write!(b, "{a}");
        }),
        _ => false,
    }
}

/// `evt.is_open_*` from the open flags (Linux encoding) and mode, like Falco's checks on
/// PPM flags: read = O_RDONLY or O_RDWR, write = O_WRONLY or O_RDWR.
fn open_check(f: F, ev: &Event) -> bool {
    OpenFlag::of(f).is_some_and(|flag| OpenFlags::of(ev).has(flag))
}

/// One of `evt.is_open_read`, `_write`, `_exec`, `_create`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenFlag {
    Read = 1,
    Write = 2,
    Exec = 4,
    Create = 8,
}

impl OpenFlag {
    pub(crate) fn of(f: F) -> Option<OpenFlag> {
        match f {
            F::IsOpenRead => Some(OpenFlag::Read),
            F::IsOpenWrite => Some(OpenFlag::Write),
            F::IsOpenExec => Some(OpenFlag::Exec),
            F::IsOpenCreate => Some(OpenFlag::Create),
            _ => None,
        }
    }
}

/// All four `evt.is_open_*` of one event, from one read of its flags and mode. Why: the
/// prefilter tests up to three of them on every open, each through `Field::borrow` and
/// the matcher (about 100 instructions apiece).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OpenFlags(u8);

impl OpenFlags {
    pub(crate) fn of(ev: &Event) -> OpenFlags {
        const EXEC_BITS: u64 = 0o111;
        let Some((flags_idx, mode_idx)) = open_param_indices(ev.etype) else {
            return OpenFlags(0);
        };
        let exec_mode = || {
            ev.param(mode_idx)
                .as_u64()
                .is_some_and(|m| m & EXEC_BITS != 0)
        };
        let Some(flags_idx) = flags_idx else {
            // creat: always creates, so only the mode matters.
            return OpenFlags(if exec_mode() { OpenFlag::Exec as u8 } else { 0 });
        };
        let Some(flags) = ev.param(flags_idx).as_u64() else {
            return OpenFlags(0);
        };
        let acc = flags & open::O_ACCMODE;
        let tmpfile = flags & open::O_TMPFILE == open::O_TMPFILE;
        let mut bits = 0;
        if acc == open::O_RDONLY || acc == open::O_RDWR {
            bits |= OpenFlag::Read as u8;
        }
        if acc == open::O_WRONLY || acc == open::O_RDWR {
            bits |= OpenFlag::Write as u8;
        }
        if flags & open::O_F_CREATED != 0 || (tmpfile && ev.res().is_some_and(|r| r >= 0)) {
            bits |= OpenFlag::Create as u8;
        }
        if (flags & open::O_CREAT != 0 || tmpfile) && exec_mode() {
            bits |= OpenFlag::Exec as u8;
        }
        OpenFlags(bits)
    }

    /// The [`OpenFlag`] bits that hold.
    #[inline]
    pub(crate) fn bits(self) -> u8 {
        self.0
    }

    #[inline]
    pub(crate) fn has(self, flag: OpenFlag) -> bool {
        self.0 & flag as u8 != 0
    }
}

/// Where the open family keeps its flags and mode, fixed by the schemas (checked by a
/// test), so the hot `evt.is_open_*` checks need no name lookup.
fn open_param_indices(etype: EventType) -> Option<(Option<usize>, usize)> {
    match etype {
        EventType::OPEN => Some((Some(2), 3)),
        EventType::OPENAT | EventType::OPENAT2 => Some((Some(3), 4)),
        EventType::CREAT => Some((None, 2)),
        _ => None,
    }
}

/// The (dirfd, path) parameter names `evt.abspath*` combines for each event type.
fn abspath_params(f: F, etype: EventType) -> Option<(&'static str, &'static str)> {
    let src = f != F::AbspathDst;
    Some(match etype {
        EventType::RENAMEAT | EventType::RENAMEAT2 if src => ("olddirfd", "oldpath"),
        EventType::RENAMEAT | EventType::RENAMEAT2 => ("newdirfd", "newpath"),
        EventType::LINKAT if src => ("olddir", "oldpath"),
        EventType::LINKAT => ("newdir", "newpath"),
        EventType::SYMLINKAT => ("linkdirfd", "linkpath"),
        EventType::OPENAT | EventType::OPENAT2 | EventType::UNLINKAT => ("dirfd", "name"),
        EventType::MKDIRAT => ("dirfd", "path"),
        EventType::FCHMODAT => ("dirfd", "filename"),
        _ => return None,
    })
}

fn abspath(f: F, ev: &Event, out: &mut Value) -> bool {
    let Some(p) = ev.process.as_deref() else {
        return false;
    };
    let Some((dirfd_name, path_name)) = abspath_params(f, ev.etype) else {
        return false;
    };
    let param = |name: &str| ev.etype.param_index(name).map(|i| ev.param(i));
    let (Some(dirfd), Some(path)) = (
        param(dirfd_name).and_then(ParamValue::as_i64),
        param(path_name).and_then(ParamValue::as_str),
    ) else {
        return false;
    };
    if path.is_empty() {
        return false;
    }
    let buf = out.str_buf();
    if path.starts_with('/') {
        render::write_joined("", path, buf);
    } else if dirfd == AT_FDCWD {
        render::write_joined(&p.cwd, path, buf);
    } else {
        match ev.fd.as_deref() {
            Some(info) if info.num == dirfd && info.kind == FdKind::Directory => {
                render::write_joined(&info.name, path, buf)
            }
            // Falco's marker for a directory fd it cannot resolve.
            _ => {
                buf.push_str("<UNKNOWN>/");
                buf.push_str(path);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_indices_match_schemas() {
        for t in [
            EventType::OPEN,
            EventType::OPENAT,
            EventType::OPENAT2,
            EventType::CREAT,
        ] {
            let (flags, mode) = open_param_indices(t).unwrap();
            assert_eq!(flags, t.param_index("flags"), "{t}");
            assert_eq!(Some(mode), t.param_index("mode"), "{t}");
        }
    }
}
