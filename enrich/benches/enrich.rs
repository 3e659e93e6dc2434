//! Enrichment cost per event over a realistic kernel-shaped stream: a few hundred long-lived
//! processes (some with threads) opening, reading and closing files and connecting
//! sockets, with a trickle of short-lived children (fork, exec, open, close, exit).
//!
//! `steady_mix` is the whole mix (tables warm); `fd_churn` keeps to known processes
//! opening, using and closing files; `lookups_only` only reads the tables (events on known
//! processes and fds: the cache-hit path); `bootstrap_real_proc` reads this machine's
//! `/proc`. The allocator is the agent's (mimalloc).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peregrine_enrich::testing::{self as t, Exec};
use peregrine_enrich::{ContainerConfig, EnrichConfig, HostEnricher};
use peregrine_event::flags::open::{O_CLOEXEC, O_RDONLY, O_WRONLY};
use peregrine_event::{Event, EventType, L4Proto, ParamValue, SockTuple};
use std::hint::black_box;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROCS: i64 = 300;
const EVENTS: usize = 50_000;
const BATCH: usize = 1024;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PROGRAMS: &[(&str, &[&str], &str)] = &[
    (
        "/usr/sbin/nginx",
        &["nginx", "-g", "daemon off;"],
        "/var/www",
    ),
    (
        "/usr/lib/postgresql/15/bin/postgres",
        &["postgres", "-D", "/var/lib/postgresql/data"],
        "/var/lib/postgresql",
    ),
    (
        "/usr/bin/python3",
        &["python3", "-m", "gunicorn", "app:app"],
        "/srv/app",
    ),
    ("/usr/bin/node", &["node", "server.js"], "/srv/web"),
    (
        "/usr/bin/java",
        &["java", "-jar", "service.jar"],
        "/opt/service",
    ),
    ("/usr/sbin/sshd", &["sshd", "-D"], "/"),
    (
        "/usr/bin/redis-server",
        &["redis-server", "*:6379"],
        "/data",
    ),
];

const FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc/self/stat",
    "/var/log/app/access.log",
    "/dev/null",
];
const RELATIVE: &[&str] = &[
    "config.yaml",
    "static/index.html",
    "../shared/cache.db",
    "./data/part-0001",
];
const CONTAINER: &str =
    "memory=/libpod_parent/libpod-3f4b2a1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a";

struct Proc {
    pid: i64,
    threads: Vec<i64>,
    open: Vec<i64>,
    next_fd: i64,
}

/// Builds the warm-up (process creation) and the steady stream.
#[derive(Clone, Copy, PartialEq)]
enum Mix {
    Steady,
    FdChurn,
    LookupsOnly,
}

fn stream(mix: Mix) -> (Vec<Event>, Vec<Event>) {
    let mut rng = Rng(42);
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut tick = || {
        ts += 1_000;
        ts
    };
    let mut setup = vec![Exec::new(1, 0, "/sbin/init", &["/sbin/init"])
        .cwd("/")
        .event(tick())];
    let mut procs = Vec::new();
    for i in 0..PROCS {
        let pid = 1000 + i * 10;
        let (exe, argv, cwd) = PROGRAMS[i as usize % PROGRAMS.len()];
        setup.push(t::fork(tick(), pid, 1, "init"));
        let mut exec = Exec::new(pid, 1, exe, argv).cwd(cwd);
        if i % 3 == 0 {
            exec = exec.cgroups(&["cpuset=/", CONTAINER]);
        }
        setup.push(exec.event(tick()));
        let threads: Vec<i64> = (1..=(i % 4)).map(|k| pid + k).collect();
        for &tid in &threads {
            setup.push(t::thread(tick(), tid, pid, argv[0]));
        }
        procs.push(Proc {
            pid,
            threads,
            open: Vec::new(),
            next_fd: 3,
        });
    }
    let mut events = Vec::with_capacity(EVENTS + 8);
    let mut churn = 0i64;
    while events.len() < EVENTS {
        let idx = rng.below(procs.len());
        let p = &mut procs[idx];
        let tid = if !p.threads.is_empty() && rng.below(3) == 0 {
            p.threads[rng.below(p.threads.len())]
        } else {
            p.pid
        };
        let pid = p.pid;
        let roll = rng.below(100);
        match roll {
            _ if mix != Mix::LookupsOnly && (roll < 35 || (roll < 70 && p.open.is_empty())) => {
                let fd = p.next_fd;
                p.next_fd += 1;
                p.open.push(fd);
                let name = if rng.below(2) == 0 {
                    FILES[rng.below(FILES.len())]
                } else {
                    RELATIVE[rng.below(RELATIVE.len())]
                };
                events.push(t::openat(
                    tick(),
                    tid,
                    pid,
                    -100,
                    name,
                    O_RDONLY | O_CLOEXEC,
                    fd,
                ));
            }
            _ if roll < 70 && mix != Mix::LookupsOnly => {
                let fd = p.open.swap_remove(rng.below(p.open.len()));
                events.push(t::close(tick(), tid, pid, fd));
            }
            _ if roll < 78 && mix == Mix::Steady => {
                let fd = p.next_fd;
                p.next_fd += 1;
                p.open.push(fd);
                events.push(t::socket(tick(), tid, pid, 2, 1, fd));
                let tuple = SockTuple::Inet {
                    proto: L4Proto::Tcp,
                    sip: "10.0.0.5".parse().unwrap(),
                    sport: 30000 + (fd % 30000) as u16,
                    dip: "10.0.0.9".parse().unwrap(),
                    dport: 5432,
                };
                events.push(t::connect(tick(), tid, pid, fd, tuple, 0));
            }
            _ if roll < 92 => {
                // An fd in use: fchmod stands for the read/write family.
                let fd = match p.open.first() {
                    Some(fd) => *fd,
                    None if mix == Mix::LookupsOnly => {
                        // Lookups need something to look up: one file per process, opened
                        // in the warm-up.
                        p.open.push(p.next_fd);
                        setup.push(t::openat(
                            tick(),
                            pid,
                            pid,
                            -100,
                            "/etc/hosts",
                            O_RDONLY,
                            p.next_fd,
                        ));
                        p.next_fd += 1;
                        continue;
                    }
                    None => continue,
                };
                let mut ev = Event::new(
                    EventType::FCHMOD,
                    tick(),
                    tid,
                    vec![
                        ParamValue::Int(0),
                        ParamValue::Int(fd),
                        ParamValue::Uint(0o644),
                    ],
                );
                ev.pid = pid;
                events.push(ev);
            }
            _ if roll < 98 || mix != Mix::Steady => events.push(t::touch(tick(), tid, pid)),
            _ => {
                // A short-lived child: fork, exec, open, close, exit.
                churn += 1;
                let child = 100_000 + (churn % 2000) * 2;
                events.push(t::fork(tick(), child, pid, "sh"));
                events.push(
                    Exec::new(child, pid, "/usr/bin/cat", &["cat", "/etc/hosts"]).event(tick()),
                );
                events.push(t::openat(
                    tick(),
                    child,
                    child,
                    -100,
                    "/etc/hosts",
                    O_RDONLY,
                    3,
                ));
                events.push(t::openat(
                    tick(),
                    child,
                    child,
                    -100,
                    "out.txt",
                    O_WRONLY,
                    4,
                ));
                events.push(t::close(tick(), child, child, 3));
                events.push(t::procexit(tick(), child, child, 1));
            }
        }
        if p.open.len() > 64 {
            let fd = p.open.remove(0);
            events.push(t::close(tick(), tid, pid, fd));
        }
    }
    (setup, events)
}

fn bench_stream(c: &mut Criterion, name: &str, mix: Mix) {
    bench_stream_with(c, name, mix, false)
}

/// `hold`: through `enrich_and_hold`, as the pipeline calls it (nothing is pending here, so
/// this is its fast path's cost).
fn bench_stream_with(c: &mut Criterion, name: &str, mix: Mix, hold: bool) {
    let (setup, events) = stream(mix);
    let mut e = HostEnricher::new(EnrichConfig::events_only());
    let mut warm = setup.clone();
    e.enrich(&mut warm);
    let mut warm = events.clone();
    e.enrich(&mut warm);
    let batches: Vec<Vec<Event>> = events.chunks(BATCH).map(<[Event]>::to_vec).collect();
    let mut group = c.benchmark_group("enrich");
    // One batch per iteration, cycling through the stream: a batch arrives fresh from the
    // decoder (in cache), as in the pipeline.
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0;
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || {
                next = (next + 1) % batches.len();
                batches[next].clone()
            },
            |batch| {
                if hold {
                    e.enrich_and_hold(black_box(batch))
                } else {
                    e.enrich(black_box(batch))
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let s = e.stats();
    eprintln!(
        "{name}: {} events/iteration; process hits {} misses {}; fd hits {} misses {}; container cache hits {} (cached failures {}); table {} processes, {} threads",
        events.len(),
        s.process_hits,
        s.process_misses,
        s.fd_hits,
        s.fd_misses,
        s.container_hits,
        s.container_negative_hits,
        s.processes,
        s.threads
    );
}

fn enrich(c: &mut Criterion) {
    // First, while the heap is fresh, so its RSS growth is the table's.
    table_10k(c);
    bench_stream(c, "steady_mix", Mix::Steady);
    bench_stream(c, "fd_churn", Mix::FdChurn);
    bench_stream(c, "lookups_only", Mix::LookupsOnly);
    bench_stream_with(c, "lookups_only_hold", Mix::LookupsOnly, true);
    let mut group = c.benchmark_group("enrich");
    group.sample_size(10);
    group.bench_function("bootstrap_real_proc", |b| {
        b.iter(|| {
            let cfg = EnrichConfig {
                containers: ContainerConfig::disabled(),
                ..EnrichConfig::default()
            };
            black_box(HostEnricher::new(cfg).len())
        })
    });
    group.finish();
}

/// Resident memory of this process, bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// 10,000 processes (each with its command line, a cwd, 8 files and 2 sockets): the memory
/// they take, and the lookup cost with a table that size (uniformly random processes: no
/// locality, so mostly cache misses).
fn table_10k(c: &mut Criterion) {
    const N: i64 = 10_000;
    let before = rss();
    let mut e = HostEnricher::new(EnrichConfig::events_only());
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut batch = vec![Exec::new(1, 0, "/sbin/init", &["/sbin/init"])
        .cwd("/")
        .event(ts)];
    for i in 0..N {
        let pid = 10 + i;
        let (exe, argv, cwd) = PROGRAMS[i as usize % PROGRAMS.len()];
        ts += 1000;
        batch.push(t::fork(ts, pid, 1, "init"));
        batch.push(Exec::new(pid, 1, exe, argv).cwd(cwd).event(ts));
        for fd in 3..11 {
            batch.push(t::openat(
                ts,
                pid,
                pid,
                -100,
                FILES[fd as usize % FILES.len()],
                O_RDONLY,
                fd,
            ));
        }
        for fd in 11..13 {
            batch.push(t::socket(ts, pid, pid, 2, 1, fd));
            let tuple = SockTuple::Inet {
                proto: L4Proto::Tcp,
                sip: "10.0.0.5".parse().unwrap(),
                sport: 30000 + fd as u16,
                dip: "10.0.0.9".parse().unwrap(),
                dport: 5432,
            };
            batch.push(t::connect(ts, pid, pid, fd, tuple, 0));
        }
        if batch.len() >= BATCH {
            e.enrich(&mut batch);
            batch.clear();
        }
    }
    e.enrich(&mut batch);
    batch.clear();
    let after = rss();
    eprintln!(
        "table_10k: {} processes, RSS {:.1} MiB -> {:.1} MiB (+{:.1} MiB, {:.1} KiB per process with 10 fds)",
        e.len(),
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        after.saturating_sub(before) as f64 / 1048576.0,
        after.saturating_sub(before) as f64 / 1024.0 / N as f64
    );
    let mut rng = Rng(7);
    let lookups: Vec<Event> = (0..BATCH)
        .map(|_| {
            let pid = 10 + rng.below(N as usize) as i64;
            let mut ev = Event::new(
                EventType::FCHMOD,
                ts,
                pid,
                vec![
                    ParamValue::Int(0),
                    ParamValue::Int(3 + rng.below(8) as i64),
                    ParamValue::Uint(0o644),
                ],
            );
            ev.pid = pid;
            ev
        })
        .collect();
    let mut group = c.benchmark_group("enrich");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("lookups_10k_processes", |b| {
        b.iter_batched_ref(
            || lookups.clone(),
            |batch| e.enrich(black_box(batch)),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, enrich);
criterion_main!(benches);
