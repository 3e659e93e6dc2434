//! Text rendering shared by the field families: errno and capability names, UTC timestamps,
//! path joining, and event parameters rendered the way Falco's `evt.arg` / `evt.args` show
//! them. Everything appends to a caller's buffer, so steady-state extraction does not allocate.

use peregrine_event::flags::CAPABILITIES;
use peregrine_event::{
    flags::FlagSet, Event, FdInfo, FdKind, L4Proto, ParamKind, ParamSpec, ParamValue, SockAddr,
    SockTuple,
};
use std::fmt::Write;
use std::net::IpAddr;

/// `AT_FDCWD` as the probes report it in dirfd parameters.
pub(crate) const AT_FDCWD: i64 = -100;

/// Linux errno names (x86_64), plus the kernel-internal codes that leak into syscall results.
pub(crate) fn errno_name(code: u64) -> Option<&'static str> {
    const NAMES: [&str; 134] = [
        "",
        "EPERM",
        "ENOENT",
        "ESRCH",
        "EINTR",
        "EIO",
        "ENXIO",
        "E2BIG",
        "ENOEXEC",
        "EBADF",
        "ECHILD",
        "EAGAIN",
        "ENOMEM",
        "EACCES",
        "EFAULT",
        "ENOTBLK",
        "EBUSY",
        "EEXIST",
        "EXDEV",
        "ENODEV",
        "ENOTDIR",
        "EISDIR",
        "EINVAL",
        "ENFILE",
        "EMFILE",
        "ENOTTY",
        "ETXTBSY",
        "EFBIG",
        "ENOSPC",
        "ESPIPE",
        "EROFS",
        "EMLINK",
        "EPIPE",
        "EDOM",
        "ERANGE",
        "EDEADLK",
        "ENAMETOOLONG",
        "ENOLCK",
        "ENOSYS",
        "ENOTEMPTY",
        "ELOOP",
        "",
        "ENOMSG",
        "EIDRM",
        "ECHRNG",
        "EL2NSYNC",
        "EL3HLT",
        "EL3RST",
        "ELNRNG",
        "EUNATCH",
        "ENOCSI",
        "EL2HLT",
        "EBADE",
        "EBADR",
        "EXFULL",
        "ENOANO",
        "EBADRQC",
        "EBADSLT",
        "",
        "EBFONT",
        "ENOSTR",
        "ENODATA",
        "ETIME",
        "ENOSR",
        "ENONET",
        "ENOPKG",
        "EREMOTE",
        "ENOLINK",
        "EADV",
        "ESRMNT",
        "ECOMM",
        "EPROTO",
        "EMULTIHOP",
        "EDOTDOT",
        "EBADMSG",
        "EOVERFLOW",
        "ENOTUNIQ",
        "EBADFD",
        "EREMCHG",
        "ELIBACC",
        "ELIBBAD",
        "ELIBSCN",
        "ELIBMAX",
        "ELIBEXEC",
        "EILSEQ",
        "ERESTART",
        "ESTRPIPE",
        "EUSERS",
        "ENOTSOCK",
        "EDESTADDRREQ",
        "EMSGSIZE",
        "EPROTOTYPE",
        "ENOPROTOOPT",
        "EPROTONOSUPPORT",
        "ESOCKTNOSUPPORT",
        "EOPNOTSUPP",
        "EPFNOSUPPORT",
        "EAFNOSUPPORT",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "ENETDOWN",
        "ENETUNREACH",
        "ENETRESET",
        "ECONNABORTED",
        "ECONNRESET",
        "ENOBUFS",
        "EISCONN",
        "ENOTCONN",
        "ESHUTDOWN",
        "ETOOMANYREFS",
        "ETIMEDOUT",
        "ECONNREFUSED",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "EALREADY",
        "EINPROGRESS",
        "ESTALE",
        "EUCLEAN",
        "ENOTNAM",
        "ENAVAIL",
        "EISNAM",
        "EREMOTEIO",
        "EDQUOT",
        "ENOMEDIUM",
        "EMEDIUMTYPE",
        "ECANCELED",
        "ENOKEY",
        "EKEYEXPIRED",
        "EKEYREVOKED",
        "EKEYREJECTED",
        "EOWNERDEAD",
        "ENOTRECOVERABLE",
        "ERFKILL",
        "EHWPOISON",
    ];
    const INTERNAL: [&str; 18] = [
        "ERESTARTSYS",
        "ERESTARTNOINTR",
        "ERESTARTNOHAND",
        "ENOIOCTLCMD",
        "ERESTART_RESTARTBLOCK",
        "EPROBE_DEFER",
        "EOPENSTALE",
        "ENOPARAM",
        "",
        "EBADHANDLE",
        "ENOTSYNC",
        "EBADCOOKIE",
        "ENOTSUPP",
        "ETOOSMALL",
        "ESERVERFAULT",
        "EBADTYPE",
        "EJUKEBOX",
        "EIOCBQUEUED",
    ];
    let name = match code {
        0..=133 => NAMES[code as usize],
        512..=529 => INTERNAL[(code - 512) as usize],
        _ => "",
    };
    (!name.is_empty()).then_some(name)
}

/// The errno name of a negative syscall result.
pub(crate) fn errno_of(res: i64) -> Option<&'static str> {
    if res < 0 {
        errno_name(res.unsigned_abs())
    } else {
        None
    }
}

/// Space-separated capability names of a capability set (unknown bits are left out).
pub(crate) fn write_caps(caps: u64, out: &mut String) {
    let mut first = true;
    for (bit, name) in CAPABILITIES.iter().enumerate() {
        if caps & (1u64 << bit) != 0 {
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(name);
        }
    }
}

/// Days since the epoch to a (year, month, day) civil date.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `HH:MM:SS[.nnnnnnnnn]`, optionally preceded by `YYYY-MM-DD `, in UTC (Falco uses the
/// local zone; the agent runs in UTC).
pub(crate) fn write_time(ts: u64, date: bool, ns: bool, out: &mut String) {
    let secs = (ts / 1_000_000_000) as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    if date {
        let (y, m, d) = civil_from_days(days);
        let _ = write!(out, "{y:04}-{m:02}-{d:02} ");
    }
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if ns {
        let _ = write!(out, ".{:09}", ts % 1_000_000_000);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`, as `evt.time.iso8601` prints it.
pub(crate) fn write_iso8601(ts: u64, out: &mut String) {
    let secs = (ts / 1_000_000_000) as i64;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}+0000",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ts % 1_000_000_000
    );
}

/// Appends `rel` resolved against `base`, normalised (`.`/`..`/`//` removed) like Falco's
/// `concatenate_paths`. An absolute `rel` ignores `base`; a relative one with an empty base
/// is kept as given.
pub(crate) fn write_joined(base: &str, rel: &str, out: &mut String) {
    if !rel.starts_with('/') && base.is_empty() {
        out.push_str(rel);
        return;
    }
    let root = out.len();
    out.push('/');
    let base = if rel.starts_with('/') { "" } else { base };
    for comp in base.split('/').chain(rel.split('/')) {
        match comp {
            "" | "." => {}
            ".." => {
                let cut = out[root..].rfind('/').unwrap_or(0);
                out.truncate(root + cut.max(1));
            }
            c => {
                if out.len() > root + 1 {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
}

/// Appends `s` with runs of `/` collapsed to one (Falco's `fd.nameraw` sanitisation).
pub(crate) fn write_collapsed(s: &str, out: &mut String) {
    let mut prev_slash = false;
    for c in s.chars() {
        if c == '/' && prev_slash {
            continue;
        }
        prev_slash = c == '/';
        out.push(c);
    }
}

/// An IPv4-mapped IPv6 address prints as IPv4, like Falco's tuple rendering.
fn unmapped(ip: &IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(*ip),
        v4 => *v4,
    }
}

pub(crate) fn write_tuple(t: &SockTuple, out: &mut String) {
    match t {
        SockTuple::Inet {
            sip,
            sport,
            dip,
            dport,
            ..
        } => {
            let _ = write!(out, "{}:{sport}->{}:{dport}", unmapped(sip), unmapped(dip));
        }
        SockTuple::Unix { source, dest, path } => {
            let _ = write!(out, "{source:x}->{dest:x} {path}");
        }
    }
}

fn write_addr(a: &SockAddr, out: &mut String) {
    match a {
        SockAddr::Inet { ip, port } => {
            let _ = write!(out, "{}:{port}", unmapped(ip));
        }
        SockAddr::Unix { path } => out.push_str(path),
        SockAddr::Other { family } => {
            let _ = write!(out, "family {family}");
        }
    }
}

/// A socket's L4 protocol: as enrichment recorded it, else from its tuple.
pub(crate) fn fd_l4proto(info: &FdInfo) -> Option<L4Proto> {
    info.l4proto.or(match &info.tuple {
        Some(SockTuple::Inet { proto, .. }) => Some(*proto),
        _ => None,
    })
}

/// The protocol letter Falco adds to a socket's type character (`<4t>`).
fn proto_char(p: Option<L4Proto>) -> Option<char> {
    match p? {
        L4Proto::Tcp => Some('t'),
        L4Proto::Udp => Some('u'),
        L4Proto::Icmp => Some('i'),
        L4Proto::Raw => Some('r'),
        L4Proto::Unknown => None,
    }
}

/// How a parameter is shown: `evt.arg` prefers the resolved text (names, absolute paths),
/// `evt.args` shows the raw value followed by the resolved one in parentheses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Preferred,
    Both,
}

/// Appends parameter `idx` of `ev`. Nothing is written for an index outside the schema.
pub(crate) fn write_param(ev: &Event, idx: usize, style: Style, out: &mut String) {
    let Some(spec) = ev.etype.params().get(idx) else {
        return;
    };
    let value = ev.param(idx);
    match style {
        Style::Preferred => {
            let mark = out.len();
            if write_resolved(ev, spec, value, out) && out.len() > mark {
                return;
            }
            out.truncate(mark);
            write_raw(spec, value, out);
        }
        Style::Both => {
            write_raw(spec, value, out);
            let mark = out.len();
            out.push('(');
            if write_resolved(ev, spec, value, out) && out.len() > mark + 1 {
                out.push(')');
            } else {
                out.truncate(mark);
            }
        }
    }
}

/// `name=value name=value…`, Falco's `evt.args`.
pub(crate) fn write_all_params(ev: &Event, out: &mut String) {
    let n = ev.params.len().min(ev.etype.params().len());
    for (i, spec) in ev.etype.params().iter().take(n).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(spec.name);
        out.push('=');
        write_param(ev, i, Style::Both, out);
    }
}

fn is_uid_like(kind: ParamKind) -> bool {
    matches!(kind, ParamKind::Uid | ParamKind::Gid)
}

/// The parameter's own text: numbers, paths as given, tuples.
fn write_raw(spec: &ParamSpec, value: &ParamValue, out: &mut String) {
    match value {
        ParamValue::Absent => out.push_str(match spec.kind {
            ParamKind::ByteBuf | ParamKind::SockTuple | ParamKind::StrList | ParamKind::Dynamic => {
                "NULL"
            }
            _ => "<NA>",
        }),
        ParamValue::Int(v) => write_number(spec.kind, *v as u64, *v < 0, out),
        ParamValue::Uint(v) => write_number(spec.kind, *v, false, out),
        ParamValue::Str(s) => out.push_str(s),
        ParamValue::Bytes(b) => write_bytes(b, out),
        ParamValue::StrList(items) => {
            // NUL-separated on the wire; Falco prints each NUL as '.'.
            for item in items.iter() {
                write_bytes(item.as_bytes(), out);
                out.push('.');
            }
        }
        ParamValue::Tuple(t) => write_tuple(t, out),
        ParamValue::Addr(a) => write_addr(a, out),
    }
}

fn write_number(kind: ParamKind, bits: u64, negative: bool, out: &mut String) {
    if kind == ParamKind::Mode {
        let _ = if bits == 0 {
            write!(out, "0")
        } else {
            write!(out, "0{bits:o}")
        };
    } else if is_uid_like(kind) && bits >= u64::from(u32::MAX) {
        out.push_str("-1");
    } else if negative {
        let _ = write!(out, "{}", bits as i64);
    } else {
        let _ = write!(out, "{bits}");
    }
}

/// Printable ASCII as is, anything else as '.', like Falco's normal buffer format.
pub(crate) fn write_bytes(b: &[u8], out: &mut String) {
    out.extend(b.iter().map(|&c| {
        if (0x20..0x7f).contains(&c) {
            c as char
        } else {
            '.'
        }
    }));
}

/// The resolved text Falco derives from context: fd names, errno names, user and group
/// names, flag names, absolute paths. Returns false when there is none.
fn write_resolved(ev: &Event, spec: &ParamSpec, value: &ParamValue, out: &mut String) -> bool {
    if matches!(value, ParamValue::Absent) {
        return false;
    }
    match spec.kind {
        ParamKind::Fd => {
            let Some(fd) = value.as_i64() else {
                return false;
            };
            if fd >= 0 {
                match ev.fd.as_deref() {
                    Some(info) if info.num == fd => {
                        out.push('<');
                        out.push_str(info.kind.typechar());
                        if matches!(info.kind, FdKind::Ipv4 | FdKind::Ipv6) {
                            if let Some(c) = proto_char(fd_l4proto(info)) {
                                out.push(c);
                            }
                        }
                        out.push('>');
                        out.push_str(&info.name);
                        true
                    }
                    _ => false,
                }
            } else if fd == AT_FDCWD {
                out.push_str("AT_FDCWD");
                true
            } else {
                push_opt(errno_of(fd), out)
            }
        }
        ParamKind::Errno => push_opt(value.as_i64().and_then(errno_of), out),
        ParamKind::Pid => {
            let (Some(pid), Some(p)) = (value.as_i64(), ev.process.as_deref()) else {
                return false;
            };
            // The threads we know of are this process and its ancestors.
            let known = std::iter::once(p)
                .chain(p.ancestors())
                .find(|t| t.pid == pid || t.tid == pid);
            push_opt(known.map(|t| &*t.name), out)
        }
        ParamKind::Uid => {
            let Some(uid) = value.as_u64() else {
                return false;
            };
            push_opt(user_name(ev, uid), out)
        }
        ParamKind::Gid => {
            let Some(gid) = value.as_u64() else {
                return false;
            };
            let p = ev.process.as_deref();
            let name = p
                .and_then(|p| p.group.as_deref())
                .filter(|g| u64::from(g.gid) == gid)
                .map(|g| &*g.name)
                .or((gid == 0).then_some("root"));
            push_opt(name, out)
        }
        ParamKind::FsPath | ParamKind::FsRelPath { .. } => {
            let (Some(path), Some(p)) = (value.as_str(), ev.process.as_deref()) else {
                return false;
            };
            if path.is_empty() || path.starts_with('/') || path == "<NA>" {
                return false;
            }
            let base = match spec.kind {
                ParamKind::FsRelPath { dirfd_index } => {
                    match ev.param(dirfd_index as usize).as_i64() {
                        Some(AT_FDCWD) => &*p.cwd,
                        Some(dirfd) => match ev.fd.as_deref() {
                            Some(info) if info.num == dirfd && info.kind == FdKind::Directory => {
                                info.name.as_str()
                            }
                            _ => return false,
                        },
                        None => return false,
                    }
                }
                _ => &*p.cwd,
            };
            if base.is_empty() {
                return false;
            }
            write_joined(base, path, out);
            true
        }
        ParamKind::Flags(set) | ParamKind::Enum(set) => match value.as_u64() {
            Some(v) => {
                set.render_into(v, out);
                true
            }
            None => false,
        },
        ParamKind::Mode => match value.as_u64() {
            Some(v) => {
                FlagSet::FileMode.render_into(v, out);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The name of a uid, when the event's context knows it.
fn user_name(ev: &Event, uid: u64) -> Option<&str> {
    let p = ev.process.as_deref()?;
    [p.user.as_deref(), p.loginuser.as_deref()]
        .into_iter()
        .flatten()
        .find(|u| u64::from(u.uid) == uid)
        .map(|u| &*u.name)
        .or((uid == 0).then_some("root"))
}

fn push_opt(s: Option<&str>, out: &mut String) -> bool {
    match s {
        Some(s) => {
            out.push_str(s);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names() {
        assert_eq!(errno_of(-2), Some("ENOENT"));
        assert_eq!(errno_of(-13), Some("EACCES"));
        assert_eq!(errno_of(-133), Some("EHWPOISON"));
        assert_eq!(errno_of(-512), Some("ERESTARTSYS"));
        assert_eq!(errno_of(-41), None);
        assert_eq!(errno_of(-9999), None);
        assert_eq!(errno_of(0), None);
        assert_eq!(errno_of(i64::MIN), None);
    }

    #[test]
    fn caps_in_bit_order() {
        let mut s = String::new();
        write_caps((1 << 21) | (1 << 0) | (1 << 63), &mut s);
        assert_eq!(s, "CAP_CHOWN CAP_SYS_ADMIN");
        s.clear();
        write_caps(0, &mut s);
        assert_eq!(s, "");
    }

    #[test]
    fn times() {
        // 2023-11-14T22:13:31.726060287Z
        let ts = 1_700_000_011_726_060_287;
        let mut s = String::new();
        write_iso8601(ts, &mut s);
        assert_eq!(s, "2023-11-14T22:13:31.726060287+0000");
        s.clear();
        write_time(ts, false, true, &mut s);
        assert_eq!(s, "22:13:31.726060287");
        s.clear();
        write_time(ts, true, false, &mut s);
        assert_eq!(s, "2023-11-14 22:13:31");
        s.clear();
        write_iso8601(951_782_400_000_000_000, &mut s); // leap day 2000
        assert_eq!(s, "2000-02-29T00:00:00.000000000+0000");
    }

    #[test]
    fn path_joining() {
        let j = |b: &str, r: &str| {
            let mut s = String::new();
            write_joined(b, r, &mut s);
            s
        };
        assert_eq!(j("/home/u/", "a.txt"), "/home/u/a.txt");
        assert_eq!(j("/home/u", "../v/./b"), "/home/v/b");
        assert_eq!(j("/", "../../etc//passwd"), "/etc/passwd");
        assert_eq!(j("/x", "/abs/../y"), "/y");
        assert_eq!(j("", "rel"), "rel");
        let mut s = String::new();
        write_collapsed("//a///b/", &mut s);
        assert_eq!(s, "/a/b/");
    }
}
