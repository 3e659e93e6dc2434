//! The stage threads. Each loops over its input queue; a panic while handling one batch is
//! caught, counted as a restart (the batch's events as `stage_failure` drops) and the stage
//! goes on with fresh state, so one bad event never stops detection.

pub mod enrich;
pub mod output;
pub mod rules;
pub mod source;

use crate::stats::{DropReason, StageStats};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `work` on one batch of `n` events; on a panic, counts the batch as dropped and
/// returns `false` so the caller resets its state.
pub(crate) fn guarded(stats: &StageStats, n: usize, work: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(()) => true,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(
                stage = &*stats.name,
                "stage failed on a batch of {n} events and was restarted: {what}"
            );
            stats.dropped(DropReason::StageFailure, n);
            stats.restarted();
            false
        }
    }
}
