//! Which addresses are this machine's, as libsinsp decides the *local* end of a connection
//! (`fd.lip`/`fd.lport`/`fd.rip`/`fd.rport`: is the client's address local?) and
//! `fd.is_server` (is the server's?): the host's interface addresses, and for a process in
//! a container that container's IPv4 address. The agent fills the table (interfaces kept
//! fresh by the kernel source, container addresses from runtime metadata); until it has
//! an interface list (captures, synthetic streams, which come from no host) nothing is
//! known and callers fall back to the process's role.

use crate::context::HOST_CONTAINER_ID;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::RwLock;

/// Most container addresses remembered; beyond it new ones are not (the metadata cache
/// that feeds this table is itself bounded, and forgets what it evicts).
pub const MAX_CONTAINERS: usize = 16_384;

struct Table {
    /// Set once the first interface list arrives.
    known: bool,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
    /// Short container id → its IPv4 address.
    containers: BTreeMap<String, Ipv4Addr>,
}

static TABLE: RwLock<Table> = RwLock::new(Table {
    known: false,
    v4: Vec::new(),
    v6: Vec::new(),
    containers: BTreeMap::new(),
});

fn read() -> std::sync::RwLockReadGuard<'static, Table> {
    TABLE.read().unwrap_or_else(|e| e.into_inner())
}

fn write() -> std::sync::RwLockWriteGuard<'static, Table> {
    TABLE.write().unwrap_or_else(|e| e.into_inner())
}

/// Replaces the host's interface addresses; returns whether they changed.
pub fn set_interfaces(mut v4: Vec<Ipv4Addr>, mut v6: Vec<Ipv6Addr>) -> bool {
    v4.sort_unstable();
    v4.dedup();
    v6.sort_unstable();
    v6.dedup();
    let mut t = write();
    let changed = !t.known || t.v4 != v4 || t.v6 != v6;
    t.known = true;
    t.v4 = v4;
    t.v6 = v6;
    changed
}

/// Records (or, with `None`, forgets) the IPv4 address of the container `short_id`.
pub fn set_container_ip(short_id: &str, ip: Option<Ipv4Addr>) {
    let mut t = write();
    match ip {
        Some(ip) if t.containers.len() < MAX_CONTAINERS || t.containers.contains_key(short_id) => {
            t.containers.insert(short_id.to_owned(), ip);
        }
        Some(_) => {}
        None => {
            t.containers.remove(short_id);
        }
    }
}

/// Whether `ip` is an address of the machine the process runs on, libsinsp's way:
/// `None` while no interface list is known.
///
/// On the host: an IPv4 address is local when an interface has it; an IPv6 address when
/// it shares its first 64 bits with an interface's. In a container (`container_id` not
/// empty, not [`HOST_CONTAINER_ID`]): IPv6 is never local; IPv4 is local when it is the container's address
/// (`container_ip`), else, with the container's address known, when an interface has it;
/// with the container's address not known, when it is any known container's address.
pub fn is_local(ip: IpAddr, container_id: &str, container_ip: Option<Ipv4Addr>) -> Option<bool> {
    let t = read();
    if !t.known {
        return None;
    }
    let in_container = !container_id.is_empty() && container_id != HOST_CONTAINER_ID;
    Some(match ip {
        IpAddr::V4(v4) => {
            if in_container {
                match container_ip {
                    Some(own) if own == v4 => return Some(true),
                    Some(_) => {}
                    None => return Some(t.containers.values().any(|c| *c == v4)),
                }
            }
            t.v4.contains(&v4)
        }
        IpAddr::V6(_) if in_container => false,
        IpAddr::V6(v6) => {
            let prefix = |a: &Ipv6Addr| a.octets()[..8].to_vec();
            t.v6.iter().any(|i| prefix(i) == prefix(&v6))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test, as the table is process-wide.
    #[test]
    fn locality_follows_libsinsp() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            is_local(ip("127.0.0.1"), "", None),
            None,
            "nothing known yet"
        );
        set_interfaces(
            vec![Ipv4Addr::LOCALHOST, Ipv4Addr::new(10, 0, 0, 5)],
            vec![Ipv6Addr::LOCALHOST, "2001:db8:1:2::7".parse().unwrap()],
        );
        assert!(!set_interfaces(
            vec![Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::LOCALHOST],
            vec!["2001:db8:1:2::7".parse().unwrap(), Ipv6Addr::LOCALHOST],
        ));
        assert_eq!(is_local(ip("127.0.0.1"), "", None), Some(true));
        assert_eq!(is_local(ip("10.0.0.5"), "", None), Some(true));
        assert_eq!(is_local(ip("10.0.0.6"), "", None), Some(false));
        assert_eq!(is_local(ip("192.0.2.1"), "", None), Some(false));
        // Same /64 as an interface counts, as in libsinsp.
        assert_eq!(is_local(ip("2001:db8:1:2::99"), "", None), Some(true));
        assert_eq!(is_local(ip("2001:db8:1:3::7"), "", None), Some(false));
        assert_eq!(is_local(ip("::1"), "", None), Some(true));
        assert_eq!(is_local(ip("::1"), HOST_CONTAINER_ID, None), Some(true));

        let own = Some(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(is_local(ip("172.17.0.2"), "abc", own), Some(true));
        assert_eq!(
            is_local(ip("10.0.0.5"), "abc", own),
            Some(true),
            "then the host's"
        );
        assert_eq!(is_local(ip("172.17.0.3"), "abc", own), Some(false));
        assert_eq!(
            is_local(ip("::1"), "abc", own),
            Some(false),
            "no IPv6 in containers"
        );
        // The container's own address unknown: any container's address, not the host's.
        set_container_ip("def", Some(Ipv4Addr::new(172, 17, 0, 3)));
        assert_eq!(is_local(ip("172.17.0.3"), "abc", None), Some(true));
        assert_eq!(is_local(ip("127.0.0.1"), "abc", None), Some(false));
        set_container_ip("def", None);
        assert_eq!(is_local(ip("172.17.0.3"), "abc", None), Some(false));
    }
}
