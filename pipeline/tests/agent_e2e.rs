//! The real `peregrine` binary end to end: a synthetic stream with the seed rules checked
//! against an independent oracle, live reloads (good and broken), and a clean SIGTERM drain.

use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::{flags::open, Event, EventType, FdKind};
use serde_json::Value;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("peregrine-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spawn(args: &[&str], dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .stdout(Stdio::from(File::create(dir.join("stdout")).unwrap()))
        .stderr(Stdio::from(File::create(dir.join("stderr")).unwrap()))
        .spawn()
        .expect("start peregrine")
}

fn wait(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("peregrine did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn stats(dir: &Path) -> HashMap<String, Value> {
    let v: Vec<Value> = serde_json::from_str(&read(dir, "stats.json")).expect("stats file");
    v.into_iter()
        .map(|s| (s["stage"].as_str().unwrap().to_string(), s))
        .collect()
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap()
}

fn assert_stage_counts_add_up(stats: &HashMap<String, Value>) {
    for (name, s) in stats {
        assert_eq!(
            n(s, "in"),
            n(s, "out") + n(s, "dropped") + n(s, "filtered"),
            "stage {name}: {s}"
        );
    }
}

const SAFE_PROCS: &[&str] = &[
    "sh",
    "bash",
    "node",
    "python",
    "java",
    "nginx",
    "postgres",
    "trivy",
    "minio",
    "vault",
    "containerd-shim",
    "runc",
    "pidof",
    "cat",
    "ls",
    "grep",
    "find",
    "head",
    "tail",
    "kubectl",
    "helm",
    "git",
    "curl",
    "wget",
];
const SAFE_IMAGES: &[&str] = &["trivy", "aquasec", "postgres", "minio", "vault", "falco"];

/// What the seed rules must say about one event, computed from the event itself.
fn oracle(ev: &Event) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let p = ev.process.as_ref()?;
    let c = ev.container.as_ref()?; // both rules need a container
    let repo = c.image_repository.as_deref().unwrap_or("");
    if SAFE_IMAGES.iter().any(|s| repo.contains(s)) {
        return None;
    }
    let user = p
        .user
        .as_ref()
        .map(|u| u.name.to_string())
        .unwrap_or_default();
    let cname = c.name.as_deref().unwrap_or("").to_string();
    if ev.etype.is_exec() && !SAFE_PROCS.contains(&&*p.name) {
        return Some((
            "Unauthorized Process in Container",
            vec![
                ("user.name", user),
                ("proc.cmdline", p.cmdline()),
                ("container.name", cname),
                ("container.image.repository", repo.into()),
            ],
        ));
    }
    let opens = matches!(
        ev.etype,
        EventType::OPEN | EventType::OPENAT | EventType::OPENAT2
    );
    let fd = ev.fd.as_ref()?;
    let flags = ev
        .param(if ev.etype == EventType::OPEN { 2 } else { 3 })
        .as_u64()?;
    let reads = matches!(flags & open::O_ACCMODE, open::O_RDONLY | open::O_RDWR);
    let sensitive = [
        "/etc/shadow",
        "/root/.ssh/id_rsa",
        "/root/.ssh/authorized_keys",
    ]
    .contains(&fd.name.as_str());
    if opens && reads && fd.kind == FdKind::File && ev.fd_num()? >= 0 && sensitive {
        return Some((
            "Sensitive File Access",
            vec![
                ("user.name", user),
                ("fd.name", fd.name.clone()),
                ("container.name", cname),
                ("container.image.repository", repo.into()),
            ],
        ));
    }
    None
}

#[test]
fn synthetic_stream_with_seed_rules_matches_the_oracle_field_by_field() {
    let dir = tmpdir("oracle");
    let events = 150_000u64;
    let stats_file = dir.join("stats.json");
    let mut child = spawn(
        &[
            "--source",
            "synthetic",
            "--events",
            &events.to_string(),
            "-o",
            "engine.synthetic.seed=5",
            "-o",
            "json_output=true",
            "--stats-file",
            stats_file.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(
        wait(&mut child, Duration::from_secs(120)),
        0,
        "{}",
        read(&dir, "stderr")
    );

    let mut expected: HashMap<String, usize> = HashMap::new();
    for ev in Generator::new(SynthConfig {
        seed: 5,
        ..Default::default()
    })
    .take(events as usize)
    {
        if let Some((rule, fields)) = oracle(&ev) {
            let key = format!("{rule}|{fields:?}");
            *expected.entry(key).or_default() += 1;
        }
    }
    assert!(
        expected.values().sum::<usize>() > 50,
        "the stream plants suspicious events"
    );

    let mut got: HashMap<String, usize> = HashMap::new();
    for line in read(&dir, "stdout").lines() {
        let a: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let rule = a["rule"].as_str().unwrap();
        let of = &a["output_fields"];
        let names: &[&str] = if rule == "Sensitive File Access" {
            &[
                "user.name",
                "fd.name",
                "container.name",
                "container.image.repository",
            ]
        } else {
            &[
                "user.name",
                "proc.cmdline",
                "container.name",
                "container.image.repository",
            ]
        };
        let fields: Vec<(&str, String)> = names
            .iter()
            .map(|f| (*f, of[*f].as_str().unwrap_or("").to_string()))
            .collect();
        // The rest of the alert, as Falco shapes it.
        let priority = if rule == "Sensitive File Access" {
            "Critical"
        } else {
            "Warning"
        };
        assert_eq!(a["priority"], priority);
        assert_eq!(a["source"], "syscall");
        assert!(a["time"].as_str().unwrap().ends_with('Z'));
        assert!(a["output"]
            .as_str()
            .unwrap()
            .contains(&format!(": {priority} ")));
        assert!(a["output"]
            .as_str()
            .unwrap()
            .contains(&format!("container={}", fields[2].1)));
        assert!(of["evt.time"].is_u64());
        let keys: Vec<&str> = a.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "hostname",
                "output",
                "output_fields",
                "priority",
                "rule",
                "source",
                "tags",
                "time"
            ]
        );
        *got.entry(format!("{rule}|{fields:?}")).or_default() += 1;
    }
    assert_eq!(got, expected);

    let s = stats(&dir);
    assert_stage_counts_add_up(&s);
    assert_eq!(n(&s["rules"], "in"), events);
    assert_eq!(
        n(&s["output.stdout"], "out"),
        expected.values().sum::<usize>() as u64
    );
    assert!(read(&dir, "stderr").contains("Events processed: 150000"));
}

const OPEN_RULE: &str = "- rule: opens\n  desc: d\n  condition: evt.type in (open, openat)\n  output: open %fd.name\n  priority: INFO\n";
const CONNECT_RULE: &str = "- rule: connects\n  desc: d\n  condition: evt.type = connect\n  output: connect %fd.name\n  priority: NOTICE\n";

fn rules_seen(out: &str) -> (usize, usize) {
    (
        out.lines()
            .filter(|l| l.contains(": Informational open "))
            .count(),
        out.lines()
            .filter(|l| l.contains(": Notice connect "))
            .count(),
    )
}

fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reloads_good_rules_rejects_broken_ones_and_drains_on_sigterm() {
    let dir = tmpdir("reload");
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, OPEN_RULE).unwrap();
    let stats_file = dir.join("stats.json");
    let mut child = spawn(
        &[
            "--source",
            "synthetic:20000",
            "-r",
            rules.to_str().unwrap(),
            "-o",
            "watch_config_files=true",
            "-o",
            "append_output[0].suggested_output=false",
            "-U",
            "--stats-file",
            stats_file.to_str().unwrap(),
        ],
        &dir,
    );
    wait_for(|| rules_seen(&read(&dir, "stdout")).0 > 100, "open alerts");

    // A changed rules file is picked up by the file watch.
    std::fs::write(&rules, CONNECT_RULE).unwrap();
    wait_for(
        || read(&dir, "stderr").contains("rules reloaded"),
        "the reload",
    );
    wait_for(
        || rules_seen(&read(&dir, "stdout")).1 > 100,
        "connect alerts",
    );

    // A broken file is rejected and the running rules go on.
    std::fs::write(&rules, "- rule: broken\n  desc: d\n  condition: evt.type = connect and\n  output: x\n  priority: INFO\n").unwrap();
    wait_for(
        || read(&dir, "stderr").contains("rejected"),
        "the rejection",
    );
    let before = rules_seen(&read(&dir, "stdout")).1;
    wait_for(
        || rules_seen(&read(&dir, "stdout")).1 > before + 50,
        "connect alerts after the rejection",
    );

    // SIGHUP reloads too (back to the open rule).
    std::fs::write(&rules, OPEN_RULE).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    signal(&child, libc::SIGHUP);
    let opens_before = rules_seen(&read(&dir, "stdout")).0;
    wait_for(
        || rules_seen(&read(&dir, "stdout")).0 > opens_before + 50,
        "open alerts after SIGHUP",
    );

    signal(&child, libc::SIGTERM);
    assert_eq!(
        wait(&mut child, Duration::from_secs(30)),
        0,
        "{}",
        read(&dir, "stderr")
    );
    let s = stats(&dir);
    assert_stage_counts_add_up(&s);
    assert!(s.values().all(|st| n(st, "dropped") == 0), "{s:?}");
    assert_eq!(
        n(&s["source"], "out"),
        n(&s["rules"], "in"),
        "every accepted event was evaluated"
    );
    let lines = read(&dir, "stdout").lines().count() as u64;
    assert_eq!(
        lines,
        n(&s["output.stdout"], "out"),
        "every alert reached stdout"
    );
}

#[test]
fn sigterm_mid_stream_flushes_everything_accepted() {
    let dir = tmpdir("sigterm");
    let out = dir.join("alerts.txt");
    let stats_file = dir.join("stats.json");
    let mut child = spawn(
        &[
            "--source",
            "synthetic",
            "-o",
            "stdout_output.enabled=false",
            "-o",
            "file_output.enabled=true",
            "-o",
            &format!("file_output.filename={}", out.display()),
            "-o",
            "file_output.keep_alive=true",
            "-o",
            "buffered_outputs=true",
            "-r",
            dir.join("rules.yaml").to_str().unwrap(),
            "--stats-file",
            stats_file.to_str().unwrap(),
        ],
        &{
            std::fs::write(dir.join("rules.yaml"), OPEN_RULE).unwrap();
            dir.clone()
        },
    );
    wait_for(
        || {
            std::fs::metadata(&out)
                .map(|m| m.len() > 100_000)
                .unwrap_or(false)
        },
        "alerts in the file",
    );
    signal(&child, libc::SIGTERM);
    assert_eq!(
        wait(&mut child, Duration::from_secs(60)),
        0,
        "{}",
        read(&dir, "stderr")
    );
    let s = stats(&dir);
    assert_stage_counts_add_up(&s);
    assert_eq!(n(&s["source"], "out"), n(&s["rules"], "in"));
    let lines = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
    assert_eq!(lines, n(&s["output.file"], "out"));
    assert_eq!(
        n(&s["outputs"], "in"),
        n(&s["output.file"], "out"),
        "nothing accepted was lost"
    );
    assert!(read(&dir, "stderr").contains("SIGTERM received"));
}

fn http_get(port: u16, path: &str) -> String {
    try_http_get(port, path).expect("GET from the agent's web server")
}

/// A GET that fails softly while the server is not up yet. A connect to a free port in the
/// ephemeral range can "succeed" by connecting to itself (TCP simultaneous open), so such a
/// connection counts as not up.
fn try_http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    if s.local_addr()? == s.peer_addr()? {
        return Err(std::io::Error::other("connected to itself"));
    }
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// `promtool check metrics` on the exposition text, when promtool is installed (CI installs
/// it; elsewhere the check is skipped with a message).
fn promtool_check(body: &str) {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("promtool not found and PEREGRINE_REQUIRE_PRIVILEGED=1");
        }
        eprintln!("skipping promtool check: promtool not installed");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    // promtool exits non-zero for lint findings (e.g. missing HELP) as well as errors;
    // only parse errors and bad names are failures for us.
    assert!(
        !text.contains("error while linting") && !text.contains("text format parsing error"),
        "promtool: {text}"
    );
}

#[test]
fn serves_prometheus_metrics_and_health() {
    let dir = tmpdir("metrics");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = spawn(
        &[
            "--source",
            "synthetic:20000",
            "-o",
            "stdout_output.enabled=false",
            "-o",
            "webserver.enabled=true",
            "-o",
            "webserver.listen_address=127.0.0.1",
            "-o",
            &format!("webserver.listen_port={port}"),
            "-o",
            "webserver.prometheus_metrics_enabled=true",
            "-o",
            "metrics.enabled=true",
            "-o",
            "engine.synthetic.seed=3",
        ],
        &dir,
    );
    let mut body = String::new();
    wait_for(
        || {
            body = try_http_get(port, "/metrics").unwrap_or_default();
            body.contains("falco_events_total{") && body.contains("stage=\"rules\"")
        },
        "metrics with alerts",
    );
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(body.contains("text/plain; version=0.0.4"));
    let text = body.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    for name in [
        "peregrine_stage_events_total{",
        "peregrine_stage_dropped_total{",
        "peregrine_queue_depth_batches{",
        "falco_events_total{",
        "falcosecurity_falco_rules_matches_total{",
        "falco_duration_seconds",
    ] {
        assert!(text.contains(name), "{name} missing in\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("falco_events_total{")
            && l.contains("priority=\"critical\"")
            && l.contains("container_name=")),
        "{text}"
    );
    promtool_check(&text);
    let health = http_get(port, "/healthz");
    assert!(health.contains("{\"status\": \"ok\"}"), "{health}");
    signal(&child, libc::SIGTERM);
    assert_eq!(
        wait(&mut child, Duration::from_secs(30)),
        0,
        "{}",
        read(&dir, "stderr")
    );
}
