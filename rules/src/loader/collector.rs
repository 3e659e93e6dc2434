//! Applying items to the [`Collection`] with Falco's collector semantics: a definition
//! replaces an earlier one of the same name in place (keeping its index, hence the rule
//! evaluation order of the first definition); an append extends it; a replace overwrites only
//! the keys given.

use super::context::{Ctx, LoadError};
use super::exceptions::{self, RawException};
use super::messages::{
    ERROR_NO_PREVIOUS_LIST, ERROR_NO_PREVIOUS_MACRO, ERROR_NO_PREVIOUS_RULE_APPEND,
    ERROR_NO_PREVIOUS_RULE_REPLACE,
};
use crate::collection::{Collection, ListDef, MacroDef, RuleDef, Text};
use crate::priority::Priority;
use std::collections::{BTreeSet, HashMap};

/// Inserts `def` under `name`, or replaces the earlier definition at its index.
fn define<T>(defs: &mut Vec<T>, index: &mut HashMap<String, usize>, name: &str, def: T) {
    if let Some(slot) = index.get(name).and_then(|&i| defs.get_mut(i)) {
        *slot = def;
        return;
    }
    index.insert(name.to_string(), defs.len());
    defs.push(def);
}

fn existing<'c, T>(
    defs: &'c mut [T],
    index: &HashMap<String, usize>,
    name: &str,
) -> Option<&'c mut T> {
    index.get(name).and_then(|&i| defs.get_mut(i))
}

/// `old new`: Falco joins appended text with one space. Positions inside the result no longer
/// map onto one scalar of the file.
fn append_text(text: &mut Text, more: &str) {
    text.value.push(' ');
    text.value.push_str(more);
    text.plain = false;
}

/// Ticks the load counter shared by every define/append/replace (Falco's `m_cur_index`).
fn tick(c: &mut Collection) -> usize {
    let id = c.counter;
    c.counter += 1;
    id
}

/// A new list or macro gets index = visibility = the counter; a redefinition keeps the
/// first index but sees everything defined up to now.
fn first_index<T>(
    defs: &[T],
    index: &HashMap<String, usize>,
    name: &str,
    get: impl Fn(&T) -> usize,
    id: usize,
) -> usize {
    index
        .get(name)
        .and_then(|&i| defs.get(i))
        .map(get)
        .unwrap_or(id)
}

pub(crate) fn define_list(c: &mut Collection, mut def: ListDef) {
    let id = tick(c);
    def.index = first_index(&c.lists, &c.list_index, &def.name, |l| l.index, id);
    def.visibility = id;
    let name = def.name.clone();
    define(&mut c.lists, &mut c.list_index, &name, def);
}

pub(crate) fn append_list(c: &mut Collection, def: ListDef, ctx: &Ctx) -> Result<(), LoadError> {
    let id = c.counter;
    let prev = existing(&mut c.lists, &c.list_index, &def.name)
        .ok_or_else(|| LoadError::validate(ERROR_NO_PREVIOUS_LIST, ctx))?;
    prev.items.extend(def.items);
    prev.visibility = id;
    c.counter += 1;
    Ok(())
}

pub(crate) fn define_macro(c: &mut Collection, mut def: MacroDef) {
    let id = tick(c);
    def.index = first_index(&c.macros, &c.macro_index, &def.name, |m| m.index, id);
    def.visibility = id;
    let name = def.name.clone();
    define(&mut c.macros, &mut c.macro_index, &name, def);
}

pub(crate) fn append_macro(c: &mut Collection, def: MacroDef, ctx: &Ctx) -> Result<(), LoadError> {
    let id = c.counter;
    let prev = existing(&mut c.macros, &c.macro_index, &def.name)
        .ok_or_else(|| LoadError::validate(ERROR_NO_PREVIOUS_MACRO, ctx))?;
    append_text(&mut prev.condition, &def.condition.value);
    prev.visibility = id;
    c.counter += 1;
    Ok(())
}

/// A new rule (or a redefinition). `def.exceptions` is filled from `raw_exceptions`.
pub(crate) fn define_rule(
    c: &mut Collection,
    mut def: RuleDef,
    raw_exceptions: Vec<RawException>,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    if c.rule(&def.name)
        .is_some_and(|prev| prev.source != def.source)
    {
        return Err(LoadError::validate(
            "Rule has been re-defined with a different source",
            ctx,
        ));
    }
    def.exceptions = exceptions::define(raw_exceptions)?;
    tick(c);
    let name = def.name.clone();
    define(&mut c.rules, &mut c.rule_index, &name, def);
    Ok(())
}

/// The legacy `- rule: X` + `enabled: …` item.
pub(crate) fn enable_rule(
    c: &mut Collection,
    name: &str,
    enabled: bool,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    let prev = existing(&mut c.rules, &c.rule_index, name).ok_or_else(|| {
        LoadError::validate(
            "Rule has 'enabled' key but no rule by that name already exists",
            ctx,
        )
    })?;
    prev.enabled = enabled;
    Ok(())
}

/// The keys an append or replace item gives for an existing rule.
#[derive(Debug, Default)]
pub(crate) struct RuleUpdate {
    pub(crate) condition: Option<Text>,
    pub(crate) output: Option<Text>,
    pub(crate) desc: Option<String>,
    pub(crate) tags: Option<BTreeSet<String>>,
    pub(crate) exceptions: Option<Vec<RawException>>,
    pub(crate) priority: Option<Priority>,
    pub(crate) enabled: Option<bool>,
    pub(crate) warn_evttypes: Option<bool>,
    pub(crate) skip_if_unknown_filter: Option<bool>,
    pub(crate) capture: Option<bool>,
    pub(crate) capture_duration_ms: Option<u64>,
}

impl RuleUpdate {
    fn has_any_value(&self) -> bool {
        self.condition.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.enabled.is_some()
            || self.warn_evttypes.is_some()
            || self.skip_if_unknown_filter.is_some()
            || self.capture.is_some()
            || self.capture_duration_ms.is_some()
    }
}

/// `append: true` or `override: {key: append}`: texts are joined with a space, tags united,
/// exceptions added or given more values.
pub(crate) fn append_rule(
    c: &mut Collection,
    name: &str,
    update: RuleUpdate,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    let prev = existing(&mut c.rules, &c.rule_index, name)
        .ok_or_else(|| LoadError::validate(ERROR_NO_PREVIOUS_RULE_APPEND, ctx))?;
    if !update.has_any_value() {
        return Err(LoadError::validate(
            "Appended rule must have exceptions or condition property",
            ctx,
        ));
    }
    if let Some(cond) = update.condition.filter(|t| !t.value.is_empty()) {
        append_text(&mut prev.condition, &cond.value);
    }
    if let Some(output) = update.output.filter(|t| !t.value.is_empty()) {
        append_text(&mut prev.output, &output.value);
    }
    if let Some(desc) = update.desc.filter(|d| !d.is_empty()) {
        prev.desc.push(' ');
        prev.desc.push_str(&desc);
    }
    if let Some(tags) = update.tags {
        prev.tags.extend(tags);
    }
    if let Some(raw) = update.exceptions {
        exceptions::append(prev, raw)?;
    }
    c.counter += 1;
    Ok(())
}

/// `override: {key: replace}`: only the keys given change. Replaced exceptions get the same
/// checks as new ones (Falco copies them unchecked and can crash building the condition).
/// A replaced condition or output keeps the position of its new text.
pub(crate) fn replace_rule(
    c: &mut Collection,
    name: &str,
    update: RuleUpdate,
    ctx: &Ctx,
) -> Result<(), LoadError> {
    let prev = existing(&mut c.rules, &c.rule_index, name)
        .ok_or_else(|| LoadError::validate(ERROR_NO_PREVIOUS_RULE_REPLACE, ctx))?;
    if !update.has_any_value() {
        return Err(LoadError::validate(
            "The rule must have at least one field that can be replaced",
            ctx,
        ));
    }
    if let Some(raw) = update.exceptions {
        prev.exceptions = exceptions::define(raw)?;
    }
    if let Some(condition) = update.condition {
        prev.condition = condition;
    }
    if let Some(output) = update.output {
        prev.output = output;
    }
    if let Some(desc) = update.desc {
        prev.desc = desc;
    }
    if let Some(tags) = update.tags {
        prev.tags = tags;
    }
    if let Some(priority) = update.priority {
        prev.priority = priority;
    }
    if let Some(enabled) = update.enabled {
        prev.enabled = enabled;
    }
    if let Some(warn) = update.warn_evttypes {
        prev.warn_evttypes = warn;
    }
    if let Some(skip) = update.skip_if_unknown_filter {
        prev.skip_if_unknown_filter = skip;
    }
    if let Some(capture) = update.capture {
        prev.capture = capture;
    }
    if let Some(duration) = update.capture_duration_ms {
        prev.capture_duration_ms = duration;
    }
    c.counter += 1;
    Ok(())
}
