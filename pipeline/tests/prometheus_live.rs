//! A real Prometheus (Debian's package) scrapes a live agent (kernel source, the seed's
//! rules) while a container triggers the seed's alerts; through Prometheus's HTTP API the
//! seed's dashboard queries, the fleet p99 from the histogram and every query of
//! `deploy/grafana/peregrine.json` answer. `promtool check metrics` reads the agent's
//! `/metrics`: nothing but the lint of Falco's own names may be reported.

mod common;

use common::live::Container;
use common::{skip_podman, testdata, Agent, IMAGE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "-o", "-", "-w", "\n%{http_code}", url])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Prometheus, killed on drop.
struct Prometheus(Child, u16);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, agent_port: u16) -> Prometheus {
        let port = free_port();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: peregrine\n    static_configs:\n      - targets: ['127.0.0.1:{agent_port}']\n        labels: {{node: test-node, namespace: peregrine}}\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus(child, port);
        let start = Instant::now();
        while curl(&format!("http://127.0.0.1:{port}/-/ready")).0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "prometheus not ready: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// An instant query: the result vector, or the API's error.
    fn query(&self, q: &str) -> Result<Vec<Value>, String> {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--get",
                &format!("http://127.0.0.1:{}/api/v1/query", self.1),
                "--data-urlencode",
                &format!("query={q}"),
            ])
            .output()
            .expect("curl");
        let v: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))?;
        if v["status"] != "success" {
            return Err(format!("{q}: {}", v["error"]));
        }
        Ok(match &v["data"]["result"] {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        })
    }
}

fn missing_prometheus() -> Option<String> {
    for tool in ["prometheus", "promtool", "curl"] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Some(format!(
                "{tool} is not installed (apt-get install prometheus curl)"
            ));
        }
    }
    None
}

/// Every `expr` of the dashboard, its variables filled in as Grafana would.
fn dashboard_queries() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/peregrine.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&dash["panels"], &mut out);
    out.into_iter()
        .map(|e| {
            e.replace("$__rate_interval", "1m")
                .replace("$__interval", "15s")
                .replace("${node}", ".*")
                .replace("$node", ".*")
                .replace("${namespace}", ".*")
                .replace("$namespace", ".*")
        })
        .collect()
}

/// `promtool check metrics` on the agent's `/metrics`: only Falco's own names may be
/// reported, for the base unit of its `_nanoseconds` names and the `_total` of its gauges.
fn check_metrics_text(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        let name = line.split_whitespace().next().unwrap_or("");
        let falco_own = name.starts_with("falcosecurity_")
            && peregrine::telemetry::catalog::find(name).is_some()
            && (line.contains("instead of \"nanoseconds\"")
                || line.contains("non-counter metrics should not have \"_total\" suffix"));
        assert!(falco_own, "promtool check metrics: {line}\n{report}");
    }
    // Every family the agent exports is in the catalog (so it has HELP text).
    for l in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = l.split(['{', ' ']).next().unwrap();
        assert!(
            peregrine::telemetry::catalog::find(name).is_some(),
            "{name} is exported but not in the catalog"
        );
    }
    for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = l.split_whitespace().nth(2).unwrap();
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP line"
        );
    }
}

#[test]
fn prometheus_scrapes_a_live_agent() {
    if skip_podman("prometheus_scrapes_a_live_agent") {
        return;
    }
    let Some(data) = testdata("prometheus_scrapes_a_live_agent") else {
        return;
    };
    if let Some(why) = missing_prometheus() {
        assert!(
            std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "needs {why}"
        );
        eprintln!("skipping prometheus_scrapes_a_live_agent: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("peregrine-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let port_arg = format!("webserver.listen_port={port}");
    let snapshots = dir.join("snapshots.jsonl");
    let snapshot_arg = format!("metrics.output_file={}", snapshots.display());
    let agent = Agent::start_in(
        &dir,
        &[data.join("seed_rules.yaml")],
        &[
            "-o",
            "webserver.enabled=true",
            "-o",
            &port_arg,
            "-o",
            "webserver.listen_address=127.0.0.1",
            "-o",
            "webserver.prometheus_metrics_enabled=true",
            "-o",
            "metrics.enabled=true",
            "-o",
            "metrics.interval=1s",
            "-o",
            "metrics.output_rule=true",
            "-o",
            &snapshot_arg,
        ],
    );
    let (code, body) = curl(&format!("http://127.0.0.1:{port}/healthz"));
    assert_eq!((code, body.as_str()), (200, "{\"status\": \"ok\"}"));
    let prom = Prometheus::start(&dir, port);

    let name = format!("peregrine-prom-{}", std::process::id());
    let c = Container::start(name.clone(), IMAGE, false);
    for _ in 0..3 {
        c.sh("exec cat /etc/shadow > /dev/null");
        std::thread::sleep(Duration::from_millis(700));
    }
    // Scrapes every second: wait until the alerts are in Prometheus.
    let start = Instant::now();
    let by_container = loop {
        let r = prom
            .query("topk(10, sum by (container_name) (rate(falco_events_total[5m])))")
            .unwrap();
        if r.iter()
            .any(|s| s["metric"]["container_name"] == name.as_str())
        {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no series for container {name}: {r:?}\n{}",
            agent.stderr()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(by_container.len() <= 10);

    let by_priority = prom
        .query("sum(rate(falco_events_total[5m])) by (priority)")
        .unwrap();
    let priorities: Vec<&str> = by_priority
        .iter()
        .filter_map(|s| s["metric"]["priority"].as_str())
        .collect();
    assert!(
        priorities.contains(&"critical") && priorities.contains(&"warning"),
        "Sensitive File Access (critical) and Unauthorized Process in Container (warning): {by_priority:?}"
    );

    let p99 = prom
        .query("histogram_quantile(0.99, sum(rate(falco_duration_seconds_bucket[1m])) by (le))")
        .unwrap();
    let v: f64 = p99[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(
        v.is_finite() && v > 0.0,
        "p99 rule processing time: {p99:?}"
    );

    let queries = dashboard_queries();
    assert!(queries.len() >= 20, "{queries:?}");
    for q in queries {
        prom.query(&q)
            .unwrap_or_else(|e| panic!("dashboard query fails: {e}"));
    }
    // The series the dashboard's variables are built from, with the target labels.
    let nodes = prom.query("falcosecurity_evt_hostname_info").unwrap();
    assert_eq!(nodes[0]["metric"]["node"], "test-node", "{nodes:?}");

    let (_, metrics) = curl(&format!("http://127.0.0.1:{port}/metrics"));
    check_metrics_text(&metrics);
    for family in [
        "falcosecurity_falco_version_info",
        "falcosecurity_falco_sha256_rules_files_info",
        "falcosecurity_falco_kernel_release_info",
        "falcosecurity_evt_hostname_info",
        "falcosecurity_scap_engine_name_info{engine_name=\"modern_bpf\"",
        "falcosecurity_scap_n_evts_total",
        "falcosecurity_scap_n_drops_buffer_total{dir=\"exit\",drop=\"open\"}",
        "falcosecurity_scap_n_evts_cpu_total{cpu=\"0\"}",
        "falcosecurity_falco_cpu_usage_ratio",
        "falcosecurity_falco_memory_rss_bytes",
        "falcosecurity_falco_memory_pss_bytes",
        "falcosecurity_scap_n_threads_total",
        "falcosecurity_scap_sys_exit_run_cnt_total",
        "falcosecurity_falco_outputs_queue_num_drops_total",
        "falcosecurity_falcosidekick_falco_events_total{",
        "falco_duration_seconds_bucket{le=",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics");
    }
    assert!(
        metrics.contains("tag_security=\"true\""),
        "rules_matches_total carries the rule's tags"
    );
    drop(c);
    let alerts = agent.stop();
    assert!(alerts.iter().any(|a| a["rule"] == "Sensitive File Access"));
    // The periodic snapshot, as Falco's internal alert and as JSON lines.
    let snapshot = alerts
        .iter()
        .rev()
        .find(|a| a["rule"] == "Falco internal: metrics snapshot")
        .expect("a metrics snapshot alert");
    assert_eq!(snapshot["priority"], "Informational");
    assert_eq!(snapshot["source"], "internal");
    assert!(snapshot["output_fields"]["scap.n_evts"].as_u64().unwrap() > 0);
    assert!(
        snapshot["output_fields"]["falco.memory_rss_mb"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let lines = std::fs::read_to_string(&snapshots).unwrap();
    let last: Value = serde_json::from_str(lines.lines().last().unwrap()).unwrap();
    assert!(
        last["output_fields"]["scap.evts_rate_sec"].is_number(),
        "{last}"
    );
    assert!(last["output_fields"]["falco.version"].is_string(), "{last}");
}
