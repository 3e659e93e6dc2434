//! What the prefilter's path lookups gave for recently seen paths.
//!
//! A host opens the same few hundred paths over and over (shared libraries, `/etc`
//! files, `/proc/self/...`), and on opens the lookups of `fd.name`, `fd.directory` and
//! `fd.filename` against every rule's lists are most of the prefilter's work. Their
//! results depend only on the fd's name and kind, so each evaluator keeps them per path
//! in a small two-way set-associative table: a repeated path costs one hash and one or two
//! comparisons.
//! A path not seen recently costs its lookups as before, plus copying it into the table.

use super::hash::FxHasher;
use std::hash::Hasher;

/// Entries per table: a power of two. Each path may sit in either entry of its pair, the
/// one used last first.
const ENTRIES: usize = 512;

/// At most this many results per path (bits of [`Entry::known`]); results past it are
/// not kept.
pub(crate) const MAX_WIDTH: usize = 64;

/// One table, for the path lookups of one prefilter group: `width` results per path.
#[derive(Debug)]
pub(crate) struct PathMemo<T> {
    width: usize,
    entries: Vec<Entry>,
    /// `width` results per entry, at the entry's `at`: entries of a pair swap places
    /// without moving their results.
    results: Vec<T>,
}

#[derive(Debug, Default)]
struct Entry {
    hash: u64,
    kind: u8,
    /// Which results hold a result for `path`.
    known: u64,
    path: String,
    at: usize,
}

impl<T: Copy + Default> PathMemo<T> {
    pub(crate) fn new(width: usize) -> PathMemo<T> {
        debug_assert!(width <= MAX_WIDTH);
        PathMemo {
            width,
            entries: Vec::new(),
            results: Vec::new(),
        }
    }

    /// The entry for a path and fd kind: the one holding it, or else the one of its pair
    /// used least recently, emptied.
    #[inline]
    pub(crate) fn entry(&mut self, path: &str, kind: u8) -> usize {
        if self.entries.is_empty() {
            self.entries = (0..ENTRIES)
                .map(|e| Entry {
                    at: e * self.width,
                    ..Entry::default()
                })
                .collect();
            self.results = vec![T::default(); ENTRIES * self.width];
        }
        let mut h = FxHasher::default();
        h.write(path.as_bytes());
        let hash = h.finish();
        // The multiply leaves the best-mixed bits at the top.
        let first = (hash >> (64 - ENTRIES.trailing_zeros())) as usize & !1;
        let holds = |e: &Entry| e.hash == hash && e.kind == kind && e.path == path;
        if holds(&self.entries[first]) {
            return first;
        }
        let pair = &mut self.entries[first..first + 2];
        // The second holds it or is the least recently used: either way it moves first.
        pair.swap(0, 1);
        let entry = &mut pair[0];
        if !holds(entry) {
            entry.hash = hash;
            entry.kind = kind;
            entry.known = 0;
            entry.path.clear();
            entry.path.push_str(path);
        }
        first
    }

    /// Result `i` for entry `e`'s path, if computed.
    #[inline]
    pub(crate) fn get(&self, e: usize, i: usize) -> Option<T> {
        let entry = &self.entries[e];
        (i < self.width && entry.known & (1 << i) != 0).then(|| self.results[entry.at + i])
    }

    /// Keeps result `i` for entry `e`'s path (not kept when `i` is past the width).
    #[inline]
    pub(crate) fn put(&mut self, e: usize, i: usize, result: T) {
        if i < self.width {
            let entry = &mut self.entries[e];
            self.results[entry.at + i] = result;
            entry.known |= 1 << i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(m: &mut PathMemo<u32>, path: &str, kind: u8) -> Option<u32> {
        let e = m.entry(path, kind);
        m.get(e, 0)
    }

    #[test]
    fn results_are_kept_per_path_and_kind() {
        let mut m = PathMemo::<u32>::new(2);
        let a = m.entry("/etc/passwd", 1);
        assert_eq!(m.get(a, 0), None);
        m.put(a, 0, 7);
        assert_eq!(cached(&mut m, "/etc/passwd", 1), Some(7));
        assert_eq!(m.get(a, 1), None, "each lookup separately");
        // Another kind, same name: another key.
        let d = m.entry("/etc/passwd", 2);
        assert_eq!(m.get(d, 0), None);
    }

    #[test]
    fn two_paths_of_one_pair_stay_and_a_third_evicts_the_older() {
        let mut m = PathMemo::<u32>::new(1);
        // Paths by pair: three that share one.
        let mut by_pair = std::collections::HashMap::<usize, Vec<String>>::new();
        let same = (0..)
            .map(|i| format!("/p/{i}"))
            .find_map(|p| {
                let list = by_pair.entry(m.entry(&p, 1)).or_default();
                list.push(p);
                (list.len() == 3).then(|| list.clone())
            })
            .expect("some pair gets three");
        let mut m = PathMemo::<u32>::new(1);
        for (i, p) in same[..2].iter().enumerate() {
            let e = m.entry(p, 1);
            m.put(e, 0, i as u32);
        }
        for (i, p) in same[..2].iter().enumerate() {
            assert_eq!(cached(&mut m, p, 1), Some(i as u32), "{p} kept");
        }
        // Used last: same[1]. The third replaces same[0].
        let e = m.entry(&same[2], 1);
        assert_eq!(m.get(e, 0), None);
        assert_eq!(cached(&mut m, &same[1], 1), Some(1));
        assert_eq!(cached(&mut m, &same[0], 1), None);
    }

    #[test]
    fn a_colliding_path_evicts_and_never_reads_another_paths_result() {
        let mut m = PathMemo::<u32>::new(1);
        let paths: Vec<String> = (0..4 * ENTRIES).map(|i| format!("/p/{i}")).collect();
        for (i, p) in paths.iter().enumerate() {
            let e = m.entry(p, 1);
            if m.get(e, 0).is_none() {
                m.put(e, 0, i as u32);
            }
        }
        for (i, p) in paths.iter().enumerate() {
            let e = m.entry(p, 1);
            if let Some(v) = m.get(e, 0) {
                assert_eq!(v, i as u32, "{p}");
            }
        }
    }
}
