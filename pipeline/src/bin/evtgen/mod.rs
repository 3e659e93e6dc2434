//! The performer's parts: plan format, constants, processes, resources, steps, and the
//! stage logic that ties them together.

pub mod chain;
pub mod names;
pub mod plan;
pub mod resources;
pub mod steps;

use anyhow::{bail, Context, Result};
use plan::{Plan, PLAN_ENV, STAGE_ENV};
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::{FromRawFd, OwnedFd};

/// Runs this process's part of the plan.
pub fn main() -> Result<()> {
    let plan_path =
        std::env::var_os(PLAN_ENV).with_context(|| format!("{PLAN_ENV} must name a plan file"))?;
    let text = std::fs::read_to_string(&plan_path)
        .with_context(|| format!("reading {}", plan_path.to_string_lossy()))?;
    let plan: Plan = serde_json::from_str(&text).context("parsing the plan")?;
    let netns: Vec<IpAddr> = match &plan.netns {
        Some(n) => n
            .addresses
            .iter()
            .map(|a| a.parse().with_context(|| format!("netns address {a:?}")))
            .collect::<Result<_>>()?,
        None => Vec::new(),
    };
    let stage = std::env::var(STAGE_ENV).ok();
    match stage.as_deref() {
        None => {
            let r = first(&plan, &netns);
            std::thread::sleep(std::time::Duration::from_millis(plan.linger_ms));
            r
        }
        Some(s) if s.starts_with("resource:") => idle(),
        Some(s) => match s.strip_prefix("chain:").map(str::parse::<usize>) {
            Some(Ok(i)) if i < plan.processes.len() => link(&plan, i, &netns),
            _ => bail!("bad {STAGE_ENV} {s:?}"),
        },
    }
}

fn env_of(plan: &Plan) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = plan
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(p) = std::env::var_os(PLAN_ENV) {
        env.push((PLAN_ENV.to_string(), p.to_string_lossy().into_owned()));
    }
    env
}

/// The first performer: network namespace, copies of the chain, then the chain or the test.
fn first(plan: &Plan, netns: &[IpAddr]) -> Result<()> {
    if !netns.is_empty() {
        enter_netns(netns)?;
    }
    if plan.processes.is_empty() {
        return perform(plan, netns);
    }
    std::fs::create_dir_all(&plan.workdir)?;
    std::fs::set_permissions(
        &plan.workdir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let mut exes = Vec::new();
    let mut result = Ok(());
    for (i, spec) in plan.processes.iter().enumerate() {
        match chain::Exe::prepare(spec, &plan.workdir) {
            Ok(e) => exes.push(e),
            Err(e) => {
                result = Err(e).with_context(|| format!("process {i}"));
                break;
            }
        }
    }
    if result.is_ok() {
        // Each process finds its copy at the same place: the files; memfds are inherited
        // down the chain, so the first performer hands their descriptors over in the env.
        result = run_chain_from(plan, 0, &exes);
    }
    for e in &exes {
        e.cleanup();
    }
    result
}

/// Starts process `i` of the chain from `exes[i]` and waits for it.
fn run_chain_from(plan: &Plan, i: usize, exes: &[chain::Exe]) -> Result<()> {
    let spec = &plan.processes[i];
    let mut env = env_of(plan);
    env.push((EXES_ENV.to_string(), exes_env(exes)));
    let pid = chain::spawn(&exes[i], spec, &env, &format!("chain:{i}"))?;
    chain::wait(
        pid,
        &format!("process {i} ({})", spec.argv0().unwrap_or_default()),
    )
}

/// Where the later processes of the chain find their executables (paths or memfd numbers).
const EXES_ENV: &str = "PEREGRINE_EVTGEN_EXES";

fn exes_env(exes: &[chain::Exe]) -> String {
    exes.iter()
        .map(|e| match e {
            chain::Exe::File(p) => p.to_string_lossy().into_owned(),
            chain::Exe::Memfd(fd) => {
                format!("fd:{}", std::os::fd::AsRawFd::as_raw_fd(fd))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn exes_from_env() -> Result<Vec<chain::Exe>> {
    let text = std::env::var(EXES_ENV).with_context(|| format!("{EXES_ENV} is missing"))?;
    text.split('\n')
        .map(|item| match item.strip_prefix("fd:") {
            Some(n) => {
                let fd: i32 = n.parse().context("memfd number")?;
                // SAFETY: the descriptor was inherited from the first performer for this.
                Ok(chain::Exe::Memfd(unsafe { OwnedFd::from_raw_fd(fd) }))
            }
            None => Ok(chain::Exe::File(item.into())),
        })
        .collect()
}

/// Process `i` of the chain: start the next one, or be the one that performs the test.
fn link(plan: &Plan, i: usize, netns: &[IpAddr]) -> Result<()> {
    if i + 1 < plan.processes.len() {
        let exes = exes_from_env()?;
        let r = run_chain_from(plan, i + 1, &exes);
        // The files belong to the first performer; only forget the descriptors here.
        for e in exes {
            if let chain::Exe::Memfd(fd) = e {
                std::mem::forget(fd);
            }
        }
        return r;
    }
    perform(plan, netns)
}

/// A process resource: exists until the teardown kills it.
fn idle() -> Result<()> {
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

/// `before`, resources, steps, teardown.
fn perform(plan: &Plan, netns: &[IpAddr]) -> Result<()> {
    // Steps may replace fds 0-2 (dup2 onto stderr): report through a copy.
    // SAFETY: duplicating our own stderr.
    let report = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 100) };
    let result = perform_inner(plan, netns);
    if let Err(e) = &result {
        if report >= 0 {
            // SAFETY: report is the descriptor duplicated above.
            let mut f = unsafe { std::fs::File::from_raw_fd(report) };
            let _ = writeln!(f, "peregrine-evtgen: {e:#}");
            // A failure here must not also report from main.
            // SAFETY: leaving without unwinding; the teardown already ran.
            unsafe { libc::_exit(1) };
        }
    }
    result
}

fn perform_inner(plan: &Plan, netns: &[IpAddr]) -> Result<()> {
    if let Some(cmd) = &plan.before {
        let status = std::process::Command::new("/bin/sh")
            .args(["-c", cmd])
            .status()
            .context("running before")?;
        if !status.success() {
            bail!("before {cmd:?} exited with {status}");
        }
    }
    let env = env_of(plan);
    let (created, mut bind, res) = resources::create(&plan.resources, &plan.workdir, &env, netns);
    let mut result = res;
    if result.is_ok() {
        for (i, step) in plan.steps.iter().enumerate() {
            match steps::run(step, &bind, netns) {
                Ok(ret) => {
                    if let Some(name) = &step.name {
                        bind.insert(format!("{name}.ret"), ret);
                    }
                }
                Err(e) => {
                    result = Err(e).with_context(|| {
                        format!(
                            "step {i} ({})",
                            step.name.as_deref().unwrap_or(&step.syscall)
                        )
                    });
                    break;
                }
            }
        }
    }
    created.teardown();
    result
}

/// A new network namespace with `lo` up and `addrs` on it.
fn enter_netns(addrs: &[IpAddr]) -> Result<()> {
    // SAFETY: unshare has no memory preconditions; the performer is single-threaded.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error()).context("unshare(CLONE_NEWNET)");
    }
    ip(&["link", "set", "lo", "up"])?;
    for a in addrs {
        let cidr = match a {
            IpAddr::V4(v) => format!("{v}/32"),
            IpAddr::V6(v) => format!("{v}/128"),
        };
        ip(&["addr", "add", &cidr, "dev", "lo"])?;
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<()> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
