//! A small YAML document tree with source positions, built from `saphyr-parser` events.
//!
//! It exposes what Falco's rules loader sees through yaml-cpp:
//! * plain `~`, `null`, `Null`, `NULL` and empty scalars without a tag are null;
//! * mappings keep every entry in order, and [`Node::get`] returns the *first* entry whose key
//!   matches, as yaml-cpp's `node[key]` does (duplicate keys are neither rejected nor reported);
//! * aliases are resolved by copying the anchored node, within a size budget so that a
//!   "billion laughs" document fails with an error instead of exhausting memory;
//! * nesting is limited to [`MAX_DEPTH`] collections, so no recursion over the tree can
//!   overflow the stack;
//! * a flow collection closed on its own line at its key's indentation is accepted, as by
//!   yaml-cpp (see [`load_all`]).
//!
//! Positions are 1-based lines and columns (columns count characters) plus a byte offset.

use saphyr_parser::{Event, Marker, Parser, ScalarStyle as ParserStyle};
use std::collections::HashMap;

/// The deepest nesting of sequences and mappings accepted. Rules files use fewer than ten levels.
pub const MAX_DEPTH: usize = 256;

/// Alias copies may add at most this many bytes (or 4× the input size, if larger).
const MIN_ALIAS_BUDGET: usize = 16 * 1024 * 1024;

/// What an alias copy of one node costs against the budget, besides its text.
const NODE_COST: usize = 32;

/// Where a node starts: 1-based line and column (in characters), and the byte offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mark {
    pub line: u32,
    pub column: u32,
    pub offset: usize,
}

/// How a scalar was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scalar {
    pub text: String,
    pub style: ScalarStyle,
}

/// One `key: value` pair of a mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Null,
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<Entry>),
}

/// A YAML node and where it starts. Block scalars start at their first content character
/// (the line after the `|`/`>` indicator); quoted scalars at the opening quote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub content: Content,
    pub mark: Mark,
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self.content, Content::Null)
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.content {
            Content::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.content {
            Content::Sequence(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.content {
            Content::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of the first entry whose key is the scalar `key` (yaml-cpp's `node[key]`).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?
            .iter()
            .find(|e| e.key.as_str() == Some(key))
            .map(|e| &e.value)
    }

    /// The text yaml-cpp's `as<std::string>()` gives: the scalar, or `null` for a null node;
    /// `None` for collections.
    pub fn as_string_like(&self) -> Option<&str> {
        match &self.content {
            Content::Null => Some("null"),
            Content::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Nesting height: 0 for scalars and null, 1 + the tallest child for collections.
    fn height(&self) -> usize {
        match &self.content {
            Content::Null | Content::Scalar(_) => 0,
            Content::Sequence(items) => 1 + items.iter().map(Node::height).max().unwrap_or(0),
            Content::Mapping(entries) => {
                1 + entries
                    .iter()
                    .map(|e| e.key.height().max(e.value.height()))
                    .max()
                    .unwrap_or(0)
            }
        }
    }

    /// What copying this node for an alias costs against the budget.
    fn copy_cost(&self) -> usize {
        NODE_COST
            + match &self.content {
                Content::Null => 0,
                Content::Scalar(s) => s.text.len(),
                Content::Sequence(items) => items.iter().map(Node::copy_cost).sum(),
                Content::Mapping(entries) => entries
                    .iter()
                    .map(|e| e.key.copy_cost() + e.value.copy_cost())
                    .sum(),
            }
    }
}

/// A syntax error, or a document that exceeds the depth or alias limits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {}, column {}", mark.line, mark.column)]
pub struct YamlError {
    /// The parser's description, without position.
    pub message: String,
    pub mark: Mark,
}

/// How many times [`load_all`] re-parses to accept closing brackets that yaml-cpp accepts.
const MAX_BRACKET_FIXES: usize = 128;

/// Parses every document of a YAML stream. An empty stream has no documents; an empty
/// document is a null node.
///
/// yaml-cpp accepts a flow collection closed on its own line at the indentation of the key
/// that owns it (upstream rules do this after quoted items); saphyr-parser rejects it with
/// "invalid indentation". Such a bracket is moved right by inserting blanks before it and the
/// input is parsed again; positions are mapped back to the original text.
pub fn load_all(input: &str) -> Result<Vec<Node>, YamlError> {
    let mut text = std::borrow::Cow::Borrowed(input);
    let mut patches: Vec<Patch> = Vec::new();
    for _ in 0..MAX_BRACKET_FIXES {
        let positions = Positions::new(&text, &patches);
        match parse(&text, &positions) {
            Ok(docs) => return Ok(docs),
            Err((error, Some(at))) => match misindented_bracket(&text, at) {
                Some(line) => {
                    let added = grow_patch(&mut patches, at, line);
                    text.to_mut().insert_str(at, &" ".repeat(added));
                }
                None => return Err(error),
            },
            Err((error, None)) => return Err(error),
        }
    }
    let positions = Positions::new(&text, &patches);
    parse(&text, &positions).map_err(|(error, _)| error)
}

/// Parses `text`; a failure carries the byte offset (in `text`) of an "invalid indentation"
/// error, which may be a bracket to fix.
fn parse(text: &str, positions: &Positions) -> Result<Vec<Node>, (YamlError, Option<usize>)> {
    let mut builder = Builder::new(positions, text.len());
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let fixable =
                (e.info() == "invalid indentation").then(|| positions.text_offset(*e.marker()));
            let error = YamlError {
                message: e.info().to_string(),
                mark: positions.mark(*e.marker()),
            };
            (error, fixable)
        })?;
        builder.on_event(event, span.start).map_err(|e| (e, None))?;
    }
    Ok(builder.documents)
}

/// The line (0-based) of a closing bracket at `at` that has only blanks before it.
fn misindented_bracket(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if !matches!(bytes.get(at), Some(b']' | b'}')) {
        return None;
    }
    let before = bytes.get(..at)?;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    if !before.get(line_start..)?.iter().all(|&b| b == b' ') {
        return None;
    }
    Some(before.iter().filter(|&&b| b == b'\n').count())
}

/// Records blanks inserted before the bracket at `at`; a bracket that needs more gets twice
/// as many as last time. Returns how many blanks to insert now.
fn grow_patch(patches: &mut Vec<Patch>, at: usize, line: usize) -> usize {
    if let Some(last) = patches.last_mut() {
        if last.line == line && last.at + last.added == at {
            let more = last.added;
            last.added += more;
            return more;
        }
    }
    patches.push(Patch { at, added: 1, line });
    1
}

/// Blanks inserted into the text before parsing: `added` bytes at byte `at` of the patched
/// text, on 0-based line `line`.
#[derive(Clone, Copy, Debug)]
struct Patch {
    at: usize,
    added: usize,
    line: usize,
}

/// Converts the parser's markers (character index, 0-based column) into [`Mark`]s of the
/// original input.
struct Positions {
    /// Byte offset of every character, when the text is not pure ASCII.
    char_offsets: Option<Vec<usize>>,
    len: usize,
    patches: Vec<Patch>,
}

impl Positions {
    fn new(text: &str, patches: &[Patch]) -> Positions {
        let char_offsets =
            (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        Positions {
            char_offsets,
            len: text.len(),
            patches: patches.to_vec(),
        }
    }

    /// The byte offset in the (patched) text.
    fn text_offset(&self, m: Marker) -> usize {
        match &self.char_offsets {
            None => m.index().min(self.len),
            Some(offsets) => offsets.get(m.index()).copied().unwrap_or(self.len),
        }
    }

    fn mark(&self, m: Marker) -> Mark {
        let offset = self.text_offset(m);
        let mut shift = 0;
        let mut column_shift = 0;
        for p in &self.patches {
            let inserted_before = offset.saturating_sub(p.at).min(p.added);
            shift += inserted_before;
            if p.line + 1 == m.line() {
                column_shift += inserted_before;
            }
        }
        Mark {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
            column: u32::try_from(m.col().saturating_sub(column_shift).saturating_add(1))
                .unwrap_or(u32::MAX),
            offset: offset - shift.min(offset),
        }
    }
}

/// An open collection while its events arrive.
enum Frame {
    Sequence {
        mark: Mark,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        mark: Mark,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<Node>,
    },
}

struct Anchored {
    node: Node,
    height: usize,
    cost: usize,
}

struct Builder<'p> {
    positions: &'p Positions,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    documents: Vec<Node>,
    alias_budget: usize,
}

impl<'p> Builder<'p> {
    fn new(positions: &'p Positions, input_len: usize) -> Builder<'p> {
        Builder {
            positions,
            stack: Vec::new(),
            anchors: HashMap::new(),
            documents: Vec::new(),
            alias_budget: MIN_ALIAS_BUDGET.max(input_len.saturating_mul(4)),
        }
    }

    fn on_event(&mut self, event: Event<'_>, start: Marker) -> Result<(), YamlError> {
        let mark = self.positions.mark(start);
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => Ok(()),
            Event::DocumentStart(_) => {
                self.anchors.clear();
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let content = scalar_content(text.into_owned(), style, tag.is_some());
                self.complete(Node { content, mark }, anchor)
            }
            Event::SequenceStart(anchor, _) => self.open(Frame::Sequence {
                mark,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.open(Frame::Mapping {
                mark,
                anchor,
                entries: Vec::new(),
                pending_key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => self.close(mark),
            Event::Alias(id) => self.alias(id, mark),
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            let mark = match &frame {
                Frame::Sequence { mark, .. } | Frame::Mapping { mark, .. } => *mark,
            };
            return Err(YamlError {
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
                mark,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self, end: Mark) -> Result<(), YamlError> {
        let (node, anchor) = match self.stack.pop() {
            Some(Frame::Sequence {
                mark,
                anchor,
                items,
            }) => (
                Node {
                    content: Content::Sequence(items),
                    mark,
                },
                anchor,
            ),
            Some(Frame::Mapping {
                mark,
                anchor,
                mut entries,
                pending_key,
            }) => {
                // The parser always sends a value after a key; keep the key if it did not.
                if let Some(key) = pending_key {
                    let value = Node {
                        content: Content::Null,
                        mark: end,
                    };
                    entries.push(Entry { key, value });
                }
                (
                    Node {
                        content: Content::Mapping(entries),
                        mark,
                    },
                    anchor,
                )
            }
            None => {
                return Err(YamlError {
                    message: "unbalanced end of collection".to_string(),
                    mark: end,
                })
            }
        };
        self.complete(node, anchor)
    }

    fn alias(&mut self, id: usize, mark: Mark) -> Result<(), YamlError> {
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(YamlError {
                message: "the referenced anchor is not defined".to_string(),
                mark,
            });
        };
        if self.stack.len() + anchored.height > MAX_DEPTH {
            return Err(YamlError {
                message: format!("alias expands to nesting deeper than {MAX_DEPTH} levels"),
                mark,
            });
        }
        if anchored.cost > self.alias_budget {
            return Err(YamlError {
                message: "aliases expand to too much data (possible YAML bomb)".to_string(),
                mark,
            });
        }
        self.alias_budget -= anchored.cost;
        let mut node = anchored.node.clone();
        node.mark = mark;
        self.insert(node);
        Ok(())
    }

    /// A node is finished: remember it under its anchor and put it into its parent.
    fn complete(&mut self, node: Node, anchor: usize) -> Result<(), YamlError> {
        if anchor > 0 {
            let anchored = Anchored {
                height: node.height(),
                cost: node.copy_cost(),
                node: node.clone(),
            };
            self.anchors.insert(anchor, anchored);
        }
        self.insert(node);
        Ok(())
    }

    fn insert(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push(Entry { key, value: node }),
            },
        }
    }
}

/// yaml-cpp only treats untagged plain scalars as null.
fn scalar_content(text: String, style: ParserStyle, tagged: bool) -> Content {
    let style = match style {
        ParserStyle::Plain => ScalarStyle::Plain,
        ParserStyle::SingleQuoted => ScalarStyle::SingleQuoted,
        ParserStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
        ParserStyle::Literal => ScalarStyle::Literal,
        ParserStyle::Folded => ScalarStyle::Folded,
    };
    let null_word = matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
    if style == ScalarStyle::Plain && !tagged && null_word {
        Content::Null
    } else {
        Content::Scalar(Scalar { text, style })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(input: &str) -> Node {
        let mut docs = load_all(input).expect("valid yaml");
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.remove(0)
    }

    fn mark(line: u32, column: u32, offset: usize) -> Mark {
        Mark {
            line,
            column,
            offset,
        }
    }

    #[test]
    fn scalars_keep_style_and_position() {
        let doc = one("- a: plain\n  b: 'single'\n  c: \"double\"\n  d: |\n    lit\n  e: >\n    fold\n    ed\n");
        let item = &doc.as_sequence().expect("seq")[0];
        assert_eq!(item.mark, mark(1, 3, 2));
        let style = |k: &str| item.get(k).and_then(Node::as_scalar).map(|s| s.style);
        assert_eq!(style("a"), Some(ScalarStyle::Plain));
        assert_eq!(style("b"), Some(ScalarStyle::SingleQuoted));
        assert_eq!(style("c"), Some(ScalarStyle::DoubleQuoted));
        assert_eq!(style("d"), Some(ScalarStyle::Literal));
        assert_eq!(style("e"), Some(ScalarStyle::Folded));
        assert_eq!(item.get("a").map(|n| n.mark), Some(mark(1, 6, 5)));
        assert_eq!(item.get("b").map(|n| n.mark), Some(mark(2, 6, 16)));
        // Block scalars start at their content, on the line after the indicator.
        assert_eq!(item.get("d").map(|n| n.mark), Some(mark(5, 5, 50)));
        assert_eq!(item.get("d").and_then(Node::as_str), Some("lit\n"));
        assert_eq!(item.get("e").and_then(Node::as_str), Some("fold ed\n"));
    }

    #[test]
    fn null_forms() {
        let doc = one("a:\nb: ~\nc: null\nd: NULL\ne: ''\nf: \"null\"\ng: !!str null\nh: Nul\n");
        for k in ["a", "b", "c", "d"] {
            assert!(doc.get(k).is_some_and(Node::is_null), "{k}");
        }
        for k in ["e", "f", "g", "h"] {
            assert!(doc.get(k).is_some_and(|n| n.as_scalar().is_some()), "{k}");
        }
        assert_eq!(doc.get("a").and_then(Node::as_string_like), Some("null"));
    }

    #[test]
    fn mapping_keeps_order_and_first_duplicate_wins() {
        let doc = one("z: 1\na: 2\nz: 3\n");
        let keys: Vec<_> = doc
            .as_mapping()
            .expect("map")
            .iter()
            .filter_map(|e| e.key.as_str())
            .collect();
        assert_eq!(keys, ["z", "a", "z"]);
        assert_eq!(doc.get("z").and_then(Node::as_str), Some("1"));
        assert!(doc.get("missing").is_none());
    }

    #[test]
    fn multiple_documents_and_empty_ones() {
        let docs = load_all("---\n...\n---\n- a\n---\nb: 1\n").expect("valid");
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_null());
        assert!(docs[1].as_sequence().is_some());
        assert!(docs[2].as_mapping().is_some());
        assert!(load_all("").expect("empty").is_empty());
        assert!(load_all("# only a comment\n").expect("comment").is_empty());
    }

    #[test]
    fn aliases_are_resolved() {
        let doc = one("base: &b [x, y]\nuse: *b\n");
        assert_eq!(
            doc.get("base").map(|n| &n.content),
            doc.get("use").map(|n| &n.content)
        );
        assert_eq!(doc.get("use").map(|n| n.mark), Some(mark(2, 6, 21)));
    }

    #[test]
    fn unknown_alias_is_an_error() {
        let err = load_all("a: *nope\n").expect_err("unknown anchor");
        assert_eq!(err.mark.line, 1);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = load_all("this : is : not : yaml\n").expect_err("invalid");
        assert_eq!(
            err.message,
            "mapping values are not allowed in this context"
        );
        assert_eq!(err.mark, mark(1, 11, 10));
        let err = load_all("- a: [1, 2\n").expect_err("unterminated");
        assert_eq!(err.mark.line, 2);
    }

    #[test]
    fn non_ascii_offsets_are_bytes_and_columns_are_characters() {
        let doc = one("- é: ü\n  b: x\n");
        let item = &doc.as_sequence().expect("seq")[0];
        assert_eq!(item.get("é").map(|n| n.mark), Some(mark(1, 6, 6)));
        assert_eq!(item.get("b").map(|n| n.mark), Some(mark(2, 6, 14)));
    }

    #[test]
    fn billion_laughs_is_rejected() {
        let mut doc = String::from("a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
        for i in 1..12 {
            let prev = format!("*a{}", i - 1);
            let refs = vec![prev; 9].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load_all(&doc).expect_err("bomb");
        assert!(err.message.contains("too much data"), "{err}");
    }

    #[test]
    fn deep_nesting_is_rejected() {
        // Block sequences nested on one line: `- - - x`.
        let deep = format!("{}x\n", "- ".repeat(MAX_DEPTH + 1));
        let err = load_all(&deep).expect_err("too deep");
        assert!(err.message.contains("nesting deeper"), "{err}");
        let ok = format!("{}x\n", "- ".repeat(MAX_DEPTH));
        assert!(load_all(&ok).is_ok());
        // The parser has its own, lower limit for flow collections.
        assert!(load_all(&"[".repeat(100_000)).is_err());
    }

    #[test]
    fn closing_bracket_at_key_indentation_is_accepted() {
        let input = "- list: a\n  items: [\n    \"x\",\n    \"y\"\n  ]\n- list: b\n  items: [\"z\",\n]\n- c: d\n";
        let docs = load_all(input).expect("yaml-cpp accepts this");
        let items = docs[0].as_sequence().expect("seq");
        let a = items[0]
            .get("items")
            .and_then(Node::as_sequence)
            .expect("a items");
        assert_eq!(
            a.iter().filter_map(Node::as_str).collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert_eq!(a[1].mark, mark(4, 5, 34));
        let b = &items[1];
        assert_eq!(b.mark, mark(6, 3, 44));
        assert_eq!(b.get("items").map(|n| n.mark), Some(mark(7, 10, 61)));
        assert_eq!(items[2].mark, mark(9, 3, 71));
        assert_eq!(&input[71..72], "c");
        // A bracket that is not alone on its line is a real error.
        assert!(load_all("- a: [\"x\"\n  ]]\n").is_err());
    }

    #[test]
    fn alias_cannot_exceed_depth() {
        let inner = format!("{}x{}", "[".repeat(200), "]".repeat(200));
        let doc = format!(
            "a: &a {inner}\nb: {}*a{}\n",
            "[".repeat(100),
            "]".repeat(100)
        );
        let err = load_all(&doc).expect_err("too deep through alias");
        assert!(err.message.contains("nesting"), "{err}");
    }
}
