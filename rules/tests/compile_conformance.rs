//! The compiler-level cases of Falco's `falco_tests.yaml` / `falco_tests_exceptions.yaml`
//! (those `loader_conformance.rs` leaves to the compiler): evttype warnings, macro and list
//! loops, output errors, unknown fields with and without `skip-if-unknown-filter`, and
//! unknown exception fields. Expected codes, items and messages are copied from those files.

mod common;
use common::*;
use peregrine_rules::diag::Diagnostic;
use peregrine_rules::engine::{LoadOutcome, RulesSource};
use peregrine_rules::{load_sources, CompileOptions};
use std::path::PathBuf;

fn rules_dir() -> Option<PathBuf> {
    testdata().map(|d| d.join("upstream/tests/falco-2583ea9-test-rules"))
}

fn load(files: &[&str]) -> Option<LoadOutcome> {
    let dir = rules_dir()?;
    let sources: Vec<RulesSource> = files
        .iter()
        .map(|f| RulesSource::read(&dir.join(f)))
        .collect();
    Some(load_sources(&sources, &CompileOptions::default()))
}

fn item(d: &Diagnostic) -> (String, String) {
    d.item()
        .map(|(t, n)| (t.to_string(), n.to_string()))
        .unwrap_or_default()
}

#[track_caller]
fn expect_error(files: &[&str], code: &str, item_type: &str, item_name: &str, message: &str) {
    let Some(out) = load(files) else { return };
    assert!(out.ruleset.is_none(), "{files:?} must not load");
    let errors: Vec<&Diagnostic> = out.errors().collect();
    assert_eq!(errors.len(), 1, "{files:?}: {errors:?}");
    let e = errors[0];
    assert_eq!(e.code.as_str(), code, "{e}");
    assert_eq!(
        item(e),
        (item_type.to_string(), item_name.to_string()),
        "{e}"
    );
    assert!(
        e.message.contains(message),
        "{files:?}: {:?} should contain {message:?}",
        e.message
    );
}

#[test]
fn evttype_warnings() {
    let Some(out) = load(&["falco_rules_warnings.yaml"]) else {
        return;
    };
    assert!(out.is_ok(), "{:?}", out.errors().collect::<Vec<_>>());
    let mut warned: Vec<String> = out
        .diagnostics()
        .filter(|d| d.code.as_str() == "LOAD_NO_EVTTYPE")
        .map(|d| {
            assert_eq!(d.message, "Rule matches too many evt.type values. This has a significant performance penalty.");
            item(d).1
        })
        .collect();
    warned.sort();
    let mut want = vec![
        "no_evttype",
        "evttype_not_equals",
        "leading_not",
        "not_equals_at_end",
        "not_at_end",
        "not_equals_and_not",
        "leading_in_not_equals_at_evttype",
        "not_with_evttypes",
        "not_with_evttypes_addl",
    ];
    want.sort();
    assert_eq!(warned, want);

    // The event-type sets of the rules whose expectation is not "all" (the old
    // `rules_events` table; the others are "all" by the same set algebra or warn above).
    let rs = out.ruleset.unwrap();
    let types = |name: &str| -> Vec<&str> {
        let r = rs.rules().iter().find(|r| &*r.name == name).unwrap();
        let mut t: Vec<&str> = r.evttypes.iter().map(|t| t.name()).collect();
        t.sort();
        t
    };
    for (rule, want) in [
        ("no_warnings", vec!["execve"]),
        ("not_equals_after_evttype", vec!["execve"]),
        ("not_after_evttype", vec!["execve"]),
        ("leading_trailing_evttypes", vec!["execve", "open"]),
        (
            "leading_multitrailing_evttypes",
            vec!["connect", "execve", "open"],
        ),
        (
            "leading_multitrailing_evttypes_using_in",
            vec!["connect", "execve", "open"],
        ),
        ("evttype_in", vec!["execve", "open"]),
        (
            "evttype_in_plus_trailing",
            vec!["connect", "execve", "open"],
        ),
        ("repeated_evttypes", vec!["open"]),
        ("repeated_evttypes_with_in", vec!["open"]),
        ("repeated_evttypes_with_separate_in", vec!["open"]),
        ("repeated_evttypes_with_mix", vec!["open"]),
    ] {
        assert_eq!(types(rule), want, "{rule}");
    }
}

#[test]
fn macro_and_list_loops() {
    expect_error(
        &["invalid_macro_loop.yaml"],
        "LOAD_ERR_VALIDATE",
        "macro",
        "macro_a",
        "reference loop in macro",
    );
    expect_error(
        &["invalid_list_loop.yaml"],
        "LOAD_ERR_COMPILE_CONDITION",
        "rule",
        "sample rule",
        "unknown event type list_a",
    );
}

#[test]
fn invalid_output() {
    expect_error(
        &["invalid_rule_output.yaml"],
        "LOAD_ERR_COMPILE_OUTPUT",
        "rule",
        "rule_with_invalid_output",
        "invalid formatting token not_a_real_field",
    );
}

#[test]
fn unknown_fields_and_skip_if_unknown_filter() {
    let msg = "filter_check called with nonexistent field proc.nobody";
    expect_error(
        &["skip_unknown_error.yaml"],
        "LOAD_ERR_COMPILE_CONDITION",
        "rule",
        "Contains Unknown Event And Not Skipping",
        msg,
    );
    expect_error(
        &["skip_unknown_unspec.yaml"],
        "LOAD_ERR_COMPILE_CONDITION",
        "rule",
        "Contains Unknown Event And Unspecified",
        msg,
    );

    // Falco's expectation names the old code LOAD_UNKNOWN_FIELD; today it is LOAD_UNKNOWN_FILTER.
    let Some(out) = load(&["skip_unknown_evt.yaml"]) else {
        return;
    };
    assert!(out.is_ok());
    let w: Vec<&Diagnostic> = out
        .diagnostics()
        .filter(|d| d.code.as_str() == "LOAD_UNKNOWN_FILTER")
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!(
        item(w[0]),
        ("rule".into(), "Contains Unknown Event And Skipping".into())
    );
    assert_eq!(w[0].message, msg);
    assert_eq!(
        out.ruleset.unwrap().rules().len(),
        0,
        "the skipped rule is not in the ruleset"
    );

    let Some(out) = load(&["skip_unknown_prefix.yaml"]) else {
        return;
    };
    assert!(
        out.is_ok(),
        "field prefixes like evt.arg.path and proc.aname[1] are known: {:?}",
        out.errors().collect::<Vec<_>>()
    );
}

#[test]
fn unknown_exception_fields() {
    expect_error(
        &["exceptions/item_unknown_fields.yaml"],
        "LOAD_ERR_VALIDATE",
        "exception",
        "ex1",
        "'not.exist' is not a supported filter field",
    );
}

#[test]
fn upstream_and_seed_rules_load_individually_and_together() {
    let Some(data) = testdata() else { return };
    let up = data.join("upstream");
    let files = [
        up.join("falco_rules.yaml"),
        up.join("falco-incubating_rules.yaml"),
        up.join("falco-sandbox_rules.yaml"),
        data.join("seed_rules.yaml"),
    ];
    let expected_enabled = [25, 31, 25, 2];
    for (f, want) in files.iter().zip(expected_enabled) {
        let out = load_sources(&[RulesSource::read(f)], &CompileOptions::default());
        assert!(
            out.is_ok(),
            "{}: {:?}",
            f.display(),
            out.errors().collect::<Vec<_>>()
        );
        assert_eq!(
            out.ruleset.unwrap().enabled_rules().count(),
            want,
            "{}",
            f.display()
        );
    }
    let all: Vec<RulesSource> = files.iter().map(|f| RulesSource::read(f)).collect();
    let out = load_sources(&all, &CompileOptions::default());
    assert!(out.is_ok(), "{:?}", out.errors().collect::<Vec<_>>());
    let rs = out.ruleset.unwrap();
    assert_eq!(rs.rules().len(), 95);
    assert_eq!(rs.enabled_rules().count(), 83);
    // The sandbox rules shipped disabled stay disabled.
    for name in [
        "Unexpected inbound connection source",
        "Container Drift Detected (chmod)",
        "Java Process Class File Download",
    ] {
        assert!(
            rs.rules().iter().any(|r| &*r.name == name && !r.enabled),
            "{name}"
        );
    }
    // Every upstream rule is restricted to a finite set of event types.
    assert!(rs.rules().iter().all(|r| r.evttypes.len() <= 20));
}
