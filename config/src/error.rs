//! Errors and warnings. Each names the key path, what was expected, what was found and where
//! the offending text is (`file:line:column`, or the `-o` override that set it).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a configuration value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A position (1-based line and column) in a configuration file.
    File {
        name: Arc<str>,
        line: u32,
        column: u32,
    },
    /// A `-o key=value` command-line override (the whole override text).
    Override { text: Arc<str> },
    /// A falcosidekick-style environment variable (`LOKI_HOSTPORT`, `SLACK_WEBHOOKURL`, …).
    Env { name: Arc<str> },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { name, line, column } => write!(f, "{name}:{line}:{column}"),
            Origin::Override { text } => write!(f, "-o {text}"),
            Origin::Env { name } => write!(f, "environment variable {name}"),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{name}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        name: String,
        line: u32,
        column: u32,
        message: String,
    },
    /// A value of the wrong type or out of range, a bad combination of keys, an unsupported
    /// engine.
    #[error("{path}: expected {expected}, found {found} ({origin})")]
    Invalid {
        /// Dotted key path with list indexes: `append_output[0].match.tags`.
        path: String,
        expected: String,
        found: String,
        origin: Origin,
    },
    /// A key that is neither Peregrine's nor a known falco.yaml key.
    #[error("{path}: unknown key, expected one of: {expected} ({origin})")]
    UnknownKey {
        path: String,
        expected: String,
        origin: Origin,
    },
    /// A `-o` override whose syntax is wrong or whose path cannot be set.
    #[error("bad override `-o {text}`: {reason}")]
    Override { text: String, reason: String },
}

/// Something in the configuration that loads but may not do what its writer meant: a known
/// falco.yaml key Peregrine does not act on, a variable that is not set, …
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    pub path: String,
    /// What is wrong (`ignored: …` for a key Peregrine does not act on).
    pub reason: String,
    pub origin: Origin,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.path, self.reason, self.origin)
    }
}
