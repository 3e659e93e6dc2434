//! Substring search for a few needles in short text (paths, image names, command lines).
//!
//! Each needle is anchored on one of its rarest bytes; a text is scanned (with memchr) for
//! the anchor bytes only, and each needle is compared where its anchor byte occurs. On the
//! short values rules test, that is several times cheaper than an Aho-Corasick automaton,
//! which moves through a table for every byte. Long texts (where an anchor byte could occur
//! often) go through the automaton, so the search stays linear.

use super::byteset::ByteSet;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Texts up to this length are searched by anchor bytes.
const SHORT: usize = 256;

#[derive(Debug)]
pub(crate) struct Needles {
    needles: Vec<Box<[u8]>>,
    /// Some needle is empty: every text contains it.
    empty: bool,
    anchors: Anchors,
    /// Per anchor byte (in `anchors` order): the needles anchored on it.
    at: Vec<(u8, Vec<Anchored>)>,
    /// For long texts; every match, overlapping.
    ac: AhoCorasick,
}

/// A needle as found from its anchor byte.
#[derive(Debug)]
struct Anchored {
    needle: usize,
    /// Position of the anchor byte in the needle.
    offset: usize,
    len: usize,
    /// The needle's first 8 bytes (zero-padded) and the mask of those that exist.
    head: u64,
    head_mask: u64,
}

/// Up to 8 bytes of `b` from `start` as a little-endian word, zero-padded.
#[inline]
pub(crate) fn word_at(b: &[u8], start: usize) -> u64 {
    match b.get(start..start + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().expect("8 bytes")),
        None if b.len() >= 8 && start < b.len() => {
            // The last 8 bytes, shifted down past those before `start`: no copy.
            let last = u64::from_le_bytes(b[b.len() - 8..].try_into().expect("8 bytes"));
            last >> (8 * (start + 8 - b.len()))
        }
        None => {
            let rest = &b[start..];
            let mut buf = [0u8; 8];
            for (d, &c) in buf.iter_mut().zip(rest) {
                *d = c;
            }
            u64::from_le_bytes(buf)
        }
    }
}

/// Up to this many anchor bytes are searched a block at a time.
const SWAR_MAX: usize = super::byteset::MAX;

#[derive(Debug)]
enum Anchors {
    None,
    /// A few anchor bytes, in `at` order.
    Few(ByteSet),
    /// More anchor bytes: `table[b]` is 1 + the index in `at`, or 0.
    Table(Box<[u16; 256]>),
}

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The high bit of each byte of `word` that equals one of `pats` (bytes repeated).
#[inline]
fn swar_hits(word: u64, pats: &[u64]) -> u64 {
    let mut hits = 0;
    for &p in pats {
        let v = word ^ p;
        // High bit set exactly where a byte of `v` is zero.
        hits |= !(((v & LO7).wrapping_add(LO7)) | v | LO7);
    }
    hits
}

/// How common a byte is in paths, names and command lines, roughly: the anchor of a needle
/// is its least common byte. A poor guess costs comparisons, never a result.
fn commonness(b: u8) -> u32 {
    match b {
        b'/' => 1000,
        b' ' => 700,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 600,
        b'h' | b'l' | b'd' | b'c' | b'u' | b'm' | b'p' | b'b' | b'g' | b'f' => 450,
        b'.' | b'-' => 400,
        b'0'..=b'9' => 350,
        b'w' | b'y' | b'v' | b'k' => 300,
        b'_' | b'x' => 200,
        b'=' | b':' | b'j' | b'q' | b'z' | b'A'..=b'Z' => 150,
        _ => 50,
    }
}

impl Needles {
    pub(crate) fn new(needles: Vec<Box<[u8]>>) -> Needles {
        let mut at: Vec<(u8, Vec<Anchored>)> = Vec::new();
        let mut empty = false;
        for (i, n) in needles.iter().enumerate() {
            let Some((k, &b)) = n
                .iter()
                .enumerate()
                .min_by_key(|(k, &b)| (commonness(b), *k))
            else {
                empty = true;
                continue;
            };
            let n8 = n.len().min(8);
            let entry = Anchored {
                needle: i,
                offset: k,
                len: n.len(),
                head: word_at(&n[..n8], 0),
                head_mask: if n8 == 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n8)) - 1
                },
            };
            match at.iter_mut().find(|(x, _)| *x == b) {
                Some((_, list)) => list.push(entry),
                None => at.push((b, vec![entry])),
            }
        }
        let anchors = match at.len() {
            0 => Anchors::None,
            n if n <= SWAR_MAX => Anchors::Few(ByteSet::new(
                &at.iter().map(|(b, _)| *b).collect::<Vec<_>>(),
            )),
            _ => {
                let mut table = Box::new([0u16; 256]);
                for (i, (b, _)) in at.iter().enumerate() {
                    table[*b as usize] = (i + 1) as u16;
                }
                Anchors::Table(table)
            }
        };
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .build(&needles)
            .expect("needles from the rules compile");
        Needles {
            needles,
            empty,
            anchors,
            at,
            ac,
        }
    }

    pub(crate) fn needles(&self) -> &[Box<[u8]>] {
        &self.needles
    }

    /// Whether `hay` contains some needle.
    pub(crate) fn is_match(&self, hay: &[u8]) -> bool {
        if self.empty {
            return true;
        }
        if hay.len() > SHORT {
            return self.ac.is_match(hay);
        }
        self.scan(hay, |_| true)
    }

    /// Calls `f` with the index of every needle `hay` contains (once or more each).
    pub(crate) fn each_match(&self, hay: &[u8], mut f: impl FnMut(usize)) {
        if hay.len() > SHORT {
            for m in self.ac.find_overlapping_iter(hay) {
                f(m.pattern().as_usize());
            }
            return;
        }
        if self.empty {
            for (i, n) in self.needles.iter().enumerate() {
                if n.is_empty() {
                    f(i);
                }
            }
        }
        self.scan(hay, |i| {
            f(i);
            false
        });
    }

    /// Compares the needles anchored at each anchor byte of `hay`; stops when `found`
    /// returns true (and then returns true).
    #[inline]
    fn scan(&self, hay: &[u8], mut found: impl FnMut(usize) -> bool) -> bool {
        match &self.anchors {
            Anchors::None => false,
            Anchors::Few(set) => set.scan(hay, |p| {
                let e = set.index(hay[p]);
                self.verify(hay, p, &self.at[e].1, &mut found)
            }),
            Anchors::Table(table) => hay.iter().enumerate().any(|(p, &c)| {
                let e = table[c as usize];
                e != 0 && self.verify(hay, p, &self.at[e as usize - 1].1, &mut found)
            }),
        }
    }

    /// Compares the needles of `entry` around the anchor byte at `p`.
    #[inline(always)]
    fn verify(
        &self,
        hay: &[u8],
        p: usize,
        entry: &[Anchored],
        found: &mut impl FnMut(usize) -> bool,
    ) -> bool {
        for a in entry {
            let Some(start) = p.checked_sub(a.offset) else {
                continue;
            };
            if start + a.len > hay.len() || word_at(hay, start) & a.head_mask != a.head {
                continue;
            }
            if (a.len <= 8 || hay[start + 8..start + a.len] == self.needles[a.needle][8..])
                && found(a.needle)
            {
                return true;
            }
        }
        false
    }
}

/// Whether `s` has two '/' in a row, a word at a time.
pub(crate) fn has_double_slash(s: &[u8]) -> bool {
    let slashes = [u64::from_ne_bytes([b'/'; 8])];
    // Whether the previous word ended with a '/'.
    let mut carry = false;
    let mut base = 0;
    while base < s.len() {
        // Padding bytes are zero, never '/'.
        let m = swar_hits(word_at(s, base), &slashes);
        if m & (m >> 8) != 0 || (carry && m & 0x80 != 0) {
            return true;
        }
        carry = m >> 63 != 0;
        base += 8;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(needles: &[&str]) -> Needles {
        Needles::new(needles.iter().map(|n| n.as_bytes().into()).collect())
    }

    /// Every needle found, by brute force.
    fn naive(needles: &[&str], hay: &str) -> Vec<usize> {
        (0..needles.len())
            .filter(|&i| hay.contains(needles[i]))
            .collect()
    }

    fn found(n: &Needles, hay: &str) -> Vec<usize> {
        let mut out = Vec::new();
        n.each_match(hay.as_bytes(), |i| out.push(i));
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn double_slashes() {
        for (s, want) in [
            ("", false),
            ("/", false),
            ("//", true),
            ("/a/b/c", false),
            ("/a/b/c//", true),
            ("1234567/", false),
            ("1234567//", true),
            ("12345678//", true),
            ("/a/b/c/d/e/f/g/h", false),
            ("/a/b/c/d/e/f/g//h", true),
        ] {
            assert_eq!(has_double_slash(s.as_bytes()), want, "{s:?}");
        }
    }

    #[test]
    fn agrees_with_a_naive_search() {
        let sets: &[&[&str]] = &[
            &[
                "/.ssh/",
                "fish_read_history",
                "liblzma.so.5.6.0",
                "/.",
                "id_rsa",
            ],
            &["trivy", "aquasec", "postgres", "minio", "vault", "falco"],
            &["a"],
            &["ab", "ba"],
            &["x", "y", "z", "w", "q"],
            &["", "abc"],
            &["aaa", "aa"],
        ];
        let long = format!("{}/.ssh/id_rsa{}", "a/".repeat(200), "_".repeat(100));
        let hays = [
            "",
            "/home/u/.ssh/id_rsa",
            "/usr/lib/liblzma.so.5.6.0",
            "/root/.local/share/fish/fish_read_history",
            "docker.io/aquasec/trivy",
            "/etc/passwd",
            "abababa",
            "aaaa",
            "xyzwq",
            long.as_str(),
            "zz/.",
        ];
        for needles in sets {
            let n = set(needles);
            for hay in hays {
                assert_eq!(
                    found(&n, hay),
                    naive(needles, hay),
                    "{needles:?} in {hay:?}"
                );
                assert_eq!(
                    n.is_match(hay.as_bytes()),
                    !naive(needles, hay).is_empty(),
                    "{needles:?} in {hay:?}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Small alphabets, so that needles occur, overlap and sit at the ends.
        #[test]
        fn agrees_with_a_naive_search_on_random_text(
            needles in proptest::collection::vec("[ab/._z]{1,11}", 1..7),
            hay in "[ab/._z]{0,40}",
        ) {
            let refs: Vec<&str> = needles.iter().map(String::as_str).collect();
            let n = set(&refs);
            proptest::prop_assert_eq!(found(&n, &hay), naive(&refs, &hay));
            proptest::prop_assert_eq!(n.is_match(hay.as_bytes()), !naive(&refs, &hay).is_empty());
            proptest::prop_assert_eq!(has_double_slash(hay.as_bytes()), hay.contains("//"));
        }
    }
}
