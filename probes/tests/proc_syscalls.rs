//! Process lifecycle through the real kernel programs: exec with all its fields, new
//! tasks, exits, failed execs, and a process that migrates between CPUs.

mod common;
use common::*;
use peregrine_event::{Event, EventType, ParamValue};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

fn strlist(v: &ParamValue) -> Vec<String> {
    match v {
        ParamValue::StrList(l) => l.to_vec(),
        other => panic!("not a string list: {other:?}"),
    }
}

fn of_pid(events: &[Event], pid: i64, etypes: &[EventType]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| e.tid == pid && etypes.contains(&e.etype))
        .cloned()
        .collect()
}

#[test]
fn exec_fork_and_exit() {
    if skip_unless_privileged("exec_fork_and_exit") {
        return;
    }
    let mut cap = Capture::start();
    cap.clear();
    let child = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .current_dir("/tmp")
        .env("PEREGRINE_TEST", "exec")
        .spawn()
        .unwrap();
    let cpid = child.id() as i64;
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(3));
    let events = cap.collect(Duration::from_millis(50), Duration::from_secs(3));
    let me = std::process::id() as i64;

    // The child's birth: one new-task event, ppid = us.
    let forks = of_pid(
        &events,
        cpid,
        &[
            EventType::CLONE,
            EventType::CLONE3,
            EventType::FORK,
            EventType::VFORK,
        ],
    );
    assert_eq!(forks.len(), 1, "{forks:#?}");
    let f = &forks[0];
    assert_eq!(
        (f.param(0), f.param(3), f.param(4), f.param(5)),
        (&int(0), &int(cpid), &int(cpid), &int(me))
    );
    assert_eq!(f.param(11), &int(cpid), "vtid in the host namespace");
    assert_eq!(f.param(8).as_u64().unwrap() & 0x10000, 0, "not a thread");

    // Its exec: every field.
    let execs = of_pid(&events, cpid, &[EventType::EXECVE]);
    assert_eq!(execs.len(), 1, "{execs:#?}");
    let e = &execs[0];
    assert_eq!(e.param(0), &int(0));
    assert_eq!(e.param(1), &s("/bin/sh"));
    assert_eq!(strlist(e.param(2)), ["-c", "exit 3"]);
    assert_eq!(
        (e.param(3), e.param(4), e.param(5)),
        (&int(cpid), &int(cpid), &int(me))
    );
    assert_eq!(e.param(6), &s("/tmp"));
    assert_eq!(e.param(7), &s("sh"));
    let cgroups = strlist(e.param(8));
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for line in own.lines() {
        // "4:memory:/process_api/…" -> "memory=/process_api/…"
        let mut parts = line.splitn(3, ':');
        let (_, sub, path) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        if !sub.is_empty() && !sub.starts_with("name=") {
            for s in sub.split(',') {
                // The kernel's own name for the v1 "blkio" controller is "io".
                let s = if s == "blkio" { "io" } else { s };
                let want = format!("{s}={path}");
                assert!(cgroups.contains(&want), "{want} not in {cgroups:?}");
            }
        }
    }
    assert!(strlist(e.param(9)).contains(&"PEREGRINE_TEST=exec".to_string()));
    let loginuid: u64 = std::fs::read_to_string("/proc/self/loginuid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(e.param(12), &uint(loginuid));
    let real = std::fs::canonicalize("/bin/sh").unwrap();
    let meta = std::fs::metadata(&real).unwrap();
    assert_eq!(e.param(17), &uint(meta.ino()));
    assert_eq!(
        e.param(19),
        &uint(meta.mtime() as u64 * 1_000_000_000 + meta.mtime_nsec() as u64)
    );
    // SAFETY: geteuid/getegid have no preconditions.
    assert_eq!(e.param(20), &uint(unsafe { libc::geteuid() } as u64));
    assert_eq!(e.param(21), &s(real.to_str().unwrap()));
    assert_eq!(e.param(23), &uint(unsafe { libc::getegid() } as u64));
    assert_eq!(e.param(24), &s("/bin/sh"));
    let caps = e.param(16).as_u64().unwrap();
    assert_ne!(caps & (1 << 21), 0, "root has CAP_SYS_ADMIN");

    // Its exit.
    let exits = of_pid(&events, cpid, &[EventType::PROCEXIT]);
    assert_eq!(exits.len(), 1, "{exits:#?}");
    assert_eq!(exits[0].param(1), &int(3));
    assert_eq!(exits[0].param(2), &uint(0));

    // Ordering: fork, then exec, then exit.
    assert!(f.ts <= e.ts && e.ts <= exits[0].ts);
}

#[test]
fn threads_and_failed_exec() {
    if skip_unless_privileged("threads_and_failed_exec") {
        return;
    }
    let mut cap = Capture::start();
    cap.clear();
    let tid = std::thread::spawn(gettid).join().unwrap();
    let events = cap.collect(Duration::from_millis(50), Duration::from_secs(3));
    let births = of_pid(&events, tid, &[EventType::CLONE, EventType::CLONE3]);
    assert_eq!(births.len(), 1, "{births:#?}");
    let t = &births[0];
    assert_eq!(t.pid, std::process::id() as i64);
    assert_eq!(t.param(4), &int(std::process::id() as i64));
    assert_ne!(t.param(8).as_u64().unwrap() & 0x10000, 0, "CLONE_THREAD");
    assert_eq!(of_pid(&events, tid, &[EventType::PROCEXIT]).len(), 1);

    let path = cstr("/nonexistent/peregrine-exec");
    let ev = cap.one(EventType::EXECVE, || {
        let argv = [path.as_ptr(), std::ptr::null()];
        // SAFETY: fails with ENOENT; argv is NULL-terminated.
        unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    });
    assert_eq!(ev.param(0), &int(-(libc::ENOENT as i64)));
    assert_eq!(ev.param(24), &s("/nonexistent/peregrine-exec"));
    assert_eq!(ev.param(1), &ParamValue::Absent);
}

fn pin(cpu: usize) -> std::io::Result<()> {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity on the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Fork on CPU 0, exec on CPU 1, exec again and open back on CPU 0: with one ring per CPU
/// the records arrive on different rings, and the reader must still put them in order so
/// the open gets the right process.
#[test]
fn migrating_process_keeps_its_identity() {
    migrating_process(0, "migrating_process_keeps_its_identity");
}

/// The same with each ring drained by its own probe actor thread: the reader only merges.
#[test]
fn migrating_process_keeps_its_identity_across_probe_actors() {
    migrating_process(
        2,
        "migrating_process_keeps_its_identity_across_probe_actors",
    );
}

fn migrating_process(actors: usize, test: &str) {
    if skip_unless_privileged(test) {
        return;
    }
    if std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        < 2
    {
        eprintln!("skipping {test}: needs two CPUs");
        return;
    }
    let mut cap = Capture::with_actors(
        peregrine_probes::ProbeOptions {
            ignore_tgid: None,
            syscalls: peregrine_probes::interest::all_syscall_ids().into(),
            buffer_bytes: 4 << 20,
            cpus_for_each_buffer: 1,
            ..Default::default()
        },
        actors,
    );
    assert!(cap.reader.ring_count() >= 2, "one ring per CPU");
    assert_eq!(cap.reader.actor_count(), actors);
    let mut enricher =
        peregrine_enrich::HostEnricher::new(peregrine_enrich::EnrichConfig::default());
    let _ = enricher.bootstrap();
    cap.clear();

    let spawner = std::thread::spawn(|| {
        pin(0).unwrap();
        let mut cmd = Command::new("/usr/bin/taskset");
        cmd.args(["-c", "0", "/bin/cat", "/etc/hostname"])
            .stdout(std::process::Stdio::null());
        // SAFETY: only async-signal-safe work between fork and exec.
        unsafe {
            cmd.pre_exec(|| pin(1));
        }
        let child = cmd.spawn().unwrap();
        let pid = child.id() as i64;
        child.wait_with_output().unwrap();
        pid
    });
    let pid = spawner.join().unwrap();
    let mut events = cap.collect(Duration::from_millis(50), Duration::from_secs(3));
    enricher.enrich(&mut events);

    let mine: Vec<&Event> = events.iter().filter(|e| e.pid == pid).collect();
    let fork = mine
        .iter()
        .find(|e| e.etype.is_clone())
        .expect("fork event");
    let execs: Vec<&&Event> = mine
        .iter()
        .filter(|e| e.etype == EventType::EXECVE)
        .collect();
    assert_eq!(execs.len(), 2, "taskset, then cat");
    let open = mine
        .iter()
        .find(|e| e.etype == EventType::OPENAT && e.param(2) == &s("/etc/hostname"))
        .expect("cat's open");
    assert_ne!(execs[0].cpu, execs[1].cpu, "the process really migrated");
    assert_eq!(open.cpu, execs[1].cpu);
    // Delivered in causal order despite coming from different rings.
    let pos = |e: &Event| events.iter().position(|x| std::ptr::eq(x, e)).unwrap();
    assert!(
        pos(fork) < pos(execs[0]) && pos(execs[0]) < pos(execs[1]) && pos(execs[1]) < pos(open)
    );
    let proc = open.process.as_ref().expect("enriched");
    assert_eq!(&*proc.name, "cat");
    assert_eq!(*proc.args, ["/etc/hostname"]);
    let parent = proc.parent.as_ref().expect("parent");
    assert_eq!(parent.pid, std::process::id() as i64);
    assert_eq!(
        open.fd.as_ref().map(|f| f.name.as_str()),
        Some("/etc/hostname")
    );
}

/// EXE_WRITABLE: could the user that exec'd the file write it? Root owns /bin/true (yes);
/// uid 65534 without capabilities may not write it (no), but may write a copy whose
/// "other" bits allow writing (yes).
#[test]
fn exe_writable_flag() {
    if skip_unless_privileged("exe_writable_flag") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pg-probes-writable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let open_copy = dir.join("true-0757");
    std::fs::copy("/bin/true", &open_copy).unwrap();
    std::fs::set_permissions(
        &open_copy,
        std::os::unix::fs::PermissionsExt::from_mode(0o757),
    )
    .unwrap();

    let mut cap = Capture::start();
    let mut flags_of = |path: &str, uid: Option<u32>| -> u64 {
        cap.clear();
        let mut cmd = Command::new(path);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let child = cmd.spawn().unwrap();
        let pid = child.id() as i64;
        assert!(child.wait_with_output().unwrap().status.success());
        let events = cap.collect(Duration::from_millis(50), Duration::from_secs(3));
        let execs = of_pid(&events, pid, &[EventType::EXECVE]);
        assert_eq!(execs.len(), 1, "{path}: {execs:#?}");
        execs[0].param(13).as_u64().unwrap()
    };
    const WRITABLE: u64 = 1;
    assert_ne!(
        flags_of("/bin/true", None) & WRITABLE,
        0,
        "root owns /bin/true"
    );
    assert_eq!(
        flags_of("/bin/true", Some(65534)) & WRITABLE,
        0,
        "nobody cannot write /bin/true"
    );
    assert_ne!(
        flags_of(open_copy.to_str().unwrap(), Some(65534)) & WRITABLE,
        0,
        "others may write the copy"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
