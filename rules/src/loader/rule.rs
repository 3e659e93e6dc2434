//! `- rule:` items: a definition, the legacy enable-only form, `append: true`, or
//! `override:` entries, each with Falco's checks in Falco's order.

use super::collector::{self, RuleUpdate};
use super::context::{Ctx, LoadError};
use super::exceptions::read_exceptions;
use super::messages::{ERROR_OVERRIDE_APPEND, WARNING_APPEND, WARNING_ENABLED};
use super::{decode, Reader};
use crate::collection::RuleDef;
use crate::diag::WarningCode;
use crate::priority::Priority;
use crate::yaml::Node;
use std::collections::BTreeSet;

const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "append",
    "override",
];

const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];

const REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
];

/// The event source of rules that do not name one.
pub const DEFAULT_SOURCE: &str = "syscall";

pub(crate) fn read_rule(r: &mut Reader<'_>, item: &Node, parent: &Ctx) -> Result<(), LoadError> {
    let tmp = parent.child("rule", "", item.mark);
    let name = decode::string(item, "rule", &tmp, true)?.unwrap_or_default();
    let ctx = parent.child("rule", &name, item.mark);
    r.warn_unknown_keys(item, RULE_KEYS, &ctx);
    let append = decode::boolean(item, "append", &ctx, false)?.unwrap_or(false);
    if append {
        r.warn(WarningCode::DeprecatedItem, WARNING_APPEND, &ctx);
    }
    let overrides = decode::overrides(item, APPENDABLE, REPLACEABLE, &ctx)?;
    if append && !overrides.is_empty() {
        return Err(LoadError::shape(ERROR_OVERRIDE_APPEND, &ctx));
    }
    if !overrides.is_empty() {
        read_overrides(r, item, &name, &overrides, &ctx)
    } else if append {
        read_legacy_append(r, item, &name, &ctx)
    } else {
        read_definition(r, item, name, &ctx)
    }
}

fn read_definition(
    r: &mut Reader<'_>,
    item: &Node,
    name: String,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    let defines_rule = ["condition", "output", "desc", "priority"]
        .iter()
        .any(|k| item.get(k).is_some());
    if !defines_rule {
        // The legacy form that only enables or disables an earlier rule.
        let enabled = decode::boolean(item, "enabled", ctx, true)?.unwrap_or(true);
        r.warn(WarningCode::DeprecatedItem, WARNING_ENABLED, ctx);
        return collector::enable_rule(r.collection, &name, enabled, ctx);
    }
    let condition = r.text(item, "condition", ctx)?;
    let mut output = r.text(item, "output", ctx)?;
    let desc = decode::string(item, "desc", ctx, true)?.unwrap_or_default();
    let priority_node = decode::scalar(item, "priority", ctx, true)?;
    output.value = output.value.trim_matches(is_c_space).to_string();
    let priority = parse_priority(priority_node, ctx)?;
    let source =
        decode::string(item, "source", ctx, false)?.unwrap_or_else(|| DEFAULT_SOURCE.to_string());
    let enabled = decode::boolean(item, "enabled", ctx, false)?.unwrap_or(true);
    let warn_evttypes = decode::boolean(item, "warn_evttypes", ctx, false)?.unwrap_or(true);
    let skip_if_unknown_filter =
        decode::boolean(item, "skip-if-unknown-filter", ctx, false)?.unwrap_or(false);
    let capture = decode::boolean(item, "capture", ctx, false)?.unwrap_or(false);
    let capture_duration_ms =
        decode::unsigned(item, "capture_duration", ctx, false, u64::MAX)?.unwrap_or(0);
    let tags = read_tags(item, ctx)?.unwrap_or_default();
    let exceptions = read_exceptions(r, item, ctx, false)?;
    let def = RuleDef {
        name,
        condition,
        output,
        desc,
        priority,
        source,
        enabled,
        tags,
        exceptions: Vec::new(),
        warn_evttypes,
        skip_if_unknown_filter,
        capture,
        capture_duration_ms,
        pos: r.pos(item.mark),
    };
    collector::define_rule(r.collection, def, exceptions, ctx)
}

/// `append: true` without `override`: only `condition` and `exceptions` are appended.
fn read_legacy_append(
    r: &mut Reader<'_>,
    item: &Node,
    name: &str,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    let mut update = RuleUpdate::default();
    if item.get("condition").is_some() {
        update.condition = Some(r.text(item, "condition", ctx)?);
    }
    if item.get("exceptions").is_some() {
        update.exceptions = Some(read_exceptions(r, item, ctx, true)?);
    }
    collector::append_rule(r.collection, name, update, ctx)
}

/// `override: {key: append|replace}`. Every overridable key present must be listed under
/// `override` and every listed key must be present. Appends apply before replaces.
fn read_overrides(
    r: &mut Reader<'_>,
    item: &Node,
    name: &str,
    overrides: &decode::Overrides,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    let mut expected: BTreeSet<&str> = APPENDABLE
        .iter()
        .chain(REPLACEABLE)
        .copied()
        .filter(|k| item.get(k).is_some())
        .collect();

    if !overrides.append.is_empty() {
        let ops = &overrides.append;
        let mut update = RuleUpdate::default();
        if wanted(&mut expected, ops, "append", "condition", ctx)? {
            update.condition = Some(r.text(item, "condition", ctx)?);
        }
        if wanted(&mut expected, ops, "append", "exceptions", ctx)? {
            update.exceptions = Some(read_exceptions(r, item, ctx, true)?);
        }
        if wanted(&mut expected, ops, "append", "output", ctx)? {
            update.output = Some(r.text(item, "output", ctx)?);
        }
        if wanted(&mut expected, ops, "append", "desc", ctx)? {
            update.desc = decode::string(item, "desc", ctx, true)?;
        }
        if wanted(&mut expected, ops, "append", "tags", ctx)? {
            update.tags = read_tags(item, ctx)?;
        }
        collector::append_rule(r.collection, name, update, ctx)?;
    }

    if !overrides.replace.is_empty() {
        let ops = &overrides.replace;
        let mut update = RuleUpdate::default();
        if wanted(&mut expected, ops, "replace", "condition", ctx)? {
            update.condition = Some(r.text(item, "condition", ctx)?);
        }
        if wanted(&mut expected, ops, "replace", "exceptions", ctx)? {
            update.exceptions = Some(read_exceptions(r, item, ctx, false)?);
        }
        if wanted(&mut expected, ops, "replace", "output", ctx)? {
            update.output = Some(r.text(item, "output", ctx)?);
        }
        if wanted(&mut expected, ops, "replace", "desc", ctx)? {
            update.desc = decode::string(item, "desc", ctx, true)?;
        }
        if wanted(&mut expected, ops, "replace", "tags", ctx)? {
            update.tags = read_tags(item, ctx)?;
        }
        if wanted(&mut expected, ops, "replace", "priority", ctx)? {
            let node = decode::scalar(item, "priority", ctx, true)?;
            update.priority = Some(parse_priority(node, ctx)?);
        }
        if wanted(&mut expected, ops, "replace", "enabled", ctx)? {
            update.enabled = decode::boolean(item, "enabled", ctx, true)?;
        }
        if wanted(&mut expected, ops, "replace", "warn_evttypes", ctx)? {
            update.warn_evttypes = decode::boolean(item, "warn_evttypes", ctx, true)?;
        }
        if wanted(&mut expected, ops, "replace", "skip-if-unknown-filter", ctx)? {
            update.skip_if_unknown_filter =
                decode::boolean(item, "skip-if-unknown-filter", ctx, true)?;
        }
        if wanted(&mut expected, ops, "replace", "capture", ctx)? {
            update.capture = decode::boolean(item, "capture", ctx, true)?;
        }
        if wanted(&mut expected, ops, "replace", "capture_duration", ctx)? {
            update.capture_duration_ms =
                decode::unsigned(item, "capture_duration", ctx, true, u64::MAX)?;
        }
        collector::replace_rule(r.collection, name, update, ctx)?;
    }

    if let Some(key) = expected.first() {
        let mark = item.get(key).map_or(item.mark, |n| n.mark);
        return Err(LoadError::shape(
            format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."),
            &ctx.child("overrides", key, mark),
        ));
    }
    Ok(())
}

/// Falco's `check_update_expected`: whether `key` is overridden with this operation; a key
/// overridden but absent from the item is an error.
fn wanted(
    expected: &mut BTreeSet<&str>,
    ops: &BTreeSet<String>,
    operation: &str,
    key: &str,
    ctx: &Ctx,
) -> Result<bool, LoadError> {
    if !ops.contains(key) {
        return Ok(false);
    }
    if !expected.remove(key) {
        return Err(LoadError::shape(
            format!("An {operation} override for '{key}' was specified but '{key}' is not defined"),
            ctx,
        ));
    }
    Ok(true)
}

fn read_tags(item: &Node, ctx: &Ctx) -> Result<Option<BTreeSet<String>>, LoadError> {
    Ok(decode::scalar_list(item, "tags", ctx, false)?.map(|tags| tags.into_iter().collect()))
}

/// Case-insensitive priority name (`info` is `informational`), exactly as written.
fn parse_priority(node: Option<&Node>, ctx: &Ctx) -> Result<Priority, LoadError> {
    let text = node.and_then(Node::as_str).unwrap_or_default();
    let parsed = (text.trim() == text)
        .then(|| text.parse::<Priority>().ok())
        .flatten();
    parsed.ok_or_else(|| {
        let mark = node.map_or(crate::yaml::Mark::default(), |n| n.mark);
        LoadError::shape("Invalid priority", &ctx.child("rule priority", "", mark))
    })
}

/// C's `isspace`, which Falco's `trim` uses on outputs.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}
