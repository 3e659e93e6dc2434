//! What the loader hands the compiler: every list, macro and rule after all files were
//! read and appends/overrides applied, in definition order, with source positions.

use crate::priority::Priority;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Where a YAML node starts. Line and column are 1-based.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourcePos {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
    pub offset: usize,
}

/// A YAML scalar's text with the position of its first character and how it was written.
/// Block scalars (`>`/`|`) start on the line after their indicator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    pub value: String,
    pub pos: SourcePos,
    /// `true` for plain (unquoted, non-block) scalars, whose source text equals `value`:
    /// only then do positions inside the value map one-to-one onto the file.
    pub plain: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListDef {
    pub name: String,
    /// Items as written; an item may name an earlier list (expanded by the compiler).
    pub items: Vec<String>,
    /// Position of the item (`- list:` mapping).
    pub pos: SourcePos,
    /// Load counter at the first definition.
    pub index: usize,
    /// Load counter at the last define/append/override: what this list can see (lists
    /// whose index is lower). See Falco's collector.
    pub visibility: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroDef {
    pub name: String,
    pub condition: Text,
    pub pos: SourcePos,
    /// Load counter at the first definition.
    pub index: usize,
    /// Load counter at the last define/append/override: the macro can reference macros
    /// whose index is lower.
    pub visibility: usize,
}

/// The `fields` of an exception: one field name, or a list of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExceptionFields {
    Single(String),
    List(Vec<String>),
}

/// One value of an exception entry: a scalar, or a YAML list (rendered as `(a, b)`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExceptionValue {
    Scalar(String),
    List(Vec<String>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionDef {
    pub name: String,
    pub fields: ExceptionFields,
    /// Operators, one per field (defaults already applied: `=` per field for lists, `in` for a single field).
    pub comps: Vec<String>,
    /// For a field list: one tuple per entry, each as long as `fields`. For a single field: one
    /// value per entry (each tuple has exactly one element).
    pub values: Vec<Vec<ExceptionValue>>,
    pub pos: SourcePos,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RuleDef {
    pub name: String,
    pub condition: Text,
    pub output: Text,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExceptionDef>,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration_ms: u64,
    pub pos: SourcePos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRequirement {
    pub name: String,
    pub version: String,
    pub alternatives: Vec<(String, String)>,
}

/// Everything loaded so far. Redefinitions keep the index of the first definition.
#[derive(Clone, Debug, Default)]
pub struct Collection {
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    /// Counts every define/append/override across lists, macros and rules; an item's index
    /// and visibility are values of this counter.
    pub counter: usize,
    /// The highest `required_engine_version` seen, as (major, minor, patch).
    pub required_engine_version: Option<(u64, u64, u64)>,
    pub required_plugins: Vec<PluginRequirement>,
    pub list_index: HashMap<String, usize>,
    pub macro_index: HashMap<String, usize>,
    pub rule_index: HashMap<String, usize>,
}

impl Collection {
    pub fn list(&self, name: &str) -> Option<&ListDef> {
        self.list_index.get(name).map(|&i| &self.lists[i])
    }

    pub fn macro_def(&self, name: &str) -> Option<&MacroDef> {
        self.macro_index.get(name).map(|&i| &self.macros[i])
    }

    pub fn rule(&self, name: &str) -> Option<&RuleDef> {
        self.rule_index.get(name).map(|&i| &self.rules[i])
    }
}
