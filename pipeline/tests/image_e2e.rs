//! The container image, run the way the DaemonSet runs it: `--pid=host`, the host's `/proc`
//! and `/etc` under `/host`, the runtime socket mounted read-only, privileged or with the
//! least-privilege capabilities, read-only root. It must see `cat /etc/shadow` in another
//! container (with that container's name and image) and on the host, leave its own
//! container alone, and stop cleanly on SIGTERM. Needs the image: `deploy/build-image.sh`.

mod common;

use common::{skip_podman, testdata, IMAGE, PODMAN_SOCK};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const AGENT_IMAGE: &str = "localhost/peregrine:dev";

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman").args(args).output().expect("podman")
}

fn image_missing() -> Option<String> {
    (!podman(&["image", "exists", AGENT_IMAGE]).status.success())
        .then(|| format!("image {AGENT_IMAGE} is missing (run deploy/build-image.sh)"))
}

/// The runtime's default seccomp profile with bpf(2) and perf_event_open(2) allowed: the
/// default lets them through only with CAP_SYS_ADMIN, which least privilege leaves out.
fn seccomp_profile(dir: &Path) -> std::path::PathBuf {
    let default = std::fs::read_to_string("/usr/share/containers/seccomp.json")
        .expect("podman's default seccomp profile");
    let mut p: Value = serde_json::from_str(&default).unwrap();
    let ours = ["bpf", "perf_event_open"];
    let rules = p["syscalls"].as_array_mut().unwrap();
    for r in rules.iter_mut() {
        if r["action"] == "SCMP_ACT_ERRNO" {
            if let Some(names) = r["names"].as_array_mut() {
                names.retain(|n| !ours.contains(&n.as_str().unwrap_or("")));
            }
        }
    }
    rules.retain(|r| r["names"].as_array().is_none_or(|n| !n.is_empty()));
    rules.push(serde_json::json!({"names": ours, "action": "SCMP_ACT_ALLOW", "args": []}));
    let path = dir.join("seccomp-peregrine.json");
    std::fs::write(&path, p.to_string()).unwrap();
    path
}

/// Removed on drop, so a failing test leaves no agent running.
struct Named(String);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

fn run_mode(mode: &str, data: &Path, dir: &Path) {
    let name = format!("peregrine-image-{mode}-{}", std::process::id());
    let _ = podman(&["rm", "-f", &name]);
    let rules = format!("{}:/rules:ro", data.display());
    let socket = format!("{PODMAN_SOCK}:/host{PODMAN_SOCK}:ro");
    let seccomp = format!("seccomp={}", seccomp_profile(dir).display());
    let mut args: Vec<&str> = vec!["run", "-d", "--name", &name, "--pid=host"];
    match mode {
        "privileged" => args.push("--privileged"),
        _ => args.extend([
            "--cap-drop=all",
            "--cap-add=BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH",
            "--read-only",
            "--security-opt",
            &seccomp,
        ]),
    }
    // As the chart mounts them: host paths under /host, the BTF folder where it is.
    args.extend([
        "-v",
        "/sys/kernel/btf:/sys/kernel/btf:ro",
        "-v",
        "/proc:/host/proc:ro",
        "-v",
        "/etc:/host/etc:ro",
        "-v",
        &socket,
        "-v",
        &rules,
        "-e",
        "FALCO_HOSTNAME=test-node",
        AGENT_IMAGE,
        "-r",
        "/rules/upstream/falco_rules.yaml",
        "-r",
        "/rules/seed_rules.yaml",
        "-o",
        "json_output=true",
        "-o",
        "rule_matching=all",
    ]);
    let out = podman(&args);
    assert!(out.status.success(), "podman run: {out:?}");
    let agent = Named(name.clone());
    let logs = || {
        let o = podman(&["logs", &name]);
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let start = Instant::now();
    while !logs().1.contains("output destinations") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{mode}: agent did not start: {:?}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        logs()
            .1
            .contains(&format!("container metadata from /host{PODMAN_SOCK}")),
        "{mode}: the socket under HOST_ROOT is found: {}",
        logs().1
    );
    std::thread::sleep(Duration::from_millis(500));

    // Another container reads /etc/shadow; so does the host; and a shell in the agent's
    // own container (which must stay silent).
    let reader = format!("shadow-reader-{mode}-{}", std::process::id());
    let o = podman(&[
        "run",
        "--rm",
        "--name",
        &reader,
        IMAGE,
        "cat",
        "/etc/shadow",
    ]);
    assert!(o.status.success(), "{o:?}");
    let _ = std::fs::read_to_string("/etc/shadow").unwrap();
    Command::new("cat")
        .arg("/etc/shadow")
        .output()
        .expect("cat on the host");
    let _ = podman(&[
        "exec",
        &name,
        "/usr/bin/peregrine",
        "validate",
        "-r",
        "/rules/seed_rules.yaml",
    ]);

    let wanted = |alerts: &[Value]| {
        let container = alerts.iter().any(|a| {
            a["rule"] == "Sensitive File Access"
                && a["output_fields"]["container.name"] == reader.as_str()
                && a["output_fields"]["container.image.repository"] == "localhost/peregrine-test"
        });
        let host = alerts.iter().any(|a| {
            a["rule"] == "Read sensitive file untrusted"
                && a["output_fields"]["container.id"] == "host"
                && a["output_fields"]["proc.name"] == "cat"
                && a["output_fields"]["user.name"] == "root"
        });
        container && host
    };
    let parse = |stdout: &str| -> Vec<Value> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let start = Instant::now();
    while !wanted(&parse(&logs().0)) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{mode}: missing alerts: {}\n{}",
            logs().0,
            logs().1
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = podman(&["stop", "-t", "20", &name]);
    assert!(out.status.success(), "{out:?}");
    let code = podman(&["inspect", &name, "--format", "{{.State.ExitCode}}"]);
    let (stdout, stderr) = logs();
    assert_eq!(
        String::from_utf8_lossy(&code.stdout).trim(),
        "0",
        "{mode}: SIGTERM must stop it cleanly: {stderr}"
    );
    assert!(stderr.contains("Events read:"), "{mode}: {stderr}");
    for a in parse(&stdout) {
        assert_ne!(
            a["output_fields"]["container.name"],
            name.as_str(),
            "{mode}: its own container raised an alert: {a}"
        );
    }
    drop(agent);
}

#[test]
fn the_image_runs_as_the_daemonset_runs_it() {
    if skip_podman("the_image_runs_as_the_daemonset_runs_it") {
        return;
    }
    let Some(data) = testdata("the_image_runs_as_the_daemonset_runs_it") else {
        return;
    };
    if let Some(why) = image_missing() {
        assert!(
            std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("skipping the_image_runs_as_the_daemonset_runs_it: {why}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("peregrine-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for mode in ["least-privilege", "privileged"] {
        run_mode(mode, &data, &dir);
    }
}

/// The chart's least-privilege default is `seccompProfile: RuntimeDefault`. containerd (the
/// runtime of most Kubernetes nodes) generates its default profile from the container's
/// capabilities: with BPF and PERFMON it lets bpf(2) and perf_event_open(2) through, so the
/// probes attach. Run through the tests' private containerd (.ci/containerd-setup.sh) with
/// its default profile, the chart's capabilities and a read-only root. (podman's and CRI-O's
/// default profile, from containers/common, allow bpf(2) only with SYS_ADMIN: see
/// docs/deploy.md.)
#[test]
fn containerd_runtime_default_seccomp_lets_least_privilege_attach() {
    const TEST: &str = "containerd_runtime_default_seccomp_lets_least_privilege_attach";
    const SOCK: &str = "/run/peregrine-containerd/containerd.sock";
    if skip_podman(TEST) {
        return;
    }
    let missing = image_missing().or_else(|| {
        (!Path::new(SOCK).exists())
            .then(|| format!("{SOCK} is missing (run .ci/containerd-setup.sh)"))
    });
    if let Some(why) = missing {
        assert!(
            std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("skipping {TEST}: {why}");
        return;
    }
    let ctr = |args: &[&str]| -> std::process::Output {
        Command::new("ctr")
            .args(["-a", SOCK, "-n", "k8s.io"])
            .args(args)
            .output()
            .expect("ctr")
    };
    // The image as podman built it, into containerd's store.
    let mut save = Command::new("podman")
        .args(["save", AGENT_IMAGE])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("podman save");
    let import = Command::new("ctr")
        .args(["-a", SOCK, "-n", "k8s.io", "images", "import"])
        .args(["--base-name", "localhost/peregrine", "-"])
        .stdin(save.stdout.take().unwrap())
        .output()
        .expect("ctr images import");
    assert!(save.wait().expect("podman save").success());
    assert!(import.status.success(), "{import:?}");

    let name = format!("peregrine-ctr-{}", std::process::id());
    let log = std::env::temp_dir().join(format!("{name}.log"));
    let _ = std::fs::remove_file(&log);
    let log_uri = format!("file://{}", log.display());
    struct Task<'a>(&'a dyn Fn(&[&str]) -> std::process::Output, &'a str);
    impl Drop for Task<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["task", "kill", "-s", "SIGKILL", self.1]);
            std::thread::sleep(Duration::from_millis(300));
            let _ = (self.0)(&["task", "rm", "-f", self.1]);
            let _ = (self.0)(&["container", "rm", self.1]);
        }
    }
    let _ = ctr(&["task", "rm", "-f", &name]);
    let _ = ctr(&["container", "rm", &name]);
    // The chart's least-privilege capabilities, containerd's default seccomp profile.
    // (ctr cannot join the host's pid namespace with this runc; the probes are global.)
    let out = ctr(&[
        "run",
        "-d",
        "--seccomp",
        "--read-only",
        "--cap-add",
        "CAP_BPF",
        "--cap-add",
        "CAP_PERFMON",
        "--cap-add",
        "CAP_SYS_PTRACE",
        "--cap-add",
        "CAP_DAC_READ_SEARCH",
        "--log-uri",
        &log_uri,
        "--mount",
        "type=bind,src=/proc,dst=/host/proc,options=rbind:ro",
        "--mount",
        "type=bind,src=/sys/kernel/btf,dst=/sys/kernel/btf,options=rbind:ro",
        "localhost/peregrine:dev",
        &name,
        "/usr/bin/peregrine",
        "-o",
        "stdout_output.enabled=false",
    ]);
    assert!(out.status.success(), "ctr run: {out:?}");
    let _task = Task(&ctr, &name);
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("kernel probes attached") {
            break;
        }
        assert!(
            !text.contains("ERROR") && start.elapsed() < Duration::from_secs(60),
            "the probes did not attach under containerd's RuntimeDefault profile: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
