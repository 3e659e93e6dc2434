//! Names for addresses (`fd.sip.name`, `fd.cip.name`, `fd.lip.name`, `fd.rip.name`), the way
//! Falco's DNS manager gives them: the names rules compare these fields with are resolved
//! in the background and again every [`REFRESH`]; an address has a name when one of those
//! names resolved to it. Nothing is ever looked up per event, and an address no rule's name
//! resolves to has none (as in Falco, which also knows only the names its rules mention).

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Condvar, Mutex, OnceLock, RwLock};
use std::time::Duration;

/// How often the names are resolved again (Falco's base refresh).
pub const REFRESH: Duration = Duration::from_secs(10);

struct Table {
    /// Names to resolve: leaked once each, so lookups can hand out `&'static str`.
    names: Mutex<BTreeSet<&'static str>>,
    by_ip: RwLock<HashMap<IpAddr, &'static str>>,
    wake: Condvar,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        std::thread::Builder::new()
            .name("dns-names".into())
            .spawn(refresh_loop)
            .map_err(|e| tracing::warn!(%e, "could not start the DNS name resolver"))
            .ok();
        Table {
            names: Mutex::new(BTreeSet::new()),
            by_ip: RwLock::new(HashMap::new()),
            wake: Condvar::new(),
        }
    })
}

/// Adds names a rule compares an address-name field with; they are resolved right away in
/// the background (never holding up rule loading: a name in the hosts file has its
/// addresses within milliseconds, one that needs a slow DNS when it answers) and kept
/// fresh.
pub fn watch<'a>(names: impl IntoIterator<Item = &'a str>) {
    let t = table();
    let mut known = t.names.lock().unwrap_or_else(|e| e.into_inner());
    let before = known.len();
    for name in names {
        let name = name.trim().trim_end_matches('.');
        if !name.is_empty() && !known.contains(name) {
            known.insert(Box::leak(name.into()));
        }
    }
    if known.len() > before {
        t.wake.notify_all();
    }
}

/// The watched name `ip` resolved to, if any (the first in name order when several did).
pub fn name_of(ip: IpAddr) -> Option<&'static str> {
    let t = TABLE_READY.get()?;
    let map = t.by_ip.read().unwrap_or_else(|e| e.into_inner());
    map.get(&canonical(ip)).copied()
}

/// Set once the table exists, so `name_of` on an agent whose rules watch no name costs
/// one atomic load.
static TABLE_READY: OnceLock<&'static Table> = OnceLock::new();

/// IPv4-mapped IPv6 addresses are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn refresh_loop() {
    let t = table();
    let _ = TABLE_READY.set(t);
    loop {
        let names: Vec<&'static str> = {
            let known = t.names.lock().unwrap_or_else(|e| e.into_inner());
            known.iter().copied().collect()
        };
        resolve_pass(&names, &t.by_ip, |name| {
            // getaddrinfo (hosts file, then DNS); a name that does not resolve has no
            // addresses until it does.
            match (name, 0).to_socket_addrs() {
                Ok(addrs) => addrs.map(|a| a.ip()).collect(),
                Err(e) => {
                    tracing::debug!(name, %e, "name did not resolve");
                    Vec::new()
                }
            }
        });
        let known = t.names.lock().unwrap_or_else(|e| e.into_inner());
        // Sleep until the next refresh, or until a rule adds a name not resolved yet.
        let _ = t
            .wake
            .wait_timeout_while(known, REFRESH, |k| k.len() == names.len());
    }
}

/// Resolves `names` one by one. Each name's addresses are published as soon as it resolves
/// (a DNS timeout on one name, 5 s here, must not hold back a hosts-file name behind it);
/// the pass's complete table then replaces the published one, dropping stale addresses.
fn resolve_pass(
    names: &[&'static str],
    published: &RwLock<HashMap<IpAddr, &'static str>>,
    resolve: impl Fn(&str) -> Vec<IpAddr>,
) {
    let mut by_ip = HashMap::new();
    for name in names {
        let addrs: Vec<IpAddr> = resolve(name).into_iter().map(canonical).collect();
        if addrs.is_empty() {
            continue;
        }
        let mut live = published.write().unwrap_or_else(|e| e.into_inner());
        for ip in addrs {
            by_ip.entry(ip).or_insert(*name);
            live.entry(ip).or_insert(*name);
        }
    }
    *published.write().unwrap_or_else(|e| e.into_inner()) = by_ip;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_watched_name_gives_its_addresses_a_name() {
        watch(["localhost"]);
        let start = Instant::now();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        while name_of(lo).is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "localhost did not resolve"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(name_of(lo), Some("localhost"));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(name_of(mapped), Some("localhost"));
        assert_eq!(name_of("192.0.2.77".parse().unwrap()), None);
    }

    #[test]
    fn a_name_is_published_before_the_slow_names_after_it_resolve() {
        let published = RwLock::new(HashMap::new());
        let a: IpAddr = "198.51.100.20".parse().unwrap();
        let b: IpAddr = "198.51.100.21".parse().unwrap();
        let stale: IpAddr = "198.51.100.99".parse().unwrap();
        published.write().unwrap().insert(stale, "gone.example");
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let shared = &published;
        std::thread::scope(|s| {
            s.spawn(move || {
                resolve_pass(&["fast.example", "slow.example"], shared, move |name| {
                    if name == "slow.example" {
                        // The slow lookup ends only once fast.example's address was seen.
                        seen_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                        vec![b]
                    } else {
                        vec![a]
                    }
                })
            });
            let start = Instant::now();
            while published.read().unwrap().get(&a).is_none() {
                assert!(start.elapsed() < Duration::from_secs(10), "not published");
                std::thread::sleep(Duration::from_millis(1));
            }
            seen_tx.send(()).unwrap();
        });
        let table = published.read().unwrap();
        assert_eq!(table.get(&a), Some(&"fast.example"));
        assert_eq!(table.get(&b), Some(&"slow.example"));
        assert_eq!(
            table.get(&stale),
            None,
            "the pass's table replaces the old one"
        );
    }
}
