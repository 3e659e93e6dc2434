//! Decoding of escape sequences in quoted strings (libs `filter/escaping.cpp`, `unescape_str`).

/// An invalid escape sequence; `offset` is the byte offset of its backslash in the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EscapeError {
    pub message: String,
    pub offset: usize,
}

impl EscapeError {
    fn new(message: impl Into<String>, offset: usize) -> Self {
        EscapeError {
            message: message.into(),
            offset,
        }
    }
}

/// Decodes the body of a string quoted with `delimiter` (the text between the quotes).
///
/// Supported: `\b \f \n \r \t \\ \/`, `\"` only inside `"…"`, `\'` only inside `'…'`, and
/// `\xHH` (a byte; the decoded bytes must form valid UTF-8). `\ ` (backslash space) decodes to
/// a single backslash and drops the space, as libs does for legacy rules. Any other escape is
/// an error worded like libs (`unsupported string escape sequence: \q`).
pub fn unescape(quoted_body: &str, delimiter: char) -> Result<String, EscapeError> {
    let mut out: Vec<u8> = Vec::with_capacity(quoted_body.len());
    // Offset of the first `\x` escape that produced a non-ASCII byte, to blame on bad UTF-8.
    let mut first_raw_byte: Option<usize> = None;
    let mut chars = quoted_body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, esc)) = chars.next() else {
            return Err(EscapeError::new(
                "unterminated string escape sequence: \\",
                i,
            ));
        };
        let decoded = match esc {
            'b' => 0x08,
            'f' => 0x0c,
            'n' => b'\n',
            'r' => b'\r',
            't' => b'\t',
            // Legacy: some old rules wrote `\ `; libs keeps the backslash and drops the space.
            ' ' | '\\' => b'\\',
            '/' => b'/',
            '"' if delimiter == '"' => b'"',
            '"' => {
                return Err(EscapeError::new(
                    format!("invalid \\\" escape in {delimiter}-quoted string"),
                    i,
                ))
            }
            '\'' if delimiter == '\'' => b'\'',
            '\'' => {
                return Err(EscapeError::new(
                    format!("invalid \\' escape in {delimiter}-quoted string"),
                    i,
                ))
            }
            'x' => {
                let byte = hex_byte(&mut chars).ok_or_else(|| {
                    EscapeError::new(
                        "invalid \\x escape sequence: expected two hexadecimal digits",
                        i,
                    )
                })?;
                if byte >= 0x80 && first_raw_byte.is_none() {
                    first_raw_byte = Some(i);
                }
                byte
            }
            other => {
                return Err(EscapeError::new(
                    format!("unsupported string escape sequence: \\{other}"),
                    i,
                ))
            }
        };
        out.push(decoded);
    }
    String::from_utf8(out).map_err(|_| {
        EscapeError::new(
            "invalid \\x escape sequence: the decoded bytes are not valid UTF-8",
            first_raw_byte.unwrap_or(0),
        )
    })
}

fn hex_byte(chars: &mut std::str::CharIndices<'_>) -> Option<u8> {
    let hi = chars.next()?.1.to_digit(16)?;
    let lo = chars.next()?.1.to_digit(16)?;
    u8::try_from(hi * 16 + lo).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str, delim: char) -> String {
        match unescape(body, delim) {
            Ok(s) => s,
            Err(e) => panic!("unescape({body:?}) failed: {e}"),
        }
    }

    fn err(body: &str, delim: char) -> (String, usize) {
        match unescape(body, delim) {
            Ok(s) => panic!("unescape({body:?}) should fail, got {s:?}"),
            Err(e) => (e.message, e.offset),
        }
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(ok("", '"'), "");
        assert_eq!(ok("some string é", '"'), "some string é");
        assert_eq!(ok("a'b", '"'), "a'b");
        assert_eq!(ok("a\"b", '\''), "a\"b");
    }

    #[test]
    fn each_supported_escape() {
        assert_eq!(ok("\\b", '"'), "\x08");
        assert_eq!(ok("\\f", '"'), "\x0c");
        assert_eq!(ok("\\n", '"'), "\n");
        assert_eq!(ok("\\r", '"'), "\r");
        assert_eq!(ok("\\t", '"'), "\t");
        assert_eq!(ok("\\\\", '"'), "\\");
        assert_eq!(ok("\\/", '"'), "/");
        assert_eq!(ok("\\\"", '"'), "\"");
        assert_eq!(ok("\\'", '\''), "'");
        assert_eq!(ok("a\\tb\\nc", '\''), "a\tb\nc");
    }

    #[test]
    fn backslash_space_is_a_backslash() {
        assert_eq!(ok("bad escape \\ ", '"'), "bad escape \\");
        assert_eq!(ok("a\\ b", '\''), "a\\b");
    }

    #[test]
    fn hex_escapes() {
        assert_eq!(ok("\\x41\\x62", '"'), "Ab");
        assert_eq!(ok("\\x00", '"'), "\0");
        assert_eq!(ok("\\xc3\\xa9", '"'), "é");
        assert_eq!(
            err("ab\\x4", '"'),
            (
                "invalid \\x escape sequence: expected two hexadecimal digits".into(),
                2
            )
        );
        assert_eq!(
            err("\\xZZ", '"'),
            (
                "invalid \\x escape sequence: expected two hexadecimal digits".into(),
                0
            )
        );
        assert_eq!(
            err("ok \\xff", '"'),
            (
                "invalid \\x escape sequence: the decoded bytes are not valid UTF-8".into(),
                3
            )
        );
    }

    #[test]
    fn quote_escapes_depend_on_the_delimiter() {
        assert_eq!(
            err("mixed \\'", '"'),
            ("invalid \\' escape in \"-quoted string".into(), 6)
        );
        assert_eq!(
            err("mixed \\\"", '\''),
            ("invalid \\\" escape in '-quoted string".into(), 6)
        );
    }

    #[test]
    fn unsupported_escapes() {
        assert_eq!(
            err("a\\qb", '"'),
            ("unsupported string escape sequence: \\q".into(), 1)
        );
        assert_eq!(
            err("\\é", '"'),
            ("unsupported string escape sequence: \\é".into(), 0)
        );
        assert_eq!(
            err("\\u0041", '"'),
            ("unsupported string escape sequence: \\u".into(), 0)
        );
        // Unreachable from the parser (a backslash before the delimiter keeps the string
        // open), so libs never decided; we refuse instead of dropping the backslash.
        assert_eq!(
            err("abc\\", '"'),
            ("unterminated string escape sequence: \\".into(), 3)
        );
    }
}
