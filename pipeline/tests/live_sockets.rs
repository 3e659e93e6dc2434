//! Socket tuples on every network syscall, live: the real agent, a rule printing every
//! socket field on the events of one thread, and values worked out by the test from the
//! addresses it used (getsockname) and this host's interface addresses.
//!
//! The thread runs in a network namespace of the test's own (`common::netns`) with
//! 192.0.2.1/24 (TEST-NET-1) on its `lo`, so a listener bound to a routable address is
//! covered without a packet leaving the namespace. Per family and protocol it does bind,
//! listen, connect, accept or accept4, sendto/recvfrom and sendmsg/recvmsg, and for UDP an
//! unconnected sendto before connecting; unix stream sockets too.
//!
//! What Falco fills on each event was checked by running Falco 0.43.1 on the same actions.
//! Which end is *local* and whether the fd *is the server* are libsinsp's interface rules:
//! `fd.lip`/`fd.lport` are the client's end when the client's address is one of this host's
//! interface addresses (else the server's), and `fd.is_server` is whether the server's
//! address is one of them (always true on a bound or listening socket). Addresses in the
//! test's namespace are not the host's, so there both ends are remote; on 127.0.0.1 and ::1
//! both are local.

mod common;

use common::netns::{local_addresses, NetNs};
use common::{skip, Agent};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc;

/// The socket events the test makes and checks.
const TYPES: &[&str] = &[
    "connect", "accept", "accept4", "bind", "listen", "sendto", "recvfrom", "sendmsg", "recvmsg",
];

/// What the fd of one event is.
#[derive(Clone, Debug)]
enum Sock {
    /// A TCP or UDP socket bound to `addr` (bind, listen, and a UDP server's receives
    /// before any tuple).
    Bound {
        addr: SocketAddr,
        l4: &'static str,
    },
    /// A socket with both ends known.
    Pair {
        client: SocketAddr,
        server: SocketAddr,
        l4: &'static str,
        connected: bool,
    },
    UnixBound {
        path: String,
    },
    UnixConn {
        path: String,
    },
}

/// One event the thread caused: its type and fd, and what the fd is.
#[derive(Clone, Debug)]
struct Step {
    label: String,
    etype: &'static str,
    fd: i64,
    sock: Sock,
    /// A UDP event on an unconnected socket (see [`KNOWN_GAPS`]).
    unconnected_udp: bool,
}

/// The fields Falco shows for `sock`, `local` being this host's interface addresses.
fn expected(sock: &Sock, local: &[IpAddr]) -> Vec<(&'static str, Value)> {
    let ip_kind = |ip: &IpAddr| match ip {
        IpAddr::V4(_) => ("4", "ipv4"),
        IpAddr::V6(_) => ("6", "ipv6"),
    };
    match sock {
        Sock::Bound { addr, l4 } => {
            let (tc, ty) = ip_kind(&addr.ip());
            vec![
                ("fd.name", json!(format!("{}:{}", addr.ip(), addr.port()))),
                ("fd.sip", json!(addr.ip().to_string())),
                ("fd.sport", json!(addr.port())),
                ("fd.cip", Value::Null),
                ("fd.cport", Value::Null),
                ("fd.lip", Value::Null),
                ("fd.lport", Value::Null),
                ("fd.rip", Value::Null),
                ("fd.rport", Value::Null),
                ("fd.l4proto", json!(l4)),
                ("fd.sockfamily", json!("ip")),
                ("fd.typechar", json!(tc)),
                ("fd.type", json!(ty)),
                ("fd.connected", json!(false)),
                ("fd.is_server", json!(true)),
            ]
        }
        Sock::Pair {
            client,
            server,
            l4,
            connected,
        } => {
            let (tc, ty) = ip_kind(&client.ip());
            let (l, r) = if local.contains(&client.ip()) {
                (client, server)
            } else {
                (server, client)
            };
            vec![
                (
                    "fd.name",
                    json!(format!(
                        "{}:{}->{}:{}",
                        client.ip(),
                        client.port(),
                        server.ip(),
                        server.port()
                    )),
                ),
                ("fd.sip", json!(server.ip().to_string())),
                ("fd.sport", json!(server.port())),
                ("fd.cip", json!(client.ip().to_string())),
                ("fd.cport", json!(client.port())),
                ("fd.lip", json!(l.ip().to_string())),
                ("fd.lport", json!(l.port())),
                ("fd.rip", json!(r.ip().to_string())),
                ("fd.rport", json!(r.port())),
                ("fd.l4proto", json!(l4)),
                ("fd.sockfamily", json!("ip")),
                ("fd.typechar", json!(tc)),
                ("fd.type", json!(ty)),
                ("fd.connected", json!(connected)),
                ("fd.is_server", json!(local.contains(&server.ip()))),
            ]
        }
        Sock::UnixBound { path } => unix_fields(json!(path), false),
        // The kernel addresses of the two ends, then the path.
        Sock::UnixConn { .. } => unix_fields(Value::Null, true),
    }
}

fn unix_fields(name: Value, connected: bool) -> Vec<(&'static str, Value)> {
    let mut v = vec![
        ("fd.l4proto", json!("<NA>")),
        ("fd.sockfamily", json!("unix")),
        ("fd.typechar", json!("u")),
        ("fd.type", json!("unix")),
        ("fd.connected", json!(connected)),
        ("fd.is_server", json!(false)),
        ("fd.sip", Value::Null),
        ("fd.lport", Value::Null),
    ];
    if !name.is_null() {
        v.push(("fd.name", name));
    }
    v
}

/// The filter-only fields as conditions that must hold (true) or not (false).
fn conditions(sock: &Sock) -> Vec<(String, bool)> {
    let net = |ip: IpAddr| match ip {
        IpAddr::V4(v4) if v4.octets()[0] == 127 => "127.0.0.0/8".to_owned(),
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => format!("{v6}/128"),
    };
    match sock {
        Sock::Bound { addr, .. } => vec![
            (format!("fd.ip = {}", addr.ip()), true),
            (format!("fd.net = {}", net(addr.ip())), true),
            (format!("fd.snet = {}", net(addr.ip())), true),
            (format!("fd.cnet = {}", net(addr.ip())), false),
            (format!("fd.port = {}", addr.port()), true),
            ("fd.port = 1".to_owned(), false),
        ],
        Sock::Pair { client, server, .. } => vec![
            (format!("fd.ip = {}", server.ip()), true),
            (format!("fd.net = {}", net(server.ip())), true),
            (format!("fd.snet = {}", net(server.ip())), true),
            (format!("fd.cnet = {}", net(client.ip())), true),
            (format!("fd.port = {}", server.port()), true),
            ("fd.port = 1".to_owned(), false),
            ("fd.ip = 198.51.100.7".to_owned(), false),
        ],
        Sock::UnixBound { .. } | Sock::UnixConn { .. } => vec![
            ("fd.ip = 127.0.0.1".to_owned(), false),
            ("fd.port = 1".to_owned(), false),
        ],
    }
}

const OUTPUT_FIELDS: &[&str] = &[
    "evt.num",
    "evt.type",
    "fd.num",
    "fd.name",
    "fd.sip",
    "fd.cip",
    "fd.lip",
    "fd.rip",
    "fd.sport",
    "fd.cport",
    "fd.lport",
    "fd.rport",
    "fd.l4proto",
    "fd.sockfamily",
    "fd.typechar",
    "fd.type",
    "fd.connected",
    "fd.is_server",
];

/// Plain system calls, so each step is exactly one traced event.
mod sys {
    use std::net::SocketAddr;

    pub fn check(ret: i64, what: &str) -> i64 {
        assert!(ret >= 0, "{what}: {}", std::io::Error::last_os_error());
        ret
    }

    /// A sockaddr for `addr` and its length.
    pub fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, u32) {
        // SAFETY: an all-zero sockaddr_storage is valid; the sockaddr_in/in6 written into
        // it fit (that is what the storage type is for).
        unsafe {
            let mut ss: libc::sockaddr_storage = std::mem::zeroed();
            let len = match addr {
                SocketAddr::V4(a) => {
                    let sin = &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in);
                    sin.sin_family = libc::AF_INET as u16;
                    sin.sin_port = a.port().to_be();
                    sin.sin_addr.s_addr = u32::from(*a.ip()).to_be();
                    std::mem::size_of::<libc::sockaddr_in>()
                }
                SocketAddr::V6(a) => {
                    let sin6 = &mut *(&mut ss as *mut _ as *mut libc::sockaddr_in6);
                    sin6.sin6_family = libc::AF_INET6 as u16;
                    sin6.sin6_port = a.port().to_be();
                    sin6.sin6_addr.s6_addr = a.ip().octets();
                    std::mem::size_of::<libc::sockaddr_in6>()
                }
            };
            (ss, len as u32)
        }
    }

    pub fn unix_addr(path: &str) -> (libc::sockaddr_un, u32) {
        // SAFETY: an all-zero sockaddr_un is valid.
        let mut un: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        un.sun_family = libc::AF_UNIX as u16;
        for (d, s) in un.sun_path.iter_mut().zip(path.bytes()) {
            *d = s as libc::c_char;
        }
        (un, std::mem::size_of::<libc::sockaddr_un>() as u32)
    }

    /// The address the kernel gave the socket's own end.
    pub fn local_addr(fd: i64) -> SocketAddr {
        // SAFETY: getsockname writes at most `len` bytes into the storage.
        unsafe {
            let mut ss: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            check(
                libc::getsockname(fd as i32, &mut ss as *mut _ as *mut _, &mut len) as i64,
                "getsockname",
            );
            match ss.ss_family as i32 {
                libc::AF_INET => {
                    let sin = &*(&ss as *const _ as *const libc::sockaddr_in);
                    SocketAddr::from((
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        u16::from_be(sin.sin_port),
                    ))
                }
                _ => {
                    let sin6 = &*(&ss as *const _ as *const libc::sockaddr_in6);
                    SocketAddr::from((sin6.sin6_addr.s6_addr, u16::from_be(sin6.sin6_port)))
                }
            }
        }
    }
}

/// Performs every step from the calling thread and lists them in order.
struct Performer {
    steps: Vec<Step>,
}

impl Performer {
    fn push(&mut self, label: &str, etype: &'static str, fd: i64, sock: Sock) {
        self.steps.push(Step {
            label: label.to_owned(),
            etype,
            fd,
            sock,
            unconnected_udp: false,
        });
    }

    /// Marks the last step as made on an unconnected UDP socket.
    fn unconnected(&mut self) {
        self.steps.last_mut().unwrap().unconnected_udp = true;
    }

    fn socket(family: i32, ty: i32) -> i64 {
        // SAFETY: plain syscall.
        sys::check(unsafe { libc::socket(family, ty, 0) } as i64, "socket")
    }

    fn family(addr: &SocketAddr) -> i32 {
        if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        }
    }

    fn bind(&mut self, label: &str, fd: i64, addr: &SocketAddr, l4: &'static str) {
        let (ss, len) = sys::sockaddr(addr);
        // SAFETY: a valid sockaddr of `len` bytes.
        let r = unsafe { libc::bind(fd as i32, &ss as *const _ as *const _, len) };
        sys::check(r as i64, "bind");
        self.push(label, "bind", fd, Sock::Bound { addr: *addr, l4 });
    }

    fn connect(&mut self, fd: i64, addr: &SocketAddr) {
        let (ss, len) = sys::sockaddr(addr);
        // SAFETY: as bind.
        let r = unsafe { libc::connect(fd as i32, &ss as *const _ as *const _, len) };
        sys::check(r as i64, "connect");
    }

    fn send(fd: i64, data: &[u8], to: Option<&SocketAddr>) {
        let r = match to {
            Some(a) => {
                let (ss, len) = sys::sockaddr(a);
                // SAFETY: a valid buffer and sockaddr.
                unsafe {
                    libc::sendto(
                        fd as i32,
                        data.as_ptr().cast(),
                        data.len(),
                        0,
                        &ss as *const _ as *const _,
                        len,
                    )
                }
            }
            // SAFETY: a valid buffer, no address.
            None => unsafe {
                libc::sendto(
                    fd as i32,
                    data.as_ptr().cast(),
                    data.len(),
                    0,
                    std::ptr::null(),
                    0,
                )
            },
        };
        sys::check(r as i64, "sendto");
    }

    fn recv(fd: i64) {
        let mut buf = [0u8; 256];
        // SAFETY: a valid buffer; the sender's address is not asked for.
        let r = unsafe {
            libc::recvfrom(
                fd as i32,
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        sys::check(r as i64, "recvfrom");
    }

    fn sendmsg(fd: i64, data: &[u8]) {
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut _,
            iov_len: data.len(),
        };
        // SAFETY: a msghdr with one iovec over `data`.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            sys::check(libc::sendmsg(fd as i32, &msg, 0) as i64, "sendmsg");
        }
    }

    fn recvmsg(fd: i64) {
        let mut buf = [0u8; 256];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: as sendmsg, into our buffer.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            sys::check(libc::recvmsg(fd as i32, &mut msg, 0) as i64, "recvmsg");
        }
    }

    fn close(fds: &[i64]) {
        for fd in fds {
            // SAFETY: fds this performer opened.
            unsafe { libc::close(*fd as i32) };
        }
    }

    /// A TCP server on `server`: bind, listen, connect, accept (or accept4), and data
    /// both ways with sendto/recvfrom and sendmsg/recvmsg.
    fn tcp(&mut self, label: &str, server: SocketAddr, four: bool) {
        let fam = Self::family(&server);
        let l = Self::socket(fam, libc::SOCK_STREAM);
        self.bind(label, l, &server, "tcp");
        // SAFETY: plain syscall.
        sys::check(unsafe { libc::listen(l as i32, 8) } as i64, "listen");
        self.push(
            label,
            "listen",
            l,
            Sock::Bound {
                addr: server,
                l4: "tcp",
            },
        );
        let c = Self::socket(fam, libc::SOCK_STREAM);
        self.connect(c, &server);
        let client = sys::local_addr(c);
        let pair = Sock::Pair {
            client,
            server,
            l4: "tcp",
            connected: true,
        };
        self.push(label, "connect", c, pair.clone());
        // SAFETY: plain syscalls; the peer's address is not asked for.
        let a = unsafe {
            if four {
                libc::accept4(l as i32, std::ptr::null_mut(), std::ptr::null_mut(), 0)
            } else {
                libc::syscall(libc::SYS_accept, l, 0usize, 0usize) as i32
            }
        } as i64;
        sys::check(a, "accept");
        self.push(
            label,
            if four { "accept4" } else { "accept" },
            a,
            pair.clone(),
        );
        Self::send(c, b"tcp-sendto", None);
        self.push(label, "sendto", c, pair.clone());
        Self::recv(a);
        self.push(label, "recvfrom", a, pair.clone());
        Self::sendmsg(a, b"tcp-sendmsg");
        self.push(label, "sendmsg", a, pair.clone());
        Self::recvmsg(c);
        self.push(label, "recvmsg", c, pair);
        Self::close(&[a, c, l]);
    }

    /// A UDP server on `server`: an unconnected sendto and its receive, then a connect
    /// and a send and sendmsg with their receives.
    fn udp(&mut self, label: &str, server: SocketAddr) {
        let fam = Self::family(&server);
        let s = Self::socket(fam, libc::SOCK_DGRAM);
        self.bind(label, s, &server, "udp");
        let c = Self::socket(fam, libc::SOCK_DGRAM);
        Self::send(c, b"udp-unconnected", Some(&server));
        // Unconnected, the socket's own address is the wildcard: the kernel sent from the
        // server's address (one interface each).
        let client = SocketAddr::new(server.ip(), sys::local_addr(c).port());
        let pair = |connected| Sock::Pair {
            client,
            server,
            l4: "udp",
            connected,
        };
        // Falco: the sender's tuple makes it connected; the receiver takes the tuple
        // but stays unconnected.
        self.push(label, "sendto", c, pair(true));
        self.unconnected();
        Self::recv(s);
        self.push(label, "recvfrom", s, pair(false));
        self.unconnected();
        self.connect(c, &server);
        self.push(label, "connect", c, pair(true));
        Self::sendmsg(c, b"udp-sendmsg");
        self.push(label, "sendmsg", c, pair(true));
        Self::recvmsg(s);
        self.push(label, "recvmsg", s, pair(false));
        self.unconnected();
        Self::close(&[c, s]);
    }

    /// A unix stream server at `path`.
    fn unix(&mut self, label: &str, path: &str) {
        let _ = std::fs::remove_file(path);
        let l = Self::socket(libc::AF_UNIX, libc::SOCK_STREAM);
        let (un, len) = sys::unix_addr(path);
        // SAFETY: a valid sockaddr_un.
        let r = unsafe { libc::bind(l as i32, &un as *const _ as *const _, len) };
        sys::check(r as i64, "bind unix");
        let bound = Sock::UnixBound {
            path: path.to_owned(),
        };
        self.push(label, "bind", l, bound.clone());
        // SAFETY: plain syscall.
        sys::check(unsafe { libc::listen(l as i32, 4) } as i64, "listen");
        self.push(label, "listen", l, bound);
        let c = Self::socket(libc::AF_UNIX, libc::SOCK_STREAM);
        // SAFETY: as bind.
        let r = unsafe { libc::connect(c as i32, &un as *const _ as *const _, len) };
        sys::check(r as i64, "connect unix");
        let conn = Sock::UnixConn {
            path: path.to_owned(),
        };
        self.push(label, "connect", c, conn.clone());
        // SAFETY: plain syscall.
        let a = unsafe { libc::syscall(libc::SYS_accept, l, 0usize, 0usize) };
        sys::check(a, "accept unix");
        self.push(label, "accept", a, conn.clone());
        Self::send(c, b"unix-sendto", None);
        self.push(label, "sendto", c, conn.clone());
        Self::recv(a);
        self.push(label, "recvfrom", a, conn);
        Self::close(&[a, c, l]);
        let _ = std::fs::remove_file(path);
    }
}

/// The servers the performer sets up, in order.
#[derive(Clone, Copy)]
enum Server {
    Tcp(&'static str, &'static str, bool),
    Udp(&'static str, &'static str),
    Unix(&'static str),
}

const SERVERS: &[Server] = &[
    Server::Tcp("tcp4 routable", "192.0.2.1:4001", false),
    Server::Tcp("tcp4 loopback", "127.0.0.1:4002", true),
    Server::Tcp("tcp6 loopback", "[::1]:4003", false),
    Server::Tcp("tcp6 accept4", "[::1]:4004", true),
    Server::Udp("udp4 routable", "192.0.2.1:4005"),
    Server::Udp("udp4 loopback", "127.0.0.1:4006"),
    Server::Udp("udp6 loopback", "[::1]:4007"),
    Server::Unix("unix stream"),
];

/// The conditions checked on a server's events, known before the run: the client's port
/// is the kernel's pick, but its address is the server's (one interface each).
fn server_conditions(server: &Server) -> Vec<(String, bool)> {
    let (addr, l4) = match server {
        Server::Tcp(_, a, _) => (a.parse().unwrap(), "tcp"),
        Server::Udp(_, a) => (a.parse().unwrap(), "udp"),
        Server::Unix(_) => {
            return conditions(&Sock::UnixBound {
                path: String::new(),
            })
        }
    };
    let mut all = conditions(&Sock::Bound { addr, l4 });
    all.extend(conditions(&Sock::Pair {
        client: SocketAddr::new(addr.ip(), 0),
        server: addr,
        l4,
        connected: true,
    }));
    all
}

/// The conditions that apply to one step (client port left out: see [`server_conditions`]).
fn step_conditions(step: &Step) -> Vec<(String, bool)> {
    match &step.sock {
        Sock::Pair {
            client,
            server,
            l4,
            connected,
        } => conditions(&Sock::Pair {
            client: SocketAddr::new(client.ip(), 0),
            server: *server,
            l4,
            connected: *connected,
        }),
        other => conditions(other),
    }
}

/// The rule printing every socket field on the thread's events, and one rule per
/// condition printing evt.num, so each step's event can be looked up in its alerts.
fn rules(tid: i64, conds: &[String]) -> String {
    let base = format!("evt.type in ({}) and thread.tid = {tid}", TYPES.join(", "));
    let output: Vec<String> = OUTPUT_FIELDS.iter().map(|f| format!("{f}=%{f}")).collect();
    let mut out = format!(
        "- rule: sockets\n  desc: t\n  condition: {base}\n  output: {}\n  priority: INFO\n",
        serde_json::to_string(&output.join(" ")).unwrap()
    );
    for (i, c) in conds.iter().enumerate() {
        out += &format!(
            "- rule: cond {i}\n  desc: t\n  condition: {base} and {c}\n  output: \"evt.num=%evt.num\"\n  priority: INFO\n"
        );
    }
    out
}

/// Differences from Falco known and not fixed yet, with the reason: reported by the test
/// (which fails once one no longer occurs, so the list stays true), not counted as failures.
const KNOWN_GAPS: &[(Gap, &str)] = &[(
    Gap::UnconnectedUdp,
    "an unconnected UDP socket's tuple is read from the kernel socket, which has no \
     peer (and a wildcard local address): Falco takes the peer from the call's \
     sockaddr (sendto's dest_addr, recvfrom's src_addr, msg_name) and infers the \
     local address from the interfaces; the receiver stays unconnected in Falco",
)];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    UnconnectedUdp,
}

/// The known gap a wrong value belongs to, if any.
fn gap_of(step: &Step) -> Option<Gap> {
    step.unconnected_udp.then_some(Gap::UnconnectedUdp)
}

/// Checks one step's alert; the failures, each naming the step, and the known gaps seen.
fn check_step(
    step: &Step,
    got: &Map<String, Value>,
    local: &[IpAddr],
    gaps: &mut BTreeMap<Gap, usize>,
) -> Vec<String> {
    let mut bad = Vec::new();
    let at = format!("{} {} (fd {})", step.label, step.etype, step.fd);
    if got["evt.type"] != step.etype || got["fd.num"] != step.fd {
        bad.push(format!(
            "{at}: the event is {} on fd {}",
            got["evt.type"], got["fd.num"]
        ));
        return bad;
    }
    for (field, want) in expected(&step.sock, local) {
        let v = got.get(field).unwrap_or(&Value::Null);
        if *v != want {
            let msg = format!("{at}: {field} = {v}, want {want}");
            match gap_of(step) {
                Some(g) => {
                    eprintln!("known gap {g:?}: {msg}");
                    *gaps.entry(g).or_default() += 1;
                }
                None => bad.push(msg),
            }
        }
    }
    if let Sock::UnixConn { path } = &step.sock {
        let name = got["fd.name"].as_str().unwrap_or_default();
        let ok = name.strip_suffix(path.as_str()).is_some_and(|ends| {
            let ends = ends.strip_suffix(' ').unwrap_or("");
            ends.split_once("->").is_some_and(|(a, b)| {
                [a, b]
                    .iter()
                    .all(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_hexdigit()))
            })
        });
        if !ok {
            bad.push(format!(
                "{at}: fd.name = {name:?}, want 'SRC->DST {path}' (kernel addresses)"
            ));
        }
    }
    bad
}

#[test]
fn socket_fields_on_every_network_syscall() {
    let test = "socket_fields_on_every_network_syscall";
    if skip(test) {
        return;
    }
    let me = std::process::id();
    let ns = NetNs::new(&format!("peregrine-sock-{me}"), &["192.0.2.1/24"]);
    // This (host) namespace's addresses: the agent's view of "local".
    let local = local_addresses();
    let dir = std::env::temp_dir().join(format!("peregrine-sockets-{me}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let unix_path = dir.join("server.sock").display().to_string();

    let mut conds: Vec<String> = SERVERS
        .iter()
        .flat_map(server_conditions)
        .map(|(c, _)| c)
        .collect();
    conds.sort();
    conds.dedup();

    let (tid_tx, tid_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (steps, alerts) = std::thread::scope(|s| {
        // The performer enters the namespace, says its tid and waits for the agent.
        let (ns, unix_path) = (&ns, &unix_path);
        let worker = s.spawn(move || {
            ns.enter();
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() } as i64).unwrap();
            go_rx.recv().unwrap();
            let mut p = Performer { steps: Vec::new() };
            for server in SERVERS {
                match *server {
                    Server::Tcp(label, addr, four) => p.tcp(label, addr.parse().unwrap(), four),
                    Server::Udp(label, addr) => p.udp(label, addr.parse().unwrap()),
                    Server::Unix(label) => p.unix(label, unix_path),
                }
            }
            p.steps
        });
        let tid = tid_rx.recv().unwrap();
        let agent = Agent::start(
            "live-sockets",
            &rules(tid, &conds),
            &["-o", "rule_matching=all"],
        );
        go_tx.send(()).unwrap();
        let steps = worker.join().unwrap();
        (steps, agent.stop())
    });

    let mut mine: Vec<&Map<String, Value>> = alerts
        .iter()
        .filter(|a| a["rule"] == "sockets")
        .map(|a| a["output_fields"].as_object().unwrap())
        .collect();
    mine.sort_by_key(|o| o["evt.num"].as_u64());
    let mut by_cond: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for a in &alerts {
        let rule = a["rule"].as_str().unwrap();
        if let Some(i) = rule.strip_prefix("cond ") {
            let i: usize = i.parse().unwrap();
            by_cond
                .entry(conds[i].as_str())
                .or_default()
                .push(a["output_fields"]["evt.num"].as_u64().unwrap());
        }
    }

    let mut failures = Vec::new();
    if mine.len() != steps.len() {
        failures.push(format!(
            "{} socket events for {} steps: {:?}",
            mine.len(),
            steps.len(),
            mine.iter().map(|o| &o["evt.type"]).collect::<Vec<_>>()
        ));
    }
    let mut gaps = BTreeMap::new();
    for (step, got) in steps.iter().zip(&mine) {
        failures.extend(check_step(step, got, &local, &mut gaps));
        let num = got["evt.num"].as_u64().unwrap();
        for (cond, holds) in step_conditions(step) {
            let fired = by_cond.get(cond.as_str()).is_some_and(|n| n.contains(&num));
            if fired != holds {
                let msg = format!(
                    "{} {} (fd {}): '{cond}' is {fired}, want {holds}",
                    step.label, step.etype, step.fd
                );
                if step.unconnected_udp {
                    eprintln!("known gap {:?}: {msg}", Gap::UnconnectedUdp);
                    *gaps.entry(Gap::UnconnectedUdp).or_default() += 1;
                } else {
                    failures.push(msg);
                }
            }
        }
    }
    // Falco names both ends of a unix connection alike on connect and accept.
    let unix_names: Vec<&Value> = steps
        .iter()
        .zip(&mine)
        .filter(|(s, _)| matches!(s.sock, Sock::UnixConn { .. }))
        .map(|(_, g)| &g["fd.name"])
        .collect();
    if unix_names.windows(2).any(|w| w[0] != w[1]) {
        failures.push(format!("unix connection names differ: {unix_names:?}"));
    }
    let closed: Vec<Gap> = KNOWN_GAPS
        .iter()
        .map(|(g, _)| *g)
        .filter(|g| !gaps.contains_key(g))
        .collect();
    assert!(
        closed.is_empty(),
        "right now, take them out of KNOWN_GAPS: {closed:?}"
    );
    assert!(
        failures.is_empty(),
        "{} socket checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
