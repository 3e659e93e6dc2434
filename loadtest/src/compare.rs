//! `compare`: checks a new result against a base one, metric by metric, and says whether
//! any got worse by more than the allowed fraction (CI fails the job on a regression).

use crate::report::{format, RunSummary};
use crate::result::RunResult;
use std::fmt;

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// How a metric's values print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    EventsPerSec,
    Nanoseconds,
    Count,
    Bytes,
    /// CPU time in microseconds.
    CpuMicros,
    Cores,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Better, equal, or worse by no more than the allowed fraction.
    Ok,
    /// Worse by more than the allowed fraction.
    Regressed,
    /// Missing from one side (or both); never counts as a regression.
    NotCompared(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetricCheck {
    pub metric: String,
    pub better: Better,
    pub unit: Unit,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// `(new - base) / base`; `None` when not compared, or when base is 0 and new is not.
    pub change: Option<f64>,
    pub verdict: Verdict,
}

impl MetricCheck {
    pub fn regressed(&self) -> bool {
        self.verdict == Verdict::Regressed
    }

    /// Compares one metric; `max_regression` is a fraction (0.05 = 5 %).
    pub fn new(
        metric: &str,
        better: Better,
        unit: Unit,
        base: Option<f64>,
        new: Option<f64>,
        max_regression: f64,
    ) -> MetricCheck {
        let base = base.filter(|v| v.is_finite());
        let new = new.filter(|v| v.is_finite());
        let (change, verdict) = match (base, new) {
            (Some(b), Some(n)) => {
                let change = if b != 0.0 {
                    Some((n - b) / b)
                } else if n == 0.0 {
                    Some(0.0)
                } else {
                    None
                };
                let regressed = match (better, change) {
                    (Better::Higher, Some(c)) => c < -max_regression,
                    // From zero, any rise is beyond every threshold (e.g. drops appearing).
                    (Better::Lower, None) => n > b,
                    (Better::Lower, Some(c)) => c > max_regression,
                    (Better::Higher, None) => false,
                };
                (
                    change,
                    if regressed {
                        Verdict::Regressed
                    } else {
                        Verdict::Ok
                    },
                )
            }
            (None, Some(_)) => (None, Verdict::NotCompared("missing in base".into())),
            (Some(_), None) => (None, Verdict::NotCompared("missing in new".into())),
            (None, None) => (None, Verdict::NotCompared("missing in both".into())),
        };
        MetricCheck {
            metric: metric.into(),
            better,
            unit,
            base,
            new,
            change,
            verdict,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub base_label: String,
    pub new_label: String,
    /// The fraction a metric may get worse by (0.05 = 5 %).
    pub max_regression: f64,
    pub checks: Vec<MetricCheck>,
}

impl Comparison {
    /// Any metric worse by more than `max_regression`.
    pub fn regressed(&self) -> bool {
        self.checks.iter().any(MetricCheck::regressed)
    }

    pub fn regressions(&self) -> impl Iterator<Item = &MetricCheck> {
        self.checks.iter().filter(|c| c.regressed())
    }
}

/// Checks `new` against `base`: events/s (higher is better), end-to-end latency p50 and
/// p99, total drops, peak RSS and CPU per event (lower is better), and for sweeps the
/// sustained rate and CPU per 100k events/s. A negative or non-finite `max_regression` is
/// taken as 0 (any worsening counts).
pub fn compare(base: &RunResult, new: &RunResult, max_regression: f64) -> Comparison {
    let max = if max_regression.is_finite() && max_regression > 0.0 {
        max_regression
    } else {
        0.0
    };
    let b = RunSummary::of(base, label(base, "base"));
    let n = RunSummary::of(new, label(new, "new"));
    let u = |v: Option<u64>| v.map(|v| v as f64);
    let mut checks = vec![
        MetricCheck::new(
            "events/s",
            Better::Higher,
            Unit::EventsPerSec,
            Some(b.events_per_sec),
            Some(n.events_per_sec),
            max,
        ),
        MetricCheck::new(
            "latency end_to_end p50",
            Better::Lower,
            Unit::Nanoseconds,
            u(b.latency_p50_ns),
            u(n.latency_p50_ns),
            max,
        ),
        MetricCheck::new(
            "latency end_to_end p99",
            Better::Lower,
            Unit::Nanoseconds,
            u(b.latency_p99_ns),
            u(n.latency_p99_ns),
            max,
        ),
        MetricCheck::new(
            "drops (all stages)",
            Better::Lower,
            Unit::Count,
            u(b.dropped),
            u(n.dropped),
            max,
        ),
        MetricCheck::new(
            "RSS peak",
            Better::Lower,
            Unit::Bytes,
            u(b.rss_peak_bytes),
            u(n.rss_peak_bytes),
            max,
        ),
        MetricCheck::new(
            "CPU per event",
            Better::Lower,
            Unit::CpuMicros,
            b.cpu_us_per_event,
            n.cpu_us_per_event,
            max,
        ),
    ];
    // Only sweeps have these; listing them as "not compared" for other runs is noise.
    if b.sustained_events_per_sec.is_some() || n.sustained_events_per_sec.is_some() {
        checks.push(MetricCheck::new(
            "sustained events/s",
            Better::Higher,
            Unit::EventsPerSec,
            b.sustained_events_per_sec,
            n.sustained_events_per_sec,
            max,
        ));
    }
    if b.cpu_per_100k_eps.is_some() || n.cpu_per_100k_eps.is_some() {
        checks.push(MetricCheck::new(
            "CPU (cores) per 100k events/s",
            Better::Lower,
            Unit::Cores,
            b.cpu_per_100k_eps,
            n.cpu_per_100k_eps,
            max,
        ));
    }
    Comparison {
        base_label: b.label,
        new_label: n.label,
        max_regression: max,
        checks,
    }
}

fn label(run: &RunResult, fallback: &str) -> String {
    [run.label.trim(), run.kind.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or(fallback)
        .to_string()
}

/// A threshold as `5%` or as a fraction, `0.05`. A bare number above 1 is refused: it is
/// far more likely a percentage missing its `%` than a 500 % allowance.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let text = s.trim();
    let (number, is_percent) = match text.strip_suffix('%') {
        Some(number) => (number.trim_end(), true),
        None => (text, false),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage or fraction (e.g. 5% or 0.05)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "{s:?}: the threshold must be a finite number of 0 or more"
        ));
    }
    if is_percent {
        Ok(value / 100.0)
    } else if value > 1.0 {
        Err(format!(
            "{s:?} as a fraction is over 100%; write {number}% for a percentage"
        ))
    } else {
        Ok(value)
    }
}

fn value_text(unit: Unit, value: Option<f64>) -> String {
    let Some(v) = value else { return "n/a".into() };
    match unit {
        Unit::EventsPerSec => format::rate(v),
        Unit::Nanoseconds => format::duration_ns(v),
        Unit::Count => format::count(v.max(0.0) as u64),
        Unit::Bytes => format::bytes(v),
        Unit::CpuMicros => format::duration_ns(v * 1e3),
        Unit::Cores => format::cores(v),
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "base: {}   new: {}   max regression: {}",
            self.base_label,
            self.new_label,
            format::percent(self.max_regression)
        )?;
        let header = ["metric", "base", "new", "change", "verdict"].map(String::from);
        let rows: Vec<[String; 5]> = self
            .checks
            .iter()
            .map(|c| {
                let better = match c.better {
                    Better::Higher => "higher is better",
                    Better::Lower => "lower is better",
                };
                let change = match (&c.verdict, c.change) {
                    (Verdict::NotCompared(_), _) => "-".to_string(),
                    (_, Some(change)) => format::change(change),
                    (_, None) => "from 0".to_string(),
                };
                let verdict = match &c.verdict {
                    Verdict::Ok => "ok".to_string(),
                    Verdict::Regressed => format!("REGRESSED ({better})"),
                    Verdict::NotCompared(why) => format!("not compared ({why})"),
                };
                [
                    c.metric.clone(),
                    value_text(c.unit, c.base),
                    value_text(c.unit, c.new),
                    change,
                    verdict,
                ]
            })
            .collect();
        let mut widths = header.clone().map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let [metric, base, new, change, verdict] = row;
            writeln!(
                f,
                "{metric:<w0$}  {base:>w1$}  {new:>w2$}  {change:>w3$}  {verdict}",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            )?;
        }
        let regressed: Vec<&str> = self.regressions().map(|c| c.metric.as_str()).collect();
        if regressed.is_empty() {
            write!(
                f,
                "result: no regression beyond {}",
                format::percent(self.max_regression)
            )
        } else {
            write!(
                f,
                "result: REGRESSED beyond {}: {}",
                format::percent(self.max_regression),
                regressed.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_runs::replay;

    fn check<'a>(c: &'a Comparison, metric: &str) -> &'a MetricCheck {
        c.checks.iter().find(|c| c.metric == metric).unwrap()
    }

    #[test]
    fn identical_runs_pass() {
        let run = replay("a", 100_000.0, 2_000_000);
        let c = compare(&run, &run, 0.05);
        assert!(!c.regressed(), "{c}");
        assert!(
            c.checks
                .iter()
                .all(|c| c.verdict == Verdict::Ok && c.change == Some(0.0)),
            "{c}"
        );
        assert!(c.to_string().ends_with("result: no regression beyond 5%"));
    }

    #[test]
    fn a_planted_20_percent_throughput_regression_is_flagged() {
        let base = replay("base", 100_000.0, 2_000_000);
        let new = replay("new", 80_000.0, 2_000_000);
        let c = compare(&base, &new, parse_percent("5%").unwrap());
        assert!(c.regressed());
        let eps = check(&c, "events/s");
        assert_eq!(eps.verdict, Verdict::Regressed);
        assert!((eps.change.unwrap() + 0.2).abs() < 1e-9);
        // The same CPU at a lower rate is more CPU per event.
        assert!(check(&c, "CPU per event").regressed());
        assert!(!check(&c, "latency end_to_end p99").regressed());
        let text = c.to_string();
        assert!(
            text.contains("-20.0%") && text.contains("REGRESSED (higher is better)"),
            "{text}"
        );
        // Within a 25 % allowance it passes.
        assert!(!compare(&base, &new, 0.25).regressed());
    }

    #[test]
    fn a_planted_20_percent_p99_regression_is_flagged() {
        let base = replay("base", 100_000.0, 2_000_000);
        let new = replay("new", 100_000.0, 2_400_000);
        let c = compare(&base, &new, parse_percent("5%").unwrap());
        let p99 = check(&c, "latency end_to_end p99");
        assert_eq!(p99.verdict, Verdict::Regressed);
        assert!((p99.change.unwrap() - 0.2).abs() < 1e-9);
        assert!(
            c.regressions().all(|r| r.metric.starts_with("latency")),
            "{c}"
        );
        // Faster is never a regression.
        assert!(!compare(&new, &base, 0.05).regressed());
    }

    #[test]
    fn drops_appearing_from_zero_regress() {
        let mut base = replay("base", 1000.0, 1000);
        base.stages[1].dropped = 0;
        let new = replay("new", 1000.0, 1000);
        let c = compare(&base, &new, 0.05);
        let drops = check(&c, "drops (all stages)");
        assert_eq!(
            (drops.base, drops.new, drops.change),
            (Some(0.0), Some(500.0), None)
        );
        assert!(drops.regressed());
        assert!(c.to_string().contains("from 0"));
        // Growing within the threshold is fine; beyond it is not.
        let mut more = replay("more", 1000.0, 1000);
        more.stages[1].dropped = 520;
        assert!(!check(&compare(&new, &more, 0.05), "drops (all stages)").regressed());
        more.stages[1].dropped = 600;
        assert!(check(&compare(&new, &more, 0.05), "drops (all stages)").regressed());
    }

    #[test]
    fn missing_metrics_are_not_compared() {
        let base = replay("base", 1000.0, 1000);
        let mut new = RunResult {
            events_per_sec: 1000.0,
            ..Default::default()
        };
        new.latency.push(crate::result::LatencyResult {
            name: "end_to_end".into(),
            count: 0,
            ..Default::default()
        });
        let c = compare(&base, &new, 0.05);
        assert!(!c.regressed(), "{c}");
        for metric in [
            "latency end_to_end p50",
            "latency end_to_end p99",
            "drops (all stages)",
            "RSS peak",
            "CPU per event",
        ] {
            assert_eq!(
                check(&c, metric).verdict,
                Verdict::NotCompared("missing in new".into()),
                "{metric}"
            );
        }
        assert!(c.to_string().contains("not compared (missing in new)"));
        let c = compare(&new, &new, 0.05);
        assert_eq!(
            check(&c, "RSS peak").verdict,
            Verdict::NotCompared("missing in both".into())
        );
        assert_eq!(
            c.checks.len(),
            6,
            "sweep metrics are listed only for sweeps"
        );
    }

    #[test]
    fn parse_percent_accepts_percent_and_fraction() {
        assert_eq!(parse_percent("5%"), Ok(0.05));
        assert_eq!(parse_percent(" 12.5 % "), Ok(0.125));
        assert_eq!(parse_percent("0.05"), Ok(0.05));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent("150%"), Ok(1.5));
        for bad in ["", "%", "five", "-5%", "5", "NaN", "inf%", "5%%"] {
            assert!(parse_percent(bad).is_err(), "{bad:?} accepted");
        }
    }
}
