//! End to end: writes the report for one and for two realistic runs, renders the HTML in
//! headless Chromium and checks the screenshot shows the charts (many colours, the series
//! colours among them) rather than a blank or broken page.
//!
//! Needs `chromium` (.ci/report-setup.sh installs it); without it the test skips, printing
//! why, unless PEREGRINE_REQUIRE_PRIVILEGED=1 (CI), where it fails instead.

use peregrine_loadtest::report::{write_report, ReportFiles, PALETTE};
use peregrine_loadtest::result::*;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WINDOW: (u32, u32) = (1400, 3000);
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(180);

/// A small deterministic generator, so the runs look measured (noisy) but never change.
struct Noise(u64);

impl Noise {
    /// Uniform in -1..1.
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A 30 s replay at about `rate` events/s: a ramp-up, queues filling towards the end,
/// `enrich` and `outputs` dropping once they are full, CPU and RSS growing with the load.
fn realistic_run(label: &str, rate: f64, p99_ns: u64, seed: u64) -> RunResult {
    let mut noise = Noise(seed);
    let mut enrich_drops = 0u64;
    let mut output_drops = 0u64;
    let mut samples = Vec::new();
    for t in 1..=30u32 {
        let t = f64::from(t);
        let ramp = (t / 3.0).min(1.0);
        let eps = rate * ramp * (1.0 + 0.04 * noise.next());
        let fill = ((t - 10.0) / 15.0).clamp(0.02, 1.0);
        if fill >= 0.9 {
            enrich_drops += (rate * 0.002 * (1.0 + noise.next().abs())) as u64;
            output_drops += (rate * 0.0005) as u64;
        }
        samples.push(Sample {
            t,
            events_per_sec: eps,
            alerts_per_sec: eps / 2000.0 * (1.0 + 0.2 * noise.next()),
            drops: vec![
                ("kernel".into(), 0),
                ("enrich".into(), enrich_drops),
                ("outputs".into(), output_drops),
            ],
            queues: vec![
                (
                    "source".into(),
                    (fill * 0.5 + 0.05 * noise.next()).clamp(0.0, 1.0),
                ),
                ("enrich".into(), fill),
                ("outputs".into(), (fill * 0.7).min(1.0)),
            ],
            cpu_cores: 1.2 * ramp + 0.1 * noise.next().abs(),
            rss_bytes: ((80.0 + 2.0 * t + 3.0 * noise.next()) * 1024.0 * 1024.0) as u64,
        });
    }
    let events = (rate * 28.5) as u64;
    let stage = |name: &str, received: u64, dropped: u64, filtered: u64| StageResult {
        stage: name.into(),
        received,
        passed: received - dropped - filtered,
        filtered,
        dropped,
        dropped_by_reason: if dropped > 0 {
            vec![("queue full".into(), dropped)]
        } else {
            vec![]
        },
    };
    let latency = |name: &str, p50: u64| LatencyResult {
        name: name.into(),
        count: events,
        p50_ns: p50,
        p90_ns: p50 * 3,
        p99_ns: p50 * 10,
        p999_ns: p50 * 40,
        max_ns: p50 * 300,
    };
    RunResult {
        version: RESULT_VERSION,
        kind: "replay".into(),
        label: label.into(),
        description: Description {
            command: [
                "peregrine-loadtest",
                "replay",
                "--rate",
                "100000",
                "--rules",
                "rules/falco rules.yaml",
                "syscalls.pgev",
            ]
            .map(String::from)
            .to_vec(),
            peregrine_version: "0.1.0 (abc1234)".into(),
            started_at: "2025-06-01T12:00:00Z".into(),
            seed: Some(seed),
            input: Some(FileId {
                path: "syscalls.pgev".into(),
                sha256: "0f".repeat(32),
                bytes: 48 << 20,
            }),
            rules: vec![
                FileId {
                    path: "rules/falco rules.yaml".into(),
                    sha256: "a1".repeat(32),
                    bytes: 180_000,
                },
                FileId {
                    path: "rules/local <override>.yaml".into(),
                    sha256: "b2".repeat(32),
                    bytes: 2_000,
                },
            ],
            config: Some(FileId {
                path: "peregrine.yaml".into(),
                sha256: "c3".repeat(32),
                bytes: 3_000,
            }),
            overrides: vec!["outputs.stdout.enabled=false".into()],
            pacing: format!("{rate} events/s"),
            loops: 1,
            machine: Machine {
                hostname: "bench-01".into(),
                cpus: 8,
                cpu_model: "AMD EPYC 7B13".into(),
                kernel: "6.1.0-28-amd64".into(),
                memory_bytes: 32 << 30,
            },
        },
        events,
        alerts: events / 2000,
        duration_secs: 30.0,
        events_per_sec: events as f64 / 30.0,
        stages: vec![
            stage("kernel", events, 0, 0),
            stage("source", events, 0, events / 10),
            stage("enrich", events * 9 / 10, enrich_drops, 0),
            stage("rules", events * 9 / 10 - enrich_drops, 0, 0),
            stage("outputs", events / 2000, output_drops.min(events / 2000), 0),
        ],
        latency: vec![
            LatencyResult {
                name: "end_to_end".into(),
                count: events / 2000,
                p50_ns: p99_ns / 12,
                p90_ns: p99_ns / 3,
                p99_ns,
                p999_ns: p99_ns * 4,
                max_ns: p99_ns * 25,
            },
            latency("source", 900),
            latency("enrich", 2_500),
            latency("rules", 6_000),
            latency("outputs", 40_000),
        ],
        samples,
        ..Default::default()
    }
}

/// A fresh directory for one test's files under cargo's scratch directory for tests.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report-test")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// `chromium`, or `None` after saying why the browser part is skipped (CI fails instead).
fn chromium() -> Option<PathBuf> {
    let found = find_in_path("chromium");
    if found.is_none() {
        let why = "chromium is not installed (run .ci/report-setup.sh as root)";
        if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("{why}; PEREGRINE_REQUIRE_PRIVILEGED=1 forbids skipping");
        }
        eprintln!("SKIP rendering the report in a browser: {why}");
    }
    found
}

/// Renders `html` in headless Chromium to `png` (own profile, so tests can run at once).
fn screenshot(chromium: &Path, html: &Path, png: &Path, dir: &Path) {
    let log_path = dir.join("chromium.log");
    let log = File::create(&log_path).unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium took over {CHROMIUM_TIMEOUT:?}; its output:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success() && png.is_file(),
        "chromium failed ({status}) or wrote no screenshot; its output:\n{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
}

struct Image {
    width: u32,
    height: u32,
    /// RGB, row by row.
    pixels: Vec<[u8; 3]>,
}

fn decode_png(path: &Path) -> Image {
    let mut decoder = png::Decoder::new(BufReader::new(File::open(path).unwrap()));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected screenshot colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Image {
        width: info.width,
        height: info.height,
        pixels,
    }
}

fn hex_colour(hex: &str) -> [u8; 3] {
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap();
    [byte(1), byte(3), byte(5)]
}

/// Pixels within a small distance of `colour` (rendering may round a channel by a step).
fn pixels_like(image: &Image, colour: [u8; 3]) -> usize {
    image
        .pixels
        .iter()
        .filter(|p| p.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 3))
        .count()
}

/// The screenshot is the page as drawn: not blank, full of detail, with the series colours.
fn check_screenshot(png: &Path, colours: &[&str]) {
    let image = decode_png(png);
    assert_eq!((image.width, image.height), WINDOW, "screenshot size");
    let distinct: HashSet<[u8; 3]> = image.pixels.iter().copied().collect();
    let drawn = image
        .pixels
        .iter()
        .filter(|p| p.iter().any(|c| *c < 235))
        .count();
    let drawn_share = drawn as f64 / image.pixels.len() as f64;
    eprintln!(
        "{}: {} distinct colours, {:.1}% of pixels drawn",
        png.display(),
        distinct.len(),
        drawn_share * 100.0
    );
    // Antialiased text and lines alone give hundreds of colours; a blank or error page a few.
    assert!(
        distinct.len() >= 200,
        "only {} distinct colours: blank page?",
        distinct.len()
    );
    assert!(
        drawn_share > 0.01,
        "only {:.2}% of pixels are not background",
        drawn_share * 100.0
    );
    for colour in colours {
        let count = pixels_like(&image, hex_colour(colour));
        assert!(
            count >= 50,
            "series colour {colour} shows on only {count} pixels"
        );
    }
}

fn chart_count(html: &str, id: &str) -> usize {
    html.matches(&format!(r#"data-chart="{id}""#)).count()
}

fn check_report(runs: &[RunResult], name: &str, charts: &[(&str, usize)], colours: &[&str]) {
    let dir = scratch(name);
    let files = write_report(runs, &dir.join("report.html")).unwrap();
    assert_eq!(files, ReportFiles::beside(&dir.join("report.html")));

    let html = std::fs::read_to_string(&files.html).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        charts.iter().map(|(_, n)| n).sum::<usize>()
    );
    for (id, expected) in charts {
        assert_eq!(
            chart_count(&html, id),
            *expected,
            "charts {id:?} in {}",
            files.html.display()
        );
    }
    assert!(
        html.contains("rules/local &lt;override&gt;.yaml"),
        "text is escaped"
    );
    assert!(
        html.contains(&"a1".repeat(32)),
        "rule file hashes are shown"
    );
    assert!(!html.contains("<script"), "no script");

    let markdown = std::fs::read_to_string(&files.markdown).unwrap();
    for run in runs {
        assert!(
            markdown.contains(&format!("| {} | replay |", run.label)),
            "{markdown}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.json).unwrap()).unwrap();
    // The runs as given (floats may differ in the last digit after a text round trip).
    let back: Vec<RunResult> = serde_json::from_value(json["runs"].clone()).unwrap();
    assert_eq!(back.len(), runs.len());
    for (back, run) in back.iter().zip(runs) {
        assert!(
            back.label == run.label
                && back.description == run.description
                && back.stages == run.stages
        );
        assert!(back.latency == run.latency && back.samples.len() == run.samples.len());
    }
    assert_eq!(json["summary"].as_array().map(Vec::len), Some(runs.len()));

    let Some(chromium) = chromium() else { return };
    let png = dir.join("report.png");
    screenshot(&chromium, &files.html, &png, &dir);
    check_screenshot(&png, colours);
}

const TIME_SERIES: [&str; 6] = [
    "events-per-sec",
    "alerts-per-sec",
    "drops",
    "queue-fill",
    "cpu",
    "rss",
];

#[test]
fn report_for_one_run_renders_in_a_browser() {
    let run = realistic_run("replay-main", 100_000.0, 1_800_000, 1);
    let mut charts: Vec<(&str, usize)> = TIME_SERIES.iter().map(|id| (*id, 1)).collect();
    charts.push(("latency", 1));
    // The latency chart's five percentiles use the first five series colours.
    check_report(&[run], "one-run", &charts, &PALETTE[..5]);
}

#[test]
fn report_for_two_runs_renders_in_a_browser() {
    let runs = [
        realistic_run("replay-main", 100_000.0, 1_800_000, 1),
        realistic_run("replay-branch", 82_000.0, 2_300_000, 2),
    ];
    let mut charts: Vec<(&str, usize)> = TIME_SERIES.iter().map(|id| (*id, 1)).collect();
    charts.extend([("latency-by-run", 1), ("latency", 2)]);
    // Runs take the first two colours, the three queues the first three.
    check_report(&runs, "two-runs", &charts, &PALETTE[..3]);
}
