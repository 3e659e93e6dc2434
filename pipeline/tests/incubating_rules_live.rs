//! The rules of `falco-incubating_rules.yaml`, each fired on this host's kernel by a real
//! action (on the host, in a podman container, or in a network namespace of the test's own),
//! with the output fields the rule prints; and for each a near action that must stay silent
//! (the rule's own exceptions, or the action without what the rule looks for).
//!
//! One agent loads all three upstream rulesets with `rule_matching: all`. Every action's
//! alerts are picked by its own process (pid, parent pid, or container name and command
//! line), so whatever else runs on the host cannot make a case pass or fail.
//!
//! All 31 rules are triggered. `Network Connection outside Local Subnet` watches the pod
//! namespaces an operator lists in `namespace_scope_network_only_subnet` (empty upstream): a
//! local rules file lists one, and the test's container carries the pod namespace label the
//! CRI puts on a pod's containers (`io.kubernetes.pod.namespace`), which is where Falco's
//! container plugin, and Peregrine, read `k8s.ns.name` from. There is no Kubernetes here.
//!
//! Needs root, BPF, podman (`.ci/podman-setup.sh`) and `../shared/testdata`.

mod common;

use common::live::*;
use common::netns::NetNs;
use common::Agent;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = common::IMAGE;

/// The pod namespace the operator confines to the local subnet.
const POD_NAMESPACE: &str = "pg-tenant";

const LOCAL_RULES: &str = r#"
- list: namespace_scope_network_only_subnet
  items: [pg-tenant]
  append: true
"#;

/// Ties every alert to the action that caused it, and prints the fields the cases check.
const APPEND: &str = r#"append_output[]={"match": {"source": "syscall"}, "extra_output": "tie=%proc.pid,%proc.ppid,%container.name,%proc.cmdline checked=%fd.name,%fd.type,%fd.l4proto,%fd.rport,%fd.sport,%fd.sip,%proc.name,%proc.pname,%proc.exepath,%user.name,%user.uid,%evt.type,%evt.arg.uid,%evt.arg.mode,%evt.arg.name,%evt.arg.cmd,%evt.arg.flags,%proc.env,%container.privileged"}"#;

/// `syscall(nr, args...)` from perl, the numbers and arguments given on its command line.
/// Becomes daemon (uid and gid 1) with setresuid/setresgid, then calls setuid: only the
/// last is the action under test.
const AS_DAEMON_SETUID: &str = r#"
    syscall(119, 1, 1, 1) == 0 or die "setresgid: $!";
    syscall(117, 1, 1, 1) == 0 or die "setresuid: $!";
    syscall(105, $ARGV[0] + 0);
"#;

const SYSCALL: &str = r#"
    my ($nr, @a) = @ARGV;
    my $buf = "\0" x 128;
    if ($nr == 321) { syscall(321, $a[0] + 0, $buf, 128); }
    else { syscall($nr + 0, map { $_ + 0 } @a); }
"#;

#[test]
fn incubating_rules_fire_live_and_near_actions_stay_silent() {
    let test = "incubating_rules_fire_live_and_near_actions_stay_silent";
    if common::skip_podman(test) || missing_tools(test) {
        return;
    }
    let Some(data) = common::testdata(test) else {
        return;
    };
    let me = std::process::id();
    // Other users run programs from here (Non sudo setuid).
    let (dir, bin) = work_dir("incubating-rules");
    let home = PathBuf::from(format!("/home/peregrine-test-{me}"));
    let ssh_dir = home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let ns = NetNs::new(
        &format!("pg-incub-{me}"),
        &["203.0.113.10/32", "198.51.100.7/32"],
    );

    let files = upstream_and_local(&data.join("upstream"), &dir, LOCAL_RULES);
    let agent = Agent::start_in(&dir, &files, &["-o", "rule_matching=all", "-o", APPEND]);
    let mut cases = Vec::new();

    // Containers started while the agent watches (Launch Privileged Container).
    let priv_c = Container::start_with(
        format!("pg-incub-priv-{me}"),
        IMAGE,
        &["--privileged", "--network", "none"],
    );
    let plain_c = Container::start(format!("pg-incub-plain-{me}"), IMAGE, false);
    let pod_label = format!("io.kubernetes.pod.namespace={POD_NAMESPACE}");
    let pod_c = Container::start_with(
        format!("pg-incub-pod-{me}"),
        IMAGE,
        &["--privileged", "--network", "none", "--label", &pod_label],
    );

    // Launch Privileged Container / Launch Excessively Capable Container: the container's
    // first process.
    cases.push(fires(
        "podman run --privileged",
        "Launch Privileged Container",
        priv_c.tie("sleep 600"),
        "Informational",
        vec![
            ("proc.name", v("sleep")),
            ("container.privileged", true.into()),
        ],
    ));
    cases.push(fires(
        "podman run --privileged",
        "Launch Excessively Capable Container",
        priv_c.tie("sleep 600"),
        "Informational",
        vec![("proc.name", v("sleep"))],
    ));
    cases.push(silent(
        "podman run",
        "Launch Privileged Container",
        plain_c.tie("sleep 600"),
    ));
    cases.push(silent(
        "podman run",
        "Launch Excessively Capable Container",
        plain_c.tie("sleep 600"),
    ));

    // Modify Shell Configuration File.
    let bashrc = dir.join(".bashrc");
    let pid = run(Command::new("touch").arg(&bashrc));
    cases.push(fires(
        "touch .bashrc",
        "Modify Shell Configuration File",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("fd.name", v(bashrc.to_str().unwrap())),
            ("proc.name", v("touch")),
            ("evt.type", v("openat")),
        ],
    ));
    let pid = run(&mut sh(&format!(": >> {}", bashrc.display())));
    cases.push(silent(
        "a shell writes it",
        "Modify Shell Configuration File",
        Tie::Pid(pid),
    ));

    // Schedule Cron Jobs.
    let pid = run(&mut Command::new(link(&bin, "crontab", "/bin/true")));
    cases.push(fires(
        "crontab",
        "Schedule Cron Jobs",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("crontab")), ("evt.type", v("execve"))],
    ));
    let pid = run(&mut Command::new(link(&bin, "cron", "/bin/true")));
    cases.push(silent("cron", "Schedule Cron Jobs", Tie::Pid(pid)));

    // Read ssh information / Adding ssh keys to authorized_keys.
    let known = ssh_dir.join("known_hosts");
    std::fs::write(&known, "x").unwrap();
    let pid = run(Command::new("cat").arg(&known));
    cases.push(fires(
        "cat ~/.ssh/known_hosts",
        "Read ssh information",
        Tie::Pid(pid),
        "Error",
        vec![
            ("fd.name", v(known.to_str().unwrap())),
            ("proc.name", v("cat")),
        ],
    ));
    let pid = run(Command::new(link(&bin, "ssh", "/bin/cat")).arg(&known));
    cases.push(silent(
        "ssh reads it",
        "Read ssh information",
        Tie::Pid(pid),
    ));
    let keys = ssh_dir.join("authorized_keys");
    let pid = run(Command::new("touch").arg(&keys));
    cases.push(fires(
        "touch authorized_keys",
        "Adding ssh keys to authorized_keys",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("fd.name", v(keys.to_str().unwrap())),
            ("proc.name", v("touch")),
        ],
    ));
    let pid = run(Command::new(link(&bin, "sshd", "/usr/bin/touch")).arg(&keys));
    cases.push(silent(
        "sshd writes it",
        "Adding ssh keys to authorized_keys",
        Tie::Pid(pid),
    ));

    // DB program spawned process.
    let postgres = link(&bin, "postgres", "/bin/bash");
    let pid = run(Command::new(&postgres).args(["-c", "sh -c true; true"]));
    cases.push(fires(
        "postgres runs sh",
        "DB program spawned process",
        Tie::Parent(pid),
        "Notice",
        vec![("proc.name", v("sh")), ("proc.pname", v("postgres"))],
    ));
    let pid =
        run(Command::new(&postgres).args(["-c", &format!("{} -c true; true", postgres.display())]));
    cases.push(silent(
        "postgres runs postgres",
        "DB program spawned process",
        Tie::Parent(pid),
    ));

    let enter_ns = format!("--net=/run/netns/{}", ns.name);
    // Change thread namespace: nsenter on the host is expected, the same under another
    // name is not.
    let pid = run(Command::new(link(&bin, "pgsetns", "/usr/bin/nsenter"))
        .arg(&enter_ns)
        .arg("true"));
    cases.push(fires(
        "setns by pgsetns",
        "Change thread namespace",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("pgsetns")), ("evt.type", v("setns"))],
    ));
    let pid = run(Command::new("nsenter").arg(&enter_ns).arg("true"));
    cases.push(silent(
        "nsenter on the host",
        "Change thread namespace",
        Tie::Pid(pid),
    ));

    // Change namespace privileges via unshare: a container without CAP_SYS_ADMIN.
    plain_c.exec(&["unshare", "-U", "true"]);
    priv_c.exec(&["unshare", "-U", "true"]);
    cases.push(fires(
        "unshare without CAP_SYS_ADMIN",
        "Change namespace privileges via unshare",
        plain_c.tie("unshare -U"),
        "Notice",
        vec![
            ("proc.name", v("unshare")),
            ("evt.type", v("unshare")),
            ("evt.arg.flags", v("CLONE_NEWUSER")),
        ],
    ));
    cases.push(silent(
        "unshare in a privileged container",
        "Change namespace privileges via unshare",
        priv_c.tie("unshare -U"),
    ));

    // System procs network activity / Unexpected UDP Traffic, in the test's namespace.
    let pgclient = link(&bin, "pgclient", "/bin/bash");
    let in_ns = |script: &str| {
        run(Command::new("ip").args(["netns", "exec", &ns.name, "bash", "-c", script]));
    };
    in_ns(&format!(
        "busybox nc -l -p 80 & busybox nc -l -p 81 & sleep 0.5; \
         bash -c 'exec 3<>/dev/tcp/203.0.113.10/80'; \
         {} -c 'exec 3<>/dev/tcp/203.0.113.10/81'; \
         bash -c 'exec 3<>/dev/udp/198.51.100.7/9999'; \
         bash -c 'exec 3<>/dev/udp/198.51.100.7/53'; wait",
        pgclient.display()
    ));
    cases.push(fires(
        "bash connects out",
        "System procs network activity",
        Tie::Container("host".into(), "exec 3<>/dev/tcp/203.0.113.10/80".into()),
        "Notice",
        vec![
            ("proc.name", v("bash")),
            ("fd.l4proto", v("tcp")),
            ("fd.sport", 80.into()),
        ],
    ));
    cases.push(silent(
        "another program connects out",
        "System procs network activity",
        Tie::Container("host".into(), "exec 3<>/dev/tcp/203.0.113.10/81".into()),
    ));
    cases.push(fires(
        "UDP to port 9999",
        "Unexpected UDP Traffic",
        Tie::Container("host".into(), "udp/198.51.100.7/9999".into()),
        "Notice",
        vec![("fd.l4proto", v("udp")), ("fd.sport", 9999.into())],
    ));
    cases.push(silent(
        "UDP to port 53",
        "Unexpected UDP Traffic",
        Tie::Container("host".into(), "udp/198.51.100.7/53".into()),
    ));

    // Program run with disallowed http proxy env / Potential Local Privilege Escalation via
    // Environment Variables Misuse.
    let curl = link(&bin, "curl", "/bin/true");
    let pid = run(Command::new(&curl).env("HTTP_PROXY", "http://127.0.0.1:3128"));
    cases.push(fires(
        "curl with HTTP_PROXY",
        "Program run with disallowed http proxy env",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("curl"))],
    ));
    let pid = run(Command::new(&curl)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy"));
    cases.push(silent(
        "curl without it",
        "Program run with disallowed http proxy env",
        Tie::Pid(pid),
    ));
    let pid = run(Command::new("/bin/true").env("GLIBC_TUNABLES", "glibc.malloc.mxfast=0"));
    cases.push(fires(
        "GLIBC_TUNABLES in the environment",
        "Potential Local Privilege Escalation via Environment Variables Misuse",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("true"))],
    ));
    let pid = run(Command::new("/bin/true").env_remove("GLIBC_TUNABLES"));
    cases.push(silent(
        "without it",
        "Potential Local Privilege Escalation via Environment Variables Misuse",
        Tie::Pid(pid),
    ));

    // Non sudo setuid: setuid(1) by daemon; by root it is expected.
    let pid = run(&mut perl(&bin, "pgsetuid", AS_DAEMON_SETUID, &["1".into()]));
    cases.push(fires(
        "setuid by daemon",
        "Non sudo setuid",
        Tie::Pid(pid),
        "Notice",
        vec![
            ("user.name", v("daemon")),
            ("proc.name", v("pgsetuid")),
            ("evt.type", v("setuid")),
            ("evt.arg.uid", v("daemon")),
        ],
    ));
    let pid = run(&mut perl(
        &bin,
        "pgsetuid",
        SYSCALL,
        &["105".into(), "0".into()],
    ));
    cases.push(silent("setuid by root", "Non sudo setuid", Tie::Pid(pid)));

    // User mgmt binaries.
    let useradd = link(&bin, "useradd", "/bin/true");
    let pid = run(Command::new(&useradd).arg("pgnobody"));
    cases.push(fires(
        "useradd",
        "User mgmt binaries",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("useradd"))],
    ));
    let pid = run(Command::new(&useradd).arg("-D"));
    cases.push(silent("useradd -D", "User mgmt binaries", Tie::Pid(pid)));

    // Create files below dev.
    let dev_file = format!("/dev/peregrine-test-{me}");
    let pid = run(Command::new("touch").arg(&dev_file));
    let _ = std::fs::remove_file(&dev_file);
    cases.push(fires(
        "touch /dev/x",
        "Create files below dev",
        Tie::Pid(pid),
        "Error",
        vec![("fd.name", v(&dev_file)), ("proc.name", v("touch"))],
    ));
    let pid = run(Command::new(link(&bin, "blkid", "/usr/bin/touch")).arg(&dev_file));
    let _ = std::fs::remove_file(&dev_file);
    cases.push(silent(
        "blkid creates it",
        "Create files below dev",
        Tie::Pid(pid),
    ));

    // Contact EC2 Instance Metadata Service / cloud metadata service From Container: the
    // address on the lo of the container's own network namespace.
    priv_c.sh("ip link set lo up; ip addr add 169.254.169.254/32 dev lo; ip addr add 169.254.169.253/32 dev lo");
    for port in ["80", "81"] {
        run(Command::new("podman").args(["exec", "-d", &priv_c.0, "nc", "-l", "-p", port]));
    }
    std::thread::sleep(Duration::from_millis(500));
    priv_c.exec(&["nc", "-w", "1", "169.254.169.254", "80"]);
    priv_c.exec(&["nc", "-w", "1", "169.254.169.253", "81"]);
    cases.push(fires(
        "connect to 169.254.169.254",
        "Contact EC2 Instance Metadata Service From Container",
        priv_c.tie("169.254.169.254 80"),
        "Notice",
        vec![
            ("fd.sip", v("169.254.169.254")),
            ("fd.sport", 80.into()),
            ("proc.name", v("nc")),
        ],
    ));
    cases.push(silent(
        "connect to 169.254.169.253",
        "Contact EC2 Instance Metadata Service From Container",
        priv_c.tie("169.254.169.253 81"),
    ));
    cases.push(fires(
        "connect to 169.254.169.254",
        "Contact cloud metadata service from container",
        priv_c.tie("169.254.169.254 80"),
        "Notice",
        vec![
            ("fd.sip", v("169.254.169.254")),
            ("fd.sport", 80.into()),
            ("proc.name", v("nc")),
        ],
    ));
    cases.push(silent(
        "connect to 169.254.169.253",
        "Contact cloud metadata service from container",
        priv_c.tie("169.254.169.253 81"),
    ));

    // Network Connection outside Local Subnet: from a container of the listed pod
    // namespace, to a public address and to a private one (both on its own lo).
    pod_c.sh(
        "ip link set lo up; ip addr add 203.0.113.10/32 dev lo; ip addr add 10.0.0.5/32 dev lo",
    );
    for port in ["80", "81"] {
        run(Command::new("podman").args(["exec", "-d", &pod_c.0, "nc", "-l", "-p", port]));
    }
    std::thread::sleep(Duration::from_millis(500));
    pod_c.exec(&["nc", "-w", "1", "203.0.113.10", "80"]);
    pod_c.exec(&["nc", "-w", "1", "10.0.0.5", "81"]);
    cases.push(fires(
        "connect to a public address",
        "Network Connection outside Local Subnet",
        pod_c.tie("203.0.113.10 80"),
        "Warning",
        vec![
            ("k8s.ns.name", v(POD_NAMESPACE)),
            ("fd.sip", v("203.0.113.10")),
            ("fd.sport", 80.into()),
            ("proc.name", v("nc")),
        ],
    ));
    cases.push(silent(
        "connect to a private address",
        "Network Connection outside Local Subnet",
        pod_c.tie("10.0.0.5 81"),
    ));

    // Launch Package Management Process in Container.
    plain_c.exec(&["rpm", "-qa"]);
    cases.push(fires(
        "rpm in a container",
        "Launch Package Management Process in Container",
        plain_c.tie("rpm -qa"),
        "Error",
        vec![("proc.name", v("rpm"))],
    ));
    let pid = run(&mut Command::new(link(&bin, "apk", "/bin/true")));
    cases.push(silent(
        "apk on the host",
        "Launch Package Management Process in Container",
        Tie::Pid(pid),
    ));

    // Launch Suspicious Network Tool in Container / on Host.
    plain_c.exec(&["nc", "-w", "1", "127.0.0.1", "7"]);
    cases.push(fires(
        "nc in a container",
        "Launch Suspicious Network Tool in Container",
        plain_c.tie("nc -w 1 127.0.0.1 7"),
        "Notice",
        vec![("proc.name", v("nc"))],
    ));
    cases.push(silent(
        "nc in a container",
        "Launch Suspicious Network Tool on Host",
        plain_c.tie("nc -w 1 127.0.0.1 7"),
    ));
    let pid = run(&mut Command::new(link(&bin, "nc", "/bin/true")));
    cases.push(fires(
        "nc on the host",
        "Launch Suspicious Network Tool on Host",
        Tie::Pid(pid),
        "Notice",
        vec![("proc.name", v("nc"))],
    ));
    cases.push(silent(
        "nc on the host",
        "Launch Suspicious Network Tool in Container",
        Tie::Pid(pid),
    ));

    // Delete or rename shell history.
    let history = dir.join(".bash_history");
    let profile = dir.join(".bash_profile");
    std::fs::write(&history, "x").unwrap();
    std::fs::write(&profile, "x").unwrap();
    let pid = run(Command::new("rm").arg(&history));
    cases.push(fires(
        "rm .bash_history",
        "Delete or rename shell history",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("evt.type", v("unlinkat")),
            ("proc.name", v("rm")),
            ("evt.arg.name", v(history.to_str().unwrap())),
        ],
    ));
    let pid = run(Command::new("rm").arg(&profile));
    cases.push(silent(
        "rm .bash_profile",
        "Delete or rename shell history",
        Tie::Pid(pid),
    ));

    // Set Setuid or Setgid bit.
    let target = dir.join("suid");
    std::fs::write(&target, "x").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pid = run(Command::new("chmod").arg("u+s").arg(&target));
    cases.push(fires(
        "chmod u+s",
        "Set Setuid or Setgid bit",
        Tie::Pid(pid),
        "Notice",
        vec![
            ("proc.name", v("chmod")),
            ("evt.type", v("fchmodat")),
            ("evt.arg.mode", v("S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR|S_ISUID")),
        ],
    ));
    let pid = run(Command::new("chmod").arg("755").arg(&target));
    cases.push(silent(
        "chmod 755",
        "Set Setuid or Setgid bit",
        Tie::Pid(pid),
    ));

    // Launch Remote File Copy Tools in Container.
    plain_c.sh("ln -sf /bin/busybox /tmp/rsync; ln -sf /bin/busybox /tmp/curl");
    plain_c.exec(&["/tmp/rsync", "--version"]);
    cases.push(fires(
        "rsync in a container",
        "Launch Remote File Copy Tools in Container",
        plain_c.tie("rsync --version"),
        "Notice",
        vec![("proc.name", v("rsync"))],
    ));
    let pid = run(Command::new(link(&bin, "rsync", "/bin/true")).arg("--version"));
    cases.push(silent(
        "rsync on the host",
        "Launch Remote File Copy Tools in Container",
        Tie::Pid(pid),
    ));

    // Launch Ingress Remote File Copy Tools in Container: wget, or curl saving a file.
    plain_c.exec(&[
        "wget",
        "-q",
        "-T",
        "1",
        "-O",
        "/dev/null",
        "http://127.0.0.1:7/",
    ]);
    plain_c.exec(&["/tmp/curl", "-o", "/tmp/x", "http://127.0.0.1:7/"]);
    plain_c.exec(&["/tmp/curl", "--version"]);
    cases.push(fires(
        "wget in a container",
        "Launch Ingress Remote File Copy Tools in Container",
        plain_c.tie("wget -q -T 1"),
        "Notice",
        vec![("proc.name", v("wget"))],
    ));
    cases.push(fires(
        "curl -o in a container",
        "Launch Ingress Remote File Copy Tools in Container",
        plain_c.tie("curl -o /tmp/x"),
        "Notice",
        vec![("proc.name", v("curl"))],
    ));
    cases.push(silent(
        "curl --version in a container",
        "Launch Ingress Remote File Copy Tools in Container",
        plain_c.tie("curl --version"),
    ));

    // Mount Launched in Privileged Container.
    priv_c.exec(&["mount", "-t", "tmpfs", "pgtmp", "/mnt"]);
    plain_c.exec(&["mount", "-t", "tmpfs", "pgtmp", "/mnt"]);
    priv_c.exec(&["mount"]);
    cases.push(fires(
        "mount in a privileged container",
        "Mount Launched in Privileged Container",
        priv_c.tie("mount -t tmpfs"),
        "Warning",
        vec![("proc.name", v("mount"))],
    ));
    cases.push(silent(
        "mount in an unprivileged container",
        "Mount Launched in Privileged Container",
        plain_c.tie("mount -t tmpfs"),
    ));

    // Read environment variable from /proc files.
    plain_c.exec(&["cat", "/proc/1/environ"]);
    plain_c.exec(&["cat", "/proc/1/cmdline"]);
    cases.push(fires(
        "cat /proc/1/environ in a container",
        "Read environment variable from /proc files",
        plain_c.tie("cat /proc/1/environ"),
        "Warning",
        vec![("fd.name", v("/proc/1/environ")), ("proc.name", v("cat"))],
    ));
    cases.push(silent(
        "cat /proc/1/cmdline in a container",
        "Read environment variable from /proc files",
        plain_c.tie("cat /proc/1/cmdline"),
    ));

    // Exfiltrating Artifacts via Kubernetes Control Plane: tar as the exec's own process
    // (what kubectl cp runs), without a terminal.
    // Files under /etc, /usr... are the side effects kubectl cp has anyway: a file of ours.
    plain_c.sh("echo secret > /tmp/pgsecret");
    plain_c.exec(&["tar", "cf", "/dev/null", "/tmp/pgsecret"]);
    cases.push(fires(
        "tar as a container's entry process",
        "Exfiltrating Artifacts via Kubernetes Control Plane",
        plain_c.tie("tar cf /dev/null"),
        "Notice",
        // Its parent is runc, or conmon once runc has exited and the process was handed to
        // the subreaper (libsinsp reparents the same way); the rule accepts both.
        vec![("fd.name", v("/tmp/pgsecret")), ("proc.name", v("tar"))],
    ));
    let secret = dir.join("pgsecret");
    std::fs::write(&secret, "secret").unwrap();
    let pid = run(Command::new("tar").arg("cf").arg("/dev/null").arg(&secret));
    cases.push(silent(
        "tar on the host",
        "Exfiltrating Artifacts via Kubernetes Control Plane",
        Tie::Pid(pid),
    ));

    // Backdoored library loaded into SSHD (CVE-2024-3094).
    let bad = dir.join("liblzma.so.5.6.1");
    let good = dir.join("liblzma.so.5.4.1");
    std::fs::write(&bad, "x").unwrap();
    std::fs::write(&good, "x").unwrap();
    let sshd_cat = link(&bin, "sshd", "/bin/cat");
    let pid = run(Command::new(&sshd_cat).arg(&bad));
    cases.push(fires(
        "sshd reads liblzma 5.6.1",
        "Backdoored library loaded into SSHD (CVE-2024-3094)",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("fd.name", v(bad.to_str().unwrap())),
            ("proc.name", v("sshd")),
        ],
    ));
    let pid = run(Command::new(&sshd_cat).arg(&good));
    cases.push(silent(
        "sshd reads liblzma 5.4.1",
        "Backdoored library loaded into SSHD (CVE-2024-3094)",
        Tie::Pid(pid),
    ));

    // BPF Program Not Profiled: BPF_PROG_LOAD (refused: an empty program) by an unknown
    // program; bpftool is profiled.
    let pid = run(&mut perl(
        &bin,
        "pgbpf",
        SYSCALL,
        &["321".into(), "5".into()],
    ));
    cases.push(fires(
        "BPF_PROG_LOAD by pgbpf",
        "BPF Program Not Profiled",
        Tie::Pid(pid),
        "Notice",
        vec![
            ("proc.name", v("pgbpf")),
            ("evt.type", v("bpf")),
            ("evt.arg.cmd", v("BPF_PROG_LOAD")),
        ],
    ));
    let pid = run(&mut perl(
        &bin,
        "bpftool",
        SYSCALL,
        &["321".into(), "5".into()],
    ));
    cases.push(silent(
        "BPF_PROG_LOAD by bpftool",
        "BPF Program Not Profiled",
        Tie::Pid(pid),
    ));
    let pid = run(&mut perl(
        &bin,
        "pgbpf",
        SYSCALL,
        &["321".into(), "0".into()],
    ));
    cases.push(silent(
        "BPF_MAP_CREATE by pgbpf",
        "BPF Program Not Profiled",
        Tie::Pid(pid),
    ));

    let alerts = agent.stop();
    drop((priv_c, plain_c, pod_c, ns));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&home);

    assert_cases(&cases, &alerts);
}
