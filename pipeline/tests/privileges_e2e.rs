//! Least privilege of the real binary: after the probes are attached the agent keeps only
//! CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE in every thread, with empty bounding, inheritable
//! and ambient sets and no-new-privs, and still detects, reads other users' /proc entries
//! and reloads; its program_output children have no capability; config and rules files
//! others could have written are refused (or read with a warning, by setting), and a rules
//! path that leads to /etc/shadow never has its content printed.
//!
//! The kernel tests need root and BPF; the file trust tests need root (to give files to
//! `nobody`) and run on synthetic events.

mod common;

use common::{skip, Agent};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;
/// CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19).
const KEPT: u64 = (1 << 2) | (1 << 19);

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
        .to_string()
}

fn caps(status: &str, key: &str) -> u64 {
    u64::from_str_radix(&status_field(status, key), 16).unwrap()
}

/// Every thread of `pid`: (thread name, its status text).
fn threads(pid: u32) -> Vec<(String, String)> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| {
            let t = t.ok()?.path();
            Some((
                std::fs::read_to_string(t.join("comm"))
                    .ok()?
                    .trim()
                    .to_string(),
                std::fs::read_to_string(t.join("status")).ok()?,
            ))
        })
        .collect()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn marker_rule(dir: &Path) -> String {
    format!(
        r#"
- rule: Marker read
  desc: test
  condition: evt.type in (open, openat, openat2) and fd.name = "{0}/marker"
  output: "marker read (proc.name=%proc.name proc.cwd=%proc.cwd user.uid=%user.uid)"
  priority: WARNING
- rule: Held closed
  desc: test
  condition: evt.type = close and fd.name = "{0}/held"
  output: "held closed (proc.name=%proc.name proc.cwd=%proc.cwd fd.name=%fd.name)"
  priority: WARNING
"#,
        dir.display()
    )
}

/// A directory `nobody` can enter, with a file it can read.
fn shared_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peregrine-priv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("marker"), "x\n").unwrap();
    std::fs::write(dir.join("held"), "x\n").unwrap();
    dir
}

/// The running agent holds only the two capabilities in every thread, and with them still
/// reads the working directory and open files of another user's process started before it
/// (/proc/<pid>/cwd: the ptrace access check; /proc/<pid>/fd: mode 0500, owned by that
/// user), detects, and reloads rules that need new syscalls.
#[test]
fn the_running_agent_keeps_two_capabilities_and_still_detects_and_reloads() {
    if skip("the_running_agent_keeps_two_capabilities_and_still_detects_and_reloads") {
        return;
    }
    let dir = shared_dir("detect");
    // nobody's shell, started before the agent, in `dir`, holding `held` open: its cwd and
    // that file come from /proc only.
    let mut shell = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/bin/sh",
            "-c",
            "exec 3< held; read go; exec 3<&-; cat marker > /dev/null",
        ])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("setpriv");
    let agent = Agent::start(
        "privs",
        &marker_rule(&dir),
        &["-o", "watch_config_files=false"],
    );
    let log = agent.stderr();
    assert!(
        log.contains("capabilities dropped; kept: CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE"),
        "{log}"
    );
    let pid = agent.child.id();
    let all = threads(pid);
    assert!(all.len() > 3, "the pipeline's threads run: {all:?}");
    for (name, status) in &all {
        assert_eq!(caps(status, "CapEff"), KEPT, "thread {name}: {status}");
        assert_eq!(caps(status, "CapPrm"), KEPT, "thread {name}");
        assert_eq!(caps(status, "CapInh"), 0, "thread {name}");
        assert_eq!(caps(status, "CapBnd"), 0, "thread {name}");
        assert_eq!(caps(status, "CapAmb"), 0, "thread {name}");
        assert_eq!(status_field(status, "NoNewPrivs"), "1", "thread {name}");
        assert_eq!(
            status_field(status, "Uid").split_whitespace().next(),
            Some("0")
        );
    }

    shell.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(shell.wait().unwrap().success());

    // A reload after the drop that needs a syscall nothing needed before (ptrace).
    let ptrace_rule = format!(
        r#"
- rule: Ptrace attach
  desc: test
  condition: evt.type = ptrace and proc.pid = {}
  output: "ptrace (proc.name=%proc.name)"
  priority: WARNING
"#,
        std::process::id()
    );
    std::fs::write(
        agent.dir.join("rules.yaml"),
        format!("{}{ptrace_rule}", marker_rule(&dir)),
    )
    .unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    wait_for("the reload", || {
        agent.stderr().contains("kernel syscall set updated")
    });
    // SAFETY: PTRACE_ATTACH on a pid that does not exist fails harmlessly.
    unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_ATTACH, 0x7fff_fff0, 0, 0) };
    let log = agent.stderr();
    let alerts = agent.stop();
    assert!(log.contains("rules reloaded (SIGHUP)"), "{log}");

    let marker: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Marker read")
        .collect();
    assert_eq!(marker.len(), 1, "{alerts:#?}");
    let f = &marker[0]["output_fields"];
    assert_eq!(f["proc.name"], "cat");
    assert_eq!(f["user.uid"], NOBODY);
    // The shell's own close: its cwd and the file behind fd 3 are known only from
    // /proc/<pid>/cwd and /proc/<pid>/fd, read after the drop.
    let held: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Held closed")
        .collect();
    assert_eq!(held.len(), 1, "{alerts:#?}");
    let f = &held[0]["output_fields"];
    assert_eq!(f["proc.name"], "sh");
    assert_eq!(f["proc.cwd"], format!("{}/", dir.display()));
    assert_eq!(
        alerts
            .iter()
            .filter(|a| a["rule"] == "Ptrace attach")
            .count(),
        1,
        "{alerts:#?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What program_output starts runs as root with no capability and cannot gain any.
#[test]
fn program_output_children_have_no_capabilities() {
    if skip("program_output_children_have_no_capabilities") {
        return;
    }
    let dir = shared_dir("program");
    let status_file = dir.join("child.status");
    let program = format!(
        "program_output.program=cat /proc/$$/status > {}; cat > /dev/null",
        status_file.display()
    );
    let agent = Agent::start(
        "program",
        &marker_rule(&dir),
        &["-o", "program_output.enabled=true", "-o", &program],
    );
    common::run("/bin/cat", &[dir.join("marker").to_str().unwrap()]);
    wait_for("the program's status", || {
        std::fs::read_to_string(&status_file).is_ok_and(|s| s.contains("NoNewPrivs"))
    });
    let status = std::fs::read_to_string(&status_file).unwrap();
    agent.stop();
    for key in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(caps(&status, key), 0, "{key}: {status}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs"), "1");
    assert_eq!(
        status_field(&status, "Uid").split_whitespace().next(),
        Some("0")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- file trust: the real binary on synthetic events ----

const RULE: &str = r#"- rule: Any open
  desc: test
  condition: evt.type = open
  output: "open (proc.name=%proc.name)"
  priority: WARNING
"#;

fn root_only(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return false;
    }
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test}: needs root (to give files to nobody) and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping {test}: needs root (to give files to nobody)");
    true
}

/// Runs the agent on 50 synthetic events with these arguments: (exit code, stderr).
fn agent(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(["--source", "synthetic", "--events", "50"])
        .args(["-o", "webserver.enabled=false"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let start = Instant::now();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code().unwrap_or(-1);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the agent did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (code, std::fs::read_to_string(dir.join("stderr")).unwrap())
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peregrine-trust-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn trusted_files_run_and_drop_every_capability_off_the_kernel() {
    if root_only("trusted_files_run_and_drop_every_capability_off_the_kernel") {
        return;
    }
    let dir = work_dir("ok");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o644);
    let config = dir.join("peregrine.yaml");
    write(&config, "log_level: info\n", 0o600);
    let (code, log) = agent(&dir, &["-c", s(&config), "-r", s(&rules)]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("capabilities dropped; kept: none"), "{log}");
    // A symlink root made, in a directory only root writes, is fine.
    symlink(&rules, dir.join("link.yaml")).unwrap();
    let (code, log) = agent(&dir, &["-r", s(&dir.join("link.yaml"))]);
    assert_eq!(code, 0, "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rules_files_others_could_write_are_refused_or_read_with_a_warning() {
    if root_only("rules_files_others_could_write_are_refused_or_read_with_a_warning") {
        return;
    }
    let dir = work_dir("modes");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o664);
    let (code, log) = agent(&dir, &["-r", s(&rules)]);
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(&format!("refusing the rules file {}", rules.display()))
            && log.contains("is writable by its group (mode 0664, owner uid 0 (root))"),
        "{log}"
    );
    // By setting: read, with the same reason in a warning.
    let (code, log) = agent(&dir, &["-r", s(&rules), "-o", "untrusted_files=warn"]);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("WARN")
            && log.contains("although others could have written it (untrusted_files: warn)")
            && log.contains("mode 0664"),
        "{log}"
    );

    // A folder entry writable by all (not sticky): the folder is named.
    write(&rules, RULE, 0o644);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, log) = agent(&dir, &["-r", s(&dir)]);
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(&format!(
            "directory {} is writable by group and others (mode 0777",
            dir.display()
        )),
        "{log}"
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    // A symlink nobody owns, to a good file.
    let link = dir.join("link.yaml");
    symlink(&rules, &link).unwrap();
    lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    let (code, log) = agent(&dir, &["-r", s(&link)]);
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(&format!(
            "reached through the symlink {} owned by uid 65534 (nobody)",
            link.display()
        )),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The attack: nobody owns a rules folder and links a rules file to /etc/shadow. The agent
/// refuses it; even told to read it anyway, its error never shows a line of the file.
#[test]
fn a_rules_link_to_etc_shadow_is_refused_and_never_printed() {
    if root_only("a_rules_link_to_etc_shadow_is_refused_and_never_printed") {
        return;
    }
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
    let first = shadow.lines().next().unwrap().to_string();
    let dir = work_dir("shadow");
    let rules_dir = dir.join("rules.d");
    std::fs::create_dir(&rules_dir).unwrap();
    std::fs::set_permissions(&rules_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    lchown(&rules_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let link = rules_dir.join("zz.yaml");
    symlink("/etc/shadow", &link).unwrap();
    lchown(&link, Some(NOBODY), Some(NOBODY)).unwrap();
    let config = dir.join("peregrine.yaml");
    write(
        &config,
        &format!("rules_files: [{}]\n", rules_dir.display()),
        0o644,
    );

    let (code, log) = agent(&dir, &["-c", s(&config)]);
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(&format!(
            "directory {} is owned by uid 65534 (nobody)",
            rules_dir.display()
        )),
        "{log}"
    );
    assert!(!log.contains(&first), "{log}");

    let (code, log) = agent(&dir, &["-c", s(&config), "-o", "untrusted_files=warn"]);
    assert_ne!(code, 0, "{log}");
    assert!(log.contains("Rules content is not yaml"), "{log}");
    for secret in [first.as_str(), first.split(':').nth(1).unwrap_or(&first)] {
        if secret.len() > 2 {
            assert!(!log.contains(secret), "leaked {secret:?}: {log}");
        }
    }
    assert!(!log.contains("root:"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The config file is checked before it is read, and cannot let itself in.
#[test]
fn a_config_file_others_could_write_is_refused_whatever_it_says() {
    if root_only("a_config_file_others_could_write_is_refused_whatever_it_says") {
        return;
    }
    let dir = work_dir("config");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o644);
    let config = dir.join("peregrine.yaml");
    write(
        &config,
        &format!(
            "untrusted_files: warn\nrules_files: [{}]\n",
            rules.display()
        ),
        0o666,
    );
    let (code, log) = agent(&dir, &["-c", s(&config)]);
    assert_ne!(code, 0, "{log}");
    assert!(
        log.contains(&format!("refusing the config file {}", config.display()))
            && log.contains("writable by group and others (mode 0666"),
        "{log}"
    );
    let (code, log) = agent(&dir, &["-c", s(&config), "-o", "untrusted_files=warn"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("reading the config file"), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rules file that becomes writable by others is refused on reload; the rules already
/// running go on.
#[test]
fn a_reload_refuses_a_rules_file_others_can_now_write() {
    if root_only("a_reload_refuses_a_rules_file_others_can_now_write") {
        return;
    }
    let dir = work_dir("reload");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o644);
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(["--source", "synthetic:200", "-r", s(&rules)])
        .args([
            "-o",
            "webserver.enabled=false",
            "-o",
            "watch_config_files=false",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    wait_for("the start", || log().contains("rules loaded"));
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o646)).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    wait_for("the rejected reload", || {
        log().contains("reload (SIGHUP) rejected")
    });
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let log = log();
    assert!(status.success(), "{log}");
    assert!(
        log.contains(&format!("refusing the rules file {}", rules.display()))
            && log.contains("writable by others (mode 0646"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `drop_capabilities: false` (debugging) keeps what the agent was started with — the state
/// before the drop existed — and says so.
#[test]
fn drop_capabilities_false_keeps_every_capability() {
    if root_only("drop_capabilities_false_keeps_every_capability") {
        return;
    }
    let dir = work_dir("nodrop");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o644);
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(["--source", "synthetic:200", "-r", s(&rules)])
        .args([
            "-o",
            "webserver.enabled=false",
            "-o",
            "drop_capabilities=false",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    wait_for("the start", || log().contains("rules loaded"));
    let mine = std::fs::read_to_string("/proc/self/status").unwrap();
    let its = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success(), "{}", log());
    for key in ["CapEff", "CapBnd"] {
        assert_eq!(caps(&its, key), caps(&mine, key), "{key}");
    }
    assert_ne!(caps(&its, "CapEff"), 0);
    assert!(log().contains("drop_capabilities: false"), "{}", log());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An agent started as an ordinary user (no CAP_SETPCAP) still starts: it cannot empty the
/// bounding set, says so, and sets no-new-privs.
#[test]
fn an_agent_without_capabilities_still_starts() {
    if root_only("an_agent_without_capabilities_still_starts") {
        return;
    }
    let dir = work_dir("nobody");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o644);
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_peregrine"))
        .args(["--source", "synthetic", "--events", "50", "-r", s(&rules)])
        .args(["-o", "webserver.enabled=false"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("kept: none; inheritable and ambient sets empty; no-new-privs set; the bounding set is left as it was"),
        "{log}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A free TCP port below 1024 on loopback.
fn free_low_port() -> u16 {
    (700..1000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port below 1024")
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// The web server and the sidekick input on ports below 1024 serve after the drop: they
/// were bound before it, so no CAP_NET_BIND_SERVICE is kept.
#[test]
fn ports_below_1024_are_bound_before_the_drop() {
    if root_only("ports_below_1024_are_bound_before_the_drop") {
        return;
    }
    let dir = work_dir("ports");
    let rules = dir.join("rules.yaml");
    write(&rules, RULE, 0o644);
    let web = free_low_port();
    let input = (web + 1..1000)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(["--source", "synthetic:200", "-r", s(&rules)])
        .args(["-o", "webserver.enabled=true"])
        .args(["-o", "webserver.listen_address=127.0.0.1"])
        .args(["-o", &format!("webserver.listen_port={web}")])
        .args(["-o", "outputs.listenaddress=127.0.0.1"])
        .args(["-o", &format!("outputs.listenport={input}")])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr")).unwrap(),
        ))
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
    wait_for("the servers", || log().contains("web server listening"));
    let health = http_get(web, "/healthz");
    let ping = http_get(input, "/ping");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success(), "{}", log());
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    assert_eq!(caps(&status, "CapEff"), 0, "{}", log());
    std::fs::remove_dir_all(&dir).unwrap();
}
