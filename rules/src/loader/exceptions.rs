//! Rule exceptions: reading them (`read_rule_exceptions`), checking their shape when a rule
//! is defined or appended to (`validate_exception_info` and the length checks of
//! `build_rule_exception_infos`), and turning them into condition text.

use super::context::{Ctx, LoadError};
use super::{decode, Reader};
use crate::ast::Op;
use crate::collection::{ExceptionDef, ExceptionFields, ExceptionValue, RuleDef, SourcePos};
use crate::diag::WarningCode;
use crate::parser::lexer::{LIST_MODIFIERS, STR_OPS};
use crate::yaml::{Content, Node};
use std::collections::BTreeSet;

const EXCEPTION_KEYS: &[&str] = &["name", "fields", "comps", "values"];

/// One `fields`, `comps` or `values` entry as written (Falco's `rule_exception_info::entry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// Not given, null, or a mapping: Falco leaves such entries empty.
    Absent,
    Scalar(String),
    List(Vec<Entry>),
}

impl Entry {
    /// The scalar text; nested lists and empty entries read as `""`, as in Falco.
    fn text(&self) -> &str {
        match self {
            Entry::Scalar(s) => s,
            Entry::Absent | Entry::List(_) => "",
        }
    }
}

/// An exception as read from one rule item, before it is checked against the rule.
#[derive(Clone, Debug)]
pub(crate) struct RawException {
    pub(crate) name: String,
    pub(crate) fields: Entry,
    pub(crate) comps: Entry,
    pub(crate) values: Vec<Entry>,
    pub(crate) ctx: Ctx,
    pub(crate) pos: SourcePos,
}

/// Reads the `exceptions` of a rule item. With `append`, `fields` may be omitted (values
/// for an existing exception).
pub(crate) fn read_exceptions(
    r: &mut Reader<'_>,
    item: &Node,
    parent: &Ctx,
    append: bool,
) -> Result<Vec<RawException>, LoadError> {
    let mut out: Vec<RawException> = Vec::new();
    let Some(node) = item.get("exceptions").filter(|n| !n.is_null()) else {
        return Ok(out);
    };
    let exes_ctx = parent.child("exceptions", "", node.mark);
    let Some(entries) = node.as_sequence() else {
        return Err(LoadError::shape(
            "Rule exceptions must be a sequence",
            &exes_ctx,
        ));
    };
    for ex in entries {
        let tmp = exes_ctx.child("exception", "", ex.mark);
        if ex.as_mapping().is_none() {
            return Err(LoadError::shape("Rule exception must be a mapping", &tmp));
        }
        let name = decode::string(ex, "name", &tmp, true)?.unwrap_or_default();
        let ctx = parent.child("exception", &name, ex.mark);
        if out.iter().any(|prev| prev.name == name) {
            r.warn(
                WarningCode::ExceptionNameNotUnique,
                format!("Multiple definitions of exception '{name}' in the same rule"),
                &ctx,
            );
        }
        r.warn_unknown_keys(ex, EXCEPTION_KEYS, &ctx);
        let fields = keyed_entry(ex, "fields", &ctx, !append)?;
        let comps = keyed_entry(ex, "comps", &ctx, false)?;
        let mut values = Vec::new();
        if let Some(vals) = ex.get("values") {
            let vals_ctx = ctx.child("exception values", "", vals.mark);
            let Some(vals) = vals.as_sequence() else {
                return Err(LoadError::shape(
                    "Rule exception values must be a sequence",
                    &vals_ctx,
                ));
            };
            for val in vals {
                let vctx = vals_ctx.child("exception value", "", val.mark);
                values.push(entry(val, "", &vctx)?);
            }
        } else if append {
            r.warn(
                WarningCode::AppendNoValues,
                "Overriding/appending exception with no values",
                &ctx,
            );
        }
        out.push(RawException {
            name,
            fields,
            comps,
            values,
            ctx,
            pos: r.pos(ex.mark),
        });
    }
    Ok(out)
}

fn keyed_entry(ex: &Node, key: &str, ctx: &Ctx, required: bool) -> Result<Entry, LoadError> {
    match decode::lookup(ex, key, ctx, required)? {
        Some(node) => entry(node, key, ctx),
        None => Ok(Entry::Absent),
    }
}

/// `decode_exception_info_entry`: scalars must be non-empty; sequences nest.
fn entry(node: &Node, key: &str, ctx: &Ctx) -> Result<Entry, LoadError> {
    let valctx = decode::value_ctx(ctx, key, node);
    match &node.content {
        Content::Scalar(s) if s.text.is_empty() => {
            Err(LoadError::shape("Value must be non-empty", &valctx))
        }
        Content::Scalar(s) => Ok(Entry::Scalar(s.text.clone())),
        Content::Sequence(items) => items
            .iter()
            .map(|v| entry(v, "", &valctx.child("exception", "", v.mark)))
            .collect::<Result<Vec<_>, _>>()
            .map(Entry::List),
        Content::Null | Content::Mapping(_) => Ok(Entry::Absent),
    }
}

/// The checked `fields` and `comps` of an exception (defaults applied, comps trimmed).
fn check_shape(ex: &RawException) -> Result<(ExceptionFields, Vec<String>), LoadError> {
    match &ex.fields {
        Entry::List(items) => {
            let fields: Vec<String> = items.iter().map(|e| e.text().to_string()).collect();
            let comps: Vec<&str> = match &ex.comps {
                Entry::Absent => vec!["="; fields.len()],
                Entry::List(items) => items.iter().map(Entry::text).collect(),
                Entry::Scalar(_) => Vec::new(),
            };
            if fields.len() != comps.len() {
                return Err(LoadError::validate(
                    "Fields and comps lists must have equal length",
                    &ex.ctx,
                ));
            }
            if let Some(bad) = comps.iter().find(|c| !is_supported_operator(c)) {
                return Err(LoadError::validate(
                    format!("'{bad}' is not a supported comparison operator"),
                    &ex.ctx,
                ));
            }
            let comps = comps.iter().map(|c| normalize_operator(c)).collect();
            Ok((ExceptionFields::List(fields), comps))
        }
        Entry::Scalar(field) => {
            let comp = match &ex.comps {
                Entry::Absent => "in",
                Entry::Scalar(c) => c.as_str(),
                Entry::List(_) => {
                    return Err(LoadError::validate(
                        "Fields and comps must both be strings",
                        &ex.ctx,
                    ))
                }
            };
            if !is_list_operator(comp) {
                return Err(LoadError::validate(
                    "When fields is a single value, comps must be one of (in, pmatch, intersects)",
                    &ex.ctx,
                ));
            }
            Ok((
                ExceptionFields::Single(field.clone()),
                vec![normalize_operator(comp)],
            ))
        }
        Entry::Absent => Err(LoadError::validate(
            "Rule exception item must have fields property with a list of fields",
            &ex.ctx,
        )),
    }
}

/// The values of an exception as tuples matching its fields (the checks Falco makes when
/// it builds the condition). Errors are reported at `ctx`, the exception's definition.
fn shape_values(
    fields: &ExceptionFields,
    values: &[Entry],
    ctx: &Ctx,
) -> Result<Vec<Vec<ExceptionValue>>, LoadError> {
    values
        .iter()
        .map(|value| match fields {
            ExceptionFields::Single(_) => match value {
                Entry::List(_) => Err(LoadError::validate(
                    "Expected values array to contain a list of strings",
                    ctx,
                )),
                other => Ok(vec![ExceptionValue::Scalar(other.text().to_string())]),
            },
            ExceptionFields::List(names) => {
                let items: &[Entry] = match value {
                    Entry::List(items) => items,
                    Entry::Absent | Entry::Scalar(_) => &[],
                };
                if items.len() != names.len() {
                    return Err(LoadError::validate(
                        "Fields and values lists must have equal length",
                        ctx,
                    ));
                }
                Ok(items.iter().map(tuple_value).collect())
            }
        })
        .collect()
}

fn tuple_value(item: &Entry) -> ExceptionValue {
    match item {
        Entry::List(inner) => {
            ExceptionValue::List(inner.iter().map(|e| e.text().to_string()).collect())
        }
        other => ExceptionValue::Scalar(other.text().to_string()),
    }
}

/// The exceptions of a newly defined (or replaced) rule: each needs `fields`; shapes are
/// checked for all of them before any values, as Falco checks at define and then compile time.
pub(crate) fn define(raw: Vec<RawException>) -> Result<Vec<ExceptionDef>, LoadError> {
    let shapes = raw
        .iter()
        .map(|ex| {
            if ex.fields == Entry::Absent {
                return Err(LoadError::validate(
                    "Rule exception item must have fields property with a list of fields",
                    &ex.ctx,
                ));
            }
            check_shape(ex)
        })
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .zip(shapes)
        .map(|(ex, (fields, comps))| {
            let values = shape_values(&fields, &ex.values, &ex.ctx)?;
            Ok(ExceptionDef {
                name: ex.name,
                fields,
                comps,
                values,
                pos: ex.pos,
            })
        })
        .collect()
}

/// Appends an item's exceptions to an existing rule: a new name adds an exception (with
/// fields and values); a known name only adds values.
pub(crate) fn append(rule: &mut RuleDef, raw: Vec<RawException>) -> Result<(), LoadError> {
    // Values are checked after every exception was merged, like Falco's compile step.
    let mut pending: Vec<(usize, Vec<Entry>, Ctx)> = Vec::new();
    for ex in raw {
        match rule.exceptions.iter().position(|e| e.name == ex.name) {
            None => {
                if ex.fields == Entry::Absent {
                    return Err(LoadError::validate(
                        "Rule exception must have fields property with a list of fields",
                        &ex.ctx,
                    ));
                }
                if ex.values.is_empty() {
                    return Err(LoadError::validate(
                        "Rule exception must have values property with a list of values",
                        &ex.ctx,
                    ));
                }
                let (fields, comps) = check_shape(&ex)?;
                pending.push((rule.exceptions.len(), ex.values, ex.ctx));
                rule.exceptions.push(ExceptionDef {
                    name: ex.name,
                    fields,
                    comps,
                    values: Vec::new(),
                    pos: ex.pos,
                });
            }
            Some(index) => {
                if ex.fields != Entry::Absent {
                    return Err(LoadError::validate(
                        "Can not append exception fields to existing exception, only values",
                        &ex.ctx,
                    ));
                }
                if ex.comps != Entry::Absent {
                    return Err(LoadError::validate(
                        "Can not append exception comps to existing exception, only values",
                        &ex.ctx,
                    ));
                }
                let existing = rule.exceptions.get(index).map(|e| {
                    Ctx::at_source(&rule.pos, "rule", &rule.name).child_at(
                        "exception",
                        &e.name,
                        &e.pos,
                    )
                });
                if let Some(ctx) = existing {
                    pending.push((index, ex.values, ctx));
                }
            }
        }
    }
    for (index, values, ctx) in pending {
        if let Some(exception) = rule.exceptions.get_mut(index) {
            let shaped = shape_values(&exception.fields, &values, &ctx)?;
            exception.values.extend(shaped);
        }
    }
    Ok(())
}

fn normalize_operator(op: &str) -> String {
    op.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A supported operator, or a string operator with a list modifier (`endswith anyof`).
fn is_supported_operator(op: &str) -> bool {
    let words: Vec<&str> = op.split_whitespace().collect();
    match words.as_slice() {
        [single] => Op::from_token(single).is_some(),
        // The operators and modifiers the condition lexer accepts, so the two cannot drift.
        [op, modifier] => STR_OPS.contains(op) && LIST_MODIFIERS.contains(modifier),
        _ => false,
    }
}

/// Operators whose right-hand side is a list: `in`, `intersects`, `pmatch`, and modified
/// string operators.
fn is_list_operator(op: &str) -> bool {
    let words: Vec<&str> = op.split_whitespace().collect();
    match words.as_slice() {
        [single] => Op::from_token(single).is_some_and(Op::takes_list),
        [_, _] => is_supported_operator(op),
        _ => false,
    }
}

/// Falco's `quote_item`: values with a space that are not already quoted get double quotes
/// (no escaping).
fn quote(value: &str) -> String {
    if value.contains(' ') && !value.starts_with('"') && !value.starts_with('\'') {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

/// Falco's `paren_item`: a scalar used with a list operator becomes a list (or a list name).
fn paren(value: &str) -> String {
    if value.starts_with('(') {
        value.to_string()
    } else {
        format!("({value})")
    }
}

fn render_value(value: &ExceptionValue, comp: &str) -> String {
    match value {
        ExceptionValue::List(items) => {
            let items: Vec<String> = items.iter().map(|v| quote(v)).collect();
            format!("({})", items.join(", "))
        }
        ExceptionValue::Scalar(s) if is_list_operator(comp) => paren(s),
        ExceptionValue::Scalar(s) => quote(s),
    }
}

/// The `and not …` clause of one exception, or `None` when it has no values.
fn exception_clause(ex: &ExceptionDef) -> Option<String> {
    if ex.values.is_empty() {
        return None;
    }
    match &ex.fields {
        ExceptionFields::Single(field) => {
            let comp = ex.comps.first().map_or("in", String::as_str);
            let values: Vec<String> = ex
                .values
                .iter()
                .map(|tuple| match tuple.first() {
                    Some(ExceptionValue::Scalar(s)) => quote(s),
                    Some(list @ ExceptionValue::List(_)) => render_value(list, "="),
                    None => String::new(),
                })
                .collect();
            Some(format!("({field} {comp} ({}))", values.join(", ")))
        }
        ExceptionFields::List(fields) => {
            let tuples: Vec<String> = ex
                .values
                .iter()
                .map(|tuple| {
                    // Falco writes a space before every field, hence "( f1 = a and  f2 = b)".
                    let checks: Vec<String> = fields
                        .iter()
                        .zip(&ex.comps)
                        .zip(tuple)
                        .map(|((field, comp), value)| {
                            format!(" {field} {comp} {}", render_value(value, comp))
                        })
                        .collect();
                    format!("({})", checks.join(" and "))
                })
                .collect();
            Some(format!("({})", tuples.join(" or ")))
        }
    }
}

/// The rule's condition with its exceptions, as Falco's `build_rule_exception_infos` builds
/// it: unchanged without exceptions; otherwise `(<condition>)` followed by
/// ` and not <clause>` for each exception that has values.
pub fn exception_condition(rule: &RuleDef) -> String {
    if rule.exceptions.is_empty() {
        return rule.condition.value.clone();
    }
    let mut condition = format!("({})", rule.condition.value);
    for clause in rule.exceptions.iter().filter_map(exception_clause) {
        condition.push_str(" and not ");
        condition.push_str(&clause);
    }
    condition
}

/// The fields used by exceptions that have values (Falco's `exception_fields`).
pub fn exception_fields(rule: &RuleDef) -> BTreeSet<String> {
    rule.exceptions
        .iter()
        .filter(|ex| !ex.values.is_empty())
        .flat_map(|ex| match &ex.fields {
            ExceptionFields::Single(f) => vec![f.clone()],
            ExceptionFields::List(fs) => fs.clone(),
        })
        .collect()
}
