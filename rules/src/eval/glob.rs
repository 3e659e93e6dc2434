//! `fnmatch(3)` without `FNM_PATHNAME`: `*` also matches `/`. Used by `glob`, `iglob` and
//! the wildcard components of `pmatch`.

/// A compiled glob pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    tokens: Vec<Tok>,
    fold_case: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum ClassItem {
    Char(char),
    Range(char, char),
}

impl Glob {
    pub fn new(pattern: &str, fold_case: bool) -> Glob {
        let pattern = if fold_case {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    if tokens.last() != Some(&Tok::Star) {
                        tokens.push(Tok::Star);
                    }
                    i += 1;
                }
                '?' => {
                    tokens.push(Tok::Any);
                    i += 1;
                }
                '\\' if i + 1 < chars.len() => {
                    tokens.push(Tok::Char(chars[i + 1]));
                    i += 2;
                }
                '[' => match parse_class(&chars, i + 1) {
                    Some((tok, next)) => {
                        tokens.push(tok);
                        i = next;
                    }
                    // An unterminated bracket is a literal '[' (as fnmatch treats it).
                    None => {
                        tokens.push(Tok::Char('['));
                        i += 1;
                    }
                },
                c => {
                    tokens.push(Tok::Char(c));
                    i += 1;
                }
            }
        }
        Glob { tokens, fold_case }
    }

    /// Whether the pattern has any wildcard (otherwise it is a plain string).
    pub fn has_wildcards(pattern: &str) -> bool {
        pattern.contains(['*', '?', '['])
    }

    pub fn matches(&self, text: &str) -> bool {
        // ASCII text (the common case) is matched in place, without collecting chars;
        // lower-casing ASCII is per byte.
        if text.is_ascii() {
            let b = text.as_bytes();
            return if self.fold_case {
                match_tokens(&self.tokens, b.len(), |i| {
                    char::from(b[i].to_ascii_lowercase())
                })
            } else {
                match_tokens(&self.tokens, b.len(), |i| char::from(b[i]))
            };
        }
        if self.fold_case && text.chars().any(|c| c.is_uppercase()) {
            let lower = text.to_lowercase();
            let chars: Vec<char> = lower.chars().collect();
            return match_tokens(&self.tokens, chars.len(), |i| chars[i]);
        }
        let chars: Vec<char> = text.chars().collect();
        match_tokens(&self.tokens, chars.len(), |i| chars[i])
    }

    /// The literal text every match starts with (empty for case-folding patterns).
    pub(crate) fn literal_prefix(&self) -> String {
        if self.fold_case {
            return String::new();
        }
        self.tokens
            .iter()
            .map_while(|t| match t {
                Tok::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }
}

impl Glob {
    /// The literal text every match ends with, when the pattern has a wildcard before it
    /// (empty for case-folding patterns and for patterns that are all literal).
    pub(crate) fn literal_suffix(&self) -> String {
        if self.fold_case || self.tokens.iter().all(|t| matches!(t, Tok::Char(_))) {
            return String::new();
        }
        let mut tail: Vec<char> = self
            .tokens
            .iter()
            .rev()
            .map_while(|t| match t {
                Tok::Char(c) => Some(*c),
                _ => None,
            })
            .collect();
        tail.reverse();
        tail.into_iter().collect()
    }
}

fn parse_class(chars: &[char], mut i: usize) -> Option<(Tok, usize)> {
    let mut negated = false;
    if i < chars.len() && (chars[i] == '!' || chars[i] == '^') {
        negated = true;
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && !first {
            return Some((Tok::Class { negated, items }, i + 1));
        }
        first = false;
        if i + 2 < chars.len() && chars[i + 1] == '-' && chars[i + 2] != ']' {
            items.push(ClassItem::Range(c, chars[i + 2]));
            i += 3;
        } else {
            items.push(ClassItem::Char(c));
            i += 1;
        }
    }
    None
}

fn class_matches(negated: bool, items: &[ClassItem], c: char) -> bool {
    let hit = items.iter().any(|it| match *it {
        ClassItem::Char(x) => x == c,
        ClassItem::Range(a, b) => a <= c && c <= b,
    });
    hit != negated
}

/// Iterative matcher with single-star backtracking: linear in practice, no recursion.
fn match_tokens(tokens: &[Tok], len: usize, text: impl Fn(usize) -> char) -> bool {
    let (mut t, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < len {
        if t < tokens.len() {
            match &tokens[t] {
                Tok::Star => {
                    star = Some((t, s));
                    t += 1;
                    continue;
                }
                Tok::Any => {
                    t += 1;
                    s += 1;
                    continue;
                }
                Tok::Char(c) if *c == text(s) => {
                    t += 1;
                    s += 1;
                    continue;
                }
                Tok::Class { negated, items } if class_matches(*negated, items, text(s)) => {
                    t += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((st, ss)) => {
                t = st + 1;
                s = ss + 1;
                star = Some((st, ss + 1));
            }
            None => return false,
        }
    }
    tokens[t..].iter().all(|tok| *tok == Tok::Star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, s: &str) -> bool {
        Glob::new(p, false).matches(s)
    }

    #[test]
    fn fnmatch_without_pathname() {
        assert!(g("/etc/*", "/etc/passwd"));
        assert!(g("/etc/*", "/etc/ssh/sshd_config"), "* crosses /");
        assert!(g("*.sh", "run.sh"));
        assert!(!g("*.sh", "run.shx"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[abc]x", "bx"));
        assert!(!g("[!abc]x", "bx"));
        assert!(g("[a-z]1", "q1"));
        assert!(g("\\*x", "*x"));
        assert!(!g("\\*x", "ax"));
        assert!(g("", ""));
        assert!(!g("", "a"));
        assert!(g("*", ""));
        assert!(g("a*b*c", "aXXbYYc"));
        assert!(!g("a*b*c", "aXXbYY"));
        assert!(g("[", "["), "unterminated class is literal");
        assert!(g("[]]", "]"), "leading ] is a member");
        assert!(g("/usr/*/bin/?sh", "/usr/local/bin/zsh"));
    }

    #[test]
    fn case_folding() {
        assert!(Glob::new("*.EXE", true).matches("virus.exe"));
        assert!(Glob::new("*.exe", true).matches("VIRUS.EXE"));
        assert!(!Glob::new("*.exe", false).matches("VIRUS.EXE"));
        assert!(Glob::new("ÄB*", true).matches("äbc"));
        assert!(Glob::new("äb*", true).matches("ÄBC"));
        assert!(Glob::new("a?c", true).matches("AÄC"));
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(
            Glob::new("/proc/*/environ", false).literal_prefix(),
            "/proc/"
        );
        assert_eq!(Glob::new("\\*x", false).literal_prefix(), "*x");
        assert_eq!(Glob::new("*x", false).literal_prefix(), "");
        assert_eq!(Glob::new("/etc/*", true).literal_prefix(), "");
    }

    #[test]
    fn literal_suffixes() {
        for (pattern, suffix) in [
            ("/proc/*/environ", "/environ"),
            ("*.pem", ".pem"),
            ("/etc/[ab]x", "x"),
            ("/a?", ""),
            ("*x\\*", "x*"),
            // All literal: the prefix says it all.
            ("/etc/passwd", ""),
        ] {
            assert_eq!(
                Glob::new(pattern, false).literal_suffix(),
                suffix,
                "{pattern}"
            );
        }
        assert_eq!(Glob::new("*.PEM", true).literal_suffix(), "");
        for text in ["/proc/1/environ", "/proc/self/environ"] {
            let g = Glob::new("/proc/*/environ", false);
            assert!(g.matches(text) && text.ends_with(&g.literal_suffix()));
        }
    }
}
