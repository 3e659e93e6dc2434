//! What the prefilter's lookups of process fields gave, per recent process snapshot.
//!
//! Most events come from long-lived processes, and every one of them repeats the same
//! lookups of `proc.name`, `proc.exe`, `proc.cmdline`, `container.image.repository`…
//! against the rules' lists. The enricher never changes a snapshot in place (every
//! change builds a new `Arc<ProcessInfo>`), so such a lookup's result is a function of
//! the event's process and container pointers: the first event of a snapshot looks up,
//! the next ones read the result.
//!
//! Entries hold `Weak` references to what they describe: an allocation still referenced
//! cannot be reused for another snapshot, so a pointer never meets the results of
//! another process; the snapshot's contents are freed as usual when the process goes.

use super::keyed::Keyed;
use peregrine_event::{ContainerInfo, Event, ProcessInfo};
use std::sync::{Arc, Weak};

#[cfg(test)]
use super::keyed::ENTRIES;

/// Results of `width` lookups for recent (process, container) pairs.
pub(crate) type ProcMemo<T> = Keyed<ProcKey, T>;

#[derive(Debug, Default)]
pub(crate) struct ProcKey {
    process: Option<Weak<ProcessInfo>>,
    container: Option<Weak<ContainerInfo>>,
}

fn addr<T>(p: Option<&Arc<T>>) -> usize {
    p.map_or(0, |a| Arc::as_ptr(a) as usize)
}

fn weak_addr<T>(p: Option<&Weak<T>>) -> usize {
    p.map_or(0, |w| w.as_ptr() as usize)
}

impl<T: Copy + Default> ProcMemo<T> {
    /// The entry of `ev`'s process and container: the one holding them, or else the
    /// one they map to, emptied.
    #[inline]
    pub(crate) fn entry(&mut self, ev: &Event) -> usize {
        let (p, c) = (addr(ev.process.as_ref()), addr(ev.container.as_ref()));
        // Allocations are 16-byte aligned: the low bits say nothing.
        let h = ((p >> 4) ^ (c >> 4).rotate_left(17)) as u64;
        self.entry_by(
            h.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            |k| weak_addr(k.process.as_ref()) == p && weak_addr(k.container.as_ref()) == c,
            || ProcKey {
                process: ev.process.as_ref().map(Arc::downgrade),
                container: ev.container.as_ref().map(Arc::downgrade),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(process: &Arc<ProcessInfo>, container: Option<&Arc<ContainerInfo>>) -> Event {
        let mut ev = Event::new(peregrine_event::EventType::OPENAT, 0, 1, vec![]);
        ev.process = Some(process.clone());
        ev.container = container.cloned();
        ev
    }

    #[test]
    fn results_are_kept_per_process_and_container() {
        let mut m = ProcMemo::<u32>::new(2);
        let p = Arc::new(ProcessInfo::default());
        let c = Arc::new(ContainerInfo::default());
        let e = m.entry(&event(&p, Some(&c)));
        assert_eq!(m.get(e, 0), None);
        m.put(e, 0, 7);
        let again = m.entry(&event(&p, Some(&c)));
        assert_eq!(m.get(again, 0), Some(7));
        assert_eq!(m.get(again, 1), None, "each lookup separately");
        // The same process in another container (or none): another key.
        let other = m.entry(&event(&p, None));
        assert_eq!(m.get(other, 0), None);
        // Many containers, colliding: a result is only ever read for its own pair.
        let containers: Vec<_> = (0..4 * ENTRIES)
            .map(|_| Arc::new(ContainerInfo::default()))
            .collect();
        for (i, c) in containers.iter().enumerate() {
            let e = m.entry(&event(&p, Some(c)));
            match m.get(e, 0) {
                None => m.put(e, 0, i as u32),
                Some(v) => panic!("container {i} read {v}"),
            }
        }
    }

    /// A snapshot dropped and a new one allocated (maybe at the same address) never
    /// reads the old one's results: the entry keeps the old allocation.
    #[test]
    fn a_new_snapshot_never_reads_an_old_ones_results() {
        let mut m = ProcMemo::<u32>::new(1);
        for i in 0..4 * ENTRIES as u32 {
            let p = Arc::new(ProcessInfo {
                pid: i as i64,
                ..Default::default()
            });
            let e = m.entry(&event(&p, None));
            if let Some(v) = m.get(e, 0) {
                panic!("snapshot {i} read {v}");
            }
            m.put(e, 0, i);
        }
    }

    #[test]
    fn colliding_processes_evict_and_never_read_each_others_results() {
        let mut m = ProcMemo::<u32>::new(1);
        let procs: Vec<Arc<ProcessInfo>> = (0..4 * ENTRIES)
            .map(|i| {
                Arc::new(ProcessInfo {
                    pid: i as i64,
                    ..Default::default()
                })
            })
            .collect();
        for (i, p) in procs.iter().enumerate() {
            let e = m.entry(&event(p, None));
            if m.get(e, 0).is_none() {
                m.put(e, 0, i as u32);
            }
        }
        let mut kept = 0;
        // Last in, first out: the processes inserted last are still there.
        for (i, p) in procs.iter().enumerate().rev() {
            let e = m.entry(&event(p, None));
            if let Some(v) = m.get(e, 0) {
                assert_eq!(v, i as u32);
                kept += 1;
            }
        }
        assert!(kept > 0);
    }
}
