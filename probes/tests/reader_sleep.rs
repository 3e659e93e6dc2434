//! A reader at rest sleeps until the next record, and that record wakes it: the kernel
//! program sees the reader's flag and wakes the ring.

mod common;

use common::{skip_unless_privileged, Capture};
use peregrine_event::EventType;
use peregrine_probes::{interest, ProbeOptions};
use std::time::{Duration, Instant};

/// Far longer than any nap: a poll this long that ends early was woken by data.
const LONG_WAIT: Duration = Duration::from_secs(30);

fn woken_by_the_next_record(actors: usize) {
    // Only chmod traced (and the process events every probe sends): quiet on a test host.
    let mut cap = Capture::with_actors(
        ProbeOptions {
            ignore_tgid: None,
            syscalls: interest::syscall_ids(["fchmodat"]).into(),
            cpus_for_each_buffer: 1,
            buffer_bytes: 1 << 20,
            ..ProbeOptions::default()
        },
        actors,
    );
    let dir = std::env::temp_dir().join(format!("peregrine-sleep-{}-{actors}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("f");
    std::fs::write(&file, b"x").unwrap();

    // Let the reader come to rest: it sleeps (and counts it) once nothing arrives.
    let mut out = Vec::new();
    let rest = Instant::now();
    while cap.reader.stats().sleeps == 0 {
        assert!(
            rest.elapsed() < Duration::from_secs(60),
            "the reader never came to rest: {:?}",
            cap.reader.stats()
        );
        cap.reader.poll(&mut out, 4096, Duration::from_millis(400));
    }

    let target = file.clone();
    let actor = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let path = common::cstr(target.to_str().unwrap());
        // SAFETY: a valid C string; fchmodat itself (libc's chmod may use another syscall).
        let rc = unsafe { libc::fchmodat(libc::AT_FDCWD, path.as_ptr(), 0o600, 0) };
        assert_eq!(rc, 0, "fchmodat");
    });
    let sleeps_before = cap.reader.stats().sleeps;
    let start = Instant::now();
    let mut seen = false;
    while !seen && start.elapsed() < LONG_WAIT * 2 {
        out.clear();
        cap.reader.poll(&mut out, 4096, LONG_WAIT);
        seen = out.iter().any(|e| e.etype == EventType::FCHMODAT);
    }
    let took = start.elapsed();
    actor.join().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(seen, "the chmod never arrived ({actors} actors)");
    assert!(
        cap.reader.stats().sleeps > sleeps_before,
        "the reader did not sleep while waiting ({actors} actors): {:?}",
        cap.reader.stats()
    );
    // The chmod comes 1.5 s in. Without the wake-up the sleep would last LONG_WAIT inline,
    // and an actor's 10 s.
    assert!(
        took < Duration::from_secs(5),
        "the chmod arrived after {took:?}: the record did not wake the sleeping reader ({actors} actors)"
    );
}

#[test]
fn a_reader_at_rest_is_woken_by_the_next_record() {
    if skip_unless_privileged("a_reader_at_rest_is_woken_by_the_next_record") {
        return;
    }
    woken_by_the_next_record(0);
}

#[test]
fn probe_actors_at_rest_are_woken_by_the_next_record() {
    if skip_unless_privileged("probe_actors_at_rest_are_woken_by_the_next_record") {
        return;
    }
    woken_by_the_next_record(2);
}
