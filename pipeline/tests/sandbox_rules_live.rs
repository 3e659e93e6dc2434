//! The rules of `falco-sandbox_rules.yaml`, each fired on this host's kernel by a real
//! action (on the host, in a podman container, or in a network namespace of the test's own),
//! with the output fields the rule prints; and for each a near action that must stay silent
//! (the rule's own exceptions, a name the operator allows, or the action without what the
//! rule looks for).
//!
//! One agent loads all three upstream rulesets with `rule_matching: all`; the rules the file
//! ships disabled are enabled by name (`-o rules[]={"enable": {"rule": ...}}`), and a local
//! rules file allows some things the way an operator would (appending to the rules' lists,
//! defining `allowed_containers`, which upstream leaves allowing everything).
//!
//! Every sandbox rule is triggered here. Two notes:
//! - `Launch Sensitive Mount Container` also fires for a container with no mount at all:
//!   Peregrine gives `container.mount.dest[X]` no value when no mount matches, so
//!   `not container.mount.dest[X] in ("<NA>","N/A")` holds. Falco's container plugin sets no
//!   value either, by its source (not compared live: the Falco on this machine has no
//!   container worker). The near action is the operator's allowance
//!   (`user_sensitive_mount_containers`) for a container with the same mount.
//! - `Privileged Container Device Access` reads a block device the container makes itself
//!   (`mknod /dev/sdpg b 7 0`, loop0): this host refuses opening its real disk even to root.
//!
//! Needs root, BPF, podman (`.ci/podman-setup.sh`) and `../shared/testdata`.

mod common;

use common::live::*;
use common::netns::NetNs;
use common::Agent;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const IMAGE: &str = common::IMAGE;
const ALLOWED_IMAGE: &str = "localhost/postgres-peregrine:15";

/// The rules `falco-sandbox_rules.yaml` ships with `enabled: false`.
const DISABLED_UPSTREAM: &[&str] = &[
    "Unexpected inbound connection source",
    "Read Shell Configuration File",
    "Interpreted procs inbound network activity",
    "Interpreted procs outbound network activity",
    "Unexpected K8s NodePort Connection",
    "Create Hidden Files or Directories",
    "Detect outbound connections to common miner pool ports",
    "Container Drift Detected (chmod)",
    "Container Drift Detected (open+create)",
    "Container Run as Root User",
    "Java Process Class File Download",
    "Modify Container Entrypoint",
];

/// An operator's allowances: a trusted client address, which images may run, and which may
/// mount sensitive paths.
const LOCAL_RULES: &str = r#"
- list: allowed_inbound_source_ipaddrs
  items: ['"198.51.100.7"']
  append: true
- macro: allowed_containers
  condition: (container.image.repository in (localhost/postgres-peregrine))
- macro: user_sensitive_mount_containers
  condition: (container.image.repository in (localhost/postgres-peregrine))
"#;

/// A miner pool's name, given to an address of the test's namespace by /etc/hosts.
const MINER_POOL: &str = "ca.minexmr.com";

/// Ties every alert to the action that caused it, and prints the fields the cases check.
const APPEND: &str = r#"append_output[]={"match": {"source": "syscall"}, "extra_output": "tie=%proc.pid,%proc.ppid,%container.name,%proc.cmdline checked=%fd.name,%fd.cip,%fd.sip,%fd.sport,%fd.rport,%fd.sip.name,%proc.name,%proc.pname,%proc.exepath,%user.name,%user.uid,%evt.type,%evt.arg.path,%evt.arg.mode,%container.image.repository"}"#;

/// Connects (from `local` when given) and reads once with recv (recvfrom), as a client.
const CONNECT: &str = r#"
use IO::Socket::INET;
alarm 5;
my ($host, $port, $local) = @ARGV;
my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port, Proto => 'tcp',
    ($local ? (LocalAddr => $local) : ())) or die "connect: $!";
my $buf;
$s->recv($buf, 64);
"#;

/// Listens on an address and accepts one connection.
const LISTEN: &str = r#"
use IO::Socket::INET;
alarm 5;
my $l = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => $ARGV[1], Listen => 1,
    ReuseAddr => 1) or die "listen: $!";
my $c = $l->accept;
"#;

/// Becomes daemon with setresuid, then opens a userfaultfd (user-mode faults only, which
/// unprivileged users may do even with vm.unprivileged_userfaultfd=0).
const USERFAULTFD: &str = r#"
    if ($ARGV[0] eq "daemon") {
        syscall(119, 1, 1, 1) == 0 or die "setresgid: $!";
        syscall(117, 1, 1, 1) == 0 or die "setresuid: $!";
    }
    syscall(323, 1) >= 0 or die "userfaultfd: $!";
"#;

#[test]
fn sandbox_rules_fire_live_and_near_actions_stay_silent() {
    let test = "sandbox_rules_fire_live_and_near_actions_stay_silent";
    if common::skip_podman(test) || missing_tools(test) {
        return;
    }
    let Some(data) = common::testdata(test) else {
        return;
    };
    let me = std::process::id();
    let (dir, bin) = work_dir("sandbox-rules");
    let ns = NetNs::new(
        &format!("pg-sandbox-{me}"),
        &["203.0.113.10/32", "198.51.100.7/32", "198.51.100.20/32"],
    );
    // Names are resolved when the rules are compiled: before the agent starts.
    let _hosts = HostsEntry::add("198.51.100.20", MINER_POOL);
    let connect_pl = dir.join("connect.pl");
    let listen_pl = dir.join("listen.pl");
    std::fs::write(&connect_pl, CONNECT).unwrap();
    std::fs::write(&listen_pl, LISTEN).unwrap();
    // Files the test creates outside its directory, removed at the end.
    let mut litter: Vec<PathBuf> = Vec::new();

    let files = upstream_and_local(&data.join("upstream"), &dir, LOCAL_RULES);
    let mut args = vec![
        "-o".to_string(),
        "rule_matching=all".into(),
        "-o".into(),
        APPEND.into(),
    ];
    for rule in DISABLED_UPSTREAM {
        args.push("-o".into());
        args.push(format!(r#"rules[]={{"enable": {{"rule": "{rule}"}}}}"#));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let agent = Agent::start_in(&dir, &files, &args);
    let mut cases = Vec::new();

    // Containers started while the agent watches (the container_started rules).
    let priv_c = Container::start_with(
        format!("pg-sandbox-priv-{me}"),
        IMAGE,
        &["--privileged", "--network", "none"],
    );
    let plain_c = Container::start(format!("pg-sandbox-plain-{me}"), IMAGE, false);
    let kubelet_mount = format!("{}:/var/lib/kubelet:ro", dir.display());
    let allowed_c = Container::start_with(
        format!("pg-sandbox-allowed-{me}"),
        ALLOWED_IMAGE,
        &["-v", &kubelet_mount],
    );
    let nobody_c = Container::start_with(
        format!("pg-sandbox-nobody-{me}"),
        IMAGE,
        &["--user", "65534"],
    );
    let mount_c = Container::start_with(
        format!("pg-sandbox-mount-{me}"),
        IMAGE,
        &["-v", &kubelet_mount],
    );
    // The host's /usr (and its libraries) inside, so a host bash can run under a chosen name.
    let npm_c = Container::start_with(
        format!("pg-sandbox-npm-{me}"),
        IMAGE,
        &[
            "-v",
            "/usr:/usr:ro",
            "-v",
            "/usr/lib:/lib:ro",
            "-v",
            "/usr/lib64:/lib64:ro",
        ],
    );

    // Launch Sensitive Mount Container.
    cases.push(fires(
        "a container with /var/lib/kubelet mounted",
        "Launch Sensitive Mount Container",
        mount_c.tie("sleep 600"),
        "Informational",
        vec![
            ("proc.name", v("sleep")),
            (
                "container.mounts",
                v(&format!(
                    "{}:/var/lib/kubelet::false:rprivate",
                    dir.display()
                )),
            ),
        ],
    ));
    cases.push(silent(
        "the same mount in an image the operator allows",
        "Launch Sensitive Mount Container",
        allowed_c.tie("sleep 600"),
    ));

    // Launch Disallowed Container: the operator allows only the postgres image.
    cases.push(fires(
        "a container of another image",
        "Launch Disallowed Container",
        plain_c.tie("sleep 600"),
        "Warning",
        vec![
            ("proc.name", v("sleep")),
            ("container.image.repository", v("localhost/peregrine-test")),
        ],
    ));
    cases.push(silent(
        "a container of the allowed image",
        "Launch Disallowed Container",
        allowed_c.tie("sleep 600"),
    ));

    // Container Run as Root User.
    cases.push(fires(
        "a container running as root",
        "Container Run as Root User",
        plain_c.tie("sleep 600"),
        "Informational",
        vec![("user.uid", 0.into()), ("proc.name", v("sleep"))],
    ));
    cases.push(silent(
        "a container running as nobody",
        "Container Run as Root User",
        nobody_c.tie("sleep 600"),
    ));

    // Read Shell Configuration File.
    let bashrc = dir.join(".bashrc");
    std::fs::write(&bashrc, "# test\n").unwrap();
    let pid = run(Command::new("cat").arg(&bashrc));
    cases.push(fires(
        "cat .bashrc",
        "Read Shell Configuration File",
        Tie::Pid(pid),
        "Warning",
        vec![
            ("fd.name", v(bashrc.to_str().unwrap())),
            ("proc.name", v("cat")),
        ],
    ));
    let pid = run(&mut sh(&format!("read -r x < {}; true", bashrc.display())));
    cases.push(silent(
        "a shell reads it",
        "Read Shell Configuration File",
        Tie::Pid(pid),
    ));

    // Update Package Repository / Write below etc.
    let repo = format!("/etc/apt/sources.list.d/peregrine-test-{me}.list");
    let repo2 = format!("/etc/apt/sources.list.d/peregrine-test-{me}-apt.list");
    litter.extend([PathBuf::from(&repo), PathBuf::from(&repo2)]);
    let pid = run(Command::new("touch").arg(&repo));
    cases.push(fires(
        "touch a sources.list.d file",
        "Update Package Repository",
        Tie::Pid(pid),
        "Notice",
        vec![("fd.name", v(&repo)), ("proc.name", v("touch"))],
    ));
    let pid = run(Command::new(link(&bin, "apt-get", "/usr/bin/touch")).arg(&repo2));
    cases.push(silent(
        "apt-get writes it",
        "Update Package Repository",
        Tie::Pid(pid),
    ));
    let etc_file = format!("/etc/peregrine-test-{me}");
    litter.push(PathBuf::from(&etc_file));
    let pid = run(Command::new("touch").arg(&etc_file));
    cases.push(fires(
        "touch /etc/x",
        "Write below etc",
        Tie::Pid(pid),
        "Error",
        vec![("fd.name", v(&etc_file)), ("proc.name", v("touch"))],
    ));
    let pid = run(Command::new(link(&bin, "useradd", "/usr/bin/touch")).arg(&etc_file));
    cases.push(silent(
        "useradd writes it",
        "Write below etc",
        Tie::Pid(pid),
    ));

    // Write below binary dir / Modify binary dirs / Mkdir binary dirs: dpkg may.
    let dpkg_touch = link(&bin, "dpkg", "/usr/bin/touch");
    let bin_file = format!("/usr/bin/peregrine-test-{me}");
    let bin_file2 = format!("/usr/bin/peregrine-test-{me}-dpkg");
    let bin_dir = format!("/usr/bin/peregrine-test-dir-{me}");
    litter.extend([PathBuf::from(&bin_file), PathBuf::from(&bin_file2)]);
    let pid = run(Command::new("touch").arg(&bin_file));
    cases.push(fires(
        "touch /usr/bin/x",
        "Write below binary dir",
        Tie::Pid(pid),
        "Error",
        vec![("fd.name", v(&bin_file)), ("proc.name", v("touch"))],
    ));
    let pid = run(Command::new(&dpkg_touch).arg(&bin_file2));
    cases.push(silent(
        "dpkg writes there",
        "Write below binary dir",
        Tie::Pid(pid),
    ));
    let pid = run(Command::new("rm").arg(&bin_file));
    cases.push(fires(
        "rm /usr/bin/x",
        "Modify binary dirs",
        Tie::Pid(pid),
        "Error",
        vec![("proc.name", v("rm")), ("evt.type", v("unlinkat"))],
    ));
    let pid = run(Command::new(link(&bin, "dpkg", "/bin/rm")).arg(&bin_file2));
    cases.push(silent(
        "dpkg removes one",
        "Modify binary dirs",
        Tie::Pid(pid),
    ));
    let pid = run(Command::new("mkdir").arg(&bin_dir));
    cases.push(fires(
        "mkdir /usr/bin/x",
        "Mkdir binary dirs",
        Tie::Pid(pid),
        "Error",
        vec![("evt.arg.path", v(&bin_dir)), ("proc.name", v("mkdir"))],
    ));
    let _ = std::fs::remove_dir(&bin_dir);
    let pid = run(Command::new(link(&bin, "dpkg", "/bin/mkdir")).arg(&bin_dir));
    let _ = std::fs::remove_dir(&bin_dir);
    cases.push(silent("dpkg makes one", "Mkdir binary dirs", Tie::Pid(pid)));

    // Write below monitored dir.
    let lib_file = format!("/usr/local/lib/peregrine-test-{me}");
    let lib_file2 = format!("/usr/local/lib/peregrine-test-{me}-dpkg");
    litter.extend([PathBuf::from(&lib_file), PathBuf::from(&lib_file2)]);
    let pid = run(Command::new("touch").arg(&lib_file));
    cases.push(fires(
        "touch /usr/local/lib/x",
        "Write below monitored dir",
        Tie::Pid(pid),
        "Error",
        vec![("fd.name", v(&lib_file)), ("proc.name", v("touch"))],
    ));
    let pid = run(Command::new(link(&bin, "dpkg", "/usr/bin/touch")).arg(&lib_file2));
    cases.push(silent(
        "dpkg writes there",
        "Write below monitored dir",
        Tie::Pid(pid),
    ));

    // Write below root: a file of its own; one of the known ones is expected.
    let root_file = format!("/root/peregrine-test-{me}");
    litter.push(PathBuf::from(&root_file));
    let pid = run(Command::new("touch").arg(&root_file));
    cases.push(fires(
        "touch /root/x",
        "Write below root",
        Tie::Pid(pid),
        "Error",
        vec![("fd.name", v(&root_file)), ("proc.name", v("touch"))],
    ));
    let known = Path::new("/root/.wget-hsts");
    if !known.exists() {
        litter.push(known.to_path_buf());
    }
    let pid = run(Command::new("touch").arg(known));
    cases.push(silent(
        "touch /root/.wget-hsts (known_root_files)",
        "Write below root",
        Tie::Pid(pid),
    ));

    // Write below rpm database.
    let rpm_dir = Path::new("/var/lib/rpm");
    let made_rpm_dir = !rpm_dir.exists();
    std::fs::create_dir_all(rpm_dir).unwrap();
    let rpm_file = rpm_dir.join(format!("peregrine-test-{me}"));
    litter.push(rpm_file.clone());
    let pid = run(Command::new("touch").arg(&rpm_file));
    cases.push(fires(
        "touch /var/lib/rpm/x",
        "Write below rpm database",
        Tie::Pid(pid),
        "Error",
        vec![
            ("fd.name", v(rpm_file.to_str().unwrap())),
            ("proc.name", v("touch")),
        ],
    ));
    let pid = run(Command::new(link(&bin, "rpm", "/usr/bin/touch")).arg(&rpm_file));
    cases.push(silent(
        "rpm writes it",
        "Write below rpm database",
        Tie::Pid(pid),
    ));

    // Create Hidden Files or Directories.
    let hidden = dir.join(".pghidden");
    let pid = run(Command::new("touch").arg(&hidden));
    cases.push(fires(
        "touch .pghidden",
        "Create Hidden Files or Directories",
        Tie::Pid(pid),
        "Notice",
        vec![
            ("fd.name", v(hidden.to_str().unwrap())),
            ("proc.name", v("touch")),
        ],
    ));
    let pid = run(Command::new("touch").arg(dir.join("pgvisible")));
    cases.push(silent(
        "touch pgvisible",
        "Create Hidden Files or Directories",
        Tie::Pid(pid),
    ));

    // The network rules, in the test's namespace: listeners, then clients.
    let perl_bin = link(&bin, "perl", "/usr/bin/perl");
    let java = link(&bin, "java", "/usr/bin/perl");
    let pgclient = link(&bin, "pgclient", "/usr/bin/perl");
    let pgserver = link(&bin, "pgserver", "/usr/bin/perl");
    let connect =
        |client: &Path, to: &str| format!("{} {} {to}", client.display(), connect_pl.display());
    let listen =
        |server: &Path, on: &str| format!("{} {} {on}", server.display(), listen_pl.display());
    let script = [
        format!("{} &", listen(&pgserver, "0.0.0.0 7001")),
        format!("{} &", listen(&pgserver, "0.0.0.0 7002")),
        format!("{} &", listen(&perl_bin, "203.0.113.10 7200")),
        format!("{} &", listen(&pgclient, "203.0.113.10 7201")),
        "timeout 5 busybox nc -l -p 7300 &".into(),
        "timeout 5 busybox nc -l -p 7301 &".into(),
        r"printf '\xca\xfe\xba\xbe' | timeout 5 busybox nc -l -p 7400 &".into(),
        "printf hello | timeout 5 busybox nc -l -p 7401 &".into(),
        "timeout 5 busybox nc -l -p 3333 &".into(),
        "timeout 5 busybox nc -l -p 2222 &".into(),
        "sleep 1".into(),
        connect(&pgclient, "203.0.113.10 7001 203.0.113.10"),
        connect(&pgclient, "203.0.113.10 7002 198.51.100.7"),
        connect(&pgclient, "203.0.113.10 7200"),
        connect(&pgclient, "203.0.113.10 7201"),
        connect(&perl_bin, "203.0.113.10 7300"),
        connect(&pgclient, "203.0.113.10 7301"),
        connect(&java, "203.0.113.10 7400"),
        connect(&java, "203.0.113.10 7401"),
        connect(&pgclient, "198.51.100.20 3333"),
        connect(&pgclient, "198.51.100.20 2222"),
        "wait".into(),
    ]
    .join("\n");
    run(Command::new("ip").args(["netns", "exec", &ns.name, "bash", "-c", &script]));
    let host = |marker: &str| Tie::Container("host".into(), marker.into());

    // Unexpected inbound connection source: the listener accepts a client from an address
    // that is not allowed; the operator allows 198.51.100.7.
    cases.push(fires(
        "accept from 203.0.113.10",
        "Unexpected inbound connection source",
        host("0.0.0.0 7001"),
        "Notice",
        vec![("fd.cip", v("203.0.113.10")), ("proc.name", v("pgserver"))],
    ));
    cases.push(silent(
        "accept from an allowed address",
        "Unexpected inbound connection source",
        host("0.0.0.0 7002"),
    ));

    // Interpreted procs inbound / outbound network activity.
    cases.push(fires(
        "perl listens and accepts",
        "Interpreted procs inbound network activity",
        host("listen.pl 203.0.113.10 7200"),
        "Notice",
        vec![("proc.name", v("perl")), ("fd.sport", 7200.into())],
    ));
    cases.push(silent(
        "another program does",
        "Interpreted procs inbound network activity",
        host("listen.pl 203.0.113.10 7201"),
    ));
    cases.push(fires(
        "perl connects out",
        "Interpreted procs outbound network activity",
        host("connect.pl 203.0.113.10 7300"),
        "Notice",
        vec![
            ("proc.name", v("perl")),
            ("fd.sport", 7300.into()),
            ("evt.type", v("connect")),
        ],
    ));
    cases.push(silent(
        "another program does",
        "Interpreted procs outbound network activity",
        host("connect.pl 203.0.113.10 7301"),
    ));

    // Java Process Class File Download: a java reads a class file's magic from a socket.
    cases.push(fires(
        "java receives cafebabe",
        "Java Process Class File Download",
        host("connect.pl 203.0.113.10 7400"),
        "Critical",
        vec![("evt.type", v("recvfrom")), ("fd.sport", 7400.into())],
    ));
    cases.push(silent(
        "java receives something else",
        "Java Process Class File Download",
        host("connect.pl 203.0.113.10 7401"),
    ));

    // Detect outbound connections to common miner pool ports.
    cases.push(fires(
        "connect to a miner pool's port",
        "Detect outbound connections to common miner pool ports",
        host("connect.pl 198.51.100.20 3333"),
        "Critical",
        vec![("fd.sip.name", v(MINER_POOL)), ("fd.sport", 3333.into())],
    ));
    cases.push(silent(
        "connect to another port of it",
        "Detect outbound connections to common miner pool ports",
        host("connect.pl 198.51.100.20 2222"),
    ));

    // Unexpected K8s NodePort Connection: a server port in the NodePort range, in the
    // privileged container's own network namespace.
    priv_c.sh("ip link set lo up; ip addr add 192.0.2.5/32 dev lo");
    for port in ["30080", "29999"] {
        run(Command::new("podman").args(["exec", "-d", &priv_c.0, "nc", "-l", "-p", port]));
    }
    std::thread::sleep(Duration::from_millis(500));
    priv_c.exec(&["nc", "-w", "1", "192.0.2.5", "30080"]);
    priv_c.exec(&["nc", "-w", "1", "192.0.2.5", "29999"]);
    cases.push(fires(
        "connect to port 30080",
        "Unexpected K8s NodePort Connection",
        priv_c.tie("192.0.2.5 30080"),
        "Notice",
        vec![("fd.sport", 30080.into()), ("proc.name", v("nc"))],
    ));
    cases.push(silent(
        "connect to port 29999",
        "Unexpected K8s NodePort Connection",
        priv_c.tie("192.0.2.5 29999"),
    ));

    // Detect crypto miners using the Stratum protocol / Known Cryptominer Process Executed.
    let pid = run(Command::new("/bin/true").arg("stratum+tcp://pool.example:3333"));
    cases.push(fires(
        "stratum+tcp on the command line",
        "Detect crypto miners using the Stratum protocol",
        Tie::Pid(pid),
        "Critical",
        vec![("proc.name", v("true"))],
    ));
    let pid = run(Command::new("/bin/true").arg("tcp://pool.example:3333"));
    cases.push(silent(
        "tcp:// on the command line",
        "Detect crypto miners using the Stratum protocol",
        Tie::Pid(pid),
    ));
    // The image a link runs, resolved as /proc/PID/exe is (/usr/bin/true where /bin is a link).
    let true_exe = std::fs::canonicalize("/bin/true").unwrap();
    let pid = run(&mut Command::new(link(&bin, "xmrig", "/bin/true")));
    cases.push(fires(
        "xmrig",
        "Known Cryptominer Process Executed",
        Tie::Pid(pid),
        "Critical",
        vec![
            ("proc.name", v("xmrig")),
            ("proc.exepath", v(true_exe.to_str().unwrap())),
        ],
    ));
    let pid = run(&mut Command::new(link(&bin, "pgminer", "/bin/true")));
    cases.push(silent(
        "pgminer",
        "Known Cryptominer Process Executed",
        Tie::Pid(pid),
    ));

    // Sudo Potential Privilege Escalation (CVE-2021-3156) / Polkit (CVE-2021-4034).
    let sudo = link(&bin, "sudo", "/bin/true");
    let pid = run(Command::new(&sudo).args(["-s", "pg\\"]));
    cases.push(fires(
        "sudo -s ending in a backslash",
        "Sudo Potential Privilege Escalation",
        Tie::Pid(pid),
        "Critical",
        vec![("proc.name", v("sudo"))],
    ));
    let pid = run(Command::new(&sudo).args(["-s", "pg"]));
    cases.push(silent(
        "sudo -s",
        "Sudo Potential Privilege Escalation",
        Tie::Pid(pid),
    ));
    let pkexec = link(&bin, "pkexec", "/bin/true");
    let pid = run(&mut Command::new(&pkexec));
    cases.push(fires(
        "pkexec without arguments",
        "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)",
        Tie::Pid(pid),
        "Critical",
        vec![("proc.name", v("pkexec"))],
    ));
    let pid = run(Command::new(&pkexec).arg("--version"));
    cases.push(silent(
        "pkexec --version",
        "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)",
        Tie::Pid(pid),
    ));

    // Unprivileged Delegation of Page Faults Handling to a Userspace Process.
    let pid = run(&mut perl_as(&bin, "pguffd", USERFAULTFD, "daemon"));
    cases.push(fires(
        "userfaultfd by daemon",
        "Unprivileged Delegation of Page Faults Handling to a Userspace Process",
        Tie::Pid(pid),
        "Critical",
        vec![
            ("user.name", v("daemon")),
            ("evt.type", v("userfaultfd")),
            ("proc.name", v("pguffd")),
        ],
    ));
    let pid = run(&mut perl_as(&bin, "pguffd", USERFAULTFD, "root"));
    cases.push(silent(
        "userfaultfd by root",
        "Unprivileged Delegation of Page Faults Handling to a Userspace Process",
        Tie::Pid(pid),
    ));

    // Basic Interactive Reconnaissance: id on a terminal, leading its process group.
    // `exec` so id replaces the session's shell whatever $SHELL is: dash (CI's
    // /bin/sh) forks a last command where bash execs it.
    run(Command::new("script").args(["-qec", "exec id -u root", "/dev/null"]));
    let pid = run(Command::new("id").args(["-g", "root"]));
    cases.push(fires(
        "id on a terminal",
        "Basic Interactive Reconnaissance",
        host("id -u root"),
        "Notice",
        vec![("proc.name", v("id"))],
    ));
    cases.push(silent(
        "id without a terminal",
        "Basic Interactive Reconnaissance",
        Tie::Pid(pid),
    ));

    // Netcat/Socat Remote Code Execution on Host.
    let nc = link(&bin, "nc", "/bin/busybox");
    let pid = run(Command::new(&nc).args(["127.0.0.1", "9", "-e", "/bin/true"]));
    cases.push(fires(
        "nc -e on the host",
        "Netcat/Socat Remote Code Execution on Host",
        Tie::Pid(pid),
        "Warning",
        vec![("proc.name", v("nc"))],
    ));
    let pid = run(Command::new(&nc).args(["-w", "1", "127.0.0.1", "9"]));
    cases.push(silent(
        "nc without -e",
        "Netcat/Socat Remote Code Execution on Host",
        Tie::Pid(pid),
    ));

    // Web Server Spawned Shell / Suspicious Child Process / Reverse Shell from Web Server.
    let nginx = link(&bin, "nginx", "/bin/bash");
    let from_nginx =
        |script: &str| run(Command::new(&nginx).args(["-c", &format!("{script}; true")]));
    let pid = from_nginx("sh -c true");
    cases.push(fires(
        "nginx runs sh",
        "Web Server Spawned Shell",
        Tie::Parent(pid),
        "Critical",
        vec![("proc.name", v("sh")), ("proc.pname", v("nginx"))],
    ));
    let pid = from_nginx("sh -c /usr/bin/true");
    cases.push(silent(
        "nginx runs sh -c /usr/bin/...",
        "Web Server Spawned Shell",
        Tie::Parent(pid),
    ));
    let pid = from_nginx("whoami");
    cases.push(fires(
        "nginx runs whoami",
        "Web Server Spawned Suspicious Child Process",
        Tie::Parent(pid),
        "Warning",
        vec![("proc.name", v("whoami")), ("proc.pname", v("nginx"))],
    ));
    let pid = from_nginx("ls /");
    cases.push(silent(
        "nginx runs ls",
        "Web Server Spawned Suspicious Child Process",
        Tie::Parent(pid),
    ));
    let pid = from_nginx("bash -c 'exec 3<>/dev/tcp/127.0.0.1/9'");
    cases.push(fires(
        "nginx runs bash with /dev/tcp",
        "Reverse Shell from Web Server",
        Tie::Parent(pid),
        "Critical",
        vec![("proc.name", v("bash")), ("proc.pname", v("nginx"))],
    ));
    let pid = from_nginx("bash -c 'echo pg'");
    cases.push(silent(
        "nginx runs bash without",
        "Reverse Shell from Web Server",
        Tie::Parent(pid),
    ));

    // Kubernetes Client Tool Launched in Container.
    plain_c.sh("ln -sf /bin/busybox /tmp/kubectl");
    plain_c.exec(&["/tmp/kubectl", "version"]);
    cases.push(fires(
        "kubectl in a container",
        "Kubernetes Client Tool Launched in Container",
        plain_c.tie("kubectl version"),
        "Warning",
        vec![("proc.name", v("kubectl"))],
    ));
    let pid = run(Command::new(link(&bin, "kubectl", "/bin/true")).arg("version"));
    cases.push(silent(
        "kubectl on the host",
        "Kubernetes Client Tool Launched in Container",
        Tie::Pid(pid),
    ));

    // Container Drift Detected (chmod) / (open+create).
    plain_c.sh("echo x > /tmp/pgdrift1; echo x > /tmp/pgdrift2");
    plain_c.exec(&["chmod", "755", "/tmp/pgdrift1"]);
    plain_c.exec(&["chmod", "644", "/tmp/pgdrift2"]);
    cases.push(fires(
        "chmod 755 in a container",
        "Container Drift Detected (chmod)",
        plain_c.tie("chmod 755"),
        "Error",
        vec![
            ("proc.name", v("chmod")),
            (
                "evt.arg.mode",
                v("S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"),
            ),
        ],
    ));
    cases.push(silent(
        "chmod 644 in a container",
        "Container Drift Detected (chmod)",
        plain_c.tie("chmod 644"),
    ));
    plain_c.exec(&["cp", "/bin/busybox", "/tmp/pgdropped"]);
    plain_c.exec(&["cp", "/etc/passwd", "/tmp/pgpasswd"]);
    cases.push(fires(
        "cp an executable in a container",
        "Container Drift Detected (open+create)",
        plain_c.tie("cp /bin/busybox"),
        "Error",
        vec![("fd.name", v("/tmp/pgdropped")), ("proc.name", v("cp"))],
    ));
    cases.push(silent(
        "cp a plain file",
        "Container Drift Detected (open+create)",
        plain_c.tie("cp /etc/passwd"),
    ));

    // Modify Container Entrypoint: writing through /proc/self/fd (CVE-2019-5736's way).
    plain_c.sh("exec 5>/tmp/pgentry; echo x > /proc/self/fd/5");
    plain_c.sh("echo x > /tmp/pgentry2");
    cases.push(fires(
        "write through /proc/self/fd",
        "Modify Container Entrypoint",
        plain_c.tie("/proc/self/fd/5"),
        "Warning",
        vec![("fd.name", v("/proc/self/fd/5"))],
    ));
    cases.push(silent(
        "write a file",
        "Modify Container Entrypoint",
        plain_c.tie("/tmp/pgentry2"),
    ));

    // Decoding Payload in Container.
    plain_c.sh("echo cGc= > /tmp/pgb64");
    plain_c.exec(&["base64", "-d", "/tmp/pgb64"]);
    plain_c.exec(&["base64", "/tmp/pgb64"]);
    cases.push(fires(
        "base64 -d in a container",
        "Decoding Payload in Container",
        plain_c.tie("base64 -d"),
        "Informational",
        vec![("proc.name", v("base64"))],
    ));
    cases.push(silent(
        "base64 encoding",
        "Decoding Payload in Container",
        plain_c.tie("base64 /tmp/pgb64"),
    ));

    // Network Tool Executed During NPM Package Install: nc run by npm (a host bash under
    // that name), in a container.
    npm_c.sh("ln -sf /usr/bin/bash /tmp/npm; ln -sf /usr/bin/bash /tmp/pgbuild");
    npm_c.exec(&["/tmp/npm", "-c", "nc -w 1 127.0.0.1 9 pg-npm; true"]);
    npm_c.exec(&["/tmp/pgbuild", "-c", "nc -w 1 127.0.0.1 9 pg-build; true"]);
    cases.push(fires(
        "npm runs nc",
        "Network Tool Executed During NPM Package Install",
        npm_c.tie("pg-npm"),
        "Warning",
        vec![("proc.name", v("nc")), ("proc.pname", v("npm"))],
    ));
    cases.push(silent(
        "another program runs nc",
        "Network Tool Executed During NPM Package Install",
        npm_c.tie("pg-build"),
    ));

    // Privileged Container Device Access: this host refuses opening its own disk (vda) even
    // to root, so the container makes a block device node of its own, named as a SCSI
    // disk is (loop0's numbers, 7:0), and reads it.
    priv_c.sh("mknod /dev/sdpg b 7 0");
    priv_c.exec(&["head", "-c", "1", "/dev/sdpg"]);
    priv_c.exec(&["head", "-c", "1", "/dev/zero"]);
    cases.push(fires(
        "read a disk device in a privileged container",
        "Privileged Container Device Access",
        priv_c.tie("head -c 1 /dev/sdpg"),
        "Critical",
        vec![("fd.name", v("/dev/sdpg")), ("proc.name", v("head"))],
    ));
    cases.push(silent(
        "read /dev/zero",
        "Privileged Container Device Access",
        priv_c.tie("head -c 1 /dev/zero"),
    ));

    // Container Access to Host Sensitive Paths.
    plain_c.sh("mkdir -p /host/etc; echo x > /host/etc/pgx; echo x > /tmp/pgx");
    plain_c.exec(&["cat", "/host/etc/pgx"]);
    plain_c.exec(&["cat", "/tmp/pgx"]);
    cases.push(fires(
        "cat /host/etc/x in a container",
        "Container Access to Host Sensitive Paths",
        plain_c.tie("cat /host/etc/pgx"),
        "Warning",
        vec![("fd.name", v("/host/etc/pgx")), ("proc.name", v("cat"))],
    ));
    cases.push(silent(
        "cat /tmp/x",
        "Container Access to Host Sensitive Paths",
        plain_c.tie("cat /tmp/pgx"),
    ));

    let alerts = agent.stop();
    drop((priv_c, plain_c, allowed_c, nobody_c, mount_c, npm_c, ns));
    for f in &litter {
        let _ = std::fs::remove_file(f);
    }
    if made_rpm_dir {
        let _ = std::fs::remove_dir(rpm_dir);
    }
    let _ = std::fs::remove_dir_all(&dir);

    assert_cases(&cases, &alerts);
}

/// perl under `name` running `code` with one argument.
fn perl_as(bin: &Path, name: &str, code: &str, arg: &str) -> Command {
    perl(bin, name, code, &[arg.to_string()])
}
