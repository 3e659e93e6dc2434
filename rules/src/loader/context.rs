//! Where a problem is: Falco's "context", a stack of locations from the file down to the
//! sub-item, and the source snippet shown under it.

use crate::collection::SourcePos;
use crate::diag::{Code, Diagnostic, ErrorCode, Location};
use crate::yaml::Mark;

/// Falco's snippet width: at most half of it on each side of the position.
const SNIPPET_WIDTH: usize = 160;

/// The location stack of one diagnostic, outermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ctx {
    locations: Vec<Location>,
}

impl Ctx {
    /// The whole file: `rules content` at line 1, column 1.
    pub(crate) fn file(file: &str) -> Ctx {
        Ctx {
            locations: vec![Location {
                item_type: "rules content".to_string(),
                item_name: String::new(),
                file: file.to_string(),
                line: 1,
                column: 1,
                offset: 0,
            }],
        }
    }

    /// A stored definition (possibly from another file), as the context of later checks.
    pub(crate) fn at_source(pos: &SourcePos, item_type: &str, item_name: &str) -> Ctx {
        Ctx::file(&pos.file).with(item_type, item_name, pos.line, pos.col, pos.offset)
    }

    /// This context plus one more location in the same file, at a YAML node.
    pub(crate) fn child(&self, item_type: &str, item_name: &str, mark: Mark) -> Ctx {
        self.with(item_type, item_name, mark.line, mark.column, mark.offset)
    }

    /// This context plus one more location at a stored position.
    pub(crate) fn child_at(&self, item_type: &str, item_name: &str, pos: &SourcePos) -> Ctx {
        self.with(item_type, item_name, pos.line, pos.col, pos.offset)
    }

    fn with(&self, item_type: &str, item_name: &str, line: u32, column: u32, offset: usize) -> Ctx {
        let mut locations = self.locations.clone();
        locations.push(Location {
            item_type: item_type.to_string(),
            item_name: item_name.to_string(),
            file: self.file_name().to_string(),
            line,
            column,
            offset,
        });
        Ctx { locations }
    }

    /// Only the file location: where Falco reports errors it cannot attribute to an item.
    pub(crate) fn root(&self) -> Ctx {
        Ctx {
            locations: self.locations.iter().take(1).cloned().collect(),
        }
    }

    fn file_name(&self) -> &str {
        self.locations.first().map_or("", |l| l.file.as_str())
    }

    /// Builds the diagnostic; the snippet comes from `content` when the innermost location
    /// is in the file being read (`file`).
    pub(crate) fn diagnostic(
        self,
        code: Code,
        message: String,
        file: &str,
        content: &str,
    ) -> Diagnostic {
        let snippet = self
            .locations
            .last()
            .filter(|l| l.file == file && starts_like_rules(content))
            .map(|l| snippet(content, l.offset));
        Diagnostic {
            code,
            message,
            context: self.locations,
            snippet,
        }
    }
}

/// An error that stops reading the file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct LoadError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) ctx: Ctx,
}

impl LoadError {
    /// `LOAD_ERR_YAML_VALIDATE`: the YAML has the wrong shape (missing key, wrong type…).
    pub(crate) fn shape(message: impl Into<String>, ctx: &Ctx) -> LoadError {
        LoadError {
            code: ErrorCode::YamlValidate,
            message: message.into(),
            ctx: ctx.clone(),
        }
    }

    /// `LOAD_ERR_VALIDATE`: the items are inconsistent (append to nothing, bad exception…).
    pub(crate) fn validate(message: impl Into<String>, ctx: &Ctx) -> LoadError {
        LoadError {
            code: ErrorCode::Validate,
            message: message.into(),
            ctx: ctx.clone(),
        }
    }
}

/// Whether `content` starts as rules files do, with a YAML sequence (`- item` or `[`), once
/// blank lines, comments, directives and document markers are passed. Only such files get
/// snippets: a rules path that names some other file (a symlink to a secret, say) gets
/// positions only, so the agent never prints that file's lines in its errors.
pub(crate) fn starts_like_rules(content: &str) -> bool {
    let first = content.lines().map(str::trim).find(|l| {
        !(l.is_empty() || l.starts_with('#') || l.starts_with('%') || *l == "---" || *l == "...")
    });
    first.is_none_or(|l| {
        let l = l.strip_prefix("--- ").map_or(l, str::trim_start);
        l == "-" || l.starts_with("- ") || l.starts_with("-\t") || l.starts_with('[')
    })
}

/// The line around byte `offset` (at most [`SNIPPET_WIDTH`] bytes, `...` where cut) and a
/// line with a caret under the position, each ending in a newline — as Falco prints it.
pub fn snippet(content: &str, offset: usize) -> String {
    const NO_CONTEXT: &str = "<No context available>\n";
    let bytes = content.as_bytes();
    if bytes.is_empty() {
        return NO_CONTEXT.to_string();
    }
    let half = SNIPPET_WIDTH / 2;
    let last = bytes.len() - 1;
    // A position at the end of the content or on a newline shows the previous line.
    let mut pos = offset.min(last);
    while pos > 0 && bytes[pos] == b'\n' {
        pos -= 1;
    }
    let mut from = pos;
    while from > 0 && bytes[from] != b'\n' && pos - from < half {
        from -= 1;
    }
    let mut to = pos;
    while to < last && bytes[to] != b'\n' && to - pos < half {
        to += 1;
    }
    if bytes[from] == b'\n' {
        from += 1;
    }
    let mut end = to + 1;
    if bytes[to] == b'\n' {
        end = to;
    }
    if from >= end {
        return NO_CONTEXT.to_string();
    }
    let mut line = bytes[from..end].to_vec();
    if pos - from >= half {
        line.splice(0..3.min(line.len()), *b"...");
    }
    if to - pos >= half {
        let start = line.len().saturating_sub(3);
        line.splice(start.., *b"...");
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    // The caret counts characters, so it lines up under non-ASCII text too.
    let caret = String::from_utf8_lossy(&bytes[from..pos.max(from)])
        .chars()
        .count();
    let mut out = line;
    out.push('\n');
    out.push_str(&" ".repeat(caret));
    out.push_str("^\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_marks_the_column() {
        let content = "- rule: a\n  priority: LOUD\n";
        let offset = content.find("LOUD").expect("present");
        assert_eq!(
            snippet(content, offset),
            "  priority: LOUD\n            ^\n"
        );
        assert_eq!(snippet(content, 0), "- rule: a\n^\n");
    }

    #[test]
    fn snippet_past_the_end_shows_the_last_line() {
        let content = "- rule: a\n  tags:\n";
        assert_eq!(snippet(content, content.len()), "  tags:\n      ^\n");
        assert_eq!(snippet("", 0), "<No context available>\n");
        assert_eq!(snippet("\n", 0), "<No context available>\n");
    }

    #[test]
    fn snippet_cuts_long_lines() {
        let content = format!("{}X{}\n", "a".repeat(100), "b".repeat(100));
        let s = snippet(&content, 100);
        let first = s.lines().next().expect("line");
        assert!(
            first.starts_with("...") && first.ends_with("..."),
            "{first}"
        );
        assert_eq!(first.len(), 161);
        assert_eq!(s.lines().nth(1).map(|l| l.find('^')), Some(Some(80)));
    }

    #[test]
    fn snippet_caret_counts_characters() {
        let content = "- rule: é x\n";
        let offset = content.find('x').expect("present");
        assert_eq!(snippet(content, offset), "- rule: é x\n          ^\n");
    }

    #[test]
    fn context_stack_and_snippet_only_for_current_file() {
        let ctx = Ctx::file("a.yaml").child(
            "rule",
            "r",
            Mark {
                line: 1,
                column: 3,
                offset: 2,
            },
        );
        let d = ctx.clone().diagnostic(
            Code::Error(ErrorCode::Validate),
            "m".to_string(),
            "a.yaml",
            "- rule: r\n",
        );
        assert_eq!(d.context.len(), 2);
        assert_eq!(d.context[1].item_name, "r");
        assert_eq!(d.snippet.as_deref(), Some("- rule: r\n  ^\n"));
        let other = ctx.diagnostic(Code::Error(ErrorCode::Validate), "m".into(), "b.yaml", "");
        assert_eq!(other.snippet, None);
    }
}
