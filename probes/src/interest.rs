//! Which syscalls the kernel sends: what the loaded rules name, plus what the state tables
//! need to stay right (fds, cwd, credentials).

use peregrine_event::{EventType, SYSCALL_NAMES};
use std::collections::BTreeSet;

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
}
