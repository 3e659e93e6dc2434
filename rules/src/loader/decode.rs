//! Reading typed values out of an item, with the checks and messages of Falco's reader
//! (`decode_val`, `decode_seq`, `decode_overrides`) and yaml-cpp's scalar conversions.

use super::context::{Ctx, LoadError};
use super::messages::INVALID_NODE;
use crate::yaml::{Content, Node};
use std::collections::BTreeSet;

/// `item[key]`; a missing required key is an error.
pub(crate) fn lookup<'a>(
    item: &'a Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
) -> Result<Option<&'a Node>, LoadError> {
    match item.get(key) {
        Some(node) => Ok(Some(node)),
        None if required => Err(LoadError::shape(
            format!("Item has no mapping for key '{key}'"),
            ctx,
        )),
        None => Ok(None),
    }
}

/// The context of a key's value: `value for 'key'`.
pub(crate) fn value_ctx(ctx: &Ctx, key: &str, node: &Node) -> Ctx {
    ctx.child("value for", key, node.mark)
}

/// A non-empty scalar value (`decode_val`); returns its node, for positions.
pub(crate) fn scalar<'a>(
    item: &'a Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
) -> Result<Option<&'a Node>, LoadError> {
    let Some(node) = lookup(item, key, ctx, required)? else {
        return Ok(None);
    };
    if node.is_null() {
        return Err(LoadError::shape(
            format!("Mapping for key '{key}' is empty"),
            ctx,
        ));
    }
    match node.as_str() {
        None => Err(LoadError::shape(
            "Value is not a scalar value",
            &value_ctx(ctx, key, node),
        )),
        Some("") => Err(LoadError::shape(
            "Value must be non-empty",
            &value_ctx(ctx, key, node),
        )),
        Some(_) => Ok(Some(node)),
    }
}

pub(crate) fn string(
    item: &Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
) -> Result<Option<String>, LoadError> {
    Ok(scalar(item, key, ctx, required)?
        .and_then(Node::as_str)
        .map(str::to_string))
}

/// A boolean in any spelling yaml-cpp accepts (`true`, `Yes`, `OFF`, `y`…).
pub(crate) fn boolean(
    item: &Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
) -> Result<Option<bool>, LoadError> {
    decode_scalar(item, key, ctx, required, parse_bool)
}

/// An unsigned integer as yaml-cpp reads it (decimal, `0x` hex, leading-`0` octal).
pub(crate) fn unsigned(
    item: &Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
    max: u64,
) -> Result<Option<u64>, LoadError> {
    decode_scalar(item, key, ctx, required, |s| parse_unsigned(s, max))
}

fn decode_scalar<T>(
    item: &Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, LoadError> {
    let Some(node) = scalar(item, key, ctx, required)? else {
        return Ok(None);
    };
    node.as_str().and_then(parse).map(Some).ok_or_else(|| {
        LoadError::shape("Can't decode YAML scalar value", &value_ctx(ctx, key, node))
    })
}

/// A sequence of scalars (`decode_seq`): list items and tags. Empty strings are allowed.
pub(crate) fn scalar_list(
    item: &Node,
    key: &str,
    ctx: &Ctx,
    required: bool,
) -> Result<Option<Vec<String>>, LoadError> {
    let Some(node) = lookup(item, key, ctx, required)? else {
        return Ok(None);
    };
    let valctx = value_ctx(ctx, key, node);
    let Some(items) = node.as_sequence() else {
        return Err(LoadError::shape("Value is not a sequence", &valctx));
    };
    items
        .iter()
        .map(|v| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                LoadError::shape(
                    "sequence value is not scalar",
                    &valctx.child("list item", "", v.mark),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// yaml-cpp's `convert<bool>`: y/yes/true/on and n/no/false/off, all lower case, all upper
/// case, or capitalised.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    if !is_flexible_case(s) {
        return None;
    }
    match s.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn is_flexible_case(s: &str) -> bool {
    let lower = |b: &u8| b.is_ascii_lowercase();
    let upper = |b: &u8| b.is_ascii_uppercase();
    let bytes = s.as_bytes();
    match bytes.split_first() {
        None => true,
        Some(_) if bytes.iter().all(lower) => true,
        Some((first, rest)) => {
            first.is_ascii_uppercase() && (rest.iter().all(lower) || rest.iter().all(upper))
        }
    }
}

/// yaml-cpp's unsigned conversion (a C++ stream with automatic base): optional `+`,
/// `0x` hex or leading-`0` octal or decimal, trailing blanks allowed, nothing else.
pub(crate) fn parse_unsigned(s: &str, max: u64) -> Option<u64> {
    let body = s.trim_end_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let body = body.strip_prefix('+').unwrap_or(body);
    let (digits, radix) =
        if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (hex, 16)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|v| *v <= max)
}

/// The keys named under `override:`, by operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    pub(crate) append: BTreeSet<String>,
    pub(crate) replace: BTreeSet<String>,
}

impl Overrides {
    pub(crate) fn is_empty(&self) -> bool {
        self.append.is_empty() && self.replace.is_empty()
    }
}

/// `override: {key: append|replace}` (`decode_overrides`). A null or scalar `override` names
/// nothing; a non-empty sequence fails the way yaml-cpp's iterator does in Falco.
pub(crate) fn overrides(
    item: &Node,
    appendable: &[&str],
    replaceable: &[&str],
    ctx: &Ctx,
) -> Result<Overrides, LoadError> {
    let mut out = Overrides::default();
    let Some(node) = item.get("override") else {
        return Ok(out);
    };
    let entries = match &node.content {
        Content::Mapping(entries) => entries,
        Content::Sequence(items) if !items.is_empty() => {
            return Err(LoadError::validate(INVALID_NODE, &ctx.root()))
        }
        _ => return Ok(out),
    };
    let overridectx = ctx.child("overrides", "", item.mark);
    for entry in entries {
        let key = as_string(&entry.key, ctx)?;
        let operation = as_string(&entry.value, ctx)?;
        let can_append = appendable.contains(&key);
        let can_replace = replaceable.contains(&key);
        let keyctx = || overridectx.child("overrides", key, entry.key.mark);
        match operation {
            "append" if can_append => {
                out.append.insert(key.to_string());
            }
            "append" => {
                return Err(LoadError::shape(
                    format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                    &keyctx(),
                ))
            }
            "replace" if can_replace => {
                out.replace.insert(key.to_string());
            }
            "replace" => {
                return Err(LoadError::shape(
                    format!("Key '{key}' cannot be replaced"),
                    &keyctx(),
                ))
            }
            _ => {
                let mut message = format!(
                    "Invalid override operation for key '{key}': '{operation}'. Allowed values are: "
                );
                if can_append {
                    message.push_str("append ");
                }
                if can_replace {
                    message.push_str("replace ");
                }
                let opctx = overridectx.child("value for", key, entry.value.mark);
                return Err(LoadError::shape(message, &opctx));
            }
        }
    }
    Ok(out)
}

/// yaml-cpp's `as<std::string>()`: scalars and null (`"null"`); anything else is a
/// "bad conversion", which Falco reports against the whole file.
fn as_string<'a>(node: &'a Node, ctx: &Ctx) -> Result<&'a str, LoadError> {
    node.as_string_like().ok_or_else(|| {
        LoadError::validate(
            format!(
                "yaml-cpp: error at line {}, column {}: bad conversion",
                node.mark.line, node.mark.column
            ),
            &ctx.root(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_yaml_cpp() {
        for t in ["true", "True", "TRUE", "yes", "Y", "on", "ON"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "False", "no", "n", "Off", "NO"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["tRUE", "TrUE", "1", "0", "", "yess", "enabled"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn unsigned_follows_cpp_streams() {
        let max = u64::from(u32::MAX);
        assert_eq!(parse_unsigned("26", max), Some(26));
        assert_eq!(parse_unsigned("+26", max), Some(26));
        assert_eq!(parse_unsigned("0x1A", max), Some(26));
        assert_eq!(parse_unsigned("010", max), Some(8));
        assert_eq!(parse_unsigned("0", max), Some(0));
        assert_eq!(parse_unsigned("26 ", max), Some(26));
        for bad in ["-1", "0.57.0", " 26", "08", "0x", "seven", "4294967296", ""] {
            assert_eq!(parse_unsigned(bad, max), None, "{bad}");
        }
        assert_eq!(parse_unsigned("4294967296", u64::MAX), Some(4_294_967_296));
    }
}
