//! Fuzzing configuration loading, time-budgeted (`PEREGRINE_FUZZ_SECS`, default 3 s):
//! the shipped defaults, the seed deployment's settings and a sidekick-style config,
//! mutated, with random and mutated `-o key=value` overrides, through `load_str`. A config or
//! an error, never a panic. (`no_panic.rs` keeps its case-count proptests.)

use peregrine_event::fuzzing::proptest::prelude::*;
use peregrine_event::fuzzing::{fuzz, mutated_text, Outcome};

const DEFAULTS: &str = include_str!("../defaults/peregrine.yaml");

/// The settings of the deployment Peregrine replaces (../shared/seed/README.md).
const SEED: &str = "json_output: true
json_include_output_property: true
log_stderr: true
log_syslog: false
log_level: info
buffered_outputs: true
rules_files:
  - /etc/falco/falco_rules.local.yaml
  - /etc/falco/rules.d
engine:
  kind: modern_ebpf
  modern_ebpf:
    buf_size_preset: 4
";

const SIDEKICK: &str = "stdout_output: {enabled: false}
http_output:
  enabled: true
  url: \"http://127.0.0.1:2801/\"
outputs:
  customfields: {cluster: prod}
  listenport: 2801
  listenaddress: 127.0.0.1
  tlsserver:
    deploy: true
    certfile: /etc/certs/server/server.crt
    keyfile: /etc/certs/server/server.key
    mutualtls: true
    cacertfile: /etc/certs/server/ca.crt
    notlsport: 2810
    notlspaths: [/ping, /healthz]
  input: {bearertoken: \"${HOME}\"}
  buffersize: 100
  overflow: drop_oldest
  backoff: 500ms
  webhook: {address: \"http://127.0.0.1:9/in\", minimumpriority: warning}
  loki: {hostport: \"http://127.0.0.1:3100\", format: json, batchsize: 100, flushinterval: 1s}
  slack: {webhookurl: \"http://127.0.0.1:9/slack\", minimumpriority: \"\"}
webserver:
  enabled: true
  listen_port: 8765
  listen_address: 127.0.0.1
  ssl_enabled: false
pipeline:
  queues: {source: {capacity: 1024, overflow: drop_newest}}
append_output:
  - match: {rule: Shell, tags: [container], source: syscall}
    extra_output: \"pod=%k8s.pod.name\"
    extra_fields: [container.image.repository, {custom: '%proc.name'}]
";

const OVERRIDES: &[&str] = &[
    "json_output=true",
    "webserver.listen_port=8766",
    "webserver.enabled=false",
    "rules_files[0]=/etc/falco/rules.d",
    "rules_files[]=/tmp/extra.yaml",
    "append_output[0].match.rule=x",
    "outputs.webhook.address=http://127.0.0.1:9/x",
    "pipeline.queues.source.capacity=16",
    "metrics.interval=1h30m",
    "priority=critical",
    "engine.kind=replay",
    "engine.replay.capture_file=/tmp/events.cap",
    "syscall_event_drops.actions[0]=log",
    "program_output.program=jq '.'",
    "file_output.filename=/tmp/a\\.b.log",
    "outputs.listenport=0",
    "outputs.tlsserver.notlspaths[]=/test",
    "log_level=debug",
];

const TOKENS: &[&str] = &[
    "\n",
    "  ",
    "    ",
    "- ",
    ": ",
    ":",
    "{",
    "}",
    "[",
    "]",
    ",",
    "'",
    "\"",
    "&a ",
    "*a",
    "<<: *a",
    "#",
    "? ",
    "!!str ",
    "!!int ",
    "!!binary ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "~",
    "null",
    "true",
    "no",
    "0x1F",
    "0o17",
    "-1",
    "1e99",
    "-1e99",
    ".inf",
    ".nan",
    "18446744073709551616",
    "-9223372036854775809",
    "1h30m",
    "500ms",
    "99999999999h",
    "${HOME}",
    "$${X}",
    "${",
    "${UNDEFINED_FUZZ_VAR}",
    "=",
    ".",
    "[]",
    "[0]",
    "[99999999999999999999]",
    "\\",
    "\\.",
    "\\[",
    "webserver",
    "listen_port",
    "rules_files",
    "outputs",
    "pipeline",
    "queues",
    "capacity",
    "overflow",
    "append_output",
    "match",
    "engine",
    "kind",
    "metrics",
    "interval",
    "priority",
    "http_output",
    "input",
    "tlsserver",
    "ssl_enabled",
    "é",
    "\t",
    "\u{feff}",
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A valid override or a mutated one: all of a run's overrides must apply for the config to
/// load, so many are left valid.
fn one_override() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(OVERRIDES).prop_map(str::to_string),
        1 => mutated_text(strings(OVERRIDES), strings(TOKENS)),
    ]
}

#[test]
fn config_text_and_overrides() {
    let samples = vec![DEFAULTS.to_string(), SEED.to_string(), SIDEKICK.to_string()];
    for s in &samples {
        peregrine_config::load_str("sample.yaml", s, &[]).expect("the samples load");
    }
    peregrine_config::load_str("sample.yaml", SEED, &strings(OVERRIDES))
        .expect("the sample overrides apply");
    let overrides = prop::collection::vec(one_override(), 0..4);
    fuzz(
        "config_text_and_overrides",
        (mutated_text(samples, strings(TOKENS)), overrides),
        |(text, overrides)| match peregrine_config::load_str("fuzz.yaml", &text, &overrides) {
            Ok(cfg) => {
                let _ = format!("{cfg:?}");
                Outcome::Accepted
            }
            Err(e) => {
                let _ = e.to_string();
                Outcome::Rejected
            }
        },
    );
}

#[test]
fn config_overrides_on_defaults() {
    fuzz(
        "config_overrides_on_defaults",
        prop::collection::vec(one_override(), 1..4),
        |overrides| match peregrine_config::load_str("defaults.yaml", DEFAULTS, &overrides) {
            Ok(_) => Outcome::Accepted,
            Err(e) => {
                let _ = e.to_string();
                Outcome::Rejected
            }
        },
    );
}
