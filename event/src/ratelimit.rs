//! Rate limiting for warnings about bad input (kernel records, capture records, rejected
//! requests): a flood of them must not flood the log.

use std::time::{Duration, Instant};

/// At most one warning per this interval after the first.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Lets the first occurrence through, then at most one per [`INTERVAL`], carrying how many
/// occurrences were held back since the last one let through.
#[derive(Debug, Default)]
pub struct RateLimit {
    last: Option<Instant>,
    held: u64,
}

impl RateLimit {
    /// `Some(held back since the last)` when this occurrence should be logged at `now`.
    pub fn admit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < INTERVAL => {
                self.held += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_one_per_interval_with_the_count_since() {
        let t0 = Instant::now();
        let mut r = RateLimit::default();
        assert_eq!(r.admit(t0), Some(0));
        for k in 1..=5 {
            assert_eq!(r.admit(t0 + Duration::from_secs(k)), None);
        }
        assert_eq!(r.admit(t0 + INTERVAL), Some(5));
        assert_eq!(r.admit(t0 + INTERVAL + Duration::from_secs(1)), None);
        assert_eq!(r.admit(t0 + INTERVAL * 3), Some(1));
    }
}
