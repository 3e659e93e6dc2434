//! Rules files small enough to write by hand that once asked for gigabytes or minutes: each
//! now compiles within fixed bounds or fails with an error at the reference that crossed
//! them (issue 15, point 4).

mod common;
use common::*;
use peregrine_rules::engine::RulesSource;
use peregrine_rules::load_sources;

/// The first error of loading `yaml`, as printed (with its locations).
fn load_error(yaml: &str) -> String {
    let out = load_sources(&[RulesSource::new("hostile.yaml", yaml)], &no_suggested());
    let err = out.errors().next().map(|d| d.to_string());
    assert!(out.ruleset.is_none(), "loaded");
    err.expect("an error")
}

fn rule(condition: &str) -> String {
    format!("- rule: r\n  desc: d\n  condition: {condition}\n  output: o\n  priority: WARNING\n")
}

/// 10,000 macros each `not` the previous (378 KB): every macro expanded on its own grew
/// memory quadratically, past 6 GB. Negations collapse, so it compiles, to what it means.
#[test]
fn a_chain_of_ten_thousand_negating_macros_compiles_to_one_not() {
    let mut yaml = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..10_000 {
        yaml.push_str(&format!("- macro: m{i}\n  condition: not m{}\n", i - 1));
    }
    yaml.push_str(&rule("evt.type in (open, openat) and m9999"));
    let out = load_sources(&[RulesSource::new("chain.yaml", yaml)], &no_suggested());
    let errs: Vec<String> = out.errors().map(|d| d.to_string()).collect();
    let rs = out.ruleset.unwrap_or_else(|| panic!("{errs:?}"));
    // An odd number of `not`s: holds for openat, not for open.
    assert!(matches(&rs, &shadow_read()));
    let mut open = shadow_read();
    open.etype = peregrine_event::EventType::OPEN;
    assert!(!matches(&rs, &open));
}

/// Chains that really nest (`and` inside `or` inside `and`…) stop at the depth bound, at
/// the reference that crossed it, with the macro's position.
#[test]
fn a_chain_of_alternating_macros_stops_at_the_depth_bound() {
    let mut yaml = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..10_000 {
        let op = if i % 2 == 0 { "and" } else { "or" };
        yaml.push_str(&format!(
            "- macro: m{i}\n  condition: proc.name = p{i} {op} m{}\n",
            i - 1
        ));
    }
    yaml.push_str(&rule("m9999"));
    let err = load_error(&yaml);
    assert!(
        err.contains("nests deeper than 250 levels once macro 'm249' is inlined")
            && err.contains("macro 'm250'")
            && err.contains("hostile.yaml:502:"),
        "{err}"
    );
}

/// A chain that only adds to one `and` stays flat but grows: the ruleset bound stops it.
#[test]
fn a_chain_of_growing_macros_stops_at_the_ruleset_bound() {
    let mut yaml = String::from("- macro: m0\n  condition: evt.type = open\n");
    for i in 1..10_000 {
        yaml.push_str(&format!(
            "- macro: m{i}\n  condition: m{} and proc.name != p{i}\n",
            i - 1
        ));
    }
    yaml.push_str(&rule("m9999"));
    let err = load_error(&yaml);
    assert!(
        err.contains("the rules grow past 2000000 operators and checks in all"),
        "{err}"
    );
}

/// `e_i: (e_{i-1} or e_{i-1})` forty times is 2^40 checks once inlined.
#[test]
fn a_macro_doubled_forty_times_stops_at_the_size_bound() {
    let mut yaml = String::from("- macro: e0\n  condition: evt.type = open\n");
    for i in 1..=40 {
        yaml.push_str(&format!(
            "- macro: e{i}\n  condition: (e{p} or e{p})\n",
            p = i - 1
        ));
    }
    yaml.push_str(&rule("e40"));
    let err = load_error(&yaml);
    assert!(
        err.contains("grows past 100000 operators and checks once macro 'e16' is inlined")
            && err.contains("macro 'e17'"),
        "{err}"
    );
}

/// Each rule is under the per-condition bound; together they are not.
#[test]
fn many_rules_reusing_a_large_macro_stop_at_the_ruleset_bound() {
    let mut yaml = String::from("- macro: e0\n  condition: evt.type = open\n");
    for i in 1..=15 {
        yaml.push_str(&format!(
            "- macro: e{i}\n  condition: (e{p} or e{p})\n",
            p = i - 1
        ));
    }
    for r in 0..100 {
        yaml.push_str(&format!(
            "- rule: r{r}\n  desc: d\n  condition: e15 and proc.name = p{r}\n  output: o\n  priority: WARNING\n"
        ));
    }
    let err = load_error(&yaml);
    assert!(
        err.contains("the rules grow past 2000000 operators and checks in all")
            && err.contains("rule 'r"),
        "{err}"
    );
}

/// A condition as deep as the bound compiles and evaluates on a thread with the stack
/// the agent's rule shards get (the default 2 MiB), in debug builds too.
#[test]
fn a_condition_at_the_depth_bound_compiles_and_evaluates_on_a_default_stack() {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            // Alternating and/or, one level per macro: 246 levels plus the rule's own.
            let mut yaml = String::from("- macro: d0\n  condition: proc.name = cat\n");
            let n = 246;
            for i in 1..=n {
                let op = if i % 2 == 0 { "and" } else { "or" };
                let other = if i % 2 == 0 {
                    "fd.name exists"
                } else {
                    "proc.name = nothing"
                };
                yaml.push_str(&format!(
                    "- macro: d{i}\n  condition: ({other} {op} d{})\n",
                    i - 1
                ));
            }
            yaml.push_str(&rule(&format!("evt.type = openat and d{n}")));
            let out = load_sources(&[RulesSource::new("deep.yaml", yaml)], &no_suggested());
            let errs: Vec<String> = out.errors().map(|d| d.to_string()).collect();
            let rs = out.ruleset.unwrap_or_else(|| panic!("{errs:?}"));
            assert!(matches(&rs, &shadow_read()));
            let mut other = shadow_read();
            let mut p = (**other.process.as_ref().unwrap()).clone();
            p.name = "dog".into();
            other.process = Some(std::sync::Arc::new(p));
            assert!(!matches(&rs, &other));
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A 20,000-term `or` on one field becomes one set (its compile time, which was quadratic,
/// is in `benches/compile.rs`); the result is exact at both ends and in between.
#[test]
fn a_twenty_thousand_term_or_compiles_to_the_same_answers() {
    let terms: Vec<String> = (0..20_000).map(|i| format!("proc.name = p{i}")).collect();
    let rs = one_rule(
        &format!("evt.type = openat and ({})", terms.join(" or ")),
        "x",
    );
    let named = |name: &str| {
        let mut ev = shadow_read();
        let mut p = (**ev.process.as_ref().unwrap()).clone();
        p.name = name.into();
        ev.process = Some(std::sync::Arc::new(p));
        ev
    };
    for (name, want) in [
        ("p0", true),
        ("p19999", true),
        ("p777", true),
        ("p20000", false),
        ("cat", false),
    ] {
        assert_eq!(matches(&rs, &named(name)), want, "{name}");
    }
    let globs: Vec<String> = (0..20_000)
        .map(|i| format!("proc.name glob 'p{i}x*'"))
        .collect();
    let rs = one_rule(
        &format!("evt.type = openat and ({})", globs.join(" or ")),
        "x",
    );
    for (name, want) in [
        ("p0xa", true),
        ("p19999x", true),
        ("p19999", false),
        ("cat", false),
    ] {
        assert_eq!(matches(&rs, &named(name)), want, "{name}");
    }
}
