//! `import`: the committed Falco capture (`tests/data/falco-workload.scap`, see its README)
//! converted end to end, and bad versions of it refused with the offset where they go wrong.

use peregrine::capture::CaptureReader;
use peregrine_event::flags::open;
use peregrine_event::{
    Event, EventType, FdKind, L4Proto, ParamValue, SockAddr, SockTuple, SocketRole,
};
use peregrine_loadtest::scap::{self, ImportOptions, ImportReport, ScapError};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/falco-workload.scap"
);

/// Process ids of the workload as Falco recorded them (see the data README).
const WORKLOAD_SH: i64 = 20712;
const PYTHON: i64 = 20713;
const SLEEP: i64 = 20717;
const CAT: i64 = 20718;
const BASH_TCP: i64 = 20721;
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A fresh directory per call (tests run in parallel).
fn tmp(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pg-import-{}-{name}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Imports the committed capture and reads the result back.
fn imported() -> (ImportReport, Vec<Event>, peregrine::capture::CaptureHeader) {
    let dir = tmp("ok");
    let out = dir.join("workload.cap");
    let report = scap::import(Path::new(CAPTURE), &out).unwrap();
    let mut reader = CaptureReader::open(&out).unwrap();
    let header = reader.header.clone();
    let mut events = Vec::new();
    while let Some(ev) = reader.next_event() {
        events.push(ev.unwrap());
    }
    std::fs::remove_dir_all(&dir).ok();
    (report, events, header)
}

fn one<'a>(events: &'a [Event], what: &str, f: impl Fn(&Event) -> bool) -> &'a Event {
    let found: Vec<&Event> = events.iter().filter(|e| f(e)).collect();
    assert_eq!(found.len(), 1, "{what}: {found:#?}");
    found[0]
}

#[test]
fn the_report_counts_everything_read() {
    let (r, events, header) = imported();
    assert_eq!(r.events_read, 262);
    assert_eq!(r.events_written, 158);
    assert_eq!(events.len(), 158);
    // The user and group metaevents feed the user table; Peregrine models neither prlimit
    // nor fcntl (fcntl's F_DUPFD still feeds the fd table).
    let unconverted: Vec<(&str, u64)> = r
        .unconverted
        .iter()
        .map(|(name, n)| (name.as_str(), *n))
        .collect();
    assert_eq!(
        unconverted,
        [
            ("groupadded", 49),
            ("useradded", 26),
            ("fcntl", 15),
            ("prlimit", 9)
        ]
    );
    // The caller's side of the five forks: used for the tables, not written.
    assert_eq!(r.parent_clones, 5);
    assert_eq!(
        r.events_read,
        r.events_written
            + r.unconverted.iter().map(|(_, n)| n).sum::<u64>()
            + r.parent_clones
            + r.state_only
            + r.malformed_events
    );
    assert_eq!((r.malformed_events, r.malformed_params), (0, 0));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // The tables the capture starts with.
    assert_eq!((r.threads, r.processes, r.fds), (6, 6, 17));
    assert_eq!((r.users, r.groups, r.interfaces), (26, 49, 5));
    assert!(r.skipped_blocks.is_empty());
    // Every event's thread was known: from the process list or a clone seen before it.
    assert_eq!(
        (r.missing_processes, r.unknown_fds, r.orphan_fds),
        (0, 0, 0)
    );
    assert_eq!(r.hostname, "vm");
    assert!(r.compressed && !r.truncated);
    assert_eq!(header.hostname, "vm");
    assert_eq!(header.producer, "scap-import");

    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.num, i as u64 + 1);
        assert!((r.first_ts..=r.last_ts).contains(&e.ts), "{e:?}");
        let p = e
            .process
            .as_ref()
            .unwrap_or_else(|| panic!("no process: {e:?}"));
        assert_eq!((e.pid, p.pid), (p.pid, e.pid));
        assert!(e.pid > 0 && e.etype.is_modelled());
        // These machines' /process_api cgroups are not containers for Peregrine.
        assert_eq!(&*p.container_id, "host");
        assert!(e.container.is_none());
    }
    let count = |t: EventType| events.iter().filter(|e| e.etype == t).count();
    assert_eq!(count(EventType::EXECVE), 7);
    assert_eq!(count(EventType::CLONE), 5);
    assert_eq!(count(EventType::PROCEXIT), 7);
    assert_eq!(count(EventType::CONNECT), 5);
}

#[test]
fn the_shadow_read_has_its_path_process_and_user() {
    let (_, events, _) = imported();
    let ev = one(&events, "open of /etc/shadow", |e| {
        e.etype.is_open() && e.param(2).as_str() == Some("/etc/shadow")
    });
    assert_eq!(ev.etype, EventType::OPENAT);
    assert_eq!(ev.res(), Some(3));
    assert_eq!(ev.param(1), &ParamValue::Int(-100), "AT_FDCWD");
    assert_eq!(ev.param(3), &ParamValue::Uint(open::O_RDONLY));
    let fd = ev.fd.as_ref().unwrap();
    assert_eq!(
        (fd.num, fd.kind, fd.name.as_str()),
        (3, FdKind::File, "/etc/shadow")
    );

    let p = ev.process.as_ref().unwrap();
    assert_eq!((ev.tid, ev.pid, p.pid, p.tid), (CAT, CAT, CAT, CAT));
    assert_eq!(p.name.as_ref(), "cat");
    assert_eq!(p.cmdline(), "cat /etc/shadow");
    assert_eq!(p.exepath.as_ref(), "/usr/bin/cat");
    assert_eq!(p.cwd.as_ref(), "/tmp/pgscap/");
    assert_eq!(p.uid, 0);
    assert_eq!(p.user.as_ref().unwrap().name.as_ref(), "root");
    assert_eq!(p.group.as_ref().unwrap().name.as_ref(), "root");
    assert_eq!(p.loginuid, u32::MAX);
    assert!(p.loginuser.is_none());
    // Its parent is the workload script, whose parents are the shells that ran it.
    let parent = p.parent.as_ref().unwrap();
    assert_eq!((parent.pid, parent.name.as_ref()), (WORKLOAD_SH, "bash"));
    assert_eq!(parent.cmdline(), "bash ./workload.sh");
    assert_eq!(p.ptid, WORKLOAD_SH);
    assert_eq!(
        p.ancestors().count(),
        4,
        "bash ×3 kept by the fixture filter"
    );
    // The env the capture has (scrubbed when the fixture was made).
    assert_eq!(*p.env, ["PATH=/usr/bin:/bin", "HOME=/root"]);
}

#[test]
fn the_execs_of_the_workload_carry_their_arguments() {
    let (_, events, _) = imported();
    let execs: Vec<(&str, Vec<String>)> = events
        .iter()
        .filter(|e| e.etype == EventType::EXECVE)
        .map(|e| {
            let p = e.process.as_ref().unwrap();
            (p.name.as_ref(), p.args.to_vec())
        })
        .collect();
    assert_eq!(
        execs,
        vec![
            ("sleep", vec!["0.31".to_string()]),
            ("cat", vec!["/etc/shadow".to_string()]),
            ("ls", vec!["/tmp".to_string()]),
            (
                "bash",
                vec![
                    "-c".to_string(),
                    "echo child-of-bash > /dev/null; /bin/true".to_string()
                ]
            ),
            ("true", vec![]),
            (
                "bash",
                vec![
                    "-c".to_string(),
                    "exec 3<>/dev/tcp/127.0.0.1/39123; echo hello >&3; exec 3>&-".to_string()
                ]
            ),
            ("sleep", vec!["28".to_string()]),
        ]
    );
    let cat = one(&events, "exec of cat", |e| {
        e.etype == EventType::EXECVE && e.tid == CAT
    });
    assert_eq!(cat.res(), Some(0));
    assert_eq!(cat.param(1).as_str(), Some("cat"), "exe (argv[0])");
    assert_eq!(
        cat.param(2),
        &ParamValue::StrList(["/etc/shadow".to_string()].into())
    );
    assert_eq!(cat.param(4), &ParamValue::Int(CAT), "pid");
    assert_eq!(cat.param(5), &ParamValue::Int(WORKLOAD_SH), "ptid");
    assert_eq!(
        cat.param(21).as_str(),
        Some("/usr/bin/cat"),
        "trusted_exepath"
    );
    assert_eq!(cat.param(24).as_str(), Some("/usr/bin/cat"), "filename");
    // The fork before the exec: reported for the child, as Peregrine's probes report it.
    let fork = one(&events, "fork of cat", |e| {
        e.etype == EventType::CLONE && e.tid == CAT
    });
    assert_eq!(fork.res(), Some(0));
    assert_eq!(fork.param(5), &ParamValue::Int(WORKLOAD_SH));
    assert_eq!(fork.process.as_ref().unwrap().name.as_ref(), "bash");
    assert!(fork.ts < cat.ts);
    // The trigger: sleep, already running when the capture started (from the process list).
    let sleep = one(&events, "exec of sleep 0.31", |e| {
        e.etype == EventType::EXECVE && e.tid == SLEEP
    });
    assert_eq!(sleep.num, 1);
}

#[test]
fn the_connect_and_its_accept_name_both_ends() {
    let (_, events, _) = imported();
    let tuple = SockTuple::Inet {
        proto: L4Proto::Tcp,
        sip: LOCALHOST,
        sport: 44582,
        dip: LOCALHOST,
        dport: 39123,
    };
    let connect = one(&events, "connect to the listener", |e| {
        e.etype == EventType::CONNECT && e.res() == Some(0)
    });
    assert_eq!(connect.param(1), &ParamValue::Tuple(tuple.clone()));
    assert_eq!(connect.param(2), &ParamValue::Int(3));
    assert_eq!(
        connect.param(3),
        &ParamValue::Addr(SockAddr::Inet {
            ip: LOCALHOST,
            port: 39123
        })
    );
    let fd = connect.fd.as_ref().unwrap();
    assert_eq!(fd.name, "127.0.0.1:44582->127.0.0.1:39123");
    assert_eq!(
        (fd.kind, fd.l4proto, fd.role, fd.connected),
        (FdKind::Ipv4, Some(L4Proto::Tcp), SocketRole::Client, true)
    );
    let p = connect.process.as_ref().unwrap();
    assert_eq!(p.pid, BASH_TCP);
    assert!(p
        .cmdline()
        .starts_with("bash -c exec 3<>/dev/tcp/127.0.0.1/39123"));
    // The failed connects before it (nscd's unix socket): no tuple, the socket as it was.
    let failed: Vec<&Event> = events
        .iter()
        .filter(|e| e.etype == EventType::CONNECT && e.res() != Some(0))
        .collect();
    assert_eq!(failed.len(), 4);
    for e in failed {
        assert_eq!(e.param(1), &ParamValue::Absent);
        assert_eq!(e.fd.as_ref().unwrap().kind, FdKind::Unix);
    }
    // bash then dups the socket onto stdout: the new fd is the same connection.
    let dup = one(&events, "dup2 of the socket", |e| {
        e.etype == EventType::DUP2 && e.tid == BASH_TCP && e.param(1) == &ParamValue::Int(3)
    });
    assert_eq!(dup.fd.as_ref().unwrap().name, fd.name);

    // The server side, in the python process that was listening before the capture began.
    let accept = one(&events, "accept", |e| e.etype == EventType::ACCEPT4);
    assert_eq!(accept.pid, PYTHON);
    assert_eq!(accept.param(1), &ParamValue::Tuple(tuple));
    let afd = accept.fd.as_ref().unwrap();
    assert_eq!((afd.num, afd.role), (4, SocketRole::Server));
    assert_eq!(afd.name, fd.name);
    let recv = one(&events, "recvfrom", |e| e.etype == EventType::RECVFROM);
    assert_eq!(recv.param(1), &ParamValue::Bytes(b"hello\n".to_vec()));
    assert_eq!(recv.fd.as_ref().unwrap().name, fd.name);
    // The listening socket came from the capture's fd list.
    let close_listener = one(&events, "close of the listener", |e| {
        e.etype == EventType::CLOSE && e.pid == PYTHON && e.fd_num() == Some(3)
    });
    let lfd = close_listener.fd.as_ref().unwrap();
    assert_eq!(
        (lfd.name.as_str(), lfd.kind, lfd.role, lfd.l4proto),
        (
            "127.0.0.1:39123",
            FdKind::Ipv4,
            SocketRole::Server,
            Some(L4Proto::Tcp)
        )
    );
}

#[test]
fn directory_opens_are_not_o_tmpfile() {
    let (_, events, _) = imported();
    let ls = one(&events, "ls opens /tmp", |e| {
        e.etype == EventType::OPENAT && e.param(2).as_str() == Some("/tmp")
    });
    assert_eq!(
        ls.param(3),
        &ParamValue::Uint(open::O_RDONLY | open::O_NONBLOCK | open::O_DIRECTORY | open::O_CLOEXEC)
    );
    assert_eq!(ls.fd.as_ref().unwrap().kind, FdKind::Directory);
}

/// The committed capture, decompressed.
fn plain() -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(CAPTURE).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn block_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut pos = 0;
    while pos + 8 <= data.len() {
        starts.push(pos);
        pos += u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) as usize;
    }
    starts
}

fn import_bytes(
    dir: &Path,
    name: &str,
    data: &[u8],
    opts: &ImportOptions,
) -> Result<ImportReport, ScapError> {
    let src = dir.join(name);
    std::fs::write(&src, data).unwrap();
    scap::import_with(&src, &dir.join("out.cap"), opts)
}

#[test]
fn cut_captures_are_refused_with_the_offset_of_the_cut_block() {
    let dir = tmp("cut");
    let data = plain();
    let starts = block_starts(&data);
    // Inside the section header, then in every block's header, and inside some bodies.
    let mut cuts: Vec<usize> = (1..data.len()).step_by(997).collect();
    for (i, s) in starts.iter().enumerate() {
        cuts.push(s + 1);
        if i % 5 == 0 {
            cuts.extend([s + 7, s + 9]);
        }
    }
    cuts.retain(|c| *c < data.len() && !starts.contains(c));
    let lenient = ImportOptions {
        allow_truncated: true,
    };
    for (i, cut) in cuts.into_iter().enumerate() {
        let e = import_bytes(&dir, "cut.scap", &data[..cut], &ImportOptions::default())
            .expect_err("a cut file is an error");
        let text = e.to_string();
        assert!(text.contains("cut.scap: byte "), "{text}");
        match &e {
            ScapError::Truncated { at, .. } => {
                // The offset is the start of the block the cut falls in.
                let block = starts.iter().rev().find(|s| **s < cut).unwrap();
                assert_eq!(at.offset, *block as u64, "cut at {cut}: {text}");
            }
            ScapError::NotScap { .. } => assert!(cut < 12, "cut at {cut}: {text}"),
            other => panic!("cut at {cut}: {other}"),
        }
        // Leniently: the events before the cut, and a note of where it stopped.
        if cut >= 12 && i % 4 == 0 {
            let r = import_bytes(&dir, "cut.scap", &data[..cut], &lenient).unwrap();
            assert!(r.truncated && r.events_written <= 158, "cut at {cut}");
            assert!(
                r.warnings.last().unwrap().contains("truncated"),
                "{:?}",
                r.warnings
            );
        }
    }
    // The compressed file cut short: an error, never a panic.
    let gz = std::fs::read(CAPTURE).unwrap();
    for cut in (2..gz.len()).step_by(211) {
        let e = import_bytes(&dir, "cut.scap.gz", &gz[..cut], &ImportOptions::default())
            .expect_err("a cut gzip file is an error");
        assert!(
            matches!(
                e,
                ScapError::Truncated { .. } | ScapError::NotScap { .. } | ScapError::Corrupt { .. }
            ),
            "cut at {cut}: {e}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupt_lengths_and_magic_are_refused_where_they_are() {
    let dir = tmp("corrupt");
    let data = plain();
    let starts = block_starts(&data);
    // The process list block (the fifth) with a length that overruns: refused at its start,
    // before anything the length claims is allocated.
    let pl = starts[4];
    assert_eq!(
        u32::from_le_bytes(data[pl..pl + 4].try_into().unwrap()),
        0x215
    );
    for evil in [u32::MAX, 0x7fff_ffff, 1 << 29] {
        let mut bad = data.clone();
        bad[pl + 4..pl + 8].copy_from_slice(&evil.to_le_bytes());
        let e = import_bytes(&dir, "bad.scap", &bad, &ImportOptions::default()).unwrap_err();
        assert!(matches!(e, ScapError::TooLarge { .. }), "{e}");
        assert_eq!(e.offset(), Some(pl as u64), "{e}");
    }
    // A length that frames but whose trailer disagrees.
    let mut bad = data.clone();
    let len = u32::from_le_bytes(bad[pl + 4..pl + 8].try_into().unwrap());
    bad[pl + 4..pl + 8].copy_from_slice(&(len - 4).to_le_bytes());
    let e = import_bytes(&dir, "bad.scap", &bad, &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, ScapError::Corrupt { .. }), "{e}");
    assert_eq!(e.offset(), Some(pl as u64));
    // The first process entry's own length corrupted: refused at that entry.
    let mut bad = data.clone();
    bad[pl + 8..pl + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = import_bytes(&dir, "bad.scap", &bad, &ImportOptions::default()).unwrap_err();
    assert_eq!(e.offset(), Some(pl as u64 + 8), "{e}");
    assert!(e.to_string().contains("process entry length"), "{e}");
    // Wrong magic.
    let mut bad = data.clone();
    bad[8..12].copy_from_slice(b"ABCD");
    let e = import_bytes(&dir, "bad.scap", &bad, &ImportOptions::default()).unwrap_err();
    assert!(matches!(e, ScapError::NotScap { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("bad.scap: byte 8: not a scap capture"),
        "{e}"
    );
    // Not a capture at all.
    let e = import_bytes(
        &dir,
        "bad.scap",
        b"{\"not\": \"scap\"}",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ScapError::NotScap { .. }), "{e}");
    // Corrupt compressed data.
    let mut gz = std::fs::read(CAPTURE).unwrap();
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 16] {
        *b ^= 0xa5;
    }
    let e = import_bytes(&dir, "bad.scap", &gz, &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("bad.scap: "), "{e}");
    // Every byte of the (plain) file flipped in turn: errors or imports, never a panic.
    for i in (0..data.len()).step_by(7) {
        let mut bad = data.clone();
        bad[i] ^= 0xff;
        let _ = scap::read_bytes(&bad, Path::new("flip.scap"), &ImportOptions::default());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_uncompressed_copy_imports_the_same() {
    let (events, r) =
        scap::read_bytes(&plain(), Path::new("plain.scap"), &ImportOptions::default()).unwrap();
    assert!(!r.compressed);
    assert_eq!(events.len(), 158);
    // And a hand-made one, gzip-compressed by a different writer.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&plain()).unwrap();
    let (again, r2) = scap::read_bytes(
        &enc.finish().unwrap(),
        Path::new("re.scap"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(r2.compressed);
    assert_eq!(again.len(), events.len());
}
