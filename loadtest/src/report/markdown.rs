//! The Markdown summary: the side-by-side table and the key numbers, for a pull request
//! comment or a CI job summary.

use super::escape::escape_markdown as esc;
use super::format;
use super::summary::RunSummary;
use std::fmt::Write;

pub(crate) fn document(summaries: &[RunSummary]) -> String {
    let mut md = String::from("# Peregrine load-test report\n\n");
    if summaries.is_empty() {
        md.push_str("No results were given.\n");
        return md;
    }
    md.push_str("| Run | Kind | Events/s | Events | Alerts | Drops | Latency p50 | Latency p99 | CPU mean (cores) | RSS peak |\n");
    md.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for s in summaries {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            esc(&s.label),
            esc(&s.kind),
            format::rate(s.events_per_sec),
            format::count(s.events),
            format::count(s.alerts),
            or_na(s.dropped.map(format::count)),
            or_na(s.latency_p50_ns.map(|ns| format::duration_ns(ns as f64))),
            or_na(s.latency_p99_ns.map(|ns| format::duration_ns(ns as f64))),
            or_na(s.cpu_cores_mean.map(format::cores)),
            or_na(s.rss_peak_bytes.map(|b| format::bytes(b as f64))),
        );
    }
    md.push_str("\n## Key numbers\n\n");
    for s in summaries {
        let _ = writeln!(md, "- **{}**: {}", esc(&s.label), key_numbers(s));
    }
    if let [base, rest @ ..] = summaries {
        for s in rest {
            let _ = writeln!(
                md,
                "- **{}** against **{}**: {}",
                esc(&s.label),
                esc(&base.label),
                changes(base, s)
            );
        }
    }
    md
}

fn key_numbers(s: &RunSummary) -> String {
    let mut parts = vec![
        format!(
            "{} events in {}",
            format::count(s.events),
            format::seconds(s.duration_secs)
        ),
        format!("{} events/s", format::rate(s.events_per_sec)),
        format!("{} alerts", format::count(s.alerts)),
    ];
    if let Some(dropped) = s.dropped {
        parts.push(format!("{} dropped", format::count(dropped)));
    }
    if let Some(p99) = s.latency_p99_ns {
        parts.push(format!(
            "end-to-end p99 {}",
            format::duration_ns(p99 as f64)
        ));
    }
    if let Some(us) = s.cpu_us_per_event {
        parts.push(format!("{} CPU per event", format::duration_ns(us * 1e3)));
    }
    if let Some(rate) = s.sustained_events_per_sec {
        parts.push(format!(
            "sustained {} events/s without drops",
            format::rate(rate)
        ));
    }
    if let Some(cpu) = s.cpu_per_100k_eps {
        parts.push(format!("{} cores per 100k events/s", format::cores(cpu)));
    }
    parts.join(", ")
}

/// The relative change of each key number measured in both runs.
fn changes(base: &RunSummary, new: &RunSummary) -> String {
    let u = |v: Option<u64>| v.map(|v| v as f64);
    let pairs = [
        (
            "events/s",
            Some(base.events_per_sec),
            Some(new.events_per_sec),
        ),
        ("latency p50", u(base.latency_p50_ns), u(new.latency_p50_ns)),
        ("latency p99", u(base.latency_p99_ns), u(new.latency_p99_ns)),
        ("CPU mean", base.cpu_cores_mean, new.cpu_cores_mean),
        ("RSS peak", u(base.rss_peak_bytes), u(new.rss_peak_bytes)),
    ];
    let parts: Vec<String> = pairs
        .into_iter()
        .filter_map(|(name, b, n)| match (b, n) {
            (Some(b), Some(n)) if b != 0.0 && b.is_finite() && n.is_finite() => {
                Some(format!("{name} {}", format::change((n - b) / b)))
            }
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        "nothing measured in both".into()
    } else {
        parts.join(", ")
    }
}

fn or_na(value: Option<String>) -> String {
    value.unwrap_or_else(|| "n/a".into())
}
