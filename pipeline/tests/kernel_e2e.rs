//! The real binary on this host's kernel: default engine (modern_ebpf), a test rules file,
//! real commands, JSON alerts checked field by field.

mod common;

use common::{run, skip};
use serde_json::Value;
use std::fs::File;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RULES: &str = r#"
- rule: Read shadow
  desc: a test rule on the sensitive-file pattern
  condition: evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.name = /etc/shadow
  output: "shadow read (user=%user.name proc.name=%proc.name fd.name=%fd.name ppid=%proc.ppid)"
  priority: WARNING
- rule: Shell true
  desc: a test exec rule
  condition: evt.type in (execve, execveat) and proc.name = sh and proc.args = "-c true"
  output: "sh -c true (cmdline=%proc.cmdline pname=%proc.pname ppid=%proc.ppid)"
  priority: NOTICE
- rule: Hostname read
  desc: a test rule on ancestry, for a tree whose top started before the agent
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/hostname and proc.name = cat
  output: "hostname read (pname=%proc.pname aname2=%proc.aname[2] aname3=%proc.aname[3] pcmdline=%proc.pcmdline ppid=%proc.ppid apid2=%proc.apid[2])"
  priority: INFO
- rule: Loopback connect
  desc: a test rule on socket fds
  condition: evt.type = connect and fd.sip = 127.0.0.1 and fd.l4proto = tcp
  output: "connect (fd.name=%fd.name fd.typechar=%fd.typechar fd.cip=%fd.cip fd.sip=%fd.sip fd.sport=%fd.sport proc.pid=%proc.pid)"
  priority: INFO
- rule: Dup of shadow
  desc: a test rule on an fd that only a dup names
  condition: evt.type in (dup, dup2, dup3) and fd.name = /etc/shadow
  output: "dup (fd.name=%fd.name fd.directory=%fd.directory fd.filename=%fd.filename fd.typechar=%fd.typechar proc.pid=%proc.pid)"
  priority: INFO
"#;

/// The agent with [`RULES`] and extra command-line arguments.
struct Agent;

impl Agent {
    fn start(name: &str) -> common::Agent {
        common::Agent::start(name, RULES, &[])
    }

    fn start_with(name: &str, extra: &[&str]) -> common::Agent {
        common::Agent::start(name, RULES, extra)
    }
}

/// The one "Read shadow" alert of the `cat` started by the shell `parent`: other processes
/// on the host (other test runs, containers) may read /etc/shadow too.
fn one_shadow_alert(alerts: &[Value], parent: u32) -> &Value {
    let shadow: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Read shadow" && a["output_fields"]["proc.ppid"] == parent)
        .collect();
    assert_eq!(shadow.len(), 1, "{alerts:#?}");
    shadow[0]
}

#[test]
fn cat_shadow_and_shell_on_the_host() {
    if skip("cat_shadow_and_shell_on_the_host") {
        return;
    }
    let agent = Agent::start("host");
    let bash = run("/bin/bash", &["-c", "/bin/cat /etc/shadow; true"]);
    run("/bin/sh", &["-c", "true"]);
    let alerts = agent.stop();

    let shadow = one_shadow_alert(&alerts, bash);
    let f = &shadow["output_fields"];
    assert_eq!(f["proc.name"], "cat");
    assert_eq!(f["fd.name"], "/etc/shadow");
    assert_eq!(f["user.name"], "root");
    assert_eq!(shadow["priority"], "Warning");
    assert_eq!(shadow["source"], "syscall");

    let shell: Vec<&Value> = alerts
        .iter()
        .filter(|a| {
            a["rule"] == "Shell true" && a["output_fields"]["proc.ppid"] == std::process::id()
        })
        .collect();
    assert_eq!(shell.len(), 1, "{alerts:#?}");
    let f = &shell[0]["output_fields"];
    assert_eq!(f["proc.cmdline"], "sh -c true");
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(
        f["proc.pname"],
        me.trim(),
        "the parent is this test process"
    );
}

/// One ring per CPU, each drained by its own probe actor thread: the same alert, with the
/// process fields right, reaches the output.
#[test]
fn probe_actors_deliver_alerts() {
    if skip("probe_actors_deliver_alerts") {
        return;
    }
    let agent = Agent::start_with(
        "actors",
        &[
            "-o",
            "engine.modern_ebpf.cpus_for_each_buffer=1",
            "-o",
            "pipeline.probe_actors=2",
        ],
    );
    let log = agent.stderr();
    let bash = run("/bin/bash", &["-c", "/bin/cat /etc/shadow; true"]);
    let alerts = agent.stop();
    assert!(log.contains("probe_actors=2"), "{log}");
    let f = &one_shadow_alert(&alerts, bash)["output_fields"];
    assert_eq!(
        (&f["proc.name"], &f["fd.name"]),
        (&"cat".into(), &"/etc/shadow".into())
    );
}

/// A reload that adds a rule on a syscall nothing needed before (ptrace) turns that
/// syscall on in the kernel.
#[test]
fn reload_turns_on_the_syscalls_new_rules_need() {
    if skip("reload_turns_on_the_syscalls_new_rules_need") {
        return;
    }
    let agent = Agent::start("reload");
    let ptrace_rule = r#"
- rule: Ptrace attach
  desc: test
  condition: evt.type = ptrace and proc.pid = {pid}
  output: "ptrace (proc.name=%proc.name)"
  priority: WARNING
"#;
    let attach = || {
        // SAFETY: PTRACE_ATTACH on a pid that does not exist fails harmlessly.
        unsafe { libc::syscall(libc::SYS_ptrace, libc::PTRACE_ATTACH, 0x7fff_fff0, 0, 0) };
    };
    attach();
    let ptrace_rule = ptrace_rule.replace("{pid}", &std::process::id().to_string());
    std::fs::write(
        agent.dir.join("rules.yaml"),
        format!("{RULES}{ptrace_rule}"),
    )
    .unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(agent.child.id() as i32, libc::SIGHUP) };
    let start = Instant::now();
    while !agent.stderr().contains("kernel syscall set updated") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            agent.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    attach();
    let alerts = agent.stop();
    let hits: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Ptrace attach")
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "only the ptrace after the reload: {alerts:#?}"
    );
}

/// A three-level tree (bash → sh → cat) whose top started before the agent: the cat's
/// open has the right parent, grandparent, great-grandparent and parent command line.
#[test]
fn ancestry_of_a_tree_older_than_the_agent() {
    if skip("ancestry_of_a_tree_older_than_the_agent") {
        return;
    }
    use std::io::Write;
    let mut bash = Command::new("/bin/bash")
        .args([
            "-c",
            "read go; /bin/sh -c '/bin/cat /etc/hostname; true'; true",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Agent::start("ancestry");
    bash.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(bash.wait().unwrap().success());
    let alerts = agent.stop();

    let mine: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Hostname read" && a["output_fields"]["proc.apid[2]"] == bash.id())
        .collect();
    assert_eq!(mine.len(), 1, "{alerts:#?}");
    let f = &mine[0]["output_fields"];
    assert_eq!(f["proc.pname"], "sh");
    assert_eq!(f["proc.pcmdline"], "sh -c /bin/cat /etc/hostname; true");
    assert_eq!(f["proc.aname[2]"], "bash");
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(f["proc.aname[3]"], me.trim(), "the test process is the top");
}

/// Socket and dup'd fds, from this process's own syscalls: a connect to a loopback
/// listener carries the tuple, the dup the path of the fd it copies (a file opened before
/// the agent started).
#[test]
fn socket_and_dup_fds_on_the_real_kernel() {
    if skip("socket_and_dup_fds_on_the_real_kernel") {
        return;
    }
    use std::os::fd::AsRawFd;
    let shadow = File::open("/etc/shadow").unwrap();
    let agent = Agent::start("fds");
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client_port = client.local_addr().unwrap().port();
    // SAFETY: dup of an fd this test owns; the copy is closed right away.
    let copy = unsafe { libc::dup(shadow.as_raw_fd()) };
    assert!(copy >= 0);
    // SAFETY: closing the fd dup returned.
    unsafe { libc::close(copy) };
    let alerts = agent.stop();
    let me = std::process::id();

    let connects: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Loopback connect" && a["output_fields"]["proc.pid"] == me)
        .collect();
    assert_eq!(connects.len(), 1, "{alerts:#?}");
    let f = &connects[0]["output_fields"];
    assert_eq!(f["fd.typechar"], "4");
    assert_eq!(f["fd.sip"], "127.0.0.1");
    assert_eq!(f["fd.sport"], port);
    assert_eq!(f["fd.cip"], "127.0.0.1");
    assert_eq!(
        f["fd.name"],
        format!("127.0.0.1:{client_port}->127.0.0.1:{port}")
    );

    let dups: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "Dup of shadow" && a["output_fields"]["proc.pid"] == me)
        .collect();
    assert_eq!(dups.len(), 1, "{alerts:#?}");
    let f = &dups[0]["output_fields"];
    assert_eq!(f["fd.name"], "/etc/shadow");
    assert_eq!(f["fd.directory"], "/etc");
    assert_eq!(f["fd.filename"], "shadow");
    assert_eq!(f["fd.typechar"], "f");
}

/// Without root the agent stops at once with an error that says what it needs.
#[test]
fn not_root_is_a_clear_error() {
    if skip("not_root_is_a_clear_error") {
        return;
    }
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peregrine"));
    cmd.args(["-o", "webserver.enabled=false"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("kernel probes need root") && stderr.contains("uid 65534"),
        "{stderr}"
    );
}
