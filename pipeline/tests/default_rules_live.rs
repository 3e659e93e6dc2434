//! The 25 rules `falco_rules.yaml` enables by default, each fired on this host's kernel by a
//! real action (on the host or in a podman container, as the rule intends), with the output
//! fields the rule prints; and for each a near action that must stay silent: the same thing
//! done by an allowed process or image, or without what the rule looks for.
//!
//! One agent loads all three upstream rulesets with `rule_matching: all`, plus a local file
//! that allows some names the way an operator would (appending to the rules' own lists).
//! Every action's alerts are picked by its own process (pid, parent pid or container name
//! and command line), so whatever else runs on the host cannot make a case pass or fail.
//!
//! Needs root, BPF, podman (`.ci/podman-setup.sh`) and `../shared/testdata`.

mod common;

use common::live::*;
use common::Agent;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = common::IMAGE;
const ALLOWED_IMAGE: &str = "localhost/postgres-peregrine:15";

/// How an operator allows things: appends to the upstream rules' own lists.
const LOCAL_RULES: &str = r#"
- list: known_ptrace_binaries
  items: [pgallowtrace]
  append: true
- list: allowed_container_images_loading_kernel_module
  items: [localhost/postgres-peregrine]
  append: true
"#;

const K8S_API: &str = "kubernetes.default.svc.cluster.local";

/// Ties every alert to the action that caused it, and prints the fields the cases check.
const APPEND: &str = r#"append_output[]={"match": {"source": "syscall"}, "extra_output": "tie=%proc.pid,%proc.ppid,%container.name,%proc.cmdline checked=%fd.name,%fd.nameraw,%fd.type,%fd.l4proto,%fd.rport,%fd.sip.name,%proc.name,%proc.pname,%proc.exepath,%user.name,%user.uid,%user.loginuid,%proc.tty,%evt.type,%evt.arg.target,%evt.arg.linkpath,%evt.arg.oldpath,%evt.arg.newpath,%proc.is_exe_from_memfd"}"#;

#[test]
fn default_rules_fire_live_and_allowed_actions_stay_silent() {
    let test = "default_rules_fire_live_and_allowed_actions_stay_silent";
    if common::skip_podman(test) || missing_tools(test) {
        return;
    }
    let Some(data) = common::testdata(test) else {
        return;
    };
    let me = std::process::id();
    // Other users run programs from here (System user interactive).
    let (dir, bin) = work_dir("default-rules");
    let priv_c = Container::start(format!("pg-rules-priv-{me}"), IMAGE, true);
    let plain_c = Container::start(format!("pg-rules-plain-{me}"), IMAGE, false);
    let allowed_c = Container::start(format!("pg-rules-allowed-{me}"), ALLOWED_IMAGE, true);

    // The API server's name, as the cluster's DNS would give it, before the agent starts
    // (names are resolved when the rules are compiled).
    let _hosts = HostsEntry::add("127.0.0.2", K8S_API);
    let files = upstream_and_local(&data.join("upstream"), &dir, LOCAL_RULES);
    let agent = Agent::start_in(&dir, &files, &["-o", "rule_matching=all", "-o", APPEND]);
    let mut cases = Vec::new();

    // Read sensitive file trusted after startup: a server older than 5 s reads /etc/shadow;
    // it runs while the other actions do.
    let httpd = link(&bin, "httpd", "/bin/bash");
    let read_shadow = "read -r x < /etc/shadow; true";
    let mut old_server = Command::new(&httpd)
        .args(["-c", &format!("sleep 6; {read_shadow}")])
        .spawn()
        .unwrap();

    // Directory traversal monitored file read.
    let traversal = "/etc/../etc/../etc/shadow";
    let pid = run(Command::new("cat").arg(traversal));
    cases.push(fires(
        "cat through ../ from a non-shell",
        "Directory traversal monitored file read",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("fd.name", v("/etc/shadow")),
            ("fd.nameraw", v(traversal)),
            ("proc.name", v("cat")),
        ],
    ));
    let pid = run(&mut sh(&format!("cat {traversal}; true")));
    cases.push(silent(
        "the same from a shell",
        "Directory traversal monitored file read",
        Tie::Parent(pid),
    ));

    // Read sensitive file untrusted.
    let pid = run(Command::new("cat").arg("/etc/shadow"));
    cases.push(fires(
        "cat /etc/shadow",
        "Read sensitive file untrusted",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("fd.name", v("/etc/shadow")),
            ("proc.name", v("cat")),
            ("proc.exepath", v("/usr/bin/cat")),
            ("user.name", v("root")),
            ("user.uid", 0.into()),
            ("user.loginuid", (-1).into()),
            ("proc.tty", 0.into()),
            ("evt.type", v("openat")),
        ],
    ));
    let pid = run(&mut sh(read_shadow));
    cases.push(silent(
        "a shell reads it",
        "Read sensitive file untrusted",
        Tie::Pid(pid),
    ));
    let new_server = run(Command::new(&httpd).args(["-c", read_shadow]));
    cases.push(silent(
        "a server reads it right after its start",
        "Read sensitive file trusted after startup",
        Tie::Pid(new_server),
    ));

    // Run shell untrusted.
    let nginx = link(&bin, "nginx", "/bin/bash");
    let pid = run(Command::new(&nginx).args(["-c", "sh -c true; true"]));
    cases.push(fires(
        "nginx runs sh",
        "Run shell untrusted",
        Tie::Parent(pid),
        "Notice",
        vec![("proc.name", v("sh")), ("proc.pname", v("nginx"))],
    ));
    let pid = run(&mut sh("sh -c true; true"));
    cases.push(silent(
        "bash runs sh",
        "Run shell untrusted",
        Tie::Parent(pid),
    ));

    // System user interactive.
    let login = link(&bin, "login", "/bin/true");
    let as_daemon = |cmd: &mut Command| {
        cmd.uid(1).gid(1);
        run(cmd)
    };
    let pid = as_daemon(&mut Command::new(&login));
    cases.push(fires(
        "login as daemon",
        "System user interactive",
        Tie::Pid(pid),
        "Informational",
        vec![("user.name", v("daemon")), ("proc.name", v("login"))],
    ));
    let pid = run(&mut Command::new(&login));
    cases.push(silent(
        "login as root",
        "System user interactive",
        Tie::Pid(pid),
    ));

    // Terminal shell in container.
    let marker = "echo tty-yes";
    run(Command::new("script").args([
        "-qec",
        &format!("podman exec -it {} sh -c '{marker}'", plain_c.0),
        "/dev/null",
    ]));
    cases.push(fires(
        "podman exec -it sh",
        "Terminal shell in container",
        Tie::Container(plain_c.0.clone(), marker.into()),
        "Notice",
        vec![("proc.name", v("sh"))],
    ));
    plain_c.sh("echo tty-no");
    cases.push(silent(
        "podman exec sh without a terminal",
        "Terminal shell in container",
        plain_c.tie("echo tty-no"),
    ));

    // Netcat Remote Code Execution in Container.
    plain_c.exec(&["nc", "127.0.0.1", "9", "-e", "/bin/true"]);
    cases.push(fires(
        "nc -e in a container",
        "Netcat Remote Code Execution in Container",
        plain_c.tie("nc 127.0.0.1 9 -e"),
        "Warning",
        vec![("proc.name", v("nc"))],
    ));
    plain_c.exec(&["nc", "-w", "1", "127.0.0.1", "9"]);
    cases.push(silent(
        "nc without -e",
        "Netcat Remote Code Execution in Container",
        plain_c.tie("nc -w 1 127.0.0.1 9"),
    ));

    // Contact K8S API Server From Container: fd.sip.name from the names the rules compare.
    run(Command::new("podman").args(["exec", "-d", &plain_c.0, "nc", "-l", "-p", "443"]));
    std::thread::sleep(Duration::from_millis(500));
    plain_c.exec(&["nc", "-w", "1", "127.0.0.2", "443"]);
    plain_c.exec(&["nc", "-w", "1", "127.0.0.3", "443"]);
    cases.push(fires(
        "connect to the API server's address",
        "Contact K8S API Server From Container",
        plain_c.tie("127.0.0.2 443"),
        "Notice",
        vec![("fd.sip.name", v(K8S_API)), ("proc.name", v("nc"))],
    ));
    cases.push(silent(
        "connect to another address",
        "Contact K8S API Server From Container",
        plain_c.tie("127.0.0.3 443"),
    ));

    // Search Private Keys or Passwords / Find AWS Credentials.
    let pid = run(Command::new("find").args(["/nonexistent-pg", "-name", "id_rsa"]));
    cases.push(fires(
        "find -name id_rsa",
        "Search Private Keys or Passwords",
        Tie::Pid(pid),
        "Warning",
        vec![("proc.name", v("find"))],
    ));
    let pid = run(Command::new("find").args(["/nonexistent-pg", "-name", "notes.txt"]));
    cases.push(silent(
        "find -name notes.txt",
        "Search Private Keys or Passwords",
        Tie::Pid(pid),
    ));
    let pid = run(Command::new("grep").args(["-s", "aws_access_key_id", "/nonexistent-pg"]));
    cases.push(fires(
        "grep aws_access_key_id",
        "Find AWS Credentials",
        Tie::Pid(pid),
        "Warning",
        vec![("proc.name", v("grep"))],
    ));
    let pid = run(Command::new("grep").args(["-s", "hello", "/nonexistent-pg"]));
    cases.push(silent("grep hello", "Find AWS Credentials", Tie::Pid(pid)));

    // Clear Log Activities.
    let log = format!("/var/log/peregrine-test-{me}.log");
    let pid = run(&mut sh(&format!(": > {log}")));
    cases.push(fires(
        "truncate a log",
        "Clear Log Activities",
        Tie::Pid(pid),
        "Warning",
        vec![("fd.name", v(&log))],
    ));
    let pid = run(&mut sh(&format!(": >> {log}")));
    cases.push(silent(
        "append to a log",
        "Clear Log Activities",
        Tie::Pid(pid),
    ));
    let _ = std::fs::remove_file(&log);

    // Remove Bulk Data from Disk.
    let data = dir.join("data");
    std::fs::write(&data, "x").unwrap();
    let pid = run(Command::new("shred").arg("-u").arg(&data));
    cases.push(fires(
        "shred",
        "Remove Bulk Data from Disk",
        Tie::Pid(pid),
        "Warning",
        vec![("proc.name", v("shred"))],
    ));
    std::fs::write(&data, "x").unwrap();
    let pid = run(Command::new("rm").arg(&data));
    cases.push(silent("rm", "Remove Bulk Data from Disk", Tie::Pid(pid)));

    // Create Symlink / Hardlink Over Sensitive Files.
    let linkpath = dir.join("link").to_str().unwrap().to_string();
    let pid = run(Command::new("ln").args(["-s", "/etc/shadow", &linkpath]));
    cases.push(fires(
        "ln -s /etc/shadow",
        "Create Symlink Over Sensitive Files",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("evt.arg.target", v("/etc/shadow")),
            ("evt.arg.linkpath", v(&linkpath)),
        ],
    ));
    let pid = run(Command::new("ln").args(["-sf", "/etc/hostname", &linkpath]));
    cases.push(silent(
        "ln -s /etc/hostname",
        "Create Symlink Over Sensitive Files",
        Tie::Pid(pid),
    ));
    // Beside /etc, so the link is on the same file system.
    let hard = format!("/root/.peregrine-test-hardlink-{me}");
    let pid = run(Command::new("ln").args(["/etc/shadow", &hard]));
    let _ = std::fs::remove_file(&hard);
    cases.push(fires(
        "ln /etc/shadow",
        "Create Hardlink Over Sensitive Files",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("evt.arg.oldpath", v("/etc/shadow")),
            ("evt.arg.newpath", v(&hard)),
        ],
    ));
    let pid = run(Command::new("ln").args(["/etc/hostname", &hard]));
    let _ = std::fs::remove_file(&hard);
    cases.push(silent(
        "ln /etc/hostname",
        "Create Hardlink Over Sensitive Files",
        Tie::Pid(pid),
    ));

    // Packet socket created in container: arping opens an AF_PACKET socket.
    priv_c.exec(&["arping", "-c", "1", "-w", "1", "-I", "lo", "127.0.0.1"]);
    cases.push(fires(
        "arping in a container",
        "Packet socket created in container",
        priv_c.tie("arping -c 1 -w 1"),
        "Notice",
        vec![("proc.name", v("arping"))],
    ));
    let pid = run(Command::new("busybox").args([
        "arping",
        "-c",
        "1",
        "-w",
        "1",
        "-I",
        "lo",
        "127.0.0.1",
    ]));
    cases.push(silent(
        "arping on the host",
        "Packet socket created in container",
        Tie::Pid(pid),
    ));

    // Redirect STDOUT/STDIN to Network Connection in Container: nc -e dups the socket onto
    // 0, 1 and 2.
    run(Command::new("podman").args(["exec", "-d", &plain_c.0, "nc", "-l", "-p", "9999"]));
    std::thread::sleep(Duration::from_millis(500));
    plain_c.exec(&["nc", "127.0.0.1", "9999", "-e", "/bin/true"]);
    cases.push(fires(
        "nc -e in a container",
        "Redirect STDOUT/STDIN to Network Connection in Container",
        plain_c.tie("127.0.0.1 9999 -e"),
        "Notice",
        vec![
            ("fd.type", v("ipv4")),
            ("fd.l4proto", v("tcp")),
            ("proc.name", v("nc")),
        ],
    ));
    let pid = run(&mut sh(
        "busybox nc -l -p 9998 & sleep 0.5; busybox nc 127.0.0.1 9998 -e /bin/true; wait",
    ));
    cases.push(silent(
        "nc -e on the host",
        "Redirect STDOUT/STDIN to Network Connection in Container",
        Tie::Parent(pid),
    ));

    // Linux Kernel Module Injection Detected: the load fails (not a module); the attempt
    // with CAP_SYS_MODULE is what counts.
    for c in [&priv_c, &allowed_c, &plain_c] {
        c.sh("echo junk > /tmp/pg.ko");
        c.exec(&["insmod", "/tmp/pg.ko"]);
    }
    cases.push(fires(
        "insmod in a privileged container",
        "Linux Kernel Module Injection Detected",
        priv_c.tie("insmod /tmp/pg.ko"),
        "Warning",
        vec![("proc.name", v("insmod"))],
    ));
    cases.push(silent(
        "insmod from an allowed image",
        "Linux Kernel Module Injection Detected",
        allowed_c.tie("insmod /tmp/pg.ko"),
    ));
    cases.push(silent(
        "insmod without CAP_SYS_MODULE",
        "Linux Kernel Module Injection Detected",
        plain_c.tie("insmod /tmp/pg.ko"),
    ));

    // Debugfs Launched in Privileged Container.
    for c in [&priv_c, &plain_c] {
        c.sh("ln -sf /bin/busybox /tmp/debugfs");
        c.exec(&["/tmp/debugfs"]);
    }
    cases.push(fires(
        "debugfs in a privileged container",
        "Debugfs Launched in Privileged Container",
        priv_c.tie("debugfs"),
        "Warning",
        vec![("proc.name", v("debugfs"))],
    ));
    cases.push(silent(
        "debugfs in an unprivileged one",
        "Debugfs Launched in Privileged Container",
        plain_c.tie("debugfs"),
    ));

    // Detect release_agent File Container Escapes.
    let release = "echo x > /tmp/release_agent";
    priv_c.sh(release);
    plain_c.sh(release);
    cases.push(fires(
        "write release_agent in a privileged container",
        "Detect release_agent File Container Escapes",
        priv_c.tie(release),
        "Critical",
        vec![
            ("fd.name", v("/tmp/release_agent")),
            ("user.name", v("root")),
        ],
    ));
    cases.push(silent(
        "the same without CAP_SYS_ADMIN",
        "Detect release_agent File Container Escapes",
        plain_c.tie(release),
    ));

    // PTRACE attached to process / PTRACE anti-debug attempt.
    let ptrace = |name: &str, req: i32| {
        let mut target = Command::new("sleep").arg("30").spawn().unwrap();
        let tracer = run(&mut perl(
            &bin,
            name,
            PTRACE,
            &[req.to_string(), target.id().to_string()],
        ));
        let _ = target.kill();
        let _ = target.wait();
        tracer
    };
    let pid = ptrace("pgtracer", libc::PTRACE_ATTACH as i32);
    cases.push(fires(
        "PTRACE_ATTACH",
        "PTRACE attached to process",
        Tie::Pid(pid),
        "Warning",
        vec![("proc.name", v("pgtracer"))],
    ));
    cases.push(silent(
        "an attach is no anti-debug",
        "PTRACE anti-debug attempt",
        Tie::Pid(pid),
    ));
    let pid = ptrace("pgallowtrace", libc::PTRACE_ATTACH as i32);
    cases.push(silent(
        "PTRACE_ATTACH by an allowed tracer",
        "PTRACE attached to process",
        Tie::Pid(pid),
    ));
    let pid = ptrace("pgtraceme", libc::PTRACE_TRACEME as i32);
    cases.push(fires(
        "PTRACE_TRACEME",
        "PTRACE anti-debug attempt",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("pgtraceme"))],
    ));

    // Execution from /dev/shm.
    let shm = format!("/dev/shm/peregrine-test-{me}");
    std::fs::copy("/bin/true", &shm).unwrap();
    let pid = run(&mut Command::new(&shm));
    let _ = std::fs::remove_file(&shm);
    cases.push(fires(
        "a binary under /dev/shm",
        "Execution from /dev/shm",
        Tie::Pid(pid),
        "Warning",
        vec![("proc.exepath", v(&shm))],
    ));
    let tmp_copy = dir.join("true");
    std::fs::copy("/bin/true", &tmp_copy).unwrap();
    let pid = run(&mut Command::new(&tmp_copy));
    cases.push(silent(
        "the same binary elsewhere",
        "Execution from /dev/shm",
        Tie::Pid(pid),
    ));

    // Drop and execute new binary in container.
    plain_c.sh("cp /bin/busybox /tmp/pgdrop");
    plain_c.exec(&["/tmp/pgdrop", "true"]);
    plain_c.exec(&["/bin/busybox", "true", "pg-lower-layer"]);
    cases.push(fires(
        "a binary copied into the container",
        "Drop and execute new binary in container",
        plain_c.tie("pgdrop true"),
        "Critical",
        vec![("proc.exepath", v("/tmp/pgdrop"))],
    ));
    cases.push(silent(
        "the image's own binary",
        "Drop and execute new binary in container",
        plain_c.tie("true pg-lower-layer"),
    ));

    // Disallowed SSH Connection Non Standard Port: a real connect to a public address,
    // kept inside a network namespace of its own (nothing leaves this host).
    let ssh = link(&bin, "ssh", "/bin/bash");
    let ssh_to = |port: u16| {
        run(&mut sh(&format!(
            "unshare -n bash -c 'ip link set lo up; ip addr add 203.0.113.10/32 dev lo; \
             busybox nc -l -p {port} & sleep 0.5; \
             {} -c \"exec 3<>/dev/tcp/203.0.113.10/{port}\"; wait'",
            ssh.display()
        )))
    };
    let _ = ssh_to(4444);
    cases.push(fires(
        "ssh to port 4444",
        "Disallowed SSH Connection Non Standard Port",
        Tie::Container("host".into(), "203.0.113.10/4444".into()),
        "Notice",
        vec![
            ("proc.name", v("ssh")),
            ("fd.l4proto", v("tcp")),
            // Neither end is a host interface address (both are in the namespace), so
            // libsinsp makes the server's end the local one: lport is the server's port.
            ("fd.lport", 4444.into()),
        ],
    ));
    // Silence at port 22, told apart from the 4444 case by its port in the command line.
    let _ = ssh_to(22);
    cases.push(silent(
        "ssh to port 22",
        "Disallowed SSH Connection Non Standard Port",
        Tie::Container("host".into(), "203.0.113.10/22".into()),
    ));

    // Fileless execution via memfd_create.
    let pid = run(&mut perl(&bin, "pgfileless", MEMFD_EXEC, &[]));
    cases.push(fires(
        "exec from a memfd",
        "Fileless execution via memfd_create",
        Tie::Pid(pid),
        "Critical",
        vec![("proc.is_exe_from_memfd", true.into())],
    ));
    let runc = link(&bin, "runc", "/bin/bash");
    let pid = run(Command::new(&runc).args([
        "-c",
        &format!(
            "{} -e '{}'; true",
            "/usr/bin/perl",
            MEMFD_EXEC.replace('\'', "")
        ),
    ]));
    cases.push(silent(
        "the same by a child of runc (known_memfd_execution_binaries)",
        "Fileless execution via memfd_create",
        Tie::Parent(pid),
    ));

    let trusted_pid = old_server.id();
    old_server.wait().unwrap();
    cases.push(fires(
        "a server reads it 6 s after its start",
        "Read sensitive file trusted after startup",
        Tie::Pid(trusted_pid),
        "Warning",
        vec![("fd.name", v("/etc/shadow")), ("proc.name", v("httpd"))],
    ));

    let alerts = agent.stop();
    drop((priv_c, plain_c, allowed_c));
    let _ = std::fs::remove_dir_all(&dir);

    assert_cases(&cases, &alerts);
}
