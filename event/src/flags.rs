//! Symbolic names for flag and enum parameters, rendered the way Falco prints them
//! (`O_RDONLY|O_CLOEXEC`, `S_IRUSR|S_IWUSR`, `PTRACE_ATTACH`).

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// How a numeric parameter turns into names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagSet {
    OpenFlags,
    FileMode,
    PtraceRequest,
    SocketFamily,
    CloneFlags,
    BpfCmd,
    ExecFlags,
    UnlinkatFlags,
    LinkatFlags,
    RenameFlags,
    CloexecFlags,
    UserfaultfdFlags,
    FinitModuleFlags,
    SocketFlags,
    ResolveFlags,
    CreatFlags,
}

/// Linux open(2) flag bits (x86_64 values).
pub mod open {
    pub const O_ACCMODE: u64 = 0o3;
    pub const O_RDONLY: u64 = 0;
    pub const O_WRONLY: u64 = 0o1;
    pub const O_RDWR: u64 = 0o2;
    pub const O_CREAT: u64 = 0o100;
    pub const O_EXCL: u64 = 0o200;
    pub const O_NOCTTY: u64 = 0o400;
    pub const O_TRUNC: u64 = 0o1000;
    pub const O_APPEND: u64 = 0o2000;
    pub const O_NONBLOCK: u64 = 0o4000;
    pub const O_DSYNC: u64 = 0o10000;
    pub const O_ASYNC: u64 = 0o20000;
    pub const O_DIRECT: u64 = 0o40000;
    pub const O_LARGEFILE: u64 = 0o100000;
    pub const O_DIRECTORY: u64 = 0o200000;
    pub const O_NOFOLLOW: u64 = 0o400000;
    pub const O_NOATIME: u64 = 0o1000000;
    pub const O_CLOEXEC: u64 = 0o2000000;
    pub const O_SYNC: u64 = 0o4010000;
    pub const O_PATH: u64 = 0o10000000;
    pub const O_TMPFILE: u64 = 0o20200000;
    /// Not a Linux bit: the probe sets it when the open created the file (Falco's
    /// PPM_O_F_CREATED), which `evt.is_open_create` reports.
    pub const O_F_CREATED: u64 = 1 << 32;
}

/// Flag bits reported for an executable by the exec probe (Falco's PPM_EXE_*).
pub mod exe {
    pub const WRITABLE: u64 = 1;
    pub const UPPER_LAYER: u64 = 2;
    pub const FROM_MEMFD: u64 = 4;
    pub const LOWER_LAYER: u64 = 8;
}

const OPEN_BITS: &[(u64, &str)] = &[
    (open::O_CREAT, "O_CREAT"),
    (open::O_EXCL, "O_EXCL"),
    (open::O_NOCTTY, "O_NOCTTY"),
    (open::O_TRUNC, "O_TRUNC"),
    (open::O_APPEND, "O_APPEND"),
    (open::O_NONBLOCK, "O_NONBLOCK"),
    (open::O_SYNC, "O_SYNC"),
    (open::O_DSYNC, "O_DSYNC"),
    (open::O_ASYNC, "O_ASYNC"),
    (open::O_DIRECT, "O_DIRECT"),
    (open::O_LARGEFILE, "O_LARGEFILE"),
    (open::O_TMPFILE, "O_TMPFILE"),
    (open::O_DIRECTORY, "O_DIRECTORY"),
    (open::O_NOFOLLOW, "O_NOFOLLOW"),
    (open::O_NOATIME, "O_NOATIME"),
    (open::O_CLOEXEC, "O_CLOEXEC"),
    (open::O_PATH, "O_PATH"),
    (open::O_F_CREATED, "O_F_CREATED"),
];

const MODE_BITS: &[(u64, &str)] = &[
    (0o1, "S_IXOTH"),
    (0o2, "S_IWOTH"),
    (0o4, "S_IROTH"),
    (0o10, "S_IXGRP"),
    (0o20, "S_IWGRP"),
    (0o40, "S_IRGRP"),
    (0o100, "S_IXUSR"),
    (0o200, "S_IWUSR"),
    (0o400, "S_IRUSR"),
    (0o1000, "S_ISVTX"),
    (0o2000, "S_ISGID"),
    (0o4000, "S_ISUID"),
];

const PTRACE_REQUESTS: &[(u64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (18, "PTRACE_GETFPXREGS"),
    (19, "PTRACE_SETFPXREGS"),
    (24, "PTRACE_SYSCALL"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
    (0x4209, "PTRACE_PEEKSIGINFO"),
];

const SOCKET_FAMILIES: &[(u64, &str)] = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (29, "AF_CAN"),
    (31, "AF_BLUETOOTH"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (44, "AF_XDP"),
];

const CLONE_BITS: &[(u64, &str)] = &[
    (0x80, "CLONE_NEWTIME"),
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

const BPF_CMDS: &[(u64, &str)] = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_TEST_RUN"),
    (11, "BPF_PROG_GET_NEXT_ID"),
    (12, "BPF_MAP_GET_NEXT_ID"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (15, "BPF_OBJ_GET_INFO_BY_FD"),
    (16, "BPF_PROG_QUERY"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
    (19, "BPF_BTF_GET_FD_BY_ID"),
    (20, "BPF_TASK_FD_QUERY"),
    (21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
    (22, "BPF_MAP_FREEZE"),
    (23, "BPF_BTF_GET_NEXT_ID"),
    (24, "BPF_MAP_LOOKUP_BATCH"),
    (25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
    (26, "BPF_MAP_UPDATE_BATCH"),
    (27, "BPF_MAP_DELETE_BATCH"),
    (28, "BPF_LINK_CREATE"),
    (29, "BPF_LINK_UPDATE"),
    (30, "BPF_LINK_GET_FD_BY_ID"),
    (31, "BPF_LINK_GET_NEXT_ID"),
    (32, "BPF_ENABLE_STATS"),
    (33, "BPF_ITER_CREATE"),
    (34, "BPF_LINK_DETACH"),
    (35, "BPF_PROG_BIND_MAP"),
    (36, "BPF_TOKEN_CREATE"),
];

const EXEC_BITS: &[(u64, &str)] = &[
    (exe::WRITABLE, "EXE_WRITABLE"),
    (exe::UPPER_LAYER, "EXE_UPPER_LAYER"),
    (exe::FROM_MEMFD, "EXE_FROM_MEMFD"),
    (exe::LOWER_LAYER, "EXE_LOWER_LAYER"),
];

const UNLINKAT_BITS: &[(u64, &str)] = &[(0x200, "AT_REMOVEDIR")];
const LINKAT_BITS: &[(u64, &str)] = &[(0x400, "AT_SYMLINK_FOLLOW"), (0x1000, "AT_EMPTY_PATH")];
const RENAME_BITS: &[(u64, &str)] = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];
const CLOEXEC_BITS: &[(u64, &str)] = &[(open::O_CLOEXEC, "O_CLOEXEC")];
const USERFAULTFD_BITS: &[(u64, &str)] = &[
    (1, "UFFD_USER_MODE_ONLY"),
    (open::O_NONBLOCK, "O_NONBLOCK"),
    (open::O_CLOEXEC, "O_CLOEXEC"),
];
const FINIT_MODULE_BITS: &[(u64, &str)] = &[
    (1, "MODULE_INIT_IGNORE_MODVERSIONS"),
    (2, "MODULE_INIT_IGNORE_VERMAGIC"),
    (4, "MODULE_INIT_COMPRESSED_FILE"),
];
const SOCKET_BITS: &[(u64, &str)] = &[
    (open::O_NONBLOCK, "SOCK_NONBLOCK"),
    (open::O_CLOEXEC, "SOCK_CLOEXEC"),
];
const RESOLVE_BITS: &[(u64, &str)] = &[
    (1, "RESOLVE_NO_XDEV"),
    (2, "RESOLVE_NO_MAGICLINKS"),
    (4, "RESOLVE_NO_SYMLINKS"),
    (8, "RESOLVE_BENEATH"),
    (0x10, "RESOLVE_IN_ROOT"),
    (0x20, "RESOLVE_CACHED"),
];
const CREAT_BITS: &[(u64, &str)] = &[(1, "FD_UPPER_LAYER_CREAT"), (2, "FD_LOWER_LAYER_CREAT")];

impl FlagSet {
    /// Whether the value is one enumerated constant rather than a bit set.
    pub fn is_enum(self) -> bool {
        matches!(
            self,
            FlagSet::PtraceRequest | FlagSet::SocketFamily | FlagSet::BpfCmd
        )
    }

    fn table(self) -> &'static [(u64, &'static str)] {
        match self {
            FlagSet::OpenFlags => OPEN_BITS,
            FlagSet::FileMode => MODE_BITS,
            FlagSet::PtraceRequest => PTRACE_REQUESTS,
            FlagSet::SocketFamily => SOCKET_FAMILIES,
            FlagSet::CloneFlags => CLONE_BITS,
            FlagSet::BpfCmd => BPF_CMDS,
            FlagSet::ExecFlags => EXEC_BITS,
            FlagSet::UnlinkatFlags => UNLINKAT_BITS,
            FlagSet::LinkatFlags => LINKAT_BITS,
            FlagSet::RenameFlags => RENAME_BITS,
            FlagSet::CloexecFlags => CLOEXEC_BITS,
            FlagSet::UserfaultfdFlags => USERFAULTFD_BITS,
            FlagSet::FinitModuleFlags => FINIT_MODULE_BITS,
            FlagSet::SocketFlags => SOCKET_BITS,
            FlagSet::ResolveFlags => RESOLVE_BITS,
            FlagSet::CreatFlags => CREAT_BITS,
        }
    }

    /// Renders `value` as Falco does: enum name, or bit names joined with `|`.
    /// Bits without a name are left out; an enum value without a name renders as its number.
    pub fn render(self, value: u64) -> String {
        let mut out = String::new();
        self.render_into(value, &mut out);
        out
    }

    pub fn render_into(self, value: u64, out: &mut String) {
        let mut first = true;
        let named = self.each_name(value, |name| {
            if !first {
                out.push('|');
            }
            first = false;
            out.push_str(name);
        });
        if !named {
            let _ = write!(out, "{value}");
        }
    }

    /// Every name [`each_name`](Self::each_name) can give.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let access: &[&'static str] = if self == FlagSet::OpenFlags {
            &["O_RDONLY", "O_WRONLY", "O_RDWR"]
        } else {
            &[]
        };
        access
            .iter()
            .copied()
            .chain(self.table().iter().map(|(_, name)| *name))
    }

    /// Calls `f` with each name [`render_into`](Self::render_into) joins, in order. False
    /// when the rendering is no names: an enum value without one renders as its number.
    pub fn each_name(self, value: u64, mut f: impl FnMut(&'static str)) -> bool {
        let table = self.table();
        if self.is_enum() {
            return match table.iter().find(|(v, _)| *v == value) {
                Some((_, name)) => {
                    f(name);
                    true
                }
                None => false,
            };
        }
        let mut rest = value;
        if self == FlagSet::OpenFlags {
            f(match value & open::O_ACCMODE {
                open::O_WRONLY => "O_WRONLY",
                open::O_RDWR => "O_RDWR",
                _ => "O_RDONLY",
            });
            rest &= !open::O_ACCMODE;
        }
        for &(bit, name) in table {
            // Multi-bit names (O_SYNC, O_TMPFILE) only when all their bits are set.
            if bit != 0 && rest & bit == bit {
                f(name);
                rest &= !bit;
            }
        }
        true
    }

    /// The numeric value of a flag or enum name, for conditions that compare by name.
    pub fn value_of(self, name: &str) -> Option<u64> {
        if self == FlagSet::OpenFlags {
            match name {
                "O_RDONLY" => return Some(open::O_RDONLY),
                "O_WRONLY" => return Some(open::O_WRONLY),
                "O_RDWR" => return Some(open::O_RDWR),
                _ => {}
            }
        }
        self.table()
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(v, _)| *v)
    }
}

/// Linux capability names in bit order (`include/uapi/linux/capability.h`), as Falco's
/// `thread.cap_*` fields list them.
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rendered_name_is_listed() {
        // Every set a parameter renders with (mode parameters render as `FileMode`).
        let mut sets = vec![FlagSet::FileMode];
        for t in crate::EventType::all() {
            for p in t.params() {
                if let crate::ParamKind::Flags(set) | crate::ParamKind::Enum(set) = p.kind {
                    if !sets.contains(&set) {
                        sets.push(set);
                    }
                }
            }
        }
        assert!(sets.len() > 10, "{sets:?}");
        for set in sets {
            let names: Vec<&str> = set.names().collect();
            let values =
                (0..64)
                    .map(|b| 1u64 << b)
                    .chain([0, 1, 2, 3, 0o755, 0o4755, 17, u64::MAX]);
            for v in values {
                let mut joined = Vec::new();
                set.each_name(v, |n| {
                    assert!(names.contains(&n), "{set:?} {v:#x}: {n}");
                    joined.push(n);
                });
                if !joined.is_empty() {
                    assert_eq!(set.render(v), joined.join("|"), "{set:?} {v:#x}");
                }
            }
        }
    }

    #[test]
    fn open_flags_render_like_falco() {
        assert_eq!(
            FlagSet::OpenFlags.render(open::O_RDONLY | open::O_CLOEXEC),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            FlagSet::OpenFlags.render(open::O_WRONLY | open::O_CREAT | open::O_TRUNC),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(
            FlagSet::OpenFlags.render(open::O_RDWR | open::O_TMPFILE),
            "O_RDWR|O_TMPFILE"
        );
        assert_eq!(FlagSet::OpenFlags.render(open::O_SYNC), "O_RDONLY|O_SYNC");
        assert_eq!(FlagSet::OpenFlags.render(open::O_DSYNC), "O_RDONLY|O_DSYNC");
    }

    #[test]
    fn enums_and_modes() {
        assert_eq!(FlagSet::PtraceRequest.render(16), "PTRACE_ATTACH");
        assert_eq!(FlagSet::PtraceRequest.render(9999), "9999");
        assert_eq!(FlagSet::SocketFamily.render(17), "AF_PACKET");
        assert_eq!(
            FlagSet::FileMode.render(0o4755),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
        );
        assert_eq!(FlagSet::FileMode.render(0), "");
        assert_eq!(FlagSet::BpfCmd.value_of("BPF_PROG_LOAD"), Some(5));
    }
}
