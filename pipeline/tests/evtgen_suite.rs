//! Falco's own end-to-end suite (`../shared/testdata/upstream/tests/
//! falco-HEAD-e2e_tests-evtgen_suite/*.yaml`) against the live agent: every case performed
//! as real processes and system calls by `peregrine-evtgen` (host, or a podman container
//! where the test's context asks for one), every alert tied to its case by the
//! `PEREGRINE_EVTGEN_CASE` marker in the processes' environment, checked for rule, priority
//! and each `outputFields` value. Results go to `target/evtgen-results.json`.

mod common;
mod evtgen;

use evtgen::plan::{self, Prepared};
use evtgen::report::{self, Row};
use evtgen::{run, suite};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Cases that cannot pass on this machine, with the exact reason (name prefix → reason).
/// Printed every run; the test fails if one of them passes.
const CANNOT_PASS: &[(&str, &str)] = &[];

const SUITE_DIR: &str = "upstream/tests/falco-HEAD-e2e_tests-evtgen_suite";

fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata")
}

fn require_privileged() -> bool {
    std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1")
}

fn skip(test: &str, why: Option<String>) -> bool {
    let Some(why) = why else { return false };
    if require_privileged() {
        panic!("{test}: {why} and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping {test}: {why}");
    true
}

fn suite_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared().join(SUITE_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn all_cases() -> Vec<suite::Case> {
    suite_files()
        .iter()
        .flat_map(|f| suite::load_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn templates_expand_and_fill_like_the_event_generator() {
    let text = "tests:\n  - name: t\n    runIf: %{ item.runIf }\n    args:\n      p: \"%{ item.p }\"\n      mode: 0644\n      keep: \"x %{ item.p }\"\n    cases:\n      - strategy: matrix\n        values:\n          runIf: [{ arch: { op: ne, val: arm64 } }]\n          p: [/a, /b]\n          q: [1, 2, 3]\n      - strategy: vector\n        values:\n          runIf: null\n          p: /c\n          q: 4\n";
    let quoted = suite::quote_bare_templates(text);
    assert!(quoted.contains("runIf: \"%{ item.runIf }\""));
    let doc = suite::yaml_to_json(&quoted).unwrap();
    let specs = &doc["tests"][0]["cases"];
    let cases = suite::expand_cases(specs).unwrap();
    assert_eq!(cases.len(), 2 * 3 + 1);
    let mut t = doc["tests"][0].clone();
    t.as_object_mut().unwrap().remove("cases");
    let mut first = t.clone();
    suite::fill(&mut first, &cases[0]).unwrap();
    assert_eq!(first["runIf"]["arch"]["op"], "ne");
    assert!(first["args"]["p"] == "/a" || first["args"]["p"] == "/b");
    // Only whole-string templates are filled, as the event-generator does.
    assert_eq!(first["args"]["keep"], "x %{ item.p }");
    // YAML 1.1 octal, as go-yaml reads the suite's modes.
    assert_eq!(first["args"]["mode"], 420);
    assert_eq!(suite::run_if(&first).unwrap(), None);
    let mut last = t.clone();
    suite::fill(&mut last, &cases[6]).unwrap();
    assert_eq!(last["runIf"], Value::Null);
    assert_eq!(last["args"]["p"], "/c");
    let mut arm = first.clone();
    arm["runIf"]["arch"]["val"] = Value::String(suite::go_arch().into());
    assert!(suite::run_if(&arm).unwrap().is_some());
    let mut missing = t.clone();
    assert!(suite::fill(&mut missing, &serde_json::Map::new()).is_err());
    assert_eq!(
        plan::split_args("-c '/bin/sh -i' \"a b\" c"),
        vec!["-c", "/bin/sh -i", "a b", "c"]
    );
}

#[test]
fn suite_files_expand_to_their_case_counts() {
    if skip(
        "suite_files_expand_to_their_case_counts",
        (!shared().join(SUITE_DIR).exists()).then(|| "no ../shared/testdata".to_string()),
    ) {
        return;
    }
    // Counted by hand from the files: matrix products and vectors.
    let want: &[(&str, usize)] = &[
        ("clear_log_activities", 39),
        ("create_hardlink_over_sensitive_files", 8),
        ("create_symlink_over_sensitive_files", 18),
        ("debugfs_launched_in_privileged_container", 1),
        ("detect_release_agent_file_container_escapes", 12),
        ("directory_traversal_monitored_file_read", 12),
        ("disallowed_ssh_connection_non_standard_port", 7),
        ("drop_and_execute_new_binary_in_container", 3),
        ("execution_from_dev_shm", 50),
        ("fileless_execution_via_memfd_create", 1),
        ("find_aws_credentials", 16),
        ("netcat_remote_code_execution_in_container", 7),
        ("packet_socket_created_in_container", 1),
        ("read_sensitive_file_trusted_after_startup", 19),
        ("read_sensitive_file_untrusted", 18),
        (
            "redirect_stdout_stdin_to_network_connection_in_container",
            12,
        ),
        ("remove_bulk_data_from_disk", 3),
        ("run_shell_untrusted", 360),
        ("search_private_keys_or_passwords", 19),
        ("system_user_interactive", 30),
    ];
    let cases = all_cases();
    let mut per_file: HashMap<&str, usize> = HashMap::new();
    let mut tests = BTreeSet::new();
    for c in &cases {
        *per_file.entry(c.file.as_str()).or_default() += 1;
        tests.insert(c.name.split("_testCase#").next().unwrap().to_string());
    }
    let files = suite_files();
    assert_eq!(files.len(), 20);
    assert_eq!(tests.len(), 35, "{tests:?}");
    for (file, n) in want {
        assert_eq!(per_file.get(file), Some(n), "{file}");
    }
    assert_eq!(cases.len(), want.iter().map(|(_, n)| n).sum::<usize>());
    // Every case becomes a plan; names are unique.
    let names: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), cases.len());
    for c in &cases {
        let p = plan::prepare(&c.test, "x").unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(!p.expected.rule.is_empty(), "{}", c.name);
        assert!(!p.expected.fields.is_empty(), "{}", c.name);
        assert!(
            !c.test.to_string().contains("%{"),
            "{}: unfilled template",
            c.name
        );
    }
}

/// The suite's users must exist on the host (the container image has them too).
fn ensure_host_users(cases: &[(suite::Case, Prepared)]) {
    let mut users = BTreeSet::new();
    for (_, p) in cases.iter().filter(|(_, p)| !p.container) {
        for proc in p.plan["processes"].as_array().unwrap() {
            if let Some(u) = proc["user"].as_str() {
                users.insert(u.to_string());
            }
        }
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for u in users {
        if passwd
            .lines()
            .any(|l| l.split(':').next() == Some(u.as_str()))
        {
            continue;
        }
        eprintln!(
            "evtgen suite: creating the missing system user {u:?} on this host (useradd --system)"
        );
        let status = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                &u,
            ])
            .status()
            .expect("useradd");
        assert!(status.success(), "useradd {u} failed");
    }
}

fn podman_problem() -> Option<String> {
    match Command::new("podman")
        .args(["image", "exists", run::IMAGE])
        .status()
    {
        Ok(s) if s.success() => None,
        Ok(_) => Some(format!(
            "podman image {} is missing (run .ci/podman-setup.sh)",
            run::IMAGE
        )),
        Err(e) => Some(format!("podman is not available ({e})")),
    }
}

fn target_dir() -> PathBuf {
    // target/<profile>/peregrine
    Path::new(env!("CARGO_BIN_EXE_peregrine"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

#[test]
fn evtgen_suite_live() {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        Some("needs root".to_string())
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some("needs BPF (no kernel BTF)".to_string())
    } else if !shared().join(SUITE_DIR).exists() {
        Some("needs ../shared/testdata".to_string())
    } else {
        podman_problem()
    };
    if skip("evtgen_suite_live", why) {
        return;
    }
    let root = std::env::temp_dir().join(format!("peregrine-evtgen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut rows = Vec::new();
    let mut to_run: Vec<(suite::Case, Prepared)> = Vec::new();
    for (i, c) in all_cases().into_iter().enumerate() {
        match suite::run_if(&c.test) {
            Ok(None) => {}
            Ok(Some(why)) => {
                rows.push(Row {
                    rule: c.rule(),
                    name: c.name,
                    file: c.file,
                    status: "not_run",
                    reason: why,
                });
                continue;
            }
            Err(e) => panic!("{}: {e}", c.name),
        }
        let id = format!("{}-{i}", std::process::id());
        let p = plan::prepare(&c.test, &id).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        to_run.push((c, p));
    }
    ensure_host_users(&to_run);
    let ids: Vec<String> = to_run
        .iter()
        .map(|(_, p)| p.plan["env"][plan::CASE_ENV].as_str().unwrap().to_string())
        .collect();
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for (_, p) in &to_run {
        fields.extend(p.expected.fields.iter().map(|(k, _)| k.clone()));
    }
    fields.insert("container.id".into());
    let rules: Vec<PathBuf> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| shared().join("upstream").join(f))
    .collect();
    let agent = run::start_agent(&root, &rules, &fields.into_iter().collect::<Vec<_>>());
    let started = std::time::Instant::now();
    let prepared: Vec<&Prepared> = to_run.iter().map(|(_, p)| p).collect();
    let ran = run::run_all(&root, &ids, &prepared);
    for path in prepared.iter().flat_map(|p| &p.leftovers) {
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path).unwrap_or_else(|e| panic!("removing {path}: {e}"));
        }
    }
    eprintln!(
        "evtgen suite: {} cases performed in {:.1?}",
        ran.len(),
        started.elapsed()
    );
    // Let the last events through the pipeline before stopping.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let log = agent.stderr();
    let alerts = agent.stop();
    let key = report::marker_key();
    let mut by_case: HashMap<&str, Vec<&Value>> = HashMap::new();
    for a in &alerts {
        if let Some(id) = a["output_fields"][&key].as_str() {
            by_case.entry(id).or_default().push(a);
        }
    }
    for (((c, p), id), r) in to_run.iter().zip(&ids).zip(&ran) {
        let own = by_case.get(id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let outcome = if r.ok {
            report::check(&p.expected, own)
        } else {
            Err(r.detail.clone())
        };
        let known = CANNOT_PASS.iter().find(|(n, _)| c.name.starts_with(n));
        let (status, reason) = match (outcome, known) {
            (Ok(()), None) => ("passed", String::new()),
            (Ok(()), Some((_, why))) => (
                "unexpected_pass",
                format!("listed as unable to pass: {why}"),
            ),
            (Err(e), None) => ("failed", e),
            (Err(e), Some((_, why))) => ("cannot_pass", format!("{why} (got: {e})")),
        };
        rows.push(Row {
            name: c.name.clone(),
            file: c.file.clone(),
            rule: c.rule(),
            status,
            reason,
        });
    }
    let results = target_dir().join("evtgen-results.json");
    report::write_json(&results, &rows);
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    eprintln!(
        "evtgen suite: {} passed, {} failed, {} cannot pass here, {} unexpected passes, {} not run (runIf); results in {}",
        count("passed"),
        count("failed"),
        count("cannot_pass"),
        count("unexpected_pass"),
        count("not_run"),
        results.display()
    );
    let listed: Vec<&Row> = rows.iter().filter(|r| r.status == "cannot_pass").collect();
    if CANNOT_PASS.is_empty() {
        eprintln!("evtgen suite: no case is listed as unable to pass on this machine");
    } else {
        eprintln!(
            "cases listed as unable to pass on this machine ({CANNOT_PASS:?}):\n{}",
            report::table(&listed)
        );
    }
    let bad: Vec<&Row> = rows
        .iter()
        .filter(|r| r.status == "failed" || r.status == "unexpected_pass")
        .collect();
    if bad.is_empty() {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        let drops: Vec<&str> = log.lines().filter(|l| l.contains("drop")).take(5).collect();
        panic!(
            "{} evtgen cases failed (agent log and plans in {}; {}):\n{}",
            bad.len(),
            root.display(),
            if drops.is_empty() {
                "no drop lines in the agent log".to_string()
            } else {
                drops.join(" / ")
            },
            report::table(&bad)
        );
    }
}

#[test]
fn a_case_passes_only_on_its_rule_priority_and_every_field() {
    let expected = plan::Expected {
        rule: "Read sensitive file untrusted".into(),
        priority: "warning".into(),
        fields: vec![
            ("fd.name".into(), "/etc/shadow".into()),
            ("proc.name".into(), "eg".into()),
        ],
    };
    let alert = |rule: &str, prio: &str, name: &str| {
        serde_json::json!({"rule": rule, "priority": prio,
            "output_fields": {"fd.name": name, "proc.name": "eg"}})
    };
    let good = alert("Read sensitive file untrusted", "Warning", "/etc/shadow");
    let other_rule = alert("Write below etc", "Warning", "/etc/shadow");
    let wrong_prio = alert("Read sensitive file untrusted", "Notice", "/etc/shadow");
    let wrong_field = alert("Read sensitive file untrusted", "Warning", "/etc/passwd");
    assert!(report::check(&expected, &[&other_rule, &good]).is_ok());
    assert!(report::check(&expected, &[])
        .unwrap_err()
        .contains("no alert"));
    assert!(report::check(&expected, &[&other_rule])
        .unwrap_err()
        .contains("Write below etc"));
    assert!(report::check(&expected, &[&wrong_prio])
        .unwrap_err()
        .contains("priority"));
    let e = report::check(&expected, &[&wrong_field]).unwrap_err();
    assert!(e.contains("fd.name") && e.contains("/etc/passwd"), "{e}");
    let missing = serde_json::json!({"rule": "Read sensitive file untrusted",
        "priority": "Warning", "output_fields": {"fd.name": "/etc/shadow"}});
    assert!(report::check(&expected, &[&missing])
        .unwrap_err()
        .contains("not in output_fields"));
}
