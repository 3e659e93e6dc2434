//! Malformed configurations: each error names the key path, the expectation, what was found
//! and where (`file:line:column`, or the override).

use peregrine_config::*;

fn error(text: &str, overrides: &[&str]) -> String {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    match load_str("peregrine.yaml", text, &overrides) {
        Ok(_) => panic!("expected an error for {text:?} {overrides:?}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts the message of loading `text` contains every part.
#[track_caller]
fn check(text: &str, parts: &[&str]) {
    let message = error(text, &[]);
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[track_caller]
fn check_override(text: &str, overrides: &[&str], parts: &[&str]) {
    let message = error(text, overrides);
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn the_message_format_is_path_expected_found_position() {
    let text = "webserver:\n  enabled: true\n  listen_port: abc\n";
    assert_eq!(
        error(text, &[]),
        r#"webserver.listen_port: expected an integer 1-65535, found "abc" (peregrine.yaml:3:16)"#
    );
}

#[test]
fn unknown_keys() {
    check(
        "json_output: true\njson_outptu: false\n",
        &[
            "json_outptu: unknown key",
            "json_output",
            "(peregrine.yaml:2:1)",
        ],
    );
    check(
        "webserver:\n  listen_prot: 8080\n",
        &[
            "webserver.listen_prot: unknown key",
            "listen_port",
            "(peregrine.yaml:2:3)",
        ],
    );
    check(
        "pipeline:\n  queues:\n    rule:\n      capacity: 4\n",
        &[
            "pipeline.queues.rule: unknown key",
            "source, enrich, rules, outputs",
            "(peregrine.yaml:3:5)",
        ],
    );
}

#[test]
fn wrong_types() {
    // boolean
    check(
        "json_output: maybe\n",
        &[
            "json_output: expected a boolean",
            r#"found "maybe""#,
            "(peregrine.yaml:1:14)",
        ],
    );
    // integer range
    check(
        "webserver:\n  listen_port: 70000\n",
        &[
            "webserver.listen_port: expected an integer 1-65535",
            r#"found "70000""#,
            ":2:16)",
        ],
    );
    // negative integer
    check(
        "outputs_queue:\n  capacity: -1\n",
        &[
            "outputs_queue.capacity: expected an integer >= 0",
            r#"found "-1""#,
            ":2:13)",
        ],
    );
    // number
    check(
        "syscall_event_drops:\n  threshold: 1.5\n",
        &[
            "syscall_event_drops.threshold: expected a number 0-1",
            r#"found "1.5""#,
            ":2:14)",
        ],
    );
    // mapping expected, scalar found
    check(
        "webserver: on\n",
        &[
            "webserver: expected a mapping",
            r#"found "on""#,
            "(peregrine.yaml:1:12)",
        ],
    );
    // scalar expected, mapping found
    check(
        "http_output:\n  url: {a: b}\n",
        &[
            "http_output.url: expected a string",
            "found a mapping",
            ":2:8)",
        ],
    );
    // list of strings expected, mapping found
    check(
        "rules_files:\n  a: b\n",
        &[
            "rules_files: expected a list of strings",
            "found a mapping",
            ":2:3)",
        ],
    );
    // list item of the wrong type
    check(
        "rules_files:\n  - /a.yaml\n  - [nested]\n",
        &["rules_files[1]: expected a string", "found a list", ":3:5)"],
    );
    // a top level that is not a mapping
    check(
        "- a\n- b\n",
        &[
            "expected a mapping of settings",
            "found a list",
            "(peregrine.yaml:1:1)",
        ],
    );
    // outputs must be a mapping
    check(
        "outputs: [loki]\n",
        &[
            "outputs: expected a mapping of output destinations",
            "found a list",
            ":1:10)",
        ],
    );
}

#[test]
fn bad_durations() {
    check(
        "metrics:\n  interval: 5000\n",
        &[
            "metrics.interval: expected a duration of at least 100ms",
            r#"found "5000""#,
            ":2:13)",
        ],
    );
    check(
        "metrics:\n  interval: 50ms\n",
        &[
            "metrics.interval: expected a duration of at least 100ms",
            r#"found "50ms""#,
        ],
    );
    check(
        "pipeline:\n  flush_interval: 10 parsecs\n",
        &[
            "pipeline.flush_interval: expected a duration",
            r#"found "10 parsecs""#,
            ":2:19)",
        ],
    );
}

#[test]
fn bad_priority_and_enums() {
    check(
        "priority: loud\n",
        &[
            "priority: expected a priority: emergency",
            r#"found "loud""#,
            "(peregrine.yaml:1:11)",
        ],
    );
    check(
        "rule_matching: some\n",
        &[
            "rule_matching: expected one of first, all",
            r#"found "some""#,
            ":1:16)",
        ],
    );
    check(
        "untrusted_files: ignore\n",
        &[
            "untrusted_files: expected one of refuse, warn",
            r#"found "ignore""#,
            ":1:18)",
        ],
    );
    check(
        "log_level: verbose\n",
        &[
            "log_level: expected one of emergency",
            r#"found "verbose""#,
            ":1:12)",
        ],
    );
    check(
        "pipeline:\n  queues:\n    source:\n      overflow: drop_oldest\n",
        &[
            "pipeline.queues.source.overflow: expected one of block, drop_newest",
            r#"found "drop_oldest""#,
            ":4:17)",
        ],
    );
    check(
        "syscall_event_drops:\n  actions: [log, page]\n",
        &[
            "syscall_event_drops.actions[1]: expected one of ignore, log, alert, exit",
            r#"found "page""#,
            ":2:18)",
        ],
    );
    check(
        "syscall_event_drops:\n  actions: [ignore, log]\n",
        &[
            "syscall_event_drops.actions: expected either ignore alone",
            "found a list",
            ":2:12)",
        ],
    );
    check(
        "webserver:\n  listen_address: localhost\n",
        &[
            "webserver.listen_address: expected an IPv4 or IPv6 address",
            r#"found "localhost""#,
        ],
    );
    check(
        "engine:\n  modern_ebpf:\n    buf_size_preset: 11\n",
        &[
            "engine.modern_ebpf.buf_size_preset: expected an integer 1-10",
            r#"found "11""#,
            ":3:22)",
        ],
    );
    check(
        "pipeline:\n  batch_size: 0\n",
        &[
            "pipeline.batch_size: expected an integer 1-1048576",
            r#"found "0""#,
        ],
    );
}

#[test]
fn unsupported_engines() {
    check(
        "engine:\n  kind: kmod\n",
        &[
            "engine.kind: expected modern_ebpf, replay, nodriver or synthetic",
            "Peregrine has no kernel module",
            r#"found "kmod""#,
            "(peregrine.yaml:2:9)",
        ],
    );
    check(
        "engine:\n  kind: gvisor\n",
        &[
            "engine.kind: expected modern_ebpf, replay, nodriver or synthetic",
            r#"found "gvisor""#,
        ],
    );
}

#[test]
fn missing_required_values() {
    check(
        "engine:\n  kind: replay\n",
        &[
            "engine.replay.capture_file: expected a capture file when engine.kind is replay",
            "found no value",
            "(peregrine.yaml:2:3)",
        ],
    );
    check(
        "http_output:\n  enabled: true\n",
        &[
            "http_output.url: expected a URL when http_output.enabled is true",
            "found no value",
            ":2:3)",
        ],
    );
    check(
        "file_output:\n  enabled: true\n  filename: \"\"\n",
        &["file_output.filename: expected a file name", ":2:3)"],
    );
    check(
        "program_output:\n  enabled: true\n",
        &["program_output.program: expected a command", ":2:3)"],
    );
}

#[test]
fn conflicting_and_duplicate_keys() {
    check(
        "rules_files: [/a.yaml]\nrules_file: /b.yaml\n",
        &[
            "rules_file: expected either rules_files or the deprecated rules_file",
            "found both",
            "(peregrine.yaml:2:1)",
        ],
    );
    check(
        "log_level: info\nlog_level: debug\n",
        &[
            "log_level: expected each key once",
            "found a duplicate key",
            "(peregrine.yaml:2:1)",
        ],
    );
}

#[test]
fn bad_rule_selections_and_append_output() {
    check(
        "rules:\n  - enable: {rule: a}\n    disable: {rule: b}\n",
        &[
            "rules[0]: expected exactly one of enable or disable",
            "found a mapping",
            ":2:5)",
        ],
    );
    check(
        "rules:\n  - enable: {rule: a, tag: b}\n",
        &[
            "rules[0].enable: expected exactly one of rule or tag",
            ":2:13)",
        ],
    );
    check(
        "rules:\n  - enable: {name: a}\n",
        &["rules[0].enable.name: unknown key", "rule, tag", ":2:14)"],
    );
    check(
        "append_output:\n  - extra_output: [a]\n",
        &[
            "append_output[0].extra_output: expected a string",
            "found a list",
            ":2:19)",
        ],
    );
    check(
        "append_output:\n  - just text\n",
        &[
            "append_output[0]: expected a mapping",
            r#"found "just text""#,
            ":2:5)",
        ],
    );
    check(
        "append_output:\n  - match: {tags: [a], sources: syscall}\n",
        &[
            "append_output[0].match.sources: unknown key",
            "source, tags, rule",
            ":2:24)",
        ],
    );
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let message = error("webserver:\n  enabled: [true\n", &[]);
    assert!(message.starts_with("peregrine.yaml:"), "{message}");
    assert!(message.contains("invalid YAML"), "{message}");
    let message = error("a: 1\n---\nb: 2\n", &[]);
    assert!(
        message.contains("expected one YAML document, found 2"),
        "{message}"
    );
}

#[test]
fn bad_override_syntax() {
    for (o, reason) in [
        ("json_output", "expected key=value"),
        ("=true", "empty key"),
        ("webserver..enabled=true", "empty key name"),
        ("webserver.=true", "ends with `.`"),
        ("rules_files[x]=/a", "expected a list index"),
        ("rules_files[0=/a", "unclosed `[`"),
        ("rules_files]=/a", "unmatched `]`"),
        ("[0]=/a", "needs a key name"),
        (r"web\server.enabled=true", "unknown escape"),
        ("append_output[]={match: [}", "not valid YAML/JSON"),
    ] {
        let message = error("", &[o]);
        assert!(
            message.starts_with(&format!("bad override `-o {o}`")),
            "{message}"
        );
        assert!(message.contains(reason), "{message:?} lacks {reason:?}");
    }
}

#[test]
fn overrides_that_cannot_be_applied() {
    check_override(
        "rules_files: [/a.yaml]\n",
        &["rules_files[5]=/b.yaml"],
        &[
            "bad override `-o rules_files[5]=/b.yaml`",
            "index 5 is out of range: rules_files has 1 items",
        ],
    );
    check_override(
        "json_output: true\n",
        &["json_output.enabled=true"],
        &["json_output is \"true\", not a mapping"],
    );
    check_override(
        "webserver: {enabled: true}\n",
        &["webserver[0]=x"],
        &["webserver is a mapping, not a list"],
    );
}

#[test]
fn bad_override_values_point_at_the_override() {
    check_override(
        "",
        &["webserver.listen_port=abc"],
        &[
            r#"webserver.listen_port: expected an integer 1-65535, found "abc" (-o webserver.listen_port=abc)"#,
        ],
    );
    check_override(
        "",
        &["engine.kind=kmod"],
        &[
            "engine.kind: expected",
            "no kernel module",
            "(-o engine.kind=kmod)",
        ],
    );
    check_override(
        "",
        &["webserver.listen_prot=1"],
        &[
            "webserver.listen_prot: unknown key",
            "(-o webserver.listen_prot=1)",
        ],
    );
    check_override(
        "rules_files: [/a.yaml]\n",
        &["rules_file=/b.yaml"],
        &[
            "rules_file: expected either rules_files",
            "found both",
            "(-o rules_file=/b.yaml)",
        ],
    );
    check_override(
        "",
        &["metrics.interval=1x"],
        &[
            "metrics.interval: expected a duration",
            "(-o metrics.interval=1x)",
        ],
    );
}

#[test]
fn a_file_that_is_no_config_is_not_printed() {
    for text in [
        "root:$y$j9T$s3cr3t:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n",
        "s3cr3t-token-value\n",
        "[s3cr3t, list]\n",
        "webserver:\n  s3cr3t key: 1\n",
    ] {
        let e = load_str("peregrine.yaml", text, &[])
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(e.contains("peregrine.yaml:"), "a position instead: {e}");
    }
    // A typo of a setting is still named.
    let e = load_str("peregrine.yaml", "rules_fils: []\n", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("rules_fils: unknown key"), "{e}");
}
