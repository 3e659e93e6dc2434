//! Replays a capture file. Records that do not decode are skipped and counted (their
//! warnings rate-limited) and fail the run once the rest is replayed; a truncated or
//! unreadable file ends the replay. Either way the failure, with how far the replay got, is
//! left in [`ReplayFailure`] so the agent exits non-zero.

use super::{Pacer, Pull, Source};
use crate::capture::{CaptureError, CaptureReader};
use peregrine_event::ratelimit::RateLimit;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a replay stopped before the end of its file, once it has.
pub type ReplayFailure = Arc<Mutex<Option<String>>>;

pub struct ReplaySource {
    reader: CaptureReader,
    pacer: Pacer,
    malformed: u64,
    replayed: u64,
    failure: ReplayFailure,
    /// Where the first skipped record starts and why it did not decode.
    first_skipped: Option<String>,
    /// Warnings about skipped records, at most one per interval.
    warn: RateLimit,
}

impl ReplaySource {
    pub fn open(path: &Path, rate: Option<u64>) -> Result<ReplaySource, CaptureError> {
        Ok(ReplaySource {
            reader: CaptureReader::open(path)?,
            pacer: Pacer::new(rate),
            malformed: 0,
            replayed: 0,
            failure: ReplayFailure::default(),
            first_skipped: None,
            warn: RateLimit::default(),
        })
    }

    /// Where the failure that ended the replay early is left.
    pub fn failure(&self) -> ReplayFailure {
        self.failure.clone()
    }

    /// Keeps the first reason the replay failed.
    fn fail(&self, why: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert(why);
    }

    fn skipped(&mut self, e: &CaptureError) {
        self.malformed += 1;
        self.first_skipped.get_or_insert_with(|| e.to_string());
        if let Some(held) = self.warn.admit(Instant::now()) {
            tracing::warn!(
                skipped_since_last_warning = held + 1,
                "skipping capture records that do not decode; the last: {e}"
            );
        }
    }
}

impl Source for ReplaySource {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn pull(&mut self, max: usize, wait: Duration) -> Pull {
        let n = self.pacer.allow(max, wait);
        if n == 0 {
            return Pull::Idle;
        }
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            match self.reader.next_event() {
                Some(Ok(ev)) => {
                    self.replayed += 1;
                    batch.push(ev);
                }
                Some(Err(e)) if e.is_skippable() => self.skipped(&e),
                Some(Err(e)) => {
                    let why = format!(
                        "the capture was not replayed to its end: {e} (after {} events replayed, {} records skipped)",
                        self.replayed, self.malformed
                    );
                    tracing::error!("capture replay stopped: {why}");
                    self.fail(why);
                    break;
                }
                None => {
                    if let Some(first) = &self.first_skipped {
                        let why = format!(
                            "the capture was not replayed whole: {} records did not decode and were skipped ({} events replayed); the first: {first}",
                            self.malformed, self.replayed
                        );
                        self.fail(why);
                    }
                    break;
                }
            }
        }
        if batch.is_empty() {
            Pull::End
        } else {
            Pull::Batch(batch)
        }
    }

    fn malformed(&self) -> u64 {
        self.malformed
    }
}
