//! Table operations, one behaviour per test, on events-only tables (and a fake `/proc`).

use super::*;
use crate::fdtable::sock;
use crate::testing::{self as t, Exec};
use peregrine_event::flags::open::{O_CLOEXEC, O_DIRECTORY, O_RDONLY, O_WRONLY};
use peregrine_event::{FdKind, L4Proto, ParamValue, SockAddr, SockTuple, SocketRole};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peregrine-enrich-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("etc")).unwrap();
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/zsh\n",
    )
    .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nalice:x:1000:\n").unwrap();
    dir
}

fn cfg(root: &Path) -> EnrichConfig {
    EnrichConfig {
        host_root: root.to_path_buf(),
        proc_root: root.join("proc"),
        ..EnrichConfig::events_only()
    }
}

fn enricher(name: &str) -> HostEnricher {
    HostEnricher::new(cfg(&scratch(name)))
}

fn run(e: &mut HostEnricher, ev: Event) -> Event {
    let mut batch = vec![ev];
    e.enrich(&mut batch);
    batch.pop().unwrap()
}

/// init (1) → bash (100) at T0.
fn with_shell(e: &mut HostEnricher) {
    run(
        e,
        Exec::new(1, 0, "/sbin/init", &["/sbin/init"])
            .cwd("/")
            .event(T0),
    );
    run(e, t::fork(T0 + 1, 100, 1, "init"));
    run(
        e,
        Exec::new(100, 1, "/bin/bash", &["bash", "-l"])
            .cwd("/home/alice")
            .event(T0 + 2),
    );
}

fn proc_of(ev: &Event) -> &ProcessInfo {
    ev.process.as_deref().expect("event has a process")
}

#[test]
fn fork_copies_the_parent_and_links_to_it() {
    let mut e = enricher("fork");
    with_shell(&mut e);
    let ev = run(&mut e, t::fork(T0 + 10, 200, 100, "bash"));
    let p = proc_of(&ev);
    assert_eq!(
        (p.pid, p.tid, p.ptid, &*p.name, &*p.exepath),
        (200, 200, 100, "bash", "/bin/bash")
    );
    assert_eq!(*p.args, ["-l"]);
    assert_eq!(&*p.cwd, "/home/alice");
    assert_eq!(p.start_ts, T0 + 10);
    assert_eq!(p.parent.as_ref().unwrap().pid, 100);
    assert!(Arc::ptr_eq(
        p.parent.as_ref().unwrap(),
        &e.process(100).unwrap()
    ));

    let ev = run(
        &mut e,
        Exec::new(200, 100, "/usr/bin/cat", &["cat", "notes"]).event(T0 + 11),
    );
    let p = proc_of(&ev);
    assert_eq!(
        (&*p.name, &*p.exe, p.cmdline().as_str()),
        ("cat", "cat", "cat notes")
    );
    assert_eq!(
        &*p.cwd, "/home/alice",
        "cwd carried over when the exec does not report it"
    );
    let names: Vec<&str> = p.ancestors().map(|a| &*a.name).collect();
    assert_eq!(names, ["bash", "init"]);
    assert_eq!(p.start_ts, T0 + 10, "exec keeps the start time");
    let s = e.stats();
    assert_eq!(s.events_without_process, 0);
}

#[test]
fn threads_share_their_process_with_their_own_tid() {
    let mut e = enricher("threads");
    with_shell(&mut e);
    let ev = run(&mut e, t::thread(T0 + 10, 101, 100, "bash"));
    let p = proc_of(&ev);
    assert_eq!((p.pid, p.tid, p.vtid, &*p.name), (100, 101, 101, "bash"));
    assert_eq!(e.len(), 2, "a thread is not a process");

    let a = run(&mut e, t::touch(T0 + 11, 101, 100));
    let b = run(&mut e, t::touch(T0 + 12, 101, 100));
    assert!(
        Arc::ptr_eq(a.process.as_ref().unwrap(), b.process.as_ref().unwrap()),
        "view reused"
    );

    // A thread seen for the first time without its clone event is registered too.
    let c = run(&mut e, t::touch(T0 + 13, 102, 100));
    assert_eq!(proc_of(&c).tid, 102);
    assert_eq!(e.procs[&100].threads, 2);

    // The view follows process changes.
    run(&mut e, t::chdir(T0 + 14, 100, 100, "/tmp"));
    let d = run(&mut e, t::touch(T0 + 15, 101, 100));
    assert_eq!(&*proc_of(&d).cwd, "/tmp");
}

#[test]
fn failed_exec_changes_nothing() {
    let mut e = enricher("failed-exec");
    with_shell(&mut e);
    let before = e.process(100).unwrap();
    let ev = run(&mut e, t::failed_exec(T0 + 10, 100, "/nope", 2));
    assert!(Arc::ptr_eq(ev.process.as_ref().unwrap(), &before));
    assert!(Arc::ptr_eq(&e.process(100).unwrap(), &before));
}

#[test]
fn exec_replaces_the_snapshot_and_earlier_events_keep_theirs() {
    let mut e = enricher("exec-replace");
    with_shell(&mut e);
    let early = run(&mut e, t::touch(T0 + 10, 100, 100));
    run(
        &mut e,
        Exec::new(100, 1, "/usr/bin/python3", &["python3", "app.py"]).event(T0 + 11),
    );
    assert_eq!(&*proc_of(&early).name, "bash");
    assert_eq!(&*e.process(100).unwrap().name, "python3");
    assert_eq!(
        e.process(100).unwrap().parent.as_ref().unwrap().pid,
        1,
        "parent kept"
    );
}

#[test]
fn exec_refreshes_the_children_parent_links() {
    let mut e = enricher("exec-children");
    with_shell(&mut e);
    run(&mut e, t::fork(T0 + 10, 200, 100, "bash"));
    run(&mut e, t::fork(T0 + 11, 300, 200, "bash"));
    run(
        &mut e,
        Exec::new(100, 1, "/usr/bin/tmux", &["tmux"]).event(T0 + 12),
    );
    let ev = run(&mut e, t::touch(T0 + 13, 300, 300));
    let names: Vec<&str> = proc_of(&ev).ancestors().map(|a| &*a.name).collect();
    assert_eq!(names, ["bash", "tmux", "init"]);
}

#[test]
fn exited_processes_linger_then_go() {
    let root = scratch("linger");
    let mut e = HostEnricher::new(EnrichConfig {
        exited_linger: Duration::from_secs(5),
        ..cfg(&root)
    });
    with_shell(&mut e);
    run(&mut e, t::fork(T0 + 10, 200, 100, "bash"));
    let exit = run(&mut e, t::procexit(T0 + 20, 200, 200, 1));
    assert_eq!(proc_of(&exit).pid, 200, "the exit event has its process");
    let late = run(&mut e, t::touch(T0 + 21, 200, 200));
    assert_eq!(proc_of(&late).ptid, 100, "late events still find it");
    assert_eq!(e.stats().exited, 1);
    run(&mut e, t::touch(T0 + 20 + 5 * SEC, 100, 100));
    assert!(e.process(200).is_none());
    assert_eq!(e.stats().exited_dropped, 1);
    assert!(!e.procs[&100].children.contains(&200));
}

#[test]
fn exited_count_is_bounded() {
    let root = scratch("exited-bound");
    let mut e = HostEnricher::new(EnrichConfig {
        max_exited: 10,
        ..cfg(&root)
    });
    with_shell(&mut e);
    for pid in 1000..1050 {
        run(&mut e, t::fork(T0 + pid as u64, pid, 100, "bash"));
        run(&mut e, t::procexit(T0 + pid as u64, pid, pid, 1));
    }
    assert!(e.stats().exited <= 10);
    assert_eq!(e.stats().exited_dropped, 40);
}

#[test]
fn children_of_a_dead_process_go_to_the_reaper() {
    let mut e = enricher("reaper");
    with_shell(&mut e);
    run(&mut e, t::fork(T0 + 10, 200, 100, "bash"));
    run(&mut e, t::fork(T0 + 11, 300, 200, "bash"));
    run(
        &mut e,
        Exec::new(300, 200, "/usr/bin/sleep", &["sleep", "100"]).event(T0 + 12),
    );
    run(&mut e, t::procexit(T0 + 13, 200, 200, 1));
    let ev = run(&mut e, t::touch(T0 + 14, 300, 300));
    let p = proc_of(&ev);
    assert_eq!((p.ptid, &*p.parent.as_ref().unwrap().name), (1, "init"));
    assert!(e.procs[&1].children.contains(&300));
}

#[test]
fn a_thread_exit_does_not_end_its_process() {
    let mut e = enricher("thread-exit");
    with_shell(&mut e);
    run(&mut e, t::thread(T0 + 10, 101, 100, "bash"));
    run(&mut e, t::procexit(T0 + 11, 101, 100, 0));
    assert_eq!(e.procs[&100].threads, 0);
    assert!(e.procs[&100].exit_ts.is_none());
    // Main thread leaves first; the process lives while another thread does.
    run(&mut e, t::thread(T0 + 12, 102, 100, "bash"));
    run(&mut e, t::procexit(T0 + 13, 100, 100, 0));
    run(&mut e, t::touch(T0 + 10 * SEC, 102, 100));
    assert!(e.process(100).is_some(), "thread 102 still runs");
    run(&mut e, t::procexit(T0 + 11 * SEC, 102, 100, 0));
    run(&mut e, t::touch(T0 + 20 * SEC, 1, 1));
    assert!(e.process(100).is_none());
}

/// setsid's result is the new session's id (the caller's pid), as libsinsp's parser
/// reads it; a failed call changes nothing.
#[test]
fn setsid_starts_a_session() {
    let mut e = enricher("setsid");
    with_shell(&mut e);
    let before = proc_of(&run(&mut e, t::touch(T0 + 5, 100, 100))).sid;
    let setsid = |res: i64| Event {
        pid: 100,
        ..Event::new(EventType::SETSID, T0 + 10, 100, vec![ParamValue::Int(res)])
    };
    assert_eq!(proc_of(&run(&mut e, setsid(-1))).sid, before);
    let ev = run(&mut e, setsid(100));
    assert_eq!(proc_of(&ev).sid, 100, "the setsid event itself shows it");
    assert!(proc_of(&ev).session_leader_name.is_none());
    assert_eq!(proc_of(&run(&mut e, t::touch(T0 + 11, 100, 100))).sid, 100);
    assert_ne!(before, 100, "the shell starts in another session");
}

#[test]
fn setuid_and_setgid_change_the_user() {
    let mut e = enricher("setuid");
    with_shell(&mut e);
    let ev = run(&mut e, t::touch(T0 + 5, 100, 100));
    assert_eq!(proc_of(&ev).user.as_ref().unwrap().name.as_ref(), "root");
    let ev = run(&mut e, t::setuid(T0 + 10, 100, 100, 1000));
    let p = proc_of(&ev);
    assert_eq!(
        (p.uid, p.user.as_ref().unwrap().name.as_ref()),
        (1000, "alice")
    );
    assert_eq!(p.user.as_ref().unwrap().homedir.as_ref(), "/home/alice");
    // Failed calls and "unchanged" (-1) change nothing.
    let mut failed = t::setuid(T0 + 11, 100, 100, 0);
    failed.params[0] = ParamValue::Int(-1);
    assert_eq!(proc_of(&run(&mut e, failed)).uid, 1000);
    let res = Event {
        pid: 100,
        ..Event::new(
            EventType::SETRESGID,
            T0 + 12,
            100,
            vec![
                ParamValue::Int(0),
                ParamValue::Uint(u32::MAX.into()),
                ParamValue::Uint(1000),
                ParamValue::Int(-1),
            ],
        )
    };
    let p = run(&mut e, res);
    assert_eq!(
        (
            proc_of(&p).gid,
            proc_of(&p).group.as_ref().unwrap().name.as_ref()
        ),
        (1000, "alice")
    );
    let unknown = run(&mut e, t::setuid(T0 + 13, 100, 100, 4242));
    assert!(
        proc_of(&unknown).user.is_none(),
        "unknown uid: no user (rules show <NA>)"
    );
    let id = u32::MAX;
    let keep = Event {
        pid: 100,
        ..Event::new(
            EventType::SETRESUID,
            T0 + 14,
            100,
            vec![
                ParamValue::Int(0),
                ParamValue::Uint(0),
                ParamValue::Uint(id.into()),
                ParamValue::Uint(0),
            ],
        )
    };
    assert_eq!(proc_of(&run(&mut e, keep)).uid, 4242);
}

#[test]
fn chdir_and_fchdir_move_the_cwd() {
    let mut e = enricher("chdir");
    with_shell(&mut e);
    let ev = run(&mut e, t::chdir(T0 + 10, 100, 100, "../bob/./src"));
    assert_eq!(&*proc_of(&ev).cwd, "/home/bob/src");
    run(
        &mut e,
        t::openat(T0 + 11, 100, 100, -100, "/var/log", O_DIRECTORY, 7),
    );
    let fchdir = Event {
        pid: 100,
        ..Event::new(
            EventType::FCHDIR,
            T0 + 12,
            100,
            vec![ParamValue::Int(0), ParamValue::Int(7)],
        )
    };
    let ev = run(&mut e, fchdir);
    assert_eq!(&*proc_of(&ev).cwd, "/var/log");
    assert_eq!(ev.fd.as_ref().unwrap().kind, FdKind::Directory);
}

#[test]
fn opens_are_named_by_absolute_path() {
    let mut e = enricher("open");
    with_shell(&mut e);
    let cases: [(Event, &str, &str); 5] = [
        (
            t::openat(T0 + 10, 100, 100, -100, "notes.txt", O_RDONLY, 3),
            "/home/alice/notes.txt",
            "notes.txt",
        ),
        (
            t::openat(T0 + 11, 100, 100, -100, "../../etc/./shadow", O_RDONLY, 4),
            "/etc/shadow",
            "../../etc/./shadow",
        ),
        (
            t::open(T0 + 12, 100, 100, "/etc//passwd", O_RDONLY, 5),
            "/etc/passwd",
            "/etc//passwd",
        ),
        (
            t::openat(T0 + 13, 100, 100, -100, "/usr/lib", O_DIRECTORY, 6),
            "/usr/lib",
            "/usr/lib",
        ),
        (
            t::openat(
                T0 + 14,
                100,
                100,
                6,
                "x86_64/libc.so.6",
                O_RDONLY | O_CLOEXEC,
                7,
            ),
            "/usr/lib/x86_64/libc.so.6",
            "x86_64/libc.so.6",
        ),
    ];
    for (ev, name, raw) in cases {
        let ev = run(&mut e, ev);
        let fd = ev.fd.as_ref().unwrap();
        assert_eq!((fd.name.as_str(), fd.nameraw.as_str()), (name, raw));
        assert_eq!(e.fd(100, fd.num).unwrap().name, name);
    }
    assert_eq!(e.fd(100, 6).unwrap().kind, FdKind::Directory);
    assert_eq!(e.fd(100, 3).unwrap().kind, FdKind::File);
    // Unknown dirfd: Falco's marker.
    let ev = run(&mut e, t::openat(T0 + 15, 100, 100, 55, "x", O_RDONLY, 8));
    assert_eq!(ev.fd.as_ref().unwrap().name, "<UNKNOWN>/x");
    // Failed open: no fd, nothing stored.
    let ev = run(
        &mut e,
        t::openat(T0 + 16, 100, 100, -100, "missing", O_RDONLY, -2),
    );
    assert!(ev.fd.is_none() && ev.process.is_some());
    assert!(e.fd(100, -2).is_none());
    // creat
    let creat = Event {
        pid: 100,
        ..Event::new(
            EventType::CREAT,
            T0 + 17,
            100,
            vec![ParamValue::Int(9), ParamValue::Str("out.log".into())],
        )
    };
    let fd = run(&mut e, creat).fd.unwrap();
    assert_eq!(fd.name, "/home/alice/out.log");
    assert_ne!(fd.flags & O_WRONLY, 0);
}

#[test]
fn dup_copies_and_close_removes_after_attaching() {
    let mut e = enricher("dup");
    with_shell(&mut e);
    run(
        &mut e,
        t::openat(T0 + 10, 100, 100, -100, "a.txt", O_RDONLY | O_CLOEXEC, 3),
    );
    let ev = run(&mut e, t::dup2(T0 + 11, 100, 100, 3, 1));
    let fd = ev.fd.as_ref().unwrap();
    assert_eq!(
        (fd.num, fd.name.as_str(), fd.flags & O_CLOEXEC),
        (1, "/home/alice/a.txt", 0)
    );
    assert!(!fd.name_changed, "fd 1 was not known before");
    run(
        &mut e,
        t::openat(T0 + 12, 100, 100, -100, "b.txt", O_RDONLY, 4),
    );
    let ev = run(&mut e, t::dup2(T0 + 13, 100, 100, 4, 1));
    assert!(
        ev.fd.as_ref().unwrap().name_changed,
        "dup2 over another file"
    );
    assert!(
        !e.fd(100, 1).unwrap().name_changed,
        "the table keeps it unflagged"
    );

    let ev = run(&mut e, t::close(T0 + 14, 100, 100, 3));
    assert_eq!(ev.fd.as_ref().unwrap().name, "/home/alice/a.txt");
    assert!(e.fd(100, 3).is_none());
    let ev = run(&mut e, t::close(T0 + 15, 100, 100, 3));
    assert!(ev.fd.is_none(), "closing an unknown fd");
    assert_eq!(e.fd(100, 1).unwrap().name, "/home/alice/b.txt");
}

#[test]
fn without_regular_files_the_table_keeps_only_what_the_kernel_closes() {
    let root = scratch("lean");
    let mut e = HostEnricher::new(EnrichConfig {
        keep_regular_files: false,
        ..cfg(&root)
    });
    with_shell(&mut e);
    // A socket at fd 3, then a regular file the probe marks as left out gets number 4: the
    // event names it, without the mark, and the table does not keep it.
    run(&mut e, t::socket(T0 + 10, 100, 100, 2, 1, 3));
    let mut open = t::openat(T0 + 11, 100, 100, -100, "a.txt", O_RDONLY, 4);
    let ParamValue::Uint(flags) = &mut open.params[3] else {
        panic!("{open:?}")
    };
    *flags |= fdevents::O_F_UNTRACKED;
    let ev = run(&mut e, open);
    assert_eq!(ev.fd.as_ref().unwrap().name, "/home/alice/a.txt");
    assert_eq!(ev.param(3), &ParamValue::Uint(O_RDONLY), "mark taken off");
    assert!(e.fd(100, 4).is_none());
    // A directory (no mark): kept, as its close will come.
    run(
        &mut e,
        t::openat(T0 + 12, 100, 100, -100, "/tmp", O_RDONLY | O_DIRECTORY, 5),
    );
    assert_eq!(e.fd(100, 5).unwrap().kind, FdKind::Directory);
    // dup2 of the file it does not know over the socket: the socket's entry goes.
    let ev = run(&mut e, t::dup2(T0 + 13, 100, 100, 4, 3));
    assert!(ev.fd.is_none(), "{ev:?}");
    assert!(
        e.fd(100, 3).is_none(),
        "the socket's number holds the file now"
    );
    // fchmod of a file the table leaves out: named as the probe named it.
    let mut fchmod = Event::new(
        EventType::FCHMOD,
        T0 + 14,
        100,
        vec![
            ParamValue::Int(0),
            ParamValue::Int(4),
            ParamValue::Uint(0o4755),
        ],
    );
    fchmod.pid = 100;
    fchmod.fd = Some(Arc::new(FdInfo {
        num: 4,
        kind: FdKind::File,
        name: "/home/alice/a.txt".into(),
        ..FdInfo::default()
    }));
    let ev = run(&mut e, fchmod);
    assert_eq!(ev.fd.as_ref().unwrap().name, "/home/alice/a.txt");
}

fn tcp(sip: &str, sport: u16, dip: &str, dport: u16) -> SockTuple {
    SockTuple::Inet {
        proto: L4Proto::Tcp,
        sip: sip.parse().unwrap(),
        sport,
        dip: dip.parse().unwrap(),
        dport,
    }
}

#[test]
fn sockets_connect_accept_bind_listen() {
    let mut e = enricher("sockets");
    with_shell(&mut e);
    let ev = run(
        &mut e,
        t::socket(T0 + 10, 100, 100, sock::AF_INET, sock::SOCK_STREAM, 5),
    );
    let fd = ev.fd.as_ref().unwrap();
    assert_eq!(
        (fd.kind, fd.l4proto, fd.name.as_str()),
        (FdKind::Ipv4, Some(L4Proto::Tcp), "")
    );
    let ev = run(
        &mut e,
        t::connect(
            T0 + 11,
            100,
            100,
            5,
            tcp("10.0.0.1", 40000, "10.0.0.2", 443),
            0,
        ),
    );
    let fd = ev.fd.as_ref().unwrap();
    assert_eq!(fd.name, "10.0.0.1:40000->10.0.0.2:443");
    assert_eq!((fd.role, fd.connected), (SocketRole::Client, true));
    assert!(fd.name_changed, "the connect named the socket");
    assert!(
        !e.fd(100, 5).unwrap().name_changed,
        "the table keeps it unflagged"
    );
    // A failed connect leaves the fd as it was.
    run(
        &mut e,
        t::socket(T0 + 12, 100, 100, sock::AF_INET, sock::SOCK_STREAM, 6),
    );
    let ev = run(
        &mut e,
        t::connect(
            T0 + 13,
            100,
            100,
            6,
            tcp("10.0.0.1", 40001, "10.0.0.3", 80),
            -111,
        ),
    );
    assert_eq!(ev.fd.as_ref().unwrap().name, "");
    // Non-blocking connect in progress counts.
    let ev = run(
        &mut e,
        t::connect(
            T0 + 14,
            100,
            100,
            6,
            tcp("10.0.0.1", 40001, "10.0.0.3", 80),
            -115,
        ),
    );
    assert!(ev.fd.as_ref().unwrap().connected);

    // Server side: socket, bind, listen, accept.
    run(
        &mut e,
        t::socket(T0 + 20, 100, 100, sock::AF_INET6, sock::SOCK_STREAM, 7),
    );
    let bind = Event {
        pid: 100,
        ..Event::new(
            EventType::BIND,
            T0 + 21,
            100,
            vec![
                ParamValue::Int(0),
                ParamValue::Addr(SockAddr::Inet {
                    ip: "::".parse().unwrap(),
                    port: 8443,
                }),
                ParamValue::Int(7),
            ],
        )
    };
    let fd = run(&mut e, bind).fd.unwrap();
    assert_eq!(
        (fd.name.as_str(), fd.role, fd.kind),
        (":::8443", SocketRole::Server, FdKind::Ipv6)
    );
    let listen = Event {
        pid: 100,
        ..Event::new(
            EventType::LISTEN,
            T0 + 22,
            100,
            vec![ParamValue::Int(0), ParamValue::Int(7), ParamValue::Int(128)],
        )
    };
    assert_eq!(run(&mut e, listen).fd.unwrap().num, 7);
    let ev = run(
        &mut e,
        t::accept(
            T0 + 23,
            100,
            100,
            8,
            tcp("192.168.1.9", 50000, "192.168.1.2", 8443),
        ),
    );
    let fd = ev.fd.as_ref().unwrap();
    assert_eq!(
        (fd.role, fd.kind, fd.name.as_str()),
        (
            SocketRole::Server,
            FdKind::Ipv4,
            "192.168.1.9:50000->192.168.1.2:8443"
        )
    );
}

#[test]
fn udp_peers_come_from_send_and_receive() {
    let mut e = enricher("udp");
    with_shell(&mut e);
    run(
        &mut e,
        t::socket(T0 + 10, 100, 100, sock::AF_INET, sock::SOCK_DGRAM, 5),
    );
    let udp = |sport, dport| SockTuple::Inet {
        proto: L4Proto::Udp,
        sip: "10.0.0.1".parse().unwrap(),
        sport,
        dip: "10.0.0.53".parse().unwrap(),
        dport,
    };
    let sendto = |ts, tuple: SockTuple| Event {
        pid: 100,
        ..Event::new(
            EventType::SENDTO,
            ts,
            100,
            vec![
                ParamValue::Int(30),
                ParamValue::Absent,
                ParamValue::Int(5),
                ParamValue::Uint(30),
                ParamValue::Tuple(tuple),
            ],
        )
    };
    let a = run(&mut e, sendto(T0 + 11, udp(1000, 53))).fd.unwrap();
    assert_eq!(
        (a.name.as_str(), a.role, a.name_changed),
        ("10.0.0.1:1000->10.0.0.53:53", SocketRole::Client, false)
    );
    let b = run(&mut e, sendto(T0 + 12, udp(1000, 53))).fd.unwrap();
    assert!(!b.name_changed);
    let c = run(&mut e, sendto(T0 + 13, udp(1000, 5353))).fd.unwrap();
    assert!(c.name_changed);
    assert!(c.name.ends_with(":5353"));
}

#[test]
fn fork_shares_the_fd_table_copy_on_write() {
    let mut e = enricher("cow");
    with_shell(&mut e);
    run(
        &mut e,
        t::openat(T0 + 10, 100, 100, -100, "shared.txt", O_RDONLY, 3),
    );
    run(
        &mut e,
        t::openat(T0 + 11, 100, 100, -100, "secret", O_RDONLY | O_CLOEXEC, 4),
    );
    run(&mut e, t::fork(T0 + 12, 200, 100, "bash"));
    assert!(Arc::ptr_eq(&e.procs[&100].fds, &e.procs[&200].fds));
    let ev = run(&mut e, t::close(T0 + 13, 200, 200, 3));
    assert_eq!(
        ev.fd.unwrap().name,
        "/home/alice/shared.txt",
        "inherited fd"
    );
    assert!(e.fd(200, 3).is_none());
    assert!(e.fd(100, 3).is_some(), "the parent's table is untouched");
    run(
        &mut e,
        Exec::new(200, 100, "/usr/bin/cat", &["cat"]).event(T0 + 14),
    );
    assert!(e.fd(200, 4).is_none(), "close-on-exec fd gone after exec");
    assert!(e.fd(100, 4).is_some());
}

#[test]
fn unknown_processes_get_a_minimal_entry_and_are_counted() {
    let mut e = enricher("unknown");
    let ev = run(&mut e, t::touch(T0, 4242, 4242));
    let p = proc_of(&ev);
    assert_eq!(
        (p.pid, p.tid, &*p.name, &*p.container_id),
        (4242, 4242, "", "host")
    );
    let ev = run(&mut e, t::touch(T0 + 1, 4243, 4242));
    assert_eq!(proc_of(&ev).tid, 4243);
    let s = e.stats();
    assert_eq!(
        (s.process_misses, s.process_hits, s.events_without_process),
        (1, 1, 2)
    );
    // An exec fills it in.
    let ev = run(
        &mut e,
        Exec::new(4242, 1, "/bin/true", &["true"]).event(T0 + 2),
    );
    assert_eq!(&*proc_of(&ev).name, "true");
    run(&mut e, t::touch(T0 + 3, 4242, 4242));
    assert_eq!(e.stats().events_without_process, 2);
}

#[test]
fn preenriched_events_pass_through() {
    let mut e = enricher("preenriched");
    let mut ev = t::touch(T0, 7, 7);
    let info = Arc::new(ProcessInfo {
        pid: 7,
        name: "given".into(),
        ..Default::default()
    });
    ev.process = Some(info.clone());
    let ev = run(&mut e, ev);
    assert!(Arc::ptr_eq(ev.process.as_ref().unwrap(), &info));
    assert_eq!(e.stats().preenriched, 1);
    assert!(e.is_empty());
}

#[test]
fn tables_stay_within_their_size() {
    let root = scratch("evict");
    let mut e = HostEnricher::new(EnrichConfig {
        max_processes: 64,
        max_threads: 32,
        ..cfg(&root)
    });
    with_shell(&mut e);
    for i in 0..500i64 {
        let pid = 1000 + i;
        run(&mut e, t::fork(T0 + 10 + i as u64, pid, 100, "bash"));
        run(
            &mut e,
            t::thread(T0 + 10 + i as u64, 100_000 + i, pid, "bash"),
        );
    }
    assert!(e.len() <= 64, "{}", e.len());
    assert!(e.threads.len() <= 32);
    let s = e.stats();
    assert!(s.process_evictions > 0 && s.thread_evictions > 0, "{s:?}");
    // The newest survive.
    assert!(e.process(1499).is_some());
}

#[test]
fn container_id_comes_from_the_exec_cgroups_and_is_inherited() {
    let mut e = enricher("container");
    with_shell(&mut e);
    let id = "8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
    run(&mut e, t::fork(T0 + 10, 500, 100, "conmon"));
    let conmon_cg = format!("memory=/libpod_parent/libpod-conmon-{id}");
    let ev = run(
        &mut e,
        Exec::new(500, 100, "/usr/bin/conmon", &["conmon"])
            .cgroups(&[&conmon_cg])
            .event(T0 + 11),
    );
    assert_eq!(
        &*proc_of(&ev).container_id,
        "host",
        "conmon is not in the container"
    );
    run(&mut e, t::fork(T0 + 12, 501, 500, "conmon"));
    let cg = format!("memory=/libpod_parent/libpod-{id}");
    let ev = run(
        &mut e,
        Exec::new(501, 500, "/bin/sh", &["sh"])
            .cgroups(&["cpuset=/", &cg])
            .event(T0 + 13),
    );
    assert_eq!(&*proc_of(&ev).container_id, "8f1c2d3e4a5b");
    assert_eq!(e.container_full_id(501).as_deref(), Some(id));
    let ev = run(&mut e, t::fork(T0 + 14, 502, 501, "sh"));
    assert_eq!(
        &*proc_of(&ev).container_id,
        "8f1c2d3e4a5b",
        "inherited on fork"
    );
    let ev = run(
        &mut e,
        Exec::new(600, 100, "/bin/ls", &["ls"])
            .cgroups(&["memory=/process_api/9c2a9112d929dbfa8292c8f38afefe4d"])
            .event(T0 + 15),
    );
    assert_eq!(&*proc_of(&ev).container_id, "host");
}

/// A fake `/proc/<pid>` entry.
struct FakeProc<'a> {
    pid: i64,
    ppid: i64,
    comm: &'a str,
    argv: &'a [&'a str],
    cgroup: &'a str,
}

fn fake_proc(root: &Path, p: FakeProc<'_>) {
    let dir = root.join("proc").join(p.pid.to_string());
    fs::create_dir_all(dir.join("fd")).unwrap();
    fs::write(
        dir.join("stat"),
        format!(
            "{} ({}) S {} {} {} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0",
            p.pid, p.comm, p.ppid, p.pid, p.pid
        ),
    )
    .unwrap();
    fs::write(
        dir.join("status"),
        format!("Name:\t{}\nTgid:\t{}\nPPid:\t{}\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nNSpid:\t{}\n", p.comm, p.pid, p.ppid, p.pid),
    )
    .unwrap();
    let cmdline: Vec<u8> = p.argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    fs::write(dir.join("cmdline"), cmdline).unwrap();
    fs::write(dir.join("cgroup"), p.cgroup).unwrap();
    fs::write(dir.join("loginuid"), "1000").unwrap();
    std::os::unix::fs::symlink("/tmp", dir.join("cwd")).unwrap();
    std::os::unix::fs::symlink(format!("/usr/bin/{}", p.comm), dir.join("exe")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.join("fd/3")).unwrap();
    std::os::unix::fs::symlink("pipe:[777]", dir.join("fd/4")).unwrap();
}

#[test]
fn misses_are_looked_up_in_proc_with_their_ancestors() {
    let root = scratch("fake-proc");
    fake_proc(
        &root,
        FakeProc {
            pid: 10,
            ppid: 0,
            comm: "supervisor",
            argv: &["supervisor", "-d"],
            cgroup: "0::/\n",
        },
    );
    fake_proc(
        &root,
        FakeProc {
            pid: 20,
            ppid: 10,
            comm: "worker",
            argv: &["worker"],
            cgroup: "0::/\n",
        },
    );
    fake_proc(
        &root,
        FakeProc {
            pid: 30,
            ppid: 20,
            comm: "kworker/0:1",
            argv: &[],
            cgroup: "garbage",
        },
    );
    // A comm that is not UTF-8 (prctl allows any bytes) and an empty status file.
    fake_proc(
        &root,
        FakeProc {
            pid: 40,
            ppid: 20,
            comm: "x",
            argv: &["x"],
            cgroup: "",
        },
    );
    fs::write(
        root.join("proc/40/stat"),
        b"40 (bad\xff) S 20 40 40 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0",
    )
    .unwrap();
    fs::write(root.join("proc/40/status"), b"").unwrap();
    let mut e = HostEnricher::new(EnrichConfig {
        proc_lookup_on_miss: true,
        proc_fds: true,
        ..cfg(&root)
    });
    let ev = run(&mut e, t::touch(T0, 30, 30));
    let p = proc_of(&ev);
    assert_eq!(
        (&*p.name, &*p.exe, p.args.len()),
        ("kworker/0:1", "kworker/0:1", 0),
        "no cmdline: exe is the comm"
    );
    let names: Vec<&str> = p.ancestors().map(|a| &*a.name).collect();
    assert_eq!(names, ["worker", "supervisor"]);
    assert_eq!(
        p.parent
            .as_ref()
            .unwrap()
            .user
            .as_ref()
            .unwrap()
            .name
            .as_ref(),
        "alice"
    );
    assert_eq!(p.loginuser.as_ref().unwrap().name.as_ref(), "alice");
    assert_eq!(e.stats().proc_lookups, 3);
    // fds came along; an fd not read at load time is looked up on use.
    assert_eq!(e.fd(30, 3).unwrap().name, "/etc/hostname");
    assert_eq!(e.fd(30, 4).unwrap().kind, FdKind::Pipe);
    std::os::unix::fs::symlink("/var/log/syslog", root.join("proc/30/fd/9")).unwrap();
    let fchmod = Event {
        pid: 30,
        ..Event::new(
            EventType::FCHMOD,
            T0 + 1,
            30,
            vec![
                ParamValue::Int(0),
                ParamValue::Int(9),
                ParamValue::Uint(0o644),
            ],
        )
    };
    assert_eq!(
        run(&mut e, fchmod.clone()).fd.unwrap().name,
        "/var/log/syslog"
    );
    assert_eq!(e.stats().fd_proc_lookups, 1);
    // Missing fds are remembered.
    let mut missing = fchmod;
    missing.params[1] = ParamValue::Int(77);
    assert!(run(&mut e, missing.clone()).fd.is_none());
    assert!(run(&mut e, missing).fd.is_none());
    assert_eq!(e.stats().fd_proc_lookups, 2);

    // A pid /proc does not have: one lookup, then the negative cache / minimal entry.
    let ev = run(&mut e, t::touch(T0 + 2, 99, 99));
    assert_eq!(proc_of(&ev).pid, 99);
    let s = e.stats();
    assert_eq!((s.proc_lookup_failures, s.events_without_process), (1, 1));
    // Bootstrap reads the same tree.
    let mut b = HostEnricher::new(EnrichConfig {
        bootstrap: true,
        proc_fds: true,
        ..cfg(&root)
    });
    assert_eq!(b.stats().bootstrapped, 4);
    assert_eq!(&*b.process(40).unwrap().name, "bad\u{fffd}");
    let ev = run(&mut b, t::touch(T0, 30, 30));
    assert_eq!(proc_of(&ev).ancestors().count(), 2);
    assert_eq!(b.stats().process_hits, 1);
    assert!(b.bootstrap().is_ok());
}

#[test]
fn a_fork_older_than_the_proc_snapshot_keeps_it() {
    let root = scratch("fork-race");
    fake_proc(
        &root,
        FakeProc {
            pid: 10,
            ppid: 0,
            comm: "sh",
            argv: &["sh"],
            cgroup: "0::/\n",
        },
    );
    fake_proc(
        &root,
        FakeProc {
            pid: 20,
            ppid: 10,
            comm: "cat",
            argv: &["cat", "x"],
            cgroup: "0::/\n",
        },
    );
    let mut e = HostEnricher::new(EnrichConfig {
        bootstrap: true,
        ..cfg(&root)
    });
    // A fork event from before the bootstrap read (event time 0 < wall clock now).
    let ev = run(&mut e, t::fork(1, 20, 10, "sh"));
    assert_eq!(&*proc_of(&ev).name, "cat");
    assert_eq!(*proc_of(&ev).args, ["x"]);
}

#[test]
fn every_event_gets_a_process_even_when_the_table_is_full() {
    let root = scratch("full-minimal");
    let mut e = HostEnricher::new(EnrichConfig {
        max_processes: 16,
        ..cfg(&root)
    });
    for pid in 1..200 {
        let ev = run(&mut e, t::touch(T0 + pid as u64, pid, pid));
        assert_eq!(proc_of(&ev).pid, pid);
    }
    assert!(e.len() <= 17, "{}", e.len());
    assert_eq!(e.stats().events_without_process, 199);
}

#[test]
fn the_enricher_can_move_to_the_enrichment_thread() {
    fn send<T: Send + 'static>() {}
    send::<HostEnricher>();
    fn sync<T: Send + Sync>() {}
    sync::<crate::SharedStats>();
}

#[test]
fn runc_init_in_the_container_cgroup_is_not_the_container() {
    let mut e = enricher("runc-init");
    with_shell(&mut e);
    let id = "8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d";
    let cg = format!("memory=/libpod_parent/libpod-{id}");
    run(&mut e, t::fork(T0 + 10, 500, 100, "bash"));
    // runc re-executes itself from a memfd copy as `runc init`, already in the cgroup.
    let mut runc_init = Exec::new(500, 100, "/dev/fd/6", &["runc", "init"]).cgroups(&[&cg]);
    runc_init.comm = "runc".into();
    let ev = run(&mut e, runc_init.event(T0 + 11));
    assert_eq!(&*proc_of(&ev).container_id, "host");
    assert_eq!(e.container_full_id(500), None);
    // runc:[1:CHILD] → runc:[2:INIT], which execs the container's command.
    let ev = run(&mut e, t::fork(T0 + 12, 501, 500, "runc:[1:CHILD]"));
    assert_eq!(&*proc_of(&ev).container_id, "host");
    let ev = run(
        &mut e,
        Exec::new(501, 500, "/bin/cat", &["cat", "/etc/shadow"])
            .cgroups(&[&cg])
            .event(T0 + 13),
    );
    assert_eq!(&*proc_of(&ev).container_id, "8f1c2d3e4a5b");
}
