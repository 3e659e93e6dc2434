//! record live → replay: the capture of a live run, replayed with the same rules, raises the
//! same alerts as the live run did. Needs root and BPF (the agent's probes), and the
//! upstream rules from ../shared/testdata; skips saying why without them, unless
//! PEREGRINE_REQUIRE_PRIVILEGED=1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn skip(why: &str) -> bool {
    assert!(
        std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
        "cannot run record_replay: {why}"
    );
    eprintln!("skipping record_replay: {why}");
    true
}

fn upstream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/upstream/falco_rules.yaml")
}

fn seed_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/defaults/default_rules.yaml")
}

/// Alerts as (rule, output) pairs, sorted: the same set whatever order shards gave them.
fn alerts(path: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let a: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                a["rule"].as_str().unwrap().to_string(),
                a["output"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn record_live_then_replay_gives_the_same_alerts() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 && skip("not root") {
        return;
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() && skip("no kernel BTF") {
        return;
    }
    if !upstream().exists() && skip("../shared/testdata/upstream is missing") {
        return;
    }
    let d = std::env::temp_dir().join(format!("lt-record-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let (cap, live, replayed) = (
        d.join("live.cap"),
        d.join("live.jsonl"),
        d.join("replay.jsonl"),
    );
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_peregrine-loadtest"))
        .arg("record")
        .arg("-r")
        .arg(upstream())
        .arg("-r")
        .arg(seed_rules())
        .args(["-o", "rule_matching=all", "--duration", "8s", "-q", "-w"])
        .arg(&cap)
        .arg("--alerts")
        .arg(&live)
        .arg("--json")
        .arg(d.join("record.json"))
        .spawn()
        .expect("record starts");
    // The probes attach within a few seconds; act after, several times.
    std::thread::sleep(Duration::from_secs(3));
    for _ in 0..3 {
        let o = Command::new("cat").arg("/etc/shadow").output().unwrap();
        assert!(o.status.success());
        let _ = Command::new("sh")
            .args(["-c", "ls /tmp > /dev/null; id > /dev/null"])
            .status();
        std::thread::sleep(Duration::from_millis(500));
    }
    let status = recorder.wait().unwrap();
    assert!(status.success(), "record failed: {status}");

    let live_alerts = alerts(&live);
    assert!(
        live_alerts
            .iter()
            .any(|(rule, out)| rule == "Read sensitive file untrusted"
                && out.contains("/etc/shadow")),
        "the live run saw the shadow reads: {live_alerts:#?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_peregrine-loadtest"))
        .arg("replay")
        .arg(&cap)
        .arg("-r")
        .arg(upstream())
        .arg("-r")
        .arg(seed_rules())
        .args(["-o", "rule_matching=all", "-q", "--alerts"])
        .arg(&replayed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let replay_alerts = alerts(&replayed);
    assert_eq!(
        live_alerts, replay_alerts,
        "the replay raises exactly the live run's alerts"
    );
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("record.json")).unwrap()).unwrap();
    assert_eq!(rec["kind"], "record");
    assert!(rec["events"].as_u64().unwrap() > 0);
}

/// A short storm: the workload timed without an agent and with Peregrine (the debug build
/// of the workspace), its result holding both and the ratio.
#[test]
fn storm_times_a_workload_with_and_without_the_agent() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 && skip("not root") {
        return;
    }
    let agent = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/peregrine");
    if !agent.exists() && skip("target/debug/peregrine is not built (cargo build -p peregrine)") {
        return;
    }
    let json = std::env::temp_dir().join(format!("lt-storm-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_peregrine-loadtest"))
        .args([
            "storm",
            "--workload",
            "connect",
            "--duration",
            "1s",
            "--rounds",
            "1",
        ])
        .args(["--settle", "3s", "-q", "--agent-cmd"])
        .arg(&agent)
        .arg("-r")
        .arg(seed_rules())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let storm = r["storm"].as_array().unwrap();
    assert_eq!(storm.len(), 2, "{r}");
    assert_eq!(storm[0]["agent"], "none");
    assert!(storm[0]["ops_per_sec"][0].as_f64().unwrap() > 0.0);
    assert!(storm[1]["ops_per_sec"][0].as_f64().unwrap() > 0.0);
    assert!(storm[1]["ratio"].as_f64().unwrap() > 0.0);
    let stages: Vec<&str> = storm[1]["drops_by_stage"]
        .as_array()
        .expect("Peregrine's drops by stage")
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert!(
        stages.contains(&"source") && stages.contains(&"rules"),
        "{stages:?}"
    );
}
