//! Loader behaviour: every item kind and key, cross-file append/override/redefinition, and
//! malformed input with exact codes, items, messages and positions.

use super::*;
use crate::collection::{ExceptionFields, ExceptionValue, RuleDef};
use crate::diag::{Code, Diagnostic, ErrorCode, WarningCode};
use crate::priority::Priority;

const FILE: &str = "rules.yaml";

fn load(content: &str) -> (Collection, Vec<Diagnostic>) {
    let mut c = Collection::default();
    let diags = read_rules(FILE, content, &mut c);
    (c, diags)
}

/// Loads content that must produce no errors; returns the collection and the warnings.
fn load_ok(content: &str) -> (Collection, Vec<Diagnostic>) {
    let (c, diags) = load(content);
    let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
    (c, diags)
}

fn rule<'c>(c: &'c Collection, name: &str) -> &'c RuleDef {
    c.rule(name)
        .unwrap_or_else(|| panic!("rule {name} missing"))
}

fn warning_codes(diags: &[Diagnostic]) -> Vec<WarningCode> {
    diags
        .iter()
        .filter_map(|d| match d.code {
            Code::Warning(w) => Some(w),
            Code::Error(_) => None,
        })
        .collect()
}

const BASE_RULE: &str = "- rule: r
  desc: base desc
  condition: evt.type=open
  output: base output
  priority: INFO
  tags: [a, b]
";

// ---------------------------------------------------------------------------------------
// Item kinds and keys

#[test]
fn rule_with_every_key() {
    let (c, diags) = load_ok(
        "- rule: Full Rule
  desc: a description
  condition: evt.type = execve and proc.name = bash
  output: '  shell %proc.name  '
  priority: critical
  source: k8s_audit
  enabled: false
  tags: [b, a, b]
  warn_evttypes: false
  skip-if-unknown-filter: true
  capture: true
  capture_duration: 5000
  exceptions:
    - name: ex
      fields: [proc.name]
      values: [[zsh]]
",
    );
    assert!(diags.is_empty(), "{diags:#?}");
    let r = rule(&c, "Full Rule");
    assert_eq!(r.desc, "a description");
    assert_eq!(r.condition.value, "evt.type = execve and proc.name = bash");
    assert!(r.condition.plain);
    assert_eq!((r.condition.pos.line, r.condition.pos.col), (3, 14));
    assert_eq!(r.output.value, "shell %proc.name", "output is trimmed");
    assert!(!r.output.plain);
    assert_eq!(
        (r.output.pos.line, r.output.pos.col),
        (4, 12),
        "inside the quote"
    );
    assert_eq!(r.priority, Priority::Critical);
    assert_eq!(r.source, "k8s_audit");
    assert!(!r.enabled);
    assert_eq!(r.tags.iter().collect::<Vec<_>>(), ["a", "b"]);
    assert!(!r.warn_evttypes);
    assert!(r.skip_if_unknown_filter);
    assert!(r.capture);
    assert_eq!(r.capture_duration_ms, 5000);
    assert_eq!(r.exceptions.len(), 1);
    assert_eq!(&*r.pos.file, FILE);
    assert_eq!((r.pos.line, r.pos.col, r.pos.offset), (1, 3, 2));
}

#[test]
fn rule_defaults() {
    let (c, _) = load_ok(BASE_RULE);
    let r = rule(&c, "r");
    assert_eq!(r.source, DEFAULT_SOURCE);
    assert!(r.enabled && r.warn_evttypes);
    assert!(!r.skip_if_unknown_filter && !r.capture);
    assert_eq!(r.capture_duration_ms, 0);
    assert!(r.exceptions.is_empty());
}

#[test]
fn priorities_are_case_insensitive_with_info_alias() {
    for (text, want) in [
        ("EMERGENCY", Priority::Emergency),
        ("Alert", Priority::Alert),
        ("error", Priority::Error),
        ("Warning", Priority::Warning),
        ("NOTICE", Priority::Notice),
        ("info", Priority::Informational),
        ("Informational", Priority::Informational),
        ("debug", Priority::Debug),
    ] {
        let yaml =
            format!("- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: {text}\n");
        let (c, _) = load_ok(&yaml);
        assert_eq!(rule(&c, "r").priority, want, "{text}");
    }
}

#[test]
fn block_scalars_are_positioned_at_their_content() {
    let (c, _) = load_ok(
        "- macro: m
  condition: >
    evt.type = open
    and proc.name = cat
- rule: r
  desc: d
  condition: |
    m
  output: >
    opened %fd.name
  priority: INFO
",
    );
    let m = c.macro_def("m").expect("macro");
    assert_eq!(m.condition.value, "evt.type = open and proc.name = cat\n");
    assert_eq!((m.condition.pos.line, m.condition.pos.col), (3, 5));
    assert!(!m.condition.plain);
    let r = rule(&c, "r");
    assert_eq!(r.condition.value, "m\n");
    assert_eq!(
        r.output.value, "opened %fd.name",
        "trailing newline trimmed"
    );
}

#[test]
fn lists_and_macros() {
    let (c, diags) = load_ok(
        "- list: shells
  items: [bash, \"sh\", 'zsh', \"\"]
- list: empty
  items: []
- macro: m
  condition: proc.name in (shells)
",
    );
    assert!(diags.is_empty());
    let l = c.list("shells").expect("list");
    assert_eq!(l.items, ["bash", "sh", "zsh", ""]);
    assert_eq!((l.pos.line, l.pos.col), (1, 3));
    assert!(c.list("empty").expect("empty").items.is_empty());
    let m = c.macro_def("m").expect("macro");
    assert_eq!(m.condition.value, "proc.name in (shells)");
    assert_eq!(
        (m.pos.line, m.condition.pos.line, m.condition.pos.col),
        (5, 6, 14)
    );
}

#[test]
fn engine_version_forms_and_highest_kept() {
    let (c, _) = load_ok("- required_engine_version: 26\n- required_engine_version: 0.57.0\n- required_engine_version: '0.10.0'\n");
    assert_eq!(c.required_engine_version, Some((0, 57, 0)));
    let (c, _) = load_ok("- required_engine_version: 2\n");
    assert_eq!(c.required_engine_version, Some((0, 2, 0)));
}

#[test]
fn plugin_versions_with_alternatives() {
    let (c, _) = load_ok(
        "- required_plugin_versions:
    - name: container
      version: 0.4.0
    - name: k8saudit
      version: 0.7.0
      alternatives:
        - name: k8saudit-eks
          version: 0.4.0
",
    );
    assert_eq!(c.required_plugins.len(), 2);
    assert_eq!(c.required_plugins[0].name, "container");
    assert_eq!(
        c.required_plugins[1].alternatives,
        [("k8saudit-eks".to_string(), "0.4.0".to_string())]
    );
    let (c, _) =
        load_ok("- required_plugin_versions:\n    - name: container\n      version: 0.4.0\n");
    assert_eq!(check_plugin_requirements(&c, BUILTIN_PLUGINS), Ok(()));
}

#[test]
fn documents_null_documents_and_null_entries() {
    let (c, diags) = load_ok("---\n...\n---\n- list: a\n  items: [x]\n-\n- ~\n---\n# empty\n---\n- list: b\n  items: [y]\n");
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(c.lists.len(), 2);
    let (c, diags) = load_ok("");
    assert!(diags.is_empty() && c.lists.is_empty());
}

#[test]
fn item_kind_follows_falco_key_order() {
    // `list` wins over `macro` and `rule`; the other kind keys are unknown keys of a list.
    let (c, diags) = load_ok("- rule: r\n  macro: m\n  list: l\n  items: [x]\n");
    assert!(c.list("l").is_some() && c.rules.is_empty() && c.macros.is_empty());
    assert_eq!(
        warning_codes(&diags),
        [WarningCode::UnknownKey, WarningCode::UnknownKey]
    );
    assert_eq!(diags[0].message, "Unknown key 'rule'");
}

#[test]
fn duplicate_keys_first_one_wins() {
    let (c, _) = load_ok("- list: a\n  items: [first]\n  items: [second]\n");
    assert_eq!(c.list("a").expect("list").items, ["first"]);
}

#[test]
fn anchors_and_aliases() {
    let (c, _) = load_ok("- list: a\n  items: &shared [x, y]\n- list: b\n  items: *shared\n");
    assert_eq!(c.list("b").expect("b").items, ["x", "y"]);
}

// ---------------------------------------------------------------------------------------
// Warnings

#[test]
fn unknown_item_key_and_names_warnings() {
    let (_, diags) = load_ok(
        "- foo: bar
- list: bad list
  items: []
- macro: 1bad
  condition: x
- rule: r
  desc: d
  condition: c
  output: o
  priority: INFO
  outptu: typo
",
    );
    let got: Vec<(WarningCode, &str, &str)> = diags
        .iter()
        .filter_map(|d| match d.code {
            Code::Warning(w) => Some((w, d.message.as_str(), d.item().map_or("", |i| i.1))),
            Code::Error(_) => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            (WarningCode::UnknownItem, "Unknown top level item", ""),
            (WarningCode::InvalidListName, "List has an invalid name. List names should match a regular expression: ([^()\"'[:space:]=,]+)", "bad list"),
            (WarningCode::InvalidMacroName, "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)", "1bad"),
            (WarningCode::UnknownKey, "Unknown key 'outptu'", "r"),
        ]
    );
    let unknown_key = diags.last().and_then(|d| d.location()).expect("location");
    assert_eq!(
        (
            unknown_key.item_type.as_str(),
            unknown_key.line,
            unknown_key.column
        ),
        ("value for", 11, 3)
    );
}

#[test]
fn deprecated_append_warnings() {
    let (_, diags) = load_ok(
        "- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: true\n- macro: m\n  condition: a\n- macro: m\n  condition: or b\n  append: yes\n",
    );
    assert_eq!(
        warning_codes(&diags),
        [WarningCode::DeprecatedItem, WarningCode::DeprecatedItem]
    );
    assert_eq!(diags[0].message, messages::WARNING_APPEND);
    assert_eq!(diags[0].item(), Some(("list", "l")));
    assert_eq!(diags[1].item(), Some(("macro", "m")));
}

#[test]
fn list_override_typo_is_an_unknown_key_and_a_redefinition() {
    let (c, diags) = load_ok(
        "- list: dev_creation_binaries
  items: [\"csi-provisioner\", \"csi-attacher\"]
  overridde:
    items: append
- list: dev_creation_binaries
  items: [blkid]
",
    );
    assert_eq!(warning_codes(&diags), [WarningCode::UnknownKey]);
    assert_eq!(
        c.list("dev_creation_binaries").expect("list").items,
        ["blkid"]
    );
}

// ---------------------------------------------------------------------------------------
// Redefinition, append, override, within a file and across two files

#[test]
fn redefinition_replaces_content_but_keeps_first_index() {
    let (c, _) = load_ok(
        "- rule: A
  desc: first
  condition: c1
  output: o
  priority: INFO
  enabled: false
- rule: B
  desc: b
  condition: c
  output: o
  priority: INFO
- rule: A
  desc: second
  condition: c2
  output: o2
  priority: WARNING
- list: l
  items: [1]
- list: m
  items: [2]
- list: l
  items: [3]
- macro: x
  condition: a
- macro: y
  condition: b
- macro: x
  condition: c
",
    );
    assert_eq!(
        c.rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );
    let a = rule(&c, "A");
    assert_eq!(
        (a.desc.as_str(), a.condition.value.as_str(), a.priority),
        ("second", "c2", Priority::Warning)
    );
    assert!(a.enabled, "a redefinition replaces every key");
    assert_eq!(a.pos.line, 12);
    assert_eq!(
        c.lists.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["l", "m"]
    );
    assert_eq!(c.list("l").expect("l").items, ["3"]);
    assert_eq!(
        c.macros.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["x", "y"]
    );
    assert_eq!(c.macro_def("x").expect("x").condition.value, "c");
}

#[test]
fn append_and_override_across_two_files() {
    let mut c = Collection::default();
    let first = "- list: shells
  items: [bash]
- macro: interactive
  condition: proc.name = login
- rule: r
  desc: base desc
  condition: evt.type=open
  output: base output
  priority: INFO
  tags: [a, b]
";
    assert!(read_rules("base.yaml", first, &mut c).is_empty());
    let second = "- list: shells
  items: [zsh]
  override:
    items: append
- macro: interactive
  condition: or proc.name = ssh
  override:
    condition: append
- rule: r
  desc: more
  condition: and proc.name = cat
  output: proc=%proc.name
  tags: [c]
  override:
    desc: append
    condition: append
    output: append
    tags: append
";
    let diags = read_rules("local.yaml", second, &mut c);
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(c.list("shells").expect("list").items, ["bash", "zsh"]);
    let m = c.macro_def("interactive").expect("macro");
    assert_eq!(m.condition.value, "proc.name = login or proc.name = ssh");
    assert!(
        !m.condition.plain,
        "appended text no longer maps onto the file"
    );
    assert_eq!(&*m.pos.file, "base.yaml");
    let r = rule(&c, "r");
    assert_eq!(r.condition.value, "evt.type=open and proc.name = cat");
    assert_eq!(r.output.value, "base output proc=%proc.name");
    assert_eq!(r.desc, "base desc more");
    assert_eq!(r.tags.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(&*r.pos.file, "base.yaml");

    let third = "- rule: r
  condition: evt.type = close
  priority: CRITICAL
  enabled: false
  tags: [z]
  warn_evttypes: false
  skip-if-unknown-filter: true
  capture: true
  capture_duration: 100
  output: replaced
  desc: new desc
  override:
    condition: replace
    priority: replace
    enabled: replace
    tags: replace
    warn_evttypes: replace
    skip-if-unknown-filter: replace
    capture: replace
    capture_duration: replace
    output: replace
    desc: replace
";
    let diags = read_rules("third.yaml", third, &mut c);
    assert!(diags.is_empty(), "{diags:#?}");
    let r = rule(&c, "r");
    assert_eq!(r.condition.value, "evt.type = close");
    assert_eq!(
        &*r.condition.pos.file, "third.yaml",
        "replaced text keeps its own position"
    );
    assert_eq!((r.priority, r.enabled), (Priority::Critical, false));
    assert_eq!(r.tags.iter().collect::<Vec<_>>(), ["z"]);
    assert!(!r.warn_evttypes && r.skip_if_unknown_filter && r.capture);
    assert_eq!(r.capture_duration_ms, 100);
    assert_eq!(
        (r.output.value.as_str(), r.desc.as_str()),
        ("replaced", "new desc")
    );
}

#[test]
fn override_append_and_replace_together() {
    let (c, _) = load_ok(&format!(
        "{BASE_RULE}- rule: r
  desc: a replaced description
  condition: and proc.name = cat
  priority: WARNING
  override:
    desc: replace
    condition: append
    priority: replace
"
    ));
    let r = rule(&c, "r");
    assert_eq!(r.condition.value, "evt.type=open and proc.name = cat");
    assert_eq!(r.desc, "a replaced description");
    assert_eq!(r.priority, Priority::Warning);
    assert_eq!(r.output.value, "base output");
}

#[test]
fn legacy_append_true_appends_condition() {
    let (c, diags) = load_ok(&format!(
        "{BASE_RULE}- rule: r\n  condition: or proc.name = cat\n  append: true\n"
    ));
    assert_eq!(warning_codes(&diags), [WarningCode::DeprecatedItem]);
    assert_eq!(
        rule(&c, "r").condition.value,
        "evt.type=open or proc.name = cat"
    );
}

#[test]
fn legacy_append_ignores_other_keys() {
    let (c, _) = load_ok(&format!(
        "{BASE_RULE}- rule: r\n  condition: and x\n  enabled: false\n  output: ignored\n  append: true\n"
    ));
    let r = rule(&c, "r");
    assert!(r.enabled);
    assert_eq!(r.output.value, "base output");
}

#[test]
fn legacy_enable_form() {
    let (c, diags) = load_ok(&format!("{BASE_RULE}- rule: r\n  enabled: false\n"));
    assert!(!rule(&c, "r").enabled);
    assert_eq!(warning_codes(&diags), [WarningCode::DeprecatedItem]);
    assert_eq!(diags[0].message, messages::WARNING_ENABLED);
    let mut c2 = c.clone();
    let diags = read_rules("other.yaml", "- rule: r\n  enabled: true\n", &mut c2);
    assert_eq!(warning_codes(&diags), [WarningCode::DeprecatedItem]);
    assert!(rule(&c2, "r").enabled);
}

#[test]
fn replace_before_definition_is_a_definition_for_lists_and_macros() {
    let (c, _) = load_ok(
        "- macro: open_simple
  condition: or evt.type = openat2
  override:
    condition: replace
- macro: open_simple
  condition: evt.type in (open,openat)
- list: l
  items: [a]
  override:
    items: replace
",
    );
    assert_eq!(
        c.macro_def("open_simple").expect("m").condition.value,
        "evt.type in (open,openat)"
    );
    assert_eq!(c.list("l").expect("l").items, ["a"]);
}

#[test]
fn override_null_or_scalar_names_nothing() {
    let (c, _) = load_ok(
        "- list: l\n  items: [a]\n  override:\n- list: l\n  items: [b]\n  override: items\n",
    );
    assert_eq!(c.list("l").expect("l").items, ["b"]);
}

#[test]
fn processing_stops_at_first_error() {
    let (c, diags) = load("- list: a\n  items: [x]\n- macro: broken\n- list: b\n  items: [y]\n");
    assert_eq!(diags.len(), 1);
    assert!(c.list("a").is_some() && c.list("b").is_none());
    // An error in the second document stops it too.
    let (c, diags) = load("- list: a\n  items: [x]\n---\n- foo\n- list: b\n  items: [y]\n");
    assert_eq!(diags.len(), 1);
    assert!(c.list("a").is_some() && c.list("b").is_none());
}

// ---------------------------------------------------------------------------------------
// Exceptions

const EXCEPTION_RULE: &str = "- rule: Open From Cat
  desc: d
  condition: evt.type=open and proc.name=cat
  output: o
  priority: WARNING
  exceptions:
    - name: proc_name
      fields: [proc.name]
    - name: proc_name_cmdline
      fields: [proc.name, proc.cmdline]
      comps: [=, contains]
    - name: cmdline
      fields: proc.cmdline
    - name: pmatch
      fields: fd.name
      comps: pmatch
      values: [/tmp, /var/tmp]
";

#[test]
fn exception_shapes_and_default_comps() {
    let (c, _) = load_ok(EXCEPTION_RULE);
    let ex = &rule(&c, "Open From Cat").exceptions;
    assert_eq!(ex.len(), 4);
    assert_eq!(
        ex[0].fields,
        ExceptionFields::List(vec!["proc.name".into()])
    );
    assert_eq!(ex[0].comps, ["="]);
    assert_eq!(ex[1].comps, ["=", "contains"]);
    assert_eq!(ex[2].fields, ExceptionFields::Single("proc.cmdline".into()));
    assert_eq!(ex[2].comps, ["in"]);
    assert_eq!(ex[3].comps, ["pmatch"]);
    assert_eq!(
        ex[3].values,
        [
            vec![ExceptionValue::Scalar("/tmp".into())],
            vec![ExceptionValue::Scalar("/var/tmp".into())]
        ]
    );
    assert_eq!((ex[1].pos.line, ex[1].pos.col), (9, 7));
}

#[test]
fn exception_values_may_be_lists_and_modifiers_are_operators() {
    let (c, _) = load_ok(
        "- rule: r
  desc: d
  condition: c
  output: o
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name, proc.cmdline]
      comps: [=, ' startswith  anyof ']
      values:
        - [cat, [cat /dev/zero, \"cat /dev/null\"]]
",
    );
    let ex = &rule(&c, "r").exceptions[0];
    assert_eq!(ex.comps, ["=", "startswith anyof"]);
    assert_eq!(
        ex.values[0],
        [
            ExceptionValue::Scalar("cat".into()),
            ExceptionValue::List(vec!["cat /dev/zero".into(), "cat /dev/null".into()])
        ]
    );
}

#[test]
fn appending_values_and_new_exceptions() {
    let (c, diags) = load_ok(&format!(
        "{EXCEPTION_RULE}- rule: Open From Cat
  exceptions:
    - name: proc_name
      values: [[cat]]
    - name: proc_name
      values: [[dog]]
    - name: added
      fields: fd.name
      values: [/etc]
  append: true
- rule: Open From Cat
  exceptions:
    - name: proc_name_cmdline
      values: [[bash, x]]
    - name: cmdline
  override:
    exceptions: append
"
    ));
    assert_eq!(
        warning_codes(&diags),
        [
            WarningCode::DeprecatedItem,
            WarningCode::ExceptionNameNotUnique,
            WarningCode::AppendNoValues
        ]
    );
    assert_eq!(
        diags[1].message,
        "Multiple definitions of exception 'proc_name' in the same rule"
    );
    assert_eq!(
        diags[2].message,
        "Overriding/appending exception with no values"
    );
    assert_eq!(diags[2].item(), Some(("exception", "cmdline")));
    let ex = &rule(&c, "Open From Cat").exceptions;
    assert_eq!(ex.len(), 5);
    assert_eq!(ex[0].values.len(), 2);
    assert_eq!(
        ex[1].values,
        [vec![
            ExceptionValue::Scalar("bash".into()),
            ExceptionValue::Scalar("x".into())
        ]]
    );
    assert_eq!(ex[4].name, "added");
    assert_eq!(ex[4].comps, ["in"]);
}

#[test]
fn replacing_exceptions() {
    let (c, _) = load_ok(&format!(
        "{EXCEPTION_RULE}- rule: Open From Cat
  exceptions:
    - name: only
      fields: [fd.name]
      values: [[/x]]
  override:
    exceptions: replace
"
    ));
    let ex = &rule(&c, "Open From Cat").exceptions;
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].comps, ["="]);
}

#[test]
fn exception_condition_text() {
    let (c, _) = load_ok(
        "- rule: r
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: none
      fields: [proc.name]
    - name: single
      fields: proc.cmdline
      values: [cat /dev/zero, \"cat /dev/null\", '\"quoted already\"']
    - name: tuple
      fields: [proc.name, proc.cmdline, fd.name]
      comps: [=, in, pmatch]
      values:
        - [not-cat, (cat_cmdlines), [/a b, /c]]
        - [cat, cat_cmdlines, /tmp]
- rule: plain
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
- rule: no_values
  desc: d
  condition: evt.type=open
  output: o
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name]
",
    );
    assert_eq!(
        exception_condition(rule(&c, "r")),
        "(evt.type=open) and not (proc.cmdline in (\"cat /dev/zero\", \"cat /dev/null\", \"quoted already\")) \
         and not (( proc.name = not-cat and  proc.cmdline in (cat_cmdlines) and  fd.name pmatch (\"/a b\", /c)) \
         or ( proc.name = cat and  proc.cmdline in (cat_cmdlines) and  fd.name pmatch (/tmp)))"
    );
    assert_eq!(exception_condition(rule(&c, "plain")), "evt.type=open");
    assert_eq!(
        exception_condition(rule(&c, "no_values")),
        "(evt.type=open)"
    );
    assert_eq!(
        exception_fields(rule(&c, "r"))
            .into_iter()
            .collect::<Vec<_>>(),
        ["fd.name", "proc.cmdline", "proc.name"]
    );
    assert!(exception_fields(rule(&c, "no_values")).is_empty());
}

// ---------------------------------------------------------------------------------------
// Malformed input: code, item, exact message, innermost location (1-based)

struct Bad {
    name: &'static str,
    yaml: &'static str,
    code: ErrorCode,
    /// A location the context must contain: (item type, item name).
    item: (&'static str, &'static str),
    message: &'static str,
    /// The innermost location: (item type, line, column).
    at: (&'static str, u32, u32),
}

const RULE_HEAD: &str = "- rule: r\n  desc: d\n  condition: c\n  output: o\n";

/// What is wrong with the result for `case`, if anything.
fn check(case: &Bad) -> Option<String> {
    let (_, diags) = load(case.yaml);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    let [e] = errors.as_slice() else {
        return Some(format!("{}: expected one error, got {diags:#?}", case.name));
    };
    let inner = e.location()?;
    let got = (
        e.code,
        e.message.as_str(),
        (inner.item_type.as_str(), inner.line, inner.column),
    );
    let want = (Code::Error(case.code), case.message, case.at);
    if got != want {
        return Some(format!("{}: got {got:?}, want {want:?}", case.name));
    }
    let has_item = e
        .context
        .iter()
        .any(|l| (l.item_type.as_str(), l.item_name.as_str()) == case.item);
    if !has_item || e.context[0].item_type != "rules content" {
        return Some(format!(
            "{}: no {:?} in {:#?}",
            case.name, case.item, e.context
        ));
    }
    // Falco shows the line under every error; Peregrine only for files that start as rules
    // do (a sequence), so that a path naming some other file never has its lines printed.
    match (e.snippet.as_deref(), context::starts_like_rules(case.yaml)) {
        (Some(s), true) if s.ends_with("^\n") => None,
        (None, false) => None,
        (other, _) => Some(format!("{}: bad snippet {other:?}", case.name)),
    }
}

fn with_rule_head(rest: &str) -> &'static str {
    Box::leak(format!("{RULE_HEAD}{rest}").into_boxed_str())
}

fn with_base(rest: &str) -> &'static str {
    Box::leak(format!("{BASE_RULE}{rest}").into_boxed_str())
}

fn with_exceptions(rest: &str) -> &'static str {
    Box::leak(format!("{RULE_HEAD}  priority: INFO\n  exceptions:\n{rest}").into_boxed_str())
}

#[test]
fn malformed_inputs() {
    use ErrorCode::{Validate, YamlParse, YamlValidate};
    let cases = [
        Bad { name: "yaml syntax", yaml: "this : is : not : yaml\n", code: YamlParse,
              item: ("rules content", ""), message: "yaml-cpp: error at line 1, column 11: illegal map value",
              at: ("value for", 1, 11) },
        Bad { name: "unterminated flow", yaml: "- list: a\n  items: [x, y\n", code: YamlParse,
              item: ("rules content", ""), message: "yaml-cpp: error at line 3, column 1: end of sequence flow not found",
              at: ("value for", 3, 1) },
        Bad { name: "unknown alias", yaml: "- list: a\n  items: *nope\n", code: YamlParse,
              item: ("rules content", ""), message: "yaml-cpp: error at line 2, column 10: the referenced anchor is not defined",
              at: ("value for", 2, 10) },
        Bad { name: "not yaml", yaml: "This is not yaml\n", code: YamlValidate,
              item: ("rules content", ""), message: "Rules content is not yaml", at: ("rules content", 1, 1) },
        Bad { name: "not array", yaml: "a: b\n", code: YamlValidate, item: ("rules content", ""),
              message: "Rules content is not yaml array of objects", at: ("rules content", 1, 1) },
        Bad { name: "item not object", yaml: "- foo\n", code: YamlValidate, item: ("rules content item", ""),
              message: "Unexpected element type. Each element should be a yaml associative array.",
              at: ("rules content item", 1, 3) },
        Bad { name: "list without items", yaml: "- list: bad_list\n", code: YamlValidate, item: ("list", "bad_list"),
              message: "Item has no mapping for key 'items'", at: ("list", 1, 3) },
        Bad { name: "list without name", yaml: "- list:\n  items: []\n", code: YamlValidate, item: ("list", ""),
              message: "Mapping for key 'list' is empty", at: ("list", 1, 3) },
        Bad { name: "list items not a sequence", yaml: "- list: l\n  items: x\n", code: YamlValidate,
              item: ("list", "l"), message: "Value is not a sequence", at: ("value for", 2, 10) },
        Bad { name: "list item not scalar", yaml: "- list: l\n  items: [a, [b]]\n", code: YamlValidate,
              item: ("list", "l"), message: "sequence value is not scalar", at: ("list item", 2, 14) },
        Bad { name: "list append not bool", yaml: "- list: l\n  items: []\n  append: maybe\n", code: YamlValidate,
              item: ("list", "l"), message: "Can't decode YAML scalar value", at: ("value for", 3, 11) },
        Bad { name: "list append dangling", yaml: "- list: my_list\n  items: [a]\n  override:\n    items: append\n",
              code: Validate, item: ("list", "my_list"), message: messages::ERROR_NO_PREVIOUS_LIST, at: ("list", 1, 3) },
        Bad { name: "list both override and append", yaml: "- list: l\n  items: [a]\n  append: true\n  override:\n    items: append\n",
              code: YamlValidate, item: ("list", "l"), message: messages::ERROR_OVERRIDE_APPEND, at: ("list", 1, 3) },
        Bad { name: "macro without condition", yaml: "- macro: bad_macro\n", code: YamlValidate,
              item: ("macro", "bad_macro"), message: "Item has no mapping for key 'condition'", at: ("macro", 1, 3) },
        Bad { name: "macro without name", yaml: "- macro:\n  condition: x\n", code: YamlValidate, item: ("macro", ""),
              message: "Mapping for key 'macro' is empty", at: ("macro", 1, 3) },
        Bad { name: "macro empty condition", yaml: "- macro: m\n  condition: ''\n", code: YamlValidate,
              item: ("macro", "m"), message: "Value must be non-empty", at: ("value for", 2, 14) },
        Bad { name: "macro condition not scalar", yaml: "- macro: m\n  condition: [a]\n", code: YamlValidate,
              item: ("macro", "m"), message: "Value is not a scalar value", at: ("value for", 2, 14) },
        Bad { name: "macro append dangling", yaml: "- macro: dangling append\n  condition: and evt.type=execve\n  append: true\n",
              code: Validate, item: ("macro", "dangling append"), message: messages::ERROR_NO_PREVIOUS_MACRO, at: ("macro", 1, 3) },
        Bad { name: "macro bad override op", yaml: "- macro: m\n  condition: x\n  override:\n    condition: prepend\n",
              code: YamlValidate, item: ("macro", "m"),
              message: "Invalid override operation for key 'condition': 'prepend'. Allowed values are: append replace ",
              at: ("value for", 4, 16) },
        Bad { name: "rule without output", yaml: "- rule: no output rule\n  desc: d\n  condition: c\n  priority: INFO\n",
              code: YamlValidate, item: ("rule", "no output rule"), message: "Item has no mapping for key 'output'", at: ("rule", 1, 3) },
        Bad { name: "rule without name", yaml: "- rule:\n  desc: some desc\n  condition: evt.type=execve\n  output: o\n",
              code: YamlValidate, item: ("rule", ""), message: "Mapping for key 'rule' is empty", at: ("rule", 1, 3) },
        Bad { name: "rule without priority", yaml: RULE_HEAD, code: YamlValidate, item: ("rule", "r"),
              message: "Item has no mapping for key 'priority'", at: ("rule", 1, 3) },
        Bad { name: "bad priority", yaml: with_rule_head("  priority: LOUD\n"), code: YamlValidate, item: ("rule", "r"),
              message: "Invalid priority", at: ("rule priority", 5, 13) },
        Bad { name: "priority with blanks", yaml: with_rule_head("  priority: ' INFO'\n"), code: YamlValidate, item: ("rule", "r"),
              message: "Invalid priority", at: ("rule priority", 5, 13) },
        Bad { name: "priority not scalar", yaml: with_rule_head("  priority: [INFO]\n"), code: YamlValidate, item: ("rule", "r"),
              message: "Value is not a scalar value", at: ("value for", 5, 13) },
        Bad { name: "enabled not bool", yaml: with_rule_head("  priority: INFO\n  enabled: maybe\n"), code: YamlValidate,
              item: ("rule", "r"), message: "Can't decode YAML scalar value", at: ("value for", 6, 12) },
        Bad { name: "warn_evttypes not bool", yaml: with_rule_head("  priority: INFO\n  warn_evttypes: 1\n"), code: YamlValidate,
              item: ("rule", "r"), message: "Can't decode YAML scalar value", at: ("value for", 6, 18) },
        Bad { name: "skip-if-unknown-filter not bool", yaml: with_rule_head("  priority: INFO\n  skip-if-unknown-filter: [true]\n"),
              code: YamlValidate, item: ("rule", "r"), message: "Value is not a scalar value", at: ("value for", 6, 27) },
        Bad { name: "capture not bool", yaml: with_rule_head("  priority: INFO\n  capture: sometimes\n"), code: YamlValidate,
              item: ("rule", "r"), message: "Can't decode YAML scalar value", at: ("value for", 6, 12) },
        Bad { name: "capture_duration negative", yaml: with_rule_head("  priority: INFO\n  capture_duration: -5\n"),
              code: YamlValidate, item: ("rule", "r"), message: "Can't decode YAML scalar value", at: ("value for", 6, 21) },
        Bad { name: "source empty", yaml: with_rule_head("  priority: INFO\n  source:\n"), code: YamlValidate,
              item: ("rule", "r"), message: "Mapping for key 'source' is empty", at: ("rule", 1, 3) },
        Bad { name: "tags not a sequence", yaml: with_rule_head("  priority: INFO\n  tags: a\n"), code: YamlValidate,
              item: ("rule", "r"), message: "Value is not a sequence", at: ("value for", 6, 9) },
        Bad { name: "tags null", yaml: with_rule_head("  priority: INFO\n  tags:\n"), code: YamlValidate,
              item: ("rule", "r"), message: "Value is not a sequence", at: ("value for", 6, 7) },
        Bad { name: "tag not scalar", yaml: with_rule_head("  priority: INFO\n  tags: [a, {b: c}]\n"), code: YamlValidate,
              item: ("rule", "r"), message: "sequence value is not scalar", at: ("list item", 6, 13) },
        Bad { name: "rule append dangling", yaml: "- rule: my_rule\n  condition: and x\n  append: true\n", code: Validate,
              item: ("rule", "my_rule"), message: messages::ERROR_NO_PREVIOUS_RULE_APPEND, at: ("rule", 1, 3) },
        Bad { name: "rule override append dangling", yaml: "- rule: t\n  condition: and x\n  override:\n    condition: append\n",
              code: Validate, item: ("rule", "t"), message: messages::ERROR_NO_PREVIOUS_RULE_APPEND, at: ("rule", 1, 3) },
        Bad { name: "rule replace dangling", yaml: "- rule: t\n  condition: x\n  override:\n    condition: replace\n",
              code: Validate, item: ("rule", "t"), message: messages::ERROR_NO_PREVIOUS_RULE_REPLACE, at: ("rule", 1, 3) },
        Bad { name: "appended rule without condition", yaml: with_base("- rule: r\n  append: true\n"), code: Validate,
              item: ("rule", "r"), message: "Appended rule must have exceptions or condition property", at: ("rule", 7, 3) },
        Bad { name: "both override and append", yaml: with_base("- rule: r\n  condition: and x\n  append: true\n  override:\n    condition: append\n"),
              code: YamlValidate, item: ("rule", "r"), message: messages::ERROR_OVERRIDE_APPEND, at: ("rule", 7, 3) },
        Bad { name: "priority cannot be appended", yaml: with_base("- rule: r\n  priority: WARNING\n  override:\n    priority: append\n"),
              code: YamlValidate, item: ("rule", "r"), message: "Key 'priority' cannot be appended to, use 'replace' instead",
              at: ("overrides", 10, 5) },
        Bad { name: "source cannot be replaced", yaml: with_base("- rule: r\n  source: k8s\n  override:\n    source: replace\n"),
              code: YamlValidate, item: ("rule", "r"), message: "Key 'source' cannot be replaced", at: ("overrides", 10, 5) },
        Bad { name: "null override op", yaml: with_base("- rule: r\n  desc: x\n  override:\n    desc:\n"),
              code: YamlValidate, item: ("rule", "r"),
              message: "Invalid override operation for key 'desc': 'null'. Allowed values are: append replace ",
              at: ("value for", 10, 9) },
        Bad { name: "override key not defined", yaml: with_base("- rule: r\n  desc: x\n  override:\n    desc: replace\n    condition: append\n"),
              code: YamlValidate, item: ("rule", "r"),
              message: "An append override for 'condition' was specified but 'condition' is not defined", at: ("rule", 7, 3) },
        Bad { name: "enabled override without key", yaml: with_base("- rule: r\n  desc: x\n  override:\n    desc: replace\n    enabled: replace\n"),
              code: YamlValidate, item: ("rule", "r"),
              message: "An replace override for 'enabled' was specified but 'enabled' is not defined", at: ("rule", 7, 3) },
        Bad { name: "key without override entry", yaml: with_base("- rule: r\n  desc: x\n  condition: and y\n  priority: WARNING\n  override:\n    desc: replace\n    condition: append\n"),
              code: YamlValidate, item: ("rule", "r"),
              message: "Unexpected key 'priority': no corresponding entry under 'override' is defined.", at: ("overrides", 10, 13) },
        Bad { name: "override is a sequence", yaml: with_base("- rule: r\n  desc: x\n  override: [desc]\n"),
              code: Validate, item: ("rules content", ""), message: messages::INVALID_NODE, at: ("rules content", 1, 1) },
        Bad { name: "override op not scalar", yaml: with_base("- rule: r\n  desc: x\n  override:\n    desc: [replace]\n"),
              code: Validate, item: ("rules content", ""),
              message: "yaml-cpp: error at line 10, column 11: bad conversion", at: ("rules content", 1, 1) },
        Bad { name: "enable missing rule", yaml: "- rule: ghost\n  enabled: false\n", code: Validate, item: ("rule", "ghost"),
              message: "Rule has 'enabled' key but no rule by that name already exists", at: ("rule", 1, 3) },
        Bad { name: "enable form without enabled", yaml: "- rule: r\n  tags: [a]\n", code: YamlValidate, item: ("rule", "r"),
              message: "Item has no mapping for key 'enabled'", at: ("rule", 1, 3) },
        Bad { name: "redefined with other source", yaml: with_base("- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n  source: k8s_audit\n"),
              code: Validate, item: ("rule", "r"), message: "Rule has been re-defined with a different source", at: ("rule", 7, 3) },
        Bad { name: "exceptions not a sequence", yaml: with_exceptions("    name: e\n"), code: YamlValidate, item: ("rule", "r"),
              message: "Rule exceptions must be a sequence", at: ("exceptions", 7, 5) },
        Bad { name: "exception not a mapping", yaml: with_exceptions("    - e\n"), code: YamlValidate, item: ("exception", ""),
              message: "Rule exception must be a mapping", at: ("exception", 7, 7) },
        Bad { name: "exception without name", yaml: with_exceptions("    - fields: [proc.name, fd.filename]\n"),
              code: YamlValidate, item: ("exception", ""), message: "Item has no mapping for key 'name'", at: ("exception", 7, 7) },
        Bad { name: "exception without fields", yaml: with_exceptions("    - name: ex1\n"), code: YamlValidate,
              item: ("exception", "ex1"), message: "Item has no mapping for key 'fields'", at: ("exception", 7, 7) },
        Bad { name: "exception null fields", yaml: with_exceptions("    - name: ex1\n      fields:\n"), code: Validate,
              item: ("exception", "ex1"), message: "Rule exception item must have fields property with a list of fields",
              at: ("exception", 7, 7) },
        Bad { name: "exception empty field", yaml: with_exceptions("    - name: ex1\n      fields: [proc.name, '']\n"),
              code: YamlValidate, item: ("exception", "ex1"), message: "Value must be non-empty", at: ("value for", 8, 27) },
        Bad { name: "comps fields length", yaml: with_exceptions("    - name: ex1\n      fields: [proc.name, fd.filename]\n      comps: [=]\n"),
              code: Validate, item: ("exception", "ex1"), message: "Fields and comps lists must have equal length", at: ("exception", 7, 7) },
        Bad { name: "unknown comp", yaml: with_exceptions("    - name: ex1\n      fields: [proc.name, fd.filename]\n      comps: [=, no-comp]\n"),
              code: Validate, item: ("exception", "ex1"), message: "'no-comp' is not a supported comparison operator", at: ("exception", 7, 7) },
        Bad { name: "modifier on in", yaml: with_exceptions("    - name: ex1\n      fields: [proc.name]\n      comps: [in anyof]\n"),
              code: Validate, item: ("exception", "ex1"), message: "'in anyof' is not a supported comparison operator", at: ("exception", 7, 7) },
        Bad { name: "fields values length", yaml: with_exceptions("    - name: ex1\n      fields: [proc.name, fd.filename]\n      values:\n        - [nginx]\n"),
              code: Validate, item: ("exception", "ex1"), message: "Fields and values lists must have equal length", at: ("exception", 7, 7) },
        Bad { name: "scalar value for field list", yaml: with_exceptions("    - name: ex1\n      fields: [proc.name]\n      values: [nginx]\n"),
              code: Validate, item: ("exception", "ex1"), message: "Fields and values lists must have equal length", at: ("exception", 7, 7) },
        Bad { name: "single field with comps list", yaml: with_exceptions("    - name: ex1\n      fields: proc.name\n      comps: [in]\n"),
              code: Validate, item: ("exception", "ex1"), message: "Fields and comps must both be strings", at: ("exception", 7, 7) },
        Bad { name: "single field with equality", yaml: with_exceptions("    - name: ex1\n      fields: proc.name\n      comps: =\n"),
              code: Validate, item: ("exception", "ex1"),
              message: "When fields is a single value, comps must be one of (in, pmatch, intersects)", at: ("exception", 7, 7) },
        Bad { name: "single field list value", yaml: with_exceptions("    - name: ex1\n      fields: proc.name\n      values: [[a]]\n"),
              code: Validate, item: ("exception", "ex1"), message: "Expected values array to contain a list of strings", at: ("exception", 7, 7) },
        Bad { name: "values not a sequence", yaml: with_exceptions("    - name: ex1\n      fields: proc.name\n      values: a\n"),
              code: YamlValidate, item: ("exception", "ex1"), message: "Rule exception values must be a sequence", at: ("exception values", 9, 15) },
        Bad { name: "append exception without fields", yaml: with_base("- rule: r\n  exceptions:\n    - name: ex2\n      values:\n        - [apache, /tmp]\n  append: true\n"),
              code: Validate, item: ("exception", "ex2"), message: "Rule exception must have fields property with a list of fields", at: ("exception", 9, 7) },
        Bad { name: "append exception without values", yaml: with_base("- rule: r\n  exceptions:\n    - name: ex2\n      fields: [fd.name]\n  append: true\n"),
              code: Validate, item: ("exception", "ex2"), message: "Rule exception must have values property with a list of values", at: ("exception", 9, 7) },
        Bad { name: "append fields to existing exception", yaml: with_exceptions_then("    - name: ex1\n      fields: [proc.name]\n",
              "- rule: r\n  exceptions:\n    - name: ex1\n      fields: [fd.name]\n      values: [[x]]\n  append: true\n"),
              code: Validate, item: ("exception", "ex1"), message: "Can not append exception fields to existing exception, only values", at: ("exception", 11, 7) },
        Bad { name: "append comps to existing exception", yaml: with_exceptions_then("    - name: ex1\n      fields: [proc.name]\n",
              "- rule: r\n  exceptions:\n    - name: ex1\n      comps: [=]\n      values: [[x]]\n  append: true\n"),
              code: Validate, item: ("exception", "ex1"), message: "Can not append exception comps to existing exception, only values", at: ("exception", 11, 7) },
        Bad { name: "appended values length", yaml: with_exceptions_then("    - name: ex1\n      fields: [proc.name, fd.filename]\n",
              "- rule: r\n  exceptions:\n    - name: ex1\n      values:\n        - [nginx]\n  append: true\n"),
              code: Validate, item: ("exception", "ex1"), message: "Fields and values lists must have equal length", at: ("exception", 7, 7) },
        Bad { name: "engine version too new", yaml: "- required_engine_version: 9999999\n", code: Validate,
              item: ("required_engine_version", ""), message: "Rules require engine version 0.9999999.0, but engine version is 0.62.0",
              at: ("required_engine_version", 1, 3) },
        Bad { name: "engine version other major", yaml: "- required_engine_version: 1.0.0\n", code: Validate,
              item: ("required_engine_version", ""), message: "Rules require engine version 1.0.0, but engine version is 0.62.0",
              at: ("required_engine_version", 1, 3) },
        Bad { name: "engine version not semver", yaml: "- required_engine_version: seven\n", code: YamlValidate,
              item: ("required_engine_version", ""),
              message: "Unable to parse engine version 'seven' as a semver string. Expected \"x.y.z\" semver format.",
              at: ("required_engine_version", 1, 3) },
        Bad { name: "engine version empty", yaml: "- required_engine_version:\n", code: YamlValidate,
              item: ("required_engine_version", ""), message: "Mapping for key 'required_engine_version' is empty",
              at: ("required_engine_version", 1, 3) },
        Bad { name: "plugin versions not a sequence", yaml: "- required_plugin_versions: container\n", code: YamlValidate,
              item: ("required plugin versions", ""), message: "Value of required_plugin_versions must be a sequence",
              at: ("required plugin versions", 1, 29) },
        Bad { name: "plugin entry not a mapping", yaml: "- required_plugin_versions: [container]\n", code: YamlValidate,
              item: ("required plugin versions entry", ""), message: "Plugin version must be a mapping",
              at: ("required plugin versions entry", 1, 30) },
        Bad { name: "plugin without version", yaml: "- required_plugin_versions:\n    - name: container\n", code: YamlValidate,
              item: ("required plugin versions entry", "container"), message: "Item has no mapping for key 'version'",
              at: ("required plugin versions entry", 2, 7) },
        Bad { name: "plugin bad version", yaml: "- required_plugin_versions:\n    - name: container\n      version: latest\n",
              code: Validate, item: ("required plugin versions entry", "container"),
              message: "Invalid required version 'latest' for plugin 'container'", at: ("required plugin versions entry", 2, 7) },
        Bad { name: "plugin alternatives not a sequence", yaml: "- required_plugin_versions:\n    - name: a\n      version: 1.0.0\n      alternatives: b\n",
              code: YamlValidate, item: ("required plugin versions entry", "a"),
              message: "Value of plugin version alternatives must be a sequence", at: ("required plugin versions entry", 2, 7) },
        Bad { name: "plugin duplicate alternative", yaml: "- required_plugin_versions:\n    - name: a\n      version: 1.0.0\n      alternatives:\n        - name: a\n          version: 2.0.0\n",
              code: Validate, item: ("required plugin versions entry", "a"),
              message: "Defined multiple alternative version requirements for plugin 'a'", at: ("required plugin versions entry", 2, 7) },
        Bad { name: "plugin alternative without name", yaml: "- required_plugin_versions:\n    - name: a\n      version: 1.0.0\n      alternatives:\n        - version: 2.0.0\n",
              code: YamlValidate, item: ("required plugin versions alternative", ""),
              message: "Item has no mapping for key 'name'", at: ("required plugin versions alternative", 5, 11) },
    ];
    assert!(cases.len() >= 30);
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn with_exceptions_then(exceptions: &str, rest: &str) -> &'static str {
    Box::leak(format!("{}{rest}", with_exceptions(exceptions)).into_boxed_str())
}

#[test]
fn reading_files_from_disk() {
    let dir = std::env::temp_dir().join(format!("peregrine-read-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("r.yaml");
    std::fs::write(&path, b"- list: l\n  items: [caf\xe9]\n").expect("write");
    let mut c = Collection::default();
    assert!(read_rules_file(&path, &mut c).is_empty());
    assert_eq!(c.list("l").expect("list").items, ["caf\u{fffd}"]);
    let missing = dir.join("missing.yaml");
    let diags = read_rules_file(&missing, &mut c);
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, Code::Error(ErrorCode::FileRead));
    assert!(diags[0]
        .message
        .starts_with(&format!("Could not open {} for reading", missing.display())));
    assert_eq!(diags[0].context.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn error_after_warnings_keeps_both() {
    let (_, diags) = load("- rule: r\n  append: true\n  condition: x\n");
    assert_eq!(diags.len(), 2);
    assert_eq!(diags[0].code, Code::Warning(WarningCode::DeprecatedItem));
    assert_eq!(diags[1].code, Code::Error(ErrorCode::Validate));
}

#[test]
fn never_panics_on_odd_structures() {
    for yaml in [
        "- rule: {a: b}\n",
        "- rule: r\n  exceptions: [[a]]\n",
        "- ? [a]\n  : b\n",
        "- list: l\n  items: [a]\n  override: {[x]: append}\n",
        "- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [[a], b]\n      comps: [[=], =]\n      values: [[[x, [y]], ~]]\n",
        "--- !mux\n- rule: r\n",
        "\u{feff}- list: l\n  items: []\n",
        "- required_plugin_versions: []\n",
        "- required_engine_version: 0x1A\n",
    ] {
        let _ = load(yaml);
    }
}

#[test]
fn a_file_that_is_not_rules_shaped_gets_positions_but_none_of_its_lines() {
    // What a rules path symlinked to /etc/shadow would show.
    let secret = "root:$y$j9T$s3cr3tHash:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n";
    let (_, diags) = load(secret);
    assert!(diags.iter().any(|d| d.is_error()), "{diags:#?}");
    let text = render_text(FILE, &diags);
    assert!(
        !text.contains("s3cr3t") && !text.contains("root:"),
        "{text}"
    );
    assert!(text.contains("Rules content is not yaml"), "{text}");
    // A parse error deep in a file that is not rules: still no line of it.
    let (_, diags) = load("user: x\npassword: a: b\n");
    let text = render_text(FILE, &diags);
    assert!(!text.contains("password"), "{text}");
    // A rules file keeps Falco's snippet under its errors.
    let (_, diags) = load("# rules\n---\n- list: bad_list\n");
    let text = render_text(FILE, &diags);
    assert!(text.contains("- list: bad_list\n  ^"), "{text}");
}
