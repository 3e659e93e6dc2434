//! Loading the real probes for a test, and collecting what one thread did.
#![allow(dead_code)]

use peregrine_event::{Event, EventType, ParamValue};
use peregrine_probes::{interest, KernelProbe, ProbeOptions, Reader};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Probe loads are serialised: each verifies the programs, which costs a core for a moment.
static LOCK: Mutex<()> = Mutex::new(());

/// Why the kernel tests cannot run here, if they cannot.
fn missing() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("no kernel BTF".into());
    }
    None
}

/// `None` (after saying why) when the probes cannot load here; fails instead under
/// PEREGRINE_REQUIRE_PRIVILEGED=1.
pub fn skip_unless_privileged(test: &str) -> bool {
    if let Some(why) = missing() {
        if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
            panic!("{test}: needs root and BPF ({why}) and PEREGRINE_REQUIRE_PRIVILEGED=1");
        }
        eprintln!("skipping {test}: needs root and BPF ({why})");
        return true;
    }
    false
}

pub fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as i64 }
}

pub struct Capture {
    pub probe: KernelProbe,
    pub reader: Reader,
    _guard: std::sync::MutexGuard<'static, ()>,
}

impl Capture {
    /// All decodable syscalls on, this process traced.
    pub fn start() -> Capture {
        Capture::with(ProbeOptions {
            ignore_tgid: None,
            syscalls: interest::all_syscall_ids().into(),
            buffer_bytes: 4 << 20,
            ..ProbeOptions::default()
        })
    }

    pub fn with(opts: ProbeOptions) -> Capture {
        Capture::with_actors(opts, 0)
    }

    /// As `with`, the rings drained by `actors` probe actor threads (0: inline).
    pub fn with_actors(opts: ProbeOptions, actors: usize) -> Capture {
        let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let (probe, rings) = KernelProbe::start(&opts).expect("kernel probes load");
        let reader = Reader::with_actors(rings, actors).expect("epoll");
        Capture {
            probe,
            reader,
            _guard: guard,
        }
    }

    /// Everything released until `quiet` passes with no new event, for at most `max`.
    pub fn collect(&mut self, quiet: Duration, max: Duration) -> Vec<Event> {
        let start = Instant::now();
        let mut out = Vec::new();
        let mut last = Instant::now();
        while start.elapsed() < max {
            let n = self.reader.poll(&mut out, 4096, Duration::from_millis(10));
            if n > 0 {
                last = Instant::now();
            } else if last.elapsed() >= quiet && self.reader.pending() == 0 {
                break;
            }
        }
        out
    }

    /// Drains what is there now and forgets it (events of the test set-up).
    pub fn clear(&mut self) {
        self.collect(Duration::from_millis(30), Duration::from_secs(1));
    }

    /// Runs `f` on this thread and returns the events of type `etype` it caused.
    pub fn events_of<F: FnOnce()>(&mut self, etype: EventType, f: F) -> Vec<Event> {
        self.clear();
        let tid = gettid();
        f();
        self.collect(Duration::from_millis(50), Duration::from_secs(3))
            .into_iter()
            .filter(|e| e.tid == tid && e.etype == etype)
            .collect()
    }

    /// Exactly one event of `etype` from `f`.
    pub fn one<F: FnOnce()>(&mut self, etype: EventType, f: F) -> Event {
        let mut evs = self.events_of(etype, f);
        assert_eq!(evs.len(), 1, "{}: {evs:#?}", etype.name());
        evs.remove(0)
    }
}

pub fn int(v: i64) -> ParamValue {
    ParamValue::Int(v)
}

pub fn uint(v: u64) -> ParamValue {
    ParamValue::Uint(v)
}

pub fn s(v: &str) -> ParamValue {
    ParamValue::Str(v.into())
}

pub fn cstr(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap()
}
