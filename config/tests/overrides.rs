//! `-o key=value` overrides and `${VAR}` expansion.

use peregrine_config::*;
use peregrine_rules::Priority;
use std::path::PathBuf;
use std::time::Duration;

fn with(text: &str, overrides: &[&str]) -> Config {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    load_str("base.yaml", text, &overrides).unwrap_or_else(|e| panic!("{e}"))
}

const BASE: &str = r#"
rules_files:
  - /etc/falco/falco_rules.yaml
  - /etc/falco/rules.d
webserver:
  listen_port: 8765
append_output:
  - suggested_output: true
"#;

#[test]
fn dotted_paths_set_nested_scalars_typed_like_yaml() {
    let c = with(
        BASE,
        &[
            "webserver.listen_port=9000",
            "webserver.enabled=true",
            "json_output=yes",
            "priority=WARNING",
            "metrics.interval=30s",
            "syscall_event_drops.threshold=0.25",
            "pipeline.queues.rules.overflow=drop_newest",
        ],
    );
    assert_eq!(c.webserver.listen_port, 9000);
    assert!(c.webserver.enabled);
    assert!(c.json_output);
    assert_eq!(c.priority, Priority::Warning);
    assert_eq!(c.metrics.interval, Duration::from_secs(30));
    assert_eq!(c.syscall_event_drops.threshold, 0.25);
    assert_eq!(c.pipeline.queues.rules.overflow, Overflow::DropNewest);
}

#[test]
fn later_overrides_win() {
    let c = with(BASE, &["log_level=debug", "log_level=error"]);
    assert_eq!(c.log_level, LogLevel::Error);
}

#[test]
fn list_index_replaces_and_appends() {
    let c = with(BASE, &["rules_files[1]=/opt/rules.d"]);
    assert_eq!(
        c.rules_files,
        vec![
            PathBuf::from("/etc/falco/falco_rules.yaml"),
            PathBuf::from("/opt/rules.d")
        ]
    );
    // An index equal to the length appends.
    let c = with(BASE, &["rules_files[2]=/x.yaml"]);
    assert_eq!(c.rules_files.len(), 3);
    let c = with(BASE, &["rules_files[]=/a.yaml", "rules_files[]=/b.yaml"]);
    assert_eq!(
        c.rules_files[2..],
        [PathBuf::from("/a.yaml"), PathBuf::from("/b.yaml")]
    );
    // A scalar counts as a one-item list.
    let c = with("rules_file: /a.yaml\n", &["rules_file[]=/b.yaml"]);
    assert_eq!(
        c.rules_files,
        vec![PathBuf::from("/a.yaml"), PathBuf::from("/b.yaml")]
    );
    // Appending to a missing list creates it.
    let c = with("", &["rules_files[]=/only.yaml"]);
    assert_eq!(c.rules_files, vec![PathBuf::from("/only.yaml")]);
}

#[test]
fn index_then_key_sets_a_field_of_a_list_element() {
    let c = with(BASE, &["append_output[0].extra_output=on CPU %evt.cpu"]);
    assert_eq!(
        c.append_output[0].extra_output.as_deref(),
        Some("on CPU %evt.cpu")
    );
    assert!(c.append_output[0].suggested_output);
    let c = with(
        BASE,
        &[
            "append_output[].match.rule=Shadow",
            "append_output[1].extra_output=x",
        ],
    );
    assert_eq!(c.append_output[1].matching.rule.as_deref(), Some("Shadow"));
    assert_eq!(c.append_output[1].extra_output.as_deref(), Some("x"));
}

#[test]
fn json_and_yaml_object_values() {
    let c = with(
        BASE,
        &[r#"append_output[]={"match": {"source": "syscall"}, "extra_output": "on CPU %evt.cpu"}"#],
    );
    assert_eq!(
        c.append_output[1],
        AppendOutputEntry {
            matching: AppendMatch {
                source: Some("syscall".into()),
                ..AppendMatch::default()
            },
            extra_output: Some("on CPU %evt.cpu".into()),
            suggested_output: false,
        }
    );
    let c = with(BASE, &["webserver={enabled: true, listen_port: 1234}"]);
    assert!(c.webserver.enabled);
    assert_eq!(c.webserver.listen_port, 1234);
    let c = with(BASE, &["rules_files=[/a.yaml, /b.yaml]"]);
    assert_eq!(
        c.rules_files,
        vec![PathBuf::from("/a.yaml"), PathBuf::from("/b.yaml")]
    );
    let c = with(
        BASE,
        &["outputs.loki={hostport: 'http://loki:3100', format: json}"],
    );
    let loki = c.outputs.loki.expect("loki set by -o");
    assert_eq!(loki.hostport, "http://loki:3100");
    assert_eq!(loki.format, LokiFormat::Json);
}

#[test]
fn a_scalar_replaces_a_list_and_null_restores_the_default() {
    let c = with(BASE, &["rules_files=/only.yaml"]);
    assert_eq!(c.rules_files, vec![PathBuf::from("/only.yaml")]);
    let c = with(BASE, &["webserver.listen_port="]);
    assert_eq!(c.webserver.listen_port, 8765);
    let c = with("log_level: debug\n", &["log_level=~"]);
    assert_eq!(c.log_level, LogLevel::Info);
}

#[test]
fn values_are_taken_verbatim_after_the_first_equals_sign() {
    let c = with(
        "",
        &[
            "program_output.program=jq '.output' | curl -d @- url?a=b",
            "file_output.filename='/tmp/quoted'",
        ],
    );
    assert_eq!(
        c.program_output.program,
        "jq '.output' | curl -d @- url?a=b"
    );
    assert_eq!(c.file_output.filename, Some(PathBuf::from("'/tmp/quoted'")));
}

#[test]
fn escaped_key_characters_make_literal_key_names() {
    let c = with("", &[r"outputs.customfields.my\.field\[1\]\\=v"]);
    assert_eq!(
        c.outputs.customfields,
        vec![(r"my.field[1]\".to_string(), "v".to_string())]
    );
}

#[test]
fn overrides_apply_to_the_embedded_default_config() {
    let c = load(
        None,
        &[
            "engine.kind=synthetic".into(),
            "engine.synthetic.seed=7".into(),
        ],
    )
    .unwrap();
    assert_eq!(c.engine.kind, EngineKind::Synthetic);
    assert_eq!(c.engine.synthetic.seed, 7);
    assert_eq!(c.rules_sources(), vec![RulesSourceSpec::Embedded]);
}

#[test]
fn environment_variables_expand_in_file_and_override_values() {
    std::env::set_var("PEREGRINE_TEST_PORT", "9999");
    std::env::set_var("PEREGRINE_TEST_DIR", "/srv/rules");
    std::env::set_var("PEREGRINE_TEST_HOOK", "https://hooks.example.invalid/T0");
    let text = r#"
webserver:
  listen_port: ${PEREGRINE_TEST_PORT}
rules_files:
  - ${PEREGRINE_TEST_DIR}/local.yaml
  - "$${PEREGRINE_TEST_DIR}"
http_output:
  user_agent: "agent-${PEREGRINE_TEST_UNSET_VARIABLE}x"
outputs:
  slack:
    webhookurl: ${PEREGRINE_TEST_HOOK}
"#;
    let c = with(
        text,
        &["file_output.filename=${PEREGRINE_TEST_DIR}/alerts.txt"],
    );
    assert_eq!(c.webserver.listen_port, 9999);
    assert_eq!(
        c.rules_files,
        vec![
            PathBuf::from("/srv/rules/local.yaml"),
            PathBuf::from("${PEREGRINE_TEST_DIR}")
        ]
    );
    assert_eq!(c.http_output.user_agent, "agent-x");
    assert_eq!(
        c.file_output.filename,
        Some(PathBuf::from("/srv/rules/alerts.txt"))
    );
    let hook = c.outputs.slack.as_ref().map(|s| s.webhookurl.as_str());
    assert_eq!(hook, Some("https://hooks.example.invalid/T0"));
}

#[test]
fn only_fully_bracketed_values_are_parsed_as_yaml() {
    let c = with("", &["program_output.program=[ -f /x ] && cat /x"]);
    assert_eq!(c.program_output.program, "[ -f /x ] && cat /x");
}
