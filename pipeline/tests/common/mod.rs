//! Helpers shared by the tests that run the real agent on this host's kernel.
#![allow(dead_code)] // each test binary uses its own share of these

pub mod host;
pub mod live;
pub mod netns;
pub mod tls;

use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PODMAN_SOCK: &str = "/run/podman/podman.sock";
pub const IMAGE: &str = "localhost/peregrine-test:latest";

/// True (after printing why) when `test` cannot run here; panics instead under
/// `PEREGRINE_REQUIRE_PRIVILEGED=1`.
pub fn skip(test: &str) -> bool {
    skip_because(test, "root and BPF", missing_root_or_bpf())
}

/// [`skip`] for tests that also need podman, its API and the test image.
pub fn skip_podman(test: &str) -> bool {
    let why = missing_root_or_bpf().or_else(|| {
        if Command::new("podman").arg("--version").output().is_err() {
            Some("podman is not installed (run .ci/podman-setup.sh)".into())
        } else if std::os::unix::net::UnixStream::connect(PODMAN_SOCK).is_err() {
            Some(format!(
                "no podman API on {PODMAN_SOCK} (run .ci/podman-setup.sh)"
            ))
        } else if !Command::new("podman")
            .args(["image", "exists", IMAGE])
            .status()
            .is_ok_and(|s| s.success())
        {
            Some(format!(
                "image {IMAGE} is missing (run .ci/podman-setup.sh)"
            ))
        } else {
            None
        }
    });
    skip_because(test, "root, BPF and podman", why)
}

/// The shared test data (`../shared/testdata`), or `None` after printing why (a panic
/// under `PEREGRINE_REQUIRE_PRIVILEGED=1`).
pub fn testdata(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    let why = (!dir.is_dir()).then(|| format!("{} not found", dir.display()));
    (!skip_because(test, "../shared/testdata", why)).then_some(dir)
}

fn missing_root_or_bpf() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        Some("not root".into())
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some("no kernel BTF".into())
    } else {
        None
    }
}

fn skip_because(test: &str, needs: &str, why: Option<String>) -> bool {
    let Some(why) = why else { return false };
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test}: needs {needs} ({why}) and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping {test}: needs {needs} ({why})");
    true
}

/// Each test's agent sees the whole host: one at a time, so they do not see each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The real agent binary: `rules` as its only rules file, JSON alerts, no web server.
pub struct Agent {
    _turn: Option<std::sync::MutexGuard<'static, ()>>,
    pub child: Child,
    pub dir: PathBuf,
}

/// A test that fails before `stop` must not leave its agent running.
impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// `rules` as the only rules file, with extra command-line arguments (`-o key=value`
    /// overrides).
    pub fn start(name: &str, rules: &str, extra: &[&str]) -> Agent {
        let dir =
            std::env::temp_dir().join(format!("peregrine-kernel-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rules.yaml"), rules).unwrap();
        Agent::start_in(&dir, &[dir.join("rules.yaml")], extra)
    }

    /// These rules files, in this order, keeping its files in `dir` (which must exist).
    pub fn start_in(dir: &Path, rules_files: &[PathBuf], extra: &[&str]) -> Agent {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        Agent::launch(Some(turn), dir, rules_files, extra)
    }

    /// A second agent beside one this test already runs (which holds the turn), to see the
    /// same workload twice.
    pub fn start_beside(dir: &Path, rules_files: &[PathBuf], extra: &[&str]) -> Agent {
        Agent::launch(None, dir, rules_files, extra)
    }

    fn launch(
        turn: Option<std::sync::MutexGuard<'static, ()>>,
        dir: &Path,
        rules_files: &[PathBuf],
        extra: &[&str],
    ) -> Agent {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peregrine"));
        for f in rules_files {
            cmd.arg("-r").arg(f);
        }
        let child = cmd
            .args([
                "-o",
                "json_output=true",
                "-o",
                "webserver.enabled=false",
                "-U",
            ])
            .args(extra)
            .arg("--stats-file")
            .arg(dir.join("stats.json"))
            .stdout(Stdio::from(File::create(dir.join("stdout")).unwrap()))
            .stderr(Stdio::from(File::create(dir.join("stderr")).unwrap()))
            .spawn()
            .expect("start peregrine");
        let agent = Agent {
            _turn: turn,
            child,
            dir: dir.to_path_buf(),
        };
        let start = Instant::now();
        while !agent.stderr().contains("processes read from /proc") {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "agent did not start: {}",
                agent.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The pipeline is up once the bootstrap is logged; give the first drain a moment.
        std::thread::sleep(Duration::from_millis(300));
        agent
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// SIGTERM, wait for a clean exit; the alerts, in output order.
    pub fn stop(self) -> Vec<Value> {
        self.stop_with_stats().0
    }

    /// [`Agent::stop_with_stats`], and the agent's log.
    pub fn stop_with_stats_log(self) -> ((Vec<Value>, String), Value) {
        let dir = self.dir.clone();
        let (alerts, stats) = self.stop_with_stats();
        let log = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
        ((alerts, log), stats)
    }

    /// [`Agent::stop`], and the final per-stage counters (`--stats-file`).
    pub fn stop_with_stats(mut self) -> (Vec<Value>, Value) {
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "agent exited with {status}: {}",
            self.stderr()
        );
        let alerts = std::fs::read_to_string(self.dir.join("stdout"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let stats =
            serde_json::from_str(&std::fs::read_to_string(self.dir.join("stats.json")).unwrap())
                .unwrap();
        (alerts, stats)
    }
}

/// Runs a command to the end and returns its pid, so the test can pick its own alerts out
/// of everything else happening on the host.
pub fn run(cmd: &str, args: &[&str]) -> u32 {
    let mut child = Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "{cmd} {args:?}");
    pid
}

/// An event whose process has `depth` ancestors: a crafted capture record (the enricher
/// keeps at most 512). Building and dropping a deep chain recurses: call it on a big stack.
pub fn nested_event(
    gen: &mut peregrine_event::synth::Generator,
    depth: usize,
) -> peregrine_event::Event {
    let ev = loop {
        let ev = gen.next_event();
        if ev.process.is_some() {
            break ev;
        }
    };
    peregrine_event::synth::with_ancestors(ev, depth)
}

/// The agent binary run to its end with `args`.
pub fn peregrine(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .output()
        .unwrap()
}

/// stdout then stderr, as text.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
