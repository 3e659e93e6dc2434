//! Whole configurations: the seed's, a full falco.yaml, and every key's default.

use peregrine_config::*;
use peregrine_rules::{Priority, RuleMatching};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// The reference deployment's settings (shared/seed/README.md), as its users wrote them.
const SEED: &str = r#"
json_output: true
json_include_output_property: true
log_stderr: true
log_syslog: false
log_level: info
buffered_outputs: true
rules_files:
  - /etc/falco/falco_rules.local.yaml
  - /etc/falco/rules.d
"#;

#[test]
fn seed_configuration_loads_as_written() {
    let c = load_str("falco.yaml", SEED, &[]).unwrap();
    assert!(c.json_output);
    assert!(c.json_include_output_property);
    assert!(c.log_stderr);
    assert!(!c.log_syslog);
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(c.buffered_outputs);
    assert_eq!(
        c.rules_files,
        vec![
            PathBuf::from("/etc/falco/falco_rules.local.yaml"),
            PathBuf::from("/etc/falco/rules.d")
        ]
    );
    assert_eq!(
        c.rules_sources(),
        vec![
            RulesSourceSpec::Path("/etc/falco/falco_rules.local.yaml".into()),
            RulesSourceSpec::Path("/etc/falco/rules.d".into()),
        ]
    );
    assert!(c.warnings.is_empty());
    // Everything else keeps its default.
    let defaults = Config::default();
    assert_eq!(c.stdout_output, defaults.stdout_output);
    assert_eq!(c.priority, defaults.priority);
    assert_eq!(c.webserver, defaults.webserver);
    assert_eq!(c.engine, defaults.engine);
    assert_eq!(c.pipeline, defaults.pipeline);
}

/// Falco 0.43's shipped falco.yaml, comments trimmed, plus the container plugin drop-in.
const FULL_FALCO_YAML: &str = r#"
config_files:
  - /etc/falco/config.d
watch_config_files: true
rules_files:
  - /etc/falco/falco_rules.yaml
  - /etc/falco/falco_rules.local.yaml
  - /etc/falco/rules.d
rules:
  - disable:
      rule: "*"
  - enable:
      tag: network
  - enable:
      rule: Read sensitive file untrusted
engine:
  kind: modern_ebpf
  kmod:
    buf_size_preset: 4
    drop_failed_exit: false
  modern_ebpf:
    cpus_for_each_buffer: 2
    buf_size_preset: 4
    drop_failed_exit: false
capture:
  enabled: false
  path_prefix: /tmp/falco
  mode: rules
  default_duration: 5000
load_plugins: []
plugins:
  - name: container
    library_path: libcontainer.so
    init_config:
      label_max_len: 100
      with_size: false
time_format_iso_8601: false
buffer_format_base64: false
priority: debug
json_output: false
json_include_output_property: true
json_include_message_property: false
json_include_output_fields_property: true
json_include_tags_property: true
buffered_outputs: false
rule_matching: first
outputs_queue:
  capacity: 0
append_output:
  - suggested_output: true
  - match:
      source: syscall
      tags: [network]
    extra_output: "on CPU %evt.cpu"
stdout_output:
  enabled: true
syslog_output:
  enabled: true
file_output:
  enabled: false
  keep_alive: false
  filename: ./events.txt
http_output:
  enabled: false
  url: ""
  user_agent: "falcosecurity/falco"
  insecure: false
  ca_cert: ""
  ca_bundle: ""
  ca_path: "/etc/ssl/certs"
  mtls: false
  client_cert: "/etc/ssl/certs/client.crt"
  client_key: "/etc/ssl/certs/client.key"
  echo: false
  compress_uploads: false
  keep_alive: false
  max_consecutive_timeouts: 5
program_output:
  enabled: false
  keep_alive: false
  program: "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"
grpc_output:
  enabled: false
grpc:
  enabled: false
  bind_address: "unix:///run/falco/falco.sock"
  threadiness: 0
webserver:
  enabled: true
  threadiness: 0
  listen_port: 8765
  listen_address: 0.0.0.0
  k8s_healthz_endpoint: /healthz
  prometheus_metrics_enabled: false
  ssl_enabled: false
  ssl_certificate: /etc/falco/falco.pem
log_stderr: true
log_syslog: true
log_level: info
libs_logger:
  enabled: true
  severity: info
output_timeout: 2000
syscall_event_timeouts:
  max_consecutives: 1000
syscall_event_drops:
  threshold: .1
  actions:
    - log
    - alert
  rate: .03333
  max_burst: 1
  simulate_drops: false
metrics:
  enabled: false
  interval: 1h
  output_rule: true
  rules_counters_enabled: true
  resource_utilization_enabled: true
  state_counters_enabled: true
  kernel_event_counters_enabled: true
  kernel_event_counters_per_cpu_enabled: false
  libbpf_stats_enabled: true
  plugins_metrics_enabled: true
  jemalloc_stats_enabled: false
  convert_memory_to_mb: true
  include_empty_values: false
falco_libs:
  thread_table_size: 262144
  thread_table_auto_purging_interval_s: 300
  thread_table_auto_purging_thread_timeout_s: 300
  snaplen: 80
base_syscalls:
  custom_set: []
  repair: false
  all: false
"#;

#[test]
fn full_falco_yaml_loads_with_ignored_keys_reported() {
    let c = load_str("falco.yaml", FULL_FALCO_YAML, &[]).unwrap();
    let ignored: Vec<&str> = c.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        ignored,
        [
            "config_files",
            "engine.kmod",
            "capture",
            "load_plugins",
            "plugins",
            "buffer_format_base64",
            "grpc_output",
            "grpc",
            "libs_logger",
            "output_timeout",
            "syscall_event_timeouts",
            "metrics.plugins_metrics_enabled",
            "metrics.jemalloc_stats_enabled",
            "falco_libs",
        ]
    );
    let first = c.warnings[0].to_string();
    assert!(first.starts_with("config_files: ignored: "), "{first}");
    assert!(first.ends_with("(falco.yaml:2:1)"), "{first}");

    assert_eq!(c.rules_files.len(), 3);
    assert_eq!(
        c.rules,
        vec![
            RuleSelection::Disable(RuleSelector::Rule("*".into())),
            RuleSelection::Enable(RuleSelector::Tag("network".into())),
            RuleSelection::Enable(RuleSelector::Rule("Read sensitive file untrusted".into())),
        ]
    );
    assert!(c.syslog_output.enabled);
    assert!(c.webserver.enabled);
    assert!(c.metrics.output_rule);
    assert!(!c.metrics.kernel_event_counters_per_cpu_enabled);
    assert_eq!(c.file_output.filename, Some(PathBuf::from("./events.txt")));
    assert!(c.program_output.program.starts_with("jq '{text: .output}'"));
    assert_eq!(
        c.syscall_event_drops.actions,
        vec![DropAction::Log, DropAction::Alert]
    );
    assert_eq!(c.syscall_event_drops.threshold, 0.1);
    assert_eq!(c.syscall_event_drops.rate, 0.03333);
    assert_eq!(
        c.append_output[1],
        AppendOutputEntry {
            matching: AppendMatch {
                source: Some("syscall".into()),
                tags: vec!["network".into()],
                rule: None
            },
            extra_output: Some("on CPU %evt.cpu".into()),
            suggested_output: false,
        }
    );
    let opts = c.compile_options();
    assert!(opts.suggested_output);
    assert_eq!(opts.append_output.len(), 1);
    assert_eq!(opts.append_output[0].format, "on CPU %evt.cpu");
    assert_eq!(opts.append_output[0].tags, vec!["network".to_string()]);
}

#[test]
fn every_key_has_its_documented_default() {
    let c = load_str("empty.yaml", "", &[]).unwrap();
    assert!(c.warnings.is_empty());
    assert!(c.rules_files.is_empty());
    assert!(c.rules.is_empty());
    assert_eq!(c.priority, Priority::Debug);
    assert_eq!(c.rule_matching, RuleMatching::First);
    assert!(!c.json_output);
    assert!(c.json_include_output_property);
    assert!(c.json_include_tags_property);
    assert!(!c.json_include_message_property);
    assert!(c.json_include_output_fields_property);
    assert!(!c.time_format_iso_8601);
    assert!(!c.buffered_outputs);
    assert_eq!(c.append_output, vec![AppendOutputEntry::suggested()]);
    assert!(c.stdout_output.enabled);
    assert_eq!(c.file_output, FileOutput::default());
    assert!(!c.file_output.enabled && !c.file_output.keep_alive);
    assert_eq!(c.file_output.filename, None);
    assert!(!c.syslog_output.enabled);
    assert!(!c.program_output.enabled && !c.program_output.keep_alive);
    assert_eq!(c.program_output.program, "");
    let h = &c.http_output;
    assert!(!h.enabled && !h.insecure && !h.mtls && !h.echo);
    assert!(!h.compress_uploads && !h.keep_alive);
    assert_eq!(h.url, "");
    assert_eq!(h.user_agent, "falcosecurity/falco");
    assert_eq!((h.ca_cert.clone(), h.ca_bundle.clone()), (None, None));
    assert_eq!(h.ca_path, Some(PathBuf::from("/etc/ssl/certs")));
    assert_eq!(h.client_cert, PathBuf::from("/etc/ssl/certs/client.crt"));
    assert_eq!(h.client_key, PathBuf::from("/etc/ssl/certs/client.key"));
    assert_eq!(h.max_consecutive_timeouts, 5);
    assert!(c.log_stderr);
    assert!(c.log_syslog);
    assert_eq!(c.log_level, LogLevel::Info);
    assert!(c.watch_config_files);
    assert_eq!(c.untrusted_files, UntrustedFiles::Refuse);
    assert!(c.drop_capabilities);
    let w = &c.webserver;
    assert!(!w.enabled && !w.prometheus_metrics_enabled && !w.ssl_enabled);
    assert_eq!(w.threadiness, 0);
    assert_eq!(w.listen_port, 8765);
    // Loopback, not Falco's 0.0.0.0: nobody else reaches it unless the operator says so.
    assert_eq!(w.listen_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(w.k8s_healthz_endpoint, "/healthz");
    assert_eq!(w.ssl_certificate, PathBuf::from("/etc/falco/falco.pem"));
    let m = &c.metrics;
    assert!(!m.enabled && !m.output_rule && !m.include_empty_values);
    assert_eq!(m.interval, Duration::from_secs(3600));
    assert_eq!(m.output_file, None);
    assert!(m.rules_counters_enabled && m.resource_utilization_enabled);
    assert!(m.state_counters_enabled && m.kernel_event_counters_enabled);
    assert!(m.kernel_event_counters_per_cpu_enabled && m.libbpf_stats_enabled);
    assert!(m.convert_memory_to_mb);
    let e = &c.engine;
    assert_eq!(e.kind, EngineKind::ModernEbpf);
    assert_eq!(e.modern_ebpf.cpus_for_each_buffer, 2);
    assert_eq!(e.modern_ebpf.buf_size_preset, 4);
    assert_eq!(e.modern_ebpf.buffer_bytes(), 8 << 20);
    assert!(!e.modern_ebpf.drop_failed_exit);
    assert_eq!(e.replay.capture_file, None);
    assert_eq!(
        e.synthetic,
        Synthetic {
            rate: 1000,
            seed: 0,
            events: 0
        }
    );
    assert_eq!(c.outputs_queue.capacity, 0);
    let d = &c.syscall_event_drops;
    assert_eq!(d.threshold, 0.1);
    assert!(d.actions.is_empty());
    assert_eq!((d.rate, d.max_burst, d.simulate_drops), (0.03333, 1, false));
    assert_eq!(c.base_syscalls, BaseSyscalls::default());
    assert!(c.base_syscalls.custom_set.is_empty());
    let p = &c.pipeline;
    assert_eq!(p.batch_size, 1024);
    assert_eq!(p.rule_shards, 0);
    assert_eq!(p.probe_actors, 0);
    assert_eq!(p.probe_actor_count(1), 1, "one ring: drained by the source");
    assert!(p.rule_shard_count() >= 1);
    assert_eq!(p.flush_interval, Duration::from_millis(10));
    for q in [
        p.queues.source,
        p.queues.enrich,
        p.queues.rules,
        p.queues.outputs,
    ] {
        assert_eq!(q.capacity, 8);
        assert_eq!(q.overflow, Overflow::Block);
    }
    assert_eq!(c.outputs, Outputs::default());
    // An empty user config is not the embedded one: no embedded rules.
    assert!(c.rules_sources().is_empty());
}

#[test]
fn embedded_default_config_is_the_default_and_uses_embedded_rules() {
    let c = load(None, &[]).unwrap();
    assert!(c.warnings.is_empty());
    assert_eq!(c, Config::default());
    assert_eq!(c.rules_sources(), vec![RulesSourceSpec::Embedded]);
    // The embedded config text, loaded as a user's file, gives the same settings.
    let as_file = load_str("peregrine.yaml", DEFAULT_CONFIG, &[]).unwrap();
    assert_eq!(as_file.webserver, c.webserver);
    assert_eq!(as_file.pipeline, c.pipeline);
    assert_eq!(as_file.metrics, c.metrics);
    // Rules given by override replace the embedded ones.
    let c = load(None, &["rules_files[]=/etc/falco/rules.d".into()]).unwrap();
    assert_eq!(
        c.rules_sources(),
        vec![RulesSourceSpec::Path("/etc/falco/rules.d".into())]
    );
}

#[test]
fn every_key_can_be_set() {
    let text = r#"
rules_file: /etc/falco/only.yaml
priority: Warning
rule_matching: all
json_include_output_property: false
json_include_tags_property: false
json_include_message_property: true
json_include_output_fields_property: false
time_format_iso_8601: true
stdout_output: {enabled: false}
file_output: {enabled: true, keep_alive: true, filename: /var/log/alerts.txt}
syslog_output: {enabled: yes}
program_output: {enabled: true, keep_alive: true, program: "cat >> /tmp/x"}
http_output:
  enabled: true
  url: https://example.invalid/alerts
  user_agent: peregrine
  insecure: true
  ca_cert: /ca.crt
  ca_bundle: /bundle.crt
  ca_path: ""
  mtls: true
  client_cert: /c.crt
  client_key: /c.key
  echo: true
  compress_uploads: true
  keep_alive: true
  max_consecutive_timeouts: 0x10
log_level: debug
watch_config_files: off
untrusted_files: warn
drop_capabilities: false
webserver:
  enabled: true
  threadiness: 4
  listen_port: 9376
  listen_address: "::1"
  k8s_healthz_endpoint: /health
  prometheus_metrics_enabled: true
  ssl_enabled: true
  ssl_certificate: /tls.pem
metrics:
  enabled: true
  interval: 1m30s
  output_rule: true
  output_file: /var/run/metrics.jsonl
  rules_counters_enabled: false
  resource_utilization_enabled: false
  state_counters_enabled: false
  kernel_event_counters_enabled: false
  kernel_event_counters_per_cpu_enabled: false
  libbpf_stats_enabled: false
  convert_memory_to_mb: false
  include_empty_values: true
engine:
  kind: synthetic
  modern_ebpf: {cpus_for_each_buffer: 0, buf_size_preset: 10, drop_failed_exit: true}
  replay: {capture_file: /tmp/c.scap}
  synthetic: {rate: 50000, seed: 42, events: 1000000}
outputs_queue: {capacity: 100000}
syscall_event_drops: {threshold: 0.5, actions: exit, rate: 1, max_burst: 10, simulate_drops: true}
base_syscalls: {custom_set: [clone, "!close"], repair: true, all: true}
pipeline:
  batch_size: 256
  rule_shards: 3
  probe_actors: 4
  flush_interval: 2ms
  queues:
    source: {capacity: 8, overflow: drop_newest}
    outputs: {capacity: 1024}
outputs:
  loki:
    hostport: http://loki.loki.svc.cluster.local:3100
    format: json
  slack:
    webhookurl: https://hooks.slack.invalid/x
    minimumpriority: warning
"#;
    let c = load_str("all.yaml", text, &[]).unwrap();
    // simulate_drops is read but not acted on, and says so.
    let warned: Vec<&str> = c.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        warned,
        ["syscall_event_drops.simulate_drops"],
        "{:?}",
        c.warnings
    );
    assert_eq!(c.rules_files, vec![PathBuf::from("/etc/falco/only.yaml")]);
    assert_eq!(c.priority, Priority::Warning);
    assert_eq!(c.rule_matching, RuleMatching::All);
    assert!(!c.json_include_output_property && !c.json_include_tags_property);
    assert!(c.json_include_message_property && !c.json_include_output_fields_property);
    assert!(c.time_format_iso_8601);
    assert!(!c.stdout_output.enabled);
    assert_eq!(
        c.file_output,
        FileOutput {
            enabled: true,
            keep_alive: true,
            filename: Some("/var/log/alerts.txt".into())
        }
    );
    assert!(c.syslog_output.enabled);
    assert!(c.program_output.enabled && c.program_output.keep_alive);
    assert_eq!(c.program_output.program, "cat >> /tmp/x");
    let h = &c.http_output;
    assert!(h.enabled && h.insecure && h.mtls && h.echo && h.compress_uploads && h.keep_alive);
    assert_eq!(h.url, "https://example.invalid/alerts");
    assert_eq!(h.user_agent, "peregrine");
    assert_eq!(h.ca_cert, Some("/ca.crt".into()));
    assert_eq!(h.ca_bundle, Some("/bundle.crt".into()));
    assert_eq!(h.ca_path, None);
    assert_eq!(h.client_cert, PathBuf::from("/c.crt"));
    assert_eq!(h.client_key, PathBuf::from("/c.key"));
    assert_eq!(h.max_consecutive_timeouts, 16);
    assert_eq!(c.log_level, LogLevel::Debug);
    assert!(!c.watch_config_files);
    assert_eq!(c.untrusted_files, UntrustedFiles::Warn);
    assert!(!c.drop_capabilities);
    let w = &c.webserver;
    assert!(w.enabled && w.prometheus_metrics_enabled && w.ssl_enabled);
    assert_eq!(w.threadiness, 4);
    assert_eq!(w.listen_port, 9376);
    assert_eq!(w.listen_address, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(w.k8s_healthz_endpoint, "/health");
    assert_eq!(w.ssl_certificate, PathBuf::from("/tls.pem"));
    let m = &c.metrics;
    assert!(m.enabled && m.output_rule && m.include_empty_values);
    assert_eq!(m.interval, Duration::from_secs(90));
    assert_eq!(m.output_file, Some("/var/run/metrics.jsonl".into()));
    assert!(!m.rules_counters_enabled && !m.resource_utilization_enabled);
    assert!(!m.state_counters_enabled && !m.kernel_event_counters_enabled);
    assert!(!m.kernel_event_counters_per_cpu_enabled && !m.libbpf_stats_enabled);
    assert!(!m.convert_memory_to_mb);
    let e = &c.engine;
    assert_eq!(e.kind, EngineKind::Synthetic);
    assert_eq!(
        e.modern_ebpf,
        ModernEbpf {
            cpus_for_each_buffer: 0,
            buf_size_preset: 10,
            drop_failed_exit: true
        }
    );
    assert_eq!(e.modern_ebpf.buffer_bytes(), 512 << 20);
    assert_eq!(e.replay.capture_file, Some("/tmp/c.scap".into()));
    assert_eq!(
        e.synthetic,
        Synthetic {
            rate: 50000,
            seed: 42,
            events: 1_000_000
        }
    );
    assert_eq!(c.outputs_queue.capacity, 100_000);
    let d = &c.syscall_event_drops;
    assert_eq!(d.threshold, 0.5);
    assert_eq!(d.actions, vec![DropAction::Exit]);
    assert_eq!((d.rate, d.max_burst, d.simulate_drops), (1.0, 10, true));
    assert_eq!(c.base_syscalls.custom_set, vec!["clone", "!close"]);
    assert!(c.base_syscalls.repair && c.base_syscalls.all);
    let p = &c.pipeline;
    assert_eq!(
        (p.batch_size, p.rule_shards, p.rule_shard_count()),
        (256, 3, 3)
    );
    // Never more actors than rings.
    assert_eq!(
        (
            p.probe_actors,
            p.probe_actor_count(8),
            p.probe_actor_count(2)
        ),
        (4, 4, 2)
    );
    assert_eq!(p.flush_interval, Duration::from_millis(2));
    assert_eq!(
        p.queues.source,
        QueueConfig {
            capacity: 8,
            overflow: Overflow::DropNewest
        }
    );
    assert_eq!(p.queues.outputs.capacity, 1024);
    assert_eq!(p.queues.outputs.overflow, Overflow::Block);
    assert_eq!(p.queues.rules, QueueConfig::default());
    let loki = c
        .outputs
        .loki
        .as_ref()
        .expect("loki enabled by its hostport");
    assert_eq!(loki.hostport, "http://loki.loki.svc.cluster.local:3100");
    assert_eq!(loki.endpoint, "/loki/api/v1/push");
    assert_eq!(loki.format, LokiFormat::Json);
    assert_eq!(loki.common.minimumpriority, None);
    let slack = c
        .outputs
        .slack
        .as_ref()
        .expect("slack enabled by its webhook");
    assert_eq!(slack.common.minimumpriority, Some(Priority::Warning));
    assert_eq!(slack.username, "Falcosidekick");
    assert_eq!(slack.outputformat, SlackOutputFormat::All);
    assert!(c.outputs.webhook.is_none());
}

#[test]
fn config_file_is_read_and_listed_for_watching() {
    let dir = std::env::temp_dir().join(format!("peregrine-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peregrine.yaml");
    std::fs::write(&path, SEED).unwrap();
    let c = load(Some(&path), &["log_level=debug".into()]).unwrap();
    assert_eq!(c.files(), std::slice::from_ref(&path));
    assert_eq!(c.log_level, LogLevel::Debug);
    assert!(c.json_output);

    let missing = dir.join("missing.yaml");
    let err = load(Some(&missing), &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("missing.yaml"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn rule_selections_and_priority_apply_to_a_ruleset() {
    let rules = r#"
- rule: Net A
  desc: a
  condition: evt.type=connect
  output: a
  priority: WARNING
  tags: [network]
- rule: Shadow
  desc: b
  condition: evt.type=openat
  output: b
  priority: CRITICAL
  tags: [file]
- rule: Chatty
  desc: c
  condition: evt.type=openat
  output: c
  priority: DEBUG
  tags: [network]
"#;
    let source = peregrine_rules::RulesSource::new("r.yaml", rules);
    let outcome = peregrine_rules::load_sources(&[source], &Default::default());
    let mut ruleset = outcome.ruleset.expect("rules compile");
    let c = load_str(
        "c.yaml",
        "priority: notice\nrules:\n  - disable: {rule: \"*\"}\n  - enable: {tag: network}\n",
        &[],
    )
    .unwrap();
    c.apply_rule_selections(&mut ruleset);
    let enabled: Vec<&str> = ruleset.enabled_rules().map(|r| &*r.name).collect();
    assert_eq!(enabled, ["Net A"]);
}

#[test]
fn containers_section() {
    let text = r#"
containers:
  docker_sockets: /var/run/docker.sock
  cri_sockets: []
  watch_events: false
  workers: 4
  request_timeout: 500ms
  cache_size: 100
  metadata_ttl: 0s
  retry_interval: 1m
  hold:
    timeout: 750ms
    max_events: 1000
"#;
    let c = load_str("c.yaml", text, &["containers.hold.enabled=false".into()]).unwrap();
    let k = &c.containers;
    assert!(k.enabled);
    assert_eq!(
        k.docker_sockets,
        vec![PathBuf::from("/var/run/docker.sock")]
    );
    assert!(k.cri_sockets.is_empty());
    assert!(!k.watch_events);
    assert_eq!((k.workers, k.cache_size), (4, 100));
    assert_eq!(k.request_timeout, Duration::from_millis(500));
    assert_eq!(k.metadata_ttl, Duration::ZERO);
    assert_eq!(k.retry_interval, Duration::from_secs(60));
    assert_eq!(
        k.hold,
        Hold {
            enabled: false,
            timeout: Duration::from_millis(750),
            max_events: 1000
        }
    );
    assert_eq!(Containers::default().docker_sockets.len(), 2);
    // The embedded default config says what the code's defaults are.
    assert_eq!(load(None, &[]).unwrap().containers, Containers::default());

    let err = load_str("c.yaml", "containers:\n  workers: 0\n", &[]).unwrap_err();
    assert!(err.to_string().contains("containers.workers"), "{err}");
    let err = load_str("c.yaml", "containers:\n  hold:\n    timeout: soon\n", &[]).unwrap_err();
    assert!(err.to_string().contains("containers.hold.timeout"), "{err}");
    let err = load_str("c.yaml", "containers:\n  sockets: []\n", &[]).unwrap_err();
    assert!(err.to_string().contains("containers.sockets"), "{err}");

    // CRI sockets: the defaults are probed in order; a list or one path; bad values are
    // errors positioned at the key.
    assert_eq!(
        Containers::default().cri_sockets,
        [
            "/run/containerd/containerd.sock",
            "/run/crio/crio.sock",
            "/run/k3s/containerd/containerd.sock",
            "/run/host-containerd/containerd.sock"
        ]
        .map(PathBuf::from)
    );
    let c = load_str(
        "c.yaml",
        "containers:\n  cri_sockets: [/run/a.sock, /run/b.sock]\n",
        &[],
    )
    .unwrap();
    assert_eq!(
        c.containers.cri_sockets,
        [PathBuf::from("/run/a.sock"), PathBuf::from("/run/b.sock")]
    );
    let c = load_str("c.yaml", "containers:\n  cri_sockets: /run/k.sock\n", &[]).unwrap();
    assert_eq!(c.containers.cri_sockets, [PathBuf::from("/run/k.sock")]);
    let err = load_str("c.yaml", "containers:\n  cri_sockets: {a: b}\n", &[]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("containers.cri_sockets") && text.contains("c.yaml:2"),
        "{text}"
    );
}
