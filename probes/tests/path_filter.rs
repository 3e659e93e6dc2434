//! The rule-driven filter in the kernel program agrees with its model
//! (`KernelInterest::sends`): opens under `PG_PATH_FILTER` arrive only for the trie's names
//! and for names that are not their own normal form; names relative to a directory fd
//! arrive joined; a successful fchdir arrives as a chdir to the directory; failed calls no
//! rule wants never arrive; and every exit is counted as seen or filtered.

mod common;

use common::{cstr, gettid, int, s, Capture};
use peregrine_event::{EventType, SYSCALL_NAMES};
use peregrine_probes::interest::{plan, NameSet, OpenFilter, RuleNeed};
use peregrine_probes::ProbeOptions;
use std::collections::BTreeMap;
use std::time::Duration;

fn openat(dirfd: i32, name: &str) -> i32 {
    let c = cstr(name);
    // SAFETY: a valid C string; the fd is closed by the caller.
    unsafe { libc::openat(dirfd, c.as_ptr(), libc::O_RDONLY) }
}

#[test]
fn opens_pass_the_kernel_filter_as_modelled() {
    if common::skip_unless_privileged("opens_pass_the_kernel_filter_as_modelled") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("pg-pf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pre/deep")).unwrap();
    let d = dir.to_str().unwrap().to_string();
    for f in ["hit", "miss", "pre/a", "pre/deep/b", ".dot", "pre/.dot"] {
        std::fs::write(dir.join(f), "x").unwrap();
    }
    // Directories of 1 to 9 bytes put the '/' before a '.' or '/' at every offset within
    // the kernel's 8-byte words (and across a word's end).
    let widths: Vec<String> = (1..=9).map(|k| "w".repeat(k)).collect();
    for w in &widths {
        std::fs::create_dir_all(dir.join(w)).unwrap();
        std::fs::write(dir.join(w).join("miss"), "x").unwrap();
        std::fs::write(dir.join(w).join(".miss"), "x").unwrap();
    }
    let mut needs = BTreeMap::new();
    needs.insert(
        "openat".to_string(),
        RuleNeed {
            failed: false,
            paths: Some(OpenFilter {
                any: NameSet {
                    exact: [format!("{d}/hit")].into(),
                    prefixes: [format!("{d}/pre/")].into(),
                    ..NameSet::default()
                },
                ..OpenFilter::default()
            }),
            reads_fds: false,
        },
    );
    let interest = plan(&needs, true);
    let mut cap = Capture::with(ProbeOptions {
        ignore_tgid: None,
        syscalls: interest.clone(),
        buffer_bytes: 4 << 20,
        ..ProbeOptions::default()
    });
    let dirfd = openat(libc::AT_FDCWD, &d);
    assert!(dirfd >= 0);
    let pre = openat(libc::AT_FDCWD, &format!("{d}/pre"));

    // (dirfd, name as passed, fd.name it names, expected to arrive, name it arrives with)
    let mut cases: Vec<(i32, String, bool, String)> = vec![
        (libc::AT_FDCWD, format!("{d}/hit"), true, format!("{d}/hit")),
        (libc::AT_FDCWD, format!("{d}/miss"), false, String::new()),
        (libc::AT_FDCWD, format!("{d}/hitx"), false, String::new()),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/a"),
            true,
            format!("{d}/pre/a"),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/deep/b"),
            true,
            format!("{d}/pre/deep/b"),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}//miss"),
            true,
            format!("{d}//miss"),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}/./miss"),
            true,
            format!("{d}/./miss"),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/../miss"),
            true,
            format!("{d}/pre/../miss"),
        ),
        // Relative to the cwd (the crate directory): never judged in the kernel.
        (
            libc::AT_FDCWD,
            "Cargo.toml".into(),
            true,
            "Cargo.toml".into(),
        ),
        // Relative to a directory fd: joined in the kernel, then judged whole.
        (dirfd, "hit".into(), true, format!("{d}/hit")),
        (dirfd, "miss".into(), false, String::new()),
        (pre, "deep/b".into(), true, format!("{d}/pre/deep/b")),
        (
            dirfd,
            "pre/../miss".into(),
            true,
            format!("{d}/pre/../miss"),
        ),
        // Failed: no rule wants failed opens.
        (
            libc::AT_FDCWD,
            format!("{d}/hit-not-there"),
            false,
            String::new(),
        ),
        // A component starting with a dot is normal; a trailing slash or "." is not.
        (libc::AT_FDCWD, format!("{d}/.dot"), false, String::new()),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/.dot"),
            true,
            format!("{d}/pre/.dot"),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/"),
            true,
            format!("{d}/pre/"),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/."),
            true,
            format!("{d}/pre/."),
        ),
        (
            libc::AT_FDCWD,
            format!("{d}/pre/.."),
            true,
            format!("{d}/pre/.."),
        ),
    ];
    for w in &widths {
        for (tail, arrives) in [("/miss", false), ("/.miss", false), ("/./miss", true)] {
            let name = format!("{d}/{w}{tail}");
            cases.push((libc::AT_FDCWD, name.clone(), arrives, name));
        }
        let name = format!("{d}/{w}//miss");
        cases.push((libc::AT_FDCWD, name.clone(), true, name));
        let name = format!("{d}/{w}/../miss");
        cases.push((libc::AT_FDCWD, name.clone(), true, name));
    }
    for (at, name, arrives, shown) in &cases {
        let evs = cap.events_of(EventType::OPENAT, || {
            let fd = openat(*at, name);
            if fd >= 0 {
                // SAFETY: our own fd.
                unsafe { libc::close(fd) };
            }
        });
        let model_name = if *at == libc::AT_FDCWD || name.starts_with('/') {
            name.clone()
        } else if *arrives {
            shown.clone()
        } else {
            format!("{d}/{name}")
        };
        let ret = if name.contains("not-there") { -2 } else { 3 };
        assert_eq!(
            interest.sends("openat", ret, Some(&model_name)),
            *arrives,
            "the model disagrees on {name:?}"
        );
        assert_eq!(
            evs.len(),
            usize::from(*arrives),
            "{name:?} (dirfd {at}): {evs:#?}"
        );
        if let Some(ev) = evs.first() {
            assert_eq!(ev.param(2), &s(shown), "{name:?}");
            if *at != libc::AT_FDCWD && !name.starts_with('/') {
                assert_eq!(ev.param(1), &int(-100), "joined names read AT_FDCWD");
            }
        }
    }

    // fchdir: sent as a chdir to where the cwd went.
    let tid = gettid();
    let evs = cap.events_of(EventType::from_name("chdir").unwrap(), || {
        // SAFETY: a directory fd we own; the cwd is restored below.
        assert_eq!(unsafe { libc::fchdir(pre) }, 0);
    });
    std::env::set_current_dir("/").unwrap();
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0].tid, tid);
    assert_eq!(evs[0].param(1), &s(&format!("{d}/pre")));

    // Counted: openat seen and filtered; close not traced at all.
    std::thread::sleep(Duration::from_millis(20));
    let id = |n: &str| SYSCALL_NAMES.iter().find(|(_, x)| *x == n).unwrap().0;
    let tallies = cap.probe.syscall_tallies();
    let openat_tally = tallies.iter().find(|t| t.id == id("openat")).unwrap();
    assert!(openat_tally.filtered >= 4, "{openat_tally:?}");
    assert!(openat_tally.seen > openat_tally.filtered);
    assert!(tallies.iter().all(|t| t.id != id("close")), "{tallies:?}");
    // SAFETY: our own fds.
    unsafe {
        libc::close(dirfd);
        libc::close(pre);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
