//! This host's interface addresses (`getifaddrs`), read into [`peregrine_event::hostnet`]
//! at start and again every [`REFRESH`], so an address added later (a new interface, a
//! DHCP lease) decides `fd.lip`/`fd.is_server` like the ones there at start.

use peregrine_event::hostnet;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How often the list is read again.
pub const REFRESH: Duration = Duration::from_secs(5);

/// The IPv4 and IPv6 addresses of the calling thread's network namespace's interfaces.
pub fn read() -> io::Result<(Vec<Ipv4Addr>, Vec<Ipv6Addr>)> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list that is walked read-only, then freed once.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut cur = list;
        while !cur.is_null() {
            let a = (*cur).ifa_addr;
            if !a.is_null() {
                match (*a).sa_family as i32 {
                    libc::AF_INET => {
                        let sin = &*(a as *const libc::sockaddr_in);
                        v4.push(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(a as *const libc::sockaddr_in6);
                        v6.push(Ipv6Addr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            cur = (*cur).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    Ok((v4, v6))
}

/// Reads the list now and keeps it fresh from a background thread for the life of the
/// process (the agent runs in the host's network namespace).
pub fn watch() -> io::Result<()> {
    let (v4, v6) = read()?;
    tracing::debug!(?v4, ?v6, "interface addresses");
    hostnet::set_interfaces(v4, v6);
    std::thread::Builder::new()
        .name("ifaddrs".into())
        .spawn(|| loop {
            std::thread::sleep(REFRESH);
            match read() {
                Ok((v4, v6)) => {
                    if hostnet::set_interfaces(v4.clone(), v6.clone()) {
                        tracing::info!(?v4, ?v6, "interface addresses changed");
                    }
                }
                Err(e) => tracing::warn!(%e, "could not read the interface addresses"),
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_listed() {
        let (v4, _) = super::read().unwrap();
        assert!(v4.contains(&std::net::Ipv4Addr::LOCALHOST), "{v4:?}");
    }
}
