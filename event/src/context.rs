//! The context enrichment attaches to an event: process, fd, user and container.
//!
//! Each is an immutable snapshot shared through `Arc`: a change (exec, setuid, new fd)
//! replaces the snapshot instead of mutating it, so readers never lock.

use crate::params::{L4Proto, SockTuple};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Container id for host processes, as Falco reports it.
pub const HOST_CONTAINER_ID: &str = "host";

/// A user or group name resolved from the host's or the container's files.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub uid: u32,
    pub name: Arc<str>,
    pub homedir: Arc<str>,
    pub shell: Arc<str>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub gid: u32,
    pub name: Arc<str>,
}

/// A thread's view of its process, after the most recent exec.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub tid: i64,
    /// Thread-group id (what users call the pid).
    pub pid: i64,
    pub ptid: i64,
    /// Pid and tid inside the process's pid namespace.
    pub vpid: i64,
    pub vtid: i64,
    pub sid: i64,
    pub vpgid: i64,
    /// `comm`: the kernel's 15-character task name.
    pub name: Arc<str>,
    /// argv[0].
    pub exe: Arc<str>,
    /// Absolute path of the executable image.
    pub exepath: Arc<str>,
    /// Arguments without argv[0].
    pub args: Arc<[String]>,
    pub cwd: Arc<str>,
    pub env: Arc<[String]>,
    pub tty: u32,
    /// Audit login uid; `u32::MAX` (reported as -1) when unset.
    pub loginuid: u32,
    pub uid: u32,
    pub gid: u32,
    pub user: Option<Arc<UserInfo>>,
    pub group: Option<Arc<GroupInfo>>,
    pub loginuser: Option<Arc<UserInfo>>,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// Start time, epoch ns.
    pub start_ts: u64,
    pub exe_ino: u64,
    pub exe_ino_ctime: u64,
    pub exe_ino_mtime: u64,
    pub exe_writable: bool,
    pub exe_upper_layer: bool,
    pub exe_from_memfd: bool,
    pub exe_lower_layer: bool,
    /// Short (12-character) container id, or `host`.
    pub container_id: Arc<str>,
    /// Name of the session leader (`proc.sname`), when known.
    pub session_leader_name: Option<Arc<str>>,
    pub parent: Option<Arc<ProcessInfo>>,
}

impl ProcessInfo {
    /// `proc.cmdline`: name followed by the arguments, space-joined.
    pub fn cmdline(&self) -> String {
        let mut out = String::with_capacity(self.name.len() + 16 * self.args.len());
        out.push_str(&self.name);
        for a in self.args.iter() {
            out.push(' ');
            out.push_str(a);
        }
        out
    }

    /// The `n`th ancestor: 0 is this process, 1 the parent, and so on.
    pub fn ancestor(&self, n: usize) -> Option<&ProcessInfo> {
        let mut cur = self;
        for _ in 0..n {
            cur = cur.parent.as_deref()?;
        }
        Some(cur)
    }

    pub fn ancestors(&self) -> impl Iterator<Item = &ProcessInfo> {
        std::iter::successors(self.parent.as_deref(), |p| p.parent.as_deref())
    }

    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|kv| kv.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// Kind of object behind a file descriptor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FdKind {
    #[default]
    Unknown,
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Pipe,
    Event,
    Signalfd,
    Eventpoll,
    Inotify,
    Timerfd,
    Netlink,
    Bpf,
    Userfaultfd,
    IoUring,
    Memfd,
    Pidfd,
}

impl FdKind {
    /// `fd.typechar`.
    pub fn typechar(self) -> &'static str {
        match self {
            FdKind::File => "f",
            FdKind::Directory => "d",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Pipe => "p",
            FdKind::Event => "e",
            FdKind::Signalfd => "s",
            FdKind::Eventpoll => "l",
            FdKind::Inotify => "i",
            FdKind::Timerfd => "t",
            FdKind::Netlink => "n",
            FdKind::Bpf => "b",
            FdKind::Userfaultfd => "u",
            FdKind::IoUring => "r",
            FdKind::Memfd => "m",
            FdKind::Pidfd => "P",
            FdKind::Unknown => "o",
        }
    }

    /// `fd.type`.
    pub fn type_name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Pipe => "pipe",
            FdKind::Event => "event",
            FdKind::Signalfd => "signalfd",
            FdKind::Eventpoll => "eventpoll",
            FdKind::Inotify => "inotify",
            FdKind::Timerfd => "timerfd",
            FdKind::Netlink => "netlink",
            FdKind::Bpf => "bpf",
            FdKind::Userfaultfd => "userfaultfd",
            FdKind::IoUring => "io_uring",
            FdKind::Memfd => "memfd",
            FdKind::Pidfd => "pidfd",
            FdKind::Unknown => "<unknown>",
        }
    }

    pub fn is_socket(self) -> bool {
        matches!(self, FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Unix)
    }
}

/// Which end of a connection this process holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SocketRole {
    #[default]
    None,
    Client,
    Server,
}

/// What a file descriptor refers to.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FdInfo {
    pub num: i64,
    pub kind: FdKind,
    /// Absolute path for files, the connection tuple text for sockets.
    pub name: String,
    /// The path as the process passed it (not made absolute).
    pub nameraw: String,
    pub tuple: Option<SockTuple>,
    pub l4proto: Option<L4Proto>,
    pub role: SocketRole,
    pub connected: bool,
    /// Open flags, for files.
    pub flags: u64,
    pub dev: u64,
    pub ino: u64,
    /// True when the event that produced this info changed the fd's name (UDP tuples, dup).
    pub name_changed: bool,
}

/// A container mount, as the runtime reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub source: String,
    pub dest: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

/// Container and Kubernetes metadata, from the container runtime.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// Short id (12 characters).
    pub id: Arc<str>,
    pub full_id: Arc<str>,
    pub name: Option<Arc<str>>,
    /// `docker`, `podman`, `containerd`, `cri-o`…
    pub runtime: Option<Arc<str>>,
    pub image: Option<Arc<str>>,
    pub image_id: Option<Arc<str>>,
    pub image_repository: Option<Arc<str>>,
    pub image_tag: Option<Arc<str>>,
    pub image_digest: Option<Arc<str>>,
    pub privileged: Option<bool>,
    pub labels: BTreeMap<String, String>,
    pub mounts: Vec<Mount>,
    /// Epoch ns.
    pub start_ts: Option<u64>,
    pub k8s_pod_name: Option<Arc<str>>,
    pub k8s_ns_name: Option<Arc<str>>,
    pub k8s_pod_uid: Option<Arc<str>>,
    pub k8s_pod_labels: BTreeMap<String, String>,
    /// The container's IPv4 address on its network (libsinsp's container IP: which end
    /// of a connection is local to the process, see [`crate::hostnet`]).
    #[serde(default)]
    pub ip: Option<std::net::Ipv4Addr>,
}
