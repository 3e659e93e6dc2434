//! Allocator settings: give freed memory back to the kernel within milliseconds.
//!
//! mimalloc v3 keeps freed pages for a second (ten for whole arena chunks) before purging
//! them. For the agent that kept the start-up peak (kernel BTF parsed for CO-RE, three rules
//! files compiled) resident for seconds and about 25 MiB more in steady state; with a 10 ms
//! delay the resident set follows what is live. An operator's `MIMALLOC_*` variables win.

use std::ffi::{c_int, c_long};

/// `mi_option_e` ids in mimalloc v3's `include/mimalloc.h` (libmimalloc-sys is pinned so
/// they cannot move; the test below checks them against the environment variables).
const PURGE_DELAY: c_int = 15;
const ARENA_PURGE_MULT: c_int = 24;

const SETTINGS: [(c_int, &str, c_long); 2] = [
    (PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 10),
    (ARENA_PURGE_MULT, "MIMALLOC_ARENA_PURGE_MULT", 1),
];

/// Applies the settings; call first thing in `main`.
pub fn purge_freed_memory_promptly() {
    for (option, env, value) in SETTINGS {
        if std::env::var_os(env).is_none() {
            // SAFETY: mi_option_set only stores the value; any option id is accepted.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
    // mimalloc asks for transparent huge pages on its arenas: a 2 MiB page stays resident
    // while any 4 KiB of it is live, so purged memory would not leave. (mimalloc's own
    // switch, MIMALLOC_ALLOW_THP=0, is read before `main`; this is the same prctl.)
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and affects only this process.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options as a child process sees them after `purge_freed_memory_promptly`, with
    /// `env` added to its environment.
    fn child_options(env: &[(&str, &str)]) -> String {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "alloc::tests::options_follow_names_and_operator",
            "--nocapture",
        ])
        .env("PEREGRINE_ALLOC_CHILD", "1")
        .env_remove("MIMALLOC_PURGE_DELAY")
        .env_remove("MIMALLOC_ARENA_PURGE_MULT");
        for (k, v) in env {
            cmd.env(k, v);
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    }

    /// mimalloc reads `MIMALLOC_<NAME>` for the option it calls NAME: set through the
    /// environment, each id reads back the value of its variable, so the ids are right;
    /// and what the operator set is kept.
    #[test]
    fn options_follow_names_and_operator() {
        if std::env::var_os("PEREGRINE_ALLOC_CHILD").is_some() {
            purge_freed_memory_promptly();
            for (option, env, _) in SETTINGS {
                // SAFETY: reading an option has no preconditions.
                let got = unsafe { libmimalloc_sys::mi_option_get(option) };
                println!("{env}={got}");
            }
            return;
        }
        let set = child_options(&[
            ("MIMALLOC_PURGE_DELAY", "123"),
            ("MIMALLOC_ARENA_PURGE_MULT", "7"),
        ]);
        assert!(set.contains("MIMALLOC_PURGE_DELAY=123"), "{set}");
        assert!(set.contains("MIMALLOC_ARENA_PURGE_MULT=7"), "{set}");
        let ours = child_options(&[]);
        assert!(ours.contains("MIMALLOC_PURGE_DELAY=10"), "{ours}");
        assert!(ours.contains("MIMALLOC_ARENA_PURGE_MULT=1"), "{ours}");
    }
}
