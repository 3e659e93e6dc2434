//! The typed configuration: falco.yaml's keys where they overlap, Peregrine's `pipeline:`,
//! and the falcosidekick-shaped `outputs:`.

mod channels;
mod containers;
mod engine;
mod outputs;
mod pipeline;
mod rules;
mod server;
mod system;

pub use channels::{FileOutput, HttpOutput, ProgramOutput, StdoutOutput, SyslogOutput};
pub use containers::{Containers, Hold};
pub use engine::{Engine, EngineKind, ModernEbpf, Replay, Synthetic};
pub(crate) use outputs::{is_destination_address, sidekick_env_keys};
pub use outputs::{
    BufferOverflow, Common, Delivery, HttpMethod, HttpTls, InputAuth, Loki, LokiFormat,
    MutualTlsClient, Outputs, Slack, SlackOutputFormat, SyslogDestination, TlsServer, Webhook,
    INPUT_PATHS, SIDEKICK_FOOTER, SIDEKICK_ICON,
};
pub use pipeline::{Overflow, Pipeline, QueueConfig, Queues};
pub use rules::{AppendMatch, AppendOutputEntry, RuleSelection, RuleSelector};
pub use server::{Metrics, Webserver, MIN_METRICS_INTERVAL};
pub use system::{BaseSyscalls, DropAction, LogLevel, OutputsQueue, SyscallEventDrops};

use crate::decode::{boolean, choice, priority, string_list, Cx, Ignored, KeyPath};
use crate::error::{ConfigError, ConfigWarning, Origin};
use crate::tree::{Kind, Value};
use peregrine_rules::compile::AppendOutput;
use peregrine_rules::{CompileOptions, Priority, RuleMatching, Ruleset};
use std::path::PathBuf;

/// Everything Peregrine reads from its configuration. `Config::default()` is what the
/// embedded default config (`defaults/peregrine.yaml`) yields.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Rules files and folders, in load order (default empty: see [`Config::rules_sources`]).
    /// `rules_file` is accepted as a deprecated alias; giving both is an error.
    pub rules_files: Vec<PathBuf>,
    /// Enable/disable selections applied in order after loading (default none).
    pub rules: Vec<RuleSelection>,
    /// Minimum rule priority: less severe rules load but stay disabled (default debug).
    pub priority: Priority,
    /// `first` (default) or `all` matches per event.
    pub rule_matching: RuleMatching,
    /// Default false.
    pub json_output: bool,
    /// Default true.
    pub json_include_output_property: bool,
    /// Default true.
    pub json_include_tags_property: bool,
    /// Default false.
    pub json_include_message_property: bool,
    /// Default true.
    pub json_include_output_fields_property: bool,
    /// Default false.
    pub time_format_iso_8601: bool,
    /// Default false (flush after every alert).
    pub buffered_outputs: bool,
    /// Default `[{suggested_output: true}]`, as Falco's shipped falco.yaml (code default: empty).
    pub append_output: Vec<AppendOutputEntry>,
    pub stdout_output: StdoutOutput,
    pub file_output: FileOutput,
    pub syslog_output: SyslogOutput,
    pub program_output: ProgramOutput,
    pub http_output: HttpOutput,
    /// Operational logs on stderr. Default **true** (Falco's code default is false, its
    /// shipped falco.yaml true): an agent in a container should log where `kubectl logs` looks.
    pub log_stderr: bool,
    /// Operational logs to syslog (default true).
    pub log_syslog: bool,
    /// Default info.
    pub log_level: LogLevel,
    /// Reload when the config or rules files change (default true).
    pub watch_config_files: bool,
    /// What a `rules_files` entry that does not exist does: stop the agent (default: it
    /// would otherwise run with fewer rules than the operator asked for) or be skipped with a
    /// warning (Falco's behaviour).
    pub rules_files_missing: MissingRules,
    /// What a config or rules file that others could have written does (writable by group
    /// or others, owned by another user, or reached through another user's symlink): stop
    /// the agent (default) or be read with a warning. For the config file itself only a
    /// `-o` override counts: a file cannot vouch for itself.
    pub untrusted_files: UntrustedFiles,
    /// Drop every capability the running agent no longer needs once the probes are attached
    /// and the listeners bound, and set no-new-privs (default true; false is for debugging).
    pub drop_capabilities: bool,
    pub webserver: Webserver,
    pub metrics: Metrics,
    pub engine: Engine,
    pub outputs_queue: OutputsQueue,
    pub syscall_event_drops: SyscallEventDrops,
    pub base_syscalls: BaseSyscalls,
    /// Peregrine's own pipeline tuning.
    pub pipeline: Pipeline,
    /// Container metadata lookups and the hold of a new container's events.
    pub containers: Containers,
    /// The falcosidekick-shaped `outputs:` section (`outputs.loki.hostport`, …): the
    /// destinations, their delivery settings and the sidekick-compatible input.
    pub outputs: Outputs,
    /// Known falco.yaml keys that were ignored, for the caller to log once logging is set up.
    pub warnings: Vec<ConfigWarning>,
    /// The config files read (empty for the embedded default or text).
    pub(crate) files: Vec<PathBuf>,
    /// Whether the settings came from the embedded default config.
    pub(crate) embedded: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rules_files: Vec::new(),
            rules: Vec::new(),
            priority: Priority::Debug,
            rule_matching: RuleMatching::First,
            json_output: false,
            json_include_output_property: true,
            json_include_tags_property: true,
            json_include_message_property: false,
            json_include_output_fields_property: true,
            time_format_iso_8601: false,
            buffered_outputs: false,
            append_output: vec![AppendOutputEntry::suggested()],
            stdout_output: StdoutOutput::default(),
            file_output: FileOutput::default(),
            syslog_output: SyslogOutput::default(),
            program_output: ProgramOutput::default(),
            http_output: HttpOutput::default(),
            log_stderr: true,
            log_syslog: true,
            log_level: LogLevel::Info,
            watch_config_files: true,
            rules_files_missing: MissingRules::Error,
            untrusted_files: UntrustedFiles::Refuse,
            drop_capabilities: true,
            webserver: Webserver::default(),
            metrics: Metrics::default(),
            engine: Engine::default(),
            outputs_queue: OutputsQueue::default(),
            syscall_event_drops: SyscallEventDrops::default(),
            base_syscalls: BaseSyscalls::default(),
            pipeline: Pipeline::default(),
            containers: Containers::default(),
            outputs: Outputs::default(),
            warnings: Vec::new(),
            files: Vec::new(),
            embedded: true,
        }
    }
}

/// Where rules come from, in load order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RulesSourceSpec {
    /// The embedded seed rules ([`crate::DEFAULT_RULES`], named [`crate::DEFAULT_RULES_NAME`]).
    Embedded,
    /// A `rules_files` entry: a file, or a folder whose `*.yaml`/`*.yml` files load in name
    /// order (expand with `peregrine_rules::loader::rules_files`).
    Path(PathBuf),
}

impl Config {
    /// The configuration files that were read, for file watching. Empty for the embedded
    /// default config.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Which rules to load. The embedded seed rules are used only when the embedded default
    /// config is in effect and `rules_files` is still empty (e.g. no `-o rules_files[]=…`).
    /// A config file with no rules files yields an empty list: the caller reports it, as
    /// Falco refuses to start without rules.
    pub fn rules_sources(&self) -> Vec<RulesSourceSpec> {
        if self.rules_files.is_empty() && self.embedded {
            return vec![RulesSourceSpec::Embedded];
        }
        self.rules_files
            .iter()
            .cloned()
            .map(RulesSourceSpec::Path)
            .collect()
    }

    /// The rules compiler's options from `append_output`: suggested fields are appended to
    /// syscall rules if any entry asks for them; `extra_output` entries become
    /// [`AppendOutput`]s with their match conditions.
    pub fn compile_options(&self) -> CompileOptions {
        CompileOptions {
            suggested_output: self.append_output.iter().any(|e| e.suggested_output),
            append_output: self
                .append_output
                .iter()
                .filter_map(|e| {
                    Some(AppendOutput {
                        source: e.matching.source.clone(),
                        tags: e.matching.tags.clone(),
                        rule: e.matching.rule.clone(),
                        format: e.extra_output.clone()?,
                    })
                })
                .collect(),
        }
    }

    /// Applies `rules:` selections in order, then the minimum `priority` (which wins: a rule
    /// below it stays disabled even if a selection enables it, as in Falco).
    pub fn apply_rule_selections(&self, ruleset: &mut Ruleset) {
        for selection in &self.rules {
            let (selector, enabled) = match selection {
                RuleSelection::Enable(s) => (s, true),
                RuleSelection::Disable(s) => (s, false),
            };
            match selector {
                RuleSelector::Rule(pattern) => ruleset.set_enabled_by_name(pattern, enabled),
                RuleSelector::Tag(tag) => ruleset.set_enabled_by_tag(tag, enabled),
            };
        }
        ruleset.apply_min_priority(self.priority);
    }

    /// Decodes a whole document.
    pub(crate) fn decode(root: &Value) -> Result<Config, ConfigError> {
        let top = KeyPath::default();
        if !matches!(root.kind, Kind::Map(_) | Kind::Null) {
            // Not the value itself: a file that is no config (a secret given by mistake)
            // must not have its text printed.
            return Err(ConfigError::Invalid {
                path: top.as_str().to_string(),
                expected: "a mapping of settings".into(),
                found: match root.kind {
                    Kind::Seq(_) => "a list",
                    _ => "a single value",
                }
                .into(),
                origin: root.origin.clone(),
            });
        }
        reject_both_rules_keys(root)?;
        let mut cx = Cx::default();
        let mut config = Config::default();
        for (e, p) in cx.section(root, &top, TOP_KEYS, TOP_IGNORED)? {
            config.set(&e.key, &e.value, &p, &mut cx)?;
        }
        config.warnings = cx.warnings;
        // Sections are decoded depth-first; report in document order, overrides last.
        config.warnings.sort_by_key(|w| match &w.origin {
            Origin::File { line, column, .. } => (0, *line, *column),
            Origin::Env { .. } => (1, 0, 0),
            Origin::Override { .. } => (2, 0, 0),
        });
        Ok(config)
    }

    fn set(&mut self, key: &str, v: &Value, p: &KeyPath, cx: &mut Cx) -> Result<(), ConfigError> {
        match key {
            "rules_files" | "rules_file" => {
                self.rules_files = string_list(v, p)?.into_iter().map(PathBuf::from).collect()
            }
            "rules" => self.rules = rules::decode_selections(v, p, cx)?,
            "priority" => self.priority = priority(v, p)?,
            "rule_matching" => {
                self.rule_matching = choice(
                    v,
                    p,
                    &[("first", RuleMatching::First), ("all", RuleMatching::All)],
                )?
            }
            "json_output" => self.json_output = boolean(v, p)?,
            "json_include_output_property" => self.json_include_output_property = boolean(v, p)?,
            "json_include_tags_property" => self.json_include_tags_property = boolean(v, p)?,
            "json_include_message_property" => self.json_include_message_property = boolean(v, p)?,
            "json_include_output_fields_property" => {
                self.json_include_output_fields_property = boolean(v, p)?
            }
            "time_format_iso_8601" => self.time_format_iso_8601 = boolean(v, p)?,
            "buffered_outputs" => self.buffered_outputs = boolean(v, p)?,
            "append_output" => self.append_output = rules::decode_append_output(v, p, cx)?,
            "stdout_output" => self.stdout_output = StdoutOutput::decode(v, p, cx)?,
            "file_output" => self.file_output = FileOutput::decode(v, p, cx)?,
            "syslog_output" => self.syslog_output = SyslogOutput::decode(v, p, cx)?,
            "program_output" => self.program_output = ProgramOutput::decode(v, p, cx)?,
            "http_output" => self.http_output = HttpOutput::decode(v, p, cx)?,
            "log_stderr" => self.log_stderr = boolean(v, p)?,
            "log_syslog" => self.log_syslog = boolean(v, p)?,
            "log_level" => self.log_level = LogLevel::decode(v, p)?,
            "watch_config_files" => self.watch_config_files = boolean(v, p)?,
            "rules_files_missing" => {
                self.rules_files_missing = choice(
                    v,
                    p,
                    &[("error", MissingRules::Error), ("skip", MissingRules::Skip)],
                )?
            }
            "untrusted_files" => {
                self.untrusted_files = choice(
                    v,
                    p,
                    &[
                        ("refuse", UntrustedFiles::Refuse),
                        ("warn", UntrustedFiles::Warn),
                    ],
                )?
            }
            "drop_capabilities" => self.drop_capabilities = boolean(v, p)?,
            "webserver" => self.webserver = Webserver::decode(v, p, cx)?,
            "metrics" => self.metrics = Metrics::decode(v, p, cx)?,
            "engine" => self.engine = Engine::decode(v, p, cx)?,
            "outputs_queue" => self.outputs_queue = OutputsQueue::decode(v, p, cx)?,
            "syscall_event_drops" => {
                self.syscall_event_drops = SyscallEventDrops::decode(v, p, cx)?
            }
            "base_syscalls" => self.base_syscalls = BaseSyscalls::decode(v, p, cx)?,
            "pipeline" => self.pipeline = Pipeline::decode(v, p, cx)?,
            "containers" => self.containers = Containers::decode(v, p, cx)?,
            "outputs" => self.outputs = Outputs::decode(v, p, cx)?,
            _ => {}
        }
        Ok(())
    }
}

/// `rules_files_missing`: what a `rules_files` entry that does not exist does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingRules {
    /// Refuse to start (or to reload), naming the entry.
    Error,
    /// Skip it with a warning, as Falco does.
    Skip,
}

/// `untrusted_files`: what a config or rules file others could have written does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UntrustedFiles {
    /// Refuse to start (or to reload), naming the file, its owner and mode, and why.
    Refuse,
    /// Read it anyway, with a warning saying the same.
    Warn,
}

/// Falco refuses a config that sets both the deprecated `rules_file` and `rules_files`.
fn reject_both_rules_keys(root: &Value) -> Result<(), ConfigError> {
    let Kind::Map(entries) = &root.kind else {
        return Ok(());
    };
    let has = |key: &str| entries.iter().find(|e| e.key == key);
    if let (Some(old), Some(_)) = (has("rules_file"), has("rules_files")) {
        return Err(ConfigError::Invalid {
            path: "rules_file".into(),
            expected: "either rules_files or the deprecated rules_file".into(),
            found: "both".into(),
            origin: old.key_origin.clone(),
        });
    }
    Ok(())
}

const TOP_KEYS: &[&str] = &[
    "rules_files",
    "rules_file",
    "rules",
    "priority",
    "rule_matching",
    "json_output",
    "json_include_output_property",
    "json_include_tags_property",
    "json_include_message_property",
    "json_include_output_fields_property",
    "time_format_iso_8601",
    "buffered_outputs",
    "append_output",
    "stdout_output",
    "file_output",
    "syslog_output",
    "program_output",
    "http_output",
    "log_stderr",
    "log_syslog",
    "log_level",
    "watch_config_files",
    "rules_files_missing",
    "untrusted_files",
    "drop_capabilities",
    "webserver",
    "metrics",
    "engine",
    "outputs_queue",
    "syscall_event_drops",
    "base_syscalls",
    "pipeline",
    "containers",
    "outputs",
];

/// Known falco.yaml keys (current and recent releases) that Peregrine does not act on.
const TOP_IGNORED: &[Ignored] = &[
    ("config_files", "extra config files are not read; use -o"),
    (
        "plugins",
        "Peregrine has no plugins; container metadata is built in",
    ),
    (
        "load_plugins",
        "Peregrine has no plugins; container metadata is built in",
    ),
    ("libs_logger", "Peregrine's own logs follow log_level"),
    ("falco_libs", "Peregrine sizes its own state tables"),
    ("capture", "rule-triggered captures are not supported"),
    ("static_fields", "static fields are not supported"),
    (
        "syscall_event_timeouts",
        "not applicable to Peregrine's probes",
    ),
    ("output_timeout", "each output channel has its own queue"),
    ("buffer_format_base64", "not supported"),
    ("grpc", "gRPC was removed from Falco"),
    ("grpc_output", "gRPC was removed from Falco"),
    ("plugins_hostinfo", "Peregrine has no plugins"),
    (
        "container_engines",
        "container metadata is built in: see the containers section",
    ),
    ("metadata_download", "not applicable"),
    (
        "syscall_buf_size_preset",
        "legacy key: use engine.modern_ebpf.buf_size_preset",
    ),
    (
        "syscall_drop_failed_exit",
        "legacy key: use engine.modern_ebpf.drop_failed_exit",
    ),
    ("modern_bpf", "legacy key: use engine.modern_ebpf"),
];
