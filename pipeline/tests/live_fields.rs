//! Field truth on live kernel events: every field the three upstream rulesets read is
//! checked, on an event a real syscall produced, against a value this test works out on
//! its own (from /proc, stat, passwd, the arguments it passed, podman inspect).
//!
//! The fields to check come from the rules themselves ([`upstream_fields`]): a field a
//! rule starts to read fails [`every_upstream_field_has_a_check`] until it has a check in
//! [`check`] or is declared as having no source in the registry.

mod common;

use common::host::{self, Proc};
use common::{skip, Agent};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which event shows a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Sc {
    /// The execve of a host `cat` the test starts (session leader, pty, loginuid set).
    Exec,
    /// That `cat`'s openat of the test's file.
    Open,
    /// A TCP connect to a loopback listener, from this test's thread.
    Connect,
    /// Single syscalls from this test's thread, one rule each, for their parameters.
    Symlinkat,
    Linkat,
    Mkdir,
    Fchmod,
    Chmod,
    Setuid,
    Ptrace,
    Socket,
    Bpf,
    Sendto,
    /// A `cat` in a podman container.
    Container,
}

const THREAD_SCENARIOS: &[(Sc, &str)] = &[
    (Sc::Connect, "connect"),
    (Sc::Symlinkat, "symlinkat"),
    (Sc::Linkat, "linkat"),
    (Sc::Mkdir, "mkdir"),
    (Sc::Fchmod, "fchmod"),
    (Sc::Chmod, "chmod"),
    (Sc::Setuid, "setuid"),
    (Sc::Ptrace, "ptrace"),
    (Sc::Socket, "socket"),
    (Sc::Bpf, "bpf"),
    (Sc::Sendto, "sendto"),
];

/// A test of a value, given all the alert's fields too.
type Test = Box<dyn Fn(&Value, &Map<String, Value>) -> bool>;

/// What a field's value must be.
enum Want {
    Eq(Value),
    /// Described, for the failure message; given the value and all the alert's fields.
    Pred(String, Test),
    /// A filter-only field (no output): this condition on it must hold on the scenario's
    /// event, checked by a rule of its own.
    Holds(String),
}

fn eq(v: impl Into<Value>) -> Want {
    Want::Eq(v.into())
}

fn pred(desc: impl Into<String>, f: impl Fn(&Value) -> bool + 'static) -> Want {
    Want::Pred(desc.into(), Box::new(move |v, _| f(v)))
}

/// A number within `tol` of `want` (for values the host only knows roughly).
fn near(want: i128, tol: i128) -> Want {
    pred(format!("{want} ± {tol}"), move |v| {
        v.as_i64()
            .map(i128::from)
            .or(v.as_u64().map(i128::from))
            .is_some_and(|n| (n - want).abs() <= tol)
    })
}

/// The space-separated words of a text field, as a set.
fn words(want: Vec<String>) -> Want {
    let set: BTreeSet<String> = want.into_iter().collect();
    pred(format!("the words {set:?}"), move |v| {
        v.as_str().is_some_and(|s| {
            s.split_whitespace()
                .map(str::to_owned)
                .collect::<BTreeSet<_>>()
                == set
        })
    })
}

fn contains_all(parts: Vec<String>) -> Want {
    pred(format!("contains {parts:?}"), move |v| {
        v.as_str()
            .is_some_and(|s| parts.iter().all(|p| s.contains(p)))
    })
}

/// Everything the test knows about the actions it performed, worked out without the agent.
/// `live` is filled after the actions; the filter-only checks read only `setup`.
struct Facts {
    setup: Setup,
    live: Option<Live>,
}

impl Facts {
    fn l(&self) -> &Live {
        self.live.as_ref().expect("read after the actions")
    }
}

/// What the rules need to know before the agent starts.
struct Setup {
    dir: PathBuf,
    /// The file the host `cat` opens.
    file: String,
    listen_port: u16,
    container_name: String,
    /// This test process and its ancestors (parent first).
    me: Proc,
    my_ancestors: Vec<Proc>,
}

struct Live {
    file_fd: i64,
    cat: Proc,
    /// Its ancestors when it ran (parent first): this process, then its ancestors.
    cat_ancestors: Vec<Proc>,
    cat_exe_times: (u64, u64),
    /// The clock just before the spawn and once it had run.
    cat_spawn: (u64, u64),
    /// This test's thread that made the single syscalls.
    tid: i64,
    client_port: u16,
    sent: Vec<u8>,
    container: Option<ContainerFacts>,
}

struct ContainerFacts {
    id: String,
    started_ns: u64,
    mount_dest: String,
}

/// The check of `field`: the scenario whose event shows it, and what it must be. `None`
/// when the field has no check (a test failure if a rule reads it and it has a source).
#[allow(clippy::type_complexity)]
fn check(field: &str) -> Option<(Sc, fn(&Facts, &str) -> Want)> {
    Some(match field {
        // Per-event fields on the open.
        "evt.type" => (Sc::Open, |_, _| eq("openat")),
        "evt.res" => (Sc::Open, |_, _| eq("SUCCESS")),
        "evt.rawres" => (Sc::Open, |f, _| eq(f.l().file_fd)),
        "evt.num" => (Sc::Open, |_, _| {
            pred("a sequence number from 1", |v| {
                v.as_u64().is_some_and(|n| n >= 1)
            })
        }),
        "evt.is_open_read" => (Sc::Open, |_, _| eq(true)),
        "evt.is_open_write" => (Sc::Open, |_, _| eq(false)),
        "evt.is_open_exec" => (Sc::Open, |_, _| eq(false)),
        "evt.args" => (Sc::Open, |f, _| {
            contains_all(vec![
                format!("fd={}(<f>{})", f.l().file_fd, f.setup.file),
                format!("name={}", f.setup.file),
                "dirfd=-100(AT_FDCWD)".into(),
            ])
        }),
        "evt.arg.name" => (Sc::Open, |f, _| eq(f.setup.file.as_str())),
        "evt.arg.flags" => (Sc::Open, |_, _| eq("O_RDONLY")),
        "evt.arg.mode" => (Sc::Chmod, |_, _| {
            let want: BTreeSet<&str> = ["S_ISUID", "S_IRUSR", "S_IWUSR"].into();
            pred(format!("the modes {want:?}"), move |v| {
                v.as_str()
                    .is_some_and(|s| s.split('|').collect::<BTreeSet<_>>() == want)
            })
        }),
        "evt.arg.filename" => (Sc::Chmod, |f, _| {
            eq(f.setup.dir.join("chmod").display().to_string())
        }),
        // evt.arg.X is the resolved text when there is one (the fd's type and name), as
        // libsinsp's get_param_value_str gives it; evt.args has both.
        "evt.arg.fd" => (Sc::Fchmod, |f, _| {
            eq(format!("<f>{}", f.setup.dir.join("chmod").display()))
        }),
        "evt.arg.target" => (Sc::Symlinkat, |_, _| eq("/etc/shadow")),
        "evt.arg.linkpath" => (Sc::Symlinkat, |f, _| {
            eq(f.setup.dir.join("link").display().to_string())
        }),
        "evt.arg.oldpath" => (Sc::Linkat, |f, _| {
            eq(f.setup.dir.join("chmod").display().to_string())
        }),
        "evt.arg.newpath" => (Sc::Linkat, |f, _| {
            eq(f.setup.dir.join("hard").display().to_string())
        }),
        "evt.arg.path" => (Sc::Mkdir, |f, _| {
            eq(f.setup.dir.join("sub").display().to_string())
        }),
        "evt.arg.uid" => (Sc::Setuid, |f, _| {
            eq(host::user_name(f.setup.me.uid).unwrap())
        }),
        "evt.arg.request" => (Sc::Ptrace, |_, _| eq("PTRACE_ATTACH")),
        "evt.arg.domain" => (Sc::Socket, |_, _| eq("AF_PACKET")),
        "evt.arg.cmd" => (Sc::Bpf, |_, _| eq("BPF_PROG_LOAD")),
        "evt.buffer" => (Sc::Sendto, |f, _| {
            eq(String::from_utf8(f.l().sent.clone()).unwrap())
        }),

        // The file fd of the open.
        "fd.num" => (Sc::Open, |f, _| eq(f.l().file_fd)),
        "fd.name" => (Sc::Open, |f, _| eq(f.setup.file.as_str())),
        "fd.nameraw" => (Sc::Open, |f, _| eq(f.setup.file.as_str())),
        "fd.directory" => (Sc::Open, |f, _| eq(f.setup.dir.display().to_string())),
        "fd.filename" => (Sc::Open, |_, _| eq("opened")),
        "fd.typechar" => (Sc::Open, |_, _| eq("f")),
        "fd.type" => (Sc::Open, |_, _| eq("file")),

        // The socket of the connect: this thread is the client.
        "fd.sip" | "fd.rip" => (Sc::Connect, |_, _| eq("127.0.0.1")),
        "fd.cip" => (Sc::Connect, |_, _| eq("127.0.0.1")),
        "fd.sport" | "fd.rport" => (Sc::Connect, |f, _| eq(f.setup.listen_port)),
        "fd.lport" => (Sc::Connect, |f, _| eq(f.l().client_port)),
        "fd.l4proto" => (Sc::Connect, |_, _| eq("tcp")),
        "fd.sockfamily" => (Sc::Connect, |_, _| eq("ip")),
        "fd.connected" => (Sc::Connect, |_, _| eq(true)),
        "fd.name_changed" => (Sc::Connect, |_, _| eq(true)),
        // Filter-only fields: a condition on them must hold.
        "fd.ip" => (Sc::Connect, |_, _| Want::Holds("fd.ip = 127.0.0.1".into())),
        "fd.net" => (Sc::Connect, |_, _| {
            Want::Holds("fd.net = 127.0.0.0/8".into())
        }),
        "fd.snet" => (Sc::Connect, |_, _| {
            Want::Holds("fd.snet = 127.0.0.0/8".into())
        }),
        "fd.cnet" => (Sc::Connect, |_, _| {
            Want::Holds("fd.cnet = 127.0.0.0/8".into())
        }),
        "fd.rnet" => (Sc::Connect, |_, _| {
            Want::Holds("fd.rnet = 127.0.0.0/8".into())
        }),
        // Names of the addresses: the names rules compare with are resolved (hosts file).
        "fd.sip.name" => (Sc::Connect, |_, _| {
            Want::Holds("fd.sip.name = localhost".into())
        }),
        "fd.cip.name" => (Sc::Connect, |_, _| {
            Want::Holds("fd.cip.name = localhost".into())
        }),
        "fd.lip.name" => (Sc::Connect, |_, _| {
            Want::Holds("fd.lip.name = localhost".into())
        }),
        "fd.rip.name" => (Sc::Connect, |_, _| {
            Want::Holds("fd.rip.name = localhost".into())
        }),
        "fd.port" => (Sc::Connect, |f, _| {
            Want::Holds(format!("fd.port = {}", f.setup.listen_port))
        }),

        // The process: the host `cat`, at its open.
        "proc.name" => (Sc::Open, |_, _| eq("cat")),
        "proc.exe" => (Sc::Open, |f, _| eq(f.l().cat.argv[0].as_str())),
        "proc.exepath" => (Sc::Open, |f, _| eq(f.l().cat.exepath.as_str())),
        "proc.args" => (Sc::Open, |f, _| eq(f.l().cat.argv[1..].join(" "))),
        "proc.cmdline" => (Sc::Open, |f, _| eq(f.l().cat.cmdline())),
        "proc.env" => (Sc::Open, |f, _| eq(f.l().cat.env.join(" "))),
        "proc.cwd" => (Sc::Open, |f, _| eq(format!("{}/", f.l().cat.cwd))),
        "proc.tty" => (Sc::Open, |f, _| eq(f.l().cat.tty_nr)),
        "proc.vpid" => (Sc::Open, |f, _| eq(f.l().cat.pid)),
        "proc.sname" => (Sc::Open, |_, _| eq("cat")),
        "proc.is_vpgid_leader" => (Sc::Open, |f, _| eq(f.l().cat.pgid == f.l().cat.pid)),
        "proc.pname" => (Sc::Open, |f, _| eq(f.l().cat_ancestors[0].comm.as_str())),
        "proc.pcmdline" => (Sc::Open, |f, _| eq(f.l().cat_ancestors[0].cmdline())),
        "proc.pexe" => (Sc::Open, |f, _| eq(f.l().cat_ancestors[0].argv[0].as_str())),
        "proc.pexepath" => (Sc::Open, |f, _| eq(f.l().cat_ancestors[0].exepath.as_str())),
        "proc.aexe[2]" => (Sc::Open, |f, _| eq(f.l().cat_ancestors[1].argv[0].as_str())),
        "proc.aexepath[2]" => (Sc::Open, |f, _| eq(f.l().cat_ancestors[1].exepath.as_str())),
        // Without an index, in a filter: any ancestor.
        "proc.aname" => (Sc::Open, |f, _| {
            Want::Holds(format!("proc.aname = \"{}\"", f.setup.my_ancestors[0].comm))
        }),
        a if a.starts_with("proc.aname[") => (Sc::Open, |f, name| {
            let n: usize = name["proc.aname[".len()..name.len() - 1].parse().unwrap();
            match n {
                0 => eq("cat"),
                n => match f.l().cat_ancestors.get(n - 1) {
                    Some(p) => eq(p.comm.as_str()),
                    None => eq(Value::Null),
                },
            }
        }),
        // The process started (cloned) between the test's clock readings around the spawn.
        "proc.duration" => (Sc::Open, |f, _| {
            let (a, b) = f.l().cat_spawn;
            Want::Pred(
                format!("evt.rawtime - a start in [{a}, {b}]"),
                Box::new(move |v, all| {
                    let (Some(d), Some(t)) = (v.as_u64(), all["evt.rawtime"].as_u64()) else {
                        return false;
                    };
                    (t.saturating_sub(b)..=t.saturating_sub(a)).contains(&d)
                }),
            )
        }),
        "proc.is_exe_from_memfd" => (Sc::Exec, |_, _| eq(false)),
        "proc.is_exe_upper_layer" => (Sc::Exec, |_, _| eq(false)),
        "proc.exe_ino.ctime" => (Sc::Exec, |f, _| eq(f.l().cat_exe_times.0)),
        "proc.exe_ino.mtime" => (Sc::Exec, |f, _| eq(f.l().cat_exe_times.1)),
        // The process started (cloned) between the test's clock readings around the spawn.
        "proc.exe_ino.ctime_duration_proc_start" => (Sc::Exec, |f, _| {
            let (ctime, (a, b)) = (f.l().cat_exe_times.0, f.l().cat_spawn);
            let range = (a - ctime)..=(b - ctime);
            pred(format!("in {range:?}"), move |v| {
                v.as_u64().is_some_and(|n| range.contains(&n))
            })
        }),
        "thread.cap_effective" => (Sc::Exec, |f, _| {
            words(
                host::cap_names(f.l().cat.cap_eff)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
        }),
        "thread.cap_permitted" => (Sc::Exec, |f, _| {
            words(
                host::cap_names(f.l().cat.cap_prm)
                    .into_iter()
                    .map(String::from)
                    .collect(),
            )
        }),

        // Its user and group.
        "user.uid" => (Sc::Open, |f, _| eq(f.l().cat.uid)),
        "user.name" => (Sc::Open, |f, _| eq(host::user_name(f.l().cat.uid).unwrap())),
        "user.loginuid" => (Sc::Open, |f, _| eq(f.l().cat.loginuid)),
        "user.loginname" => (Sc::Open, |f, _| {
            eq(host::user_name(f.l().cat.loginuid).unwrap())
        }),
        "group.gid" => (Sc::Open, |f, _| eq(f.l().cat.gid)),
        "group.name" => (
            Sc::Open,
            |f, _| eq(host::group_name(f.l().cat.gid).unwrap()),
        ),

        // Container fields: the host's values on the host, the container's in one.
        "container.id" => (Sc::Container, |f, _| {
            eq(&f.l().container.as_ref().unwrap().id[..12])
        }),
        "container.name" => (Sc::Container, |f, _| eq(f.setup.container_name.as_str())),
        "container.image.repository" => (Sc::Container, |_, _| eq("localhost/peregrine-test")),
        "container.image.tag" => (Sc::Container, |_, _| eq("latest")),
        "container.privileged" => (Sc::Container, |_, _| eq(false)),
        "container.start_ts" => (Sc::Container, |f, _| {
            near(
                f.l().container.as_ref().unwrap().started_ns as i128,
                1_000_000_000,
            )
        }),
        "container.mounts" => (Sc::Container, |f, _| {
            let dest = f.l().container.as_ref().unwrap().mount_dest.clone();
            pred(format!("names {dest}"), move |v| {
                v.as_str().is_some_and(|s| s.contains(&format!(":{dest}:")))
            })
        }),
        // The key is a pattern on a mount's source: the container's one mount comes from
        // the test's directory under /tmp, which no upstream key names except `/`.
        m if m.starts_with("container.mount.dest[") => (Sc::Container, |f, name| {
            let key = &name["container.mount.dest[".len()..name.len() - 1];
            match key {
                "/" => eq(f.l().container.as_ref().unwrap().mount_dest.as_str()),
                _ => eq(Value::Null),
            }
        }),
        "k8s.pod.name" | "k8s.ns.name" => (Sc::Container, |_, _| eq(Value::Null)),
        _ => return None,
    })
}

/// Checks known to fail, with the reason: reported by the test (which fails once one
/// passes, so the list stays true), not counted as failures.
const KNOWN_GAPS: &[(&str, &str)] = &[];

/// The fields every rule in the three upstream files reads (conditions, macros,
/// exceptions and outputs, with Falco's suggested output appended).
fn upstream_fields(data: &Path) -> BTreeMap<String, Option<&'static str>> {
    let up = data.join("upstream");
    let sources: Vec<_> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| peregrine_rules::RulesSource::read(&up.join(f)))
    .collect();
    let out = peregrine_rules::load_sources(&sources, &Default::default());
    let rs = out.ruleset.expect("the upstream rules compile");
    rs.rules()
        .iter()
        .flat_map(|r| r.fields.iter())
        .map(|f| (f.name().to_owned(), f.def().no_source))
        .collect()
}

#[test]
fn every_upstream_field_has_a_check() {
    let Some(data) = common::testdata("every_upstream_field_has_a_check") else {
        return;
    };
    let fields = upstream_fields(&data);
    assert!(fields.len() > 100, "{fields:?}");
    let missing: Vec<&String> = fields
        .iter()
        .filter(|(name, no_source)| no_source.is_none() && check(name).is_none())
        .map(|(name, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "upstream rules read fields with no live check and no 'no source' mark: {missing:?}"
    );
}

/// The condition that picks each scenario's event.
fn scenario_condition(sc: Sc, f: &Setup) -> String {
    let me = std::process::id();
    match sc {
        Sc::Exec => format!(
            "evt.type = execve and proc.name = cat and proc.args contains \"{}\"",
            f.file
        ),
        Sc::Open => format!("evt.type in (open, openat, openat2) and fd.name = \"{}\"", f.file),
        Sc::Connect => format!(
            "evt.type = connect and proc.pid = {me} and fd.sport = {}",
            f.listen_port
        ),
        Sc::Container => format!(
            "evt.type in (open, openat, openat2) and fd.name = /etc/hostname and container.name = {}",
            f.container_name
        ),
        _ => {
            let (_, ty) = THREAD_SCENARIOS.iter().find(|(s, _)| *s == sc).unwrap();
            format!("evt.type = {ty} and proc.pid = {me}")
        }
    }
}

/// The fields checked by a condition ([`Want::Holds`]): Falco's filter-only ones,
/// `proc.aname` without an index (any ancestor) and the address names (only names a
/// condition compares with are resolved). Their checks read only [`Setup`].
const CONDITION_ONLY: &[&str] = &[
    "fd.sip.name",
    "fd.cip.name",
    "fd.lip.name",
    "fd.rip.name",
    "fd.ip",
    "fd.net",
    "fd.snet",
    "fd.cnet",
    "fd.rnet",
    "fd.port",
    "proc.aname",
];

/// Fields every scenario rule prints, to pick its alert and order the events.
const ALWAYS: &[&str] = &["evt.num", "evt.rawtime", "proc.pid", "thread.tid"];

/// One rule per scenario printing the fields checked on it, and one per filter-only check
/// (`cond <field>`). Filter-only checks need the facts known before the agent starts.
fn rules(fields: &[(String, Sc)], pre: &Facts) -> String {
    let setup = &pre.setup;
    let mut by_sc: BTreeMap<Sc, Vec<&str>> = BTreeMap::new();
    let mut out = String::new();
    for (name, sc) in fields {
        let (_, want) = check(name).unwrap();
        match CONDITION_ONLY.contains(&name.as_str()).then(|| want(pre, name)) {
            Some(Want::Holds(cond)) => out += &format!(
                "- rule: cond {name}\n  desc: t\n  condition: {} and {}\n  output: \"{}\"\n  priority: INFO\n",
                scenario_condition(*sc, setup),
                cond,
                ALWAYS.iter().map(|f| format!("%{f}")).collect::<Vec<_>>().join(" ")
            ),
            _ => by_sc.entry(*sc).or_default().push(name),
        }
    }
    for (sc, names) in by_sc {
        let output: Vec<String> = names
            .iter()
            .chain(ALWAYS)
            .map(|f| format!("{f}=%{f}"))
            .collect();
        out += &format!(
            "- rule: {sc:?}\n  desc: t\n  condition: {}\n  output: {}\n  priority: INFO\n",
            scenario_condition(sc, setup),
            serde_json::to_string(&output.join(" ")).unwrap()
        );
    }
    out
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

// SAFETY (for the helpers below): plain syscalls on paths and fds this test owns.
fn sys(ret: i64, what: &str) -> i64 {
    assert!(ret >= 0, "{what}: {}", std::io::Error::last_os_error());
    ret
}

/// Starts `/bin/cat FILE -` in its own session with a pty as controlling terminal and its
/// loginuid set to `nobody`'s uid, waits until it has read the file and blocks on stdin,
/// reads /proc about it, and lets it finish.
fn run_cat(setup: &Setup) -> (Proc, Vec<Proc>, i64) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty fills the two fds; no name, termios or winsize.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    sys(r as i64, "openpty");
    for fd in [master, slave] {
        // SAFETY: fds we own; close-on-exec keeps them out of the cat's fd table.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let loginuid_path = host::cstring("/proc/self/loginuid");
    let nobody = b"65534";
    let mut cmd = Command::new("/bin/cat");
    cmd.args([setup.file.as_str(), "-"])
        .current_dir(&setup.dir)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PEREGRINE_FIELDS", "live")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec, on memory made before.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(loginuid_path.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, nobody.as_ptr().cast(), nobody.len()) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            if libc::setsid() < 0 || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start cat");
    let pid = child.id();
    // Blocked in read(0, ...) once the file is done.
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .unwrap_or_default()
        .starts_with("0 0x0 ")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "cat never blocked on stdin"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let cat = Proc::read(pid);
    let ancestors = host::ancestors(pid);
    // The file's fd is closed again: the open returned the lowest fd free now.
    let open: BTreeSet<i64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect();
    let file_fd = (0..).find(|n| !open.contains(n)).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    // SAFETY: closing the pty fds we opened.
    unsafe {
        libc::close(master);
        libc::close(slave);
    }
    (cat, ancestors, file_fd)
}

/// The single syscalls, from one thread of this process, in [`THREAD_SCENARIOS`] order.
/// Returns (tid, client port of the connect, the fchmod'ed fd, the bytes sent).
fn thread_syscalls(setup: &Setup, listener: &std::net::TcpListener) -> (i64, u16, i64, Vec<u8>) {
    let p = |name: &str| host::cstring(setup.dir.join(name).to_str().unwrap());
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as i64;
    let chmod_file = std::fs::File::create(setup.dir.join("chmod")).unwrap();

    let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let client_port = client.local_addr().unwrap().port();
    let _server_end = listener.accept().unwrap();
    // SAFETY: see `sys`.
    unsafe {
        let shadow = host::cstring("/etc/shadow");
        sys(
            libc::symlinkat(shadow.as_ptr(), libc::AT_FDCWD, p("link").as_ptr()) as i64,
            "symlinkat",
        );
        sys(
            libc::linkat(
                libc::AT_FDCWD,
                p("chmod").as_ptr(),
                libc::AT_FDCWD,
                p("hard").as_ptr(),
                0,
            ) as i64,
            "linkat",
        );
        sys(libc::mkdir(p("sub").as_ptr(), 0o755) as i64, "mkdir");
        sys(libc::fchmod(chmod_file.as_raw_fd(), 0o644) as i64, "fchmod");
        sys(
            libc::chmod(p("chmod").as_ptr(), libc::S_ISUID | 0o600) as i64,
            "chmod",
        );
        sys(libc::setuid(libc::getuid()) as i64, "setuid");
        // Fails (no such pid): the event is there all the same.
        libc::syscall(libc::SYS_ptrace, libc::PTRACE_ATTACH, 0x7fff_fff0, 0, 0);
        let s = sys(
            libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) as i64,
            "socket",
        );
        libc::close(s as i32);
        // BPF_PROG_LOAD with no attributes: refused, traced all the same.
        libc::syscall(libc::SYS_bpf, 5, 0usize, 0);
    }
    let sent = b"peregrine-sendto".to_vec();
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.send_to(&sent, b.local_addr().unwrap()).unwrap();
    (tid, client_port, chmod_file.as_raw_fd() as i64, sent)
}

/// `cat /etc/hostname` in a new podman container with the test's directory mounted; its
/// id, start time and mount destination from `podman inspect`.
fn run_container(setup: &Setup) -> ContainerFacts {
    let dest = "/mnt/peregrine-fields";
    let name = &setup.container_name;
    let _ = Command::new("podman").args(["rm", "-f", name]).output();
    let out = Command::new("podman")
        .args(["run", "--name", name, "-v"])
        .arg(format!("{}:{dest}:ro", setup.dir.display()))
        .args([common::IMAGE, "cat", "/etc/hostname"])
        .output()
        .unwrap();
    assert!(out.status.success(), "podman run: {out:?}");
    let inspect = Command::new("podman")
        .args(["inspect", name])
        .output()
        .unwrap();
    let _ = Command::new("podman").args(["rm", "-f", name]).output();
    let v: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let started = v[0]["State"]["StartedAt"].as_str().unwrap().to_owned();
    let date = Command::new("date")
        .args(["-d", &started, "+%s%N"])
        .output()
        .unwrap();
    ContainerFacts {
        id: v[0]["Id"].as_str().unwrap().to_owned(),
        started_ns: String::from_utf8(date.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
        mount_dest: dest.to_owned(),
    }
}

/// The one alert of rule `rule` for the scenario's own process or thread.
fn alert_of<'a>(
    alerts: &'a [Value],
    rule: &str,
    sc: Sc,
    f: &Facts,
) -> Result<&'a Map<String, Value>, String> {
    let mine: Vec<&Map<String, Value>> = alerts
        .iter()
        .filter(|a| a["rule"] == rule)
        .map(|a| a["output_fields"].as_object().unwrap())
        .filter(|o| match sc {
            Sc::Exec | Sc::Open => o["proc.pid"] == f.l().cat.pid,
            Sc::Container => true,
            // The std sockets of the other scenarios are inet ones.
            Sc::Socket => {
                o["thread.tid"] == f.l().tid
                    && o.get("evt.arg.domain").is_none_or(|d| d == "AF_PACKET")
            }
            _ => o["thread.tid"] == f.l().tid,
        })
        .collect();
    match mine.as_slice() {
        [one] => Ok(one),
        other => Err(format!(
            "{} alerts of rule {rule:?} for its scenario: {other:?}",
            other.len()
        )),
    }
}

#[test]
fn upstream_fields_are_right_on_live_events() {
    let test = "upstream_fields_are_right_on_live_events";
    if skip(test) {
        return;
    }
    let Some(data) = common::testdata(test) else {
        return;
    };
    let with_podman = !common::skip_podman(&format!("{test} (its container part)"));
    let fields: Vec<(String, Sc)> = upstream_fields(&data)
        .into_iter()
        .filter(|(_, no_source)| no_source.is_none())
        .filter_map(|(name, _)| check(&name).map(|(sc, _)| (name, sc)))
        .filter(|(_, sc)| with_podman || *sc != Sc::Container)
        .collect();

    let me = std::process::id();
    let dir = std::env::temp_dir().join(format!("peregrine-fields-{me}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("opened");
    std::fs::write(&file, "field truth\n").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut facts = Facts {
        setup: Setup {
            file: file.display().to_string(),
            dir: dir.clone(),
            listen_port: listener.local_addr().unwrap().port(),
            container_name: format!("peregrine-fields-{me}"),
            me: Proc::read(me),
            my_ancestors: host::ancestors(me),
        },
        live: None,
    };
    let rules = rules(&fields, &facts);
    let agent = Agent::start("live-fields", &rules, &["-o", "rule_matching=all"]);
    let t0 = now_ns();

    let spawn = now_ns();
    let (cat, cat_ancestors, file_fd) = run_cat(&facts.setup);
    let cat_spawn = (spawn, now_ns());
    let cat_exe_times = host::ctime_mtime_ns(&cat.exepath);
    let (tid, client_port, _, sent) = std::thread::scope(|s| {
        s.spawn(|| thread_syscalls(&facts.setup, &listener))
            .join()
            .unwrap()
    });
    let container = with_podman.then(|| run_container(&facts.setup));
    let t1 = now_ns();
    let alerts = agent.stop();
    facts.live = Some(Live {
        file_fd,
        cat,
        cat_ancestors,
        cat_exe_times,
        cat_spawn,
        tid,
        client_port,
        sent,
        container,
    });

    let mut failures = Vec::new();
    let mut gaps_closed = Vec::new();
    let mut scenario_nums: BTreeMap<Sc, u64> = BTreeMap::new();
    for (name, sc) in &fields {
        let (_, want) = check(name).unwrap();
        let want = want(&facts, name);
        let rule = match want {
            Want::Holds(_) => format!("cond {name}"),
            _ => format!("{sc:?}"),
        };
        let got = match alert_of(&alerts, &rule, *sc, &facts) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{name} on {sc:?}: {e}"));
                continue;
            }
        };
        let rawtime = got["evt.rawtime"].as_u64().unwrap_or(0);
        if !(t0..=t1).contains(&rawtime) {
            failures.push(format!(
                "evt.rawtime {rawtime} of {rule} outside [{t0}, {t1}]"
            ));
        }
        if let Some(n) = got["evt.num"].as_u64() {
            scenario_nums.insert(*sc, n);
        }
        let v = got.get(name.as_str()).unwrap_or(&Value::Null);
        let wrong = match &want {
            Want::Eq(w) if v != w => Some(format!("{name} on {sc:?}: got {v}, want {w}")),
            Want::Pred(desc, p) if !p(v, got) => {
                Some(format!("{name} on {sc:?}: got {v}, want {desc}"))
            }
            _ => None,
        };
        match (wrong, KNOWN_GAPS.iter().find(|(f, _)| f == name)) {
            (Some(w), None) => failures.push(w),
            (Some(w), Some((_, why))) => eprintln!("known gap: {w} ({why})"),
            (None, Some(_)) => gaps_closed.push(name.clone()),
            (None, None) => {}
        }
    }
    // evt.num follows the order of the events: the exec before the open, and the single
    // syscalls in the order the thread made them.
    let order: Vec<Sc> = [Sc::Exec, Sc::Open]
        .into_iter()
        .chain(THREAD_SCENARIOS.iter().map(|(s, _)| *s))
        .filter(|s| scenario_nums.contains_key(s))
        .collect();
    for w in order.windows(2) {
        if w[0] == Sc::Open && w[1] == Sc::Connect {
            continue; // two processes: no order between them
        }
        let (a, b) = (scenario_nums[&w[0]], scenario_nums[&w[1]]);
        if a >= b {
            failures.push(format!(
                "evt.num of {:?} ({a}) is not below {:?}'s ({b})",
                w[0], w[1]
            ));
        }
    }
    assert!(
        gaps_closed.is_empty(),
        "right now, take them out of KNOWN_GAPS: {gaps_closed:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} field checks failed:\n{}\nrules:\n{rules}",
        failures.len(),
        fields.len(),
        failures.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
