//! A rule shard: evaluates its events against the shared ruleset and emits alerts.

use crate::queue::{EdgeSender, SendOutcome};
use crate::rules_handle::RulesHandle;
use crate::stats::{DropReason, StageStats};
use crossbeam_channel::Receiver;
use peregrine_event::Event;
use peregrine_rules::{Alert, AlertOptions, RuleMatching};
use std::sync::Arc;

pub(crate) struct ShardContext {
    pub rules: Arc<RulesHandle>,
    pub matching: RuleMatching,
    pub alert: AlertOptions,
    /// Events of this container are not evaluated (counted as filtered).
    pub own_container: Option<peregrine_enrich::own::OwnContainer>,
    pub alert_tap: Option<crate::pipeline::AlertTap>,
}

/// The counters one kind of alert increments: handles found once per (rule, priority,
/// source, container, host), so counting an alert is three atomic adds, not three registry
/// lookups with freshly built label sets.
struct AlertCounters {
    events: metrics::Counter,
    matches: Option<metrics::Counter>,
    sidekick: metrics::Counter,
    /// What the key's pointers point to, kept alive so no other value reuses them.
    _keep: (
        Arc<str>,
        Arc<str>,
        Arc<str>,
        Option<Arc<peregrine_event::ContainerInfo>>,
    ),
}

/// Pointers of the rule, source, host name and container snapshot, and the priority.
type AlertKey = (usize, usize, usize, usize, u8);

/// Counts alerts the way the seed's dashboards, Falco and Falcosidekick query them. Label
/// values that come from the workload are capped (see `telemetry::labels`).
struct AlertCounting<'a> {
    caps: &'a crate::telemetry::labels::Caps,
    cache: std::collections::HashMap<AlertKey, AlertCounters>,
}

/// Entries kept before the cache starts over (reloads and container churn make new keys).
const ALERT_COUNTERS_MAX: usize = 4096;

impl<'a> AlertCounting<'a> {
    fn new(caps: &'a crate::telemetry::labels::Caps) -> Self {
        AlertCounting {
            caps,
            cache: Default::default(),
        }
    }

    fn count(&mut self, a: &Alert, ev: &Event) {
        let ptr = |s: &Arc<str>| Arc::as_ptr(s) as *const u8 as usize;
        let key = (
            ptr(&a.rule),
            ptr(&a.source),
            ptr(&a.hostname),
            ev.container.as_ref().map_or(0, |c| Arc::as_ptr(c) as usize),
            a.priority as u8,
        );
        if !self.cache.contains_key(&key) {
            if self.cache.len() >= ALERT_COUNTERS_MAX {
                self.cache.clear();
            }
            let counters = self.counters(a, ev);
            self.cache.insert(key, counters);
        }
        let c = &self.cache[&key];
        c.events.increment(1);
        if let Some(m) = &c.matches {
            m.increment(1);
        }
        c.sidekick.increment(1);
    }

    fn counters(&self, a: &Alert, ev: &Event) -> AlertCounters {
        let caps = self.caps;
        let container = ev.container.as_ref();
        let container_name = match container {
            Some(c) => c.name.as_deref().unwrap_or(""),
            None => "host",
        };
        let rule = caps.rule.admit(&a.rule);
        let events = metrics::counter!(
            "falco_events_total",
            "rule" => rule.clone(),
            "priority" => a.priority.as_lower(),
            "source" => a.source.to_string(),
            "container_name" => caps.container_name.admit(container_name),
        );
        let matches = crate::telemetry::enabled(crate::telemetry::catalog::Switch::RulesCounters)
            .then(|| {
                // Falco: one `tag_<tag>="true"` label per tag of the rule.
                let mut labels = vec![
                    metrics::Label::new("rule_name", rule.clone()),
                    metrics::Label::new("priority", (a.priority as u8).to_string()),
                    metrics::Label::new("source", a.source.to_string()),
                ];
                for tag in a.tags.iter() {
                    let name: String = tag
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    labels.push(metrics::Label::new(format!("tag_{name}"), "true"));
                }
                metrics::counter!("falcosecurity_falco_rules_matches_total", labels)
            });
        let (ns, pod) = container
            .map(|c| {
                (
                    c.k8s_ns_name.as_deref().unwrap_or(""),
                    c.k8s_pod_name.as_deref().unwrap_or(""),
                )
            })
            .unwrap_or(("", ""));
        let sidekick = metrics::counter!(
            "falcosecurity_falcosidekick_falco_events_total",
            "hostname" => if a.hostname.is_empty() { "unknown".to_string() } else { a.hostname.to_string() },
            "rule" => rule,
            // Falcosidekick's integer: 1 = debug .. 8 = emergency.
            "priority" => (8 - a.priority as u8).to_string(),
            "priority_raw" => a.priority.as_lower(),
            "source" => a.source.to_string(),
            "k8s_ns_name" => caps.k8s_ns_name.admit(ns),
            "k8s_pod_name" => caps.k8s_pod_name.admit(pod),
        );
        AlertCounters {
            events,
            matches,
            sidekick,
            _keep: (
                a.rule.clone(),
                a.source.clone(),
                a.hostname.clone(),
                container.cloned(),
            ),
        }
    }
}

pub(crate) fn run(
    input: Receiver<Vec<Event>>,
    out: EdgeSender<Vec<Alert>>,
    stats: Arc<StageStats>,
    cx: ShardContext,
) {
    let (mut generation, mut ruleset) = cx.rules.current();
    let mut scratch = ruleset.new_scratch();
    let mut matches = Vec::new();
    let mut counting = AlertCounting::new(crate::telemetry::labels::caps());
    let eval_time = metrics::histogram!("falco_duration_seconds");
    for batch in input {
        let n = batch.len();
        stats.received(n);
        if cx.rules.generation() != generation {
            (generation, ruleset) = cx.rules.current();
            scratch = ruleset.new_scratch();
        }
        let mut alerts = Vec::new();
        let mut matched = 0;
        let start = std::time::Instant::now();
        let ok = super::guarded(&stats, n, || {
            for ev in &batch {
                if let (Some(own), Some(c)) = (&cx.own_container, &ev.container) {
                    if own.matches(c) {
                        continue;
                    }
                }
                matches.clear();
                ruleset.evaluate(ev, &mut scratch, cx.matching, &mut matches);
                if matches.is_empty() {
                    continue;
                }
                matched += 1;
                for &i in &matches {
                    let a = ruleset.alert(i, ev, &mut scratch, &cx.alert);
                    counting.count(&a, ev);
                    alerts.push(a);
                }
            }
        });
        if !ok {
            scratch = ruleset.new_scratch();
            continue;
        }
        eval_time.record(start.elapsed().as_secs_f64() / n.max(1) as f64);
        stats.filtered(n - matched);
        if alerts.is_empty() {
            continue;
        }
        if let Some(tap) = &cx.alert_tap {
            (tap.0)(&alerts);
        }
        match out.send(alerts) {
            SendOutcome::Sent => stats.passed(matched),
            SendOutcome::Dropped => stats.dropped(DropReason::QueueFull, matched),
            SendOutcome::Closed => stats.dropped(DropReason::StageFailure, matched),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::labels::{Caps, OVERFLOW};
    use crate::telemetry::snapshot::parse_text;
    use peregrine_event::{ContainerInfo, EventType};
    use peregrine_rules::Priority;

    #[test]
    fn ten_thousand_container_names_stay_within_the_cap() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let caps = Caps::new(100);
        let alert = Alert {
            time_ns: 0,
            rule: Arc::from("r"),
            priority: Priority::Warning,
            source: Arc::from("syscall"),
            tags: Arc::from(Vec::<String>::new()),
            hostname: Arc::from("node-1"),
            message: String::new(),
            output: String::new(),
            output_fields: Default::default(),
        };
        metrics::with_local_recorder(&recorder, || {
            let mut counting = AlertCounting::new(&caps);
            for i in 0..10_000 {
                let mut ev = Event::new(EventType::from_name("openat").unwrap(), 0, 1, vec![]);
                ev.container = Some(Arc::new(ContainerInfo {
                    name: Some(format!("c{i}").into()),
                    k8s_pod_name: Some(format!("pod{i}").into()),
                    k8s_ns_name: Some(format!("ns{i}").into()),
                    ..Default::default()
                }));
                counting.count(&alert, &ev);
                // The same kind of alert again: counted through the cached handles.
                counting.count(&alert, &ev);
            }
        });
        let samples = parse_text(&handle.render());
        for family in [
            "falco_events_total",
            "falcosecurity_falcosidekick_falco_events_total",
        ] {
            let series: Vec<_> = samples.iter().filter(|s| s.name == family).collect();
            // 100 names of their own and one overflow series; nothing lost.
            assert_eq!(series.len(), 101, "{family}");
            assert_eq!(series.iter().map(|s| s.value).sum::<f64>(), 20_000.0);
            let overflow = series
                .iter()
                .find(|s| s.labels.iter().any(|(_, v)| v == OVERFLOW))
                .unwrap();
            assert_eq!(overflow.value, 19_800.0);
        }
        let overflowed: f64 = samples
            .iter()
            .filter(|s| s.name == "peregrine_label_overflow_total")
            .map(|s| s.value)
            .sum();
        // container_name for one counter, k8s_ns_name and k8s_pod_name for the other.
        assert_eq!(overflowed, 3.0 * 9_900.0);
    }
}
