//! Finding the bytes of a short text that belong to a small set (the anchor bytes of
//! [`super::needles::Needles`]), 16 bytes at a time.
//!
//! Why: a `contains` guard on `fd.name` runs for most opens, and testing a path a word at a
//! time for each anchor byte took about 90 instructions per 8 bytes (callgrind). With SSE2,
//! which every x86_64 CPU has, a 16-byte block costs a handful of instructions for all
//! anchor bytes at once. Other targets test two 8-byte words per block.

use super::needles::word_at;

/// At most this many bytes in a set.
pub(crate) const MAX: usize = 4;

/// Up to [`MAX`] bytes, padded by repeating the first so that every block compares
/// against all four.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteSet {
    bytes: [u8; MAX],
    len: usize,
}

impl ByteSet {
    /// `bytes` must hold 1 to [`MAX`] bytes.
    pub(crate) fn new(bytes: &[u8]) -> ByteSet {
        assert!(
            (1..=MAX).contains(&bytes.len()),
            "a byte set holds 1 to {MAX} bytes"
        );
        let mut padded = [bytes[0]; MAX];
        padded[..bytes.len()].copy_from_slice(bytes);
        ByteSet {
            bytes: padded,
            len: bytes.len(),
        }
    }

    /// The position of `c` in the bytes the set was made from (0 if absent).
    #[inline]
    pub(crate) fn index(&self, c: u8) -> usize {
        self.bytes[..self.len]
            .iter()
            .position(|&b| b == c)
            .unwrap_or(0)
    }

    /// Calls `f` with each position of `hay` whose byte is in the set, in order, until it
    /// returns true; returns whether it did.
    #[inline]
    pub(crate) fn scan(&self, hay: &[u8], mut f: impl FnMut(usize) -> bool) -> bool {
        let mut base = 0;
        while base < hay.len() {
            let lo = word_at(hay, base);
            // Past the end, zero; the bits of padding bytes are cleared below.
            let hi = if base + 8 < hay.len() {
                word_at(hay, base + 8)
            } else {
                0
            };
            let mut hits = block_hits(lo, hi, &self.bytes);
            let rest = hay.len() - base;
            if rest < 16 {
                hits &= (1 << rest) - 1;
            }
            while hits != 0 {
                let p = base + hits.trailing_zeros() as usize;
                hits &= hits - 1;
                if f(p) {
                    return true;
                }
            }
            base += 16;
        }
        false
    }
}

/// The position of the last `b` in `hay`, 16 bytes at a time from the end. Why: cutting
/// `fd.name` at its last '/' on every open cost ~50 instructions through memchr's
/// `memrchr`, whose set-up dominates on short paths.
#[inline]
pub(crate) fn last_byte(hay: &[u8], b: u8) -> Option<usize> {
    let set = [b; MAX];
    let mut end = hay.len();
    while end > 0 {
        let base = end.saturating_sub(16);
        let lo = word_at(hay, base);
        let hi = if base + 8 < hay.len() {
            word_at(hay, base + 8)
        } else {
            0
        };
        // Only the bytes before `end` (the block may start at 0 and overlap nothing).
        let hits = block_hits(lo, hi, &set) & (((1u64 << (end - base)) - 1) as u32);
        if hits != 0 {
            return Some(base + 31 - hits.leading_zeros() as usize);
        }
        end = base;
    }
    None
}

/// Bit `i` set where byte `i` of the 16 bytes `lo` then `hi` (little-endian) is one of
/// `bytes`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn block_hits(lo: u64, hi: u64, bytes: &[u8; MAX]) -> u32 {
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 CPU has it, and the
    // function only computes on its arguments (no memory access).
    unsafe { sse2::block_hits(lo, hi, bytes) }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::MAX;
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_set_epi64x,
    };

    #[target_feature(enable = "sse2")]
    #[inline]
    pub(super) fn block_hits(lo: u64, hi: u64, bytes: &[u8; MAX]) -> u32 {
        let x = _mm_set_epi64x(hi as i64, lo as i64);
        let eq = |b: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(b as i8));
        let any = _mm_or_si128(
            _mm_or_si128(eq(bytes[0]), eq(bytes[1])),
            _mm_or_si128(eq(bytes[2]), eq(bytes[3])),
        );
        _mm_movemask_epi8(any) as u32
    }
}

/// Bit `i` set where byte `i` of the 16 bytes `lo` then `hi` (little-endian) is one of
/// `bytes`: a word at a time, for other targets (and compared with the SSE2 version in
/// the tests).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_hits(lo: u64, hi: u64, bytes: &[u8; MAX]) -> u32 {
    block_hits_swar(lo, hi, bytes)
}

#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline]
fn block_hits_swar(lo: u64, hi: u64, bytes: &[u8; MAX]) -> u32 {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let word = |w: u64| {
        let mut high = 0;
        for &b in bytes {
            let v = w ^ u64::from_ne_bytes([b; 8]);
            // High bit set exactly where a byte of `v` is zero.
            high |= !(((v & LO7).wrapping_add(LO7)) | v | LO7);
        }
        // Bit 8i+7 -> bit 56+i: the other product terms land elsewhere.
        (high.wrapping_mul(0x0002_0408_1020_4081) >> 56) as u32
    };
    word(lo) | word(hi) << 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(set: &[u8], hay: &[u8]) -> Vec<usize> {
        let mut out = Vec::new();
        ByteSet::new(set).scan(hay, |p| {
            out.push(p);
            false
        });
        out
    }

    fn naive(set: &[u8], hay: &[u8]) -> Vec<usize> {
        (0..hay.len()).filter(|&p| set.contains(&hay[p])).collect()
    }

    #[test]
    fn finds_every_member_in_order() {
        let long = "a._b".repeat(20);
        let hays: &[&[u8]] = &[
            b"",
            b".",
            b"x",
            b"/lib/x86_64-linux-gnu/libc.so.6",
            b"123456789012345.",
            b"1234567890123456.",
            b"._z._z._z._z._z._z._z._z",
            b"\0\0abc",
            long.as_bytes(),
        ];
        let sets: &[&[u8]] = &[b".", b"._", b"._z", b"._z/", b"\0", b"a\0"];
        for set in sets {
            for hay in hays {
                assert_eq!(positions(set, hay), naive(set, hay), "{set:?} in {hay:?}");
            }
        }
    }

    #[test]
    fn last_byte_agrees_with_memrchr() {
        let long = "/a".repeat(40);
        for hay in [
            "",
            "/",
            "x",
            "/etc/passwd",
            "noslash",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "123456789012345/",
            "/123456789012345",
            "/1234567890123456",
            "12345678901234567890/x",
            long.as_str(),
        ] {
            for b in [b'/', b'x', b'\0'] {
                assert_eq!(
                    last_byte(hay.as_bytes(), b),
                    memchr::memrchr(b, hay.as_bytes()),
                    "{b} in {hay:?}"
                );
            }
        }
    }

    #[test]
    fn stops_when_asked() {
        let mut seen = Vec::new();
        let found = ByteSet::new(b"a").scan(b"xaxaxa", |p| {
            seen.push(p);
            p == 3
        });
        assert!(found);
        assert_eq!(seen, [1, 3]);
        assert!(!ByteSet::new(b"a").scan(b"xyz", |_| true));
    }

    #[test]
    fn index_of_members() {
        let s = ByteSet::new(b"._z");
        assert_eq!((s.index(b'.'), s.index(b'_'), s.index(b'z')), (0, 1, 2));
    }

    #[test]
    fn word_version_agrees() {
        let blocks: &[&[u8; 16]] = &[
            b"/lib/x86_64-lin.",
            b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            b"................",
            b"_z._z._z._z._z._",
            b"\x80\xff\x7f.\x81_z\x00\x01\xfe\x2e\x5f\x7a\x80\x80\x80",
        ];
        for set in [*b"._z.", *b"\0\0\0\0", *b"\x80\xff\x7f\x01"] {
            for b in blocks {
                let lo = u64::from_le_bytes(b[..8].try_into().unwrap());
                let hi = u64::from_le_bytes(b[8..].try_into().unwrap());
                assert_eq!(
                    block_hits(lo, hi, &set),
                    block_hits_swar(lo, hi, &set),
                    "{set:?} {b:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_a_naive_scan(set in proptest::collection::vec(0u8..8, 1..=MAX), hay in proptest::collection::vec(0u8..10, 0..70)) {
            proptest::prop_assert_eq!(positions(&set, &hay), naive(&set, &hay));
        }

        #[test]
        fn last_byte_agrees_on_random_text(hay in proptest::collection::vec(0u8..4, 0..70), b in 0u8..4) {
            proptest::prop_assert_eq!(last_byte(&hay, b), memchr::memrchr(b, &hay));
        }

        #[test]
        fn word_version_agrees_on_random_blocks(lo: u64, hi: u64, set: [u8; MAX]) {
            proptest::prop_assert_eq!(block_hits(lo, hi, &set), block_hits_swar(lo, hi, &set));
        }
    }
}
