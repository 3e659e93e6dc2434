//! Fuzzing the rules loader and the condition compiler and evaluator, time-budgeted
//! (`PEREGRINE_FUZZ_SECS`, default 3 s): mutated upstream Falco rules files and small
//! rulesets through `load_sources`, and rules with mutated conditions, whose compiled form is
//! then evaluated on synthetic events (with alerts rendered for the matches). Loading,
//! compiling and evaluating must give a result or diagnostics, never a panic.
//! The case-count proptests (`loader_proptest.rs`, `parser_proptest.rs`) stay as they are.

use peregrine_event::fuzzing::{fuzz, mutated_text, Outcome};
use peregrine_event::synth::{Generator, SynthConfig};
use peregrine_event::Event;
use peregrine_rules::{load_sources, AlertOptions, CompileOptions, RuleMatching, RulesSource};
use std::path::PathBuf;

const SMALL: &str = r#"- required_engine_version: 0.57.0
- list: shell_binaries
  items: [bash, sh, zsh, "dash", 'ash']
- list: shell_binaries
  items: [ksh]
  override:
    items: append
- macro: spawned_process
  condition: evt.type in (execve, execveat) and evt.dir = <
- macro: open_read
  condition: (evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- macro: container
  condition: (container.id != host)
- rule: Shell in container
  desc: a shell was spawned in a container
  condition: spawned_process and container and proc.name in (shell_binaries) and not proc.pname in (sshd, "containerd-shim")
  output: "Shell (user=%user.name %container.info shell=%proc.name parent=%proc.pname cmdline=%proc.cmdline)"
  priority: WARNING
  tags: [container, shell, mitre_execution]
  exceptions:
    - name: known
      fields: [proc.name, proc.pname]
      comps: [=, in]
      values: [[bash, [sshd, "a b"]]]
- rule: Read sensitive file
  desc: a file under /etc was read
  condition: open_read and (fd.name startswith /etc/ or fd.name glob "/root/*") and not proc.name pmatch (/usr/bin)
  output: "Sensitive read (file=%fd.name proc=%proc.name evt=%evt.type res=%evt.res)"
  priority: ERROR
  enabled: true
- rule: Outbound connection
  desc: a connection left the host
  condition: evt.type = connect and fd.sip != "127.0.0.1" and fd.snet in ("10.0.0.0/8", "fd00::/8") and evt.rawres >= 0
  output: "Connect %fd.name %fd.rip:%fd.rport %proc.exepath %evt.arg.addr"
  priority: NOTICE
- rule: Read sensitive file
  exceptions:
    - name: known
      fields: proc.cmdline
      values: [x, "y z"]
  override:
    exceptions: append
"#;

/// Conditions in the shapes rules use: macros, lists, every operator family, transformers,
/// indexed and argument fields.
const CONDITIONS: &[&str] = &[
    "spawned_process and proc.name in (shell_binaries)",
    "open_read and fd.name startswith /etc and not fd.directory in (/tmp, /var/tmp)",
    "evt.type = connect and fd.sip != 127.0.0.1 and fd.rport in (80, 443, 8080)",
    "proc.aname[2] = sshd or proc.apid[1] > 1 and user.uid = 0",
    "tolower(proc.name) contains SH and fd.name bcontains 2f657463",
    "evt.arg.flags contains O_WRONLY or evt.arg[1] exists or evt.rawarg.res < 0",
    "container.image.repository endswith nginx and proc.cmdline regex '^/bin/(ba)?sh'",
    "fd.snet in (\"10.0.0.0/8\", \"192.168.0.0/16\") or fd.cip intersects (\"::1\")",
    "(proc.name icontains PY and not proc.exepath glob '/usr/*/python*') or proc.exepath endswith /python3",
    "proc.name != val(proc.pname) and evt.num != 0 and proc.args contains -c",
    "proc.name in (shell_binaries, python, 'node') and (evt.dir = < or evt.dir = >)",
    "fd.typechar in (f, d, 4, 6, u) and not (fd.num < 0) and evt.res = SUCCESS",
];

const TOKENS: &[&str] = &[
    " and ",
    " or ",
    " not ",
    "(",
    ")",
    "((((",
    "))))",
    " = ",
    " != ",
    " < ",
    " <= ",
    " > ",
    " >= ",
    " in ",
    " pmatch ",
    " intersects ",
    " contains ",
    " icontains ",
    " bcontains ",
    " startswith ",
    " bstartswith ",
    " endswith ",
    " glob ",
    " iglob ",
    " regex ",
    " exists",
    "proc.name",
    "proc.aname[",
    "proc.aname[99999999999]",
    "evt.arg[",
    "evt.arg.",
    "]",
    "fd.name",
    "fd.sip",
    "fd.snet",
    "evt.type",
    "evt.rawres",
    "evt.res",
    "user.uid",
    "container.id",
    "proc.cmdline",
    "tolower(",
    "toupper(",
    "b64(",
    "basename(",
    "val(",
    "len(",
    "\"",
    "'",
    "\\",
    ",",
    "  ",
    "\n",
    "\t",
    "spawned_process",
    "open_read",
    "container",
    "shell_binaries",
    "18446744073709551616",
    "-9223372036854775809",
    "0x",
    "1e99",
    "10.0.0.0/33",
    "::1/129",
    "*",
    "?",
    "[",
    "%",
    "%proc.name",
    "${X}",
    "- rule: ",
    "- macro: ",
    "- list: ",
    "  condition: ",
    "  output: ",
    "  items: [",
    "  priority: ",
    "  override:\n    condition: append\n",
    "  append: true\n",
    "  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[a]]\n",
    "  enabled: false\n",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "---\n",
    "{",
    "}",
    ": ",
];

/// Synthetic events of every kind the generator makes, suspicious ones included.
fn events() -> Vec<Event> {
    Generator::new(SynthConfig {
        seed: 3,
        containers: 3,
        suspicious_per_mille: 300,
        ..SynthConfig::default()
    })
    .take(60)
    .collect()
}

/// The address-name fields: the names they are compared with are resolved through the
/// system's DNS.
const DNS_NAME_FIELDS: [&str; 4] = ["fd.sip.name", "fd.cip.name", "fd.lip.name", "fd.rip.name"];

/// `text` with `fd.name` for the address-name fields (a string field too, so the rules still
/// compile): fuzzing must send nothing off this host, nor pile up mutated names that the
/// resolver looks up again every 10 s.
fn without_dns_names(text: &str) -> String {
    let mut text = text.to_string();
    while let Some(field) = DNS_NAME_FIELDS.iter().find(|f| text.contains(*f)) {
        text = text.replace(field, "fd.name");
    }
    text
}

/// Loads `files`, and when they compile, evaluates every event and renders the alerts.
fn load_and_run(files: &[(&str, String)], events: &[Event]) -> Outcome {
    let sources: Vec<RulesSource> = files
        .iter()
        .map(|(name, text)| RulesSource::new(*name, without_dns_names(text)))
        .collect();
    let outcome = load_sources(&sources, &CompileOptions::default());
    for d in outcome.diagnostics() {
        let _ = d.to_string();
    }
    let Some(ruleset) = outcome.ruleset.as_ref().filter(|_| outcome.is_ok()) else {
        return Outcome::Rejected;
    };
    let mut scratch = ruleset.new_scratch();
    let mut matches = Vec::new();
    let opts = AlertOptions::default();
    for ev in events {
        matches.clear();
        ruleset.evaluate(ev, &mut scratch, RuleMatching::All, &mut matches);
        for &rule in &matches {
            let alert = ruleset.alert(rule, ev, &mut scratch, &opts);
            let _ = alert.output.len();
        }
    }
    Outcome::Accepted
}

fn upstream() -> Option<Vec<(&'static str, String)>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/upstream");
    let files = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ];
    let read: Result<Vec<_>, _> = files
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).map(|t| (*f, t)))
        .collect();
    match read {
        Ok(texts) => Some(texts),
        Err(e) => {
            if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("PEREGRINE_REQUIRE_PRIVILEGED=1 but the upstream rules are missing: {e}");
            }
            eprintln!("skipping the upstream part: ../shared/testdata/upstream not readable ({e})");
            None
        }
    }
}

fn tokens() -> Vec<String> {
    TOKENS.iter().map(|t| t.to_string()).collect()
}

#[test]
fn rules_yaml_small() {
    let events = events();
    assert_eq!(
        load_and_run(&[("small.yaml", SMALL.into())], &events),
        Outcome::Accepted,
        "the sample loads"
    );
    let mut samples = vec![SMALL.to_string()];
    // Each rule of the sample alone, so edits land on fewer items.
    samples.extend(
        SMALL
            .split("\n- ")
            .skip(1)
            .map(|item| format!("- {item}\n")),
    );
    // The seed deployment's rules, when ../shared is here.
    let seed =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/seed_rules.yaml");
    match std::fs::read_to_string(&seed) {
        Ok(text) => samples.push(text),
        Err(e) => eprintln!("fuzzing without the seed rules: {} ({e})", seed.display()),
    }
    fuzz(
        "rules_yaml_small",
        mutated_text(samples, tokens()),
        |text| load_and_run(&[("small.yaml", text)], &events),
    );
}

#[test]
fn rules_yaml_upstream() {
    let Some(files) = upstream() else { return };
    let events = events();
    // The upstream file loads on its own; each mutated input replaces one of the three.
    let base = files[0].1.clone();
    assert_eq!(
        load_and_run(&[("falco_rules.yaml", base.clone())], &events),
        Outcome::Accepted
    );
    let samples: Vec<String> = files.iter().map(|(_, t)| t.clone()).collect();
    fuzz(
        "rules_yaml_upstream",
        mutated_text(samples, tokens()),
        |text| {
            // As an operator loads them: the base rules, then a (mutated) file on top.
            load_and_run(
                &[("falco_rules.yaml", base.clone()), ("mutated.yaml", text)],
                &events,
            )
        },
    );
}

/// A YAML double-quoted scalar holding `s` exactly.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn rule_conditions() {
    let events = events();
    let prelude: String = SMALL
        .split("\n- ")
        .filter(|item| !item.starts_with("rule:"))
        .collect::<Vec<_>>()
        .join("\n- ");
    let ruleset = |cond: &str| {
        format!(
            "{prelude}\n- rule: fuzzed\n  desc: fuzzed condition\n  condition: {}\n  output: \
             \"%proc.name %fd.name %evt.type %user.name %container.id %evt.args\"\n  priority: WARNING\n",
            quoted(cond)
        )
    };
    for c in CONDITIONS {
        let out = load_sources(
            &[RulesSource::new(
                "cond.yaml",
                without_dns_names(&ruleset(c)),
            )],
            &CompileOptions::default(),
        );
        let errors: Vec<String> = out.errors().map(|d| d.to_string()).collect();
        assert!(errors.is_empty(), "sample condition {c}: {errors:?}");
        assert_eq!(
            load_and_run(&[("cond.yaml", ruleset(c))], &events),
            Outcome::Accepted,
            "sample condition {c}"
        );
    }
    fuzz(
        "rule_conditions",
        mutated_text(CONDITIONS.iter().map(|c| c.to_string()).collect(), tokens()),
        |cond| load_and_run(&[("cond.yaml", ruleset(&cond))], &events),
    );
}
