//! The condition (filter) language parser.
//!
//! It follows the grammar and lexer of falcosecurity/libs `userspace/libsinsp/filter/parser.cpp`
//! (EBNF in `parser.h`) token for token, including its error messages, so that every Falco rule
//! parses here exactly as it does in Falco. Positions are byte offsets with 1-based line and
//! column, computed like libs does: columns count bytes and each `\r` or `\n` starts a line.
//! Nesting is limited to [`MAX_DEPTH`] so that no input can exhaust the stack.
//!
//! Where we differ from libs on purpose:
//! * `not not x` keeps one [`Expr::Not`] per `not` (libs folds them by parity);
//! * multi-argument transformers (`join`, `concat`, `getopt`) are rejected as unsupported;
//! * a word operator not followed by a blank (`containsx`) is not consumed before failing;
//! * escape errors inside a list are reported instead of being taken for an empty list;
//! * `\xHH` escapes are decoded.

mod cursor;
mod escaping;
mod grammar;
pub(crate) mod lexer;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upstream_tests;

pub use escaping::{unescape, EscapeError};
pub use grammar::MAX_DEPTH;

use crate::ast::{self, Expr, Operand};
use cursor::Cursor;
use grammar::Parser;

/// A syntax error in a condition, at the position where parsing stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    pub pos: ast::Pos,
}

/// Parses a whole condition.
pub fn parse_condition(input: &str) -> Result<Expr, ParseError> {
    if input.is_empty() {
        return Err(ParseError {
            message: "filter input string is empty".to_string(),
            pos: Cursor::new(input).pos(),
        });
    }
    let mut parser = Parser::new(input);
    let expr = *parser.parse_or()?;
    if !parser.is_eof() {
        return Err(parser.error(format!(
            "unexpected token after '{}', expecting 'or', 'and'",
            parser.last_token()
        )));
    }
    Ok(expr)
}

/// Parses one field (with its optional `[arg]`) or transformer call (`toupper(proc.name)`)
/// starting at byte `start`, and returns it with the byte offset just after it. Whatever
/// follows is left alone: no blank is required after the operand. Positions are relative to
/// the start of `input`.
pub fn parse_operand_at(input: &str, start: usize) -> Result<(Operand, usize), ParseError> {
    let cur = Cursor::at(input, start);
    if start > input.len() || !input.is_char_boundary(start) {
        return Err(ParseError {
            message: format!("offset {start} is not a character boundary of the input"),
            pos: cur.pos(),
        });
    }
    let mut parser = Parser::with_cursor(cur);
    let operand = parser.parse_operand()?;
    Ok((operand, parser.offset()))
}
