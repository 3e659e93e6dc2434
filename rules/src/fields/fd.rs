//! `fd.*` fields: the file descriptor the event acts on. As in Falco they exist only for
//! events that create, use or close an fd, and only with process context; when the fd
//! itself is unknown (a failed open), the name comes from the event's parameters.

use super::registry::{FieldDef, Id};
use super::render::{self, Style, AT_FDCWD};
use super::value::{Borrowed, FieldType, Value, ValueRef};
use super::{any_slots, set_bool, set_i64, set_u64};
use peregrine_event::{hostnet, Event, EventType, FdInfo, FdKind, L4Proto, SockTuple, SocketRole};
use std::fmt::Write;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum F {
    Num,
    Type,
    Typechar,
    Name,
    Nameraw,
    Directory,
    Filename,
    Ip,
    Cip,
    Sip,
    Lip,
    Rip,
    Port,
    Cport,
    Sport,
    Lport,
    Rport,
    L4proto,
    Sockfamily,
    IsServer,
    Uid,
    Containername,
    Containerdirectory,
    Net,
    Cnet,
    Snet,
    Lnet,
    Rnet,
    Connected,
    NameChanged,
    CipName,
    SipName,
    LipName,
    RipName,
    Dev,
    DevMajor,
    DevMinor,
    Ino,
}

const fn d(name: &'static str, t: FieldType, desc: &'static str, f: F) -> FieldDef {
    FieldDef::new(name, t, "fd", desc, Id::Fd(f))
}

use FieldType as T;

pub(crate) const DEFS: &[FieldDef] = &[
    d("fd.num", T::I64, "the unique number identifying the file descriptor.", F::Num),
    d("fd.type", T::Str, "type of FD: 'file', 'directory', 'ipv4', 'ipv6', 'unix', 'pipe', 'event', 'signalfd', 'eventpoll', 'inotify', 'memfd'…", F::Type),
    d("fd.typechar", T::Str, "type of FD as a single character: 'f' file, '4'/'6' inet socket, 'u' unix socket, 'p' pipe, … 'o' unknown.", F::Typechar),
    d("fd.name", T::Str, "FD full name: the absolute path for files, the connection tuple for sockets.", F::Name),
    d("fd.nameraw", T::Str, "the path as passed to the syscall, not made absolute.", F::Nameraw),
    d("fd.directory", T::Str, "If the fd is a file, the directory that contains it.", F::Directory),
    d("fd.filename", T::Str, "If the fd is a file, the filename without the path.", F::Filename),
    d("fd.ip", T::Ip, "matches the ip address (client or server) of the fd.", F::Ip).filter_only(),
    d("fd.cip", T::Ip, "client IP address.", F::Cip),
    d("fd.sip", T::Ip, "server IP address.", F::Sip),
    d("fd.lip", T::Ip, "local IP address.", F::Lip),
    d("fd.rip", T::Ip, "remote IP address.", F::Rip),
    d("fd.port", T::Port, "matches the port (either client or server) of the fd.", F::Port).filter_only(),
    d("fd.cport", T::Port, "for TCP/UDP FDs, the client port.", F::Cport),
    d("fd.sport", T::Port, "for TCP/UDP FDs, server port.", F::Sport),
    d("fd.lport", T::Port, "for TCP/UDP FDs, the local port.", F::Lport),
    d("fd.rport", T::Port, "for TCP/UDP FDs, the remote port.", F::Rport),
    d("fd.l4proto", T::Str, "the IP protocol of a socket: 'tcp', 'udp', 'icmp' or 'raw'.", F::L4proto),
    d("fd.sockfamily", T::Str, "the socket family for socket events: 'ip' or 'unix'.", F::Sockfamily),
    d("fd.is_server", T::Bool, "'true' if the process owning this FD is the server endpoint in the connection.", F::IsServer),
    d("fd.uid", T::Str, "a unique identifier for the FD: the thread id followed by the FD number.", F::Uid),
    d("fd.containername", T::Str, "the container ID, ':', and the FD name.", F::Containername),
    d("fd.containerdirectory", T::Str, "the container ID, ':', and the directory name.", F::Containerdirectory),
    d("fd.net", T::IpNet, "matches the IP network (client or server) of the fd.", F::Net).filter_only(),
    d("fd.cnet", T::IpNet, "matches the client IP network of the fd.", F::Cnet).filter_only(),
    d("fd.snet", T::IpNet, "matches the server IP network of the fd.", F::Snet).filter_only(),
    d("fd.lnet", T::IpNet, "matches the local IP network of the fd.", F::Lnet).filter_only(),
    d("fd.rnet", T::IpNet, "matches the remote IP network of the fd.", F::Rnet).filter_only(),
    d("fd.connected", T::Bool, "for TCP/UDP FDs, 'true' if the socket is connected.", F::Connected),
    d("fd.name_changed", T::Bool, "True when this event changed the name of its fd (e.g. a UDP tuple change).", F::NameChanged),
    d("fd.cip.name", T::Str, "Domain name associated with the client IP address: one of the names rules compare these fields with, resolved every 10 s.", F::CipName),
    d("fd.sip.name", T::Str, "Domain name associated with the server IP address: one of the names rules compare these fields with, resolved every 10 s.", F::SipName),
    d("fd.lip.name", T::Str, "Domain name associated with the local IP address: one of the names rules compare these fields with, resolved every 10 s.", F::LipName),
    d("fd.rip.name", T::Str, "Domain name associated with the remote IP address: one of the names rules compare these fields with, resolved every 10 s.", F::RipName),
    d("fd.dev", T::I32, "device number (major/minor) containing the referenced file.", F::Dev),
    d("fd.dev.major", T::I32, "major device number containing the referenced file.", F::DevMajor),
    d("fd.dev.minor", T::I32, "minor device number containing the referenced file.", F::DevMinor),
    d("fd.ino", T::I64, "inode number of the referenced file.", F::Ino),
];

/// The address a name field names: (field, the ends of the socket) → address.
fn named_ip(f: F, info: &FdInfo, ev: &Event) -> Option<IpAddr> {
    match f {
        F::CipName => client_end(info).map(|(c, ..)| c),
        F::SipName => with_role(info).map(|(_, _, s, _)| s),
        F::LipName => local_remote(info, ev).map(|(l, ..)| l),
        F::RipName => local_remote(info, ev).map(|(_, _, r, _)| r),
        _ => None,
    }
}

/// Whether `name` is the name of one of the DNS name fields.
pub(crate) fn is_dns_name(name: &str) -> bool {
    matches!(
        name,
        "fd.cip.name" | "fd.sip.name" | "fd.lip.name" | "fd.rip.name"
    )
}

/// The endpoint fields, which extract both ends as candidates.
pub(crate) fn is_any(f: F) -> bool {
    matches!(f, F::Ip | F::Port | F::Net)
}

/// Both ends of an inet socket, client first: (client ip, client port, server ip, server port).
fn inet(info: &FdInfo) -> Option<(IpAddr, u16, IpAddr, u16)> {
    if !matches!(info.kind, FdKind::Ipv4 | FdKind::Ipv6) {
        return None;
    }
    match info.tuple.as_ref()? {
        SockTuple::Inet {
            sip,
            sport,
            dip,
            dport,
            ..
        } => Some((*sip, *sport, *dip, *dport)),
        SockTuple::Unix { .. } => None,
    }
}

/// A bound or listening socket with no peer (libsinsp's `SERVSOCK` types): only the
/// server end (`fd.sip`, `fd.sport`) is known; client, local and remote ends are not.
fn is_listener(info: &FdInfo) -> bool {
    info.role == SocketRole::Server && !info.connected
}

/// The client end, for connected sockets with a known role.
fn client_end(info: &FdInfo) -> Option<(IpAddr, u16, IpAddr, u16)> {
    with_role(info).filter(|_| !is_listener(info))
}

/// The endpoint candidates of `fd.ip`/`fd.net` (ips) or `fd.port` (ports): both ends, or
/// the server end alone on a listener.
fn any_ends(info: &FdInfo) -> Option<([IpAddr; 2], [u16; 2])> {
    let (c, cp, s, sp) = inet(info)?;
    Some(if is_listener(info) {
        ([s, s], [sp, sp])
    } else {
        ([c, s], [cp, sp])
    })
}

/// Whether `ip` is an address of the machine the event's process runs on (the host's
/// interfaces, or its container's address): `None` when the agent has no interface list
/// (captures, synthetic streams).
fn is_local(ev: &Event, ip: IpAddr) -> Option<bool> {
    let container = ev.process.as_deref().map_or("", |p| &*p.container_id);
    hostnet::is_local(ip, container, ev.container.as_deref().and_then(|c| c.ip))
}

/// (local ip, local port, remote ip, remote port), libsinsp's way: the client's end is
/// local when the client's address is this machine's, else the server's end is. Without
/// an interface list, the process's role decides.
fn local_remote(info: &FdInfo, ev: &Event) -> Option<(IpAddr, u16, IpAddr, u16)> {
    if is_listener(info) || info.role == SocketRole::None {
        return None;
    }
    let (cip, cport, sip, sport) = inet(info)?;
    let client_local = is_local(ev, cip).unwrap_or(info.role == SocketRole::Client);
    Some(if client_local {
        (cip, cport, sip, sport)
    } else {
        (sip, sport, cip, cport)
    })
}

/// `fd.is_server`: a listener is; a connected inet socket is when the server's address
/// is this machine's (without an interface list: when this process accepted it).
fn is_server(info: &FdInfo, ev: &Event) -> bool {
    if !matches!(info.kind, FdKind::Ipv4 | FdKind::Ipv6) {
        return false;
    }
    if is_listener(info) {
        return true;
    }
    let by_role = info.role == SocketRole::Server;
    match inet(info) {
        Some((.., sip, _)) => is_local(ev, sip).unwrap_or(by_role),
        None => by_role,
    }
}

/// Client/server ends, only when the role is known (Falco's `is_role_none` check).
fn with_role(info: &FdInfo) -> Option<(IpAddr, u16, IpAddr, u16)> {
    (info.role != SocketRole::None)
        .then(|| inet(info))
        .flatten()
}

pub(crate) fn extract(f: F, ev: &Event, out: &mut Value) -> bool {
    let Some(p) = ev.process.as_deref() else {
        return false;
    };
    let info = ev.fd.as_deref();
    if info.is_none() && ev.fd_num().is_none() {
        return false; // not an fd event
    }
    match f {
        F::Num => match ev.fd_num().or(info.map(|i| i.num)) {
            Some(n) => set_i64(out, n),
            None => false,
        },
        F::Uid => {
            let fd = ev.fd_num().or(info.map(|i| i.num)).unwrap_or(-1);
            let _ = write!(out.str_buf(), "{}{fd}", ev.tid);
            true
        }
        F::Type => info.is_some_and(|i| {
            out.set_str(i.kind.type_name());
            true
        }),
        F::Typechar => {
            let c = match info {
                Some(i) => i.kind.typechar(),
                None => creator_typechar(ev.etype),
            };
            out.set_str(c);
            true
        }
        F::Name | F::Containername => {
            let buf = out.str_buf();
            if f == F::Containername {
                buf.push_str(&p.container_id);
                buf.push(':');
            }
            let failed_connect = failed_connect(ev);
            match info {
                Some(i) if !failed_connect => buf.push_str(&i.name),
                _ => write_creator_name(ev, false, buf),
            }
            true
        }
        F::Nameraw => {
            let buf = out.str_buf();
            match info {
                Some(i) => render::write_collapsed(&i.nameraw, buf),
                None => {
                    write_creator_name(ev, true, buf);
                    let mut prev_slash = false;
                    buf.retain(|c| {
                        let keep = !(c == '/' && prev_slash);
                        prev_slash = c == '/';
                        keep
                    });
                }
            }
            true
        }
        F::Directory | F::Containerdirectory => {
            let buf = out.str_buf();
            let start = if f == F::Containerdirectory {
                buf.push_str(&p.container_id);
                buf.push(':');
                buf.len()
            } else {
                0
            };
            match info {
                Some(i) if i.kind == FdKind::Directory => buf.push_str(&i.name),
                Some(i) if i.kind == FdKind::File => {
                    buf.push_str(&i.name);
                    falco_dirname(buf, start);
                }
                Some(_) => return false,
                None => {
                    write_creator_name(ev, false, buf);
                    falco_dirname(buf, start);
                }
            }
            true
        }
        F::Filename => match info {
            Some(i) if i.kind == FdKind::File => {
                let name = i.name.as_str();
                let base = match last_slash(name) {
                    Some(pos) if pos + 1 < name.len() => &name[pos + 1..],
                    Some(_) => name,
                    None => "/",
                };
                out.set_str(base);
                true
            }
            _ => false,
        },
        F::Ip | F::Net => info
            .and_then(any_ends)
            .is_some_and(|([c, s], _)| set_any(out, [Value::Ip(c), Value::Ip(s)])),
        F::Port => info.and_then(any_ends).is_some_and(|(_, [cp, sp])| {
            set_any(out, [Value::U64(cp.into()), Value::U64(sp.into())])
        }),
        F::Cip | F::Cnet => info
            .and_then(client_end)
            .is_some_and(|(c, ..)| set_ip(out, c)),
        F::Sip | F::Snet => info
            .and_then(with_role)
            .is_some_and(|(_, _, s, _)| set_ip(out, s)),
        F::Cport => info
            .and_then(client_end)
            .is_some_and(|(_, cp, ..)| set_u64(out, cp.into())),
        F::Sport => info
            .and_then(with_role)
            .is_some_and(|(.., sp)| set_u64(out, sp.into())),
        F::Lip | F::Lnet => info
            .and_then(|i| local_remote(i, ev))
            .is_some_and(|(l, ..)| set_ip(out, l)),
        F::Rip | F::Rnet => info
            .and_then(|i| local_remote(i, ev))
            .is_some_and(|(_, _, r, _)| set_ip(out, r)),
        F::Lport => info
            .and_then(|i| local_remote(i, ev))
            .is_some_and(|(_, lp, ..)| set_u64(out, lp.into())),
        F::Rport => info
            .and_then(|i| local_remote(i, ev))
            .is_some_and(|(.., rp)| set_u64(out, rp.into())),
        F::L4proto => info.is_some_and(|i| {
            out.set_str(l4proto(i));
            true
        }),
        F::Sockfamily => match info.map(|i| i.kind) {
            Some(FdKind::Ipv4 | FdKind::Ipv6) => {
                out.set_str("ip");
                true
            }
            Some(FdKind::Unix) => {
                out.set_str("unix");
                true
            }
            _ => false,
        },
        F::IsServer => info.is_some_and(|i| set_bool(out, is_server(i, ev))),
        F::Connected => info.is_some_and(|i| set_bool(out, i.connected)),
        F::NameChanged => info.is_some_and(|i| set_bool(out, i.name_changed)),
        // Names of the rules' watched names only (crate::dns).
        F::CipName | F::SipName | F::LipName | F::RipName => info
            .and_then(|i| named_ip(f, i, ev))
            .and_then(crate::dns::name_of)
            .is_some_and(|n| {
                out.set_str(n);
                true
            }),
        F::Dev => info.is_some_and(|i| set_i64(out, i.dev as i64)),
        // The kernel's "new" dev_t encoding: 12 bits of major, 20 of minor, interleaved.
        F::DevMajor => info.is_some_and(|i| set_i64(out, ((i.dev & 0xfff00) >> 8) as i64)),
        F::DevMinor => {
            info.is_some_and(|i| set_i64(out, ((i.dev & 0xff) | ((i.dev >> 12) & 0xfff00)) as i64))
        }
        F::Ino => info.is_some_and(|i| set_i64(out, i.ino as i64)),
    }
}

/// Whether [`borrow`] can read this field without formatting.
pub(crate) fn can_borrow(f: F) -> bool {
    !matches!(
        f,
        F::Uid | F::Containername | F::Containerdirectory | F::Ip | F::Port | F::Net
    )
}

/// [`extract`] without copying, for the fields stored as they are (see `Field::borrow`).
/// `fd.directory` and `fd.filename` are sub-slices of the stored name.
pub(crate) fn borrow(f: F, ev: &Event) -> Borrowed<'_> {
    if ev.process.is_none() {
        return Borrowed::Missing;
    }
    let info = ev.fd.as_deref();
    if info.is_none() && ev.fd_num().is_none() {
        return Borrowed::Missing;
    }
    let ip = |ip: IpAddr| Borrowed::Value(ValueRef::Ip(ip));
    let port = |p: u16| Borrowed::u64(p.into());
    let none = Borrowed::Missing;
    match f {
        F::Num => match ev.fd_num().or(info.map(|i| i.num)) {
            Some(n) => Borrowed::i64(n),
            None => none,
        },
        F::Type => info.map_or(none, |i| Borrowed::str(i.kind.type_name())),
        F::Typechar => Borrowed::str(match info {
            Some(i) => i.kind.typechar(),
            None => creator_typechar(ev.etype),
        }),
        // As `name_of`, written out: called from here, it was not inlined (+5% on the
        // seed rules, which read `fd.name` on every open).
        F::Name => {
            let failed_connect = failed_connect(ev);
            match info {
                Some(i) if !failed_connect => Borrowed::str(&i.name),
                _ if creates_named_fd(ev.etype) => Borrowed::NotBorrowable,
                _ => Borrowed::str(""),
            }
        }
        F::Directory => match info {
            Some(i) if i.kind == FdKind::Directory => Borrowed::str(&i.name),
            Some(i) if i.kind == FdKind::File => {
                Borrowed::str(dirname_at(&i.name, last_slash(&i.name)))
            }
            Some(_) => none,
            None => Borrowed::NotBorrowable,
        },
        F::Filename => match info {
            Some(i) if i.kind == FdKind::File => {
                Borrowed::str(basename_at(&i.name, last_slash(&i.name)))
            }
            _ => none,
        },
        F::Cip | F::Cnet => info.and_then(client_end).map_or(none, |(c, ..)| ip(c)),
        F::Sip | F::Snet => info.and_then(with_role).map_or(none, |(_, _, s, _)| ip(s)),
        F::Cport => info
            .and_then(client_end)
            .map_or(none, |(_, cp, ..)| port(cp)),
        F::Sport => info.and_then(with_role).map_or(none, |(.., sp)| port(sp)),
        F::Lip | F::Lnet => info
            .and_then(|i| local_remote(i, ev))
            .map_or(none, |(l, ..)| ip(l)),
        F::Rip | F::Rnet => info
            .and_then(|i| local_remote(i, ev))
            .map_or(none, |(_, _, r, _)| ip(r)),
        F::Lport => info
            .and_then(|i| local_remote(i, ev))
            .map_or(none, |(_, lp, ..)| port(lp)),
        F::Rport => info
            .and_then(|i| local_remote(i, ev))
            .map_or(none, |(.., rp)| port(rp)),
        F::L4proto => info.map_or(none, |i| Borrowed::str(l4proto(i))),
        F::Sockfamily => match info.map(|i| i.kind) {
            Some(FdKind::Ipv4 | FdKind::Ipv6) => Borrowed::str("ip"),
            Some(FdKind::Unix) => Borrowed::str("unix"),
            _ => none,
        },
        F::IsServer => info.map_or(none, |i| Borrowed::bool(is_server(i, ev))),
        F::Connected => info.map_or(none, |i| Borrowed::bool(i.connected)),
        F::NameChanged => info.map_or(none, |i| Borrowed::bool(i.name_changed)),
        F::CipName | F::SipName | F::LipName | F::RipName => info
            .and_then(|i| named_ip(f, i, ev))
            .and_then(crate::dns::name_of)
            .map_or(none, Borrowed::str),
        F::Dev => info.map_or(none, |i| Borrowed::i64(i.dev as i64)),
        F::DevMajor => info.map_or(none, |i| Borrowed::i64(((i.dev & 0xfff00) >> 8) as i64)),
        F::DevMinor => info.map_or(none, |i| {
            Borrowed::i64(((i.dev & 0xff) | ((i.dev >> 12) & 0xfff00)) as i64)
        }),
        F::Ino => info.map_or(none, |i| Borrowed::i64(i.ino as i64)),
        // Stored as passed; extraction only collapses runs of '/', which most names lack.
        F::Nameraw => match info {
            Some(i) if !crate::eval::needles::has_double_slash(i.nameraw.as_bytes()) => {
                Borrowed::str(&i.nameraw)
            }
            _ => Borrowed::NotBorrowable,
        },
        F::Uid | F::Containername | F::Containerdirectory | F::Ip | F::Port | F::Net => {
            Borrowed::NotBorrowable
        }
    }
}

/// The event types whose unknown fd still has a name, rendered from the parameters by
/// [`write_creator_name`].
fn creates_named_fd(etype: EventType) -> bool {
    matches!(
        etype,
        EventType::OPEN
            | EventType::CREAT
            | EventType::CONNECT
            | EventType::ACCEPT
            | EventType::ACCEPT4
            | EventType::OPENAT
            | EventType::OPENAT2
    )
}

/// The position of the last '/' in `name` (a block search from the end: `str::rfind`
/// and memchr's `memrchr` cost several times more on short paths).
#[inline]
fn last_slash(name: &str) -> Option<usize> {
    crate::eval::byteset::last_byte(name.as_bytes(), b'/')
}

/// [`falco_dirname`] of a whole name whose last '/' is at `slash`, as a sub-slice (or "/").
fn dirname_at(name: &str, slash: Option<usize>) -> &str {
    match slash {
        Some(pos) if pos != 0 => {
            if pos + 1 < name.len() {
                &name[..pos]
            } else {
                name
            }
        }
        _ => "/",
    }
}

/// `fd.filename` of a file's name whose last '/' is at `slash`.
fn basename_at(name: &str, slash: Option<usize>) -> &str {
    match slash {
        Some(pos) if pos + 1 < name.len() => &name[pos + 1..],
        Some(_) => name,
        None => "/",
    }
}

/// A `connect` that failed: its fd's name is not the fd's (Falco renders the address).
#[inline]
fn failed_connect(ev: &Event) -> bool {
    ev.etype == EventType::CONNECT && ev.res().is_some_and(|r| r < 0)
}

/// `fd.name` as [`borrow`] gives it, once the event is known to have an fd.
fn name_of<'a>(ev: &'a Event, info: Option<&'a FdInfo>) -> Borrowed<'a> {
    let failed_connect = failed_connect(ev);
    match info {
        Some(i) if !failed_connect => Borrowed::str(&i.name),
        _ if creates_named_fd(ev.etype) => Borrowed::NotBorrowable,
        _ => Borrowed::str(""),
    }
}

/// One of the fields [`PathParts`] reads together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathPart {
    Name,
    Directory,
    Filename,
    /// `fd.nameraw`: the same as the name when the process passed an absolute, normal
    /// path (see [`PathParts::key`]).
    Nameraw,
}

impl PathPart {
    pub(crate) fn of(f: F) -> Option<PathPart> {
        match f {
            F::Name => Some(PathPart::Name),
            F::Directory => Some(PathPart::Directory),
            F::Filename => Some(PathPart::Filename),
            F::Nameraw => Some(PathPart::Nameraw),
            _ => None,
        }
    }
}

/// `fd.name`, `fd.directory`, `fd.filename` and `fd.nameraw` of one event, each as
/// [`borrow`] gives it.
/// Why: the prefilter looks up all three (and searches `fd.name` again for `contains`
/// guards) on most opens; read together, the fd is resolved and the name cut at its last
/// '/' once instead of once per field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PathParts<'a> {
    name: Borrowed<'a>,
    directory: Borrowed<'a>,
    filename: Borrowed<'a>,
    /// The fd, for `fd.nameraw` (read only when asked for); `None` when the event has
    /// no fd fields.
    fd: Option<Option<&'a FdInfo>>,
}

impl<'a> PathParts<'a> {
    pub(crate) fn of(ev: &'a Event) -> PathParts<'a> {
        let missing = PathParts {
            name: Borrowed::Missing,
            directory: Borrowed::Missing,
            filename: Borrowed::Missing,
            fd: None,
        };
        if ev.process.is_none() {
            return missing;
        }
        let info = ev.fd.as_deref();
        if info.is_none() && ev.fd_num().is_none() {
            return missing;
        }
        let name = name_of(ev, info);
        let (directory, filename) = match info {
            Some(i) if i.kind == FdKind::Directory => (Borrowed::str(&i.name), Borrowed::Missing),
            Some(i) if i.kind == FdKind::File => {
                let slash = last_slash(&i.name);
                (
                    Borrowed::str(dirname_at(&i.name, slash)),
                    Borrowed::str(basename_at(&i.name, slash)),
                )
            }
            Some(_) => (Borrowed::Missing, Borrowed::Missing),
            None => (Borrowed::NotBorrowable, Borrowed::Missing),
        };
        PathParts {
            name,
            directory,
            filename,
            fd: Some(info),
        }
    }

    /// What decides the parts of an event's fd (its name and kind), when they come from
    /// the fd: events with equal keys have equal parts. With `raw`, `fd.nameraw` too:
    /// only when it equals the name (then it holds no `//` either).
    #[inline]
    pub(crate) fn key(ev: &Event, raw: bool) -> Option<(&str, u8)> {
        let info = ev.fd.as_deref()?;
        let failed_connect = failed_connect(ev);
        let usable = ev.process.is_some() && !failed_connect;
        (usable && (!raw || info.nameraw == info.name)).then_some((&*info.name, info.kind as u8))
    }

    #[inline]
    pub(crate) fn get(&self, part: PathPart) -> Borrowed<'a> {
        match part {
            PathPart::Name => self.name,
            PathPart::Directory => self.directory,
            PathPart::Filename => self.filename,
            PathPart::Nameraw => match self.fd {
                None => Borrowed::Missing,
                Some(Some(i)) if !crate::eval::needles::has_double_slash(i.nameraw.as_bytes()) => {
                    Borrowed::str(&i.nameraw)
                }
                Some(_) => Borrowed::NotBorrowable,
            },
        }
    }
}

/// What decides an event's socket fields on the server's side: the fd's kind, this
/// process's role, the protocol and the server's end (not `fd.is_server`, which also
/// depends on the interface list and the process's container). Events with equal keys have equal
/// values of the fields [`on_server_side`] names (a `connect` to the same service
/// from another client port has the same key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SockKey {
    kind: u8,
    role: u8,
    proto: Option<L4Proto>,
    server: Option<(IpAddr, u16)>,
}

impl SockKey {
    /// The key of `ev`'s socket fields, when they come from its fd.
    #[inline]
    pub(crate) fn of(ev: &Event) -> Option<SockKey> {
        ev.process.as_ref()?;
        let i = ev.fd.as_deref()?;
        Some(SockKey {
            kind: i.kind as u8,
            role: i.role as u8,
            proto: render::fd_l4proto(i),
            server: inet(i).map(|(_, _, sip, sport)| (sip, sport)),
        })
    }
}

/// The fields [`SockKey`] decides.
pub(crate) fn on_server_side(f: F) -> bool {
    matches!(
        f,
        F::Sip | F::Snet | F::Sport | F::Typechar | F::Type | F::L4proto | F::Sockfamily
    )
}

fn set_ip(out: &mut Value, ip: IpAddr) -> bool {
    *out = Value::Ip(ip);
    true
}

fn set_any<const N: usize>(out: &mut Value, vals: [Value; N]) -> bool {
    let slots = any_slots(out);
    slots.clear();
    slots.extend(vals);
    true
}

/// `fd.l4proto`; Falco prints `<NA>` for non-sockets and unknown protocols.
fn l4proto(i: &FdInfo) -> &'static str {
    match render::fd_l4proto(i) {
        Some(p) if p != L4Proto::Unknown && i.kind.is_socket() => p.as_str(),
        _ => "<NA>",
    }
}

/// `fd.typechar` when the fd is unknown: guessed from the event type, like Falco.
fn creator_typechar(etype: EventType) -> &'static str {
    match etype {
        EventType::OPEN | EventType::OPENAT | EventType::OPENAT2 | EventType::CREAT => "f",
        // Falco's guess: it cannot tell IPv4 from IPv6 or unix here.
        EventType::SOCKET | EventType::ACCEPT | EventType::ACCEPT4 => "4",
        _ => "o",
    }
}

/// The name an fd-creating event gives its (unknown) fd; "" for other fd events.
fn write_creator_name(ev: &Event, raw: bool, buf: &mut String) {
    match ev.etype {
        // Falco resolves open/creat names against the cwd even for `fd.nameraw`.
        EventType::OPEN | EventType::CREAT => render::write_param(ev, 1, Style::Preferred, buf),
        EventType::CONNECT | EventType::ACCEPT | EventType::ACCEPT4 => {
            render::write_param(ev, 1, Style::Preferred, buf)
        }
        EventType::OPENAT | EventType::OPENAT2 => {
            let Some(name) = ev.param(2).as_str() else {
                return;
            };
            if raw {
                buf.push_str(name);
                return;
            }
            match (ev.param(1).as_i64(), ev.process.as_deref()) {
                _ if name.starts_with('/') => render::write_joined("", name, buf),
                (Some(AT_FDCWD), Some(p)) => render::write_joined(&p.cwd, name, buf),
                _ => {
                    buf.push_str("<UNKNOWN>/");
                    buf.push_str(name);
                }
            }
        }
        _ => {}
    }
}

/// Falco's `fd.directory` cut, applied to `buf[start..]`: everything before the last '/',
/// or "/" when that is the only one; a trailing-slash path is kept whole.
fn falco_dirname(buf: &mut String, start: usize) {
    let name = &buf[start..];
    match last_slash(name) {
        Some(pos) if pos != 0 => {
            if pos + 1 < name.len() {
                buf.truncate(start + pos);
            }
        }
        _ => {
            buf.truncate(start);
            buf.push('/');
        }
    }
}
