//! Rule outputs: `%field`, `%Nfield` and `%transformer(field)` tokens, rendered as Falco
//! does (`<NA>` for missing values in text, `null` in `output_fields`).

use crate::ast::Operand;
use crate::compile::check::SlotTable;
use crate::eval::Scratch;
use crate::fields::{self, Value};
use crate::parser;
use serde_json::{Map, Value as Json};

#[derive(Debug)]
enum Segment {
    Text(String),
    Token { width: Option<usize>, slot: usize },
}

/// A compiled output format.
#[derive(Debug)]
pub(crate) struct OutputFormat {
    segments: Vec<Segment>,
    /// `output_fields` keys (the token as written) and their slots, in first-use order.
    fields: Vec<(String, usize)>,
}

/// Why an output format does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormatError {
    pub message: String,
    pub offset: usize,
    /// An unknown field: `skip-if-unknown-filter` turns it into a warning.
    pub unknown: bool,
}

fn err(message: String, offset: usize, unknown: bool) -> FormatError {
    FormatError {
        message,
        offset,
        unknown,
    }
}

impl OutputFormat {
    pub(crate) fn compile(text: &str, slots: &mut SlotTable) -> Result<OutputFormat, FormatError> {
        let text = text.strip_prefix('*').unwrap_or(text);
        let bytes = text.as_bytes();
        let mut segments = Vec::new();
        let mut fields: Vec<(String, usize)> = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < bytes.len() {
            let Some(rel) = text[i..].find('%') else {
                literal.push_str(&text[i..]);
                break;
            };
            literal.push_str(&text[i..i + rel]);
            let pct = i + rel;
            let mut j = pct + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            let width = if j > pct + 1 {
                text[pct + 1..j].parse::<usize>().ok()
            } else {
                None
            };
            let token_end = text[j..]
                .find(char::is_whitespace)
                .map(|e| j + e)
                .unwrap_or(text.len());
            let bad = || {
                err(
                    format!("invalid formatting token {}", &text[j..token_end]),
                    pct,
                    true,
                )
            };
            if j >= bytes.len() || bytes[j] == b'(' {
                return Err(err(
                    format!("invalid formatting token %{}", &text[pct + 1..token_end]),
                    pct,
                    false,
                ));
            }
            let (operand, end) = parser::parse_operand_at(text, j).map_err(|_| bad())?;
            let (operand, end) = match operand {
                Operand::Field(f) if f.arg.is_none() && fields::resolve(&f.name, None).is_err() => {
                    // Falco takes the longest prefix that is a valid field: `%proc.nameand`.
                    let name = f.name.clone();
                    let cut = (1..name.len())
                        .rev()
                        .find(|&n| {
                            name.is_char_boundary(n) && fields::resolve(&name[..n], None).is_ok()
                        })
                        .ok_or_else(bad)?;
                    let mut f = f;
                    f.name.truncate(cut);
                    (Operand::Field(f), j + cut)
                }
                other => (other, end),
            };
            let (slot, keys) = slots
                .resolve_output(&operand)
                .map_err(|e| err(e.message, pct, e.unknown))?;
            for (key, s) in keys {
                if !fields.iter().any(|(k, _)| *k == key) {
                    fields.push((key, s));
                }
            }
            if !literal.is_empty() {
                segments.push(Segment::Text(std::mem::take(&mut literal)));
            }
            segments.push(Segment::Token { width, slot });
            i = end;
        }
        if !literal.is_empty() {
            segments.push(Segment::Text(literal));
        }
        Ok(OutputFormat { segments, fields })
    }

    /// Appends the formatted text; values must already be in `scratch` (see `fill`).
    pub(crate) fn render(&self, scratch: &Scratch, out: &mut String) {
        let mut tmp = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Token { width, slot } => {
                    tmp.clear();
                    match scratch.value(*slot) {
                        Some(v) => v.render(&mut tmp),
                        None => tmp.push_str("<NA>"),
                    }
                    match width {
                        Some(w) => {
                            let mut n = 0;
                            for c in tmp.chars().take(*w) {
                                out.push(c);
                                n += 1;
                            }
                            out.extend(std::iter::repeat_n(' ', w - n));
                        }
                        None => out.push_str(&tmp),
                    }
                }
            }
        }
    }

    pub(crate) fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.fields.iter().map(|(_, s)| *s)
    }

    pub(crate) fn output_fields(&self, scratch: &Scratch, into: &mut Map<String, Json>) {
        for (key, slot) in &self.fields {
            let v = scratch
                .value(*slot)
                .map(Value::to_json)
                .unwrap_or(Json::Null);
            into.insert(key.clone(), v);
        }
    }
}
