//! Which syscall exits the kernel sends: what the loaded rules can match, plus what the
//! state tables need to stay right (fds, cwd, credentials). Compiled into the per-syscall
//! bits of `pg_interesting` and the names of `pg_paths` (ebpf-src/events.h).

use peregrine_event::{EventType, SYSCALL_NAMES};
use std::collections::{BTreeMap, BTreeSet};

/// `PG_WANT_OK`: successful calls are sent.
pub const WANT_OK: u8 = 1;
/// `PG_WANT_FAILED`: failed calls are sent.
pub const WANT_FAILED: u8 = 2;
/// `PG_PATH_FILTER`: opens are sent only for the names of [`KernelInterest::paths`].
pub const PATH_FILTER: u8 = 4;
/// `PG_FD_AS_PATH`: a successful fchdir is sent as a chdir to the directory's path.
pub const FD_AS_PATH: u8 = 8;
/// `PG_TRACK_NONREG`: open family and close: the state tables follow every fd but regular
/// files, so a regular file's open is judged by the path filter and its close not sent.
pub const TRACK_NONREG: u8 = 16;
/// `PG_WRITE_ANY`: opens under [`PATH_FILTER`]: every open for writing is sent.
pub const WRITE_ANY: u8 = 32;
/// `PG_DOTDOT`: opens under [`PATH_FILTER`]: a name holding `../` is sent.
pub const DOTDOT: u8 = 64;
/// `PG_COMM`: opens under [`PATH_FILTER`]: so is an open by a task named in
/// [`PathTable::comms`].
pub const COMM: u8 = 128;
/// `PG_ADMIT_ANY`: a trie or comm entry admits any open.
pub const ADMIT_ANY: u8 = 1;
/// `PG_ADMIT_WRITE`: a trie or comm entry admits opens for writing.
pub const ADMIT_WRITE: u8 = 2;
/// `PG_LPM_DATA`: longest name (with its NUL) or prefix the kernel's trie holds.
pub const PATH_KEY_BYTES: usize = 256;
/// `max_entries` of `pg_paths`.
pub const MAX_PATHS: usize = 16384;
/// `max_entries` of `pg_comms`; a task name is at most this long.
pub const MAX_COMMS: usize = 1024;
pub const COMM_BYTES: usize = 15;

/// Tests one of which an open must pass (peregrine-rules' `NameTests`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameSet {
    /// Names (normalised, absolute).
    pub exact: BTreeSet<String>,
    /// Prefixes of names.
    pub prefixes: BTreeSet<String>,
    /// Task names.
    pub comms: BTreeSet<String>,
    /// The name as given holds `../`.
    pub dotdot: bool,
}

impl NameSet {
    /// Names and prefixes of these to `bits` in `table`.
    fn add_to(&self, table: &mut PathTable, bits: u8) {
        for e in &self.exact {
            *table.exact.entry(e.clone()).or_default() |= bits;
        }
        for p in &self.prefixes {
            *table.prefixes.entry(p.clone()).or_default() |= bits;
        }
        for c in &self.comms {
            *table.comms.entry(c.clone()).or_default() |= bits;
        }
    }

    fn fits(&self) -> bool {
        self.exact.iter().all(|e| e.len() < PATH_KEY_BYTES)
            && self.prefixes.iter().all(|p| p.len() <= PATH_KEY_BYTES)
            && self.comms.iter().all(|c| c.len() <= COMM_BYTES)
    }
}

/// Which opens some rule can match (peregrine-rules' `OpenNeed`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenFilter {
    /// Any open passing one of these.
    pub any: NameSet,
    /// Opens for writing passing one of these.
    pub write: NameSet,
    /// Every open for writing.
    pub write_any: bool,
}

impl OpenFilter {
    fn fits(&self) -> bool {
        self.any.fits() && self.write.fits()
    }
}

/// What the enabled rules of one event type need (peregrine-rules' `kernel_needs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleNeed {
    /// Some rule can match a failed call.
    pub failed: bool,
    /// For opens: which ones some rule can match; `None` when any can.
    pub paths: Option<OpenFilter>,
    /// Some rule reads the fd table's entry of the event's fd.
    pub reads_fds: bool,
}

/// What the kernel's path filter holds: names and prefixes (`pg_paths`) and task names
/// (`pg_comms`), each with the [`ADMIT_ANY`] / [`ADMIT_WRITE`] bits of the opens it
/// admits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathTable {
    pub exact: BTreeMap<String, u8>,
    pub prefixes: BTreeMap<String, u8>,
    pub comms: BTreeMap<String, u8>,
}

impl PathTable {
    pub fn len(&self) -> usize {
        self.exact.len() + self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.comms.is_empty()
    }

    /// The bits the trie's longest match gives `name`: those of every entry matching it,
    /// as each key carries the bits of the shorter prefixes above it (see
    /// [`PathTable::trie_entries`]).
    pub fn admits(&self, name: &str) -> u8 {
        let exact = self.exact.get(name).copied().unwrap_or(0);
        self.prefixes
            .iter()
            .filter(|(p, _)| name.starts_with(p.as_str()))
            .fold(exact, |acc, (_, b)| acc | b)
    }

    /// The trie's entries: exact names with their NUL, prefixes without (prefix length in
    /// bits), each with its bits and those of every prefix of it, since a lookup returns
    /// only the longest match.
    pub fn trie_entries(&self) -> BTreeMap<(u32, Vec<u8>), u8> {
        let above = |key: &str| {
            self.prefixes
                .iter()
                .filter(|(p, _)| key.starts_with(p.as_str()))
                .fold(0u8, |acc, (_, b)| acc | b)
        };
        let exact = self.exact.iter().map(|(e, b)| {
            let mut bytes = e.as_bytes().to_vec();
            bytes.push(0);
            (bytes, b | above(e))
        });
        let prefixes = self
            .prefixes
            .keys()
            .map(|p| (p.as_bytes().to_vec(), above(p)));
        exact
            .chain(prefixes)
            .filter(|(b, _)| b.len() <= PATH_KEY_BYTES)
            .map(|(b, bits)| ((8 * b.len() as u32, b), bits))
            .collect()
    }
}

/// The kernel's filter: per syscall id its `PG_*` bits (absent: not traced), and what
/// opens under [`PATH_FILTER`] are judged by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelInterest {
    pub flags: BTreeMap<u32, u8>,
    pub paths: PathTable,
}

impl From<BTreeSet<u32>> for KernelInterest {
    /// Every call of these syscalls, unfiltered.
    fn from(ids: BTreeSet<u32>) -> Self {
        KernelInterest {
            flags: ids
                .into_iter()
                .map(|id| (id, WANT_OK | WANT_FAILED))
                .collect(),
            paths: PathTable::default(),
        }
    }
}

/// One syscall exit, as the kernel program sees it, for [`KernelInterest::sends_exit`].
#[derive(Clone, Copy, Debug)]
pub struct Exit<'a> {
    pub syscall: &'a str,
    pub ret: i64,
    /// Opens: the name as the process passed it, or joined to its directory.
    pub path: Option<&'a str>,
    /// Opens: for writing (`O_WRONLY` or `O_RDWR`; never a creat).
    pub write: bool,
    /// The task's name.
    pub comm: &'a str,
    /// Opens and close: the fd is (was) a regular file.
    pub regular: bool,
}

impl KernelInterest {
    /// Syscalls that are traced at all.
    pub fn syscalls(&self) -> BTreeSet<u32> {
        self.flags.keys().copied().collect()
    }

    /// Whether regular files are left out of the state tables.
    pub fn lean(&self) -> bool {
        self.flags.values().any(|f| f & TRACK_NONREG != 0)
    }

    /// [`KernelInterest::sends_exit`] for a read-only open (or a close) of a regular file
    /// by a task no rule names.
    pub fn sends(&self, name: &str, ret: i64, path: Option<&str>) -> bool {
        self.sends_exit(&Exit {
            syscall: name,
            ret,
            path,
            write: false,
            comm: "",
            regular: true,
        })
    }

    /// What the kernel does with this exit: the same decision as the kernel program, for
    /// tests.
    pub fn sends_exit(&self, e: &Exit<'_>) -> bool {
        let Some(id) = SYSCALL_NAMES
            .iter()
            .find(|(_, n)| *n == e.syscall)
            .map(|(id, _)| *id)
        else {
            return false;
        };
        let f = self.flags.get(&id).copied().unwrap_or(0);
        if f & (if e.ret < 0 { WANT_FAILED } else { WANT_OK }) == 0 {
            return false;
        }
        if e.syscall == "close" {
            return f & TRACK_NONREG == 0 || !e.regular;
        }
        if f & PATH_FILTER == 0 || (f & TRACK_NONREG != 0 && e.ret >= 0 && !e.regular) {
            return true;
        }
        let write = e.write && e.syscall != "creat";
        let admit = ADMIT_ANY | if write { ADMIT_WRITE } else { 0 };
        if write && f & WRITE_ANY != 0 {
            return true;
        }
        if f & COMM != 0 && self.paths.comms.get(e.comm).is_some_and(|b| b & admit != 0) {
            return true;
        }
        match e.path {
            Some(p) if p.len() < PATH_KEY_BYTES && p.starts_with('/') && is_normal(p) => {
                self.paths.admits(p) & admit != 0 || (f & DOTDOT != 0 && p.contains("../"))
            }
            _ => true,
        }
    }
}

/// An absolute name with no empty, `.` or `..` component and no trailing slash (as
/// `pg_path_normal`): then it is its own normal form.
pub fn is_normal(p: &str) -> bool {
    p == "/" || (p.starts_with('/') && p[1..].split('/').all(|c| !matches!(c, "" | "." | "..")))
}

/// Event types whose rules read nothing from the fd table: their events carry their own
/// names (relative names to a directory fd are joined in the kernel under the path filter).
/// A rule on any other type needs the fd table, hence every open, close and dup.
const FD_FREE: &[&str] = &[
    "execve",
    "execveat",
    "open",
    "openat",
    "openat2",
    "creat",
    "chmod",
    "mkdir",
    "rmdir",
    "unlink",
    "rename",
    "symlink",
    "link",
    "chdir",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "setsid",
    "ptrace",
    "bpf",
    "unshare",
    "userfaultfd",
    "init_module",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "procexit",
];

/// Event types whose fd is never a regular file in a call that can change or use the fd
/// table: sockets, directories (`dirfd`), namespaces (setns). A rule on them reading the
/// fd table needs no regular file in it. (Not close: a rule on close reads the entry of
/// whatever it closes.)
const REGULAR_FREE: &[&str] = &[
    "socket",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "sendto",
    "sendmsg",
    "recvfrom",
    "recvmsg",
    "fchdir",
    "fchmodat",
    "mkdirat",
    "unlinkat",
    "renameat",
    "renameat2",
    "symlinkat",
    "linkat",
    "setns",
];

/// Whether the state tables may leave regular files out: no rule reads a regular file's
/// fd-table entry, except on fchmod, whose exit then carries the file's path
/// ([`FD_AS_PATH`]).
fn regular_files_unneeded(needs: &BTreeMap<String, RuleNeed>) -> bool {
    needs.iter().all(|(t, need)| {
        let t = t.as_str();
        !need.reads_fds || FD_FREE.contains(&t) || REGULAR_FREE.contains(&t) || t == "fchmod"
    })
}

/// What the state tables need of syscall `name` when the fd table is (or is not) kept,
/// and (`lean`) kept without regular files.
fn tracking(name: &str, fd_table: bool, lean: bool) -> u8 {
    match name {
        "open" | "openat" | "openat2" | "creat" | "close" if lean => WANT_OK | TRACK_NONREG,
        "open" | "openat" | "openat2" | "creat" | "close" | "dup" | "dup2" | "dup3" | "socket"
        | "connect" | "accept" | "accept4" | "bind" | "listen" => u8::from(fd_table) * WANT_OK,
        "fchdir" if !fd_table => WANT_OK | FD_AS_PATH,
        "chdir" | "fchdir" | "setuid" | "setgid" | "setresuid" | "setresgid" | "setsid" => WANT_OK,
        _ => 0,
    }
}

/// The filter for rules with these needs (by event type name). Without `filter`, every
/// call of every syscall the rules or the tables use is sent, as before in-kernel
/// filtering.
pub fn plan(needs: &BTreeMap<String, RuleNeed>, filter: bool) -> KernelInterest {
    if !filter {
        return syscall_ids(needs.keys().map(String::as_str)).into();
    }
    let fd_table = needs.keys().any(|t| !FD_FREE.contains(&t.as_str()));
    let lean = fd_table && regular_files_unneeded(needs);
    let mut out = KernelInterest::default();
    let mut filtered_opens = Vec::new();
    let mut open_bits = 0u8;
    let is_open = |n: &str| matches!(n, "open" | "openat" | "openat2" | "creat");
    for (id, name) in SYSCALL_NAMES.iter().filter(|(_, n)| decodable(n)) {
        let track = tracking(name, fd_table, lean);
        let mut f = track;
        let need = needs.get(*name);
        if let Some(need) = need {
            f |= WANT_OK;
            if need.failed {
                f |= WANT_FAILED;
            }
            if lean && *name == "fchmod" {
                f |= FD_AS_PATH;
            }
        }
        // Opens no state table needs are judged by what the rules can match; under `lean`
        // that is every open of a regular file, even on a type no rule names.
        let judged = (track == 0 || lean) && is_open(name);
        match need.map(|n| &n.paths) {
            Some(Some(paths)) if judged && paths.fits() => {
                paths.any.add_to(&mut out.paths, ADMIT_ANY);
                paths.write.add_to(&mut out.paths, ADMIT_WRITE);
                open_bits |= if paths.write_any { WRITE_ANY } else { 0 }
                    | if paths.any.dotdot || paths.write.dotdot {
                        DOTDOT
                    } else {
                        0
                    }
                    | if paths.any.comms.is_empty() && paths.write.comms.is_empty() {
                        0
                    } else {
                        COMM
                    };
                f |= PATH_FILTER;
                filtered_opens.push(*id);
            }
            None if judged && lean => {
                f |= PATH_FILTER;
                filtered_opens.push(*id);
            }
            _ => {}
        }
        if f != 0 {
            out.flags.insert(*id, f);
        }
    }
    // One trie serves every filtered open type: each is judged by all their tests.
    for id in &filtered_opens {
        out.flags.entry(*id).and_modify(|f| *f |= open_bits);
    }
    if out.paths.len() > MAX_PATHS || out.paths.comms.len() > MAX_COMMS {
        for id in filtered_opens {
            out.flags
                .entry(id)
                .and_modify(|f| *f &= !(PATH_FILTER | WRITE_ANY | DOTDOT | COMM));
        }
        out.paths = PathTable::default();
    }
    out
}

/// Syscalls the enrichment tables need whatever the rules say.
pub const TRACKING: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "close",
    "dup",
    "dup2",
    "dup3",
    "socket",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "chdir",
    "fchdir",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "setsid",
    "execve",
    "execveat",
];

/// Event types the kernel programs can produce from `sys_exit`.
pub fn decodable(name: &str) -> bool {
    EventType::from_name(name).is_some_and(|t| t.index() < crate::wire::ET_COUNT as usize)
        && !matches!(name, "clone" | "clone3" | "fork" | "vfork" | "procexit")
}

/// Syscall numbers to enable for rules needing `rule_types` (event type names).
pub fn syscall_ids<'a>(rule_types: impl IntoIterator<Item = &'a str>) -> BTreeSet<u32> {
    let wanted: BTreeSet<&str> = rule_types
        .into_iter()
        .chain(TRACKING.iter().copied())
        .filter(|n| decodable(n))
        .collect();
    SYSCALL_NAMES
        .iter()
        .filter(|(_, name)| wanted.contains(name))
        .map(|(id, _)| *id)
        .collect()
}

/// Every syscall the kernel programs decode (for tests and `--all-syscalls`).
pub fn all_syscall_ids() -> BTreeSet<u32> {
    SYSCALL_NAMES
        .iter()
        .filter(|(_, name)| decodable(name))
        .map(|(id, _)| *id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_tracking_make_the_set() {
        let ids = syscall_ids(["ptrace", "getpid", "procexit"]);
        assert!(ids.contains(&101), "ptrace");
        assert!(ids.contains(&257), "openat (tracking)");
        assert!(!ids.contains(&39), "getpid is not decoded");
        assert!(!ids.contains(&56), "clone comes from sched_process_fork");
        assert_eq!(all_syscall_ids().len(), 49);
    }

    fn id(name: &str) -> u32 {
        SYSCALL_NAMES.iter().find(|(_, n)| *n == name).unwrap().0
    }

    fn needs(list: &[(&str, RuleNeed)]) -> BTreeMap<String, RuleNeed> {
        list.iter()
            .map(|(n, r)| (n.to_string(), r.clone()))
            .collect()
    }

    fn set(exact: &[&str], prefixes: &[&str]) -> NameSet {
        NameSet {
            exact: exact.iter().map(|s| s.to_string()).collect(),
            prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            ..NameSet::default()
        }
    }

    fn by_name(exact: &[&str], prefixes: &[&str]) -> RuleNeed {
        RuleNeed {
            failed: false,
            paths: Some(OpenFilter {
                any: set(exact, prefixes),
                ..OpenFilter::default()
            }),
            reads_fds: false,
        }
    }

    fn exit<'a>(syscall: &'a str, path: &'a str, write: bool, comm: &'a str) -> Exit<'a> {
        Exit {
            syscall,
            ret: 3,
            path: Some(path),
            write,
            comm,
            regular: true,
        }
    }

    #[test]
    fn opens_are_filtered_by_name_only_without_the_fd_table() {
        let plan_for = |list: &[(&str, RuleNeed)]| plan(&needs(list), true);
        let p = plan_for(&[("openat", by_name(&["/etc/shadow"], &["/root/"]))]);
        assert_eq!(p.flags[&id("openat")], WANT_OK | PATH_FILTER);
        assert!(
            !p.flags.contains_key(&id("close")),
            "no fd table: closes stay"
        );
        assert!(!p.flags.contains_key(&id("open")), "no rule on open");
        assert_eq!(p.flags[&id("fchdir")], WANT_OK | FD_AS_PATH);
        assert_eq!(p.flags[&id("chdir")], WANT_OK);
        assert!(p.sends("openat", 3, Some("/root/.ssh/id_rsa")));
        assert!(!p.sends("openat", 3, Some("/etc/shadowx")));
        assert!(
            !p.sends("openat", -2, Some("/etc/shadow")),
            "failed: no rule"
        );
        for odd in [
            "/etc/./shadow",
            "/etc//hostname",
            "etc/x",
            "/etc/",
            "/tmp/../x",
        ] {
            assert!(
                p.sends("openat", 3, Some(odd)),
                "{odd}: not its own fd.name"
            );
        }

        // A rule on an fd-using type that reads the fd table keeps it whole: every open and
        // close, no names.
        let p = plan_for(&[
            ("openat", by_name(&["/etc/shadow"], &[])),
            (
                "dup2",
                RuleNeed {
                    reads_fds: true,
                    ..RuleNeed::default()
                },
            ),
        ]);
        assert_eq!(p.flags[&id("openat")], WANT_OK);
        assert_eq!(p.flags[&id("close")], WANT_OK);
        assert_eq!(p.flags[&id("fchdir")], WANT_OK);
        assert!(p.paths.is_empty() && !p.lean());

        // Names the trie cannot hold turn the filter off for that type.
        let long = format!("/{}", "a".repeat(300));
        let p = plan_for(&[("openat", by_name(&[&long], &[]))]);
        assert_eq!(p.flags[&id("openat")], WANT_OK);

        // Without filtering, everything as before.
        let p = plan(&needs(&[("openat", by_name(&["/x"], &[]))]), false);
        assert_eq!(p.flags[&id("close")], WANT_OK | WANT_FAILED);
        assert_eq!(p.flags[&id("openat")], WANT_OK | WANT_FAILED);
    }

    #[test]
    fn the_fd_table_leaves_regular_files_out_when_no_rule_reads_them() {
        let plan_for = |list: &[(&str, RuleNeed)]| plan(&needs(list), true);
        let reads = RuleNeed {
            reads_fds: true,
            ..RuleNeed::default()
        };
        // Rules on sockets and directories read the table, but never a regular file's.
        let p = plan_for(&[
            ("openat", by_name(&["/etc/shadow"], &[])),
            ("connect", reads.clone()),
            ("unlinkat", reads.clone()),
            ("dup2", RuleNeed::default()),
        ]);
        assert!(p.lean());
        let lean = WANT_OK | TRACK_NONREG | PATH_FILTER;
        assert_eq!(p.flags[&id("openat")], lean);
        assert_eq!(
            p.flags[&id("open")],
            lean,
            "no rule: regular files judged by nothing"
        );
        assert_eq!(p.flags[&id("close")], WANT_OK | TRACK_NONREG);
        assert!(!p.sends("close", 0, None), "a regular file's close");
        assert!(p.sends_exit(&Exit {
            regular: false,
            ..exit("close", "", false, "")
        }));
        assert!(!p.sends("openat", 3, Some("/etc/hostname")));
        assert!(!p.sends("open", 3, Some("/etc/hostname")));
        assert!(p.sends("openat", 3, Some("/etc/shadow")));
        assert!(
            p.sends_exit(&Exit {
                regular: false,
                ..exit("open", "/dev/null", false, "")
            }),
            "the tables follow it"
        );
        // fchmod with a rule reading its fd: the kernel names the file.
        let p = plan_for(&[("connect", reads.clone()), ("fchmod", reads.clone())]);
        assert!(p.lean());
        assert_eq!(p.flags[&id("fchmod")], WANT_OK | FD_AS_PATH);
        // Any other type reading the table keeps regular files in it: a rule on close that
        // reads the name of what it closes.
        let p = plan_for(&[("connect", reads.clone()), ("close", reads.clone())]);
        assert!(!p.lean());
        assert_eq!(p.flags[&id("close")], WANT_OK);
    }

    #[test]
    fn opens_are_judged_by_mode_task_name_and_dotdot() {
        let need = RuleNeed {
            failed: false,
            paths: Some(OpenFilter {
                any: NameSet {
                    comms: ["sshd".to_string()].into(),
                    dotdot: true,
                    ..set(&["/etc/shadow"], &[])
                },
                write: set(&[], &["/etc/"]),
                write_any: false,
            }),
            reads_fds: false,
        };
        let p = plan(&needs(&[("openat", need)]), true);
        assert_eq!(
            p.flags[&id("openat")],
            WANT_OK | PATH_FILTER | DOTDOT | COMM
        );
        assert!(p.sends_exit(&exit("openat", "/etc/shadow", false, "cat")));
        assert!(!p.sends_exit(&exit("openat", "/etc/hostname", false, "cat")));
        assert!(p.sends_exit(&exit("openat", "/etc/hostname", true, "cat")));
        assert!(p.sends_exit(&exit("openat", "/usr/lib/x", false, "sshd")));
        assert!(p.sends_exit(&exit("openat", "/tmp/a../b", false, "cat")));
        assert!(!p.sends_exit(&exit("openat", "/tmp/a..b", false, "cat")));
        // The trie's longest match carries the bits of the prefixes above it.
        let t = &p.paths;
        let entries = t.trie_entries();
        let shadow = entries
            .iter()
            .find(|((_, k), _)| k.as_slice() == b"/etc/shadow\0")
            .unwrap();
        assert_eq!(*shadow.1, ADMIT_ANY | ADMIT_WRITE);
        assert_eq!(t.admits("/etc/hostname"), ADMIT_WRITE);
        // Writes of any name: one bit.
        let need = RuleNeed {
            paths: Some(OpenFilter {
                write_any: true,
                ..OpenFilter::default()
            }),
            ..RuleNeed::default()
        };
        let p = plan(&needs(&[("openat", need)]), true);
        assert_eq!(p.flags[&id("openat")], WANT_OK | PATH_FILTER | WRITE_ANY);
        assert!(p.sends_exit(&exit("openat", "/x", true, "")));
        assert!(!p.sends_exit(&exit("openat", "/x", false, "")));
    }

    #[test]
    fn normal_names() {
        for ok in ["/", "/etc", "/etc/shadow", "/a/...", "/a/.b", "/a/b.."] {
            assert!(is_normal(ok), "{ok}");
        }
        for odd in [
            "", "etc", "/etc/", "//etc", "/./x", "/a/..", "/a/../b", "/a/.",
        ] {
            assert!(!is_normal(odd), "{odd}");
        }
    }
}
