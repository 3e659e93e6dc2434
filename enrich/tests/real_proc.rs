//! The tables against this machine's real `/proc`: the test process itself, a child
//! started after the bootstrap, and one that is already gone.

mod common;

use common::get;
use peregrine_enrich::testing as t;
use peregrine_enrich::{EnrichConfig, HostEnricher};
use peregrine_event::{Event, FdKind, SocketRole};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn me() -> i64 {
    std::process::id() as i64
}

fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    i64::from(unsafe { libc::gettid() })
}

fn enrich(e: &mut HostEnricher, ev: Event) -> Event {
    let mut batch = vec![ev];
    e.enrich(&mut batch);
    batch.pop().unwrap()
}

/// The comm of the main thread: the executable's file name, cut to 15 bytes.
fn expected_comm() -> String {
    std::fs::read_to_string(format!("/proc/{}/comm", me()))
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn bootstrap_finds_this_process_with_its_parent_files_and_sockets() {
    let path = std::env::temp_dir().join(format!("peregrine-real-proc-{}", me()));
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"x").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();

    let mut e = HostEnricher::new(EnrichConfig::default());
    assert!(e.stats().bootstrapped > 1, "{:?}", e.stats());

    let p = e.process(me()).expect("the test process is in the table");
    assert_eq!(p.pid, me());
    assert_eq!(&*p.name, expected_comm());
    let exe = std::env::current_exe().unwrap();
    assert_eq!(&*p.exepath, exe.to_str().unwrap());
    let argv: Vec<String> = std::env::args().collect();
    assert_eq!(&*p.exe, argv[0]);
    assert_eq!(*p.args, argv[1..]);
    assert_eq!(&*p.cwd, std::env::current_dir().unwrap().to_str().unwrap());
    assert_eq!(&*p.container_id, "host");
    assert!(p.start_ts > 1_600_000_000_000_000_000 && p.start_ts <= now());
    let ppid = std::os::unix::process::parent_id() as i64;
    assert_eq!(p.ptid, ppid);
    let parent = p.parent.as_ref().expect("the parent is linked");
    assert_eq!(parent.pid, ppid);
    let parent_comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).unwrap();
    assert_eq!(&*parent.name, parent_comm.trim_end());

    let f = e
        .fd(me(), file.as_raw_fd() as i64)
        .expect("open file in the fd table");
    assert_eq!(
        (f.name.as_str(), f.kind),
        (path.to_str().unwrap(), FdKind::File)
    );
    let l = e
        .fd(me(), listener.as_raw_fd() as i64)
        .expect("listening socket");
    assert_eq!((l.kind, l.role), (FdKind::Ipv4, SocketRole::Server));
    assert_eq!(l.name, format!("127.0.0.1:{port}"));
    let c = e
        .fd(me(), client.as_raw_fd() as i64)
        .expect("client socket");
    assert_eq!(c.role, SocketRole::Client);
    assert!(
        c.name.ends_with(&format!("->127.0.0.1:{port}")),
        "{}",
        c.name
    );

    // An event of ours, from this thread: found, with the fields rules read.
    let ev = enrich(&mut e, t::touch(now(), gettid(), me()));
    assert_eq!(e.stats().process_hits, 1);
    assert_eq!(get(&ev, "proc.pid"), me().to_string());
    assert_eq!(get(&ev, "thread.tid"), gettid().to_string());
    assert_eq!(get(&ev, "proc.name"), expected_comm());
    assert_eq!(get(&ev, "proc.exepath"), exe.to_str().unwrap());
    assert_eq!(
        get(&ev, "proc.cmdline"),
        format!("{} {}", expected_comm(), argv[1..].join(" ")).trim_end()
    );
    assert_eq!(get(&ev, "proc.pname"), parent_comm.trim_end());
    assert_eq!(get(&ev, "proc.ppid"), ppid.to_string());
    assert_eq!(get(&ev, "container.id"), "host");
    assert_eq!(get(&ev, "user.uid"), geteuid().to_string());
    drop((file, listener, client));
    let _ = std::fs::remove_file(&path);
}

fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

#[test]
fn a_process_started_after_the_bootstrap_is_read_on_its_first_event() {
    let mut e = HostEnricher::new(EnrichConfig::default());
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i64;
    // Wait until the child has exec'd sleep: its name changes before its arguments are
    // in place (the kernel sets comm, then builds the new stack), so wait for both.
    let execd = || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.ends_with(b"30\0"))
    };
    for _ in 0..200 {
        if execd() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let ev = enrich(&mut e, t::touch(now(), pid, pid));
    let _ = child.kill();
    let _ = child.wait();
    let s = e.stats();
    assert_eq!((s.process_misses, s.proc_lookups), (1, 1), "{s:?}");
    assert_eq!(get(&ev, "proc.name"), "sleep");
    assert_eq!(get(&ev, "proc.args"), "30");
    assert_eq!(get(&ev, "proc.pname"), expected_comm());
    assert_eq!(get(&ev, "proc.ppid"), me().to_string());
    assert!(get(&ev, "proc.exepath").ends_with("/sleep"));
}

#[test]
fn a_vanished_process_gets_a_minimal_entry_and_is_counted() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i64;
    child.wait().unwrap();
    let mut e = HostEnricher::new(EnrichConfig {
        bootstrap: false,
        ..EnrichConfig::default()
    });
    let ev = enrich(&mut e, t::touch(now(), pid, pid));
    assert_eq!(get(&ev, "proc.pid"), pid.to_string());
    assert_eq!(get(&ev, "proc.name"), "");
    let s = e.stats();
    assert_eq!(
        (s.proc_lookup_failures, s.events_without_process),
        (1, 1),
        "{s:?}"
    );
    // The next one does not touch /proc again.
    enrich(&mut e, t::touch(now(), pid, pid));
    assert_eq!(e.stats().proc_lookups, 1);
}
