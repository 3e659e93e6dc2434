//! Running prepared cases: the agent, the performer on the host or in a podman container,
//! a bounded pool that never runs two cases touching the same host path at once.

use super::plan::{Prepared, CASE_ENV};
use crate::common::Agent;
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The image container cases run in (busybox plus the suite's system users), built by
/// .ci/podman-setup.sh.
pub const IMAGE: &str = "localhost/peregrine-evtgen:latest";
const HOST_POOL: usize = 12;
const CONTAINER_POOL: usize = 3;
const CASE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a container's pid 1 stays after the case (see the plan's `linger_ms`).
const CONTAINER_LINGER_MS: u64 = 500;

/// The real binary with the three upstream files, every rule matching, JSON alerts and
/// `append_output` printing the case marker and every field the suite checks.
pub fn start_agent(dir: &Path, rules: &[PathBuf], extra_fields: &[String]) -> Agent {
    let mut extra = format!("evtgen_case=%proc.env[{CASE_ENV}] evtgen_pid=%proc.pid");
    for f in extra_fields {
        extra.push_str(&format!(" {f}=%{f}"));
    }
    let config = dir.join("agent.yaml");
    let yaml = format!(
        "append_output:\n  - extra_output: {}\n",
        serde_json::to_string(&extra).unwrap()
    );
    std::fs::write(&config, yaml).unwrap();
    Agent::start_in(
        dir,
        rules,
        &["-c", config.to_str().unwrap(), "-o", "rule_matching=all"],
    )
}

/// What running one case's performer gave.
#[derive(Debug, Clone)]
pub struct Ran {
    pub ok: bool,
    pub detail: String,
}

fn wait_timeout(mut child: Child, what: &str) -> Ran {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > CASE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Ran {
                    ok: false,
                    detail: format!("{what} timed out after {CASE_TIMEOUT:?}"),
                };
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                return Ran {
                    ok: false,
                    detail: format!("{what}: {e}"),
                }
            }
        }
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Ran {
        ok: out.status.success(),
        detail: if out.status.success() {
            String::new()
        } else {
            format!("{what} exited with {}: {err}", out.status)
        },
    }
}

/// Runs one case: writes its plan, starts the performer (here or in a container).
pub fn run_case(case_dir: &Path, id: &str, p: &Prepared) -> Ran {
    std::fs::create_dir_all(case_dir).unwrap();
    let mut plan = p.plan.clone();
    let performer = PathBuf::from(env!("CARGO_BIN_EXE_peregrine-evtgen"));
    if p.container {
        // The performer is mounted read-only; the copies the chain runs from are made inside
        // the container's own filesystem (its upper layer).
        plan.insert("workdir".into(), Value::String("/tmp/evtgen-work".into()));
        // The agent reads a container's users through its live processes' roots.
        plan.insert("linger_ms".into(), Value::from(CONTAINER_LINGER_MS));
        std::fs::write(
            case_dir.join("plan.json"),
            serde_json::to_vec_pretty(&plan).unwrap(),
        )
        .unwrap();
        std::fs::copy(&performer, case_dir.join("peregrine-evtgen")).unwrap();
        let name = format!("peregrine-evtgen-{id}");
        let child = Command::new("podman")
            .args([
                "run",
                "--rm",
                "--pull=never",
                "--privileged",
                "--network=none",
            ])
            .args(["--name", &name])
            // The performer is a glibc program; the image is busybox-static.
            .args(["-v", "/lib:/lib:ro", "-v", "/lib64:/lib64:ro"])
            // podman mounts /dev/shm noexec; the /dev/shm cases really execute from there.
            .args(["--tmpfs", "/dev/shm:rw,exec,nosuid,nodev,mode=1777"])
            .args(["-v", &format!("{}:/evtgen:ro", case_dir.display())])
            .args(["-e", "PEREGRINE_EVTGEN_PLAN=/evtgen/plan.json"])
            .args(["-e", &format!("{CASE_ENV}={id}")])
            .args([IMAGE, "/evtgen/peregrine-evtgen"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        match child {
            Ok(c) => wait_timeout(c, "podman run"),
            Err(e) => Ran {
                ok: false,
                detail: format!("podman: {e}"),
            },
        }
    } else {
        plan.insert(
            "workdir".into(),
            Value::String(case_dir.join("exe").to_string_lossy().into_owned()),
        );
        let plan_path = case_dir.join("plan.json");
        std::fs::write(&plan_path, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
        // A small environment: the test harness's own is long, and the marker must be in
        // the part of it an agent reads.
        let child = Command::new(&performer)
            .env_clear()
            .env(CASE_ENV, id)
            .env("PEREGRINE_EVTGEN_PLAN", &plan_path)
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        match child {
            Ok(c) => wait_timeout(c, "performer"),
            Err(e) => Ran {
                ok: false,
                detail: format!("performer: {e}"),
            },
        }
    }
}

struct Pool {
    pending: Vec<usize>,
    busy_keys: HashSet<String>,
    containers: usize,
}

/// Runs `cases` (index → prepared) on a bounded pool; returns each one's result.
pub fn run_all(root: &Path, ids: &[String], cases: &[&Prepared]) -> Vec<Ran> {
    // Cases that sleep go first, so their waits overlap everything else.
    let mut pending: Vec<usize> = (0..cases.len()).collect();
    pending.sort_by_key(|&i| !cases[i].sleeps);
    pending.reverse(); // popped from the end
    let state = Mutex::new(Pool {
        pending,
        busy_keys: HashSet::new(),
        containers: 0,
    });
    let cv = Condvar::new();
    let results: Mutex<Vec<Option<Ran>>> = Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|s| {
        for _ in 0..HOST_POOL {
            s.spawn(|| loop {
                let i = {
                    let mut st = state.lock().unwrap();
                    loop {
                        if st.pending.is_empty() {
                            return;
                        }
                        let pick = st.pending.iter().rposition(|&i| {
                            let c = cases[i];
                            (!c.container || st.containers < CONTAINER_POOL)
                                && c.keys.iter().all(|k| !st.busy_keys.contains(k))
                        });
                        match pick {
                            Some(pos) => {
                                let i = st.pending.remove(pos);
                                let c = cases[i];
                                st.busy_keys.extend(c.keys.iter().cloned());
                                if c.container {
                                    st.containers += 1;
                                }
                                break i;
                            }
                            None => st = cv.wait(st).unwrap(),
                        }
                    }
                };
                let ran = run_case(&root.join(&ids[i]), &ids[i], cases[i]);
                results.lock().unwrap()[i] = Some(ran);
                let mut st = state.lock().unwrap();
                for k in &cases[i].keys {
                    st.busy_keys.remove(k);
                }
                if cases[i].container {
                    st.containers -= 1;
                }
                cv.notify_all();
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}
