//! Token matchers. Each takes the unread bytes and returns the length of the token at their
//! start (0 or `None` when there is none), mirroring the regexes and word lists of libs
//! `filter/parser.cpp`. The regexes are POSIX leftmost-longest, so every matcher is greedy.

use super::cursor::{is_blank, is_posix_space};

/// Unary operators (`s_unary_ops`).
pub(crate) const UNARY_OPS: &[&str] = &["exists"];
/// Numeric operators (`s_binary_num_ops`); no blank required after them.
pub(crate) const NUM_OPS: &[&str] = &["<=", "<", ">=", ">"];
/// String operators (`s_binary_str_ops`); word operators must be followed by a blank.
pub(crate) const STR_OPS: &[&str] = &[
    "==",
    "=",
    "!=",
    "glob",
    "iglob",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "regex",
];
/// List operators (`s_binary_list_ops`); no blank required after them.
pub(crate) const LIST_OPS: &[&str] = &["intersects", "in", "pmatch"];
/// List modifiers allowed after a string operator (libs 0.25 / Falco 0.44).
pub(crate) const LIST_MODIFIERS: &[&str] = &["oneof", "anyof", "allof"];

/// Single-argument transformers we implement, in libs' order.
pub(crate) const TRANSFORMERS: &[&str] = &["tolower", "toupper", "b64", "basename", "len"];
/// Multi-argument transformers of recent libs that the lexer recognises only to reject them.
pub(crate) const UNSUPPORTED_TRANSFORMERS: &[&str] = &["join", "concat", "getopt"];

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[a-zA-Z]+[a-zA-Z0-9_]*`
pub(crate) fn identifier_len(s: &[u8]) -> usize {
    match s.first() {
        Some(&b) if is_alpha(b) => 1 + s[1..].iter().take_while(|&&b| is_word(b)).count(),
        _ => 0,
    }
}

/// `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`: at least one dot.
pub(crate) fn field_name_len(s: &[u8]) -> usize {
    let mut len = identifier_len(s);
    if len == 0 {
        return 0;
    }
    let mut segments = 1;
    while s.get(len) == Some(&b'.') {
        let seg = identifier_len(&s[len + 1..]);
        if seg == 0 {
            break;
        }
        len += 1 + seg;
        segments += 1;
    }
    if segments > 1 {
        len
    } else {
        0
    }
}

/// `[^][\"'[:space:]]+`: a bare field argument such as `2`, `HOME` or `/proc*`.
pub(crate) fn field_arg_bare_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|&&b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_posix_space(b))
        .count()
}

/// `[^()\"'[:space:]=,]+`: a bare string value.
pub(crate) fn bare_str_len(s: &[u8]) -> usize {
    s.iter()
        .take_while(|&&b| {
            !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_posix_space(b)
        })
        .count()
}

/// `0[xX][0-9a-fA-F]+`
pub(crate) fn hex_num_len(s: &[u8]) -> usize {
    if s.len() < 3 || s[0] != b'0' || !matches!(s[1], b'x' | b'X') {
        return 0;
    }
    let digits = s[2..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        0
    } else {
        2 + digits
    }
}

fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// `[+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?`
pub(crate) fn num_len(s: &[u8]) -> usize {
    let mut i = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    let int = digits(&s[i..]);
    if int == 0 {
        return 0;
    }
    i += int;
    if s.get(i) == Some(&b'.') {
        i += 1;
    }
    i += digits(&s[i..]);
    if matches!(s.get(i), Some(b'e' | b'E')) && matches!(s.get(i + 1), Some(b'+' | b'-')) {
        let exp = digits(&s[i + 2..]);
        if exp > 0 {
            i += 2 + exp;
        }
    }
    i
}

/// A quoted string including both delimiters, as libs' `lex_quoted_str` scans it: the string
/// ends at the first delimiter not preceded by a backslash (even an escaped backslash), and a
/// NUL byte ends the input. `None` if `s` does not start with a quote or the string is unclosed.
pub(crate) fn quoted_len(s: &[u8]) -> Option<usize> {
    let delim = *s.first().filter(|&&b| b == b'"' || b == b'\'')?;
    let mut prev = delim;
    for (i, &b) in s.iter().enumerate().skip(1) {
        if b == 0 {
            return None;
        }
        if b == delim && prev != b'\\' {
            return Some(i + 1);
        }
        prev = b;
    }
    None
}

/// The first operator of `ops` found at the start of `s`, with the number of bytes to consume.
/// Word operators (`needs_blank`) only match when a blank follows; the blanks are consumed too.
pub(crate) fn operator_len(
    s: &[u8],
    ops: &[&'static str],
    needs_blank: impl Fn(&str) -> bool,
) -> Option<(&'static str, usize)> {
    ops.iter().find_map(|&op| {
        if !s.starts_with(op.as_bytes()) {
            return None;
        }
        if !needs_blank(op) {
            return Some((op, op.len()));
        }
        let blanks = s[op.len()..].iter().take_while(|&&b| is_blank(b)).count();
        (blanks > 0).then_some((op, op.len() + blanks))
    })
}

/// String operators that are words need a blank after them (`==`, `=`, `!=` do not).
pub(crate) fn str_op_needs_blank(op: &str) -> bool {
    op.bytes().all(|b| b.is_ascii_alphabetic())
}

/// `name(` for one of `names`; returns the name.
pub(crate) fn call_prefix(s: &[u8], names: &[&'static str]) -> Option<&'static str> {
    names
        .iter()
        .copied()
        .find(|name| s.starts_with(name.as_bytes()) && s.get(name.len()) == Some(&b'('))
}

/// A list modifier followed by optional blanks and `(`: returns the modifier and its length
/// (without the blanks). Requiring the `(` keeps a bare value named `oneof` working.
pub(crate) fn list_modifier(s: &[u8]) -> Option<(&'static str, usize)> {
    let word = identifier_len(s);
    let name = LIST_MODIFIERS
        .iter()
        .copied()
        .find(|m| m.as_bytes() == &s[..word])?;
    let blanks = s[word..].iter().take_while(|&&b| is_blank(b)).count();
    (s.get(word + blanks) == Some(&b'(')).then_some((name, word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(identifier_len(b"abc_1 x"), 5);
        assert_eq!(identifier_len(b"a.b"), 1);
        assert_eq!(identifier_len(b"_a"), 0);
        assert_eq!(identifier_len(b"1a"), 0);
        assert_eq!(identifier_len(b""), 0);
    }

    #[test]
    fn field_names() {
        assert_eq!(field_name_len(b"proc.name=x"), 9);
        assert_eq!(field_name_len(b"evt.arg.flags contains"), 13);
        assert_eq!(field_name_len(b"proc.aname[2]"), 10);
        assert_eq!(field_name_len(b"a.b."), 3);
        assert_eq!(field_name_len(b"a.b.1"), 3);
        assert_eq!(field_name_len(b"a.b_c1.d"), 8);
        assert_eq!(field_name_len(b"k8s.pod.label-x"), 13);
        assert_eq!(field_name_len(b"proc"), 0);
        assert_eq!(field_name_len(b"proc."), 0);
        assert_eq!(field_name_len(b"proc._x"), 0);
        assert_eq!(field_name_len(b"1.a"), 0);
    }

    #[test]
    fn bare_strings() {
        assert_eq!(bare_str_len(b"/etc/shadow)"), 11);
        assert_eq!(bare_str_len(b"a,b"), 1);
        assert_eq!(bare_str_len(b"a=b"), 1);
        assert_eq!(bare_str_len(b"a\x0bb"), 1);
        // backspace is not [[:space:]]
        assert_eq!(bare_str_len(b"a\x08b"), 3);
        assert_eq!(bare_str_len("é ".as_bytes()), 2);
        assert_eq!(bare_str_len(b"'x'"), 0);
        assert_eq!(field_arg_bare_len(b"/proc*]"), 6);
        assert_eq!(field_arg_bare_len(b"a(b),c=d]"), 8);
        assert_eq!(field_arg_bare_len(b" x"), 0);
    }

    #[test]
    fn numbers() {
        assert_eq!(num_len(b"1000"), 4);
        assert_eq!(num_len(b"+1"), 2);
        assert_eq!(num_len(b"-1.2"), 4);
        assert_eq!(num_len(b"1."), 2);
        assert_eq!(num_len(b"-0.1222e+10"), 11);
        assert_eq!(num_len(b"1e5"), 1);
        assert_eq!(num_len(b"1e+"), 1);
        assert_eq!(num_len(b"-"), 0);
        assert_eq!(num_len(b".5"), 0);
        assert_eq!(hex_num_len(b"0x12345"), 7);
        assert_eq!(hex_num_len(b"0XaB00AB"), 8);
        assert_eq!(hex_num_len(b"0xAAA.1"), 5);
        assert_eq!(hex_num_len(b"0x"), 0);
        assert_eq!(hex_num_len(b"0xg"), 0);
        assert_eq!(hex_num_len(b"0aaa"), 0);
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted_len(b"''"), Some(2));
        assert_eq!(quoted_len(b"\"a b\" x"), Some(5));
        assert_eq!(quoted_len(b"'a\\'b'"), Some(6));
        // a backslash before the delimiter always prevents closing
        assert_eq!(quoted_len(b"'a\\\\' b'"), Some(8));
        assert_eq!(quoted_len(b"'mixed \"'"), Some(9));
        assert_eq!(quoted_len(b"'abc"), None);
        assert_eq!(quoted_len(b"'a\0b'"), None);
        assert_eq!(quoted_len(b"abc"), None);
    }

    #[test]
    fn operators() {
        let word = str_op_needs_blank;
        assert_eq!(operator_len(b"==x", STR_OPS, word), Some(("==", 2)));
        assert_eq!(operator_len(b"=x", STR_OPS, word), Some(("=", 1)));
        assert_eq!(
            operator_len(b"contains \n x", STR_OPS, word),
            Some(("contains", 11))
        );
        assert_eq!(operator_len(b"containsx", STR_OPS, word), None);
        assert_eq!(operator_len(b"in(", LIST_OPS, |_| false), Some(("in", 2)));
        assert_eq!(
            operator_len(b"intersects (", LIST_OPS, |_| false),
            Some(("intersects", 10))
        );
        assert_eq!(operator_len(b"<=1", NUM_OPS, |_| false), Some(("<=", 2)));
    }

    #[test]
    fn calls_and_modifiers() {
        assert_eq!(call_prefix(b"toupper(x)", TRANSFORMERS), Some("toupper"));
        assert_eq!(call_prefix(b"toupper (x)", TRANSFORMERS), None);
        assert_eq!(call_prefix(b"b64and(x)", TRANSFORMERS), None);
        assert_eq!(list_modifier(b"oneof (a)"), Some(("oneof", 5)));
        assert_eq!(list_modifier(b"anyof\n\t(a)"), Some(("anyof", 5)));
        assert_eq!(list_modifier(b"allof(a)"), Some(("allof", 5)));
        assert_eq!(list_modifier(b"oneof"), None);
        assert_eq!(list_modifier(b"oneof and x"), None);
        assert_eq!(list_modifier(b"oneofx (a)"), None);
    }
}
