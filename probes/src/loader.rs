//! Loading and attaching the kernel programs with aya, and the maps userspace writes.

use crate::error::ProbeError;
use crate::interest::{self, KernelInterest, PATH_KEY_BYTES};
use crate::reader::Ring;
use crate::sleep::SleepFlags;
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, ArrayOfMaps, HashMap, Map, MapData, RingBuf};
use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader, Pod};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The compiled kernel programs (built from `ebpf-src/` by its Makefile, committed).
pub static OBJECT: &[u8] = &ALIGNED.0;

/// ELF readers want the object 8-byte aligned; `include_bytes!` alone gives no alignment.
#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);
static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!("../bpf/peregrine.bpf.o"));

const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// `struct pg_settings` (ebpf-src/events.h).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub own_tgid: u32,
    pub drop_failed: u32,
    pub snaplen: u32,
    pub wakeup_bytes: u32,
}

/// `struct pg_counters` (ebpf-src/events.h): per CPU, since the probes were loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    pub n_evts: u64,
    pub n_drops_buffer: u64,
    pub n_drops_max_size: u64,
    pub n_drops_no_ring: u64,
    pub n_drops_scratch: u64,
    /// `n_drops_buffer` by event type id (`PG_DROP_TYPES` slots).
    pub n_drops_buffer_type: [u64; DROP_TYPES],
}

/// `PG_DROP_TYPES` (ebpf-src/events.h).
pub const DROP_TYPES: usize = 64;

impl Default for Counters {
    fn default() -> Self {
        Counters {
            n_evts: 0,
            n_drops_buffer: 0,
            n_drops_max_size: 0,
            n_drops_no_ring: 0,
            n_drops_scratch: 0,
            n_drops_buffer_type: [0; DROP_TYPES],
        }
    }
}

/// Falco's category (`falcosecurity_scap_n_drops_buffer_total{drop}`) of an event type.
pub fn drop_category(etype: usize) -> &'static str {
    // Kernel event type ids are indexes into peregrine-event's table (events.h).
    use peregrine_event::EventType;
    let Some(t) = u16::try_from(etype).ok().and_then(EventType::from_index) else {
        return "other_interest";
    };
    match t.name() {
        "clone" | "clone3" | "fork" | "vfork" => "clone_fork",
        "execve" | "execveat" => "execve",
        "connect" => "connect",
        "open" | "openat" | "openat2" | "creat" => "open",
        "mkdir" | "mkdirat" | "rmdir" | "unlink" | "unlinkat" | "rename" | "renameat"
        | "renameat2" | "symlink" | "symlinkat" | "link" | "linkat" | "chmod" | "fchmod"
        | "fchmodat" | "chdir" | "fchdir" => "dir_file",
        "close" => "close",
        "procexit" => "proc",
        _ => "other_interest",
    }
}

/// `PG_NR_SYSCALLS` (ebpf-src/syscall_nr.h).
pub const NR_SYSCALLS: usize = 512;

/// `struct pg_sc_counters` (ebpf-src/events.h): per CPU and syscall id, exits seen and
/// filtered out in the kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallCounters {
    pub seen: [u64; NR_SYSCALLS],
    pub filtered: [u64; NR_SYSCALLS],
}

impl Default for SyscallCounters {
    fn default() -> Self {
        SyscallCounters {
            seen: [0; NR_SYSCALLS],
            filtered: [0; NR_SYSCALLS],
        }
    }
}

/// One syscall's exits since the probes were loaded, all CPUs together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallTally {
    pub id: u32,
    pub seen: u64,
    /// Kept out of the ring by the rule-driven filter.
    pub filtered: u64,
}

// SAFETY: plain `repr(C)` integers with no padding, mirrored from events.h.
unsafe impl Pod for Settings {}
// SAFETY: as above.
unsafe impl Pod for SyscallCounters {}
// SAFETY: as above.
unsafe impl Pod for Counters {}

impl Counters {
    pub fn drops(&self) -> u64 {
        self.n_drops_buffer + self.n_drops_max_size + self.n_drops_no_ring + self.n_drops_scratch
    }

    /// (reason, count) pairs for metrics.
    pub fn drop_reasons(&self) -> [(&'static str, u64); 4] {
        [
            ("buffer_full", self.n_drops_buffer),
            ("max_event_size", self.n_drops_max_size),
            ("no_ring", self.n_drops_no_ring),
            ("scratch", self.n_drops_scratch),
        ]
    }
}

/// How to bring the probes up.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// CPUs per ring buffer; 0 = one buffer for all CPUs.
    pub cpus_for_each_buffer: u32,
    /// Bytes per ring buffer (a power of two, at least one page).
    pub buffer_bytes: u32,
    /// Skip syscalls that failed.
    pub drop_failed: bool,
    /// Bytes of I/O payload (sendto data…) captured.
    pub snaplen: u32,
    /// Never trace this process (the agent itself). `None` traces everything.
    pub ignore_tgid: Option<u32>,
    /// Which syscall exits are sent (see [`crate::interest::plan`]).
    pub syscalls: KernelInterest,
    /// The kernel's BTF (default `/sys/kernel/btf/vmlinux`; in a container, where the
    /// host's is mounted).
    pub btf: std::path::PathBuf,
    /// Tell closes apart on close's own tracepoint when tracefs can be had (default), else
    /// at every syscall's entry.
    pub close_tracepoint: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            cpus_for_each_buffer: 2,
            buffer_bytes: 8 << 20,
            drop_failed: false,
            snaplen: 80,
            ignore_tgid: Some(std::process::id()),
            syscalls: crate::interest::syscall_ids([]).into(),
            btf: BTF_PATH.into(),
            close_tracepoint: true,
        }
    }
}

/// The loaded and attached programs. Dropping it detaches everything.
pub struct KernelProbe {
    ebpf: Ebpf,
    _rings: ArrayOfMaps<MapData>,
    _settings: Array<MapData, Settings>,
    counters: Array<MapData, Counters>,
    sc_counters: Array<MapData, SyscallCounters>,
    interesting: Array<MapData, u8>,
    paths: LpmTrie<MapData, [u8; PATH_KEY_BYTES], u8>,
    /// What `paths` holds now.
    path_keys: BTreeMap<(u32, Vec<u8>), u8>,
    comms: HashMap<MapData, [u8; 16], u8>,
    /// What `comms` holds now.
    comm_keys: BTreeMap<[u8; 16], u8>,
    /// Whether closes can be told apart by the kind of file they close (the program on
    /// close's entry loaded); without it the state tables keep regular files.
    close_notes: Option<CloseNotes>,
    /// Whether filters may leave regular files out of the state tables: decided once,
    /// since the tables must agree (see [`KernelProbe::decide_lean`]).
    lean: bool,
    ncpus: u32,
}

fn possible_cpus() -> Result<u32, ProbeError> {
    aya::util::nr_cpus()
        .map(|n| n as u32)
        .map_err(|(_, source)| ProbeError::Io {
            what: "reading /sys/devices/system/cpu/possible",
            source,
        })
}

fn preflight(btf: &std::path::Path) -> Result<(), ProbeError> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    check_host(uid, btf, release.trim())
}

/// What the probes need from the host, checked before anything is loaded so the error says
/// what is missing instead of a verifier or relocation failure.
fn check_host(uid: u32, btf: &std::path::Path, release: &str) -> Result<(), ProbeError> {
    if uid != 0 {
        return Err(ProbeError::NotRoot { uid });
    }
    if !btf.exists() {
        return Err(ProbeError::NoBtf {
            path: btf.display().to_string(),
        });
    }
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (5, 17) {
        return Err(ProbeError::KernelTooOld {
            release: release.to_string(),
        });
    }
    Ok(())
}

impl KernelProbe {
    /// Loads, configures and attaches the programs. The returned rings are empty until the
    /// probes see a syscall.
    pub fn start(opts: &ProbeOptions) -> Result<(KernelProbe, Vec<Ring>), ProbeError> {
        preflight(&opts.btf)?;
        let btf = if opts.btf == std::path::Path::new(BTF_PATH) {
            Btf::from_sys_fs()?
        } else {
            Btf::parse_file(&opts.btf, aya::Endianness::default())?
        };
        let ncpus = possible_cpus()?;
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .map_max_entries("pg_rings", ncpus)
            .map_max_entries("pg_counters", ncpus)
            .map_max_entries("pg_scratch", ncpus)
            .map_max_entries("pg_sc_counters", ncpus)
            .map_max_entries("pg_asleep", ncpus)
            .map_max_entries("pg_close_marks", ncpus)
            .load(OBJECT)?;

        // Programs are loaded (verified, bound to the maps) before the maps are taken out
        // of the object, and attached only once the maps are configured.
        for (name, tracepoint) in PROGRAMS {
            program(&mut ebpf, name)?
                .load(tracepoint, &btf)
                .map_err(|source| ProbeError::Program {
                    program: name,
                    source,
                })?;
        }
        // Attached now, while the agent may still mount tracefs and open perf events.
        let close_notes = CloseNotes::start(&mut ebpf, &btf, opts.close_tracepoint);
        let mut settings: Array<MapData, Settings> = take(&mut ebpf, "pg_settings")?;
        let ring_bytes = opts.buffer_bytes.max(4096).next_power_of_two();
        let s = Settings {
            own_tgid: opts.ignore_tgid.unwrap_or(0),
            drop_failed: u32::from(opts.drop_failed),
            snaplen: opts.snaplen.min(256),
            wakeup_bytes: ring_bytes / 2,
        };
        settings.set(0, s, 0).map_err(|source| ProbeError::Map {
            map: "pg_settings",
            source,
        })?;

        let interesting: Array<MapData, u8> = take(&mut ebpf, "pg_interesting")?;
        let counters: Array<MapData, Counters> = take(&mut ebpf, "pg_counters")?;
        let sc_counters: Array<MapData, SyscallCounters> = take(&mut ebpf, "pg_sc_counters")?;
        let paths = ebpf
            .take_map("pg_paths")
            .ok_or(ProbeError::MissingMap("pg_paths"))?;
        let paths = LpmTrie::try_from(paths).map_err(|source| ProbeError::Map {
            map: "pg_paths",
            source,
        })?;
        let comms = ebpf
            .take_map("pg_comms")
            .ok_or(ProbeError::MissingMap("pg_comms"))?;
        let comms = HashMap::try_from(comms).map_err(|source| ProbeError::Map {
            map: "pg_comms",
            source,
        })?;
        let sleep = Arc::new(SleepFlags::new(take(&mut ebpf, "pg_asleep")?));
        let (rings_map, rings) = create_rings(
            &mut ebpf,
            ncpus,
            opts.cpus_for_each_buffer,
            ring_bytes,
            &sleep,
        )?;
        let mut probe = KernelProbe {
            ebpf,
            _rings: rings_map,
            _settings: settings,
            counters,
            sc_counters,
            interesting,
            paths,
            path_keys: BTreeMap::new(),
            comms,
            comm_keys: BTreeMap::new(),
            close_notes,
            lean: false,
            ncpus,
        };
        probe.set_interest(&opts.syscalls)?;
        let ebpf = &mut probe.ebpf;

        for name in PROGRAMS.map(|(n, _)| n) {
            program(ebpf, name)?
                .attach()
                .map_err(|source| ProbeError::Program {
                    program: name,
                    source,
                })?;
        }
        tracing::info!(
            cpus = ncpus,
            rings = rings.len(),
            ring_bytes,
            syscalls = opts.syscalls.flags.len(),
            "kernel probes attached"
        );
        Ok((probe, rings))
    }

    /// Replaces what the kernel sends (after a rules reload). Names are added before the
    /// per-syscall bits change and removed after, so no exit either set needs is filtered
    /// while it changes.
    /// Entries whose bits shrink get their new bits after, too.
    pub fn set_interest(&mut self, interest: &KernelInterest) -> Result<(), ProbeError> {
        let map_err = |map: &'static str| move |source| ProbeError::Map { map, source };
        let interest = self.effective(interest);
        let keys = interest.paths.trie_entries();
        let comms: BTreeMap<[u8; 16], u8> = interest
            .paths
            .comms
            .iter()
            .map(|(c, bits)| (comm_key(c), *bits))
            .collect();
        // First both filters' entries, each with the bits of both.
        for (key, bits) in &keys {
            let old = self.path_keys.get(key).copied().unwrap_or(0);
            if old | bits != old {
                self.paths
                    .insert(&lpm_key(key), old | bits, 0)
                    .map_err(map_err("pg_paths"))?;
            }
        }
        for (key, bits) in &comms {
            let old = self.comm_keys.get(key).copied().unwrap_or(0);
            if old | bits != old {
                self.comms
                    .insert(key, old | bits, 0)
                    .map_err(map_err("pg_comms"))?;
            }
        }
        for id in 0..self.interesting.len() {
            let bits = interest.flags.get(&id).copied().unwrap_or(0);
            self.interesting
                .set(id, bits, 0)
                .map_err(map_err("pg_interesting"))?;
        }
        // Then the new filter's alone.
        for (key, old) in &self.path_keys {
            match keys.get(key) {
                None => self
                    .paths
                    .remove(&lpm_key(key))
                    .map_err(map_err("pg_paths"))?,
                Some(bits) if old | bits != *bits => self
                    .paths
                    .insert(&lpm_key(key), *bits, 0)
                    .map_err(map_err("pg_paths"))?,
                Some(_) => {}
            }
        }
        for (key, old) in &self.comm_keys {
            match comms.get(key) {
                None => self.comms.remove(key).map_err(map_err("pg_comms"))?,
                Some(bits) if old | bits != *bits => self
                    .comms
                    .insert(key, *bits, 0)
                    .map_err(map_err("pg_comms"))?,
                Some(_) => {}
            }
        }
        self.path_keys = keys;
        self.comm_keys = comms;
        Ok(())
    }

    /// Decides, once, whether filters may leave regular files out of the state tables
    /// ([`interest::TRACK_NONREG`]): when `wanted` (the rules' filter does) and this kernel
    /// can tell closes apart. Whoever keeps the fd tables must keep no regular file then;
    /// until this is called, and after a `false`, every open and close is sent. Without
    /// it, the program on close's entry goes: closes no longer pay for it.
    pub fn decide_lean(&mut self, wanted: bool) -> bool {
        self.lean = wanted && self.close_notes.is_some();
        if !self.lean {
            if let Some(notes) = self.close_notes.take() {
                notes.stop(&mut self.ebpf);
            }
        }
        self.lean
    }

    /// See [`KernelProbe::decide_lean`].
    pub fn lean(&self) -> bool {
        self.lean
    }

    /// The program that tells closes apart, while one is attached.
    pub fn close_notes(&self) -> Option<&'static str> {
        self.close_notes.map(CloseNotes::program)
    }

    /// `interest` as it may be filtered: unless lean was decided, every open and close is
    /// sent for the state tables.
    fn effective(&self, interest: &KernelInterest) -> KernelInterest {
        if self.lean || !interest.lean() {
            return interest.clone();
        }
        let mut out = interest.clone();
        for f in out.flags.values_mut() {
            if *f & interest::TRACK_NONREG != 0 {
                *f = interest::WANT_OK | (*f & interest::WANT_FAILED);
            }
        }
        out
    }

    /// Per traced syscall, exits seen and filtered in the kernel, over all CPUs.
    pub fn syscall_tallies(&self) -> Vec<SyscallTally> {
        let mut sum = SyscallCounters::default();
        for cpu in 0..self.ncpus {
            if let Ok(c) = self.sc_counters.get(&cpu, 0) {
                for i in 0..NR_SYSCALLS {
                    sum.seen[i] += c.seen[i];
                    sum.filtered[i] += c.filtered[i];
                }
            }
        }
        (0..NR_SYSCALLS)
            .filter(|&i| sum.seen[i] > 0)
            .map(|i| SyscallTally {
                id: i as u32,
                seen: sum.seen[i],
                filtered: sum.filtered[i],
            })
            .collect()
    }

    /// Per-CPU counters.
    pub fn counters(&self) -> Vec<Counters> {
        (0..self.ncpus)
            .map(|cpu| self.counters.get(&cpu, 0).unwrap_or_default())
            .collect()
    }

    /// (tracepoint, runs, nanoseconds) of each program since it was loaded; zero unless
    /// the kernel keeps run statistics (`kernel.bpf_stats_enabled`).
    pub fn program_stats(&self) -> Vec<(&'static str, u64, u64)> {
        PROGRAMS
            .iter()
            .filter_map(|&(name, tracepoint)| {
                let info = self.ebpf.program(name)?.info().ok()?;
                Some((
                    tracepoint,
                    info.run_count(),
                    info.run_time().as_nanos() as u64,
                ))
            })
            .collect()
    }

    /// Ring-full drops of all CPUs by Falco's category, every category listed.
    pub fn drops_by_category(&self) -> Vec<(&'static str, u64)> {
        const CATEGORIES: [&str; 8] = [
            "clone_fork",
            "execve",
            "connect",
            "open",
            "dir_file",
            "other_interest",
            "close",
            "proc",
        ];
        let mut out: Vec<(&'static str, u64)> = CATEGORIES.iter().map(|&c| (c, 0)).collect();
        for c in self.counters() {
            for (etype, &n) in c.n_drops_buffer_type.iter().enumerate() {
                if n > 0 {
                    let cat = drop_category(etype);
                    if let Some(slot) = out.iter_mut().find(|(c, _)| *c == cat) {
                        slot.1 += n;
                    }
                }
            }
        }
        out
    }

    /// Number of attached programs (for the status line).
    pub fn programs(&self) -> usize {
        self.ebpf.programs().count()
    }
}

const PROGRAMS: [(&str, &str); 4] = [
    ("pg_sched_fork", "sched_process_fork"),
    ("pg_sched_exec", "sched_process_exec"),
    ("pg_sched_exit", "sched_process_exit"),
    ("pg_sys_exit", "sys_exit"),
];

fn program<'a>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut BtfTracePoint, ProbeError> {
    ebpf.program_mut(name)
        .ok_or(ProbeError::MissingProgram(name))?
        .try_into()
        .map_err(|source| ProbeError::Program {
            program: name,
            source,
        })
}

fn take<V: Pod>(ebpf: &mut Ebpf, name: &'static str) -> Result<Array<MapData, V>, ProbeError> {
    let map = ebpf.take_map(name).ok_or(ProbeError::MissingMap(name))?;
    Array::try_from(map).map_err(|source| ProbeError::Map { map: name, source })
}

/// A task name as the kernel keeps it: NUL-padded to 16 bytes.
fn comm_key(name: &str) -> [u8; 16] {
    let mut key = [0u8; 16];
    let n = name.len().min(interest::COMM_BYTES);
    key[..n].copy_from_slice(&name.as_bytes()[..n]);
    key
}

/// Which program notes what each close closes (ebpf-src/sys.bpf.c).
#[derive(Clone, Copy, Debug)]
enum CloseNotes {
    /// On close's own tracepoint: other syscalls do not run it.
    Tracepoint,
    /// On every syscall's entry, where tracefs cannot be had (a container without it and
    /// without the right to mount it).
    RawEnter,
}

impl CloseNotes {
    fn program(self) -> &'static str {
        match self {
            CloseNotes::Tracepoint => "pg_close_enter",
            CloseNotes::RawEnter => "pg_close_enter_raw",
        }
    }

    /// Loads and attaches the first that works; `None`, with the reasons logged, where
    /// neither does.
    fn start(ebpf: &mut Ebpf, btf: &Btf, tracepoint: bool) -> Option<CloseNotes> {
        let tracepoint = if tracepoint {
            attach_close_tracepoint(ebpf)
        } else {
            Err(ProbeError::MissingProgram("pg_close_enter"))
        };
        if tracepoint.is_ok() {
            return Some(CloseNotes::Tracepoint);
        }
        let raw = ebpf
            .program_mut(CloseNotes::RawEnter.program())
            .ok_or(ProbeError::MissingProgram("pg_close_enter_raw"))
            .and_then(|p| {
                let p: &mut BtfTracePoint = p.try_into().map_err(|source| ProbeError::Program {
                    program: "pg_close_enter_raw",
                    source,
                })?;
                p.load("sys_enter", btf)
                    .and_then(|()| p.attach().map(drop))
                    .map_err(|source| ProbeError::Program {
                        program: "pg_close_enter_raw",
                        source,
                    })
            });
        match (tracepoint, raw) {
            (Err(e), Ok(())) => {
                tracing::info!(reason = %e, "closes are told apart at every syscall's entry (close's tracepoint is not available)");
                Some(CloseNotes::RawEnter)
            }
            (Err(e), Err(e2)) => {
                tracing::warn!(
                    tracepoint = %e,
                    sys_enter = %e2,
                    "cannot tell closes of regular files apart: the state tables keep every fd"
                );
                None
            }
            (Ok(()), _) => Some(CloseNotes::Tracepoint),
        }
    }

    /// Detaches and unloads it.
    fn stop(self, ebpf: &mut Ebpf) {
        let Some(p) = ebpf.program_mut(self.program()) else {
            return;
        };
        let unloaded = match self {
            CloseNotes::Tracepoint => <&mut TracePoint>::try_from(p).map(|p| p.unload()),
            CloseNotes::RawEnter => <&mut BtfTracePoint>::try_from(p).map(|p| p.unload()),
        };
        if !matches!(unloaded, Ok(Ok(()))) {
            tracing::debug!(program = self.program(), "could not unload");
        }
    }
}

/// Loads the program on close's tracepoint and attaches it, mounting tracefs first where
/// the host has not (its per-syscall tracepoints are found there; aya looks for it once).
fn attach_close_tracepoint(ebpf: &mut Ebpf) -> Result<(), ProbeError> {
    let name = CloseNotes::Tracepoint.program();
    let err = |source| ProbeError::Program {
        program: "pg_close_enter",
        source,
    };
    let p: &mut TracePoint = ebpf
        .program_mut(name)
        .ok_or(ProbeError::MissingProgram("pg_close_enter"))?
        .try_into()
        .map_err(err)?;
    p.load().map_err(err)?;
    let mounted = [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .any(|d| std::path::Path::new(d).is_dir());
    if !mounted {
        mount_tracefs();
    }
    if let Err(e) = p.attach("syscalls", "sys_enter_close") {
        let _ = p.unload();
        return Err(err(e));
    }
    Ok(())
}

fn mount_tracefs() {
    let target = c"/sys/kernel/tracing";
    // SAFETY: valid C strings; mounting tracefs changes nothing but that mount point.
    let r = unsafe {
        libc::mount(
            c"tracefs".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r == 0 {
        tracing::info!("mounted tracefs on /sys/kernel/tracing (for close's tracepoint)");
    }
}

fn lpm_key((bits, bytes): &(u32, Vec<u8>)) -> Key<[u8; PATH_KEY_BYTES]> {
    let mut data = [0u8; PATH_KEY_BYTES];
    data[..bytes.len()].copy_from_slice(bytes);
    Key::new(*bits, data)
}

/// One ring per group of `per` CPUs (all CPUs when `per` is 0), wired into `pg_rings`.
fn create_rings(
    ebpf: &mut Ebpf,
    ncpus: u32,
    per: u32,
    bytes: u32,
    sleep: &Arc<SleepFlags>,
) -> Result<(ArrayOfMaps<MapData>, Vec<Ring>), ProbeError> {
    let map = ebpf
        .take_map("pg_rings")
        .ok_or(ProbeError::MissingMap("pg_rings"))?;
    let mut outer: ArrayOfMaps<MapData> =
        ArrayOfMaps::try_from(map).map_err(|source| ProbeError::Map {
            map: "pg_rings",
            source,
        })?;
    let per = if per == 0 { ncpus } else { per.min(ncpus) };
    let mut rings = Vec::new();
    for first in (0..ncpus).step_by(per as usize) {
        let def = aya_obj::Map::new_from_params(
            aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_RINGBUF as u32,
            0,
            0,
            bytes,
            0,
        );
        let data = MapData::create(def, "pg_ring", None).map_err(|source| ProbeError::Map {
            map: "pg_ring",
            source,
        })?;
        let cpus: Vec<u32> = (first..(first + per).min(ncpus)).collect();
        for &cpu in &cpus {
            outer.set(cpu, &data, 0).map_err(|source| ProbeError::Map {
                map: "pg_rings",
                source,
            })?;
        }
        let ring = RingBuf::try_from(Map::RingBuf(data)).map_err(|source| ProbeError::Map {
            map: "pg_ring",
            source,
        })?;
        rings.push(Ring::new(ring, cpus, sleep.clone()));
    }
    Ok((outer, rings))
}

#[cfg(test)]
mod host_checks {
    use super::*;
    use std::path::Path;

    #[test]
    fn each_missing_requirement_is_named() {
        let e = check_host(1000, Path::new("/"), "6.1.0-18-amd64").unwrap_err();
        assert!(matches!(e, ProbeError::NotRoot { uid: 1000 }));
        assert!(e.to_string().contains("need root"), "{e}");
        let e =
            check_host(0, Path::new("/nonexistent/sys/kernel/btf/vmlinux"), "6.1.0").unwrap_err();
        assert!(e.to_string().contains("/sys/kernel/btf/vmlinux"), "{e}");
        assert!(e.to_string().contains("CONFIG_DEBUG_INFO_BTF"), "{e}");
        for old in ["5.15.0-91-generic", "4.19.0", "5.4", ""] {
            let e = check_host(0, Path::new("/"), old).unwrap_err();
            assert!(e.to_string().contains("5.17 or newer"), "{old}: {e}");
            assert!(e.to_string().contains(old), "{old}: {e}");
        }
        for ok in ["5.17.0", "6.1.0-18-amd64", "6.18.3", "10.0"] {
            assert!(check_host(0, Path::new("/"), ok).is_ok(), "{ok}");
        }
    }
}
