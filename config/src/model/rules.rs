//! Rule-related settings: `rules` (enable/disable selections) and `append_output`.

use crate::decode::{boolean, invalid, list, string, string_list, Cx, KeyPath};
use crate::error::{ConfigError, ConfigWarning};
use crate::tree::{Kind, Value};

/// Which rules a selection applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSelector {
    /// Rule names matching a `*` wildcard pattern.
    Rule(String),
    /// Rules carrying this tag.
    Tag(String),
}

/// One item of `rules:`, applied in order after the rules files are loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSelection {
    Enable(RuleSelector),
    Disable(RuleSelector),
}

pub(crate) fn decode_selections(
    v: &Value,
    path: &KeyPath,
    cx: &mut Cx,
) -> Result<Vec<RuleSelection>, ConfigError> {
    const ITEM: &str = "{enable: {rule: <pattern>}} or {disable: {tag: <tag>}}";
    let mut out = Vec::new();
    for (i, item) in list(v, path)?.iter().enumerate() {
        let p = path.index(i);
        let entries = cx.section(item, &p, &["enable", "disable"], &[])?;
        let [(entry, p)] = entries.as_slice() else {
            return Err(invalid(
                &p,
                format!("exactly one of enable or disable: {ITEM}"),
                item,
            ));
        };
        let selector = decode_selector(&entry.value, p, cx)?;
        out.push(if entry.key == "enable" {
            RuleSelection::Enable(selector)
        } else {
            RuleSelection::Disable(selector)
        });
    }
    Ok(out)
}

fn decode_selector(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<RuleSelector, ConfigError> {
    let entries = cx.section(v, path, &["rule", "tag"], &[])?;
    let [(entry, p)] = entries.as_slice() else {
        return Err(invalid(path, "exactly one of rule or tag", v));
    };
    let name = string(&entry.value, p)?;
    Ok(if entry.key == "rule" {
        RuleSelector::Rule(name)
    } else {
        RuleSelector::Tag(name)
    })
}

/// Which rules an `append_output` entry applies to; every given condition must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendMatch {
    /// Only rules of this source (`syscall`, …).
    pub source: Option<String>,
    /// Only rules carrying all these tags.
    pub tags: Vec<String>,
    /// Only the rule with this name.
    pub rule: Option<String>,
}

impl AppendMatch {
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.tags.is_empty() && self.rule.is_none()
    }
}

/// One `append_output` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendOutputEntry {
    /// The `match:` conditions (none: every rule).
    pub matching: AppendMatch,
    /// Output format text appended to the matching rules' outputs.
    pub extra_output: Option<String>,
    /// Append the container/k8s fields Falco's container plugin suggests.
    pub suggested_output: bool,
}

impl AppendOutputEntry {
    /// Falco's shipped default: `[{suggested_output: true}]`.
    pub fn suggested() -> Self {
        AppendOutputEntry {
            suggested_output: true,
            ..Self::default()
        }
    }
}

pub(crate) fn decode_append_output(
    v: &Value,
    path: &KeyPath,
    cx: &mut Cx,
) -> Result<Vec<AppendOutputEntry>, ConfigError> {
    let known = ["match", "extra_output", "suggested_output"];
    let ignored = [("extra_fields", "only extra_output is supported")];
    let mut out = Vec::new();
    for (i, item) in list(v, path)?.iter().enumerate() {
        let p = path.index(i);
        if !matches!(item.kind, Kind::Map(_)) {
            return Err(invalid(
                &p,
                "a mapping with match, extra_output or suggested_output",
                item,
            ));
        }
        let mut entry = AppendOutputEntry::default();
        for (e, p) in cx.section(item, &p, &known, &ignored)? {
            match e.key.as_str() {
                "match" => entry.matching = decode_match(&e.value, &p, cx)?,
                "extra_output" => entry.extra_output = Some(string(&e.value, &p)?),
                "suggested_output" => entry.suggested_output = boolean(&e.value, &p)?,
                _ => {}
            }
        }
        if entry.suggested_output && !entry.matching.is_empty() {
            // The rules compiler appends suggested fields to every syscall rule or none.
            cx.warnings.push(ConfigWarning {
                path: p.key("match").as_str().to_string(),
                reason: "suggested_output applies to every syscall rule, whatever the match".into(),
                origin: item.origin.clone(),
            });
        }
        out.push(entry);
    }
    Ok(out)
}

fn decode_match(v: &Value, path: &KeyPath, cx: &mut Cx) -> Result<AppendMatch, ConfigError> {
    let mut out = AppendMatch::default();
    for (e, p) in cx.section(v, path, &["source", "tags", "rule"], &[])? {
        match e.key.as_str() {
            "source" => out.source = Some(string(&e.value, &p)?),
            "tags" => out.tags = string_list(&e.value, &p)?,
            "rule" => out.rule = Some(string(&e.value, &p)?),
            _ => {}
        }
    }
    Ok(out)
}
