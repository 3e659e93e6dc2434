//! Replays a capture file. Records that do not decode are skipped and counted; a truncated
//! file ends the replay with an error in the log.

use super::{Pacer, Pull, Source};
use crate::capture::{CaptureError, CaptureReader};
use std::path::Path;
use std::time::Duration;

pub struct ReplaySource {
    reader: CaptureReader,
    pacer: Pacer,
    malformed: u64,
}

impl ReplaySource {
    pub fn open(path: &Path, rate: Option<u64>) -> Result<ReplaySource, CaptureError> {
        Ok(ReplaySource {
            reader: CaptureReader::open(path)?,
            pacer: Pacer::new(rate),
            malformed: 0,
        })
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
                Some(Ok(ev)) => batch.push(ev),
                Some(Err(e)) if e.is_skippable() => {
                    self.malformed += 1;
                    tracing::warn!("skipping capture record: {e}");
                }
                Some(Err(e)) => {
                    tracing::error!("capture replay stopped: {e}");
                    break;
                }
                None => break,
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
