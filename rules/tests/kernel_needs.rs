//! What the rules need from the kernel (`Ruleset::kernel_needs`), on the seed's and the
//! upstream rules.

mod common;

use peregrine_event::EventType;
use peregrine_rules::interest::PathNeed;
use peregrine_rules::{load_files, CompileOptions};

fn needs(files: &[&str]) -> Option<peregrine_rules::Ruleset> {
    let dir = common::testdata()?;
    let paths: Vec<_> = files.iter().map(|f| dir.join(f)).collect();
    let out = load_files(&paths, &CompileOptions::default());
    Some(out.ruleset.expect("rules load"))
}

#[test]
fn seed_rules_need_three_paths_on_successful_opens() {
    let Some(rs) = needs(&["seed_rules.yaml"]) else {
        return;
    };
    let n = rs.kernel_needs();
    for t in ["open", "openat", "openat2"] {
        let need = &n[&EventType::from_name(t).unwrap()];
        assert!(!need.failed, "{t}: open_read has fd.num>=0");
        let PathNeed::Only(open) = &need.paths else {
            panic!("{t}: {:?}", need.paths);
        };
        let (exact, prefixes) = (&open.any.exact, &open.any.prefixes);
        assert!(open.write == Default::default() && !open.write_any && open.any.comms.is_empty());
        let want: Vec<&str> = vec![
            "/etc/shadow",
            "/root/.ssh/authorized_keys",
            "/root/.ssh/id_rsa",
        ];
        assert_eq!(exact.iter().map(|s| s.as_str()).collect::<Vec<_>>(), want);
        assert!(prefixes.is_empty());
        let admits = |name| need.paths.admits(name, name, "cat", false);
        assert!(admits("/etc/shadow") && !admits("/etc/hostname"));
    }
    let exec = &n[&EventType::from_name("execve").unwrap()];
    assert!(exec.failed, "spawned_process does not test the result");
    assert_eq!(
        n.len(),
        5,
        "{:?}",
        n.keys().map(|t| t.name()).collect::<Vec<_>>()
    );
}

#[test]
fn upstream_rules_need_some_opens_and_failed_calls_except_dups() {
    let Some(rs) = needs(&[
        "upstream/falco_rules.yaml",
        "upstream/falco-incubating_rules.yaml",
        "upstream/falco-sandbox_rules.yaml",
    ]) else {
        return;
    };
    let n = rs.kernel_needs();
    let need = |t: &str| &n[&EventType::from_name(t).unwrap()];
    // Rules on names the trie cannot hold (suffixes, substrings) want only writes, or
    // also name the process or a directory traversal.
    for t in ["open", "openat", "openat2"] {
        let paths = &need(t).paths;
        assert!(matches!(paths, PathNeed::Only(_)), "{t}: {paths:?}");
        let admits =
            |name: &str, raw: &str, comm: &str, write| paths.admits(name, raw, comm, write);
        assert!(
            !admits("/etc/hostname", "/etc/hostname", "cat", false),
            "{t}"
        );
        assert!(
            admits("/etc/hostname", "/etc/hostname", "cat", true),
            "{t}: Write below etc"
        );
        assert!(admits("/etc/shadow", "/etc/shadow", "cat", false), "{t}");
        assert!(
            admits("/usr/lib/x.so", "/usr/lib/x.so", "sshd", false),
            "{t}: CVE-2024-3094"
        );
        assert!(
            admits("/etc/passwd", "/tmp/../etc/passwd", "cat", false),
            "{t}: traversal"
        );
        assert!(
            admits("/home/u/.ssh/id_rsa", "/home/u/.ssh/id_rsa", "cat", false),
            "{t}"
        );
        assert!(need(t).failed, "{t}");
    }
    // No rule reads a regular file's fd on the types that take one, but for fchmod's
    // output.
    assert!(need("fchmod").reads_fds);
    for t in ["dup", "dup2", "dup3", "connect", "sendto"] {
        assert!(!need(t).reads_fds, "{t}");
    }
    // "Redirect STDOUT/STDIN to Network Connection in Container" wants evt.rawres in (0,1,2).
    for t in ["dup", "dup2", "dup3"] {
        assert!(!need(t).failed, "{t}");
    }
    for t in ["execve", "connect", "ptrace", "setuid"] {
        assert!(need(t).failed, "{t}: some rule does not test the result");
    }
}
