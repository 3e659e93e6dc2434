//! A scripted kernel event sequence on top of the real `/proc` bootstrap: the test process
//! (really running, read from /proc) forks a shell, which forks `cat`; cat opens a relative
//! path, dups it, closes it, starts a thread and exits. Every event is checked through the
//! fields the rules engine reads.

mod common;

use common::{field, get};
use peregrine_enrich::testing::{self as t, Exec};
use peregrine_enrich::{EnrichConfig, HostEnricher};
use peregrine_event::flags::open::{O_CLOEXEC, O_RDONLY};
use peregrine_event::{Event, L4Proto, SockTuple};

/// Above the kernel's largest pid_max (2^22): never a real process.
const SH: i64 = 5_000_001;
const CAT: i64 = 5_000_002;
const CAT_THREAD: i64 = 5_000_003;
const SEC: u64 = 1_000_000_000;

fn me() -> i64 {
    std::process::id() as i64
}

fn comm_of(pid: i64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim_end()
        .to_string()
}

struct Script {
    e: HostEnricher,
    ts: u64,
}

impl Script {
    fn run(&mut self, mut ev: Event) -> Event {
        self.ts += 1000;
        ev.ts = self.ts;
        let mut batch = vec![ev];
        self.e.enrich(&mut batch);
        batch.pop().unwrap()
    }
}

#[test]
fn fork_exec_open_dup_close_thread_exit() {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut s = Script {
        e: HostEnricher::new(EnrichConfig::default()),
        ts: start,
    };
    let ppid = std::os::unix::process::parent_id() as i64;
    let (my_comm, parent_comm) = (comm_of(me()), comm_of(ppid));

    // The test process forks: the child is a copy of us, parented to us.
    let ev = s.run(t::fork(0, SH, me(), &my_comm));
    assert_eq!(get(&ev, "proc.pid"), SH.to_string());
    assert_eq!(get(&ev, "proc.name"), my_comm);
    assert_eq!(get(&ev, "proc.pname"), my_comm);
    assert_eq!(get(&ev, "proc.aname[2]"), parent_comm);

    // It becomes a shell in /srv/app.
    let ev = s.run(
        Exec::new(SH, me(), "/bin/sh", &["sh", "-c", "cat data/in.txt"])
            .cwd("/srv/app")
            .event(0),
    );
    assert_eq!(get(&ev, "proc.name"), "sh");
    assert_eq!(get(&ev, "proc.cmdline"), "sh -c cat data/in.txt");
    assert_eq!(get(&ev, "proc.exepath"), "/bin/sh");
    assert_eq!(get(&ev, "proc.pname"), my_comm);
    assert_eq!(get(&ev, "user.name"), "root");

    // The shell forks cat.
    s.run(t::fork(0, CAT, SH, "sh"));
    let ev = s.run(Exec::new(CAT, SH, "/usr/bin/cat", &["cat", "data/in.txt"]).event(0));
    assert_eq!(
        get(&ev, "proc.cwd"),
        "/srv/app/",
        "cwd inherited through fork and exec (with Falco's trailing slash)"
    );
    assert_eq!(get(&ev, "proc.pname"), "sh");
    assert_eq!(get(&ev, "proc.pcmdline"), "sh -c cat data/in.txt");
    assert_eq!(get(&ev, "proc.aname[2]"), my_comm);
    assert_eq!(get(&ev, "proc.aname[3]"), parent_comm);
    assert_eq!(get(&ev, "proc.apid[2]"), me().to_string());
    assert_eq!(get(&ev, "proc.ppid"), SH.to_string());

    // cat opens a relative path (with a `..` in it).
    let ev = s.run(t::openat(
        0,
        CAT,
        CAT,
        -100,
        "data/../data/in.txt",
        O_RDONLY | O_CLOEXEC,
        3,
    ));
    assert_eq!(get(&ev, "fd.name"), "/srv/app/data/in.txt");
    assert_eq!(get(&ev, "fd.nameraw"), "data/../data/in.txt");
    assert_eq!(get(&ev, "fd.directory"), "/srv/app/data");
    assert_eq!(get(&ev, "fd.filename"), "in.txt");
    assert_eq!(get(&ev, "fd.typechar"), "f");
    assert_eq!(get(&ev, "fd.num"), "3");
    assert_eq!(get(&ev, "proc.name"), "cat");

    // dup2 onto stdin; then both fds resolve, the dup'd one to the same file.
    let ev = s.run(t::dup2(0, CAT, CAT, 3, 0));
    assert_eq!(get(&ev, "fd.num"), "0");
    assert_eq!(get(&ev, "fd.name"), "/srv/app/data/in.txt");
    let ev = s.run(t::close(0, CAT, CAT, 3));
    assert_eq!(
        get(&ev, "fd.name"),
        "/srv/app/data/in.txt",
        "close carries the fd it closed"
    );
    let ev = s.run(t::close(0, CAT, CAT, 3));
    assert_eq!(field(&ev, "fd.type"), None, "fd 3 is gone");
    assert_eq!(s.e.fd(CAT, 0).unwrap().name, "/srv/app/data/in.txt");

    // A thread of cat: same process, its own tid.
    let ev = s.run(t::thread(0, CAT_THREAD, CAT, "cat"));
    assert_eq!(get(&ev, "thread.tid"), CAT_THREAD.to_string());
    assert_eq!(get(&ev, "proc.pid"), CAT.to_string());
    assert_eq!(get(&ev, "thread.ismain"), "false");
    assert_eq!(get(&ev, "proc.pname"), "sh");
    // The thread connects somewhere: the fd belongs to the process.
    s.run(t::socket(0, CAT_THREAD, CAT, 2, 1, 4));
    let tuple = SockTuple::Inet {
        proto: L4Proto::Tcp,
        sip: "127.0.0.1".parse().unwrap(),
        sport: 41000,
        dip: "127.0.0.1".parse().unwrap(),
        dport: 5432,
    };
    let ev = s.run(t::connect(0, CAT_THREAD, CAT, 4, tuple, 0));
    assert_eq!(get(&ev, "fd.sip"), "127.0.0.1");
    assert_eq!(get(&ev, "fd.sport"), "5432");
    assert_eq!(get(&ev, "fd.typechar"), "4");
    assert_eq!(get(&ev, "fd.l4proto"), "tcp");
    let ev = s.run(t::touch(0, CAT, CAT));
    assert_eq!(get(&ev, "thread.ismain"), "true");

    // Exit: thread, then main thread; late events still see cat until the linger ends.
    s.run(t::procexit(0, CAT_THREAD, CAT, 0));
    let ev = s.run(t::procexit(0, CAT, CAT, SH));
    assert_eq!(get(&ev, "proc.name"), "cat");
    let ev = s.run(t::close(0, CAT, CAT, 0));
    assert_eq!(get(&ev, "proc.name"), "cat");
    assert_eq!(get(&ev, "fd.name"), "/srv/app/data/in.txt");
    s.ts += 10 * SEC;
    s.run(t::touch(0, SH, SH));
    assert!(s.e.process(CAT).is_none(), "dropped after the linger time");
    assert!(s.e.process(SH).is_some());

    // An event from a tid nobody knows (not in /proc either) still gets a process, counted.
    let ev = s.run(t::touch(0, 5_000_099, 5_000_099));
    assert_eq!(get(&ev, "proc.pid"), "5000099");
    let stats = s.e.stats();
    assert_eq!(stats.events_without_process, 1, "{stats:?}");
    assert_eq!(stats.proc_lookup_failures, 1);
}
