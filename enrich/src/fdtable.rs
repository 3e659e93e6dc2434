//! A thread group's file descriptors, and how each kind of fd is described.
//!
//! The table is shared copy-on-write: a fork hands the child an `Arc` of the parent's
//! table, and the first change on either side copies the map (its entries are `Arc`s, so
//! the copy is one pointer per fd).

use peregrine_event::{FdInfo, FdKind, L4Proto, SockAddr, SockTuple, SocketRole};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Linux address families and socket types the tables understand.
pub(crate) mod sock {
    pub const AF_UNIX: u64 = 1;
    pub const AF_INET: u64 = 2;
    pub const AF_INET6: u64 = 10;
    pub const AF_NETLINK: u64 = 16;
    pub const SOCK_STREAM: u64 = 1;
    pub const SOCK_DGRAM: u64 = 2;
    pub const SOCK_RAW: u64 = 3;
    /// `type` also carries SOCK_NONBLOCK / SOCK_CLOEXEC; the type proper is the low nibble.
    pub const SOCK_TYPE_MASK: u64 = 0xf;
    pub const IPPROTO_ICMP: u64 = 1;
    pub const IPPROTO_ICMPV6: u64 = 58;
}

#[derive(Clone, Debug, Default)]
pub(crate) struct FdTable {
    map: FxHashMap<i64, Arc<FdInfo>>,
}

impl FdTable {
    pub fn get(&self, fd: i64) -> Option<&Arc<FdInfo>> {
        self.map.get(&fd)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Inserts unless the table is full and `fd` is new; false when refused.
    pub fn insert(&mut self, info: Arc<FdInfo>, max: usize) -> bool {
        if self.map.len() >= max && !self.map.contains_key(&info.num) {
            return false;
        }
        self.map.insert(info.num, info);
        true
    }

    pub fn remove(&mut self, fd: i64) -> Option<Arc<FdInfo>> {
        self.map.remove(&fd)
    }

    /// Drops the fds opened with O_CLOEXEC, as a successful exec does.
    pub fn remove_cloexec(&mut self) {
        self.map
            .retain(|_, info| info.flags & peregrine_event::flags::open::O_CLOEXEC == 0);
    }

    pub fn has_cloexec(&self) -> bool {
        self.map
            .values()
            .any(|info| info.flags & peregrine_event::flags::open::O_CLOEXEC != 0)
    }
}

/// A file or directory opened by path.
pub(crate) fn file(
    num: i64,
    name: String,
    nameraw: String,
    flags: u64,
    dev: u64,
    ino: u64,
) -> FdInfo {
    let kind = if flags & peregrine_event::flags::open::O_DIRECTORY != 0 {
        FdKind::Directory
    } else {
        FdKind::File
    };
    FdInfo {
        num,
        kind,
        name,
        nameraw,
        flags,
        dev,
        ino,
        ..Default::default()
    }
}

/// A fresh socket from `socket(domain, type, proto)`: no name until it connects or binds.
pub(crate) fn socket(num: i64, domain: u64, stype: u64, proto: u64) -> FdInfo {
    let kind = match domain {
        sock::AF_INET => FdKind::Ipv4,
        sock::AF_INET6 => FdKind::Ipv6,
        sock::AF_UNIX => FdKind::Unix,
        sock::AF_NETLINK => FdKind::Netlink,
        _ => FdKind::Unknown,
    };
    let l4proto = match (kind, stype & sock::SOCK_TYPE_MASK, proto) {
        (FdKind::Ipv4 | FdKind::Ipv6, _, sock::IPPROTO_ICMP | sock::IPPROTO_ICMPV6) => {
            Some(L4Proto::Icmp)
        }
        (FdKind::Ipv4 | FdKind::Ipv6, sock::SOCK_STREAM, _) => Some(L4Proto::Tcp),
        (FdKind::Ipv4 | FdKind::Ipv6, sock::SOCK_DGRAM, _) => Some(L4Proto::Udp),
        (FdKind::Ipv4 | FdKind::Ipv6, sock::SOCK_RAW, _) => Some(L4Proto::Raw),
        _ => None,
    };
    FdInfo {
        num,
        kind,
        l4proto,
        ..Default::default()
    }
}

/// The fd kind a tuple implies, for sockets first seen with a tuple.
fn kind_of_tuple(tuple: &SockTuple) -> FdKind {
    match tuple {
        SockTuple::Inet {
            sip: IpAddr::V6(_), ..
        } => FdKind::Ipv6,
        SockTuple::Inet { .. } => FdKind::Ipv4,
        SockTuple::Unix { .. } => FdKind::Unix,
    }
}

/// `base` (or a fresh socket when unknown) with a connection tuple: connect, accept, and
/// the peers of UDP sends and receives.
pub(crate) fn with_tuple(
    base: Option<&FdInfo>,
    num: i64,
    tuple: &SockTuple,
    role: SocketRole,
) -> FdInfo {
    let mut info = base.cloned().unwrap_or_default();
    info.num = num;
    if !matches!(info.kind, FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Unix) {
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

/// A socket after a successful bind: Falco names it after the address and, for inet
/// addresses with a port, makes it a server socket.
pub(crate) fn bound(base: &FdInfo, addr: &SockAddr) -> FdInfo {
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

/// The fd kind and name behind a `/proc/<pid>/fd/<n>` link target (sockets are resolved by
/// the caller from the socket tables).
pub(crate) fn classify_link(link: &str) -> (FdKind, String) {
    if let Some(rest) = link.strip_prefix("/memfd:") {
        let name = rest.strip_suffix(" (deleted)").unwrap_or(rest);
        return (FdKind::Memfd, format!("memfd:{name}"));
    }
    if link.starts_with('/') {
        return (FdKind::File, link.to_string());
    }
    let kind = if link.starts_with("pipe:") {
        FdKind::Pipe
    } else if let Some(anon) = link.strip_prefix("anon_inode:") {
        match anon.trim_matches(|c| c == '[' || c == ']') {
            "eventpoll" => FdKind::Eventpoll,
            "eventfd" => FdKind::Event,
            "signalfd" => FdKind::Signalfd,
            "timerfd" => FdKind::Timerfd,
            "inotify" => FdKind::Inotify,
            "userfaultfd" => FdKind::Userfaultfd,
            "io_uring" => FdKind::IoUring,
            "pidfd" => FdKind::Pidfd,
            a if a.starts_with("bpf") => FdKind::Bpf,
            _ => FdKind::Unknown,
        }
    } else {
        FdKind::Unknown
    };
    (kind, link.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_event::flags::open;

    fn tcp_tuple() -> SockTuple {
        SockTuple::Inet {
            proto: L4Proto::Tcp,
            sip: "10.0.0.1".parse().unwrap(),
            sport: 40000,
            dip: "10.0.0.2".parse().unwrap(),
            dport: 5432,
        }
    }

    #[test]
    fn table_is_bounded_and_drops_cloexec() {
        let mut t = FdTable::default();
        let f = |n, flags| Arc::new(file(n, format!("/f{n}"), String::new(), flags, 0, 0));
        assert!(t.insert(f(3, open::O_RDONLY), 2));
        assert!(t.insert(f(4, open::O_CLOEXEC), 2));
        assert!(!t.insert(f(5, 0), 2), "full");
        assert!(t.insert(f(4, 0), 2), "replacing an existing fd is allowed");
        assert!(t.insert(f(4, open::O_CLOEXEC), 2));
        assert!(t.has_cloexec());
        t.remove_cloexec();
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(3).unwrap().name, "/f3");
        assert!(t.remove(3).is_some() && t.remove(3).is_none());
    }

    #[test]
    fn sockets_from_domain_and_type() {
        let s = socket(5, sock::AF_INET, sock::SOCK_STREAM | 0o4000, 0);
        assert_eq!((s.kind, s.l4proto), (FdKind::Ipv4, Some(L4Proto::Tcp)));
        let s = socket(5, sock::AF_INET6, sock::SOCK_DGRAM, 17);
        assert_eq!((s.kind, s.l4proto), (FdKind::Ipv6, Some(L4Proto::Udp)));
        let s = socket(5, sock::AF_INET, sock::SOCK_DGRAM, sock::IPPROTO_ICMP);
        assert_eq!(s.l4proto, Some(L4Proto::Icmp));
        let s = socket(5, sock::AF_INET, sock::SOCK_RAW, 255);
        assert_eq!(s.l4proto, Some(L4Proto::Raw));
        assert_eq!(socket(5, sock::AF_UNIX, 1, 0).kind, FdKind::Unix);
        assert_eq!(socket(5, sock::AF_NETLINK, 3, 0).kind, FdKind::Netlink);
        assert_eq!(socket(5, 17, 3, 0).kind, FdKind::Unknown);
    }

    #[test]
    fn tuples_name_sockets() {
        let fresh = socket(7, sock::AF_INET, sock::SOCK_STREAM, 0);
        let c = with_tuple(Some(&fresh), 7, &tcp_tuple(), SocketRole::Client);
        assert_eq!(c.name, "10.0.0.1:40000->10.0.0.2:5432");
        assert_eq!(
            (c.kind, c.role, c.connected),
            (FdKind::Ipv4, SocketRole::Client, true)
        );
        // an unknown fd takes its kind from the tuple
        let v6 = SockTuple::Inet {
            proto: L4Proto::Udp,
            sip: "::1".parse().unwrap(),
            sport: 1,
            dip: "::1".parse().unwrap(),
            dport: 53,
        };
        let u = with_tuple(None, 9, &v6, SocketRole::Server);
        assert_eq!(
            (u.kind, u.l4proto, u.role),
            (FdKind::Ipv6, Some(L4Proto::Udp), SocketRole::Server)
        );
        // an existing role is kept
        let again = with_tuple(Some(&u), 9, &v6, SocketRole::Client);
        assert_eq!(again.role, SocketRole::Server);
    }

    #[test]
    fn bind_names_and_serves() {
        let fresh = socket(3, sock::AF_INET, sock::SOCK_STREAM, 0);
        let b = bound(
            &fresh,
            &SockAddr::Inet {
                ip: "0.0.0.0".parse().unwrap(),
                port: 8080,
            },
        );
        assert_eq!(
            (b.name.as_str(), b.role),
            ("0.0.0.0:8080", SocketRole::Server)
        );
        let unix = bound(
            &socket(3, sock::AF_UNIX, 1, 0),
            &SockAddr::Unix {
                path: "/run/x.sock".into(),
            },
        );
        assert_eq!(
            (unix.name.as_str(), unix.kind),
            ("/run/x.sock", FdKind::Unix)
        );
    }

    #[test]
    fn proc_links() {
        let cases = [
            ("/etc/passwd", FdKind::File, "/etc/passwd"),
            ("pipe:[12345]", FdKind::Pipe, "pipe:[12345]"),
            (
                "anon_inode:[eventpoll]",
                FdKind::Eventpoll,
                "anon_inode:[eventpoll]",
            ),
            (
                "anon_inode:[eventfd]",
                FdKind::Event,
                "anon_inode:[eventfd]",
            ),
            ("anon_inode:inotify", FdKind::Inotify, "anon_inode:inotify"),
            ("anon_inode:bpf-map", FdKind::Bpf, "anon_inode:bpf-map"),
            ("anon_inode:[pidfd]", FdKind::Pidfd, "anon_inode:[pidfd]"),
            ("/memfd:jit (deleted)", FdKind::Memfd, "memfd:jit"),
            ("anon_inode:[weird]", FdKind::Unknown, "anon_inode:[weird]"),
            ("", FdKind::Unknown, ""),
        ];
        for (link, kind, name) in cases {
            assert_eq!(classify_link(link), (kind, name.to_string()), "{link}");
        }
    }
}
