//! `-o key.path=value` command-line overrides, applied to the document tree after the file.
//!
//! Key paths: `a.b.c`; a list index `a[2].b` (an index equal to the list's length appends);
//! `a[]` appends a new element; `\.` `\[` `\]` `\\` are literal characters in key names.
//! Values: `{...}` and `[...]` (bracket first and last) are parsed as YAML (JSON is YAML);
//! anything else is a plain
//! scalar taken verbatim (quotes included, as Falco does), typed later like any YAML
//! scalar; an empty value, `~` or `null` is null, which means "the default".

use crate::error::{ConfigError, Origin};
use crate::tree::{self, Entry, Kind, Value};
use std::sync::Arc;

/// More path segments than any real key needs; bounds the tree depth overrides can add.
const MAX_SEGMENTS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
    Append,
}

/// A parsed override, ready to apply.
#[derive(Clone, Debug)]
pub(crate) struct Override {
    text: Arc<str>,
    origin: Origin,
    path: Vec<Segment>,
    value: Value,
}

fn bad(text: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Override {
        text: text.to_string(),
        reason: reason.into(),
    }
}

impl Override {
    pub fn parse(text: &str) -> Result<Override, ConfigError> {
        let Some((key, raw_value)) = text.split_once('=') else {
            return Err(bad(text, "expected key=value"));
        };
        let path = parse_path(key).map_err(|reason| bad(text, reason))?;
        let text: Arc<str> = Arc::from(text);
        let origin = Origin::Override { text: text.clone() };
        let value = parse_value(raw_value, &origin)?;
        Ok(Override {
            text,
            origin,
            path,
            value,
        })
    }

    /// falcosidekick's environment form: variable `name` sets `key` (a plain key path) to
    /// `value`, taken verbatim as a scalar.
    pub fn from_env(name: &str, key: &str, value: &str) -> Result<Override, ConfigError> {
        let text: Arc<str> = Arc::from(format!("{key}={value}"));
        let path = parse_path(key).map_err(|reason| bad(&text, reason))?;
        let origin = Origin::Env {
            name: Arc::from(name),
        };
        let value = Value {
            kind: if value.is_empty() {
                Kind::Null
            } else {
                Kind::Scalar(value.to_string())
            },
            origin: origin.clone(),
        };
        Ok(Override {
            text,
            origin,
            path,
            value,
        })
    }

    /// Sets the value at the path, creating mappings and list elements on the way; a null
    /// on the way becomes the collection the path needs.
    pub fn apply(&self, root: &mut Value) -> Result<(), ConfigError> {
        let origin = self.origin.clone();
        let mut node = root;
        for (i, segment) in self.path.iter().enumerate() {
            let at = || render(&self.path[..i]);
            let wants_list = matches!(segment, Segment::Index(_) | Segment::Append);
            if node.is_null() {
                node.kind = if wants_list {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Vec::new())
                };
                node.origin = origin.clone();
            } else if wants_list && node.as_scalar().is_some() {
                // A scalar where a list is expected counts as a one-item list, so
                // `rules_file: /a.yaml` plus `-o rules_file[]=/b.yaml` gives both.
                let item = node.clone();
                node.kind = Kind::Seq(vec![item]);
            }
            let found = node.describe();
            node = match (segment, &mut node.kind) {
                (Segment::Key(key), Kind::Map(entries)) => {
                    let index = match entries.iter().position(|e| e.key == *key) {
                        Some(index) => index,
                        None => {
                            entries.push(Entry {
                                key: key.clone(),
                                key_origin: origin.clone(),
                                value: Value::null(origin.clone()),
                            });
                            entries.len() - 1
                        }
                    };
                    &mut entries[index].value
                }
                (Segment::Index(index), Kind::Seq(items)) => {
                    if *index > items.len() {
                        return Err(bad(
                            &self.text,
                            format!(
                                "index {index} is out of range: {} has {} items",
                                at(),
                                items.len()
                            ),
                        ));
                    }
                    if *index == items.len() {
                        items.push(Value::null(origin.clone()));
                    }
                    &mut items[*index]
                }
                (Segment::Append, Kind::Seq(items)) => {
                    items.push(Value::null(origin.clone()));
                    let last = items.len() - 1;
                    &mut items[last]
                }
                (Segment::Key(_), _) => {
                    return Err(bad(
                        &self.text,
                        format!("{} is {found}, not a mapping", name_or_root(&at())),
                    ))
                }
                (_, _) => {
                    return Err(bad(
                        &self.text,
                        format!("{} is {found}, not a list", name_or_root(&at())),
                    ))
                }
            };
        }
        *node = self.value.clone();
        Ok(())
    }
}

fn name_or_root(path: &str) -> &str {
    if path.is_empty() {
        "the document"
    } else {
        path
    }
}

/// Renders segments back as a key path (for messages).
fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
            Segment::Append => out.push_str("[]"),
        }
    }
    out
}

fn parse_path(key: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut name = String::new();
    // A name must come next: at the start and after a `.`.
    let mut need_name = true;
    // Right after `]` only `.`, `[` or the end may follow.
    let mut after_bracket = false;
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ ('.' | '[' | ']' | '\\')) if !after_bracket => {
                    name.push(escaped);
                    need_name = false;
                }
                Some(other) if !after_bracket => {
                    return Err(format!(
                        "unknown escape `\\{other}` in key (use \\. \\[ \\] or \\\\)"
                    ))
                }
                None => return Err("key ends with a lone backslash".into()),
                Some(_) => return Err("expected `.` or `[` after `]` in key".into()),
            },
            '.' => {
                if need_name {
                    return Err("empty key name in key path".into());
                }
                if !name.is_empty() {
                    segments.push(Segment::Key(std::mem::take(&mut name)));
                }
                need_name = true;
                after_bracket = false;
            }
            '[' => {
                if need_name {
                    return Err("a list index needs a key name before it".into());
                }
                if !name.is_empty() {
                    segments.push(Segment::Key(std::mem::take(&mut name)));
                }
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some(']') => break,
                        Some(d) => digits.push(d),
                        None => return Err("unclosed `[` in key path".into()),
                    }
                }
                segments.push(if digits.is_empty() {
                    Segment::Append
                } else if digits.bytes().all(|b| b.is_ascii_digit()) {
                    Segment::Index(
                        digits
                            .parse()
                            .map_err(|_| format!("list index {digits} is too large"))?,
                    )
                } else {
                    return Err(format!(
                        "expected a list index like [2] or [], found [{digits}]"
                    ));
                });
                after_bracket = true;
            }
            ']' => return Err("unmatched `]` in key path".into()),
            _ if after_bracket => return Err("expected `.` or `[` after `]` in key".into()),
            _ => {
                name.push(c);
                need_name = false;
            }
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(format!("key path has more than {MAX_SEGMENTS} parts"));
        }
    }
    if need_name {
        return Err(if key.is_empty() {
            "empty key".into()
        } else {
            "key path ends with `.`".into()
        });
    }
    if !name.is_empty() {
        segments.push(Segment::Key(name));
    }
    Ok(segments)
}

fn parse_value(raw: &str, origin: &Origin) -> Result<Value, ConfigError> {
    let trimmed = raw.trim();
    let bracketed = (trimmed.starts_with('{') && trimmed.ends_with('}'))
        || (trimmed.starts_with('[') && trimmed.ends_with(']'));
    if bracketed {
        let Origin::Override { text } = origin else {
            return Ok(Value::null(origin.clone()));
        };
        let at = |_| origin.clone();
        let yaml_error = |e: peregrine_rules::yaml::YamlError| {
            bad(
                text,
                format!(
                    "value is not valid YAML/JSON: {} at column {}",
                    e.message, e.mark.column
                ),
            )
        };
        let too_many = |_| bad(text, "value holds more than one YAML document");
        return tree::parse_document(trimmed, &at, &yaml_error, &too_many);
    }
    Ok(match raw {
        "" | "~" | "null" | "Null" | "NULL" => Value::null(origin.clone()),
        _ => Value {
            kind: Kind::Scalar(raw.to_string()),
            origin: origin.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(key: &str) -> Result<Vec<Segment>, String> {
        parse_path(key)
    }

    fn k(s: &str) -> Segment {
        Segment::Key(s.into())
    }

    #[test]
    fn parses_key_paths() {
        assert_eq!(path("a.b.c"), Ok(vec![k("a"), k("b"), k("c")]));
        assert_eq!(path("a[2].b"), Ok(vec![k("a"), Segment::Index(2), k("b")]));
        assert_eq!(path("a[]"), Ok(vec![k("a"), Segment::Append]));
        assert_eq!(
            path("a[0][1]"),
            Ok(vec![k("a"), Segment::Index(0), Segment::Index(1)])
        );
        assert_eq!(path(r"a\.b.c"), Ok(vec![k("a.b"), k("c")]));
        assert_eq!(path(r"a\[0\]\\"), Ok(vec![k(r"a[0]\")]));
    }

    #[test]
    fn rejects_bad_key_paths() {
        for bad in [
            "", ".a", "a.", "a..b", "[0]", "a[x]", "a[", "a]", "a[0]b", r"a\q", "a\\", "a.[0]",
            "a[-1]",
        ] {
            assert!(path(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
