//! Output formatting and alerts. Vectors derived from libs' `eventformatter.ut.cpp` and
//! Falco's `test/output_files` (example alerts).

mod common;
use common::*;
use peregrine_event::flags::open;
use peregrine_event::Event;
use peregrine_rules::engine::RulesSource;
use peregrine_rules::{load_sources, CompileOptions, JsonOptions, RuleMatching, Ruleset};
use serde_json::json;

fn alert(rs: &Ruleset, ev: &Event) -> peregrine_rules::Alert {
    let mut scratch = rs.new_scratch();
    let mut m = Vec::new();
    rs.evaluate(ev, &mut scratch, RuleMatching::First, &mut m);
    assert_eq!(m.len(), 1, "rule must match");
    rs.alert(m[0], ev, &mut scratch, &alert_opts())
}

fn format(output: &str, ev: &Event) -> (String, serde_json::Map<String, serde_json::Value>) {
    let rs = one_rule("proc.name exists", output);
    let a = alert(&rs, ev);
    let mut fields = a.output_fields.clone();
    fields.remove("evt.time.iso8601");
    (a.message, fields)
}

fn format_error(output: &str) -> String {
    let yaml = format!(
        "- rule: r\n  desc: d\n  condition: proc.name exists\n  output: {}\n  priority: INFO\n",
        serde_json::to_string(output).unwrap()
    );
    let out = load_sources(&[RulesSource::new("t.yaml", yaml)], &no_suggested());
    let e = out
        .errors()
        .next()
        .unwrap_or_else(|| panic!("{output:?} compiled"));
    assert_eq!(e.code.as_str(), "LOAD_ERR_COMPILE_OUTPUT", "{output:?}");
    e.message.clone()
}

#[test]
fn tokens_widths_and_adjacent_text() {
    let ev = shadow_read();
    assert_eq!(format("start %proc.name end", &ev).0, "start cat end");
    assert_eq!(format("start %2proc.name end", &ev).0, "start ca end");
    assert_eq!(
        format("start %10proc.name end", &ev).0,
        "start cat        end"
    );
    assert_eq!(
        format("start%proc.nameand%thread.tidend", &ev).0,
        "startcatand200end"
    );
    assert_eq!(
        format("start%proc.aname[0]and%proc.apid[0]end", &ev).0,
        "startcatand200end"
    );
    assert_eq!(format("start end", &ev).0, "start end");
    assert_eq!(format("(%fd.name.)", &ev).0, "(/etc/shadow.)");
    assert_eq!(format("*start %proc.name end", &ev).0, "start cat end");
    let (text, fields) = format("start %proc.name %thread.tid end", &ev);
    assert_eq!(text, "start cat 200 end");
    assert_eq!(fields.get("proc.name"), Some(&json!("cat")));
    assert_eq!(fields.get("thread.tid"), Some(&json!(200)));
}

#[test]
fn missing_values_are_na_in_text_and_null_in_json() {
    let ev = shadow_read();
    let (text, fields) = format("start %proc.name %fd.cport end", &ev);
    assert_eq!(text, "start cat <NA> end");
    assert_eq!(fields.get("fd.cport"), Some(&serde_json::Value::Null));
    assert_eq!(fields.len(), 2);
}

#[test]
fn transformers_in_outputs() {
    let ev = shadow_read();
    let (text, fields) = format("start %toupper(proc.name) end", &ev);
    assert_eq!(text, "start CAT end");
    assert_eq!(fields.get("proc.name"), Some(&json!("cat")));
    assert_eq!(fields.get("toupper(proc.name)"), Some(&json!("CAT")));
    let (text, fields) = format("start %tolower(toupper(proc.name)) end", &ev);
    assert_eq!(text, "start cat end");
    assert_eq!(
        fields.get("tolower(toupper(proc.name))"),
        Some(&json!("cat"))
    );
    assert_eq!(
        format("start %2toupper(proc.name) end", &ev).0,
        "start CA end"
    );
    assert_eq!(
        format("start%toupper(proc.name)and%basename(fd.name)end", &ev).0,
        "startCATandshadowend"
    );
    assert_eq!(
        format("start %toupper( proc.name ) end", &ev).0,
        "start CAT end"
    );
    assert_eq!(format("%proc.aname", &ev).0, "bash sshd systemd");
}

#[test]
fn invalid_tokens_are_rejected() {
    for bad in [
        "start %some.field end",
        "start %a end",
        "start % end",
        "start %proc.name %",
        "start %(proc.aname) end",
        "start %(",
        "start %some_transformer(proc.aname) end",
        "start %val(proc.aname) end",
        "start %toupper(proc.aname",
        "start %toupper(tolower)",
        "start %toupper(tolower(proc.aname)",
        "start %toupper(evt.num) end",
        "start %toupper (proc.name) end",
        "An open was seen %not_a_real_field",
    ] {
        let msg = format_error(bad);
        assert!(!msg.is_empty(), "{bad}");
    }
    assert_eq!(
        format_error("An open was seen %not_a_real_field"),
        "invalid formatting token not_a_real_field"
    );
}

/// Falco's `test/output_files/single_rule_with_cat_write.{json,txt}`: same rule, same event
/// time, same bytes (modulo key order inside objects, which JSON does not define).
#[test]
fn json_and_text_alerts_match_falco_examples() {
    let Some(data) = testdata() else { return };
    let dir = data.join("upstream/tests");
    let rules =
        std::fs::read_to_string(dir.join("falco-2583ea9-test-rules/single_rule_with_tags.yaml"))
            .unwrap();
    let out = load_sources(
        &[RulesSource::new("single_rule_with_tags.yaml", rules)],
        &CompileOptions {
            suggested_output: false,
            ..Default::default()
        },
    );
    let rs = out.ruleset.expect("loads");
    let mut ev = open_event("/dev/null", open::O_WRONLY);
    ev.etype = peregrine_event::EventType::OPEN;
    ev.params = vec![
        peregrine_event::ParamValue::Int(3),
        peregrine_event::ParamValue::Str("/dev/null".into()),
        peregrine_event::ParamValue::Uint(open::O_WRONLY),
    ];
    let mut p = (**ev.process.as_ref().unwrap()).clone();
    p.args = ["/dev/null".into()].into();
    ev.process = Some(std::sync::Arc::new(p));
    let mut a = alert(&rs, &ev);
    a.hostname = "test-falco-hostname".into();

    let expected_json = std::fs::read_to_string(
        dir.join("falco-2583ea9-test/output_files_single_rule_with_cat_write.json"),
    )
    .unwrap();
    let first: serde_json::Value =
        serde_json::from_str(expected_json.lines().next().unwrap()).unwrap();
    assert_eq!(a.to_json(&JsonOptions::default()), first);

    let expected_text = std::fs::read_to_string(
        dir.join("falco-2583ea9-test/output_files_single_rule_with_cat_write.txt"),
    )
    .unwrap();
    assert_eq!(a.to_text_line(), expected_text.lines().next().unwrap());
}

#[test]
fn json_keys_are_sorted_and_optional_keys_follow_options() {
    let rs = one_rule("proc.name = cat", "read %fd.name by %proc.name");
    let a = alert(&rs, &shadow_read());
    let line = a.to_json_line(&JsonOptions::default());
    let keys: Vec<&str> = [
        "\"hostname\"",
        "\"output\"",
        "\"output_fields\"",
        "\"priority\"",
        "\"rule\"",
        "\"source\"",
        "\"tags\"",
        "\"time\"",
    ]
    .into_iter()
    .collect();
    let mut last = 0;
    for k in keys {
        let at = line
            .find(k)
            .unwrap_or_else(|| panic!("{k} missing in {line}"));
        assert!(at >= last, "{k} out of order in {line}");
        last = at;
    }
    assert!(
        line.contains("\"tags\":[\"a\",\"b\"]"),
        "tags sorted: {line}"
    );
    let minimal = a.to_json(&JsonOptions {
        include_output: false,
        include_output_fields: false,
        include_tags: false,
        include_message: true,
    });
    assert_eq!(minimal["message"], json!("read /etc/shadow by cat"));
    assert!(minimal.get("output").is_none() && minimal.get("tags").is_none());
    assert_eq!(
        a.output,
        "2016-08-04T16:17:57.881781397+0000: Warning read /etc/shadow by cat"
    );
}

#[test]
fn suggested_container_fields_are_appended_by_default() {
    let yaml = "- rule: r\n  desc: d\n  condition: proc.name = cat\n  output: read %fd.name\n  priority: INFO\n";
    let out = load_sources(
        &[RulesSource::new("t.yaml", yaml)],
        &CompileOptions::default(),
    );
    let rs = out.ruleset.unwrap();
    let a = alert(&rs, &shadow_read());
    assert_eq!(
        a.message,
        "read /etc/shadow container_id=host container_name=host container_image_repository=<NA> \
         container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>"
    );
    assert_eq!(
        a.output_fields["container.image.repository"],
        serde_json::Value::Null
    );
    let c = alert(&rs, &in_container(shadow_read(), "docker.io/library/nginx"));
    assert!(
        c.message
            .contains("container_id=abcdef012345 container_name=web-1"),
        "{}",
        c.message
    );
    assert!(c
        .message
        .contains("container_image_repository=docker.io/library/nginx container_image_tag=1.0"));
}

#[test]
fn control_characters_are_escaped_in_text_lines() {
    let rs = one_rule("proc.name = cat", "file=%fd.name");
    let a = alert(&rs, &open_event("/tmp/a\nb", open::O_RDONLY));
    assert!(
        a.to_text_line().ends_with("file=/tmp/a\\nb"),
        "{}",
        a.to_text_line()
    );
}

/// Each rule names the fields it reads, from macros, exceptions, `val()` and transformers
/// as well as the output, by canonical name; the ones with no source are reported with
/// the enabled rules that read them.
#[test]
fn rules_name_the_fields_they_read() {
    let yaml = r#"
- macro: shells
  condition: proc.name in (sh, bash)
- rule: r1
  desc: d
  condition: evt.type = connect and shells and fd.sip.name = x and toupper(proc.pname) = val(proc.exe) and proc.aname[2] = x
  output: "%evt.arg.flags %basename(fd.name)"
  priority: INFO
  exceptions:
    - name: e
      fields: [user.name]
      values: [[root]]
- rule: r2
  desc: d
  condition: evt.type = open and fd.sip.name = y
  output: x
  priority: INFO
- rule: r3
  desc: d
  condition: evt.type = open and fd.cip.name = y
  output: x
  priority: INFO
  enabled: false
"#;
    let out = load_sources(&[RulesSource::new("t.yaml", yaml)], &no_suggested());
    let rs = out.ruleset.expect("compiles");
    let names: Vec<&str> = rs.rule(0).fields.iter().map(|f| f.name()).collect();
    assert_eq!(
        names,
        [
            "evt.arg.flags",
            "evt.type",
            "fd.name",
            "fd.sip.name",
            "proc.aname[2]",
            "proc.exe",
            "proc.name",
            "proc.pname",
            "user.name"
        ]
    );
    // The address names have a source: the names rules compare them with, resolved.
    assert_eq!(rs.unsourced_fields(), []);
}
