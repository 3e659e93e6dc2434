//! The real binary as root on this host's kernel with the seed rules (the embedded
//! default), against real podman containers: metadata is there when the rules run, from a
//! container's very first command; runtime helpers and the host are not containers.
//!
//! Needs root, BPF and podman with its API on /run/podman/podman.sock and the two local
//! images (`.ci/podman-setup.sh` sets all of that up).

mod common;

use common::Agent;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const SOCK: &str = "/run/podman/podman.sock";
const IMAGE: &str = "localhost/peregrine-test:latest";
const PG_IMAGE: &str = "localhost/postgres-peregrine:15";

fn skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("not root".to_string())
    } else if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some("no kernel BTF".to_string())
    } else if Command::new("podman").arg("--version").output().is_err() {
        Some("podman is not installed (run .ci/podman-setup.sh)".to_string())
    } else if std::os::unix::net::UnixStream::connect(SOCK).is_err() {
        Some(format!("no podman API on {SOCK} (run .ci/podman-setup.sh)"))
    } else {
        [IMAGE, PG_IMAGE]
            .iter()
            .find(|i| {
                !Command::new("podman")
                    .args(["image", "exists", i])
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .map(|i| format!("image {i} is missing (run .ci/podman-setup.sh)"))
    };
    if let Some(why) = why {
        if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("{test}: needs root, BPF and podman ({why}) and PEREGRINE_REQUIRE_PRIVILEGED=1");
        }
        eprintln!("skipping {test}: needs root, BPF and podman ({why})");
        return true;
    }
    false
}

/// The agent: the embedded default config and rules (the seed's) unless `rules` is given,
/// JSON alerts, `extra` as `-o` overrides.
fn start_agent(name: &str, rules: Option<&str>, extra: &[&str]) -> Agent {
    let overrides: Vec<String> = extra
        .iter()
        .flat_map(|e| ["-o".into(), e.to_string()])
        .collect();
    let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
    match rules {
        Some(rules) => Agent::start(&format!("containers-{name}"), rules, &overrides),
        None => {
            let dir = std::env::temp_dir().join(format!(
                "peregrine-containers-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Agent::start_in(&dir, &[], &overrides)
        }
    }
}

/// `podman run --rm` of `args` in a new container named `name`; its output.
fn podman_run(name: &str, image: &str, args: &[&str]) -> String {
    let out = Command::new("podman")
        .args(["run", "--rm", "--network", "none", "--name", name, image])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman run {name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rule_alerts<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"] == rule).collect()
}

/// Every stage's counters add up once drained: in = out + dropped + filtered, none held.
fn counters_add_up(stats: &Value) {
    for s in stats.as_array().unwrap() {
        let n = |k: &str| s[k].as_u64().unwrap();
        assert_eq!(n("held"), 0, "{s}");
        if s["stage"] == "source" || s["stage"] == "enrich" {
            assert_eq!(n("in"), n("out") + n("dropped") + n("filtered"), "{s}");
        }
    }
}

#[test]
fn seed_rules_see_container_metadata_from_the_first_command() {
    if skip("seed_rules_see_container_metadata_from_the_first_command") {
        return;
    }
    let agent = start_agent("seed", None, &[]);
    let tag = std::process::id();
    let (shadow, id, ls, sh) = (
        format!("peregrine-shadow-{tag}"),
        format!("peregrine-id-{tag}"),
        format!("peregrine-ls-{tag}"),
        format!("peregrine-sh-{tag}"),
    );
    let (pg_shadow, pg_id) = (
        format!("peregrine-pg1-{tag}"),
        format!("peregrine-pg2-{tag}"),
    );

    // On the host: not a container, nothing.
    let st = Command::new("/bin/bash")
        .args(["-c", "/bin/cat /etc/shadow >/dev/null; true"])
        .status()
        .unwrap();
    assert!(st.success());
    // Each container's very first command.
    assert!(podman_run(&shadow, IMAGE, &["cat", "/etc/shadow"]).contains("root:"));
    assert!(podman_run(&id, IMAGE, &["id"]).contains("uid=0(root)"));
    podman_run(&ls, IMAGE, &["ls", "/"]);
    podman_run(&sh, IMAGE, &["sh", "-c", "true"]);
    podman_run(&pg_shadow, PG_IMAGE, &["cat", "/etc/shadow"]);
    podman_run(&pg_id, PG_IMAGE, &["id"]);
    let (alerts, stats) = agent.stop_with_stats();
    let stderr = std::fs::read_to_string(std::env::temp_dir().join(format!(
        "peregrine-containers-seed-{}/stderr",
        std::process::id()
    )))
    .unwrap_or_default();

    let sensitive = rule_alerts(&alerts, "Sensitive File Access");
    assert_eq!(sensitive.len(), 1, "{alerts:#?}\n{stderr}");
    let a = sensitive[0];
    assert_eq!(a["priority"], "Critical");
    let out = a["output"].as_str().unwrap();
    assert!(
        out.contains(&format!("container={shadow}"))
            && out.contains("image=localhost/peregrine-test")
            && out.contains("file=/etc/shadow")
            && out.contains("user=root"),
        "{out}"
    );
    let f = &a["output_fields"];
    assert_eq!(f["container.name"], shadow.as_str());
    assert_eq!(f["container.image.repository"], "localhost/peregrine-test");

    let unauthorized = rule_alerts(&alerts, "Unauthorized Process in Container");
    assert_eq!(unauthorized.len(), 1, "{alerts:#?}");
    let a = unauthorized[0];
    assert_eq!(a["priority"], "Warning");
    let out = a["output"].as_str().unwrap();
    assert!(
        out.contains("user=root")
            && out.contains("command=id")
            && out.contains(&format!("container={id}"))
            && out.contains("image=localhost/peregrine-test"),
        "{out}"
    );

    // Nothing else: not ls, sh, the postgres image, conmon, runc, or the host's cat.
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    counters_add_up(&stats);
}

#[test]
fn runtime_helpers_are_not_containers() {
    if skip("runtime_helpers_are_not_containers") {
        return;
    }
    let rules = r#"
- rule: Container exec
  desc: every program started in a container
  condition: evt.type in (execve, execveat) and container.id != host
  output: "exec in container (proc.name=%proc.name container.name=%container.name type=%container.type image=%container.image)"
  priority: NOTICE
- rule: Runtime helper exec
  desc: the runtime's own programs, on the host
  condition: evt.type in (execve, execveat) and proc.name in (conmon, runc, podman) and container.id = host
  output: "helper (proc.name=%proc.name)"
  priority: DEBUG
"#;
    let agent = start_agent("helpers", Some(rules), &["rule_matching=all"]);
    let tag = std::process::id();
    let (cat, ls) = (
        format!("peregrine-helpers-cat-{tag}"),
        format!("peregrine-helpers-ls-{tag}"),
    );
    podman_run(&cat, IMAGE, &["cat", "/etc/hostname"]);
    podman_run(&ls, IMAGE, &["ls", "/"]);
    let (alerts, stats) = agent.stop_with_stats();

    let helpers: Vec<&str> = rule_alerts(&alerts, "Runtime helper exec")
        .iter()
        .map(|a| a["output_fields"]["proc.name"].as_str().unwrap())
        .collect();
    assert!(
        helpers.contains(&"conmon") && helpers.contains(&"runc"),
        "the helpers ran, on the host: {helpers:?}"
    );
    // Exactly the containers' own programs, each with its container's metadata.
    let execs: Vec<(&str, &str)> = rule_alerts(&alerts, "Container exec")
        .iter()
        .map(|a| {
            let f = &a["output_fields"];
            assert_eq!(f["container.type"], "podman", "{a}");
            assert_eq!(f["container.image"], IMAGE, "{a}");
            (
                f["proc.name"].as_str().unwrap(),
                f["container.name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        execs,
        vec![("cat", cat.as_str()), ("ls", ls.as_str())],
        "{alerts:#?}"
    );
    counters_add_up(&stats);
}

/// A program copied into the container and run from there lives in overlayfs's upper
/// layer (`proc.is_exe_upper_layer`, the flag behind "Drop and execute new binary in
/// container"); one shipped in the image does not (`ls` is the image's busybox, which
/// `proc.exepath` shows resolved, as Falco does).
#[test]
fn exe_upper_layer_tells_dropped_binaries_from_the_image() {
    if skip("exe_upper_layer_tells_dropped_binaries_from_the_image") {
        return;
    }
    let rules = r#"
- rule: Container exec
  desc: every program started in a container, with where its executable lives
  condition: evt.type in (execve, execveat) and container.id != host and proc.name in (true, ls)
  output: "exec (proc.name=%proc.name exepath=%proc.exepath upper=%proc.is_exe_upper_layer container.name=%container.name)"
  priority: NOTICE
"#;
    let agent = start_agent("upper", Some(rules), &[]);
    let name = format!("peregrine-upper-{}", std::process::id());
    podman_run(
        &name,
        IMAGE,
        &[
            "sh",
            "-c",
            "cp /bin/busybox /tmp/true && /tmp/true && /bin/ls /",
        ],
    );
    let (alerts, stats) = agent.stop_with_stats();
    // Rule shards work per process, so alerts of different processes may come out of order.
    let mut mine: Vec<&Value> = rule_alerts(&alerts, "Container exec")
        .into_iter()
        .filter(|a| a["output_fields"]["container.name"] == name.as_str())
        .collect();
    mine.sort_by_key(|a| a["output_fields"]["evt.time"].as_u64());
    let execs: Vec<(&str, bool)> = mine
        .iter()
        .map(|a| {
            let f = &a["output_fields"];
            (
                f["proc.exepath"].as_str().unwrap(),
                f["proc.is_exe_upper_layer"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        execs,
        vec![("/tmp/true", true), ("/bin/busybox", false)],
        "{alerts:#?}"
    );
    counters_add_up(&stats);
}

/// Prints the agent's own measurements of lookup latency and hold time over `N` fresh
/// containers (for docs/benchmarks.md): `cargo test --release -p peregrine --test
/// containers_e2e -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_lookup_and_hold() {
    if skip("measure_lookup_and_hold") {
        return;
    }
    const N: usize = 30;
    let port = 18765;
    let agent = start_agent(
        "measure",
        None,
        &[
            "webserver.enabled=true",
            &format!("webserver.listen_port={port}"),
            "webserver.prometheus_metrics_enabled=true",
            "webserver.listen_address=127.0.0.1",
            "metrics.enabled=true",
        ],
    );
    let started = Instant::now();
    for i in 0..N {
        podman_run(
            &format!("peregrine-measure-{i}-{}", std::process::id()),
            IMAGE,
            &["cat", "/etc/hostname"],
        );
    }
    let per_container = started.elapsed() / N as u32;
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = Command::new("curl")
        .args(["-sS", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&metrics.stdout).into_owned();
    let (_, stats) = agent.stop_with_stats();
    println!("{N} containers, podman run --rm each: {per_container:?} per container");
    for l in text.lines().filter(|l| {
        l.starts_with("peregrine_enrich_container_lookup_seconds")
            || l.starts_with("peregrine_enrich_container_hold_seconds")
            || l.starts_with("peregrine_enrich_held")
            || l.starts_with("peregrine_enrich_hold")
            || l.starts_with("peregrine_enrich_container_")
    }) {
        println!("{l}");
    }
    counters_add_up(&stats);
}
