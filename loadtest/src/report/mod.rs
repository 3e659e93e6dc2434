//! `report`: turns one or more result files into a self-contained HTML report (inline CSS
//! and SVG charts), a Markdown summary and a combined JSON, written side by side.

mod charts;
mod escape;
pub(crate) mod format;
mod html;
mod markdown;
mod summary;
mod svg;
#[cfg(test)]
pub(crate) mod test_runs;

pub use escape::{escape_html, escape_markdown};
pub use summary::{run_labels, summarize, RunSummary, END_TO_END};
pub use svg::PALETTE;

use crate::result::RunResult;
use std::path::{Path, PathBuf};

/// Bumped when the combined JSON's shape changes.
pub const REPORT_JSON_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("no results to report on")]
    NoRuns,
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the combined JSON did not serialize: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The files [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub json: PathBuf,
}

impl ReportFiles {
    /// `X.html`, `X.md` and `X.json` for `out_html`; a name not ending in `.html`/`.htm`
    /// gets `.html` added (so `out.md` can never be overwritten by the Markdown).
    pub fn beside(out_html: &Path) -> ReportFiles {
        let is_html = out_html
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        let html = if is_html {
            out_html.to_path_buf()
        } else {
            let mut name = out_html.as_os_str().to_owned();
            name.push(".html");
            PathBuf::from(name)
        };
        ReportFiles {
            markdown: html.with_extension("md"),
            json: html.with_extension("json"),
            html,
        }
    }
}

/// The HTML report: per run its description, summary, stages, latency (and sweep or storm
/// results); for several runs first a side-by-side table and overlaid time series.
pub fn render_html(runs: &[RunResult]) -> String {
    html::document(runs, &summarize(runs))
}

/// The side-by-side table and the key numbers, in Markdown.
pub fn render_markdown(runs: &[RunResult]) -> String {
    markdown::document(&summarize(runs))
}

/// The combined JSON: the results as given and the summary computed from them.
#[derive(Debug, serde::Serialize)]
pub struct CombinedReport<'a> {
    /// [`REPORT_JSON_VERSION`].
    pub version: u32,
    pub generator: String,
    pub runs: &'a [RunResult],
    /// One per run, in the same order.
    pub summary: Vec<RunSummary>,
}

impl CombinedReport<'_> {
    pub fn of(runs: &[RunResult]) -> CombinedReport<'_> {
        CombinedReport {
            version: REPORT_JSON_VERSION,
            generator: format!("peregrine-loadtest {}", env!("CARGO_PKG_VERSION")),
            runs,
            summary: summarize(runs),
        }
    }
}

/// `{"version", "generator", "runs": [the results as given], "summary": [RunSummary…]}`.
pub fn render_json(runs: &[RunResult]) -> serde_json::Value {
    // Results hold only plain data, so this cannot fail; should it ever, say so in the
    // JSON rather than panic.
    serde_json::to_value(CombinedReport::of(runs))
        .unwrap_or_else(|e| serde_json::Value::String(format!("the report did not serialize: {e}")))
}

/// Writes `X.html`, `X.md` and `X.json` (see [`ReportFiles::beside`]).
pub fn write_report(runs: &[RunResult], out_html: &Path) -> Result<ReportFiles, ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let files = ReportFiles::beside(out_html);
    let json = serde_json::to_string_pretty(&CombinedReport::of(runs)).map_err(|source| {
        ReportError::Json {
            path: files.json.clone(),
            source,
        }
    })?;
    write(&files.html, render_html(runs))?;
    write(&files.markdown, render_markdown(runs))?;
    write(&files.json, json + "\n")?;
    Ok(files)
}

fn write(path: &Path, text: String) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::test_runs::replay;
    use super::*;
    use crate::result::{Sample, SweepStep};

    fn chart_ids(html: &str) -> Vec<&str> {
        html.split(r#"data-chart=""#)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }

    #[test]
    fn one_run_renders_every_chart() {
        let html = render_html(&[replay("base", 100_000.0, 2_000_000)]);
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert_eq!(
            chart_ids(&html),
            [
                "events-per-sec",
                "alerts-per-sec",
                "drops",
                "queue-fill",
                "cpu",
                "rss",
                "latency"
            ]
        );
        assert!(!html.contains("side-by-side"), "one run has no comparison");
        assert!(html.contains("bench-1") && html.contains(&"cd".repeat(32)));
        // Self-contained: no script and nothing fetched.
        assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
    }

    #[test]
    fn two_runs_overlay_one_line_per_run() {
        let runs = [
            replay("base", 100_000.0, 2_000_000),
            replay("new", 80_000.0, 2_400_000),
        ];
        let html = render_html(&runs);
        let ids = chart_ids(&html);
        assert_eq!(ids.iter().filter(|id| **id == "events-per-sec").count(), 1);
        assert!(ids.contains(&"latency-by-run"));
        assert_eq!(ids.iter().filter(|id| **id == "latency").count(), 2);
        assert!(html.contains(r#"class="side-by-side""#));
        // One polyline per run in the events/s chart, in the runs' colours.
        let events_chart = html
            .split(r#"data-chart="events-per-sec""#)
            .nth(1)
            .and_then(|s| s.split("</svg>").next())
            .unwrap();
        assert_eq!(events_chart.matches("<polyline").count(), 2);
        assert!(events_chart.contains(PALETTE[0]) && events_chart.contains(PALETTE[1]));
        assert!(
            html.contains("-20.0%"),
            "the change against the first run is shown"
        );

        let md = render_markdown(&runs);
        assert!(md.contains("| base | replay | 100,000 |"));
        assert!(md.contains("| new | replay | 80,000 |"));
        assert!(md.contains("**new** against **base**: events/s -20.0%"));

        let json = render_json(&runs);
        assert_eq!(json["runs"].as_array().map(Vec::len), Some(2));
        assert_eq!(json["summary"][1]["label"], "new");
        assert_eq!(
            json["runs"],
            serde_json::to_value(&runs).unwrap(),
            "the runs are kept as given"
        );
    }

    #[test]
    fn a_run_without_data_renders_with_notes() {
        let empty = RunResult::default();
        let html = render_html(std::slice::from_ref(&empty));
        assert!(chart_ids(&html).is_empty());
        assert!(html.contains("Nothing to chart: no samples recorded."));
        assert!(html.contains("No stage counters recorded."));
        assert!(html.contains("No latency measured."));
        // Next to a run with data, it is named under the charts it is missing from.
        let html = render_html(&[
            replay("base", 1000.0, 1000),
            RunResult {
                label: "empty".into(),
                ..empty
            },
        ]);
        assert!(html.contains("no samples recorded: empty"));
        assert!(render_markdown(&[]).contains("No results were given."));
        assert!(render_html(&[]).contains("No results were given."));
    }

    #[test]
    fn text_from_results_is_escaped() {
        let mut run = replay("<script>alert('x')</script>", 1000.0, 1000);
        run.description
            .command
            .push("--name=<img src=x onerror=alert(1)>".into());
        run.stages[0].stage = "a&b<c>".into();
        run.samples[0].queues.push(("</svg><b>".into(), 0.5));
        let html = render_html(std::slice::from_ref(&run));
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("</svg><b>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("a&amp;b&lt;c&gt;"));
        assert!(html.contains("&lt;/svg&gt;&lt;b&gt;"));
        let md = render_markdown(&[run]);
        assert!(md.contains("&lt;script&gt;") && !md.contains("<script"));
    }

    #[test]
    fn sweep_runs_chart_rate_and_cpu_per_step() {
        let mut run = replay("sweep", 100_000.0, 1000);
        run.kind = "sweep".into();
        run.samples.push(Sample {
            t: f64::NAN,
            ..Default::default()
        });
        run.sweep = [50_000.0, 100_000.0, 200_000.0]
            .iter()
            .map(|&target| SweepStep {
                target_events_per_sec: target,
                achieved_events_per_sec: target.min(150_000.0),
                cpu_cores: target / 100_000.0,
                ok: target < 150_000.0,
                ..Default::default()
            })
            .collect();
        run.sustained_events_per_sec = Some(100_000.0);
        let html = render_html(&[run]);
        let ids = chart_ids(&html);
        assert!(ids.contains(&"sweep-rate") && ids.contains(&"sweep-cpu"));
        assert!(html.contains("Sustained events/s (no drops)"));
    }

    #[test]
    fn report_files_sit_beside_each_other() {
        let files = ReportFiles::beside(Path::new("out/r.html"));
        assert_eq!(files.markdown, Path::new("out/r.md"));
        assert_eq!(files.json, Path::new("out/r.json"));
        let files = ReportFiles::beside(Path::new("out/r.md"));
        assert_eq!(files.html, Path::new("out/r.md.html"));
        assert_eq!(files.markdown, Path::new("out/r.md.md"));
    }

    #[test]
    fn write_report_names_the_file_that_failed() {
        assert!(matches!(
            write_report(&[], Path::new("x.html")),
            Err(ReportError::NoRuns)
        ));
        let missing = std::env::temp_dir()
            .join("peregrine-report-no-such-dir")
            .join("r.html");
        let err = write_report(&[replay("a", 1.0, 1)], &missing).unwrap_err();
        assert!(matches!(err, ReportError::Write { .. }));
        assert!(err.to_string().contains("r.html"), "{err}");
    }
}
