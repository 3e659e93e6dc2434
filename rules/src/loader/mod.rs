//! The rules-file loader: reads Falco rules files into a [`Collection`] with Falco's
//! semantics and reports problems with Falco's codes, messages and contexts.
//!
//! [`read_rules`] applies one file; call it once per file, in load order, on the same
//! collection (appends and overrides refer to earlier files). Resolving lists and macros,
//! compiling conditions and outputs, and the warnings that need them (unused items, event
//! types, unknown fields and sources) belong to the compiler.
//!
//! Deliberate differences from Falco 0.44:
//! * positions are 1-based (Falco prints yaml-cpp's 0-based marks); block scalars are located
//!   at their first content character rather than at the `|`/`>` indicator;
//! * YAML syntax errors are found by `saphyr-parser`, so their wording and position can differ
//!   from yaml-cpp's; the common ones are translated to yaml-cpp's wording, and every message
//!   keeps yaml-cpp's `yaml-cpp: error at line L, column C: …` shape;
//! * exception values are checked (`Fields and values lists must have equal length`, `Expected
//!   values array to contain a list of strings`) when the rule is read, not when it is compiled,
//!   so such an error can come before a compile error that Falco would report first;
//! * exceptions replaced through `override: {exceptions: replace}` are checked like new ones
//!   (Falco copies them unchecked), and a replaced condition or output keeps the position of its
//!   new text (Falco keeps the old one);
//! * unknown keys (`LOAD_UNKNOWN_KEY`, Falco 0.44) are also reported inside exceptions; the
//!   message wording is ours: `Unknown key 'K'`;
//! * on an error the collection keeps what was applied before it, as Falco's collector does;
//!   callers treat any error as fatal.

mod collector;
mod context;
mod decode;
mod exceptions;
mod files;
mod lists_macros;
mod messages;
mod render;
mod rule;
mod version;

#[cfg(test)]
mod tests;

pub use context::snippet;
pub(crate) use context::starts_like_rules;
pub use exceptions::{exception_condition, exception_fields};
pub use files::{rules_files, MissingEntry, RulesFiles};
pub use render::{render_json, render_json_results, render_summary, render_text};
pub use rule::DEFAULT_SOURCE;
pub use version::{
    check_plugin_requirements, compatible, parse_version, version_string, PluginRequirementError,
    Version, BUILTIN_PLUGINS, CONTAINER_PLUGIN_VERSION, ENGINE_VERSION,
};

use crate::collection::{Collection, SourcePos, Text};
use crate::diag::{Code, Diagnostic, ErrorCode, WarningCode};
use crate::yaml::{self, Mark, Node, ScalarStyle, YamlError};
use context::{Ctx, LoadError};
use std::path::Path;
use std::sync::Arc;

/// Reads one rules file and applies its items, in order, to `collection`. Returns the
/// warnings and errors in the order they were found; reading stops at the first error.
pub fn read_rules(file_name: &str, content: &str, collection: &mut Collection) -> Vec<Diagnostic> {
    let mut reader = Reader {
        file: Arc::from(file_name),
        content,
        collection,
        diags: Vec::new(),
    };
    let root = Ctx::file(file_name);
    if let Err(e) = reader.read_documents(&root) {
        let diag = e
            .ctx
            .diagnostic(Code::Error(e.code), e.message, file_name, content);
        reader.diags.push(diag);
    }
    reader.diags
}

/// Reads a rules file from disk and applies it like [`read_rules`], naming it by its path.
/// A file that cannot be read gives `LOAD_ERR_FILE_READ`. Bytes that are not UTF-8 are
/// replaced (yaml-cpp passes them through), so such a file still loads.
pub fn read_rules_file(path: &Path, collection: &mut Collection) -> Vec<Diagnostic> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => read_rules(&name, &String::from_utf8_lossy(&bytes), collection),
        Err(e) => vec![Ctx::file(&name).diagnostic(
            Code::Error(ErrorCode::FileRead),
            format!("Could not open {name} for reading: {e}"),
            &name,
            "",
        )],
    }
}

/// The state of reading one file.
pub(crate) struct Reader<'a> {
    file: Arc<str>,
    content: &'a str,
    pub(crate) collection: &'a mut Collection,
    diags: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn read_documents(&mut self, root: &Ctx) -> Result<(), LoadError> {
        let documents = yaml::load_all(self.content).map_err(|e| parse_error(&e, root))?;
        for doc in documents.iter().filter(|d| !d.is_null()) {
            let Some(items) = doc.as_sequence() else {
                let message = if doc.as_mapping().is_some() {
                    "Rules content is not yaml array of objects"
                } else {
                    "Rules content is not yaml"
                };
                return Err(LoadError::shape(message, root));
            };
            for item in items.iter().filter(|i| !i.is_null()) {
                self.read_item(item, root)?;
            }
        }
        Ok(())
    }

    /// The item's kind is the first of these keys it has.
    fn read_item(&mut self, item: &Node, root: &Ctx) -> Result<(), LoadError> {
        if item.as_mapping().is_none() {
            return Err(LoadError::shape(
                "Unexpected element type. Each element should be a yaml associative array.",
                &root.child("rules content item", "", item.mark),
            ));
        }
        if item.get("required_engine_version").is_some() {
            version::read_engine_version(self, item, root)
        } else if item.get("required_plugin_versions").is_some() {
            version::read_plugin_versions(self, item, root)
        } else if item.get("list").is_some() {
            lists_macros::read_list(self, item, root)
        } else if item.get("macro").is_some() {
            lists_macros::read_macro(self, item, root)
        } else if item.get("rule").is_some() {
            rule::read_rule(self, item, root)
        } else {
            self.warn(
                WarningCode::UnknownItem,
                "Unknown top level item",
                &root.child("rules content item", "", item.mark),
            );
            Ok(())
        }
    }

    pub(crate) fn warn(&mut self, code: WarningCode, message: impl Into<String>, ctx: &Ctx) {
        let diag = ctx.clone().diagnostic(
            Code::Warning(code),
            message.into(),
            &self.file,
            self.content,
        );
        self.diags.push(diag);
    }

    /// `LOAD_UNKNOWN_KEY` for every key of `item` not in `known`; such keys are ignored.
    pub(crate) fn warn_unknown_keys(&mut self, item: &Node, known: &[&str], ctx: &Ctx) {
        for entry in item.as_mapping().unwrap_or_default() {
            let Some(key) = entry.key.as_string_like() else {
                continue;
            };
            if !known.contains(&key) {
                let key_ctx = ctx.child("value for", key, entry.key.mark);
                self.warn(
                    WarningCode::UnknownKey,
                    format!("Unknown key '{key}'"),
                    &key_ctx,
                );
            }
        }
    }

    pub(crate) fn pos(&self, mark: Mark) -> SourcePos {
        SourcePos {
            file: Arc::clone(&self.file),
            line: mark.line,
            col: mark.column,
            offset: mark.offset,
        }
    }

    /// A required non-empty scalar as [`Text`], positioned at its first character (inside
    /// the quotes for quoted scalars).
    pub(crate) fn text(&self, item: &Node, key: &str, ctx: &Ctx) -> Result<Text, LoadError> {
        let node = decode::scalar(item, key, ctx, true)?;
        let (value, style) = node
            .and_then(Node::as_scalar)
            .map_or((String::new(), ScalarStyle::Plain), |s| {
                (s.text.clone(), s.style)
            });
        let mut mark = node.map_or(item.mark, |n| n.mark);
        if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) {
            mark.column = mark.column.saturating_add(1);
            mark.offset = mark.offset.saturating_add(1);
        }
        Ok(Text {
            value,
            pos: self.pos(mark),
            plain: style == ScalarStyle::Plain,
        })
    }
}

/// `LOAD_ERR_YAML_PARSE` with yaml-cpp's message shape, located at the error.
fn parse_error(e: &YamlError, root: &Ctx) -> LoadError {
    LoadError {
        code: ErrorCode::YamlParse,
        message: format!(
            "yaml-cpp: error at line {}, column {}: {}",
            e.mark.line,
            e.mark.column,
            yaml_cpp_wording(&e.message)
        ),
        ctx: root.child("value for", "", e.mark),
    }
}

/// yaml-cpp's words for the syntax errors rules authors usually make.
fn yaml_cpp_wording(message: &str) -> &str {
    match message {
        "mapping values are not allowed in this context" => "illegal map value",
        "mapping keys are not allowed in this context" => "illegal map key",
        "block sequence entries are not allowed in this context" => "illegal block entry",
        "while parsing a flow sequence, expected ',' or ']'" => "end of sequence flow not found",
        "while parsing a flow mapping, did not find expected ',' or '}'" => {
            "end of map flow not found"
        }
        "while parsing a block collection, did not find expected '-' indicator" => {
            "end of sequence not found"
        }
        "while parsing a block mapping, did not find expected key" => "end of map not found",
        "while scanning a quoted scalar, found unexpected end of stream" => "illegal EOF in scalar",
        "while parsing node, found unknown anchor" => "the referenced anchor is not defined",
        other => other,
    }
}
