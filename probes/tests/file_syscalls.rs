//! File-system syscalls through the real kernel programs: each is triggered from this
//! thread and every decoded parameter checked.

mod common;
use common::*;
use peregrine_event::{EventType, ParamValue};

fn scratch_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("pg-probes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn open_family() {
    if skip_unless_privileged("open_family") {
        return;
    }
    let mut cap = Capture::start();
    let dir = scratch_dir("open");
    let path = dir.join("new.txt");
    let p = cstr(path.to_str().unwrap());

    // openat creating a file: fd, dirfd, name as passed, flags with the created bit, mode, ino.
    let mut fd = -1;
    let ev = cap.one(EventType::OPENAT, || {
        // SAFETY: valid C string, plain syscall.
        fd = unsafe {
            libc::openat(
                libc::AT_FDCWD,
                p.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY,
                0o640,
            )
        } as i64;
    });
    assert!(fd >= 0);
    let ino = std::fs::metadata(&path)
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    assert_eq!(ev.param(0), &int(fd));
    assert_eq!(ev.param(1), &int(-100));
    assert_eq!(ev.param(2), &s(path.to_str().unwrap()));
    let flags = ev.param(3).as_u64().unwrap();
    assert_eq!(flags & 0o3, libc::O_WRONLY as u64);
    assert_ne!(flags & libc::O_CREAT as u64, 0);
    assert_ne!(flags & (1 << 32), 0, "created bit");
    assert_eq!(ev.param(4), &uint(0o640));
    assert_eq!(ev.param(6), &uint(ino));
    assert_eq!(ev.pid, std::process::id() as i64);

    // Reopening the existing file: no created bit. A failed open: -errno and the name.
    let ev = cap.one(EventType::OPENAT, || {
        // SAFETY: as above.
        let fd2 = unsafe { libc::openat(libc::AT_FDCWD, p.as_ptr(), libc::O_RDONLY) };
        unsafe { libc::close(fd2) };
    });
    assert_eq!(ev.param(3).as_u64().unwrap() & (1 << 32), 0);
    let missing = cstr("/nonexistent/peregrine");
    let ev = cap.one(EventType::OPENAT, || {
        // SAFETY: as above.
        unsafe { libc::openat(libc::AT_FDCWD, missing.as_ptr(), libc::O_RDONLY) };
    });
    assert_eq!(ev.param(0), &int(-(libc::ENOENT as i64)));
    assert_eq!(ev.param(2), &s("/nonexistent/peregrine"));

    // open(2) and creat(2) themselves, through syscall(), with a relative path.
    let rel = cstr("new.txt");
    let dfd = {
        let d = cstr(dir.to_str().unwrap());
        // SAFETY: as above.
        unsafe { libc::open(d.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) }
    };
    let ev = cap.one(EventType::OPENAT, || {
        // SAFETY: as above.
        let f = unsafe { libc::openat(dfd, rel.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        unsafe { libc::close(f) };
    });
    assert_eq!(ev.param(1), &int(dfd as i64));
    assert_eq!(ev.param(2), &s("new.txt"));
    assert_ne!(ev.param(3).as_u64().unwrap() & libc::O_CLOEXEC as u64, 0);
    let ev = cap.one(EventType::OPEN, || {
        // SAFETY: raw open(2) with a valid path.
        let f = unsafe { libc::syscall(libc::SYS_open, p.as_ptr(), libc::O_RDWR, 0) };
        unsafe { libc::close(f as i32) };
    });
    assert!(ev.param(0).as_i64().unwrap() >= 0);
    assert_eq!(ev.param(1), &s(path.to_str().unwrap()));
    assert_eq!(ev.param(2).as_u64().unwrap() & 0o3, libc::O_RDWR as u64);
    let created = dir.join("creat.txt");
    let c = cstr(created.to_str().unwrap());
    let ev = cap.one(EventType::CREAT, || {
        // SAFETY: raw creat(2).
        let f = unsafe { libc::syscall(libc::SYS_creat, c.as_ptr(), 0o600) };
        unsafe { libc::close(f as i32) };
    });
    assert_eq!(ev.param(1), &s(created.to_str().unwrap()));
    assert_eq!(ev.param(2), &uint(0o600));

    // openat2 with its open_how.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: libc::O_RDONLY as u64,
        mode: 0,
        resolve: 0x04, /* RESOLVE_NO_SYMLINKS */
    };
    let ev = cap.one(EventType::OPENAT2, || {
        // SAFETY: openat2 with a valid struct and size.
        let f = unsafe {
            libc::syscall(
                437,
                libc::AT_FDCWD,
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        unsafe { libc::close(f as i32) };
    });
    assert!(ev.param(0).as_i64().unwrap() >= 0);
    assert_eq!(ev.param(2), &s(path.to_str().unwrap()));
    assert_eq!(ev.param(5), &uint(0x04));

    // close: the fd and result.
    let ev = cap.one(EventType::CLOSE, || {
        // SAFETY: closing our own fd.
        unsafe { libc::close(fd as i32) };
    });
    assert_eq!(ev.param(0), &int(0));
    assert_eq!(ev.param(1), &int(fd));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn path_family() {
    if skip_unless_privileged("path_family") {
        return;
    }
    let mut cap = Capture::start();
    let dir = scratch_dir("paths");
    let d = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let (a, b, sub) = (d("a"), d("b"), d("sub"));
    std::fs::write(&a, b"x").unwrap();
    let (ca, cb, csub) = (cstr(&a), cstr(&b), cstr(&sub));

    let ev = cap.one(EventType::MKDIR, || unsafe {
        libc::syscall(libc::SYS_mkdir, csub.as_ptr(), 0o750);
    });
    assert_eq!(ev.params, vec![int(0), s(&sub), uint(0o750)]);
    let ev = cap.one(EventType::CHMOD, || unsafe {
        libc::syscall(libc::SYS_chmod, ca.as_ptr(), 0o600);
    });
    assert_eq!(ev.params, vec![int(0), s(&a), uint(0o600)]);
    let ev = cap.one(EventType::FCHMODAT, || unsafe {
        libc::fchmodat(libc::AT_FDCWD, ca.as_ptr(), 0o644, 0);
    });
    assert_eq!(ev.params, vec![int(0), int(-100), s(&a), uint(0o644)]);
    let ev = cap.one(EventType::RENAME, || unsafe {
        libc::syscall(libc::SYS_rename, ca.as_ptr(), cb.as_ptr());
    });
    assert_eq!(ev.params, vec![int(0), s(&a), s(&b)]);
    let ev = cap.one(EventType::RENAMEAT2, || unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::AT_FDCWD,
            ca.as_ptr(),
            1, /* NOREPLACE */
        );
    });
    assert_eq!(
        ev.params,
        vec![int(0), int(-100), s(&b), int(-100), s(&a), uint(1)]
    );
    let link = d("link");
    let cl = cstr(&link);
    let ev = cap.one(EventType::SYMLINKAT, || unsafe {
        libc::symlinkat(ca.as_ptr(), libc::AT_FDCWD, cl.as_ptr());
    });
    assert_eq!(ev.params, vec![int(0), s(&a), int(-100), s(&link)]);
    let hard = d("hard");
    let ch = cstr(&hard);
    let ev = cap.one(EventType::LINKAT, || unsafe {
        libc::linkat(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, ch.as_ptr(), 0);
    });
    assert_eq!(
        ev.params,
        vec![int(0), int(-100), s(&a), int(-100), s(&hard), uint(0)]
    );
    let ev = cap.one(EventType::UNLINKAT, || unsafe {
        libc::unlinkat(libc::AT_FDCWD, ch.as_ptr(), 0);
    });
    assert_eq!(ev.params, vec![int(0), int(-100), s(&hard), uint(0)]);
    let ev = cap.one(EventType::UNLINK, || unsafe {
        libc::syscall(libc::SYS_unlink, cl.as_ptr());
    });
    assert_eq!(ev.params, vec![int(0), s(&link)]);
    let ev = cap.one(EventType::RMDIR, || unsafe {
        libc::syscall(libc::SYS_rmdir, csub.as_ptr());
    });
    assert_eq!(ev.params, vec![int(0), s(&sub)]);
    // A failure keeps its path and errno.
    let ev = cap.one(EventType::RMDIR, || unsafe {
        libc::syscall(libc::SYS_rmdir, csub.as_ptr());
    });
    assert_eq!(ev.params, vec![int(-(libc::ENOENT as i64)), s(&sub)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(ev.param(1), ParamValue::Str(_)));
}
