//! Connects on sockets with no decodable tuple (netlink, packet, vsock) reach the rules
//! through the real agent, with their fd (issue 15: they were dropped as malformed).

mod common;
use common::{skip, Agent};
use std::sync::mpsc;

/// Opens a socket of `domain` and connects it to `addr`; returns the fd (-1 when the
/// family is not available here).
fn connect_raw(domain: i32, ty: i32, proto: i32, addr: &[u8]) -> i64 {
    // SAFETY: plain socket(2) and connect(2) with a buffer of the given size.
    unsafe {
        let fd = libc::socket(domain, ty | libc::SOCK_NONBLOCK, proto);
        if fd >= 0 {
            libc::connect(fd, addr.as_ptr().cast(), addr.len() as u32);
        }
        fd as i64
    }
}

#[test]
fn connects_of_every_family_alert() {
    let test = "connects_of_every_family_alert";
    if skip(test) {
        return;
    }
    let (tid_tx, tid_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (fds, alerts) = std::thread::scope(|s| {
        let worker = s.spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() } as i64).unwrap();
            go_rx.recv().unwrap();
            // sockaddr_nl {AF_NETLINK, 0, pid 0, groups 0}: the kernel.
            let mut nl = [0u8; 12];
            nl[..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
            let netlink = connect_raw(libc::AF_NETLINK, libc::SOCK_RAW, 0, &nl);
            // sockaddr_vm {AF_VSOCK, 0, port 9999, cid 1 (local)}.
            let mut vm = [0u8; 16];
            vm[..2].copy_from_slice(&40u16.to_ne_bytes());
            vm[4..8].copy_from_slice(&9999u32.to_ne_bytes());
            vm[8..12].copy_from_slice(&1u32.to_ne_bytes());
            let vsock = connect_raw(40, libc::SOCK_STREAM, 0, &vm);
            let mut ll = [0u8; 20];
            ll[..2].copy_from_slice(&(libc::AF_PACKET as u16).to_ne_bytes());
            let packet = connect_raw(libc::AF_PACKET, libc::SOCK_DGRAM, 0, &ll);
            [("netlink", netlink), ("vsock", vsock), ("packet", packet)]
        });
        let tid = tid_rx.recv().unwrap();
        let rules = format!(
            "- rule: connects\n  desc: t\n  condition: evt.type = connect and thread.tid = {tid}\n  \
             output: \"fd=%fd.num type=%fd.typechar\"\n  priority: INFO\n"
        );
        let agent = Agent::start("live-families", &rules, &[]);
        go_tx.send(()).unwrap();
        let fds = worker.join().unwrap();
        (fds, agent.stop())
    });
    let got: Vec<(i64, String)> = alerts
        .iter()
        .filter(|a| a["rule"] == "connects")
        .map(|a| {
            let f = &a["output_fields"];
            (
                f["fd.num"].as_i64().unwrap_or(-1),
                f["fd.typechar"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (family, fd) in fds {
        if fd < 0 {
            eprintln!("{test}: no {family} socket here, not checked");
            continue;
        }
        let hit = got.iter().find(|(n, _)| *n == fd);
        assert!(
            hit.is_some(),
            "{family} connect on fd {fd}: no alert in {got:?}"
        );
        if family == "netlink" {
            assert_eq!(hit.map(|h| h.1.as_str()), Some("n"), "{got:?}");
        }
    }
}
