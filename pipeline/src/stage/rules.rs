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
}

/// Counts alerts the way the seed's dashboards query them.
fn count_alert(a: &Alert, ev: &Event) {
    let container = ev
        .container
        .as_ref()
        .and_then(|c| c.name.as_deref())
        .map(str::to_string)
        .unwrap_or_else(|| {
            if ev.container.is_some() {
                String::new()
            } else {
                "host".to_string()
            }
        });
    metrics::counter!(
        "falco_events_total",
        "rule" => a.rule.to_string(),
        "priority" => a.priority.as_lower(),
        "source" => a.source.to_string(),
        "container_name" => container,
    )
    .increment(1);
    metrics::counter!(
        "falcosecurity_falco_rules_matches_total",
        "rule_name" => a.rule.to_string(),
        "priority" => (a.priority as u8).to_string(),
        "source" => a.source.to_string(),
    )
    .increment(1);
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
                matches.clear();
                ruleset.evaluate(ev, &mut scratch, cx.matching, &mut matches);
                if matches.is_empty() {
                    continue;
                }
                matched += 1;
                for &i in &matches {
                    let a = ruleset.alert(i, ev, &mut scratch, &cx.alert);
                    count_alert(&a, ev);
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
        match out.send(alerts) {
            SendOutcome::Sent => stats.passed(matched),
            SendOutcome::Dropped => stats.dropped(DropReason::QueueFull, matched),
            SendOutcome::Closed => stats.dropped(DropReason::StageFailure, matched),
        }
    }
}
