//! The `peregrine` binary's `validate` and `list-fields` commands, end to end.

use std::path::PathBuf;
use std::process::Command;

fn peregrine(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_peregrine"))
        .args(args)
        .output()
        .expect("run peregrine");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn testdata() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("../shared/testdata not found and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping: ../shared/testdata not found");
    None
}

#[test]
fn validates_the_embedded_rules() {
    let (code, out) = peregrine(&["validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Loaded 2 rules, 5 macros, 0 lists; 2 rules enabled"),
        "{out}"
    );
    assert!(
        out.contains("enabled: Sensitive File Access (Critical)"),
        "{out}"
    );
    assert!(
        out.contains("Event types needed (5): execve, execveat, open, openat, openat2"),
        "{out}"
    );
}

#[test]
fn validates_upstream_rules_in_falco_order() {
    let Some(data) = testdata() else { return };
    let up = data.join("upstream");
    let paths: Vec<String> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| up.join(f).display().to_string())
    .chain([data.join("seed_rules.yaml").display().to_string()])
    .collect();
    let mut args = vec!["validate"];
    for p in &paths {
        args.extend(["-r", p.as_str()]);
    }
    let (code, out) = peregrine(&args);
    assert_eq!(code, 0, "{out}");
    for p in &paths[..3] {
        assert!(out.contains(&format!("{p}: Ok\n")), "{p}: {out}");
    }
    assert!(
        out.contains("Loaded 95 rules, 317 macros, 118 lists; 83 rules enabled"),
        "{out}"
    );
    assert!(out.contains("enabled: Read sensitive file untrusted (Warning)"));
    assert!(
        !out.contains("enabled: Java Process Class File Download"),
        "disabled by default upstream"
    );
    assert_eq!(out.matches("  enabled: ").count(), 83);

    let (code, json) = peregrine(&["validate", "--json", "-r", &paths[0]]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON load results");
    assert_eq!(v["falco_load_results"][0]["successful"], true);
}

#[test]
fn reports_errors_with_positions_and_fails() {
    let dir = std::env::temp_dir().join(format!("peregrine-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: broken\n  desc: d\n  condition: evt.type = open and proc.name = \n  output: x\n  priority: WARNING\n",
    )
    .unwrap();
    let (code, out) = peregrine(&["validate", "-r", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(": Invalid"), "{out}");
    assert!(out.contains("rule 'broken'"), "{out}");
    assert!(out.contains("LOAD_ERR_COMPILE_CONDITION"), "{out}");
    assert!(out.contains("bad.yaml:3:"), "positioned: {out}");

    let (code, out) = peregrine(&["validate", "-r", dir.join("missing.yaml").to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("missing.yaml"), "{out}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn lists_fields() {
    let (code, out) = peregrine(&["list-fields", "--prefix", "proc."]);
    assert_eq!(code, 0);
    for f in ["proc.name", "proc.aname", "proc.cmdline", "proc.exepath"] {
        assert!(out.lines().any(|l| l.starts_with(f)), "{f} in {out}");
    }
    assert!(!out.contains("fd.name"));

    let (code, out) = peregrine(&["list-fields", "--prefix", "fd.sip"]);
    assert_eq!(code, 0);
    let line = |f: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{f} ")))
            .unwrap_or_else(|| panic!("{f} in {out}"))
            .to_owned()
    };
    assert!(
        line("fd.sip.name").contains("[NO SOURCE: no DNS cache"),
        "{out}"
    );
    assert!(!line("fd.sip").contains("NO SOURCE"), "{out}");
}

/// A rule reading a field with no source is named in a warning, one per field.
#[test]
fn validate_warns_of_fields_with_no_source() {
    let dir = std::env::temp_dir().join(format!("peregrine-cli-nosrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: dns\n  desc: d\n  condition: evt.type = connect and fd.sip.name = example.com\n  output: x %fd.cip.name\n  priority: WARNING\n",
    )
    .unwrap();
    let (code, out) = peregrine(&["validate", "-r", rules.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    for f in ["fd.sip.name", "fd.cip.name"] {
        let warning = out
            .lines()
            .find(|l| l.starts_with(&format!("warning: field {f} has no source")))
            .unwrap_or_else(|| panic!("{f}: {out}"));
        assert!(warning.ends_with("read by rules: dns"), "{warning}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
