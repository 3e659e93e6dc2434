//! Helpers shared by the integration tests: events built by hand and one-rule rulesets.

#![allow(dead_code)]

use peregrine_event::flags::open;
use peregrine_event::*;
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, AlertOptions, CompileOptions, RuleMatching, Ruleset};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub const TS: u64 = 1_470_327_477_881_781_397;

pub fn testdata() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("../shared/testdata not found and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping: ../shared/testdata not found");
    None
}

pub fn user(uid: u32, name: &str) -> Arc<UserInfo> {
    Arc::new(UserInfo {
        uid,
        name: name.into(),
        homedir: "/root".into(),
        shell: "/bin/sh".into(),
    })
}

/// bash (pid 100, child of sshd 50, child of systemd 1) → cat /etc/shadow (pid 200).
pub fn process(name: &str, args: &[&str]) -> Arc<ProcessInfo> {
    let init = Arc::new(ProcessInfo {
        tid: 1,
        pid: 1,
        name: "systemd".into(),
        exe: "/sbin/init".into(),
        exepath: "/usr/lib/systemd/systemd".into(),
        container_id: HOST_CONTAINER_ID.into(),
        ..Default::default()
    });
    let sshd = Arc::new(ProcessInfo {
        tid: 50,
        pid: 50,
        ptid: 1,
        name: "sshd".into(),
        exe: "/usr/sbin/sshd".into(),
        exepath: "/usr/sbin/sshd".into(),
        args: ["-D".into()].into(),
        container_id: HOST_CONTAINER_ID.into(),
        parent: Some(init),
        ..Default::default()
    });
    let bash = Arc::new(ProcessInfo {
        tid: 100,
        pid: 100,
        ptid: 50,
        name: "bash".into(),
        exe: "-bash".into(),
        exepath: "/usr/bin/bash".into(),
        container_id: HOST_CONTAINER_ID.into(),
        tty: 34816,
        parent: Some(sshd),
        ..Default::default()
    });
    Arc::new(ProcessInfo {
        tid: 200,
        pid: 200,
        ptid: 100,
        vpid: 200,
        vtid: 200,
        name: name.into(),
        exe: name.into(),
        exepath: format!("/usr/bin/{name}").into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: "/home/admin/".into(),
        env: ["HOME=/root".into(), "PATH=/usr/bin".into()].into(),
        tty: 34816,
        loginuid: 1000,
        uid: 0,
        gid: 0,
        user: Some(user(0, "root")),
        container_id: HOST_CONTAINER_ID.into(),
        parent: Some(bash),
        ..Default::default()
    })
}

/// `cat /etc/shadow` opening the file for reading (openat returning fd 3).
pub fn open_event(path: &str, flags: u64) -> Event {
    let mut ev = Event::new(
        EventType::OPENAT,
        TS,
        200,
        vec![
            ParamValue::Int(3),
            ParamValue::Int(-100),
            ParamValue::Str(path.into()),
            ParamValue::Uint(flags),
            ParamValue::Uint(0),
            ParamValue::Uint(0x803),
            ParamValue::Uint(1234),
        ],
    );
    ev.num = 1;
    ev.process = Some(process("cat", &[path]));
    ev.fd = Some(Arc::new(FdInfo {
        num: 3,
        kind: FdKind::File,
        name: path.into(),
        nameraw: path.into(),
        flags,
        ..Default::default()
    }));
    ev
}

pub fn shadow_read() -> Event {
    open_event("/etc/shadow", open::O_RDONLY | open::O_CLOEXEC)
}

/// `curl` connecting from 10.1.2.3:40000 to `dip:dport` over TCP.
pub fn connect_event(dip: &str, dport: u16) -> Event {
    let dip: IpAddr = dip.parse().unwrap();
    let sip: IpAddr = if dip.is_ipv4() {
        "10.1.2.3".parse().unwrap()
    } else {
        "fd00::3".parse().unwrap()
    };
    let tuple = SockTuple::Inet {
        proto: L4Proto::Tcp,
        sip,
        sport: 40000,
        dip,
        dport,
    };
    let mut ev = Event::new(
        EventType::CONNECT,
        TS,
        200,
        vec![
            ParamValue::Int(0),
            ParamValue::Tuple(tuple.clone()),
            ParamValue::Int(5),
            ParamValue::Addr(SockAddr::Inet {
                ip: dip,
                port: dport,
            }),
        ],
    );
    ev.process = Some(process("curl", &["-s", "http://x"]));
    ev.fd = Some(Arc::new(FdInfo {
        num: 5,
        kind: if dip.is_ipv4() {
            FdKind::Ipv4
        } else {
            FdKind::Ipv6
        },
        name: tuple.to_string(),
        tuple: Some(tuple),
        l4proto: Some(L4Proto::Tcp),
        role: SocketRole::Client,
        connected: true,
        ..Default::default()
    }));
    ev
}

pub fn in_container(mut ev: Event, repo: &str) -> Event {
    let p = ev.process.as_ref().unwrap();
    let mut p = (**p).clone();
    p.container_id = "abcdef012345".into();
    ev.process = Some(Arc::new(p));
    ev.container = Some(Arc::new(ContainerInfo {
        id: "abcdef012345".into(),
        full_id: "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789".into(),
        name: Some("web-1".into()),
        image: Some(format!("{repo}:1.0").into()),
        image_repository: Some(repo.into()),
        image_tag: Some("1.0".into()),
        privileged: Some(false),
        ..Default::default()
    }));
    ev
}

pub fn no_suggested() -> CompileOptions {
    CompileOptions {
        suggested_output: false,
        ..Default::default()
    }
}

/// A ruleset with one rule; panics with the diagnostics if it does not load.
pub fn one_rule(condition: &str, output: &str) -> Ruleset {
    let yaml = format!(
        "- rule: test rule\n  desc: d\n  condition: {}\n  output: {}\n  priority: WARNING\n  tags: [b, a]\n",
        serde_json::to_string(condition).unwrap(),
        serde_json::to_string(output).unwrap()
    );
    let out = load_sources(&[RulesSource::new("test.yaml", yaml)], &no_suggested());
    let errs: Vec<String> = out.errors().map(|d| d.to_string()).collect();
    out.ruleset
        .unwrap_or_else(|| panic!("condition {condition:?} failed: {errs:?}"))
}

pub fn matches(rs: &Ruleset, ev: &Event) -> bool {
    let mut scratch = rs.new_scratch();
    let mut m = Vec::new();
    rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut m);
    !m.is_empty()
}

pub fn eval(condition: &str, ev: &Event) -> bool {
    matches(&one_rule(condition, "x"), ev)
}

/// The compile error message for a condition that must not compile.
pub fn compile_error(condition: &str) -> String {
    let yaml = format!(
        "- rule: bad\n  desc: d\n  condition: {}\n  output: x\n  priority: WARNING\n",
        serde_json::to_string(condition).unwrap()
    );
    let out = load_sources(&[RulesSource::new("bad.yaml", yaml)], &no_suggested());
    let err = out
        .errors()
        .next()
        .unwrap_or_else(|| panic!("{condition:?} compiled"));
    err.message.clone()
}

pub fn alert_opts() -> AlertOptions {
    AlertOptions {
        hostname: "test-host".into(),
        time_iso8601: true,
        utc_offset_secs: 0,
    }
}
