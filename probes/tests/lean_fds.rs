//! On the live kernel, with rules that read the fd table only for sockets and directories
//! (so the state tables leave regular files out, `PG_TRACK_NONREG`): a regular file's open
//! arrives only when a rule can match it (by name, by mode, by task name, for a `../` in
//! its name), marked as left out of the tables, and its close never arrives; directories,
//! devices and sockets arrive with their closes; fchmod arrives naming its file.

mod common;

use common::{cstr, Capture};
use peregrine_event::{EventType, ParamValue, SYSCALL_NAMES};
use peregrine_probes::interest::{plan, NameSet, OpenFilter, RuleNeed};
use peregrine_probes::ProbeOptions;
use std::collections::BTreeMap;

/// The probe's mark on an open that the state tables leave its file out.
const UNTRACKED: u64 = 1 << 33;

fn open(name: &str, flags: i32) -> i32 {
    let c = cstr(name);
    // SAFETY: a valid C string; the caller closes the fd.
    unsafe { libc::open(c.as_ptr(), flags, 0o644) }
}

fn close(fd: i32) {
    assert!(fd >= 0);
    // SAFETY: an fd this test opened.
    unsafe { libc::close(fd) };
}

/// This thread's name, as the kernel keeps it (at most 15 bytes).
fn set_comm(name: &str) {
    let c = cstr(name);
    // SAFETY: PR_SET_NAME reads a C string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr()) };
}

fn open_flags(ev: &peregrine_event::Event) -> u64 {
    ev.param(3).as_u64().unwrap_or(0)
}

#[test]
fn regular_files_stay_in_the_kernel_unless_a_rule_wants_them() {
    if common::skip_unless_privileged("regular_files_stay_in_the_kernel_unless_a_rule_wants_them") {
        return;
    }
    check(true);
}

/// The same where close's tracepoint cannot be had (no tracefs in a container).
#[test]
fn closes_are_told_apart_at_every_syscall_entry_without_tracefs() {
    if common::skip_unless_privileged(
        "closes_are_told_apart_at_every_syscall_entry_without_tracefs",
    ) {
        return;
    }
    check(false);
}

fn check(close_tracepoint: bool) {
    let dir =
        std::env::temp_dir().join(format!("pg-lean-{}-{close_tracepoint}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("w")).unwrap();
    std::fs::create_dir_all(dir.join("a..")).unwrap();
    let d = dir.to_str().unwrap().to_string();
    for f in ["hit", "miss", "w/x", "a../miss"] {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    let reads = RuleNeed {
        reads_fds: true,
        ..RuleNeed::default()
    };
    let mut needs = BTreeMap::new();
    needs.insert(
        "openat".to_string(),
        RuleNeed {
            failed: false,
            paths: Some(OpenFilter {
                any: NameSet {
                    exact: [format!("{d}/hit")].into(),
                    comms: ["pg-lean-comm".to_string()].into(),
                    dotdot: true,
                    ..NameSet::default()
                },
                write: NameSet {
                    prefixes: [format!("{d}/w/")].into(),
                    ..NameSet::default()
                },
                write_any: false,
            }),
            reads_fds: true,
        },
    );
    needs.insert("connect".to_string(), reads.clone());
    needs.insert("fchmod".to_string(), reads);
    let interest = plan(&needs, true);
    assert!(interest.lean(), "{interest:?}");
    let mut cap = Capture::with(ProbeOptions {
        ignore_tgid: None,
        buffer_bytes: 4 << 20,
        close_tracepoint,
        ..ProbeOptions::default()
    });
    let want = if close_tracepoint {
        "pg_close_enter"
    } else {
        "pg_close_enter_raw"
    };
    assert_eq!(cap.probe.close_notes(), Some(want));
    assert!(
        cap.probe.decide_lean(true),
        "this kernel cannot tell closes apart (the syscalls:sys_enter_close tracepoint)"
    );
    cap.probe.set_interest(&interest).unwrap();
    let openat = EventType::OPENAT;
    let close_t = EventType::from_name("close").unwrap();

    // A regular file no rule names: neither its open nor its close.
    let miss = format!("{d}/miss");
    assert!(cap
        .events_of(openat, || close(open(&miss, libc::O_RDONLY)))
        .is_empty());
    // A close whose task was switched out between its entry and exit is sent, to be safe:
    // rare, so most of these twenty stay in the kernel.
    let evs = cap.events_of(close_t, || {
        for _ in 0..20 {
            close(open(&miss, libc::O_RDONLY));
        }
    });
    assert!(evs.len() <= 5, "{evs:#?}");

    // One a rule names: the open, marked, and no close.
    let hit = format!("{d}/hit");
    let ev = cap.one(openat, || close(open(&hit, libc::O_RDONLY)));
    assert_eq!(ev.param(2), &ParamValue::Str(hit.clone()));
    assert_ne!(open_flags(&ev) & UNTRACKED, 0, "{ev:?}");
    let evs = cap.events_of(close_t, || {
        for _ in 0..20 {
            close(open(&hit, libc::O_RDONLY));
        }
    });
    assert!(evs.len() <= 5, "{evs:#?}");

    // Written below the rule's directory: sent; read there: not.
    let wx = format!("{d}/w/x");
    assert_eq!(
        cap.events_of(openat, || close(open(&wx, libc::O_WRONLY)))
            .len(),
        1
    );
    assert!(cap
        .events_of(openat, || close(open(&wx, libc::O_RDONLY)))
        .is_empty());

    // "../" in the name as given, a normal name all the same.
    let dots = format!("{d}/a../miss");
    assert_eq!(
        cap.events_of(openat, || close(open(&dots, libc::O_RDONLY)))
            .len(),
        1
    );

    // By a task the rules name.
    set_comm("pg-lean-comm");
    let by_name = cap.events_of(openat, || close(open(&miss, libc::O_RDONLY)));
    set_comm("lean_fds");
    assert_eq!(by_name.len(), 1, "{by_name:?}");

    // What the tables follow: a directory, a device, a socket, each with its close.
    for (name, flags) in [
        (d.as_str(), libc::O_RDONLY | libc::O_DIRECTORY),
        ("/dev/null", libc::O_RDONLY),
    ] {
        let mut fd = -1;
        let ev = cap.one(openat, || fd = open(name, flags));
        assert_eq!(open_flags(&ev) & UNTRACKED, 0, "{name}: {ev:?}");
        let ev = cap.one(close_t, || close(fd));
        assert_eq!(ev.param(1), &ParamValue::Int(i64::from(fd)), "{name}");
    }
    // SAFETY: a plain socket call.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(sock >= 0);
    cap.one(close_t, || close(sock));

    // fchmod of a file the tables leave out: the probe names it.
    let fd = open(&miss, libc::O_RDONLY);
    let ev = cap.one(EventType::from_name("fchmod").unwrap(), || {
        // SAFETY: our own fd.
        assert_eq!(unsafe { libc::fchmod(fd, 0o600) }, 0);
    });
    close(fd);
    assert_eq!(
        ev.fd.as_ref().map(|f| f.name.as_str()),
        Some(miss.as_str()),
        "{ev:?}"
    );

    // Counted: closes seen, and most of them filtered.
    let id = |n: &str| SYSCALL_NAMES.iter().find(|(_, x)| *x == n).unwrap().0;
    let tallies = cap.probe.syscall_tallies();
    let closes = tallies.iter().find(|t| t.id == id("close")).unwrap();
    assert!(
        closes.filtered >= 4 && closes.seen > closes.filtered,
        "{closes:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
