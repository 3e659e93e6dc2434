//! The self-contained HTML report: one file, inline CSS and SVG, no script and nothing
//! fetched, so it can be attached to a ticket or opened from a CI artifact as is.

use super::charts::{self, Figure};
use super::escape::escape_html as esc;
use super::format;
use super::summary::{run_labels, RunSummary};
use crate::result::{Description, FileId, RunResult};
use std::fmt::Write;

const STYLE: &str = r#"
body{font-family:"DejaVu Sans",Verdana,sans-serif;margin:24px;color:#222;background:#fafafa;font-size:14px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;border-bottom:2px solid #4e79a7;padding-bottom:4px;margin:32px 0 8px}
h2 small{font-weight:normal;color:#666}
h3{font-size:15px;margin:20px 0 8px}
table{border-collapse:collapse;margin:4px 0 12px;background:#fff}
th,td{border:1px solid #d0d0d0;padding:4px 10px;text-align:right;white-space:nowrap}
th{background:#eef2f7}
th.name,td.name{text-align:left}
td.text{text-align:left;white-space:normal}
.delta{color:#666;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;background:#fff;border:1px solid #d0d0d0;padding:4px}
figure.empty{width:632px;padding:12px 8px}
figure.empty b{display:block;margin-bottom:8px}
figcaption,.note{color:#666;font-style:italic;font-size:13px}
dl.description{display:grid;grid-template-columns:max-content auto;gap:4px 16px;margin:0}
dt{font-weight:bold;color:#555}
dd{margin:0}
dd ul{margin:0;padding-left:18px}
code{font-family:"DejaVu Sans Mono",monospace;font-size:12px;word-break:break-all}
"#;

pub(crate) fn document(runs: &[RunResult], summaries: &[RunSummary]) -> String {
    let labels = run_labels(runs);
    let mut html = String::new();
    let title = match labels.as_slice() {
        [] => "Peregrine load-test report".to_string(),
        [one] => format!("Peregrine load test: {one}"),
        many => format!("Peregrine load tests: {}", many.join(" vs ")),
    };
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head><body><header><h1>Peregrine load-test report</h1><p class="note">{count} run(s), report by peregrine-loadtest {version}</p></header>"#,
        title = esc(&title),
        count = runs.len(),
        version = esc(env!("CARGO_PKG_VERSION")),
    );
    if runs.is_empty() {
        html.push_str(r#"<p class="note">No results were given.</p>"#);
    }
    if runs.len() > 1 {
        html.push_str(r#"<section id="side-by-side"><h2>Side by side</h2>"#);
        html.push_str(&side_by_side(summaries));
        html.push_str("<h3>Over time</h3>");
        html.push_str(&time_series(runs, &labels));
        html.push_str("<h3>Latency</h3>");
        html.push_str(&figures(&[charts::end_to_end_by_run(runs, &labels)]));
        html.push_str("</section>");
    }
    for (i, (run, summary)) in runs.iter().zip(summaries).enumerate() {
        html.push_str(&run_section(i, run, summary, runs.len() == 1));
    }
    html.push_str("</body></html>\n");
    html
}

fn time_series(runs: &[RunResult], labels: &[String]) -> String {
    figures(&[
        charts::events_per_sec(runs, labels),
        charts::alerts_per_sec(runs, labels),
        charts::drops(runs, labels),
        charts::queue_fill(runs, labels),
        charts::cpu(runs, labels),
        charts::rss(runs, labels),
    ])
}

fn figures(figures: &[Figure]) -> String {
    let mut html = String::from(r#"<div class="charts">"#);
    for figure in figures {
        match figure {
            Figure::Chart { svg, note } => {
                html.push_str("<figure>");
                html.push_str(svg);
                if let Some(note) = note {
                    let _ = write!(html, "<figcaption>{}</figcaption>", esc(note));
                }
                html.push_str("</figure>");
            }
            Figure::Note { title, note } => {
                let _ = write!(
                    html,
                    r#"<figure class="empty"><b>{}</b><span class="note">{}</span></figure>"#,
                    esc(title),
                    esc(note)
                );
            }
        }
    }
    html.push_str("</div>");
    html
}

/// The runs' key numbers in one table, with the change against the first run.
fn side_by_side(summaries: &[RunSummary]) -> String {
    let mut html = String::from(
        r#"<table class="side-by-side"><tr><th class="name">Run</th><th class="name">Kind</th><th>Events/s</th><th>Events</th><th>Alerts</th><th>Drops</th><th>Latency p50</th><th>Latency p99</th><th>CPU mean (cores)</th><th>RSS peak</th></tr>"#,
    );
    let first = summaries.first();
    for (i, s) in summaries.iter().enumerate() {
        // The first run is the reference the others are compared with.
        let delta = |value: Option<f64>, base: Option<f64>| -> String {
            match (i, value, base) {
                (0, _, _) => String::new(),
                (_, Some(v), Some(b)) if b != 0.0 => {
                    format!(
                        r#" <span class="delta">({})</span>"#,
                        esc(&format::change((v - b) / b))
                    )
                }
                _ => String::new(),
            }
        };
        let f = |value: Option<u64>| value.map(|v| v as f64);
        let _ = write!(
            html,
            r#"<tr><td class="name">{label}</td><td class="name">{kind}</td><td>{eps}{eps_d}</td><td>{events}</td><td>{alerts}</td><td>{drops}</td><td>{p50}{p50_d}</td><td>{p99}{p99_d}</td><td>{cpu}{cpu_d}</td><td>{rss}{rss_d}</td></tr>"#,
            label = esc(&s.label),
            kind = esc(&s.kind),
            eps = format::rate(s.events_per_sec),
            eps_d = delta(Some(s.events_per_sec), first.map(|b| b.events_per_sec)),
            events = format::count(s.events),
            alerts = format::count(s.alerts),
            drops = or_na(s.dropped.map(format::count)),
            p50 = or_na(s.latency_p50_ns.map(|ns| format::duration_ns(ns as f64))),
            p50_d = delta(f(s.latency_p50_ns), first.and_then(|b| f(b.latency_p50_ns))),
            p99 = or_na(s.latency_p99_ns.map(|ns| format::duration_ns(ns as f64))),
            p99_d = delta(f(s.latency_p99_ns), first.and_then(|b| f(b.latency_p99_ns))),
            cpu = or_na(s.cpu_cores_mean.map(format::cores)),
            cpu_d = delta(s.cpu_cores_mean, first.and_then(|b| b.cpu_cores_mean)),
            rss = or_na(s.rss_peak_bytes.map(|b| format::bytes(b as f64))),
            rss_d = delta(f(s.rss_peak_bytes), first.and_then(|b| f(b.rss_peak_bytes))),
        );
    }
    html.push_str("</table>");
    if summaries.len() > 1 {
        html.push_str(r#"<p class="note">Changes in brackets are against the first run.</p>"#);
    }
    html
}

fn or_na(value: Option<String>) -> String {
    value.unwrap_or_else(|| "n/a".into())
}

fn run_section(
    index: usize,
    run: &RunResult,
    summary: &RunSummary,
    with_time_series: bool,
) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<section class="run"><h2>Run {n}: {label} <small>({kind})</small></h2><h3>Description</h3>{description}<h3>Summary</h3>{summary}"#,
        n = index + 1,
        label = esc(&summary.label),
        kind = esc(if run.kind.is_empty() {
            "kind not recorded"
        } else {
            &run.kind
        }),
        description = description(&run.description),
        summary = summary_table(summary),
    );
    if with_time_series {
        html.push_str("<h3>Over time</h3>");
        html.push_str(&time_series(
            std::slice::from_ref(run),
            std::slice::from_ref(&summary.label),
        ));
    }
    html.push_str("<h3>Stages</h3>");
    html.push_str(&stages_table(run));
    html.push_str("<h3>Latency</h3>");
    html.push_str(&latency_table(run));
    // The table already says when nothing was measured.
    if !run.latency.is_empty() {
        html.push_str(&figures(&[charts::latency_percentiles(run)]));
    }
    if !run.sweep.is_empty() {
        html.push_str("<h3>Sweep</h3>");
        html.push_str(&figures(&[charts::sweep_rate(run), charts::sweep_cpu(run)]));
        html.push_str(&sweep_table(run));
    }
    if !run.storm.is_empty() {
        html.push_str("<h3>Storm</h3>");
        html.push_str(&storm_table(run));
    }
    html.push_str("</section>");
    html
}

fn description(d: &Description) -> String {
    let not_recorded = r#"<span class="note">not recorded</span>"#;
    let text = |s: &str| {
        if s.trim().is_empty() {
            not_recorded.to_string()
        } else {
            esc(s)
        }
    };
    let m = &d.machine;
    let machine =
        if m.hostname.is_empty() && m.cpus == 0 && m.cpu_model.is_empty() && m.kernel.is_empty() {
            not_recorded.to_string()
        } else {
            format!(
                "{host}: {cpus} CPUs ({model}), kernel {kernel}, {memory} memory",
                host = text(&m.hostname),
                cpus = m.cpus,
                model = text(&m.cpu_model),
                kernel = text(&m.kernel),
                memory = format::bytes(m.memory_bytes as f64),
            )
        };
    let command = if d.command.is_empty() {
        not_recorded.to_string()
    } else {
        format!("<code>{}</code>", esc(&shell_words(&d.command)))
    };
    let rules = if d.rules.is_empty() {
        "none".to_string()
    } else {
        let items: Vec<String> = d
            .rules
            .iter()
            .map(|f| format!("<li>{}</li>", file_id(f)))
            .collect();
        format!("<ul>{}</ul>", items.concat())
    };
    let overrides = if d.overrides.is_empty() {
        "none".to_string()
    } else {
        let items: Vec<String> = d
            .overrides
            .iter()
            .map(|o| format!("<li><code>{}</code></li>", esc(o)))
            .collect();
        format!("<ul>{}</ul>", items.concat())
    };
    let rows = [
        ("Command", command),
        ("Peregrine version", text(&d.peregrine_version)),
        ("Started", text(&d.started_at)),
        ("Machine", machine),
        (
            "Seed",
            d.seed.map_or_else(|| "none".to_string(), |s| s.to_string()),
        ),
        (
            "Input",
            d.input.as_ref().map_or_else(|| "none".to_string(), file_id),
        ),
        ("Rules", rules),
        (
            "Config",
            d.config
                .as_ref()
                .map_or_else(|| "none".to_string(), file_id),
        ),
        ("Overrides", overrides),
        ("Pacing", text(&d.pacing)),
        ("Loops", d.loops.to_string()),
    ];
    let mut html = String::from(r#"<dl class="description">"#);
    for (name, value) in rows {
        let _ = write!(html, "<dt>{name}</dt><dd>{value}</dd>");
    }
    html.push_str("</dl>");
    html
}

fn file_id(f: &FileId) -> String {
    format!(
        "<code>{path}</code> ({size}, sha256 <code>{sha}</code>)",
        path = esc(&f.path),
        size = format::bytes(f.bytes as f64),
        sha = esc(&f.sha256),
    )
}

/// The command line as one could paste it into a shell.
fn shell_words(args: &[String]) -> String {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

fn summary_table(s: &RunSummary) -> String {
    let ns = |v: Option<u64>| or_na(v.map(|ns| format::duration_ns(ns as f64)));
    let mut rows = vec![
        ("Events", format::count(s.events)),
        ("Alerts", format::count(s.alerts)),
        ("Duration", format::seconds(s.duration_secs)),
        ("Events/s", format::rate(s.events_per_sec)),
        ("Drops (all stages)", or_na(s.dropped.map(format::count))),
        ("End-to-end latency p50", ns(s.latency_p50_ns)),
        ("End-to-end latency p99", ns(s.latency_p99_ns)),
        (
            "CPU mean (cores)",
            or_na(s.cpu_cores_mean.map(format::cores)),
        ),
        ("CPU max (cores)", or_na(s.cpu_cores_max.map(format::cores))),
        (
            "RSS peak",
            or_na(s.rss_peak_bytes.map(|b| format::bytes(b as f64))),
        ),
        (
            "CPU per event",
            or_na(s.cpu_us_per_event.map(|us| format::duration_ns(us * 1e3))),
        ),
    ];
    if let Some(rate) = s.sustained_events_per_sec {
        rows.push(("Sustained events/s (no drops)", format::rate(rate)));
    }
    if let Some(cpu) = s.cpu_per_100k_eps {
        rows.push(("CPU (cores) per 100k events/s", format::cores(cpu)));
    }
    let mut html = String::from(r#"<table class="summary">"#);
    for (name, value) in rows {
        let _ = write!(
            html,
            r#"<tr><th class="name">{name}</th><td>{}</td></tr>"#,
            esc(&value)
        );
    }
    html.push_str("</table>");
    html
}

fn stages_table(run: &RunResult) -> String {
    if run.stages.is_empty() {
        return r#"<p class="note">No stage counters recorded.</p>"#.into();
    }
    let mut html = String::from(
        r#"<table class="stages"><tr><th class="name">Stage</th><th>In</th><th>Out</th><th>Filtered</th><th>Dropped</th><th class="name">Dropped by reason</th></tr>"#,
    );
    for s in &run.stages {
        let reasons: Vec<String> = s
            .dropped_by_reason
            .iter()
            .map(|(reason, count)| format!("{}: {}", esc(reason), format::count(*count)))
            .collect();
        let _ = write!(
            html,
            r#"<tr><td class="name">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="text">{}</td></tr>"#,
            esc(&s.stage),
            format::count(s.received),
            format::count(s.passed),
            format::count(s.filtered),
            format::count(s.dropped),
            reasons.join(", "),
        );
    }
    html.push_str("</table>");
    html
}

fn latency_table(run: &RunResult) -> String {
    if run.latency.is_empty() {
        return r#"<p class="note">No latency measured.</p>"#.into();
    }
    let mut html = String::from(
        r#"<table class="latency"><tr><th class="name">Latency</th><th>Count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>"#,
    );
    for l in &run.latency {
        let ns = |v: u64| {
            if l.count == 0 {
                "n/a".to_string()
            } else {
                format::duration_ns(v as f64)
            }
        };
        let _ = write!(
            html,
            r#"<tr><td class="name">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&l.name),
            format::count(l.count),
            ns(l.p50_ns),
            ns(l.p90_ns),
            ns(l.p99_ns),
            ns(l.p999_ns),
            ns(l.max_ns),
        );
    }
    html.push_str("</table>");
    html
}

fn sweep_table(run: &RunResult) -> String {
    let mut html = String::from(
        r#"<table class="sweep"><tr><th>Target events/s</th><th>Achieved events/s</th><th>Dropped</th><th>CPU (cores)</th><th>p50</th><th>p99</th><th class="name">Held</th></tr>"#,
    );
    for s in &run.sweep {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="name">{}</td></tr>"#,
            format::rate(s.target_events_per_sec),
            format::rate(s.achieved_events_per_sec),
            format::count(s.dropped),
            format::cores(s.cpu_cores),
            format::duration_ns(s.latency_p50_ns as f64),
            format::duration_ns(s.latency_p99_ns as f64),
            if s.ok { "yes" } else { "no" },
        );
    }
    html.push_str("</table>");
    html
}

fn storm_table(run: &RunResult) -> String {
    let mut html = String::from(
        r#"<table class="storm"><tr><th class="name">Agent</th><th>Ops/s (median)</th><th>Runs</th><th>Ratio to no agent</th><th>Kernel drops</th><th>Pipeline drops</th><th>Agent CPU (cores)</th></tr>"#,
    );
    for s in &run.storm {
        let _ = write!(
            html,
            r#"<tr><td class="name"><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&s.agent),
            or_na(median(&s.ops_per_sec).map(format::rate)),
            s.ops_per_sec.len(),
            format::cores(s.ratio),
            format::count(s.kernel_drops),
            format::count(s.pipeline_drops),
            format::cores(s.agent_cpu_cores),
        );
    }
    html.push_str("</table>");
    html
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => sorted.get(mid).copied(),
        _ => Some((sorted[mid - 1] + sorted[mid]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        let args = [
            "peregrine-loadtest",
            "replay",
            "--rules",
            "my rules.yaml",
            "it's",
        ]
        .map(String::from);
        assert_eq!(
            shell_words(&args),
            r"peregrine-loadtest replay --rules 'my rules.yaml' 'it'\''s'"
        );
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
