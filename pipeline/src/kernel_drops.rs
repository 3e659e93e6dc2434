//! Events the kernel dropped before they reached the agent: counted beside the pipeline's
//! own drops (summary, `--stats-file`) and acted on as Falco's `syscall_event_drops` says
//! (log, a `Falco internal: syscall event drop` alert, or exit) when more than `threshold`
//! of a second's events were dropped, at most as often as its token bucket allows.

use crate::stats::StageSnapshot;
use peregrine_config::{DropAction, SyscallEventDrops};
use peregrine_outputs::Outputs;
use peregrine_rules::{Alert, AlertOptions, Priority};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The kernel's counters, summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelTotals {
    /// Records the probes tried to send.
    pub events: u64,
    /// Records dropped, by reason.
    pub drops: Vec<(&'static str, u64)>,
}

impl KernelTotals {
    pub fn dropped(&self) -> u64 {
        self.drops.iter().map(|(_, n)| n).sum()
    }

    /// As a stage: in = records attempted, out = records that reached the agent.
    pub fn snapshot(&self) -> StageSnapshot {
        let dropped = self.dropped();
        StageSnapshot {
            stage: "kernel".into(),
            received: self.events,
            passed: self.events.saturating_sub(dropped),
            dropped,
            dropped_by_reason: self
                .drops
                .iter()
                .map(|(r, n)| (r.to_string(), *n))
                .collect(),
            ..Default::default()
        }
    }
}

/// The latest totals, shared by the source thread (writer) and the pipeline's snapshots.
pub type SharedTotals = Arc<Mutex<Option<KernelTotals>>>;

pub const DROP_RULE: &str = "Falco internal: syscall event drop";

/// Watches the totals second by second and carries out `syscall_event_drops`.
pub struct DropMonitor {
    settings: SyscallEventDrops,
    outputs: Outputs,
    alert: AlertOptions,
    /// Set when an `exit` action asks the agent to stop.
    exit: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// The totals at the last look.
    last: Option<KernelTotals>,
    tokens: f64,
    refilled: Instant,
}

impl DropMonitor {
    pub fn new(
        settings: SyscallEventDrops,
        outputs: Outputs,
        alert: AlertOptions,
        stop: Arc<AtomicBool>,
        exit: Arc<AtomicBool>,
    ) -> DropMonitor {
        let tokens = settings.max_burst as f64;
        DropMonitor {
            settings,
            outputs,
            alert,
            exit,
            stop,
            last: None,
            tokens,
            refilled: Instant::now(),
        }
    }

    /// Looks at new totals; acts when the share dropped since the last look is over the
    /// threshold. Meant to be called about once a second.
    pub fn observe(&mut self, now: Instant, totals: &KernelTotals) {
        // The kernel's counters start at zero when the probes attach.
        let last = self.last.replace(totals.clone()).unwrap_or_default();
        let events = totals.events.saturating_sub(last.events);
        let drops = totals.dropped().saturating_sub(last.dropped());
        if drops == 0 || events == 0 || (drops as f64 / events as f64) <= self.settings.threshold {
            return;
        }
        // Token bucket: `rate` actions a second, at most `max_burst` saved up.
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens =
            (self.tokens + elapsed * self.settings.rate).min(self.settings.max_burst as f64);
        if self.tokens < 1.0 {
            return;
        }
        self.tokens -= 1.0;
        let by_reason: Vec<(&'static str, u64)> = totals
            .drops
            .iter()
            .map(|(r, n)| {
                let was = last
                    .drops
                    .iter()
                    .find(|(l, _)| l == r)
                    .map_or(0, |(_, n)| *n);
                (*r, n.saturating_sub(was))
            })
            .collect();
        for action in &self.settings.actions {
            match action {
                DropAction::Ignore => {}
                DropAction::Log => tracing::warn!(
                    "{DROP_RULE}. {drops} system calls dropped in last second \
                     (of {events}; {by_reason:?})"
                ),
                DropAction::Alert => {
                    self.outputs
                        .offer(vec![drop_alert(&self.alert, events, drops, &by_reason)])
                }
                DropAction::Exit => {
                    tracing::error!(
                        "{DROP_RULE}: {drops} of {events} system calls dropped in the last \
                         second; exiting (syscall_event_drops.actions: exit)"
                    );
                    self.exit.store(true, Ordering::Relaxed);
                    self.stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Falco's internal drop alert: source `internal`, priority Debug, fields as strings, no
/// tags.
fn drop_alert(
    opts: &AlertOptions,
    events: u64,
    drops: u64,
    by_reason: &[(&'static str, u64)],
) -> Alert {
    let message = format!("{DROP_RULE}. {drops} system calls dropped in last second.");
    let mut fields = serde_json::Map::new();
    fields.insert("n_evts".into(), events.to_string().into());
    fields.insert("n_drops".into(), drops.to_string().into());
    let buffer = by_reason
        .iter()
        .find(|(r, _)| *r == "buffer_full")
        .map_or(0, |(_, n)| *n);
    fields.insert("n_drops_buffer_total".into(), buffer.to_string().into());
    for (reason, n) in by_reason {
        fields.insert(format!("n_drops_{reason}"), n.to_string().into());
    }
    fields.insert("ebpf_enabled".into(), "1".into());
    internal_alert(opts, DROP_RULE, Priority::Debug, message, fields)
}

/// One of Falco's internal messages as an alert: source `internal`, no tags, text output
/// `<time>: <Priority> <msg> (k1=v1 …)` with the values JSON-encoded.
pub(crate) fn internal_alert(
    opts: &AlertOptions,
    rule: &str,
    priority: Priority,
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
) -> Alert {
    let time_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let time = if opts.time_iso8601 {
        peregrine_rules::timefmt::iso8601(time_ns)
    } else {
        peregrine_rules::timefmt::hms(time_ns, opts.utc_offset_secs)
    };
    let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let output = format!("{time}: {priority} {message} ({})", pairs.join(" "));
    Alert {
        time_ns,
        rule: Arc::from(rule),
        priority,
        source: Arc::from("internal"),
        tags: Arc::from(Vec::<String>::new()),
        hostname: opts.hostname.clone(),
        message,
        output,
        output_fields: fields,
    }
}

/// How often the source thread looks at the kernel's counters.
pub const EVERY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(actions: Vec<DropAction>, threshold: f64) -> (DropMonitor, Arc<AtomicBool>) {
        let cfg =
            peregrine_config::load_str("t.yaml", "stdout_output: {enabled: false}\n", &[]).unwrap();
        let outputs = peregrine_outputs::from_config(&cfg, false).unwrap();
        let exit = Arc::new(AtomicBool::new(false));
        let settings = SyscallEventDrops {
            threshold,
            actions,
            rate: 1.0,
            max_burst: 1,
            ..Default::default()
        };
        let m = DropMonitor::new(
            settings,
            outputs,
            AlertOptions::default(),
            Arc::new(AtomicBool::new(false)),
            exit.clone(),
        );
        (m, exit)
    }

    fn totals(events: u64, drops: u64) -> KernelTotals {
        KernelTotals {
            events,
            drops: vec![("buffer_full", drops), ("scratch", 0)],
        }
    }

    #[test]
    fn acts_over_the_threshold_within_the_token_bucket() {
        let (mut m, exit) = monitor(vec![DropAction::Exit], 0.1);
        let t0 = Instant::now();
        // 5 % dropped in the first second: under the threshold.
        m.observe(t0, &totals(1000, 50));
        assert!(!exit.load(Ordering::Relaxed));
        // Then 50 %: over it.
        m.observe(t0 + EVERY, &totals(2000, 550));
        assert!(exit.load(Ordering::Relaxed));
    }

    #[test]
    fn the_token_bucket_limits_how_often() {
        let (mut m, exit) = monitor(vec![DropAction::Exit], 0.0);
        let t0 = Instant::now();
        m.observe(t0, &totals(100, 10));
        assert!(exit.swap(false, Ordering::Relaxed), "the first burst token");
        // Half a second later: no token yet (rate 1/s).
        m.observe(t0 + EVERY / 2, &totals(200, 20));
        assert!(!exit.load(Ordering::Relaxed));
        m.observe(t0 + EVERY * 2, &totals(300, 30));
        assert!(exit.load(Ordering::Relaxed), "a token again after a second");
    }

    #[test]
    fn drop_alert_has_falcos_shape() {
        let a = drop_alert(
            &AlertOptions::default(),
            1000,
            300,
            &[("buffer_full", 300), ("scratch", 0)],
        );
        assert_eq!(&*a.rule, DROP_RULE);
        assert_eq!(a.output_fields["n_drops"], "300");
        assert_eq!(a.output_fields["n_drops_buffer_total"], "300");
        assert_eq!(a.output_fields["n_evts"], "1000");
        assert!(
            a.output.ends_with(
                "Debug Falco internal: syscall event drop. 300 system calls dropped in last second. (ebpf_enabled=\"1\" n_drops=\"300\" n_drops_buffer_full=\"300\" n_drops_buffer_total=\"300\" n_drops_scratch=\"0\" n_evts=\"1000\")"
            ),
            "{}",
            a.output
        );
        let json = a.to_json(&peregrine_rules::JsonOptions::default());
        assert!(json.get("tags").is_none(), "{json}");
        assert_eq!(json["source"], "internal");
    }
}
