//! The rule-driven kernel filter on the live kernel: two agents watch the same workload,
//! one filtering in the kernel and one not (`pipeline.kernel_filter=false`), with
//! `rule_matching: all`; their alerts must be the same. The workload opens the rules' files
//! every way a name can reach the kernel (absolute, with `//`, relative to the cwd, with
//! `..`, relative to a directory fd, after fchdir), fails some opens, and runs the seed's
//! file rule in a container; it also opens files no rule names, which the filtering agent
//! must keep in the kernel.

mod common;

use common::Agent;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const RULES: &str = r#"
- rule: KF read
  desc: reads of the test's files
  condition: >
    evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.num>=0
    and fd.name startswith /tmp/pg-kf- and proc.name in (cat, python3)
  output: kf read file=%fd.name proc=%proc.name
  priority: WARNING
- rule: KF exact
  desc: one exact name
  condition: >
    evt.type in (open, openat, openat2) and fd.num>=0 and fd.name = /tmp/pg-kf-x/sub/secret2
    and proc.name in (cat, python3)
  output: kf exact file=%fd.name proc=%proc.name
  priority: WARNING
- rule: KF failed
  desc: failed opens of the test's files
  condition: >
    evt.type in (open, openat) and evt.rawres < 0 and proc.name = cat
    and fd.name startswith /tmp/pg-kf-
  output: kf failed res=%evt.res proc=%proc.name
  priority: WARNING
"#;

const WORKLOAD: &str = r#"
set -e
d=/tmp/pg-kf-x
rm -rf $d; mkdir -p $d/sub
echo a > $d/secret1; echo b > $d/sub/secret2
for i in 1 2 3; do
  cat $d/secret1 $d//sub/secret2 /etc/hostname > /dev/null
  (cd $d && cat secret1 sub/secret2 > /dev/null)
  (cd $d/sub && cat ../secret1 ./secret2 > /dev/null)
  cat $d/missing 2>/dev/null || true
  python3 -c '
import os
d = os.open("/tmp/pg-kf-x", os.O_RDONLY | os.O_DIRECTORY)
os.close(os.open("secret1", os.O_RDONLY, dir_fd=d))
os.close(os.open("sub/secret2", os.O_RDONLY, dir_fd=d))
os.fchdir(d)
os.close(os.open("sub/secret2", os.O_RDONLY))
os.close(os.open("/etc/hostname", os.O_RDONLY))
'
done
"#;

/// Two agents on the same rules, one filtering in the kernel and one not, with
/// `rule_matching: all`; `setup` prepares each one's directory and gives its rules files.
fn on_and_off(tag: &str, setup: impl Fn(&Path) -> Vec<PathBuf>) -> (Agent, Agent) {
    let start = |mode: &str| {
        let d =
            std::env::temp_dir().join(format!("peregrine-kf-{tag}{mode}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let files = setup(&d);
        let filter = format!("pipeline.kernel_filter={}", mode == "on");
        let args = ["-o", "rule_matching=all", "-o", filter.as_str()];
        if mode == "on" {
            Agent::start_in(&d, &files, &args)
        } else {
            Agent::start_beside(&d, &files, &args)
        }
    };
    (start("on"), start("off"))
}

/// (rule, output) of each alert the workload caused, with how often it came.
fn tally(alerts: &[Value]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for a in alerts {
        let rule = a["rule"].as_str().unwrap_or_default().to_string();
        let output = a["output"].as_str().unwrap_or_default();
        // The text after the timestamp and priority: the same event gives the same text.
        let text = output
            .split_once(": ")
            .map_or(output, |(_, t)| t)
            .to_string();
        let ours = rule.starts_with("KF ")
            || (rule == "Sensitive File Access" && text.contains("peregrine-test"))
            || (rule == "Unauthorized Process in Container" && text.contains("peregrine-test"));
        if ours {
            *out.entry((rule, text)).or_insert(0) += 1;
        }
    }
    out
}

#[test]
fn alerts_are_the_same_with_the_kernel_filter_on_and_off() {
    if common::skip_podman("alerts_are_the_same_with_the_kernel_filter_on_and_off") {
        return;
    }
    let Some(testdata) = common::testdata("alerts_are_the_same_with_the_kernel_filter_on_and_off")
    else {
        return;
    };
    let seed = testdata.join("seed_rules.yaml");
    let (on, off) = on_and_off("", |d| {
        std::fs::write(d.join("kf.yaml"), RULES).unwrap();
        vec![seed.clone(), d.join("kf.yaml")]
    });
    let log = on.stderr();
    assert!(
        log.contains("by_name=open,openat,openat2"),
        "the seed's file rule and the test's are filtered by name: {log}"
    );

    assert!(Command::new("sh")
        .args(["-c", WORKLOAD])
        .status()
        .unwrap()
        .success());
    let status = Command::new("podman")
        .args([
            "run",
            "--rm",
            "localhost/peregrine-test:latest",
            "sh",
            "-c",
            "cat /etc/shadow >/dev/null; cd /etc && cat shadow >/dev/null; cat /etc//shadow /etc/hostname >/dev/null",
        ])
        .status()
        .unwrap();
    assert!(status.success());

    let ((alerts_on, log_on), _) = on.stop_with_stats_log();
    let alerts_off = off.stop();
    let (a, b) = (tally(&alerts_on), tally(&alerts_off));
    assert_eq!(a, b, "filter on (left) and off (right) must alert alike");
    let count = |rule: &str| {
        a.iter()
            .filter(|((r, _), _)| r == rule)
            .map(|(_, n)| n)
            .sum::<usize>()
    };
    // Per round: secret1 ×5 (absolute, relative, .., two via the dir fd... see WORKLOAD).
    assert!(count("KF read") >= 3 * 8, "{a:#?}");
    assert!(count("KF exact") >= 3 * 5, "{a:#?}");
    assert!(count("KF failed") >= 3, "{a:#?}");
    assert!(count("Sensitive File Access") >= 3, "{a:#?}");
    let filtered = log_on
        .lines()
        .find(|l| l.contains("Kernel filter:"))
        .unwrap_or_default()
        .to_string();
    let n: u64 = filtered
        .split("Kernel filter: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        n > 0,
        "the filtering agent kept nothing in the kernel: {filtered}"
    );
}

/// What the upstream rules catch, each command marked `pg-kf-up` in its command line so
/// the alerts it causes can be told from the rest of the host's (the other agent's too).
const UPSTREAM_WORKLOAD: &str = r#"
set -e
d=/tmp/pg-kf-up
rm -rf $d; mkdir -p $d; echo x > $d/f
for i in 1 2; do
  cat /etc/shadow /dev/null pg-kf-up 2>/dev/null || true
  python3 -c '
import os, subprocess, sys
# Directory traversal: opened by cat, whose parent is not a shell.
subprocess.run(["cat", "/etc/../etc/../etc/passwd", "pg-kf-up"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
# Setuid bit through fchmod of a file the tables leave out.
fd = os.open("/tmp/pg-kf-up/f", os.O_RDONLY)
os.fchmod(fd, 0o4755)
os.close(fd)
' pg-kf-up
  touch /etc/pg-kf-up-file; rm -f /etc/pg-kf-up-file
done
"#;

/// In a container: a sensitive read, and stdin/stdout handed to a TCP socket (nc -e dups
/// the connection onto 0, 1 and 2).
const UPSTREAM_CONTAINER: &str = "cat /etc/shadow /dev/null pg-kf-up >/dev/null 2>&1; \
     (nc -l -p 4444 >/dev/null &); sleep 1; nc 127.0.0.1 4444 -e /bin/true pg-kf-up; \
     cd /etc && cat ../etc/../etc/shadow pg-kf-up >/dev/null 2>&1; true";

#[test]
fn upstream_alerts_are_the_same_with_the_kernel_filter_on_and_off() {
    let test = "upstream_alerts_are_the_same_with_the_kernel_filter_on_and_off";
    if common::skip_podman(test) {
        return;
    }
    let Some(testdata) = common::testdata(test) else {
        return;
    };
    let files: Vec<_> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| testdata.join("upstream").join(f))
    .collect();
    let (on, off) = on_and_off("up-", |_| files.clone());
    let log = on.stderr();
    assert!(
        log.contains("regular_files_tracked=false"),
        "no upstream rule reads a regular file's fd but fchmod's: {log}"
    );

    assert!(Command::new("sh")
        .args(["-c", UPSTREAM_WORKLOAD])
        .status()
        .unwrap()
        .success());
    let status = Command::new("podman")
        .args([
            "run",
            "--rm",
            "localhost/peregrine-test:latest",
            "sh",
            "-c",
            UPSTREAM_CONTAINER,
        ])
        .status()
        .unwrap();
    assert!(status.success());

    let ((alerts_on, log_on), _) = on.stop_with_stats_log();
    let alerts_off = off.stop();
    let ours = |alerts: &[Value]| {
        let mut out = BTreeMap::new();
        for a in alerts {
            let output = a["output"].as_str().unwrap_or_default();
            if !output.contains("pg-kf-up") {
                continue;
            }
            let text = output.split_once(": ").map_or(output, |(_, t)| t);
            let key = (
                a["rule"].as_str().unwrap_or_default().to_string(),
                text.to_string(),
            );
            *out.entry(key).or_insert(0usize) += 1;
        }
        out
    };
    let (a, b) = (ours(&alerts_on), ours(&alerts_off));
    assert_eq!(a, b, "filter on (left) and off (right) must alert alike");
    let rules: std::collections::BTreeSet<&str> = a.keys().map(|(r, _)| r.as_str()).collect();
    for want in [
        "Read sensitive file untrusted",
        "Directory traversal monitored file read",
        "Set Setuid or Setgid bit",
        "Write below etc",
        "Redirect STDOUT/STDIN to Network Connection in Container",
    ] {
        assert!(rules.contains(want), "{want}: {a:#?}");
    }
    // fchmod names its file though the tables left it out.
    assert!(
        a.keys()
            .any(|(r, t)| r == "Set Setuid or Setgid bit" && t.contains("/tmp/pg-kf-up/f")),
        "{a:#?}"
    );
    let filtered = log_on
        .lines()
        .find(|l| l.contains("Kernel filter:"))
        .unwrap_or_default()
        .to_string();
    assert!(!filtered.contains("Kernel filter: 0 of"), "{filtered}");
}
