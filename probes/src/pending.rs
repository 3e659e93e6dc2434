//! Events waiting for the reorder window, kept sorted by time.
//!
//! Records arrive almost in order (each ring is written in reservation order; only records
//! from different CPUs, or from rings drained at different moments, interleave), and leave
//! from the front. So a drained batch is sorted on its own (cheap: nearly sorted) and then
//! appended, or merged into the short tail it overlaps; nothing already waiting is sorted or
//! moved again. Sorting the whole window on every poll made the reader the bottleneck of a
//! syscall storm (most of its time in sorting and shifting thousands of waiting events).

use peregrine_event::Event;
use std::collections::VecDeque;

#[derive(Default)]
pub(crate) struct Pending {
    events: VecDeque<Event>,
    /// Scratch for a merge, kept to reuse their allocations.
    tail: Vec<Event>,
    merge: Vec<Event>,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Takes in `fresh` (any order), leaving it empty.
    pub fn add(&mut self, fresh: &mut Vec<Event>) {
        if fresh.is_empty() {
            return;
        }
        fresh.sort_by_key(|e| e.ts);
        let first = fresh[0].ts;
        if self.events.back().is_none_or(|last| last.ts <= first) {
            self.events.extend(fresh.drain(..));
            return;
        }
        // Overlap: merge `fresh` with the waiting events later than its first one. Equal
        // times keep arrival order (waiting ones first), as a stable sort would.
        let at = self.events.partition_point(|e| e.ts <= first);
        let mut tail = std::mem::take(&mut self.tail);
        tail.extend(self.events.drain(at..));
        let merged = &mut self.merge;
        merged.clear();
        merged.reserve(tail.len() + fresh.len());
        let mut a = tail.drain(..).peekable();
        let mut b = fresh.drain(..).peekable();
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.ts <= y.ts,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_a { a.next() } else { b.next() };
            merged.extend(next);
        }
        drop(a);
        self.tail = tail;
        self.events.extend(merged.drain(..));
    }

    /// How many events at the front are at or before `limit`.
    pub fn ready(&self, limit: u64) -> usize {
        self.events.partition_point(|e| e.ts <= limit)
    }

    /// The front `n` events, in order.
    pub fn take(&mut self, n: usize) -> std::collections::vec_deque::Drain<'_, Event> {
        self.events.drain(..n)
    }

    pub fn front_ts(&self, i: usize) -> Option<u64> {
        self.events.get(i).map(|e| e.ts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ts: u64, tid: i64) -> Event {
        let close = peregrine_event::EventType::from_name("close").expect("close is modelled");
        Event::new(close, ts, tid, Vec::new())
    }

    fn order(p: &mut Pending) -> Vec<(u64, i64)> {
        let n = p.len();
        p.take(n).map(|e| (e.ts, e.tid)).collect()
    }

    #[test]
    fn in_order_batches_append_and_overlaps_merge_stably() {
        let mut p = Pending::default();
        p.add(&mut vec![ev(10, 1), ev(30, 1), ev(20, 1)]);
        p.add(&mut vec![ev(40, 2), ev(50, 2)]);
        // Overlaps the tail: 25 goes between 20 and 30; the equal 30 after the waiting one.
        p.add(&mut vec![ev(30, 3), ev(25, 3)]);
        assert_eq!(p.ready(30), 5);
        assert_eq!(
            order(&mut p),
            vec![
                (10, 1),
                (20, 1),
                (25, 3),
                (30, 1),
                (30, 3),
                (40, 2),
                (50, 2)
            ]
        );
    }

    #[test]
    fn agrees_with_a_full_stable_sort() {
        // A deterministic shuffle of batches with overlapping time ranges.
        let mut all = Vec::new();
        let mut p = Pending::default();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for batch in 0..50i64 {
            let mut fresh = Vec::new();
            for i in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let e = ev(batch as u64 * 100 + x % 300, batch * 1000 + i as i64);
                all.push((e.ts, e.tid));
                fresh.push(e);
            }
            p.add(&mut fresh);
            assert!(fresh.is_empty());
        }
        // A stable sort of each batch, then of the whole: what the reader did before.
        let got = order(&mut p);
        let mut want = all.clone();
        want.sort_by_key(|&(ts, tid)| (ts, tid));
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(|&(ts, tid)| (ts, tid));
        assert_eq!(got_sorted, want, "same events");
        assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    }
}
