//! Table-driven extraction tests over hand-built events, and resolution tests.

use super::*;
use peregrine_event::flags::open;
use peregrine_event::{
    ContainerInfo, Event, EventType, FdInfo, FdKind, GroupInfo, L4Proto, Mount, ParamValue,
    ProcessInfo, SockAddr, SockTuple, SocketRole, UserInfo, HOST_CONTAINER_ID,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const TS: u64 = 1_700_000_011_726_060_287;
const SEC: u64 = 1_000_000_000;

/// What a field should extract: `None` means missing.
type Want = Option<Value>;

fn s(v: &str) -> Want {
    Some(Value::Str(v.into()))
}
fn u(v: u64) -> Want {
    Some(Value::U64(v))
}
fn i(v: i64) -> Want {
    Some(Value::I64(v))
}
fn b(v: bool) -> Want {
    Some(Value::Bool(v))
}
fn ip(v: &str) -> Want {
    Some(Value::Ip(v.parse().unwrap()))
}
fn any(vs: Vec<Value>) -> Want {
    Some(Value::Any(vs))
}
fn ipv(v: &str) -> Value {
    Value::Ip(v.parse::<IpAddr>().unwrap())
}
fn sv(v: &str) -> Value {
    Value::Str(v.into())
}

fn user(uid: u32, name: &str, home: &str, shell: &str) -> Option<Arc<UserInfo>> {
    Some(Arc::new(UserInfo {
        uid,
        name: name.into(),
        homedir: home.into(),
        shell: shell.into(),
    }))
}

/// systemd(1) → sshd(100, session leader) → bash(150) → cat(200).
fn cat_process(container_id: &str) -> Arc<ProcessInfo> {
    let systemd = Arc::new(ProcessInfo {
        tid: 1,
        pid: 1,
        vpid: 1,
        sid: 1,
        vpgid: 1,
        name: "systemd".into(),
        exe: "/sbin/init".into(),
        exepath: "/usr/lib/systemd/systemd".into(),
        container_id: HOST_CONTAINER_ID.into(),
        ..Default::default()
    });
    let sshd = Arc::new(ProcessInfo {
        tid: 100,
        pid: 100,
        ptid: 1,
        vpid: 100,
        sid: 100,
        vpgid: 100,
        name: "sshd".into(),
        exe: "/usr/sbin/sshd".into(),
        exepath: "/usr/sbin/sshd".into(),
        args: ["-D".into()].into(),
        start_ts: TS - 100 * SEC,
        container_id: HOST_CONTAINER_ID.into(),
        parent: Some(systemd),
        ..Default::default()
    });
    let bash = Arc::new(ProcessInfo {
        tid: 150,
        pid: 150,
        ptid: 100,
        vpid: 150,
        sid: 100,
        vpgid: 150,
        name: "bash".into(),
        exe: "-bash".into(),
        exepath: "/bin/bash".into(),
        start_ts: TS - 60 * SEC,
        container_id: HOST_CONTAINER_ID.into(),
        parent: Some(sshd),
        ..Default::default()
    });
    Arc::new(ProcessInfo {
        tid: 200,
        pid: 200,
        ptid: 150,
        vpid: 200,
        vtid: 200,
        sid: 100,
        vpgid: 200,
        name: "cat".into(),
        exe: "cat".into(),
        exepath: "/usr/bin/cat".into(),
        args: ["/etc/shadow".into()].into(),
        cwd: "/etc/".into(),
        env: [
            "HOME=/root".into(),
            "PATH=/usr/bin".into(),
            "SPACED=  x y  ".into(),
        ]
        .into(),
        tty: 34816,
        loginuid: 1000,
        uid: 0,
        gid: 0,
        user: user(0, "root", "/root", "/bin/bash"),
        group: Some(Arc::new(GroupInfo {
            gid: 0,
            name: "root".into(),
        })),
        loginuser: user(1000, "alice", "/home/alice", "/bin/zsh"),
        cap_permitted: (1 << 21) | 1,
        cap_effective: 0,
        start_ts: TS - 5 * SEC,
        exe_ino: 42,
        exe_ino_ctime: TS - 10 * SEC,
        exe_ino_mtime: TS - 20 * SEC,
        exe_upper_layer: true,
        container_id: container_id.into(),
        parent: Some(bash),
        ..Default::default()
    })
}

fn event(etype: EventType, params: Vec<ParamValue>) -> Event {
    let mut ev = Event::new(etype, TS, 200, params);
    ev.num = 7;
    ev.cpu = 3;
    ev.process = Some(cat_process(HOST_CONTAINER_ID));
    ev
}

fn web_container() -> Arc<ContainerInfo> {
    let mut labels = BTreeMap::new();
    labels.insert("app".to_owned(), "web".to_owned());
    labels.insert("flag".to_owned(), String::new());
    labels.insert("io.kubernetes.pod.name".to_owned(), "web-0".to_owned());
    let mut pod_labels = BTreeMap::new();
    pod_labels.insert("tier".to_owned(), "front".to_owned());
    Arc::new(ContainerInfo {
        id: "abcdef123456".into(),
        full_id: "abcdef1234567890".into(),
        name: Some("web".into()),
        runtime: Some("containerd".into()),
        image: Some("docker.io/library/nginx:1.25".into()),
        image_id: Some("6f7e2741b66b".into()),
        image_repository: Some("docker.io/library/nginx".into()),
        image_tag: Some("1.25".into()),
        image_digest: None,
        privileged: Some(true),
        labels,
        mounts: vec![
            Mount {
                source: "/var/run/docker.sock".into(),
                dest: "/var/run/docker.sock".into(),
                mode: "rw".into(),
                rw: true,
                propagation: "rprivate".into(),
            },
            Mount {
                source: "/proc".into(),
                dest: "/host/proc".into(),
                mode: "ro".into(),
                rw: false,
                propagation: "rprivate".into(),
            },
        ],
        start_ts: Some(TS - 3600 * SEC),
        k8s_pod_name: None,
        k8s_ns_name: Some("prod".into()),
        k8s_pod_uid: Some("3e41dc6b-08a8".into()),
        k8s_pod_labels: pod_labels,
        ip: Some([10, 1, 0, 7].into()),
    })
}

/// Splits `name[arg]` the way the parser hands fields over.
fn field(text: &str) -> Field {
    let (name, arg) = match text.find('[') {
        Some(p) => (&text[..p], Some(&text[p + 1..text.len() - 1])),
        None => (text, None),
    };
    resolve(name, arg).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn check(ev: &Event, cases: &[(&str, Want)]) {
    for (text, want) in cases {
        let f = field(text);
        let mut out = Value::default();
        let got = f.extract(ev, &mut out).then_some(out);
        assert_eq!(&got, want, "{text} on {}", ev.etype);
        assert_borrow_agrees(&f, ev);
    }
}

/// `Field::borrow` must give what `Field::extract` gives, whenever it gives anything.
fn assert_borrow_agrees(f: &Field, ev: &Event) {
    let mut out = Value::default();
    let extracted = f.extract(ev, &mut out).then_some(&out);
    let what = || format!("{} on {} (event {})", f.name(), ev.etype, ev.num);
    match f.borrow(ev) {
        Borrowed::NotBorrowable => {}
        Borrowed::Missing => assert_eq!(extracted, None, "{}", what()),
        Borrowed::Value(v) => assert_eq!(extracted.and_then(Value::as_ref), Some(v), "{}", what()),
    }
    if f.is_any() {
        assert_eq!(f.borrow(ev), Borrowed::NotBorrowable, "{}", what());
    }
    if let Some(p) = f.path_part() {
        let parts = crate::fields::PathParts::of(ev);
        assert_eq!(parts.get(p), f.borrow(ev), "{} as a path part", what());
    }
}

/// 60 000 synthetic events from three seeds, from few to many suspicious ones: the
/// stream the agreement tests below compare two ways of reading a field over.
fn varied_stream() -> impl Iterator<Item = Event> {
    use peregrine_event::synth::{Generator, SynthConfig};
    [(42, 5), (7, 300), (9, 900)]
        .into_iter()
        .flat_map(|(seed, suspicious)| {
            Generator::new(SynthConfig {
                seed,
                containers: 12,
                suspicious_per_mille: suspicious,
                ..Default::default()
            })
            .take(20_000)
        })
}

/// `PathParts` reads `fd.name`, `fd.directory`, `fd.filename` and `fd.nameraw` as
/// `Field::borrow` does.
#[test]
fn path_parts_agree_with_borrowing() {
    use crate::fields::{PathPart, PathParts};
    let parts = [
        (field("fd.name"), PathPart::Name),
        (field("fd.directory"), PathPart::Directory),
        (field("fd.filename"), PathPart::Filename),
        (field("fd.nameraw"), PathPart::Nameraw),
    ];
    for (f, p) in &parts {
        assert_eq!(f.path_part(), Some(*p));
    }
    assert_eq!(field("fd.sip").path_part(), None);
    let mut files = 0;
    for ev in varied_stream() {
        let got = PathParts::of(&ev);
        for (f, p) in &parts {
            assert_eq!(got.get(*p), f.borrow(&ev), "{} on {}", f.name(), ev.etype);
        }
        files += usize::from(matches!(got.get(PathPart::Filename), Borrowed::Value(_)));
    }
    assert!(files > 1000, "files seen: {files}");
}

/// Events with equal `SockKey`s have equal values of the fields it decides (both as
/// borrowed and as extracted): the socket memo may share their tests.
#[test]
fn sock_keys_decide_the_server_side_fields() {
    use crate::fields::SockKey;
    use std::collections::HashMap;
    let names = [
        "fd.sip",
        "fd.snet",
        "fd.sport",
        "fd.typechar",
        "fd.type",
        "fd.l4proto",
        "fd.sockfamily",
    ];
    let fields: Vec<Field> = names.iter().map(|n| field(n)).collect();
    assert!(fields.iter().all(|f| f.on_server_side()));
    assert!(!field("fd.cport").on_server_side() && !field("fd.rip").on_server_side());
    // Also decided by the interface list and the process's container.
    assert!(!field("fd.is_server").on_server_side());
    let mut seen: HashMap<(EventType, SockKey), Vec<String>> = HashMap::new();
    let mut shared = 0;
    for ev in varied_stream() {
        let Some(key) = SockKey::of(&ev) else {
            continue;
        };
        let values: Vec<String> = fields
            .iter()
            .map(|f| {
                let mut v = Value::default();
                let present = f.extract(&ev, &mut v);
                format!("{:?} {present} {v:?}", f.borrow(&ev))
            })
            .collect();
        match seen.get(&(ev.etype, key)) {
            Some(first) => {
                assert_eq!(first, &values, "{key:?} on {}", ev.etype);
                shared += 1;
            }
            None => {
                seen.insert((ev.etype, key), values);
            }
        }
    }
    assert!(shared > 1000, "events sharing a key: {shared}");
}

/// A needle with no space is in `proc.cmdline`, `proc.args` or `proc.env` exactly when
/// it is in one of their `Pieces`.
#[test]
fn pieces_agree_with_the_joined_text() {
    let joined: Vec<Field> = ["proc.cmdline", "proc.args", "proc.env", "proc.env[1]"]
        .iter()
        .map(|t| field(t))
        .collect();
    for f in &joined {
        assert!(f.has_pieces(), "{}", f.name());
    }
    for t in [
        "proc.env[HOME]",
        "proc.name",
        "proc.pcmdline",
        "proc.exeline",
    ] {
        assert!(!field(t).has_pieces(), "{t}");
    }
    let needles = [
        "-c",
        "sh",
        "=",
        "/",
        "PATH=",
        "python3",
        "-d",
        "x",
        "HOME=/root",
        "stratum+tcp",
        "base64",
    ];
    let mut found = 0;
    for ev in varied_stream() {
        for f in &joined {
            let mut out = Value::default();
            let text = f.extract(&ev, &mut out).then(|| match &out {
                Value::Str(s) => s.clone(),
                other => panic!("{} is text: {other:?}", f.name()),
            });
            let pieces = f.pieces(&ev).expect("a field with pieces");
            assert_eq!(
                matches!(pieces, crate::fields::Pieces::Missing),
                text.is_none(),
                "{} on {}",
                f.name(),
                ev.etype
            );
            for n in needles {
                let mut in_piece = false;
                pieces.each(|p| in_piece |= p.contains(n));
                let want = text.as_deref().is_some_and(|t| t.contains(n));
                assert_eq!(in_piece, want, "{} contains {n} on {}", f.name(), ev.etype);
                found += usize::from(want);
            }
        }
    }
    assert!(found > 1000, "needles found: {found}");
}

/// Every field, borrowed, agrees with its extraction over a varied synthetic stream.
#[test]
fn borrowing_agrees_with_extraction() {
    let mut fields: Vec<Field> = Vec::new();
    for def in registry() {
        let texts: Vec<String> = match def.arg {
            ArgSpec::None => vec![def.name.to_string()],
            ArgSpec::Index { .. } => ["", "[0]", "[1]", "[2]", "[7]"]
                .iter()
                .map(|a| format!("{}{a}", def.name))
                .collect(),
            ArgSpec::Key { .. } => vec![format!("{}[HOME]", def.name)],
            ArgSpec::DotSuffix { .. } if def.name == "evt.type.is" => {
                vec!["evt.type.is.openat".into()]
            }
            ArgSpec::DotSuffix { .. } if def.name == "evt.rawarg" => [
                "res", "fd", "flags", "name", "data", "tuple", "filename", "uid",
            ]
            .iter()
            .map(|a| format!("evt.rawarg.{a}"))
            .collect(),
            ArgSpec::DotSuffix { .. } => vec![
                format!("{}.app", def.name),
                format!("{}.io.kubernetes.pod.name", def.name),
            ],
            ArgSpec::IndexOrName { .. } => [
                "[0]",
                "[1]",
                "[2]",
                ".fd",
                ".path",
                ".name",
                ".newpath",
                ".oldpath",
                ".filename",
                ".flags",
                ".mode",
                ".uid",
                ".res",
                ".data",
                ".tuple",
            ]
            .iter()
            .map(|a| format!("{}{a}", def.name))
            .collect(),
            ArgSpec::IndexOrKey { .. } => {
                vec![format!("{}[0]", def.name), format!("{}[/proc]", def.name)]
            }
        };
        for t in texts {
            let f = match t.find('[') {
                Some(p) => resolve(&t[..p], Some(&t[p + 1..t.len() - 1])),
                None => resolve(&t, None),
            };
            fields.push(f.unwrap_or_else(|e| panic!("{t}: {e}")));
        }
    }
    let mut borrowed = 0;
    for ev in varied_stream() {
        for f in &fields {
            assert_borrow_agrees(f, &ev);
            borrowed += usize::from(matches!(f.borrow(&ev), Borrowed::Value(_)));
        }
    }
    assert!(borrowed > 100_000, "borrowing is used: {borrowed}");
}

/// Falco's `proc.cwd` ends with '/' whatever the kernel gave (no trailing slash live).
#[test]
fn cwd_has_a_trailing_slash() {
    let mut ev = openat_event();
    for (cwd, want) in [("/tmp/x", "/tmp/x/"), ("/tmp/x/", "/tmp/x/"), ("/", "/")] {
        let mut p = (**ev.process.as_ref().unwrap()).clone();
        p.cwd = cwd.into();
        ev.process = Some(Arc::new(p));
        check(&ev, &[("proc.cwd", s(want))]);
        assert_borrow_agrees(&field("proc.cwd"), &ev);
    }
}

#[test]
fn exec_on_host() {
    let mut ev = event(
        EventType::EXECVE,
        vec![
            ParamValue::Int(0),
            ParamValue::Str("cat".into()),
            ParamValue::StrList(["/etc/shadow".into()].into()),
        ],
    );
    let mut params = ev.params.clone();
    params.resize(
        EventType::EXECVE.param_index("flags").unwrap(),
        ParamValue::Absent,
    );
    params[EventType::EXECVE.param_index("loginuid").unwrap()] = ParamValue::Uint(1000);
    params.push(ParamValue::Uint(peregrine_event::flags::exe::UPPER_LAYER));
    ev.params = params;
    check(
        &ev,
        &[
            ("proc.name", s("cat")),
            ("proc.exe", s("cat")),
            ("proc.exepath", s("/usr/bin/cat")),
            ("proc.args", s("/etc/shadow")),
            ("proc.cmdline", s("cat /etc/shadow")),
            ("proc.exeline", s("cat /etc/shadow")),
            ("proc.cmdnargs", u(1)),
            ("proc.cmdlenargs", u(11)),
            ("proc.pname", s("bash")),
            ("proc.pexe", s("-bash")),
            ("proc.pexepath", s("/bin/bash")),
            ("proc.pcmdline", s("bash")),
            ("proc.aname[0]", s("cat")),
            ("proc.aname[1]", s("bash")),
            ("proc.aname[2]", s("sshd")),
            ("proc.aname[3]", s("systemd")),
            ("proc.aname[4]", None),
            (
                "proc.aname",
                any(vec![sv("bash"), sv("sshd"), sv("systemd")]),
            ),
            ("proc.aexe[2]", s("/usr/sbin/sshd")),
            ("proc.aexepath[3]", s("/usr/lib/systemd/systemd")),
            ("proc.acmdline[2]", s("sshd -D")),
            ("proc.apid[2]", i(100)),
            (
                "proc.apid",
                any(vec![Value::I64(150), Value::I64(100), Value::I64(1)]),
            ),
            ("proc.pid", i(200)),
            ("proc.ppid", i(150)),
            ("proc.vpid", i(200)),
            ("proc.pvpid", i(150)),
            ("proc.sid", i(100)),
            ("proc.sname", s("sshd")),
            ("proc.sid.exe", s("/usr/sbin/sshd")),
            ("proc.vpgid", i(200)),
            ("proc.vpgid.name", s("cat")),
            ("proc.is_vpgid_leader", b(true)),
            ("proc.is_sid_leader", b(false)),
            ("proc.env", s("HOME=/root PATH=/usr/bin SPACED=  x y  ")),
            ("proc.env[HOME]", s("/root")),
            ("proc.env[SPACED]", s("x y")),
            ("proc.env[NOPE]", s("")),
            ("proc.env[HOM]", s("")),
            ("proc.cwd", s("/etc/")),
            ("proc.tty", u(34816)),
            ("proc.loginshellid", i(150)),
            ("proc.duration", u(5 * SEC)),
            ("proc.pid.ts", u(TS - 5 * SEC)),
            ("proc.ppid.ts", u(TS - 60 * SEC)),
            ("proc.ppid.duration", u(60 * SEC)),
            ("proc.exe_ino", i(42)),
            ("proc.exe_ino.ctime", u(TS - 10 * SEC)),
            ("proc.exe_ino.mtime", u(TS - 20 * SEC)),
            ("proc.exe_ino.ctime_duration_proc_start", u(5 * SEC)),
            ("proc.exe_ino.ctime_duration_pidns_start", None),
            ("proc.is_exe_upper_layer", b(true)),
            ("proc.is_exe_lower_layer", b(false)),
            ("proc.is_exe_from_memfd", b(false)),
            ("proc.is_exe_writable", b(false)),
            ("thread.tid", i(200)),
            ("thread.vtid", i(200)),
            ("thread.ismain", b(true)),
            ("thread.cap_permitted", s("CAP_CHOWN CAP_SYS_ADMIN")),
            ("thread.cap_effective", s("")),
            ("user.uid", u(0)),
            ("user.name", s("root")),
            ("user.homedir", s("/root")),
            ("user.shell", s("/bin/bash")),
            ("user.loginuid", i(1000)),
            ("user.loginname", s("alice")),
            ("group.gid", u(0)),
            ("group.name", s("root")),
            ("container.id", s("host")),
            ("container.full_id", s("host")),
            ("container.name", s("host")),
            ("container.type", s("host")),
            ("container.privileged", b(false)),
            ("container.image.repository", None),
            ("container.image.tag", None),
            ("container.mount.dest[0]", None),
            ("container.label.app", None),
            ("k8s.pod.name", None),
            ("k8s.ns.name", None),
            ("evt.type", s("execve")),
            ("evt.dir", s("<")),
            ("evt.num", u(7)),
            ("evt.cpu", u(3)),
            ("evt.source", s("syscall")),
            ("syscall.type", s("execve")),
            ("evt.res", s("SUCCESS")),
            ("evt.rawres", i(0)),
            ("evt.failed", b(false)),
            ("evt.is_open_read", b(false)),
            ("evt.buffer", None),
            ("evt.arg.res", s("0")),
            ("evt.arg[1]", s("cat")),
            ("evt.arg.args", s("/etc/shadow.")),
            ("evt.arg.tid", s("<NA>")),
            ("evt.arg.loginuid", s("alice")),
            ("evt.arg.flags", s("EXE_UPPER_LAYER")),
            ("evt.arg.nosuchparam", None),
            ("evt.arg[99]", None),
            ("evt.rawarg.loginuid", u(1000)),
            ("evt.rawarg.exe", s("cat")),
            ("fd.name", None),
            ("fd.num", None),
            ("fd.typechar", None),
            ("evt.time", s("22:13:31.726060287")),
            ("evt.time.s", s("22:13:31")),
            ("evt.time.iso8601", s("2023-11-14T22:13:31.726060287+0000")),
            ("evt.datetime", s("2023-11-14 22:13:31.726060287")),
            ("evt.datetime.s", s("2023-11-14 22:13:31")),
            ("evt.rawtime", u(TS)),
            ("evt.rawtime.s", u(TS / SEC)),
            ("evt.rawtime.ns", u(TS % SEC)),
        ],
    );
}

fn openat_event() -> Event {
    let mut ev = event(
        EventType::OPENAT,
        vec![
            ParamValue::Int(3),
            ParamValue::Int(-100),
            ParamValue::Str("./shadow".into()),
            ParamValue::Uint(open::O_RDONLY | open::O_CLOEXEC),
            ParamValue::Uint(0),
            ParamValue::Uint(0x803),
            ParamValue::Uint(1234),
        ],
    );
    ev.fd = Some(Arc::new(FdInfo {
        num: 3,
        kind: FdKind::File,
        name: "/etc/shadow".into(),
        nameraw: ".//shadow".into(),
        flags: open::O_RDONLY | open::O_CLOEXEC,
        dev: 0x803,
        ino: 1234,
        ..Default::default()
    }));
    ev
}

#[test]
fn open_with_fd() {
    check(
        &openat_event(),
        &[
            ("fd.num", i(3)),
            ("fd.name", s("/etc/shadow")),
            ("fd.nameraw", s("./shadow")),
            ("fd.directory", s("/etc")),
            ("fd.filename", s("shadow")),
            ("fd.type", s("file")),
            ("fd.typechar", s("f")),
            ("fd.l4proto", s("<NA>")),
            ("fd.sockfamily", None),
            ("fd.is_server", b(false)),
            ("fd.connected", b(false)),
            ("fd.name_changed", b(false)),
            ("fd.ip", None),
            ("fd.sip", None),
            ("fd.lport", None),
            ("fd.dev", i(0x803)),
            ("fd.dev.major", i(8)),
            ("fd.dev.minor", i(3)),
            ("fd.ino", i(1234)),
            ("fd.uid", s("2003")),
            ("fd.containername", s("host:/etc/shadow")),
            ("fd.containerdirectory", s("host:/etc")),
            ("evt.is_open_read", b(true)),
            ("evt.is_open_write", b(false)),
            ("evt.is_open_exec", b(false)),
            ("evt.is_open_create", b(false)),
            ("evt.res", s("SUCCESS")),
            ("evt.rawres", i(3)),
            ("evt.arg.fd", s("<f>/etc/shadow")),
            ("evt.arg[0]", s("<f>/etc/shadow")),
            ("evt.arg.dirfd", s("AT_FDCWD")),
            ("evt.arg.name", s("/etc/shadow")),
            ("evt.arg.flags", s("O_RDONLY|O_CLOEXEC")),
            ("evt.arg.mode", s("0")),
            ("evt.rawarg.name", s("./shadow")),
            ("evt.rawarg.flags", u(open::O_CLOEXEC)),
            ("evt.rawarg.fd", i(3)),
            ("evt.abspath", s("/etc/shadow")),
            ("evt.type.is.openat", u(1)),
            ("evt.type.is.open", u(0)),
            (
                "evt.args",
                s(
                    "fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=./shadow(/etc/shadow) \
                   flags=524288(O_RDONLY|O_CLOEXEC) mode=0 dev=2051 ino=1234",
                ),
            ),
        ],
    );
}

#[test]
fn failed_open_without_fd() {
    let ev = event(
        EventType::OPEN,
        vec![
            ParamValue::Int(-2),
            ParamValue::Str("new//bin".into()),
            ParamValue::Uint(open::O_WRONLY | open::O_CREAT),
            ParamValue::Uint(0o755),
        ],
    );
    check(
        &ev,
        &[
            ("fd.num", i(-2)),
            ("fd.name", s("/etc/new/bin")),
            ("fd.nameraw", s("/etc/new/bin")),
            ("fd.directory", s("/etc/new")),
            ("fd.filename", None),
            ("fd.type", None),
            ("fd.typechar", s("f")),
            ("fd.l4proto", None),
            ("evt.res", s("ENOENT")),
            ("evt.rawres", i(-2)),
            ("evt.failed", b(true)),
            ("evt.is_open_read", b(false)),
            ("evt.is_open_write", b(true)),
            ("evt.is_open_exec", b(true)),
            ("evt.is_open_create", b(false)),
            ("evt.arg.fd", s("ENOENT")),
            ("evt.arg.name", s("/etc/new/bin")),
            ("evt.arg.flags", s("O_WRONLY|O_CREAT")),
            (
                "evt.arg.mode",
                s("S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"),
            ),
            ("evt.rawarg.mode", u(0o755)),
            ("evt.arg.dev", s("<NA>")),
        ],
    );
    // A created file and a relative openat name.
    let mut created = ev.clone();
    created.params[2] = ParamValue::Uint(open::O_RDWR | open::O_CREAT | open::O_F_CREATED);
    created.params[0] = ParamValue::Int(4);
    check(
        &created,
        &[
            ("evt.is_open_create", b(true)),
            ("evt.is_open_read", b(true)),
            ("evt.is_open_write", b(true)),
            ("evt.arg.flags", s("O_RDWR|O_CREAT|O_F_CREATED")),
        ],
    );
    let creat = event(
        EventType::CREAT,
        vec![
            ParamValue::Int(5),
            ParamValue::Str("/tmp//x".into()),
            ParamValue::Uint(0o700),
        ],
    );
    check(
        &creat,
        &[
            ("evt.is_open_exec", b(true)),
            ("evt.is_open_read", b(false)),
            ("evt.is_open_create", b(false)),
            ("fd.name", s("/tmp//x")),
            ("fd.nameraw", s("/tmp/x")),
            ("fd.typechar", s("f")),
            ("evt.arg.mode", s("S_IXUSR|S_IWUSR|S_IRUSR")),
        ],
    );
    let at = event(
        EventType::OPENAT,
        vec![
            ParamValue::Int(-13),
            ParamValue::Int(7),
            ParamValue::Str("x//y".into()),
        ],
    );
    check(
        &at,
        &[
            ("fd.name", s("<UNKNOWN>/x//y")),
            ("fd.nameraw", s("x/y")),
            ("evt.res", s("EACCES")),
            ("evt.is_open_read", b(false)),
            ("evt.arg.name", s("x//y")),
            ("evt.abspath", s("<UNKNOWN>/x//y")),
        ],
    );
}

fn inet_tuple(c: &str, cp: u16, srv: &str, sp: u16) -> SockTuple {
    SockTuple::Inet {
        proto: L4Proto::Tcp,
        sip: c.parse().unwrap(),
        sport: cp,
        dip: srv.parse().unwrap(),
        dport: sp,
    }
}

#[test]
fn connect_client_ipv4_in_container() {
    let tuple = inet_tuple("10.0.0.5", 43210, "10.96.0.1", 443);
    let mut ev = event(
        EventType::CONNECT,
        vec![
            ParamValue::Int(0),
            ParamValue::Tuple(tuple.clone()),
            ParamValue::Int(5),
            ParamValue::Addr(SockAddr::Inet {
                ip: "10.96.0.1".parse().unwrap(),
                port: 443,
            }),
        ],
    );
    ev.process = Some(cat_process("abcdef123456"));
    ev.container = Some(web_container());
    ev.fd = Some(Arc::new(FdInfo {
        num: 5,
        kind: FdKind::Ipv4,
        name: "10.0.0.5:43210->10.96.0.1:443".into(),
        tuple: Some(tuple),
        l4proto: Some(L4Proto::Tcp),
        role: SocketRole::Client,
        connected: true,
        ..Default::default()
    }));
    check(
        &ev,
        &[
            ("fd.num", i(5)),
            ("fd.name", s("10.0.0.5:43210->10.96.0.1:443")),
            ("fd.type", s("ipv4")),
            ("fd.typechar", s("4")),
            ("fd.directory", None),
            ("fd.filename", None),
            ("fd.cip", ip("10.0.0.5")),
            ("fd.sip", ip("10.96.0.1")),
            ("fd.lip", ip("10.0.0.5")),
            ("fd.rip", ip("10.96.0.1")),
            ("fd.cport", u(43210)),
            ("fd.sport", u(443)),
            ("fd.lport", u(43210)),
            ("fd.rport", u(443)),
            ("fd.ip", any(vec![ipv("10.0.0.5"), ipv("10.96.0.1")])),
            ("fd.net", any(vec![ipv("10.0.0.5"), ipv("10.96.0.1")])),
            ("fd.port", any(vec![Value::U64(43210), Value::U64(443)])),
            ("fd.snet", ip("10.96.0.1")),
            ("fd.cnet", ip("10.0.0.5")),
            ("fd.lnet", ip("10.0.0.5")),
            ("fd.rnet", ip("10.96.0.1")),
            ("fd.l4proto", s("tcp")),
            ("fd.sockfamily", s("ip")),
            ("fd.is_server", b(false)),
            ("fd.connected", b(true)),
            ("fd.sip.name", None),
            ("fd.cip.name", None),
            ("fd.lip.name", None),
            ("fd.rip.name", None),
            ("evt.arg.tuple", s("10.0.0.5:43210->10.96.0.1:443")),
            ("evt.arg.addr", s("10.96.0.1:443")),
            ("evt.arg.fd", s("<4t>10.0.0.5:43210->10.96.0.1:443")),
            ("evt.rawarg.tuple", s("10.0.0.5:43210->10.96.0.1:443")),
            ("fd.containername", s("abcdef123456:10.0.0.5:43210->10.96.0.1:443")),
            ("container.id", s("abcdef123456")),
            ("container.full_id", s("abcdef1234567890")),
            ("container.name", s("web")),
            ("container.type", s("containerd")),
            ("container.image", s("docker.io/library/nginx:1.25")),
            ("container.image.id", s("6f7e2741b66b")),
            ("container.image.repository", s("docker.io/library/nginx")),
            ("container.image.tag", s("1.25")),
            ("container.image.digest", None),
            ("container.privileged", b(true)),
            ("container.label.app", s("web")),
            ("container.label[app]", s("web")),
            ("container.label.nope", None),
            ("container.labels", s("app:web, flag")),
            ("container.start_ts", u(TS - 3600 * SEC)),
            ("container.duration", u(3600 * SEC)),
            (
                "container.mounts",
                s("/var/run/docker.sock:/var/run/docker.sock:rw:true:rprivate,/proc:/host/proc:ro:false:rprivate"),
            ),
            ("container.mount[1]", s("/proc:/host/proc:ro:false:rprivate")),
            ("container.mount.dest[/var/run/docker.sock]", s("/var/run/docker.sock")),
            ("container.mount.dest[/proc*]", s("/host/proc")),
            ("container.mount.dest[/etc]", None),
            ("container.mount.dest[7]", None),
            ("container.mount.source[/host/proc]", s("/proc")),
            ("container.mount.mode[0]", s("rw")),
            ("container.mount.rdwr[1]", s("false")),
            ("container.mount.propagation[0]", s("rprivate")),
            ("k8s.pod.name", s("web-0")),
            ("k8s.ns.name", s("prod")),
            ("k8s.pod.uid", s("3e41dc6b-08a8")),
            ("k8s.pod.id", s("3e41dc6b-08a8")),
            ("k8s.pod.label.tier", s("front")),
            ("k8s.pod.label[tier]", s("front")),
            ("k8s.pod.labels", s("tier:front")),
            ("proc.exe_ino.ctime_duration_pidns_start", u(3590 * SEC)),
        ],
    );
    // A failed connect names the fd after the tuple parameter.
    let mut failed = ev.clone();
    failed.params[0] = ParamValue::Int(-111);
    failed.params[1] = ParamValue::Tuple(inet_tuple("10.0.0.5", 1, "10.0.0.9", 2));
    check(
        &failed,
        &[
            ("fd.name", s("10.0.0.5:1->10.0.0.9:2")),
            ("evt.res", s("ECONNREFUSED")),
        ],
    );
}

/// A bound or listening socket is libsinsp's server socket: only the server end is known
/// (what Falco 0.43.1 prints on bind and listen).
#[test]
fn listener_has_only_the_server_end() {
    let mut ev = event(
        EventType::LISTEN,
        vec![ParamValue::Int(0), ParamValue::Int(3), ParamValue::Int(8)],
    );
    ev.fd = Some(Arc::new(FdInfo {
        num: 3,
        kind: FdKind::Ipv4,
        name: "192.0.2.1:4001".into(),
        tuple: Some(inet_tuple("0.0.0.0", 0, "192.0.2.1", 4001)),
        l4proto: Some(L4Proto::Tcp),
        role: SocketRole::Server,
        ..Default::default()
    }));
    check(
        &ev,
        &[
            ("fd.name", s("192.0.2.1:4001")),
            ("fd.sip", ip("192.0.2.1")),
            ("fd.sport", u(4001)),
            ("fd.cip", None),
            ("fd.cport", None),
            ("fd.lip", None),
            ("fd.lport", None),
            ("fd.rip", None),
            ("fd.rport", None),
            ("fd.is_server", b(true)),
            ("fd.connected", b(false)),
            ("fd.ip", any(vec![ip("192.0.2.1").unwrap(); 2])),
            ("fd.port", any(vec![Value::U64(4001); 2])),
        ],
    );
}

#[test]
fn accept_server_ipv6() {
    let tuple = inet_tuple("2001:db8::1", 5555, "2001:db8::2", 8080);
    let mut ev = event(
        EventType::ACCEPT4,
        vec![ParamValue::Int(9), ParamValue::Tuple(tuple.clone())],
    );
    ev.fd = Some(Arc::new(FdInfo {
        num: 9,
        kind: FdKind::Ipv6,
        name: "2001:db8::1:5555->2001:db8::2:8080".into(),
        tuple: Some(tuple),
        role: SocketRole::Server,
        connected: true,
        ..Default::default()
    }));
    check(
        &ev,
        &[
            ("fd.typechar", s("6")),
            ("fd.type", s("ipv6")),
            ("fd.cip", ip("2001:db8::1")),
            ("fd.sip", ip("2001:db8::2")),
            ("fd.lip", ip("2001:db8::2")),
            ("fd.rip", ip("2001:db8::1")),
            ("fd.lport", u(8080)),
            ("fd.rport", u(5555)),
            ("fd.sport", u(8080)),
            ("fd.cport", u(5555)),
            ("fd.is_server", b(true)),
            ("fd.l4proto", s("tcp")),
            ("evt.arg.tuple", s("2001:db8::1:5555->2001:db8::2:8080")),
            ("evt.arg.fd", s("<6t>2001:db8::1:5555->2001:db8::2:8080")),
            ("evt.arg.flags", s("<NA>")),
            ("evt.arg.queuepct", s("<NA>")),
        ],
    );
    // Without a known role only the either-end fields have values.
    let mut no_role = ev.clone();
    let mut info = (*no_role.fd.take().unwrap()).clone();
    info.role = SocketRole::None;
    no_role.fd = Some(Arc::new(info));
    check(
        &no_role,
        &[
            ("fd.sip", None),
            ("fd.lport", None),
            ("fd.is_server", b(false)),
            ("fd.port", any(vec![Value::U64(5555), Value::U64(8080)])),
        ],
    );
    // IPv4-mapped addresses print as IPv4 in parameters.
    let mapped = event(
        EventType::ACCEPT,
        vec![
            ParamValue::Int(9),
            ParamValue::Tuple(inet_tuple("::ffff:10.1.1.1", 1, "::ffff:10.1.1.2", 2)),
        ],
    );
    check(&mapped, &[("evt.arg.tuple", s("10.1.1.1:1->10.1.1.2:2"))]);
}

#[test]
fn dup_unix_and_pipe() {
    let mut ev = event(
        EventType::DUP2,
        vec![ParamValue::Int(1), ParamValue::Int(5), ParamValue::Int(1)],
    );
    ev.fd = Some(Arc::new(FdInfo {
        num: 1,
        kind: FdKind::Unix,
        name: "ffff0001->ffff0002 /run/x.sock".into(),
        tuple: Some(SockTuple::Unix {
            source: 0xffff0001,
            dest: 0xffff0002,
            path: "/run/x.sock".into(),
        }),
        name_changed: true,
        ..Default::default()
    }));
    check(
        &ev,
        &[
            ("fd.num", i(1)),
            ("fd.typechar", s("u")),
            ("fd.type", s("unix")),
            ("fd.sockfamily", s("unix")),
            ("fd.name_changed", b(true)),
            ("fd.ip", None),
            ("fd.l4proto", s("<NA>")),
            ("fd.directory", None),
            ("evt.arg.res", s("<u>ffff0001->ffff0002 /run/x.sock")),
            ("evt.arg.oldfd", s("5")),
        ],
    );
    // An fd event whose fd is unknown names it "".
    let bare = event(
        EventType::CLOSE,
        vec![ParamValue::Int(0), ParamValue::Int(8)],
    );
    check(
        &bare,
        &[
            ("fd.num", i(8)),
            ("fd.name", s("")),
            ("fd.typechar", s("o")),
            ("fd.type", None),
        ],
    );
}

#[test]
fn setuid_ptrace_unshare() {
    let setuid = event(
        EventType::SETUID,
        vec![ParamValue::Int(0), ParamValue::Uint(65534)],
    );
    check(
        &setuid,
        &[
            ("evt.arg.uid", s("65534")),
            ("evt.rawarg.uid", u(65534)),
            ("evt.args", s("res=0 uid=65534")),
            ("fd.name", None),
            ("evt.is_open_read", b(false)),
        ],
    );
    let root = event(
        EventType::SETUID,
        vec![ParamValue::Int(-1), ParamValue::Uint(0)],
    );
    check(
        &root,
        &[
            ("evt.arg.uid", s("root")),
            ("evt.args", s("res=-1(EPERM) uid=0(root)")),
            ("evt.res", s("EPERM")),
        ],
    );
    let unset = event(
        EventType::SETUID,
        vec![ParamValue::Int(0), ParamValue::Uint(u64::from(u32::MAX))],
    );
    check(&unset, &[("evt.arg.uid", s("-1"))]);
    let alice = event(
        EventType::SETUID,
        vec![ParamValue::Int(0), ParamValue::Uint(1000)],
    );
    check(&alice, &[("evt.arg.uid", s("alice"))]);

    let ptrace = event(
        EventType::PTRACE,
        vec![
            ParamValue::Int(0),
            ParamValue::Uint(0),
            ParamValue::Uint(0),
            ParamValue::Uint(16),
            ParamValue::Int(150),
        ],
    );
    check(
        &ptrace,
        &[
            ("evt.arg.request", s("PTRACE_ATTACH")),
            ("evt.arg.pid", s("bash")),
            ("evt.arg.addr", s("0")),
            ("evt.rawarg.request", u(16)),
            ("evt.rawarg.pid", i(150)),
        ],
    );
    let unknown_pid = event(
        EventType::PTRACE,
        vec![
            ParamValue::Int(0),
            ParamValue::Uint(0),
            ParamValue::Uint(0),
            ParamValue::Uint(9999),
            ParamValue::Int(4242),
        ],
    );
    check(
        &unknown_pid,
        &[("evt.arg.pid", s("4242")), ("evt.arg.request", s("9999"))],
    );

    let unshare = event(
        EventType::UNSHARE,
        vec![
            ParamValue::Int(0),
            ParamValue::Uint(0x2000_0000 | 0x1000_0000),
        ],
    );
    check(
        &unshare,
        &[
            ("evt.arg.flags", s("CLONE_NEWUSER|CLONE_NEWPID")),
            ("evt.type.is.unshare", u(1)),
        ],
    );
    let bpf = event(
        EventType::BPF,
        vec![ParamValue::Int(3), ParamValue::Uint(5)],
    );
    check(&bpf, &[("evt.arg.cmd", s("BPF_PROG_LOAD"))]);
}

#[test]
fn missing_context() {
    let mut ev = event(EventType::OPENAT, vec![ParamValue::Int(3)]);
    ev.process = None;
    check(
        &ev,
        &[
            ("thread.tid", i(200)),
            ("proc.name", None),
            ("proc.aname", None),
            ("user.name", None),
            ("user.uid", None),
            ("container.id", None),
            ("container.name", None),
            ("fd.name", None),
            ("fd.num", None),
            ("evt.type", s("openat")),
            ("evt.arg.name", s("<NA>")),
            ("evt.abspath", None),
        ],
    );
    // A process with no known user or parent, in a container without metadata yet.
    let mut lone = event(EventType::EXECVE, vec![ParamValue::Int(0)]);
    lone.process = Some(Arc::new(ProcessInfo {
        tid: 5,
        pid: 5,
        vpid: -1,
        vtid: -1,
        uid: 1001,
        gid: 1001,
        loginuid: u32::MAX,
        name: "x".into(),
        container_id: "deadbeef0000".into(),
        ..Default::default()
    }));
    check(
        &lone,
        &[
            ("proc.pname", None),
            ("proc.aname", None),
            ("proc.aname[1]", None),
            ("proc.apid", None),
            ("proc.vpid", None),
            ("thread.vtid", None),
            ("proc.duration", None),
            ("proc.exe_ino", None),
            ("proc.sname", s("x")),
            ("proc.loginshellid", None),
            ("user.name", s("<NA>")),
            ("user.homedir", s("<NA>")),
            ("user.shell", s("<NA>")),
            ("user.loginuid", i(-1)),
            ("user.loginname", s("<NA>")),
            ("group.name", s("<NA>")),
            ("container.id", s("deadbeef0000")),
            ("container.name", None),
            ("container.privileged", None),
            ("k8s.ns.name", None),
        ],
    );
}

#[test]
fn extraction_reuses_buffers() {
    let ev = openat_event();
    for text in [
        "proc.cmdline",
        "fd.directory",
        "evt.args",
        "proc.aname",
        "evt.arg.flags",
    ] {
        let f = field(text);
        let mut out = Value::default();
        assert!(f.extract(&ev, &mut out));
        let before = buffers(&out);
        assert!(f.extract(&ev, &mut out));
        assert_eq!(buffers(&out), before, "{text} reallocated");
    }
}

fn buffers(v: &Value) -> Vec<usize> {
    match v {
        Value::Str(s) => vec![s.as_ptr() as usize],
        Value::Any(vs) => vs.iter().flat_map(buffers).collect(),
        _ => vec![],
    }
}

#[test]
fn resolve_names_flags_and_types() {
    let f = field("proc.aname[2]");
    assert_eq!(f.name(), "proc.aname[2]");
    assert!(!f.is_any());
    assert!(f.def().no_rhs);
    let f = field("proc.aname");
    assert!(f.is_any());
    assert_eq!(f.def().any_ne, AnyNe::SomeDiffers);
    let f = field("fd.ip");
    assert!(f.is_any() && f.def().filter_only);
    assert_eq!(f.def().any_ne, AnyNe::NoneEqual);
    assert_eq!(f.ftype(), FieldType::Ip);
    assert_eq!(field("fd.snet").ftype(), FieldType::IpNet);
    assert!(!field("fd.sip").is_any());
    assert_eq!(field("evt.arg.flags").name(), "evt.arg.flags");
    assert_eq!(field("evt.arg.flags").ftype(), FieldType::Str);
    assert_eq!(field("evt.arg[0]").name(), "evt.arg[0]");
    assert_eq!(field("proc.env[HOME]").name(), "proc.env[HOME]");
    assert_eq!(field("container.label.app").name(), "container.label.app");
    assert_eq!(field("container.label.app").def().name, "container.label");
    assert_eq!(field("evt.rawarg.flags").ftype(), FieldType::U64);
    assert_eq!(field("evt.rawarg.fd").ftype(), FieldType::I64);
    assert_eq!(field("evt.rawarg.name").ftype(), FieldType::Str);
    assert_eq!(field("evt.rawarg.data").ftype(), FieldType::Bytes);
    assert!(field("evt.rawarg.fd").def().no_rhs);
    assert_eq!(field("user.loginuid").ftype(), FieldType::I64);
    assert_eq!(field("fd.lport").ftype(), FieldType::Port);
    assert_eq!(field("proc.duration").ftype(), FieldType::RelTime);
    // Exact names win over dot-style arguments.
    assert_eq!(field("evt.type").def().name, "evt.type");
    assert_eq!(field("evt.args").def().name, "evt.args");
    assert_eq!(field("proc.exe_ino.ctime").def().name, "proc.exe_ino.ctime");

    let mut names: Vec<_> = registry().iter().map(|d| d.name).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate field names");
    for d in registry() {
        assert!(!d.desc.is_empty() && !d.category.is_empty(), "{}", d.name);
    }
}

#[test]
fn resolve_errors() {
    let err = resolve("proc.nme", None).unwrap_err();
    assert_eq!(
        err,
        FieldError::Unknown {
            name: "proc.nme".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "filter_check called with nonexistent field proc.nme"
    );
    assert_eq!(
        resolve("proc.nobody", Some("1")).unwrap_err().to_string(),
        "filter_check called with nonexistent field proc.nobody[1]"
    );
    assert!(matches!(
        resolve("nofield", None),
        Err(FieldError::Unknown { .. })
    ));
    assert!(matches!(
        resolve("evt.arg", None),
        Err(FieldError::MissingArg { .. })
    ));
    assert!(matches!(
        resolve("evt.rawarg", None),
        Err(FieldError::MissingArg { .. })
    ));
    assert!(matches!(
        resolve("container.mount.dest", None),
        Err(FieldError::MissingArg { .. })
    ));
    assert!(matches!(
        resolve("container.label", None),
        Err(FieldError::MissingArg { .. })
    ));
    assert!(matches!(
        resolve("proc.aname", Some("x")),
        Err(FieldError::BadArg { ref reason, .. }) if reason == "x is not a valid number"
    ));
    assert!(matches!(
        resolve("proc.aname", Some("-1")),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("evt.arg", Some("flags")),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("evt.rawarg", Some("0")),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("evt.rawarg.nosuch", None),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("evt.arg.bad-name", None),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("evt.type.is.nosuch", None),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("container.mount.dest", Some("(")),
        Err(FieldError::BadArg { .. })
    ));
    assert!(matches!(
        resolve("proc.env", Some("")),
        Err(FieldError::BadArg { .. })
    ));
    assert_eq!(
        resolve("proc.name", Some("1")).unwrap_err(),
        FieldError::UnexpectedArg {
            name: "proc.name".into(),
            arg: "1".into()
        }
    );
    assert!(matches!(
        resolve("evt.arg.flags", Some("1")),
        Err(FieldError::UnexpectedArg { .. })
    ));
}

/// The 77 fields of section c.1 of the reference (the upstream rules' fields).
#[test]
fn upstream_rule_fields_resolve() {
    const C1: [&str; 77] = [
        "proc.name",
        "fd.name",
        "proc.cmdline",
        "proc.pname",
        "evt.type",
        "evt.arg",
        "user.name",
        "proc.aname",
        "user.uid",
        "proc.tty",
        "user.loginuid",
        "proc.exepath",
        "container.image.repository",
        "proc.args",
        "proc.pcmdline",
        "fd.directory",
        "fd.l4proto",
        "fd.typechar",
        "fd.type",
        "fd.lport",
        "fd.rport",
        "container.mount.dest",
        "evt.res",
        "proc.pexe",
        "proc.exe",
        "thread.cap_permitted",
        "evt.rawres",
        "fd.net",
        "fd.num",
        "fd.sport",
        "k8s.ns.name",
        "fd.ip",
        "proc.cwd",
        "container.id",
        "fd.sip.name",
        "evt.is_open_read",
        "fd.connected",
        "fd.filename",
        "fd.name_changed",
        "fd.sip",
        "fd.snet",
        "proc.env",
        "thread.cap_effective",
        "container.privileged",
        "evt.is_open_write",
        "evt.num",
        "fd.nameraw",
        "proc.vpid",
        "container.start_ts",
        "evt.args",
        "fd.cip.name",
        "group.gid",
        "group.name",
        "proc.pexepath",
        "proc.sname",
        "user.loginname",
        "container.mounts",
        "evt.buffer",
        "evt.is_open_exec",
        "fd.cip",
        "fd.cnet",
        "fd.lip.name",
        "fd.port",
        "fd.rip",
        "fd.rip.name",
        "fd.rnet",
        "fd.sockfamily",
        "k8s.pod.name",
        "proc.aexe",
        "proc.aexepath",
        "proc.duration",
        "proc.exe_ino.ctime",
        "proc.exe_ino.ctime_duration_proc_start",
        "proc.exe_ino.mtime",
        "proc.is_exe_from_memfd",
        "proc.is_exe_upper_layer",
        "proc.is_vpgid_leader",
    ];
    for name in C1 {
        let def = registry()
            .iter()
            .find(|d| d.name == name)
            .unwrap_or_else(|| panic!("{name} not registered"));
        // Fields that need an argument resolve with one the rules use.
        let resolved = match name {
            "evt.arg" => resolve("evt.arg.flags", None),
            "container.mount.dest" => resolve(name, Some("/var/run/docker.sock")),
            _ => resolve(name, None),
        };
        assert!(resolved.is_ok(), "{name}: {:?}", resolved.err());
        assert!(!def.desc.is_empty());
    }
    // The arguments the upstream rules pass.
    for arg in [
        "flags", "path", "name", "oldpath", "uid", "newpath", "mode", "request", "filename",
        "target", "cmd", "linkpath", "domain", "fd",
    ] {
        assert!(
            resolve(&format!("evt.arg.{arg}"), None).is_ok(),
            "evt.arg.{arg}"
        );
        assert!(
            resolve(&format!("evt.rawarg.{arg}"), None).is_ok(),
            "evt.rawarg.{arg}"
        );
    }
    for n in 1..=7 {
        assert!(resolve("proc.aname", Some(&n.to_string())).is_ok());
    }
    assert!(resolve("container.mount.dest", Some("/proc*")).is_ok());
}

#[test]
fn never_panics_on_odd_events() {
    // Parameters of the wrong shape, huge ids, empty strings: every field must cope.
    let mut ev = event(
        EventType::OPENAT,
        vec![
            ParamValue::Str("not a number".into()),
            ParamValue::Bytes(vec![0xff; 4]),
            ParamValue::Int(-100),
            ParamValue::Tuple(inet_tuple("1.1.1.1", 1, "2.2.2.2", 2)),
        ],
    );
    let mut p = (**ev.process.as_ref().unwrap()).clone();
    p.pid = i64::MAX;
    p.tid = i64::MIN;
    p.cwd = "".into();
    p.exe_ino_ctime = u64::MAX;
    ev.process = Some(Arc::new(p));
    ev.fd = Some(Arc::new(FdInfo {
        kind: FdKind::File,
        name: String::new(),
        ..Default::default()
    }));
    ev.ts = 0;
    let mut tested = 0;
    for def in registry() {
        let f = match def.arg {
            ArgSpec::None
            | ArgSpec::Index { required: false }
            | ArgSpec::Key { required: false } => resolve(def.name, None),
            ArgSpec::IndexOrName { .. } => resolve(def.name, Some("3")),
            ArgSpec::IndexOrKey { .. } => resolve(def.name, Some(".*")),
            ArgSpec::DotSuffix { .. } if def.name == "evt.type.is" => {
                resolve("evt.type.is.open", None)
            }
            ArgSpec::DotSuffix { .. } => resolve(&format!("{}.fd", def.name), None),
            ArgSpec::Index { .. } | ArgSpec::Key { .. } => resolve(def.name, Some("0")),
        }
        .unwrap_or_else(|e| panic!("{}: {e}", def.name));
        let mut out = Value::default();
        let _ = f.extract(&ev, &mut out);
        assert_borrow_agrees(&f, &ev);
        tested += 1;
    }
    assert_eq!(tested, registry().len());
}
