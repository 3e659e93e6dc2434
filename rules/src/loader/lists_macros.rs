//! `- list:` and `- macro:` items.

use super::collector;
use super::context::{Ctx, LoadError};
use super::messages::{
    ERROR_OVERRIDE_APPEND, LIST_NAME_PATTERN, MACRO_NAME_PATTERN, WARNING_APPEND,
};
use super::{decode, Reader};
use crate::collection::{ListDef, MacroDef};
use crate::diag::WarningCode;
use crate::yaml::Node;

const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];

pub(crate) fn read_list(r: &mut Reader<'_>, item: &Node, parent: &Ctx) -> Result<(), LoadError> {
    let tmp = parent.child("list", "", item.mark);
    let name = decode::string(item, "list", &tmp, true)?.unwrap_or_default();
    let ctx = parent.child("list", &name, item.mark);
    if !is_bare_string(&name) {
        r.warn(
            WarningCode::InvalidListName,
            format!("List has an invalid name. List names should match a regular expression: {LIST_NAME_PATTERN}"),
            &ctx,
        );
    }
    r.warn_unknown_keys(item, LIST_KEYS, &ctx);
    let items = decode::scalar_list(item, "items", &ctx, true)?.unwrap_or_default();
    let append = read_append_flag(r, item, "items", &ctx)?;
    let def = ListDef {
        name,
        items,
        pos: r.pos(item.mark),
        index: 0,
        visibility: 0,
    };
    if append {
        collector::append_list(r.collection, def, &ctx)
    } else {
        collector::define_list(r.collection, def);
        Ok(())
    }
}

pub(crate) fn read_macro(r: &mut Reader<'_>, item: &Node, parent: &Ctx) -> Result<(), LoadError> {
    let tmp = parent.child("macro", "", item.mark);
    let name = decode::string(item, "macro", &tmp, true)?.unwrap_or_default();
    let ctx = parent.child("macro", &name, item.mark);
    if !is_identifier(&name) {
        r.warn(
            WarningCode::InvalidMacroName,
            format!("Macro has an invalid name. Macro names should match a regular expression: {MACRO_NAME_PATTERN}"),
            &ctx,
        );
    }
    r.warn_unknown_keys(item, MACRO_KEYS, &ctx);
    let condition = r.text(item, "condition", &ctx)?;
    let append = read_append_flag(r, item, "condition", &ctx)?;
    let def = MacroDef {
        name,
        condition,
        pos: r.pos(item.mark),
        index: 0,
        visibility: 0,
    };
    if append {
        collector::append_macro(r.collection, def, &ctx)
    } else {
        collector::define_macro(r.collection, def);
        Ok(())
    }
}

/// Whether the item appends to an earlier definition: the deprecated `append: true`, or
/// `override: {<key>: append}` (`replace` is a plain redefinition). Using both is an error.
fn read_append_flag(
    r: &mut Reader<'_>,
    item: &Node,
    key: &str,
    ctx: &Ctx,
) -> Result<bool, LoadError> {
    let append = decode::boolean(item, "append", ctx, false)?.unwrap_or(false);
    if append {
        r.warn(WarningCode::DeprecatedItem, WARNING_APPEND, ctx);
    }
    let overrides = decode::overrides(item, &[key], &[key], ctx)?;
    if append && !overrides.is_empty() {
        return Err(LoadError::shape(ERROR_OVERRIDE_APPEND, ctx));
    }
    Ok(append || overrides.append.contains(key))
}

/// Falco's `RGX_BARESTR`: no parentheses, quotes, blanks, `=` or `,`.
fn is_bare_string(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| {
            matches!(
                c,
                '(' | ')' | '"' | '\'' | '=' | ',' | ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'
            )
        })
}

/// Falco's `RGX_IDENTIFIER`: an ASCII letter, then letters, digits and `_`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_patterns() {
        assert!(is_bare_string("shell_binaries"));
        assert!(is_bare_string("/etc/x.y-z"));
        assert!(!is_bare_string("bad list"));
        assert!(!is_bare_string("a,b"));
        assert!(!is_bare_string("(x)"));
        assert!(is_identifier("spawned_process"));
        assert!(is_identifier("a1_"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier("_abc"));
        assert!(!is_identifier("bad-name"));
        assert!(!is_identifier("some macro"));
    }
}
