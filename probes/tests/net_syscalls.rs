//! Network syscalls through the real kernel programs: tuples, addresses, fds, results.

mod common;
use common::*;
use peregrine_event::{EventType, L4Proto, ParamValue, SockAddr, SockTuple};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;

fn tuple(v: &ParamValue) -> &SockTuple {
    match v {
        ParamValue::Tuple(t) => t,
        other => panic!("not a tuple: {other:?}"),
    }
}

#[test]
fn tcp_lifecycle() {
    if skip_unless_privileged("tcp_lifecycle") {
        return;
    }
    let mut cap = Capture::start();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);

    let mut sock = -1;
    let ev = cap.one(EventType::SOCKET, || {
        // SAFETY: plain socket(2).
        sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    });
    assert_eq!(ev.param(0), &int(sock as i64));
    assert_eq!(ev.param(1), &uint(libc::AF_INET as u64));
    assert_eq!(ev.param(2), &uint(libc::SOCK_STREAM as u64));
    assert_eq!(ev.param(3), &uint(0));
    assert_eq!(ev.param(4), &uint(libc::SOCK_CLOEXEC as u64));
    unsafe { libc::close(sock) };

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut client_fd = 0;
    let mut client_port = 0;
    let mut client = None;
    let ev = cap.one(EventType::CONNECT, || {
        let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client_fd = c.as_raw_fd() as i64;
        client_port = c.local_addr().unwrap().port();
        client = Some(c);
    });
    assert_eq!(ev.param(0), &int(0));
    assert_eq!(
        tuple(ev.param(1)),
        &SockTuple::Inet {
            proto: L4Proto::Tcp,
            sip: lo,
            sport: client_port,
            dip: lo,
            dport: port
        }
    );
    assert_eq!(ev.param(2), &int(client_fd));
    assert_eq!(
        ev.param(3),
        &ParamValue::Addr(SockAddr::Inet { ip: lo, port })
    );

    let mut server = None;
    let mut server_fd = 0;
    let ev = cap.one(EventType::ACCEPT4, || {
        let (s, _) = listener.accept().unwrap();
        server_fd = s.as_raw_fd() as i64;
        server = Some(s);
    });
    assert_eq!(ev.param(0), &int(server_fd));
    // Server side: source is the client.
    assert_eq!(
        tuple(ev.param(1)),
        &SockTuple::Inet {
            proto: L4Proto::Tcp,
            sip: lo,
            sport: client_port,
            dip: lo,
            dport: port
        }
    );
    assert_eq!(ev.param(4), &uint(128), "queuemax = listen backlog");

    let mut server = server.unwrap();
    let mut client = client.unwrap();
    let ev = cap.one(EventType::SENDTO, || {
        client.write_all(b"hello peregrine").unwrap();
    });
    assert_eq!(ev.param(0), &int(15));
    assert_eq!(ev.param(1), &ParamValue::Bytes(b"hello peregrine".to_vec()));
    assert_eq!(ev.param(2), &int(client_fd));
    assert_eq!(ev.param(3), &uint(15));
    let ev = cap.one(EventType::RECVFROM, || {
        let mut buf = [0u8; 64];
        let n = server.read(&mut buf).unwrap();
        assert_eq!(n, 15);
    });
    assert_eq!(ev.param(0), &int(15));
    assert_eq!(ev.param(1), &ParamValue::Bytes(b"hello peregrine".to_vec()));
    assert_eq!(ev.param(3), &int(server_fd));
    assert_eq!(ev.param(4), &uint(64));
}

#[test]
fn bind_listen_udp_and_unix() {
    if skip_unless_privileged("bind_listen_udp_and_unix") {
        return;
    }
    let mut cap = Capture::start();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);

    // bind + listen by hand so both calls are seen.
    // SAFETY: plain socket calls on a fresh socket with a valid sockaddr_in.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: 0u16.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    let ev = cap.one(EventType::BIND, || unsafe {
        libc::bind(
            fd,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of_val(&addr) as u32,
        );
    });
    assert_eq!(ev.param(0), &int(0));
    assert_eq!(
        ev.param(1),
        &ParamValue::Addr(SockAddr::Inet { ip: lo, port: 0 })
    );
    assert_eq!(ev.param(2), &int(fd as i64));
    let ev = cap.one(EventType::LISTEN, || unsafe {
        libc::listen(fd, 7);
    });
    assert_eq!(ev.params, vec![int(0), int(fd as i64), int(7)]);
    unsafe { libc::close(fd) };

    // UDP: sendto to an address gives the tuple the kernel used.
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let ev = cap.one(EventType::SENDTO, || {
        tx.send(b"ping").unwrap();
    });
    assert_eq!(
        tuple(ev.param(4)),
        &SockTuple::Inet {
            proto: L4Proto::Udp,
            sip: lo,
            sport: tx.local_addr().unwrap().port(),
            dip: lo,
            dport: rx.local_addr().unwrap().port()
        }
    );

    // sendmsg/recvmsg over a unix socket pair: data, size, unix tuple.
    let (a, b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let ev = cap.one(EventType::SENDMSG, || {
        let iov = [
            std::io::IoSlice::new(b"abc"),
            std::io::IoSlice::new(b"defg"),
        ];
        let msg = libc::msghdr {
            msg_name: std::ptr::null_mut(),
            msg_namelen: 0,
            msg_iov: iov.as_ptr() as *mut libc::iovec,
            msg_iovlen: 2,
            msg_control: std::ptr::null_mut(),
            msg_controllen: 0,
            msg_flags: 0,
        };
        // SAFETY: msghdr points at live iovecs.
        unsafe { libc::sendmsg(a.as_raw_fd(), &msg, 0) };
    });
    assert_eq!(ev.param(0), &int(7));
    assert_eq!(ev.param(1), &ParamValue::Bytes(b"abc".to_vec()));
    assert_eq!(ev.param(2), &int(a.as_raw_fd() as i64));
    assert_eq!(ev.param(3), &uint(7));
    assert!(
        matches!(tuple(ev.param(4)), SockTuple::Unix { source, dest, .. } if *source != 0 && *dest != 0)
    );
    let ev = cap.one(EventType::RECVMSG, || {
        let mut buf = [0u8; 16];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr() as *mut libc::iovec;
        msg.msg_iovlen = 1;
        // SAFETY: msghdr points at a live buffer.
        unsafe { libc::recvmsg(b.as_raw_fd(), &mut msg, 0) };
    });
    assert_eq!(ev.param(0), &int(7));
    assert_eq!(ev.param(1), &uint(7));
    assert_eq!(ev.param(2), &ParamValue::Bytes(b"abcdefg".to_vec()));
    assert_eq!(ev.param(5), &int(b.as_raw_fd() as i64));
}

/// A refused connect, as Falco sends it: the error, no tuple (the socket never got a peer),
/// the fd, and the address the process asked for (so rules still see where it went).
#[test]
fn refused_connect_keeps_the_address() {
    if skip_unless_privileged("refused_connect_keeps_the_address") {
        return;
    }
    let mut cap = Capture::start();
    // A port nobody listens on: bind one, note it, close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut fd = -1;
    let ev = cap.one(EventType::CONNECT, || {
        let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
        // std closes its socket on failure; the fd number it used is the lowest free one.
        // SAFETY: plain socket(2)/close(2) to learn that number.
        unsafe {
            fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            libc::close(fd);
        }
    });
    assert_eq!(ev.param(0), &int(-libc::ECONNREFUSED as i64));
    assert_eq!(
        ev.param(1),
        &ParamValue::Absent,
        "no tuple for a failed connect"
    );
    assert_eq!(ev.param(2), &int(fd as i64));
    assert_eq!(
        ev.param(3),
        &ParamValue::Addr(SockAddr::Inet {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port
        })
    );
}
