//! Bounded label values. Container names, rule names and Kubernetes names come from the
//! workload, so each such label keeps at most `metrics.max_label_values` distinct values;
//! later ones are counted under [`OVERFLOW`] (and in `peregrine_label_overflow_total`),
//! never dropped, so sums over the label stay exact.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The value counted for label values beyond the cap.
pub const OVERFLOW: &str = "_overflow";

/// The default cap per label (config `metrics.max_label_values`).
pub const DEFAULT_LIMIT: usize = 1000;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_LIMIT);

/// Sets the cap for every capped label (at start, from the config).
pub fn set_limit(limit: usize) {
    LIMIT.store(limit, Ordering::Relaxed);
}

/// The distinct values one label has been given so far.
pub struct LabelCap {
    label: &'static str,
    limit: usize,
    seen: Mutex<HashSet<String>>,
}

impl LabelCap {
    pub fn new(label: &'static str, limit: usize) -> LabelCap {
        LabelCap {
            label,
            limit,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// `value` if it is known or there is room for it, else [`OVERFLOW`].
    pub fn admit(&self, value: &str) -> String {
        let limit = self.limit;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(value) {
            return value.to_string();
        }
        if seen.len() < limit {
            seen.insert(value.to_string());
            return value.to_string();
        }
        drop(seen);
        metrics::counter!("peregrine_label_overflow_total", "label" => self.label).increment(1);
        OVERFLOW.to_string()
    }

    /// Distinct values admitted so far.
    pub fn len(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The capped labels of the alert counters.
pub struct Caps {
    pub container_name: LabelCap,
    pub rule: LabelCap,
    pub k8s_ns_name: LabelCap,
    pub k8s_pod_name: LabelCap,
}

impl Caps {
    pub fn new(limit: usize) -> Caps {
        Caps {
            container_name: LabelCap::new("container_name", limit),
            rule: LabelCap::new("rule", limit),
            k8s_ns_name: LabelCap::new("k8s_ns_name", limit),
            k8s_pod_name: LabelCap::new("k8s_pod_name", limit),
        }
    }
}

/// The process-wide caps (label values are per process, as the registry is), with the
/// limit [`set_limit`] gave before their first use.
pub fn caps() -> &'static Caps {
    static CAPS: OnceLock<Caps> = OnceLock::new();
    CAPS.get_or_init(|| Caps::new(LIMIT.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_beyond_the_cap_share_the_overflow_value() {
        let limit = 50;
        let cap = LabelCap::new("test", limit);
        for i in 0..limit {
            assert_eq!(cap.admit(&format!("c{i}")), format!("c{i}"));
        }
        assert_eq!(cap.admit("one more"), OVERFLOW);
        // Known values keep their own series.
        assert_eq!(cap.admit("c0"), "c0");
        assert_eq!(cap.len(), limit);
    }
}
