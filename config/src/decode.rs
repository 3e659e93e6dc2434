//! Typed readers over the document tree. Scalars are typed the way Falco's yaml-cpp reads
//! them: the text decides, not the quoting (`"true"` is a boolean where a boolean is
//! expected). Every failure names the key path, what was expected and what was found.

use crate::duration::parse_duration;
use crate::error::{ConfigError, ConfigWarning};
use crate::tree::{Entry, Kind, Value};
use peregrine_rules::Priority;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

/// A dotted key path with list indexes, for messages: `append_output[0].match.tags`.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyPath(String);

impl KeyPath {
    pub fn key(&self, key: &str) -> KeyPath {
        if self.0.is_empty() {
            KeyPath(key.to_string())
        } else {
            KeyPath(format!("{}.{key}", self.0))
        }
    }

    pub fn index(&self, index: usize) -> KeyPath {
        KeyPath(format!("{}[{index}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        if self.0.is_empty() {
            "(top level)"
        } else {
            &self.0
        }
    }
}

/// Collects warnings while decoding.
#[derive(Default)]
pub(crate) struct Cx {
    pub warnings: Vec<ConfigWarning>,
}

/// A known falco.yaml key Peregrine accepts and ignores, and why.
pub(crate) type Ignored = (&'static str, &'static str);

pub(crate) fn invalid(path: &KeyPath, expected: impl Into<String>, found: &Value) -> ConfigError {
    ConfigError::Invalid {
        path: path.as_str().to_string(),
        expected: expected.into(),
        found: found.describe(),
        origin: found.origin.clone(),
    }
}

/// Whether `key` could be a setting's name (a typo of one, say): letters, digits, `_` and
/// `-`, at most 64 of them.
fn looks_like_a_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Cx {
    /// The entries of a mapping section whose values are to be decoded. Unknown keys and
    /// duplicates are errors; ignored keys become warnings; null values are skipped (a key
    /// with no value keeps its default). A null section has no entries.
    pub fn section<'v>(
        &mut self,
        value: &'v Value,
        path: &KeyPath,
        known: &[&str],
        ignored: &[Ignored],
    ) -> Result<Vec<(&'v Entry, KeyPath)>, ConfigError> {
        let entries: &[Entry] = match &value.kind {
            Kind::Null => &[],
            Kind::Map(entries) => entries,
            _ => return Err(invalid(path, "a mapping", value)),
        };
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let key_path = path.key(&entry.key);
            if !seen.insert(entry.key.as_str()) {
                return Err(ConfigError::Invalid {
                    path: key_path.as_str().to_string(),
                    expected: "each key once".into(),
                    found: "a duplicate key".into(),
                    origin: entry.key_origin.clone(),
                });
            }
            if let Some((_, reason)) = ignored.iter().find(|(k, _)| *k == entry.key) {
                self.warnings.push(ConfigWarning {
                    path: key_path.as_str().to_string(),
                    reason: format!("ignored: {reason}"),
                    origin: entry.key_origin.clone(),
                });
            } else if !known.contains(&entry.key.as_str()) {
                // A key no setting could have is not repeated: the file may be some other
                // file (a secret) given as the config, whose lines must not be printed.
                let shown = if looks_like_a_key(&entry.key) {
                    key_path.as_str().to_string()
                } else {
                    path.key("<not a setting name>").as_str().to_string()
                };
                return Err(ConfigError::UnknownKey {
                    path: shown,
                    expected: known.join(", "),
                    origin: entry.key_origin.clone(),
                });
            } else if !entry.value.is_null() {
                out.push((entry, key_path));
            }
        }
        Ok(out)
    }
}

fn scalar<'v>(value: &'v Value, path: &KeyPath, expected: &str) -> Result<&'v str, ConfigError> {
    value
        .as_scalar()
        .ok_or_else(|| invalid(path, expected, value))
}

pub(crate) fn boolean(value: &Value, path: &KeyPath) -> Result<bool, ConfigError> {
    const EXPECTED: &str = "a boolean (true or false)";
    let text = scalar(value, path, EXPECTED)?;
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Ok(true),
        "false" | "no" | "off" | "n" => Ok(false),
        _ => Err(invalid(path, EXPECTED, value)),
    }
}

/// An unsigned integer in `min..=max`: decimal, `0x` hex or `0o` octal.
pub(crate) fn integer(
    value: &Value,
    path: &KeyPath,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let expected = if max == u64::MAX {
        format!("an integer >= {min}")
    } else {
        format!("an integer {min}-{max}")
    };
    let text = scalar(value, path, &expected)?;
    let text = text.strip_prefix('+').unwrap_or(text);
    let parsed = if let Some(hex) = text.strip_prefix("0x") {
        u64::from_str_radix(hex, 16)
    } else if let Some(oct) = text.strip_prefix("0o") {
        u64::from_str_radix(oct, 8)
    } else {
        text.parse()
    };
    match parsed {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(path, expected, value)),
    }
}

/// [`integer`] narrowed to `usize`.
pub(crate) fn size(
    value: &Value,
    path: &KeyPath,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let n = integer(value, path, min as u64, max as u64)?;
    usize::try_from(n).map_err(|_| invalid(path, format!("an integer {min}-{max}"), value))
}

/// A finite number in `min..=max`.
pub(crate) fn number(
    value: &Value,
    path: &KeyPath,
    min: f64,
    max: f64,
) -> Result<f64, ConfigError> {
    let expected = if max == f64::MAX {
        format!("a number >= {min}")
    } else {
        format!("a number {min}-{max}")
    };
    let text = scalar(value, path, &expected)?;
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= min && n <= max => Ok(n),
        _ => Err(invalid(path, expected, value)),
    }
}

pub(crate) fn string(value: &Value, path: &KeyPath) -> Result<String, ConfigError> {
    scalar(value, path, "a string").map(str::to_string)
}

pub(crate) fn path_buf(value: &Value, path: &KeyPath) -> Result<PathBuf, ConfigError> {
    scalar(value, path, "a path").map(PathBuf::from)
}

/// A path where an empty string means "none".
pub(crate) fn optional_path(value: &Value, path: &KeyPath) -> Result<Option<PathBuf>, ConfigError> {
    let p = scalar(value, path, "a path")?;
    Ok((!p.is_empty()).then(|| PathBuf::from(p)))
}

/// A list of strings; a single scalar counts as a one-item list (as in Falco).
pub(crate) fn string_list(value: &Value, path: &KeyPath) -> Result<Vec<String>, ConfigError> {
    match &value.kind {
        Kind::Null => Ok(Vec::new()),
        Kind::Scalar(s) => Ok(vec![s.clone()]),
        Kind::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_scalar()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(&path.index(i), "a string", item))
            })
            .collect(),
        Kind::Map(_) => Err(invalid(path, "a list of strings", value)),
    }
}

/// The items of a list (null: none).
pub(crate) fn list<'v>(value: &'v Value, path: &KeyPath) -> Result<&'v [Value], ConfigError> {
    match &value.kind {
        Kind::Null => Ok(&[]),
        Kind::Seq(items) => Ok(items),
        _ => Err(invalid(path, "a list", value)),
    }
}

/// One of a fixed set of names (case-insensitive).
pub(crate) fn choice<T: Copy>(
    value: &Value,
    path: &KeyPath,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let expected = format!("one of {}", names.join(", "));
    let text = scalar(value, path, &expected)?;
    choices
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text.trim()))
        .map(|(_, v)| *v)
        .ok_or_else(|| invalid(path, expected, value))
}

pub(crate) fn priority(value: &Value, path: &KeyPath) -> Result<Priority, ConfigError> {
    const EXPECTED: &str =
        "a priority: emergency, alert, critical, error, warning, notice, informational (info) or debug";
    scalar(value, path, EXPECTED)?
        .parse()
        .map_err(|_| invalid(path, EXPECTED, value))
}

/// A Prometheus-style duration (`1h30m`, `500ms`) of at least `min`.
pub(crate) fn duration(
    value: &Value,
    path: &KeyPath,
    min: Duration,
) -> Result<Duration, ConfigError> {
    let expected = if min.is_zero() {
        "a duration like 10ms, 30s or 1h30m (units y w d h m s ms)".to_string()
    } else {
        format!(
            "a duration of at least {}ms like 500ms, 30s or 1h30m (units y w d h m s ms)",
            min.as_millis()
        )
    };
    let text = scalar(value, path, &expected)?;
    match parse_duration(text) {
        Some(d) if d >= min => Ok(d),
        _ => Err(invalid(path, expected, value)),
    }
}

/// A value another setting requires but nobody gave; points at the section that asked.
pub(crate) fn missing(path: &KeyPath, expected: impl Into<String>, section: &Value) -> ConfigError {
    ConfigError::Invalid {
        path: path.as_str().to_string(),
        expected: expected.into(),
        found: "no value".into(),
        origin: section.origin.clone(),
    }
}
