//! The rest of the decoded syscalls through the real kernel programs: dup family,
//! credentials, namespaces, ptrace, bpf, modules, userfaultfd, cwd changes.

mod common;
use common::*;
use peregrine_event::{EventType, ParamValue};

#[test]
fn fd_and_cwd_calls() {
    if skip_unless_privileged("fd_and_cwd_calls") {
        return;
    }
    let mut cap = Capture::start();
    let p = cstr("/etc/hostname");
    // SAFETY: plain fd syscalls on our own fds.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY) } as i64;
    let mut d = 0;
    let ev = cap.one(EventType::DUP, || {
        d = unsafe { libc::dup(fd as i32) } as i64
    });
    assert_eq!(ev.params, vec![int(d), int(fd)]);
    let ev = cap.one(EventType::DUP2, || unsafe {
        libc::syscall(libc::SYS_dup2, fd, 200);
    });
    assert_eq!(ev.params, vec![int(200), int(fd), int(200)]);
    let ev = cap.one(EventType::DUP3, || unsafe {
        libc::dup3(fd as i32, 201, libc::O_CLOEXEC);
    });
    assert_eq!(
        ev.params,
        vec![int(201), int(fd), int(201), uint(libc::O_CLOEXEC as u64)]
    );
    let ev = cap.one(EventType::CLOSE, || unsafe {
        libc::close(999);
    });
    assert_eq!(ev.params, vec![int(-(libc::EBADF as i64)), int(999)]);
    for f in [d, 200, 201, fd] {
        unsafe { libc::close(f as i32) };
    }

    // chdir/fchdir: on a helper thread, since cwd is per process... and tests share it,
    // so change it to where it already is.
    let cwd = std::env::current_dir().unwrap();
    let c = cstr(cwd.to_str().unwrap());
    let ev = cap.one(EventType::CHDIR, || unsafe {
        libc::chdir(c.as_ptr());
    });
    assert_eq!(ev.params, vec![int(0), s(cwd.to_str().unwrap())]);
    let dfd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    let ev = cap.one(EventType::FCHDIR, || unsafe {
        libc::fchdir(dfd);
    });
    assert_eq!(ev.params, vec![int(0), int(dfd as i64)]);
    unsafe { libc::close(dfd) };
}

#[test]
fn credentials_namespaces_and_kernel_calls() {
    if skip_unless_privileged("credentials_namespaces_and_kernel_calls") {
        return;
    }
    let mut cap = Capture::start();
    // Run the identity-changing calls on a thread of their own: raw syscalls change only
    // that thread's credentials, and it exits afterwards.
    let (tid, evs) = {
        cap.clear();
        let tid = std::thread::spawn(|| {
            // SAFETY: raw per-thread syscalls; the thread ends right after.
            unsafe {
                libc::syscall(libc::SYS_setresgid, 0, 0, 0);
                libc::syscall(libc::SYS_setgid, 0);
                libc::syscall(libc::SYS_setresuid, 0, 0, 0);
                libc::syscall(libc::SYS_setuid, 0);
                libc::syscall(libc::SYS_unshare, 0x0002_0000 /* CLONE_NEWNS */);
                let ns = libc::open(c"/proc/self/ns/uts".as_ptr(), libc::O_RDONLY);
                libc::syscall(libc::SYS_setns, ns, 0x0400_0000 /* CLONE_NEWUTS */);
                libc::close(ns);
            }
            gettid()
        })
        .join()
        .unwrap();
        (
            tid,
            cap.collect(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_secs(3),
            ),
        )
    };
    let find = |t: EventType| {
        evs.iter()
            .find(|e| e.tid == tid && e.etype == t)
            .unwrap_or_else(|| panic!("no {} from {tid}", t.name()))
            .params
            .clone()
    };
    assert_eq!(find(EventType::SETUID), vec![int(0), uint(0)]);
    assert_eq!(find(EventType::SETGID), vec![int(0), uint(0)]);
    assert_eq!(
        find(EventType::SETRESUID),
        vec![int(0), uint(0), uint(0), uint(0)]
    );
    assert_eq!(
        find(EventType::SETRESGID),
        vec![int(0), uint(0), uint(0), uint(0)]
    );
    assert_eq!(find(EventType::UNSHARE), vec![int(0), uint(0x0002_0000)]);
    let setns = find(EventType::SETNS);
    assert_eq!((&setns[0], &setns[2]), (&int(0), &uint(0x0400_0000)));

    // setsid in a child that is no group leader: its result is the new session (its pid).
    cap.clear();
    let mut setsid = std::process::Command::new("setsid")
        .arg("true")
        .spawn()
        .unwrap();
    let child = setsid.id() as i64;
    assert!(setsid.wait().unwrap().success());
    let evs = cap.collect(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(3),
    );
    let setsid: Vec<_> = evs
        .iter()
        .filter(|e| e.etype == EventType::SETSID && e.pid == child)
        .collect();
    assert_eq!(setsid.len(), 1, "{evs:#?}");
    assert_eq!(setsid[0].params, vec![int(child)]);

    // ptrace on a pid that does not exist: request, pid, addr, data as passed.
    let ev = cap.one(EventType::PTRACE, || unsafe {
        libc::syscall(
            libc::SYS_ptrace,
            libc::PTRACE_ATTACH,
            0x7fff_fff0,
            0x1234,
            0x5678,
        );
    });
    assert_eq!(
        ev.params,
        vec![
            int(-(libc::ESRCH as i64)),
            uint(0x1234),
            uint(0x5678),
            uint(libc::PTRACE_ATTACH as u64),
            int(0x7fff_fff0)
        ]
    );
    // bpf with a bad attribute pointer: cmd and -EFAULT.
    let ev = cap.one(EventType::BPF, || unsafe {
        libc::syscall(libc::SYS_bpf, 0 /* BPF_MAP_CREATE */, 1usize, 64);
    });
    assert_eq!(ev.param(1), &uint(0));
    assert!(ev.param(0).as_i64().unwrap() < 0);
    // userfaultfd: flags and the new fd (or an error where it is restricted).
    let ev = cap.one(EventType::USERFAULTFD, || unsafe {
        let fd = libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC);
        if fd >= 0 {
            libc::close(fd as i32);
        }
    });
    assert_eq!(ev.param(1), &uint(libc::O_CLOEXEC as u64));
    // Module loading, refused: an empty image and a bad fd.
    let args = cstr("peregrine=1");
    let ev = cap.one(EventType::INIT_MODULE, || unsafe {
        let img = [0x7fu8, b'E', b'L', b'F'];
        libc::syscall(
            libc::SYS_init_module,
            img.as_ptr(),
            img.len(),
            args.as_ptr(),
        );
    });
    assert!(ev.param(0).as_i64().unwrap() < 0);
    assert_eq!(
        ev.param(1),
        &ParamValue::Bytes(vec![0x7f, b'E', b'L', b'F'])
    );
    assert_eq!(ev.param(2), &uint(4));
    assert_eq!(ev.param(3), &s("peregrine=1"));
    let ev = cap.one(EventType::FINIT_MODULE, || unsafe {
        libc::syscall(libc::SYS_finit_module, -1, args.as_ptr(), 0);
    });
    // EBADF, or ENOSYS on kernels built without module support.
    assert!(ev.param(0).as_i64().unwrap() < 0);
    assert_eq!(ev.params[1..], [int(-1), s("peregrine=1"), uint(0)]);
}

#[test]
fn own_process_and_uninteresting_calls_are_not_sent() {
    if skip_unless_privileged("own_process_and_uninteresting_calls_are_not_sent") {
        return;
    }
    // Ignoring this process: nothing from it arrives.
    let mut cap = Capture::with(peregrine_probes::ProbeOptions {
        syscalls: peregrine_probes::interest::all_syscall_ids().into(),
        buffer_bytes: 1 << 20,
        ..Default::default()
    });
    let evs = cap.events_of(EventType::OPENAT, || {
        let _ = std::fs::read("/etc/hostname");
    });
    assert!(evs.is_empty(), "{evs:#?}");
    drop(cap);
    // Only openat enabled: a mkdir is not sent.
    let mut cap = Capture::with(peregrine_probes::ProbeOptions {
        ignore_tgid: None,
        syscalls: std::collections::BTreeSet::from([257]).into(),
        buffer_bytes: 1 << 20,
        ..Default::default()
    });
    let evs = cap.events_of(EventType::MKDIR, || unsafe {
        libc::syscall(libc::SYS_mkdir, c"/nonexistent/x".as_ptr(), 0o700);
    });
    assert!(evs.is_empty(), "{evs:#?}");
    assert_eq!(
        cap.one(EventType::OPENAT, || {
            let _ = std::fs::read("/etc/hostname");
        })
        .param(2),
        &s("/etc/hostname")
    );
    let counters = cap.probe.counters();
    assert!(counters.iter().map(|c| c.n_evts).sum::<u64>() > 0);
    assert_eq!(counters.iter().map(|c| c.drops()).sum::<u64>(), 0);
}
