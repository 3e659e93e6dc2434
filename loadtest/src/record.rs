//! `record`: the agent's live pipeline (probes, enrichment, rules) with a tap after the
//! enrichment stage that writes every enriched event into a capture. Each recorded event
//! carries its process, fd, user and container snapshots, which is the state a replay needs
//! to be faithful (replays are not enriched again).

use peregrine::capture::{CaptureError, CaptureHeader, CaptureWriter, FORMAT_VERSION};
use peregrine::stage::enrich::Enricher;
use peregrine_event::Event;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which events go into the capture (all by default). The rules see every event either way.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Event type names (`openat`, `execve`, ...).
    pub event_types: Vec<String>,
    /// Container ids (short or full), names, or `host`.
    pub containers: Vec<String>,
    /// Process names (`proc.name`).
    pub processes: Vec<String>,
}

impl Filters {
    pub fn admits(&self, ev: &Event) -> bool {
        let etype_ok =
            self.event_types.is_empty() || self.event_types.iter().any(|t| t == ev.etype.name());
        let container_ok = self.containers.is_empty()
            || self.containers.iter().any(|c| match &ev.container {
                Some(ci) => {
                    &*ci.id == c.as_str()
                        || &*ci.full_id == c.as_str()
                        || ci.name.as_deref() == Some(c.as_str())
                }
                None => c == "host",
            });
        let process_ok = self.processes.is_empty()
            || ev
                .process
                .as_ref()
                .is_some_and(|p| self.processes.iter().any(|n| *n == *p.name));
        etype_ok && container_ok && process_ok
    }
}

/// Where and how much to write.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Stop after this many recorded events.
    pub events: Option<u64>,
    /// Start a new file past this size.
    pub rotate_bytes: Option<u64>,
    /// Start a new file after this long.
    pub rotate_every: Option<Duration>,
}

/// Counters of a recording, shared with the caller.
#[derive(Debug, Default)]
pub struct Recorded {
    pub events: u64,
    pub files: Vec<PathBuf>,
    pub error: Option<String>,
}

struct Writer {
    base: PathBuf,
    header: CaptureHeader,
    current: Option<CaptureWriter>,
    opened: Instant,
    limits: Limits,
    filters: Filters,
    done: Arc<AtomicBool>,
    recorded: Arc<Mutex<Recorded>>,
    /// Events written; published to `recorded` once per batch, not per event.
    events: u64,
}

impl Writer {
    /// `FILE.cap`, then `FILE.1.cap`, `FILE.2.cap`, ... on rotation.
    fn path(&self, n: usize) -> PathBuf {
        if n == 0 {
            return self.base.clone();
        }
        let stem = self
            .base
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ext = self
            .base
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        self.base.with_file_name(format!("{stem}.{n}{ext}"))
    }

    fn open_next(&mut self) -> Result<(), CaptureError> {
        if let Some(w) = self.current.take() {
            w.finish()?;
        }
        let n = self.lock().files.len();
        let path = self.path(n);
        self.current = Some(CaptureWriter::create(&path, &self.header)?);
        self.opened = Instant::now();
        self.lock().files.push(path);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&mut self, events: &[Event]) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        let error = self.write_all(events).err();
        let mut r = self.lock();
        r.events = self.events;
        if let Some(e) = error {
            r.error.get_or_insert(e.to_string());
            self.done.store(true, Ordering::Relaxed);
        }
    }

    /// Writes what the filters admit until the event limit; sets `done` at the limit.
    fn write_all(&mut self, events: &[Event]) -> Result<(), CaptureError> {
        for ev in events {
            if !self.filters.admits(ev) {
                continue;
            }
            self.write_one(ev)?;
            self.events += 1;
            if self.limits.events.is_some_and(|max| self.events >= max) {
                self.done.store(true, Ordering::Relaxed);
                break;
            }
        }
        Ok(())
    }

    fn write_one(&mut self, ev: &Event) -> Result<(), CaptureError> {
        let rotate = match &self.current {
            None => true,
            Some(w) => {
                self.limits.rotate_bytes.is_some_and(|b| w.bytes >= b)
                    || self
                        .limits
                        .rotate_every
                        .is_some_and(|d| self.opened.elapsed() >= d)
            }
        };
        if rotate {
            self.open_next()?;
        }
        match self.current.as_mut() {
            Some(w) => w.write(ev),
            None => Ok(()),
        }
    }

    fn finish(&mut self) {
        if let Some(w) = self.current.take() {
            if let Err(e) = w.finish() {
                self.lock().error.get_or_insert(e.to_string());
            }
        }
    }
}

/// The enricher with the tap: what it hands on is also written to the capture.
pub struct RecordingEnricher {
    inner: Box<dyn Enricher>,
    writer: Writer,
}

impl RecordingEnricher {
    /// `done` is set when the event limit is reached or writing failed: the caller stops.
    pub fn new(
        inner: Box<dyn Enricher>,
        path: &Path,
        hostname: String,
        filters: Filters,
        limits: Limits,
        done: Arc<AtomicBool>,
        recorded: Arc<Mutex<Recorded>>,
    ) -> RecordingEnricher {
        let created_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        RecordingEnricher {
            inner,
            writer: Writer {
                base: path.to_path_buf(),
                header: CaptureHeader {
                    version: FORMAT_VERSION,
                    hostname,
                    created_ns,
                    producer: "peregrine-loadtest record".into(),
                },
                current: None,
                opened: Instant::now(),
                limits,
                filters,
                done,
                recorded,
                events: 0,
            },
        }
    }

    /// Creates the first file now, so a bad path fails before the probes start.
    pub fn open(mut self) -> Result<RecordingEnricher, CaptureError> {
        self.writer.open_next()?;
        Ok(self)
    }
}

impl Enricher for RecordingEnricher {
    fn enrich(&mut self, batch: &mut Vec<Event>) {
        self.inner.enrich(batch);
        self.writer.write(batch);
    }

    fn tick(&mut self, out: &mut Vec<Event>) {
        let from = out.len();
        self.inner.tick(out);
        self.writer.write(&out[from..]);
    }

    fn held(&self) -> usize {
        self.inner.held()
    }

    fn finish(&mut self, out: &mut Vec<Event>) {
        let from = out.len();
        self.inner.finish(out);
        self.writer.write(&out[from..]);
        self.writer.finish();
    }

    fn tick_interval(&self) -> Duration {
        self.inner.tick_interval()
    }

    fn max_hold(&self) -> Duration {
        self.inner.max_hold()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine::stage::enrich::PassThrough;
    use peregrine_event::synth::{Generator, SynthConfig};

    #[test]
    fn taps_rotates_and_stops_at_the_limit() {
        let dir = std::env::temp_dir().join(format!("lt-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let mut e = RecordingEnricher::new(
            Box::new(PassThrough),
            &dir.join("r.cap"),
            "h".into(),
            Filters::default(),
            Limits {
                events: Some(900),
                rotate_bytes: Some(20_000),
                rotate_every: None,
            },
            done.clone(),
            recorded.clone(),
        )
        .open()
        .unwrap();
        let mut gen = Generator::new(SynthConfig::default());
        for _ in 0..10 {
            let mut batch: Vec<Event> = (&mut gen).take(100).collect();
            e.enrich(&mut batch);
            assert_eq!(batch.len(), 100, "the pipeline gets every event");
        }
        e.finish(&mut Vec::new());
        let r = recorded.lock().unwrap();
        assert_eq!(r.events, 900);
        assert!(done.load(Ordering::Relaxed));
        assert!(r.files.len() > 1, "{:?}", r.files);
        assert_eq!(r.files[1], dir.join("r.1.cap"));
        let read: usize = r
            .files
            .iter()
            .map(|f| crate::source::read_capture(f).unwrap().len())
            .sum();
        assert_eq!(read, 900);
    }

    #[test]
    fn filters_pick_events() {
        let f = Filters {
            event_types: vec!["execve".into()],
            ..Default::default()
        };
        let events: Vec<Event> = Generator::new(SynthConfig::default()).take(2000).collect();
        let kept = events.iter().filter(|e| f.admits(e)).count();
        assert!(kept > 0 && kept < 2000);
        assert!(events
            .iter()
            .filter(|e| f.admits(e))
            .all(|e| e.etype.name() == "execve"));
    }
}
