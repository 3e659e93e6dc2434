//! A destination's bounded buffer: the alerts waiting for their first attempt and those
//! waiting for a retry, in one deque with one capacity and one overflow policy. Every alert
//! offered to a destination ends up counted exactly once: filtered, deduplicated, sent,
//! dropped (by reason), or still pending.

use crate::dedup::Dedup;
use crate::record::{passes, Record};
use peregrine_config::BufferOverflow;
use peregrine_rules::Priority;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Why a destination gave an alert up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The buffer was full (which alert went depends on the overflow policy).
    BufferFull,
    /// The alert failed `maxretries` attempts.
    RetriesExhausted,
    /// The destination refused it for good (a 4xx other than 408/429).
    Rejected,
    /// Still undelivered when the drain time at shutdown ran out.
    Shutdown,
}

impl DropReason {
    pub const ALL: [DropReason; 4] = [
        DropReason::BufferFull,
        DropReason::RetriesExhausted,
        DropReason::Rejected,
        DropReason::Shutdown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::BufferFull => "buffer_full",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Rejected => "rejected",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// A destination's counters at one instant. Always:
/// `received = filtered + deduplicated + sent + dropped + pending`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DestinationSnapshot {
    pub destination: String,
    /// Alerts handed to this destination.
    pub received: u64,
    /// Below its `minimumpriority`.
    pub filtered: u64,
    /// Suppressed as duplicates within `dedupwindow`.
    pub deduplicated: u64,
    /// Delivered.
    pub sent: u64,
    pub dropped: u64,
    pub dropped_by_reason: Vec<(String, u64)>,
    /// Buffered or in flight right now.
    pub pending: u64,
    pub capacity: u64,
    /// Alert-attempts that failed (an alert retried three times counts three).
    pub failed_attempts: u64,
    /// Delivery attempts that failed (requests, writes).
    pub failed_requests: u64,
    /// Times the destination's writer was rebuilt (after a panic, a dead program, …).
    pub restarts: u64,
}

impl DestinationSnapshot {
    /// Alerts accepted into the buffer: `sent + dropped + pending`.
    pub fn offered(&self) -> u64 {
        self.received - self.filtered - self.deduplicated
    }

    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped_by_reason
            .iter()
            .find(|(r, _)| r == reason.as_str())
            .map_or(0, |(_, n)| *n)
    }
}

pub(crate) struct Entry {
    pub record: Arc<Record>,
    /// Failed attempts so far.
    pub attempts: u32,
}

#[derive(Default)]
struct Counts {
    received: u64,
    filtered: u64,
    deduplicated: u64,
    sent: u64,
    dropped: [u64; 4],
    failed_attempts: u64,
    failed_requests: u64,
    restarts: u64,
}

struct State {
    queue: VecDeque<Entry>,
    in_flight: usize,
    closed_at: Option<Instant>,
    /// The destination's thread overran its drain time and was left behind: what it still
    /// held was counted as dropped, and whatever it reports later is ignored.
    halted: bool,
    dedup: Option<Dedup>,
    counts: Counts,
}

/// Filters and limits of one destination.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub capacity: usize,
    pub overflow: BufferOverflow,
    pub minimum: Option<Priority>,
    pub max_retries: u32,
    pub drain: Duration,
}

pub(crate) struct Buffer {
    pub name: Arc<str>,
    policy: Policy,
    state: Mutex<State>,
    wake: Notify,
}

impl Buffer {
    pub fn new(name: &str, policy: Policy, dedup_window: Duration) -> Arc<Buffer> {
        Arc::new(Buffer {
            name: Arc::from(name),
            policy,
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(policy.capacity.min(1024)),
                in_flight: 0,
                closed_at: None,
                halted: false,
                dedup: (!dedup_window.is_zero()).then(|| Dedup::new(dedup_window)),
                counts: Counts::default(),
            }),
            wake: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn drop_n(c: &mut Counts, reason: DropReason, n: usize) {
        c.dropped[reason as usize] += n as u64;
    }

    /// Takes a batch in without ever waiting: alerts below the minimum priority are
    /// filtered, duplicates suppressed, and a full buffer drops by policy.
    pub fn offer(&self, batch: &[Arc<Record>]) {
        if batch.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut st = self.lock();
        let st = &mut *st;
        st.counts.received += batch.len() as u64;
        let mut added = false;
        for r in batch {
            // falcosidekick sends its test event (`/test`) to every output whatever the
            // minimum priority, recognising it by its rule name.
            if !passes(r.alert.priority, self.policy.minimum)
                && &*r.alert.rule != crate::input::TEST_RULE
            {
                st.counts.filtered += 1;
                continue;
            }
            if let Some(d) = st.dedup.as_mut() {
                if d.is_duplicate(&r.alert, now) {
                    st.counts.deduplicated += 1;
                    continue;
                }
            }
            if st.closed_at.is_some() {
                Self::drop_n(&mut st.counts, DropReason::Shutdown, 1);
                continue;
            }
            if st.queue.len() >= self.policy.capacity {
                Self::drop_n(&mut st.counts, DropReason::BufferFull, 1);
                match self.policy.overflow {
                    BufferOverflow::DropNewest => continue,
                    BufferOverflow::DropOldest => {
                        st.queue.pop_front();
                    }
                }
            }
            st.queue.push_back(Entry {
                record: r.clone(),
                attempts: 0,
            });
            added = true;
        }
        if added {
            self.wake.notify_one();
        }
    }

    /// Up to `max` alerts from the front, now in flight; `None` once closed and empty.
    /// With a `linger`, a short batch waits that long for more.
    pub async fn next_batch(&self, max: usize, linger: Duration) -> Option<Vec<Entry>> {
        loop {
            let (len, closed) = {
                let st = self.lock();
                (st.queue.len(), st.closed_at.is_some())
            };
            if len == 0 && closed {
                return None;
            }
            if len > 0 {
                if len < max && !linger.is_zero() && !closed {
                    let _ = tokio::time::timeout(linger, self.wait_for(max)).await;
                }
                let mut st = self.lock();
                let n = st.queue.len().min(max);
                if n == 0 {
                    continue;
                }
                st.in_flight += n;
                return Some(st.queue.drain(..n).collect());
            }
            self.wake.notified().await;
        }
    }

    async fn wait_for(&self, n: usize) {
        loop {
            {
                let st = self.lock();
                if st.queue.len() >= n || st.closed_at.is_some() {
                    return;
                }
            }
            self.wake.notified().await;
        }
    }

    /// The first `n` alerts of the in-flight batch were delivered.
    pub fn delivered(&self, n: usize) {
        let mut st = self.lock();
        if st.halted {
            return;
        }
        st.in_flight -= n;
        st.counts.sent += n as u64;
    }

    /// The rest of the in-flight batch is undelivered: a request carrying its first `tried`
    /// alerts failed. Those are charged an attempt (refused for good: dropped); all go back
    /// to the front (oldest first) unless out of attempts or drain time.
    pub fn failed(&self, mut rest: Vec<Entry>, tried: usize, retryable: bool) {
        let mut st = self.lock();
        let st = &mut *st;
        if st.halted {
            return;
        }
        let tried = tried.min(rest.len());
        st.in_flight -= rest.len();
        st.counts.failed_requests += 1;
        st.counts.failed_attempts += tried as u64;
        if !retryable {
            Self::drop_n(&mut st.counts, DropReason::Rejected, tried);
            rest.drain(..tried);
        } else {
            for e in &mut rest[..tried] {
                e.attempts += 1;
            }
        }
        let draining_over = st
            .closed_at
            .is_some_and(|t| t.elapsed() >= self.policy.drain);
        for e in rest.into_iter().rev() {
            if draining_over {
                Self::drop_n(&mut st.counts, DropReason::Shutdown, 1);
            } else if self.policy.max_retries > 0 && e.attempts > self.policy.max_retries {
                Self::drop_n(&mut st.counts, DropReason::RetriesExhausted, 1);
            } else if st.queue.len() >= self.policy.capacity {
                Self::drop_n(&mut st.counts, DropReason::BufferFull, 1);
                match self.policy.overflow {
                    // The returning alert is the oldest: it goes.
                    BufferOverflow::DropOldest => {}
                    // It was accepted before anything queued behind it: the newest goes.
                    BufferOverflow::DropNewest => {
                        st.queue.pop_back();
                        st.queue.push_front(e);
                    }
                }
            } else {
                st.queue.push_front(e);
            }
        }
    }

    /// Drops an in-flight remainder without an attempt (the drain time ran out).
    pub fn give_up(&self, rest: Vec<Entry>) {
        let mut st = self.lock();
        if st.halted {
            return;
        }
        st.in_flight -= rest.len();
        Self::drop_n(&mut st.counts, DropReason::Shutdown, rest.len());
    }

    pub fn restarted(&self) {
        self.lock().counts.restarts += 1;
    }

    /// No more alerts will come: deliver what is buffered within the drain time.
    pub fn close(&self) {
        let mut st = self.lock();
        if st.closed_at.is_none() {
            st.closed_at = Some(Instant::now());
        }
        drop(st);
        self.wake.notify_one();
    }

    /// The drain deadline, once closed.
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.lock().closed_at.map(|t| t + self.policy.drain)
    }

    /// The destination's thread did not end within its drain time: everything it holds,
    /// queued or in flight, is dropped for `shutdown`, and the thread is left behind.
    pub fn halt(&self) {
        let mut st = self.lock();
        if st.halted {
            return;
        }
        let n = st.queue.len() + st.in_flight;
        st.queue.clear();
        st.in_flight = 0;
        st.halted = true;
        Self::drop_n(&mut st.counts, DropReason::Shutdown, n);
    }

    /// Drops everything still buffered (the drain time ran out).
    pub fn abandon(&self) {
        let mut st = self.lock();
        let n = st.queue.len();
        st.queue.clear();
        Self::drop_n(&mut st.counts, DropReason::Shutdown, n);
    }

    pub fn snapshot(&self) -> DestinationSnapshot {
        let st = self.lock();
        let c = &st.counts;
        let by_reason: Vec<(String, u64)> = DropReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), c.dropped[*r as usize]))
            .collect();
        DestinationSnapshot {
            destination: self.name.to_string(),
            received: c.received,
            filtered: c.filtered,
            deduplicated: c.deduplicated,
            sent: c.sent,
            dropped: c.dropped.iter().sum(),
            dropped_by_reason: by_reason,
            pending: (st.queue.len() + st.in_flight) as u64,
            capacity: self.policy.capacity as u64,
            failed_attempts: c.failed_attempts,
            failed_requests: c.failed_requests,
            restarts: c.restarts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_rules::Alert;

    fn rec(i: usize, p: Priority) -> Arc<Record> {
        Record::shared(Alert {
            time_ns: i as u64,
            rule: Arc::from("r"),
            priority: p,
            source: Arc::from("syscall"),
            tags: Arc::from(Vec::new()),
            hostname: Arc::from("h"),
            message: format!("m{i}"),
            output: format!("o{i}"),
            output_fields: Default::default(),
        })
    }

    fn policy(capacity: usize, overflow: BufferOverflow) -> Policy {
        Policy {
            capacity,
            overflow,
            minimum: Some(Priority::Notice),
            max_retries: 2,
            drain: Duration::from_secs(1),
        }
    }

    fn messages(b: &Buffer) -> Vec<String> {
        b.lock()
            .queue
            .iter()
            .map(|e| e.record.alert.message.clone())
            .collect()
    }

    fn adds_up(s: &DestinationSnapshot) {
        assert_eq!(
            s.received,
            s.filtered + s.deduplicated + s.sent + s.dropped + s.pending,
            "{s:?}"
        );
    }

    #[test]
    fn overflow_policies_and_priority_filter() {
        let b = Buffer::new("t", policy(3, BufferOverflow::DropOldest), Duration::ZERO);
        let batch: Vec<_> = (0..5).map(|i| rec(i, Priority::Warning)).collect();
        b.offer(&batch);
        b.offer(&[rec(9, Priority::Debug)]);
        assert_eq!(messages(&b), ["m2", "m3", "m4"]);
        let s = b.snapshot();
        assert_eq!((s.filtered, s.dropped_for(DropReason::BufferFull)), (1, 2));
        adds_up(&s);

        let b = Buffer::new("t", policy(3, BufferOverflow::DropNewest), Duration::ZERO);
        b.offer(&batch);
        assert_eq!(messages(&b), ["m0", "m1", "m2"]);
        adds_up(&b.snapshot());
    }

    #[actix_rt::test]
    async fn failed_alerts_return_to_the_front_until_out_of_retries() {
        let b = Buffer::new("t", policy(4, BufferOverflow::DropOldest), Duration::ZERO);
        b.offer(&(0..3).map(|i| rec(i, Priority::Error)).collect::<Vec<_>>());
        let batch = b.next_batch(2, Duration::ZERO).await.unwrap();
        assert_eq!(b.snapshot().pending, 3);
        b.failed(batch, usize::MAX, true);
        assert_eq!(messages(&b), ["m0", "m1", "m2"]);
        for _ in 0..2 {
            let batch = b.next_batch(2, Duration::ZERO).await.unwrap();
            b.failed(batch, usize::MAX, true);
        }
        // Third failure of m0 and m1: out of retries (maxretries 2).
        assert_eq!(messages(&b), ["m2"]);
        let s = b.snapshot();
        assert_eq!(s.dropped_for(DropReason::RetriesExhausted), 2);
        let batch = b.next_batch(2, Duration::ZERO).await.unwrap();
        assert_eq!(batch.len(), 1);
        b.delivered(1);
        let s = b.snapshot();
        assert_eq!((s.sent, s.pending), (1, 0));
        adds_up(&s);
        b.close();
        assert!(b.next_batch(2, Duration::ZERO).await.is_none());
    }

    #[actix_rt::test]
    async fn retried_alerts_meet_a_full_buffer_by_policy() {
        for (overflow, kept) in [
            (BufferOverflow::DropOldest, vec!["m2", "m3"]),
            (BufferOverflow::DropNewest, vec!["m0", "m2"]),
        ] {
            let b = Buffer::new("t", policy(2, overflow), Duration::ZERO);
            b.offer(&[rec(0, Priority::Error)]);
            let batch = b.next_batch(1, Duration::ZERO).await.unwrap();
            b.offer(&[rec(2, Priority::Error), rec(3, Priority::Error)]);
            b.failed(batch, usize::MAX, true);
            assert_eq!(messages(&b), kept, "{overflow:?}");
            let s = b.snapshot();
            assert_eq!(s.dropped_for(DropReason::BufferFull), 1);
            adds_up(&s);
        }
    }
}
