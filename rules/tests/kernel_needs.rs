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
        let PathNeed::Only { exact, prefixes } = &need.paths else {
            panic!("{t}: {:?}", need.paths);
        };
        let want: Vec<&str> = vec![
            "/etc/shadow",
            "/root/.ssh/authorized_keys",
            "/root/.ssh/id_rsa",
        ];
        assert_eq!(exact.iter().map(|s| s.as_str()).collect::<Vec<_>>(), want);
        assert!(prefixes.is_empty());
        assert!(need.paths.admits("/etc/shadow") && !need.paths.admits("/etc/hostname"));
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
fn upstream_rules_need_every_open_and_failed_calls_except_dups() {
    let Some(rs) = needs(&[
        "upstream/falco_rules.yaml",
        "upstream/falco-incubating_rules.yaml",
        "upstream/falco-sandbox_rules.yaml",
    ]) else {
        return;
    };
    let n = rs.kernel_needs();
    let need = |t: &str| &n[&EventType::from_name(t).unwrap()];
    // Open rules test suffixes and substrings of names, which no trie holds.
    for t in ["open", "openat", "openat2"] {
        assert_eq!(need(t).paths, PathNeed::Any, "{t}");
        assert!(need(t).failed, "{t}");
    }
    // "Redirect STDOUT/STDIN to Network Connection in Container" wants evt.rawres in (0,1,2).
    for t in ["dup", "dup2", "dup3"] {
        assert!(!need(t).failed, "{t}");
    }
    for t in ["execve", "connect", "ptrace", "setuid"] {
        assert!(need(t).failed, "{t}: some rule does not test the result");
    }
}
