//! The block layer of a `.scap` file (pcapng-like): every block is
//! `type u32 | total length u32 | body | padding to 4 bytes | total length u32`, little
//! endian; the first block is the section header. Files may be gzip-compressed (Falco
//! writes them so); offsets here are then offsets in the decompressed data.
//!
//! Nothing read is trusted: a block length smaller than the framing, larger than the cap
//! for its type, or whose trailer disagrees is an error naming its offset, and a block body
//! is read incrementally, so a lying length on a short file allocates no more than the
//! file holds.

use std::fmt;
use std::io::{self, Read};

/// Section header block (`\r\n\n\r`).
pub const SHB: u32 = 0x0A0D_0D0A;
/// `SHB_MAGIC` as read on a little-endian machine; byte-swapped means a big-endian capture.
pub const SHB_MAGIC: u32 = 0x1A2B_3C4D;
pub const SHB_MAGIC_SWAPPED: u32 = 0x4D3C_2B1A;
/// The major version of the format this reader understands.
pub const MAJOR_VERSION: u16 = 1;

pub const MI: u32 = 0x201;
pub const MI_INT: u32 = 0x8002_ABCD;
pub const PL_V1: u32 = 0x202;
pub const PL_V1_INT: u32 = 0x8000_ABCD;
pub const PL_V2: u32 = 0x207;
pub const PL_V2_INT: u32 = 0x8013_ABCD;
pub const PL_V3: u32 = 0x209;
pub const PL_V3_INT: u32 = 0x8014_ABCD;
pub const PL_V4: u32 = 0x210;
pub const PL_V5: u32 = 0x211;
pub const PL_V6: u32 = 0x212;
pub const PL_V7: u32 = 0x213;
pub const PL_V8: u32 = 0x214;
pub const PL_V9: u32 = 0x215;
pub const FDL: u32 = 0x203;
pub const FDL_INT: u32 = 0x8001_ABCD;
pub const FDL_V2: u32 = 0x218;
pub const EV: u32 = 0x204;
pub const EV_INT: u32 = 0x8010_ABCD;
pub const EV_V2: u32 = 0x216;
pub const EV_V2_LARGE: u32 = 0x221;
pub const EVF: u32 = 0x208;
pub const EVF_V2: u32 = 0x217;
pub const EVF_V2_LARGE: u32 = 0x222;
pub const IL: u32 = 0x205;
pub const IL_INT: u32 = 0x8011_ABCD;
pub const IL_V2: u32 = 0x219;
pub const UL: u32 = 0x206;
pub const UL_INT: u32 = 0x8012_ABCD;
pub const UL_V2: u32 = 0x220;

/// Block header plus trailer.
pub const FRAMING: u32 = 12;
/// Largest non-large event block libscap reads (its 64 KiB buffer plus the header).
pub const MAX_EVENT_BLOCK: u32 = (1 << 16) + 8;
/// Largest "large payload" event block accepted (Peregrine's own records stop at 16 MiB).
pub const MAX_LARGE_EVENT_BLOCK: u32 = 16 << 20;
/// Largest table block (process list of a very busy host) accepted.
pub const MAX_TABLE_BLOCK: u32 = 256 << 20;

/// What kind of event block, for the event reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventBlock {
    /// The header has no `nparams` (version-1 event blocks).
    pub v1: bool,
    /// A 32-bit flags word follows the CPU id.
    pub flags: bool,
}

pub fn event_block(btype: u32) -> Option<EventBlock> {
    Some(match btype {
        EV | EV_INT => EventBlock {
            v1: true,
            flags: false,
        },
        EVF => EventBlock {
            v1: true,
            flags: true,
        },
        EV_V2 | EV_V2_LARGE => EventBlock {
            v1: false,
            flags: false,
        },
        EVF_V2 | EVF_V2_LARGE => EventBlock {
            v1: false,
            flags: true,
        },
        _ => return None,
    })
}

pub fn is_proclist(btype: u32) -> bool {
    matches!(
        btype,
        PL_V1
            | PL_V1_INT
            | PL_V2
            | PL_V2_INT
            | PL_V3
            | PL_V3_INT
            | PL_V4
            | PL_V5
            | PL_V6
            | PL_V7
            | PL_V8
            | PL_V9
    )
}

/// The size cap of a block type.
pub fn cap(btype: u32) -> u32 {
    match btype {
        EV_V2_LARGE | EVF_V2_LARGE => MAX_LARGE_EVENT_BLOCK,
        t if event_block(t).is_some() => MAX_EVENT_BLOCK,
        _ => MAX_TABLE_BLOCK,
    }
}

/// A position in the (decompressed) data, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub offset: u64,
    /// The file is gzip-compressed: the offset is in the decompressed data.
    pub decompressed: bool,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}", self.offset)?;
        if self.decompressed {
            f.write_str(" (of the decompressed data)")?;
        }
        Ok(())
    }
}

/// Why the framing could not be read.
#[derive(Debug)]
pub enum FrameError {
    Truncated {
        offset: u64,
        what: String,
    },
    Corrupt {
        offset: u64,
        reason: String,
    },
    TooLarge {
        offset: u64,
        btype: u32,
        size: u32,
        cap: u32,
    },
    Io {
        offset: u64,
        source: io::Error,
    },
}

/// One block: where it starts, its type, and its body (padding included, framing not).
#[derive(Debug, Default)]
pub struct Block {
    pub offset: u64,
    pub btype: u32,
    pub body: Vec<u8>,
}

impl Block {
    /// The absolute offset of byte `i` of the body.
    pub fn at(&self, i: usize) -> u64 {
        self.offset + 8 + i as u64
    }
}

/// Reads blocks one after another.
pub struct BlockReader<R> {
    input: R,
    offset: u64,
}

/// Fills `buf`; the number of bytes read, short only at the end of the data.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl<R: Read> BlockReader<R> {
    pub fn new(input: R) -> BlockReader<R> {
        BlockReader { input, offset: 0 }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn io(&self, at: u64, e: io::Error) -> FrameError {
        // A compressed stream that stops early says so with UnexpectedEof.
        if e.kind() == io::ErrorKind::UnexpectedEof {
            FrameError::Truncated {
                offset: at,
                what: format!("the data stops early ({e})"),
            }
        } else {
            FrameError::Io {
                offset: at,
                source: e,
            }
        }
    }

    /// The next block into `block` (its buffer reused); `Ok(false)` at a clean end.
    pub fn next_into(&mut self, block: &mut Block) -> Result<bool, FrameError> {
        let start = self.offset;
        let mut hdr = [0u8; 8];
        let n = read_full(&mut self.input, &mut hdr).map_err(|e| self.io(start, e))?;
        if n == 0 {
            return Ok(false);
        }
        if n < 8 {
            return Err(FrameError::Truncated {
                offset: start,
                what: format!("block header of 8 bytes has only {n}"),
            });
        }
        let btype = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let total = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        if total < FRAMING {
            return Err(FrameError::Corrupt {
                offset: start,
                reason: format!(
                    "block of type {btype:#x} says it is {total} bytes long, less than its \
                     {FRAMING}-byte framing"
                ),
            });
        }
        let cap = cap(btype);
        if total > cap {
            return Err(FrameError::TooLarge {
                offset: start,
                btype,
                size: total,
                cap,
            });
        }
        let body_len = (total - FRAMING) as u64;
        block.offset = start;
        block.btype = btype;
        block.body.clear();
        let got = (&mut self.input)
            .take(body_len)
            .read_to_end(&mut block.body)
            .map_err(|e| self.io(start + 8, e))? as u64;
        if got < body_len {
            return Err(FrameError::Truncated {
                offset: start,
                what: format!(
                    "block of type {btype:#x} and {total} bytes ends after {} bytes",
                    8 + got
                ),
            });
        }
        let mut trailer = [0u8; 4];
        let trailer_at = start + 8 + body_len;
        let n = read_full(&mut self.input, &mut trailer).map_err(|e| self.io(trailer_at, e))?;
        if n < 4 {
            return Err(FrameError::Truncated {
                offset: start,
                what: format!(
                    "block of type {btype:#x} and {total} bytes lacks its closing length"
                ),
            });
        }
        let again = u32::from_le_bytes(trailer);
        if again != total {
            return Err(FrameError::Corrupt {
                offset: start,
                reason: format!(
                    "block of type {btype:#x} starts with length {total} but ends with {again}"
                ),
            });
        }
        self.offset = start + total as u64;
        Ok(true)
    }
}

/// A bounds-checked reader over a block body; failures name the absolute offset.
pub struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    base: u64,
}

/// A malformed table entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Fault {
    pub offset: u64,
    pub reason: String,
}

impl<'a> Cursor<'a> {
    /// `base`: the absolute offset of `b[0]`.
    pub fn new(b: &'a [u8], base: u64) -> Cursor<'a> {
        Cursor { b, pos: 0, base }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.b.len() - self.pos
    }

    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn fault(&self, reason: impl Into<String>) -> Fault {
        Fault {
            offset: self.offset(),
            reason: reason.into(),
        }
    }

    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], Fault> {
        if n > self.remaining() {
            return Err(self.fault(format!(
                "{what} of {n} bytes runs past the end of its block ({} bytes left)",
                self.remaining()
            )));
        }
        let out = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), Fault> {
        self.bytes(n, what).map(|_| ())
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Fault> {
        Ok(self.bytes(1, what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, Fault> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Fault> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, Fault> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub fn i64(&mut self, what: &str) -> Result<i64, Fault> {
        self.u64(what).map(|v| v as i64)
    }

    /// A string stored as `u16 length | bytes` (not NUL-terminated).
    pub fn str16(&mut self, what: &str) -> Result<&'a [u8], Fault> {
        let n = self.u16(what)? as usize;
        self.bytes(n, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(btype: u32, body: &[u8]) -> Vec<u8> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (FRAMING as usize + body.len() + pad) as u32;
        let mut b = Vec::new();
        b.extend(btype.to_le_bytes());
        b.extend(total.to_le_bytes());
        b.extend(body);
        b.extend(std::iter::repeat_n(0u8, pad));
        b.extend(total.to_le_bytes());
        b
    }

    fn read_all(data: &[u8]) -> Result<Vec<(u64, u32, usize)>, FrameError> {
        let mut r = BlockReader::new(data);
        let mut b = Block::default();
        let mut out = Vec::new();
        while r.next_into(&mut b)? {
            out.push((b.offset, b.btype, b.body.len()));
        }
        Ok(out)
    }

    #[test]
    fn blocks_in_a_row() {
        let mut data = block(SHB, &[0u8; 16]);
        data.extend(block(0x999, b"hello"));
        data.extend(block(EV_V2, &[1u8; 30]));
        let got = read_all(&data).unwrap();
        assert_eq!(got, vec![(0, SHB, 16), (28, 0x999, 8), (48, EV_V2, 32)]);
    }

    #[test]
    fn bad_framing_names_the_offset_and_never_panics() {
        let mut data = block(SHB, &[0u8; 16]);
        data.extend(block(0x999, b"hello"));
        // Every truncation: an error or a clean end at a block boundary.
        for cut in 0..data.len() {
            match read_all(&data[..cut]) {
                Ok(v) => assert!(cut == 0 || cut == 28, "cut {cut}: {v:?}"),
                Err(FrameError::Truncated { offset, .. }) => {
                    assert!(offset == 0 || offset == 28, "cut {cut}: {offset}")
                }
                Err(e) => panic!("cut {cut}: {e:?}"),
            }
        }
        // A trailer that disagrees.
        let mut bad = data.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            read_all(&bad),
            Err(FrameError::Corrupt { offset: 28, .. })
        ));
        // Lengths smaller than the framing or beyond the cap.
        let mut bad = data.clone();
        bad[32..36].copy_from_slice(&4u32.to_le_bytes());
        assert!(matches!(
            read_all(&bad),
            Err(FrameError::Corrupt { offset: 28, .. })
        ));
        let mut bad = data.clone();
        bad[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            read_all(&bad),
            Err(FrameError::TooLarge { offset: 28, .. })
        ));
        // An event block may not exceed libscap's 64 KiB.
        let mut ev = block(EV_V2, &[]);
        ev[4..8].copy_from_slice(&(MAX_EVENT_BLOCK + 4).to_le_bytes());
        assert!(matches!(read_all(&ev), Err(FrameError::TooLarge { .. })));
        // A huge table length on a short file reads what is there, then reports truncation.
        let mut big = block(PL_V9, &[]);
        big[4..8].copy_from_slice(&(200u32 << 20).to_le_bytes());
        assert!(matches!(read_all(&big), Err(FrameError::Truncated { .. })));
    }

    #[test]
    fn cursor_checks_bounds() {
        let body = [3u8, 0, b'a', b'b', b'c', 9];
        let mut c = Cursor::new(&body, 100);
        assert_eq!(c.str16("name").unwrap(), b"abc");
        assert_eq!(c.u8("x").unwrap(), 9);
        let f = c.u32("y").unwrap_err();
        assert_eq!(f.offset, 106);
        let mut c = Cursor::new(&[255u8, 255, 1], 0);
        assert!(c.str16("name").unwrap_err().reason.contains("runs past"));
        let at = At {
            offset: 5,
            decompressed: true,
        };
        assert_eq!(at.to_string(), "byte 5 (of the decompressed data)");
    }
}
