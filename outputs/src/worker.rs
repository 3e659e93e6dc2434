//! The output actor: one thread per destination, running its own single-threaded async
//! runtime. It takes batches from the destination's buffer, delivers them request by
//! request under a timeout, and on failure puts the rest back for a retry after an
//! exponential backoff with jitter. A panicking writer is rebuilt from its factory.

use crate::buffer::{Buffer, Entry};
use crate::record::Record;
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why one delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// Worth trying again (timeouts, refused connections, 5xx, 408, 429).
    pub retryable: bool,
    /// The destination asked for this pause (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl DeliveryError {
    pub fn retry(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            message: message.into(),
            retryable: true,
            retry_after: None,
        }
    }

    pub fn reject(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            message: message.into(),
            retryable: false,
            retry_after: None,
        }
    }
}

/// A destination's writer. Lives on the destination's own thread (it need not be `Send`).
pub trait Deliver: 'static {
    /// Sends one request (a write, a datagram, an HTTP request) carrying a prefix of
    /// `batch`, which is never empty; returns how many alerts it carried (at least one).
    fn deliver(
        &mut self,
        batch: &[Arc<Record>],
    ) -> impl Future<Output = Result<usize, DeliveryError>>;

    /// The most alerts one request carries (`None`: the whole batch), so that a failed
    /// request charges an attempt to the alerts it carried and not to those behind them.
    fn per_request(&self) -> Option<usize> {
        None
    }

    /// Called once the buffer is drained at shutdown; cut short at the drain deadline,
    /// after which the writer is dropped.
    fn finish(&mut self) -> impl Future<Output = ()> {
        async {}
    }

    /// How many times the writer restarted what it writes to (a program that died).
    fn restarts(&self) -> u64 {
        0
    }
}

/// Batching, timeout and retry settings of one worker.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pace {
    pub batch: usize,
    pub linger: Duration,
    pub timeout: Duration,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// The pause before retry number `failures` (1-based): `backoff · 2^(failures-1)` capped at
/// `max`, then scaled by a random factor in [0.5, 1) so that many agents restarting a
/// destination together do not retry in step; at least what the destination asked for.
pub fn backoff_delay(
    failures: u32,
    base: Duration,
    max: Duration,
    asked: Option<Duration>,
) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exp).min(max);
    let jittered = raw.mul_f64(0.5 + fastrand::f64() * 0.5);
    match asked {
        Some(a) => jittered.max(a.min(max.max(Duration::from_secs(300)))),
        None => jittered,
    }
}

/// Builds the writer on the destination's thread (and again after a panic).
pub type Factory<D> = Box<dyn FnMut() -> Result<D, String> + Send>;

pub(crate) async fn run<D: Deliver>(buf: Arc<Buffer>, pace: Pace, mut make: Factory<D>) {
    let mut writer: Option<D> = None;
    let mut failures: u32 = 0;
    while let Some(mut batch) = buf.next_batch(pace.batch, pace.linger).await {
        while !batch.is_empty() {
            let mut timeout = pace.timeout;
            if let Some(deadline) = buf.drain_deadline() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    buf.give_up(std::mem::take(&mut batch));
                    buf.abandon();
                    break;
                }
                timeout = timeout.min(left);
            }
            let result = attempt(&buf, &mut writer, &mut make, &batch, timeout).await;
            match result {
                Ok(n) => {
                    let n = n.clamp(1, batch.len());
                    batch.drain(..n);
                    buf.delivered(n);
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(
                        destination = &*buf.name,
                        "delivery of {} alerts failed ({}): {}",
                        batch.len(),
                        if e.retryable { "will retry" } else { "dropped" },
                        e.message
                    );
                    let tried = writer
                        .as_ref()
                        .and_then(Deliver::per_request)
                        .map_or(batch.len(), |n| n.clamp(1, batch.len()));
                    buf.failed(std::mem::take(&mut batch), tried, e.retryable);
                    if e.retryable {
                        let pause =
                            backoff_delay(failures, pace.backoff, pace.max_backoff, e.retry_after);
                        pause_until(&buf, pause).await;
                    }
                }
            }
        }
    }
    if let Some(w) = writer.as_mut() {
        let left = buf.drain_deadline().map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(Instant::now())
        });
        if tokio::time::timeout(left, w.finish()).await.is_err() {
            tracing::warn!(
                destination = &*buf.name,
                "drain time ran out while finishing"
            );
        }
    }
}

/// Sleeps `pause`, cut short by the drain deadline; past it, whatever is left is dropped.
async fn pause_until(buf: &Buffer, pause: Duration) {
    let until = Instant::now() + pause;
    // Closing can happen during the pause: look at the deadline now and then.
    loop {
        let now = Instant::now();
        let mut end = until;
        if let Some(deadline) = buf.drain_deadline() {
            if now >= deadline {
                buf.abandon();
                return;
            }
            end = end.min(deadline);
        }
        if now >= end {
            return;
        }
        tokio::time::sleep((end - now).min(Duration::from_millis(200))).await;
    }
}

async fn attempt<D: Deliver>(
    buf: &Buffer,
    writer: &mut Option<D>,
    make: &mut Factory<D>,
    batch: &[Entry],
    timeout: Duration,
) -> Result<usize, DeliveryError> {
    if writer.is_none() {
        match catch(&mut *make) {
            Ok(Ok(w)) => *writer = Some(w),
            Ok(Err(e)) => return Err(DeliveryError::retry(format!("cannot start: {e}"))),
            Err(panic) => return Err(DeliveryError::retry(format!("start panicked: {panic}"))),
        }
    }
    let Some(w) = writer.as_mut() else {
        return Err(DeliveryError::retry("no writer"));
    };
    let records: Vec<Arc<Record>> = batch.iter().map(|e| e.record.clone()).collect();
    let restarts_before = w.restarts();
    let fut = AssertUnwindSafe(w.deliver(&records)).catch_unwind();
    // Shutdown can begin during the attempt: its drain deadline cuts it short too.
    let outcome = tokio::select! {
        o = tokio::time::timeout(timeout, fut) => o,
        _ = until_drain_deadline(buf) => {
            return Err(DeliveryError::retry("the drain time ran out"));
        }
    };
    if let Some(w) = writer.as_ref() {
        for _ in restarts_before..w.restarts() {
            buf.restarted();
        }
    }
    match outcome {
        Err(_) => Err(DeliveryError::retry(format!(
            "timed out after {}ms",
            timeout.as_millis()
        ))),
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => {
            *writer = None;
            buf.restarted();
            Err(DeliveryError::retry(format!(
                "writer panicked and was rebuilt: {}",
                panic_text(&panic)
            )))
        }
    }
}

/// Resolves once the buffer is closed and its drain time is over.
async fn until_drain_deadline(buf: &Buffer) {
    loop {
        match buf.drain_deadline() {
            Some(d) => {
                tokio::time::sleep_until(d.into()).await;
                return;
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_text(&p))
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for _ in 0..100 {
            let d1 = backoff_delay(1, base, max, None);
            assert!(d1 >= Duration::from_millis(50) && d1 < base, "{d1:?}");
            let d3 = backoff_delay(3, base, max, None);
            assert!(d3 >= Duration::from_millis(200) && d3 < Duration::from_millis(400));
            let d20 = backoff_delay(20, base, max, None);
            assert!(d20 >= Duration::from_millis(500) && d20 < max);
        }
        let asked = backoff_delay(1, base, max, Some(Duration::from_secs(2)));
        assert_eq!(asked, Duration::from_secs(2), "Retry-After is honoured");
    }
}
