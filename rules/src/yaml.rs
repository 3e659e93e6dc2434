//! A small YAML document tree with source positions, built from `saphyr-parser` events.
//!
//! It exposes what Falco's rules loader sees through yaml-cpp:
//! * plain `~`, `null`, `Null`, `NULL` and empty scalars without a tag are null;
//! * mappings keep every entry in order, and [`Node::get`] returns the *first* entry whose key
//!   matches, as yaml-cpp's `node[key]` does (duplicate keys are neither rejected nor reported);
//! * aliases are resolved by copying the anchored node, within a size budget so that a
//!   "billion laughs" document fails with an error instead of exhausting memory;
//! * nesting is limited to [`MAX_DEPTH`] collections, so no recursion over the tree can
//!   overflow the stack.
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

/// Parses every document of a YAML stream. An empty stream has no documents; an empty
/// document is a null node.
pub fn load_all(input: &str) -> Result<Vec<Node>, YamlError> {
    let positions = Positions::new(input);
    let mut builder = Builder::new(&positions, input.len());
    let mut parser = Parser::new_from_str(input);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| YamlError {
            message: e.info().to_string(),
            mark: positions.mark(*e.marker()),
        })?;
        builder.on_event(event, span.start)?;
    }
    Ok(builder.documents)
}

/// Converts the parser's markers (character index, 0-based column) into [`Mark`]s.
struct Positions {
    /// Byte offset of every character, when the input is not pure ASCII.
    char_offsets: Option<Vec<usize>>,
    len: usize,
}

impl Positions {
    fn new(input: &str) -> Positions {
        let char_offsets =
            (!input.is_ascii()).then(|| input.char_indices().map(|(i, _)| i).collect());
        Positions {
            char_offsets,
            len: input.len(),
        }
    }

    fn mark(&self, m: Marker) -> Mark {
        let offset = match &self.char_offsets {
            None => m.index().min(self.len),
            Some(offsets) => offsets.get(m.index()).copied().unwrap_or(self.len),
        };
        Mark {
            line: u32::try_from(m.line()).unwrap_or(u32::MAX),
            column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
            offset,
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
