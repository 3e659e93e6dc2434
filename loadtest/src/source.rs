//! Where a load test's events come from: a capture or a generated stream, held in memory so
//! the run measures the pipeline rather than file decoding, looped and paced.

use peregrine::capture::{CaptureError, CaptureHeader, CaptureReader};
use peregrine::source::{Pull, Source};
use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::{ContainerInfo, Event, FdInfo, ProcessInfo};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How fast events are handed to the pipeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// As fast as the pipeline takes them.
    Flat,
    /// Events per second.
    Rate(f64),
    /// The recorded timing, times this factor (2.0 = twice as fast).
    Speed(f64),
}

impl std::fmt::Display for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pacing::Flat => write!(f, "flat"),
            Pacing::Rate(r) => write!(f, "{r:.0} events/s"),
            Pacing::Speed(x) => write!(f, "recorded timing x{x}"),
        }
    }
}

/// Reads a whole capture. A record that does not decode fails the load, naming where it
/// starts: a load test on part of a file would measure something else than asked.
pub fn read_capture(path: &Path) -> Result<Vec<Event>, CaptureError> {
    Ok(read_capture_with_header(path)?.1)
}

/// The capture's header (what produced it) and its events.
pub fn read_capture_with_header(path: &Path) -> Result<(CaptureHeader, Vec<Event>), CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut events = Vec::new();
    let mut interner = Interner::default();
    while let Some(next) = reader.next_event() {
        let mut ev = next?;
        interner.intern(&mut ev);
        events.push(ev);
    }
    Ok((reader.header, events))
}

/// Every record of a capture carries its own copy of its process (with its ancestors),
/// fd and container snapshots; the live agent shares them between events. Sharing equal
/// ones again keeps a stream in memory at a few hundred bytes per event instead of
/// kilobytes, so the run's RSS is the pipeline's, not the copies'.
#[derive(Default)]
struct Interner {
    processes: HashMap<Vec<u8>, Arc<ProcessInfo>>,
    fds: HashMap<Vec<u8>, Arc<FdInfo>>,
    containers: HashMap<Vec<u8>, Arc<ContainerInfo>>,
}

fn share<T: serde::Serialize>(slot: &mut Option<Arc<T>>, seen: &mut HashMap<Vec<u8>, Arc<T>>) {
    let Some(v) = slot.as_ref() else { return };
    let Ok(key) = rmp_serde::to_vec(&**v) else {
        return;
    };
    match seen.get(&key) {
        Some(shared) => *slot = Some(shared.clone()),
        None => {
            seen.insert(key, v.clone());
        }
    }
}

impl Interner {
    fn intern(&mut self, ev: &mut Event) {
        share(&mut ev.process, &mut self.processes);
        share(&mut ev.fd, &mut self.fds);
        share(&mut ev.container, &mut self.containers);
    }
}

/// The seed a generated capture was made with (`generate` writes it into the header).
pub fn seed_of(header: &CaptureHeader) -> Option<u64> {
    let mut words = header.producer.split_whitespace();
    words.find(|w| *w == "--seed")?;
    words.next()?.parse().ok()
}

/// `n` events of the generator with `cfg`.
pub fn generate(cfg: SynthConfig, n: u64) -> Vec<Event> {
    Generator::new(cfg).take(n as usize).collect()
}

/// When each batch of events entered the pipeline, by event time: the sink looks an
/// alert's event time up here to measure its end-to-end latency.
#[derive(Default)]
pub struct BatchClock {
    /// first event time of a batch → (last event time, when it was handed over).
    batches: Mutex<BTreeMap<u64, (u64, Instant)>>,
}

impl BatchClock {
    /// The batch of events with times `first..=last` was handed over `at`.
    pub fn handed(&self, first: u64, last: u64, at: Instant) {
        let mut b = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        b.insert(first, (last, at));
    }

    /// When the event with time `ts` was handed over.
    pub fn entered(&self, ts: u64) -> Option<Instant> {
        let b = self.batches.lock().unwrap_or_else(|e| e.into_inner());
        let (_, (last, at)) = b.range(..=ts).next_back()?;
        (ts <= *last).then_some(*at)
    }
}

/// Replays events from memory, `loops` times, paced. Each loop after the first is shifted
/// in time past the previous one, so event times keep increasing.
pub struct MemorySource {
    events: Arc<Vec<Event>>,
    loops: u32,
    pacing: Pacing,
    started: Option<Instant>,
    loop_index: u32,
    pos: usize,
    span: u64,
    clock: Arc<BatchClock>,
    /// Stop after this long (sweep steps), whatever is left.
    deadline: Option<Duration>,
    /// Events handed over so far (rate pacing).
    sent: u64,
    last_handed: Option<Instant>,
}

impl MemorySource {
    pub fn new(events: Arc<Vec<Event>>, loops: u32, pacing: Pacing) -> MemorySource {
        let span = match (events.first(), events.last()) {
            (Some(a), Some(b)) => b.ts.saturating_sub(a.ts) + 1_000,
            _ => 0,
        };
        MemorySource {
            events,
            loops: loops.max(1),
            pacing,
            started: None,
            loop_index: 0,
            pos: 0,
            span,
            clock: Arc::default(),
            deadline: None,
            sent: 0,
            last_handed: None,
        }
    }

    /// Loops until `d` has passed (at least once through), then ends.
    pub fn for_duration(mut self, d: Duration) -> MemorySource {
        self.deadline = Some(d);
        self.loops = u32::MAX;
        self
    }

    pub fn clock(&self) -> Arc<BatchClock> {
        self.clock.clone()
    }

    /// Events due now at `rate`, handed over at most once per `wait` unless a whole batch
    /// is due sooner, as a ring reader drains: batches of one event would measure the
    /// per-batch overhead instead of the pipeline.
    fn due_at_rate(&mut self, max: usize, rate: f64, wait: Duration, started: Instant) -> usize {
        let due =
            |sent: u64| ((started.elapsed().as_secs_f64() * rate) as u64).saturating_sub(sent);
        let since = self.last_handed.map_or(wait, |t| t.elapsed());
        if (due(self.sent) as usize) < max && since < wait {
            std::thread::sleep(wait - since);
        }
        let n = (due(self.sent) as usize).min(max);
        if n > 0 {
            self.sent += n as u64;
            self.last_handed = Some(Instant::now());
        }
        n
    }

    /// Events due now under `Speed` pacing.
    fn due_by_timing(&self, max: usize, x: f64, elapsed: Duration) -> usize {
        let Some(first) = self.events.first() else {
            return 0;
        };
        let virtual_ns = (elapsed.as_nanos() as f64 * x) as u64;
        let base = self.loop_index as u64 * self.span;
        let mut n = 0;
        while n < max && self.pos + n < self.events.len() {
            let ev = &self.events[self.pos + n];
            if base + ev.ts.saturating_sub(first.ts) > virtual_ns {
                break;
            }
            n += 1;
        }
        n
    }
}

impl Source for MemorySource {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn pull(&mut self, max: usize, wait: Duration) -> Pull {
        let started = *self.started.get_or_insert_with(Instant::now);
        if self.events.is_empty() {
            return Pull::End;
        }
        if self.pos >= self.events.len() {
            self.loop_index += 1;
            self.pos = 0;
        }
        let over_time = self.deadline.is_some_and(|d| started.elapsed() >= d);
        if self.loop_index >= self.loops || over_time {
            return Pull::End;
        }
        let left = (self.events.len() - self.pos).min(max);
        let n = match self.pacing {
            Pacing::Flat => left,
            Pacing::Rate(rate) => self.due_at_rate(left, rate, wait, started),
            Pacing::Speed(x) => {
                let mut n = self.due_by_timing(left, x, started.elapsed());
                if n == 0 {
                    std::thread::sleep(wait.min(Duration::from_millis(1)));
                    n = self.due_by_timing(left, x, started.elapsed());
                }
                n
            }
        };
        if n == 0 {
            return Pull::Idle;
        }
        let shift = self.loop_index as u64 * self.span;
        let batch: Vec<Event> = self.events[self.pos..self.pos + n]
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.ts += shift;
                e
            })
            .collect();
        self.pos += n;
        if let (Some(a), Some(b)) = (batch.first(), batch.last()) {
            self.clock.handed(a.ts, b.ts, Instant::now());
        }
        Pull::Batch(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut s: MemorySource) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            match s.pull(100, Duration::from_millis(5)) {
                Pull::Batch(b) => out.extend(b),
                Pull::Idle => {}
                Pull::End => return out,
            }
        }
    }

    #[test]
    fn loops_shift_time_forward() {
        let events = Arc::new(generate(SynthConfig::default(), 250));
        let out = drain(MemorySource::new(events.clone(), 3, Pacing::Flat));
        assert_eq!(out.len(), 750);
        assert!(out.windows(2).all(|w| w[0].ts < w[1].ts));
        assert_eq!(out[250].etype, events[0].etype);
    }

    #[test]
    fn the_clock_finds_each_event() {
        let events = Arc::new(generate(SynthConfig::default(), 300));
        let s = MemorySource::new(events, 1, Pacing::Flat);
        let clock = s.clock();
        let out = drain(s);
        assert!(out.iter().all(|e| clock.entered(e.ts).is_some()));
        assert!(clock.entered(1).is_none());
    }

    #[test]
    fn speed_follows_recorded_timing() {
        // 200 events 1 ms apart = 0.2 s recorded; at x4 about 50 ms.
        let cfg = SynthConfig {
            step_ns: 1_000_000,
            ..SynthConfig::default()
        };
        let events = Arc::new(generate(cfg, 200));
        let start = Instant::now();
        let out = drain(MemorySource::new(events, 1, Pacing::Speed(4.0)));
        let took = start.elapsed();
        assert_eq!(out.len(), 200);
        assert!(took >= Duration::from_millis(45), "{took:?}");
    }
}
