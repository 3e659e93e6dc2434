//! What the probes cost the traced system: a syscall loop timed without and with the
//! probes attached (getpid: not interesting, pays only the dispatcher's lookup; openat +
//! close: decoded and sent), and how many events per second the reader drains meanwhile.
//!
//! `cargo bench -p peregrine-probes --bench syscall_overhead` (as root). Not a criterion
//! bench: the interesting number is a difference between two long loops.

#[path = "common/alone.rs"]
mod alone;

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

struct Attached {
    probe: KernelProbe,
    stop: Arc<AtomicBool>,
    drained: Arc<AtomicU64>,
    drain: std::thread::JoinHandle<peregrine_probes::ReaderStats>,
}

/// Probes attached to this process, with a thread draining (and decoding) the rings.
fn attach() -> Attached {
    let opts = ProbeOptions {
        ignore_tgid: None,
        syscalls: interest::syscall_ids([]).into(),
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
    std::thread::sleep(Duration::from_millis(100));
    Attached {
        probe,
        stop,
        drained,
        drain,
    }
}

/// The floor: the least a traced openat/close record can cost (stamp, ring slot, path),
/// attached alone, with a thread consuming its ring.
struct Floor {
    _ebpf: aya::Ebpf,
    stop: Arc<AtomicBool>,
    drain: std::thread::JoinHandle<u64>,
}

fn floor_program() -> Floor {
    let mut ebpf = alone::attach_alone("pg_bench_floor");
    let mut ring = alone::floor_ring(&mut ebpf);
    let stop = Arc::new(AtomicBool::new(false));
    let drain = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            loop {
                let last = stop.load(Ordering::Relaxed);
                while let Some(rec) = ring.next() {
                    n += u64::from(!rec.is_empty());
                }
                if last {
                    return n;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    Floor {
        _ebpf: ebpf,
        stop,
        drain,
    }
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("syscall_overhead: needs root to attach the probes; skipped");
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    // Rounds alternate without and with the probes, so both see the same machine load;
    // the best of each is reported.
    let (mut base_getpid, mut base_open) = (f64::MAX, f64::MAX);
    let (mut with_getpid, mut with_open) = (f64::MAX, f64::MAX);
    let (mut empty_getpid, mut empty_open, mut floor_open) = (f64::MAX, f64::MAX, f64::MAX);
    let (mut events, mut secs, mut drops, mut sent) = (0u64, 0f64, 0u64, 0u64);
    let mut stats = peregrine_probes::ReaderStats::default();
    for _ in 0..rounds {
        base_getpid = base_getpid.min(getpid_loop());
        base_open = base_open.min(open_close_loop());
        let empty = alone::attach_alone("pg_bench_empty");
        empty_getpid = empty_getpid.min(getpid_loop());
        empty_open = empty_open.min(open_close_loop());
        drop(empty);
        let floor = floor_program();
        floor_open = floor_open.min(open_close_loop());
        floor.stop.store(true, Ordering::Relaxed);
        let floor_records = floor.drain.join().unwrap();
        // Every record arrived (a full ring would make the floor look cheaper).
        assert!(floor_records >= 2 * OPENS, "floor: {floor_records} records");
        // Detached before Peregrine's programs are timed.
        drop(floor._ebpf);
        let a = attach();
        with_getpid = with_getpid.min(getpid_loop());
        let before = a.drained.load(Ordering::Relaxed);
        let t = Instant::now();
        with_open = with_open.min(open_close_loop());
        secs += t.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(100));
        events += a.drained.load(Ordering::Relaxed) - before;
        a.stop.store(true, Ordering::Relaxed);
        let s = a.drain.join().unwrap();
        stats.records += s.records;
        stats.malformed += s.malformed;
        stats.late += s.late;
        let counters = a.probe.counters();
        drops += counters.iter().map(|c| c.drops()).sum::<u64>();
        sent += counters.iter().map(|c| c.n_evts).sum::<u64>();
    }
    println!("getpid, empty sys_exit program attached: {base_getpid:7.1} ns -> {empty_getpid:7.1} ns  (+{:.1} ns: the kernel's tracepoint path)", empty_getpid - base_getpid);
    println!("getpid (not traced):   {base_getpid:7.1} ns -> {with_getpid:7.1} ns  (+{:.1} ns per syscall)", with_getpid - base_getpid);
    println!("openat+close, empty program: {base_open:7.1} ns -> {empty_open:7.1} ns  (+{:.1} ns per syscall)", (empty_open - base_open) / 2.0);
    println!("openat+close, floor program: {base_open:7.1} ns -> {floor_open:7.1} ns  (+{:.1} ns per syscall: stamp, ring slot, path)", (floor_open - base_open) / 2.0);
    println!("openat+close (traced): {base_open:7.1} ns -> {with_open:7.1} ns  (+{:.1} ns per pair, +{:.1} ns per traced syscall)",
        with_open - base_open, (with_open - base_open) / 2.0);
    println!(
        "drained while the open loops ran: {events} events in {secs:.2} s = {:.0} events/s",
        events as f64 / secs
    );
    println!("kernel: {sent} records attempted, {drops} dropped; reader: {} records, {} malformed, {} late",
        stats.records, stats.malformed, stats.late);
}
