//! Stopping the real binary ends within `draintimeout` (+1 s) whatever a destination does:
//! a program that never reads, stdout into a pipe nobody reads. Program output counts a
//! program that cannot start or exits non-zero as failed, not delivered, and restarts it.

use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OPEN_RULE: &str = "- rule: opens\n  desc: d\n  condition: evt.type in (open, openat)\n  output: open %fd.name\n  priority: INFO\n";

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("peregrine-stop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("rules.yaml"), OPEN_RULE).unwrap();
    d
}

/// The agent on a synthetic stream with `extra` settings; stdout as given.
fn start(dir: &Path, extra: &[&str], stdout: Stdio) -> Child {
    let mut args = vec![
        "--source".to_string(),
        "synthetic".into(),
        "-r".into(),
        dir.join("rules.yaml").display().to_string(),
        "--stats-file".into(),
        dir.join("stats.json").display().to_string(),
    ];
    for e in extra {
        args.push("-o".into());
        args.push(e.to_string());
    }
    Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(&args)
        .stdout(stdout)
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .expect("start peregrine")
}

/// Lets alerts flow, sends SIGTERM and returns how long the agent took to exit.
fn stop_after(child: &mut Child, run: Duration) -> Duration {
    std::thread::sleep(run);
    // SAFETY: signalling our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("peregrine still running 30 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn output_stats(dir: &Path, stage: &str) -> Value {
    let v: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("stats.json")).unwrap()).unwrap();
    v.into_iter()
        .find(|s| s["stage"] == stage)
        .unwrap_or_else(|| panic!("no stage {stage}"))
}

fn reasons(s: &Value) -> HashMap<String, u64> {
    s["dropped_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_u64().unwrap()))
        .collect()
}

fn n(s: &Value, k: &str) -> u64 {
    s[k].as_u64().unwrap()
}

const LIMIT: Duration = Duration::from_secs(2); // draintimeout 1 s + 1 s

#[test]
fn a_program_that_never_reads_does_not_hold_up_stop() {
    let dir = tmpdir("noread");
    let mut child = start(
        &dir,
        &[
            "stdout_output.enabled=false",
            "program_output.enabled=true",
            "program_output.program=sleep 1000",
            "outputs.program.draintimeout=1s",
        ],
        Stdio::null(),
    );
    let took = stop_after(&mut child, Duration::from_secs(2));
    assert!(took < LIMIT, "stop took {took:?}");
    let s = output_stats(&dir, "output.program");
    assert_eq!(n(&s, "out"), 0, "nothing was read, nothing delivered: {s}");
    assert!(reasons(&s)["shutdown"] > 0, "{s}");
    assert_eq!(n(&s, "in"), n(&s, "dropped") + n(&s, "filtered"), "{s}");
}

#[test]
fn stdout_into_a_pipe_nobody_reads_does_not_hold_up_stop() {
    let dir = tmpdir("stdoutpipe");
    let mut child = start(&dir, &["outputs.stdout.draintimeout=1s"], Stdio::piped());
    // The pipe stays open and unread until the agent is gone.
    let _unread = child.stdout.take();
    let took = stop_after(&mut child, Duration::from_secs(2));
    assert!(took < LIMIT, "stop took {took:?}");
    let s = output_stats(&dir, "output.stdout");
    assert!(reasons(&s)["shutdown"] > 0, "{s}");
    assert_eq!(
        n(&s, "in"),
        n(&s, "out") + n(&s, "dropped") + n(&s, "filtered"),
        "{s}"
    );
}

#[test]
fn a_program_that_cannot_run_delivers_nothing() {
    let dir = tmpdir("noprog");
    let mut child = start(
        &dir,
        &[
            "stdout_output.enabled=false",
            "program_output.enabled=true",
            "program_output.program=/nonexistent/prog",
            "outputs.program.draintimeout=1s",
        ],
        Stdio::null(),
    );
    let took = stop_after(&mut child, Duration::from_secs(2));
    assert!(took < LIMIT, "stop took {took:?}");
    let s = output_stats(&dir, "output.program");
    assert_eq!(n(&s, "out"), 0, "{s}");
    assert!(n(&s, "dropped") > 0, "{s}");
    let log = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(log.contains("exited with exit status: 127"), "{log}");
}

#[test]
fn a_kept_alive_program_that_exits_non_zero_fails_and_is_restarted() {
    let dir = tmpdir("exit3");
    let mut child = start(
        &dir,
        &[
            "stdout_output.enabled=false",
            "program_output.enabled=true",
            "program_output.keep_alive=true",
            // Reads one line (byte by byte, so the rest stays in the pipe) and fails.
            "program_output.program=read line; exit 3",
            "outputs.program.draintimeout=1s",
            "outputs.program.backoff=10ms",
            "outputs.program.maxbackoff=50ms",
        ],
        Stdio::null(),
    );
    let took = stop_after(&mut child, Duration::from_secs(2));
    assert!(took < LIMIT, "stop took {took:?}");
    let s = output_stats(&dir, "output.program");
    assert!(n(&s, "restarts") >= 2, "restarted after each exit: {s}");
    assert_eq!(n(&s, "out"), 0, "no batch was read whole: {s}");
    let log = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(log.contains("it will be restarted"), "{log}");
}
