//! A network namespace of the test's own, so it can listen on a routable address without
//! sending a packet anywhere else: `ip netns add`, the address on its `lo`, removed on drop.

use std::net::IpAddr;
use std::process::Command;

pub struct NetNs {
    pub name: String,
}

impl NetNs {
    /// A new namespace with `lo` up (127.0.0.1, ::1) and `addrs` (CIDR text) on `lo`.
    pub fn new(name: &str, addrs: &[&str]) -> NetNs {
        let ns = NetNs {
            name: name.to_owned(),
        };
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        ip(&["netns", "add", name]);
        for a in addrs {
            ip(&["-n", name, "addr", "add", a, "dev", "lo"]);
        }
        ip(&["-n", name, "link", "set", "lo", "up"]);
        ns
    }

    /// Moves the calling thread (only it) into the namespace.
    pub fn enter(&self) {
        let f = std::fs::File::open(format!("/run/netns/{}", self.name)).unwrap();
        // SAFETY: setns on an fd we hold; it changes only this thread's namespace.
        let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

/// The addresses of the calling thread's network namespace's interfaces (`getifaddrs`).
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we walk read-only and free once.
    unsafe {
        assert_eq!(libc::getifaddrs(&mut list), 0);
        let mut cur = list;
        while !cur.is_null() {
            let a = (*cur).ifa_addr;
            if !a.is_null() {
                match (*a).sa_family as i32 {
                    libc::AF_INET => {
                        let sin = &*(a as *const libc::sockaddr_in);
                        out.push(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(a as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    out
}
