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
/// `PG_LPM_DATA`: longest name (with its NUL) or prefix the kernel's trie holds.
pub const PATH_KEY_BYTES: usize = 256;
/// `max_entries` of `pg_paths`.
pub const MAX_PATHS: usize = 16384;

/// Names (normalised, absolute) and prefixes of names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathSet {
    pub exact: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
}

impl PathSet {
    fn fits(&self) -> bool {
        self.exact.iter().all(|e| e.len() < PATH_KEY_BYTES)
            && self.prefixes.iter().all(|p| p.len() <= PATH_KEY_BYTES)
    }

    fn len(&self) -> usize {
        self.exact.len() + self.prefixes.len()
    }
}

/// What the enabled rules of one event type need (peregrine-rules' `kernel_needs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleNeed {
    /// Some rule can match a failed call.
    pub failed: bool,
    /// For opens: the names some rule can match; `None` when any name can matter.
    pub paths: Option<PathSet>,
}

/// The kernel's filter: per syscall id its `PG_*` bits (absent: not traced), and the names
/// opens under [`PATH_FILTER`] must have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelInterest {
    pub flags: BTreeMap<u32, u8>,
    pub paths: PathSet,
}

impl From<BTreeSet<u32>> for KernelInterest {
    /// Every call of these syscalls, unfiltered.
    fn from(ids: BTreeSet<u32>) -> Self {
        KernelInterest {
            flags: ids
                .into_iter()
                .map(|id| (id, WANT_OK | WANT_FAILED))
                .collect(),
            paths: PathSet::default(),
        }
    }
}

impl KernelInterest {
    /// Syscall ids that are traced at all.
    pub fn syscalls(&self) -> BTreeSet<u32> {
        self.flags.keys().copied().collect()
    }

    /// What the kernel does with an exit of syscall `name` returning `ret` whose open name
    /// is `path` (opens only; as the process passed it, or joined to its directory):
    /// the same decision as the kernel program, for tests.
    pub fn sends(&self, name: &str, ret: i64, path: Option<&str>) -> bool {
        let Some(id) = SYSCALL_NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)
        else {
            return false;
        };
        let f = self.flags.get(&id).copied().unwrap_or(0);
        if f & (if ret < 0 { WANT_FAILED } else { WANT_OK }) == 0 {
            return false;
        }
        if f & PATH_FILTER == 0 {
            return true;
        }
        match path {
            Some(p) if p.len() < PATH_KEY_BYTES && p.starts_with('/') && is_normal(p) => {
                self.paths.exact.contains(p)
                    || self
                        .paths
                        .prefixes
                        .iter()
                        .any(|x| p.starts_with(x.as_str()))
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

/// What the state tables need of syscall `name` when the fd table is (or is not) kept.
fn tracking(name: &str, fd_table: bool) -> u8 {
    match name {
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
    let mut out = KernelInterest::default();
    let mut filtered_opens = Vec::new();
    for (id, name) in SYSCALL_NAMES.iter().filter(|(_, n)| decodable(n)) {
        let track = tracking(name, fd_table);
        let mut f = track;
        if let Some(need) = needs.get(*name) {
            f |= WANT_OK;
            if need.failed {
                f |= WANT_FAILED;
            }
            if let Some(paths) = &need.paths {
                if track == 0 && paths.fits() {
                    f |= PATH_FILTER;
                    out.paths.exact.extend(paths.exact.iter().cloned());
                    out.paths.prefixes.extend(paths.prefixes.iter().cloned());
                    filtered_opens.push(*id);
                }
            }
        }
        if f != 0 {
            out.flags.insert(*id, f);
        }
    }
    if out.paths.len() > MAX_PATHS {
        for id in filtered_opens {
            out.flags.entry(id).and_modify(|f| *f &= !PATH_FILTER);
        }
        out.paths = PathSet::default();
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

    fn by_name(exact: &[&str], prefixes: &[&str]) -> RuleNeed {
        RuleNeed {
            failed: false,
            paths: Some(PathSet {
                exact: exact.iter().map(|s| s.to_string()).collect(),
                prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            }),
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

        // A rule on an fd-using type keeps the fd table: every open and close, no names.
        let p = plan_for(&[
            ("openat", by_name(&["/etc/shadow"], &[])),
            ("dup2", RuleNeed::default()),
        ]);
        assert_eq!(p.flags[&id("openat")], WANT_OK);
        assert_eq!(p.flags[&id("close")], WANT_OK);
        assert_eq!(p.flags[&id("fchdir")], WANT_OK);
        assert!(p.paths.exact.is_empty());

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
