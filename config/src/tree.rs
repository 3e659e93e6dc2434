//! The configuration document as a tree of values that remember their [`Origin`]: built from
//! the YAML file, edited by `-o` overrides, then decoded into the typed model.
//!
//! A separate tree (rather than `yaml::Node`) lets values set by overrides point at the
//! override in error messages.

use crate::error::{ConfigError, Origin};
use peregrine_rules::yaml::{self, Content, Mark};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Value {
    pub kind: Kind,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Null,
    Scalar(String),
    Seq(Vec<Value>),
    Map(Vec<Entry>),
}

/// One `key: value` pair; keys are always scalars.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_origin: Origin,
    pub value: Value,
}

/// How many characters of a scalar an error message quotes.
const QUOTE_LIMIT: usize = 80;

impl Value {
    pub fn null(origin: Origin) -> Value {
        Value {
            kind: Kind::Null,
            origin,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// Converts a parsed YAML node; `at` turns its marks into origins. Mapping keys must be
    /// scalars.
    pub fn from_yaml(node: &yaml::Node, at: &dyn Fn(Mark) -> Origin) -> Result<Value, ConfigError> {
        let origin = at(node.mark);
        let kind = match &node.content {
            Content::Null => Kind::Null,
            Content::Scalar(s) => Kind::Scalar(s.text.clone()),
            Content::Sequence(items) => Kind::Seq(
                items
                    .iter()
                    .map(|n| Value::from_yaml(n, at))
                    .collect::<Result<_, _>>()?,
            ),
            Content::Mapping(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for e in entries {
                    let key_origin = at(e.key.mark);
                    let Some(key) = e.key.as_str() else {
                        let found = Value::from_yaml(&e.key, at)?.describe();
                        return Err(ConfigError::Invalid {
                            path: "(mapping key)".into(),
                            expected: "a key name".into(),
                            found,
                            origin: key_origin,
                        });
                    };
                    out.push(Entry {
                        key: key.to_string(),
                        key_origin,
                        value: Value::from_yaml(&e.value, at)?,
                    });
                }
                Kind::Map(out)
            }
        };
        Ok(Value { kind, origin })
    }

    /// How an error message shows this value: a quoted scalar, or its kind.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Null => "null".into(),
            Kind::Scalar(s) => quote(s),
            Kind::Seq(_) => "a list".into(),
            Kind::Map(_) => "a mapping".into(),
        }
    }

    /// Applies `f` to every scalar value (not to keys), with its dotted key path (list
    /// items as `key[i]`) and where it came from.
    pub fn for_each_scalar_at_mut(
        &mut self,
        path: &str,
        f: &mut dyn FnMut(&str, &Origin, &mut String),
    ) {
        match &mut self.kind {
            Kind::Null => {}
            Kind::Scalar(s) => f(path, &self.origin, s),
            Kind::Seq(items) => items
                .iter_mut()
                .enumerate()
                .for_each(|(i, v)| v.for_each_scalar_at_mut(&format!("{path}[{i}]"), f)),
            Kind::Map(entries) => entries.iter_mut().for_each(|e| {
                let path = if path.is_empty() {
                    e.key.clone()
                } else {
                    format!("{path}.{}", e.key)
                };
                e.value.for_each_scalar_at_mut(&path, f)
            }),
        }
    }
}

/// A scalar quoted for messages, shortened if long.
pub(crate) fn quote(s: &str) -> String {
    let mut shown: String = s.chars().take(QUOTE_LIMIT).collect();
    if shown.len() < s.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// Parses one YAML document into a tree; an empty text is a null document.
pub(crate) fn parse_document(
    text: &str,
    at: &dyn Fn(Mark) -> Origin,
    yaml_error: &dyn Fn(yaml::YamlError) -> ConfigError,
    too_many: &dyn Fn(usize) -> ConfigError,
) -> Result<Value, ConfigError> {
    let docs = yaml::load_all(text).map_err(yaml_error)?;
    match docs.as_slice() {
        [] => Ok(Value::null(at(Mark {
            line: 1,
            column: 1,
            offset: 0,
        }))),
        [doc] => Value::from_yaml(doc, at),
        more => Err(too_many(more.len())),
    }
}

/// The origin maker for a file named `name`.
pub(crate) fn file_origin(name: &str) -> impl Fn(Mark) -> Origin {
    let name: Arc<str> = Arc::from(name);
    move |m: Mark| Origin::File {
        name: name.clone(),
        line: m.line,
        column: m.column,
    }
}
