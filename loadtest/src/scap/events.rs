//! The event side of a `.scap` file: the per-event header, which PPM event codes Peregrine
//! models (and under which of its event types), and how their parameters turn into
//! [`ParamValue`]s.
//!
//! Facts about the format (from libscap/libsinsp, libs 0.23 as Falco 0.43 writes it):
//! an event is `ts u64 | tid u64 | len u32 | type u16 | nparams u32` (26 bytes, packed,
//! little endian; 22 bytes without `nparams` in version-1 event blocks), then one length per
//! parameter (u16, or u32 for the few "large payload" events), then the parameter bytes.
//! Syscalls are exit events only since libs 0.20 (enter parameters moved into the exit
//! event); each modelled event's parameter *names* match Peregrine's schema (Falco's exit
//! schemas), so parameters are mapped by name. Flag parameters are in libs' own encoding
//! (`PPM_O_*`, `PPM_CL_*`, …) and are translated to the Linux values Peregrine uses.

use peregrine_event::flags::open as lx;
use peregrine_event::{EventType, FlagSet, L4Proto, ParamKind, ParamValue, SockAddr, SockTuple};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// Size of the event header in version-2 event blocks.
pub const HDR_LEN: usize = 26;
/// Size of the event header in version-1 event blocks (no `nparams`).
pub const HDR_LEN_V1: usize = 22;
/// `PPM_MAX_EVENT_PARAMS`.
pub const MAX_PARAMS: usize = 32;

/// The per-event header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHeader {
    pub ts: u64,
    pub tid: i64,
    /// Total event length, header included.
    pub len: u32,
    pub code: u16,
    pub nparams: u32,
}

/// One event with its parameters split out (borrowed from the block).
#[derive(Debug)]
pub struct RawEvent<'a> {
    pub hdr: EventHeader,
    pub params: Vec<&'a [u8]>,
}

impl RawEvent<'_> {
    pub fn param(&self, i: usize) -> Option<&[u8]> {
        self.params.get(i).copied().filter(|p| !p.is_empty())
    }

    /// An integer parameter, sign-extended from its stored width (1, 2, 4 or 8 bytes).
    pub fn int(&self, i: usize) -> Option<i64> {
        self.param(i).and_then(int_le)
    }

    pub fn uint(&self, i: usize) -> Option<u64> {
        self.param(i).and_then(uint_le)
    }

    pub fn string(&self, i: usize) -> Option<String> {
        self.param(i).map(cstr)
    }
}

/// Why an event could not be split into parameters (its block is intact; it is skipped).
#[derive(Debug, PartialEq, Eq)]
pub enum EventFault {
    Short {
        have: usize,
        need: usize,
    },
    BadLength {
        len: u32,
        room: usize,
    },
    TooManyParams(u32),
    ParamsOverrun,
    /// A version-1 event whose parameter count cannot be worked out.
    UnknownCount,
}

impl std::fmt::Display for EventFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventFault::Short { have, need } => {
                write!(
                    f,
                    "event of {have} bytes is shorter than its {need}-byte header"
                )
            }
            EventFault::BadLength { len, room } => {
                write!(
                    f,
                    "event length {len} does not fit the {room} bytes of its block"
                )
            }
            EventFault::TooManyParams(n) => {
                write!(f, "{n} parameters (at most {MAX_PARAMS} exist)")
            }
            EventFault::ParamsOverrun => f.write_str("parameter lengths run past the event"),
            EventFault::UnknownCount => {
                f.write_str("version-1 event whose parameter count cannot be worked out")
            }
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads the header of the event at the start of `b`. `v1`: the header has no `nparams`.
pub fn parse_header(b: &[u8], v1: bool) -> Result<EventHeader, EventFault> {
    let need = if v1 { HDR_LEN_V1 } else { HDR_LEN };
    if b.len() < need {
        return Err(EventFault::Short {
            have: b.len(),
            need,
        });
    }
    Ok(EventHeader {
        ts: u64_at(b, 0),
        tid: u64_at(b, 8) as i64,
        len: u32_at(b, 16),
        code: u16_at(b, 20),
        nparams: if v1 { 0 } else { u32_at(b, 22) },
    })
}

/// Splits the event at the start of `b` into its parameters. Only called for events whose
/// parameters are used; version-1 events get their count worked out from the lengths.
pub fn split(b: &[u8], v1: bool) -> Result<RawEvent<'_>, EventFault> {
    let hdr = parse_header(b, v1)?;
    let hlen = if v1 { HDR_LEN_V1 } else { HDR_LEN };
    let len = hdr.len as usize;
    if len < hlen || len > b.len() {
        return Err(EventFault::BadLength {
            len: hdr.len,
            room: b.len(),
        });
    }
    let b = &b[..len];
    let width = if is_large(hdr.code) { 4 } else { 2 };
    let nparams = if v1 {
        v1_count(b, hlen, width, hdr.code).ok_or(EventFault::UnknownCount)?
    } else {
        if hdr.nparams as usize > MAX_PARAMS {
            return Err(EventFault::TooManyParams(hdr.nparams));
        }
        hdr.nparams as usize
    };
    let mut pos = hlen + width * nparams;
    if pos > len {
        return Err(EventFault::ParamsOverrun);
    }
    let mut params = Vec::with_capacity(nparams);
    for i in 0..nparams {
        let at = hlen + width * i;
        let plen = if width == 4 {
            u32_at(b, at) as usize
        } else {
            u16_at(b, at) as usize
        };
        let p = b.get(pos..pos + plen).ok_or(EventFault::ParamsOverrun)?;
        params.push(p);
        pos += plen;
    }
    Ok(RawEvent {
        hdr: EventHeader {
            nparams: nparams as u32,
            ..hdr
        },
        params,
    })
}

/// The parameter count of a version-1 event: the largest count, at most the schema's,
/// whose lengths add up exactly to the event (as libscap works it out).
fn v1_count(b: &[u8], hlen: usize, width: usize, code: u16) -> Option<usize> {
    let max = scap_param_count(code).unwrap_or(MAX_PARAMS);
    (0..=max).rev().find(|&n| {
        let lens_end = hlen + width * n;
        if lens_end > b.len() {
            return false;
        }
        let total: usize = (0..n)
            .map(|i| {
                let at = hlen + width * i;
                if width == 4 {
                    u32_at(b, at) as usize
                } else {
                    u16_at(b, at) as usize
                }
            })
            .sum();
        lens_end + total == b.len()
    })
}

/// Events whose parameter lengths are u32 (`EF_LARGE_PAYLOAD`): plugin events, container
/// JSON, async events.
pub fn is_large(code: u16) -> bool {
    matches!(code, 322 | 323 | 324 | 325 | 402 | 403)
}

/// Event names by code pair (`code / 2`), as libs' event table names them, for codes
/// 0..=425. Newer codes are reported as `type <N>`.
const NAMES: [&str; 213] = [
    "syscall",
    "open",
    "close",
    "read",
    "write",
    "brk",
    "execve",
    "clone",
    "procexit",
    "socket",
    "bind",
    "connect",
    "listen",
    "accept",
    "send",
    "sendto",
    "recv",
    "recvfrom",
    "shutdown",
    "getsockname",
    "getpeername",
    "socketpair",
    "setsockopt",
    "getsockopt",
    "sendmsg",
    "sendmmsg",
    "recvmsg",
    "recvmmsg",
    "accept",
    "creat",
    "pipe",
    "eventfd",
    "futex",
    "stat",
    "lstat",
    "fstat",
    "stat64",
    "lstat64",
    "fstat64",
    "epoll_wait",
    "poll",
    "select",
    "select",
    "lseek",
    "llseek",
    "ioctl",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "rmdir",
    "openat",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "pread",
    "pwrite",
    "readv",
    "writev",
    "preadv",
    "pwritev",
    "dup",
    "signalfd",
    "kill",
    "tkill",
    "tgkill",
    "nanosleep",
    "timerfd_create",
    "inotify_init",
    "getrlimit",
    "setrlimit",
    "prlimit",
    "switch",
    "drop",
    "fcntl",
    "switch",
    "execve",
    "clone",
    "brk",
    "mmap",
    "mmap2",
    "munmap",
    "splice",
    "ptrace",
    "ioctl",
    "execve",
    "rename",
    "renameat",
    "symlink",
    "symlinkat",
    "fork",
    "vfork",
    "procexit",
    "sendfile",
    "quotactl",
    "setresuid",
    "setresgid",
    "scapevent",
    "setuid",
    "setgid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "execve",
    "clone",
    "fork",
    "vfork",
    "clone",
    "fork",
    "vfork",
    "container",
    "execve",
    "signaldeliver",
    "procinfo",
    "getdents",
    "getdents64",
    "setns",
    "flock",
    "cpu_hotplug",
    "accept",
    "accept4",
    "semop",
    "semctl",
    "ppoll",
    "mount",
    "umount",
    "k8s",
    "semget",
    "access",
    "chroot",
    "tracer",
    "mesos",
    "container",
    "setsid",
    "mkdir",
    "rmdir",
    "notification",
    "execve",
    "unshare",
    "infra",
    "execve",
    "page_fault",
    "execve",
    "setpgid",
    "bpf",
    "seccomp",
    "unlink",
    "unlinkat",
    "mkdirat",
    "openat",
    "link",
    "linkat",
    "fchmodat",
    "chmod",
    "fchmod",
    "renameat2",
    "userfaultfd",
    "pluginevent",
    "container",
    "openat2",
    "mprotect",
    "execveat",
    "copy_file_range",
    "clone3",
    "open_by_handle_at",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "mlock",
    "munlock",
    "mlockall",
    "munlockall",
    "capset",
    "useradded",
    "userdeleted",
    "groupadded",
    "groupdeleted",
    "dup2",
    "dup3",
    "dup",
    "bpf",
    "mlock2",
    "fsconfig",
    "epoll_create",
    "epoll_create1",
    "chown",
    "lchown",
    "fchown",
    "fchownat",
    "umount",
    "accept4",
    "umount2",
    "pipe2",
    "inotify_init1",
    "eventfd2",
    "signalfd4",
    "prctl",
    "asyncevent",
    "memfd_create",
    "pidfd_getfd",
    "pidfd_open",
    "init_module",
    "finit_module",
    "mknod",
    "mknodat",
    "newfstatat",
    "process_vm_readv",
    "process_vm_writev",
    "delete_module",
];

/// Code pairs whose events exist in one direction only and are not syscalls (tracepoints
/// and metaevents): named without a direction.
const ONE_WAY: &[usize] = &[
    8, 73, 74, 76, 93, 98, 114, 116, 117, 122, 130, 134, 135, 136, 140, 143, 145, 161, 162, 177,
    178, 179, 180, 201,
];

/// How an event code is reported when it is not converted: its name, `name >` for the
/// enter event of a syscall, or `type <N>` for a code this table does not know.
pub fn code_name(code: u16) -> String {
    let pair = code as usize / 2;
    match NAMES.get(pair) {
        None => format!("type {code}"),
        Some(name) if code.is_multiple_of(2) && !ONE_WAY.contains(&pair) => format!("{name} >"),
        Some(name) => (*name).to_string(),
    }
}

/// The scap parameter names of each converted event code (libs 0.23's exit schemas; the
/// tracepoint `procexit` is an "enter" event). Parameters are only ever appended to an
/// event code, so older captures with fewer parameters map too.
const CONVERTED: &[(u16, &str, &[&str])] = &[
    (3, "open", &["fd", "name", "flags", "mode", "dev", "ino"]),
    (5, "close", &["res", "fd"]),
    (19, "socket", &["fd", "domain", "type", "proto"]),
    (21, "bind", &["res", "addr", "fd"]),
    (23, "connect", &["res", "tuple", "fd", "addr"]),
    (25, "listen", &["res", "fd", "backlog"]),
    (31, "sendto", &["res", "data", "fd", "size", "tuple"]),
    (35, "recvfrom", &["res", "data", "tuple", "fd", "size"]),
    (49, "sendmsg", &["res", "data", "fd", "size", "tuple"]),
    (
        53,
        "recvmsg",
        &["res", "size", "data", "tuple", "msgcontrol", "fd"],
    ),
    (
        59,
        "creat",
        &["fd", "name", "mode", "dev", "ino", "creat_flags"],
    ),
    (95, "chdir", &["res", "path"]),
    (97, "fchdir", &["res", "fd"]),
    (169, "ptrace", &["res", "addr", "data", "request", "pid"]),
    (175, "rename", &["res", "oldpath", "newpath"]),
    (
        177,
        "renameat",
        &["res", "olddirfd", "oldpath", "newdirfd", "newpath"],
    ),
    (179, "symlink", &["res", "target", "linkpath"]),
    (
        181,
        "symlinkat",
        &["res", "target", "linkdirfd", "linkpath"],
    ),
    (
        186,
        "procexit",
        &["status", "ret", "sig", "core", "reaper_tid"],
    ),
    (193, "setresuid", &["res", "ruid", "euid", "suid"]),
    (195, "setresgid", &["res", "rgid", "egid", "sgid"]),
    (199, "setuid", &["res", "uid"]),
    (201, "setgid", &["res", "gid"]),
    (223, "clone", CLONE_NAMES),
    (225, "fork", CLONE_NAMES),
    (227, "vfork", CLONE_NAMES),
    (241, "setns", &["res", "fd", "nstype"]),
    (
        247,
        "accept",
        &["fd", "tuple", "queuepct", "queuelen", "queuemax"],
    ),
    (275, "setsid", &["res"]),
    (277, "mkdir", &["res", "path", "mode"]),
    (279, "rmdir", &["res", "path"]),
    (285, "unshare", &["res", "flags"]),
    (293, "execve", EXEC_NAMES),
    (301, "unlink", &["res", "path"]),
    (303, "unlinkat", &["res", "dirfd", "name", "flags"]),
    (305, "mkdirat", &["res", "dirfd", "path", "mode"]),
    (
        307,
        "openat",
        &["fd", "dirfd", "name", "flags", "mode", "dev", "ino"],
    ),
    (309, "link", &["res", "oldpath", "newpath"]),
    (
        311,
        "linkat",
        &["res", "olddir", "oldpath", "newdir", "newpath", "flags"],
    ),
    (313, "fchmodat", &["res", "dirfd", "filename", "mode"]),
    (315, "chmod", &["res", "filename", "mode"]),
    (317, "fchmod", &["res", "fd", "mode"]),
    (
        319,
        "renameat2",
        &["res", "olddirfd", "oldpath", "newdirfd", "newpath", "flags"],
    ),
    (321, "userfaultfd", &["res", "flags"]),
    (
        327,
        "openat2",
        &[
            "fd", "dirfd", "name", "flags", "mode", "resolve", "dev", "ino",
        ],
    ),
    (331, "execveat", EXEC_NAMES),
    (335, "clone3", CLONE_NAMES),
    (363, "dup2", &["res", "oldfd", "newfd"]),
    (365, "dup3", &["res", "oldfd", "newfd", "flags"]),
    (367, "dup", &["res", "oldfd"]),
    (369, "bpf", &["fd", "cmd"]),
    (
        389,
        "accept4",
        &["fd", "tuple", "queuepct", "queuelen", "queuemax", "flags"],
    ),
    (411, "init_module", &["res", "img", "length", "uargs"]),
    (413, "finit_module", &["res", "fd", "uargs", "flags"]),
];

const CLONE_NAMES: &[&str] = &[
    "res",
    "exe",
    "args",
    "tid",
    "pid",
    "ptid",
    "cwd",
    "fdlimit",
    "pgft_maj",
    "pgft_min",
    "vm_size",
    "vm_rss",
    "vm_swap",
    "comm",
    "cgroups",
    "flags",
    "uid",
    "gid",
    "vtid",
    "vpid",
    "pidns_init_start_ts",
];

const EXEC_NAMES: &[&str] = &[
    "res",
    "exe",
    "args",
    "tid",
    "pid",
    "ptid",
    "cwd",
    "fdlimit",
    "pgft_maj",
    "pgft_min",
    "vm_size",
    "vm_rss",
    "vm_swap",
    "comm",
    "cgroups",
    "env",
    "tty",
    "vpgid",
    "loginuid",
    "flags",
    "cap_inheritable",
    "cap_permitted",
    "cap_effective",
    "exe_ino",
    "exe_ino_ctime",
    "exe_ino_mtime",
    "uid",
    "trusted_exepath",
    "pgid",
    "gid",
    "filename",
];

/// Position in the scap clone schema of the parameters the state reads.
pub mod clone_idx {
    pub const RES: usize = 0;
    pub const PID: usize = 4;
    pub const FLAGS: usize = 15;
}

/// Where each Peregrine parameter of a converted event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The scap parameter at this position.
    Param(usize),
    /// socket's `type` without the SOCK_NONBLOCK/SOCK_CLOEXEC bits (scap `type`, Peregrine
    /// splits them into `flags`).
    SocketType(usize),
    SocketFlags(usize),
    /// Not in the capture.
    Absent,
}

/// How one converted event code maps.
pub struct Conversion {
    pub etype: EventType,
    /// The scap parameter count of the current schema.
    pub scap_params: usize,
    sources: Vec<Source>,
}

fn table() -> &'static HashMap<u16, Conversion> {
    static TABLE: OnceLock<HashMap<u16, Conversion>> = OnceLock::new();
    TABLE.get_or_init(|| {
        CONVERTED
            .iter()
            .filter_map(|&(code, name, scap)| {
                let etype = EventType::from_name(name)?;
                let sources = etype
                    .params()
                    .iter()
                    .map(|spec| {
                        let pos = scap.iter().position(|n| *n == spec.name);
                        match (name, spec.name, pos) {
                            ("socket", "type", Some(i)) => Source::SocketType(i),
                            ("socket", "flags", _) => scap
                                .iter()
                                .position(|n| *n == "type")
                                .map_or(Source::Absent, Source::SocketFlags),
                            (_, _, Some(i)) => Source::Param(i),
                            (_, _, None) => Source::Absent,
                        }
                    })
                    .collect();
                Some((
                    code,
                    Conversion {
                        etype,
                        scap_params: scap.len(),
                        sources,
                    },
                ))
            })
            .collect()
    })
}

/// The conversion of an event code, when Peregrine models it.
pub fn conversion(code: u16) -> Option<&'static Conversion> {
    table().get(&code)
}

/// The parameter count of the current scap schema of a converted code.
fn scap_param_count(code: u16) -> Option<usize> {
    conversion(code).map(|c| c.scap_params)
}

/// The converted parameters of an event, in Peregrine's schema order. A parameter whose
/// bytes do not fit its kind becomes [`ParamValue::Absent`] and is counted in `bad`.
pub fn convert_params(conv: &Conversion, raw: &RawEvent<'_>, bad: &mut u64) -> Vec<ParamValue> {
    let specs = conv.etype.params();
    let mut out = Vec::with_capacity(specs.len());
    for (spec, src) in specs.iter().zip(&conv.sources) {
        let value = match *src {
            Source::Absent => ParamValue::Absent,
            Source::Param(i) => match raw.param(i) {
                None => ParamValue::Absent,
                Some(b) => decode(spec.kind, b).unwrap_or_else(|| {
                    *bad += 1;
                    ParamValue::Absent
                }),
            },
            Source::SocketType(i) => raw
                .uint(i)
                .map_or(ParamValue::Absent, |t| ParamValue::Uint(t & 0xf)),
            Source::SocketFlags(i) => raw
                .uint(i)
                .map_or(ParamValue::Absent, |t| ParamValue::Uint(t & !0xf)),
        };
        out.push(value);
    }
    out
}

/// Little-endian signed integer of 1, 2, 4 or 8 bytes, sign-extended.
pub fn int_le(b: &[u8]) -> Option<i64> {
    Some(match b.len() {
        1 => b[0] as i8 as i64,
        2 => i16::from_le_bytes([b[0], b[1]]) as i64,
        4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
        8 => u64_at(b, 0) as i64,
        _ => return None,
    })
}

/// Little-endian unsigned integer of 1, 2, 4 or 8 bytes.
pub fn uint_le(b: &[u8]) -> Option<u64> {
    Some(match b.len() {
        1 => b[0] as u64,
        2 => u16_at(b, 0) as u64,
        4 => u32_at(b, 0) as u64,
        8 => u64_at(b, 0),
        _ => return None,
    })
}

/// A NUL-terminated (or not) string, lossily decoded.
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// NUL-separated strings; empty ones dropped (as Peregrine's probes decode them).
pub fn str_list(b: &[u8]) -> Vec<String> {
    b.split(|c| *c == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// One parameter's bytes as `kind`; `None` when they cannot be that kind.
fn decode(kind: ParamKind, b: &[u8]) -> Option<ParamValue> {
    Some(match kind {
        ParamKind::Fd | ParamKind::Errno | ParamKind::Pid | ParamKind::Int => {
            ParamValue::Int(int_le(b)?)
        }
        ParamKind::Flags(set) | ParamKind::Enum(set) => ParamValue::Uint(flags(set, uint_le(b)?)),
        ParamKind::Uid
        | ParamKind::Gid
        | ParamKind::Mode
        | ParamKind::Uint
        | ParamKind::AbsTime => ParamValue::Uint(uint_le(b)?),
        // PT_DYN: an index byte saying which type follows, then the value.
        ParamKind::Dynamic => ParamValue::Uint(uint_le(b.get(1..)?)?),
        ParamKind::FsPath | ParamKind::FsRelPath { .. } | ParamKind::CharBuf => {
            ParamValue::Str(cstr(b))
        }
        ParamKind::ByteBuf => ParamValue::Bytes(b.to_vec()),
        ParamKind::StrList => ParamValue::StrList(str_list(b).into()),
        ParamKind::SockTuple => match tuple(b, L4Proto::Unknown) {
            Some(t) => ParamValue::Tuple(t),
            // A family without a tuple (netlink, packet, …): the family byte alone.
            None if b.len() == 1 => ParamValue::Absent,
            None => return None,
        },
        ParamKind::SockAddr => ParamValue::Addr(sockaddr(b)?),
    })
}

/// Linux address families as libs writes them (`PPM_AF_*` are the Linux values).
const AF_UNIX: u8 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

fn ip4(b: &[u8]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

fn ip6(b: &[u8]) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    unmap(IpAddr::V6(Ipv6Addr::from(a)))
}

/// IPv4-mapped IPv6 addresses shown as IPv4, as Falco (and Peregrine's probes) do.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// A PT_SOCKTUPLE: family, then source and destination (ports in host byte order). The
/// scap tuple carries no layer-4 protocol: `proto` is what the caller knows of the socket.
pub fn tuple(b: &[u8], proto: L4Proto) -> Option<SockTuple> {
    match (*b.first()?, b.len()) {
        (AF_INET, 13) => Some(SockTuple::Inet {
            proto,
            sip: ip4(&b[1..5]),
            sport: u16_at(b, 5),
            dip: ip4(&b[7..11]),
            dport: u16_at(b, 11),
        }),
        (AF_INET6, 37) => Some(SockTuple::Inet {
            proto,
            sip: ip6(&b[1..17]),
            sport: u16_at(b, 17),
            dip: ip6(&b[19..35]),
            dport: u16_at(b, 35),
        }),
        (AF_UNIX, n) if n >= 17 => Some(SockTuple::Unix {
            source: u64_at(b, 1),
            dest: u64_at(b, 9),
            path: cstr(&b[17..]),
        }),
        _ => None,
    }
}

/// A PT_SOCKADDR: family, then address and port (host byte order) or path.
pub fn sockaddr(b: &[u8]) -> Option<SockAddr> {
    match (*b.first()?, b.len()) {
        (AF_INET, 7) => Some(SockAddr::Inet {
            ip: ip4(&b[1..5]),
            port: u16_at(b, 5),
        }),
        (AF_INET6, 19) => Some(SockAddr::Inet {
            ip: ip6(&b[1..17]),
            port: u16_at(b, 17),
        }),
        (AF_UNIX, _) => Some(SockAddr::Unix {
            path: cstr(&b[1..]),
        }),
        (family, 1) => Some(SockAddr::Other {
            family: u16::from(family),
        }),
        _ => None,
    }
}

/// A flag or enum value from libs' encoding to the Linux one Peregrine uses.
pub fn flags(set: FlagSet, v: u64) -> u64 {
    match set {
        FlagSet::OpenFlags => ppm_open(v),
        FlagSet::CloneFlags => ppm_clone(v),
        FlagSet::PtraceRequest => ppm_ptrace(v),
        FlagSet::ResolveFlags => map_bits(v, RESOLVE),
        // dup3 and userfaultfd flags are written as open flags.
        FlagSet::CloexecFlags => ppm_open(v) & lx::O_CLOEXEC,
        FlagSet::UserfaultfdFlags => ppm_open(v) & (lx::O_NONBLOCK | lx::O_CLOEXEC),
        // Same values in both: exec flags (PPM_EXE_*), unlinkat/linkat (AT_*), rename,
        // finit_module, creat (FD_*_LAYER_CREAT), socket families, bpf commands, raw
        // accept4 flags.
        _ => v,
    }
}

fn map_bits(v: u64, table: &[(u64, u64)]) -> u64 {
    table
        .iter()
        .filter(|(ppm, _)| v & ppm != 0)
        .fold(0, |acc, (_, linux)| acc | linux)
}

/// `PPM_O_*` (bit per flag; RDONLY and WRONLY both set mean RDWR) to Linux open flags.
/// PPM_O_F_CREATED becomes Peregrine's `O_F_CREATED`; the overlay-layer bits have no
/// Peregrine counterpart and are dropped.
///
/// The drivers set PPM_O_TMPFILE for every O_DIRECTORY open (they test `flags & O_TMPFILE`,
/// and O_TMPFILE includes O_DIRECTORY's bit). A real O_TMPFILE open needs write access, so
/// the bit is only taken for one: a read-only directory open stays a directory open, as
/// Peregrine's probes report it.
pub fn ppm_open(v: u64) -> u64 {
    const RD: u64 = 1;
    const WR: u64 = 1 << 1;
    const TMPFILE: u64 = 1 << 13;
    let access = match v & (RD | WR) {
        x if x == RD | WR => lx::O_RDWR,
        WR => lx::O_WRONLY,
        _ => lx::O_RDONLY,
    };
    let tmpfile = if v & TMPFILE != 0 && access != lx::O_RDONLY {
        lx::O_TMPFILE
    } else {
        0
    };
    access | map_bits(v, OPEN) | tmpfile
}

const OPEN: &[(u64, u64)] = &[
    (1 << 2, lx::O_CREAT),
    (1 << 3, lx::O_APPEND),
    (1 << 4, lx::O_DSYNC),
    (1 << 5, lx::O_EXCL),
    (1 << 6, lx::O_NONBLOCK),
    (1 << 7, lx::O_SYNC),
    (1 << 8, lx::O_TRUNC),
    (1 << 9, lx::O_DIRECT),
    (1 << 10, lx::O_DIRECTORY),
    (1 << 11, lx::O_LARGEFILE),
    (1 << 12, lx::O_CLOEXEC),
    (1 << 14, lx::O_F_CREATED),
];

/// `PPM_CL_*` to Linux `CLONE_*`. libsinsp's own bits (INVERTED, NAME_CHANGED, CLOSED,
/// ACTIVE, PIPE_*, CHILD_IN_PIDNS, IS_MAIN_THREAD) and the obsolete CLONE_STOPPED are dropped.
pub fn ppm_clone(v: u64) -> u64 {
    map_bits(v, CLONE)
}

/// Linux CLONE_THREAD.
pub const CLONE_THREAD: u64 = 0x10000;

const CLONE: &[(u64, u64)] = &[
    (1 << 0, 0x400),        // FILES
    (1 << 1, 0x200),        // FS
    (1 << 2, 0x8000_0000),  // IO
    (1 << 3, 0x0800_0000),  // NEWIPC
    (1 << 4, 0x4000_0000),  // NEWNET
    (1 << 5, 0x0002_0000),  // NEWNS
    (1 << 6, 0x2000_0000),  // NEWPID
    (1 << 7, 0x0400_0000),  // NEWUTS
    (1 << 8, 0x8000),       // PARENT
    (1 << 9, 0x0010_0000),  // PARENT_SETTID
    (1 << 10, 0x2000),      // PTRACE
    (1 << 11, 0x800),       // SIGHAND
    (1 << 12, 0x0004_0000), // SYSVSEM
    (1 << 13, CLONE_THREAD),
    (1 << 14, 0x0080_0000), // UNTRACED
    (1 << 15, 0x100),       // VM
    (1 << 20, 0x1000_0000), // NEWUSER
    (1 << 23, 0x0020_0000), // CHILD_CLEARTID
    (1 << 24, 0x0100_0000), // CHILD_SETTID
    (1 << 25, 0x0008_0000), // SETTLS
    (1 << 27, 0x4000),      // VFORK
    (1 << 28, 0x0200_0000), // NEWCGROUP
];

/// `PPM_RESOLVE_*` to Linux `RESOLVE_*`.
const RESOLVE: &[(u64, u64)] = &[
    (1 << 0, 0x08), // BENEATH
    (1 << 1, 0x10), // IN_ROOT
    (1 << 2, 0x02), // NO_MAGICLINKS
    (1 << 3, 0x04), // NO_SYMLINKS
    (1 << 4, 0x01), // NO_XDEV
    (1 << 5, 0x20), // CACHED
];

/// `PPM_PTRACE_*` (1-based, in libs' order) to Linux request numbers; unknown requests
/// become 0xffff (no Linux request has it) so they do not pass for PTRACE_TRACEME.
pub fn ppm_ptrace(v: u64) -> u64 {
    const LINUX: [u64; 38] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, // TRACEME … SINGLESTEP
        16, 17, 24, // ATTACH, DETACH, SYSCALL
        0x4200, 0x4201, 0x4202, 0x4203, 0x4204, 0x4205, 0x4206, 0x4207, 0x4208, 0x4209, 0x420a,
        0x420b, // SETOPTIONS … SETSIGMASK
        12, 13, 14, 15, 18, 19, // GETREGS … SETFPXREGS
        21, 25, 26, 30, 31, 32, 33, // OLDSETOPTIONS … SINGLEBLOCK
    ];
    v.checked_sub(1)
        .and_then(|i| LINUX.get(i as usize))
        .copied()
        .unwrap_or(0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_event::flags::open;

    #[test]
    fn every_converted_code_maps_to_a_modelled_type_and_names_match() {
        assert_eq!(
            table().len(),
            CONVERTED.len(),
            "an unknown Peregrine type name"
        );
        for (code, name, scap) in CONVERTED {
            let conv = conversion(*code).unwrap();
            assert!(conv.etype.is_modelled(), "{name}");
            assert_eq!(code_name(*code), *name);
            // Every Peregrine parameter has a source, except socket's split-out flags.
            for (spec, src) in conv.etype.params().iter().zip(&conv.sources) {
                assert_ne!(*src, Source::Absent, "{name}.{}", spec.name);
            }
            assert!(scap.len() <= MAX_PARAMS);
        }
        // Every modelled Peregrine type has a current scap code.
        for t in EventType::all().filter(|t| t.is_modelled()) {
            assert!(
                CONVERTED.iter().any(|(_, n, _)| *n == t.name()),
                "{t} has no scap code"
            );
        }
    }

    #[test]
    fn names_of_codes() {
        assert_eq!(code_name(307), "openat");
        assert_eq!(code_name(306), "openat >");
        assert_eq!(code_name(186), "procexit");
        assert_eq!(code_name(354), "useradded");
        assert_eq!(code_name(425), "delete_module");
        assert_eq!(code_name(426), "type 426");
        assert_eq!(code_name(u16::MAX), "type 65535");
    }

    #[test]
    fn flag_translation() {
        // PPM_O_RDONLY | PPM_O_CLOEXEC | PPM_O_F_CREATED
        assert_eq!(
            ppm_open(1 | 1 << 12 | 1 << 14),
            open::O_RDONLY | open::O_CLOEXEC | open::O_F_CREATED
        );
        assert_eq!(
            ppm_open(3 | 1 << 2 | 1 << 8),
            open::O_RDWR | open::O_CREAT | open::O_TRUNC
        );
        assert_eq!(ppm_open(2 | 1 << 10), open::O_WRONLY | open::O_DIRECTORY);
        // `ls /tmp` as Falco wrote it (0x3441): a directory, not O_TMPFILE.
        assert_eq!(
            ppm_open(0x3441),
            open::O_RDONLY | open::O_NONBLOCK | open::O_DIRECTORY | open::O_CLOEXEC
        );
        // A real O_TMPFILE open (write access).
        assert_eq!(
            ppm_open(3 | 1 << 10 | 1 << 13),
            open::O_RDWR | open::O_TMPFILE
        );
        // CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_INVERTED
        let ppm = 1 << 15 | 1 << 1 | 1 | 1 << 11 | 1 << 13 | 1 << 16;
        assert_eq!(ppm_clone(ppm), 0x100 | 0x200 | 0x400 | 0x800 | CLONE_THREAD);
        assert_eq!(ppm_ptrace(11), 16, "PTRACE_ATTACH");
        assert_eq!(ppm_ptrace(1), 0, "PTRACE_TRACEME");
        assert_eq!(ppm_ptrace(0), 0xffff);
        assert_eq!(ppm_ptrace(99), 0xffff);
        assert_eq!(flags(FlagSet::ResolveFlags, 1 | 1 << 4), 0x08 | 0x01);
        assert_eq!(flags(FlagSet::CloexecFlags, 1 << 12), open::O_CLOEXEC);
        assert_eq!(flags(FlagSet::ExecFlags, 5), 5);
    }

    #[test]
    fn integers_tuples_addresses() {
        assert_eq!(
            int_le(&[0x9c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Some(-100)
        );
        assert_eq!(int_le(&[0xff, 0xff, 0xff, 0xff]), Some(-1));
        assert_eq!(uint_le(&[0xff, 0xff, 0xff, 0xff]), Some(u32::MAX as u64));
        assert_eq!(int_le(&[1, 2, 3]), None);
        // 127.0.0.1:41654 -> 127.0.0.1:39123, as Falco wrote it.
        let t = [2, 127, 0, 0, 1, 0xb6, 0xa2, 127, 0, 0, 1, 0xd3, 0x98];
        assert_eq!(
            tuple(&t, L4Proto::Tcp).unwrap().to_string(),
            "127.0.0.1:41654->127.0.0.1:39123"
        );
        assert_eq!(tuple(&t[..12], L4Proto::Tcp), None);
        let a = sockaddr(&[2, 127, 0, 0, 1, 0xd3, 0x98]).unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:39123");
        assert_eq!(
            sockaddr(b"\x01/run/x.sock\0").unwrap(),
            SockAddr::Unix {
                path: "/run/x.sock".into()
            }
        );
        assert_eq!(sockaddr(&[16]).unwrap(), SockAddr::Other { family: 16 });
        assert_eq!(sockaddr(&[2, 1, 2]), None);
        assert_eq!(
            decode(ParamKind::SockTuple, &[16]),
            Some(ParamValue::Absent)
        );
        assert_eq!(
            decode(ParamKind::Dynamic, &[0, 7, 0, 0, 0, 0, 0, 0, 0]),
            Some(ParamValue::Uint(7))
        );
        assert_eq!(
            decode(ParamKind::StrList, b"-c\0echo hi\0"),
            Some(ParamValue::StrList(["-c".into(), "echo hi".into()].into()))
        );
    }

    fn event(code: u16, params: &[&[u8]]) -> Vec<u8> {
        let lens: usize = params.iter().map(|p| p.len()).sum();
        let len = HDR_LEN + 2 * params.len() + lens;
        let mut b = Vec::new();
        b.extend(5u64.to_le_bytes());
        b.extend(42u64.to_le_bytes());
        b.extend((len as u32).to_le_bytes());
        b.extend(code.to_le_bytes());
        b.extend((params.len() as u32).to_le_bytes());
        for p in params {
            b.extend((p.len() as u16).to_le_bytes());
        }
        for p in params {
            b.extend(*p);
        }
        b
    }

    #[test]
    fn splitting_checks_every_length() {
        let b = event(5, &[&0i64.to_le_bytes(), &3i64.to_le_bytes()]);
        let raw = split(&b, false).unwrap();
        assert_eq!(raw.hdr.tid, 42);
        assert_eq!(raw.int(1), Some(3));
        // Every truncation is refused, none panics.
        for cut in 0..b.len() {
            assert!(split(&b[..cut], false).is_err(), "cut at {cut}");
        }
        // A parameter length past the end.
        let mut bad = b.clone();
        bad[HDR_LEN] = 200;
        assert_eq!(split(&bad, false).unwrap_err(), EventFault::ParamsOverrun);
        // Too many parameters.
        let mut bad = b.clone();
        bad[22..26].copy_from_slice(&1000u32.to_le_bytes());
        assert_eq!(
            split(&bad, false).unwrap_err(),
            EventFault::TooManyParams(1000)
        );
        // A length field larger than the block.
        let mut bad = b.clone();
        bad[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            split(&bad, false),
            Err(EventFault::BadLength { .. })
        ));
    }

    #[test]
    fn version_one_events_count_their_parameters() {
        let v2 = event(5, &[&0i64.to_le_bytes(), &3i64.to_le_bytes()]);
        // The same event without nparams: header 22 bytes, length 4 smaller.
        let mut v1 = v2[..22].to_vec();
        let len = (v2.len() - 4) as u32;
        v1[16..20].copy_from_slice(&len.to_le_bytes());
        v1.extend(&v2[26..]);
        let raw = split(&v1, true).unwrap();
        assert_eq!(raw.params.len(), 2);
        assert_eq!(raw.int(1), Some(3));
    }

    #[test]
    fn converting_an_openat() {
        let b = event(
            307,
            &[
                &3i64.to_le_bytes(),
                &(-100i64).to_le_bytes(),
                b"/etc/shadow\0",
                &(1u32 | 1 << 12).to_le_bytes(),
                &0u32.to_le_bytes(),
                &0xfe00u32.to_le_bytes(),
                &737u64.to_le_bytes(),
            ],
        );
        let raw = split(&b, false).unwrap();
        let conv = conversion(307).unwrap();
        let mut bad = 0;
        let p = convert_params(conv, &raw, &mut bad);
        assert_eq!(bad, 0);
        assert_eq!(conv.etype, EventType::OPENAT);
        assert_eq!(p[0], ParamValue::Int(3));
        assert_eq!(p[1], ParamValue::Int(-100));
        assert_eq!(p[2], ParamValue::Str("/etc/shadow".into()));
        assert_eq!(p[3], ParamValue::Uint(open::O_RDONLY | open::O_CLOEXEC));
        assert_eq!(p[6], ParamValue::Uint(737));
        // A socket's type is split into type and flags.
        let b = event(
            19,
            &[
                &3i64.to_le_bytes(),
                &2u32.to_le_bytes(),
                &(1u32 | 0o2000000 | 0o4000).to_le_bytes(),
                &6u32.to_le_bytes(),
            ],
        );
        let raw = split(&b, false).unwrap();
        let p = convert_params(conversion(19).unwrap(), &raw, &mut bad);
        assert_eq!(p[2], ParamValue::Uint(1));
        assert_eq!(p[4], ParamValue::Uint(0o2000000 | 0o4000));
        // A malformed integer is absent and counted.
        let b = event(5, &[&[1, 2, 3], &3i64.to_le_bytes()]);
        let raw = split(&b, false).unwrap();
        let p = convert_params(conversion(5).unwrap(), &raw, &mut bad);
        assert_eq!(p[0], ParamValue::Absent);
        assert_eq!(bad, 1);
    }
}
