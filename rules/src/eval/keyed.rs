//! A direct-mapped table of results per key: the storage of the process and socket memos.
//! Each entry holds a key and which of its `width` results are known; a key that maps to
//! an entry holding another takes it over, emptied.

/// Entries per table: a power of two.
pub(crate) const ENTRIES: usize = 256;

/// At most this many results per key (bits of an entry's `known`); results past it are
/// not kept.
pub(crate) const MAX_WIDTH: usize = 64;

#[derive(Debug)]
pub(crate) struct Keyed<K, T> {
    width: usize,
    /// Per entry, its key and which results are known.
    keys: Vec<(K, u64)>,
    /// `width` results per entry.
    results: Vec<T>,
}

impl<K: Default, T: Copy + Default> Keyed<K, T> {
    pub(crate) fn new(width: usize) -> Keyed<K, T> {
        debug_assert!(width <= MAX_WIDTH);
        Keyed {
            width,
            keys: Vec::new(),
            results: Vec::new(),
        }
    }

    /// The entry for a key with this well-mixed hash (its top bits pick the entry):
    /// kept when `holds` says it holds the key, else given `key()` and emptied.
    #[inline]
    pub(crate) fn entry_by(
        &mut self,
        hash: u64,
        holds: impl FnOnce(&K) -> bool,
        key: impl FnOnce() -> K,
    ) -> usize {
        if self.keys.is_empty() {
            self.keys = (0..ENTRIES).map(|_| (K::default(), 0)).collect();
            self.results = vec![T::default(); ENTRIES * self.width];
        }
        let e = (hash >> (64 - ENTRIES.trailing_zeros())) as usize;
        let slot = &mut self.keys[e];
        if !holds(&slot.0) {
            *slot = (key(), 0);
        }
        e
    }

    /// Result `i` for entry `e`, if computed.
    #[inline]
    pub(crate) fn get(&self, e: usize, i: usize) -> Option<T> {
        let known = self.keys[e].1;
        (i < self.width && known & (1 << i) != 0).then(|| self.results[e * self.width + i])
    }

    /// Keeps result `i` for entry `e` (not kept when `i` is past the width).
    #[inline]
    pub(crate) fn put(&mut self, e: usize, i: usize, result: T) {
        if i < self.width {
            self.results[e * self.width + i] = result;
            self.keys[e].1 |= 1 << i;
        }
    }
}
