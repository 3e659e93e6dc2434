//! The report's charts, built from results: time series (one line per run, or per run and
//! stage/queue), latency percentiles and sweep curves. Each is a [`Figure`]: the SVG, or a
//! note saying why there is nothing to draw.

use super::format;
use super::svg::{colour, dash, LineChart, LogBarChart, Series, REFERENCE};
use crate::result::{LatencyResult, RunResult, Sample};

pub(crate) enum Figure {
    Chart {
        svg: String,
        /// Runs left out for lack of data, said under the chart.
        note: Option<String>,
    },
    Note {
        title: String,
        note: String,
    },
}

impl Figure {
    fn note(title: &str, note: impl Into<String>) -> Figure {
        Figure::Note {
            title: title.into(),
            note: note.into(),
        }
    }
}

const MIB: f64 = 1024.0 * 1024.0;
const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p99.9", "max"];

fn seconds_axis(t: f64) -> String {
    format::si(t)
}

fn percent_axis(fraction: f64) -> String {
    format::percent(fraction)
}

fn mib_axis(mib: f64) -> String {
    format!("{} MiB", format::si(mib))
}

fn cores_axis(cores: f64) -> String {
    format::si(cores)
}

/// One series per run (colour = run) of a per-sample value; `None` values are skipped.
fn per_run_chart(
    id: &str,
    title: &str,
    y_format: fn(f64) -> String,
    runs: &[RunResult],
    labels: &[String],
    value: fn(&Sample) -> Option<f64>,
) -> Figure {
    let mut series = Vec::new();
    let mut left_out = Vec::new();
    for (i, (run, label)) in runs.iter().zip(labels).enumerate() {
        let points: Vec<(f64, f64)> = run
            .samples
            .iter()
            .filter_map(|s| value(s).map(|v| (s.t, v)))
            .collect();
        if points.is_empty() {
            left_out.push(label.as_str());
        } else {
            series.push(Series {
                name: label.clone(),
                colour: colour(i),
                dash: "",
                points,
            });
        }
    }
    let chart = LineChart {
        id,
        title,
        x_label: "time since start (s)",
        x_format: seconds_axis,
        y_format,
        series,
        markers: false,
        y_max: None,
    };
    finish(title, chart.render(), &left_out, "no samples recorded")
}

/// Turns a rendered chart (or none) into a figure, naming the runs without data.
fn finish(title: &str, svg: Option<String>, left_out: &[&str], why: &str) -> Figure {
    match svg {
        Some(svg) => Figure::Chart {
            svg,
            note: (!left_out.is_empty()).then(|| format!("{why}: {}", left_out.join(", "))),
        },
        None => Figure::note(title, format!("Nothing to chart: {why}.")),
    }
}

pub(crate) fn events_per_sec(runs: &[RunResult], labels: &[String]) -> Figure {
    per_run_chart(
        "events-per-sec",
        "Events/s",
        format::si,
        runs,
        labels,
        |s| Some(s.events_per_sec),
    )
}

pub(crate) fn alerts_per_sec(runs: &[RunResult], labels: &[String]) -> Figure {
    per_run_chart(
        "alerts-per-sec",
        "Alerts/s",
        format::si,
        runs,
        labels,
        |s| Some(s.alerts_per_sec),
    )
}

pub(crate) fn cpu(runs: &[RunResult], labels: &[String]) -> Figure {
    per_run_chart("cpu", "CPU (cores)", cores_axis, runs, labels, |s| {
        Some(s.cpu_cores)
    })
}

pub(crate) fn rss(runs: &[RunResult], labels: &[String]) -> Figure {
    // 0 means "not measured" (no process can run in zero bytes).
    per_run_chart(
        "rss",
        "Resident memory (RSS)",
        mib_axis,
        runs,
        labels,
        |s| (s.rss_bytes > 0).then(|| s.rss_bytes as f64 / MIB),
    )
}

/// Cumulative drops, one line per stage that dropped anything (colour = stage, dash = run).
pub(crate) fn drops(runs: &[RunResult], labels: &[String]) -> Figure {
    let title = "Drops per stage (cumulative)";
    if runs.iter().all(|r| r.samples.is_empty()) {
        return Figure::note(title, "Nothing to chart: no samples recorded.");
    }
    let dropping = |stage: &str| {
        runs.iter()
            .flat_map(|r| &r.samples)
            .flat_map(|s| &s.drops)
            .any(|(name, count)| name == stage && *count > 0)
    };
    let stages: Vec<String> = names_in_order(runs, |s| &s.drops)
        .into_iter()
        .filter(|s| dropping(s))
        .collect();
    if stages.is_empty() {
        return Figure::note(title, "No stage dropped anything.");
    }
    let series = per_run_and_name(runs, labels, &stages, |s, stage| {
        s.drops
            .iter()
            .find(|(name, _)| name == stage)
            .map(|(_, count)| *count as f64)
    });
    let chart = LineChart {
        id: "drops",
        title,
        x_label: "time since start (s)",
        x_format: seconds_axis,
        y_format: format::si,
        series,
        markers: false,
        y_max: None,
    };
    finish(title, chart.render(), &[], "no samples recorded")
}

/// Queue fill 0..100 %, one line per queue (colour = queue, dash = run).
pub(crate) fn queue_fill(runs: &[RunResult], labels: &[String]) -> Figure {
    let title = "Queue fill";
    let queues = names_in_order(runs, |s| &s.queues);
    if queues.is_empty() {
        return Figure::note(title, "Nothing to chart: no queue fill recorded.");
    }
    let series = per_run_and_name(runs, labels, &queues, |s, queue| {
        s.queues
            .iter()
            .find(|(name, _)| name == queue)
            .map(|(_, fill)| *fill)
    });
    let chart = LineChart {
        id: "queue-fill",
        title,
        x_label: "time since start (s)",
        x_format: seconds_axis,
        y_format: percent_axis,
        series,
        markers: false,
        y_max: Some(1.0),
    };
    finish(title, chart.render(), &[], "no samples recorded")
}

/// The names (stages, queues) appearing in the samples, in first-seen order.
fn names_in_order<T>(runs: &[RunResult], pairs: fn(&Sample) -> &Vec<(String, T)>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for sample in runs.iter().flat_map(|r| &r.samples) {
        for (name, _) in pairs(sample) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

fn per_run_and_name(
    runs: &[RunResult],
    labels: &[String],
    names: &[String],
    value: impl Fn(&Sample, &str) -> Option<f64>,
) -> Vec<Series> {
    let mut series = Vec::new();
    for (r, (run, label)) in runs.iter().zip(labels).enumerate() {
        for (n, name) in names.iter().enumerate() {
            let points: Vec<(f64, f64)> = run
                .samples
                .iter()
                .filter_map(|s| value(s, name).map(|v| (s.t, v)))
                .collect();
            if points.is_empty() {
                continue;
            }
            let name = if runs.len() > 1 {
                format!("{label}: {name}")
            } else {
                name.clone()
            };
            series.push(Series {
                name,
                colour: colour(n),
                dash: dash(r),
                points,
            });
        }
    }
    series
}

fn percentile_values(l: &LatencyResult) -> Vec<Option<f64>> {
    [l.p50_ns, l.p90_ns, l.p99_ns, l.p999_ns, l.max_ns]
        .into_iter()
        .map(|ns| Some(ns as f64))
        .collect()
}

/// End to end first, then the stages, as measured (those with no measurement left out).
fn measured_latencies(run: &RunResult) -> Vec<&LatencyResult> {
    let mut measured: Vec<&LatencyResult> = run.latency.iter().filter(|l| l.count > 0).collect();
    measured.sort_by_key(|l| l.name != super::summary::END_TO_END);
    measured
}

/// One group per latency (end to end and per stage), one bar per percentile.
pub(crate) fn latency_percentiles(run: &RunResult) -> Figure {
    let title = "Latency percentiles (log scale)";
    let measured = measured_latencies(run);
    let chart = LogBarChart {
        id: "latency",
        title,
        y_format: format::duration_ns_axis,
        groups: measured.iter().map(|l| l.name.clone()).collect(),
        bars: PERCENTILES
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), colour(i)))
            .collect(),
        values: measured.iter().map(|l| percentile_values(l)).collect(),
    };
    finish(title, chart.render(), &[], "no latency measured")
}

/// End-to-end percentiles of several runs side by side (one bar per run).
pub(crate) fn end_to_end_by_run(runs: &[RunResult], labels: &[String]) -> Figure {
    let title = "End-to-end latency by run (log scale)";
    let mut bars = Vec::new();
    let mut columns = Vec::new();
    let mut left_out = Vec::new();
    for (i, (run, label)) in runs.iter().zip(labels).enumerate() {
        match run
            .latency(super::summary::END_TO_END)
            .filter(|l| l.count > 0)
        {
            Some(l) => {
                bars.push((label.clone(), colour(i)));
                columns.push(percentile_values(l));
            }
            None => left_out.push(label.as_str()),
        }
    }
    // Groups are percentiles, so transpose the per-run columns.
    let values = (0..PERCENTILES.len())
        .map(|p| {
            columns
                .iter()
                .map(|c| c.get(p).copied().flatten())
                .collect()
        })
        .collect();
    let chart = LogBarChart {
        id: "latency-by-run",
        title,
        y_format: format::duration_ns_axis,
        groups: PERCENTILES.iter().map(|p| p.to_string()).collect(),
        bars,
        values,
    };
    finish(title, chart.render(), &left_out, "no end-to-end latency")
}

/// Achieved against target rate per sweep step, with the ideal (achieved = target).
pub(crate) fn sweep_rate(run: &RunResult) -> Figure {
    let title = "Sweep: achieved vs target events/s";
    let achieved = run
        .sweep
        .iter()
        .map(|s| (s.target_events_per_sec, s.achieved_events_per_sec))
        .collect();
    let ideal = run
        .sweep
        .iter()
        .map(|s| (s.target_events_per_sec, s.target_events_per_sec))
        .collect();
    let chart = LineChart {
        id: "sweep-rate",
        title,
        x_label: "target events/s",
        x_format: format::si,
        y_format: format::si,
        // The reference first, so the measured line is drawn over it where they meet.
        series: vec![
            Series {
                name: "target".into(),
                colour: REFERENCE,
                dash: "4 4",
                points: ideal,
            },
            Series {
                name: "achieved".into(),
                colour: colour(0),
                dash: "",
                points: achieved,
            },
        ],
        markers: true,
        y_max: None,
    };
    finish(title, chart.render(), &[], "no sweep steps")
}

pub(crate) fn sweep_cpu(run: &RunResult) -> Figure {
    let title = "Sweep: CPU (cores) per step";
    let points = run
        .sweep
        .iter()
        .map(|s| (s.target_events_per_sec, s.cpu_cores))
        .collect();
    let chart = LineChart {
        id: "sweep-cpu",
        title,
        x_label: "target events/s",
        x_format: format::si,
        y_format: cores_axis,
        series: vec![Series {
            name: "CPU (cores)".into(),
            colour: colour(1),
            dash: "",
            points,
        }],
        markers: true,
        y_max: None,
    };
    finish(title, chart.render(), &[], "no sweep steps")
}
