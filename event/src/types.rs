//! Event types and their parameter schemas.
//!
//! Every x86_64 system call name is a valid event type (rules may name any of them); the
//! types Peregrine's probes produce carry a schema: Falco's exit-event parameters, in
//! Falco's order and with Falco's names, so `evt.arg.flags` and `evt.arg[1]` resolve alike.

use crate::flags::FlagSet;
use crate::syscalls::SYSCALL_NAMES;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::sync::OnceLock;

/// The kind of one parameter: decides how it is typed and rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A file descriptor number (negative on failure).
    Fd,
    /// A syscall return value: 0 or positive on success, -errno on failure.
    Errno,
    Pid,
    Uid,
    Gid,
    /// An absolute or cwd-relative path, as the process passed it.
    FsPath,
    /// A path relative to the directory fd in parameter `dirfd_index`.
    FsRelPath {
        dirfd_index: u8,
    },
    CharBuf,
    ByteBuf,
    /// NUL-separated strings (exec arguments, environment).
    StrList,
    Flags(FlagSet),
    Enum(FlagSet),
    Mode,
    Uint,
    Int,
    SockTuple,
    SockAddr,
    /// Epoch nanoseconds.
    AbsTime,
    /// A value whose meaning depends on another parameter (ptrace addr/data).
    Dynamic,
}

/// One parameter of an event type's schema.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamKind,
}

const fn p(name: &'static str, kind: ParamKind) -> ParamSpec {
    ParamSpec { name, kind }
}

use ParamKind::*;

const fn rel(i: u8) -> ParamKind {
    FsRelPath { dirfd_index: i }
}

const EXEC_PARAMS: &[ParamSpec] = &[
    p("res", Errno),
    p("exe", CharBuf),
    p("args", StrList),
    p("tid", Pid),
    p("pid", Pid),
    p("ptid", Pid),
    p("cwd", CharBuf),
    p("comm", CharBuf),
    p("cgroups", StrList),
    p("env", StrList),
    p("tty", Uint),
    p("vpgid", Pid),
    p("loginuid", Uid),
    p("flags", Flags(FlagSet::ExecFlags)),
    p("cap_inheritable", Uint),
    p("cap_permitted", Uint),
    p("cap_effective", Uint),
    p("exe_ino", Uint),
    p("exe_ino_ctime", AbsTime),
    p("exe_ino_mtime", AbsTime),
    p("uid", Uid),
    p("trusted_exepath", FsPath),
    p("pgid", Pid),
    p("gid", Gid),
    p("filename", FsPath),
];

const CLONE_PARAMS: &[ParamSpec] = &[
    p("res", Pid),
    p("exe", CharBuf),
    p("args", StrList),
    p("tid", Pid),
    p("pid", Pid),
    p("ptid", Pid),
    p("cwd", CharBuf),
    p("comm", CharBuf),
    p("flags", Flags(FlagSet::CloneFlags)),
    p("uid", Uid),
    p("gid", Gid),
    p("vtid", Pid),
    p("vpid", Pid),
];

/// The modelled event types, in id order. Their ids are fixed: the probes' wire format uses them.
const MODELLED: &[(&str, &[ParamSpec])] = &[
    ("execve", EXEC_PARAMS),
    ("execveat", EXEC_PARAMS),
    (
        "open",
        &[
            p("fd", Fd),
            p("name", FsPath),
            p("flags", Flags(FlagSet::OpenFlags)),
            p("mode", Mode),
            p("dev", Uint),
            p("ino", Uint),
        ],
    ),
    (
        "openat",
        &[
            p("fd", Fd),
            p("dirfd", Fd),
            p("name", rel(1)),
            p("flags", Flags(FlagSet::OpenFlags)),
            p("mode", Mode),
            p("dev", Uint),
            p("ino", Uint),
        ],
    ),
    (
        "openat2",
        &[
            p("fd", Fd),
            p("dirfd", Fd),
            p("name", rel(1)),
            p("flags", Flags(FlagSet::OpenFlags)),
            p("mode", Mode),
            p("resolve", Flags(FlagSet::ResolveFlags)),
            p("dev", Uint),
            p("ino", Uint),
        ],
    ),
    (
        "creat",
        &[
            p("fd", Fd),
            p("name", FsPath),
            p("mode", Mode),
            p("dev", Uint),
            p("ino", Uint),
            p("creat_flags", Flags(FlagSet::CreatFlags)),
        ],
    ),
    (
        "connect",
        &[
            p("res", Errno),
            p("tuple", SockTuple),
            p("fd", Fd),
            p("addr", SockAddr),
        ],
    ),
    (
        "accept",
        &[
            p("fd", Fd),
            p("tuple", SockTuple),
            p("queuepct", Uint),
            p("queuelen", Uint),
            p("queuemax", Uint),
        ],
    ),
    (
        "accept4",
        &[
            p("fd", Fd),
            p("tuple", SockTuple),
            p("queuepct", Uint),
            p("queuelen", Uint),
            p("queuemax", Uint),
            p("flags", Flags(FlagSet::SocketFlags)),
        ],
    ),
    ("listen", &[p("res", Errno), p("fd", Fd), p("backlog", Int)]),
    ("bind", &[p("res", Errno), p("addr", SockAddr), p("fd", Fd)]),
    (
        "socket",
        &[
            p("fd", Fd),
            p("domain", Enum(FlagSet::SocketFamily)),
            p("type", Uint),
            p("proto", Uint),
            p("flags", Flags(FlagSet::SocketFlags)),
        ],
    ),
    (
        "sendto",
        &[
            p("res", Errno),
            p("data", ByteBuf),
            p("fd", Fd),
            p("size", Uint),
            p("tuple", SockTuple),
        ],
    ),
    (
        "sendmsg",
        &[
            p("res", Errno),
            p("data", ByteBuf),
            p("fd", Fd),
            p("size", Uint),
            p("tuple", SockTuple),
        ],
    ),
    (
        "recvfrom",
        &[
            p("res", Errno),
            p("data", ByteBuf),
            p("tuple", SockTuple),
            p("fd", Fd),
            p("size", Uint),
        ],
    ),
    (
        "recvmsg",
        &[
            p("res", Errno),
            p("size", Uint),
            p("data", ByteBuf),
            p("tuple", SockTuple),
            p("msgcontrol", ByteBuf),
            p("fd", Fd),
        ],
    ),
    ("dup", &[p("res", Fd), p("oldfd", Fd)]),
    ("dup2", &[p("res", Fd), p("oldfd", Fd), p("newfd", Fd)]),
    (
        "dup3",
        &[
            p("res", Fd),
            p("oldfd", Fd),
            p("newfd", Fd),
            p("flags", Flags(FlagSet::CloexecFlags)),
        ],
    ),
    (
        "chmod",
        &[p("res", Errno), p("filename", FsPath), p("mode", Mode)],
    ),
    ("fchmod", &[p("res", Errno), p("fd", Fd), p("mode", Mode)]),
    (
        "fchmodat",
        &[
            p("res", Errno),
            p("dirfd", Fd),
            p("filename", rel(1)),
            p("mode", Mode),
        ],
    ),
    (
        "mkdir",
        &[p("res", Errno), p("path", FsPath), p("mode", Mode)],
    ),
    (
        "mkdirat",
        &[
            p("res", Errno),
            p("dirfd", Fd),
            p("path", rel(1)),
            p("mode", Mode),
        ],
    ),
    ("rmdir", &[p("res", Errno), p("path", FsPath)]),
    ("unlink", &[p("res", Errno), p("path", FsPath)]),
    (
        "unlinkat",
        &[
            p("res", Errno),
            p("dirfd", Fd),
            p("name", rel(1)),
            p("flags", Flags(FlagSet::UnlinkatFlags)),
        ],
    ),
    (
        "rename",
        &[p("res", Errno), p("oldpath", FsPath), p("newpath", FsPath)],
    ),
    (
        "renameat",
        &[
            p("res", Errno),
            p("olddirfd", Fd),
            p("oldpath", rel(1)),
            p("newdirfd", Fd),
            p("newpath", rel(3)),
        ],
    ),
    (
        "renameat2",
        &[
            p("res", Errno),
            p("olddirfd", Fd),
            p("oldpath", rel(1)),
            p("newdirfd", Fd),
            p("newpath", rel(3)),
            p("flags", Flags(FlagSet::RenameFlags)),
        ],
    ),
    (
        "symlink",
        &[p("res", Errno), p("target", CharBuf), p("linkpath", FsPath)],
    ),
    (
        "symlinkat",
        &[
            p("res", Errno),
            p("target", CharBuf),
            p("linkdirfd", Fd),
            p("linkpath", rel(2)),
        ],
    ),
    (
        "link",
        &[p("res", Errno), p("oldpath", FsPath), p("newpath", FsPath)],
    ),
    (
        "linkat",
        &[
            p("res", Errno),
            p("olddir", Fd),
            p("oldpath", rel(1)),
            p("newdir", Fd),
            p("newpath", rel(3)),
            p("flags", Flags(FlagSet::LinkatFlags)),
        ],
    ),
    (
        "ptrace",
        &[
            p("res", Errno),
            p("addr", Dynamic),
            p("data", Dynamic),
            p("request", Enum(FlagSet::PtraceRequest)),
            p("pid", Pid),
        ],
    ),
    ("setuid", &[p("res", Errno), p("uid", Uid)]),
    ("setgid", &[p("res", Errno), p("gid", Gid)]),
    (
        "setns",
        &[
            p("res", Errno),
            p("fd", Fd),
            p("nstype", Flags(FlagSet::CloneFlags)),
        ],
    ),
    (
        "unshare",
        &[p("res", Errno), p("flags", Flags(FlagSet::CloneFlags))],
    ),
    ("bpf", &[p("fd", Fd), p("cmd", Enum(FlagSet::BpfCmd))]),
    (
        "init_module",
        &[
            p("res", Errno),
            p("img", ByteBuf),
            p("length", Uint),
            p("uargs", CharBuf),
        ],
    ),
    (
        "finit_module",
        &[
            p("res", Errno),
            p("fd", Fd),
            p("uargs", CharBuf),
            p("flags", Flags(FlagSet::FinitModuleFlags)),
        ],
    ),
    (
        "userfaultfd",
        &[
            p("res", Errno),
            p("flags", Flags(FlagSet::UserfaultfdFlags)),
        ],
    ),
    ("close", &[p("res", Errno), p("fd", Fd)]),
    ("clone", CLONE_PARAMS),
    ("clone3", CLONE_PARAMS),
    ("fork", CLONE_PARAMS),
    ("vfork", CLONE_PARAMS),
    (
        "procexit",
        &[
            p("status", Int),
            p("ret", Int),
            p("sig", Uint),
            p("core", Uint),
            p("reaper_tid", Pid),
        ],
    ),
    ("chdir", &[p("res", Errno), p("path", FsPath)]),
    ("fchdir", &[p("res", Errno), p("fd", Fd)]),
    (
        "setresuid",
        &[
            p("res", Errno),
            p("ruid", Uid),
            p("euid", Uid),
            p("suid", Uid),
        ],
    ),
    (
        "setresgid",
        &[
            p("res", Errno),
            p("rgid", Gid),
            p("egid", Gid),
            p("sgid", Gid),
        ],
    ),
    ("setsid", &[p("res", Pid)]),
];

/// An event type: an index into the table of known names. Serialized by name, so captures
/// survive a reordering of the table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(u16);

struct Table {
    names: Vec<&'static str>,
    /// Per modelled type: which parameter holds the fd the event acts on.
    fd_params: Vec<Option<usize>>,
}

/// The fd an event acts on: an input `fd` parameter, or the result for calls that create one.
fn fd_param_of(name: &str, params: &[ParamSpec]) -> Option<usize> {
    if let Some(i) = params.iter().skip(1).position(|p| p.name == "fd") {
        return Some(i + 1);
    }
    let creates_fd = matches!(
        name,
        "open"
            | "openat"
            | "openat2"
            | "creat"
            | "socket"
            | "accept"
            | "accept4"
            | "bpf"
            | "dup"
            | "dup2"
            | "dup3"
    );
    creates_fd.then_some(0)
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut names: Vec<&'static str> = MODELLED.iter().map(|(n, _)| *n).collect();
        for (_, name) in SYSCALL_NAMES {
            if !names.contains(name) {
                names.push(name);
            }
        }
        let fd_params = MODELLED.iter().map(|(n, p)| fd_param_of(n, p)).collect();
        Table { names, fd_params }
    })
}

macro_rules! event_type_consts {
    ($($konst:ident = $idx:expr, $name:literal;)*) => {
        impl EventType {
            $(pub const $konst: EventType = EventType($idx);)*
        }
        #[cfg(test)]
        const CONST_NAMES: &[(EventType, &str)] = &[$((EventType::$konst, $name)),*];
    };
}

event_type_consts! {
    EXECVE = 0, "execve"; EXECVEAT = 1, "execveat"; OPEN = 2, "open"; OPENAT = 3, "openat";
    OPENAT2 = 4, "openat2"; CREAT = 5, "creat"; CONNECT = 6, "connect"; ACCEPT = 7, "accept";
    ACCEPT4 = 8, "accept4"; LISTEN = 9, "listen"; BIND = 10, "bind"; SOCKET = 11, "socket";
    SENDTO = 12, "sendto"; SENDMSG = 13, "sendmsg"; RECVFROM = 14, "recvfrom"; RECVMSG = 15, "recvmsg";
    DUP = 16, "dup"; DUP2 = 17, "dup2"; DUP3 = 18, "dup3"; CHMOD = 19, "chmod"; FCHMOD = 20, "fchmod";
    FCHMODAT = 21, "fchmodat"; MKDIR = 22, "mkdir"; MKDIRAT = 23, "mkdirat"; RMDIR = 24, "rmdir";
    UNLINK = 25, "unlink"; UNLINKAT = 26, "unlinkat"; RENAME = 27, "rename"; RENAMEAT = 28, "renameat";
    RENAMEAT2 = 29, "renameat2"; SYMLINK = 30, "symlink"; SYMLINKAT = 31, "symlinkat"; LINK = 32, "link";
    LINKAT = 33, "linkat"; PTRACE = 34, "ptrace"; SETUID = 35, "setuid"; SETGID = 36, "setgid";
    SETNS = 37, "setns"; UNSHARE = 38, "unshare"; BPF = 39, "bpf"; INIT_MODULE = 40, "init_module";
    FINIT_MODULE = 41, "finit_module"; USERFAULTFD = 42, "userfaultfd"; CLOSE = 43, "close";
    CLONE = 44, "clone"; CLONE3 = 45, "clone3"; FORK = 46, "fork"; VFORK = 47, "vfork";
    PROCEXIT = 48, "procexit"; CHDIR = 49, "chdir"; FCHDIR = 50, "fchdir"; SETRESUID = 51, "setresuid";
    SETRESGID = 52, "setresgid"; SETSID = 53, "setsid";
}

impl EventType {
    /// Looks a name up among all known event types.
    pub fn from_name(name: &str) -> Option<EventType> {
        table()
            .names
            .iter()
            .position(|n| *n == name)
            .map(|i| EventType(i as u16))
    }

    pub fn from_index(index: u16) -> Option<EventType> {
        ((index as usize) < table().names.len()).then_some(EventType(index))
    }

    pub fn name(self) -> &'static str {
        table().names[self.0 as usize]
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// How many event types exist (the size of an index keyed by event type).
    pub fn count() -> usize {
        table().names.len()
    }

    pub fn all() -> impl Iterator<Item = EventType> {
        (0..Self::count() as u16).map(EventType)
    }

    /// The parameter schema; empty for types Peregrine does not capture.
    pub fn params(self) -> &'static [ParamSpec] {
        MODELLED
            .get(self.0 as usize)
            .map(|(_, p)| *p)
            .unwrap_or(&[])
    }

    /// Whether Peregrine's probes produce this type.
    pub fn is_modelled(self) -> bool {
        (self.0 as usize) < MODELLED.len()
    }

    /// The parameter holding the fd this event type acts on (an input `fd`, or the result
    /// for calls that create one); a table lookup.
    pub fn fd_param(self) -> Option<usize> {
        table().fd_params.get(self.0 as usize).copied().flatten()
    }

    pub fn param_index(self, name: &str) -> Option<usize> {
        self.params().iter().position(|p| p.name == name)
    }

    pub fn is_exec(self) -> bool {
        self == Self::EXECVE || self == Self::EXECVEAT
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::OPEN | Self::OPENAT | Self::OPENAT2 | Self::CREAT
        )
    }

    pub fn is_clone(self) -> bool {
        matches!(self, Self::CLONE | Self::CLONE3 | Self::FORK | Self::VFORK)
    }
}

impl fmt::Debug for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        EventType::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type '{name}'")))
    }
}

/// Enter (`>`) or exit (`<`). Falco ≥ 0.42 only produces exit events for syscalls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    #[serde(rename = ">")]
    Enter,
    #[default]
    #[serde(rename = "<")]
    Exit,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Enter => ">",
            Direction::Exit => "<",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_table() {
        for (t, name) in CONST_NAMES {
            assert_eq!(t.name(), *name);
            assert!(t.is_modelled());
        }
        assert_eq!(CONST_NAMES.len(), MODELLED.len());
    }

    #[test]
    fn every_syscall_name_is_known() {
        assert_eq!(
            EventType::from_name("pivot_root").map(|t| t.name()),
            Some("pivot_root")
        );
        assert!(!EventType::from_name("pivot_root").unwrap().is_modelled());
        assert!(EventType::from_name("no_such_call").is_none());
        let openat = EventType::from_name("openat").unwrap();
        assert_eq!(openat.param_index("flags"), Some(3));
    }

    #[test]
    fn fs_rel_paths_point_at_fd_params() {
        for t in EventType::all().filter(|t| t.is_modelled()) {
            for spec in t.params() {
                if let FsRelPath { dirfd_index } = spec.kind {
                    assert_eq!(
                        t.params()[dirfd_index as usize].kind,
                        Fd,
                        "{t} {}",
                        spec.name
                    );
                }
            }
        }
    }
}
