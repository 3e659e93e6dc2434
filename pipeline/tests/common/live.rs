//! The live rule tests' vocabulary: actions (real commands, containers, processes under a
//! chosen name), how an alert is tied to the action that caused it, and the cases checked
//! against the agent's alerts (`fires`: this rule, priority and fields; `silent`: not this
//! rule). `pipeline/src/detection.rs` reads `cases.push(fires(CASE, RULE, ...` from the
//! `*_rules_live.rs` tests to list what is proven live.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The tools the actions use besides podman.
pub fn missing_tools(test: &str) -> bool {
    let Some(tool) = [
        "/bin/busybox",
        "/usr/bin/script",
        "/usr/bin/perl",
        "/usr/sbin/ip",
    ]
    .into_iter()
    .find(|p| !Path::new(p).exists()) else {
        return false;
    };
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test}: needs {tool} (run .ci/podman-setup.sh) and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping {test}: needs {tool} (run .ci/podman-setup.sh)");
    true
}

/// The rules files of a live rule test: the three upstream rulesets, then `local` (the
/// allowances an operator would add), written into `dir`.
pub fn upstream_and_local(upstream: &Path, dir: &Path, local: &str) -> Vec<PathBuf> {
    std::fs::write(dir.join("local_rules.yaml"), local).unwrap();
    [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| upstream.join(f))
    .chain([dir.join("local_rules.yaml")])
    .collect()
}

/// A fresh directory for a live rule test's files (`peregrine-NAME-PID` under the temp
/// directory), with a `bin/` for linked programs; both open to other users, who run
/// programs from there.
pub fn work_dir(name: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("peregrine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in [&dir, &bin] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (dir, bin)
}

/// Fails with every case that did not hold; says how many rules fired live otherwise.
pub fn assert_cases(cases: &[Case], alerts: &[Value]) {
    let failures = check(cases, alerts);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let fired: std::collections::BTreeSet<&str> = cases
        .iter()
        .filter(|c| c.fires.is_some())
        .map(|c| c.rule)
        .collect();
    eprintln!("{} cases, {} rules fired live", cases.len(), fired.len());
}

/// Which alerts belong to an action.
#[derive(Clone, Debug)]
pub enum Tie {
    /// The acting process.
    Pid(u32),
    /// A child of this process did it.
    Parent(u32),
    /// In this container, a process whose command line contains this text.
    Container(String, String),
}

impl Tie {
    pub fn holds(&self, f: &Value) -> bool {
        match self {
            Tie::Pid(p) => f["proc.pid"] == *p,
            Tie::Parent(p) => f["proc.ppid"] == *p,
            Tie::Container(name, marker) => {
                f["container.name"] == name.as_str()
                    && f["proc.cmdline"]
                        .as_str()
                        .is_some_and(|c| c.contains(marker.as_str()))
            }
        }
    }
}

/// One expectation: the rule fires for the action (with these output fields), or stays
/// silent for it.
pub struct Case {
    pub name: &'static str,
    pub rule: &'static str,
    pub tie: Tie,
    /// `None`: must not fire. `Some(priority, fields)`: fires once or more, each alert with
    /// this priority and these output fields.
    pub fires: Option<(&'static str, Vec<(&'static str, Value)>)>,
}

pub fn fires(
    name: &'static str,
    rule: &'static str,
    tie: Tie,
    priority: &'static str,
    fields: Vec<(&'static str, Value)>,
) -> Case {
    Case {
        name,
        rule,
        tie,
        fires: Some((priority, fields)),
    }
}

pub fn silent(name: &'static str, rule: &'static str, tie: Tie) -> Case {
    Case {
        name,
        rule,
        tie,
        fires: None,
    }
}

pub fn v(s: &str) -> Value {
    Value::from(s)
}

/// Runs `cmd` to its end (any exit status: some actions are meant to fail after the
/// syscall the rule watches) and returns its pid.
pub fn run(cmd: &mut Command) -> u32 {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let pid = child.id();
    child.wait().unwrap();
    pid
}

pub fn sh(script: &str) -> Command {
    let mut c = Command::new("/bin/bash");
    c.args(["-c", script]);
    c
}

/// `name` in `bin`, a link to `target`: the process's name is `name`, its image `target`.
pub fn link(bin: &Path, name: &str, target: &str) -> PathBuf {
    let p = bin.join(name);
    let _ = std::fs::remove_file(&p);
    std::os::unix::fs::symlink(target, &p).unwrap();
    p
}

/// A container that lives for the test; removed on drop.
pub struct Container(pub String);

impl Container {
    pub fn start(name: String, image: &str, privileged: bool) -> Container {
        let flags: &[&str] = if privileged { &["--privileged"] } else { &[] };
        Container::start_with(name, image, flags)
    }

    /// With these `podman run` flags (`--privileged`, `--network none`, `--cap-add X`...).
    pub fn start_with(name: String, image: &str, flags: &[&str]) -> Container {
        let _ = Command::new("podman").args(["rm", "-f", &name]).output();
        let mut cmd = Command::new("podman");
        cmd.args(["run", "-d", "--name", &name]).args(flags);
        let out = cmd.args([image, "sleep", "600"]).output().unwrap();
        assert!(out.status.success(), "podman run: {out:?}");
        Container(name)
    }

    /// Runs `script` with the container's sh. Busybox's sh runs its applets through
    /// /proc/self/exe (their name is then "exe"): actions whose name matters use `exec`.
    pub fn sh(&self, script: &str) {
        self.exec(&["sh", "-c", script]);
    }

    /// Runs a program in the container, its own name and arguments.
    pub fn exec(&self, argv: &[&str]) {
        run(Command::new("podman").args(["exec", &self.0]).args(argv));
    }

    /// Its processes whose command line contains `marker`.
    pub fn tie(&self, marker: &str) -> Tie {
        Tie::Container(self.0.clone(), marker.to_string())
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .output();
    }
}

/// A line in /etc/hosts for the test's duration.
pub struct HostsEntry(String);

impl HostsEntry {
    pub fn add(ip: &str, name: &str) -> HostsEntry {
        let line = format!("{ip} {name} # peregrine test {}", std::process::id());
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let sep = if hosts.is_empty() || hosts.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        std::fs::write("/etc/hosts", format!("{hosts}{sep}{line}\n")).unwrap();
        HostsEntry(line)
    }
}

impl Drop for HostsEntry {
    fn drop(&mut self) {
        if let Ok(hosts) = std::fs::read_to_string("/etc/hosts") {
            let kept: String = hosts
                .lines()
                .filter(|l| *l != self.0)
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write("/etc/hosts", kept);
        }
    }
}

/// `perl` under another name (its comm), running `code` with `args`.
pub fn perl(bin: &Path, name: &str, code: &str, args: &[String]) -> Command {
    let mut c = Command::new(link(bin, name, "/usr/bin/perl"));
    c.args(["-e", code]).args(args);
    c
}

pub const PTRACE: &str = r#"
    my ($req, $pid) = @ARGV;
    syscall(101, $req + 0, $pid + 0, 0, 0);
    waitpid($pid, 0) if $req == 16;
    syscall(101, 17, $pid + 0, 0, 0) if $req == 16;
"#;

/// Copies /bin/true into a memfd and executes it from there, as fileless malware does.
pub const MEMFD_EXEC: &str = r#"
    my $name = "pgmemfd";
    my $fd = syscall(319, $name, 0);
    die "memfd_create: $!" if $fd < 0;
    open(my $in, "<", "/bin/true") or die;
    local $/;
    my $image = <$in>;
    open(my $out, ">&=", $fd) or die;
    print $out $image;
    $out->flush;
    exec { "/proc/self/fd/$fd" } "pgmemfd";
"#;

/// Every case's failure, described with the alerts that were seen for its action.
pub fn check(cases: &[Case], alerts: &[Value]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let mine: Vec<&Value> = alerts
            .iter()
            .filter(|a| a["rule"] == case.rule && case.tie.holds(&a["output_fields"]))
            .collect();
        match &case.fires {
            None if mine.is_empty() => {}
            None => failures.push(format!(
                "{} / {}: must not fire, fired: {:#?}",
                case.rule, case.name, mine
            )),
            Some(_) if mine.is_empty() => {
                let related: Vec<&Value> = alerts
                    .iter()
                    .filter(|a| case.tie.holds(&a["output_fields"]))
                    .collect();
                failures.push(format!(
                    "{} / {}: did not fire ({:?}); the action's other alerts: {:#?}",
                    case.rule, case.name, case.tie, related
                ));
            }
            Some((priority, fields)) => {
                for a in mine {
                    if a["priority"] != *priority {
                        failures.push(format!(
                            "{} / {}: priority {} (want {priority})",
                            case.rule, case.name, a["priority"]
                        ));
                    }
                    for (field, want) in fields {
                        let got = &a["output_fields"][*field];
                        if got != want {
                            failures.push(format!(
                                "{} / {}: {field} = {got} (want {want})",
                                case.rule, case.name
                            ));
                        }
                    }
                }
            }
        }
    }
    failures
}
