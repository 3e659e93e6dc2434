//! The plan a performer executes: serde JSON in the file named by `PEREGRINE_EVTGEN_PLAN`
//! (never in argv, which is exactly what the plan asks each process to run with).
//!
//! ```json
//! {
//!   "workdir": "/tmp/peregrine-evtgen-1234/case-17",
//!   "env": { "PEREGRINE_EVTGEN_CASE": "case-17" },
//!   "netns": { "addresses": ["203.0.113.10"] },
//!   "processes": [
//!     { "name": "sshd" },
//!     { "name": "id", "user": "daemon", "args": ["-u"] },
//!     { "exe": "/dev/shm/eg_devshm" },
//!     { "name": "eg_memfd", "fileless": true }
//!   ],
//!   "before": "sleep 6",
//!   "resources": [
//!     { "type": "file", "name": "target", "path": "/tmp/eg/syslog" },
//!     { "type": "directory", "name": "d", "path": "/etc" },
//!     { "type": "client_server", "name": "cs", "l4proto": "tcp4", "address": "127.0.0.1:9999" },
//!     { "type": "process", "name": "eg_memfd", "fileless": true }
//!   ],
//!   "steps": [
//!     { "name": "op", "syscall": "openat",
//!       "args": { "pathname": "/tmp/eg/syslog", "flags": "O_WRONLY|O_CREAT|O_TRUNC", "mode": 420 } },
//!     { "syscall": "dup2", "args": { "oldFd": "${ cs.client.fd }", "newFd": 1 } }
//!   ]
//! }
//! ```
//!
//! * `workdir`: where the copies of the performer that processes run from are made (created,
//!   mode 0755, removed at the end). Must be on a filesystem that allows exec.
//! * `env`: added to every process the plan starts (identity markers go here).
//! * `netns`: the first performer moves into a new network namespace, brings `lo` up and puts
//!   these addresses on it, so connects to them are real but never leave the namespace.
//!   Client-server resources refuse non-loopback addresses unless they are listed here.
//! * `processes`: a chain; each is a real exec of a copy of the performer, the next one its
//!   child. The copy lives at `dirname(exe)/name` when `exe` is an absolute path, else at
//!   `workdir/name`; argv is `[exe or name, args...]`. `name` defaults to `basename(exe)`.
//!   `user` (a name from the passwd file of the root the process runs in) switches uid/gid
//!   while keeping every capability (ambient set), as the event-generator's default
//!   `all=iep`. `fileless`: the copy is a `memfd_create` file exec'd with
//!   `execveat(fd, "", AT_EMPTY_PATH)`. The last process (or the first performer when the
//!   chain is empty) runs `before`, creates the resources, performs the steps and removes the
//!   resources.
//! * `before`: a command for `/bin/sh -c`, run to its end before the resources.
//! * `linger_ms`: the first performer waits this long after everything else before it
//!   exits. As a container's pid 1 it keeps the container (its filesystem, reached through
//!   `/proc/<pid>/root`) alive for an agent still enriching its events, as a real workload
//!   would be; a container that exits within milliseconds takes its `/etc/passwd` along.
//! * resources (`name` binds fields for `${ name.field }` in step arguments):
//!   `file` (opened `O_RDWR`, created with its parent directories when missing, removed
//!   after; field `fd`), `directory` (opened `O_RDONLY|O_DIRECTORY`, created when missing;
//!   field `fd`), `client_server` (`l4proto` tcp4/tcp6/udp4/udp6, `address` `ip:port` or
//!   `[ip6]:port`: a bound server and a connected client; fields `client.fd`, `server.fd`),
//!   `process` (a child copy of the performer under `name`, optionally `fileless`, that
//!   waits until the teardown kills it; field `pid`).
//! * steps: `syscall` is one of `open`, `openat`, `openat2`, `creat`, `link`, `linkat`,
//!   `symlink`, `symlinkat`, `unlink`, `unlinkat`, `dup`, `dup2`, `dup3`, `socket`, `bind`,
//!   `listen`, `connect`, `sendto`, `read`, `write`, `close`, `kill`, each issued as the raw
//!   system call of that name (not a libc wrapper that may use another one). Argument names
//!   are the event-generator's (`pathname`, `flags`, `mode`, `dirfd`, `how: {flags, mode,
//!   resolve}`, `oldPath`, `newPath`, `oldDirfd`, `newDirfd`, `target`, `linkPath`,
//!   `oldFd`, `newFd`, `domain`, `type`, `protocol`, `fd`, `address`, `buffer`, `len`,
//!   `pid`, `sig`). Flag and constant arguments are numbers or text such as
//!   `O_WRONLY|O_CREAT|O_TRUNC`, `AF_PACKET`, `SOCK_RAW`, `AT_FDCWD`, `0644`. A named step's
//!   return value is bound as `${ name.ret }`.
//!
//! Exit status: 0 when every process, resource and step succeeded; otherwise the first
//! failure is printed on stderr as `peregrine-evtgen: <what>: <error>` and the status is 1.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The environment variable naming the plan file.
pub const PLAN_ENV: &str = "PEREGRINE_EVTGEN_PLAN";
/// The environment variable saying which part of the plan a process is (absent: the first).
pub const STAGE_ENV: &str = "PEREGRINE_EVTGEN_STAGE";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub workdir: PathBuf,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub netns: Option<NetNs>,
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub linger_ms: u64,
    #[serde(default)]
    pub resources: Vec<Resource>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetNs {
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub exe: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub fileless: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Resource {
    File {
        name: String,
        path: PathBuf,
    },
    Directory {
        name: String,
        path: PathBuf,
    },
    ClientServer {
        name: String,
        l4proto: String,
        address: String,
    },
    Process {
        name: String,
        #[serde(default)]
        fileless: bool,
        #[serde(default)]
        args: Vec<String>,
    },
}

impl Resource {
    pub fn name(&self) -> &str {
        match self {
            Resource::File { name, .. }
            | Resource::Directory { name, .. }
            | Resource::ClientServer { name, .. }
            | Resource::Process { name, .. } => name,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub name: Option<String>,
    pub syscall: String,
    #[serde(default)]
    pub args: Map<String, Value>,
}

impl ProcessSpec {
    /// The process name: `name`, else the last part of `exe`.
    pub fn proc_name(&self) -> Option<String> {
        self.name.clone().or_else(|| {
            self.exe
                .as_deref()
                .and_then(|e| e.rsplit('/').next())
                .filter(|b| !b.is_empty())
                .map(str::to_string)
        })
    }

    /// argv[0]: `exe` when given, else the name.
    pub fn argv0(&self) -> Option<String> {
        self.exe.clone().or_else(|| self.proc_name())
    }
}
