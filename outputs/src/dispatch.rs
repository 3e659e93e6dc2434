//! The dispatcher's side: [`Outputs`] hands each alert batch to every destination's buffer
//! without waiting (filters and overflow policy apply there), and owns the destination
//! threads, their counters and their metrics.

use crate::buffer::{Buffer, DestinationSnapshot, DropReason, Policy};
use crate::error::OutputError;
use crate::record::Record;
use crate::worker::{self, Deliver, Factory, Pace};
use peregrine_config::Common;
use peregrine_rules::Alert;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long past its drain deadline a destination's thread may take to end before shutdown
/// leaves it behind (a write stuck in the kernel, a writer that ignores its deadline).
pub const DRAIN_MARGIN: Duration = Duration::from_millis(500);

/// All configured destinations. Cheap to clone; every clone feeds the same destinations
/// (the pipeline's dispatcher and the sidekick HTTP input share one).
#[derive(Clone)]
pub struct Outputs {
    inner: Arc<Inner>,
}

struct Inner {
    buffers: Vec<Arc<Buffer>>,
    threads: Mutex<Vec<(String, JoinHandle<()>)>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for b in &self.buffers {
            b.close();
        }
    }
}

fn overran(b: &Buffer, now: Instant) -> bool {
    b.drain_deadline().is_some_and(|d| now >= d + DRAIN_MARGIN)
}

/// Starts destinations one by one; each gets its thread as it is added.
#[derive(Default)]
pub struct OutputsBuilder {
    buffers: Vec<Arc<Buffer>>,
    threads: Vec<(String, JoinHandle<()>)>,
}

impl Drop for OutputsBuilder {
    fn drop(&mut self) {
        // Abandoned half-way (a later destination failed): stop the ones started.
        for b in &self.buffers {
            b.close();
        }
    }
}

impl OutputsBuilder {
    pub fn new() -> OutputsBuilder {
        OutputsBuilder::default()
    }

    /// Starts destination `name` with `settings`; `factory` builds its writer on the
    /// destination's own thread (again after a panic).
    pub fn add<D: Deliver>(
        &mut self,
        name: &str,
        settings: &Common,
        factory: Factory<D>,
    ) -> Result<&mut Self, OutputError> {
        if self.buffers.iter().any(|b| &*b.name == name) {
            return Err(OutputError::Duplicate(name.to_string()));
        }
        let d = &settings.delivery;
        let buf = Buffer::new(
            name,
            Policy {
                capacity: d.buffersize.max(1),
                overflow: d.overflow,
                minimum: settings.minimumpriority,
                max_retries: d.maxretries,
                drain: d.draintimeout,
            },
            d.dedupwindow,
        );
        let pace = Pace {
            batch: d.batchsize.max(1),
            linger: d.flushinterval,
            timeout: d.timeout,
            backoff: d.backoff,
            max_backoff: d.maxbackoff.max(d.backoff),
        };
        let b = buf.clone();
        let thread = format!("output.{name}");
        let handle = std::thread::Builder::new()
            .name(thread.clone())
            .spawn(move || match actix_rt::Runtime::new() {
                Ok(rt) => rt.block_on(worker::run(b, pace, factory)),
                Err(e) => {
                    tracing::error!(destination = &*b.name, "no runtime: {e}");
                    b.close();
                    b.abandon();
                }
            })
            .map_err(|source| OutputError::Thread {
                name: name.to_string(),
                source,
            })?;
        self.buffers.push(buf);
        self.threads.push((thread, handle));
        Ok(self)
    }

    pub fn build(mut self) -> Outputs {
        Outputs {
            inner: Arc::new(Inner {
                buffers: std::mem::take(&mut self.buffers),
                threads: Mutex::new(std::mem::take(&mut self.threads)),
            }),
        }
    }
}

impl Outputs {
    /// No destinations at all.
    pub fn none() -> Outputs {
        OutputsBuilder::new().build()
    }

    /// The destinations' names, in the order they were added.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .buffers
            .iter()
            .map(|b| b.name.to_string())
            .collect()
    }

    /// Hands a batch to every destination. Never blocks on a destination: each buffer
    /// filters, deduplicates and drops by its own policy, and counts all of it.
    pub fn offer(&self, alerts: Vec<Alert>) {
        if alerts.is_empty() {
            return;
        }
        let records: Vec<Arc<Record>> = alerts.into_iter().map(Record::shared).collect();
        self.offer_records(&records);
    }

    pub fn offer_records(&self, records: &[Arc<Record>]) {
        for b in &self.inner.buffers {
            b.offer(records);
        }
    }

    /// Counters of every destination.
    pub fn snapshot(&self) -> Vec<DestinationSnapshot> {
        self.inner.buffers.iter().map(|b| b.snapshot()).collect()
    }

    /// No more alerts: each destination delivers what it holds within its drain time.
    pub fn close(&self) {
        for b in &self.inner.buffers {
            b.close();
        }
    }

    /// Whether every destination thread has ended or overran its drain deadline by
    /// [`DRAIN_MARGIN`] (shutdown does not wait for it).
    pub fn is_finished(&self) -> bool {
        let now = Instant::now();
        let threads = self.inner.threads.lock().unwrap_or_else(|e| e.into_inner());
        threads
            .iter()
            .zip(&self.inner.buffers)
            .all(|((_, h), b)| h.is_finished() || overran(b, now))
    }

    /// Closes, waits for every destination to drain (or give up) and returns the counters.
    /// A thread still running [`DRAIN_MARGIN`] past its drain deadline is left behind,
    /// what it held counted as dropped for `shutdown`.
    pub fn join(&self) -> Vec<DestinationSnapshot> {
        self.close();
        let threads =
            std::mem::take(&mut *self.inner.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for ((name, h), b) in threads.into_iter().zip(&self.inner.buffers) {
            while !h.is_finished() && !overran(b, Instant::now()) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !h.is_finished() {
                tracing::error!(
                    "destination thread {name} did not end within its drain time: left behind"
                );
                b.halt();
            } else if h.join().is_err() {
                tracing::error!("destination thread {name} panicked");
            }
        }
        self.snapshot()
    }

    /// Folds the counters into the `metrics` registry: `falco_outputs_total{destination,
    /// status=ok|error}` (as falcosidekick's `falcosecurity_falcosidekick_outputs_total`,
    /// also exported under that name), and Peregrine's per-destination queue depth,
    /// capacity, drops by reason, filtered alerts and restarts.
    pub fn export_metrics(&self) {
        let snapshot = self.snapshot();
        // Falco's one outputs-queue drop counter: every destination's drops together.
        let all_drops: u64 = snapshot
            .iter()
            .map(|s| {
                DropReason::ALL
                    .iter()
                    .map(|&r| s.dropped_for(r))
                    .sum::<u64>()
            })
            .sum();
        metrics::counter!("falcosecurity_falco_outputs_queue_num_drops_total").absolute(all_drops);
        for s in snapshot {
            let d = s.destination.clone();
            for (name, status, v) in [
                ("falco_outputs_total", "ok", s.sent),
                ("falco_outputs_total", "error", s.failed_attempts),
                ("falcosecurity_falcosidekick_outputs_total", "ok", s.sent),
                (
                    "falcosecurity_falcosidekick_outputs_total",
                    "error",
                    s.failed_attempts,
                ),
            ] {
                metrics::counter!(name, "destination" => d.clone(), "status" => status).absolute(v);
            }
            for r in DropReason::ALL {
                metrics::counter!("peregrine_output_dropped_total", "destination" => d.clone(), "reason" => r.as_str())
                    .absolute(s.dropped_for(r));
            }
            metrics::counter!("peregrine_output_filtered_total", "destination" => d.clone(), "reason" => "priority")
                .absolute(s.filtered);
            metrics::counter!("peregrine_output_filtered_total", "destination" => d.clone(), "reason" => "dedup")
                .absolute(s.deduplicated);
            metrics::counter!("peregrine_output_received_total", "destination" => d.clone())
                .absolute(s.received);
            metrics::counter!("peregrine_output_restarts_total", "destination" => d.clone())
                .absolute(s.restarts);
            metrics::gauge!("peregrine_output_queue_depth_alerts", "destination" => d.clone())
                .set(s.pending as f64);
            metrics::gauge!("peregrine_output_queue_capacity_alerts", "destination" => d)
                .set(s.capacity as f64);
        }
    }
}
