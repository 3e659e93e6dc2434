//! Outputs: a dispatcher hands every alert batch to each sink's own queue; each sink writes
//! on its own thread, so a slow or failing sink only affects itself (or, under `block`,
//! slows the pipeline down without losing alerts).

use crate::queue::{EdgeSender, SendOutcome};
use crate::sink::Sink;
use crate::stats::{DropReason, StageStats};
use crossbeam_channel::Receiver;
use peregrine_rules::Alert;
use std::sync::Arc;

/// A sink's queue and its counters, as the dispatcher feeds it.
pub(crate) type SinkFeed = (EdgeSender<Arc<Vec<Alert>>>, Arc<StageStats>);

pub(crate) fn dispatch(input: Receiver<Vec<Alert>>, sinks: Vec<SinkFeed>, stats: Arc<StageStats>) {
    for batch in input {
        let n = batch.len();
        stats.received(n);
        let batch = Arc::new(batch);
        for (tx, sink_stats) in &sinks {
            sink_stats.received(n);
            match tx.send(batch.clone()) {
                SendOutcome::Sent => {}
                SendOutcome::Dropped => sink_stats.dropped(DropReason::QueueFull, n),
                SendOutcome::Closed => sink_stats.dropped(DropReason::StageFailure, n),
            }
        }
        stats.passed(n);
    }
}

pub(crate) fn run_sink(
    input: Receiver<Arc<Vec<Alert>>>,
    mut sink: Box<dyn Sink>,
    stats: Arc<StageStats>,
) {
    for batch in input {
        let n = batch.len();
        // A panicking sink loses this batch (counted) and keeps serving the next ones.
        super::guarded(&stats, n, || match sink.write(&batch) {
            Ok(()) => stats.passed(n),
            Err(e) => {
                tracing::error!(sink = sink.name(), "could not write {n} alerts: {e}");
                stats.dropped(DropReason::WriteError, n);
            }
        });
    }
    if let Err(e) = sink.flush() {
        tracing::error!(sink = sink.name(), "flush failed: {e}");
    }
}
