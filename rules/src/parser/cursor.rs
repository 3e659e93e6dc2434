//! A byte cursor over the condition text that keeps libs-compatible positions.
//!
//! Positions follow `update_pos` in libs `filter/parser.cpp`: the column counts bytes, and
//! every `\r` or `\n` starts a new line (so `\r\n` counts as two line breaks). Falco adds these
//! positions to the YAML position of the condition, so matching libs keeps error locations equal.

use crate::ast::Pos;

/// Blanks skipped between tokens (`lex_blank` in libs): space, tab, backspace, CR, LF.
pub(crate) fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x08 | b'\r' | b'\n')
}

/// POSIX `[[:space:]]`, used by libs' regexes (`not[[:space:]]+`, bare strings): unlike
/// [`is_blank`] it includes vertical tab and form feed but not backspace.
pub(crate) fn is_posix_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    src: &'a str,
    pos: Pos,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Cursor {
            src,
            pos: Pos {
                offset: 0,
                line: 1,
                col: 1,
            },
        }
    }

    /// A cursor placed at byte `offset` (clamped to the input length), with line and column
    /// computed from the start of the input.
    pub(crate) fn at(src: &'a str, offset: usize) -> Self {
        let mut cur = Cursor::new(src);
        cur.advance(offset.min(src.len()));
        cur
    }

    pub(crate) fn pos(&self) -> Pos {
        self.pos
    }

    pub(crate) fn offset(&self) -> usize {
        self.pos.offset
    }

    pub(crate) fn is_eof(&self) -> bool {
        self.pos.offset >= self.src.len()
    }

    /// The unread bytes.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.src.as_bytes().get(self.pos.offset..).unwrap_or(&[])
    }

    /// The text between two byte offsets; empty if they do not fall on character boundaries
    /// (they always do for token boundaries, which sit next to ASCII bytes).
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    /// Moves forward by `n` bytes (never past the end), updating line and column.
    pub(crate) fn advance(&mut self, n: usize) {
        let end = (self.pos.offset + n).min(self.src.len());
        for &b in self.src.as_bytes().get(self.pos.offset..end).unwrap_or(&[]) {
            self.pos.col = self.pos.col.saturating_add(1);
            if b == b'\r' || b == b'\n' {
                self.pos.col = 1;
                self.pos.line = self.pos.line.saturating_add(1);
            }
        }
        self.pos.offset = end;
    }

    /// Consumes `s` if the input continues with it.
    pub(crate) fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s.as_bytes()) {
            self.advance(s.len());
            true
        } else {
            false
        }
    }

    /// Skips blanks; returns whether there was at least one.
    pub(crate) fn skip_blanks(&mut self) -> bool {
        let n = self.rest().iter().take_while(|&&b| is_blank(b)).count();
        self.advance(n);
        n > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(offset: usize, line: u32, col: u32) -> Pos {
        Pos { offset, line, col }
    }

    #[test]
    fn advance_tracks_lines_and_byte_columns() {
        let mut c = Cursor::new("ab\ncd\r\nx");
        c.advance(2);
        assert_eq!(c.pos(), pos(2, 1, 3));
        c.advance(1);
        assert_eq!(c.pos(), pos(3, 2, 1));
        c.advance(3);
        assert_eq!(c.pos(), pos(6, 3, 1));
        // libs counts CR and LF separately.
        c.advance(1);
        assert_eq!(c.pos(), pos(7, 4, 1));
        c.advance(100);
        assert_eq!(c.pos(), pos(8, 4, 2));
        assert!(c.is_eof());
    }

    #[test]
    fn columns_count_bytes() {
        let c = Cursor::at("é=x", 2);
        assert_eq!(c.pos(), pos(2, 1, 3));
    }

    #[test]
    fn eat_and_blanks() {
        let mut c = Cursor::new(" \t\x08\r\nand");
        assert!(c.skip_blanks());
        assert!(!c.skip_blanks());
        assert!(!c.eat("or"));
        assert!(c.eat("and"));
        assert!(c.is_eof());
        assert_eq!(c.rest(), b"");
    }

    #[test]
    fn slice_off_boundary_is_empty() {
        let c = Cursor::new("é");
        assert_eq!(c.slice(0, 1), "");
        assert_eq!(c.slice(0, 2), "é");
    }
}
