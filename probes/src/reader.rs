//! Draining the ring buffers: decode records, put them back in time order, hand them out.
//!
//! Per-CPU rings reorder one thread's events when it migrates between CPUs, and process
//! state must see a fork before the child's exec and an exec before its opens. The reader
//! therefore merges every ring by timestamp with a bounded window: an event is released
//! once every ring has been read past its time (plus a small slack for records still
//! being written when the ring was read).
//!
//! With one ring the reader drains it itself. With several it can hand them to probe
//! actors (`Reader::with_actors`): threads that each drain and decode their own rings and
//! send batches, with how far their rings are known complete, to the reader, which only
//! merges. Decoding, the costly part, then runs on as many cores as there are actors.

use crate::pending::Pending;
use crate::sleep::SleepFlags;
use crate::wire::{self, WireError};
use aya::maps::{MapData, RingBuf};
use crossbeam_channel::{Receiver, Sender};
use peregrine_event::ratelimit::RateLimit;
use peregrine_event::Event;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One ring buffer and the CPUs that write into it.
pub struct Ring {
    buf: RingBuf<MapData>,
    cpus: Vec<u32>,
    sleep: Arc<SleepFlags>,
}

impl Ring {
    pub(crate) fn new(buf: RingBuf<MapData>, cpus: Vec<u32>, sleep: Arc<SleepFlags>) -> Ring {
        Ring { buf, cpus, sleep }
    }

    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }
}

/// Reader statistics, cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    pub records: u64,
    /// Records dropped because their framing could not be read (all reasons).
    pub malformed: u64,
    /// `malformed` by [`WireError::reason`], indexed as [`WireError::REASONS`].
    pub malformed_by_reason: [u64; WireError::REASONS.len()],
    /// Parameters that could not be decoded: their events were kept with the value unknown.
    pub undecoded_params: u64,
    /// Events that arrived after later events had already been released (kept, not dropped).
    pub late: u64,
    pub wakeups: u64,
    /// Times the reader slept until the next record (at rest), rather than napping.
    pub sleeps: u64,
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wall-clock time minus boot-clock time: added to kernel stamps to get epoch ns.
pub fn boot_to_epoch_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME).saturating_sub(clock_ns(libc::CLOCK_BOOTTIME))
}

/// Rings drained together by one thread, with one epoll set.
struct RingSet {
    rings: Vec<Ring>,
    epoll: OwnedFd,
    /// Readable once the set must stop waiting (shutdown); in the epoll set.
    stop: Arc<OwnedFd>,
    /// Warnings about bad records: the first, then one per interval.
    warn: RateLimit,
}

/// The epoll tag of [`RingSet::stop`].
const STOP_TAG: u64 = u64::MAX;

impl RingSet {
    fn new(rings: Vec<Ring>) -> std::io::Result<RingSet> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let stop = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let watched = rings
            .iter()
            .enumerate()
            .map(|(i, ring)| (ring.buf.as_raw_fd(), i as u64))
            .chain([(stop.as_raw_fd(), STOP_TAG)]);
        for (fd, tag) in watched {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: tag,
            };
            // SAFETY: both fds are open; `ev` outlives the call.
            let rc =
                unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(RingSet {
            rings,
            epoll,
            stop,
            warn: RateLimit::default(),
        })
    }

    /// Asks the kernel to wake this set on its rings' next record (or stops asking). False
    /// when a flag could not be set: the set must not sleep long then.
    fn set_asleep(&self, asleep: bool) -> bool {
        let mut ok = true;
        for ring in &self.rings {
            ok &= ring.sleep.set(&ring.cpus, asleep);
        }
        ok
    }

    /// Reads every ring into `out`; returns the boot time before which all records have
    /// been seen (`watermark`, or less when a ring had more than `budget` records).
    fn drain(
        &mut self,
        mut watermark: u64,
        budget: usize,
        boot_to_epoch: u64,
        out: &mut Vec<Event>,
        stats: &mut ReaderStats,
    ) -> u64 {
        let warn = &mut self.warn;
        for ring in &mut self.rings {
            let mut taken = 0;
            let mut last_ts = 0;
            while taken < budget {
                let Some(item) = ring.buf.next() else {
                    break;
                };
                taken += 1;
                stats.records += 1;
                let mut undecoded = |err: WireError| {
                    stats.undecoded_params += 1;
                    warn_bad_record(warn, &err, "kept the event, value unknown");
                };
                match wire::decode_reporting(&item, boot_to_epoch, &mut undecoded) {
                    Ok(ev) => {
                        last_ts = ev.ts.saturating_sub(boot_to_epoch);
                        out.push(ev);
                    }
                    Err(err) => {
                        stats.malformed += 1;
                        stats.malformed_by_reason[err.reason_index()] += 1;
                        warn_bad_record(warn, &err, "skipped the record");
                    }
                }
            }
            if taken == budget {
                // Not drained: only what was read so far is known complete for this ring.
                watermark = watermark.min(last_ts);
            }
        }
        watermark
    }

    /// Waits until a ring has data, the set is stopped or `timeout` passes; true when woken
    /// by data.
    fn wait(&self, timeout: Duration) -> bool {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: `events` is a valid buffer of the given length.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                ms,
            )
        };
        n > 0 && events[..n as usize].iter().any(|e| e.u64 != STOP_TAG)
    }
}

/// Makes `fd` (an eventfd) readable for good: the waits of its set return at once.
fn signal_stop(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writes 8 bytes from a live buffer to an open eventfd.
    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
}

/// A bad kernel record at warn, rate-limited: the first, then one per interval with how
/// many were held back.
fn warn_bad_record(limit: &mut RateLimit, err: &WireError, outcome: &str) {
    if let Some(held) = limit.admit(Instant::now()) {
        tracing::warn!(
            reason = err.reason(),
            etype = err.etype().unwrap_or("unknown"),
            held_back = held,
            %err,
            "bad kernel record: {outcome}"
        );
    }
}

/// What a probe actor sends the reader after each drain.
struct Batch {
    actor: usize,
    events: Vec<Event>,
    /// Boot time up to which this actor's rings are known complete.
    complete_until: u64,
    stats: ReaderStats,
}

/// Probe actors: threads draining and decoding their share of the rings.
struct Actors {
    rx: Receiver<Batch>,
    /// Per actor: boot time up to which its rings are known complete.
    complete: Vec<u64>,
    /// Per actor: asleep until its rings' next record (then complete until now, less the
    /// slack for its wake-up).
    asleep: Vec<Arc<AtomicBool>>,
    /// Per actor: ends its waits at shutdown.
    stops: Vec<Arc<OwnedFd>>,
    ring_count: usize,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    boot_to_epoch: Arc<AtomicU64>,
}

/// How long an event waits for earlier ones from other rings, by default.
const DEFAULT_SLACK_NS: u64 = 5_000_000;
/// Most records taken from one ring per drain.
const RING_BUDGET: usize = 1 << 16;

/// An idle actor still reports how far its rings are complete, so other actors' events
/// do not wait on it for longer than this.
const IDLE_REPORT: Duration = Duration::from_millis(20);
/// Empty reports in a row after which an actor sleeps until its next record.
const ACTOR_QUIET_REPORTS: u32 = 5;
/// Longest sleep of an actor at rest (shutdown ends it at once).
const ACTOR_SLEEP: Duration = Duration::from_secs(10);
/// Batches in flight per actor before an actor waits for the reader (backpressure then
/// reaches the kernel ring, which counts what it cannot hold).
const BATCHES_IN_FLIGHT: usize = 16;

/// What a probe actor shares with the reader.
struct ActorLink {
    actor: usize,
    tx: Sender<Batch>,
    stop: Arc<AtomicBool>,
    asleep: Arc<AtomicBool>,
    boot_to_epoch: Arc<AtomicU64>,
}

fn actor_loop(link: ActorLink, mut set: RingSet, slack_ns: u64, budget: usize) {
    let mut quiet = 0;
    loop {
        let last = link.stop.load(Ordering::Relaxed);
        let budget = if last { usize::MAX } else { budget };
        let batch = actor_drain(&link, &mut set, slack_ns, budget, last);
        let records = batch.stats.records;
        if link.tx.send(batch).is_err() || last {
            return;
        }
        if records > 0 {
            quiet = 0;
            continue;
        }
        quiet += 1;
        if quiet < ACTOR_QUIET_REPORTS {
            // Until data arrives, or long enough to report progress again.
            set.wait(IDLE_REPORT);
            continue;
        }
        // At rest: sleep until the next record, after a last look with the flags set.
        quiet = 0;
        if set.set_asleep(true) {
            let look = actor_drain(&link, &mut set, slack_ns, budget, false);
            if look.stats.records == 0 {
                link.asleep.store(true, Ordering::SeqCst);
                set.wait(ACTOR_SLEEP);
                link.asleep.store(false, Ordering::SeqCst);
            } else if link.tx.send(look).is_err() {
                return;
            }
        }
        set.set_asleep(false);
    }
}

/// One drain of an actor's rings, as the batch it sends.
fn actor_drain(
    link: &ActorLink,
    set: &mut RingSet,
    slack_ns: u64,
    budget: usize,
    last: bool,
) -> Batch {
    let b2e = link.boot_to_epoch.load(Ordering::Relaxed);
    let now = if last {
        u64::MAX
    } else {
        clock_ns(libc::CLOCK_BOOTTIME)
    };
    let mut events = Vec::new();
    let mut stats = ReaderStats::default();
    let complete_until = set.drain(
        now.saturating_sub(slack_ns),
        budget,
        b2e,
        &mut events,
        &mut stats,
    );
    Batch {
        actor: link.actor,
        events,
        complete_until,
        stats,
    }
}

enum Mode {
    /// The reader drains its rings itself.
    Inline(RingSet),
    Actors(Actors),
}

/// Drains all rings of one probe set and releases their events in time order.
pub struct Reader {
    mode: Mode,
    boot_to_epoch: u64,
    pending: Pending,
    /// Records just drained, before they join `pending`.
    fresh: Vec<Event>,
    /// Boot-clock time up to which events have been released.
    released_until: u64,
    slack_ns: u64,
    /// Most records taken from one ring per drain, so one busy ring cannot starve the rest.
    per_ring_budget: usize,
    stats: ReaderStats,
    last_clock_sync: Instant,
    /// The number the next released event gets (`evt.num`): from 1, in delivery order.
    next_num: u64,
    /// How long the next wait for data lasts (see [`Reader::poll`]).
    nap: Duration,
    /// Polls in a row that found no record.
    quiet: u32,
    /// When a record last ended a sleep.
    last_data_wake: Option<Instant>,
}

/// The reader's naps: the kernel wakes it only when a ring is half full (a wake-up is an
/// inter-processor interrupt paid inside the traced process's syscall), so the reader
/// polls. It naps longer while little arrives, down to none while rings keep filling.
const NAP_MIN: Duration = Duration::from_micros(250);
/// The longest nap (Falco's is 30 ms): bounds how late an event is while a few arrive.
const NAP_MAX: Duration = Duration::from_millis(100);
/// Empty polls in a row, the last at NAP_MAX, after which the reader sleeps until the next
/// record (see [`crate::sleep`]).
const QUIET_POLLS: u32 = 2;
/// Records per drain below which the nap doubles, and above which it halves.
const NAP_LONGER_BELOW: u64 = 256;
const NAP_SHORTER_ABOVE: u64 = 4096;

impl Reader {
    /// A reader that drains `rings` itself, on the thread that polls it.
    pub fn new(rings: Vec<Ring>) -> std::io::Result<Reader> {
        Ok(Reader::with_mode(Mode::Inline(RingSet::new(rings)?)))
    }

    /// A reader fed by `actors` probe actors (threads), the rings dealt out among them;
    /// drains inline when there is only one ring or `actors` ≤ 1.
    pub fn with_actors(rings: Vec<Ring>, actors: usize) -> std::io::Result<Reader> {
        let actors = actors.min(rings.len());
        if actors <= 1 {
            return Reader::new(rings);
        }
        let ring_count = rings.len();
        let mut shares: Vec<Vec<Ring>> = (0..actors).map(|_| Vec::new()).collect();
        for (i, ring) in rings.into_iter().enumerate() {
            shares[i % actors].push(ring);
        }
        let sets = shares
            .into_iter()
            .map(RingSet::new)
            .collect::<std::io::Result<Vec<_>>>()?;
        let (tx, rx) = crossbeam_channel::bounded(BATCHES_IN_FLIGHT * actors);
        let stop = Arc::new(AtomicBool::new(false));
        let boot_to_epoch = Arc::new(AtomicU64::new(boot_to_epoch_ns()));
        let mut threads = Vec::new();
        let mut asleep = Vec::new();
        let mut stops = Vec::new();
        for (actor, set) in sets.into_iter().enumerate() {
            let link = ActorLink {
                actor,
                tx: tx.clone(),
                stop: stop.clone(),
                asleep: Arc::new(AtomicBool::new(false)),
                boot_to_epoch: boot_to_epoch.clone(),
            };
            asleep.push(link.asleep.clone());
            stops.push(set.stop.clone());
            threads.push(
                std::thread::Builder::new()
                    .name(format!("probe-actor-{actor}"))
                    .spawn(move || actor_loop(link, set, DEFAULT_SLACK_NS, RING_BUDGET))?,
            );
        }
        Ok(Reader::with_mode(Mode::Actors(Actors {
            rx,
            complete: vec![0; actors],
            asleep,
            stops,
            ring_count,
            stop,
            threads,
            boot_to_epoch,
        })))
    }

    fn with_mode(mode: Mode) -> Reader {
        Reader {
            mode,
            boot_to_epoch: boot_to_epoch_ns(),
            pending: Pending::default(),
            fresh: Vec::new(),
            released_until: 0,
            slack_ns: DEFAULT_SLACK_NS,
            per_ring_budget: RING_BUDGET,
            stats: ReaderStats::default(),
            last_clock_sync: Instant::now(),
            next_num: 1,
            nap: NAP_MIN,
            quiet: 0,
            last_data_wake: None,
        }
    }

    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// Number of rings read.
    pub fn ring_count(&self) -> usize {
        match &self.mode {
            Mode::Inline(set) => set.rings.len(),
            Mode::Actors(a) => a.ring_count,
        }
    }

    /// Number of probe actor threads (0 when the reader drains inline).
    pub fn actor_count(&self) -> usize {
        match &self.mode {
            Mode::Inline(_) => 0,
            Mode::Actors(a) => a.threads.len(),
        }
    }

    /// Events waiting for the reorder window to pass.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Appends up to `max` events, in timestamp order, to `out`. When nothing is ready,
    /// naps (shorter while records keep arriving; at rest, until the next record) and looks
    /// again, for at most `wait`. Returns how many were appended.
    pub fn poll(&mut self, out: &mut Vec<Event>, max: usize, wait: Duration) -> usize {
        let before = self.stats.records;
        let mut n = self.release(out, max);
        let got = self.stats.records - before;
        self.quiet = if got == 0 {
            self.quiet.saturating_add(1)
        } else {
            0
        };
        self.nap = if got > NAP_SHORTER_ABOVE {
            (self.nap / 2).max(NAP_MIN)
        } else if got < NAP_LONGER_BELOW {
            (self.nap * 2).min(NAP_MAX.min(wait).max(NAP_MIN))
        } else {
            self.nap
        };
        if n == 0 && self.at_rest(wait) {
            return self.sleep(out, max, wait);
        }
        if n == 0 {
            // Events still inside the reorder window wait for the next nap too (at least
            // the window): waking just for them would hand on a few events at a time, and
            // every hand-on wakes the stages after this one.
            let mut timeout = self.nap;
            if !self.pending.is_empty() {
                timeout = timeout.max(Duration::from_nanos(self.slack_ns));
            }
            self.wait(timeout.min(wait));
            n = self.release(out, max);
        }
        n
    }

    /// Nothing arrived for a while, nothing waits, and the caller can wait longer than a nap.
    fn at_rest(&self, wait: Duration) -> bool {
        let quiet = self.quiet >= QUIET_POLLS && self.nap >= NAP_MAX && wait > NAP_MAX;
        quiet
            && self.pending.is_empty()
            && match &self.mode {
                Mode::Inline(_) => true,
                Mode::Actors(a) => a.asleep.iter().all(|s| s.load(Ordering::SeqCst)),
            }
    }

    /// Sleeps until the next record or `wait` passes. Inline, the kernel is asked to wake
    /// the reader, then the rings get a last look; with actors, they do that themselves and
    /// the first one woken sends its batch.
    fn sleep(&mut self, out: &mut Vec<Event>, max: usize, wait: Duration) -> usize {
        let before = self.stats.records;
        let mut n = 0;
        match &mut self.mode {
            Mode::Inline(set) => {
                let armed = set.set_asleep(true);
                n = self.release(out, max);
                if self.stats.records == before {
                    // Not armed: a record might not wake the reader, so only a nap.
                    self.stats.sleeps += u64::from(armed);
                    self.wait(if armed { wait } else { NAP_MAX });
                }
                if let Mode::Inline(set) = &mut self.mode {
                    set.set_asleep(false);
                }
            }
            Mode::Actors(_) => {
                self.stats.sleeps += 1;
                self.wait(wait);
            }
        }
        if n == 0 {
            n = self.release(out, max);
        }
        if self.stats.records > before {
            // Woken by data: a record now and then goes straight back to sleep; records
            // coming more often are napped for (ten naps a second at most, whatever the rate).
            let now = Instant::now();
            if self
                .last_data_wake
                .is_some_and(|t| now.duration_since(t) < NAP_MAX * 10)
            {
                self.quiet = 0;
            }
            self.last_data_wake = Some(now);
            if n == 0 && matches!(self.mode, Mode::Inline(_)) && !self.pending.is_empty() {
                // Just the reorder window before the first event at rest goes on, rather
                // than a whole nap.
                std::thread::sleep(Duration::from_nanos(self.slack_ns));
                n = self.release(out, max);
            }
        }
        n
    }

    /// Releases everything pending regardless of the window (at shutdown); stops the
    /// probe actors after their last drain.
    pub fn flush(&mut self, out: &mut Vec<Event>) -> usize {
        match &mut self.mode {
            Mode::Inline(set) => {
                set.drain(
                    u64::MAX,
                    usize::MAX,
                    self.boot_to_epoch,
                    &mut self.fresh,
                    &mut self.stats,
                );
                self.pending.add(&mut self.fresh);
            }
            Mode::Actors(a) => {
                a.stop.store(true, Ordering::Relaxed);
                for fd in &a.stops {
                    signal_stop(fd);
                }
                // Every actor sends a last batch and drops its sender.
                while let Ok(batch) = a.rx.recv() {
                    absorb(&mut a.complete, &mut self.pending, &mut self.stats, batch);
                }
                for t in a.threads.drain(..) {
                    let _ = t.join();
                }
            }
        }
        let n = self.pending.len();
        let start = out.len();
        out.extend(self.pending.take(n));
        Reader::number(&mut self.next_num, &mut out[start..]);
        n
    }

    /// Gives released events their sequence numbers, as Falco's inspector does on read.
    fn number(next: &mut u64, events: &mut [Event]) {
        for ev in events {
            ev.num = *next;
            *next += 1;
        }
    }

    fn release(&mut self, out: &mut Vec<Event>, max: usize) -> usize {
        if self.last_clock_sync.elapsed() > Duration::from_secs(10) {
            // Follow wall-clock adjustments (NTP) without reordering anything.
            self.boot_to_epoch = boot_to_epoch_ns();
            if let Mode::Actors(a) = &self.mode {
                a.boot_to_epoch.store(self.boot_to_epoch, Ordering::Relaxed);
            }
            self.last_clock_sync = Instant::now();
        }
        let watermark = match &mut self.mode {
            Mode::Inline(set) => {
                let now = clock_ns(libc::CLOCK_BOOTTIME);
                let watermark = set.drain(
                    now.saturating_sub(self.slack_ns),
                    self.per_ring_budget,
                    self.boot_to_epoch,
                    &mut self.fresh,
                    &mut self.stats,
                );
                self.pending.add(&mut self.fresh);
                watermark
            }
            Mode::Actors(a) => {
                while let Ok(batch) = a.rx.try_recv() {
                    absorb(&mut a.complete, &mut self.pending, &mut self.stats, batch);
                }
                // A sleeping actor's rings are empty until its next record wakes it.
                let now = clock_ns(libc::CLOCK_BOOTTIME).saturating_sub(self.slack_ns);
                a.complete
                    .iter()
                    .zip(&a.asleep)
                    .map(|(&c, asleep)| {
                        if asleep.load(Ordering::SeqCst) {
                            c.max(now)
                        } else {
                            c
                        }
                    })
                    .min()
                    .unwrap_or(0)
            }
        };
        if self.pending.is_empty() {
            return 0;
        }
        let limit = watermark.saturating_add(self.boot_to_epoch);
        let ready = self.pending.ready(limit).min(max);
        if ready == 0 {
            return 0;
        }
        let last_ts = self.pending.front_ts(ready - 1).unwrap_or(0);
        let start = out.len();
        out.extend(self.pending.take(ready));
        if self.released_until != 0 {
            let epoch_until = self.released_until.saturating_add(self.boot_to_epoch);
            // Sorted: the late ones are at the front.
            self.stats.late += out[start..].partition_point(|e| e.ts < epoch_until) as u64;
        }
        self.released_until = last_ts.saturating_sub(self.boot_to_epoch);
        Reader::number(&mut self.next_num, &mut out[start..]);
        ready
    }

    fn wait(&mut self, timeout: Duration) {
        match &mut self.mode {
            Mode::Inline(set) => {
                if set.wait(timeout) {
                    self.stats.wakeups += 1;
                }
            }
            Mode::Actors(a) => {
                // Nothing within the timeout (or every actor gone): the next poll says so.
                if let Ok(batch) = a.rx.recv_timeout(timeout) {
                    absorb(&mut a.complete, &mut self.pending, &mut self.stats, batch);
                }
            }
        }
    }
}

/// Takes an actor's batch in: its events, counters and how far its rings are complete.
fn absorb(complete: &mut [u64], pending: &mut Pending, stats: &mut ReaderStats, mut batch: Batch) {
    complete[batch.actor] = complete[batch.actor].max(batch.complete_until);
    pending.add(&mut batch.events);
    stats.records += batch.stats.records;
    stats.malformed += batch.stats.malformed;
    for (sum, n) in stats
        .malformed_by_reason
        .iter_mut()
        .zip(batch.stats.malformed_by_reason)
    {
        *sum += n;
    }
    stats.undecoded_params += batch.stats.undecoded_params;
    stats.wakeups += u64::from(batch.stats.records > 0);
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Mode::Actors(a) = &mut self.mode {
            a.stop.store(true, Ordering::Relaxed);
            // Unblock actors waiting to send, then let them finish.
            while a.rx.recv_timeout(Duration::from_millis(200)).is_ok() {}
            for t in a.threads.drain(..) {
                let _ = t.join();
            }
        }
    }
}
