//! Opt-in rate limit: an alert identical to one of the same rule sent within the window
//! (same rule, priority and rendered message, the event time aside) is suppressed and
//! counted. Only hashes are kept, and at most [`MAX_KEYS`] of them: past that, expired keys
//! are swept, and if the map is still full new keys pass unsuppressed rather than grow it.

use peregrine_rules::Alert;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

/// How many distinct alerts one destination remembers.
pub const MAX_KEYS: usize = 65_536;

pub(crate) struct Dedup {
    window: Duration,
    seen: HashMap<u64, Instant>,
    hasher: std::collections::hash_map::RandomState,
}

impl Dedup {
    pub fn new(window: Duration) -> Dedup {
        Dedup {
            window,
            seen: HashMap::new(),
            hasher: Default::default(),
        }
    }

    fn key(&self, a: &Alert) -> u64 {
        let mut h = self.hasher.build_hasher();
        a.rule.hash(&mut h);
        (a.priority as u8).hash(&mut h);
        a.message.hash(&mut h);
        h.finish()
    }

    /// Whether `a` repeats an alert let through less than a window ago; if not, it is
    /// remembered from `now`.
    pub fn is_duplicate(&mut self, a: &Alert, now: Instant) -> bool {
        let key = self.key(a);
        if let Some(first) = self.seen.get_mut(&key) {
            if now.duration_since(*first) < self.window {
                return true;
            }
            *first = now;
            return false;
        }
        if self.seen.len() >= MAX_KEYS {
            let window = self.window;
            self.seen.retain(|_, t| now.duration_since(*t) < window);
            if self.seen.len() >= MAX_KEYS {
                return false;
            }
        }
        self.seen.insert(key, now);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_rules::Priority;
    use std::sync::Arc;

    fn alert(rule: &str, message: &str, time_ns: u64) -> Alert {
        Alert {
            time_ns,
            rule: Arc::from(rule),
            priority: Priority::Warning,
            source: Arc::from("syscall"),
            tags: Arc::from(Vec::new()),
            hostname: Arc::from("h"),
            message: message.into(),
            output: format!("{time_ns}: Warning {message}"),
            output_fields: Default::default(),
        }
    }

    #[test]
    fn identical_alerts_within_the_window_are_suppressed() {
        let mut d = Dedup::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(!d.is_duplicate(&alert("r", "cat /etc/shadow", 1), t0));
        assert!(d.is_duplicate(
            &alert("r", "cat /etc/shadow", 2),
            t0 + Duration::from_secs(1)
        ));
        assert!(!d.is_duplicate(&alert("r", "cat /etc/passwd", 3), t0));
        assert!(!d.is_duplicate(&alert("other", "cat /etc/shadow", 4), t0));
        assert!(!d.is_duplicate(
            &alert("r", "cat /etc/shadow", 5),
            t0 + Duration::from_secs(10)
        ));
        assert!(d.is_duplicate(
            &alert("r", "cat /etc/shadow", 6),
            t0 + Duration::from_secs(11)
        ));
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = Dedup::new(Duration::from_secs(3600));
        let t0 = Instant::now();
        for i in 0..MAX_KEYS + 10 {
            d.is_duplicate(&alert("r", &i.to_string(), 0), t0);
        }
        assert_eq!(d.seen.len(), MAX_KEYS);
        // Full of live keys: new alerts pass rather than grow the map.
        assert!(!d.is_duplicate(&alert("r", "new", 0), t0));
        assert!(!d.is_duplicate(&alert("r", "new", 0), t0));
    }
}
