//! Operational settings: log level, `outputs_queue`, `syscall_event_drops`, `base_syscalls`.

use crate::decode::{boolean, choice, integer, invalid, list, number, string_list, Cx, KeyPath};
use crate::error::{ConfigError, ConfigWarning};
use crate::tree::Value;

/// `log_level`: the least severe operational log message printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    /// Default.
    #[default]
    Info,
    Debug,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Emergency => "emergency",
            LogLevel::Alert => "alert",
            LogLevel::Critical => "critical",
            LogLevel::Error => "error",
            LogLevel::Warning => "warning",
            LogLevel::Notice => "notice",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }

    pub(crate) fn decode(v: &Value, path: &KeyPath) -> Result<Self, ConfigError> {
        choice(
            v,
            path,
            &[
                ("emergency", LogLevel::Emergency),
                ("alert", LogLevel::Alert),
                ("critical", LogLevel::Critical),
                ("error", LogLevel::Error),
                ("warning", LogLevel::Warning),
                ("notice", LogLevel::Notice),
                ("info", LogLevel::Info),
                ("debug", LogLevel::Debug),
            ],
        )
    }
}

/// `outputs_queue`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputsQueue {
    /// Alerts waiting for the output channels; 0 = unbounded (default 0).
    pub capacity: u64,
}

impl OutputsQueue {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, &["capacity"], &[])? {
            out.capacity = integer(&e.value, &p, 0, u64::MAX)?;
        }
        Ok(out)
    }
}

/// What to do when the kernel drops events (`syscall_event_drops.actions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropAction {
    Ignore,
    /// A debug-level log line.
    Log,
    /// A `Falco internal: syscall event drop` alert (priority Debug).
    Alert,
    /// Stop the agent.
    Exit,
}

/// `syscall_event_drops`.
#[derive(Clone, Debug, PartialEq)]
pub struct SyscallEventDrops {
    /// Fraction of events dropped in the last second that triggers the actions, 0..=1
    /// (default 0.1).
    pub threshold: f64,
    /// Empty = `ignore` (default empty).
    pub actions: Vec<DropAction>,
    /// Actions per second allowed by the token bucket (default 0.03333: one per 30 s).
    pub rate: f64,
    /// Token bucket size (default 1).
    pub max_burst: u64,
    /// Pretend the kernel drops events, for testing the actions (default false).
    pub simulate_drops: bool,
}

impl Default for SyscallEventDrops {
    fn default() -> Self {
        SyscallEventDrops {
            threshold: 0.1,
            actions: Vec::new(),
            rate: 0.03333,
            max_burst: 1,
            simulate_drops: false,
        }
    }
}

const DROP_KEYS: &[&str] = &[
    "threshold",
    "actions",
    "rate",
    "max_burst",
    "simulate_drops",
];

impl SyscallEventDrops {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, DROP_KEYS, &[])? {
            let v = &e.value;
            match e.key.as_str() {
                "threshold" => out.threshold = number(v, &p, 0.0, 1.0)?,
                "actions" => out.actions = decode_actions(v, &p)?,
                "rate" => out.rate = number(v, &p, 0.0, f64::MAX)?,
                "max_burst" => out.max_burst = integer(v, &p, 0, u64::MAX)?,
                "simulate_drops" => {
                    out.simulate_drops = boolean(v, &p)?;
                    if out.simulate_drops {
                        cx.warnings.push(ConfigWarning {
                            path: p.as_str().to_string(),
                            reason: "ignored: Peregrine does not simulate kernel drops; \
                                     make real ones (a small buf_size_preset and a paused agent)"
                                .into(),
                            origin: v.origin.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

fn decode_actions(v: &Value, path: &KeyPath) -> Result<Vec<DropAction>, ConfigError> {
    let names = [
        ("ignore", DropAction::Ignore),
        ("log", DropAction::Log),
        ("alert", DropAction::Alert),
        ("exit", DropAction::Exit),
    ];
    let items: Vec<Value> = match v.as_scalar() {
        Some(_) => vec![v.clone()],
        None => list(v, path)?.to_vec(),
    };
    let mut actions = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        actions.push(choice(item, &path.index(i), &names)?);
    }
    if actions.contains(&DropAction::Ignore) && actions.len() > 1 {
        return Err(invalid(
            path,
            "either ignore alone or some of log, alert, exit",
            v,
        ));
    }
    Ok(actions)
}

/// `base_syscalls`: which syscalls the probes capture besides those the rules need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaseSyscalls {
    /// Syscall names; `!name` removes one. A non-empty positive set replaces the default
    /// state-keeping set (default empty).
    pub custom_set: Vec<String>,
    /// Add only the syscalls state-keeping needs (default false).
    pub repair: bool,
    /// Also allow the high-volume I/O syscalls when rules use them (default false).
    pub all: bool,
}

impl BaseSyscalls {
    pub(crate) fn decode(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        for (e, p) in cx.section(v, path, &["custom_set", "repair", "all"], &[])? {
            match e.key.as_str() {
                "custom_set" => out.custom_set = string_list(&e.value, &p)?,
                "repair" => out.repair = boolean(&e.value, &p)?,
                "all" => out.all = boolean(&e.value, &p)?,
                _ => {}
            }
        }
        Ok(out)
    }
}
