//! The output dispatcher: hands every alert batch to the destinations (`peregrine-outputs`)
//! without ever waiting on one. Each destination filters, buffers, batches, retries and
//! drops by its own policy on its own thread, so a slow or failing destination never slows
//! the rule shards down, and every alert it loses is counted.

use crate::stats::StageStats;
use crossbeam_channel::Receiver;
use peregrine_outputs::Outputs;
use peregrine_rules::Alert;
use std::sync::Arc;

pub(crate) fn dispatch(input: Receiver<Vec<Alert>>, outputs: Outputs, stats: Arc<StageStats>) {
    for batch in input {
        let n = batch.len();
        stats.received(n);
        outputs.offer(batch);
        stats.passed(n);
    }
    // The rule shards are done: let every destination drain within its drain time.
    outputs.close();
}
