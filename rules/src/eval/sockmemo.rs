//! What the prefilter's tests of a socket's server side gave, per recent server.
//!
//! Processes connect to the same few services over and over (DNS, a database, an API),
//! and each `connect` repeats the same tests of `fd.sip`, `fd.sport`, `fd.snet`,
//! `fd.typechar`, `fd.l4proto` against the rules' lists. Those depend only on the
//! event's [`SockKey`] (the fd's kind, the role, the protocol and the server's end), not
//! on the client's port: a small table keeps their results per key.

use super::hash::FxHasher;
use super::keyed::Keyed;
use crate::fields::SockKey;
use std::hash::{Hash, Hasher};

#[cfg(test)]
use super::keyed::ENTRIES;

/// Results of `width` tests for recent socket keys.
pub(crate) type SockMemo<T> = Keyed<Option<SockKey>, T>;

impl<T: Copy + Default> SockMemo<T> {
    /// The entry of `key`: the one holding it, or else the one it maps to, emptied.
    #[inline]
    pub(crate) fn entry(&mut self, key: SockKey) -> usize {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        self.entry_by(h.finish(), |k| *k == Some(key), || Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_event::{Event, EventType, FdInfo, FdKind, L4Proto, SockTuple, SocketRole};
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;

    fn key(server: [u8; 4], port: u16, client_port: u16) -> SockKey {
        let mut ev = Event::new(EventType::CONNECT, 0, 1, vec![]);
        ev.process = Some(Arc::default());
        ev.fd = Some(Arc::new(FdInfo {
            kind: FdKind::Ipv4,
            role: SocketRole::Client,
            tuple: Some(SockTuple::Inet {
                proto: L4Proto::Tcp,
                sip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)),
                sport: client_port,
                dip: IpAddr::V4(Ipv4Addr::from(server)),
                dport: port,
            }),
            ..Default::default()
        }));
        SockKey::of(&ev).expect("socket fields from the fd")
    }

    #[test]
    fn results_are_kept_per_server_not_per_client_port() {
        let mut m = SockMemo::<u32>::new(2);
        let e = m.entry(key([10, 1, 2, 3], 443, 40000));
        m.put(e, 1, 7);
        let again = m.entry(key([10, 1, 2, 3], 443, 51234));
        assert_eq!(m.get(again, 1), Some(7));
        assert_eq!(m.get(again, 0), None, "each test separately");
        let other = m.entry(key([10, 1, 2, 3], 80, 40000));
        assert_eq!(m.get(other, 1), None);
    }

    #[test]
    fn colliding_keys_evict_and_never_read_each_others_results() {
        let mut m = SockMemo::<u32>::new(1);
        let keys: Vec<SockKey> = (0..4 * ENTRIES as u16)
            .map(|p| key([10, 1, 2, 3], p, 40000))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            let e = m.entry(*k);
            if m.get(e, 0).is_none() {
                m.put(e, 0, i as u32);
            }
        }
        let mut kept = 0;
        // Last in, first out: the keys inserted last are still there.
        for (i, k) in keys.iter().enumerate().rev() {
            let e = m.entry(*k);
            if let Some(v) = m.get(e, 0) {
                assert_eq!(v, i as u32);
                kept += 1;
            }
        }
        assert!(kept > 0);
    }
}
