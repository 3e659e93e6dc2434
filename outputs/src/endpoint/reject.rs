//! Junk requests cost a counter increment and, at most once per [`super::LOG_INTERVAL`], a
//! warning that says how many more were rejected since the last one.

use peregrine_event::ratelimit::RateLimit;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

/// The rejections of one listener: `metric{reason}` counts them; the warning names the
/// listener (`what`).
#[derive(Debug)]
pub struct Rejections {
    metric: &'static str,
    what: &'static str,
    log: Mutex<RateLimit>,
}

impl Rejections {
    /// `metric` is a Prometheus counter name (`peregrine_input_rejected_total`), `what` the
    /// listener as the log names it (`sidekick input`).
    pub fn new(metric: &'static str, what: &'static str) -> Self {
        Rejections {
            metric,
            what,
            log: Mutex::new(RateLimit::default()),
        }
    }

    /// Counts one rejected request or connection; `detail` is only built when logged.
    pub fn reject(
        &self,
        reason: &'static str,
        peer: Option<SocketAddr>,
        detail: impl FnOnce() -> String,
    ) {
        metrics::counter!(self.metric, "reason" => reason).increment(1);
        let admitted = self
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(Instant::now());
        if let Some(held) = admitted {
            let from = peer.map_or_else(String::new, |p| format!(" from {p}"));
            tracing::warn!(
                "{}: rejected a request{from} ({reason}: {}); {held} more rejected since the \
                 last such message (counted in {}, one message per {}s at most)",
                self.what,
                detail(),
                self.metric,
                super::LOG_INTERVAL.as_secs()
            );
        }
    }
}
