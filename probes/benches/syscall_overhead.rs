//! What the probes cost the traced system: a syscall loop timed without and with the
//! probes attached (getpid: not interesting, pays only the dispatcher's lookup; openat +
//! close: decoded and sent), and how many events per second the reader drains meanwhile.
//!
//! `cargo bench -p peregrine-probes --bench syscall_overhead` (as root). Not a criterion
//! bench: the interesting number is a difference between two long loops.

use peregrine_probes::{interest, KernelProbe, ProbeOptions, Reader};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const GETPIDS: u64 = 5_000_000;
const OPENS: u64 = 500_000;

fn getpid_loop() -> f64 {
    let start = Instant::now();
    for _ in 0..GETPIDS {
        // SAFETY: getpid has no preconditions.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    start.elapsed().as_nanos() as f64 / GETPIDS as f64
}

fn open_close_loop() -> f64 {
    let path = c"/etc/hostname";
    let start = Instant::now();
    for _ in 0..OPENS {
        // SAFETY: valid C string; the fd is closed right away.
        unsafe {
            let fd = libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY);
            libc::close(fd);
        }
    }
    start.elapsed().as_nanos() as f64 / OPENS as f64
}

/// Best of `n` runs: the machine is shared, the minimum is the least disturbed.
fn best(n: usize, f: impl Fn() -> f64) -> f64 {
    (0..n).map(|_| f()).fold(f64::MAX, f64::min)
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("syscall_overhead: needs root to attach the probes; skipped");
        return;
    }
    let base_getpid = best(5, getpid_loop);
    let base_open = best(5, open_close_loop);

    let opts = ProbeOptions {
        ignore_tgid: None,
        syscalls: interest::syscall_ids([]),
        ..ProbeOptions::default()
    };
    let (probe, rings) = KernelProbe::start(&opts).expect("probes load");
    let mut reader = Reader::new(rings).expect("epoll");
    let stop = Arc::new(AtomicBool::new(false));
    let drained = Arc::new(AtomicU64::new(0));
    let drain = {
        let (stop, drained) = (stop.clone(), drained.clone());
        std::thread::spawn(move || {
            let mut out = Vec::with_capacity(8192);
            while !stop.load(Ordering::Relaxed) {
                reader.poll(&mut out, 8192, Duration::from_millis(10));
                drained.fetch_add(out.len() as u64, Ordering::Relaxed);
                out.clear();
            }
            reader.flush(&mut out);
            drained.fetch_add(out.len() as u64, Ordering::Relaxed);
            reader.stats()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let with_getpid = best(5, getpid_loop);
    let before = drained.load(Ordering::Relaxed);
    let t = Instant::now();
    let with_open = best(5, open_close_loop);
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(300));
    let during = drained.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    let stats = drain.join().unwrap();
    let counters = probe.counters();
    let drops: u64 = counters.iter().map(|c| c.drops()).sum();
    let sent: u64 = counters.iter().map(|c| c.n_evts).sum();

    println!("getpid (not traced):   {base_getpid:7.1} ns -> {with_getpid:7.1} ns  (+{:.1} ns per syscall)", with_getpid - base_getpid);
    println!("openat+close (traced): {base_open:7.1} ns -> {with_open:7.1} ns  (+{:.1} ns per pair, +{:.1} ns per traced syscall)",
        with_open - base_open, (with_open - base_open) / 2.0);
    println!(
        "drained while the open loop ran: {during} events in {secs:.2} s = {:.0} events/s",
        during as f64 / secs
    );
    println!("kernel: {sent} records attempted, {drops} dropped; reader: {} records, {} malformed, {} late",
        stats.records, stats.malformed, stats.late);
}
