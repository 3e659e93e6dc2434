//! generate → replay through the real pipeline: deterministic for a seed; `compare` catches
//! a planted regression; bad captures get an error naming the byte offset.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_peregrine-loadtest"))
}

fn seed_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/defaults/default_rules.yaml")
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lt-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn generate(d: &Path, name: &str, seed: u64, preset: &str) -> PathBuf {
    let out = d.join(name);
    ok(bin()
        .args(["generate", "--seed", &seed.to_string(), "--events", "20000"])
        .args(["--preset", preset, "--attack-share", "20", "-w"])
        .arg(&out));
    out
}

fn replay(d: &Path, cap: &Path, tag: &str) -> (String, serde_json::Value) {
    let alerts = d.join(format!("{tag}.alerts.jsonl"));
    let json = d.join(format!("{tag}.json"));
    ok(bin()
        .arg("replay")
        .arg(cap)
        .arg("-r")
        .arg(seed_rules())
        .arg("--alerts")
        .arg(&alerts)
        .arg("--json")
        .arg(&json)
        .arg("-q"));
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (std::fs::read_to_string(&alerts).unwrap(), result)
}

/// Alerts in a canonical order (shards may hand them over in any order).
fn sorted(lines: &str) -> Vec<String> {
    let mut v: Vec<String> = lines.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn generate_then_replay_is_deterministic_for_a_seed() {
    let d = dir("gen");
    let a = generate(&d, "a.cap", 42, "web");
    let b = generate(&d, "b.cap", 42, "web");
    let c = generate(&d, "c.cap", 43, "web");
    let (ba, bb, bc) = (
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        std::fs::read(&c).unwrap(),
    );
    assert_eq!(ba, bb, "same seed, same capture");
    assert_ne!(ba, bc, "another seed, another stream");

    let (alerts_a, ra) = replay(&d, &a, "a");
    let (alerts_b, rb) = replay(&d, &b, "b");
    assert!(!alerts_a.is_empty(), "the attack share raises alerts");
    assert_eq!(sorted(&alerts_a), sorted(&alerts_b));
    assert_eq!(ra["events"], 20000);
    assert_eq!(ra["alerts"], rb["alerts"]);
    assert_eq!(
        ra["alerts"].as_u64().unwrap() as usize,
        alerts_a.lines().count()
    );
    // What makes it reproducible is recorded.
    let desc = &ra["description"];
    assert_eq!(desc["seed"], 42);
    assert_eq!(desc["rules"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(desc["input"]["sha256"].is_string());
    assert!(desc["machine"]["cpus"].as_u64().unwrap() >= 1);
    assert!(!desc["machine"]["kernel"].as_str().unwrap().is_empty());
    assert!(ra["latency"][0]["p99_ns"].as_u64().unwrap() > 0);
    // Per stage, measured: to the enrich stage per batch, from there to the sink per alert.
    let names: Vec<&str> = ra["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"source to enrich (source queue)"),
        "{names:?}"
    );
    assert!(
        names.contains(&"enrich to rules (enrichment, shard queue, rule evaluation)"),
        "{names:?}"
    );
    assert!(
        names.contains(&"rules to output (alert queue, dispatch, destination)"),
        "{names:?}"
    );
}

#[test]
fn presets_and_attacks_shape_the_stream() {
    let d = dir("presets");
    let out = d.join("shadow.cap");
    ok(bin()
        .args([
            "generate", "--seed", "7", "--events", "5000", "--preset", "db",
        ])
        .args(["--attack-share", "100", "--attack", "shadow-read", "-w"])
        .arg(&out));
    let (alerts, _) = replay(&d, &out, "shadow");
    let rules: std::collections::BTreeSet<String> = alerts
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["rule"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(rules.contains("Sensitive File Access"), "{rules:?}");

    let bad = bin()
        .args(["generate", "--preset", "nope", "-w"])
        .arg(d.join("x.cap"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown preset 'nope'"));
}

#[test]
fn replay_paces_and_loops() {
    let d = dir("pace");
    let cap = generate(&d, "p.cap", 1, "general");
    let json = d.join("paced.json");
    ok(bin()
        .arg("replay")
        .arg(&cap)
        .arg("-r")
        .arg(seed_rules())
        .args(["--rate", "20000", "--loop", "2", "-q", "--json"])
        .arg(&json));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["events"], 40000);
    // 40,000 events at 20,000/s: not faster than asked.
    assert!(r["duration_secs"].as_f64().unwrap() >= 1.9, "{r}");
    assert_eq!(r["description"]["loops"], 2);
}

#[test]
fn compare_fails_on_a_planted_regression() {
    let d = dir("cmp");
    let cap = generate(&d, "c.cap", 5, "general");
    let (_, base) = replay(&d, &cap, "base");
    let base_path = d.join("base.json");
    let mut worse = base.clone();
    let eps = base["events_per_sec"].as_f64().unwrap();
    worse["events_per_sec"] = serde_json::json!(eps * 0.8);
    let worse_path = d.join("worse.json");
    std::fs::write(&worse_path, serde_json::to_vec(&worse).unwrap()).unwrap();

    let same = bin()
        .arg("compare")
        .arg(&base_path)
        .arg(&base_path)
        .args(["--max-regression", "5%"])
        .output()
        .unwrap();
    assert!(same.status.success(), "{same:?}");
    let out = bin()
        .arg("compare")
        .arg(&base_path)
        .arg(&worse_path)
        .args(["--max-regression", "5%"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn bad_captures_are_named_with_their_offset() {
    let d = dir("bad");
    let cap = generate(&d, "t.cap", 9, "general");
    let bytes = std::fs::read(&cap).unwrap();
    let cut = d.join("truncated.cap");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let out = bin()
        .arg("replay")
        .arg(&cut)
        .arg("-r")
        .arg(seed_rules())
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated at byte"), "{err}");

    let junk = d.join("junk.cap");
    std::fs::write(&junk, b"not a capture at all").unwrap();
    let out = bin().arg("replay").arg(&junk).arg("-q").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Peregrine capture"));

    let bad_result = d.join("bad.json");
    std::fs::write(&bad_result, br#"{"version": 99}"#).unwrap();
    let out = bin()
        .arg("compare")
        .arg(&bad_result)
        .arg(&bad_result)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 99"));
}

/// `import` on the committed Falco capture, then `replay` with the upstream rules: the
/// `cat /etc/shadow` it holds raises Falco's alert here too.
#[test]
fn import_then_replay_detects_what_falco_saw() {
    let upstream = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/upstream/falco_rules.yaml");
    if !upstream.exists() {
        assert!(
            std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "../shared/testdata/upstream is missing"
        );
        eprintln!("skipping import_then_replay_detects_what_falco_saw: ../shared/testdata/upstream is missing");
        return;
    }
    let d = dir("import");
    let scap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/falco-workload.scap");
    let cap = d.join("falco.cap");
    let said = ok(bin().arg("import").arg(&scap).arg("-w").arg(&cap));
    assert!(said.contains("158 written"), "{said}");
    let alerts = d.join("falco.jsonl");
    ok(bin()
        .arg("replay")
        .arg(&cap)
        .arg("-r")
        .arg(&upstream)
        .arg("-q")
        .arg("--alerts")
        .arg(&alerts));
    let text = std::fs::read_to_string(&alerts).unwrap();
    assert!(
        text.lines().any(|l| {
            let a: serde_json::Value = serde_json::from_str(l).unwrap();
            a["rule"] == "Read sensitive file untrusted"
                && a["output_fields"]["fd.name"] == "/etc/shadow"
                && a["output_fields"]["proc.name"] == "cat"
        }),
        "{text}"
    );
}

#[test]
fn sweep_finds_a_rate_held_without_drops() {
    let d = dir("sweep");
    let cap = generate(&d, "s.cap", 11, "general");
    let json = d.join("sweep.json");
    ok(bin()
        .arg("sweep")
        .arg(&cap)
        .arg("-r")
        .arg(seed_rules())
        .args(["--step", "1s", "--steps", "3", "-q", "--json"])
        .arg(&json));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["kind"], "sweep");
    let steps = r["sweep"].as_array().unwrap();
    assert!(steps.len() >= 3, "{r}");
    let sustained = r["sustained_events_per_sec"].as_f64().expect("a rate held");
    assert!(sustained > 0.0);
    assert!(r["cpu_per_100k_eps"].as_f64().unwrap() > 0.0);
    // The held steps dropped nothing; the latencies at 50 % and 90 % are there.
    assert!(steps
        .iter()
        .filter(|s| s["ok"] == true)
        .all(|s| s["dropped"] == 0));
    let names: Vec<&str> = r["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.contains("50 %")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("90 %")), "{names:?}");
}
