//! Draining the ring buffers: decode records, put them back in time order, hand them out.
//!
//! Per-CPU rings reorder one thread's events when it migrates between CPUs, and process
//! state must see a fork before the child's exec and an exec before its opens. The reader
//! therefore merges every ring by timestamp with a bounded window: an event is released
//! once every ring has been read past its time (plus a small slack for records still
//! being written when the ring was read).

use crate::wire;
use aya::maps::{MapData, RingBuf};
use peregrine_event::Event;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// One ring buffer and the CPUs that write into it.
pub struct Ring {
    buf: RingBuf<MapData>,
    cpus: Vec<u32>,
}

impl Ring {
    pub(crate) fn new(buf: RingBuf<MapData>, cpus: Vec<u32>) -> Ring {
        Ring { buf, cpus }
    }

    pub fn cpus(&self) -> &[u32] {
        &self.cpus
    }
}

/// Reader statistics, cumulative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    pub records: u64,
    pub malformed: u64,
    /// Events that arrived after later events had already been released (kept, not dropped).
    pub late: u64,
    pub wakeups: u64,
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

/// Drains all rings of one probe set.
pub struct Reader {
    rings: Vec<Ring>,
    epoll: OwnedFd,
    boot_to_epoch: u64,
    pending: Vec<Event>,
    /// Boot-clock time up to which events have been released.
    released_until: u64,
    slack_ns: u64,
    /// Most records taken from one ring per drain, so one busy ring cannot starve the rest.
    per_ring_budget: usize,
    stats: ReaderStats,
    last_clock_sync: Instant,
}

impl Reader {
    pub fn new(rings: Vec<Ring>) -> std::io::Result<Reader> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        for (i, ring) in rings.iter().enumerate() {
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: i as u64,
            };
            // SAFETY: both fds are open; `ev` outlives the call.
            let rc = unsafe {
                libc::epoll_ctl(
                    epoll.as_raw_fd(),
                    libc::EPOLL_CTL_ADD,
                    ring.buf.as_raw_fd(),
                    &mut ev,
                )
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(Reader {
            rings,
            epoll,
            boot_to_epoch: boot_to_epoch_ns(),
            pending: Vec::new(),
            released_until: 0,
            slack_ns: 5_000_000,
            per_ring_budget: 1 << 16,
            stats: ReaderStats::default(),
            last_clock_sync: Instant::now(),
        })
    }

    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    pub fn rings(&self) -> &[Ring] {
        &self.rings
    }

    /// Events waiting for the reorder window to pass.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// How long an event may wait for earlier ones from other CPUs.
    pub fn set_slack(&mut self, slack: Duration) {
        self.slack_ns = slack.as_nanos() as u64;
    }

    /// Appends up to `max` events, in timestamp order, to `out`. Waits up to `wait` when
    /// nothing is ready. Returns how many were appended.
    pub fn poll(&mut self, out: &mut Vec<Event>, max: usize, wait: Duration) -> usize {
        let mut n = self.release(out, max);
        if n == 0 {
            let timeout = if self.pending.is_empty() {
                wait
            } else {
                wait.min(Duration::from_nanos(self.slack_ns))
            };
            self.wait(timeout);
            n = self.release(out, max);
        }
        n
    }

    /// Releases everything pending regardless of the window (at shutdown).
    pub fn flush(&mut self, out: &mut Vec<Event>) -> usize {
        self.drain(u64::MAX);
        self.pending.sort_by_key(|e| e.ts);
        let n = self.pending.len();
        out.append(&mut self.pending);
        n
    }

    fn release(&mut self, out: &mut Vec<Event>, max: usize) -> usize {
        if self.last_clock_sync.elapsed() > Duration::from_secs(10) {
            // Follow wall-clock adjustments (NTP) without reordering anything.
            self.boot_to_epoch = boot_to_epoch_ns();
            self.last_clock_sync = Instant::now();
        }
        let now = clock_ns(libc::CLOCK_BOOTTIME);
        let watermark = self.drain(now.saturating_sub(self.slack_ns));
        if self.pending.is_empty() {
            return 0;
        }
        self.pending.sort_by_key(|e| e.ts);
        let limit = watermark.saturating_add(self.boot_to_epoch);
        let ready = self.pending.partition_point(|e| e.ts <= limit).min(max);
        if ready == 0 {
            return 0;
        }
        let epoch_until = self.released_until.saturating_add(self.boot_to_epoch);
        self.stats.late += self.pending[..ready]
            .iter()
            .filter(|e| self.released_until != 0 && e.ts < epoch_until)
            .count() as u64;
        self.released_until = self.pending[ready - 1]
            .ts
            .saturating_sub(self.boot_to_epoch);
        out.extend(self.pending.drain(..ready));
        ready
    }

    /// Reads every ring; returns the boot time before which all records have been seen.
    fn drain(&mut self, mut watermark: u64) -> u64 {
        for ring in &mut self.rings {
            let mut taken = 0;
            let mut last_ts = 0;
            while taken < self.per_ring_budget {
                let Some(item) = ring.buf.next() else {
                    break;
                };
                taken += 1;
                self.stats.records += 1;
                match wire::decode(&item, self.boot_to_epoch) {
                    Ok(ev) => {
                        last_ts = ev.ts.saturating_sub(self.boot_to_epoch);
                        self.pending.push(ev);
                    }
                    Err(err) => {
                        self.stats.malformed += 1;
                        tracing::debug!(%err, "skipped a malformed kernel record");
                    }
                }
            }
            if taken == self.per_ring_budget {
                // Not drained: only what was read so far is known complete for this ring.
                watermark = watermark.min(last_ts);
            }
        }
        watermark
    }

    fn wait(&mut self, timeout: Duration) {
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
        if n > 0 {
            self.stats.wakeups += 1;
        }
    }
}
