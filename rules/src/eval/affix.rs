//! Which of a list of prefixes (or suffixes) a value has, without trying each one.
//!
//! Why: the `fd.name` lookup on opens holds 14 prefixes and 5 suffixes, and comparing each
//! (even as one masked word first) was a fifth of that lookup. Nearly all prefixes start
//! with '/', so they are bucketed by their first two bytes and suffixes by their last
//! byte: a value is compared only with the few that share its bucket.

use super::needles::word_at;

/// The prefixes or the suffixes of a lookup.
#[derive(Debug)]
pub(crate) struct Affixes {
    suffix: bool,
    /// Sorted by bucket; those too short for a bucket (`short` of them) first.
    entries: Vec<Entry>,
    short: usize,
    /// `entries[starts[b]..starts[b + 1]]` is bucket `b` (after the short ones).
    starts: Box<[u16; BUCKETS + 1]>,
}

const BUCKETS: usize = 256;

#[derive(Debug)]
struct Entry {
    /// Position in the list given to [`Affixes::new`].
    index: usize,
    text: Box<[u8]>,
    /// The first (prefix) or last (suffix) 8 bytes as a word, and the mask of those the
    /// text has: compared before the text itself.
    word: u64,
    mask: u64,
}

/// Bytes a prefix needs for a bucket (a suffix needs one).
const PREFIX_KEY: usize = 2;

impl Affixes {
    pub(crate) fn prefixes(list: &[&[u8]]) -> Affixes {
        Affixes::new(list, false)
    }

    pub(crate) fn suffixes(list: &[&[u8]]) -> Affixes {
        Affixes::new(list, true)
    }

    fn new(list: &[&[u8]], suffix: bool) -> Affixes {
        assert!(list.len() < u16::MAX as usize, "affix lists are short");
        let mut keyed: Vec<(Option<usize>, Entry)> = list
            .iter()
            .enumerate()
            .map(|(index, t)| {
                let n = t.len().min(8);
                let (word, mask) = if suffix {
                    (tail8(t), tail_mask(n))
                } else {
                    (word_at(t, 0), head_mask(n))
                };
                let entry = Entry {
                    index,
                    text: (*t).into(),
                    word,
                    mask,
                };
                (bucket(t, suffix), entry)
            })
            .collect();
        // Short ones (no bucket) first, then by bucket.
        keyed.sort_by_key(|(b, e)| (b.map_or(0, |b| b + 1), e.index));
        let short = keyed.iter().filter(|(b, _)| b.is_none()).count();
        let mut starts = Box::new([0u16; BUCKETS + 1]);
        for b in 0..=BUCKETS {
            starts[b] = (short
                + keyed[short..]
                    .iter()
                    .filter(|(k, _)| k.is_some_and(|k| k < b))
                    .count()) as u16;
        }
        Affixes {
            suffix,
            entries: keyed.into_iter().map(|(_, e)| e).collect(),
            short,
            starts,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Calls `f` with the list position of every prefix (suffix) of `v`.
    #[inline]
    pub(crate) fn each_match(&self, v: &[u8], mut f: impl FnMut(usize)) {
        let word = if self.suffix { tail8(v) } else { word_at(v, 0) };
        let test = |e: &Entry| {
            word & e.mask == e.word
                && if self.suffix {
                    v.ends_with(&e.text)
                } else {
                    v.starts_with(&e.text)
                }
        };
        for e in &self.entries[..self.short] {
            if test(e) {
                f(e.index);
            }
        }
        if let Some(b) = bucket(v, self.suffix) {
            let range = self.starts[b] as usize..self.starts[b + 1] as usize;
            for e in &self.entries[range] {
                if test(e) {
                    f(e.index);
                }
            }
        }
    }
}

/// The bucket of an affix or a value: its first two bytes (prefixes) or last byte
/// (suffixes); `None` when it is shorter than that.
#[inline]
fn bucket(t: &[u8], suffix: bool) -> Option<usize> {
    if suffix {
        t.last().map(|&b| b as usize)
    } else if t.len() >= PREFIX_KEY {
        Some((t[0].rotate_left(3) ^ t[1]) as usize)
    } else {
        None
    }
}

/// The mask of the low `n` (at most 8) bytes of a word.
#[inline]
fn head_mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

/// The last 8 bytes of `b` as a little-endian word (the last byte highest), zero-padded
/// below when `b` is shorter: the last `n` bytes are those under [`tail_mask`]`(n)`.
#[inline]
pub(crate) fn tail8(b: &[u8]) -> u64 {
    match b.len().checked_sub(8) {
        Some(start) => u64::from_le_bytes(b[start..].try_into().expect("8 bytes")),
        None => {
            let mut buf = [0u8; 8];
            buf[8 - b.len()..].copy_from_slice(b);
            u64::from_le_bytes(buf)
        }
    }
}

/// The mask of the high `min(n, 8)` bytes of a word.
#[inline]
fn tail_mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        !(u64::MAX >> (8 * n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(a: &Affixes, v: &str) -> Vec<usize> {
        let mut out = Vec::new();
        a.each_match(v.as_bytes(), |i| out.push(i));
        out.sort();
        out
    }

    fn naive(list: &[&str], v: &str, suffix: bool) -> Vec<usize> {
        (0..list.len())
            .filter(|&i| {
                if suffix {
                    v.ends_with(list[i])
                } else {
                    v.starts_with(list[i])
                }
            })
            .collect()
    }

    fn both(list: &[&str]) -> (Affixes, Affixes) {
        let bytes: Vec<&[u8]> = list.iter().map(|s| s.as_bytes()).collect();
        (Affixes::prefixes(&bytes), Affixes::suffixes(&bytes))
    }

    #[test]
    fn agrees_with_starts_and_ends_with() {
        let lists: &[&[&str]] = &[
            &[
                "/etc/",
                "/root/.ssh",
                "/etc/cron",
                "/proc/",
                "/root/",
                "/proc/self/fd/",
                "/dev/sd",
                "/",
                "",
                "x",
            ],
            &[
                "release_agent",
                "ash_history",
                "zsh_history",
                "authorized_keys",
                "y",
            ],
            &[],
            &["aa", "aaa", "a", "aaaaaaaaaaa"],
        ];
        let values = [
            "",
            "/",
            "a",
            "aa",
            "aaaaaaaaaaaaaa",
            "/etc/",
            "/etc/cron.d/x",
            "/etc",
            "/proc/self/fd/3",
            "/root/.ssh/authorized_keys",
            "/home/u/.zsh_history",
            "/sys/fs/cgroup/release_agent",
            "x",
            "/lib/x86_64-linux-gnu/libc.so.6",
        ];
        for list in lists {
            let (p, s) = both(list);
            assert_eq!(p.len(), list.len());
            assert_eq!(p.is_empty(), list.is_empty());
            for v in values {
                assert_eq!(
                    found(&p, v),
                    naive(list, v, false),
                    "{list:?} prefixes of {v:?}"
                );
                assert_eq!(
                    found(&s, v),
                    naive(list, v, true),
                    "{list:?} suffixes of {v:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_on_random_text(
            list in proptest::collection::vec("[ab/.]{0,10}", 0..12),
            v in "[ab/.]{0,20}",
        ) {
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            let (p, s) = both(&refs);
            proptest::prop_assert_eq!(found(&p, &v), naive(&refs, &v, false));
            proptest::prop_assert_eq!(found(&s, &v), naive(&refs, &v, true));
        }
    }
}
